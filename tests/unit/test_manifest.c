/* Manifest: path cleaning, finishing (order, duplicates, parents, symlink checks), formats. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>
#include "release/manifest.h"
#include "util/error.h"
#include "util/fs.h"

/* ---- helpers ---- */

static void fill_hash(unsigned char *h, unsigned char seed)
{
	for (int i = 0; i < HASH_LEN; i++)
		h[i] = (unsigned char)(seed + i * 7);
}

static struct entry *add_file(struct manifest *m, const char *path, unsigned mode, uint64_t size)
{
	struct entry *e = manifest_add(m, path, ENT_FILE);
	e->mode = mode;
	e->size = size;
	fill_hash(e->hash, (unsigned char)size);
	return e;
}

static struct entry *add_dir(struct manifest *m, const char *path, unsigned mode)
{
	struct entry *e = manifest_add(m, path, ENT_DIR);
	e->mode = mode;
	return e;
}

static struct entry *add_link(struct manifest *m, const char *path, const char *target)
{
	struct entry *e = manifest_add(m, path, ENT_LINK);
	e->mode = 0777;
	e->target = xstrdup(target);
	return e;
}

/* Clean a copy of `in`; check the result code and, on 0, the cleaned path. */
static void assert_clean(const char *in, int want_rc, const char *want)
{
	char *p = xstrdup(in);
	int rc = manifest_clean_path(p, "src.tar");
	if (rc != want_rc)
		fail_msg("manifest_clean_path('%s') = %d, want %d", in, rc, want_rc);
	if (want)
		assert_string_equal(p, want);
	free(p);
}

/* Finish expecting a refusal whose message is exactly `msg`. */
static void assert_finish_fails(struct manifest *m, const char *msg)
{
	assert_int_equal(manifest_finish(m, "src"), -1);
	assert_string_equal(error_last(), msg);
}

/* ---- manifest_clean_path ---- */

static void clean_path_strips_dot_prefixes_and_slashes(void **state)
{
	assert_clean("a", 0, "a");
	assert_clean("./a/b", 0, "a/b");
	assert_clean("././a//b/", 0, "a/b");
	assert_clean("a/./b/.", 0, "a/b");
	assert_clean("dir/", 0, "dir");
	assert_clean("dir///", 0, "dir");
	assert_clean(".hidden/..x/...", 0, ".hidden/..x/...");
	assert_clean("with space/tab\there", 0, "with space/tab\there");
}

static void clean_path_root_itself_is_skipped(void **state)
{
	assert_clean(".", 1, "");
	assert_clean("./", 1, "");
	assert_clean(".//./", 1, "");
	assert_clean("", 1, "");
}

static void clean_path_refuses_dotdot(void **state)
{
	assert_clean("..", -1, NULL);
	assert_clean("../x", -1, NULL);
	assert_clean("a/..", -1, NULL);
	assert_clean("a/../b", -1, NULL);
	/* the message names the entry as the archive had it, not a half-cleaned copy */
	assert_clean("./a/../b", -1, NULL);
	assert_string_equal(error_last(), "src.tar: entry './a/../b' contains '..'; refusing a path "
					  "that could leave the release");
}

static void clean_path_refuses_absolute_and_line_breaks(void **state)
{
	assert_clean("/etc/passwd", -1, NULL);
	assert_string_equal(error_last(),
			    "src.tar: entry '/etc/passwd' has an absolute path; refusing it");
	assert_clean("/", -1, NULL);
	assert_clean("a\nb", -1, NULL);
	assert_string_equal(error_last(),
			    "src.tar: entry 'a\nb' has a line break in its name; refusing it");
	assert_clean("a\rb", -1, NULL);
	assert_clean("dir/x\n", -1, NULL);
}

/* ---- manifest_finish ---- */

