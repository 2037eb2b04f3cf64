/*
 * The admin API's parameters: decoding, and the checks every value passes
 * before a deploy, the routing state or a report uses it (params.h).
 */
#include "proxy/params.h"
#include "util/error.h"
#include "util/opts.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS 3600000L
#define DAY_MS (24 * HOUR_MS)

static int fail(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	if (!why)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

void param_show(char *out, size_t out_len, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	if (!out_len)
		return;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		int plain = *p >= 0x20 && *p < 0x7f && *p != '\'' && *p != '\\';
		size_t need = plain ? 1 : 4;
		if (n + need + 4 > out_len) { /* room for "..." and the NUL */
			if (n + 4 <= out_len) {
				memcpy(out + n, "...", 3);
				n += 3;
			}
			break;
		}
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
}

/* ---- values ---- */

int service_name_check(const char *name, char *why, size_t why_len)
{
	char shown[96];
	size_t len = strlen(name);
	/* the name becomes part of a cookie name, of Prometheus labels and of the state file */
	if (!len)
		return fail(why, why_len, "the service name is empty");
	param_show(shown, sizeof(shown), name);
	if (len > SERVICE_NAME_MAX)
		return fail(why, why_len, "service name '%s' is too long (%zu characters, at most %d)", shown, len,
			    SERVICE_NAME_MAX);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return fail(why, why_len, "invalid service name '%s' (letters, digits, '-', '_', '.')", shown);
	return 0;
}

static int label_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Dot-separated labels of 1-63 letters, digits, '-', '_', no label starting or ending with '-'. */
static int dns_name_ok(const char *s, size_t len)
{
	size_t label = 0;
	if (!len || len > HOST_NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!label || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (label_char((unsigned char)s[i])) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* "[v6]": an IPv6 address in brackets. */
static int bracketed_v6_ok(const char *s, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	struct in6_addr in6;
	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof(a))
		return 0;
	memcpy(a, s + 1, len - 2);
	a[len - 2] = 0;
	return inet_pton(AF_INET6, a, &in6) == 1;
}

int host_name_check(const char *host, char *why, size_t why_len)
{
	char shown[96];
	size_t len = strlen(host);
	if (!len)
		return fail(why, why_len, "empty host name");
	param_show(shown, sizeof(shown), host);
	if (len > HOST_NAME_MAX_LEN)
		return fail(why, why_len, "host name '%s' is too long (%zu characters, at most %d)", shown, len,
			    HOST_NAME_MAX_LEN);
	if (!dns_name_ok(host, len) && !bracketed_v6_ok(host, len))
		return fail(why, why_len,
			    "invalid host name '%s' (labels of letters, digits, '-' and '_' separated by '.', or [IPv6])",
			    shown);
	return 0;
}

int target_check(const char *addr, char *why, size_t why_len)
{
	char shown[96];
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	param_show(shown, sizeof(shown), addr);
	if (strlen(addr) > TARGET_MAX)
		return fail(why, why_len, "target '%s' is too long (at most %d characters)", shown, TARGET_MAX);
	if (!colon || !hl)
		return fail(why, why_len, "invalid target '%s' (expected HOST:PORT)", shown);
	if (!dns_name_ok(addr, hl) && !bracketed_v6_ok(addr, hl))
		return fail(why, why_len, "invalid host in target '%s' (a name, an IPv4 address or [IPv6])", shown);
	long port = 0;
	const char *p = colon + 1;
	for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (p == colon + 1 || *p || port < 1 || port > 65535)
		return fail(why, why_len, "invalid port in target '%s' (1 to 65535)", shown);
	return 0;
}

int health_path_check(const char *path, char *why, size_t why_len)
{
	char shown[96];
	param_show(shown, sizeof(shown), path);
	if (path[0] != '/')
		return fail(why, why_len, "invalid health path '%s': it must start with '/'", shown);
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		if (*c <= ' ' || *c >= 0x7f)
			return fail(why, why_len,
				    "invalid health path '%s': spaces, control characters and non-ASCII bytes must be %%-escaped",
				    shown);
	return 0;
}

/* ---- the query string ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode [v, end) into out: its length, -1 malformed, -2 too long. */
static long query_decode(const char *v, const char *end, char *out, size_t out_len)
{
	size_t n = 0;
	for (; v < end; v++) {
		int c = (unsigned char)*v;
		if (c == '%') {
			if (end - v < 3 || hexval(v[1]) < 0 || hexval(v[2]) < 0)
				return -1;
			c = hexval(v[1]) * 16 + hexval(v[2]);
			v += 2;
			if (!c)
				return -1;
		} else if (c == '+') {
			c = ' ';
		}
		if (n + 1 >= out_len)
			return -2;
		out[n++] = (char)c;
	}
	out[n] = 0;
	return (long)n;
}

int admin_query_get(const char *url, const char *key, char *out, size_t out_len)
{
	const char *q = strchr(url, '?');
	size_t kl = strlen(key);
	if (!q)
		return 0;
	for (const char *p = q + 1; *p;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		if ((size_t)(kend - p) == kl && !memcmp(p, key, kl)) {
			long n = query_decode(eq ? eq + 1 : end, end, out, out_len);
			return n < 0 ? (int)n : 1;
		}
		p = amp ? amp + 1 : end;
	}
	return 0;
}

int params_check_keys(const char *url, const char *const *known, char *why, size_t why_len)
{
	const char *q = strchr(url, '?');
	unsigned seen = 0;
	if (!q)
		return 0;
	for (const char *p = q + 1; *p;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t kl = (size_t)((eq ? eq : end) - p);
		int i;
		for (i = 0; known[i]; i++)
			if (strlen(known[i]) == kl && !memcmp(known[i], p, kl))
				break;
		if (kl && !known[i]) {
			char key[64], shown[96];
			snprintf(key, sizeof(key), "%.*s", (int)(kl < sizeof(key) - 1 ? kl : sizeof(key) - 1), p);
			param_show(shown, sizeof(shown), key);
			return fail(why, why_len, "unknown parameter '%s'", shown);
		}
		if (kl && (seen & (1u << i)))
			return fail(why, why_len, "parameter '%s' is given twice", known[i]);
		if (kl)
			seen |= 1u << i;
		p = amp ? amp + 1 : end;
	}
	return 0;
}

/* A string parameter: 1 present (in out), 0 absent, -1 malformed or too long (reason set). */
static int param_string(const char *url, const char *key, char *out, size_t out_len, char *why, size_t why_len)
{
	int r = admin_query_get(url, key, out, out_len);
	if (r == -1)
		return fail(why, why_len, "malformed %%-escape in parameter '%s'", key);
	if (r == -2)
		return fail(why, why_len, "parameter '%s' is too long (at most %zu bytes)", key, out_len - 1);
	return r;
}

int params_service(const char *url, char *out, size_t out_len, char *why, size_t why_len)
{
	int r = param_string(url, "service", out, out_len, why, why_len);
	if (r < 0)
		return -1;
	if (!r)
		return fail(why, why_len, "missing parameter 'service'");
	return service_name_check(out, why, why_len);
}

static void show_ms(char *out, size_t len, long ms)
{
	if (ms % HOUR_MS == 0 && ms)
		snprintf(out, len, "%ldh", ms / HOUR_MS);
	else if (ms % 1000 == 0 && ms)
		snprintf(out, len, "%lds", ms / 1000);
	else
		snprintf(out, len, "%ldms", ms);
}

int params_duration(const char *url, const char *key, long min_ms, long max_ms, long dflt, long *ms, char *why,
		    size_t why_len)
{
	char v[64], shown[96], bound[32];
	int r = param_string(url, key, v, sizeof(v), why, why_len);
	*ms = dflt;
	if (r <= 0)
		return r;
	long n = parse_duration_ms(v);
	if (n < 0) {
		param_show(shown, sizeof(shown), v);
		return fail(why, why_len, "invalid duration '%s' for '%s' (like 500ms, 30s or 2m)", shown, key);
	}
	if (n < min_ms) {
		show_ms(bound, sizeof(bound), min_ms);
		return fail(why, why_len, "'%s' must be at least %s, not '%s'", key, bound, v);
	}
	if (n > max_ms) {
		show_ms(bound, sizeof(bound), max_ms);
		return fail(why, why_len, "'%s' must be at most %s, not '%s'", key, bound, v);
	}
	*ms = n;
	return 0;
}

/* A 0/1 parameter: *out 0 or 1, or -1 when absent. */
static int param_bool(const char *url, const char *key, int *out, char *why, size_t why_len)
{
	char v[16], shown[96];
	int r = param_string(url, key, v, sizeof(v), why, why_len);
	*out = -1;
	if (r <= 0)
		return r;
	if (strcmp(v, "0") && strcmp(v, "1")) {
		param_show(shown, sizeof(shown), v);
		return fail(why, why_len, "'%s' must be 0 or 1, not '%s'", key, shown);
	}
	*out = v[0] == '1';
	return 0;
}

static int param_successes(const char *url, int *out, char *why, size_t why_len)
{
	char v[16], shown[96];
	int r = param_string(url, "successes", v, sizeof(v), why, why_len), n;
	*out = -1;
	if (r <= 0)
		return r;
	if (parse_uint(v, &n) < 0 || n < 1 || n > 1000) {
		param_show(shown, sizeof(shown), v);
		return fail(why, why_len, "'successes' must be a number from 1 to 1000, not '%s'", shown);
	}
	*out = n;
	return 0;
}

/* hosts=a.example,b.example: each checked, lower-cased; none given leaves the list empty. */
static int param_hosts(const char *url, struct strlist *hosts, char *why, size_t why_len)
{
	char v[8192]; /* an admin request is at most 8 KiB */
	int r = param_string(url, "hosts", v, sizeof(v), why, why_len);
	if (r <= 0)
		return r;
	for (char *h = v, *comma;; h = comma + 1) {
		comma = strchr(h, ',');
		if (comma)
			*comma = 0;
		if (!*h)
			return fail(why, why_len, "empty host name in 'hosts'");
		if (host_name_check(h, why, why_len) < 0)
			return -1;
		for (char *c = h; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (hosts->nr == HOSTS_MAX)
			return fail(why, why_len, "too many host names (at most %d)", HOSTS_MAX);
		if (!strlist_has(hosts, h))
			strlist_push(hosts, h);
		if (!comma)
			return 0;
	}
}

/* ---- a deploy or rollback ---- */

static const char *const deploy_keys[] = { "service", "target", "health_path", "interval", "timeout", "deadline",
					   "drain", "drain_grace", "sticky_idle", "successes", "sticky", "default",
					   "hosts", NULL };
/* what only a deploy can set is not a rollback's */
static const char *const rollback_keys[] = { "service", "health_path", "interval", "timeout", "deadline", "drain",
					     "drain_grace", "sticky_idle", "successes", "sticky", NULL };

static const struct op_duration {
	const char *key;
	size_t off;
	long min_ms, max_ms;
} op_durations[] = {
	{ "interval", offsetof(struct op_params, interval_ms), 1, HOUR_MS },
	{ "timeout", offsetof(struct op_params, timeout_ms), 1, HOUR_MS },
	{ "deadline", offsetof(struct op_params, deadline_ms), 1, DAY_MS },
	{ "drain", offsetof(struct op_params, drain_ms), 0, DAY_MS },
	{ "drain_grace", offsetof(struct op_params, drain_grace_ms), 0, DAY_MS },
	{ "sticky_idle", offsetof(struct op_params, sticky_idle_ms), 0, DAY_MS },
};

int op_query_parse(struct op_query *q, const char *url, int rollback, char *why, size_t why_len)
{
	struct op_params *p = &q->p;
	memset(q, 0, sizeof(*q));
	p->rollback = rollback;
	if (params_check_keys(url, rollback ? rollback_keys : deploy_keys, why, why_len) < 0 ||
	    params_service(url, q->service, sizeof(q->service), why, why_len) < 0)
		return -1;
	p->service = q->service;
	if (!rollback) {
		int r = param_string(url, "target", q->target, sizeof(q->target), why, why_len);
		if (r < 0)
			return -1;
		if (!r)
			return fail(why, why_len, "missing parameter 'target'");
		if (target_check(q->target, why, why_len) < 0)
			return -1;
		p->target = q->target;
	}
	int r = param_string(url, "health_path", q->health_path, sizeof(q->health_path), why, why_len);
	if (r < 0 || (r && health_path_check(q->health_path, why, why_len) < 0))
		return -1;
	p->health_path = r ? q->health_path : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(op_durations); i++) {
		const struct op_duration *d = &op_durations[i];
		if (params_duration(url, d->key, d->min_ms, d->max_ms, -1, (long *)((char *)p + d->off), why,
				    why_len) < 0)
			return -1;
	}
	if (param_successes(url, &p->successes, why, why_len) < 0 ||
	    param_bool(url, "sticky", &p->sticky, why, why_len) < 0 ||
	    param_bool(url, "default", &p->is_default, why, why_len) < 0 ||
	    param_hosts(url, &p->hosts, why, why_len) < 0)
		return -1;
	return 0;
}

void op_query_release(struct op_query *q)
{
	strlist_clear(&q->p.hosts);
}
