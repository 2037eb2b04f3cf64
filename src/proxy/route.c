/*
 * Routing decisions: which service a Host belongs to, which of its
 * targets a request goes to. No I/O, so the unit tests can run it.
 */
#include "proxy/proxy.h"
#include "proxy/http.h"
#include "proxy/params.h"
#include "util/error.h"
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <strings.h>

int service_name_ok(const char *name)
{
	return service_name_check(name, NULL, 0) == 0;
}

struct service *service_find(struct service *list, const char *name)
{
	for (struct service *s = list; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct service *service_add(struct proxy *px, const char *name)
{
	struct service *s = xcalloc(1, sizeof(*s)), **tail = &px->services;
	s->name = xstrdup(name);
	s->sticky_idle_ms = 5000;
	s->next_gen = 1;
	list_init(&s->held);
	while (*tail)
		tail = &(*tail)->next;
	*tail = s;
	return s;
}

/* Unlink a service from px->services and free it with its targets; nothing may point at it. */
void service_drop(struct proxy *px, struct service *svc)
{
	struct service **pp = &px->services;
	while (*pp && *pp != svc)
		pp = &(*pp)->next;
	if (*pp)
		*pp = svc->next;
	while (svc->targets)
		service_drop_target(svc, svc->targets);
	strlist_clear(&svc->hosts);
	free(svc->health_path);
	free(svc->name);
	free(svc);
}

void service_drop_target(struct service *svc, struct target *t)
{
	struct target **pp = &svc->targets;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	if (svc->cur == t)
		svc->cur = NULL;
	if (svc->prev == t)
		svc->prev = NULL;
	free(t->addr);
	free(t);
}

struct target *target_find(struct service *svc, const char *addr)
{
	for (struct target *t = svc->targets; t; t = t->next)
		if (!strcmp(t->addr, addr))
			return t;
	return NULL;
}

struct target *target_add(struct service *svc, const char *addr, const struct sockaddr_storage *sa, socklen_t len)
{
	struct target *t = xcalloc(1, sizeof(*t));
	t->sa = *sa;
	t->salen = len;
	t->addr = xstrdup(addr);
	t->svc = svc;
	t->health = -1;
	t->state = T_STANDBY;
	list_init(&t->idle);
	list_init(&t->busy);
	t->next = svc->targets;
	svc->targets = t;
	return t;
}

struct target *service_target(struct service *svc, const char *addr)
{
	struct sockaddr_storage sa;
	socklen_t len;
	struct target *t = target_find(svc, addr);
	if (t)
		return t;
	if (proxy_parse_addr(addr, &sa, &len) < 0)
		return NULL;
	return target_add(svc, addr, &sa, len);
}

/*
 * The service for a Host header value (port and trailing dot ignored,
 * case-insensitive), else the default service, else NULL.
 */
struct service *route_service(struct service *list, const char *host, size_t len)
{
	struct service *def = NULL;
	if (host) {
		const char *colon = NULL;
		if (len && host[0] == '[') { /* [v6]:port */
			const char *rb = memchr(host, ']', len);
			if (rb)
				colon = (size_t)(rb + 1 - host) < len && rb[1] == ':' ? rb + 1 : NULL;
		} else {
			colon = memchr(host, ':', len);
		}
		if (colon)
			len = (size_t)(colon - host);
		if (len && host[len - 1] == '.')
			len--;
	}
	for (struct service *s = list; s; s = s->next) {
		if (s->is_default && !def)
			def = s;
		if (!host)
			continue;
		for (size_t i = 0; i < s->hosts.nr; i++)
			if (strlen(s->hosts.items[i]) == len && !strncasecmp(s->hosts.items[i], host, len))
				return s;
	}
	return def;
}

void route_cookie_name(char *buf, size_t len, const struct service *svc)
{
	snprintf(buf, len, "cutover_%s", svc->name);
}

/* The version a request's sticky cookie names: 1 and *gen set, or 0. */
static int cookie_gen(const struct service *svc, const char *cookie_hdr, size_t cookie_len, unsigned *gen)
{
	char name[96], num[12], *end;
	size_t vlen;
	if (!cookie_hdr)
		return 0;
	route_cookie_name(name, sizeof(name), svc);
	const char *v = http_cookie_find(cookie_hdr, cookie_len, name, &vlen);
	if (!v || !vlen || vlen >= sizeof(num) || *v < '0' || *v > '9')
		return 0;
	memcpy(num, v, vlen);
	num[vlen] = 0;
	unsigned long g = strtoul(num, &end, 10);
	if (*end || g > 0xffffffffUL)
		return 0;
	*gen = (unsigned)g;
	return 1;
}

/*
 * The target for one request. Without --sticky, always the current one.
 * With it, a request carrying the cookie of a version that is still
 * draining stays on that version, so that a page view under way never
 * mixes versions; a navigation (a request that starts a page view) and
 * anything else go to the current target, and *set_cookie is raised
 * when the response must move the session to it.
 */
struct target *route_target(struct service *svc, const char *cookie_hdr, size_t cookie_len, int navigation,
			    int *set_cookie)
{
	unsigned gen;
	int has = cookie_gen(svc, cookie_hdr, cookie_len, &gen);
	*set_cookie = 0;
	if (!svc->cur)
		return NULL;
	if (!svc->sticky)
		return svc->cur;
	if (has && gen == svc->cur->gen)
		return svc->cur;
	if (has && !navigation)
		for (struct target *t = svc->targets; t; t = t->next)
			if (t->gen == gen && t->state == T_DRAINING)
				return t;
	*set_cookie = 1;
	return svc->cur;
}
