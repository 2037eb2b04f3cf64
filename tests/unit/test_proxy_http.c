/* HTTP framing in the proxy: head limits, smuggling checks, what is forwarded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "proxy/http.h"
#include "util/buf.h"

struct seen {
	struct http_side side;
	int heads, dones;
	struct buf body;
};

static int on_head(struct http_side *s)
{
	((struct seen *)s)->heads++;
	return 0;
}

static int on_body(struct http_side *s, const char *at, size_t len)
{
	return buf_add(&((struct seen *)s)->body, at, len);
}

static int on_done(struct http_side *s)
{
	((struct seen *)s)->dones++;
	return 0;
}

static void seen_init(struct seen *t, enum http_parser_type type)
{
	memset(t, 0, sizeof(*t));
	http_side_init(&t->side, type);
	t->side.on_head = on_head;
	t->side.on_body = on_body;
	t->side.on_done = on_done;
	buf_init(&t->body, 0);
}

static void seen_release(struct seen *t)
{
	http_msg_release(&t->side.msg);
	buf_release(&t->body);
}

/* Feed a whole request; returns what http_side_feed returned. */
static long feed(struct seen *t, const char *req)
{
	return http_side_feed(&t->side, req, strlen(req));
}

static void expect_refused(const char *req, int status)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	assert_int_equal(feed(&t, req), -1);
	assert_int_equal(t.side.msg.status, status);
	assert_int_equal(t.heads, 0);
	seen_release(&t);
}

static void test_simple_request_headers_collected(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "GET /a?b=1 HTTP/1.1\r\nHost: Example.com\r\nX-Empty:\r\nAccept: */*\r\n\r\n";
	assert_int_equal(feed(&t, req), (long)strlen(req));
	assert_int_equal(t.heads, 1);
	assert_int_equal(t.dones, 1);
	assert_string_equal(http_msg_url(&t.side.msg), "/a?b=1");
	assert_int_equal(t.side.msg.nhdr, 3);
	/* an empty value must not glue the next name onto the previous one */
	assert_int_equal(http_msg_find(&t.side.msg, "accept"), 2);
	assert_int_equal(t.side.msg.hdr[1].val_len, 0);
	assert_int_equal(t.side.msg.host, 0);
	seen_release(&t);
}

static void test_head_split_across_reads(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Long-Name: some value\r\n\r\nhello";
	for (size_t i = 0; req[i]; i++)
		assert_int_equal(http_side_feed(&t.side, req + i, 1), 1);
	assert_int_equal(t.dones, 1);
	int i = http_msg_find(&t.side.msg, "x-long-name");
	assert_true(i >= 0);
	assert_int_equal(t.side.msg.hdr[i].name_len, strlen("X-Long-Name"));
	assert_memory_equal(http_hdr_val(&t.side.msg, i), "some value", 10);
	assert_int_equal(t.body.len, 5);
	seen_release(&t);
}

static void test_chunked_body_decoded(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	assert_int_equal(feed(&t, req), (long)strlen(req));
	assert_true(t.side.msg.chunked);
	assert_int_equal(t.body.len, 5);
	assert_memory_equal(t.body.buf, "abcde", 5);
	seen_release(&t);
}

static void test_smuggling_cl_and_te_rejected(void **state)
{
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400);
}

static void test_duplicate_or_invalid_content_length_rejected(void **state)
{
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\na", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400);
}

static void test_bad_transfer_encodings_refused(void **state)
{
	/* only "chunked" alone is understood; anything else is not guessed at */
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	assert_int_equal(feed(&t, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), -1);
	assert_true(t.side.msg.status == 501 || t.side.msg.status == 400);
	seen_release(&t);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void test_http10_with_transfer_encoding_refused(void **state)
{
	expect_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400);
	expect_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
	struct seen t;
	seen_init(&t, HTTP_RESPONSE);
	assert_int_equal(feed(&t, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), -1);
	assert_int_equal(t.side.msg.status, 502);
	seen_release(&t);
}

