/* Proxy routing, sticky versions, the state file, metrics and admin queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "proxy/proxy.h"
#include "proxy/params.h"
#include "util/buf.h"

static struct proxy *new_proxy(void)
{
	struct proxy *px = calloc(1, sizeof(*px));
	list_init(&px->clients);
	return px;
}

static void test_host_picks_service_else_default(void **state)
{
	struct proxy *px = new_proxy();
	struct service *shop = service_add(px, "shop"), *web = service_add(px, "web");
	strlist_push(&shop->hosts, "shop.example");
	web->is_default = 1;
	assert_ptr_equal(route_service(px->services, "shop.example", 12), shop);
	assert_ptr_equal(route_service(px->services, "SHOP.example:8080", 17), shop);
	assert_ptr_equal(route_service(px->services, "shop.example.", 13), shop);
	assert_ptr_equal(route_service(px->services, "other.example", 13), web);
	assert_ptr_equal(route_service(px->services, NULL, 0), web);
	web->is_default = 0;
	assert_null(route_service(px->services, "other.example", 13));
}

static void test_service_names(void **state)
{
	assert_true(service_name_ok("app-1.prod_x"));
	assert_false(service_name_ok(""));
	assert_false(service_name_ok("a b"));
	assert_false(service_name_ok("a;b"));
	assert_false(service_name_ok("a\"b"));
}

static void test_sticky_cookie_keeps_old_version_while_draining(void **state)
{
	struct proxy *px = new_proxy();
	struct service *s = service_add(px, "app");
	struct target *old = service_target(s, "127.0.0.1:9001"), *new = service_target(s, "127.0.0.1:9002");
	int set;
	assert_non_null(old);
	old->gen = 1;
	new->gen = 2;
	s->cur = new;
	new->state = T_ACTIVE;
	old->state = T_DRAINING;

	/* not sticky: everything to the current target */
	assert_ptr_equal(route_target(s, "cutover_app=1", 13, 0, &set), new);
	assert_false(set);

	s->sticky = 1;
	assert_ptr_equal(route_target(s, "cutover_app=1", 13, 0, &set), old);
	assert_false(set);
	assert_ptr_equal(route_target(s, "x=y; cutover_app=2", 18, 0, &set), new);
	assert_false(set);
	/* a new session starts on the new version and gets the cookie */
	assert_ptr_equal(route_target(s, NULL, 0, 0, &set), new);
	assert_true(set);
	assert_ptr_equal(route_target(s, "cutover_app=junk", 16, 0, &set), new);
	assert_true(set);
	/* a navigation starts a page view on the current version and moves the session there */
	assert_ptr_equal(route_target(s, "cutover_app=1", 13, 1, &set), new);
	assert_true(set);
	assert_ptr_equal(route_target(s, "cutover_app=2", 13, 1, &set), new);
	assert_false(set);
	assert_ptr_equal(route_target(s, NULL, 0, 1, &set), new);
	assert_true(set);
	/* a cookie that names no version, or one too large, starts over */
	assert_ptr_equal(route_target(s, "cutover_app=-1", 14, 0, &set), new);
	assert_true(set);
	assert_ptr_equal(route_target(s, "cutover_app=4294967297", 22, 0, &set), new);
	assert_true(set);
	/* once the old version is drained, its sessions move over */
	old->state = T_STANDBY;
	assert_ptr_equal(route_target(s, "cutover_app=1", 13, 0, &set), new);
	assert_true(set);
	char name[64];
	route_cookie_name(name, sizeof(name), s);
	assert_string_equal(name, "cutover_app");
}

static void test_no_target_no_route(void **state)
{
	struct proxy *px = new_proxy();
	struct service *s = service_add(px, "app");
	int set;
	assert_null(route_target(s, NULL, 0, 0, &set));
	assert_null(service_target(s, "nohost"));
	assert_null(service_target(s, "127.0.0.1:0"));
	assert_null(service_target(s, "127.0.0.1:99999"));
}

static void test_state_round_trip(void **state)
{
	struct proxy *px = new_proxy(), *px2 = new_proxy();
	struct service *s = service_add(px, "app");
	struct buf a = BUF_INIT, b = BUF_INIT;
	char why[128];
	s->is_default = 1;
	s->sticky = 1;
	s->health_path = strdup("/up");
	strlist_push(&s->hosts, "a.example");
	strlist_push(&s->hosts, "b.example");
	s->cur = service_target(s, "127.0.0.1:9002");
	s->cur->gen = 6;
	s->cur->state = T_ACTIVE;
	s->prev = service_target(s, "127.0.0.1:9001");
	s->prev->gen = 5;
	s->next_gen = 7;
	service_add(px, "empty");
	state_format(&a, px->services);
	assert_int_equal(state_parse(px2, a.buf, why, sizeof(why)), 0);
	state_format(&b, px2->services);
	assert_string_equal(a.buf, b.buf);
	struct service *s2 = service_find(px2->services, "app");
	assert_non_null(s2);
	assert_string_equal(s2->cur->addr, "127.0.0.1:9002");
	assert_int_equal(s2->cur->state, T_ACTIVE);
	assert_string_equal(s2->prev->addr, "127.0.0.1:9001");
	assert_int_equal(s2->prev->state, T_STANDBY);
	assert_int_equal(s2->next_gen, 7);
	assert_string_equal(s2->health_path, "/up");
	assert_true(s2->sticky);
	buf_release(&a);
	buf_release(&b);
}

