#ifndef CUTOVER_CMD_COMMON_H
#define CUTOVER_CMD_COMMON_H
#include "deploy/deploy.h"
#include "util/config.h"
#include "util/error.h"
#include "util/opts.h"

/*
 * Flags shared by the commands, with "not given" sentinels (NULL, -1) so
 * that cutover.yml fills only what the command line left open: flags win.
 */
struct common_flags {
	const char *to, *config, *check, *label, *link_mode;
	int keep, check_retries;
	long wait_ms, check_timeout_ms, check_interval_ms;
	struct strlist shared, writable, exclude, before_switch, after_switch, after_rollback;
	int json;
	int sudo;
};
void common_flags_init(struct common_flags *f);
void common_flags_release(struct common_flags *f);

#define OPTS_TARGET(f)                                                                        \
	OPT_STRING(0, "to", &(f).to, "ROOT", "the cutover root (or 'to:' in cutover.yml)"),   \
	OPT_STRING(0, "config", &(f).config, "FILE", "read FILE instead of ./cutover.yml"), \
	OPT_BOOL(0, "sudo", &(f).sudo, "remote roots: run the agent with sudo -n (or 'sudo: true')")
#define OPTS_LOCK(f) OPT_DURATION(0, "wait", &(f).wait_ms, "wait this long for another deploy's lock")
#define OPTS_CHECK(f)                                                                               \
	OPT_STRING(0, "check", &(f).check, "URL|CMD", "health check after the switch; failure switches back"), \
	OPT_DURATION(0, "check-timeout", &(f).check_timeout_ms, "time limit of one check (default 5s)"), \
	OPT_INT(0, "check-retries", &(f).check_retries, "N", "retries after a failed check (default 3)"), \
	OPT_DURATION(0, "check-interval", &(f).check_interval_ms, "pause between checks (default 1s)"), \
	OPT_LIST(0, "after-switch", &(f).after_switch, "CMD", "run after the switch (repeatable)"),  \
	OPT_LIST(0, "after-rollback", &(f).after_rollback, "CMD", "run after switching back (repeatable)")
#define OPTS_JSON(f) OPT_BOOL(0, "json", &(f).json, "machine-readable output")

/*
 * The configuration to read: `given` (--config FILE), else ./cutover.yml
 * when it exists, which is said once ("reading ./cutover.yml", a note:
 * quiet with -q) since nothing on the command line named it; else NULL.
 */
const char *common_config_path(const char *given);

/*
 * Load cutover.yml (--config FILE, else ./cutover.yml when present) and
 * merge it under the flags into `o`. Returns 0 or -CUT_USAGE.
 */
int common_resolve(struct deploy_opts *o, struct common_flags *f);

struct root;
/*
 * The start the commands that read or tend a root share: check that between
 * `min` and `max` operands were given (else report `arity` and return
 * -CUT_USAGE), merge cutover.yml under the flags into *o, open the root.
 * Returns 0 or a negative code (reported). *o is always initialised, so
 * deploy_opts_release(o) is safe on every path.
 */
int common_open_root(struct deploy_opts *o, struct common_flags *f, struct root *r, int nargs,
		     int min, int max, const char *arity);

/* "deployed ID: N files (SIZE), N new (SIZE), in S s" on stdout, unless --quiet. */
void deploy_print_result(const struct deploy_result *r, const char *verb);

/* Parse argv with `opts`; returns 0, or the exit status to return now
 * (0 after --help, 2 on a usage error). */
int common_parse(int argc, char **argv, const struct opt *opts, const char *usage, char ***args,
		 int *nargs, int *done);

#endif
