#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/history.h"
#include "release/retention.h"
#include "util/format.h"
#include "util/error.h"
#include "util/fs.h"

static const char usage[] = "cutover prune --to ROOT [--keep N]";

int cmd_prune(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	struct strlist removed = STRLIST_INIT;
	char **args;
	int nargs, done, rc;
	int64_t freed = 0, start = time_now_ms();

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPT_INT(0, "keep", &f.keep, "N", "releases to keep (default 10)"),
			      OPTS_LOCK(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 0, 0, "prune takes no arguments; use --keep N")) < 0)
		goto out;
	if ((rc = root_lock(&r, o.wait_ms)) < 0 ||
	    (rc = root_recover(&r)) < 0)
		goto out;
	rc = release_prune(&r, o.keep, &removed, &freed);
	struct history_rec h = HISTORY_REC_INIT;
	struct buf msg = BUF_INIT;
	history_prune_message(&msg, &removed, rc ? error_last() : NULL);
	h.action = "prune";
	h.outcome = rc ? "failed" : "ok";
	h.message = msg.buf;
	h.duration_ms = time_now_ms() - start;
	/* the releases are gone either way: a history that cannot be written is a warning */
	int demoted = report_demote_errors(1);
	history_append(&r, &h);
	report_demote_errors(demoted);
	buf_release(&msg);
	if (!rc && !log_quiet) {
		char b[32];
		format_bytes(b, sizeof(b), (uint64_t)freed);
		for (size_t i = 0; i < removed.nr; i++)
			printf("removed %s\n", removed.items[i]);
		printf("pruned %zu release%s, %s freed (keeping %d)\n", removed.nr,
		       removed.nr == 1 ? "" : "s", b, o.keep);
	}
out:
	deploy_opts_release(&o);
	strlist_clear(&removed);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