static void finish_sorts_by_path(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_file(&m, "b", 0644, 1);
	add_file(&m, "a/c", 0644, 2);
	add_dir(&m, "a", 0700);
	add_file(&m, "a-b", 0644, 3); /* '-' sorts before '/' */
	add_file(&m, "A", 0644, 4);
	assert_int_equal(manifest_finish(&m, "src"), 0);
	assert_int_equal(m.nr, 5);
	const char *want[] = { "A", "a", "a-b", "a/c", "b" };
	for (size_t i = 0; i < m.nr; i++)
		assert_string_equal(m.v[i].path, want[i]);
	assert_int_equal(m.v[1].type, ENT_DIR);
	assert_int_equal(m.v[1].mode, 0700); /* a listed directory keeps its mode */
	manifest_release(&m);
}

static void finish_later_duplicate_wins(void **state)
{
	struct manifest m = MANIFEST_INIT;
	/* enough entries that qsort's order among equals would show */
	for (unsigned i = 0; i < 50; i++)
		add_file(&m, i % 2 ? "x" : "y", 0644, i);
	add_file(&m, "d", 0644, 1);
	add_dir(&m, "d", 0751); /* a file replaced by a directory */
	assert_int_equal(manifest_finish(&m, "src"), 0);
	assert_int_equal(m.nr, 3);
	assert_string_equal(m.v[0].path, "d");
	assert_int_equal(m.v[0].type, ENT_DIR);
	assert_int_equal(m.v[0].mode, 0751);
	assert_string_equal(m.v[1].path, "x");
	assert_int_equal(m.v[1].size, 49);
	assert_string_equal(m.v[2].path, "y");
	assert_int_equal(m.v[2].size, 48);
	manifest_release(&m);
}

static void finish_adds_implied_parents(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_file(&m, "a/b/c", 0600, 1);
	add_file(&m, "a/b/d", 0600, 2);
	add_dir(&m, "x", 0700);
	add_file(&m, "x/y/z", 0600, 3);
	assert_int_equal(manifest_finish(&m, "src"), 0);
	const char *want[] = { "a", "a/b", "a/b/c", "a/b/d", "x", "x/y", "x/y/z" };
	const char types[] = { ENT_DIR, ENT_DIR, ENT_FILE, ENT_FILE, ENT_DIR, ENT_DIR, ENT_FILE };
	const unsigned modes[] = { 0755, 0755, 0600, 0600, 0700, 0755, 0600 };
	assert_int_equal(m.nr, ARRAY_SIZE(want));
	for (size_t i = 0; i < m.nr; i++) {
		assert_string_equal(m.v[i].path, want[i]);
		assert_int_equal(m.v[i].type, types[i]);
		assert_int_equal(m.v[i].mode, modes[i]);
	}
	manifest_release(&m);
}

static void finish_refuses_entries_under_a_file_or_symlink(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_file(&m, "f", 0644, 1);
	add_file(&m, "f/x", 0644, 2);
	assert_finish_fails(&m, "src: 'f/x' is inside 'f', which is a file; refusing it");
	manifest_release(&m);

	add_dir(&m, "d", 0755);
	add_link(&m, "l", "d");
	add_file(&m, "l/x", 0644, 2);
	assert_finish_fails(&m, "src: 'l/x' is inside 'l', which is a symlink; refusing it");
	manifest_release(&m);

	struct entry *s = manifest_add(&m, "uploads", ENT_SHARED);
	s->mode = 0777;
	add_file(&m, "uploads/a.jpg", 0644, 2);
	assert_finish_fails(&m, "src: 'uploads/a.jpg' is inside 'uploads', which is a symlink; refusing it");
	manifest_release(&m);
}

static void finish_accepts_relative_links_inside(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_file(&m, "d/f", 0644, 1);
	add_link(&m, "d/l", "../d/f");
	add_link(&m, "top", "d/f");
	add_link(&m, "dot", ".");
	add_link(&m, "d/up", "..");
	add_link(&m, "d/dangling", "nowhere/else");
	add_link(&m, "via", "d/up/d/./f"); /* through d/up, which resolves to the top */
	add_link(&m, "lex", "d/../d/f");
	assert_int_equal(manifest_finish(&m, "src"), 0);
	assert_int_equal(m.nr, 9);
	manifest_release(&m);
}

