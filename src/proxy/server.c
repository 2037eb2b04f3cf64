/*
 * The proxy process: listening socket, signals, timers and the loop.
 */
#include "proxy/proxy.h"
#include "proxy/health.h"
#include "proxy/ops.h"
#include "proxy/handover.h"
#include "util/error.h"
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SWEEP_MS 100

/* The signalfd's handler, with the proxy it belongs to. */
struct sigwatch {
	struct ev_handler h;
	struct proxy *px;
};

int proxy_resolve_addr(const char *addr, struct sockaddr_storage *sa, socklen_t *len, char *why, size_t why_len)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;
	if (!colon || !colon[1]) {
		snprintf(why, why_len, "invalid address '%s': expected HOST:PORT", addr);
		return -1;
	}
	hl = (size_t)(colon - addr);
	if (hl && addr[0] == '[' && addr[hl - 1] == ']')
		h++, hl -= 2;
	if (hl >= sizeof(host)) {
		snprintf(why, why_len, "invalid address '%s': host too long", addr);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		snprintf(why, why_len, "invalid port in '%s'", addr);
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	if (!hl || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (!hl)
			in4->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	/* a name: resolved once, now; the proxy never blocks on DNS while serving */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		snprintf(why, why_len, "cannot resolve '%s' (target '%s'): %s", host, addr,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -2;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port); /* same offset for v4 and v6 */
	freeaddrinfo(res);
	return 0;
}

int proxy_parse_addr(const char *addr, struct sockaddr_storage *sa, socklen_t *len)
{
	char why[400];
	if (proxy_resolve_addr(addr, sa, len, why, sizeof(why)) < 0)
		return error("%s", why);
	return 0;
}

/* An address reduced to what decides where a connection goes; IPv4-mapped IPv6 as IPv4. */
struct endpoint {
	int family; /* AF_INET, AF_INET6, or 0: neither */
	uint16_t port;
	unsigned char ip[16];
};

static struct endpoint endpoint_of(const struct sockaddr *sa)
{
	struct endpoint e = { 0 };
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		e.family = AF_INET;
		e.port = ntohs(in4->sin_port);
		memcpy(e.ip, &in4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		int mapped = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
		e.family = mapped ? AF_INET : AF_INET6;
		e.port = ntohs(in6->sin6_port);
		memcpy(e.ip, in6->sin6_addr.s6_addr + (mapped ? 12 : 0), mapped ? 4 : 16);
	}
	return e;
}

static int endpoint_any(const struct endpoint *e)
{
	static const unsigned char zero[16];
	return !memcmp(e->ip, zero, e->family == AF_INET ? 4 : 16);
}

static int endpoint_loopback(const struct endpoint *e)
{
	static const unsigned char one6[16] = { [15] = 1 };
	return e->family == AF_INET ? e->ip[0] == 127 : !memcmp(e->ip, one6, 16);
}

int proxy_addr_reaches(const struct sockaddr *listen, const struct sockaddr *target, int target_local)
{
	struct endpoint l = endpoint_of(listen), t = endpoint_of(target);
	if (!l.family || !t.family || l.port != t.port)
		return 0;
	/* a connection to 0.0.0.0 or :: goes to this host */
	if (endpoint_any(&t))
		return endpoint_any(&l) || endpoint_loopback(&l);
	/* a wildcard listener takes every local address; an IPv6 one IPv4 too (unless V6ONLY) */
	if (endpoint_any(&l))
		return target_local && (l.family == AF_INET6 || t.family == AF_INET);
	return l.family == t.family && !memcmp(l.ip, t.ip, l.family == AF_INET ? 4 : 16);
}

/* Whether sa is an address of this host: one a socket can be bound to (127.0.0.0/8 included). */
static int addr_is_local(const struct sockaddr_storage *sa, socklen_t len)
{
	struct sockaddr_storage probe = *sa;
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), local;
	if (fd < 0)
		return 0;
	((struct sockaddr_in *)&probe)->sin_port = 0; /* same offset for v4 and v6 */
	local = bind(fd, (struct sockaddr *)&probe, len) == 0;
	close(fd);
	return local;
}

int proxy_is_self(struct proxy *px, const struct sockaddr_storage *sa)
{
	struct sockaddr_storage ls;
	socklen_t llen = sizeof(ls);
	socklen_t tlen = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (px->listener.fd < 0 || getsockname(px->listener.fd, (struct sockaddr *)&ls, &llen) < 0)
		return 0;
	return proxy_addr_reaches((struct sockaddr *)&ls, (const struct sockaddr *)sa, addr_is_local(sa, tlen));
}

