#ifndef CUTOVER_PROXY_CONN_H
#define CUTOVER_PROXY_CONN_H
#include "proxy/proxy.h"
#include "proxy/http.h"
#include <arpa/inet.h>

/*
 * Private to the relay (relay.c: clients and the exchange between a
 * client and an upstream; pool.c: upstream connections and their pools).
 */

#define IN_CAP 16384
#define HIGH_WATER 65536
/* A request up to this size (head and body as sent) can be sent again once. */
#define REPLAY_CAP 65536
/* A pooled connection idle this long is checked before it is reused. */
#define POOL_PROBE_IDLE_MS 1000
#define LINGER_MS 2000
#define STOP_IDLE_GRACE_MS 1000

enum cstate {
	C_IDLE,     /* between requests */
	C_HEAD,     /* reading a request head */
	C_HELD,     /* head read, service paused */
	C_EXCHANGE, /* request routed: body up, response down */
	C_TUNNEL,   /* after 101: bytes both ways */
	C_CLOSING,  /* flushing the last response, then lingering close */
	C_LINGER,   /* write side shut; discarding input briefly so the peer sees our response */
};

struct upconn;

struct client {
	struct ev_handler h;
	struct proxy *px;
	struct list link;      /* px->clients, or px->graveyard once closed */
	struct list held_link; /* svc->held while paused */
	enum cstate state;
	struct http_side req;
	char *in;
	size_t in_off, in_len;
	struct buf out;
	size_t out_off;
	char ip[INET6_ADDRSTRLEN];
	struct upconn *up;
	struct service *svc;
	struct target *t;
	int counted;       /* t->inflight was raised for this request */
	int req_done;      /* whole request read */
	int resp_started;  /* response head sent (or queued) */
	int resp_chunked;  /* body goes to the client chunked */
	int close_after;   /* close once this response is out */
	int head_only;     /* HEAD request */
	int http10;
	int upgrade_req;
	int set_cookie;
	int retried;
	int cut;           /* cut at a drain limit: counted as cut, not by its status */
	int status;
	int64_t t_start;
	int64_t deadline;
	/*
	 * The request as sent upstream (head and body), kept while it is
	 * idempotent and at most REPLAY_CAP: sent once more on a fresh
	 * connection when a pooled one turns out closed before any answer.
	 */
	struct buf replay;
	int replayable;
};

struct upconn {
	struct ev_handler h;
	struct proxy *px;
	struct list link; /* t->idle, t->busy, or px->graveyard */
	struct target *t;
	struct client *c;
	struct http_side resp;
	char *in;
	size_t in_len;
	struct buf out;
	size_t out_off;
	int connected;
	int reused;
	int got_bytes;   /* a response byte arrived for the current request */
	int resp_done;
	int tunnel;
	int idle; /* in t->idle */
	int64_t idle_since;
	int64_t deadline;
};

static inline int alive(const struct ev_handler *h)
{
	return h->fn != NULL; /* closed handlers wait in a graveyard with fn NULL */
}

static inline size_t out_pending(const struct buf *b, size_t off)
{
	return b->len - off;
}

/* relay.c */
void client_process(struct client *c);
void client_update(struct client *c);
int client_flush(struct client *c);
void exchange_fail(struct client *c, int status, const char *why);
void exchange_finish(struct client *c, struct upconn *u);
int resp_on_head(struct http_side *s);
int resp_on_body(struct http_side *s, const char *at, size_t len);
int resp_on_done(struct http_side *s);

/* pool.c */
/* A new connection to t (connect in progress or done), or NULL with errno
 * set (limits_fd_shortage(errno): the proxy is out of descriptors). */
struct upconn *pool_connect(struct proxy *px, struct target *t);
/* A pooled idle connection (newest first), else a new one. */
struct upconn *pool_get(struct proxy *px, struct target *t);
/* Back to t's pool when reusable and t still routed to, else closed. */
void pool_put(struct upconn *u, int reusable);
/* Send the client's saved head again on a fresh connection: 0 or -1. */
int pool_retry_fresh(struct client *c);
void upconn_close(struct upconn *u);
void upconn_free(struct upconn *u);
int upconn_flush(struct upconn *u);
void upconn_update(struct upconn *u);
void upconn_eof(struct upconn *u, int err);

#endif
