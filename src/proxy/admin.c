/*
 * The admin API: HTTP/1.1 over a unix socket, so that curl works too
 * (curl --unix-socket PATH http://x/metrics). Every answer closes the
 * connection. Deploys and rollbacks stream one line per step and end
 * with "exit: N", the status the command line exits with.
 */
#include "proxy/params.h"
#include "proxy/http.h"
#include "proxy/handover.h"
#include "util/error.h"
#include "util/opts.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ADMIN_IN_MAX 8192

struct admin_conn {
	struct ev_handler h;
	struct proxy *px;
	struct list link; /* px->admins */
	struct http_side req;
	char in[ADMIN_IN_MAX];
	size_t in_len;
	struct buf out;
	size_t out_off;
	int streaming;
	int done; /* close once the output is written */
	struct op *op;
	int64_t deadline;
};

static void admin_close(struct admin_conn *a)
{
	if (a->op)
		op_detach(a->op);
	if (a->px->handover_admin == a)
		a->px->handover_admin = NULL;
	ev_del(&a->px->loop, &a->h);
	close(a->h.fd);
	list_del(&a->link);
	http_msg_release(&a->req.msg);
	buf_release(&a->out);
	free(a);
}

/* Write what we can; returns -1 when the connection was closed. */
static int admin_flush(struct admin_conn *a)
{
	while (a->out_off < a->out.len) {
		ssize_t n = io_write(a->h.fd, a->out.buf + a->out_off, a->out.len - a->out_off);
		if (n == IO_AGAIN)
			break;
		if (n < 0) {
			admin_close(a);
			return -1;
		}
		a->out_off += (size_t)n;
	}
	if (a->out_off == a->out.len) {
		buf_reset(&a->out);
		a->out_off = 0;
		if (a->done) {
			admin_close(a);
			return -1;
		}
	}
	ev_set(&a->px->loop, &a->h, a->out.len ? EV_WRITE | EV_READ : EV_READ);
	return 0;
}

void admin_say(struct admin_conn *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&a->out, fmt, ap);
	va_end(ap);
	buf_addch(&a->out, '\n');
	/* written from the loop, so that no caller sees the connection freed under it */
	ev_set(&a->px->loop, &a->h, EV_WRITE | EV_READ);
}

void admin_end(struct admin_conn *a, int exit_code)
{
	a->op = NULL;
	buf_addf(&a->out, "exit: %d\n", exit_code);
	a->done = 1;
	ev_set(&a->px->loop, &a->h, EV_WRITE | EV_READ);
}

static void reply(struct admin_conn *a, int status, const char *ctype, const char *body)
{
	http_write_simple(&a->out, status, 1, ctype, body);
	a->done = 1;
}

static void reply_error(struct admin_conn *a, int status, const char *why)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "error: %s\nexit: %d\n", why, status == 409 ? 3 : status == 400 ? 2 : 1);
	reply(a, status, "text/plain", b.buf);
	buf_release(&b);
}

