/* The proxy's routing state file: no value can break its format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "proxy/proxy.h"
#include "util/buf.h"

static struct proxy *new_proxy(void)
{
	struct proxy *px = calloc(1, sizeof(*px));
	list_init(&px->clients);
	return px;
}

static struct service *served(struct proxy *px, const char *name, const char *addr)
{
	struct service *s = service_add(px, name);
	s->cur = service_target(s, addr);
	assert_non_null(s->cur);
	s->cur->state = T_ACTIVE;
	return s;
}

static const char *const hostile[] = {
	"a b", "c,d", "e\r\nservice evil default=1", "%41", "x=y", "#h", "tab\there", "\xc3\xbc", "-", "100%",
};

static void test_state_round_trip_hostile_values(void **state)
{
	struct proxy *px = new_proxy(), *px2 = new_proxy();
	struct service *s = served(px, "app", "127.0.0.1:9002");
	struct buf a = BUF_INIT, b = BUF_INIT;
	char why[128];
	s->health_path = strdup("/up ok\r\nservice evil default=1 %zz");
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++)
		strlist_push(&s->hosts, hostile[i]);
	served(px, "web", "127.0.0.1:9003");
	state_format(&a, px->services);
	/* one line per service and target, whatever the values */
	int lines = 0;
	for (const char *p = a.buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 5);
	assert_non_null(strstr(a.buf, "cutover-proxy-state 2\n"));
	assert_null(strchr(a.buf, '\r'));
	assert_null(strchr(a.buf, '\t'));
	assert_int_equal(state_parse(px2, a.buf, why, sizeof(why)), 0);
	struct service *s2 = service_find(px2->services, "app");
	assert_non_null(s2);
	assert_null(service_find(px2->services, "evil"));
	assert_string_equal(s2->health_path, s->health_path);
	assert_int_equal(s2->hosts.nr, s->hosts.nr);
	for (size_t i = 0; i < s->hosts.nr; i++)
		assert_string_equal(s2->hosts.items[i], s->hosts.items[i]);
	assert_false(s2->is_default);
	assert_string_equal(s2->cur->addr, "127.0.0.1:9002");
	assert_non_null(service_find(px2->services, "web"));
	state_format(&b, px2->services);
	assert_string_equal(a.buf, b.buf);
	buf_release(&a);
	buf_release(&b);
}

static void test_state_plain_values_stay_version_1(void **state)
{
	struct proxy *px = new_proxy();
	struct service *s = served(px, "app", "127.0.0.1:9002");
	struct buf a = BUF_INIT;
	s->health_path = strdup("/up?full=1");
	strlist_push(&s->hosts, "a.example");
	strlist_push(&s->hosts, "b.example");
	state_format(&a, px->services);
	assert_string_equal(a.buf, "cutover-proxy-state 1\n"
				   "service app default=0 sticky=0 sticky-idle=5000 health=/up?full=1 hosts=a.example,b.example gen=1\n"
				   "target app current 127.0.0.1:9002 gen=0\n");
	buf_release(&a);
}

static void test_state_version_1_values_are_read_as_they_are(void **state)
{
	/* written before the escaping: a '%' in a value is the value's own */
	struct proxy *px = new_proxy();
	char why[128];
	assert_int_equal(state_parse(px, "cutover-proxy-state 1\n"
					 "service app default=1 sticky=0 sticky-idle=5000 health=/up%20x hosts=a%41 gen=2\n"
					 "target app current 127.0.0.1:9002 gen=1\n",
				     why, sizeof(why)), 0);
	struct service *s = service_find(px->services, "app");
	assert_string_equal(s->health_path, "/up%20x");
	assert_string_equal(s->hosts.items[0], "a%41");
	/* and in version 2 the escapes are undone, a malformed one refused with its line */
	px = new_proxy();
	assert_int_equal(state_parse(px, "cutover-proxy-state 2\n"
					 "service app default=1 sticky=0 sticky-idle=5000 health=/up%20x hosts=a%2Cb,c gen=2\n"
					 "target app current 127.0.0.1%3A9002 gen=1\n",
				     why, sizeof(why)), 0);
	s = service_find(px->services, "app");
	assert_string_equal(s->health_path, "/up x");
	assert_int_equal(s->hosts.nr, 2);
	assert_string_equal(s->hosts.items[0], "a,b");
	assert_string_equal(s->cur->addr, "127.0.0.1:9002");
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 2\nservice app health=/a%zz\n", why, sizeof(why)),
			 -1);
	assert_string_equal(why, "line 2: malformed %-escape");
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 2\nservice app hosts=a%00\n", why, sizeof(why)),
			 -1);
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state 3\n", why, sizeof(why)), -1);
	assert_string_equal(why, "line 1: unsupported state file version");
	assert_int_equal(state_parse(new_proxy(), "cutover-proxy-state\n", why, sizeof(why)), -1);
}

static void test_state_leaves_out_services_without_a_target(void **state)
{
	/* a first deploy still checking its target is not routing state yet */
	struct proxy *px = new_proxy();
	struct buf a = BUF_INIT;
	struct service *s = service_add(px, "new");
	service_target(s, "127.0.0.1:9009");
	served(px, "app", "127.0.0.1:9002");
	state_format(&a, px->services);
	assert_null(strstr(a.buf, "new"));
	assert_null(strstr(a.buf, "9009"));
	assert_non_null(strstr(a.buf, "service app "));
	buf_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_round_trip_hostile_values),
		cmocka_unit_test(test_state_plain_values_stay_version_1),
		cmocka_unit_test(test_state_version_1_values_are_read_as_they_are),
		cmocka_unit_test(test_state_leaves_out_services_without_a_target),
	};
	return cmocka_run_group_tests_name("proxy_state", tests, NULL, NULL);
}
