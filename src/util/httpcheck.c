/*
 * The health check's one HTTP GET: plain sockets, non-blocking connect and
 * I/O under poll() with one deadline for the whole exchange, and a strict
 * reading of the status line. Nothing but the status line is read.
 */
#include "util/httpcheck.h"
#include "util/error.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATUS_LINE_MAX 1024

struct url {
	char host[256];      /* without brackets, for getaddrinfo */
	char port[6];
	char authority[300]; /* for the Host header: [v6]:port, port only when not 80 */
	char path[2048];
};

static void set_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_check_is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/*
 * http://host[:port][/path][?query][#fragment]. Refuses userinfo, empty or
 * out-of-range ports, and any byte that would need escaping on the request
 * line (spaces, controls, non-ASCII), so the request cannot be split.
 * Returns 0, or -1 with the reason in `why`.
 */
static int parse_url(struct url *u, const char *s, char *why, size_t why_len)
{
	const char *p, *auth_end, *host, *host_end, *port = NULL;
	size_t host_len, path_len;
	int v6 = 0;

	if (strncasecmp(s, "http://", 7)) {
		set_why(why, why_len, "it does not start with http://");
		return -1;
	}
	for (p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			set_why(why, why_len, "it holds a space, a control character or a non-ASCII "
					      "byte; write it as %%XX");
			return -1;
		}
	host = s + 7;
	auth_end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(auth_end - host))) {
		set_why(why, why_len, "a user name or password (user@host) is not supported");
		return -1;
	}
	if (*host == '[') {
		host++;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end) {
			set_why(why, why_len, "the IPv6 address has no closing ']'");
			return -1;
		}
		if (host_end + 1 < auth_end) {
			if (host_end[1] != ':') {
				set_why(why, why_len, "only ':PORT' may follow the IPv6 address");
				return -1;
			}
			port = host_end + 2;
		}
		v6 = 1;
	} else {
		host_end = memchr(host, ':', (size_t)(auth_end - host));
		if (host_end)
			port = host_end + 1;
		else
			host_end = auth_end;
		for (p = host; p < host_end; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_') {
				set_why(why, why_len, "a host name holds only letters, digits, '-', '.' and "
						      "'_'");
				return -1;
			}
	}
	host_len = (size_t)(host_end - host);
	if (!host_len || host_len >= sizeof(u->host)) {
		set_why(why, why_len, host_len ? "the host name is too long" : "it names no host");
		return -1;
	}
	memcpy(u->host, host, host_len);
	u->host[host_len] = 0;
	if (v6) {
		struct in6_addr a;
		if (inet_pton(AF_INET6, u->host, &a) != 1) {
			set_why(why, why_len, "'%s' is not an IPv6 address", u->host);
			return -1;
		}
	}

	if (port) {
		size_t n = (size_t)(auth_end - port);
		long v = 0;
		int ok = n && n <= 5;
		for (size_t i = 0; ok && i < n; i++) {
			if (!isdigit((unsigned char)port[i]))
				ok = 0;
			v = v * 10 + (port[i] - '0');
		}
		if (!ok || v < 1 || v > 65535) {
			set_why(why, why_len, "the port '%.*s' is not a number from 1 to 65535",
				(int)(n > 20 ? 20 : n), port);
			return -1;
		}
		snprintf(u->port, sizeof(u->port), "%ld", v);
	} else {
		snprintf(u->port, sizeof(u->port), "80");
	}
	snprintf(u->authority, sizeof(u->authority), "%s%s%s%s%s", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", strcmp(u->port, "80") ? ":" : "", strcmp(u->port, "80") ? u->port : "");

	path_len = strcspn(auth_end, "#");
	if (path_len + 2 > sizeof(u->path)) {
		set_why(why, why_len, "the path is longer than %zu bytes", sizeof(u->path) - 2);
		return -1;
	}
	snprintf(u->path, sizeof(u->path), "%s%.*s", *auth_end == '/' ? "" : "/", (int)path_len, auth_end);
	return 0;
}

int http_check_looks_like_url(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return 0;
	while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	return !strncmp(s, "://", 3);
}

int http_check_url_usable(const char *url, char *why, size_t why_len)
{
	struct url u;
	if (!strncasecmp(url, "https://", 8)) {
		set_why(why, why_len, "https is not supported: use a command check such as 'curl -fsS %s'", url);
		return -1;
	}
	if (strncasecmp(url, "http://", 7)) {
		set_why(why, why_len, "only http:// URLs are checked; for anything else use a command "
				      "check");
		return -1;
	}
	return parse_url(&u, url, why, why_len);
}

/* Wait for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long deadline)
{
	for (;;) {
		long left = deadline - now_ms();
		struct pollfd p = { fd, events, 0 };
		int n;
		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0)
			return 1;
	}
}

/*
 * Connect to the first address that accepts. Returns the socket, -1 with
 * `why` set, or -2 on timeout. getaddrinfo() itself cannot be bounded by
 * the deadline: a name that needs DNS may take the resolver's own timeouts
 * (IP literals and /etc/hosts names return at once).
 */
