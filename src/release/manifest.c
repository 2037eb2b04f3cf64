#include "release/manifest.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strlist.h"
#include <errno.h>
#include <zstd.h>

struct entry *manifest_add(struct manifest *m, const char *path, char type)
{
	ALLOC_GROW(m->v, m->nr + 1, m->alloc);
	struct entry *e = &m->v[m->nr];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	e->seq = (unsigned)m->nr;
	m->nr++;
	return e;
}

static void entry_release(struct entry *e)
{
	free(e->path);
	free(e->target);
	free(e->origin);
}

void manifest_release(struct manifest *m)
{
	for (size_t i = 0; i < m->nr; i++)
		entry_release(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->nr = m->alloc = 0;
}

int manifest_clean_path(char *path, const char *what)
{
	char *src = path, *dst = path;

	if (path[0] == '/')
		return error("%s: entry '%s' has an absolute path; refusing it", what, path);
	for (const char *c = path; *c; c++)
		if (*c == '\n' || *c == '\r')
			return error("%s: entry '%s' has a line break in its name; refusing it", what,
				     path);
	/* before rewriting anything, so that the message names the entry as given */
	for (const char *c = path; *c;) {
		const char *end = strchrnul(c, '/');
		if (end - c == 2 && c[0] == '.' && c[1] == '.')
			return error("%s: entry '%s' contains '..'; refusing a path that could leave the release",
				     what, path);
		c = *end ? end + 1 : end;
	}
	/* copy component by component, dropping "." and empty ones */
	while (*src) {
		while (*src == '/')
			src++;
		if (!*src)
			break;
		const char *start = src;
		while (*src && *src != '/')
			src++;
		size_t len = (size_t)(src - start);
		if (len == 1 && start[0] == '.')
			continue;
		if (dst != path)
			*dst++ = '/';
		memmove(dst, start, len);
		dst += len;
	}
	*dst = 0;
	return path[0] ? 0 : 1;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct entry *manifest_find(const struct manifest *m, const char *path)
{
	size_t lo = 0, hi = m->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->v[mid].path, path);
		if (!c)
			return &m->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Parents are pushed mostly in runs; look back a few items before adding a duplicate
 * (duplicates are harmless: they are dropped after sorting). */
static int strlist_has_sorted_tail(const struct strlist *l, const char *s)
{
	for (size_t i = l->nr, n = 0; i-- > 0 && n < 8; n++)
		if (!strcmp(l->items[i], s))
			return 1;
	return 0;
}

static void sort_dedupe(struct manifest *m)
{
	qsort(m->v, m->nr, sizeof(*m->v), cmp_entry);
	size_t out = 0;
	for (size_t i = 0; i < m->nr; i++) {
		if (i + 1 < m->nr && !strcmp(m->v[i].path, m->v[i + 1].path)) {
			entry_release(&m->v[i]);
			continue;
		}
		m->v[out++] = m->v[i];
	}
	m->nr = out;
}

/* Whether the '/'-separated `rest` climbs above where it starts. */
static int dotdot_leaves(const char *rest)
{
	int depth = 0;
	for (const char *c = rest; *c;) {
		const char *end = strchrnul(c, '/');
		size_t len = (size_t)(end - c);
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return 1;
		} else if (len && !(len == 1 && c[0] == '.')) {
			depth++;
		}
		c = *end ? end + 1 : end;
	}
	return 0;
}

/*
 * Follow `target` from the directory `dir` of a link through the release's
 * own symlinks. Returns 0 when it stays inside, -1 when it leaves, -2 on a loop.
 */
static int link_escapes(const struct manifest *m, const char *dir, const char *target)
{
	struct buf cur = BUF_INIT; /* resolved prefix, e.g. "a/b" */
	struct buf rest = BUF_INIT; /* components still to walk, '/'-separated */
	int hops = 0, rc = 0;

	if (target[0] == '/')
		return -1;
	buf_addstr(&cur, dir);
	buf_addstr(&rest, target);
	while (rest.len) {
		char *slash = strchr(rest.buf, '/');
		size_t len = slash ? (size_t)(slash - rest.buf) : rest.len;
		char *comp = xstrndup(rest.buf, len);
		size_t skip = slash ? len + 1 : len;
		memmove(rest.buf, rest.buf + skip, rest.len - skip + 1);
		rest.len -= skip;

		if (!*comp || !strcmp(comp, ".")) {
			free(comp);
			continue;
		}
		if (!strcmp(comp, "..")) {
			free(comp);
			if (!cur.len) {
				rc = -1;
				break;
			}
			char *s = strrchr(cur.buf, '/');
			buf_setlen(&cur, s ? (size_t)(s - cur.buf) : 0);
			continue;
		}
		size_t before = cur.len;
		if (cur.len)
			buf_addch(&cur, '/');
		buf_addstr(&cur, comp);
		free(comp);
		const struct entry *e = manifest_find(m, cur.buf);
		if (e && e->type == ENT_SHARED) {
			/* leads into shared/, which belongs to the site; a ".." back out of
			 * the shared path would land in shared/ or the deploy root, not here */
			rc = dotdot_leaves(rest.buf) ? -1 : 0;
			break;
		}
		if (e && e->type == ENT_LINK) {
			if (++hops > 40) {
				rc = -2;
				break;
			}
			if (e->target[0] == '/') {
				rc = -1;
				break;
			}
			buf_setlen(&cur, before);
			struct buf n = BUF_INIT;
			buf_addstr(&n, e->target);
			if (rest.len) {
				buf_addch(&n, '/');
				buf_add(&n, rest.buf, rest.len);
			}
			buf_release(&rest);
			rest = n;
		}
	}
	buf_release(&cur);
	buf_release(&rest);
	return rc;
}

int manifest_finish(struct manifest *m, const char *what)
{
	sort_dedupe(m);

	/* implied parent directories: only the parents nobody listed (a walk lists
	 * them all; archives often do not), looked up in the sorted entries */
	struct strlist parents = STRLIST_INIT;
	size_t given = m->nr;
	struct manifest head = { m->v, given, 0 };
	char pdir[4096];
	for (size_t i = 0; i < given; i++) {
		const char *slash = strrchr(m->v[i].path, '/');
		if (!slash || (size_t)(slash - m->v[i].path) >= sizeof(pdir))
			continue;
		memcpy(pdir, m->v[i].path, (size_t)(slash - m->v[i].path));
		pdir[slash - m->v[i].path] = 0;
		/* climb until an ancestor is known */
		for (;;) {
			if (manifest_find(&head, pdir) || strlist_has_sorted_tail(&parents, pdir))
				break;
			strlist_push(&parents, pdir);
			char *up = strrchr(pdir, '/');
			if (!up)
				break;
			*up = 0;
		}
	}
	strlist_sort(&parents);
	for (size_t i = 0; i < parents.nr; i++) {
		if (i && !strcmp(parents.items[i], parents.items[i - 1]))
			continue;
		manifest_add(m, parents.items[i], ENT_DIR)->mode = 0755;
	}
	strlist_clear(&parents);
	if (m->nr != given)
		sort_dedupe(m);

	for (size_t i = 0; i < m->nr; i++) {
		struct entry *e = &m->v[i];
		char *slash = strrchr(e->path, '/');
		if (slash) {
			/* a copy: truncating e->path in place would confuse the binary search */
			char *dir = xstrndup(e->path, (size_t)(slash - e->path));
			const struct entry *parent = manifest_find(m, dir);
			if (!parent || parent->type != ENT_DIR) {
				const char *kind = !parent ? "missing" :
						   parent->type == ENT_FILE ? "a file" : "a symlink";
				error("%s: '%s' is inside '%s', which is %s; refusing it", what, e->path, dir,
				      kind);
				free(dir);
				return -1;
			}
			free(dir);
		}
	}
	for (size_t i = 0; i < m->nr; i++) {
		struct entry *e = &m->v[i];
		if (e->type != ENT_LINK)
			continue;
		char *dir = xstrdup(e->path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			dir[0] = 0;
		int rc = link_escapes(m, dir, e->target);
		free(dir);
		if (rc == -1)
			return error("%s: symlink '%s' points outside the release ('%s'); use a relative "
				     "link inside the release, or a 'shared:' path",
				     what, e->path, e->target);
		if (rc == -2)
			return error("%s: symlink '%s' is part of a loop", what, e->path);
	}
	return 0;
}

/* Escape \\, \t and \n so that a tab-separated line stays one line. */
static void add_escaped(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_addstr(out, "\\\\");
		else if (*s == '\t')
			buf_addstr(out, "\\t");
		else if (*s == '\n')
			buf_addstr(out, "\\n");
		else
			buf_addch(out, *s);
	}
}

static char *unescape(const char *s, size_t len)
{
	if (!memchr(s, '\\', len))
		return xstrndup(s, len); /* nearly every path: nothing to undo */
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			i++;
			buf_addch(&out, s[i] == 't' ? '\t' : s[i] == 'n' ? '\n' : s[i]);
		} else {
			buf_addch(&out, s[i]);
		}
	}
	return buf_detach(&out, NULL);
}

