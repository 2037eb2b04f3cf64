/* Object store: put, materialise (hardlink, writable, copy), garbage collection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "release/store.h"
#include "util/error.h"
#include "util/fs.h"

/* pread(2) as the store sees it: fails with EIO from this offset on (-1: never),
 * to make a read error in the middle of a file */
static off_t fail_reads_from = -1;

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (fail_reads_from >= 0 && off >= fail_reads_from) {
		errno = EIO;
		return -1;
	}
	return syscall(SYS_pread64, fd, buf, n, off);
}

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

/* The three ways store_put_fd names a new object: linkat(AT_EMPTY_PATH), the
 * /proc/self/fd link, and a temporary name where there is no O_TMPFILE. */
static const char *const put_fd_ways[] = { "flink", "proc", "named" };

static void use_way(struct fixture *f, int way)
{
	f->store.no_empty_path = way >= 1;
	f->store.no_tmpfile = way >= 2;
}

/* Store e's file with store_put_fd, checking that it computes e->hash
 * (as make_file did) itself. Returns what store_put_fd returned. */
static int put_fd(struct fixture *f, struct entry *e)
{
	unsigned char want[HASH_LEN];
	memcpy(want, e->hash, HASH_LEN);
	memset(e->hash, 0, HASH_LEN);
	int fd = open(e->origin, O_RDONLY);
	assert_true(fd >= 0);
	uint64_t size = 0;
	int rc = store_put_fd(&f->store, e, fd, &size);
	close(fd);
	if (rc >= 0) {
		assert_memory_equal(e->hash, want, HASH_LEN);
		assert_int_equal(size, e->size);
	}
	return rc;
}