static void finish_refuses_absolute_links(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_link(&m, "etc", "/etc");
	assert_finish_fails(&m, "src: symlink 'etc' points outside the release ('/etc'); use a "
				"relative link inside the release, or a 'shared:' path");
	manifest_release(&m);
}

static void finish_refuses_links_escaping_by_dotdot(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_link(&m, "up", "..");
	assert_finish_fails(&m, "src: symlink 'up' points outside the release ('..'); use a "
				"relative link inside the release, or a 'shared:' path");
	manifest_release(&m);

	add_link(&m, "a/b/l", "../../../x");
	assert_int_equal(manifest_finish(&m, "src"), -1);
	manifest_release(&m);

	add_link(&m, "a/l", "b/../../../x");
	assert_int_equal(manifest_finish(&m, "src"), -1);
	manifest_release(&m);

	/* one level fewer stays inside */
	add_link(&m, "a/b/l", "../../x");
	assert_int_equal(manifest_finish(&m, "src"), 0);
	manifest_release(&m);
}

static void finish_refuses_links_escaping_through_another_link(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_dir(&m, "x", 0755);
	add_link(&m, "x/y", ".."); /* the release root: fine on its own */
	add_link(&m, "escape", "x/y/.."); /* lexically "x", really the release's parent */
	assert_finish_fails(&m, "src: symlink 'escape' points outside the release ('x/y/..'); use a "
				"relative link inside the release, or a 'shared:' path");
	manifest_release(&m);

	/* the same shape through a real directory stays inside */
	add_dir(&m, "x", 0755);
	add_dir(&m, "x/y", 0755);
	add_link(&m, "fine", "x/y/..");
	assert_int_equal(manifest_finish(&m, "src"), 0);
	manifest_release(&m);

	/* a chain: b -> a/.., a -> c/p, c/p -> .. */
	add_dir(&m, "c", 0755);
	add_link(&m, "c/p", "..");
	add_link(&m, "a", "c/p"); /* resolves to the release root */
	add_link(&m, "b", "a/.."); /* lexically ".", really the release's parent */
	assert_finish_fails(&m, "src: symlink 'b' points outside the release ('a/..'); use a "
				"relative link inside the release, or a 'shared:' path");
	manifest_release(&m);

	/* a link that is absolute itself taints a link through it */
	add_dir(&m, "x", 0755);
	add_link(&m, "x/abs", "/srv");
	add_link(&m, "a", "x/abs/y");
	assert_finish_fails(&m, "src: symlink 'a' points outside the release ('x/abs/y'); use a "
				"relative link inside the release, or a 'shared:' path");
	manifest_release(&m);
}

static void finish_refuses_loops(void **state)
{
	struct manifest m = MANIFEST_INIT;
	add_link(&m, "a", "b");
	add_link(&m, "b", "a");
	assert_finish_fails(&m, "src: symlink 'a' is part of a loop");
	manifest_release(&m);

	add_link(&m, "self", "self");
	assert_finish_fails(&m, "src: symlink 'self' is part of a loop");
	manifest_release(&m);

	add_link(&m, "grow", "grow/x");
	assert_finish_fails(&m, "src: symlink 'grow' is part of a loop");
	manifest_release(&m);

	add_dir(&m, "d", 0755);
	add_link(&m, "d/l", "../d/l/x");
	assert_finish_fails(&m, "src: symlink 'd/l' is part of a loop");
	manifest_release(&m);

	/* a long chain that ends is not a loop */
	char name[16], target[16];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "l%02d", i);
		snprintf(target, sizeof(target), i == 19 ? "end" : "l%02d", i + 1);
		add_link(&m, name, target);
	}
	add_file(&m, "end", 0644, 1);
	assert_int_equal(manifest_finish(&m, "src"), 0);
	manifest_release(&m);
}

