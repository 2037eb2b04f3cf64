/* Path helpers (join, absolute, relative links), the inode set, and manifest_diff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "release/inspect.h"
#include "util/error.h"
#include "util/fs.h"

static void assert_rel(const char *from, const char *to, const char *want)
{
	char *got = path_relative_link(from, to);
	if (strcmp(got, want))
		fail_msg("path_relative_link('%s', '%s') = '%s', want '%s'", from, to, got, want);
	free(got);
}

static void assert_abs(const char *in, const char *want)
{
	char *got = path_absolute(in);
	if (strcmp(got, want))
		fail_msg("path_absolute('%s') = '%s', want '%s'", in, got, want);
	free(got);
}

static void assert_join(const char *a, const char *b, const char *want)
{
	char *got = path_join(a, b);
	assert_string_equal(got, want);
	free(got);
}

static void relative_link_into_shared(void **state)
{
	assert_rel("releases/X/public", "shared/public/uploads", "../../../shared/public/uploads");
	assert_rel("releases/20261122T083106Z", "shared/.env", "../../shared/.env");
	assert_rel("releases/X", "releases/X/a", "a");
	assert_rel("a/b", "a/c", "../c");
	assert_rel("a/b/c", "a/b", "..");
	assert_rel("a/b/c", "a", "../..");
	/* components are compared whole: "ab" is no prefix of "a/b" */
	assert_rel("ab", "a/b", "../a/b");
	assert_rel("a/bc", "a/b/c", "../b/c");
}

static void relative_link_same_dir_and_root(void **state)
{
	assert_rel("a/b", "a/b", ".");
	assert_rel("", "", ".");
	assert_rel(".", ".", ".");
	assert_rel("", "shared/x", "shared/x");
	assert_rel(".", "x", "x");
	assert_rel("a/b", "", "../..");
	assert_rel("a", ".", "..");
}

static void relative_link_normalises_both_sides(void **state)
{
	assert_rel("./a//b/", "a/./b/c/", "c");
	assert_rel("a/x/../b", "a/b/c", "c");
	assert_rel("releases/X/./public/", "shared//public/uploads/", "../../../shared/public/uploads");
}

static void join(void **state)
{
	assert_join("a", "b", "a/b");
	assert_join("a/", "b", "a/b");
	assert_join("/", "b", "/b");
	assert_join("", "b", "b");
	assert_join("a", "", "a");
	assert_join("", "", "");
}

static void absolute_normalises_lexically(void **state)
{
	assert_abs("/", "/");
	assert_abs("/a/./b//c/../d/", "/a/b/d");
	assert_abs("//srv///site", "/srv/site");
	assert_abs("/..", "/");
	assert_abs("/../a", "/a");
	assert_abs("/a/b/../..", "/");
	assert_abs("/a/b/../../..", "/");
	assert_abs("/a/./.", "/a");
	assert_abs("/a/.../b", "/a/.../b");
}

