/* cutover.yml loading, typed getters and key checking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>
#include "util/config.h"
#include "util/buf.h"
#include "util/error.h"

static const char *const known_keys[] = {
	"to", "keep", "link_mode", "label", "wait", "shared", "writable", "exclude",
	"hooks.before_switch", "hooks.after_switch", "hooks.after_rollback",
	"check", "check.url", "check.command", "check.timeout", "check.retries", "check.interval",
	NULL,
};

#include "capture.h"

/* Load `text` expecting failure; returns the captured message (free with buf_release). */
static void load_fails(const char *text, const char *want_msg)
{
	struct config cfg = CONFIG_INIT;
	struct capture c;
	capture_start(&c);
	int rc = config_load_mem(&cfg, "cutover.yml", text, strlen(text));
	const char *msg = capture_end(&c);
	if (rc != -CUT_USAGE)
		fail_msg("accepted: %s", text);
	assert_null(cfg.root);
	assert_null(cfg.path);
	if (!strstr(msg, want_msg))
		fail_msg("message '%s' lacks '%s'", msg, want_msg);
	buf_release(&c.out);
}

static void load_ok(struct config *cfg, const char *text)
{
	struct capture c;
	capture_start(&c);
	int rc = config_load_mem(cfg, "cutover.yml", text, strlen(text));
	const char *msg = capture_end(&c);
	if (rc)
		fail_msg("rejected (%d): %s", rc, msg);
	assert_string_equal(msg, "");
	buf_release(&c.out);
}

static const char full_file[] =
	"# deploy settings\n"
	"to: /srv/www\n"
	"keep: 5\n"
	"link_mode: symlink\n"
	"label: 'release: \"v1\"'\n"
	"wait: 2m\n"
	"shared:\n"
	"  - storage\n"
	"  - .env\n"
	"writable: [cache, logs]\n"
	"exclude: .git\n"
	"hooks:\n"
	"  before_switch: make migrate\n"
	"  after_switch:\n"
	"    - systemctl reload php-fpm\n"
	"    - echo done\n"
	"  after_rollback: |\n"
	"    echo rolled back\n"
	"    exit 0\n"
	"check:\n"
	"  url: http://127.0.0.1:8080/health\n"
	"  timeout: 500ms\n"
	"  retries: 3\n"
	"  interval: 1\n";

static void loads_a_full_file(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct strlist l = STRLIST_INIT;
	const char *s;
	int n;
	long ms;

	load_ok(&cfg, full_file);
	assert_int_equal(config_check_keys(&cfg, known_keys), 0);

	assert_int_equal(config_get_str(&cfg, "to", &s), 1);
	assert_string_equal(s, "/srv/www");
	assert_int_equal(config_get_uint(&cfg, "keep", &n), 1);
	assert_int_equal(n, 5);
	assert_int_equal(config_get_str(&cfg, "label", &s), 1);
	assert_string_equal(s, "release: \"v1\"");
	assert_int_equal(config_get_duration(&cfg, "wait", &ms), 1);
	assert_int_equal(ms, 120000);

	assert_int_equal(config_get_list(&cfg, "shared", &l), 1);
	assert_int_equal(l.nr, 2);
	assert_string_equal(l.items[0], "storage");
	assert_string_equal(l.items[1], ".env");
	assert_int_equal(config_get_list(&cfg, "writable", &l), 1); /* appends */
	assert_int_equal(l.nr, 4);
	assert_string_equal(l.items[3], "logs");
	strlist_clear(&l);
	assert_int_equal(config_get_list(&cfg, "exclude", &l), 1);
	assert_int_equal(l.nr, 1);
	assert_string_equal(l.items[0], ".git");
	strlist_clear(&l);

	assert_int_equal(config_get_list(&cfg, "hooks.before_switch", &l), 1);
	assert_int_equal(config_get_list(&cfg, "hooks.after_switch", &l), 1);
	assert_int_equal(config_get_list(&cfg, "hooks.after_rollback", &l), 1);
	assert_int_equal(l.nr, 4);
	assert_string_equal(l.items[0], "make migrate");
	assert_string_equal(l.items[2], "echo done");
	assert_string_equal(l.items[3], "echo rolled back\nexit 0\n");
	strlist_clear(&l);

	assert_int_equal(config_get_str(&cfg, "check.url", &s), 1);
	assert_string_equal(s, "http://127.0.0.1:8080/health");
	assert_int_equal(config_get_duration(&cfg, "check.timeout", &ms), 1);
	assert_int_equal(ms, 500);
	assert_int_equal(config_get_uint(&cfg, "check.retries", &n), 1);
	assert_int_equal(n, 3);
	assert_int_equal(config_get_duration(&cfg, "check.interval", &ms), 1);
	assert_int_equal(ms, 1000);

	/* positions are 1-based and point at the value */
	const struct cfg_node *node = config_get(&cfg, "keep");
	assert_non_null(node);
	assert_int_equal(node->line, 3);
	assert_int_equal(node->col, 7);
	node = config_get(&cfg, "hooks.after_switch");
	assert_int_equal(node->kind, CFG_SEQ);
	assert_int_equal(node->line, 15);
	assert_int_equal(node->items[1]->line, 16);
	assert_int_equal(node->items[1]->col, 7);
	assert_string_equal(cfg.path, "cutover.yml");
	config_release(&cfg);
	assert_null(cfg.root);
}

