/*
 * The local target's send(): read a source and put every object it lacks
 * into this root's store. A first deploy reads each file once, hashing it
 * while it is written straight into its place in the staged release.
 */
#include "target/local.h"
#include "release/stage.h"
#include "source/source.h"
#include "util/error.h"
#include "util/workers.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A first deploy writes every byte of the release, and the syncfs() before
 * the switch used to wait for all of them (0.3 s of a 1 s deploy of 200 MB
 * here). Once 70 % of the bytes are written, one syncfs() on a thread of its
 * own starts their writeback while the workers go on: the sync before the
 * switch is left with the rest. Measured (README): one sync at 70 % of the
 * bytes beats none, one at 30-60 % or 80 %, one at 70 % of the files, one
 * after the read, a sync per file and a thread syncing in a loop.
 */
#define SYNC_AHEAD_PERCENT 70
#define SYNC_AHEAD_MIN ((uint64_t)32 << 20) /* smaller deploys: not worth a second journal commit */

static void *sync_ahead(void *arg)
{
	struct local_target *l = arg;
	int fd = open(l->root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd); /* a failure shows again in the sync before the switch */
		close(fd);
	}
	return NULL;
}

static void sync_ahead_count(struct local_target *l, uint64_t bytes)
{
	if (!l->ahead_at)
		return;
	uint64_t now = __atomic_add_fetch(&l->kept_bytes, bytes, __ATOMIC_RELAXED);
	if (now >= l->ahead_at && now - bytes < l->ahead_at) /* one thread crosses the mark */
		l->ahead_started = pthread_create(&l->ahead, NULL, sync_ahead, l) == 0;
}

void local_sync_ahead_wait(struct local_target *l)
{
	if (l->ahead_started)
		pthread_join(l->ahead, NULL);
	l->ahead_started = 0;
}

struct first_ctx {
	struct local_target *l;
	const struct send_opts *o;
	struct source_stats *st;
};

/*
 * source_opts.keep for a first deploy: every file is new to the store, so
 * each is read once, hashed while it is written into its object, instead of
 * hashed and then copied.
 */
static int keep_file(void *ctx, struct entry *e, int fd, uint64_t *size)
{
	struct local_target *l = ((struct first_ctx *)ctx)->l;
	int added;
	if (l->tree_fd >= 0 && !(e->flags & (ENT_WRITABLE | ENT_UNDER_SHARED))) {
		added = store_put_fd_at(&l->store, e, fd, l->tree_fd, l->staged, size);
		if (added >= 0)
			e->flags |= ENT_PLACED;
		crashpoint("placed");
	} else {
		added = store_put_fd(&l->store, e, fd, size);
	}
	if (added < 0)
		return -1;
	sync_ahead_count(l, *size);
	e->stored = 1;
	if (added) {
		__atomic_fetch_add(&l->new_files, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&l->new_bytes, *size, __ATOMIC_RELAXED);
	}
	return 0;
}

/*
 * source_opts.walked for a first deploy: every directory is known, no file
 * has been read. When the store and the staging area share a file system,
 * make the release's directories now, so that keep_file can write each file
 * into its place and give it its object name as a second link, instead of
 * an unnamed object linked into the tree afterwards.
 */
static int walked(void *ctx, struct manifest *m)
{
	struct first_ctx *f = ctx;
	struct local_target *l = f->l;
	stage_mark_paths(m, f->o->shared, f->o->writable);
	if (f->st->hashed_bytes >= SYNC_AHEAD_MIN)
		l->ahead_at = f->st->hashed_bytes / 100 * SYNC_AHEAD_PERCENT;
	if (!l->place)
		return 0;
	if (stage_begin(m, l->staged) < 0)
		return -1;
	l->tree_fd = open(l->staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->tree_fd < 0)
		return error_errno("cannot open '%s'", l->staged);
	return 0;
}

/* Store and staging area on one file system: hard links between them work. */
static int one_file_system(const struct root *r)
{
	struct stat a, b;
	return !stat(r->objects, &a) && !stat(r->staging, &b) && a.st_dev == b.st_dev;
}

/* The objects of one deploy, each (hash, mode) once, for the workers. */
struct sender {
	struct local_target *l;
	const struct entry **todo;
	int take;
};

static int send_one(void *ctx, size_t i)
{
	struct sender *s = ctx;
	const struct entry *e = s->todo[i];
	if (store_has(&s->l->store, e->hash, e->mode))
		return 0;
	if (store_put(&s->l->store, e, s->take) < 0)
		return -1;
	__atomic_fetch_add(&s->l->new_files, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->l->new_bytes, e->size, __ATOMIC_RELAXED);
	return 0;
}

/* "Which objects are missing?", then send only those, in parallel. */
static int send_objects(struct local_target *l, struct manifest *m, int take)
{
	struct sender s = { l, xcalloc(m->nr, sizeof(*s.todo)), take };
	size_t n = 0, u = 0;
	/* A file the stat cache vouches for was stored by the last deploy: do not
	 * ask the store about each one; the hard link that needs it adds it back
	 * in the rare case a prune removed it since. */
	int trust_cache = l->link_mode == LINK_HARDLINK;
	for (size_t i = 0; i < m->nr; i++)
		if (m->v[i].type == ENT_FILE && !m->v[i].stored && !(trust_cache && m->v[i].cached))
			s.todo[n++] = &m->v[i];
	qsort(s.todo, n, sizeof(*s.todo), store_cmp_object);
	for (size_t i = 0; i < n; i++)
		if (!u || store_cmp_object(&s.todo[u - 1], &s.todo[i]))
			s.todo[u++] = s.todo[i];
	int rc = workers_run(u, send_one, &s, 0);
	free(s.todo);
	return rc;
}

int local_send(struct target *t, struct source *src, const struct send_opts *o, struct manifest *m,
	       struct send_stats *out)
{
	struct local_target *l = local_of(t);
	struct source_stats st = { 0 };
	struct first_ctx f = { l, o, &st };
	l->place = l->first && l->link_mode == LINK_HARDLINK && one_file_system(&l->root);
	struct source_opts so = {
		.exclude = o->exclude,
		.spool_dir = l->spool,
		.stat_cache = o->stat_cache,
		.keep = l->first ? keep_file : NULL,
		.walked = l->first ? walked : NULL,
		.keep_ctx = &f,
	};
	int spooled, rc;
	rc = source_read(src, m, &so, &st, &spooled);
	out->files = st.files;
	out->bytes = st.bytes;
	out->hashed_files = st.hashed_files;
	out->hashed_bytes = st.hashed_bytes;
	if (rc < 0)
		goto out;
	crashpoint("read");
	rc = send_objects(l, m, spooled);
	if (rc < 0)
		goto out;
	crashpoint("objects");
out:
	out->new_files = __atomic_load_n(&l->new_files, __ATOMIC_RELAXED);
	out->new_bytes = __atomic_load_n(&l->new_bytes, __ATOMIC_RELAXED);
	if (__atomic_load_n(&l->store.cache_lied, __ATOMIC_RELAXED))
		t->cache_lied = 1;
	return rc;
}
