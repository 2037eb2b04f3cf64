#include "cmd/cmd.h"
#include "cmd/remote.h"
#include "target/url.h"
#include "cmd/common.h"
#include "release/root.h"
#include "util/error.h"
#include "util/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "cutover init ROOT [--adopt] [--write-config]";

static const char example_config[] =
	"# cutover.yml: every key here can also be given as a flag; flags win.\n"
	"# See 'man cutover' for the full list.\n"
	"\n"
	"# The deploy root (made with 'cutover init'); the web server serves <to>/current.\n"
	"to: %s\n"
	"\n"
	"# Releases to keep for instant rollback (the live one, the one before it and\n"
	"# pinned ones are always kept).\n"
	"keep: 10\n"
	"\n"
	"# Data that outlives releases, kept in <to>/shared and linked into each one.\n"
	"# A trailing / marks a directory. The first release that has one seeds it.\n"
	"# shared:\n"
	"#   - .env\n"
	"#   - storage/\n"
	"#   - public/uploads/\n"
	"\n"
	"# Files under these paths get private, writable copies instead of links\n"
	"# to the read-only store.\n"
	"# writable:\n"
	"#   - bootstrap/cache/\n"
	"\n"
	"# Paths left out of every release (shell patterns).\n"
	"# exclude:\n"
	"#   - .git/\n"
	"#   - node_modules/.cache/\n"
	"\n"
	"# hardlink (default), reflink (btrfs, xfs) or copy.\n"
	"# link_mode: hardlink\n"
	"\n"
	"# Commands with CUTOVER_RELEASE, CUTOVER_RELEASE_PATH, CUTOVER_PREVIOUS and\n"
	"# CUTOVER_ROOT in their environment. before_switch runs in the new release\n"
	"# before it goes live (failure: nothing changes); after_switch after every\n"
	"# switch, deploy or rollback (failure: switch back); after_rollback after\n"
	"# any switch back, after after_switch.\n"
	"# hooks:\n"
	"#   before_switch:\n"
	"#     - composer install --no-dev --no-interaction\n"
	"#   after_switch: sudo systemctl reload php8.2-fpm\n"
	"#   after_rollback: ./bin/notify \"rolled back to $CUTOVER_RELEASE\"\n"
	"\n"
	"# Checked after the switch; on failure cutover switches back and exits 4.\n"
	"# check:\n"
	"#   url: http://127.0.0.1/health     # or  command: ./bin/smoke-test\n"
	"#   timeout: 5s\n"
	"#   retries: 3\n"
	"#   interval: 1s\n"
	"\n"
	"# How long to wait for another deploy's lock (default: do not wait).\n"
	"# wait: 60s\n";

/*
 * init --write-config: the example goes to ./cutover.yml, the file cutover
 * reads when run from this directory without --config (a file next to
 * ROOT would be read by nothing). Written under a temporary name and
 * linked into place, so that it is never half written and never replaces
 * a cutover.yml that exists. Says where it went with its full path.
 */
static int write_example(const char *root)
{
	char *text = xasprintf(example_config, root);
	char *tmp = xasprintf("cutover.yml.tmp-%d", (int)getpid());
	char *dir = path_absolute(".");
	int rc = 0;

	if (fs_write_atomic(tmp, text, strlen(text), 0644) < 0) {
		rc = -1;
		goto out;
	}
	if (link(tmp, "cutover.yml") < 0)
		rc = errno == EEXIST ? error("'%s/cutover.yml' exists already; not overwriting it", dir) :
				       error_errno("cannot create '%s/cutover.yml'", dir);
	unlink(tmp);
	if (!rc && fs_fsync_dir(".") < 0)
		rc = -1;
	if (!rc && !log_quiet)
		printf("wrote an example configuration to %s/cutover.yml: cutover reads it when run "
		       "from %s (elsewhere, give --config %s/cutover.yml)\n",
		       dir, dir, dir);
out:
	free(text);
	free(tmp);
	free(dir);
	return rc;
}

int cmd_init(int argc, char **argv)
{
	int adopt = 0, write_config = 0, sudo = 0, done, nargs, rc;
	char **args;
	struct opt opts[] = {
		OPT_BOOL(0, "adopt", &adopt, "turn the live directory ROOT/current into the first release"),
		OPT_BOOL(0, "write-config", &write_config, "write a commented ./cutover.yml (in this directory, where cutover reads it)"),
		OPT_BOOL(0, "sudo", &sudo, "a remote ROOT: make it and run the agent with sudo -n"),
		OPT_END(),
	};
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if (nargs != 1) {
		error("init needs exactly one directory");
		opts_usage(opts, usage);
		free(args);
		return CUT_USAGE;
	}
	if (target_url_is_remote(args[0])) {
		rc = remote_init(args[0], adopt, write_config, sudo);
		free(args);
		return exit_status(rc);
	}
	struct root r = ROOT_INIT;
	struct stat st;
	const char *path = args[0];
	if (write_config && !access("cutover.yml", F_OK)) {
		char *dir = path_absolute(".");
		error("'%s/cutover.yml' exists already; not overwriting it (nothing was done)", dir);
		free(dir);
		free(args);
		return CUT_FAILED;
	}
	if (!lstat(path, &st) && !S_ISDIR(st.st_mode)) {
		free(args);
		return error("'%s' exists and is not a directory", path), CUT_FAILED;
	}
	rc = root_create(&r, path);
	if (rc < 0)
		goto out;
	char *abs = xstrdup(r.path);
	int live_dir = !lstat(r.current, &st) && S_ISDIR(st.st_mode);
	if (live_dir && !adopt) {
		warning("'%s' is a real directory; run 'cutover init --adopt %s' to make it the first release",
			r.current, abs);
	}
	if (adopt) {
		if (!live_dir) {
			rc = error("nothing to adopt: '%s' is not a real directory", r.current);
		} else {
			struct deploy_opts o;
			deploy_opts_init(&o);
			o.root = abs;
			o.source = r.current;
			o.adopt = 1;
			o.label = "adopted";
			root_set_lock_advice("run 'cutover init --adopt' again once it has finished");
			struct deploy_result res = { 0 };
			rc = deploy_run(&o, &res);
			if (!rc)
				deploy_print_result(&res, "adopted");
			deploy_result_release(&res);
			deploy_opts_release(&o);
		}
	}
	if (!rc && !log_quiet) {
		printf("initialised %s\n", abs);
		printf("point the web server's document root at %s/current\n", abs);
	}
	if (!rc && write_config)
		rc = write_example(abs);
	free(abs);
out:
	root_release(&r);
	free(args);
	return exit_status(rc);
}
