#include "release/refresh.h"
#include "release/store.h"
#include "util/error.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct refresh {
	const struct manifest *old;
	struct manifest *out;
	const char *base;
	int changed;
};

static int same(const struct entry *e, const struct stat *st)
{
	switch (e->type) {
	case ENT_DIR:
		return S_ISDIR(st->st_mode);
	case ENT_LINK:
	case ENT_SHARED:
		return S_ISLNK(st->st_mode);
	case ENT_FILE: {
		unsigned want = (e->flags & (ENT_WRITABLE | ENT_PLAIN)) ? e->mode : store_object_mode(e->mode);
		return S_ISREG(st->st_mode) && (uint64_t)st->st_size == e->size &&
		       ((st->st_mode & 07777) == want || (st->st_mode & 07777) == e->mode);
	}
	}
	return 0;
}

static void keep(struct refresh *r, const struct entry *e)
{
	struct entry *n = manifest_add(r->out, e->path, e->type);
	n->mode = e->mode;
	n->size = e->size;
	n->flags = e->flags;
	memcpy(n->hash, e->hash, HASH_LEN);
	if (e->target)
		n->target = xstrdup(e->target);
	if (e->origin)
		n->origin = xstrdup(e->origin);
	n->mtime_ns = e->mtime_ns;
	n->ctime_ns = e->ctime_ns;
	n->ino = e->ino;
}

static int walk(struct refresh *r, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return error_errno("cannot read '%s/%s'", r->base, rel);
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = error_errno("cannot stat '%s/%s'", r->base, sub);
			free(sub);
			break;
		}
		const struct entry *e = manifest_find(r->old, sub);
		if (e && same(e, &st)) {
			keep(r, e);
		} else if (S_ISREG(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			struct entry *n = manifest_add(r->out, sub, ENT_FILE);
			n->mode = st.st_mode & 07777;
			n->flags = ENT_PLAIN;
			if (fd < 0 || hash_fd(fd, n->hash, &n->size) < 0)
				rc = error_errno("cannot read '%s/%s'", r->base, sub);
			if (fd >= 0)
				close(fd);
			r->changed++;
		} else if (S_ISDIR(st.st_mode)) {
			manifest_add(r->out, sub, ENT_DIR)->mode = st.st_mode & 07777;
			r->changed++;
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
			if (n < 0) {
				rc = error_errno("cannot read link '%s/%s'", r->base, sub);
			} else {
				target[n] = 0;
				struct entry *l = manifest_add(r->out, sub, ENT_LINK);
				l->mode = 0777;
				l->target = xstrdup(target);
			}
			r->changed++;
		} else {
			warning("'%s/%s' made by a hook is not a file, directory or symlink; verify will list it",
				r->base, sub);
		}
		if (!rc && S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				rc = error_errno("cannot read '%s/%s'", r->base, sub);
			else
				rc = walk(r, fd, sub);
		}
		free(sub);
	}
	closedir(d);
	return rc;
}

int manifest_refresh(struct manifest *m, const char *release_dir)
{
	struct manifest out = MANIFEST_INIT;
	struct refresh r = { m, &out, release_dir, 0 };
	int fd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s'", release_dir);
	int rc = walk(&r, fd, "");
	if (rc) {
		manifest_release(&out);
		return rc;
	}
	if (out.nr != m->nr)
		r.changed++;
	/* entries come out in directory order: sort them (no duplicates, all parents present) */
	rc = manifest_finish(&out, release_dir);
	if (rc) {
		manifest_release(&out);
		return rc;
	}
	manifest_release(m);
	*m = out;
	return 0;
}
