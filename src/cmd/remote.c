/*
 * Commands that read or tend a root (releases, status, log, verify, diff,
 * prune, pin, unpin) on a remote root: the same command runs on the host
 * through its agent, with the same output and exit status as there. And
 * `init` of a remote root.
 */
#include "cmd/remote.h"
#include "cmd/common.h"
#include "target/ssh.h"
#include "target/url.h"
#include "util/config.h"
#include "util/error.h"
#include <stdlib.h>
#include <unistd.h>

static const char *const forwarded[] = { "releases", "status", "log", "verify", "diff", "prune", "pin", "unpin", NULL };

/* The value of --NAME in argv (either form), or NULL. */
static const char *flag_value(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n)) {
			if (argv[i][2 + n] == '=')
				return argv[i] + 3 + n;
			if (!argv[i][2 + n] && i + 1 < argc)
				return argv[i + 1];
		}
	}
	return NULL;
}

/*
 * Where the command works: --to, else `to:` of cutover.yml (--config or
 * ./cutover.yml) into *spec (NULL when neither says). Returns 0, or
 * -CUT_USAGE when the configuration cannot be read (reported once, here).
 */
static int root_spec(int argc, char **argv, struct config *cfg, char **spec)
{
	const char *to = flag_value(argc, argv, "to");
	const char *path = common_config_path(flag_value(argc, argv, "config"));
	*spec = NULL;
	/* read even with --to: it may say 'sudo:' */
	if (path && config_load(cfg, path) < 0)
		return -CUT_USAGE;
	if (to || config_get_str(cfg, "to", &to) == 1)
		*spec = xstrdup(to);
	return 0;
}

/* argv without --to and --config (the host has its own root and no cutover.yml). */
static void forward_args(struct strlist *out, int argc, char **argv, const struct config *cfg)
{
	int keep_given = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--to") || !strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strncmp(a, "--to=", 5) || !strncmp(a, "--config=", 9) || !strcmp(a, "--sudo"))
			continue;
		if (!strcmp(a, "--keep") || !strncmp(a, "--keep=", 7))
			keep_given = 1;
		strlist_push(out, a);
	}
	const char *keep;
	if (!strcmp(argv[0], "prune") && !keep_given && config_get_str(cfg, "keep", &keep) == 1) {
		strlist_push(out, "--keep");
		strlist_push(out, keep);
	}
	if (log_quiet)
		strlist_push(out, "-q");
}

int remote_forward(int argc, char **argv, int *status)
{
	int known = 0;
	for (size_t i = 0; forwarded[i]; i++)
		known |= !strcmp(argv[0], forwarded[i]);
	if (!known)
		return 0;
	/* the command parses -q itself, but what is said here comes first */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			log_quiet = 1;
	struct config cfg = CONFIG_INIT;
	char *spec;
	int rc = 0;
	if (root_spec(argc, argv, &cfg, &spec) < 0) {
		*status = CUT_USAGE;
		rc = 1;
	} else if (spec && target_url_is_remote(spec)) {
		struct strlist args = STRLIST_INIT;
		forward_args(&args, argc, argv, &cfg);
		int sudo = 0;
		for (int i = 1; i < argc; i++)
			sudo |= !strcmp(argv[i], "--sudo");
		if (!sudo && config_get_bool(&cfg, "sudo", &sudo) < 0)
			sudo = 0;
		int st = target_run_remote(spec, &args, sudo ? TARGET_SUDO : 0);
		*status = st < 0 ? CUT_FAILED : st;
		strlist_clear(&args);
		rc = 1;
	}
	free(spec);
	config_release(&cfg);
	return rc;
}

int remote_init(const char *spec, int adopt, int write_config, int sudo)
{
	if (adopt || write_config) {
		error("'init %s' on a remote root takes no --adopt or --write-config: run 'cutover init --adopt "
		      "PATH' on the host itself, and keep cutover.yml beside your source",
		      adopt ? "--adopt" : "--write-config");
		return -CUT_USAGE;
	}
	struct target *t = target_open_ssh(spec, LINK_HARDLINK, TARGET_CREATE | (sudo ? TARGET_SUDO : 0));
	if (!t)
		return -1;
	t->ops->close(t);
	if (!log_quiet) {
		printf("initialised %s\n", spec);
		printf("point the web server's document root at %s/current on the host\n", spec);
	}
	return 0;
}
