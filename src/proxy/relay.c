/*
 * The HTTP/1.1 relay: client connections and the exchange between a
 * client and an upstream connection (pool.c). Bodies stream through in both directions with
 * bounded buffers; each side stops reading while the other's output is
 * above HIGH_WATER.
 *
 * A client connection is never bound to a target: every request is routed
 * on its own, so a deploy moves keep-alive clients to the new target
 * between two requests and never has to close them.
 */
#include "proxy/conn.h"
#include "util/error.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static void client_ev(struct ev_handler *h, int events);
static void client_close(struct client *c);
static int req_on_head(struct http_side *s);
static int req_on_body(struct http_side *s, const char *at, size_t len);
static int req_on_done(struct http_side *s);

/* ---- clients ---- */

void relay_accept(struct proxy *px, int fd, const struct sockaddr *sa)
{
	struct client *c = xcalloc(1, sizeof(*c));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->h.fn = client_ev;
	c->h.fd = fd;
	c->h.mask = -1;
	c->px = px;
	c->in = xmalloc(IN_CAP);
	buf_init(&c->out, 0);
	buf_init(&c->replay, 0);
	http_side_init(&c->req, HTTP_REQUEST);
	c->req.on_head = req_on_head;
	c->req.on_body = req_on_body;
	c->req.on_done = req_on_done;
	list_init(&c->held_link);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->ip, sizeof(c->ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->ip, sizeof(c->ip));
	else
		snprintf(c->ip, sizeof(c->ip), "unix");
	c->state = C_IDLE;
	c->deadline = px->loop.now + (px->stopping ? STOP_IDLE_GRACE_MS : px->cfg.idle_timeout_ms);
	list_add(&px->clients, &c->link);
	px->nclients++;
	px->accepted++;
	if (ev_set(&px->loop, &c->h, EV_READ) < 0)
		client_close(c);
}

static void client_free(struct client *c)
{
	http_msg_release(&c->req.msg);
	buf_release(&c->out);
	buf_release(&c->replay);
	free(c->in);
	free(c);
}

/* Undo the in-flight count and record the outcome of one request. */
static void finish_request(struct client *c)
{
	struct proxy *px = c->px;
	if (c->t && c->counted) {
		c->t->inflight--;
		c->counted = 0;
		/* a cut request is counted as cut (relay_cut_target), whatever its status line said */
		if (c->status && !c->cut)
			metrics_observe(&c->t->m, c->status, (double)(px->loop.now - c->t_start));
	} else if (c->status >= 400) {
		px->refused[c->status / 100]++;
	}
	c->t = NULL;
	c->status = 0;
}

static void client_close(struct client *c)
{
	struct proxy *px = c->px;
	if (!alive(&c->h))
		return;
	if (c->up) {
		struct upconn *u = c->up;
		u->c = NULL;
		c->up = NULL;
		upconn_close(u);
	}
	finish_request(c);
	list_del(&c->held_link);
	ev_del(&px->loop, &c->h);
	close(c->h.fd);
	c->h.fd = -1;
	c->h.fn = NULL;
	list_del(&c->link);
	list_add(&px->graveyard, &c->link);
	px->nclients--;
}

/* Queue a response made by the proxy and close after it. */
static void client_respond_error(struct client *c, int status)
{
	char body[80];
	snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	c->status = status;
	http_write_simple(&c->out, status, 1, "text/plain", body);
	c->resp_started = 1;
	c->state = C_CLOSING;
	c->deadline = c->px->loop.now + c->px->cfg.send_timeout_ms;
}

/* The request cannot be served: answer `status` if nothing was sent yet, else cut. */
void exchange_fail(struct client *c, int status, const char *why)
{
	if (c->up) {
		struct upconn *u = c->up;
		u->c = NULL;
		c->up = NULL;
		upconn_close(u);
	}
	if (c->resp_started) {
		client_close(c);
		return;
	}
	client_respond_error(c, status);
	finish_request(c);
	client_flush(c);
	if (alive(&c->h))
		client_update(c);
}

