#ifndef CUTOVER_PROXY_HTTP_H
#define CUTOVER_PROXY_HTTP_H
#include "util/buf.h"
#include <http_parser.h>
#include <stdint.h>

/*
 * HTTP/1.1 message framing on top of http-parser: collecting the head
 * within hard limits, the checks that keep request smuggling out, and
 * writing the heads the proxy sends on. Pure logic: no sockets here, so
 * the unit tests drive it with byte strings.
 */

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HEAD 16384 /* request line + header names and values */

/* The header names the proxy acts on, recognised once per message. */
enum http_hdr_kind {
	HH_OTHER,
	HH_CONTENT_LENGTH,
	HH_TRANSFER_ENCODING,
	HH_CONNECTION,
	HH_UPGRADE,
	HH_HOST,
	HH_EXPECT,
	HH_X_FORWARDED_FOR,
	HH_X_FORWARDED_PROTO,
	HH_X_FORWARDED_HOST,
	HH_KEEP_ALIVE,
	HH_PROXY_CONNECTION,
	HH_TE,
	HH_TRAILER,
};

struct http_hdr {
	uint32_t name, name_len, val, val_len; /* offsets into http_msg.raw */
	uint8_t kind;                          /* enum http_hdr_kind */
	uint8_t hop;                           /* hop-by-hop: never forwarded */
};

struct http_msg {
	struct buf raw; /* url, then names and values; capped at HTTP_MAX_HEAD */
	uint32_t url_len;
	struct http_hdr hdr[HTTP_MAX_HEADERS];
	int nhdr;
	int head_nhdr;    /* fields of the head; hdr[head_nhdr..nhdr) are trailers */
	int in_value;     /* the last callback was a value (a new field starts a header) */
	int status;       /* 0, or the status to answer when the message is refused */
	const char *why;  /* and the reason, for the log */

	/* Filled in by the checks at the end of the head. */
	int host;           /* index of Host, -1 */
	int upgrade;        /* index of Upgrade, -1 */
	int chunked;        /* Transfer-Encoding: chunked */
	int has_length;     /* a Content-Length header */
	int conn_close;     /* Connection: close */
	int conn_keepalive; /* Connection: keep-alive (HTTP/1.0) */
	int conn_upgrade;   /* Connection: upgrade */
	int expect_continue;
};

void http_msg_init(struct http_msg *m);
void http_msg_reset(struct http_msg *m);
void http_msg_release(struct http_msg *m);

const char *http_msg_url(const struct http_msg *m);
/* Header `i`'s name and value; not NUL-terminated. */
static inline const char *http_hdr_name(const struct http_msg *m, int i)
{
	return m->raw.buf + m->hdr[i].name;
}
static inline const char *http_hdr_val(const struct http_msg *m, int i)
{
	return m->raw.buf + m->hdr[i].val;
}
/* Index of the first header called `name` (case-insensitive), or -1. */
int http_msg_find(const struct http_msg *m, const char *name);

/*
 * One side of a connection: the parser's data pointer is a struct
 * http_side, whose callbacks the relay fills in. on_head returns 0, or 1
 * when the message has no body whatever its headers say (a response to
 * HEAD), or -1 to stop; on_body and on_done return 0 or -1 to stop.
 */
struct http_side {
	http_parser parser;
	struct http_msg msg;
	int (*on_head)(struct http_side *s);
	int (*on_body)(struct http_side *s, const char *at, size_t len);
	int (*on_done)(struct http_side *s);
};
extern const http_parser_settings http_settings;
void http_side_init(struct http_side *s, enum http_parser_type type);

/*
 * Feed bytes. Returns the number consumed (stops early when a callback
 * paused the parser), or -1 when the message is malformed or refused;
 * then s->msg.status is the status to answer (400, 431, 501, 502) and
 * s->msg.why the reason.
 */
long http_side_feed(struct http_side *s, const char *data, size_t len);
/* Tell the parser the peer closed; returns 0 or -1 as above. */
int http_side_eof(struct http_side *s);
void http_side_resume(struct http_side *s);

/*
 * The checks at the end of a request head: one Content-Length at most and
 * only digits, never with Transfer-Encoding, Transfer-Encoding exactly
 * "chunked", one Host at most, HTTP/1.1 needs Host. Returns 0 or the
 * status to answer (400 or 501), with m->why set.
 */
int http_check_request(struct http_msg *m, const http_parser *p);
/* The same framing checks for a response head (any failure is a 502). */
int http_check_response(struct http_msg *m, const http_parser *p);

/* 1 when header `i` must not be forwarded: hop-by-hop or named in Connection. */
int http_is_hop_by_hop(const struct http_msg *m, int i);

struct http_fwd {
	const char *client_ip;
	const char *proto; /* "http" */
	int chunked;       /* body goes on chunked */
	int upgrade;       /* pass Upgrade on */
};
/* The request head sent upstream: always HTTP/1.1, hop-by-hop headers
 * dropped, X-Forwarded-For appended to, -Proto and -Host set. */
int http_write_request_head(struct buf *out, const struct http_msg *m, const http_parser *p,
			    const struct http_fwd *f);

struct http_resp_opts {
	int chunked;     /* body goes to the client chunked */
	int close;       /* Connection: close */
	int keepalive10; /* Connection: keep-alive for an HTTP/1.0 client */
	int upgrade;     /* 101: pass Connection/Upgrade */
	const char *set_cookie; /* extra Set-Cookie value, or NULL */
};
int http_write_response_head(struct buf *out, const struct http_msg *m, const http_parser *p,
			     const struct http_resp_opts *o);

/* A complete small response the proxy makes itself (errors, admin). */
int http_write_simple(struct buf *out, int status, int close, const char *ctype, const char *body);
const char *http_reason(int status);

/* Append one chunk of a chunked body, or the last chunk when len is 0. */
int http_write_chunk(struct buf *out, const char *data, size_t len);
/*
 * The last chunk of m's body, with m's trailer fields: those that are
 * well-formed and are not about framing or routing (Content-Length,
 * Transfer-Encoding, Host, hop-by-hop ... are never taken from a trailer).
 */
int http_write_last_chunk(struct buf *out, struct http_msg *m);

/*
 * navigation.c: 1 when a request starts a page view: Sec-Fetch-Dest:
 * document, else Sec-Fetch-Mode: navigate, else (a client that sends
 * neither) a GET whose Accept prefers HTML; never a prefetch.
 */
int http_is_navigation(const struct http_msg *m, const http_parser *p);
/* 1 when an Accept value names text/html (or XHTML) with the highest q. */
int http_accept_prefers_html(const char *v, size_t n);

/* The value of cookie `name` in a Cookie header value, or NULL; *len set. */
const char *http_cookie_find(const char *hdr, size_t hdr_len, const char *name, size_t *len);

#endif