static void format_tree(struct buf *out, const struct manifest *m, int lean)
{
	char hex[HASH_HEX + 1];
	for (size_t i = 0; i < m->nr; i++) {
		const struct entry *e = &m->v[i];
		if (e->type == ENT_FILE && lean)
			hex[0] = '=', hex[1] = 0; /* the hash is in the .sha256 list */
		else if (e->type == ENT_FILE)
			hash_to_hex(hex, e->hash);
		else
			hex[0] = '-', hex[1] = 0;
		buf_addf(out, "%c\t%04o\t%s\t%llu\t%s\t", e->type, e->mode, hex,
			 (unsigned long long)e->size, (e->flags & ENT_WRITABLE) ? "w" : (e->flags & ENT_PLAIN) ? "p" : "-");
		add_escaped(out, e->path);
		if (e->type == ENT_LINK) {
			buf_addch(out, '\t');
			add_escaped(out, e->target);
		}
		buf_addch(out, '\n');
	}
}

void manifest_format_tree(struct buf *out, const struct manifest *m)
{
	format_tree(out, m, 0);
}

void manifest_format_sha256(struct buf *out, const struct manifest *m)
{
	char hex[HASH_HEX + 1];
	for (size_t i = 0; i < m->nr; i++) {
		const struct entry *e = &m->v[i];
		if (e->type != ENT_FILE)
			continue;
		hash_to_hex(hex, e->hash);
		/* coreutils: a name with a backslash is escaped and flagged by a leading '\' */
		if (strchr(e->path, '\\')) {
			buf_addch(out, '\\');
			buf_addf(out, "%s  ", hex);
			for (const char *c = e->path; *c; c++)
				buf_addstr(out, *c == '\\' ? "\\\\" : (char[]){ *c, 0 });
			buf_addch(out, '\n');
		} else {
			buf_addf(out, "%s  %s\n", hex, e->path);
		}
	}
}