static void put_fd_stores_a_new_file_in_one_read(void **state)
{
	struct fixture *f = *state;
	for (int way = 0; way < 3; way++) {
		use_way(f, way);
		struct entry e;
		char *name = xasprintf("%s.sh", put_fd_ways[way]);
		char *content = xasprintf("#!/bin/sh\necho %s\n", put_fd_ways[way]);
		make_file(f, &e, name, content, way == 1 ? 0755 : 0644);
		assert_false(store_has(&f->store, e.hash, e.mode));
		assert_int_equal(put_fd(f, &e), 1);
		assert_true(store_has(&f->store, e.hash, e.mode));

		char *obj = store_object_path(&f->store, e.hash, e.mode);
		assert_non_null(strstr(obj, way == 1 ? "-755" : "-644"));
		struct stat st;
		assert_int_equal(lstat(obj, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, way == 1 ? 0555 : 0444);
		assert_int_equal(st.st_nlink, 1);
		char *c = read_all(obj);
		assert_string_equal(c, content);
		free(c);
		free(obj);
		free(content);
		free(name);
		entry_clear(&e);
	}
	assert_int_equal(count_files(f->store.tmpdir), 0);
	assert_int_equal(count_files(f->root.objects), 3);
}

static void put_fd_keeps_the_object_that_exists(void **state)
{
	struct fixture *f = *state;
	for (int way = 0; way < 3; way++) {
		use_way(f, way);
		struct entry e;
		char *content = xasprintf("stored twice, %s\n", put_fd_ways[way]);
		make_file(f, &e, "twice.txt", content, 0644);
		/* first by the hash-then-copy way, then in one pass */
		assert_int_equal(store_put(&f->store, &e, 0), 0);
		char *obj = store_object_path(&f->store, e.hash, e.mode);
		struct stat before, after;
		assert_int_equal(lstat(obj, &before), 0);
		assert_int_equal(put_fd(f, &e), 0);
		assert_int_equal(put_fd(f, &e), 0);
		assert_int_equal(lstat(obj, &after), 0);
		assert_int_equal(after.st_ino, before.st_ino);
		assert_int_equal(after.st_nlink, 1);
		free(obj);
		free(content);
		entry_clear(&e);
	}
	assert_int_equal(count_files(f->store.tmpdir), 0);
	assert_int_equal(count_files(f->root.objects), 3);
}

struct racer {
	struct fixture *f;
	struct entry e;
	pthread_barrier_t *start;
	int rc;
};

static void *race_put_fd(void *arg)
{
	struct racer *r = arg;
	int fd = open(r->e.origin, O_RDONLY);
	uint64_t size;
	pthread_barrier_wait(r->start);
	r->rc = fd < 0 ? -1 : store_put_fd(&r->f->store, &r->e, fd, &size);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void put_fd_of_two_identical_files_at_once_makes_one_object(void **state)
{
	struct fixture *f = *state;
	enum { ROUNDS = 30 };
	/* 64 KiB and more: both threads are still writing when the other links */
	size_t len = 65536 + 4096 * 3;
	char *content = xmalloc(len + 1);
	for (int round = 0; round < ROUNDS; round++) {
		use_way(f, round % 3);
		for (size_t i = 0; i < len; i++)
			content[i] = (char)('a' + i * 7 % 26);
		content[len] = 0;
		memcpy(content, "round ", 6);
		content[6] = (char)('A' + round); /* new bytes each round */
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		struct racer r[2];
		pthread_t tid[2];
		for (int i = 0; i < 2; i++) {
			char *name = xasprintf("same-%d-%d", round, i);
			r[i].f = f;
			r[i].start = &start;
			make_file(f, &r[i].e, name, content, 0644);
			memset(r[i].e.hash, 0, HASH_LEN);
			free(name);
		}
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&tid[i], NULL, race_put_fd, &r[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&start);
		/* one of them added the object, the other found it */
		assert_int_equal(r[0].rc + r[1].rc, 1);
		assert_true(r[0].rc >= 0 && r[1].rc >= 0);
		assert_memory_equal(r[0].e.hash, r[1].e.hash, HASH_LEN);
		char *obj = store_object_path(&f->store, r[0].e.hash, r[0].e.mode);
		struct stat st;
		assert_int_equal(lstat(obj, &st), 0);
		assert_int_equal(st.st_nlink, 1);
		assert_int_equal((size_t)st.st_size, len);
		free(obj);
		entry_clear(&r[0].e);
		entry_clear(&r[1].e);
	}
	free(content);
	assert_int_equal(count_files(f->store.tmpdir), 0);
	assert_int_equal(count_files(f->root.objects), ROUNDS);
}

static void put_fd_read_error_mid_file_leaves_no_object(void **state)
{
	struct fixture *f = *state;
	/* larger than one read, so that the first read succeeds */
	size_t len = 600 * 1024;
	char *content = xmalloc(len + 1);
	memset(content, 'x', len);
	content[len] = 0;
	for (int way = 0; way < 3; way++) {
		use_way(f, way);
		struct entry e;
		make_file(f, &e, "big.bin", content, 0644);
		int fd = open(e.origin, O_RDONLY);
		assert_true(fd >= 0);
		uint64_t size;
		fail_reads_from = 1;
		int rc = store_put_fd(&f->store, &e, fd, &size);
		fail_reads_from = -1;
		close(fd);
		assert_int_equal(rc, -1);
		char *msg = xasprintf("cannot read '%s': %s", e.origin, strerror(EIO));
		assert_string_equal(error_last(), msg);
		free(msg);
		assert_int_equal(count_files(f->root.objects), 0); /* tmp/ included */
		entry_clear(&e);
	}
	free(content);
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

/* Only the two-hex-digit fan-out directories are collected: never '..' (.cutover/ itself). */
static void gc_touches_nothing_outside_the_fan_out_directories(void **state)
{
	struct fixture *f = *state;
	struct entry a;
	make_file(f, &a, "a", "a\n", 0644);
	assert_int_equal(store_put(&f->store, &a, 0), 0);
	char *history = path_join(f->root.meta, "history.jsonl");
	char *lock = path_join(f->root.meta, "lock");
	char *stray_dir = path_join(f->root.objects, "zz");
	char *stray = path_join(f->root.objects, "ab/not-an-object");
	assert_int_equal(fs_write_atomic(history, "{}\n", 3, 0644), 0);
	assert_int_equal(fs_write_atomic(lock, "", 0, 0644), 0);
	assert_int_equal(mkdir(stray_dir, 0755), 0);
	char *fan = path_join(f->root.objects, "ab");
	mkdir(fan, 0711); /* may exist */
	free(fan);
	assert_int_equal(fs_write_atomic(stray, "x", 1, 0644), 0);
	struct strlist keep = STRLIST_INIT;
	assert_true(store_gc(&f->store, &keep) >= 0);
	assert_int_equal(access(history, F_OK), 0);
	assert_int_equal(access(lock, F_OK), 0);
	assert_int_equal(access(stray_dir, F_OK), 0);         /* not a fan-out directory: left alone */
	assert_int_equal(access(stray, F_OK), -1);            /* in one, and no release names it: gone */
	assert_false(store_has(&f->store, a.hash, a.mode));
	free(history);
	free(lock);
	free(stray_dir);
	free(stray);
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
		cmocka_unit_test_setup_teardown(put_fd_stores_a_new_file_in_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(put_fd_keeps_the_object_that_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(put_fd_of_two_identical_files_at_once_makes_one_object,
						setup, teardown),
		cmocka_unit_test_setup_teardown(put_fd_read_error_mid_file_leaves_no_object, setup,
						teardown),
		cmocka_unit_test_setup_teardown(materialise_hardlink_shares_the_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(materialise_writable_gives_a_private_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(materialise_copy_mode_makes_a_read_only_copy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(materialise_reports_a_missing_object, setup, teardown),
		cmocka_unit_test_setup_teardown(gc_removes_unreferenced_objects_only, setup, teardown),
		cmocka_unit_test_setup_teardown(gc_touches_nothing_outside_the_fan_out_directories, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
