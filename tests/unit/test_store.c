/* Object store: put, materialise (hardlink, writable, copy), garbage collection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "release/store.h"
#include "util/error.h"
#include "util/fs.h"

struct fixture {
	char dir[64];
	char *src; /* <dir>/src: files to put */
	struct root root;
	struct store store;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cutover-test-store.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->src = path_join(f->dir, "src");
	struct root r = ROOT_INIT;
	f->root = r;
	char *rp = path_join(f->dir, "site");
	if (mkdir(f->src, 0755) < 0 || root_create(&f->root, rp) < 0 ||
	    store_init(&f->store, &f->root, LINK_HARDLINK) < 0)
		return -1;
	free(rp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_release(&f->store);
	root_release(&f->root);
	int rc = fs_rm_rf(f->dir);
	free(f->src);
	free(f);
	return rc;
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Write <src>/<name> and describe it in `e` as a directory walk would. */
static void make_file(struct fixture *f, struct entry *e, const char *name, const char *content,
		      unsigned mode)
{
	char *p = path_join(f->src, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(name);
	e->origin = p;
	e->type = ENT_FILE;
	e->mode = mode;
	e->size = (uint64_t)st.st_size;
	e->mtime_ns = ns_of(&st.st_mtim);
	e->ctime_ns = ns_of(&st.st_ctim);
	e->ino = (uint64_t)st.st_ino;
	fd = open(p, O_RDONLY);
	uint64_t size;
	assert_int_equal(hash_fd(fd, e->hash, &size), 0);
	close(fd);
	assert_int_equal(size, strlen(content));
}

static void entry_clear(struct entry *e)
{
	free(e->path);
	free(e->origin);
	memset(e, 0, sizeof(*e));
}

static char *read_all(const char *path)
{
	struct buf b = BUF_INIT;
	assert_int_equal(fs_read_file(&b, path, 1 << 20, 0), 0);
	return buf_detach(&b, NULL);
}

static size_t count_files(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return 1;
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = path_join(dir, de->d_name);
		n += count_files(p);
		free(p);
	}
	closedir(d);
	return n;
}

static void object_path_has_the_fanout_and_the_mode(void **state)
{
	struct fixture *f = *state;
	unsigned char h[HASH_LEN];
	for (int i = 0; i < HASH_LEN; i++)
		h[i] = (unsigned char)(0xab + i);
	char *p = store_object_path(&f->store, h, 0100644);
	char *want = xasprintf("%s/ab/acadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9ca-644",
			       f->root.objects);
	assert_string_equal(p, want);
	free(p);
	free(want);
	assert_int_equal(store_object_mode(0644), 0444);
	assert_int_equal(store_object_mode(0755), 0555);
	assert_int_equal(store_object_mode(04775), 0555);
	assert_int_equal(store_object_mode(0600), 0400);
}

static void put_copies_into_a_read_only_object(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "a.txt", "hello, world\n", 0644);
	assert_false(store_has(&f->store, e.hash, e.mode));
	assert_int_equal(store_put(&f->store, &e, 0), 0);
	assert_true(store_has(&f->store, e.hash, e.mode));

	char *obj = store_object_path(&f->store, e.hash, e.mode);
	char hex[HASH_HEX + 1];
	hash_to_hex(hex, e.hash);
	assert_string_equal(hex, "853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020");
	assert_non_null(strstr(obj, "/objects/85/3ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020-644"));
	struct stat st, src;
	assert_int_equal(lstat(obj, &st), 0);
	assert_int_equal(lstat(e.origin, &src), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_nlink, 1);
	assert_true(st.st_ino != src.st_ino); /* a copy: the source stays the user's */
	char *c = read_all(obj);
	assert_string_equal(c, "hello, world\n");
	free(c);
	assert_int_equal(count_files(f->store.tmpdir), 0);

	/* putting it again replaces it with the same bytes */
	assert_int_equal(store_put(&f->store, &e, 0), 0);
	assert_int_equal(count_files(f->root.objects), 1);
	free(obj);
	entry_clear(&e);
}