int manifest_write(const struct manifest *m, const char *dir, const char *id)
{
	struct buf b = BUF_INIT;
	char *p = xasprintf("%s/%s" MANIFEST_TREE_EXT, dir, id);
	format_tree(&b, m, 1);
	size_t cap = ZSTD_compressBound(b.len);
	char *z = xmalloc(cap);
	size_t zn = ZSTD_compress(z, cap, b.buf, b.len, 3);
	int rc = ZSTD_isError(zn) ? error("cannot compress '%s': %s", p, ZSTD_getErrorName(zn)) :
				    fs_write_replace(p, z, zn, 0444);
	free(z);
	free(p);
	if (!rc) {
		buf_reset(&b);
		manifest_format_sha256(&b, m);
		p = xasprintf("%s/%s.sha256", dir, id);
		rc = fs_write_replace(p, b.buf, b.len, 0444);
		free(p);
	}
	buf_release(&b);
	return rc;
}

int manifest_parse_tree(struct manifest *m, const char *text, size_t len, const char *what)
{
	const char *p = text, *end = text + len;
	size_t lineno = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return error("'%s' is truncated at line %zu", what, lineno + 1);
		lineno++;
		const char *f[8]; /* one more than a line may have, to notice an extra field */
		size_t fl[8];
		int nf = 0;
		const char *s = p;
		while (nf < 8) {
			const char *t = memchr(s, '\t', (size_t)(nl - s));
			f[nf] = s;
			fl[nf] = t ? (size_t)(t - s) : (size_t)(nl - s);
			nf++;
			if (!t)
				break;
			s = t + 1;
		}
		char type = fl[0] == 1 ? f[0][0] : 0;
		int want = type == ENT_LINK ? 7 : 6;
		if (nf != want || (type != ENT_FILE && type != ENT_DIR && type != ENT_LINK &&
				   type != ENT_SHARED))
			return error("'%s' line %zu is malformed", what, lineno);
		char *path = unescape(f[5], fl[5]);
		struct entry *e = manifest_add(m, path, type);
		free(path);
		e->mode = (unsigned)strtoul(f[1], NULL, 8);
		e->size = strtoull(f[3], NULL, 10);
		e->flags = fl[4] != 1 ? 0 : f[4][0] == 'w' ? ENT_WRITABLE : f[4][0] == 'p' ? ENT_PLAIN : 0;
		if (type == ENT_FILE && fl[2] == 1 && f[2][0] == '=') {
			e->flags |= ENT_HASH_PENDING;
		} else if (type == ENT_FILE) {
			char hex[HASH_HEX + 1];
			if (fl[2] != HASH_HEX)
				return error("'%s' line %zu has a malformed hash", what, lineno);
			memcpy(hex, f[2], HASH_HEX);
			hex[HASH_HEX] = 0;
			if (hash_from_hex(e->hash, hex) < 0)
				return error("'%s' line %zu has a malformed hash", what, lineno);
		}
		if (type == ENT_LINK)
			e->target = unescape(f[6], fl[6]);
		p = nl + 1;
	}
	for (size_t i = 1; i < m->nr; i++)
		if (strcmp(m->v[i - 1].path, m->v[i].path) >= 0)
			return error("'%s' is not sorted at '%s'", what, m->v[i].path);
	return 0;
}

