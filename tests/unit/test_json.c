/* JSON writer escaping and the flat-object reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/json.h"
#include "util/error.h"

static void assert_escapes(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	json_add_str(&b, in);
	assert_string_equal(b.buf, want);
	buf_release(&b);
}

static void escapes_quotes_backslash_and_controls(void **state)
{
	assert_escapes("", "\"\"");
	assert_escapes("plain", "\"plain\"");
	assert_escapes("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	assert_escapes("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	assert_escapes("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
}

static void passes_valid_utf8_through(void **state)
{
	assert_escapes("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"");
}

static void replaces_invalid_utf8(void **state)
{
	/* lone continuation, bad lead bytes, truncated sequence before ASCII */
	assert_escapes("a\x80z", "\"a\\ufffdz\"");
	assert_escapes("\xc0\xaf", "\"\\ufffd\\ufffd\"");          /* overlong '/' */
	assert_escapes("\xff", "\"\\ufffd\"");
	assert_escapes("\xe2\x82z", "\"\\ufffdz\"");               /* one U+FFFD for the subpart */
	assert_escapes("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* UTF-16 surrogate */
	assert_escapes("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	assert_escapes("\xf0\x9f\x9a", "\"\\ufffd\"");             /* truncated at the end */
}

static void writer_places_commas_and_nests(void **state)
{
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);

	json_obj_begin(&w);
	json_key_str(&w, "id", "r1");
	json_key_int(&w, "size", -42);
	json_key_bool(&w, "pinned", 1);
	json_key(&w, "marks");
	json_arr_begin(&w);
	json_str(&w, "current");
	json_str(&w, NULL);
	json_int(&w, INT64_MAX);
	json_arr_end(&w);
	json_key(&w, "empty");
	json_arr_begin(&w);
	json_arr_end(&w);
	json_key(&w, "sub");
	json_obj_begin(&w);
	json_key(&w, "n");
	json_null(&w);
	json_key_bool(&w, "f", 0);
	json_obj_end(&w);
	json_obj_end(&w);
	assert_string_equal(b.buf, "{\"id\":\"r1\",\"size\":-42,\"pinned\":true,"
				   "\"marks\":[\"current\",null,9223372036854775807],"
				   "\"empty\":[],\"sub\":{\"n\":null,\"f\":false}}");
	assert_int_equal(w.depth, 0);
	buf_release(&b);
}

static void writer_allows_sixteen_levels(void **state)
{
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);
	for (int i = 0; i < 16; i++)
		json_arr_begin(&w);
	json_int(&w, 1);
	json_int(&w, 2);
	for (int i = 0; i < 16; i++)
		json_arr_end(&w);
	assert_string_equal(b.buf, "[[[[[[[[[[[[[[[[1,2]]]]]]]]]]]]]]]]");
	buf_release(&b);
}

static void round_trips_what_the_writer_produces(void **state)
{
	static const char *nasty[] = {
		"", "plain", "quote\" back\\ slash/", "ctl\x01\x02\x1f\x7f", "nl\n\r\t\b\f",
		"caf\xc3\xa9", "\xf0\x9f\x9a\x80 rocket", "\xe2\x80\xa8 line sep",
	};
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);
	struct json_flat o = JSON_FLAT_INIT;
	char key[16];

	json_obj_begin(&w);
	for (size_t i = 0; i < ARRAY_SIZE(nasty); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		json_key_str(&w, key, nasty[i]);
	}
	json_key_int(&w, "n", INT64_MIN);
	json_key_bool(&w, "t", 1);
	json_key_bool(&w, "f", 0);
	json_key_str(&w, "nul", NULL);
	json_key_str(&w, "k\"ey\n", "v");
	json_obj_end(&w);

	assert_int_equal(json_flat_parse(&o, b.buf, b.len), 0);
	assert_int_equal(o.nr, ARRAY_SIZE(nasty) + 5);
	for (size_t i = 0; i < ARRAY_SIZE(nasty); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_non_null(json_flat_get(&o, key));
		assert_string_equal(json_flat_get(&o, key), nasty[i]);
	}
	assert_string_equal(json_flat_get(&o, "n"), "-9223372036854775808");
	assert_string_equal(json_flat_get(&o, "t"), "true");
	assert_string_equal(json_flat_get(&o, "f"), "false");
	assert_null(json_flat_get(&o, "nul"));
	assert_string_equal(o.keys[ARRAY_SIZE(nasty) + 3], "nul");
	assert_string_equal(json_flat_get(&o, "k\"ey\n"), "v");
	assert_null(json_flat_get(&o, "absent"));
	json_flat_release(&o);
	buf_release(&b);
}

