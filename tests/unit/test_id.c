/* Release ids: validity, labels, making ids that sort after every existing one, display time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include "release/id.h"
#include "util/error.h"

/* A UTC time_t for a calendar time. */
static time_t at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return timegm(&tm);
}

static void assert_make(const char *const *existing, size_t n, time_t now, const char *label,
			const char *want)
{
	struct strlist l = STRLIST_INIT;
	for (size_t i = 0; i < n; i++)
		strlist_push(&l, existing[i]);
	char *id = release_id_make(&l, now, label);
	assert_string_equal(id, want);
	assert_true(release_id_valid(id));
	free(id);
	strlist_clear(&l);
}

static void ids_valid(void **state)
{
	assert_true(release_id_valid("20261122T083106Z"));
	assert_true(release_id_valid("20261122T083106Z-a1b2c3d"));
	assert_true(release_id_valid("20261122T083106Z-v1.2_rc-3"));
	assert_true(release_id_valid("20000229T235959Z"));
	assert_true(release_id_valid("20261122T083106Z-0123456789012345678901234567890123456789"));
	assert_true(release_id_valid("20261122T083106Z.01"));
	assert_true(release_id_valid("20261122T083106Z.99-abc"));
	assert_string_equal(release_id_label("20261122T083106Z.07-v1.2"), "v1.2");
	assert_string_equal(release_id_label("20261122T083106Z-a1b"), "a1b");
	assert_null(release_id_label("20261122T083106Z.07"));
	assert_null(release_id_label("20261122T083106Z"));
}

