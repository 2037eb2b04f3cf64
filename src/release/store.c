#include "release/store.h"
#include "util/error.h"
#include "util/fs.h"
#include <dirent.h>
#include <ctype.h>
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
	s->umask = umask(0);
	umask(s->umask);
	s->objfd = open(r->objects, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->objfd < 0)
		return error_errno("cannot open '%s'", r->objects);
	/* the 256 fan-out directories, once per root */
	char name[3];
	for (int i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		if (mkdirat(s->objfd, name, 0711) < 0 && errno != EEXIST)
			return error_errno("cannot create '%s/%s'", r->objects, name);
	}
	return fs_mkdir_p(s->tmpdir, 0700);
}

void store_release(struct store *s)
{
	free(s->tmpdir);
	s->tmpdir = NULL;
	if (s->objfd >= 0)
		close(s->objfd);
	s->objfd = -1;
}

void store_object_name(char out[STORE_NAME_MAX], const unsigned char *hash, unsigned mode)
{
	char hex[HASH_HEX + 1];
	hash_to_hex(hex, hash);
	snprintf(out, STORE_NAME_MAX, "%.2s/%s-%o", hex, hex + 2, mode & 0777);
}

unsigned store_object_mode(unsigned mode)
{
	return mode & 0555;
}

char *store_object_path(const struct store *s, const unsigned char *hash, unsigned mode)
{
	char name[STORE_NAME_MAX];
	store_object_name(name, hash, mode);
	return xasprintf("%s/%s", s->root->objects, name);
}

int store_cmp_object(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
	int c = memcmp(x->hash, y->hash, HASH_LEN);
	if (c)
		return c;
	unsigned mx = store_object_mode(x->mode), my = store_object_mode(y->mode);
	return (mx > my) - (mx < my);
}

