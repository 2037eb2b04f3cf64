/* The proxy's descriptor budget and its rate-limited reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "proxy/proxy.h"
#include <errno.h>

static void test_max_clients_from_descriptor_limit(void **state)
{
	/* two descriptors per connection (client and upstream) after the reserve */
	assert_int_equal(limits_max_clients(64), (64 - LIMITS_FD_RESERVE) / 2);
	assert_int_equal(limits_max_clients(1024), (1024 - LIMITS_FD_RESERVE) / 2);
	assert_int_equal(limits_max_clients(1048576), LIMITS_MAX_CLIENTS);
	/* a limit below the reserve still serves one connection */
	assert_int_equal(limits_max_clients(10), 1);
	assert_int_equal(limits_max_clients(0), 1);
}

static void test_fd_shortage_errors(void **state)
{
	assert_true(limits_fd_shortage(EMFILE));
	assert_true(limits_fd_shortage(ENFILE));
	assert_true(limits_fd_shortage(ENOBUFS));
	assert_false(limits_fd_shortage(ECONNREFUSED));
	assert_false(limits_fd_shortage(EAGAIN));
}

static void test_ratelimit_reports_once_per_interval_with_count(void **state)
{
	struct ratelimit r = { 0 };
	unsigned long more = 99;
	assert_true(ratelimit_pass(&r, 5, 1000, &more));
	assert_int_equal(more, 0);
	/* a burst inside the interval: counted, not reported */
	for (int i = 0; i < 1000000; i++)
		assert_false(ratelimit_pass(&r, 5 + i % 999, 1000, &more));
	assert_false(ratelimit_pass(&r, 1004, 1000, &more));
	assert_true(ratelimit_pass(&r, 1005, 1000, &more));
	assert_int_equal(more, 1000001);
	assert_false(ratelimit_pass(&r, 1006, 1000, &more));
	assert_true(ratelimit_pass(&r, 5000, 1000, &more));
	assert_int_equal(more, 1);
	/* the first report is never held back, whatever the clock says */
	struct ratelimit fresh = { 0 };
	assert_true(ratelimit_pass(&fresh, 0, 1000, &more));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_clients_from_descriptor_limit),
		cmocka_unit_test(test_fd_shortage_errors),
		cmocka_unit_test(test_ratelimit_reports_once_per_interval_with_count),
	};
	return cmocka_run_group_tests_name("proxy_limits", tests, NULL, NULL);
}