int client_flush(struct client *c)
{
	while (out_pending(&c->out, c->out_off)) {
		ssize_t n = io_write(c->h.fd, c->out.buf + c->out_off, out_pending(&c->out, c->out_off));
		if (n == IO_AGAIN)
			break;
		if (n < 0) {
			client_close(c);
			return -1;
		}
		c->out_off += (size_t)n;
		if (c->state == C_CLOSING || c->state == C_TUNNEL)
			c->deadline = c->px->loop.now + c->px->cfg.send_timeout_ms;
	}
	if (!out_pending(&c->out, c->out_off)) {
		buf_reset(&c->out);
		c->out_off = 0;
		if (c->state == C_CLOSING) {
			/* lingering close: a reset now could destroy the response in flight */
			shutdown(c->h.fd, SHUT_WR);
			c->state = C_LINGER;
			c->deadline = c->px->loop.now + LINGER_MS;
		}
	} else if (c->out_off > HIGH_WATER) {
		memmove(c->out.buf, c->out.buf + c->out_off, out_pending(&c->out, c->out_off));
		buf_setlen(&c->out, out_pending(&c->out, c->out_off));
		c->out_off = 0;
	}
	/* the upstream may have been waiting for room */
	if (c->up && alive(&c->up->h))
		upconn_update(c->up);
	return 0;
}

void client_update(struct client *c)
{
	int mask = 0;
	if (!alive(&c->h))
		return;
	if (c->in_len < IN_CAP && c->state != C_CLOSING &&
	    !(c->up && out_pending(&c->up->out, c->up->out_off) > HIGH_WATER))
		mask |= EV_READ;
	if (out_pending(&c->out, c->out_off))
		mask |= EV_WRITE;
	if (ev_set(&c->px->loop, &c->h, mask) < 0)
		client_close(c);
}

/* Back to waiting for the next request on a kept-alive connection. */
static void client_next(struct client *c)
{
	struct proxy *px = c->px;
	c->state = C_IDLE;
	c->req_done = c->resp_started = c->resp_chunked = c->close_after = 0;
	c->head_only = c->http10 = c->upgrade_req = c->set_cookie = c->retried = c->cut = 0;
	c->svc = NULL;
	/* a large kept request (a PUT) does not hold its memory while the connection idles */
	if (c->replay.alloc > 4096)
		buf_release(&c->replay);
	else
		buf_reset(&c->replay);
	c->replayable = 0;
	c->deadline = px->loop.now + (px->stopping ? STOP_IDLE_GRACE_MS : px->cfg.idle_timeout_ms);
	http_side_resume(&c->req);
}

