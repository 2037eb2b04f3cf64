#include "release/store.h"
#include "util/error.h"
#include "util/fs.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int link_mode_parse(const char *s, enum link_mode *out)
{
	if (!strcmp(s, "hardlink"))
		*out = LINK_HARDLINK;
	else if (!strcmp(s, "reflink"))
		*out = LINK_REFLINK;
	else if (!strcmp(s, "copy"))
		*out = LINK_COPY;
	else
		return error("unknown link mode '%s'; use hardlink, reflink or copy", s);
	return 0;
}

int store_init(struct store *s, struct root *r, enum link_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->root = r;
	s->mode = mode;
	s->tmpdir = path_join(r->objects, "tmp");
	return fs_mkdir_p(s->tmpdir, 0700);
}

void store_release(struct store *s)
{
	free(s->tmpdir);
	s->tmpdir = NULL;
}

unsigned store_object_mode(unsigned mode)
{
	return mode & 0555;
}

char *store_object_path(const struct store *s, const unsigned char *hash, unsigned mode)
{
	char hex[HASH_HEX + 1];
	hash_to_hex(hex, hash);
	return xasprintf("%s/%.2s/%s-%o", s->root->objects, hex, hex + 2, mode & 0777);
}

int store_has(const struct store *s, const unsigned char *hash, unsigned mode)
{
	char *p = store_object_path(s, hash, mode);
	int ok = !access(p, F_OK);
	free(p);
	return ok;
}

static char *tmp_name(struct store *s)
{
	return xasprintf("%s/%d-%u", s->tmpdir, (int)getpid(),
			 __atomic_fetch_add(&s->tmp_seq, 1, __ATOMIC_RELAXED));
}

/*
 * Rename `tmp` to the object path, creating the fan-out directory on demand.
 * A spool file on another file system than the store is copied in first.
 */
static int install(struct store *s, const char *tmp, const char *obj)
{
	if (rename(tmp, obj) == 0)
		return 0;
	if (errno == EXDEV) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_errno("cannot read '%s'", tmp);
		struct stat st;
		char *local = tmp_name(s);
		int rc = fstat(fd, &st) < 0 ? error_errno("cannot stat '%s'", tmp) :
					      fs_copy_fd(fd, tmp, local, st.st_mode & 07777);
		close(fd);
		if (!rc)
			rc = install(s, local, obj);
		if (rc)
			unlink(local);
		else
			unlink(tmp);
		free(local);
		return rc;
	}
	if (errno == ENOENT) {
		char *dir = xstrdup(obj);
		*strrchr(dir, '/') = 0;
		if (mkdir(dir, 0711) < 0 && errno != EEXIST) {
			error_errno("cannot create '%s'", dir);
			free(dir);
			return -1;
		}
		free(dir);
		if (rename(tmp, obj) == 0)
			return 0;
	}
	return error_errno("cannot move '%s' to '%s'", tmp, obj);
}

int store_put(struct store *s, const struct entry *e, int take)
{
	unsigned omode = store_object_mode(e->mode);
	char *obj = store_object_path(s, e->hash, e->mode);
	int rc = -1;

	if (take) {
		if (chmod(e->origin, omode) < 0) {
			error_errno("cannot set the mode of '%s'", e->origin);
			goto out;
		}
		rc = install(s, e->origin, obj);
		goto out;
	}
	int fd = open(e->origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		error_errno("cannot read '%s'", e->origin);
		goto out;
	}
	struct stat before, after;
	char *tmp = tmp_name(s);
	if (fstat(fd, &before) < 0 || fs_copy_fd(fd, e->origin, tmp, omode) < 0 ||
	    fstat(fd, &after) < 0) {
		close(fd);
		unlink(tmp);
		free(tmp);
		goto out;
	}
	close(fd);
	/* the hash was computed from what the walk saw; the copy must be of the same bytes */
	if ((uint64_t)after.st_size != e->size || before.st_mtim.tv_sec != after.st_mtim.tv_sec ||
	    before.st_mtim.tv_nsec != after.st_mtim.tv_nsec ||
	    (int64_t)after.st_mtim.tv_sec * 1000000000 + after.st_mtim.tv_nsec != e->mtime_ns ||
	    (int64_t)after.st_ctim.tv_sec * 1000000000 + after.st_ctim.tv_nsec != e->ctime_ns) {
		error("'%s' changed while it was being deployed; deploy again once it is stable",
		      e->origin);
		unlink(tmp);
		free(tmp);
		goto out;
	}
	rc = install(s, tmp, obj);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
out:
	free(obj);
	return rc;
}

