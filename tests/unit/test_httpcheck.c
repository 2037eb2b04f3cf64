/* The HTTP health check against tiny loopback servers run in a thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "util/httpcheck.h"
#include "util/error.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One connection: read the request head, then send the `parts` of the
 * response with a short pause between them, then (when `linger`) keep the
 * connection open until the client goes away. A NULL first part and
 * linger: never answer.
 */
struct server {
	int family;
	int lfd, port;
	const char *parts[4];
	int linger;
	int no_accept; /* listen but never accept: the kernel still completes the handshake */
	char request[4096];
	pthread_t thread;
};

static int wait_in(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, ms);
}

static void *serve(void *arg)
{
	struct server *s = arg;
	size_t len = 0;
	int fd;

	if (s->no_accept)
		return NULL;
	if (wait_in(s->lfd, 5000) <= 0)
		return NULL;
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	while (len < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
		ssize_t n;
		if (wait_in(fd, 5000) <= 0)
			break;
		n = read(fd, s->request + len, sizeof(s->request) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		s->request[len] = 0;
	}
	for (int i = 0; i < 4 && s->parts[i]; i++) {
		if (i)
			usleep(30000);
		if (write(fd, s->parts[i], strlen(s->parts[i])) < 0)
			break;
	}
	if (s->linger) {
		char junk[256];
		while (wait_in(fd, 5000) > 0 && read(fd, junk, sizeof(junk)) > 0)
			;
	}
	close(fd);
	return NULL;
}

/* Listen on loopback (127.0.0.1 or ::1) on an ephemeral port and start serving. */
static int server_start(struct server *s, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	s->family = family;
	s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (bind(s->lfd, (struct sockaddr *)&ss, len) < 0 || listen(s->lfd, 4) < 0) {
		close(s->lfd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(s->lfd, (struct sockaddr *)&ss, &len);
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
	return 0;
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* Serve `response` once on 127.0.0.1 and GET `path` from it. */
static int get_once(const char *response, const char *path, long timeout_ms, char *why, size_t why_len)
{
	struct server s = { .parts = { response } };
	char url[256];
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s.port, path);
	int rc = http_check_get(url, timeout_ms, why, why_len);
	server_stop(&s);
	return rc;
}

static void returns_the_status_and_sends_a_proper_request(void **state)
{
	struct server s = { .parts = { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" } };
	char url[256], why[256] = "stale", host[64];

	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health?full=1#frag", s.port);
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), 200);
	server_stop(&s);
	assert_string_equal(why, "");
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
	assert_true(!strncmp(s.request, "GET /health?full=1 HTTP/1.1\r\n", 29));
	assert_non_null(strstr(s.request, host));
	assert_non_null(strstr(s.request, "\r\nUser-Agent: cutover-check\r\n"));
	assert_non_null(strstr(s.request, "\r\nConnection: close\r\n"));
	assert_null(strstr(s.request, "#frag"));
}

static void other_statuses_are_returned_as_they_are(void **state)
{
	char why[256];
	assert_int_equal(get_once("HTTP/1.1 503 Service Unavailable\r\n\r\n", "/", 2000, why, sizeof(why)), 503);
	assert_int_equal(get_once("HTTP/1.0 404 Not Found\r\n\r\n", "", 2000, why, sizeof(why)), 404);
	assert_int_equal(get_once("HTTP/1.1 204\r\n\r\n", "/", 2000, why, sizeof(why)), 204);
	assert_int_equal(get_once("HTTP/1.1 301 \r\n\r\n", "/", 2000, why, sizeof(why)), 301);
	assert_int_equal(get_once("HTTP/1.1 599 Caf\xc3\xa9\tX\r\n", "/", 2000, why, sizeof(why)), 599);
}

static void a_response_in_pieces_is_assembled(void **state)
{
	struct server s = { .parts = { "HT", "TP/1.1 2", "01 Created\r", "\n\r\n" } };
	char url[64], why[256];
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), 201);
	server_stop(&s);
}

static void malformed_status_lines_are_rejected(void **state)
{
	static const char *bad[] = {
		"SSH-2.0-OpenSSH_9.2\r\n", "garbage\r\n\r\n", "http/1.1 200 OK\r\n", "HTTP/2 200\r\n",
		"HTTP/2.0 200 OK\r\n", "HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 600 X\r\n",
		"HTTP/1.1 099 X\r\n", "HTTP/1.1  200 OK\r\n", "HTTP/1.1 200OK\r\n", "HTTP/1.1 200 OK\n\n",
		"HTTP/1.1 200 O\x01K\r\n", "HTTP/1.1 2x0 OK\r\n", "HTTP/1.x 200 OK\r\n", "HTTP/1.1 200 OK",
		" HTTP/1.1 200 OK\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char why[256] = "";
		int rc = get_once(bad[i], "/", 2000, why, sizeof(why));
		if (rc != -1)
			fail_msg("accepted #%zu '%s' as %d", i, bad[i], rc);
		assert_string_equal(why, "malformed status line");
	}
}

static void a_silent_close_is_reported(void **state)
{
	char why[256];
	struct server s = { .parts = { NULL } };
	char url[64];
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), -1);
	server_stop(&s);
	assert_string_equal(why, "connection closed without a response");
}

