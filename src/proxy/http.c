#include "proxy/http.h"
#include "util/error.h"
#include <ctype.h>
#include <strings.h>

void http_msg_init(struct http_msg *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->raw, HTTP_MAX_HEAD);
	http_msg_reset(m);
}

void http_msg_reset(struct http_msg *m)
{
	buf_reset(&m->raw);
	m->url_len = 0;
	m->nhdr = m->head_nhdr = 0;
	m->in_value = 0;
	m->status = 0;
	m->why = NULL;
	m->host = m->upgrade = -1;
	m->chunked = m->has_length = 0;
	m->conn_close = m->conn_keepalive = m->conn_upgrade = 0;
	m->expect_continue = 0;
}

void http_msg_release(struct http_msg *m)
{
	buf_release(&m->raw);
}

const char *http_msg_url(const struct http_msg *m)
{
	return m->raw.buf;
}

static int name_is(const struct http_msg *m, int i, const char *name)
{
	size_t n = strlen(name);
	return m->hdr[i].name_len == n && !strncasecmp(http_hdr_name(m, i), name, n);
}

int http_msg_find(const struct http_msg *m, const char *name)
{
	for (int i = 0; i < m->nhdr; i++)
		if (name_is(m, i, name))
			return i;
	return -1;
}

static int refuse(struct http_msg *m, int status, const char *why)
{
	if (!m->status) {
		m->status = status;
		m->why = why;
	}
	return -1;
}

/* The same, for checks that return the status. */
static int fail(struct http_msg *m, int status, const char *why)
{
	refuse(m, status, why);
	return m->status;
}

/* http-parser callbacks: parser->data is the struct http_side. */

static int cb_begin(http_parser *p)
{
	struct http_side *s = p->data;
	http_msg_reset(&s->msg);
	return 0;
}

static int cb_url(http_parser *p, const char *at, size_t len)
{
	struct http_side *s = p->data;
	if (buf_add(&s->msg.raw, at, len) < 0)
		return refuse(&s->msg, 414, "request target too long");
	s->msg.url_len += (uint32_t)len;
	return 0;
}

static int cb_field(http_parser *p, const char *at, size_t len)
{
	struct http_msg *m = &((struct http_side *)p->data)->msg;
	if (m->in_value || m->nhdr == 0) {
		if (m->nhdr == HTTP_MAX_HEADERS)
			return refuse(m, 431, "too many header fields");
		/* a NUL between items keeps the url and values usable as C strings */
		if (buf_addch(&m->raw, 0) < 0)
			return refuse(m, 431, "header section too large");
		m->hdr[m->nhdr].name = (uint32_t)m->raw.len;
		m->hdr[m->nhdr].name_len = 0;
		m->hdr[m->nhdr].val = (uint32_t)m->raw.len;
		m->hdr[m->nhdr].val_len = 0;
		m->nhdr++;
		m->in_value = 0;
	}
	if (buf_add(&m->raw, at, len) < 0)
		return refuse(m, 431, "header section too large");
	m->hdr[m->nhdr - 1].name_len += (uint32_t)len;
	return 0;
}

static int cb_value(http_parser *p, const char *at, size_t len)
{
	struct http_msg *m = &((struct http_side *)p->data)->msg;
	if (!m->nhdr)
		return refuse(m, 400, "header value without a name");
	if (!m->in_value) {
		if (buf_addch(&m->raw, 0) < 0)
			return refuse(m, 431, "header section too large");
		m->hdr[m->nhdr - 1].val = (uint32_t)m->raw.len;
		m->hdr[m->nhdr - 1].val_len = 0;
		m->in_value = 1;
	}
	if (buf_add(&m->raw, at, len) < 0)
		return refuse(m, 431, "header section too large");
	m->hdr[m->nhdr - 1].val_len += (uint32_t)len;
	return 0;
}

static int cb_headers_complete(http_parser *p)
{
	struct http_side *s = p->data;
	int bad;
	/* terminate the last value so that every item is a C string */
	if (buf_addch(&s->msg.raw, 0) < 0)
		return refuse(&s->msg, 431, "header section too large");
	s->msg.head_nhdr = s->msg.nhdr;
	if (p->type == HTTP_REQUEST)
		bad = http_check_request(&s->msg, p);
	else
		bad = http_check_response(&s->msg, p);
	if (bad)
		return -1;
	return s->on_head ? s->on_head(s) : 0;
}