static void reads_unicode_escapes_and_surrogate_pairs(void **state)
{
	struct json_flat o = JSON_FLAT_INIT;
	const char *text = " {\"a\" : \"\\u00e9\\u20AC\\ud83d\\ude80\\/\" , \"b\":1.5e-3,\"c\":0}\n";

	assert_int_equal(json_flat_parse(&o, text, strlen(text)), 0);
	assert_string_equal(json_flat_get(&o, "a"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80/");
	assert_string_equal(json_flat_get(&o, "b"), "1.5e-3");
	assert_string_equal(json_flat_get(&o, "c"), "0");
	json_flat_release(&o);

	assert_int_equal(json_flat_parse(&o, "{}", 2), 0);
	assert_int_equal(o.nr, 0);
	json_flat_release(&o);
}

static void reuses_an_object_and_keeps_it_on_failure(void **state)
{
	struct json_flat o = JSON_FLAT_INIT;
	assert_int_equal(json_flat_parse(&o, "{\"a\":\"1\"}", 9), 0);
	assert_int_equal(json_flat_parse(&o, "{\"b\":\"2\"}", 9), 0);
	assert_null(json_flat_get(&o, "a"));
	assert_string_equal(json_flat_get(&o, "b"), "2");
	assert_int_equal(json_flat_parse(&o, "{\"c\":", 5), -1);
	assert_string_equal(json_flat_get(&o, "b"), "2");
	json_flat_release(&o);
}

static void rejects_malformed_input(void **state)
{
	static const char *bad[] = {
		"", "   ", "[]", "\"s\"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1}x", "{\"a\":1}{}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}", "{a:1}",
		"{'a':1}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":01}",
		"{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":-}",
		"{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
		"{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ud83dx\"}", "{\"a\":\"\\ude80\"}",
		"{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"tab\there\"}",
		"{\"a\":\"nl\nhere\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":1,\"a\":2}",
		"{\"a\":null,\"a\":null}", "{\"a\" 1}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct json_flat o = JSON_FLAT_INIT;
		if (json_flat_parse(&o, bad[i], strlen(bad[i])) != -1)
			fail_msg("accepted malformed input #%zu: %s", i, bad[i]);
		assert_int_equal(o.nr, 0);
	}
}

static void respects_the_length_not_the_nul(void **state)
{
	struct json_flat o = JSON_FLAT_INIT;
	const char text[] = "{\"a\":\"b\"}\0garbage";
	assert_int_equal(json_flat_parse(&o, text, sizeof(text) - 1), -1);
	assert_int_equal(json_flat_parse(&o, text, 9), 0);
	assert_string_equal(json_flat_get(&o, "a"), "b");
	/* a truncated buffer must not be read past its end */
	assert_int_equal(json_flat_parse(&o, text, 8), -1);
	json_flat_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes_quotes_backslash_and_controls),
		cmocka_unit_test(passes_valid_utf8_through),
		cmocka_unit_test(replaces_invalid_utf8),
		cmocka_unit_test(writer_places_commas_and_nests),
		cmocka_unit_test(writer_allows_sixteen_levels),
		cmocka_unit_test(round_trips_what_the_writer_produces),
		cmocka_unit_test(reads_unicode_escapes_and_surrogate_pairs),
		cmocka_unit_test(reuses_an_object_and_keeps_it_on_failure),
		cmocka_unit_test(rejects_malformed_input),
		cmocka_unit_test(respects_the_length_not_the_nul),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
