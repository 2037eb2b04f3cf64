#ifndef CUTOVER_HOOKS_H
#define CUTOVER_HOOKS_H
#include "util/strlist.h"

/* What every hook and command check sees in its environment. */
struct hook_env {
	const char *release;      /* CUTOVER_RELEASE */
	const char *release_path; /* CUTOVER_RELEASE_PATH */
	const char *previous;     /* CUTOVER_PREVIOUS (empty when none) */
	const char *root;         /* CUTOVER_ROOT */
};

void hook_env_list(const struct hook_env *h, struct strlist *out);

/*
 * Run the commands of one hook phase in order, in `cwd`, output shown with a
 * "<phase>| " prefix. Stops at the first failure and reports
 * "before_switch hook 'make test' failed with exit status 2".
 * Returns 0 or -1.
 */
int hooks_run(const char *phase, const struct strlist *cmds, const char *cwd,
	      const struct hook_env *env);

#endif
