#ifndef CUTOVER_MANIFEST_H
#define CUTOVER_MANIFEST_H
#include "util/hash.h"
#include "util/buf.h"
#include <stdint.h>

/*
 * The complete description of one release: every path with its type, mode,
 * content hash, size and symlink target. Persisted twice under
 * .cutover/manifests/: <id>.sha256 (regular files only, `sha256sum -c`
 * format, run from inside the release) and <id>.tree.zst (everything else,
 * one tab-separated line per entry, sorted by path, zstd-compressed; file
 * hashes are written as "=" and read back from the .sha256 list, so that a
 * release's own disk cost is little more than its directories).
 */
#define MANIFEST_TREE_EXT ".tree.zst"
enum entry_type {
	ENT_FILE = 'f',
	ENT_DIR = 'd',
	ENT_LINK = 'l',
	ENT_SHARED = 's', /* symlink into <root>/shared/<path> */
};

#define ENT_WRITABLE 1 /* a private, writable copy rather than a link to the store */
#define ENT_PLAIN 2    /* a file a before_switch hook made: in the release only, not in the store */
#define ENT_HASH_PENDING 4 /* read from a lean tree; the hash comes from the .sha256 list */
#define ENT_PLACED 8        /* already in the staged tree: stored there as it was read (first deploy) */
#define ENT_UNDER_SHARED 16 /* at or under a shared path: to the store only, never into the tree */

struct entry {
	char *path;   /* relative, '/'-separated, normalised */
	char *target; /* ENT_LINK */
	char *origin; /* where the content can be read now (source file or spool); not persisted */
	uint64_t size;
	int64_t mtime_ns, ctime_ns; /* of the origin, to notice a file changing under us */
	uint64_t ino;
	unsigned mode; /* permission bits */
	unsigned char hash[HASH_LEN];
	char type;
	unsigned char flags;
	unsigned seq; /* insertion order, so that a later duplicate wins */
	unsigned char cached; /* hash from the stat cache: unchanged since the last deploy */
	unsigned char stored; /* the content went into the store while it was read */
};

struct manifest {
	struct entry *v;
	size_t nr, alloc;
};
#define MANIFEST_INIT { NULL, 0, 0 }

/* A new zeroed entry owning a copy of `path` (not yet validated). */
struct entry *manifest_add(struct manifest *m, const char *path, char type);
void manifest_release(struct manifest *m);

/*
 * Normalise an archive or walk path in place: strip "./" prefixes and
 * trailing '/', and reject what must never reach a release. Returns 0,
 * 1 when the path names the release root itself (skip it), or -1 after
 * reporting "archive entry '../x' ..." using `what` as the source name.
 */
int manifest_clean_path(char *path, const char *what);

/*
 * Sort by path, drop earlier duplicates (a later archive entry wins, as tar
 * does), add the parent directories nobody listed (0755), and refuse paths
 * under a file or symlink, symlinks whose target is absolute or leads outside
 * the release (following other symlinks of the release), and loops.
 * Returns 0 or -1 (reported, naming `what`).
 */
int manifest_finish(struct manifest *m, const char *what);

/* Binary search on a finished manifest. */
struct entry *manifest_find(const struct manifest *m, const char *path);

/* Write <dir>/<id>.sha256 and <dir>/<id>.tree.zst atomically (rename); the
 * caller makes them durable (deploy calls syncfs before the switch). */
int manifest_write(const struct manifest *m, const char *dir, const char *id);
/* Read <dir>/<id>.tree.zst. Returns 0, or -1 (reported) when missing or corrupt. */
int manifest_read(struct manifest *m, const char *dir, const char *id);

/* Format helpers (unit tests). */
void manifest_format_tree(struct buf *out, const struct manifest *m);
void manifest_format_sha256(struct buf *out, const struct manifest *m);
int manifest_parse_tree(struct manifest *m, const char *text, size_t len, const char *what);

#endif