int store_has(const struct store *s, const unsigned char *hash, unsigned mode)
{
	char name[STORE_NAME_MAX];
	store_object_name(name, hash, mode);
	return !faccessat(s->objfd, name, F_OK, AT_EACCESS);
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

/* Refuse a copy whose source changed since it was hashed. */
static int changed_since_hashed(const struct entry *e, const struct stat *before,
				const struct stat *after)
{
	if ((uint64_t)after->st_size == e->size && before->st_mtim.tv_sec == after->st_mtim.tv_sec &&
	    before->st_mtim.tv_nsec == after->st_mtim.tv_nsec &&
	    before->st_ctim.tv_sec == after->st_ctim.tv_sec &&
	    before->st_ctim.tv_nsec == after->st_ctim.tv_nsec &&
	    (int64_t)after->st_mtim.tv_sec * 1000000000 + after->st_mtim.tv_nsec == e->mtime_ns &&
	    (int64_t)after->st_ctim.tv_sec * 1000000000 + after->st_ctim.tv_nsec == e->ctime_ns)
		return 0;
	error("'%s' changed while it was being deployed; deploy again once it is stable", e->origin);
	return 1;
}

/*
 * Give the unnamed file `out` the object name `name` (below the objects
 * directory). Returns 0 when linked, 1 when an object of that name exists
 * already, 2 when there is no way to name an unnamed file here (no
 * /proc/self/fd and no linkat(AT_EMPTY_PATH) right), -1 (reported).
 */
static int link_tmpfile(struct store *s, int out, const char *name)
{
	/* flink(): Linux 6.10 lets the opener do it, CAP_DAC_READ_SEARCH always;
	 * otherwise ENOENT, and /proc/self/fd does it without a capability */
	if (!__atomic_load_n(&s->no_empty_path, __ATOMIC_RELAXED)) {
		if (linkat(out, "", s->objfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno == EEXIST)
			return 1;
		if (errno != ENOENT && errno != EPERM)
			return error_errno("cannot link object '%s/%s'", s->root->objects, name);
		__atomic_store_n(&s->no_empty_path, 1, __ATOMIC_RELAXED);
	}
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out);
	if (linkat(AT_FDCWD, proc, s->objfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	if (errno == ENOENT && access("/proc/self/fd", F_OK) < 0)
		return 2;
	return error_errno("cannot link object '%s/%s'", s->root->objects, name);
}

/* An unnamed file for an object of mode `omode` in directory `dir` (below
 * the objects directory), open for writing although its mode is read-only.
 * Returns the descriptor, -2 when the file system has no O_TMPFILE, or -1
 * (reported). */
static int open_tmpfile(struct store *s, const char *dir, unsigned omode)
{
	int out = openat(s->objfd, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, omode);
	if (out >= 0)
		return out;
	if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT)
		return -2;
	return error_errno("cannot create an object in '%s'", s->root->objects);
}

/* Give back the bits of `omode` that the umask took from the new object `name`. */
static int finish_mode(struct store *s, int out, unsigned omode, const char *name)
{
	if ((omode & ~s->umask) != omode && fchmod(out, omode) < 0)
		return error_errno("cannot set the mode of '%s/%s'", s->root->objects, name);
	return 0;
}

/*
 * Copy `fd` into an unnamed file in the object's own fan-out directory and
 * give it its name with one linkat(2): no temporary name, no rename.
 * Returns 0, -1 (reported), or 1 when the file system has no O_TMPFILE.
 */
static int put_tmpfile(struct store *s, const struct entry *e, int fd, const char *obj)
{
	char name[STORE_NAME_MAX];
	unsigned omode = store_object_mode(e->mode);
	store_object_name(name, e->hash, e->mode);
	name[2] = 0;
	int out = open_tmpfile(s, name, omode);
	name[2] = '/';
	if (out < 0)
		return out == -2 ? 1 : -1;
	struct stat before, after;
	int rc = -1;
	if (fstat(fd, &before) < 0 || fs_copy_data(fd, e->origin, out, obj) < 0 ||
	    fstat(fd, &after) < 0)
		goto done;
	if (changed_since_hashed(e, &before, &after) || finish_mode(s, out, omode, name) < 0)
		goto done;
	rc = link_tmpfile(s, out, name);
	if (rc == 2)
		rc = 1; /* no /proc: the temporary-name way */
	else if (rc == 1)
		rc = 0;
done:
	close(out);
	return rc;
}

/*
 * Read `fd` from offset 0 to its end, hashing every byte into `hash` while
 * writing it to `out`. Returns the byte count, or -1 (reported, naming `what`
 * and `dst`).
 */
static int64_t copy_hashing(int fd, const char *what, int out, const char *dst,
			    unsigned char hash[HASH_LEN])
{
	static __thread char chunk[1 << 18]; /* per thread: workers store in parallel */
	struct hash_ctx *c = hash_begin();
	int64_t total = 0;
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			total = error_errno("cannot read '%s'", what);
			break;
		}
		if (!n)
			break;
		hash_update(c, chunk, (size_t)n);
		for (ssize_t done = 0, w; done < n; done += w) {
			w = write(out, chunk + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0) {
				hash_end(c, hash);
				return error_errno("cannot write '%s'", dst);
			}
		}
		total += n;
	}
	hash_end(c, hash);
	return total;
}

/* store_put_fd where there is no O_TMPFILE or no way to name one: a
 * temporary name in objects/tmp, linked (not renamed) so that an object of
 * the same name that exists already is kept. */
static int put_fd_named(struct store *s, struct entry *e, int fd, uint64_t *size)
{
	unsigned omode = store_object_mode(e->mode);
	char *tmp = tmp_name(s);
	int rc = -1;
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, omode);
	if (out < 0) {
		error_errno("cannot create '%s'", tmp);
		goto out;
	}
	int64_t n = copy_hashing(fd, e->origin, out, tmp, e->hash);
	char name[STORE_NAME_MAX];
	store_object_name(name, e->hash, e->mode);
	if (n < 0 || finish_mode(s, out, omode, name) < 0)
		goto out;
	if (close(out) < 0) {
		out = -1;
		error_errno("cannot write '%s'", tmp);
		goto out;
	}
	out = -1;
	*size = (uint64_t)n;
	if (linkat(AT_FDCWD, tmp, s->objfd, name, 0) == 0)
		rc = 1;
	else if (errno == EEXIST)
		rc = 0;
	else
		error_errno("cannot link object '%s/%s'", s->root->objects, name);