static void two_modes_make_two_objects(void **state)
{
	struct fixture *f = *state;
	struct entry a, b;
	make_file(f, &a, "a.sh", "#!/bin/sh\n", 0644);
	make_file(f, &b, "b.sh", "#!/bin/sh\n", 0755);
	assert_memory_equal(a.hash, b.hash, HASH_LEN);
	assert_int_equal(store_put(&f->store, &a, 0), 0);
	assert_false(store_has(&f->store, b.hash, b.mode));
	assert_int_equal(store_put(&f->store, &b, 0), 0);
	char *pa = store_object_path(&f->store, a.hash, a.mode);
	char *pb = store_object_path(&f->store, b.hash, b.mode);
	assert_string_not_equal(pa, pb);
	struct stat sa, sb;
	assert_int_equal(lstat(pa, &sa), 0);
	assert_int_equal(lstat(pb, &sb), 0);
	assert_true(sa.st_ino != sb.st_ino);
	assert_int_equal(sa.st_mode & 07777, 0444);
	assert_int_equal(sb.st_mode & 07777, 0555);
	assert_int_equal(count_files(f->root.objects), 2);
	free(pa);
	free(pb);
	entry_clear(&a);
	entry_clear(&b);
}

static void put_refuses_a_file_changed_since_it_was_hashed(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	char *msg;

	/* same size, new bytes, new mtime */
	make_file(f, &e, "m.txt", "version 1\n", 0644);
	FILE *fp = fopen(e.origin, "w");
	fputs("version 2\n", fp);
	fclose(fp);
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, e.origin, ts, 0), 0);
	assert_int_equal(store_put(&f->store, &e, 0), -1);
	msg = xasprintf("'%s' changed while it was being deployed; deploy again once it is stable",
			e.origin);
	assert_string_equal(error_last(), msg);
	free(msg);
	assert_false(store_has(&f->store, e.hash, e.mode));
	entry_clear(&e);

	/* grown, mtime put back */
	make_file(f, &e, "s.txt", "short\n", 0644);
	struct stat st;
	assert_int_equal(lstat(e.origin, &st), 0);
	fp = fopen(e.origin, "a");
	fputs("and longer\n", fp);
	fclose(fp);
	struct timespec back[2] = { { 0, UTIME_OMIT }, st.st_mtim };
	assert_int_equal(utimensat(AT_FDCWD, e.origin, back, 0), 0);
	assert_int_equal(store_put(&f->store, &e, 0), -1);
	assert_false(store_has(&f->store, e.hash, e.mode));
	entry_clear(&e);

	/* same size and mtime, but the inode was changed after the walk saw it
	 * (as when content is rewritten and the mtime restored): ctime tells */
	make_file(f, &e, "c.txt", "same size\n", 0644);
	e.ctime_ns -= 1000000000;
	assert_int_equal(store_put(&f->store, &e, 0), -1);
	assert_false(store_has(&f->store, e.hash, e.mode));
	entry_clear(&e);

	assert_int_equal(count_files(f->store.tmpdir), 0);
	assert_int_equal(count_files(f->root.objects), 0);
}

static void put_takes_a_spool_file_by_renaming_it(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "spooled", "from an archive\n", 0640);
	struct stat before, after;
	assert_int_equal(lstat(e.origin, &before), 0);
	assert_int_equal(store_put(&f->store, &e, 1), 0);
	assert_int_equal(access(e.origin, F_OK), -1);
	char *obj = store_object_path(&f->store, e.hash, e.mode);
	assert_int_equal(lstat(obj, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0440);
	assert_non_null(strstr(obj, "-640"));
	free(obj);
	entry_clear(&e);
}