/*
 * Fill the hashes a lean tree left to the .sha256 list: both list the
 * regular files in the same sorted order, so one pass pairs them.
 */
static int join_sha256(struct manifest *m, const char *text, size_t len, const char *what)
{
	const char *p = text, *end = text + len;
	size_t lineno = 0;
	struct buf name = BUF_INIT;
	for (size_t i = 0; i < m->nr; i++) {
		struct entry *e = &m->v[i];
		if (!(e->flags & ENT_HASH_PENDING))
			continue;
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		lineno++;
		if (!nl) {
			buf_release(&name);
			return error("'%s' ends before '%s'", what, e->path);
		}
		int escaped = *p == '\\';
		const char *q = p + escaped;
		char hex[HASH_HEX + 1];
		if (nl - q < HASH_HEX + 2 || q[HASH_HEX] != ' ' || (q[HASH_HEX + 1] != ' ' && q[HASH_HEX + 1] != '*')) {
			buf_release(&name);
			return error("'%s' line %zu is malformed", what, lineno);
		}
		memcpy(hex, q, HASH_HEX);
		hex[HASH_HEX] = 0;
		const char *np = q + HASH_HEX + 2;
		size_t nlen = (size_t)(nl - np);
		int same;
		if (!escaped) {
			same = strlen(e->path) == nlen && !memcmp(e->path, np, nlen);
		} else {
			buf_reset(&name);
			for (const char *c = np; c < nl; c++) {
				if (*c == '\\' && c + 1 < nl) {
					c++;
					buf_addch(&name, *c == 'n' ? '\n' : *c);
				} else {
					buf_addch(&name, *c);
				}
			}
			same = !strcmp(name.buf, e->path);
		}
		if (hash_from_hex(e->hash, hex) < 0 || !same) {
			error("'%s' line %zu does not match the release tree (expected '%s')", what, lineno,
			      e->path);
			buf_release(&name);
			return -1;
		}
		e->flags &= (unsigned char)~ENT_HASH_PENDING;
		p = nl + 1;
	}
	buf_release(&name);
	if (p != end)
		return error("'%s' lists more files than the release tree", what);
	return 0;
}

int manifest_read(struct manifest *m, const char *dir, const char *id)
{
	struct buf b = BUF_INIT;
	char *p = xasprintf("%s/%s" MANIFEST_TREE_EXT, dir, id);
	int rc = fs_read_file(&b, p, (size_t)1 << 30, 0);
	if (!rc) {
		unsigned long long n = ZSTD_getFrameContentSize(b.buf, b.len);
		if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (1ULL << 31)) {
			rc = error("'%s' is not a manifest cutover wrote (not zstd, or too large)", p);
		} else {
			char *text = xmalloc((size_t)n + 1);
			size_t got = ZSTD_decompress(text, (size_t)n, b.buf, b.len);
			if (ZSTD_isError(got) || got != n)
				rc = error("'%s' is damaged: %s", p,
					   ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
			else
				rc = manifest_parse_tree(m, text, got, p);
			free(text);
		}
	}
	free(p);
	if (!rc) {
		buf_reset(&b);
		p = xasprintf("%s/%s.sha256", dir, id);
		rc = fs_read_file(&b, p, (size_t)1 << 30, 0);
		if (!rc)
			rc = join_sha256(m, b.buf, b.len, p);
		free(p);
	}
	buf_release(&b);
	return rc;
}
