/* Rollback: switch a target back to an earlier release, same hooks and checks as a deploy. */
#include "deploy/deploy.h"
#include "release/history.h"
#include "release/id.h"
#include "target/target.h"
#include "util/error.h"
#include "util/fs.h"

/* The release to go to: `want`, else the one before the live one. Not allocated. */
static const char *pick(struct target *t, const struct target_info *info, const char *want)
{
	if (want) {
		if (!release_id_valid(want)) {
			error("'%s' is not a release id (they look like 20261122T083106Z or "
			      "20261122T083106Z-label); see 'cutover releases'",
			      want);
			return NULL;
		}
		if (strlist_has(&info->releases, want))
			return want;
		error("no release '%s' in '%s'; see 'cutover releases --to %s'", want, t->name, t->name);
		return NULL;
	}
	if (!info->current) {
		error("'%s' has no live release to roll back from", t->name);
		return NULL;
	}
	const char *prev = target_info_previous(info);
	if (!prev)
		error("'%s' is the oldest release; there is nothing to roll back to", info->current);
	return prev;
}

int rollback_run(const struct deploy_opts *o, const char *want, char **to, char **from)
{
	struct target_info info = TARGET_INFO_INIT;
	int64_t start = time_now_ms();
	int rc;

	*to = *from = NULL;
	struct target *t = target_open(o->root, o->link_mode, o->sudo);
	if (!t)
		return -1;
	if ((rc = t->ops->lock(t, o->wait_ms)) < 0)
		goto out;
	if (t->ops->state(t, &info) < 0 || (info.live_dir && target_live_dir_error(t) < 0)) {
		rc = -1;
		goto out;
	}
	const char *target = pick(t, &info, want);
	if (!target) {
		rc = -1;
		goto out;
	}
	if (info.current && !strcmp(info.current, target)) {
		rc = error("'%s' is already live", target);
		goto out;
	}
	char why[1024];
	rc = golive(t, target, info.current, o, 1, why, sizeof(why));

	struct history_rec h = HISTORY_REC_INIT;
	h.action = "rollback";
	h.release = target;
	h.previous = info.current;
	h.outcome = rc == 0 ? "ok" : rc == -CUT_ROLLED_BACK ? "rolled-back" : "failed";
	h.message = rc ? why : NULL;
	h.duration_ms = time_now_ms() - start;
	/* a switch that held is not undone by a history line that cannot be written */
	int demoted = report_demote_errors(rc == 0);
	t->ops->record(t, &h);
	report_demote_errors(demoted);
	if (!rc) {
		*to = xstrdup(target);
		*from = info.current ? xstrdup(info.current) : NULL;
	}
out:
	t->ops->close(t);
	target_info_release(&info);
	return rc;
}
