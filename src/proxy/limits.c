/*
 * The descriptor budget: how many client connections the descriptor limit
 * allows, raising the soft limit toward the hard one, and reports of a
 * shortage that cannot flood the log when it lasts.
 */
#include "proxy/proxy.h"
#include "util/error.h"
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>

int ratelimit_pass(struct ratelimit *r, int64_t now, int64_t every_ms, unsigned long *suppressed)
{
	if (r->reported && now - r->last_ms < every_ms) {
		r->suppressed++;
		return 0;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->last_ms = now;
	r->reported = 1;
	return 1;
}

int limits_max_clients(long nofile)
{
	long n = (nofile - LIMITS_FD_RESERVE) / 2;
	if (n > LIMITS_MAX_CLIENTS)
		n = LIMITS_MAX_CLIENTS;
	return n < 1 ? 1 : (int)n;
}

int limits_fd_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* The soft descriptor limit, raised to `want` when the hard one allows. */
static long raise_nofile(long want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max > want ? (rlim_t)want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = old;
	}
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX / 4 : (long)rl.rlim_cur;
}

void limits_configure(struct proxy *px, int max_clients)
{
	int want = max_clients > 0 ? max_clients : LIMITS_MAX_CLIENTS;
	px->nofile = raise_nofile(2L * want + LIMITS_FD_RESERVE);
	if (max_clients > 0) {
		px->cfg.max_clients = max_clients;
		if (limits_max_clients(px->nofile) < max_clients)
			warning("--max-connections %d needs %ld descriptors, the limit is %ld: at the limit, new "
				"connections wait and requests that need a new upstream connection get 503",
				max_clients, 2L * max_clients + LIMITS_FD_RESERVE, px->nofile);
		return;
	}
	px->cfg.max_clients = limits_max_clients(px->nofile);
}

void proxy_fd_shortage(struct proxy *px, struct ratelimit *rl, const char *what, int err, const char *then)
{
	unsigned long more;
	px->fd_shortages++;
	if (!ratelimit_pass(rl, px->loop.now, LIMITS_LOG_EVERY_MS, &more))
		return;
	if (more)
		warning("%s: %s (descriptor limit %ld, %d client connections open); %s; %lu more since the last report",
			what, strerror(err), px->nofile, px->nclients, then, more);
	else
		warning("%s: %s (descriptor limit %ld, %d client connections open); %s", what, strerror(err), px->nofile,
			px->nclients, then);
}
