/*
 * Upstream connections: connecting, the per-target pools of idle
 * keep-alive connections, reading responses into the exchange, writing
 * requests, and noticing a pooled connection the upstream has closed.
 */
#include "proxy/conn.h"
#include "util/error.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static void upconn_ev(struct ev_handler *h, int events);

void upconn_free(struct upconn *u)
{
	http_msg_release(&u->resp.msg);
	buf_release(&u->out);
	free(u->in);
	free(u);
}

void upconn_close(struct upconn *u)
{
	struct proxy *px = u->px;
	if (!alive(&u->h))
		return;
	if (u->c) {
		u->c->up = NULL;
		u->c = NULL;
	}
	if (u->idle) {
		u->t->nidle--;
		u->idle = 0;
	}
	ev_del(&px->loop, &u->h);
	close(u->h.fd);
	u->h.fd = -1;
	u->h.fn = NULL;
	list_del(&u->link);
	list_add(&px->up_graveyard, &u->link);
}

/*
 * Out of descriptors: close up to `n` idle pooled connections, the oldest
 * of targets no longer routed to first. Returns how many were closed.
 */
static int pool_reclaim(struct proxy *px, int n)
{
	int closed = 0;
	for (int pass = 0; pass < 2; pass++)
		for (struct service *s = px->services; s; s = s->next)
			for (struct target *t = s->targets; t; t = t->next) {
				if ((t->state == T_ACTIVE) != pass)
					continue;
				while (closed < n && !list_empty(&t->idle)) {
					upconn_close(container_of(t->idle.prev, struct upconn, link));
					closed++;
				}
			}
	return closed;
}

/* A socket for t; at the descriptor limit, idle pooled connections make room. */
static int pool_socket(struct proxy *px, struct target *t)
{
	int fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && limits_fd_shortage(errno) && pool_reclaim(px, 4))
		fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		char what[300];
		snprintf(what, sizeof(what), "cannot connect to upstream '%s'", t->addr);
		if (limits_fd_shortage(err))
			proxy_fd_shortage(px, &px->upstream_log, what, err, "requests that need a new connection get 503");
		else
			warning("%s: %s", what, strerror(err));
		errno = err;
	}
	return fd;
}

struct upconn *pool_connect(struct proxy *px, struct target *t)
{
	int fd = pool_socket(px, t);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct upconn *u = xcalloc(1, sizeof(*u));
	u->h.fn = upconn_ev;
	u->h.fd = fd;
	u->h.mask = -1;
	u->px = px;
	u->t = t;
	u->in = xmalloc(IN_CAP);
	buf_init(&u->out, 0);
	http_side_init(&u->resp, HTTP_RESPONSE);
	u->resp.on_head = resp_on_head;
	u->resp.on_body = resp_on_body;
	u->resp.on_done = resp_on_done;
	list_init(&u->link);
	if (connect(fd, (struct sockaddr *)&t->sa, t->salen) == 0) {
		u->connected = 1;
	} else if (errno != EINPROGRESS) {
		/* reported by the caller as a 502 (503 for a shortage: errno is kept) */
		int err = errno;
		close(fd);
		upconn_free(u);
		errno = err;
		return NULL;
	}
	u->deadline = px->loop.now + px->cfg.connect_timeout_ms;
	return u;
}

/*
 * Whether an idle pooled connection is still open: its close may be on
 * its way to us but not seen yet (an upstream's keep-alive timeout).
 * Nothing to read is the only good answer; an idle connection must not speak.
 */
