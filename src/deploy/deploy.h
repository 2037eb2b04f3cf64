#ifndef CUTOVER_DEPLOY_H
#define CUTOVER_DEPLOY_H
#include "deploy/check.h"
#include "release/store.h"
#include "util/strlist.h"

/* Everything a deploy or rollback needs, from flags and cutover.yml. */
struct deploy_opts {
	const char *root;
	const char *source;
	const char *label;
	int keep;
	enum link_mode link_mode;
	long wait_ms;
	int sudo; /* remote roots: the agent runs under sudo -n */
	struct strlist shared, writable, exclude;
	struct strlist before_switch, after_switch, after_rollback;
	struct check_opts check;
	int adopt; /* init --adopt: the source is the live directory at `current` */
};
#define DEPLOY_KEEP_DEFAULT 10

void deploy_opts_init(struct deploy_opts *o);
void deploy_opts_release(struct deploy_opts *o);

/* What a deploy did, for the command's summary line. */
struct deploy_result {
	char *id;
	uint64_t files, bytes, new_files, new_bytes;
	double seconds;
};
void deploy_result_release(struct deploy_result *r);

/*
 * One deploy to one target, the data flow of DESIGN.md: read the source,
 * lock, send the missing objects, stage the release, before_switch hooks,
 * switch, after_switch hooks, health check (switching back on failure),
 * prune. Returns 0 (and fills *res when not NULL), -1 (nothing changed),
 * -CUT_LOCKED, -CUT_ROLLED_BACK, or -CUT_PARTIAL (could not switch back).
 */
int deploy_run(const struct deploy_opts *o, struct deploy_result *res);

/*
 * Switch to `id` (NULL: the release before the current one), same rules.
 * On success *to and *from (may be NULL) name the releases; the caller frees.
 */
int rollback_run(const struct deploy_opts *o, const char *id, char **to, char **from);

struct target;
/*
 * Make `id` live on `t` and prove it: switch, run the after_switch hooks
 * (every switch is one), then the after_rollback hooks when `rollback`,
 * then the health check. On failure switch back to `previous` (or remove
 * `current` when there was none) and run after_switch, then
 * after_rollback, for `previous` (both, whatever the first does). Returns
 * 0, -1 (could not switch: nothing changed), -CUT_ROLLED_BACK or
 * -CUT_PARTIAL, with what failed (not what the hooks of the way back said)
 * in `why`, for the history.
 */
int golive(struct target *t, const char *id, const char *previous, const struct deploy_opts *o,
	   int rollback, char *why, size_t why_len);

#endif
