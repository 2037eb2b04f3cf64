#include "proxy/health.h"
#include "proxy/http.h"
#include "util/error.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define HEALTH_EVERY_MS 5000 /* periodic check of current targets, for status and metrics */

struct health_check {
	struct ev_handler h;
	struct proxy *px;
	struct list link; /* px->checks */
	struct target *t;
	char *path;
	int64_t deadline;
	int connected;
	int finished; /* result known, callback due */
	int ok;
	char why[160];
	struct buf out;
	size_t out_off;
	struct http_side resp;
	int got_head;
	health_done_fn *done;
	void *arg;
};

static void hc_free(struct health_check *hc)
{
	if (hc->h.fd >= 0) {
		ev_del(&hc->px->loop, &hc->h);
		close(hc->h.fd);
	}
	list_del(&hc->link);
	http_msg_release(&hc->resp.msg);
	buf_release(&hc->out);
	free(hc->path);
	free(hc);
}

/* Record the result; the callback runs from health_sweep or right after the event. */
static void hc_finish(struct health_check *hc, int ok, const char *why)
{
	if (hc->finished)
		return;
	hc->finished = 1;
	hc->ok = ok;
	snprintf(hc->why, sizeof(hc->why), "%s", why ? why : "");
	if (hc->h.fd >= 0) {
		ev_del(&hc->px->loop, &hc->h);
		close(hc->h.fd);
		hc->h.fd = -1;
	}
	hc->h.fn = NULL;
}

static void hc_deliver(struct health_check *hc)
{
	health_done_fn *done = hc->done;
	void *arg = hc->arg;
	int ok = hc->ok;
	char why[160];
	hc->t->health = ok;
	memcpy(why, hc->why, sizeof(why));
	hc_free(hc);
	if (done)
		done(arg, ok, why);
}

static int hc_on_head(struct http_side *s)
{
	struct health_check *hc = container_of(s, struct health_check, resp);
	int st = s->parser.status_code;
	char why[96];
	hc->got_head = 1;
	if (st >= 200 && st < 400) {
		snprintf(why, sizeof(why), "GET %s answered %d", hc->path, st);
		hc_finish(hc, 1, why);
	} else {
		snprintf(why, sizeof(why), "GET %s answered %d", hc->path, st);
		hc_finish(hc, 0, why);
	}
	return -1; /* the status is all we need */
}

static void hc_ev(struct ev_handler *h, int events)
{
	struct health_check *hc = container_of(h, struct health_check, h);
	char why[160];
	if (!hc->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			snprintf(why, sizeof(why), "cannot connect to '%s': %s", hc->t->addr, strerror(err));
			hc_finish(hc, 0, why);
			goto out;
		}
		hc->connected = 1;
		if (!hc->path) {
			hc_finish(hc, 1, "accepts connections");
			goto out;
		}
	}
	if (hc->out_off < hc->out.len) {
		ssize_t n = io_write(h->fd, hc->out.buf + hc->out_off, hc->out.len - hc->out_off);
		if (n == IO_ERROR) {
			snprintf(why, sizeof(why), "cannot send to '%s': %s", hc->t->addr, strerror(errno));
			hc_finish(hc, 0, why);
			goto out;
		}
		if (n > 0)
			hc->out_off += (size_t)n;
	}
	if (events & (EV_READ | EV_ERROR)) {
		char in[4096];
		ssize_t n = io_read(h->fd, in, sizeof(in));
		if (n == 0 || n == IO_ERROR) {
			snprintf(why, sizeof(why), "'%s' closed the connection without an answer", hc->t->addr);
			hc_finish(hc, 0, why);
			goto out;
		}
		if (n > 0 && http_side_feed(&hc->resp, in, (size_t)n) < 0 && !hc->finished) {
			snprintf(why, sizeof(why), "malformed answer from '%s'", hc->t->addr);
			hc_finish(hc, 0, why);
		}
	}
	if (!hc->finished)
		ev_set(&hc->px->loop, h, hc->out_off < hc->out.len ? EV_WRITE | EV_READ : EV_READ);
out:
	if (hc->finished)
		hc_deliver(hc);
}

struct health_check *health_start(struct proxy *px, struct target *t, const char *path, long timeout_ms,
				  health_done_fn *done, void *arg)
{
	struct health_check *hc = xcalloc(1, sizeof(*hc));
	char why[160];
	hc->px = px;
	hc->t = t;
	hc->path = path ? xstrdup(path) : NULL;
	hc->done = done;
	hc->arg = arg;
	hc->deadline = px->loop.now + timeout_ms;
	hc->h.fn = hc_ev;
	hc->h.mask = -1;
	buf_init(&hc->out, 0);
	http_side_init(&hc->resp, HTTP_RESPONSE);
	hc->resp.on_head = hc_on_head;
	list_add(&px->checks, &hc->link);
	if (path)
		buf_addf(&hc->out, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cutover-check\r\nConnection: close\r\n\r\n",
			 path, t->addr);
	hc->h.fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (hc->h.fd < 0) {
		snprintf(why, sizeof(why), "cannot create a socket: %s", strerror(errno));
		hc_finish(hc, 0, why);
		return hc;
	}
	if (connect(hc->h.fd, (struct sockaddr *)&t->sa, t->salen) < 0 && errno != EINPROGRESS) {
		snprintf(why, sizeof(why), "cannot connect to '%s': %s", t->addr, strerror(errno));
		hc_finish(hc, 0, why);
		return hc;
	}
	if (ev_set(&px->loop, &hc->h, EV_WRITE | EV_READ) < 0)
		hc_finish(hc, 0, "cannot watch the check's socket");
	return hc;
}

void health_cancel(struct health_check *hc)
{
	hc_free(hc);
}

static void periodic_done(void *arg, int ok, const char *why)
{
	struct target *t = arg;
	t->hc_running = 0;
}

void health_sweep(struct proxy *px)
{
	int64_t now = px->loop.now;
	struct list *l, *next;
	for (l = px->checks.next; l != &px->checks; l = next) {
		struct health_check *hc = container_of(l, struct health_check, link);
		next = l->next;
		if (!hc->finished && now >= hc->deadline) {
			char why[160];
			snprintf(why, sizeof(why), "no answer from '%s' within the timeout", hc->t->addr);
			hc_finish(hc, 0, why);
		}
		if (hc->finished) {
			hc_deliver(hc);
			next = px->checks.next; /* the callback may have started or cancelled checks */
		}
	}
	for (struct service *s = px->services; s; s = s->next) {
		struct target *t = s->cur;
		if (!t || !s->health_path || s->op || t->hc_running || now < t->hc_next)
			continue;
		t->hc_running = 1;
		t->hc_next = now + HEALTH_EVERY_MS;
		health_start(px, t, s->health_path, 2000, periodic_done, t);
	}
}
