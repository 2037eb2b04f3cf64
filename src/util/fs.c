#include "util/fs.h"
#include "util/error.h"
#include "util/strlist.h"
#include "util/workers.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	if (!la)
		return xstrdup(b);
	if (!*b)
		return xstrdup(a);
	return xasprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

/* Normalise a '/'-separated path: drop "." and empty parts, resolve ".." lexically. */
static char *normalise(const char *p, int absolute)
{
	char *copy = xstrdup(p), *save = NULL;
	char **parts = NULL;
	size_t nr = 0, alloc = 0;
	struct buf out = BUF_INIT;

	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (nr && strcmp(parts[nr - 1], ".."))
				nr--;
			else if (!absolute)
				goto push;
			continue;
		}
	push:
		ALLOC_GROW(parts, nr + 1, alloc);
		parts[nr++] = t;
	}
	if (absolute)
		buf_addch(&out, '/');
	for (size_t i = 0; i < nr; i++) {
		if (i)
			buf_addch(&out, '/');
		buf_addstr(&out, parts[i]);
	}
	if (!out.len)
		buf_addch(&out, '.');
	free(parts);
	free(copy);
	return buf_detach(&out, NULL);
}

char *path_absolute(const char *p)
{
	if (p[0] == '/')
		return normalise(p, 1);
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		die("cannot get the current directory: %s", strerror(errno));
	char *j = path_join(cwd, p);
	char *n = normalise(j, 1);
	free(j);
	return n;
}

static size_t split_parts(char *s, char ***out)
{
	char *save = NULL, **v = NULL;
	size_t nr = 0, alloc = 0;
	for (char *t = strtok_r(s, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr++] = t;
	}
	*out = v;
	return nr;
}

char *path_relative_link(const char *from_dir, const char *to)
{
	char *f = normalise(from_dir, 0), *t = normalise(to, 0);
	char **fp, **tp;
	size_t nf = split_parts(f, &fp), nt = split_parts(t, &tp), common = 0;
	struct buf out = BUF_INIT;

	while (common < nf && common < nt && !strcmp(fp[common], tp[common]))
		common++;
	for (size_t i = common; i < nf; i++)
		buf_addstr(&out, out.len ? "/.." : "..");
	for (size_t i = common; i < nt; i++) {
		if (out.len)
			buf_addch(&out, '/');
		buf_addstr(&out, tp[i]);
	}
	if (!out.len)
		buf_addch(&out, '.');
	free(fp);
	free(tp);
	free(f);
	free(t);
	return buf_detach(&out, NULL);
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	struct stat st;
	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return error_errno("cannot create directory '%s'", path);
	}
	char *copy = xstrdup(path);
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			error_errno("cannot create directory '%s'", copy);
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return error_errno("cannot create directory '%s'", path);
	return 0;
}

static int rm_rf_at(int parent, const char *name, const char *path);
/* Remove the contents of open directory `fd` (consumed), then nothing else. */
static int rm_contents(int fd, const char *path);

static int rm_dir_at(int parent, const char *name, const char *path, mode_t mode)
{
	if ((mode & 0700) != 0700)
		fchmodat(parent, name, mode | 0700, 0);
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno("cannot open '%s'", path);
	}
	int rc = rm_contents(fd, path);
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_errno("cannot remove directory '%s'", path);
	return rc;
}

static int rm_contents(int fd, const char *path)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return error_errno("cannot read '%s'", path);
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* d_type spares a stat per entry; only directories need more */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR) {
				char *sub = path_join(path, de->d_name);
				rc = error_errno("cannot remove '%s'", sub);
				free(sub);
				continue;
			}
		}
		char *sub = path_join(path, de->d_name);
		if (rm_rf_at(dirfd(d), de->d_name, sub) < 0)
			rc = -1;
		free(sub);
	}
	closedir(d);
	return rc;
}

static int rm_rf_at(int parent, const char *name, const char *path)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno("cannot remove '%s'", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return error_errno("cannot remove '%s'", path);
		return 0;
	}
	return rm_dir_at(parent, name, path, st.st_mode);
}