static void garbage_fails_without_waiting_for_a_line_end(void **state)
{
	struct server s = { .parts = { "\x16\x03\x01" }, .linger = 1 };
	char url[64], why[256];
	long t0 = now_ms();
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	assert_int_equal(http_check_get(url, 3000, why, sizeof(why)), -1);
	assert_in_range(now_ms() - t0, 0, 1000);
	server_stop(&s);
	assert_string_equal(why, "malformed status line");
}

static void a_server_that_never_answers_times_out(void **state)
{
	struct server s = { .parts = { NULL }, .linger = 1 };
	char url[64], why[256];
	long t0 = now_ms(), took;
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	assert_int_equal(http_check_get(url, 300, why, sizeof(why)), -1);
	took = now_ms() - t0;
	server_stop(&s);
	assert_string_equal(why, "timed out after 300 ms");
	assert_in_range(took, 290, 1000);
}

static void the_deadline_covers_the_whole_exchange(void **state)
{
	/* half a status line, then silence */
	struct server s = { .parts = { "HTTP/1.1 2" }, .linger = 1 };
	char url[64], why[256];
	long t0 = now_ms();
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	assert_int_equal(http_check_get(url, 400, why, sizeof(why)), -1);
	assert_in_range(now_ms() - t0, 390, 1000);
	server_stop(&s);
	assert_string_equal(why, "timed out after 400 ms");

	/* a listener that never accepts: connected by the kernel, never served */
	struct server q = { .no_accept = 1 };
	assert_int_equal(server_start(&q, AF_INET), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", q.port);
	assert_int_equal(http_check_get(url, 200, why, sizeof(why)), -1);
	server_stop(&q);
	assert_string_equal(why, "timed out after 200 ms");
}

static void a_closed_port_is_refused(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	char url[64], why[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	getsockname(fd, (struct sockaddr *)&in, &len);
	close(fd); /* bound, never listened: the port is closed */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(in.sin_port));
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), -1);
	assert_string_equal(why, "connection refused");
}

static void ipv6_literals_go_in_brackets(void **state)
{
	struct server s = { .parts = { "HTTP/1.1 200 OK\r\n\r\n" } };
	char url[64], why[256], host[64];
	if (server_start(&s, AF_INET6) < 0)
		skip(); /* no IPv6 loopback here */
	snprintf(url, sizeof(url), "http://[::1]:%d/v6", s.port);
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), 200);
	server_stop(&s);
	snprintf(host, sizeof(host), "\r\nHost: [::1]:%d\r\n", s.port);
	assert_non_null(strstr(s.request, host));
	assert_true(!strncmp(s.request, "GET /v6 HTTP/1.1\r\n", 18));
}

static void names_are_resolved(void **state)
{
	/* "localhost" may resolve to ::1 first, which is refused; 127.0.0.1 then answers */
	struct server s = { .parts = { "HTTP/1.1 200 OK\r\n\r\n" } };
	char url[64], why[256], host[64];
	assert_int_equal(server_start(&s, AF_INET), 0);
	snprintf(url, sizeof(url), "HTTP://localhost:%d", s.port);
	assert_int_equal(http_check_get(url, 2000, why, sizeof(why)), 200);
	server_stop(&s);
	snprintf(host, sizeof(host), "\r\nHost: localhost:%d\r\n", s.port);
	assert_non_null(strstr(s.request, host));
	assert_true(!strncmp(s.request, "GET / HTTP/1.1\r\n", 16));

}

static void port_80_is_left_out_of_the_host_header(void **state)
{
	struct server s = { .parts = { "HTTP/1.1 200 OK\r\n\r\n" } };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
	char why[256];
	int one = 1;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s.lfd, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(s.lfd, 4) < 0) {
		close(s.lfd);
		skip(); /* port 80 taken or not ours to bind */
	}
	assert_int_equal(pthread_create(&s.thread, NULL, serve, &s), 0);
	assert_int_equal(http_check_get("http://127.0.0.1/", 2000, why, sizeof(why)), 200);
	server_stop(&s);
	assert_non_null(strstr(s.request, "\r\nHost: 127.0.0.1\r\n"));
}

static void https_is_refused_with_advice(void **state)
{
	char why[256];
	assert_int_equal(http_check_get("https://example.com/health", 1000, why, sizeof(why)), -1);
	assert_string_equal(why, "https is not supported: use a command check such as "
				 "'curl -fsS https://example.com/health'");
	/* a short buffer is truncated, not overrun */
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(http_check_get("HTTPS://x/", 1000, tiny, 6), -1);
	assert_string_equal(tiny, "https");
	assert_int_equal(tiny[6], 'x');
	assert_int_equal(tiny[7], 'x');
	/* and no buffer at all is fine */
	assert_int_equal(http_check_get("https://x/", 1000, NULL, 0), -1);
}

