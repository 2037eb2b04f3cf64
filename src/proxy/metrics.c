/*
 * Per service and target: requests by status class, a latency histogram,
 * in-flight and health, written as Prometheus text and as JSON (status).
 */
#include "proxy/proxy.h"
#include "util/error.h"
#include <stdio.h>

const double metrics_bucket_ms[METRICS_BUCKETS] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };

void metrics_observe(struct target_metrics *m, int status, double ms)
{
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		m->by_class[cls]++;
	int b = 0;
	while (b < METRICS_BUCKETS && ms > metrics_bucket_ms[b])
		b++;
	m->latency[b]++;
	m->latency_sum_ms += ms;
	m->latency_count++;
}

static const char *state_name(enum target_state s)
{
	return s == T_ACTIVE ? "active" : s == T_DRAINING ? "draining" : "standby";
}

static const char *health_name(int h)
{
	return h < 0 ? "unknown" : h ? "healthy" : "failing";
}

/* Label values are service names and addresses: checked to need no escaping
 * (service_name_ok; addresses are host:port), but escape anyway. */
static void add_label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addch(out, '\\');
		if (*s == '\n') {
			buf_addstr(out, "\\n");
			continue;
		}
		buf_addch(out, *s);
	}
}

static void labels(struct buf *out, const struct service *s, const struct target *t)
{
	buf_addstr(out, "service=\"");
	add_label(out, s->name);
	buf_addstr(out, "\",target=\"");
	add_label(out, t->addr);
	buf_addch(out, '"');
}

