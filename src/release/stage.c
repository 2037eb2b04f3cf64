#include "release/stage.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/workers.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

/* Clean each item; remember a trailing '/' as "this is a directory". */
static int clean_list(struct strlist *l, const char *key, struct strlist *dirs)
{
	for (size_t i = 0; i < l->nr; i++) {
		char *p = l->items[i];
		size_t n = strlen(p);
		int is_dir = n && p[n - 1] == '/';
		char *given = xstrdup(p);
		int rc = manifest_clean_path(p, key);
		if (rc > 0)
			error("%s path '%s' names the whole release, not a path in it; %s", key, given,
			      !strcmp(key, "shared") ? "give one such as 'storage/' or '.env'" :
				     "to give every file a private copy, use --link-mode copy");
		free(given);
		if (rc != 0)
			return -CUT_USAGE;
		if (dirs && is_dir)
			strlist_push(dirs, p);
	}
	return 0;
}

static struct strlist shared_dirs = STRLIST_INIT;

int stage_check_paths(struct strlist *shared, struct strlist *writable)
{
	if (clean_list(shared, "shared", &shared_dirs) < 0 || clean_list(writable, "writable", NULL) < 0)
		return -CUT_USAGE;
	for (size_t i = 0; i < shared->nr; i++)
		for (size_t j = 0; j < shared->nr; j++)
			if (i != j && under(shared->items[i], shared->items[j]))
				return error("shared path '%s' is inside shared path '%s'; list only one of them",
					     shared->items[i], shared->items[j]) ,
				       -CUT_USAGE;
	return 0;
}

static int seed_shared(struct store *s, struct manifest *m, const char *p)
{
	char *dst = path_join(s->root->shared, p);
	struct stat st;
	int rc = 0;
	if (!lstat(dst, &st)) {
		free(dst);
		return 0;
	}
	char *tmp = xasprintf("%s.seed-%d", dst, (int)getpid());
	char *parent = xstrdup(dst);
	*strrchr(parent, '/') = 0;
	if (fs_mkdir_p(parent, 0755) < 0)
		goto fail;
	struct entry *top = manifest_find(m, p);
	if (!top) {
		if (!strlist_has(&shared_dirs, p)) {
			rc = error("shared file '%s' is in neither '%s' nor the release; create '%s' "
				   "(or write it as '%s/' if it is a directory)",
				   p, s->root->shared, dst, p);
			goto out;
		}
		if (mkdir(tmp, 0755) < 0 || chmod(tmp, 0755) < 0) {
			rc = error_errno("cannot create '%s'", tmp);
			goto out;
		}
	} else if (top->type == ENT_FILE) {
		if (store_materialise(s, top, tmp, 1) < 0)
			goto fail;
	} else if (top->type == ENT_DIR) {
		/* the entries under p are contiguous after it in sorted order, but
		 * "p.x" sorts between "p" and "p/": scan until past the prefix */
		for (size_t i = (size_t)(top - m->v); i < m->nr; i++) {
			struct entry *e = &m->v[i];
			if (strncmp(e->path, p, strlen(p)))
				break;
			if (!under(e->path, p))
				continue;
			char *out = xasprintf("%s%s", tmp, e->path + strlen(p));
			int r = 0;
			if (e->type == ENT_DIR)
				r = mkdir(out, (e->mode & 07777) | 0700) < 0 ?
					    error_errno("cannot create '%s'", out) : 0;
			else if (e->type == ENT_FILE)
				r = store_materialise(s, e, out, 1);
			else if (e->type == ENT_LINK)
				r = symlink(e->target, out) < 0 ? error_errno("cannot create '%s'", out) : 0;
			free(out);
			if (r < 0)
				goto fail;
		}
	} else {
		rc = error("shared path '%s' is a symlink in the release; it cannot seed '%s'", p, dst);
		goto out;
	}
	if (rename(tmp, dst) < 0) {
		rc = error_errno("cannot move '%s' into place", dst);
		goto fail;
	}
	note("seeded shared path '%s' from this release", p);
	goto out;
fail:
	rc = -1;
	fs_rm_rf(tmp);
out:
	free(parent);
	free(tmp);
	free(dst);
	return rc;
}

