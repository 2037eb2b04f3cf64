#include "deploy/deploy.h"
#include "release/root.h"
#include "target/target.h"
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

void deploy_result_release(struct deploy_result *r)
{
	free(r->id);
	r->id = NULL;
}

int golive(struct target *t, const char *id, const char *previous, const struct deploy_opts *o,
	   const char *after_phase, const struct strlist *after)
{
	int rc;

	if (t->ops->switch_to(t, id) < 0)
		return -1;
	crashpoint("switched");
	note("'%s' is live", id);
	rc = t->ops->hooks(t, after_phase, after, id, previous);
	if (!rc && o->check.spec)
		rc = t->ops->check(t, &o->check, id, previous);
	if (!rc)
		return 0;

	/* back to what was live before, exactly */
	if (t->ops->switch_to(t, previous) < 0) {
		error("could not switch '%s/current' back to '%s'; '%s' is still live: fix it with "
		      "'cutover rollback %s --to %s'",
		      t->name, previous ? previous : "(nothing)", id, previous ? previous : "", t->name);
		return -CUT_PARTIAL;
	}
	if (previous) {
		warning("switched back to '%s'", previous);
		t->ops->hooks(t, "after_rollback", &o->after_rollback, previous, id);
	} else {
		warning("removed '%s/current': there was no release before '%s'", t->name, id);
	}
	return -CUT_ROLLED_BACK;
}
