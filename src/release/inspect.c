#include "release/inspect.h"
#include "util/error.h"
#include "util/fs.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int entry_differs(const struct entry *a, const struct entry *b)
{
	if (a->type != b->type || a->mode != b->mode)
		return 1;
	if (a->type == ENT_FILE)
		return memcmp(a->hash, b->hash, HASH_LEN) != 0;
	if (a->type == ENT_LINK)
		return strcmp(a->target, b->target) != 0;
	return 0;
}

void manifest_diff(const struct manifest *a, const struct manifest *b, diff_fn fn, void *data)
{
	size_t i = 0, j = 0;
	while (i < a->nr || j < b->nr) {
		int c = i >= a->nr ? 1 : j >= b->nr ? -1 : strcmp(a->v[i].path, b->v[j].path);
		if (c < 0) {
			fn(CHANGE_REMOVED, &a->v[i++], NULL, data);
		} else if (c > 0) {
			fn(CHANGE_ADDED, NULL, &b->v[j++], data);
		} else {
			if (entry_differs(&a->v[i], &b->v[j]))
				fn(CHANGE_MODIFIED, &a->v[i], &b->v[j], data);
			i++;
			j++;
		}
	}
}

struct verify {
	const struct manifest *m;
	drift_fn fn;
	void *data;
	int findings;
	char *base;
};

static void found(struct verify *v, const char *kind, const char *path, const char *detail)
{
	v->findings++;
	v->fn(kind, path, detail, v->data);
}

static void walk_extra(struct verify *v, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		const struct entry *e = manifest_find(v->m, sub);
		if (!e)
			found(v, "extra", sub, "not in the manifest");
		else if (e->type == ENT_DIR) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				walk_extra(v, fd, sub);
		}
		free(sub);
	}
	closedir(d);
}

static const char *type_name(mode_t m)
{
	return S_ISREG(m) ? "a file" : S_ISDIR(m) ? "a directory" : S_ISLNK(m) ? "a symlink" : "special";
}

int release_verify(struct root *r, const char *id, drift_fn fn, void *data)
{
	struct manifest m = MANIFEST_INIT;
	if (manifest_read(&m, r->manifests, id) < 0)
		return -1;
	struct verify v = { &m, fn, data, 0, release_path(r, id) };
	int bfd = open(v.base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		error_errno("cannot open '%s'", v.base);
		free(v.base);
		manifest_release(&m);
		return -1;
	}
	char detail[256];
	for (size_t i = 0; i < m.nr; i++) {
		const struct entry *e = &m.v[i];
		struct stat st;
		if (fstatat(bfd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			found(&v, "missing", e->path, strerror(errno));
			continue;
		}
		mode_t want = e->type == ENT_FILE ? S_IFREG : e->type == ENT_DIR ? S_IFDIR : S_IFLNK;
		if ((st.st_mode & S_IFMT) != want) {
			snprintf(detail, sizeof(detail), "is %s, was %s", type_name(st.st_mode),
				 type_name(want));
			found(&v, "type", e->path, detail);
			continue;
		}
		if (e->type == ENT_LINK || e->type == ENT_SHARED) {
			char target[4096];
			ssize_t n = readlinkat(bfd, e->path, target, sizeof(target) - 1);
			target[n < 0 ? 0 : n] = 0;
			if (e->type == ENT_LINK && strcmp(target, e->target)) {
				snprintf(detail, sizeof(detail), "points at '%.100s', was '%.100s'", target,
					 e->target);
				found(&v, "link", e->path, detail);
			}
			continue;
		}
		if (e->type == ENT_DIR)
			continue;
		if (e->flags & ENT_WRITABLE)
			continue; /* private copies are the application's to change */
		unsigned expect_mode = (e->flags & ENT_PLAIN) ? e->mode : (e->mode & 0555);
		if ((st.st_mode & 07777) != expect_mode && (st.st_mode & 07777) != e->mode) {
			snprintf(detail, sizeof(detail), "mode %04o, was %04o", st.st_mode & 07777, e->mode);
			found(&v, "mode", e->path, detail);
		}
		int fd = openat(bfd, e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		unsigned char h[HASH_LEN];
		uint64_t size;
		if (fd < 0 || hash_fd(fd, h, &size) < 0) {
			found(&v, "missing", e->path, strerror(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		close(fd);
		if (memcmp(h, e->hash, HASH_LEN)) {
			snprintf(detail, sizeof(detail), "content differs (%llu bytes, was %llu)",
				 (unsigned long long)size, (unsigned long long)e->size);
			found(&v, "changed", e->path, detail);
		}
	}
	walk_extra(&v, bfd, "");
	free(v.base);
	manifest_release(&m);
	return v.findings;
}

struct inode_count {
	uint64_t ino;
	uint64_t nlink;
	uint64_t bytes;
};

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct inode_count *)a)->ino, y = ((const struct inode_count *)b)->ino;
	return x < y ? -1 : x > y;
}

static void collect(int dfd, struct inode_count **v, size_t *nr, size_t *alloc, uint64_t *dirs)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			*dirs += (uint64_t)st.st_blocks * 512;
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				collect(fd, v, nr, alloc, dirs);
			continue;
		}
		ALLOC_GROW(*v, *nr + 1, *alloc);
		(*v)[(*nr)++] = (struct inode_count){ (uint64_t)st.st_ino, (uint64_t)st.st_nlink,
						      (uint64_t)st.st_blocks * 512 };
	}
	closedir(d);
}

uint64_t release_unique_bytes(struct root *r, const char *id)
{
	char *p = release_path(r, id);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return 0;
	struct inode_count *v = NULL;
	size_t nr = 0, alloc = 0;
	uint64_t total = 0;
	collect(fd, &v, &nr, &alloc, &total);
	if (nr)
		qsort(v, nr, sizeof(*v), cmp_ino);
	/* an inode is this release's alone when its links are ours plus at most the store's */
	for (size_t i = 0; i < nr;) {
		size_t j = i;
		while (j < nr && v[j].ino == v[i].ino)
			j++;
		if (v[i].nlink <= (uint64_t)(j - i) + 1)
			total += v[i].bytes;
		i = j;
	}
	free(v);
	return total;
}