out:
	if (out >= 0)
		close(out);
	unlink(tmp);
	free(tmp);
	return rc;
}

int store_put_fd(struct store *s, struct entry *e, int fd, uint64_t *size)
{
	unsigned omode = store_object_mode(e->mode);
	if (__atomic_load_n(&s->no_tmpfile, __ATOMIC_RELAXED))
		return put_fd_named(s, e, fd, size);
	/* the name is known only at the end: the file starts in objects/ itself */
	int out = open_tmpfile(s, ".", omode);
	if (out == -1)
		return -1;
	if (out == -2) {
		__atomic_store_n(&s->no_tmpfile, 1, __ATOMIC_RELAXED);
		return put_fd_named(s, e, fd, size);
	}
	int64_t n = copy_hashing(fd, e->origin, out, s->root->objects, e->hash);
	int rc = -1;
	char name[STORE_NAME_MAX];
	store_object_name(name, e->hash, e->mode);
	if (n >= 0 && finish_mode(s, out, omode, name) == 0) {
		*size = (uint64_t)n;
		rc = link_tmpfile(s, out, name);
	}
	close(out);
	if (rc == 2) {
		/* nothing was named: read the file again the named way */
		__atomic_store_n(&s->no_tmpfile, 1, __ATOMIC_RELAXED);
		return put_fd_named(s, e, fd, size);
	}
	return rc < 0 ? -1 : rc == 0;
}

