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

/*
 * The hooks of a switch to `id` (from `from`, which may be NULL): after_switch
 * on every switch, then after_rollback when it goes back. On the way back
 * after a failure both run whatever the first did: nothing is left to undo.
 */
static int switch_hooks(struct target *t, const struct deploy_opts *o, const char *id, const char *from,
			int back, int stop_on_failure)
{
	int rc = t->ops->hooks(t, "after_switch", &o->after_switch, id, from);
	if (rc && stop_on_failure)
		return rc;
	if (back && t->ops->hooks(t, "after_rollback", &o->after_rollback, id, from) < 0)
		rc = -1;
	return rc;
}

int golive(struct target *t, const char *id, const char *previous, const struct deploy_opts *o,
	   int rollback, char *why, size_t why_len)
{
	int rc;

	snprintf(why, why_len, "%s", "");
	if (t->ops->switch_to(t, id) < 0) {
		snprintf(why, why_len, "%s", error_last());
		return -1;
	}
	crashpoint("switched");
	note("'%s' is live", id);
	rc = switch_hooks(t, o, id, previous, rollback, 1);
	if (!rc && o->check.spec)
		rc = t->ops->check(t, &o->check, id, previous);
	if (!rc)
		return 0;
	/* what failed, before the hooks of the way back can say anything else */
	snprintf(why, why_len, "%s", error_last());

	/* back to what was live before, exactly */
	if (t->ops->switch_to(t, previous) < 0) {
		error("could not switch '%s/current' back to '%s'; '%s' is still live: fix it with "
		      "'cutover rollback %s --to %s'",
		      t->name, previous ? previous : "(nothing)", id, previous ? previous : "", t->name);
		snprintf(why, why_len, "%s", error_last());
		return -CUT_PARTIAL;
	}
	if (previous) {
		warning("switched back to '%s'", previous);
		switch_hooks(t, o, previous, id, 1, 0);
	} else {
		warning("removed '%s/current': there was no release before '%s'", t->name, id);
	}
	return -CUT_ROLLED_BACK;
}