static void finish_allows_links_into_shared_paths(void **state)
{
	struct manifest m = MANIFEST_INIT;
	struct entry *s = manifest_add(&m, "public/uploads", ENT_SHARED);
	s->mode = 0777;
	add_link(&m, "uploads", "public/uploads");
	add_link(&m, "logo", "public/uploads/img/logo.png");
	add_link(&m, "public/u", "../uploads/x"); /* via the link above */
	add_link(&m, "public/in", "uploads/a/../b"); /* a ".." that stays inside shared */
	assert_int_equal(manifest_finish(&m, "src"), 0);
	assert_int_equal(m.nr, 6); /* with the implied "public" */
	manifest_release(&m);
}

static void finish_refuses_leaving_a_shared_path_by_dotdot(void **state)
{
	/* releases/X/public/uploads -> ../../../shared/public/uploads: ".." out of it
	 * leads into shared/ and on to the deploy root, never back into the release */
	struct manifest m = MANIFEST_INIT;
	struct entry *s = manifest_add(&m, "public/uploads", ENT_SHARED);
	s->mode = 0777;
	add_link(&m, "etc", "public/uploads/../../../../../etc");
	assert_finish_fails(&m, "src: symlink 'etc' points outside the release "
				"('public/uploads/../../../../../etc'); use a relative link inside "
				"the release, or a 'shared:' path");
	manifest_release(&m);

	s = manifest_add(&m, "uploads", ENT_SHARED);
	s->mode = 0777;
	add_link(&m, "sib", "uploads/../index.html");
	assert_int_equal(manifest_finish(&m, "src"), -1);
	manifest_release(&m);
}

/* ---- formats ---- */

static void build_varied(struct manifest *m)
{
	add_file(m, "with space/a b.txt", 0644, 12);
	add_file(m, "tab\there", 0600, 7)->flags = ENT_WRITABLE;
	add_file(m, "back\\slash", 0755, 0);
	add_link(m, "link\twith tab", "tab\there");
	add_link(m, "odd", "back\\slash");
	struct entry *s = manifest_add(m, "shared dir", ENT_SHARED);
	s->mode = 0777;
	add_dir(m, "empty", 0750);
	assert_int_equal(manifest_finish(m, "src"), 0);
}

static void tree_format_escapes_and_round_trips(void **state)
{
	struct manifest m = MANIFEST_INIT, back = MANIFEST_INIT;
	struct buf b = BUF_INIT, again = BUF_INIT;
	build_varied(&m);
	manifest_format_tree(&b, &m);

	char hex[HASH_HEX + 1];
	const struct entry *bs = manifest_find(&m, "back\\slash");
	assert_non_null(bs);
	hash_to_hex(hex, bs->hash);
	char *line = xasprintf("f\t0755\t%s\t0\t-\tback\\\\slash\n", hex);
	assert_non_null(strstr(b.buf, line));
	free(line);
	assert_non_null(strstr(b.buf, "l\t0777\t-\t0\t-\tlink\\twith tab\ttab\\there\n"));
	assert_non_null(strstr(b.buf, "s\t0777\t-\t0\t-\tshared dir\n"));
	assert_non_null(strstr(b.buf, "d\t0750\t-\t0\t-\tempty\n"));
	const struct entry *t = manifest_find(&m, "tab\there");
	hash_to_hex(hex, t->hash);
	line = xasprintf("f\t0600\t%s\t7\tw\ttab\\there\n", hex);
	assert_non_null(strstr(b.buf, line));
	free(line);

	assert_int_equal(manifest_parse_tree(&back, b.buf, b.len, "x.tree"), 0);
	assert_int_equal(back.nr, m.nr);
	for (size_t i = 0; i < m.nr; i++) {
		const struct entry *x = &m.v[i], *y = &back.v[i];
		assert_string_equal(y->path, x->path);
		assert_int_equal(y->type, x->type);
		assert_int_equal(y->mode, x->mode);
		assert_int_equal(y->flags, x->flags);
		if (x->type == ENT_FILE) {
			assert_int_equal(y->size, x->size);
			assert_memory_equal(y->hash, x->hash, HASH_LEN);
		}
		if (x->type == ENT_LINK)
			assert_string_equal(y->target, x->target);
		else
			assert_null(y->target);
	}
	manifest_format_tree(&again, &back);
	assert_string_equal(again.buf, b.buf);

	buf_release(&b);
	buf_release(&again);
	manifest_release(&m);
	manifest_release(&back);
}

