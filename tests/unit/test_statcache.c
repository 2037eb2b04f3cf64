/* Stat cache: save and load, what makes a lookup miss, and what is too young to save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "source/statcache.h"
#include "util/error.h"
#include "util/fs.h"

#define SEC 1000000000LL
static const int64_t start = 1795336266LL * SEC; /* the walk began here */

struct fixture {
	char dir[64];
	char *file;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cutover-test-statcache.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->file = path_join(f->dir, "cache");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = fs_rm_rf(f->dir);
	free(f->file);
	free(f);
	return rc;
}

/* A file entry as the directory walk makes it, `age` seconds older than the walk. */
static struct entry *add(struct manifest *m, const char *path, int64_t age_ns, unsigned seed)
{
	struct entry *e = manifest_add(m, path, ENT_FILE);
	e->mode = 0644;
	e->size = 100 + seed;
	e->mtime_ns = start - age_ns;
	e->ctime_ns = start - age_ns;
	e->ino = 4000 + seed;
	e->origin = xasprintf("/src/%s", path);
	for (int i = 0; i < HASH_LEN; i++)
		e->hash[i] = (unsigned char)(seed * 31 + i);
	return e;
}

static void round_trip(void **state)
{
	struct fixture *f = *state;
	struct manifest m = MANIFEST_INIT;
	const char *paths[] = { "index.html", "a/b/c.css", "with space.txt", " leading space",
				"tab\tinside", "\ttab first", "back\\slash", "caf\xc3\xa9" };
	for (unsigned i = 0; i < ARRAY_SIZE(paths); i++)
		add(&m, paths[i], 3600 * SEC + i, i);
	assert_int_equal(statcache_save(&m, f->file, start), 0);
	struct stat st;
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	struct statcache c = STATCACHE_INIT;
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, ARRAY_SIZE(paths));
	for (size_t i = 0; i < m.nr; i++) {
		const unsigned char *h = statcache_lookup(&c, &m.v[i]);
		if (!h)
			fail_msg("'%s' not found after loading", m.v[i].path);
		assert_memory_equal(h, m.v[i].hash, HASH_LEN);
	}
	statcache_release(&c);
	manifest_release(&m);
}

static void changed_stat_misses(void **state)
{
	struct fixture *f = *state;
	struct manifest m = MANIFEST_INIT;
	add(&m, "f", 60 * SEC, 1);
	assert_int_equal(statcache_save(&m, f->file, start), 0);
	struct statcache c = STATCACHE_INIT;
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 1);

	struct entry *e = &m.v[0];
	assert_non_null(statcache_lookup(&c, e));
	e->size++;
	assert_null(statcache_lookup(&c, e));
	e->size--;
	e->mtime_ns += 1; /* one nanosecond is a change */
	assert_null(statcache_lookup(&c, e));
	e->mtime_ns -= 1;
	e->ctime_ns += SEC;
	assert_null(statcache_lookup(&c, e));
	e->ctime_ns -= SEC;
	e->ino = 1;
	assert_null(statcache_lookup(&c, e));
	e->ino = 4001;
	assert_non_null(statcache_lookup(&c, e));

	free(e->path);
	e->path = xstrdup("g");
	assert_null(statcache_lookup(&c, e));
	statcache_release(&c);
	manifest_release(&m);
}

