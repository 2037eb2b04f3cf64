#ifndef CUTOVER_PROXY_PARAMS_H
#define CUTOVER_PROXY_PARAMS_H
#include "proxy/ops.h"
#include <stddef.h>

/*
 * The admin API's parameters: decoded from the query string and checked
 * before anything acts on them, so that no value the routing state or a
 * report is made of can carry a control character, a space or a comma
 * where it does not belong. No I/O: the unit tests run it.
 *
 * Every check returns 0, or -1 with the reason in `why` (when why is not
 * NULL): what is wrong and with which value, the value shown with control
 * and non-ASCII bytes as \xNN so that a reason is always one line.
 */

#define SERVICE_NAME_MAX 64
#define HOST_NAME_MAX_LEN 253
#define TARGET_MAX 300
#define HEALTH_PATH_MAX 1024
#define HOSTS_MAX 64

int service_name_check(const char *name, char *why, size_t why_len);
/* A Host value a service claims: a DNS name (labels of letters, digits,
 * '-', '_'), an IPv4 address or a bracketed IPv6 one. */
int host_name_check(const char *host, char *why, size_t why_len);
/* HOST:PORT, HOST a name or an address as above, PORT 1-65535 (syntax only: not resolved). */
int target_check(const char *addr, char *why, size_t why_len);
/* Starts with '/', printable ASCII without spaces. */
int health_path_check(const char *path, char *why, size_t why_len);

/* `v` for a message: printable ASCII as it is, other bytes and quotes as
 * \xNN, cut with "..." to fit out_len. */
void param_show(char *out, size_t out_len, const char *v);

/*
 * The percent-decoded value of `key` in the url's query string into out.
 * Returns 1 when present, 0 when absent, -1 for a malformed %-escape (or
 * %00), -2 when the value does not fit out_len.
 */
int admin_query_get(const char *url, const char *key, char *out, size_t out_len);
/* Every key of the query string is one of `known` (NULL-terminated) and
 * given once: 0, or -1 with the reason. */
int params_check_keys(const char *url, const char *const *known, char *why, size_t why_len);
/* The service parameter, present and valid, into out (at least 256 bytes). */
int params_service(const char *url, char *out, size_t out_len, char *why, size_t why_len);
/* A duration parameter: *ms set from it (min_ms to max_ms), or to dflt when absent. */
int params_duration(const char *url, const char *key, long min_ms, long max_ms, long dflt, long *ms, char *why,
		    size_t why_len);

/* A deploy's or rollback's parameters, with the strings they point to. */
struct op_query {
	struct op_params p;
	char service[256];
	char target[TARGET_MAX + 1];
	char health_path[HEALTH_PATH_MAX + 1];
};

/*
 * Fill q from a /deploy or /rollback url: 0, or -1 with the reason (a 400).
 * Parameters not given are -1 in q->p (keep the service's setting or the
 * default). Release with op_query_release in both cases.
 */
int op_query_parse(struct op_query *q, const char *url, int rollback, char *why, size_t why_len);
void op_query_release(struct op_query *q);

#endif
