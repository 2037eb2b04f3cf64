/*
 * cutover agent: the other end of an ssh target. Started by the client
 * over ssh (docs/remote.md); speaks the framed protocol on stdin and
 * stdout until the client goes away. Not for people to run.
 */
#include "cmd/cmd.h"
#include "target/serve.h"
#include "util/error.h"
#include <unistd.h>

int cmd_agent(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"))) {
		log_quiet = 1;
		argc--;
	}
	if (argc != 1) {
		error("'agent' takes no arguments; it is started by 'cutover deploy --to ssh://...'");
		return CUT_USAGE;
	}
	if (isatty(0) || isatty(1)) {
		error("'cutover agent' speaks a binary protocol on its standard input and output; it is "
		      "started by the cutover client over ssh, not by hand");
		return CUT_USAGE;
	}
	return serve_agent(0, 1) < 0 ? CUT_FAILED : CUT_OK;
}