static void young_entries_are_not_saved(void **state)
{
	struct fixture *f = *state;
	struct manifest m = MANIFEST_INIT;
	add(&m, "old", 2 * SEC + 1, 1);
	add(&m, "exactly-two-seconds", 2 * SEC, 2);
	add(&m, "one-second", 1 * SEC, 3);
	add(&m, "during-the-walk", -SEC, 4);
	add(&m, "young-ctime", 3600 * SEC, 5)->ctime_ns = start - SEC;
	add(&m, "no-origin", 3600 * SEC, 6);
	free(m.v[5].origin);
	m.v[5].origin = NULL;
	add(&m, "line\nbreak", 3600 * SEC, 7);
	struct entry *d = manifest_add(&m, "dir", ENT_DIR);
	d->mtime_ns = d->ctime_ns = start - 3600 * SEC;
	d->origin = xstrdup("/src/dir");
	assert_int_equal(statcache_save(&m, f->file, start), 0);

	struct statcache c = STATCACHE_INIT;
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 1);
	assert_string_equal(c.v[0].path, "old");
	assert_non_null(statcache_lookup(&c, &m.v[0]));
	for (size_t i = 1; i < m.nr; i++)
		assert_null(statcache_lookup(&c, &m.v[i]));
	statcache_release(&c);

	/* saving replaces the whole file */
	struct manifest none = MANIFEST_INIT;
	assert_int_equal(statcache_save(&none, f->file, start), 0);
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 0);
	assert_null(statcache_lookup(&c, &m.v[0]));
	manifest_release(&m);
}

/* text followed by the line statcache_save ends a cache with */
static char *with_trailer(const char *text)
{
	char hex[HASH_HEX + 1];
	hash_bytes_hex(hex, text, strlen(text));
	return xasprintf("%ssha256 %s\n", text, hex);
}

/* A saved cache with any byte changed, or cut short anywhere, is not used. */
static void torn_or_altered_cache_is_not_used(void **state)
{
	struct fixture *f = *state;
	struct statcache c = STATCACHE_INIT;
	const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char *body = xasprintf("%s 10 20 30 40\ta\n%s 11 21 31 41\tb\n", hex, hex);
	char *text = with_trailer(body);
	size_t len = strlen(text);
	assert_int_equal(fs_write_atomic(f->file, text, len, 0600), 0);
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 2);
	statcache_release(&c);
	for (size_t cut = 0; cut < len; cut += 7) {
		assert_int_equal(fs_write_atomic(f->file, text, cut, 0600), 0);
		statcache_load(&c, f->file);
		assert_int_equal(c.nr, 0);
	}
	for (size_t at = 0; at + 1 < len; at += 5) {
		char *bad = xstrdup(text);
		bad[at] = bad[at] == '1' ? '2' : '1';
		assert_int_equal(fs_write_atomic(f->file, bad, len, 0600), 0);
		statcache_load(&c, f->file);
		assert_int_equal(c.nr, 0);
		free(bad);
	}
	free(body);
	free(text);
}

static void missing_or_damaged_cache_is_empty(void **state)
{
	struct fixture *f = *state;
	struct statcache c = STATCACHE_INIT;
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 0);
	statcache_load(&c, NULL);
	assert_int_equal(c.nr, 0);

	const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char *text = xasprintf("garbage\n"
			       "%s 1 2 3\tshort\n"
			       "%.63s 1 2 3 4\tshort-hash\n"
			       "%s 1 2 3 4\t\n"
			       "%s x 2 3 4\tletters\n"
			       "%s 10 20 30 40\tgood\n"
			       "%s 1 2 3 4\tunterminated",
			       hex, hex, hex, hex, hex, hex);
	/* without its closing hash line: not used at all */
	assert_int_equal(fs_write_atomic(f->file, text, strlen(text), 0600), 0);
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 0);
	/* with it, the malformed lines are skipped one by one */
	char *signed_text = with_trailer(text);
	free(text);
	assert_int_equal(fs_write_atomic(f->file, signed_text, strlen(signed_text), 0600), 0);
	free(signed_text);
	statcache_load(&c, f->file);
	assert_int_equal(c.nr, 1);
	assert_string_equal(c.v[0].path, "good");
	assert_int_equal(c.v[0].size, 10);
	assert_int_equal(c.v[0].mtime_ns, 20);
	assert_int_equal(c.v[0].ctime_ns, 30);
	assert_int_equal(c.v[0].ino, 40);
	assert_int_equal(c.v[0].hash[1], 0x11);
	statcache_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(changed_stat_misses, setup, teardown),
		cmocka_unit_test_setup_teardown(young_entries_are_not_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_or_damaged_cache_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_or_altered_cache_is_not_used, setup, teardown),
	};
	return cmocka_run_group_tests_name("statcache", tests, NULL, NULL);
}