static void materialise_hardlink_shares_the_inode(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "index.html", "<h1>hi</h1>\n", 0644);
	assert_int_equal(store_put(&f->store, &e, 0), 0);
	char *obj = store_object_path(&f->store, e.hash, e.mode);
	char *d1 = path_join(f->dir, "one.html"), *d2 = path_join(f->dir, "two.html");
	assert_int_equal(store_materialise(&f->store, &e, d1, 0), 0);
	assert_int_equal(store_materialise(&f->store, &e, d2, 0), 0);
	struct stat so, s1;
	assert_int_equal(lstat(obj, &so), 0);
	assert_int_equal(lstat(d1, &s1), 0);
	assert_int_equal(s1.st_ino, so.st_ino);
	assert_int_equal(so.st_nlink, 3);
	assert_int_equal(s1.st_mode & 07777, 0444);
	assert_int_equal(f->store.fell_back_to_copy, 0);
	/* the destination must not exist */
	assert_int_equal(store_materialise(&f->store, &e, d1, 0), -1);
	free(d1);
	free(d2);
	free(obj);
	entry_clear(&e);
}

static void materialise_writable_gives_a_private_copy(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "config.php", "<?php return [];\n", 0644);
	assert_int_equal(store_put(&f->store, &e, 0), 0);
	char *obj = store_object_path(&f->store, e.hash, e.mode);
	char *dst = path_join(f->dir, "config.php");
	assert_int_equal(store_materialise(&f->store, &e, dst, 1), 0);
	struct stat so, sd;
	assert_int_equal(lstat(obj, &so), 0);
	assert_int_equal(lstat(dst, &sd), 0);
	assert_true(sd.st_ino != so.st_ino);
	assert_int_equal(sd.st_nlink, 1);
	assert_int_equal(so.st_nlink, 1);
	assert_int_equal(sd.st_mode & 07777, 0644);
	/* writing through it leaves the object alone */
	FILE *fp = fopen(dst, "w");
	assert_non_null(fp);
	fputs("changed\n", fp);
	fclose(fp);
	char *c = read_all(obj);
	assert_string_equal(c, "<?php return [];\n");
	free(c);
	free(dst);
	free(obj);
	entry_clear(&e);
}

static void materialise_copy_mode_makes_a_read_only_copy(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "app.js", "console.log(1)\n", 0755);
	assert_int_equal(store_put(&f->store, &e, 0), 0);
	f->store.mode = LINK_COPY;
	char *obj = store_object_path(&f->store, e.hash, e.mode);
	char *dst = path_join(f->dir, "app.js");
	assert_int_equal(store_materialise(&f->store, &e, dst, 0), 0);
	struct stat so, sd;
	assert_int_equal(lstat(obj, &so), 0);
	assert_int_equal(lstat(dst, &sd), 0);
	assert_true(sd.st_ino != so.st_ino);
	assert_int_equal(sd.st_nlink, 1);
	assert_int_equal(so.st_nlink, 1);
	assert_int_equal(sd.st_mode & 07777, 0555);
	char *c = read_all(dst);
	assert_string_equal(c, "console.log(1)\n");
	free(c);
	free(dst);
	free(obj);
	entry_clear(&e);
}