static int still_open(struct upconn *u)
{
	char b;
	ssize_t n = recv(u->h.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * A pooled connection (newest first: least likely to have been closed), or
 * a new one. One idle for POOL_PROBE_IDLE_MS or more is checked first:
 * under load connections come back within milliseconds and skip the check.
 */
struct upconn *pool_get(struct proxy *px, struct target *t)
{
	while (!list_empty(&t->idle)) {
		struct upconn *u = container_of(t->idle.next, struct upconn, link);
		if (px->loop.now - u->idle_since >= POOL_PROBE_IDLE_MS && !still_open(u)) {
			upconn_close(u);
			continue;
		}
		list_del(&u->link);
		t->nidle--;
		u->idle = 0;
		u->reused = 1;
		return u;
	}
	return pool_connect(px, t);
}

/* Return a connection to its target's pool, or close it. */
void pool_put(struct upconn *u, int reusable)
{
	struct target *t = u->t;
	struct proxy *px = u->px;
	u->c = NULL;
	if (!reusable || t->state == T_STANDBY || px->stopping || t->nidle >= px->cfg.max_idle_per_target) {
		upconn_close(u);
		return;
	}
	list_del(&u->link);
	list_add(&t->idle, &u->link);
	t->nidle++;
	u->idle = 1;
	u->idle_since = px->loop.now;
	http_parser_init(&u->resp.parser, HTTP_RESPONSE);
	u->resp.parser.data = &u->resp;
	u->resp_done = u->got_bytes = 0;
	u->in_len = 0;
	buf_reset(&u->out);
	u->out_off = 0;
	u->deadline = px->loop.now + px->cfg.idle_timeout_ms;
	upconn_update(u);
}

int upconn_flush(struct upconn *u)
{
	if (!u->connected)
		return 0;
	while (out_pending(&u->out, u->out_off)) {
		ssize_t n = io_write(u->h.fd, u->out.buf + u->out_off, out_pending(&u->out, u->out_off));
		if (n == IO_AGAIN)
			break;
		if (n < 0) {
			upconn_eof(u, 1);
			return -1;
		}
		u->out_off += (size_t)n;
		if (u->c && u->c->state == C_EXCHANGE && !u->c->req_done)
			u->c->deadline = u->px->loop.now + u->px->cfg.body_timeout_ms;
	}
	if (!out_pending(&u->out, u->out_off)) {
		buf_reset(&u->out);
		u->out_off = 0;
	} else if (u->out_off > HIGH_WATER) {
		memmove(u->out.buf, u->out.buf + u->out_off, out_pending(&u->out, u->out_off));
		buf_setlen(&u->out, out_pending(&u->out, u->out_off));
		u->out_off = 0;
	}
	if (u->c && alive(&u->c->h))
		client_update(u->c);
	if (alive(&u->h))
		upconn_update(u);
	return 0;
}

void upconn_update(struct upconn *u)
{
	int mask = 0;
	if (!alive(&u->h))
		return;
	if (!u->connected) {
		mask = EV_WRITE;
	} else {
		if (!u->c || out_pending(&u->c->out, u->c->out_off) <= HIGH_WATER)
			mask |= EV_READ;
		if (out_pending(&u->out, u->out_off))
			mask |= EV_WRITE;
	}
	if (ev_set(&u->px->loop, &u->h, mask) < 0) {
		if (u->c)
			exchange_fail(u->c, 502, "cannot watch upstream");
		else
			upconn_close(u);
	}
}

/* Send the kept request again on a fresh connection; 0 or -1. */
int pool_retry_fresh(struct client *c)
{
	struct upconn *old = c->up, *u;
	old->c = NULL;
	c->up = NULL;
	upconn_close(old);
	u = pool_connect(c->px, c->t);
	if (!u)
		return -1;
	list_add(&c->t->busy, &u->link);
	u->c = c;
	c->up = u;
	c->retried = 1;
	buf_add(&u->out, c->replay.buf, c->replay.len);
	upconn_update(u);
	if (u->connected)
		upconn_flush(u);
	return 0;
}

/* The upstream closed (or failed) before the exchange finished. */
void upconn_eof(struct upconn *u, int err)
{
	struct client *c = u->c;
	if (!c) {
		upconn_close(u);
		return;
	}
	if (u->tunnel) {
		/* pass the close on once what we have is written */
		c->up = NULL;
		u->c = NULL;
		upconn_close(u);
		c->state = C_CLOSING;
		client_flush(c);
		return;
	}
	if (!err && u->got_bytes && !u->resp_done) {
		/* a body delimited by the end of the connection ends here */
		if (http_side_eof(&u->resp) == 0 && u->resp_done)
			return;
	}
	if (!u->got_bytes && u->reused && !c->retried && c->replayable && c->replay.len) {
		/*
		 * A pooled connection the upstream closed as the request arrived:
		 * most likely it never reached the application. An idempotent
		 * request is sent once more; any other gets its 502, never a
		 * second execution.
		 */
		if (pool_retry_fresh(c) == 0)
			return;
	}
	exchange_fail(c, 502, "upstream closed the connection");
}

void upconn_read(struct upconn *u)
{
	ssize_t n = io_read(u->h.fd, u->in, IN_CAP);
	if (n == IO_AGAIN)
		return;
	if (n <= 0) {
		upconn_eof(u, n < 0);
		return;
	}
	struct client *c = u->c;
	if (!c) {
		/* an idle pooled connection must not speak: drop it */
		upconn_close(u);
		return;
	}
	u->got_bytes = 1;
	if (u->tunnel) {
		buf_add(&c->out, u->in, (size_t)n);
		client_flush(c);
		return;
	}
	size_t off = 0;
	while (off < (size_t)n) {
		long used = http_side_feed(&u->resp, u->in + off, (size_t)n - off);
		if (used < 0) {
			exchange_fail(c, 502, u->resp.msg.why);
			return;
		}
		off += (size_t)used;
		if (!alive(&c->h) || !alive(&u->h))
			return;
		if (u->tunnel) {
			/* bytes after the 101 are the new protocol's */
			buf_add(&c->out, u->in + off, (size_t)n - off);
			if (c->in_off < c->in_len)
				client_process(c);
			break;
		}
		if (u->resp_done) {
			/* anything after the response is unasked for: the connection is not reused */
			int clean = off == (size_t)n;
			exchange_finish(c, u);
			if (!clean && alive(&u->h))
				upconn_close(u);
			return;
		}
		if (HTTP_PARSER_ERRNO(&u->resp.parser) == HPE_PAUSED || used == 0)
			break;
	}
	u->deadline = u->px->loop.now + u->px->cfg.upstream_timeout_ms;
	client_flush(c);
}

void upconn_connected(struct upconn *u)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(u->h.fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		if (u->c)
			exchange_fail(u->c, 502, "cannot connect to upstream");
		else
			upconn_close(u);
		return;
	}
	u->connected = 1;
	u->deadline = u->px->loop.now + u->px->cfg.upstream_timeout_ms;
	upconn_flush(u);
}

static void upconn_ev(struct ev_handler *h, int events)
{
	struct upconn *u = container_of(h, struct upconn, h);
	if (!u->connected) {
		if (events & (EV_WRITE | EV_ERROR))
			upconn_connected(u);
		if (alive(&u->h))
			upconn_update(u);
		return;
	}
	if (events & (EV_READ | EV_ERROR))
		upconn_read(u);
	if (alive(&u->h) && (events & EV_WRITE))
		upconn_flush(u);
	if (alive(&u->h))
		upconn_update(u);
}

void relay_close_idle(struct proxy *px, struct target *t)
{
	while (!list_empty(&t->idle)) {
		struct upconn *u = container_of(t->idle.next, struct upconn, link);
		upconn_close(u);
	}
}