static void handle_op(struct admin_conn *a, const char *url, int rollback)
{
	struct op_query q;
	char why[400];
	int status;

	if (op_query_parse(&q, url, rollback, why, sizeof(why)) < 0) {
		op_query_release(&q);
		return reply_error(a, 400, why);
	}
	buf_addstr(&a->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
	a->streaming = 1;
	status = op_start(a->px, &q.p, a, why, sizeof(why));
	op_query_release(&q);
	if (status) {
		buf_reset(&a->out);
		a->streaming = 0;
		return reply_error(a, status, why);
	}
	/* unless it finished already (admin_end), the op reports to us until it ends */
	if (!a->done) {
		struct service *svc = service_find(a->px->services, q.service);
		a->op = svc ? svc->op : NULL;
	}
}

static void handle_status(struct admin_conn *a, const char *url)
{
	static const char *const keys[] = { "service", "format", NULL };
	struct service *only = NULL;
	char service[256], format[16], why[400];
	struct buf b = BUF_INIT;
	int r;

	if (params_check_keys(url, keys, why, sizeof(why)) < 0)
		return reply_error(a, 400, why);
	if (admin_query_get(url, "service", service, sizeof(service))) {
		if (params_service(url, service, sizeof(service), why, sizeof(why)) < 0)
			return reply_error(a, 400, why);
		if (!(only = service_find(a->px->services, service))) {
			snprintf(why, sizeof(why), "no service '%s'", service);
			return reply_error(a, 404, why);
		}
	}
	r = admin_query_get(url, "format", format, sizeof(format));
	if (r && (r < 0 || (strcmp(format, "json") && strcmp(format, "text"))))
		return reply_error(a, 400, "'format' must be 'json' or 'text'");
	if (r > 0 && !strcmp(format, "json"))
		metrics_status_json(&b, a->px, only);
	else
		metrics_status_text(&b, a->px, only);
	reply(a, 200, r > 0 && !strcmp(format, "json") ? "application/json" : "text/plain", b.buf);
	buf_release(&b);
}

static void handle_pause(struct admin_conn *a, const char *url, int pause)
{
	static const char *const pause_keys[] = { "service", "max", NULL }, *const resume_keys[] = { "service", NULL };
	char service[256], why[400];
	struct buf b = BUF_INIT;
	long max = 0;
	int status;

	if (params_check_keys(url, pause ? pause_keys : resume_keys, why, sizeof(why)) < 0 ||
	    params_service(url, service, sizeof(service), why, sizeof(why)) < 0 ||
	    (pause && params_duration(url, "max", 1, 3600000, 30000, &max, why, sizeof(why)) < 0))
		return reply_error(a, 400, why);
	if (pause) {
		status = op_pause(a->px, service, max, why, sizeof(why));
		buf_addf(&b, "paused '%s': new requests wait (at most %.1fs)\nexit: 0\n", service, (double)max / 1000);
	} else {
		status = op_resume(a->px, service, why, sizeof(why));
		buf_addf(&b, "resumed '%s'\nexit: 0\n", service);
	}
	if (status)
		reply_error(a, status, why);
	else
		reply(a, 200, "text/plain", b.buf);
	buf_release(&b);
}

static void handle(struct admin_conn *a)
{
	struct http_msg *m = &a->req.msg;
	const char *url = http_msg_url(m);
	int method = a->req.parser.method;
	size_t plen = strcspn(url, "?");
	char path[64], why[300];

	if (plen >= sizeof(path))
		return reply_error(a, 404, "no such endpoint");
	memcpy(path, url, plen);
	path[plen] = 0;

	if (!strcmp(path, "/metrics") && method == HTTP_GET) {
		struct buf b = BUF_INIT;
		metrics_prometheus(&b, a->px);
		reply(a, 200, "text/plain; version=0.0.4", b.buf);
		buf_release(&b);
	} else if (!strcmp(path, "/status") && method == HTTP_GET) {
		handle_status(a, url);
	} else if ((!strcmp(path, "/deploy") || !strcmp(path, "/rollback")) && method == HTTP_POST) {
		handle_op(a, url, !strcmp(path, "/rollback"));
	} else if ((!strcmp(path, "/pause") || !strcmp(path, "/resume")) && method == HTTP_POST) {
		handle_pause(a, url, !strcmp(path, "/pause"));
	} else if (!strcmp(path, "/upgrade") && method == HTTP_POST) {
		buf_addstr(&a->out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
		a->streaming = 1;
		if (handover_start(a->px, a, why, sizeof(why)) < 0) {
			buf_reset(&a->out);
			a->streaming = 0;
			reply_error(a, 409, why);
		}
	} else {
		reply_error(a, 404, "no such endpoint");
	}
}

static int admin_on_done(struct http_side *s)
{
	http_parser_pause(&s->parser, 1);
	return 0;
}

static void admin_ev(struct ev_handler *h, int events)
{
	struct admin_conn *a = container_of(h, struct admin_conn, h);
	if (events & (EV_READ | EV_ERROR)) {
		if (a->streaming || a->done) {
			/* the request is answered; a read here is the client leaving */
			char junk[256];
			ssize_t n = io_read(h->fd, junk, sizeof(junk));
			if (n == 0 || n == IO_ERROR) {
				admin_close(a);
				return;
			}
		} else {
			ssize_t n = io_read(h->fd, a->in + a->in_len, sizeof(a->in) - a->in_len);
			if (n == 0 || n == IO_ERROR) {
				admin_close(a);
				return;
			}
			if (n > 0) {
				long used = http_side_feed(&a->req, a->in + a->in_len, (size_t)n);
				a->in_len += (size_t)n;
				if (used < 0)
					reply_error(a, a->req.msg.status ? a->req.msg.status : 400,
						    a->req.msg.why ? a->req.msg.why : "bad request");
				else if (HTTP_PARSER_ERRNO(&a->req.parser) == HPE_PAUSED)
					handle(a);
				else if (a->in_len == sizeof(a->in))
					reply_error(a, 431, "request too large");
			}
		}
	}
	admin_flush(a);
}

static void admin_accept(struct ev_handler *h, int events)
{
	struct proxy *px = container_of(h, struct proxy, admin);
	for (int i = 0; i < 16; i++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			/* out of descriptors: the socket stays readable; pause instead of spinning */
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				proxy_fd_shortage(px, &px->admin_log, "cannot accept admin connections", errno, "trying again every 100ms");
				px->admin_resume = px->loop.now + ACCEPT_BACKOFF_MS;
				admin_accept_update(px);
			}
			return;
		}
		struct admin_conn *a = xcalloc(1, sizeof(*a));
		a->px = px;
		a->h.fn = admin_ev;
		a->h.fd = fd;
		a->h.mask = -1;
		buf_init(&a->out, 0);
		http_side_init(&a->req, HTTP_REQUEST);
		a->req.on_done = admin_on_done;
		list_add(&px->admins, &a->link);
		if (ev_set(&px->loop, &a->h, EV_READ) < 0)
			admin_close(a);
	}
}

