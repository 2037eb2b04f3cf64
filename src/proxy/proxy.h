#ifndef CUTOVER_PROXY_PROXY_H
#define CUTOVER_PROXY_PROXY_H
#include "proxy/ev.h"
#include "util/buf.h"
#include "util/strlist.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The traffic proxy: shared types. One thread, one epoll loop. Services
 * are picked by Host; each has a current target, maybe a draining one
 * (the previous), and pooled upstream connections per target.
 */

struct list {
	struct list *prev, *next;
};
#define LIST_INIT(l) { &(l), &(l) }
static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
}
static inline int list_empty(const struct list *l)
{
	return l->next == l;
}
static inline void list_add(struct list *head, struct list *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}
static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}
#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Latency histogram bounds in milliseconds (Prometheus: seconds). */
#define METRICS_BUCKETS 13
extern const double metrics_bucket_ms[METRICS_BUCKETS];

struct target_metrics {
	uint64_t by_class[6]; /* index 1..5: 1xx..5xx */
	uint64_t latency[METRICS_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	double latency_sum_ms;
	uint64_t latency_count;
	uint64_t cut; /* requests and tunnels cut at a drain timeout */
};

enum target_state {
	T_STANDBY,  /* known (previous, or being checked), not routed to */
	T_ACTIVE,   /* the current target */
	T_DRAINING, /* was current: finishes its in-flight requests, sticky sessions */
};

struct target {
	char *addr; /* "127.0.0.1:9002" as given */
	struct sockaddr_storage sa;
	socklen_t salen;
	struct service *svc;
	unsigned gen; /* sticky cookie value: which version a session began on */
	enum target_state state;
	int inflight;    /* requests and tunnels being served */
	int health;      /* -1 unknown, 0 failing, 1 healthy (last check) */
	int hc_running;  /* a periodic check is under way */
	int64_t hc_next;
	int64_t last_routed_ms; /* last request routed here, for sticky drains */
	struct list idle;       /* pooled idle upstream connections */
	int nidle;
	struct list busy;       /* upstream connections serving a request or tunnel */
	struct target_metrics m;
	struct target *next;
};

struct op;
struct admin_conn;

struct service {
	char *name;
	struct strlist hosts; /* Host header values (lower case, no port) */
	int is_default;
	int sticky;
	long sticky_idle_ms;
	char *health_path;
	struct target *cur, *prev;
	struct target *targets; /* every target this service has used, for metrics */
	unsigned next_gen;
	int64_t paused_until; /* 0: not paused */
	struct list held;     /* clients whose request waits for resume */
	struct op *op;        /* deploy or rollback in progress */
	struct service *next;
};

struct proxy_config {
	long header_timeout_ms;   /* whole request head, against slowloris */
	long idle_timeout_ms;     /* client keep-alive between requests */
	long body_timeout_ms;     /* between two reads of a request body */
	long connect_timeout_ms;
	long upstream_timeout_ms; /* between two reads of a response */
	long send_timeout_ms;     /* between two writes to a slow client */
	long shutdown_timeout_ms; /* old process during a handover or stop */
	int max_idle_per_target;
	int max_clients;
};

/* A report that is made at most once in a while, counting what it skipped. */
struct ratelimit {
	int64_t last_ms;
	unsigned long suppressed;
	int reported;
};

struct proxy {
	struct ev_loop loop;
	struct proxy_config cfg;
	struct ev_handler listener;
	struct ev_handler admin;
	char *admin_path;
	int admin_owned; /* we bound the path (and unlink it at exit) */
	char *state_path;
	struct service *services;
	struct list clients, upconns_connecting, admins, checks, ops;
	struct list graveyard, up_graveyard; /* closed connections, freed after the event batch */
	int nclients;
	int stopping;  /* no more accepting; close connections as they finish */
	int64_t stop_deadline;
	int exit_code;
	/* handover */
	char *exe;
	char **argv;
	int handover_pid;
	struct ev_handler handover_pipe;
	struct admin_conn *handover_admin;
	/* counters not tied to a service */
	uint64_t accepted, refused[6];
	/* the descriptor budget (limits.c) and accepting (server.c) */
	long nofile;            /* soft RLIMIT_NOFILE */
	int64_t accept_resume;  /* after a descriptor shortage, accept again from then */
	int64_t admin_resume;
	uint64_t fd_shortages;  /* EMFILE and the like, on accept or an upstream socket */
	struct ratelimit accept_log, admin_log, upstream_log, full_log;
};

/* server.c: the loop, listener, timers, shutdown */
int proxy_init(struct proxy *px);
int proxy_run(struct proxy *px);
void proxy_stop(struct proxy *px, const char *why);
int proxy_listen_tcp(const char *addr, int *fd_out);
/* HOST:PORT to an address, a name resolved now (blocking): 0, -1 for a
 * malformed address, -2 when the name does not resolve; the reason in why. */
int proxy_resolve_addr(const char *addr, struct sockaddr_storage *sa, socklen_t *len, char *why, size_t why_len);
/* The same, the reason reported: 0 or -1. */
int proxy_parse_addr(const char *addr, struct sockaddr_storage *sa, socklen_t *len);
/* Whether a connection to `target` reaches a socket listening on `listen`:
 * same port, and the same address, or a wildcard listener and a local
 * target (target_local: the address is one of this host's). Pure. */
int proxy_addr_reaches(const struct sockaddr *listen, const struct sockaddr *target, int target_local);
/* Whether a target at sa would send requests back to this proxy's own listener. */
int proxy_is_self(struct proxy *px, const struct sockaddr_storage *sa);

/* limits.c: the descriptor budget */
#define LIMITS_MAX_CLIENTS 20000
/* descriptors kept for the rest: stdio, epoll, signals, listeners, admin
 * connections, health checks, state file writes, a handover */
#define LIMITS_FD_RESERVE 32
#define LIMITS_LOG_EVERY_MS 10000
#define ACCEPT_BACKOFF_MS 100
/* Client connections that `nofile` descriptors allow: two each (the client
 * and its upstream) after the reserve; at least 1, at most LIMITS_MAX_CLIENTS. */
int limits_max_clients(long nofile);
/* Raise the soft descriptor limit toward what max_clients needs (0: the
 * default, derived from the limit) and set px->nofile, px->cfg.max_clients;
 * warns when an explicit max_clients does not fit. */
void limits_configure(struct proxy *px, int max_clients);
/* Whether err means "out of descriptors or buffers" (EMFILE, ENFILE, ...). */
int limits_fd_shortage(int err);
/* 1 when a report may be made now (*suppressed: how many were skipped
 * since the last one), 0 when it is skipped and counted. */
int ratelimit_pass(struct ratelimit *r, int64_t now, int64_t every_ms, unsigned long *suppressed);
/* Count a descriptor shortage and warn about it ("what: reason (...); then"),
 * at most every LIMITS_LOG_EVERY_MS for each `rl`. */
void proxy_fd_shortage(struct proxy *px, struct ratelimit *rl, const char *what, int err, const char *then);

/* relay.c: client and upstream connections */
void relay_accept(struct proxy *px, int fd, const struct sockaddr *sa);
void relay_sweep(struct proxy *px);
/* Cut what is still in flight on `t` (drain timeout), or only its tunnels;
 * returns how many. Each is counted in t's metrics as cut, never by status. */
int relay_cut_target(struct proxy *px, struct target *t, int tunnels_only);
/* Close pooled idle connections of `t` (it is no longer routed to). */
void relay_close_idle(struct proxy *px, struct target *t);
void relay_release_held(struct proxy *px, struct service *svc);
void relay_stopping(struct proxy *px);
void relay_free_graveyard(struct proxy *px);

/* route.c: pure routing decisions */
struct service *route_service(struct service *list, const char *host, size_t len);
/* The target for a request (sticky cookie, navigation: see route.c); NULL when none. */
struct target *route_target(struct service *svc, const char *cookie_hdr, size_t cookie_len, int navigation,
			    int *set_cookie);
/* "cutover_<service>", the sticky cookie's name, into buf */
void route_cookie_name(char *buf, size_t len, const struct service *svc);
struct service *service_find(struct service *list, const char *name);
struct service *service_add(struct proxy *px, const char *name);
struct target *service_target(struct service *svc, const char *addr); /* find or add; NULL: bad address (reported) */
struct target *target_find(struct service *svc, const char *addr);
/* A new standby target of svc at an address already resolved. */
struct target *target_add(struct service *svc, const char *addr, const struct sockaddr_storage *sa, socklen_t len);
/* Forget a target (a failed deploy's) or a whole service (one a failed first
 * deploy added): nothing may point at them any more (no request, pooled
 * connection or health check). */
void service_drop_target(struct service *svc, struct target *t);
void service_drop(struct proxy *px, struct service *svc);
int service_name_ok(const char *name); /* service_name_check (params.h) without the reason */

/* metrics.c */
void metrics_observe(struct target_metrics *m, int status, double ms);
void metrics_prometheus(struct buf *out, const struct proxy *px);
void metrics_status_json(struct buf *out, const struct proxy *px, const struct service *only);
void metrics_status_text(struct buf *out, const struct proxy *px, const struct service *only);

/* state.c: routing state file */
int state_format(struct buf *out, const struct service *list);
/* Apply a state file's text to px (services, targets); returns 0 or -1
 * with a reason in `why` (line number and what was wrong). */
int state_parse(struct proxy *px, const char *text, char *why, size_t why_len);
/* Queue a save (written by a thread, atomically); returns a number for
 * state_saved, 0 when there is no state file, (uint64_t)-1 on failure. */
uint64_t state_save(struct proxy *px);
/* 1 when that save is on disk, 0 not yet, -1 it failed (reported). */
int state_saved(uint64_t gen);
/* Wait until the saves queued so far are written (at exit). */
void state_flush(void);
/* Save and wait for it: 0 or -1. */
int state_save_wait(struct proxy *px);
int state_load(struct proxy *px);

#endif