static void tree_write_and_read_files(void **state)
{
	char tmpl[] = "/tmp/cutover-test-manifest.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	struct manifest m = MANIFEST_INIT, back = MANIFEST_INIT;
	build_varied(&m);
	assert_int_equal(manifest_write(&m, dir, "20260101T000000Z"), 0);
	assert_int_equal(manifest_read(&back, dir, "20260101T000000Z"), 0);
	assert_int_equal(back.nr, m.nr);
	for (size_t i = 0; i < m.nr; i++)
		assert_string_equal(back.v[i].path, m.v[i].path);
	manifest_release(&back);
	assert_int_equal(manifest_read(&back, dir, "20260101T000001Z"), -1);
	manifest_release(&back);
	manifest_release(&m);
	assert_int_equal(fs_rm_rf(dir), 0);
}

static void sha256_format_lists_files_only_and_escapes_backslashes(void **state)
{
	struct manifest m = MANIFEST_INIT;
	struct buf b = BUF_INIT;
	build_varied(&m);
	manifest_format_sha256(&b, &m);

	char h1[HASH_HEX + 1], h2[HASH_HEX + 1], h3[HASH_HEX + 1];
	hash_to_hex(h1, manifest_find(&m, "back\\slash")->hash);
	hash_to_hex(h2, manifest_find(&m, "tab\there")->hash);
	hash_to_hex(h3, manifest_find(&m, "with space/a b.txt")->hash);
	char *want = xasprintf("\\%s  back\\\\slash\n%s  tab\there\n%s  with space/a b.txt\n", h1, h2,
			       h3);
	assert_string_equal(b.buf, want);
	free(want);
	buf_release(&b);
	manifest_release(&m);
}

/* ---- parse errors ---- */

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void assert_parse_fails(const char *text, const char *msg)
{
	struct manifest m = MANIFEST_INIT;
	int rc = manifest_parse_tree(&m, text, strlen(text), "t.tree");
	manifest_release(&m);
	if (rc != -1)
		fail_msg("accepted: %s", text);
	assert_string_equal(error_last(), msg);
}

static void parse_accepts_a_well_formed_tree(void **state)
{
	const char *text = "d\t0755\t-\t0\t-\ta\n"
			   "f\t0644\t" HEX64 "\t5\t-\ta/f\n"
			   "l\t0777\t-\t0\t-\tb\ta/f\n"
			   "s\t0777\t-\t0\t-\tc\n";
	struct manifest m = MANIFEST_INIT;
	assert_int_equal(manifest_parse_tree(&m, text, strlen(text), "t.tree"), 0);
	assert_int_equal(m.nr, 4);
	assert_int_equal(m.v[1].size, 5);
	assert_int_equal(m.v[1].mode, 0644);
	assert_int_equal(m.v[1].hash[1], 0x11);
	assert_string_equal(m.v[2].target, "a/f");
	assert_int_equal(m.v[3].type, ENT_SHARED);
	manifest_release(&m);

	assert_int_equal(manifest_parse_tree(&m, "", 0, "t.tree"), 0);
	assert_int_equal(m.nr, 0);
}