/* The object has too many links (ext4: 65000): put a fresh copy in its place.
 * Releases that link the old inode keep it; new links go to the new one. */
static int refresh_object(struct store *s, const char *obj, unsigned omode)
{
	int fd = open(obj, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot read object '%s'", obj);
	char *tmp = tmp_name(s);
	int rc = fs_copy_fd(fd, obj, tmp, omode);
	close(fd);
	if (!rc && rename(tmp, obj) < 0)
		rc = error_errno("cannot replace object '%s'", obj);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int copy_object(const char *obj, const char *dst, unsigned mode)
{
	int fd = open(obj, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot read object '%s'", obj);
	int rc = fs_copy_fd(fd, obj, dst, mode);
	close(fd);
	return rc;
}

int store_materialise(struct store *s, const struct entry *e, const char *dst, int writable)
{
	unsigned omode = store_object_mode(e->mode);
	char *obj = store_object_path(s, e->hash, e->mode);
	int rc = 0;

	if (writable) {
		rc = copy_object(obj, dst, e->mode & 07777);
		goto out;
	}
	switch (s->mode) {
	case LINK_HARDLINK:
		for (int attempt = 0;; attempt++) {
			if (link(obj, dst) == 0)
				break;
			if (errno == EMLINK && attempt == 0) {
				rc = refresh_object(s, obj, omode);
				if (rc)
					break;
				continue;
			}
			if (errno == EXDEV) {
				if (!s->fell_back_to_copy)
					note("the object store and the release are on different file systems; copying files");
				s->fell_back_to_copy = 1;
				rc = copy_object(obj, dst, omode);
				break;
			}
			rc = error_errno("cannot link '%s'", dst);
			break;
		}
		break;
	case LINK_REFLINK: {
		int fd = open(obj, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = error_errno("cannot read object '%s'", obj);
			break;
		}
		rc = fs_reflink_fd(fd, dst, omode);
		close(fd);
		if (rc == -2)
			rc = error("cannot reflink '%s': the file system does not support it; use "
				   "--link-mode hardlink or copy",
				   dst);
		break;
	}
	case LINK_COPY:
		rc = copy_object(obj, dst, omode);
		break;
	}
out:
	free(obj);
	return rc;
}

/* A set of object names ("ab/cdef…-644") built from the kept manifests. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int64_t store_gc(struct store *s, const struct strlist *keep_ids)
{
	struct strlist keep = STRLIST_INIT;
	for (size_t i = 0; i < keep_ids->nr; i++) {
		struct manifest m = MANIFEST_INIT;
		if (manifest_read(&m, s->root->manifests, keep_ids->items[i]) < 0) {
			manifest_release(&m);
			strlist_clear(&keep);
			return error("not removing any object: the manifest of '%s' cannot be read",
				     keep_ids->items[i]);
		}
		for (size_t j = 0; j < m.nr; j++) {
			if (m.v[j].type != ENT_FILE)
				continue;
			char hex[HASH_HEX + 1];
			hash_to_hex(hex, m.v[j].hash);
			char *name = xasprintf("%.2s/%s-%o", hex, hex + 2, m.v[j].mode & 0777);
			ALLOC_GROW(keep.items, keep.nr + 1, keep.alloc);
			keep.items[keep.nr++] = name;
		}
		manifest_release(&m);
	}
	if (keep.nr)
		qsort(keep.items, keep.nr, sizeof(char *), cmp_str);

	int64_t freed = 0;
	DIR *top = opendir(s->root->objects);
	if (!top) {
		strlist_clear(&keep);
		return error_errno("cannot read '%s'", s->root->objects);
	}
	struct dirent *de;
	while ((de = readdir(top))) {
		if (strlen(de->d_name) != 2)
			continue;
		char *dir = path_join(s->root->objects, de->d_name);
		DIR *sub = opendir(dir);
		if (!sub) {
			free(dir);
			continue;
		}
		struct dirent *oe;
		while ((oe = readdir(sub))) {
			if (oe->d_name[0] == '.')
				continue;
			char *name = xasprintf("%s/%s", de->d_name, oe->d_name);
			if (!keep.nr || !bsearch(&name, keep.items, keep.nr, sizeof(char *), cmp_str)) {
				char *p = path_join(dir, oe->d_name);
				struct stat st;
				if (!lstat(p, &st) && unlink(p) == 0 && st.st_nlink == 1)
					freed += (int64_t)st.st_blocks * 512;
				free(p);
			}
			free(name);
		}
		closedir(sub);
		rmdir(dir); /* only succeeds when empty */
		free(dir);
	}
	closedir(top);
	strlist_clear(&keep);
	return freed;
}
