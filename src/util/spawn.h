#ifndef CUTOVER_SPAWN_H
#define CUTOVER_SPAWN_H
#include "util/strlist.h"

/*
 * Run a shell command (/bin/sh -c) for hooks and checks.
 * Its stdout and stderr are read through one pipe and copied line by line to
 * our stderr, each line prefixed with `prefix` (e.g. "before_switch| "),
 * unless quiet_output is set (then the output is kept only in `output`).
 * The child gets stdin from /dev/null, the environment of this process plus
 * `env` ("NAME=value" items), runs in `cwd` (NULL: unchanged), in its own
 * process group. With timeout_ms > 0 the whole group is sent SIGTERM at the
 * deadline and SIGKILL 2 s later, and the run counts as failed.
 */
struct spawn_opts {
	const char *cmd;
	const char *cwd;
	const struct strlist *env;
	const char *prefix;
	long timeout_ms;
	int quiet_output;
	struct buf *output; /* optional: receives up to 64 KiB of the output */
	int timeout_silent; /* the caller reports a timeout itself (retried checks) */
};

/*
 * Returns the exit status (0..255) of the command, 128+N when it died of
 * signal N, or -1 when it could not be started or timed out (reported with
 * error()). *timed_out (optional) is set to 1 on timeout.
 */
struct buf;
int spawn_shell(const struct spawn_opts *o, int *timed_out);

#endif
