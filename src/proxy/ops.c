#include "proxy/ops.h"
#include "proxy/health.h"
#include "proxy/params.h"
#include "util/error.h"
#include <stdio.h>

/*
 * HEALTH: checking the new target. DRAIN: switched; the old target
 * finishes its requests (and, sticky, serves the sessions that began on
 * it). GRACE: a sticky drain reached its limit: no more sessions go to the
 * old target, what it has in flight gets drain_grace_ms to finish.
 */
enum op_phase { OP_HEALTH, OP_DRAIN, OP_GRACE };

struct op {
	struct proxy *px;
	struct list link; /* px->ops */
	struct service *svc;
	struct admin_conn *admin;
	int rollback;
	struct target *to, *from;
	char *health_path;
	long interval_ms, timeout_ms, drain_ms, grace_ms;
	int need, successes, checks;
	int sticky;
	enum op_phase phase;
	struct health_check *hc;
	int64_t health_deadline, next_check, drain_deadline, grace_deadline, started;
	int grace_inflight; /* in flight when the grace began */
	/* the deploy's service settings: applied at the switch, so that a deploy
	 * that fails changes nothing (-1, empty: keep) */
	struct strlist hosts;
	int is_default;
	long sticky_idle_ms;
	int new_service, new_target; /* added by this deploy: dropped when it fails */
	char last_why[160];
	uint64_t saved; /* state_save() of the switch; the op ends once it is on disk */
};

static void say(struct op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct op *op, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (op->admin)
		admin_say(op->admin, "%s", msg);
}

static void op_end(struct op *op, int code)
{
	if (op->saved && state_saved(op->saved) < 0)
		say(op, "warning: the routing state file was not written; a restarted proxy would route as before this deploy");
	if (op->hc)
		health_cancel(op->hc);
	if (op->admin)
		admin_end(op->admin, code);
	op->svc->op = NULL;
	list_del(&op->link);
	strlist_clear(&op->hosts);
	free(op->health_path);
	free(op);
}