static void parse_refuses_malformed_input(void **state)
{
	assert_parse_fails("d\t0755\t-\t0\t-\ta", "'t.tree' is truncated at line 1");
	assert_parse_fails("d\t0755\t-\t0\t-\ta\nd\t0755\t-\t0\t-\tb", "'t.tree' is truncated at line 2");
	assert_parse_fails("x\t0755\t-\t0\t-\ta\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("dd\t0755\t-\t0\t-\ta\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("d\t0755\t-\t0\ta\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("d\t0755\t-\t0\t-\ta\textra\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("l\t0777\t-\t0\t-\tb\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("l\t0777\t-\t0\t-\tb\tt\textra\n", "'t.tree' line 1 is malformed");
	assert_parse_fails("d\t0755\t-\t0\t-\ta\nf\t0644\tabc\t5\t-\tb\n",
			   "'t.tree' line 2 has a malformed hash");
	assert_parse_fails("f\t0644\t" HEX64 "0\t5\t-\tb\n", "'t.tree' line 1 has a malformed hash");
	assert_parse_fails("f\t0644\t00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"
			   "\t5\t-\tb\n",
			   "'t.tree' line 1 has a malformed hash");
	assert_parse_fails("f\t0644\t-\t5\t-\tb\n", "'t.tree' line 1 has a malformed hash");
}

static void parse_refuses_unsorted_and_duplicate_paths(void **state)
{
	assert_parse_fails("d\t0755\t-\t0\t-\tb\nd\t0755\t-\t0\t-\ta\n", "'t.tree' is not sorted at 'a'");
	assert_parse_fails("d\t0755\t-\t0\t-\ta\nd\t0755\t-\t0\t-\ta\n", "'t.tree' is not sorted at 'a'");
	/* order is strcmp order of the unescaped paths: "a\tb" < "a b" */
	assert_parse_fails("d\t0755\t-\t0\t-\ta b\nd\t0755\t-\t0\t-\ta\\tb\n",
			   "'t.tree' is not sorted at 'a\tb'");
}

/* ---- manifest_find ---- */

static void find_uses_the_sorted_order(void **state)
{
	struct manifest m = MANIFEST_INIT;
	assert_null(manifest_find(&m, "a"));
	const char *paths[] = { "m/x", "b", "z", "a", "m", "m-1", "m/a" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		add_file(&m, paths[i], 0644, i);
	/* "m" is a file with entries under it: refused, but find needs only the sort */
	manifest_finish(&m, "src");
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		const struct entry *e = manifest_find(&m, paths[i]);
		assert_non_null(e);
		assert_string_equal(e->path, paths[i]);
		assert_int_equal(e->size, i);
	}
	assert_null(manifest_find(&m, ""));
	assert_null(manifest_find(&m, "0"));
	assert_null(manifest_find(&m, "zz"));
	assert_null(manifest_find(&m, "m/"));
	assert_null(manifest_find(&m, "m/b"));
	assert_null(manifest_find(&m, "M"));
	manifest_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_path_strips_dot_prefixes_and_slashes),
		cmocka_unit_test(clean_path_root_itself_is_skipped),
		cmocka_unit_test(clean_path_refuses_dotdot),
		cmocka_unit_test(clean_path_refuses_absolute_and_line_breaks),
		cmocka_unit_test(finish_sorts_by_path),
		cmocka_unit_test(finish_later_duplicate_wins),
		cmocka_unit_test(finish_adds_implied_parents),
		cmocka_unit_test(finish_refuses_entries_under_a_file_or_symlink),
		cmocka_unit_test(finish_accepts_relative_links_inside),
		cmocka_unit_test(finish_refuses_absolute_links),
		cmocka_unit_test(finish_refuses_links_escaping_by_dotdot),
		cmocka_unit_test(finish_refuses_links_escaping_through_another_link),
		cmocka_unit_test(finish_refuses_loops),
		cmocka_unit_test(finish_allows_links_into_shared_paths),
		cmocka_unit_test(finish_refuses_leaving_a_shared_path_by_dotdot),
		cmocka_unit_test(tree_format_escapes_and_round_trips),
		cmocka_unit_test(tree_write_and_read_files),
		cmocka_unit_test(sha256_format_lists_files_only_and_escapes_backslashes),
		cmocka_unit_test(parse_accepts_a_well_formed_tree),
		cmocka_unit_test(parse_refuses_malformed_input),
		cmocka_unit_test(parse_refuses_unsorted_and_duplicate_paths),
		cmocka_unit_test(find_uses_the_sorted_order),
	};
	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
