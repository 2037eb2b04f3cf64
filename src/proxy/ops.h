#ifndef CUTOVER_PROXY_OPS_H
#define CUTOVER_PROXY_OPS_H
#include "proxy/proxy.h"

/*
 * Deploy and rollback of one service: health-check the new target, switch
 * new requests to it, let the old one drain, report every step to the
 * admin connection that asked, and end with an exit status for it.
 */
struct admin_conn;

struct op_params {
	const char *service;
	const char *target; /* NULL for a rollback: the previous target */
	const char *health_path;
	long interval_ms, timeout_ms, deadline_ms, drain_ms, sticky_idle_ms;
	long drain_grace_ms; /* -1: default (5s) */
	int successes;
	int sticky;   /* -1: keep the service's setting */
	int is_default; /* -1: keep */
	struct strlist hosts; /* empty: keep */
	int rollback;
};

/* Returns 0 (the op reports through `a` from now on), or an HTTP status
 * (400, 404, 409) with the reason in `why`. */
int op_start(struct proxy *px, const struct op_params *p, struct admin_conn *a, char *why, size_t why_len);
void ops_sweep(struct proxy *px);
/* The admin connection went away; the op carries on without it. */
void op_detach(struct op *op);
/* Pause new requests of a service for at most max_ms, or resume. */
int op_pause(struct proxy *px, const char *service, long max_ms, char *why, size_t why_len);
int op_resume(struct proxy *px, const char *service, char *why, size_t why_len);

/* admin.c, for the ops' reports */
void admin_say(struct admin_conn *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void admin_end(struct admin_conn *a, int exit_code);
/* Listen on the admin socket `path` (or use the inherited fd): 0, -1, or
 * -CUT_USAGE when path is something other than a socket (reported). A stale
 * socket is replaced; one a live proxy answers on, or any other file, is not. */
int admin_listen(struct proxy *px, const char *path, int inherited_fd);
void admin_close_listener(struct proxy *px);
/* Watch the admin socket again once a pause after a descriptor shortage is over. */
void admin_accept_update(struct proxy *px);

#endif