/* The service takes the deploy's settings (the switch, or a deploy to the current target). */
static void apply_settings(struct op *op)
{
	struct service *svc = op->svc;
	int any = 0;
	if (op->hosts.nr) {
		strlist_clear(&svc->hosts);
		for (size_t i = 0; i < op->hosts.nr; i++) {
			char *h = xstrdup(op->hosts.items[i]);
			for (char *c = h; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			strlist_push(&svc->hosts, h);
			free(h);
		}
	}
	for (struct service *s = op->px->services; s; s = s->next) {
		if (op->is_default == 1)
			s->is_default = 0;
		any |= s->is_default;
	}
	/* the first service without hosts takes everything else */
	if (op->is_default == 1 || (!any && !svc->hosts.nr))
		svc->is_default = 1;
	if (op->health_path) {
		free(svc->health_path);
		svc->health_path = xstrdup(op->health_path);
	}
	if (op->sticky_idle_ms >= 0)
		svc->sticky_idle_ms = op->sticky_idle_ms;
	svc->sticky = op->sticky;
}

/*
 * The target never became healthy: end the op with status 1, and forget
 * the target it added (never routed to: no request or pooled connection
 * uses it) and the service too when this was its first deploy.
 */
static void op_fail(struct op *op)
{
	struct proxy *px = op->px;
	struct service *svc = op->svc;
	struct target *to = op->to;
	int drop_target = op->new_target, drop_service = op->new_service;
	if (to->state == T_STANDBY)
		relay_close_idle(px, to);
	op_end(op, 1);
	if (drop_service)
		service_drop(px, svc);
	else if (drop_target && to != svc->cur && to != svc->prev)
		service_drop_target(svc, to);
}

void op_detach(struct op *op)
{
	op->admin = NULL;
}

static void health_done(void *arg, int ok, const char *why)
{
	struct op *op = arg;
	op->hc = NULL;
	op->checks++;
	if (ok) {
		op->successes++;
		say(op, "health: '%s' %s (%d/%d)", op->to->addr, why, op->successes, op->need);
	} else {
		op->successes = 0;
		snprintf(op->last_why, sizeof(op->last_why), "%s", why);
		say(op, "health: '%s' failing: %s", op->to->addr, why);
	}
	op->next_check = op->px->loop.now + op->interval_ms;
}

static void do_switch(struct op *op)
{
	struct proxy *px = op->px;
	struct service *svc = op->svc;
	struct target *from = svc->cur;

	op->to->state = T_ACTIVE;
	op->to->gen = svc->next_gen++;
	svc->cur = op->to;
	apply_settings(op);
	if (from && from != op->to) {
		from->state = T_DRAINING;
		svc->prev = from;
	}
	op->from = from != op->to ? from : NULL;
	op->saved = state_save(px);
	if (op->from)
		say(op, "switched '%s' to '%s' (was '%s')", svc->name, op->to->addr, op->from->addr);
	else
		say(op, "switched '%s' to '%s'", svc->name, op->to->addr);
	op->phase = OP_DRAIN;
	op->drain_deadline = px->loop.now + op->drain_ms;
}

static double secs(int64_t ms)
{
	return (double)ms / 1000;
}

/* The old target is idle: it goes to standby, its pooled connections stay
 * (a rollback starts warm; they go when the old version closes them or at
 * the idle timeout). */
static void drained(struct op *op, int64_t now)
{
	op->from->state = T_STANDBY;
	say(op, "drained '%s': 0 requests in flight after %.1fs", op->from->addr,
	    secs(now - (op->drain_deadline - op->drain_ms)));
	op_end(op, 0);
}

/* Cut what `from` still has open, report it (never as answered), end the op. */
static void cut_rest(struct op *op, const char *when)
{
	struct target *from = op->from;
	int cut = relay_cut_target(op->px, from, 0);
	from->state = T_STANDBY;
	relay_close_idle(op->px, from);
	if (cut)
		say(op, "warning: %s: cut %d request(s) or tunnel(s) still open on '%s'", when, cut, from->addr);
	else
		say(op, "%s: nothing in flight on '%s'", when, from->addr);
	op_end(op, 0);
}

static void grace_step(struct op *op, int64_t now);

static void drain_step(struct op *op, int64_t now)
{
	struct proxy *px = op->px;
	struct target *from = op->from;
	char when[96];
	if (op->saved && !state_saved(op->saved))
		return; /* the switch is not on disk yet */
	if (!from) {
		say(op, "done: nothing to drain");
		op_end(op, 0);
		return;
	}
	int sticky_busy = op->sticky && now - from->last_routed_ms < op->svc->sticky_idle_ms;
	if (from->inflight == 0 && !sticky_busy) {
		drained(op, now);
		return;
	}
	if (now < op->drain_deadline)
		return;
	snprintf(when, sizeof(when), "drain timeout after %.1fs", secs(op->drain_ms));
	if (!op->sticky || op->grace_ms <= 0) {
		/* every request in flight began before the switch and had the whole drain */
		cut_rest(op, when);
		return;
	}
	/*
	 * Sticky: sessions kept the old target busy until the limit. Stop
	 * sending them there (they move at their next request), cut what never
	 * ends by itself (tunnels), and let the requests in flight finish.
	 */
	from->state = T_STANDBY;
	int tunnels = relay_cut_target(px, from, 1);
	op->grace_inflight = from->inflight;
	say(op, "%s: old sessions now go to '%s'; %d request(s) in flight on '%s' get %.1fs to finish%s",
	    when, op->to->addr, from->inflight, from->addr, secs(op->grace_ms),
	    tunnels ? " (tunnels cut)" : "");
	if (tunnels)
		say(op, "warning: cut %d tunnel(s) still open on '%s'", tunnels, from->addr);
	op->phase = OP_GRACE;
	op->grace_deadline = now + op->grace_ms;
	grace_step(op, now);
}

static void grace_step(struct op *op, int64_t now)
{
	char when[96];
	if (op->from->inflight == 0) {
		relay_close_idle(op->px, op->from);
		say(op, "drained '%s': %d request(s) finished in the grace, after %.1fs in all", op->from->addr,
		    op->grace_inflight, secs(now - (op->drain_deadline - op->drain_ms)));
		op_end(op, 0);
		return;
	}
	if (now < op->grace_deadline)
		return;
	snprintf(when, sizeof(when), "drain grace of %.1fs over", secs(op->grace_ms));
	cut_rest(op, when);
}

static void op_step(struct op *op)
{
	struct proxy *px = op->px;
	int64_t now = px->loop.now;

	if (op->phase == OP_HEALTH) {
		if (op->successes >= op->need) {
			do_switch(op);
		} else if (now >= op->health_deadline) {
			char still[200];
			if (op->svc->cur)
				snprintf(still, sizeof(still), "'%s' still serves '%s'", op->svc->cur->addr, op->svc->name);
			else
				snprintf(still, sizeof(still), "'%s' is not served yet", op->svc->name);
			say(op, "error: '%s' did not become healthy within %.1fs (%d checks): %s; %s", op->to->addr,
			    secs(now - op->started), op->checks,
			    op->last_why[0] ? op->last_why : "no passing check", still);
			op_fail(op);
			return;
		} else if (!op->hc && now >= op->next_check) {
			op->hc = health_start(px, op->to, op->health_path, op->timeout_ms, health_done, op);
			return;
		} else {
			return;
		}
	}
	if (op->phase == OP_DRAIN)
		drain_step(op, now);
	else if (op->phase == OP_GRACE)
		grace_step(op, now);
}

void ops_sweep(struct proxy *px)
{
	struct list *l, *next;
	for (l = px->ops.next; l != &px->ops; l = next) {
		next = l->next;
		op_step(container_of(l, struct op, link));
	}
}

/*
 * The target a deploy goes to: one the service knows, or a new address,
 * resolved now (*added set; the caller adds it). Returns 0 or an HTTP
 * status with the reason: 400 malformed or the proxy's own address, 502
 * the name does not resolve.
 */
static int deploy_target(struct proxy *px, struct service *svc, const char *addr, struct target **to,
			 struct sockaddr_storage *sa, socklen_t *salen, int *added, char *why, size_t why_len)
{
	*to = svc ? target_find(svc, addr) : NULL;
	*added = !*to;
	if (*to) {
		*sa = (*to)->sa;
	} else {
		int rc = proxy_resolve_addr(addr, sa, salen, why, why_len);
		if (rc < 0)
			return rc == -2 ? 502 : 400;
	}
	if (proxy_is_self(px, sa)) {
		snprintf(why, why_len, "target '%s' is this proxy's own listening address: requests would loop", addr);
		return 400;
	}
	return 0;
}

int op_start(struct proxy *px, const struct op_params *p, struct admin_conn *a, char *why, size_t why_len)
{
	struct service *svc = service_find(px->services, p->service);
	struct target *to;
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	int new_service = 0, new_target = 0, status;

	if (service_name_check(p->service, why, why_len) < 0)
		return 400;
	if (px->stopping) {
		snprintf(why, why_len, "the proxy is stopping or handing over");
		return 409;
	}
	if (svc && svc->op) {
		snprintf(why, why_len, "a deploy of '%s' is already in progress", p->service);
		return 409;
	}
	if (p->rollback) {
		if (!svc) {
			snprintf(why, why_len, "no service '%s'", p->service);
			return 404;
		}
		if (!svc->prev) {
			snprintf(why, why_len, "service '%s' has no previous target to roll back to", p->service);
			return 404;
		}
		to = svc->prev;
	} else {
		if ((status = deploy_target(px, svc, p->target, &to, &sa, &salen, &new_target, why, why_len)))
			return status;
		if (!svc) {
			svc = service_add(px, p->service);
			new_service = 1;
		}
		if (new_target)
			to = target_add(svc, p->target, &sa, salen);
	}

	struct op *op = xcalloc(1, sizeof(*op));
	op->px = px;
	op->svc = svc;
	op->admin = a;
	op->rollback = p->rollback;
	op->to = to;
	op->new_service = new_service;
	op->new_target = new_target;
	for (size_t i = 0; i < p->hosts.nr; i++)
		strlist_push(&op->hosts, p->hosts.items[i]);
	op->is_default = p->is_default;
	op->sticky_idle_ms = p->sticky_idle_ms;
	op->health_path = p->health_path && p->health_path[0] ? xstrdup(p->health_path)
			  : svc->health_path ? xstrdup(svc->health_path) : NULL;
	op->interval_ms = p->interval_ms > 0 ? p->interval_ms : 1000;
	op->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 2000;
	op->drain_ms = p->drain_ms >= 0 ? p->drain_ms : 30000;
	op->grace_ms = p->drain_grace_ms >= 0 ? p->drain_grace_ms : 5000;
	op->need = p->successes > 0 ? p->successes : 3;
	op->sticky = p->sticky >= 0 ? p->sticky : svc->sticky;
	op->started = px->loop.now;
	op->health_deadline = px->loop.now + (p->deadline_ms > 0 ? p->deadline_ms : 30000);
	op->next_check = px->loop.now;
	op->phase = OP_HEALTH;
	svc->op = op;
	list_add(&px->ops, &op->link);
	if (svc->cur == to && to->state == T_ACTIVE) {
		apply_settings(op);
		say(op, "'%s' already serves '%s'%s", to->addr, svc->name, svc->sticky ? " (sticky sessions on)" : "");
		state_save_wait(px);
		op_end(op, 0);
		return 0;
	}
	say(op, "%s '%s' to '%s': checking %s every %ldms, %d passes needed", p->rollback ? "rolling back" : "deploying",
	    svc->name, to->addr, op->health_path ? op->health_path : "TCP connect", op->interval_ms, op->need);
	op_step(op);
	return 0;
}

int op_pause(struct proxy *px, const char *service, long max_ms, char *why, size_t why_len)
{
	struct service *svc = service_find(px->services, service);
	if (!svc) {
		snprintf(why, why_len, "no service '%s'", service);
		return 404;
	}
	svc->paused_until = px->loop.now + (max_ms > 0 ? max_ms : 30000);
	return 0;
}

int op_resume(struct proxy *px, const char *service, char *why, size_t why_len)
{
	struct service *svc = service_find(px->services, service);
	if (!svc) {
		snprintf(why, why_len, "no service '%s'", service);
		return 404;
	}
	svc->paused_until = 0;
	relay_release_held(px, svc);
	return 0;
}