static void client_read(struct client *c)
{
	if (c->state == C_LINGER) {
		char junk[4096];
		ssize_t n = io_read(c->h.fd, junk, sizeof(junk));
		if (n == 0 || n == IO_ERROR)
			client_close(c);
		return;
	}
	if (c->in_off && c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (c->in_len == IN_CAP && c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == IN_CAP)
		return;
	ssize_t n = io_read(c->h.fd, c->in + c->in_len, IN_CAP - c->in_len);
	if (n == IO_AGAIN)
		return;
	if (n <= 0) {
		if (c->state == C_TUNNEL && c->up) {
			/* pass the half-close on; close when both are done */
			shutdown(c->up->h.fd, SHUT_WR);
		}
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	if (c->state == C_EXCHANGE && !c->req_done)
		c->deadline = c->px->loop.now + c->px->cfg.body_timeout_ms;
	client_process(c);
}

static void client_ev(struct ev_handler *h, int events)
{
	struct client *c = container_of(h, struct client, h);
	if (events & (EV_READ | EV_ERROR))
		client_read(c);
	if (alive(&c->h) && (events & EV_WRITE))
		client_flush(c);
	if (alive(&c->h))
		client_update(c);
}

/* Parse what is buffered: request heads, bodies (to the upstream), tunnel bytes. */
void client_process(struct client *c)
{
	while (alive(&c->h) && c->in_off < c->in_len) {
		if (c->state == C_TUNNEL) {
			if (!c->up)
				break;
			buf_add(&c->up->out, c->in + c->in_off, c->in_len - c->in_off);
			c->in_off = c->in_len;
			break;
		}
		if (c->state == C_CLOSING || c->state == C_HELD)
			break;
		if (c->state == C_EXCHANGE && c->req_done)
			break; /* pipelined: the next request waits for this response */
		if (c->state == C_IDLE) {
			c->state = C_HEAD;
			c->t_start = c->px->loop.now;
			c->deadline = c->px->loop.now + c->px->cfg.header_timeout_ms;
		}
		long n = http_side_feed(&c->req, c->in + c->in_off, c->in_len - c->in_off);
		if (n < 0) {
			if (c->req.msg.status >= 500 && c->req.msg.status != 501 && c->req.msg.status != 505)
				exchange_fail(c, c->req.msg.status, c->req.msg.why);
			else
				exchange_fail(c, c->req.msg.status ? c->req.msg.status : 400, c->req.msg.why);
			return;
		}
		c->in_off += (size_t)n;
		if (!alive(&c->h))
			return;
		if (HTTP_PARSER_ERRNO(&c->req.parser) == HPE_PAUSED || c->req.parser.upgrade || n == 0)
			break;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (c->up && alive(&c->up->h) && c->up->connected)
		upconn_flush(c->up);
}

/* ---- the exchange ---- */

/* RFC 9110 9.2.2: these may be sent twice without changing the outcome. */
static int method_idempotent(int method)
{
	switch (method) {
	case HTTP_GET:
	case HTTP_HEAD:
	case HTTP_OPTIONS:
	case HTTP_TRACE:
	case HTTP_PUT:
	case HTTP_DELETE:
		return 1;
	default:
		return 0;
	}
}

/*
 * Keep a copy of what went upstream (out's bytes from `from` on) while the
 * request can still be replayed.
 */
static void replay_keep(struct client *c, const struct buf *out, size_t from)
{
	const char *data = out->buf + from;
	size_t len = out->len - from;
	if (!c->replayable)
		return;
	if (c->replay.len + len > REPLAY_CAP) {
		c->replayable = 0;
		buf_reset(&c->replay);
		return;
	}
	buf_add(&c->replay, data, len);
}

static int dispatch(struct client *c)
{
	struct proxy *px = c->px;
	struct http_msg *m = &c->req.msg;
	int ck = http_msg_find(m, "cookie");
	int navigation = c->svc->sticky && http_is_navigation(m, &c->req.parser);
	struct target *t = route_target(c->svc, ck >= 0 ? http_hdr_val(m, ck) : NULL,
					ck >= 0 ? m->hdr[ck].val_len : 0, navigation, &c->set_cookie);
	if (!t) {
		m->status = 503;
		m->why = "service has no target";
		return -1;
	}
	struct upconn *u = pool_get(px, t);
	if (!u) {
		int shortage = limits_fd_shortage(errno);
		m->status = shortage ? 503 : 502;
		m->why = shortage ? "the proxy is out of descriptors" : "cannot connect to upstream";
		return -1;
	}
	c->t = t;
	t->inflight++;
	t->last_routed_ms = px->loop.now;
	c->counted = 1;
	list_add(&t->busy, &u->link);
	u->c = c;
	c->up = u;
	u->deadline = px->loop.now + (u->connected ? px->cfg.upstream_timeout_ms : px->cfg.connect_timeout_ms);
	struct http_fwd f = { .client_ip = c->ip, .proto = "http", .chunked = m->chunked, .upgrade = c->upgrade_req };
	size_t before = u->out.len;
	http_write_request_head(&u->out, m, &c->req.parser, &f);
	c->replayable = method_idempotent(c->req.parser.method);
	replay_keep(c, &u->out, before);
	c->state = C_EXCHANGE;
	c->deadline = px->loop.now + px->cfg.body_timeout_ms;
	/* a connected one is written to right away (client_process); asking
	 * epoll for EV_WRITE first would cost two epoll_ctl per request */
	if (!u->connected)
		upconn_update(u);
	return 0;
}

static int req_on_head(struct http_side *s)
{
	struct client *c = container_of(s, struct client, req);
	struct http_msg *m = &s->msg;
	struct proxy *px = c->px;
	http_parser *p = &s->parser;

	c->svc = route_service(px->services, m->host >= 0 ? http_hdr_val(m, m->host) : NULL,
			       m->host >= 0 ? m->hdr[m->host].val_len : 0);
	if (!c->svc) {
		m->status = 503;
		m->why = "no service for this host";
		return -1;
	}
	c->http10 = p->http_minor == 0;
	c->head_only = p->method == HTTP_HEAD;
	c->upgrade_req = p->upgrade;
	c->close_after = !http_should_keep_alive(p) || px->stopping;
	c->req_done = 0;
	if (c->svc->paused_until) {
		/* maintenance: hold the request until resume (or --max runs out) */
		c->state = C_HELD;
		c->deadline = c->svc->paused_until + 1000;
		list_add(&c->svc->held, &c->held_link);
		http_parser_pause(p, 1);
		return 0;
	}
	if (dispatch(c) < 0)
		return -1;
	return 0;
}

void relay_release_held(struct proxy *px, struct service *svc)
{
	while (!list_empty(&svc->held)) {
		struct client *c = container_of(svc->held.next, struct client, held_link);
		list_del(&c->held_link);
		if (!alive(&c->h) || c->state != C_HELD)
			continue;
		if (dispatch(c) < 0) {
			exchange_fail(c, c->req.msg.status, c->req.msg.why);
			continue;
		}
		http_side_resume(&c->req);
		client_process(c);
		if (alive(&c->h))
			client_update(c);
	}
}

static int req_on_body(struct http_side *s, const char *at, size_t len)
{
	struct client *c = container_of(s, struct client, req);
	if (!c->up)
		return 0; /* the response already ended the exchange: discard */
	struct buf *out = &c->up->out;
	size_t before = out->len;
	int rc = s->msg.chunked ? http_write_chunk(out, at, len) : buf_add(out, at, len);
	replay_keep(c, out, before);
	return rc;
}

static int req_on_done(struct http_side *s)
{
	struct client *c = container_of(s, struct client, req);
	c->req_done = 1;
	if (c->up && s->msg.chunked) {
		size_t before = c->up->out.len;
		http_write_last_chunk(&c->up->out, &s->msg);
		replay_keep(c, &c->up->out, before);
	}
	/* the next request on this connection waits until this response is out */
	http_parser_pause(&s->parser, 1);
	if (c->state == C_EXCHANGE) {
		c->deadline = 0; /* now the upstream's timeout runs */
		if (c->up)
			c->up->deadline = c->px->loop.now + c->px->cfg.upstream_timeout_ms;
	}
	return 0;
}

int resp_on_head(struct http_side *s)
{
	struct upconn *u = container_of(s, struct upconn, resp);
	struct client *c = u->c;
	http_parser *p = &s->parser;
	int status = p->status_code;
	struct http_resp_opts o = { 0 };
	char cookie[160];

	if (!c)
		return -1;
	if (status == 101) {
		if (!c->upgrade_req) {
			s->msg.status = 502;
			s->msg.why = "101 to a request that did not ask to upgrade";
			return -1;
		}
		o.upgrade = 1;
		c->status = 101;
		http_write_response_head(&c->out, &s->msg, p, &o);
		c->resp_started = 1;
		return 0;
	}
	if (status < 200) {
		/* 100 Continue and friends go to the client as they are; the final answer follows */
		if (!c->http10)
			http_write_response_head(&c->out, &s->msg, p, &o);
		return 0;
	}
	int bodiless = c->head_only || status == 204 || status == 304;
	int until_eof = !bodiless && !s->msg.chunked && !s->msg.has_length;
	if (!c->req_done || c->upgrade_req)
		c->close_after = 1; /* early answer, or an upgrade refused: the rest of the stream is unknown */
	if (c->http10) {
		if (!bodiless && (s->msg.chunked || until_eof))
			c->close_after = 1; /* a 1.0 client learns the end from the close */
		else if (!c->close_after)
			o.keepalive10 = 1;
	} else {
		o.chunked = !bodiless && (s->msg.chunked || until_eof);
	}
	if (c->t && c->t->svc->sticky && c->set_cookie) {
		char name[96];
		route_cookie_name(name, sizeof(name), c->t->svc);
		snprintf(cookie, sizeof(cookie), "%s=%u; Path=/; HttpOnly; SameSite=Lax", name, c->t->gen);
		o.set_cookie = cookie;
	}
	o.close = c->close_after;
	c->resp_chunked = o.chunked;
	c->status = status;
	c->resp_started = 1;
	http_write_response_head(&c->out, &s->msg, p, &o);
	return bodiless && c->head_only ? 1 : 0;
}

int resp_on_body(struct http_side *s, const char *at, size_t len)
{
	struct upconn *u = container_of(s, struct upconn, resp);
	struct client *c = u->c;
	if (!c)
		return -1;
	if (c->resp_chunked)
		return http_write_chunk(&c->out, at, len);
	return buf_add(&c->out, at, len);
}

int resp_on_done(struct http_side *s)
{
	struct upconn *u = container_of(s, struct upconn, resp);
	struct client *c = u->c;
	int status = s->parser.status_code;
	if (!c)
		return -1;
	if (status == 101) {
		u->tunnel = 1;
		c->state = C_TUNNEL;
		c->deadline = 0;
		u->deadline = 0;
		http_side_resume(&c->req);
		return 0;
	}
	if (status < 200)
		return 0;
	if (c->resp_chunked)
		http_write_last_chunk(&c->out, &s->msg);
	u->resp_done = 1;
	http_parser_pause(&s->parser, 1);
	return 0;
}

void exchange_finish(struct client *c, struct upconn *u)
{
	int reusable = http_should_keep_alive(&u->resp.parser) && c->req_done &&
		       !out_pending(&u->out, u->out_off) && u->resp.parser.status_code >= 200;
	c->up = NULL;
	finish_request(c);
	pool_put(u, reusable);
	if (c->close_after || !c->req_done) {
		c->state = C_CLOSING;
		c->deadline = c->px->loop.now + c->px->cfg.send_timeout_ms;
		client_flush(c);
		return;
	}
	client_next(c);
	client_flush(c);
	if (alive(&c->h) && c->in_off < c->in_len)
		client_process(c);
}

/* ---- timers, drains, shutdown ---- */

static void client_timeout(struct client *c)
{
	switch (c->state) {
	case C_IDLE:
	case C_LINGER:
		client_close(c);
		break;
	case C_HEAD:
		exchange_fail(c, 408, "request head timed out");
		break;
	case C_HELD:
		/* the pause ran out of time while this request waited: serve it */
		list_del(&c->held_link);
		if (dispatch(c) < 0) {
			exchange_fail(c, c->req.msg.status, c->req.msg.why);
			break;
		}
		http_side_resume(&c->req);
		client_process(c);
		break;
	case C_EXCHANGE:
		/* the client stopped sending its body */
		exchange_fail(c, 408, "request body timed out");
		break;
	default:
		client_close(c);
		break;
	}
	if (alive(&c->h))
		client_update(c);
}

static void up_timeout(struct upconn *u)
{
	if (!u->c) {
		upconn_close(u);
		return;
	}
	exchange_fail(u->c, 504, u->connected ? "upstream timed out" : "upstream connect timed out");
}

void relay_sweep(struct proxy *px)
{
	int64_t now = px->loop.now;
	struct list *l, *next;
	for (l = px->clients.next; l != &px->clients; l = next) {
		struct client *c = container_of(l, struct client, link);
		next = l->next;
		if (c->deadline && now >= c->deadline)
			client_timeout(c);
	}
	for (struct service *s = px->services; s; s = s->next)
		for (struct target *t = s->targets; t; t = t->next) {
			for (l = t->busy.next; l != &t->busy; l = next) {
				struct upconn *u = container_of(l, struct upconn, link);
				next = l->next;
				if (u->deadline && now >= u->deadline && !(u->c && u->c->state == C_EXCHANGE &&
									     !u->c->req_done && u->connected))
					up_timeout(u);
			}
			for (l = t->idle.next; l != &t->idle; l = next) {
				struct upconn *u = container_of(l, struct upconn, link);
				next = l->next;
				if (u->deadline && now >= u->deadline)
					upconn_close(u);
			}
		}
}

int relay_cut_target(struct proxy *px, struct target *t, int tunnels_only)
{
	int n = 0;
	struct list *l, *next;
	for (l = t->busy.next; l != &t->busy; l = next) {
		struct upconn *u = container_of(l, struct upconn, link);
		next = l->next;
		if (tunnels_only && !u->tunnel)
			continue;
		n++;
		t->m.cut++;
		if (u->c) {
			u->c->cut = 1;
			exchange_fail(u->c, 503, "cut at the drain timeout");
		}
		if (alive(&u->h))
			upconn_close(u);
		/* closing may have taken others off the list: start over */
		next = t->busy.next;
	}
	return n;
}

/*
 * The proxy stops accepting (stop or handover). Every connection closes
 * after its current response, which says Connection: close when it has
 * not started yet; idle keep-alive connections get a short grace for a
 * request already on its way, then close.
 */
void relay_stopping(struct proxy *px)
{
	for (struct list *l = px->clients.next; l != &px->clients; l = l->next) {
		struct client *c = container_of(l, struct client, link);
		if (!c->resp_started)
			c->close_after = 1;
		if (c->state == C_IDLE && c->in_len == 0)
			c->deadline = px->loop.now + STOP_IDLE_GRACE_MS;
	}
}

void relay_free_graveyard(struct proxy *px)
{
	while (!list_empty(&px->graveyard)) {
		struct list *l = px->graveyard.next;
		list_del(l);
		client_free(container_of(l, struct client, link));
	}
	while (!list_empty(&px->up_graveyard)) {
		struct list *l = px->up_graveyard.next;
		list_del(l);
		upconn_free(container_of(l, struct upconn, link));
	}
}