static void materialise_reports_a_missing_object(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	make_file(f, &e, "never-put", "x\n", 0644);
	char *dst = path_join(f->dir, "out");
	/* with nothing to send it from, a missing object is an error ... */
	char *origin = e.origin;
	e.origin = NULL;
	assert_int_equal(store_materialise(&f->store, &e, dst, 0), -1);
	e.origin = origin;
	assert_int_equal(store_materialise(&f->store, &e, dst, 1), -1);
	f->store.mode = LINK_COPY;
	assert_int_equal(store_materialise(&f->store, &e, dst, 0), -1);
	assert_int_equal(access(dst, F_OK), -1);
	/* ... but a hard link to an object the stat cache vouched for, and that
	 * a prune removed since, sends it from the source and links it */
	f->store.mode = LINK_HARDLINK;
	assert_int_equal(store_materialise(&f->store, &e, dst, 0), 0);
	assert_true(store_has(&f->store, e.hash, e.mode));
	struct stat a, b;
	char *obj = store_object_path(&f->store, e.hash, e.mode);
	assert_int_equal(stat(dst, &a), 0);
	assert_int_equal(stat(obj, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	free(obj);
	free(dst);
	entry_clear(&e);
}

static void gc_removes_unreferenced_objects_only(void **state)
{
	struct fixture *f = *state;
	struct entry a, b, c;
	make_file(f, &a, "kept", "kept\n", 0644);
	make_file(f, &b, "gone", "gone, a bit longer\n", 0644);
	make_file(f, &c, "kept-as-exec", "gone, a bit longer\n", 0755); /* b's bytes, other mode */
	assert_int_equal(store_put(&f->store, &a, 0), 0);
	assert_int_equal(store_put(&f->store, &b, 0), 0);
	assert_int_equal(store_put(&f->store, &c, 0), 0);

	struct manifest m = MANIFEST_INIT;
	struct entry *e = manifest_add(&m, "kept", ENT_FILE);
	e->mode = a.mode;
	memcpy(e->hash, a.hash, HASH_LEN);
	e = manifest_add(&m, "x", ENT_FILE);
	e->mode = c.mode;
	memcpy(e->hash, c.hash, HASH_LEN);
	assert_int_equal(manifest_finish(&m, "test"), 0);
	assert_int_equal(manifest_write(&m, f->root.manifests, "20260101T000000Z"), 0);
	manifest_release(&m);

	struct stat sb;
	char *pb = store_object_path(&f->store, b.hash, b.mode);
	assert_int_equal(lstat(pb, &sb), 0);

	struct strlist keep = STRLIST_INIT;
	strlist_push(&keep, "20260101T000000Z");
	assert_int_equal(store_gc(&f->store, &keep), (int64_t)sb.st_blocks * 512);
	assert_true(store_has(&f->store, a.hash, a.mode));
	assert_false(store_has(&f->store, b.hash, b.mode));
	assert_true(store_has(&f->store, c.hash, c.mode));
	assert_int_equal(count_files(f->root.objects), 2);

	/* a manifest that cannot be read stops the collection */
	strlist_push(&keep, "20260101T000001Z");
	assert_int_equal(store_gc(&f->store, &keep), -1);
	assert_int_equal(count_files(f->root.objects), 2);

	/* with nothing kept all goes; an object still linked from a release is
	 * removed but frees nothing, and emptied fan-out directories go too */
	char *dst = path_join(f->dir, "linked");
	assert_int_equal(store_materialise(&f->store, &a, dst, 0), 0);
	struct stat sc;
	char *pc = store_object_path(&f->store, c.hash, c.mode);
	assert_int_equal(lstat(pc, &sc), 0);
	strlist_clear(&keep);
	assert_int_equal(store_gc(&f->store, &keep), (int64_t)sc.st_blocks * 512);
	assert_int_equal(count_files(f->root.objects), 0);
	DIR *d = opendir(f->root.objects);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "tmp"))
			fail_msg("'%s' left in objects/", de->d_name);
	closedir(d);
	assert_int_equal(access(dst, F_OK), 0);
	free(pc);
	free(dst);
	free(pb);
	entry_clear(&a);
	entry_clear(&b);
	entry_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(object_path_has_the_fanout_and_the_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(put_copies_into_a_read_only_object, setup, teardown),
		cmocka_unit_test_setup_teardown(two_modes_make_two_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(put_refuses_a_file_changed_since_it_was_hashed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(put_takes_a_spool_file_by_renaming_it, setup, teardown),
		cmocka_unit_test_setup_teardown(materialise_hardlink_shares_the_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(materialise_writable_gives_a_private_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(materialise_copy_mode_makes_a_read_only_copy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(materialise_reports_a_missing_object, setup, teardown),
		cmocka_unit_test_setup_teardown(gc_removes_unreferenced_objects_only, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