int proxy_listen_tcp(const char *addr, int *fd_out)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int one = 1;
	if (proxy_parse_addr(addr, &sa, &len) < 0)
		return -1;
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno("cannot create a socket for '%s'", addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		error_errno("cannot listen on '%s'", addr);
		close(fd);
		return -1;
	}
	if (listen(fd, 4096) < 0) {
		error_errno("cannot listen on '%s'", addr);
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/*
 * Watch the listener only while a connection could be taken: below the
 * connection limit (above it, new connections wait in the kernel's listen
 * backlog, as HAProxy's maxconn does) and not right after a descriptor
 * shortage (nginx and HAProxy stop accepting for a moment then: the
 * listener stays readable, and accepting again at once would spin).
 */
static void accept_update(struct proxy *px)
{
	unsigned long more;
	int full = px->nclients >= px->cfg.max_clients;
	if (px->listener.fd < 0 || px->listener.mask < 0)
		return;
	if (full && px->listener.mask && ratelimit_pass(&px->full_log, px->loop.now, LIMITS_LOG_EVERY_MS, &more))
		warning("connection limit reached (%d client connections, --max-connections): new connections wait "
			"in the listen backlog%s", px->cfg.max_clients, more ? "; reached again since the last report" : "");
	ev_set(&px->loop, &px->listener, !full && px->loop.now >= px->accept_resume ? EV_READ : 0);
}

/* Errors of one connection (Linux passes pending network errors to accept): take the next. */
static int accept_error_transient(int err)
{
	return err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENETDOWN || err == ENOPROTOOPT ||
	       err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH ||
	       err == EPERM;
}

static void accept_ev(struct ev_handler *h, int events)
{
	struct proxy *px = container_of(h, struct proxy, listener);
	/* a bounded batch, so that one busy listener cannot starve the connections */
	for (int i = 0; i < 64 && px->nclients < px->cfg.max_clients; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(h->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (accept_error_transient(errno))
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				proxy_fd_shortage(px, &px->accept_log, "cannot accept connections", errno, "trying again every 100ms");
				px->accept_resume = px->loop.now + ACCEPT_BACKOFF_MS;
			}
			break;
		}
		relay_accept(px, fd, (struct sockaddr *)&ss);
	}
	accept_update(px);
}

void proxy_stop(struct proxy *px, const char *why)
{
	if (px->stopping)
		return;
	px->stopping = 1;
	px->stop_deadline = px->loop.now + px->cfg.shutdown_timeout_ms;
	if (px->listener.fd >= 0) {
		ev_del(&px->loop, &px->listener);
		close(px->listener.fd);
		px->listener.fd = -1;
	}
	admin_close_listener(px);
	relay_stopping(px);
	note("proxy stopping (%s): finishing %d connection(s)", why, px->nclients);
}

static void sig_ev(struct ev_handler *h, int events)
{
	struct proxy *px = container_of(h, struct sigwatch, h)->px;
	struct signalfd_siginfo si;
	while (read(h->fd, &si, sizeof(si)) == sizeof(si)) {
		char why[160];
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			proxy_stop(px, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		case SIGUSR2:
			if (handover_start(px, NULL, why, sizeof(why)) < 0)
				error("cannot upgrade: %s", why);
			break;
		case SIGCHLD:
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			break;
		}
	}
}

int proxy_init(struct proxy *px)
{
	memset(px, 0, sizeof(*px));
	px->cfg.header_timeout_ms = 10000;
	px->cfg.idle_timeout_ms = 60000;
	px->cfg.body_timeout_ms = 60000;
	px->cfg.connect_timeout_ms = 5000;
	px->cfg.upstream_timeout_ms = 60000;
	px->cfg.send_timeout_ms = 60000;
	px->cfg.shutdown_timeout_ms = 30000;
	px->cfg.max_idle_per_target = 256;
	px->cfg.max_clients = LIMITS_MAX_CLIENTS;
	px->listener.fd = px->admin.fd = px->handover_pipe.fd = -1;
	px->listener.mask = px->admin.mask = px->handover_pipe.mask = -1;
	list_init(&px->clients);
	list_init(&px->admins);
	list_init(&px->checks);
	list_init(&px->ops);
	list_init(&px->graveyard);
	list_init(&px->up_graveyard);
	return ev_init(&px->loop);
}

/* Serve until stopped and every connection is done (or the stop deadline passed). */
int proxy_run(struct proxy *px)
{
	static struct sigwatch sig;
	sigset_t set;
	int64_t last_sweep = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig.h.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sig.h.fn = sig_ev;
	sig.h.mask = -1;
	sig.px = px;
	if (sig.h.fd < 0 || ev_set(&px->loop, &sig.h, EV_READ) < 0)
		return error_errno("cannot watch signals");

	px->listener.fn = accept_ev;
	if (ev_set(&px->loop, &px->listener, EV_READ) < 0)
		return -1;

	for (;;) {
		int timeout = list_empty(&px->ops) && list_empty(&px->checks) ? SWEEP_MS : 5;
		if (ev_run_once(&px->loop, timeout) < 0)
			return -1;
		if (!list_empty(&px->checks) || !list_empty(&px->ops) || px->loop.now - last_sweep >= SWEEP_MS) {
			health_sweep(px);
			ops_sweep(px);
		}
		if (px->loop.now - last_sweep >= SWEEP_MS) {
			last_sweep = px->loop.now;
			relay_sweep(px);
			for (struct service *s = px->services; s; s = s->next)
				if (s->paused_until && px->loop.now >= s->paused_until) {
					note("pause of '%s' ran out: serving held requests", s->name);
					s->paused_until = 0;
					relay_release_held(px, s);
				}
		}
		relay_free_graveyard(px);
		accept_update(px);
		admin_accept_update(px);
		if (px->stopping) {
			if (!px->nclients && list_empty(&px->admins))
				break;
			if (px->loop.now >= px->stop_deadline) {
				warning("stop timeout: closing %d connection(s)", px->nclients);
				break;
			}
		}
	}
	if (px->admin_owned && px->admin_path)
		unlink(px->admin_path);
	/* a save still being written finishes before we go; no new one: after a
	 * handover the file belongs to the new process */
	state_flush();
	return 0;
}