static void absolute_starts_from_the_current_directory(void **state)
{
	char tmpl[] = "/tmp/cutover-test-paths.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	char old[4096];
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(dir), 0);
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	char *want = xasprintf("%s/site", cwd);
	assert_abs("site", want);
	assert_abs("./x/../site/", want);
	free(want);
	assert_abs(".", cwd);
	assert_abs("", cwd);
	char *parent = xstrdup(cwd);
	*strrchr(parent, '/') = 0;
	assert_abs("..", parent);
	free(parent);

	assert_int_equal(chdir(old), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void inode_set_grows_and_remembers(void **state)
{
	struct inode_set *s = inode_set_new();
	const uint64_t n = 100000; /* far past the first capacity */
	for (uint64_t i = 0; i < n; i++)
		if (inode_set_add(s, 1, (ino_t)(i * 7919)) != 1)
			fail_msg("inode %llu on its first add was not new", (unsigned long long)(i * 7919));
	for (uint64_t i = 0; i < n; i++)
		if (inode_set_add(s, 1, (ino_t)(i * 7919)) != 0)
			fail_msg("inode %llu was forgotten", (unsigned long long)(i * 7919));
	/* the same inode number on another device is another file */
	assert_int_equal(inode_set_add(s, 2, 0), 1);
	assert_int_equal(inode_set_add(s, 2, 0), 0);
	assert_int_equal(inode_set_add(s, 1, 1), 1);
	assert_int_equal(inode_set_add(s, 1, (ino_t)1 << 40), 1);
	assert_int_equal(inode_set_add(s, 1, (ino_t)1 << 40), 0);
	inode_set_free(s);
	inode_set_free(NULL);
}

static void disk_usage_counts_hard_links_once(void **state)
{
	char tmpl[] = "/tmp/cutover-test-paths.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	char *a = path_join(dir, "a"), *b = path_join(dir, "b");
	char data[65536];
	memset(data, 'x', sizeof(data));
	assert_int_equal(fs_write_atomic(a, data, sizeof(data), 0644), 0);
	assert_int_equal(link(a, b), 0);
	struct stat st, sd;
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(stat(dir, &sd), 0);
	uint64_t file = (uint64_t)st.st_blocks * 512, top = (uint64_t)sd.st_blocks * 512;
	assert_true(file >= sizeof(data));
	assert_int_equal(fs_disk_usage(dir, NULL), top + 2 * file);
	struct inode_set *seen = inode_set_new();
	assert_int_equal(fs_disk_usage(dir, seen), top + file);
	/* a second tree sharing the inode adds nothing for it */
	assert_int_equal(fs_disk_usage(b, seen), 0);
	inode_set_free(seen);
	free(a);
	free(b);
	assert_int_equal(fs_rm_rf(dir), 0);
}

/* ---- manifest_diff ---- */

static void collect(enum change c, const struct entry *a, const struct entry *b, void *data)
{
	struct buf *out = data;
	const struct entry *e = b ? b : a;
	if (c == CHANGE_MODIFIED)
		assert_string_equal(a->path, b->path);
	if (c == CHANGE_ADDED)
		assert_null(a);
	if (c == CHANGE_REMOVED)
		assert_null(b);
	buf_addf(out, "%c %s\n", c, e->path);
}

static struct entry *add(struct manifest *m, const char *path, char type, unsigned mode,
			 unsigned char seed, const char *target)
{
	struct entry *e = manifest_add(m, path, type);
	e->mode = mode;
	if (type == ENT_FILE)
		memset(e->hash, seed, HASH_LEN);
	if (target)
		e->target = xstrdup(target);
	return e;
}

static void diff_reports_each_kind_of_change(void **state)
{
	struct manifest a = MANIFEST_INIT, b = MANIFEST_INIT;
	add(&a, "css", ENT_DIR, 0755, 0, NULL);
	add(&a, "css/old.css", ENT_FILE, 0644, 1, NULL);
	add(&a, "same.txt", ENT_FILE, 0644, 2, NULL);
	add(&a, "content.txt", ENT_FILE, 0644, 3, NULL);
	add(&a, "mode.sh", ENT_FILE, 0644, 4, NULL);
	add(&a, "link", ENT_LINK, 0777, 0, "same.txt");
	add(&a, "samelink", ENT_LINK, 0777, 0, "same.txt");
	add(&a, "type", ENT_FILE, 0644, 5, NULL);
	add(&a, "uploads", ENT_SHARED, 0777, 0, NULL);
	add(&a, "size-only", ENT_FILE, 0644, 6, NULL)->size = 1;
	add(&a, "dirmode", ENT_DIR, 0755, 0, NULL);
	assert_int_equal(manifest_finish(&a, "a"), 0);

	add(&b, "css", ENT_DIR, 0755, 0, NULL);
	add(&b, "css/new.css", ENT_FILE, 0644, 1, NULL);
	add(&b, "same.txt", ENT_FILE, 0644, 2, NULL);
	add(&b, "content.txt", ENT_FILE, 0644, 33, NULL);
	add(&b, "mode.sh", ENT_FILE, 0755, 4, NULL);
	add(&b, "link", ENT_LINK, 0777, 0, "content.txt");
	add(&b, "samelink", ENT_LINK, 0777, 0, "same.txt");
	add(&b, "type", ENT_DIR, 0644, 0, NULL);
	add(&b, "uploads", ENT_SHARED, 0777, 0, NULL);
	add(&b, "size-only", ENT_FILE, 0644, 6, NULL)->size = 2; /* same hash: same bytes */
	add(&b, "dirmode", ENT_DIR, 0700, 0, NULL);
	add(&b, "zz-added", ENT_FILE, 0644, 7, NULL);
	assert_int_equal(manifest_finish(&b, "b"), 0);

	struct buf out = BUF_INIT;
	manifest_diff(&a, &b, collect, &out);
	assert_string_equal(out.buf, "M content.txt\n"
				     "A css/new.css\n"
				     "D css/old.css\n"
				     "M dirmode\n"
				     "M link\n"
				     "M mode.sh\n"
				     "M type\n"
				     "A zz-added\n");

	/* and the other way round */
	buf_reset(&out);
	manifest_diff(&b, &a, collect, &out);
	assert_string_equal(out.buf, "M content.txt\n"
				     "D css/new.css\n"
				     "A css/old.css\n"
				     "M dirmode\n"
				     "M link\n"
				     "M mode.sh\n"
				     "M type\n"
				     "D zz-added\n");

	buf_reset(&out);
	manifest_diff(&a, &a, collect, &out);
	assert_string_equal(out.buf, "");
	buf_release(&out);
	manifest_release(&a);
	manifest_release(&b);
}

static void diff_against_nothing(void **state)
{
	struct manifest a = MANIFEST_INIT, none = MANIFEST_INIT;
	add(&a, "b", ENT_FILE, 0644, 1, NULL);
	add(&a, "a", ENT_LINK, 0777, 0, "b");
	assert_int_equal(manifest_finish(&a, "a"), 0);
	struct buf out = BUF_INIT;
	manifest_diff(&none, &a, collect, &out);
	assert_string_equal(out.buf, "A a\nA b\n");
	buf_reset(&out);
	manifest_diff(&a, &none, collect, &out);
	assert_string_equal(out.buf, "D a\nD b\n");
	buf_reset(&out);
	manifest_diff(&none, &none, collect, &out);
	assert_string_equal(out.buf, "");
	buf_release(&out);
	manifest_release(&a);
}

static void diff_link_and_shared_at_one_path(void **state)
{
	struct manifest a = MANIFEST_INIT, b = MANIFEST_INIT;
	add(&a, "uploads", ENT_LINK, 0777, 0, "x");
	add(&b, "uploads", ENT_SHARED, 0777, 0, NULL);
	assert_int_equal(manifest_finish(&a, "a"), 0);
	assert_int_equal(manifest_finish(&b, "b"), 0);
	struct buf out = BUF_INIT;
	manifest_diff(&a, &b, collect, &out);
	assert_string_equal(out.buf, "M uploads\n");
	buf_release(&out);
	manifest_release(&a);
	manifest_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(relative_link_into_shared),
		cmocka_unit_test(relative_link_same_dir_and_root),
		cmocka_unit_test(relative_link_normalises_both_sides),
		cmocka_unit_test(join),
		cmocka_unit_test(absolute_normalises_lexically),
		cmocka_unit_test(absolute_starts_from_the_current_directory),
		cmocka_unit_test(inode_set_grows_and_remembers),
		cmocka_unit_test(disk_usage_counts_hard_links_once),
		cmocka_unit_test(diff_reports_each_kind_of_change),
		cmocka_unit_test(diff_against_nothing),
		cmocka_unit_test(diff_link_and_shared_at_one_path),
	};
	return cmocka_run_group_tests_name("paths", tests, NULL, NULL);
}
