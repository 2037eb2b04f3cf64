#include "deploy/hooks.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/spawn.h"

void hook_env_list(const struct hook_env *h, struct strlist *out)
{
	char *s;
	s = xasprintf("CUTOVER_RELEASE=%s", h->release ? h->release : "");
	strlist_push(out, s);
	free(s);
	s = xasprintf("CUTOVER_RELEASE_PATH=%s", h->release_path ? h->release_path : "");
	strlist_push(out, s);
	free(s);
	s = xasprintf("CUTOVER_PREVIOUS=%s", h->previous ? h->previous : "");
	strlist_push(out, s);
	free(s);
	s = xasprintf("CUTOVER_ROOT=%s", h->root ? h->root : "");
	strlist_push(out, s);
	free(s);
}

int hooks_run(const char *phase, const struct strlist *cmds, const char *cwd,
	      const struct hook_env *env)
{
	if (!cmds || !cmds->nr)
		return 0;
	struct strlist envl = STRLIST_INIT;
	char *prefix = xasprintf("%s| ", phase);
	int rc = 0;
	hook_env_list(env, &envl);
	for (size_t i = 0; i < cmds->nr; i++) {
		struct spawn_opts o = { 0 };
		o.cmd = cmds->items[i];
		o.cwd = cwd;
		o.env = &envl;
		o.prefix = prefix;
		note("%s: %s", phase, cmds->items[i]);
		int st = spawn_shell(&o, NULL);
		if (st < 0) {
			rc = error("%s hook '%s' could not be run", phase, cmds->items[i]);
			break;
		}
		if (st) {
			rc = error("%s hook '%s' failed with exit status %d", phase, cmds->items[i], st);
			break;
		}
	}
	free(prefix);
	strlist_clear(&envl);
	return rc;
}