static void ids_invalid(void **state)
{
	const char *bad[] = {
		"",
		"2026",
		"20261122T08310Z",           /* one digit short */
		"20261122T0831066Z",         /* one digit long */
		"20261122t083106Z",
		"20261122T083106z",
		"20261122T083106",
		"20261122 083106Z",
		"2026112xT083106Z",
		"20261122T083106ZX",
		"20261122T083106Z-",         /* empty label */
		"20261122T083106Z--x",       /* label starting with '-' */
		"20261122T083106Z-.x",       /* label starting with '.' */
		"20261122T083106Z-a/b",
		"20261122T083106Z-a b",
		"20261122T083106Z_abc",
		"20261122T083106Z-01234567890123456789012345678901234567890", /* 41 */
		"+2026122T083106Z",
		/* out of range fields: they would not sort as the time they stand for */
		"20260001T000000Z",
		"20261301T000000Z",
		"20261100T000000Z",
		"20261132T000000Z",
		"20261122T240000Z",
		"20261122T086000Z",
		"20261122T083160Z",
		/* malformed sequences */
		"20261122T083106Z.00",
		"20261122T083106Z.1",
		"20261122T083106Z.100",
		"20261122T083106Z.ab",
		"20261122T083106Z.01x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (release_id_valid(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
}

static void labels(void **state)
{
	assert_true(release_label_valid("a"));
	assert_true(release_label_valid("a1b2c3d"));
	assert_true(release_label_valid("Release_1.2-rc"));
	assert_true(release_label_valid("0123456789012345678901234567890123456789"));
	assert_true(release_label_valid("a."));
	assert_true(release_label_valid("a-"));
	assert_false(release_label_valid(""));
	assert_false(release_label_valid("01234567890123456789012345678901234567890"));
	assert_false(release_label_valid(".hidden"));
	assert_false(release_label_valid("-opt"));
	assert_false(release_label_valid("a/b"));
	assert_false(release_label_valid(".."));
	assert_false(release_label_valid("a b"));
	assert_false(release_label_valid("a\tb"));
	assert_false(release_label_valid("caf\xc3\xa9"));
	assert_false(release_label_valid("a:b"));
}

static void make_uses_the_clock_when_it_is_ahead(void **state)
{
	time_t now = at(2026, 11, 22, 8, 31, 6);
	assert_make(NULL, 0, now, NULL, "20261122T083106Z");
	const char *old[] = { "20261122T083105Z", "20251231T235959Z-x", "20200101T000000Z" };
	assert_make(old, 3, now, NULL, "20261122T083106Z");
}

static void make_numbers_deploys_within_the_same_second(void **state)
{
	time_t now = at(2026, 11, 22, 8, 31, 6);
	const char *same[] = { "20261122T083106Z" };
	assert_make(same, 1, now, NULL, "20261122T083106Z.01");
	const char *labelled[] = { "20200101T000000Z", "20261122T083106Z-abc" };
	assert_make(labelled, 2, now, "def", "20261122T083106Z.01-def");
	const char *more[] = { "20261122T083106Z-a", "20261122T083106Z.01-b", "20261122T083106Z.02" };
	assert_make(more, 3, now, NULL, "20261122T083106Z.03");
	/* the sequence does not outlive its second */
	assert_make(more, 3, now + 1, "x", "20261122T083107Z-x");
	/* after 99 in one second, the next second */
	const char *full[] = { "20261231T235959Z.99" };
	assert_make(full, 1, at(2026, 12, 31, 23, 59, 59), NULL, "20270101T000000Z");
}

static void make_stays_in_the_newest_second_when_the_clock_is_behind(void **state)
{
	time_t now = at(2026, 11, 22, 8, 31, 6);
	const char *ahead[] = { "20261122T083000Z", "20261122T090000Z-later", "20261122T085959Z" };
	assert_make(ahead, 3, now, NULL, "20261122T090000Z.01");
	const char *far[] = { "20300101T000000Z" };
	assert_make(far, 1, now, "x", "20300101T000000Z.01-x");
}

static void make_ignores_what_is_not_an_id(void **state)
{
	time_t now = at(2026, 11, 22, 8, 31, 6);
	const char *junk[] = { "garbage", "29991231T235959", "29991231T235959Z-", "29991301T000000Z",
			       "29991231T235959Z.00", "20261122T083106Z" };
	assert_make(junk, ARRAY_SIZE(junk), now, NULL, "20261122T083106Z.01");
}

static void make_appends_the_label(void **state)
{
	time_t now = at(2026, 1, 2, 3, 4, 5);
	assert_make(NULL, 0, now, "a1b2c3d", "20260102T030405Z-a1b2c3d");
	assert_make(NULL, 0, now, "", "20260102T030405Z");
}

static void made_ids_sort_as_strings_in_time_order(void **state)
{
	struct strlist l = STRLIST_INIT;
	const char *labels_[] = { "zzz", NULL, "aaa", "m", NULL, "0" };
	time_t now = at(2026, 11, 22, 8, 31, 58);
	char *prev = NULL;
	for (size_t i = 0; i < 12; i++) {
		/* the clock stands still, then jumps back a minute */
		time_t t = i < 6 ? now : now - 60;
		char *id = release_id_make(&l, t, labels_[i % ARRAY_SIZE(labels_)]);
		assert_true(release_id_valid(id));
		if (prev && strcmp(prev, id) >= 0)
			fail_msg("'%s' does not sort after '%s'", id, prev);
		free(prev);
		prev = xstrdup(id);
		strlist_push(&l, id);
		free(id);
	}
	/* twelve deploys with a clock standing still and then behind: one second, numbered */
	assert_string_equal(prev, "20261122T083158Z.11-0");
	free(prev);
	strlist_clear(&l);
}

static void time_of_an_id(void **state)
{
	char out[21];
	assert_int_equal(release_id_time("20261122T083106Z", out), 0);
	assert_string_equal(out, "2026-11-22T08:31:06Z");
	assert_int_equal(release_id_time("20261122T083106Z.03-x", out), 0);
	assert_string_equal(out, "2026-11-22T08:31:06Z");
	assert_int_equal(release_id_time("20000229T235959Z-abc", out), 0);
	assert_string_equal(out, "2000-02-29T23:59:59Z");
	assert_int_equal(release_id_time("2026112", out), -1);
	assert_int_equal(release_id_time("20261122-083106Z", out), -1);
	assert_int_equal(release_id_time("", out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_valid),
		cmocka_unit_test(ids_invalid),
		cmocka_unit_test(labels),
		cmocka_unit_test(make_uses_the_clock_when_it_is_ahead),
		cmocka_unit_test(make_numbers_deploys_within_the_same_second),
		cmocka_unit_test(make_stays_in_the_newest_second_when_the_clock_is_behind),
		cmocka_unit_test(make_ignores_what_is_not_an_id),
		cmocka_unit_test(make_appends_the_label),
		cmocka_unit_test(made_ids_sort_as_strings_in_time_order),
		cmocka_unit_test(time_of_an_id),
	};
	return cmocka_run_group_tests_name("id", tests, NULL, NULL);
}