static void absent_keys_store_nothing(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct strlist l = STRLIST_INIT;
	const char *s = "untouched";
	int n = 42, b = 7;
	long ms = 99;

	load_ok(&cfg, "to: x\ncheck: http://localhost/\n");
	assert_int_equal(config_get_str(&cfg, "label", &s), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(config_get_uint(&cfg, "keep", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(config_get_duration(&cfg, "wait", &ms), 0);
	assert_int_equal(ms, 99);
	assert_int_equal(config_get_bool(&cfg, "x", &b), 0);
	assert_int_equal(b, 7);
	assert_int_equal(config_get_list(&cfg, "shared", &l), 0);
	assert_int_equal(l.nr, 0);
	/* a dotted key through a scalar is absent, not a crash */
	assert_null(config_get(&cfg, "check.url"));
	assert_null(config_get(&cfg, "to.x.y"));
	assert_int_equal(config_get_str(&cfg, "check", &s), 1);
	assert_string_equal(s, "http://localhost/");
	config_release(&cfg);
}

static void empty_files_have_no_root(void **state)
{
	static const char *empty[] = { "", "\n\n", "# only a comment\n", "---\n", "--- ~\n", "null\n" };
	for (size_t i = 0; i < ARRAY_SIZE(empty); i++) {
		struct config cfg = CONFIG_INIT;
		const char *s;
		load_ok(&cfg, empty[i]);
		assert_null(cfg.root);
		assert_int_equal(config_get_str(&cfg, "to", &s), 0);
		assert_int_equal(config_check_keys(&cfg, known_keys), 0);
		config_release(&cfg);
	}
}

static void syntax_errors_carry_line_and_column(void **state)
{
	/* unterminated flow sequence: libyaml notices at the next key */
	load_fails("keep: 5\nshared: [a, b\nlabel: x\n",
		   "'cutover.yml':3:6: did not find expected ',' or ']' "
		   "(while parsing a flow sequence started at line 2)");
	/* a key indented deeper than its sibling */
	load_fails("to: x\n  bad: y\n", "'cutover.yml':2:6: mapping values are not allowed");
	/* a tab where indentation is expected */
	load_fails("to: x\nhooks:\n\tbefore_switch: y\n", "'cutover.yml':3:1: found character that cannot start any token");
	/* a second value on the same key line */
	load_fails("to: a: b\n", "'cutover.yml':1:6: mapping values are not allowed in this context");
	/* unterminated quote */
	load_fails("to: x\nlabel: \"abc\n", "'cutover.yml':3:1: found unexpected end of stream");
	/* the whole message goes through error() */
	load_fails("to: [\n", "cutover: error: 'cutover.yml':");
}

static void encoding_errors_carry_line_and_column(void **state)
{
	load_fails("to: x\nlabel: caf\xc3\n", "'cutover.yml':2:12: invalid trailing UTF-8 octet");
	load_fails("to: x\nlabel: a\x01\n", "'cutover.yml':2:9: control characters are not allowed");
	load_fails("label: \"a\\0b\"\n", "'cutover.yml':1:8: NUL characters are not allowed");
}

static void rejects_duplicate_keys(void **state)
{
	load_fails("keep: 1\nto: x\nkeep: 2\n", "'cutover.yml':3:1: duplicate key 'keep' (first at line 1)");
	load_fails("hooks:\n  after_switch: a\n  after_switch: b\n",
		   "'cutover.yml':3:3: duplicate key 'after_switch'");
	load_fails("check: {url: a, url: b}\n", "'cutover.yml':1:17: duplicate key 'url'");
	/* the same key in different maps is fine */
	struct config cfg = CONFIG_INIT;
	load_ok(&cfg, "check:\n  timeout: 1s\nhooks:\n  timeout: 2s\n");
	config_release(&cfg);
}

static void rejects_what_the_tree_cannot_hold(void **state)
{
	load_fails("base: &b x\nto: *b\n", "'cutover.yml':1:7: anchors are not supported ('&b')");
	load_fails("to: !!str x\n", "'cutover.yml':1:5: tags are not supported");
	load_fails("to: x\n---\nto: y\n", "'cutover.yml':2:1: only one YAML document is allowed");
	load_fails("- a\n- b\n", "'cutover.yml':1:1: the top level must be a mapping");
	load_fails("just text\n", "'cutover.yml':1:1: the top level must be a mapping");
	load_fails("? [a, b]\n: c\n", "'cutover.yml':1:3: mapping keys must be strings");
	/* a stack overflow is not an option */
	struct buf deep = BUF_INIT;
	buf_addstr(&deep, "to: ");
	for (int i = 0; i < 10000; i++)
		buf_addch(&deep, '[');
	load_fails(deep.buf, "nested more than 32 levels deep");
	buf_release(&deep);
}

static void unknown_keys_are_reported_with_a_hint(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct capture c;
	const char *msg;

	load_ok(&cfg, "to: x\nsahred: [a]\nhooks:\n  befor_switch: y\n  zzz: 1\nfrobnicate: 1\nkepe: 2\n");
	capture_start(&c);
	assert_int_equal(config_check_keys(&cfg, known_keys), -CUT_USAGE);
	msg = capture_end(&c);
	/* every unknown key is reported, in file order, each once */
	assert_string_equal(msg,
		"cutover: error: 'cutover.yml':2:1: unknown key 'sahred'; did you mean 'shared'?\n"
		"cutover: error: 'cutover.yml':4:3: unknown key 'hooks.befor_switch'; did you mean 'hooks.before_switch'?\n"
		"cutover: error: 'cutover.yml':5:3: unknown key 'hooks.zzz'\n"
		"cutover: error: 'cutover.yml':6:1: unknown key 'frobnicate'\n"
		"cutover: error: 'cutover.yml':7:1: unknown key 'kepe'; did you mean 'keep'?\n");
	buf_release(&c.out);
	config_release(&cfg);
}

static void key_check_follows_the_shape_of_values(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct capture c;
	const char *msg;

	/* check may be a scalar or a map; hooks must be a map */
	load_ok(&cfg, "check: curl -fsS http://x/\n");
	assert_int_equal(config_check_keys(&cfg, known_keys), 0);
	config_release(&cfg);

	load_ok(&cfg, "check:\n  command: true\n  retries: 2\n");
	assert_int_equal(config_check_keys(&cfg, known_keys), 0);
	config_release(&cfg);

	load_ok(&cfg, "check:\n  uri: http://x/\n");
	capture_start(&c);
	assert_int_equal(config_check_keys(&cfg, known_keys), -CUT_USAGE);
	msg = capture_end(&c);
	assert_non_null(strstr(msg, "'cutover.yml':2:3: unknown key 'check.uri'; did you mean 'check.url'?"));
	buf_release(&c.out);
	config_release(&cfg);

	load_ok(&cfg, "hooks: make\n");
	capture_start(&c);
	assert_int_equal(config_check_keys(&cfg, known_keys), -CUT_USAGE);
	msg = capture_end(&c);
	assert_non_null(strstr(msg, "'cutover.yml':1:8: 'hooks' must be a mapping"));
	buf_release(&c.out);
	config_release(&cfg);

	/* a flat dotted key would pass the check but never be found by config_get */
	load_ok(&cfg, "hooks.before_switch: make\n");
	capture_start(&c);
	assert_int_equal(config_check_keys(&cfg, known_keys), -CUT_USAGE);
	msg = capture_end(&c);
	assert_non_null(strstr(msg, "unknown key 'hooks.before_switch'"));
	buf_release(&c.out);
	config_release(&cfg);
}

/* Run one getter on `text` and expect its message. */
enum getter { G_STR, G_UINT, G_DURATION, G_BOOL, G_LIST };

static void getter_fails(const char *text, enum getter g, const char *key, const char *want)
{
	struct config cfg = CONFIG_INIT;
	struct strlist l = STRLIST_INIT;
	struct capture c;
	const char *s;
	int n = -7, rc = 0;
	long ms = -7;

	load_ok(&cfg, text);
	capture_start(&c);
	switch (g) {
	case G_STR: rc = config_get_str(&cfg, key, &s); break;
	case G_UINT: rc = config_get_uint(&cfg, key, &n); break;
	case G_DURATION: rc = config_get_duration(&cfg, key, &ms); break;
	case G_BOOL: rc = config_get_bool(&cfg, key, &n); break;
	case G_LIST: rc = config_get_list(&cfg, key, &l); break;
	}
	const char *msg = capture_end(&c);
	if (rc != -CUT_USAGE)
		fail_msg("getter accepted '%s' in: %s", key, text);
	if (!strstr(msg, want))
		fail_msg("message '%s' lacks '%s'", msg, want);
	assert_int_equal(n, -7);
	assert_int_equal(ms, -7);
	assert_int_equal(l.nr, 0);
	buf_release(&c.out);
	config_release(&cfg);
}

static void wrong_types_are_reported_at_the_value(void **state)
{
	getter_fails("keep: five\n", G_UINT, "keep", "'cutover.yml':1:7: 'keep' must be a non-negative integer, not 'five'");
	getter_fails("keep: -1\n", G_UINT, "keep", "'cutover.yml':1:7: 'keep' must be a non-negative integer");
	getter_fails("keep: 99999999999\n", G_UINT, "keep", "must be a non-negative integer");
	getter_fails("keep: ' 5'\n", G_UINT, "keep", "must be a non-negative integer");
	getter_fails("keep:\n", G_UINT, "keep", "must be a non-negative integer");
	getter_fails("keep: [1]\n", G_UINT, "keep", "'cutover.yml':1:7: 'keep' must be a non-negative integer");
	getter_fails("to:\n  a: b\n", G_STR, "to", "'cutover.yml':2:3: 'to' must be a string");
	getter_fails("wait: 5x\n", G_DURATION, "wait", "'cutover.yml':1:7: 'wait' must be a duration like 500ms, 30s, 2m or 1h, not '5x'");
	getter_fails("wait: inf\n", G_DURATION, "wait", "must be a duration");
	getter_fails("wait: -1s\n", G_DURATION, "wait", "must be a duration");
	getter_fails("check:\n  timeout: [1s]\n", G_DURATION, "check.timeout", "'cutover.yml':2:12: 'check.timeout' must be a duration");
	getter_fails("x: maybe\n", G_BOOL, "x", "'cutover.yml':1:4: 'x' must be true or false, not 'maybe'");
	getter_fails("shared: {a: b}\n", G_LIST, "shared", "'cutover.yml':1:9: 'shared' must be a string or a list of strings");
	getter_fails("shared:\n  - a\n  - [b]\n", G_LIST, "shared", "'cutover.yml':3:5: 'shared' must be a string or a list of strings");
	/* an empty item is no command and no path: said where it is, not run as "" */
	getter_fails("hooks:\n  before_switch:\n    - make\n    -\n", G_LIST, "hooks.before_switch",
		     "'cutover.yml':4:6: 'hooks.before_switch' has an empty item; remove it");
	getter_fails("shared: [a, '']\n", G_LIST, "shared", "'cutover.yml':1:13: 'shared' has an empty item");
}

static void booleans_and_lists_accept_their_spellings(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct strlist l = STRLIST_INIT;
	static const char *keys[] = { "a", "b", "c", "d", "e", "f", "g" };
	static const int want[] = { 1, 0, 1, 0, 1, 0, 1 };
	int v;

	load_ok(&cfg, "a: true\nb: false\nc: yes\nd: no\ne: On\nf: OFF\ng: 'true'\n"
		      "empty:\nquoted: ''\nseq: []\nnum: [1, two]\n");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		v = -1;
		assert_int_equal(config_get_bool(&cfg, keys[i], &v), 1);
		assert_int_equal(v, want[i]);
	}
	assert_int_equal(config_get_list(&cfg, "empty", &l), 1);
	assert_int_equal(config_get_list(&cfg, "quoted", &l), 1);
	assert_int_equal(config_get_list(&cfg, "seq", &l), 1);
	assert_int_equal(l.nr, 0);
	assert_int_equal(config_get_list(&cfg, "num", &l), 1);
	assert_int_equal(l.nr, 2);
	assert_string_equal(l.items[0], "1");
	assert_string_equal(l.items[1], "two");
	strlist_clear(&l);
	config_release(&cfg);
}

static void durations_in_all_units(void **state)
{
	static const struct {
		const char *text;
		long ms;
	} cases[] = {
		{ "w: 500ms\n", 500 }, { "w: 30s\n", 30000 }, { "w: 2m\n", 120000 },
		{ "w: 1h\n", 3600000 }, { "w: 10\n", 10000 }, { "w: 1.5s\n", 1500 },
		{ "w: 0\n", 0 }, { "w: \"250ms\"\n", 250 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config cfg = CONFIG_INIT;
		long ms = -1;
		load_ok(&cfg, cases[i].text);
		assert_int_equal(config_get_duration(&cfg, "w", &ms), 1);
		assert_int_equal(ms, cases[i].ms);
		config_release(&cfg);
	}
}

static void loads_files_and_caps_their_size(void **state)
{
	char path[] = "/tmp/cutover-test-config.XXXXXX";
	struct config cfg = CONFIG_INIT;
	int fd = mkstemp(path);
	const char *s;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, full_file, strlen(full_file)), (ssize_t)strlen(full_file));
	close(fd);

	assert_int_equal(config_load(&cfg, path), 0);
	assert_string_equal(cfg.path, path);
	assert_int_equal(config_get_str(&cfg, "link_mode", &s), 1);
	assert_string_equal(s, "symlink");
	config_release(&cfg);

	/* exactly 1 MiB is fine, one byte more is not */
	char *big = xmalloc(1024 * 1024 + 2);
	memset(big, '\n', 1024 * 1024 + 1);
	memcpy(big, "to: x", 5);
	big[1024 * 1024 + 1] = 0;
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, 1024 * 1024), 1024 * 1024);
	close(fd);
	assert_int_equal(config_load(&cfg, path), 0);
	config_release(&cfg);

	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	struct capture c;
	capture_start(&c);
	assert_int_equal(config_load(&cfg, path), -CUT_USAGE);
	const char *msg = capture_end(&c);
	assert_non_null(strstr(msg, "larger than 1048576 bytes"));
	assert_null(cfg.root);
	buf_release(&c.out);

	capture_start(&c);
	assert_int_equal(config_load_mem(&cfg, "mem.yml", big, 1024 * 1024 + 1), -CUT_USAGE);
	msg = capture_end(&c);
	assert_non_null(strstr(msg, "'mem.yml': larger than 1048576 bytes"));
	buf_release(&c.out);
	free(big);

	unlink(path);
	capture_start(&c);
	assert_int_equal(config_load(&cfg, path), -CUT_USAGE);
	msg = capture_end(&c);
	assert_non_null(strstr(msg, "cannot open '"));
	assert_non_null(strstr(msg, "No such file or directory"));
	buf_release(&c.out);
}

