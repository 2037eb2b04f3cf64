#ifndef CUTOVER_STORE_H
#define CUTOVER_STORE_H
#include "release/manifest.h"
#include "release/root.h"

/*
 * The content-addressed object store, .cutover/objects/ab/cdef…-MODE.
 * An object is keyed by its SHA-256 and its permission bits (so two files
 * with the same bytes but different modes never share an inode) and is
 * read-only: releases are made of hard links to objects, and a write through
 * one of them would change every release that shares it.
 */
enum link_mode { LINK_HARDLINK, LINK_REFLINK, LINK_COPY };

struct store {
	struct root *root;
	enum link_mode mode;
	int fell_back_to_copy; /* hardlink across file systems: we copy, and say so once */
	char *tmpdir;
	unsigned tmp_seq;
	int objfd;  /* .cutover/objects, so that object names are short relative paths */
	mode_t umask;
	int no_empty_path; /* __atomic: linkat(AT_EMPTY_PATH) refused; name unnamed files via /proc */
	int no_tmpfile;    /* __atomic: no O_TMPFILE (or no way to name one): temporary names */
	int cache_lied;    /* __atomic: a file the stat cache vouched for had other bytes */
};

/* "ab/cdef…-644": an object's name below .cutover/objects. */
#define STORE_NAME_MAX 72
void store_object_name(char out[STORE_NAME_MAX], const unsigned char *hash, unsigned mode);

int store_init(struct store *s, struct root *r, enum link_mode mode);
void store_release(struct store *s);
int link_mode_parse(const char *s, enum link_mode *out);

/* objects/ab/cdef…-644 (caller frees). */
char *store_object_path(const struct store *s, const unsigned char *hash, unsigned mode);
/* The permission bits an object is stored with. */
unsigned store_object_mode(unsigned mode);
/* qsort/bsearch order of `const struct entry *` by the object they are stored as (hash, then mode). */
int store_cmp_object(const void *a, const void *b);
int store_has(const struct store *s, const unsigned char *hash, unsigned mode);

/*
 * Add the content of e->origin as the object for (e->hash, e->mode).
 * When `take` the origin is our own spool file and is renamed into place;
 * otherwise it is copied, and refused when it changed (size, mtime, ctime)
 * since it was hashed. Returns 0 or -1 (reported).
 */
int store_put(struct store *s, const struct entry *e, int take);

/*
 * Store the content of `fd` (read from offset 0 to the end) as the
 * object for e->mode in one pass: the bytes are hashed into e->hash while
 * they are written to a new unnamed file, which then gets its object name.
 * When an object of that name exists already (an identical file stored
 * before, or at the same time by another thread), the new copy is dropped.
 * *size receives the byte count. Returns 1 when this call added the object,
 * 0 when it existed, -1 (reported); an error leaves no object and no
 * temporary file behind.
 */
int store_put_fd(struct store *s, struct entry *e, int fd, uint64_t *size);

/*
 * store_put_fd for a tree being built (hard links only): the content of
 * `fd` becomes the new file e->path under directory `dfd` (`dir` in
 * messages), hashed while it is written, and that file gets its object name
 * as a second link: each byte is written once and each file needs no link
 * step later. When the object exists already, the new file is replaced by
 * a link to it. The store and `dfd` must be on one file system. Returns 1
 * when the object was added, 0 when it existed, -1 (reported; e->path is
 * then removed).
 */
int store_put_fd_at(struct store *s, struct entry *e, int fd, int dfd, const char *dir,
		    uint64_t *size);

/*
 * Create `dst` as this store's copy of e's content: a hard link (a new
 * object copy when the link count limit is reached, a plain copy across file
 * systems), a reflink, or a copy; a private writable copy when `writable`.
 */
int store_materialise(struct store *s, const struct entry *e, const char *dst, int writable);
/* The same with `dst` relative to directory `dfd`. */
int store_materialise_at(struct store *s, const struct entry *e, int dfd, const char *dst,
			 int writable);

/* Remove objects that no manifest in `keep` (a list of manifest ids) refers to.
 * Returns the number of bytes freed, or -1. */
int64_t store_gc(struct store *s, const struct strlist *keep_ids);

#endif