static int cb_body(http_parser *p, const char *at, size_t len)
{
	struct http_side *s = p->data;
	return s->on_body ? s->on_body(s, at, len) : 0;
}

static int cb_done(http_parser *p)
{
	struct http_side *s = p->data;
	/* terminate the last trailer value too */
	if (s->msg.nhdr > s->msg.head_nhdr && buf_addch(&s->msg.raw, 0) < 0)
		return refuse(&s->msg, 431, "trailer section too large");
	return s->on_done ? s->on_done(s) : 0;
}

const http_parser_settings http_settings = {
	.on_message_begin = cb_begin,
	.on_url = cb_url,
	.on_header_field = cb_field,
	.on_header_value = cb_value,
	.on_headers_complete = cb_headers_complete,
	.on_body = cb_body,
	.on_message_complete = cb_done,
};

void http_side_init(struct http_side *s, enum http_parser_type type)
{
	http_parser_init(&s->parser, type);
	s->parser.data = s;
	http_msg_init(&s->msg);
	if (type == HTTP_REQUEST)
		s->msg.url_len = 0;
}

static int parser_failed(struct http_side *s)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
	int status = s->parser.type == HTTP_REQUEST ? 400 : 502;
	if (e == HPE_HEADER_OVERFLOW && s->parser.type == HTTP_REQUEST)
		status = 431;
	refuse(&s->msg, status, http_errno_description(e));
	return -1;
}

long http_side_feed(struct http_side *s, const char *data, size_t len)
{
	size_t n = http_parser_execute(&s->parser, &http_settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
	if (e == HPE_OK || e == HPE_PAUSED)
		return (long)n;
	return parser_failed(s);
}

int http_side_eof(struct http_side *s)
{
	http_parser_execute(&s->parser, &http_settings, NULL, 0);
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
	if (e == HPE_OK || e == HPE_PAUSED)
		return 0;
	return parser_failed(s);
}

void http_side_resume(struct http_side *s)
{
	http_parser_pause(&s->parser, 0);
}

/* The value with optional whitespace trimmed on both sides. */
static void trimmed(const struct http_msg *m, int i, const char **v, size_t *len)
{
	const char *s = http_hdr_val(m, i);
	size_t n = m->hdr[i].val_len;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*v = s;
	*len = n;
}

static int token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(s, word, n);
}

/* Ordered by name length: classify() stops at the first longer name. */
#define KNOWN(name, kind, hop) { name, sizeof(name) - 1, kind, hop }
static const struct {
	const char *name;
	uint32_t len;
	enum http_hdr_kind kind;
	int hop;
} known_headers[] = {
	KNOWN("te", HH_TE, 1),
	KNOWN("host", HH_HOST, 0),
	KNOWN("expect", HH_EXPECT, 0),
	KNOWN("upgrade", HH_UPGRADE, 1),
	KNOWN("trailer", HH_TRAILER, 1),
	KNOWN("connection", HH_CONNECTION, 1),
	KNOWN("keep-alive", HH_KEEP_ALIVE, 1),
	KNOWN("content-length", HH_CONTENT_LENGTH, 0),
	KNOWN("x-forwarded-for", HH_X_FORWARDED_FOR, 0),
	KNOWN("proxy-connection", HH_PROXY_CONNECTION, 1),
	KNOWN("x-forwarded-host", HH_X_FORWARDED_HOST, 0),
	KNOWN("transfer-encoding", HH_TRANSFER_ENCODING, 1),
	KNOWN("x-forwarded-proto", HH_X_FORWARDED_PROTO, 0),
};
#undef KNOWN

/* Recognise header i's name. */
static void classify(struct http_msg *m, int i)
{
	struct http_hdr *h = &m->hdr[i];
	h->kind = HH_OTHER;
	h->hop = 0;
	for (size_t k = 0; k < ARRAY_SIZE(known_headers) && known_headers[k].len <= h->name_len; k++) {
		if (known_headers[k].len == h->name_len &&
		    !strncasecmp(http_hdr_name(m, i), known_headers[k].name, h->name_len)) {
			h->kind = (uint8_t)known_headers[k].kind;
			h->hop = (uint8_t)known_headers[k].hop;
			return;
		}
	}
}

