#ifndef CUTOVER_STATCACHE_H
#define CUTOVER_STATCACHE_H
#include "release/manifest.h"

/*
 * Remembers the hash of each source file together with what lstat said of
 * it (size, mtime, ctime, inode). A file whose stat is unchanged is not read
 * again. As in git's index, a file changed within the clock's granularity of
 * the walk could keep the same stat, so entries younger than two seconds at
 * walk time are never trusted and never saved.
 */
struct statcache_item {
	char *path;
	uint64_t size, ino;
	int64_t mtime_ns, ctime_ns;
	unsigned char hash[HASH_LEN];
};

struct statcache {
	struct statcache_item *v;
	size_t nr, alloc;
};
#define STATCACHE_INIT { NULL, 0, 0 }

/* Load `file` (a missing or unreadable cache is simply empty). */
void statcache_load(struct statcache *c, const char *file);
/* The cached hash when the stat matches, else NULL. */
const unsigned char *statcache_lookup(const struct statcache *c, const struct entry *e);
/* Save the file entries of `m` whose mtime and ctime are older than start_ns - 2 s. */
int statcache_save(const struct manifest *m, const char *file, int64_t start_ns);
void statcache_release(struct statcache *c);

#endif