void metrics_prometheus(struct buf *out, const struct proxy *px)
{
	static const char *const cls[] = { "", "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct service *s;
	const struct target *t;

	buf_addstr(out, "# HELP cutover_requests_total Requests answered, by status class.\n"
			"# TYPE cutover_requests_total counter\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next)
			for (int c = 1; c <= 5; c++) {
				buf_addstr(out, "cutover_requests_total{");
				labels(out, s, t);
				buf_addf(out, ",code=\"%s\"} %llu\n", cls[c], (unsigned long long)t->m.by_class[c]);
			}
	buf_addstr(out, "# HELP cutover_request_duration_seconds Time from request head to end of response.\n"
			"# TYPE cutover_request_duration_seconds histogram\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next) {
			uint64_t cum = 0;
			for (int b = 0; b <= METRICS_BUCKETS; b++) {
				cum += t->m.latency[b];
				buf_addstr(out, "cutover_request_duration_seconds_bucket{");
				labels(out, s, t);
				if (b < METRICS_BUCKETS)
					buf_addf(out, ",le=\"%g\"} %llu\n", metrics_bucket_ms[b] / 1000,
						 (unsigned long long)cum);
				else
					buf_addf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
			}
			buf_addstr(out, "cutover_request_duration_seconds_sum{");
			labels(out, s, t);
			buf_addf(out, "} %.6f\n", t->m.latency_sum_ms / 1000);
			buf_addstr(out, "cutover_request_duration_seconds_count{");
			labels(out, s, t);
			buf_addf(out, "} %llu\n", (unsigned long long)t->m.latency_count);
		}
	buf_addstr(out, "# HELP cutover_inflight Requests and tunnels being served.\n"
			"# TYPE cutover_inflight gauge\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next) {
			buf_addstr(out, "cutover_inflight{");
			labels(out, s, t);
			buf_addf(out, "} %d\n", t->inflight);
		}
	buf_addstr(out, "# HELP cutover_target_healthy Last health check: 1 passed, 0 failed, -1 not checked.\n"
			"# TYPE cutover_target_healthy gauge\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next) {
			buf_addstr(out, "cutover_target_healthy{");
			labels(out, s, t);
			buf_addf(out, "} %d\n", t->health);
		}
	buf_addstr(out, "# HELP cutover_target_active 1 for the target new requests go to.\n"
			"# TYPE cutover_target_active gauge\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next) {
			buf_addstr(out, "cutover_target_active{");
			labels(out, s, t);
			buf_addf(out, "} %d\n", t->state == T_ACTIVE);
		}
	buf_addstr(out, "# HELP cutover_drain_cut_total Requests and tunnels cut at a drain timeout.\n"
			"# TYPE cutover_drain_cut_total counter\n");
	for (s = px->services; s; s = s->next)
		for (t = s->targets; t; t = t->next) {
			buf_addstr(out, "cutover_drain_cut_total{");
			labels(out, s, t);
			buf_addf(out, "} %llu\n", (unsigned long long)t->m.cut);
		}
	buf_addf(out, "# HELP cutover_connections Client connections open.\n# TYPE cutover_connections gauge\n"
		      "cutover_connections %d\n", px->nclients);
	buf_addf(out, "# HELP cutover_accepted_total Client connections accepted.\n"
		      "# TYPE cutover_accepted_total counter\ncutover_accepted_total %llu\n",
		 (unsigned long long)px->accepted);
	buf_addf(out, "# HELP cutover_max_connections Client connections accepted at a time (--max-connections).\n"
		      "# TYPE cutover_max_connections gauge\ncutover_max_connections %d\n",
		 px->cfg.max_clients);
	buf_addf(out, "# HELP cutover_descriptor_shortages_total Accepts and upstream connects that failed for want of descriptors.\n"
		      "# TYPE cutover_descriptor_shortages_total counter\ncutover_descriptor_shortages_total %llu\n",
		 (unsigned long long)px->fd_shortages);
	buf_addstr(out, "# HELP cutover_refused_total Requests answered by the proxy before routing, by class.\n"
			"# TYPE cutover_refused_total counter\n");
	for (int c = 4; c <= 5; c++)
		buf_addf(out, "cutover_refused_total{code=\"%s\"} %llu\n", cls[c], (unsigned long long)px->refused[c]);
}

static int list_count(const struct list *l)
{
	int n = 0;
	for (const struct list *p = l->next; p != l; p = p->next)
		n++;
	return n;
}

static void json_string(struct buf *out, const char *s)
{
	buf_addch(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_addf(out, "\\%c", c);
		else if (c < 0x20)
			buf_addf(out, "\\u%04x", c);
		else
			buf_addch(out, (char)c);
	}
	buf_addch(out, '"');
}

/* The latency below which `q` of the requests fell, from the histogram (ms; bucket bound). */
static double quantile_ms(const struct target_metrics *m, double q)
{
	if (!m->latency_count)
		return 0;
	uint64_t want = (uint64_t)(q * (double)m->latency_count + 0.999999), cum = 0;
	for (int b = 0; b < METRICS_BUCKETS; b++) {
		cum += m->latency[b];
		if (cum >= want)
			return metrics_bucket_ms[b];
	}
	return metrics_bucket_ms[METRICS_BUCKETS - 1];
}

static void json_target(struct buf *out, const struct target *t)
{
	buf_addstr(out, "{\"address\":");
	json_string(out, t->addr);
	buf_addf(out, ",\"state\":\"%s\",\"health\":\"%s\",\"version\":%u,\"in_flight\":%d,\"idle_connections\":%d,",
		 state_name(t->state), health_name(t->health), t->gen, t->inflight, t->nidle);
	buf_addf(out, "\"requests\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},",
		 (unsigned long long)t->m.by_class[1], (unsigned long long)t->m.by_class[2],
		 (unsigned long long)t->m.by_class[3], (unsigned long long)t->m.by_class[4],
		 (unsigned long long)t->m.by_class[5]);
	buf_addf(out, "\"latency_ms\":{\"count\":%llu,\"sum\":%.3f,\"p50_le\":%g,\"p99_le\":%g,\"buckets\":[",
		 (unsigned long long)t->m.latency_count, t->m.latency_sum_ms, quantile_ms(&t->m, 0.5),
		 quantile_ms(&t->m, 0.99));
	for (int b = 0; b <= METRICS_BUCKETS; b++) {
		if (b < METRICS_BUCKETS)
			buf_addf(out, "%s{\"le\":%g,\"count\":%llu}", b ? "," : "", metrics_bucket_ms[b],
				 (unsigned long long)t->m.latency[b]);
		else
			buf_addf(out, ",{\"le\":\"+Inf\",\"count\":%llu}", (unsigned long long)t->m.latency[b]);
	}
	buf_addf(out, "]},\"cut\":%llu}", (unsigned long long)t->m.cut);
}

void metrics_status_json(struct buf *out, const struct proxy *px, const struct service *only)
{
	buf_addstr(out, "{\"services\":[");
	int first = 1;
	for (const struct service *s = px->services; s; s = s->next) {
		if (only && s != only)
			continue;
		buf_addstr(out, first ? "{" : ",{");
		first = 0;
		buf_addstr(out, "\"name\":");
		json_string(out, s->name);
		buf_addstr(out, ",\"hosts\":[");
		for (size_t i = 0; i < s->hosts.nr; i++) {
			if (i)
				buf_addch(out, ',');
			json_string(out, s->hosts.items[i]);
		}
		buf_addf(out, "],\"default\":%s,\"sticky\":%s,\"paused\":%s,\"held\":%d,\"deploying\":%s,",
			 s->is_default ? "true" : "false", s->sticky ? "true" : "false",
			 s->paused_until ? "true" : "false", list_count(&s->held), s->op ? "true" : "false");
		buf_addstr(out, "\"current\":");
		if (s->cur)
			json_string(out, s->cur->addr);
		else
			buf_addstr(out, "null");
		buf_addstr(out, ",\"previous\":");
		if (s->prev)
			json_string(out, s->prev->addr);
		else
			buf_addstr(out, "null");
		buf_addstr(out, ",\"targets\":[");
		for (const struct target *t = s->targets; t; t = t->next) {
			json_target(out, t);
			if (t->next)
				buf_addch(out, ',');
		}
		buf_addstr(out, "]}");
	}
	buf_addf(out, "],\"connections\":%d,\"accepted\":%llu}\n", px->nclients, (unsigned long long)px->accepted);
}

void metrics_status_text(struct buf *out, const struct proxy *px, const struct service *only)
{
	if (!px->services)
		buf_addstr(out, "no services yet: 'cutover proxy deploy <service> --target HOST:PORT' adds one\n");
	for (const struct service *s = px->services; s; s = s->next) {
		if (only && s != only)
			continue;
		buf_addf(out, "service '%s'%s%s%s", s->name, s->is_default ? " (default)" : "",
			 s->sticky ? " sticky" : "", s->paused_until ? " PAUSED" : "");
		if (s->hosts.nr) {
			buf_addstr(out, " hosts:");
			for (size_t i = 0; i < s->hosts.nr; i++)
				buf_addf(out, " %s", s->hosts.items[i]);
		}
		buf_addstr(out, s->op ? " (deploy in progress)\n" : "\n");
		buf_addf(out, "  %-24s %-9s %-8s %8s %10s %8s %8s %6s %9s\n", "target", "state", "health", "inflight",
			 "2xx", "4xx", "5xx", "cut", "p99<=ms");
		for (const struct target *t = s->targets; t; t = t->next)
			buf_addf(out, "  %-24s %-9s %-8s %8d %10llu %8llu %8llu %6llu %9g\n", t->addr,
				 state_name(t->state), health_name(t->health), t->inflight,
				 (unsigned long long)t->m.by_class[2], (unsigned long long)t->m.by_class[4],
				 (unsigned long long)t->m.by_class[5], (unsigned long long)t->m.cut,
				 quantile_ms(&t->m, 0.99));
	}
}