/* Call fn for each comma-separated token of header i, trimmed. */
static void each_token(const struct http_msg *m, int i, void (*fn)(struct http_msg *, const char *, size_t),
		       struct http_msg *arg)
{
	const char *v = http_hdr_val(m, i), *end = v + m->hdr[i].val_len;
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *e = comma ? comma : end;
		const char *a = v, *b = e;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a)
			fn(arg, a, (size_t)(b - a));
		v = comma ? comma + 1 : end;
	}
}

static int valid_host(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr(".-_:[]", c))
			return 0;
	}
	return 1;
}

/* RFC 9110 token characters: anything else in a name (a space before the
 * colon, say) is how one server's header becomes another's body. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int valid_token(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* No control characters but tab in header i's value. */
static int value_clean(const struct http_msg *m, int i)
{
	const unsigned char *v = (const unsigned char *)http_hdr_val(m, i);
	for (size_t k = 0; k < m->hdr[i].val_len; k++)
		if ((v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f)
			return 0;
	return 1;
}

/*
 * Framing and routing fields the proxy keeps whatever Connection says:
 * dropping Content-Length (or Host) while the body still goes on is how
 * one request becomes two on a pooled upstream connection. Transfer-
 * Encoding is never passed on as received; the proxy writes its own.
 */
static int never_connection_listed(enum http_hdr_kind kind)
{
	return kind == HH_CONTENT_LENGTH || kind == HH_TRANSFER_ENCODING || kind == HH_HOST;
}

/*
 * Names listed in Connection are hop-by-hop for this message too
 * (RFC 9110 7.6.1): mark every header so named, but for the framing and
 * routing fields above.
 */
static void mark_connection_listed(struct http_msg *m, const char *t, size_t n)
{
	for (int i = 0; i < m->nhdr; i++)
		if (m->hdr[i].name_len == n && !strncasecmp(http_hdr_name(m, i), t, n) &&
		    !never_connection_listed(m->hdr[i].kind))
			m->hdr[i].hop = 1;
}

static void connection_token(struct http_msg *m, const char *t, size_t n)
{
	if (token_is(t, n, "close"))
		m->conn_close = 1;
	else if (token_is(t, n, "keep-alive"))
		m->conn_keepalive = 1;
	else if (token_is(t, n, "upgrade"))
		m->conn_upgrade = 1;
	mark_connection_listed(m, t, n);
}

/* Shared by requests and responses: the framing headers. */
static int check_framing(struct http_msg *m, int *te_count)
{
	int cl = 0;
	*te_count = 0;
	for (int i = 0; i < m->nhdr; i++) {
		if (!valid_token(http_hdr_name(m, i), m->hdr[i].name_len))
			return refuse(m, 400, "invalid header name");
		if (!value_clean(m, i))
			return refuse(m, 400, "control character in a header value");
		classify(m, i);
	}
	for (int i = 0; i < m->nhdr; i++) {
		const char *v;
		size_t n;
		switch (m->hdr[i].kind) {
		case HH_CONTENT_LENGTH:
			trimmed(m, i, &v, &n);
			if (++cl > 1)
				return refuse(m, 400, "more than one Content-Length");
			if (!n || n > 18)
				return refuse(m, 400, "invalid Content-Length");
			for (size_t k = 0; k < n; k++)
				if (!isdigit((unsigned char)v[k]))
					return refuse(m, 400, "invalid Content-Length");
			m->has_length = 1;
			break;
		case HH_TRANSFER_ENCODING:
			trimmed(m, i, &v, &n);
			if (++*te_count > 1)
				return refuse(m, 400, "more than one Transfer-Encoding");
			if (!token_is(v, n, "chunked"))
				return refuse(m, 501, "unsupported Transfer-Encoding");
			m->chunked = 1;
			break;
		case HH_CONNECTION:
			each_token(m, i, connection_token, m); /* after classify: it marks listed names */
			break;
		case HH_UPGRADE:
			m->upgrade = i;
			break;
		default:
			break;
		}
	}
	if (cl && *te_count)
		return refuse(m, 400, "Content-Length with Transfer-Encoding");
	return 0;
}

int http_check_request(struct http_msg *m, const http_parser *p)
{
	int te;
	if (m->status)
		return m->status;
	if (p->http_major != 1)
		return fail(m, 505, "unsupported HTTP version");
	if (p->method == HTTP_CONNECT)
		return fail(m, 405, "CONNECT is not served");
	if (check_framing(m, &te) < 0)
		return m->status;
	/* RFC 9112 6.1: HTTP/1.0 has no transfer codings; its framing would be a guess */
	if (te && p->http_minor == 0)
		return fail(m, 400, "Transfer-Encoding in an HTTP/1.0 request");
	for (int i = 0; i < m->nhdr; i++) {
		if (m->hdr[i].kind == HH_HOST) {
			const char *v;
			size_t n;
			if (m->host >= 0)
				return fail(m, 400, "more than one Host");
			trimmed(m, i, &v, &n);
			if (!valid_host(v, n))
				return fail(m, 400, "invalid Host");
			m->host = i;
		} else if (m->hdr[i].kind == HH_EXPECT) {
			const char *v;
			size_t n;
			trimmed(m, i, &v, &n);
			if (token_is(v, n, "100-continue"))
				m->expect_continue = 1;
			else
				return fail(m, 417, "unsupported Expect");
		}
	}
	if (p->http_minor >= 1 && m->host < 0)
		return fail(m, 400, "missing Host");
	if (m->url_len == 0 || http_msg_url(m)[0] != '/') {
		/* origin-form only: an absolute-form target would let a client pick the upstream Host */
		return fail(m, 400, "request target must be a path");
	}
	if (p->upgrade && (m->has_length || m->chunked))
		return fail(m, 400, "upgrade request with a body");
	return 0;
}

int http_check_response(struct http_msg *m, const http_parser *p)
{
	int te;
	if (m->status)
		return m->status;
	if (check_framing(m, &te) < 0) {
		m->status = 502;
		return m->status;
	}
	if (te && p->http_major == 1 && p->http_minor == 0)
		return fail(m, 502, "Transfer-Encoding in an HTTP/1.0 response");
	return 0;
}

int http_is_hop_by_hop(const struct http_msg *m, int i)
{
	return m->hdr[i].hop;
}

static int add_header(struct buf *out, const struct http_msg *m, int i)
{
	if (buf_add(out, http_hdr_name(m, i), m->hdr[i].name_len) < 0 || buf_add(out, ": ", 2) < 0 ||
	    buf_add(out, http_hdr_val(m, i), m->hdr[i].val_len) < 0 || buf_add(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* The two headers that carry an upgrade (WebSocket) on, from m's Upgrade. */
static int write_upgrade(struct buf *out, const struct http_msg *m)
{
	if (buf_addstr(out, "Connection: Upgrade\r\nUpgrade: ") < 0 ||
	    buf_add(out, http_hdr_val(m, m->upgrade), m->hdr[m->upgrade].val_len) < 0)
		return -1;
	return buf_add(out, "\r\n", 2);
}

int http_write_request_head(struct buf *out, const struct http_msg *m, const http_parser *p,
			    const struct http_fwd *f)
{
	int rc = 0;
	rc |= buf_addstr(out, http_method_str(p->method));
	rc |= buf_addch(out, ' ');
	rc |= buf_add(out, http_msg_url(m), m->url_len);
	rc |= buf_add(out, " HTTP/1.1\r\n", 11);
	for (int i = 0; i < m->nhdr; i++) {
		int k = m->hdr[i].kind;
		if (m->hdr[i].hop || k == HH_X_FORWARDED_PROTO || k == HH_X_FORWARDED_HOST || k == HH_X_FORWARDED_FOR)
			continue;
		rc |= add_header(out, m, i);
	}
	/* one X-Forwarded-For: the earlier hops in order, then this client */
	rc |= buf_addstr(out, "X-Forwarded-For: ");
	for (int i = 0; i < m->nhdr; i++) {
		if (m->hdr[i].kind != HH_X_FORWARDED_FOR || !m->hdr[i].val_len)
			continue;
		rc |= buf_add(out, http_hdr_val(m, i), m->hdr[i].val_len);
		rc |= buf_add(out, ", ", 2);
	}
	rc |= buf_addstr(out, f->client_ip);
	rc |= buf_addstr(out, "\r\nX-Forwarded-Proto: ");
	rc |= buf_addstr(out, f->proto);
	rc |= buf_addstr(out, "\r\n");
	if (m->host >= 0) {
		rc |= buf_addstr(out, "X-Forwarded-Host: ");
		rc |= buf_add(out, http_hdr_val(m, m->host), m->hdr[m->host].val_len);
		rc |= buf_addstr(out, "\r\n");
	}
	if (f->chunked)
		rc |= buf_addstr(out, "Transfer-Encoding: chunked\r\n");
	if (f->upgrade && m->upgrade >= 0) {
		rc |= write_upgrade(out, m);
	}
	rc |= buf_addstr(out, "\r\n");
	return rc ? -1 : 0;
}

/* "HTTP/1.1 200 OK\r\n" without printf: it is written for every response. */
static int write_status_line(struct buf *out, int status)
{
	char code[4] = { (char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10), (char)('0' + status % 10), ' ' };
	if (status < 100 || status > 999)
		return buf_addf(out, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	if (buf_add(out, "HTTP/1.1 ", 9) < 0 || buf_add(out, code, 4) < 0 || buf_addstr(out, http_reason(status)) < 0)
		return -1;
	return buf_add(out, "\r\n", 2);
}

int http_write_response_head(struct buf *out, const struct http_msg *m, const http_parser *p,
			     const struct http_resp_opts *o)
{
	int rc = 0;
	rc |= write_status_line(out, p->status_code);
	for (int i = 0; i < m->nhdr; i++) {
		if (m->hdr[i].hop)
			continue;
		/* re-chunked bodies must not also claim a length */
		if (o->chunked && m->hdr[i].kind == HH_CONTENT_LENGTH)
			continue;
		rc |= add_header(out, m, i);
	}
	if (o->set_cookie) {
		rc |= buf_addstr(out, "Set-Cookie: ");
		rc |= buf_addstr(out, o->set_cookie);
		rc |= buf_add(out, "\r\n", 2);
	}
	if (o->chunked)
		rc |= buf_addstr(out, "Transfer-Encoding: chunked\r\n");
	if (o->upgrade && m->upgrade >= 0) {
		rc |= write_upgrade(out, m);
	} else if (o->close) {
		rc |= buf_addstr(out, "Connection: close\r\n");
	} else if (o->keepalive10) {
		rc |= buf_addstr(out, "Connection: keep-alive\r\n");
	}
	rc |= buf_addstr(out, "\r\n");
	return rc ? -1 : 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return status < 200 ? "Informational" : status < 300 ? "OK" : status < 400 ? "Redirect" :
			status < 500 ? "Client Error" : "Server Error";
	}
}

int http_write_simple(struct buf *out, int status, int close, const char *ctype, const char *body)
{
	size_t n = body ? strlen(body) : 0;
	return buf_addf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s", status,
			http_reason(status), ctype ? ctype : "text/plain", n, close ? "Connection: close\r\n" : "",
			body ? body : "");
}

int http_write_chunk(struct buf *out, const char *data, size_t len)
{
	if (!len)
		return buf_add(out, "0\r\n\r\n", 5);
	char size[2 * sizeof(size_t) + 2];
	size_t at = sizeof(size);
	size[--at] = '\n';
	size[--at] = '\r';
	for (size_t v = len; v; v >>= 4)
		size[--at] = "0123456789abcdef"[v & 15];
	if (buf_add(out, size + at, sizeof(size) - at) < 0 || buf_add(out, data, len) < 0 ||
	    buf_add(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

int http_write_last_chunk(struct buf *out, struct http_msg *m)
{
	int rc = buf_add(out, "0\r\n", 3);
	for (int i = m->head_nhdr; i < m->nhdr; i++) {
		if (!valid_token(http_hdr_name(m, i), m->hdr[i].name_len) || !value_clean(m, i))
			continue;
		classify(m, i);
		if (m->hdr[i].kind != HH_OTHER || m->hdr[i].hop)
			continue;
		rc |= add_header(out, m, i);
	}
	rc |= buf_add(out, "\r\n", 2);
	return rc ? -1 : 0;
}

const char *http_cookie_find(const char *hdr, size_t hdr_len, const char *name, size_t *len)
{
	const char *p = hdr, *end = hdr + hdr_len;
	size_t nl = strlen(name);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ';' || *p == '\t'))
			p++;
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (eq && (size_t)(eq - p) == nl && !memcmp(p, name, nl)) {
			const char *v = eq + 1, *ve = e;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve - v >= 2 && *v == '"' && ve[-1] == '"')
				v++, ve--;
			*len = (size_t)(ve - v);
			return v;
		}
		p = e;
	}
	return NULL;
}
