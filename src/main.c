/*
 * cutover: zero-downtime deploys. The command line, the remote agent and the
 * traffic proxy are this one program; this file is the command table.
 */
#include "cmd/cmd.h"
#include "release/root.h"
#include "util/error.h"
#include <signal.h>
#include <unistd.h>

#include "util/version.h"
#include "cmd/remote.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "make a directory a cutover root (or adopt a live docroot)" },
	{ "deploy", cmd_deploy, "build a release from a directory, archive, git revision or stdin and switch to it" },
	{ "releases", cmd_releases, "list releases with size and current/previous/pinned marks" },
	{ "rollback", cmd_rollback, "switch back to the previous (or a given) release" },
	{ "prune", cmd_prune, "remove old releases, keeping the newest N" },
	{ "pin", cmd_pin, "protect a release from pruning" },
	{ "unpin", cmd_unpin, "let a pinned release be pruned again" },
	{ "verify", cmd_verify, "re-hash a release against its manifest and list drifted files" },
	{ "diff", cmd_diff, "list added, removed and changed paths between two releases" },
	{ "log", cmd_log, "show the history of deploys, rollbacks and prunes" },
	{ "status", cmd_status, "show the current release, the lock holder and disk use" },
	{ "agent", cmd_agent, "the remote end of an ssh target (started by the client, not by hand)" },
	{ "proxy", cmd_proxy, "the traffic proxy: run it, deploy/rollback a service, status, pause/resume" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: cutover [--quiet] [-C DIR] <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'cutover <command> --help' shows a command's options; 'man cutover' the rest.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	/* A closed pipe (cutover releases | head) is not an error worth a signal death. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			log_quiet = 1;
		} else if (!strcmp(a, "--version")) {
			printf("cutover %s\n", CUTOVER_VERSION);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-C")) {
			if (i + 1 >= argc) {
				error("option '-C' needs a directory");
				return CUT_USAGE;
			}
			if (chdir(argv[++i]) < 0) {
				error_errno("cannot change to '%s'", argv[i]);
				return CUT_USAGE;
			}
		} else {
			error("unknown option '%s'", a);
			usage(stderr);
			return CUT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CUT_USAGE;
	}
	for (size_t c = 0; c < ARRAY_SIZE(commands); c++)
		if (!strcmp(commands[c].name, argv[i])) {
			root_set_command(argc - i, argv + i);
			int rc;
			if (!remote_forward(argc - i, argv + i, &rc))
				rc = commands[c].fn(argc - i, argv + i);
			if (fflush(stdout) != 0 && rc == 0) {
				error_errno("cannot write to standard output");
				return CUT_FAILED;
			}
			return rc;
		}
	error("'%s' is not a cutover command; see 'cutover --help'", argv[i]);
	return CUT_USAGE;
}
