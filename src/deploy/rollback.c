#include "deploy/deploy.h"
#include "release/history.h"
#include "release/root.h"
#include "util/error.h"
#include "util/fs.h"

int rollback_run(const struct deploy_opts *o, const char *want)
{
	struct root r = ROOT_INIT;
	struct strlist ids = STRLIST_INIT;
	char *current = NULL;
	int64_t start = time_now_ms();
	int rc;

	if (root_open(&r, o->root) < 0) {
		rc = -1;
		goto out;
	}
	if ((rc = root_lock(&r, o->wait_ms)) < 0)
		goto out;
	if (root_recover(&r) < 0 || release_list(&r, &ids) < 0 || release_current(&r, &current) < 0) {
		rc = -1;
		goto out;
	}
	const char *target = want;
	if (!target) {
		if (!current) {
			rc = error("'%s' has no live release to roll back from", r.path);
			goto out;
		}
		target = release_previous(&ids, current);
		if (!target) {
			rc = error("'%s' is the oldest release; there is nothing to roll back to", current);
			goto out;
		}
	} else if (release_check_exists(&r, target) < 0) {
		rc = -1;
		goto out;
	}
	if (current && !strcmp(current, target)) {
		rc = error("'%s' is already live", target);
		goto out;
	}
	rc = golive(&r, target, current, o, "after_rollback", &o->after_rollback);

	struct history_rec h = HISTORY_REC_INIT;
	h.action = "rollback";
	h.release = target;
	h.previous = current;
	h.outcome = rc == 0 ? "ok" : rc == -CUT_ROLLED_BACK ? "rolled-back" : "failed";
	h.message = rc ? error_last() : NULL;
	h.duration_ms = time_now_ms() - start;
	history_append(&r, &h);
	if (!rc && !log_quiet)
		printf("rolled back to %s (was %s)\n", target, current ? current : "nothing");
out:
	free(current);
	strlist_clear(&ids);
	root_release(&r);
	return rc;
}