void stage_mark_paths(struct manifest *m, const struct strlist *shared,
		      const struct strlist *writable)
{
	for (size_t i = 0; i < m->nr; i++) {
		struct entry *e = &m->v[i];
		for (size_t j = 0; j < writable->nr; j++)
			if (e->type == ENT_FILE && under(e->path, writable->items[j]))
				e->flags |= ENT_WRITABLE;
		for (size_t j = 0; j < shared->nr; j++)
			if (under(e->path, shared->items[j]))
				e->flags |= ENT_UNDER_SHARED;
	}
}

int stage_apply_paths(struct store *s, struct manifest *m, const struct strlist *shared,
		      const struct strlist *writable)
{
	stage_mark_paths(m, shared, writable);
	if (!shared->nr)
		return 0;
	for (size_t j = 0; j < shared->nr; j++)
		if (seed_shared(s, m, shared->items[j]) < 0)
			return -1;
	/* rebuild: drop what lies under shared paths, add the links and their parents */
	struct manifest out = MANIFEST_INIT;
	for (size_t i = 0; i < m->nr; i++) {
		if (m->v[i].flags & ENT_UNDER_SHARED) {
			free(m->v[i].path);
			free(m->v[i].target);
			free(m->v[i].origin);
			continue;
		}
		ALLOC_GROW(out.v, out.nr + 1, out.alloc);
		out.v[out.nr] = m->v[i];
		out.v[out.nr].seq = (unsigned)out.nr;
		out.nr++;
	}
	for (size_t j = 0; j < shared->nr; j++)
		manifest_add(&out, shared->items[j], ENT_SHARED)->mode = 0777;
	free(m->v);
	*m = out;
	return manifest_finish(m, "shared paths");
}

struct builder {
	struct store *s;
	const struct manifest *m;
	const char *dir, *id;
	int dfd;
	size_t *level; /* indexes of the directories of one depth */
	size_t level_nr;
};

/*
 * Entries in path order fill one directory after another, so workers taking
 * neighbouring indexes would queue on the same directory's lock for every
 * link. Work index i is entry spread(i) instead: the n entries read as
 * SPREAD interleaved runs, so that neighbouring indexes are n / SPREAD
 * entries apart. Returns n (nothing to do) for the padding past the end;
 * workers_run gets spread_count(n) indexes.
 */
#define SPREAD 16
static size_t spread_count(size_t n)
{
	return (n + SPREAD - 1) / SPREAD * SPREAD;
}

static size_t spread(size_t i, size_t n)
{
	size_t j = i % SPREAD * (spread_count(n) / SPREAD) + i / SPREAD;
	return j < n ? j : n;
}

static int mkdir_one(void *ctx, size_t i)
{
	struct builder *b = ctx;
	size_t j = spread(i, b->level_nr);
	if (j == b->level_nr)
		return 0;
	const struct entry *e = &b->m->v[b->level[j]];
	if (mkdirat(b->dfd, e->path, 0700 | e->mode) < 0)
		return error_errno("cannot create directory '%s/%s'", b->dir, e->path);
	return 0;
}

/* A directory make_dirs is to create: not under a shared path, not made already. */
static int dir_to_make(const struct entry *e)
{
	return e->type == ENT_DIR && !(e->flags & (ENT_UNDER_SHARED | ENT_PLACED));
}

