#include "source/statcache.h"
#include "util/error.h"
#include "util/fs.h"

/*
 * The file ends with "sha256 <hex>\n", the hash of everything before that
 * line. A cache that is torn (a power cut during its replacement) or
 * damaged in any byte is not used at all: a wrong hash in it would be
 * trusted for a file that did not change, and linked as its content.
 */
#define TRAILER "sha256 "

/* The length of the records if the trailer vouches for them, else -1. */
static long checked_length(const char *text, size_t len)
{
	if (len < strlen(TRAILER) + HASH_HEX + 1 || text[len - 1] != '\n')
		return -1;
	size_t body = len - (strlen(TRAILER) + HASH_HEX + 1);
	if (memcmp(text + body, TRAILER, strlen(TRAILER)))
		return -1;
	char got[HASH_HEX + 1];
	hash_bytes_hex(got, text, body);
	return memcmp(text + body + strlen(TRAILER), got, HASH_HEX) ? -1 : (long)body;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct statcache_item *)a)->path,
		      ((const struct statcache_item *)b)->path);
}

/* A decimal number at *q followed by `sep`; *q moves past both. 1, or 0 if there is none. */
static int number(char **q, char sep, int64_t *v)
{
	char *end;
	*v = strtoll(*q, &end, 10);
	if (end == *q || *end != sep)
		return 0;
	*q = end + 1;
	return 1;
}

void statcache_load(struct statcache *c, const char *file)
{
	struct buf b = BUF_INIT;
	if (!file || fs_read_file(&b, file, (size_t)1 << 30, 1) != 0) {
		buf_release(&b);
		return;
	}
	long body = checked_length(b.buf, b.len);
	if (body < 0) {
		buf_release(&b);
		return; /* every file is hashed again, and the cache written anew */
	}
	char *p = b.buf, *end = b.buf + body;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		*nl = 0;
		/* "<hash> <size> <mtime> <ctime> <ino>\t<path>", parsed by hand: sscanf is slow */
		struct statcache_item it;
		char *q = p + HASH_HEX + 1;
		int64_t size, ino;
		int ok = nl - p > HASH_HEX && p[HASH_HEX] == ' ';
		if (ok) {
			p[HASH_HEX] = 0;
			ok = !hash_from_hex(it.hash, p) && number(&q, ' ', &size) && number(&q, ' ', &it.mtime_ns) &&
			     number(&q, ' ', &it.ctime_ns) && number(&q, '\t', &ino) && *q;
			it.size = (uint64_t)size;
			it.ino = (uint64_t)ino;
		}
		if (ok) {
			it.path = xstrdup(q);
			ALLOC_GROW(c->v, c->nr + 1, c->alloc);
			c->v[c->nr++] = it;
		}
		p = nl + 1;
	}
	buf_release(&b);
	if (c->nr)
		qsort(c->v, c->nr, sizeof(*c->v), cmp_item);
}

const unsigned char *statcache_lookup(const struct statcache *c, const struct entry *e)
{
	struct statcache_item key = { .path = e->path };
	const struct statcache_item *it;
	if (!c->nr)
		return NULL;
	it = bsearch(&key, c->v, c->nr, sizeof(*c->v), cmp_item);
	if (!it || it->size != e->size || it->ino != e->ino || it->mtime_ns != e->mtime_ns ||
	    it->ctime_ns != e->ctime_ns)
		return NULL;
	return it->hash;
}

int statcache_save(const struct manifest *m, const char *file, int64_t start_ns)
{
	struct buf b = BUF_INIT;
	int64_t limit = start_ns - 2000000000LL;
	char hex[HASH_HEX + 1];
	for (size_t i = 0; i < m->nr; i++) {
		const struct entry *e = &m->v[i];
		if (e->type != ENT_FILE || !e->origin || e->mtime_ns >= limit || e->ctime_ns >= limit)
			continue;
		if (strchr(e->path, '\n'))
			continue;
		hash_to_hex(hex, e->hash);
		buf_addf(&b, "%s %llu %lld %lld %llu\t%s\n", hex, (unsigned long long)e->size,
			 (long long)e->mtime_ns, (long long)e->ctime_ns, (unsigned long long)e->ino,
			 e->path);
	}
	hash_bytes_hex(hex, b.buf, b.len);
	buf_addf(&b, TRAILER "%s\n", hex);
	int rc = fs_write_replace(file, b.buf, b.len, 0600);
	buf_release(&b);
	return rc;
}

void statcache_release(struct statcache *c)
{
	for (size_t i = 0; i < c->nr; i++)
		free(c->v[i].path);
	free(c->v);
	c->v = NULL;
	c->nr = c->alloc = 0;
}