static void test_state_rejects_garbage(void **state)
{
	char why[128];
	struct proxy *px = new_proxy();
	assert_int_equal(state_parse(px, "hello\n", why, sizeof(why)), -1);
	assert_string_equal(why, "line 1: not a cutover proxy state file");
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 3\n", why, sizeof(why)), -1);
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 1\ntarget app current 127.0.0.1:1\n", why,
				     sizeof(why)), -1);
	assert_string_equal(why, "line 2: target of an unknown service");
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 1\nservice a/b\n", why, sizeof(why)), -1);
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 1\nservice app\ntarget app current nope\n", why,
				     sizeof(why)), -1);
	/* unknown keys are a newer proxy's: accepted */
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 1\nservice app future=1\n", why, sizeof(why)), 0);
	assert_int_equal(state_parse(new_proxy(), "", why, sizeof(why)), 0);
}

static void test_metrics_histogram_and_prometheus(void **state)
{
	struct proxy *px = new_proxy();
	struct service *s = service_add(px, "app");
	struct target *t = service_target(s, "127.0.0.1:9001");
	struct buf out = BUF_INIT;
	metrics_observe(&t->m, 200, 0.4);
	metrics_observe(&t->m, 204, 3);
	metrics_observe(&t->m, 503, 20000);
	metrics_observe(&t->m, 404, 7);
	assert_int_equal(t->m.by_class[2], 2);
	assert_int_equal(t->m.by_class[4], 1);
	assert_int_equal(t->m.by_class[5], 1);
	assert_int_equal(t->m.latency[0], 1);              /* <= 1ms */
	assert_int_equal(t->m.latency[METRICS_BUCKETS], 1); /* +Inf */
	t->inflight = 3;
	t->health = 1;
	metrics_prometheus(&out, px);
	assert_non_null(strstr(out.buf, "cutover_requests_total{service=\"app\",target=\"127.0.0.1:9001\",code=\"2xx\"} 2\n"));
	assert_non_null(strstr(out.buf, "cutover_request_duration_seconds_bucket{service=\"app\",target=\"127.0.0.1:9001\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(out.buf, "cutover_request_duration_seconds_bucket{service=\"app\",target=\"127.0.0.1:9001\",le=\"0.005\"} 2\n"));
	assert_non_null(strstr(out.buf, "cutover_request_duration_seconds_bucket{service=\"app\",target=\"127.0.0.1:9001\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(out.buf, "cutover_request_duration_seconds_count{service=\"app\",target=\"127.0.0.1:9001\"} 4\n"));
	assert_non_null(strstr(out.buf, "cutover_inflight{service=\"app\",target=\"127.0.0.1:9001\"} 3\n"));
	assert_non_null(strstr(out.buf, "cutover_target_healthy{service=\"app\",target=\"127.0.0.1:9001\"} 1\n"));
	assert_non_null(strstr(out.buf, "# TYPE cutover_request_duration_seconds histogram\n"));
	buf_reset(&out);
	metrics_status_json(&out, px, NULL);
	assert_non_null(strstr(out.buf, "\"name\":\"app\""));
	assert_non_null(strstr(out.buf, "\"in_flight\":3"));
	assert_non_null(strstr(out.buf, "\"2xx\":2"));
	buf_release(&out);
}

static void test_admin_query(void **state)
{
	char v[32];
	assert_int_equal(admin_query_get("/deploy?service=app&target=127.0.0.1%3A9002", "target", v, sizeof(v)), 1);
	assert_string_equal(v, "127.0.0.1:9002");
	assert_int_equal(admin_query_get("/deploy?service=app", "target", v, sizeof(v)), 0);
	assert_int_equal(admin_query_get("/deploy?services=app", "service", v, sizeof(v)), 0);
	assert_int_equal(admin_query_get("/x?a=%2", "a", v, sizeof(v)), -1);
	assert_int_equal(admin_query_get("/x?a=%00", "a", v, sizeof(v)), -1);
	assert_int_equal(admin_query_get("/x?a=0123456789012345678901234567890123456789", "a", v, sizeof(v)), -2);
	assert_int_equal(admin_query_get("/x?a=b+c", "a", v, sizeof(v)), 1);
	assert_string_equal(v, "b c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_picks_service_else_default),
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_sticky_cookie_keeps_old_version_while_draining),
		cmocka_unit_test(test_no_target_no_route),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_rejects_garbage),
		cmocka_unit_test(test_metrics_histogram_and_prometheus),
		cmocka_unit_test(test_admin_query),
	};
	return cmocka_run_group_tests_name("proxy_route", tests, NULL, NULL);
}
