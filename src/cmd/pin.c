#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/history.h"
#include "release/retention.h"
#include "util/error.h"
#include "util/fs.h"

/* pin and unpin: mark a release so that prune keeps it. */
static int pin_or_unpin(int argc, char **argv, int pin)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	char **args;
	int nargs, done, rc;
	const char *usage = pin ? "cutover pin RELEASE --to ROOT" : "cutover unpin RELEASE --to ROOT";

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_LOCK(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 1, 1,
				   pin ? "pin takes one release id" : "unpin takes one release id")) < 0 ||
	    (rc = root_lock(&r, o.wait_ms)) < 0)
		goto out;
	rc = pin ? release_pin(&r, args[0]) : release_unpin(&r, args[0]);
	if (!rc) {
		struct history_rec h = HISTORY_REC_INIT;
		h.action = pin ? "pin" : "unpin";
		h.release = args[0];
		h.outcome = "ok";
		int demoted = report_demote_errors(1); /* the pin holds without its history line */
		history_append(&r, &h);
		report_demote_errors(demoted);
		if (!log_quiet)
			printf("%s %s\n", pin ? "pinned" : "unpinned", args[0]);
	}
out:
	deploy_opts_release(&o);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}

int cmd_pin(int argc, char **argv)
{
	return pin_or_unpin(argc, argv, 1);
}

int cmd_unpin(int argc, char **argv)
{
	return pin_or_unpin(argc, argv, 0);
}
