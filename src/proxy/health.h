#ifndef CUTOVER_PROXY_HEALTH_H
#define CUTOVER_PROXY_HEALTH_H
#include "proxy/proxy.h"

/*
 * One health check of a target: HTTP GET of `path` (2xx or 3xx passes),
 * or, without a path, a TCP connect. The result comes back through `done`
 * from the event loop, never from health_start itself; `why` says what
 * failed. Sets t->health.
 */
typedef void health_done_fn(void *arg, int ok, const char *why);
struct health_check;
struct health_check *health_start(struct proxy *px, struct target *t, const char *path, long timeout_ms,
				  health_done_fn *done, void *arg);
/* Stop a check without calling its callback. */
void health_cancel(struct health_check *hc);
/* Timeouts, results due, and the periodic checks of current targets. */
void health_sweep(struct proxy *px);

#endif