static void invalid_urls_are_refused_before_any_traffic(void **state)
{
	static const char *bad[] = {
		"http://", "http:///path", "http://:80/", "ftp://host/", "host:80", "http//host",
		"http://host:/", "http://host:0/", "http://host:65536/", "http://host:123456/",
		"http://host:8x/", "http://user@host/", "http://user:pw@host/", "http://[::1/",
		"http://[::1]x/", "http://[not-v6]/", "http://[]/", "http://ho st/", "http://host/a b",
		"http://host/\r\nX: y", "http://h\xc3\xa9/", "http://host\\evil/", "http://a%2fb/",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char why[512], want[512];
		if (http_check_get(bad[i], 1000, why, sizeof(why)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		snprintf(want, sizeof(want), "invalid url '%s': ", bad[i]);
		if (strncmp(why, want, strlen(want)) || !why[strlen(want)])
			fail_msg("for '%s': %s", bad[i], why);
	}
}

/* What cutover.yml and --check are checked with before a deploy starts. */
static void unusable_urls_are_told_apart_with_a_reason(void **state)
{
	static const struct {
		const char *url, *why;
	} cases[] = {
		{ "http://host:99999/", "the port '99999' is not a number from 1 to 65535" },
		{ "http://host:0/", "the port '0' is not a number from 1 to 65535" },
		{ "http://host:8x/", "the port '8x' is not a number from 1 to 65535" },
		{ "http://host:/", "the port '' is not a number from 1 to 65535" },
		{ "http://[::1]:70000/", "the port '70000' is not a number from 1 to 65535" },
		{ "https://x/up", "https is not supported: use a command check such as 'curl -fsS https://x/up'" },
		{ "ftp://x/", "only http:// URLs are checked; for anything else use a command check" },
		{ "htp://x/", "only http:// URLs are checked; for anything else use a command check" },
		{ "http://", "it names no host" },
		{ "http://u@x/", "a user name or password (user@host) is not supported" },
		{ "http://x/a b", "it holds a space, a control character or a non-ASCII byte; write it as %XX" },
		{ "http://[::1/", "the IPv6 address has no closing ']'" },
		{ "http://[zz]/", "'zz' is not an IPv6 address" },
		{ "http://a!b/", "a host name holds only letters, digits, '-', '.' and '_'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[512] = "";
		if (http_check_url_usable(cases[i].url, why, sizeof(why)) != -1)
			fail_msg("accepted '%s'", cases[i].url);
		if (strcmp(why, cases[i].why))
			fail_msg("for '%s': %s", cases[i].url, why);
	}
	static const char *good[] = { "http://127.0.0.1:8080/health", "http://localhost/", "HTTP://x",
				      "http://[::1]:65535/up?x=1#frag" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char why[512] = "";
		if (http_check_url_usable(good[i], why, sizeof(why)) != 0)
			fail_msg("refused '%s': %s", good[i], why);
	}
}

static void tells_what_is_written_as_a_url(void **state)
{
	assert_int_equal(http_check_looks_like_url("ftp://x"), 1);
	assert_int_equal(http_check_looks_like_url("htp://x"), 1);
	assert_int_equal(http_check_looks_like_url("git+ssh://x"), 1);
	assert_int_equal(http_check_looks_like_url("http://"), 1);
	assert_int_equal(http_check_looks_like_url("curl -fsS http://x/"), 0);
	assert_int_equal(http_check_looks_like_url("test -f /x"), 0);
	assert_int_equal(http_check_looks_like_url("://x"), 0);
	assert_int_equal(http_check_looks_like_url("1http://x"), 0);
	assert_int_equal(http_check_looks_like_url(""), 0);
}

static void tells_urls_from_commands(void **state)
{
	assert_int_equal(http_check_is_url("http://x/"), 1);
	assert_int_equal(http_check_is_url("https://x/"), 1);
	assert_int_equal(http_check_is_url("HTTP://x/"), 1);
	assert_int_equal(http_check_is_url("curl -fsS http://x/"), 0);
	assert_int_equal(http_check_is_url("http:/x"), 0);
	assert_int_equal(http_check_is_url(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(returns_the_status_and_sends_a_proper_request),
		cmocka_unit_test(other_statuses_are_returned_as_they_are),
		cmocka_unit_test(a_response_in_pieces_is_assembled),
		cmocka_unit_test(malformed_status_lines_are_rejected),
		cmocka_unit_test(a_silent_close_is_reported),
		cmocka_unit_test(garbage_fails_without_waiting_for_a_line_end),
		cmocka_unit_test(a_server_that_never_answers_times_out),
		cmocka_unit_test(the_deadline_covers_the_whole_exchange),
		cmocka_unit_test(a_closed_port_is_refused),
		cmocka_unit_test(ipv6_literals_go_in_brackets),
		cmocka_unit_test(names_are_resolved),
		cmocka_unit_test(port_80_is_left_out_of_the_host_header),
		cmocka_unit_test(https_is_refused_with_advice),
		cmocka_unit_test(invalid_urls_are_refused_before_any_traffic),
		cmocka_unit_test(tells_urls_from_commands),
		cmocka_unit_test(unusable_urls_are_told_apart_with_a_reason),
		cmocka_unit_test(tells_what_is_written_as_a_url),
	};
	return cmocka_run_group_tests_name("httpcheck", tests, NULL, NULL);
}
