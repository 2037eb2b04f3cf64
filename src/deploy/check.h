#ifndef CUTOVER_CHECK_H
#define CUTOVER_CHECK_H
#include "deploy/hooks.h"

/*
 * The health check after a switch: an HTTP GET that must answer 2xx, or a
 * shell command that must exit 0, each attempt bounded by timeout_ms, tried
 * up to `retries` + 1 times with `interval_ms` between attempts.
 */
struct check_opts {
	const char *spec; /* URL or command; NULL: no check */
	long timeout_ms;
	int retries;
	long interval_ms;
};
#define CHECK_DEFAULT_TIMEOUT_MS 5000
#define CHECK_DEFAULT_RETRIES 3
#define CHECK_DEFAULT_INTERVAL_MS 1000

/* Returns 0 when healthy, -1 after reporting the last failure. */
int check_run(const struct check_opts *c, const struct hook_env *env, const char *cwd);

#endif
