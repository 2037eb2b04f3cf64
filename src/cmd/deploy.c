#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/id.h"
#include "release/stage.h"
#include "util/error.h"

static const char usage[] = "cutover deploy SOURCE --to ROOT [options]\n"
			    "  SOURCE: a directory, an archive (.tar .tar.gz .tar.xz .tar.zst .zip),\n"
			    "          git:/path/repo.git#REV, or - for a tar stream on stdin";

int cmd_deploy(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	char **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = {
		OPTS_TARGET(f),
		OPT_STRING(0, "label", &f.label, "LABEL", "label for the release id (default: git short sha)"),
		OPT_INT(0, "keep", &f.keep, "N", "releases to keep (default 10)"),
		OPT_STRING(0, "link-mode", &f.link_mode, "MODE", "hardlink (default), reflink or copy"),
		OPT_LIST(0, "shared", &f.shared, "PATH", "path kept in shared/ across releases (repeatable; dirs end in /)"),
		OPT_LIST(0, "writable", &f.writable, "PATH", "files under PATH get private writable copies (repeatable)"),
		OPT_LIST(0, "exclude", &f.exclude, "PATTERN", "leave out matching paths (repeatable)"),
		OPT_LIST(0, "before-switch", &f.before_switch, "CMD", "run in the new release before it goes live (repeatable)"),
		OPTS_CHECK(f),
		OPTS_LOCK(f),
		OPT_END(),
	};
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if (nargs != 1) {
		error(nargs ? "deploy takes one source, not %d" : "deploy needs a source%.0d", nargs);
		opts_usage(opts, usage);
		free(args);
		common_flags_release(&f);
		return CUT_USAGE;
	}
	rc = common_resolve(&o, &f);
	if (!rc && o.label && !release_label_valid(o.label)) {
		error("label '%s' is not valid: use 1 to 40 of A-Z a-z 0-9 . _ - (not first)", o.label);
		rc = -CUT_USAGE;
	}
	if (!rc)
		rc = stage_check_paths(&o.shared, &o.writable);
	if (!rc) {
		struct deploy_result res = { 0 };
		o.source = args[0];
		rc = deploy_run(&o, &res);
		if (!rc)
			deploy_print_result(&res, "deployed");
		deploy_result_release(&res);
	}
	deploy_opts_release(&o);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
