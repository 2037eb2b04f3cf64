/* What the proxy's admin API refuses, and why it says so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "proxy/params.h"
#include <arpa/inet.h>
#include <netinet/in.h>

static char why[400];

/* op_query_parse on "/deploy?QUERY": its reason, or "" when accepted */
static const char *deploy(const char *query)
{
	static struct op_query q;
	char url[2048];
	snprintf(url, sizeof(url), "/deploy?%s", query);
	why[0] = 0;
	int rc = op_query_parse(&q, url, 0, why, sizeof(why));
	op_query_release(&q);
	assert_true(rc == 0 ? !why[0] : !!why[0]);
	return why;
}

static void test_service_names_say_what_is_wrong(void **state)
{
	assert_int_equal(service_name_check("app-1.prod_x", why, sizeof(why)), 0);
	assert_int_equal(service_name_check(
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", why, sizeof(why)), -1);
	assert_string_equal(why, "service name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is too "
				 "long (65 characters, at most 64)");
	assert_int_equal(service_name_check("a b", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid service name 'a b' (letters, digits, '-', '_', '.')");
	assert_int_equal(service_name_check("", why, sizeof(why)), -1);
	assert_string_equal(why, "the service name is empty");
	/* a reason is one line, whatever the value */
	assert_int_equal(service_name_check("x\nexit: 0", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid service name 'x\\x0aexit: 0' (letters, digits, '-', '_', '.')");
	assert_false(service_name_ok("a\"b"));
}

static void test_host_names(void **state)
{
	const char *good[] = { "shop.example", "WWW.Shop.example", "a", "x_y.example", "10.0.0.1", "[::1]", "a-b.c" };
	const char *bad[] = { "", "a b", "a\r\nb", "a,b", "-a.example", "a-.example", "a..b", ".a", "a.", "*.example",
			      "a:80", "[zz]", "ü.example" };
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(host_name_check(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(host_name_check(bad[i], why, sizeof(why)), -1);
	host_name_check("evil\r\nservice x", why, sizeof(why));
	assert_string_equal(why, "invalid host name 'evil\\x0d\\x0aservice x' (labels of letters, digits, '-' and '_' "
				 "separated by '.', or [IPv6])");
}

static void test_targets_and_health_paths(void **state)
{
	assert_int_equal(target_check("127.0.0.1:9002", why, sizeof(why)), 0);
	assert_int_equal(target_check("app.internal:80", why, sizeof(why)), 0);
	assert_int_equal(target_check("[::1]:80", why, sizeof(why)), 0);
	assert_int_equal(target_check("127.0.0.1", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid target '127.0.0.1' (expected HOST:PORT)");
	assert_int_equal(target_check(":80", why, sizeof(why)), -1);
	assert_int_equal(target_check("127.0.0.1:0", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid port in target '127.0.0.1:0' (1 to 65535)");
	assert_int_equal(target_check("127.0.0.1:65536", why, sizeof(why)), -1);
	assert_int_equal(target_check("127.0.0.1:80x", why, sizeof(why)), -1);
	assert_int_equal(target_check("a b:80", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid host in target 'a b:80' (a name, an IPv4 address or [IPv6])");
	assert_int_equal(target_check("a\n:80", why, sizeof(why)), -1);
	assert_int_equal(health_path_check("/up?x=1", why, sizeof(why)), 0);
	assert_int_equal(health_path_check("up", why, sizeof(why)), -1);
	assert_string_equal(why, "invalid health path 'up': it must start with '/'");
	assert_int_equal(health_path_check("/up HTTP/1.1\r\nX: y", why, sizeof(why)), -1);
}

static void test_query_values(void **state)
{
	char v[32];
	assert_int_equal(admin_query_get("/deploy?service=app&target=127.0.0.1%3A9002", "target", v, sizeof(v)), 1);
	assert_string_equal(v, "127.0.0.1:9002");
	assert_int_equal(admin_query_get("/x?a=%2", "a", v, sizeof(v)), -1);
	assert_int_equal(admin_query_get("/x?a=%zz", "a", v, sizeof(v)), -1);
	assert_int_equal(admin_query_get("/x?a=%00", "a", v, sizeof(v)), -1);
	assert_int_equal(admin_query_get("/x?a=0123456789012345678901234567890123456789", "a", v, sizeof(v)), -2);
	static const char *const keys[] = { "a", "b", NULL };
	assert_int_equal(params_check_keys("/x?a=1&b=2", keys, why, sizeof(why)), 0);
	assert_int_equal(params_check_keys("/x", keys, why, sizeof(why)), 0);
	assert_int_equal(params_check_keys("/x?a=1&c=2", keys, why, sizeof(why)), -1);
	assert_string_equal(why, "unknown parameter 'c'");
	assert_int_equal(params_check_keys("/x?a=1&a=2", keys, why, sizeof(why)), -1);
	assert_string_equal(why, "parameter 'a' is given twice");
}

static void test_deploy_parameters(void **state)
{
	static struct op_query q;
	assert_int_equal(op_query_parse(&q, "/deploy?service=app&target=127.0.0.1%3A9002&health_path=%2Fup&interval=20ms"
					    "&successes=1&sticky=1&default=0&drain=0&hosts=A.example,b.example", 0,
					why, sizeof(why)), 0);
	assert_string_equal(q.p.service, "app");
	assert_string_equal(q.p.target, "127.0.0.1:9002");
	assert_string_equal(q.p.health_path, "/up");
	assert_int_equal(q.p.interval_ms, 20);
	assert_int_equal(q.p.timeout_ms, -1);
	assert_int_equal(q.p.drain_ms, 0);
	assert_int_equal(q.p.successes, 1);
	assert_int_equal(q.p.sticky, 1);
	assert_int_equal(q.p.is_default, 0);
	assert_int_equal(q.p.hosts.nr, 2);
	assert_string_equal(q.p.hosts.items[0], "a.example");
	op_query_release(&q);

	assert_string_equal(deploy("target=127.0.0.1:1"), "missing parameter 'service'");
	assert_string_equal(deploy("service=app"), "missing parameter 'target'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&successes=0"),
			    "'successes' must be a number from 1 to 1000, not '0'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&successes=-3"),
			    "'successes' must be a number from 1 to 1000, not '-3'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&sticky=yes"), "'sticky' must be 0 or 1, not 'yes'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&default=2"), "'default' must be 0 or 1, not '2'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&interval=0"), "'interval' must be at least 1ms, not '0'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&timeout=soon"),
			    "invalid duration 'soon' for 'timeout' (like 500ms, 30s or 2m)");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&drain=25h"), "'drain' must be at most 24h, not '25h'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&hosts=a%2"), "malformed %-escape in parameter 'hosts'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&hosts=a,,b"), "empty host name in 'hosts'");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&hosts=a%0D%0Ab"),
			    "invalid host name 'a\\x0d\\x0ab' (labels of letters, digits, '-' and '_' separated by '.', or [IPv6])");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&health_path=%2Fup%0D%0A"),
			    "invalid health path '/up\\x0d\\x0a': spaces, control characters and non-ASCII bytes must be %-escaped");
	assert_string_equal(deploy("service=app&target=127.0.0.1:1&retries=3"), "unknown parameter 'retries'");
	assert_string_equal(deploy("service=a%0Ab&target=127.0.0.1:1"),
			    "invalid service name 'a\\x0ab' (letters, digits, '-', '_', '.')");
	/* a rollback takes no target, hosts or default */
	static struct op_query r;
	assert_int_equal(op_query_parse(&r, "/rollback?service=app&drain=1s", 1, why, sizeof(why)), 0);
	assert_null(r.p.target);
	assert_int_equal(r.p.drain_ms, 1000);
	assert_int_equal(op_query_parse(&r, "/rollback?service=app&target=127.0.0.1:1", 1, why, sizeof(why)), -1);
	assert_string_equal(why, "unknown parameter 'target'");
	op_query_release(&r);
}

static struct sockaddr_storage sa(const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

static int reaches(const char *lip, int lport, const char *tip, int tport, int local)
{
	struct sockaddr_storage l = sa(lip, lport), t = sa(tip, tport);
	return proxy_addr_reaches((struct sockaddr *)&l, (struct sockaddr *)&t, local);
}

static void test_target_at_the_proxys_own_address(void **state)
{
	assert_true(reaches("127.0.0.1", 8080, "127.0.0.1", 8080, 1));
	assert_false(reaches("127.0.0.1", 8080, "127.0.0.1", 8081, 1));
	assert_false(reaches("127.0.0.1", 8080, "127.0.0.2", 8080, 1));
	/* a wildcard listener takes every local address, of both families when it is IPv6 */
	assert_true(reaches("0.0.0.0", 80, "127.0.0.1", 80, 1));
	assert_true(reaches("0.0.0.0", 80, "10.1.2.3", 80, 1));
	assert_false(reaches("0.0.0.0", 80, "10.1.2.3", 80, 0));
	assert_true(reaches("::", 80, "127.0.0.1", 80, 1));
	assert_true(reaches("::", 80, "::1", 80, 1));
	assert_false(reaches("0.0.0.0", 80, "::1", 80, 1));
	/* 0.0.0.0 as a target is this host */
	assert_true(reaches("127.0.0.1", 80, "0.0.0.0", 80, 1));
	assert_true(reaches("0.0.0.0", 80, "0.0.0.0", 80, 0));
	assert_true(reaches("127.0.0.1", 80, "::ffff:127.0.0.1", 80, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_names_say_what_is_wrong),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_targets_and_health_paths),
		cmocka_unit_test(test_query_values),
		cmocka_unit_test(test_deploy_parameters),
		cmocka_unit_test(test_target_at_the_proxys_own_address),
	};
	return cmocka_run_group_tests_name("proxy_admin", tests, NULL, NULL);
}