int fs_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path, path);
}

/* The directories `depth` levels below path, to share out among threads. */
static void subtrees(const char *path, int depth, struct strlist *out)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = path_join(path, de->d_name);
		if (depth > 1)
			subtrees(sub, depth - 1, out);
		else
			strlist_push(out, sub);
		free(sub);
	}
	closedir(d);
}

static int rm_subtree(void *ctx, size_t i)
{
	struct strlist *l = ctx;
	fs_rm_rf(l->items[i]); /* what fails is reported, and tried again below */
	return 0;
}

int fs_rm_rf_parallel(const char *path)
{
	struct strlist subs = STRLIST_INIT;
	subtrees(path, 2, &subs);
	if (subs.nr > 1)
		workers_run(subs.nr, rm_subtree, &subs, 0);
	strlist_clear(&subs);
	return fs_rm_rf(path);
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open directory '%s'", path);
	if (fsync(fd) < 0 && errno != EINVAL) {
		error_errno("cannot fsync directory '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int fs_fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	int rc;
	if (!slash)
		rc = fs_fsync_dir(".");
	else {
		if (slash == copy)
			slash[1] = 0;
		else
			*slash = 0;
		rc = fs_fsync_dir(copy);
	}
	free(copy);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode, int durable);

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file(path, data, len, mode, 1);
}

int fs_write_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file(path, data, len, mode, 0);
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode, int durable)
{
	char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		error_errno("cannot create '%s'", tmp);
		free(tmp);
		return -1;
	}
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		error_errno("cannot write '%s'", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		error_errno("cannot write '%s'", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error_errno("cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	free(tmp);
	return durable ? fs_fsync_parent(path) : 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int fs_read_file(struct buf *out, const char *path, size_t max, int missing_ok)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return 1;
		return error_errno("cannot open '%s'", path);
	}
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_errno("cannot read '%s'", path);
			close(fd);
			return -1;
		}
		if (!n)
			break;
		if (out->len + (size_t)n > max) {
			close(fd);
			return error("'%s' is larger than %zu bytes", path, max);
		}
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

int fs_copy_data(int srcfd, const char *what, int out, const char *dst)
{
	loff_t off_in = 0;
	int use_cfr = 1;
	for (;;) {
		ssize_t n;
		if (use_cfr) {
			n = copy_file_range(srcfd, &off_in, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				use_cfr = 0;
				continue;
			}
		} else {
			char chunk[131072];
			n = pread(srcfd, chunk, sizeof(chunk), off_in);
			if (n > 0) {
				if (write_all(out, chunk, (size_t)n) < 0)
					return error_errno("cannot write '%s'", dst);
				off_in += n;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno("cannot copy '%s' to '%s'", what, dst);
		}
		if (n == 0)
			return 0;
	}
}

int fs_copy_fd(int srcfd, const char *what, const char *dst, mode_t mode)
{
	return fs_copy_fd_at(srcfd, what, AT_FDCWD, dst, mode);
}

int fs_copy_fd_at(int srcfd, const char *what, int dfd, const char *dst, mode_t mode)
{
	int out = openat(dfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode | 0200);
	if (out < 0)
		return error_errno("cannot create '%s'", dst);
	if (fs_copy_data(srcfd, what, out, dst) < 0)
		goto fail;
	if (fchmod(out, mode) < 0) {
		error_errno("cannot set the mode of '%s'", dst);
		goto fail;
	}
	if (close(out) < 0) {
		out = -1;
		error_errno("cannot write '%s'", dst);
		goto fail;
	}
	return 0;
fail:
	if (out >= 0)
		close(out);
	unlinkat(dfd, dst, 0);
	return -1;
}

int fs_reflink_fd(int srcfd, const char *dst, mode_t mode)
{
	return fs_reflink_fd_at(srcfd, AT_FDCWD, dst, mode);
}

int fs_reflink_fd_at(int srcfd, int dfd, const char *dst, mode_t mode)
{
	int out = openat(dfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode | 0200);
	if (out < 0)
		return error_errno("cannot create '%s'", dst);
	if (ioctl(out, FICLONE, srcfd) < 0) {
		int err = errno;
		close(out);
		unlinkat(dfd, dst, 0);
		errno = err;
		if (err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY)
			return -2;
		return error_errno("cannot reflink into '%s'", dst);
	}
	if (fchmod(out, mode) < 0 || close(out) < 0) {
		error_errno("cannot finish '%s'", dst);
		unlinkat(dfd, dst, 0);
		return -1;
	}
	return 0;
}

int fs_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return error_errno("cannot read '%s'", src);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return error_errno("cannot read link '%s'", src);
		target[n] = 0;
		if (symlink(target, dst) < 0)
			return error_errno("cannot create link '%s'", dst);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		int fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_errno("cannot open '%s'", src);
		int rc = fs_copy_fd(fd, src, dst, (st.st_mode & 07777) | 0200);
		close(fd);
		return rc;
	}
	if (!S_ISDIR(st.st_mode))
		return error("cannot copy '%s': not a file, directory or symlink", src);
	if (mkdir(dst, (st.st_mode & 07777) | 0700) < 0)
		return error_errno("cannot create directory '%s'", dst);
	DIR *d = opendir(src);
	if (!d)
		return error_errno("cannot read directory '%s'", src);
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *s = path_join(src, de->d_name), *t = path_join(dst, de->d_name);
		rc = fs_copy_tree(s, t);
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

/* Open-addressing set of (dev, ino) pairs. */
struct inode_set {
	uint64_t *keys; /* dev ^ ino<<? would collide; store both */
	uint64_t *devs;
	size_t nr, cap;
};

struct inode_set *inode_set_new(void)
{
	struct inode_set *s = xcalloc(1, sizeof(*s));
	s->cap = 1024;
	s->keys = xcalloc(s->cap, sizeof(*s->keys));
	s->devs = xcalloc(s->cap, sizeof(*s->devs));
	return s;
}

void inode_set_free(struct inode_set *s)
{
	if (!s)
		return;
	free(s->keys);
	free(s->devs);
	free(s);
}

static size_t slot_of(const struct inode_set *s, uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino + 1) * 0x9E3779B97F4A7C15ULL ^ dev;
	size_t i = (size_t)(h & (s->cap - 1));
	while (s->keys[i] && (s->keys[i] != ino + 1 || s->devs[i] != dev))
		i = (i + 1) & (s->cap - 1);
	return i;
}