static const char *file_kind(mode_t mode)
{
	return S_ISREG(mode) ? "a regular file" : S_ISDIR(mode) ? "a directory" : S_ISLNK(mode) ? "a symbolic link"
	     : S_ISFIFO(mode) ? "a FIFO" : "a device";
}

/*
 * Make room for the admin socket at `path`: there is nothing there, or a
 * socket that a proxy that died left behind (nothing accepts on it), which
 * is removed. Anything else stays: -CUT_USAGE when it is not a socket at
 * all (the option names the wrong path), -1 when a proxy answers on it or
 * it cannot be told (reported).
 */
static int admin_take_path(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int probe, rc, err;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error_errno("cannot check admin socket path '%s'", path);
	if (!S_ISSOCK(st.st_mode)) {
		error("admin socket path '%s' is %s, not a socket: refusing to replace it", path, file_kind(st.st_mode));
		return -CUT_USAGE;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return error_errno("cannot check admin socket '%s'", path);
	rc = connect(probe, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(probe);
	if (rc == 0)
		return error("another proxy answers on admin socket '%s': stop it or give another --admin path", path);
	if (err != ECONNREFUSED)
		return error("cannot tell whether a proxy uses admin socket '%s': %s", path, strerror(err));
	if (unlink(path) < 0 && errno != ENOENT)
		return error_errno("cannot remove the stale admin socket '%s'", path);
	return 0;
}

int admin_listen(struct proxy *px, const char *path, int inherited_fd)
{
	int fd = inherited_fd;
	if (fd < 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int rc;
		if (strlen(path) >= sizeof(sun.sun_path))
			return error("admin socket path '%s' is too long", path);
		memcpy(sun.sun_path, path, strlen(path) + 1);
		if ((rc = admin_take_path(path, &sun)) < 0)
			return rc;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return error_errno("cannot create admin socket");
		mode_t old = umask(0117);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			umask(old);
			close(fd);
			return error_errno("cannot bind admin socket '%s'", path);
		}
		umask(old);
		if (listen(fd, 64) < 0) {
			close(fd);
			return error_errno("cannot listen on '%s'", path);
		}
		px->admin_owned = 1;
	}
	px->admin.fd = fd;
	px->admin.fn = admin_accept;
	px->admin.mask = -1;
	px->admin_path = xstrdup(path);
	return ev_set(&px->loop, &px->admin, EV_READ);
}

void admin_accept_update(struct proxy *px)
{
	if (px->admin.fd >= 0 && px->admin.mask >= 0)
		ev_set(&px->loop, &px->admin, px->loop.now >= px->admin_resume ? EV_READ : 0);
}

void admin_close_listener(struct proxy *px)
{
	if (px->admin.fd < 0)
		return;
	ev_del(&px->loop, &px->admin);
	close(px->admin.fd);
	px->admin.fd = -1;
}