/* Directories one depth at a time, each depth on every CPU. */
static int make_dirs(struct builder *b)
{
	const struct manifest *m = b->m;
	unsigned *depth = xcalloc(m->nr, sizeof(*depth));
	unsigned max = 0;
	for (size_t i = 0; i < m->nr; i++) {
		if (!dir_to_make(&m->v[i]))
			continue;
		for (const char *c = m->v[i].path; *c; c++)
			depth[i] += *c == '/';
		if (depth[i] > max)
			max = depth[i];
	}
	b->level = xcalloc(m->nr, sizeof(*b->level));
	int rc = 0;
	for (unsigned d = 0; d <= max && !rc; d++) {
		size_t n = 0;
		for (size_t i = 0; i < m->nr; i++)
			if (dir_to_make(&m->v[i]) && depth[i] == d)
				b->level[n++] = i;
		b->level_nr = n;
		rc = workers_run(spread_count(n), mkdir_one, b, 0);
	}
	free(b->level);
	b->level = NULL;
	free(depth);
	return rc;
}

/* One non-directory entry; the directories exist already. */
static int build_one(void *ctx, size_t i)
{
	struct builder *b = ctx;
	size_t j = spread(i, b->m->nr);
	if (j == b->m->nr)
		return 0;
	const struct entry *e = &b->m->v[j];
	int rc = 0;
	switch (e->type) {
	case ENT_DIR:
		break;
	case ENT_FILE:
		if (e->flags & ENT_PLACED)
			break;
		rc = store_materialise_at(b->s, e, b->dfd, e->path, e->flags & ENT_WRITABLE);
		break;
	case ENT_LINK:
		if (symlinkat(e->target, b->dfd, e->path) < 0)
			rc = error_errno("cannot create symlink '%s/%s'", b->dir, e->path);
		break;
	case ENT_SHARED: {
		char *final_dir = xasprintf("releases/%s/%s", b->id, e->path);
		*strrchr(final_dir, '/') = 0;
		char *to = xasprintf("shared/%s", e->path);
		char *rel = path_relative_link(final_dir, to);
		if (symlinkat(rel, b->dfd, e->path) < 0)
			rc = error_errno("cannot create link '%s/%s' to the shared path", b->dir, e->path);
		free(final_dir);
		free(to);
		free(rel);
		break;
	}
	}
	return rc;
}

/* Create `dir` (0755 whatever the umask: the web server enters it) and open it. */
static int make_top(const char *dir)
{
	if (mkdir(dir, 0755) < 0)
		return error_errno("cannot create '%s'", dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_errno("cannot open '%s'", dir);
	if (fchmod(dfd, 0755) < 0) {
		close(dfd);
		return error_errno("cannot set the mode of '%s'", dir);
	}
	return dfd;
}

int stage_begin(struct manifest *m, const char *dir)
{
	int dfd = make_top(dir);
	if (dfd < 0)
		return -1;
	struct builder b = { NULL, m, dir, NULL, dfd, NULL, 0 };
	int rc = make_dirs(&b);
	close(dfd);
	for (size_t i = 0; i < m->nr && !rc; i++)
		if (dir_to_make(&m->v[i]))
			m->v[i].flags |= ENT_PLACED;
	return rc;
}

int stage_build(struct store *s, const struct manifest *m, const char *dir, const char *id,
		int begun)
{
	mode_t um = umask(0);
	umask(um);
	int dfd = begun ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : make_top(dir);
	if (dfd < 0)
		return begun ? error_errno("cannot open '%s'", dir) : -1;
	/* directories first (those stage_begin did not make), parents before children ... */
	struct builder b = { s, m, dir, id, dfd, NULL, 0 };
	int rc = make_dirs(&b);
	/* ... then files and links on every CPU ... */
	if (!rc)
		rc = workers_run(spread_count(m->nr), build_one, &b, 0);
	/* ... and the exact directory modes last, deepest first, so none blocks its own filling */
	for (size_t i = m->nr; i-- > 0 && !rc;) {
		const struct entry *e = &m->v[i];
		if (e->type == ENT_DIR && ((0700 | e->mode) & ~um) != e->mode &&
		    fchmodat(dfd, e->path, e->mode, 0) < 0)
			rc = error_errno("cannot set the mode of '%s/%s'", dir, e->path);
	}
	close(dfd);
	return rc;
}