/* http_is_navigation on one request head. */
static int navigation(const char *req)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	assert_true(feed(&t, req) > 0);
	int nav = http_is_navigation(&t.side.msg, &t.side.parser);
	seen_release(&t);
	return nav;
}

static void test_navigation_starts_a_page_view(void **state)
{
	/* what Chromium sends for a page, a stylesheet, an image, a fetch() */
	assert_true(navigation("GET /p HTTP/1.1\r\nHost: a\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\n"
			       "Sec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\nAccept: text/html,application/xhtml+xml,"
			       "application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\r\n"));
	assert_false(navigation("GET /a.css HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: style\r\n"
				"Accept: text/css,*/*;q=0.1\r\n\r\n"));
	assert_false(navigation("GET /i.png HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\n"
				"Accept: image/avif,image/webp,*/*;q=0.8\r\n\r\n"));
	assert_false(navigation("GET /api HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n"
				"Accept: text/html\r\n\r\n"));
	/* a form's POST is a navigation too */
	assert_true(navigation("POST /f HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n"
			       "Content-Length: 0\r\n\r\n"));
	/* a frame belongs to the page that embeds it; a prefetch comes while a page loads */
	assert_false(navigation("GET /f HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: iframe\r\n"
				"Accept: text/html\r\n\r\n"));
	assert_false(navigation("GET /n HTTP/1.1\r\nHost: a\r\nSec-Purpose: prefetch\r\nSec-Fetch-Mode: navigate\r\n"
				"Sec-Fetch-Dest: document\r\n\r\n"));
	assert_false(navigation("GET /n HTTP/1.1\r\nHost: a\r\nPurpose: prefetch\r\nAccept: text/html\r\n\r\n"));
	/* only one of the two: the one that is there decides */
	assert_true(navigation("GET /p HTTP/1.1\r\nHost: a\r\nSec-Fetch-Mode: navigate\r\n\r\n"));
	assert_true(navigation("GET /p HTTP/1.1\r\nHost: a\r\nSec-Fetch-Dest: document\r\n\r\n"));
	/* clients without Sec-Fetch: a GET that prefers HTML */
	assert_true(navigation("GET /p HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n"));
	assert_true(navigation("GET /p HTTP/1.1\r\nHost: a\r\nAccept: TEXT/HTML;level=1, */*;q=0.5\r\n\r\n"));
	assert_false(navigation("GET /p HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"));
	assert_false(navigation("GET /p HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_false(navigation("POST /p HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\nContent-Length: 0\r\n\r\n"));
}

static void test_accept_prefers_html(void **state)
{
#define PREFERS(s) http_accept_prefers_html(s, strlen(s))
	assert_true(PREFERS("text/html"));
	assert_true(PREFERS("application/xhtml+xml, text/html;q=0.9, */*;q=0.8"));
	assert_true(PREFERS("text/html, */*"));
	assert_true(PREFERS(" text/html ; q=0.5 , image/png;q=0.4"));
	assert_false(PREFERS("text/html;q=0, */*"));
	assert_false(PREFERS("text/html;q=0.5, application/json"));
	assert_false(PREFERS("application/json, text/html;q=0.9"));
	assert_false(PREFERS("text/htmlx"));
	assert_false(PREFERS("text/html;q=2"));
	assert_false(PREFERS("text/html;q=abc"));
	assert_false(PREFERS(""));
	assert_false(PREFERS(",,;"));
#undef PREFERS
}

static void test_host_rules(void **state)
{
	expect_refused("GET / HTTP/1.1\r\n\r\n", 400);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
	expect_refused("GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	/* HTTP/1.0 may leave Host out */
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	assert_true(feed(&t, "GET / HTTP/1.0\r\n\r\n") > 0);
	assert_int_equal(t.dones, 1);
	seen_release(&t);
}

static void test_malformed_requests_rejected(void **state)
{
	expect_refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	/* whitespace before the colon: another server may read this as chunked */
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc", 400);
	expect_refused("GET / HTTP/1.1\r\nBad\x01Name: a\r\nHost: a\r\n\r\n", 400);
	expect_refused("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	expect_refused("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 405);
}

static void test_header_limits_give_431(void **state)
{
	struct buf req = BUF_INIT;
	buf_addstr(&req, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		buf_addf(&req, "X-H%d: v\r\n", i);
	buf_addstr(&req, "\r\n");
	expect_refused(req.buf, 431);
	buf_reset(&req);
	buf_addstr(&req, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	for (int i = 0; i < HTTP_MAX_HEAD; i++)
		buf_addch(&req, 'x');
	buf_addstr(&req, "\r\n\r\n");
	expect_refused(req.buf, 431);
	buf_release(&req);
}

static void test_pipelined_requests_parse_without_pause(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	const char *two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(feed(&t, two), (long)strlen(two));
	assert_int_equal(t.dones, 2);
	seen_release(&t);
}

static int done_pause(struct http_side *s)
{
	((struct seen *)s)->dones++;
	http_parser_pause(&s->parser, 1);
	return 0;
}

static void test_paused_parser_resumes_with_next_request(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_REQUEST);
	t.side.on_done = done_pause;
	const char *one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
	char two[128];
	snprintf(two, sizeof(two), "%sGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", one);
	long n = http_side_feed(&t.side, two, strlen(two));
	assert_int_equal(n, (long)strlen(one));
	assert_string_equal(http_msg_url(&t.side.msg), "/1");
	http_side_resume(&t.side);
	n = http_side_feed(&t.side, two + strlen(one), strlen(two) - strlen(one));
	assert_int_equal(n, (long)(strlen(two) - strlen(one)));
	assert_string_equal(http_msg_url(&t.side.msg), "/2");
	assert_int_equal(t.dones, 2);
	seen_release(&t);
}

static void test_request_head_forwarded(void **state)
{
	struct seen t;
	struct buf out = BUF_INIT;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "GET /x HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
			  "Keep-Alive: 5\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n";
	assert_true(feed(&t, req) > 0);
	struct http_fwd f = { .client_ip = "192.0.2.7", .proto = "http" };
	assert_int_equal(http_write_request_head(&out, &t.side.msg, &t.side.parser, &f), 0);
	assert_non_null(strstr(out.buf, "GET /x HTTP/1.1\r\n"));
	assert_non_null(strstr(out.buf, "Host: shop.example\r\n"));
	assert_non_null(strstr(out.buf, "X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"));
	assert_non_null(strstr(out.buf, "X-Forwarded-Proto: http\r\n"));
	assert_non_null(strstr(out.buf, "X-Forwarded-Host: shop.example\r\n"));
	assert_non_null(strstr(out.buf, "Accept: */*\r\n"));
	assert_null(strstr(out.buf, "X-Secret"));
	assert_null(strstr(out.buf, "Keep-Alive"));
	assert_null(strstr(out.buf, "Connection"));
	assert_null(strstr(out.buf, "https"));
	buf_release(&out);
	seen_release(&t);
}

/* Connection naming a framing or routing field must not take it off the
 * message while its body still goes on (request smuggling). */
static void test_connection_cannot_drop_framing_or_routing_fields(void **state)
{
	struct seen t;
	struct buf out = BUF_INIT;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "POST /x HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host, X-Gone\r\n"
			  "Content-Length: 5\r\nX-Gone: 1\r\n\r\nhello";
	assert_true(feed(&t, req) > 0);
	assert_int_equal(t.dones, 1);
	struct http_fwd f = { .client_ip = "192.0.2.7", .proto = "http" };
	assert_int_equal(http_write_request_head(&out, &t.side.msg, &t.side.parser, &f), 0);
	assert_non_null(strstr(out.buf, "\r\nContent-Length: 5\r\n"));
	assert_non_null(strstr(out.buf, "\r\nHost: a\r\n"));
	assert_null(strstr(out.buf, "X-Gone"));
	buf_release(&out);
	seen_release(&t);

	/* a chunked body goes on chunked, with the proxy's own Transfer-Encoding */
	seen_init(&t, HTTP_REQUEST);
	assert_true(feed(&t, "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n") > 0);
	f.chunked = t.side.msg.chunked;
	assert_true(f.chunked);
	http_write_request_head(&out, &t.side.msg, &t.side.parser, &f);
	assert_non_null(strstr(out.buf, "\r\nTransfer-Encoding: chunked\r\n"));
	buf_release(&out);
	seen_release(&t);

	/* the same in a response: its length reaches the client */
	seen_init(&t, HTTP_RESPONSE);
	assert_true(feed(&t, "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\nok") > 0);
	struct http_resp_opts o = { 0 };
	http_write_response_head(&out, &t.side.msg, &t.side.parser, &o);
	assert_string_equal(out.buf, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
}

static void test_two_forwarded_for_headers_become_one(void **state)
{
	struct seen t;
	struct buf out = BUF_INIT;
	seen_init(&t, HTTP_REQUEST);
	assert_true(feed(&t, "GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n") > 0);
	struct http_fwd f = { .client_ip = "192.0.2.7", .proto = "http" };
	http_write_request_head(&out, &t.side.msg, &t.side.parser, &f);
	assert_string_equal(out.buf, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\n"
				     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
}

static void test_response_framing_checked(void **state)
{
	struct seen t;
	seen_init(&t, HTTP_RESPONSE);
	assert_int_equal(feed(&t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab"), -1);
	assert_int_equal(t.side.msg.status, 502);
	seen_release(&t);
	seen_init(&t, HTTP_RESPONSE);
	assert_true(feed(&t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\n\r\n") > 0);
	assert_int_equal(t.dones, 1);
	assert_true(t.side.msg.conn_close);
	struct buf out = BUF_INIT;
	struct http_resp_opts o = { .chunked = 1, .set_cookie = "cutover_app=3; Path=/" };
	http_write_response_head(&out, &t.side.msg, &t.side.parser, &o);
	assert_string_equal(out.buf, "HTTP/1.1 200 OK\r\nSet-Cookie: cutover_app=3; Path=/\r\nTransfer-Encoding: chunked\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
}

static void test_chunk_writer(void **state)
{
	struct buf out = BUF_INIT;
	http_write_chunk(&out, "hello world, 26 bytes long", 26);
	http_write_chunk(&out, NULL, 0);
	assert_string_equal(out.buf, "1a\r\nhello world, 26 bytes long\r\n0\r\n\r\n");
	buf_release(&out);
}

static void test_header_names_recognised_in_any_case(void **state)
{
	struct seen t;
	struct buf out = BUF_INIT;
	seen_init(&t, HTTP_REQUEST);
	const char *req = "PUT /u HTTP/1.1\r\nHOST: a\r\ncontent-LENGTH: 2\r\nTE: trailers\r\nTrailer: X-Sum\r\n"
			  "Proxy-Connection: keep-alive\r\nx-forwarded-FOR: 10.0.0.9\r\nUpgrade-Insecure-Requests: 1\r\n"
			  "Hostile: 1\r\n\r\nok";
	assert_true(feed(&t, req) > 0);
	assert_true(t.side.msg.has_length);
	assert_int_equal(t.side.msg.host, 0);
	struct http_fwd f = { .client_ip = "192.0.2.7", .proto = "http" };
	http_write_request_head(&out, &t.side.msg, &t.side.parser, &f);
	/* names that merely start like a known one are not it */
	assert_string_equal(out.buf, "PUT /u HTTP/1.1\r\nHOST: a\r\ncontent-LENGTH: 2\r\nUpgrade-Insecure-Requests: 1\r\n"
				     "Hostile: 1\r\nX-Forwarded-For: 10.0.0.9, 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
				     "X-Forwarded-Host: a\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
}

static void test_status_lines(void **state)
{
	static const struct {
		const char *in, *line;
	} cases[] = {
		{ "HTTP/1.1 404 Not Here\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 404 Not Found\r\n" },
		{ "HTTP/1.1 299 Odd\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 299 OK\r\n" },
		{ "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		  "HTTP/1.1 503 Service Unavailable\r\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen t;
		struct buf out = BUF_INIT;
		struct http_resp_opts o = { 0 };
		seen_init(&t, HTTP_RESPONSE);
		assert_true(feed(&t, cases[i].in) > 0);
		http_write_response_head(&out, &t.side.msg, &t.side.parser, &o);
		assert_memory_equal(out.buf, cases[i].line, strlen(cases[i].line));
		assert_string_equal(out.buf + strlen(cases[i].line), "Content-Length: 0\r\n\r\n");
		buf_release(&out);
		seen_release(&t);
	}
}

static void test_chunk_sizes_in_hex(void **state)
{
	struct buf out = BUF_INIT;
	char *big = calloc(1, 0x10000);
	http_write_chunk(&out, big, 0x10000);
	assert_memory_equal(out.buf, "10000\r\n", 7);
	assert_int_equal(out.len, 7 + 0x10000 + 2);
	buf_reset(&out);
	http_write_chunk(&out, "x", 1);
	assert_string_equal(out.buf, "1\r\nx\r\n");
	free(big);
	buf_release(&out);
}

static void test_trailers_kept_apart_and_filtered(void **state)
{
	struct seen t;
	struct buf out = BUF_INIT;
	seen_init(&t, HTTP_RESPONSE);
	assert_true(feed(&t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
			    "X-Checksum: 42\r\nContent-Length: 5\r\nConnection: close\r\n"
			    "Server-Timing: db;dur=53\r\n\r\n") > 0);
	assert_int_equal(t.dones, 1);
	assert_int_equal(t.side.msg.head_nhdr, 1);
	assert_false(t.side.msg.conn_close); /* a trailer does not change the framing */
	http_write_last_chunk(&out, &t.side.msg);
	assert_string_equal(out.buf, "0\r\nX-Checksum: 42\r\nServer-Timing: db;dur=53\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
	/* no trailers: the plain last chunk */
	seen_init(&t, HTTP_RESPONSE);
	assert_true(feed(&t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") > 0);
	http_write_last_chunk(&out, &t.side.msg);
	assert_string_equal(out.buf, "0\r\n\r\n");
	buf_release(&out);
	seen_release(&t);
}

static void test_cookie_find(void **state)
{
	size_t len;
	const char *h = "a=1; cutover_app=17; cutover_apps=9";
	const char *v = http_cookie_find(h, strlen(h), "cutover_app", &len);
	assert_non_null(v);
	assert_int_equal(len, 2);
	assert_memory_equal(v, "17", 2);
	assert_null(http_cookie_find(h, strlen(h), "cutover_ap", &len));
	v = http_cookie_find("x=\"q\"", 5, "x", &len);
	assert_int_equal(len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_request_headers_collected),
		cmocka_unit_test(test_header_names_recognised_in_any_case),
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_chunk_sizes_in_hex),
		cmocka_unit_test(test_trailers_kept_apart_and_filtered),
		cmocka_unit_test(test_head_split_across_reads),
		cmocka_unit_test(test_chunked_body_decoded),
		cmocka_unit_test(test_smuggling_cl_and_te_rejected),
		cmocka_unit_test(test_duplicate_or_invalid_content_length_rejected),
		cmocka_unit_test(test_bad_transfer_encodings_refused),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_navigation_starts_a_page_view),
		cmocka_unit_test(test_accept_prefers_html),
		cmocka_unit_test(test_http10_with_transfer_encoding_refused),
		cmocka_unit_test(test_malformed_requests_rejected),
		cmocka_unit_test(test_header_limits_give_431),
		cmocka_unit_test(test_pipelined_requests_parse_without_pause),
		cmocka_unit_test(test_paused_parser_resumes_with_next_request),
		cmocka_unit_test(test_request_head_forwarded),
		cmocka_unit_test(test_two_forwarded_for_headers_become_one),
		cmocka_unit_test(test_connection_cannot_drop_framing_or_routing_fields),
		cmocka_unit_test(test_response_framing_checked),
		cmocka_unit_test(test_chunk_writer),
		cmocka_unit_test(test_cookie_find),
	};
	return cmocka_run_group_tests_name("proxy_http", tests, NULL, NULL);
}