static int connect_any(const struct url *u, long deadline, char *why, size_t why_len)
{
	struct addrinfo hints, *res, *ai;
	int rc, last_err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc) {
		set_why(why, why_len, "cannot resolve '%s': %s", u->host,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd, err = 0;
		socklen_t len = sizeof(err);

		if (now_ms() >= deadline) {
			freeaddrinfo(res);
			return -2;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				last_err = errno;
				close(fd);
				continue;
			}
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc <= 0) {
				close(fd);
				freeaddrinfo(res);
				if (rc == 0)
					return -2;
				set_why(why, why_len, "poll: %s", strerror(errno));
				return -1;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (err) {
				last_err = err;
				close(fd);
				continue;
			}
		}
		freeaddrinfo(res);
		return fd;
	}
	freeaddrinfo(res);
	if (last_err == ECONNREFUSED)
		set_why(why, why_len, "connection refused");
	else
		set_why(why, why_len, "cannot connect to %s: %s", u->authority, strerror(last_err));
	return -1;
}

/*
 * status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF (RFC 9112),
 * also taking a missing SP before an empty reason as many servers send it.
 * `line` excludes the CRLF. Returns the status or -1.
 */
static int parse_status_line(const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line;
	int status;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) || !isdigit(p[7]) || p[8] != ' ')
		return -1;
	if (p[9] < '1' || p[9] > '5' || !isdigit(p[10]) || !isdigit(p[11]))
		return -1;
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (len == 12)
		return status;
	if (p[12] != ' ')
		return -1;
	for (size_t i = 13; i < len; i++)
		if (p[i] != '\t' && (p[i] < 0x20 || p[i] == 0x7f))
			return -1;
	return status;
}

static int send_all(int fd, const char *data, size_t len, long deadline)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc <= 0)
				return rc == 0 ? -2 : -1;
			continue;
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to the first CRLF. Returns the status, -1 with `why` set, or -2 on timeout. */
static int read_status(int fd, long deadline, char *why, size_t why_len)
{
	static const char magic[] = "HTTP/";
	char line[STATUS_LINE_MAX];
	size_t len = 0;

	for (;;) {
		ssize_t n;
		char *crlf;
		int rc = wait_fd(fd, POLLIN, deadline);
		if (rc == 0)
			return -2;
		if (rc < 0) {
			set_why(why, why_len, "poll: %s", strerror(errno));
			return -1;
		}
		n = recv(fd, line + len, sizeof(line) - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			set_why(why, why_len, "cannot read the response: %s", strerror(errno));
			return -1;
		}
		if (!n) {
			set_why(why, why_len, len ? "malformed status line" : "connection closed without a response");
			return -1;
		}
		len += (size_t)n;
		/* Not HTTP at all: say so now rather than wait for a line end that may never come. */
		if (memcmp(line, magic, len < 5 ? len : 5))
			goto malformed;
		crlf = memmem(line, len, "\r\n", 2);
		if (crlf) {
			int status = parse_status_line(line, (size_t)(crlf - line));
			if (status < 0)
				goto malformed;
			return status;
		}
		if (memchr(line, '\n', len) || len == sizeof(line))
			goto malformed;
	}
malformed:
	set_why(why, why_len, "malformed status line");
	return -1;
}

int http_check_get(const char *url, long timeout_ms, char *why, size_t why_len)
{
	struct url u;
	char *req, reason[256];
	long deadline;
	int fd, rc;

	set_why(why, why_len, "%s", "");
	if (!strncasecmp(url, "https://", 8)) {
		set_why(why, why_len, "https is not supported: use a command check such as 'curl -fsS %s'", url);
		return -1;
	}
	if (parse_url(&u, url, reason, sizeof(reason)) < 0) {
		set_why(why, why_len, "invalid url '%s': %s", url, reason);
		return -1;
	}
	if (timeout_ms <= 0) {
		set_why(why, why_len, "invalid timeout %ld ms", timeout_ms);
		return -1;
	}
	deadline = now_ms() + timeout_ms;
	fd = connect_any(&u, deadline, why, why_len);
	if (fd == -2)
		goto timeout;
	if (fd < 0)
		return -1;
	req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cutover-check\r\n"
			"Accept: */*\r\nConnection: close\r\n\r\n",
			u.path, u.authority);
	rc = send_all(fd, req, strlen(req), deadline);
	free(req);
	if (rc == -2) {
		close(fd);
		goto timeout;
	}
	if (rc < 0) {
		set_why(why, why_len, "cannot send the request: %s", strerror(errno));
		close(fd);
		return -1;
	}
	rc = read_status(fd, deadline, why, why_len);
	close(fd);
	if (rc == -2)
		goto timeout;
	return rc;
timeout:
	set_why(why, why_len, "timed out after %ld ms", timeout_ms);
	return -1;
}
