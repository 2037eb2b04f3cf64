#include "deploy/deploy.h"
#include "release/root.h"
#include "util/error.h"

void deploy_opts_init(struct deploy_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keep = DEPLOY_KEEP_DEFAULT;
	o->link_mode = LINK_HARDLINK;
	o->check.timeout_ms = CHECK_DEFAULT_TIMEOUT_MS;
	o->check.retries = CHECK_DEFAULT_RETRIES;
	o->check.interval_ms = CHECK_DEFAULT_INTERVAL_MS;
}

void deploy_opts_release(struct deploy_opts *o)
{
	strlist_clear(&o->shared);
	strlist_clear(&o->writable);
	strlist_clear(&o->exclude);
	strlist_clear(&o->before_switch);
	strlist_clear(&o->after_switch);
	strlist_clear(&o->after_rollback);
}

int golive(struct root *r, const char *id, const char *previous, const struct deploy_opts *o,
	   const char *after_phase, const struct strlist *after)
{
	char *path = release_path(r, id);
	struct hook_env env = { id, path, previous ? previous : "", r->path };
	int rc;

	if (release_switch(r, id) < 0) {
		free(path);
		return -1;
	}
	crashpoint("switched");
	note("'%s' is live", id);
	rc = hooks_run(after_phase, after, path, &env);
	if (!rc)
		rc = check_run(&o->check, &env, path);
	if (!rc) {
		free(path);
		return 0;
	}

	/* back to what was live before, exactly */
	int back = previous ? release_switch(r, previous) : release_unswitch(r);
	if (back < 0) {
		error("could not switch '%s' back to '%s'; '%s' is still live: fix it with "
		      "'cutover rollback %s --to %s'",
		      r->current, previous ? previous : "(nothing)", id, previous ? previous : "", r->path);
		free(path);
		return -CUT_PARTIAL;
	}
	if (previous) {
		warning("switched back to '%s'", previous);
		char *ppath = release_path(r, previous);
		struct hook_env penv = { previous, ppath, id, r->path };
		hooks_run("after_rollback", &o->after_rollback, ppath, &penv);
		free(ppath);
	} else {
		warning("removed '%s': there was no release before '%s'", r->current, id);
	}
	free(path);
	return -CUT_ROLLED_BACK;
}