int inode_set_add(struct inode_set *s, dev_t dev, ino_t ino)
{
	if ((s->nr + 1) * 2 > s->cap) {
		struct inode_set big = { xcalloc(s->cap * 2, sizeof(uint64_t)),
					 xcalloc(s->cap * 2, sizeof(uint64_t)), 0, s->cap * 2 };
		for (size_t i = 0; i < s->cap; i++)
			if (s->keys[i]) {
				size_t j = slot_of(&big, s->devs[i], s->keys[i] - 1);
				big.keys[j] = s->keys[i];
				big.devs[j] = s->devs[i];
			}
		free(s->keys);
		free(s->devs);
		s->keys = big.keys;
		s->devs = big.devs;
		s->cap = big.cap;
	}
	size_t i = slot_of(s, (uint64_t)dev, (uint64_t)ino);
	if (s->keys[i])
		return 0;
	s->keys[i] = (uint64_t)ino + 1;
	s->devs[i] = (uint64_t)dev;
	s->nr++;
	return 1;
}

static uint64_t usage_at(int parent, const char *name, struct inode_set *seen)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	uint64_t total = 0;
	if (!seen || inode_set_add(seen, st.st_dev, st.st_ino))
		total = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return total;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return total;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return total;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			total += usage_at(dirfd(d), de->d_name, seen);
	closedir(d);
	return total;
}

uint64_t fs_disk_usage(const char *path, struct inode_set *seen)
{
	return usage_at(AT_FDCWD, path, seen);
}

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