static void config_error_formats_like_the_loader(void **state)
{
	struct config cfg = CONFIG_INIT;
	struct capture c;
	load_ok(&cfg, "to: x\nlink_mode: hardlinkz\n");
	capture_start(&c);
	assert_int_equal(config_error(&cfg, config_get(&cfg, "link_mode"), "'%s' must be %s", "link_mode",
				      "symlink or copy"),
			 -CUT_USAGE);
	assert_string_equal(capture_end(&c),
			    "cutover: error: 'cutover.yml':2:12: 'link_mode' must be symlink or copy\n");
	buf_release(&c.out);
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_a_full_file),
		cmocka_unit_test(absent_keys_store_nothing),
		cmocka_unit_test(empty_files_have_no_root),
		cmocka_unit_test(syntax_errors_carry_line_and_column),
		cmocka_unit_test(encoding_errors_carry_line_and_column),
		cmocka_unit_test(rejects_duplicate_keys),
		cmocka_unit_test(rejects_what_the_tree_cannot_hold),
		cmocka_unit_test(unknown_keys_are_reported_with_a_hint),
		cmocka_unit_test(key_check_follows_the_shape_of_values),
		cmocka_unit_test(wrong_types_are_reported_at_the_value),
		cmocka_unit_test(booleans_and_lists_accept_their_spellings),
		cmocka_unit_test(durations_in_all_units),
		cmocka_unit_test(loads_files_and_caps_their_size),
		cmocka_unit_test(config_error_formats_like_the_loader),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