int store_put_fd_at(struct store *s, struct entry *e, int fd, int dfd, const char *dir,
		    uint64_t *size)
{
	unsigned omode = store_object_mode(e->mode);
	int out = openat(dfd, e->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, omode);
	if (out < 0)
		return error_errno("cannot create '%s/%s'", dir, e->path);
	char *dst = xasprintf("%s/%s", dir, e->path);
	int64_t n = copy_hashing(fd, e->origin, out, dst, e->hash);
	int rc = n < 0 ? -1 : 0;
	if (!rc && (omode & ~s->umask) != omode && fchmod(out, omode) < 0)
		rc = error_errno("cannot set the mode of '%s'", dst);
	if (close(out) < 0 && !rc)
		rc = error_errno("cannot write '%s'", dst);
	char name[STORE_NAME_MAX];
	store_object_name(name, e->hash, e->mode);
	if (!rc) {
		*size = (uint64_t)n;
		rc = linkat(dfd, e->path, s->objfd, name, 0) == 0 ? 1 :
		     errno == EEXIST ? 0 : error_errno("cannot link object '%s/%s'", s->root->objects, name);
	}
	/* failed, or the same content was stored before: the tree links that object instead */
	if (rc != 1)
		unlinkat(dfd, e->path, 0);
	if (rc == 0)
		rc = store_materialise_at(s, e, dfd, e->path, 0);
	free(dst);
	return rc;
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
	int r = put_tmpfile(s, e, fd, obj);
	if (r != 1) {
		close(fd);
		rc = r;
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
	if (changed_since_hashed(e, &before, &after)) {
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

/*
 * An object the stat cache vouched for (so the source was not read) is
 * gone: store the source again, hashed while it is read, so that no object
 * ever gets a name its bytes do not have. Returns 0 or -1 (reported).
 */
static int put_again(struct store *s, const struct entry *e)
{
	if (!e->origin) /* on an agent: the client sends every object the store lacks */
		return error("the object of '%s' is missing from the store '%s'", e->path ? e->path : "?",
			     s->root->objects);
	int fd = open(e->origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_errno("cannot read '%s'", e->origin);
	struct entry now = *e;
	uint64_t size;
	int rc = store_put_fd(s, &now, fd, &size);
	close(fd);
	if (rc < 0)
		return -1;
	if (memcmp(now.hash, e->hash, HASH_LEN) || size != e->size) {
		__atomic_store_n(&s->cache_lied, 1, __ATOMIC_RELAXED);
		return error("'%s' changed while it was being deployed; deploy again once it is stable", e->origin);
	}
	return 0;
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

static int copy_object(struct store *s, const char *name, const char *obj, int dfd,
		       const char *dst, unsigned mode)
{
	int fd = openat(s->objfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot read object '%s'", obj);
	int rc = fs_copy_fd_at(fd, obj, dfd, dst, mode);
	close(fd);
	return rc;
}

int store_materialise(struct store *s, const struct entry *e, const char *dst, int writable)
{
	return store_materialise_at(s, e, AT_FDCWD, dst, writable);
}

int store_materialise_at(struct store *s, const struct entry *e, int dfd, const char *dst,
			 int writable)
{
	unsigned omode = store_object_mode(e->mode);
	char name[STORE_NAME_MAX];
	char *obj = NULL; /* the full path, made only when needed */
	int rc = 0;

	store_object_name(name, e->hash, e->mode);
#define OBJ (obj ? obj : (obj = store_object_path(s, e->hash, e->mode)))
	if (writable) {
		rc = copy_object(s, name, OBJ, dfd, dst, e->mode & 07777);
		goto out;
	}
	switch (s->mode) {
	case LINK_HARDLINK:
		for (int attempt = 0, put = 0;; attempt++) {
			if (linkat(s->objfd, name, dfd, dst, 0) == 0)
				break;
			if (errno == ENOENT && e->origin && !put) {
				/* not asked for beforehand (stat cache hit) and gone since */
				put = 1;
				if ((rc = put_again(s, e)) < 0)
					break;
				continue;
			}
			if (errno == EMLINK && attempt == 0) {
				rc = refresh_object(s, OBJ, omode);
				if (rc)
					break;
				continue;
			}
			if (errno == EXDEV) {
				if (!__atomic_exchange_n(&s->fell_back_to_copy, 1, __ATOMIC_RELAXED))
					note("the object store and the release are on different file systems; copying files");
				rc = copy_object(s, name, OBJ, dfd, dst, omode);
				break;
			}
			rc = error_errno("cannot link '%s'", dst);
			break;
		}
		break;
	case LINK_REFLINK: {
		int fd = openat(s->objfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = error_errno("cannot read object '%s'", OBJ);
			break;
		}
		rc = fs_reflink_fd_at(fd, dfd, dst, omode);
		close(fd);
		if (rc == -2)
			rc = error("cannot reflink '%s': the file system does not support it; use "
				   "--link-mode hardlink or copy",
				   dst);
		break;
	}
	case LINK_COPY:
		rc = copy_object(s, name, OBJ, dfd, dst, omode);
		break;
	}
out:
#undef OBJ
	free(obj);
	return rc;
}

/* What names an object: its content hash and permission bits. */
struct obj_key {
	unsigned char hash[HASH_LEN];
	unsigned mode;
};

static int cmp_key(const void *a, const void *b)
{
	const struct obj_key *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, HASH_LEN);
	return c ? c : (x->mode > y->mode) - (x->mode < y->mode);
}

/* The key of the object file `name` in fan-out directory `dir` ("ab", "cdef…-644"); -1 if it is none. */
static int key_from_name(struct obj_key *k, const char *dir, const char *name)
{
	char hex[HASH_HEX + 1];
	if (strlen(name) < HASH_HEX - 2 + 2 || name[HASH_HEX - 2] != '-')
		return -1;
	memcpy(hex, dir, 2);
	memcpy(hex + 2, name, HASH_HEX - 2);
	hex[HASH_HEX] = 0;
	char *end;
	unsigned long mode = strtoul(name + HASH_HEX - 1, &end, 8);
	if (*end || end == name + HASH_HEX - 1 || mode > 0777 || hash_from_hex(k->hash, hex) < 0)
		return -1;
	k->mode = (unsigned)mode;
	return 0;
}

/* Add the objects of manifest `id` in `dir` to the keep list: 0, or -1 when it cannot be read. */
static int keep_objects_of(struct obj_key **keep, size_t *nkeep, size_t *alloc, const char *dir, const char *id)
{
	struct manifest m = MANIFEST_INIT;
	int rc = manifest_read(&m, dir, id);
	for (size_t j = 0; rc == 0 && j < m.nr; j++) {
		if (m.v[j].type != ENT_FILE)
			continue;
		ALLOC_GROW(*keep, *nkeep + 1, *alloc);
		memcpy((*keep)[*nkeep].hash, m.v[j].hash, HASH_LEN);
		(*keep)[(*nkeep)++].mode = m.v[j].mode & 0777;
	}
	manifest_release(&m);
	return rc;
}

int64_t store_gc(struct store *s, const struct strlist *keep_ids)
{
	struct obj_key *keep = NULL;
	size_t nkeep = 0, alloc = 0;
	for (size_t i = 0; i < keep_ids->nr; i++) {
		if (keep_objects_of(&keep, &nkeep, &alloc, s->root->manifests, keep_ids->items[i]) < 0) {
			free(keep);
			return error("not removing any object: the manifest of '%s' cannot be read",
				     keep_ids->items[i]);
		}
	}
	/* and what uploads cut off half way kept for their retry (partial releases) */
	DIR *pd = opendir(s->root->partial);
	struct dirent *pe;
	while (pd && (pe = readdir(pd))) {
		size_t len = strlen(pe->d_name), ext = strlen(MANIFEST_TREE_EXT);
		if (len <= ext || strcmp(pe->d_name + len - ext, MANIFEST_TREE_EXT))
			continue;
		char *id = xstrndup(pe->d_name, len - ext);
		int ok = keep_objects_of(&keep, &nkeep, &alloc, s->root->partial, id) == 0;
		free(id);
		if (!ok) {
			closedir(pd);
			free(keep);
			return error("not removing any object: the partial manifest '%s/%s' cannot be read",
				     s->root->partial, pe->d_name);
		}
	}
	if (pd)
		closedir(pd);
	if (nkeep)
		qsort(keep, nkeep, sizeof(*keep), cmp_key);

	int64_t freed = 0;
	DIR *top = opendir(s->root->objects);
	if (!top) {
		free(keep);
		return error_errno("cannot read '%s'", s->root->objects);
	}
	struct dirent *de;
	while ((de = readdir(top))) {
		/* only the fan-out directories: two hex digits (not "..", which is .cutover/) */
		if (strlen(de->d_name) != 2 || !isxdigit((unsigned char)de->d_name[0]) ||
		    !isxdigit((unsigned char)de->d_name[1]))
			continue;
		char *dir = path_join(s->root->objects, de->d_name);
		DIR *sub = opendir(dir);
		if (!sub) {
			free(dir);
			continue;
		}
		int dfd = dirfd(sub);
		struct dirent *oe;
		while ((oe = readdir(sub))) {
			if (oe->d_name[0] == '.')
				continue;
			struct obj_key k;
			/* anything in a fan-out directory that no kept release names goes */
			if (key_from_name(&k, de->d_name, oe->d_name) == 0 && nkeep &&
			    bsearch(&k, keep, nkeep, sizeof(*keep), cmp_key))
				continue;
			struct stat st;
			if (!fstatat(dfd, oe->d_name, &st, AT_SYMLINK_NOFOLLOW) && unlinkat(dfd, oe->d_name, 0) == 0 &&
			    st.st_nlink == 1)
				freed += (int64_t)st.st_blocks * 512;
		}
		closedir(sub);
		rmdir(dir); /* only succeeds when empty */
		free(dir);
	}
	closedir(top);
	free(keep);
	return freed;
}
