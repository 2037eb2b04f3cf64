#include "cmd/cmd.h"
#include "cmd/common.h"
#include "util/error.h"

static const char usage[] = "cutover rollback [RELEASE] --to ROOT [options]\n"
			    "  without RELEASE: the newest release older than the live one";

int cmd_rollback(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	char **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_CHECK(f), OPTS_LOCK(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if (nargs > 1) {
		error("rollback takes at most one release id");
		free(args);
		common_flags_release(&f);
		return CUT_USAGE;
	}
	rc = common_resolve(&o, &f);
	if (!rc) {
		char *to, *from;
		rc = rollback_run(&o, nargs ? args[0] : NULL, &to, &from);
		if (!rc && !log_quiet)
			printf("rolled back to %s (was %s)\n", to, from ? from : "nothing");
		free(to);
		free(from);
	}
	deploy_opts_release(&o);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
