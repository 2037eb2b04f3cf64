/* One deploy to one root: the sequence of DESIGN.md's data flow. */
#include "deploy/deploy.h"
#include "release/history.h"
#include "release/id.h"
#include "release/refresh.h"
#include "release/retention.h"
#include "release/stage.h"
#include "source/source.h"
#include "source/statcache.h"
#include "util/error.h"
#include "util/format.h"
#include "util/fs.h"
#include "util/workers.h"
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct run {
	const struct deploy_opts *o;
	struct root root;
	struct source src;
	struct manifest m;
	struct store store;
	struct source_stats st;
	char *id, *current, *marker, *spool, *staged, *final;
	int64_t start_ms;
	uint64_t new_files, new_bytes;
	int store_ready;
	int place;   /* first deploy by hard links: files are written straight into the staged tree */
	int tree_fd; /* the staged tree once stage_begin made it, else -1 */
	/* first deploy: one syncfs() in the background once most bytes are written */
	uint64_t ahead_at, kept_bytes; /* kept_bytes: __atomic */
	pthread_t ahead;
	int ahead_started;
};

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
	struct run *x = arg;
	int fd = open(x->root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd); /* a failure shows again in the sync before the switch */
		close(fd);
	}
	return NULL;
}

static void sync_ahead_count(struct run *x, uint64_t bytes)
{
	if (!x->ahead_at)
		return;
	uint64_t now = __atomic_add_fetch(&x->kept_bytes, bytes, __ATOMIC_RELAXED);
	if (now >= x->ahead_at && now - bytes < x->ahead_at) /* one thread crosses the mark */
		x->ahead_started = pthread_create(&x->ahead, NULL, sync_ahead, x) == 0;
}

static void sync_ahead_wait(struct run *x)
{
	if (x->ahead_started)
		pthread_join(x->ahead, NULL);
	x->ahead_started = 0;
}

static char *stat_cache_path(struct root *r, const char *dir)
{
	char hex[HASH_HEX + 1];
	hash_bytes_hex(hex, dir, strlen(dir));
	return xasprintf("%s/source-%.16s.stat", r->cache, hex);
}

static int create_marker(struct run *x)
{
	int fd = open(x->marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_errno("cannot create '%s'", x->marker);
	close(fd);
	return fs_fsync_dir(x->root.staging);
}

/* The objects of one deploy, each (hash, mode) once, for the workers. */
struct sender {
	struct run *x;
	const struct entry **todo;
	int take;
};

static int cmp_object(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
	int c = memcmp(x->hash, y->hash, HASH_LEN);
	return c ? c : (int)(x->mode & 0777) - (int)(y->mode & 0777);
}

/*
 * source_opts.keep for a first deploy: every file is new to the store, so
 * each is read once, hashed while it is written into its object, instead of
 * hashed and then copied.
 */
static int keep_file(void *ctx, struct entry *e, int fd, uint64_t *size)
{
	struct run *x = ctx;
	int added;
	if (x->tree_fd >= 0 && !(e->flags & (ENT_WRITABLE | ENT_UNDER_SHARED))) {
		added = store_put_fd_at(&x->store, e, fd, x->tree_fd, x->staged, size);
		if (added >= 0)
			e->flags |= ENT_PLACED;
		crashpoint("placed");
	} else {
		added = store_put_fd(&x->store, e, fd, size);
	}
	if (added < 0)
		return -1;
	sync_ahead_count(x, *size);
	e->stored = 1;
	if (added) {
		__atomic_fetch_add(&x->new_files, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&x->new_bytes, *size, __ATOMIC_RELAXED);
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
	struct run *x = ctx;
	stage_mark_paths(m, &x->o->shared, &x->o->writable);
	if (x->st.hashed_bytes >= SYNC_AHEAD_MIN)
		x->ahead_at = x->st.hashed_bytes / 100 * SYNC_AHEAD_PERCENT;
	if (!x->place)
		return 0;
	if (stage_begin(m, x->staged) < 0)
		return -1;
	x->tree_fd = open(x->staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->tree_fd < 0)
		return error_errno("cannot open '%s'", x->staged);
	return 0;
}

/* Store and staging area on one file system: hard links between them work. */
static int one_file_system(const struct root *r)
{
	struct stat a, b;
	return !stat(r->objects, &a) && !stat(r->staging, &b) && a.st_dev == b.st_dev;
}

static int send_one(void *ctx, size_t i)
{
	struct sender *s = ctx;
	const struct entry *e = s->todo[i];
	if (store_has(&s->x->store, e->hash, e->mode))
		return 0;
	if (store_put(&s->x->store, e, s->take) < 0)
		return -1;
	__atomic_fetch_add(&s->x->new_files, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->x->new_bytes, e->size, __ATOMIC_RELAXED);
	return 0;
}

/* "Which objects are missing?", then send only those, in parallel. */
static int send_objects(struct run *x, int take)
{
	struct sender s = { x, xcalloc(x->m.nr, sizeof(*s.todo)), take };
	size_t n = 0, u = 0;
	/* A file the stat cache vouches for was stored by the last deploy: do not
	 * ask the store about each one; the hard link that needs it adds it back
	 * in the rare case a prune removed it since. */
	int trust_cache = x->o->link_mode == LINK_HARDLINK;
	for (size_t i = 0; i < x->m.nr; i++)
		if (x->m.v[i].type == ENT_FILE && !x->m.v[i].stored &&
		    !(trust_cache && x->m.v[i].cached))
			s.todo[n++] = &x->m.v[i];
	qsort(s.todo, n, sizeof(*s.todo), cmp_object);
	for (size_t i = 0; i < n; i++)
		if (!u || cmp_object(&s.todo[u - 1], &s.todo[i]))
			s.todo[u++] = s.todo[i];
	int rc = workers_run(u, send_one, &s, 0);
	free(s.todo);
	return rc;
}

/*
 * The manifests are written by a second thread while the tree is being
 * linked, and the stat cache after the linking: all only read the finished
 * manifest.
 */
struct writer {
	struct run *x;
	int rc;
};

static void *write_manifests(void *arg)
{
	struct writer *w = arg;
	w->rc = manifest_write(&w->x->m, w->x->root.manifests, w->x->id);
	return NULL;
}

/* A cache of source stat -> hash, true whatever becomes of this deploy
 * (discard() forgets it all the same). */
static void save_stat_cache(struct run *x)
{
	if (x->src.kind != SOURCE_DIR)
		return;
	char *cache = stat_cache_path(&x->root, x->src.path);
	statcache_save(&x->m, cache, x->start_ms * 1000000);
	free(cache);
}

/* Everything up to a complete, not yet live release in releases/<id>. */
static int build_release(struct run *x)
{
	const struct deploy_opts *o = x->o;
	struct strlist ids = STRLIST_INIT;

	if (release_list(&x->root, &ids) < 0 ||
	    (!o->adopt && release_current(&x->root, &x->current) < 0)) {
		strlist_clear(&ids);
		return -1;
	}
	const char *label = o->label ? o->label : x->src.label;
	x->id = release_id_make(&ids, time(NULL), label);
	/* no release yet: whatever the source holds is new to the store */
	int first = ids.nr == 0;
	strlist_clear(&ids);
	x->marker = xasprintf("%s/%s.pending", x->root.staging, x->id);
	x->spool = xasprintf("%s/%s.spool", x->root.staging, x->id);
	x->staged = path_join(x->root.staging, x->id);
	x->final = release_path(&x->root, x->id);
	if (create_marker(x) < 0)
		return -1;
	crashpoint("pending");

	if (mkdir(x->spool, 0700) < 0)
		return error_errno("cannot create '%s'", x->spool);
	if (store_init(&x->store, &x->root, o->link_mode) < 0)
		return -1;
	x->store_ready = 1;
	char *cache = x->src.kind == SOURCE_DIR ? stat_cache_path(&x->root, x->src.path) : NULL;
	x->place = first && o->link_mode == LINK_HARDLINK && one_file_system(&x->root);
	struct source_opts so = {
		.exclude = &o->exclude,
		.spool_dir = x->spool,
		.stat_cache = cache,
		.keep = first ? keep_file : NULL,
		.walked = first ? walked : NULL,
		.keep_ctx = x,
	};
	int spooled;
	int rc = source_read(&x->src, &x->m, &so, &x->st, &spooled);
	free(cache);
	if (rc < 0)
		return -1;
	crashpoint("read");

	if (send_objects(x, spooled) < 0)
		return -1;
	crashpoint("objects");

	if (stage_apply_paths(&x->store, &x->m, &o->shared, &o->writable) < 0)
		return -1;
	struct writer w = { x, 0 };
	pthread_t tid;
	int threaded = pthread_create(&tid, NULL, write_manifests, &w) == 0;
	if (!threaded)
		write_manifests(&w);
	int built = stage_build(&x->store, &x->m, x->staged, x->id, x->tree_fd >= 0);
	save_stat_cache(x);
	if (threaded)
		pthread_join(tid, NULL);
	if (built < 0 || w.rc < 0)
		return -1;
	crashpoint("staged");
	crashpoint("manifest");
	if (rename(x->staged, x->final) < 0)
		return error_errno("cannot move '%s' to '%s'", x->staged, x->final);
	crashpoint("renamed");
	fs_rm_rf(x->spool);
	return 0;
}

/* Make the new release durable before anything points at it. */
static int sync_root(struct root *r)
{
	int fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s'", r->path);
	int rc = syncfs(fd) < 0 ? error_errno("cannot sync the file system of '%s'", r->path) : 0;
	close(fd);
	return rc;
}

static void record(struct run *x, const char *outcome, const char *message)
{
	struct history_rec h = HISTORY_REC_INIT;
	h.action = x->o->adopt ? "adopt" : "deploy";
	h.release = x->id;
	h.previous = x->current;
	h.outcome = outcome;
	h.message = message;
	h.duration_ms = time_now_ms() - x->start_ms;
	h.files = (int64_t)x->st.files;
	h.new_bytes = (int64_t)x->new_bytes;
	history_append(&x->root, &h);
}

/* A deploy that failed before going live: leave no trace but the history line. */
static void discard(struct run *x)
{
	if (!x->id)
		return;
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", error_last());
	release_discard(&x->root, x->id);
	fs_rm_rf(x->spool);
	/* what it stored was never synced: no later deploy may trust it */
	if (release_drop_orphans(&x->root) < 0 && sync_root(&x->root) < 0)
		warning("objects stored by this deploy may not be on disk yet");
	/*
	 * The stat cache it wrote stays true (a hash is a hash whatever became of
	 * the deploy; an object dropped above is read and stored again when a
	 * link to it is missing), unless the cache itself misled this deploy:
	 * then the next one reads every file once more.
	 */
	if (x->src.kind == SOURCE_DIR && x->store_ready &&
	    __atomic_load_n(&x->store.cache_lied, __ATOMIC_RELAXED)) {
		char *cache = stat_cache_path(&x->root, x->src.path);
		unlink(cache);
		free(cache);
	}
	unlink(x->marker);
	record(x, "failed", msg);
	note("nothing changed: '%s' still points at %s", x->root.current,
	     x->current ? x->current : "nothing");
}

int deploy_run(const struct deploy_opts *o)
{
	struct run x = { .o = o, .root = ROOT_INIT, .src = SOURCE_INIT, .m = MANIFEST_INIT, .tree_fd = -1 };
	int rc;

	x.start_ms = time_now_ms();
	if (source_open(&x.src, o->source) < 0) {
		source_release(&x.src);
		return -1;
	}
	if (root_open(&x.root, o->root) < 0) {
		rc = -1;
		goto out;
	}
	if (x.src.kind == SOURCE_DIR && !o->adopt) {
		size_t n = strlen(x.src.path);
		if (!strncmp(x.root.path, x.src.path, n) &&
		    (x.root.path[n] == '/' || x.root.path[n] == 0 || !strcmp(x.src.path, "/"))) {
			rc = error("source '%s' contains the deploy root '%s'; deploy a build directory "
				   "outside it",
				   o->source, x.root.path);
			goto out;
		}
	}
	rc = root_lock(&x.root, o->wait_ms);
	if (rc < 0)
		goto out;
	if (root_recover(&x.root) < 0) {
		rc = -1;
		goto out;
	}
	if (build_release(&x) < 0) {
		discard(&x);
		rc = -1;
		goto out;
	}
	struct hook_env env = { x.id, x.final, x.current ? x.current : "", x.root.path };
	if (hooks_run("before_switch", &o->before_switch, x.final, &env) < 0 ||
	    (o->before_switch.nr && (manifest_refresh(&x.m, x.final) < 0 ||
				     manifest_write(&x.m, x.root.manifests, x.id) < 0)) ||
	    sync_root(&x.root) < 0) {
		discard(&x);
		rc = -1;
		goto out;
	}
	crashpoint("synced");

	if (o->adopt)
		rc = release_adopt_switch(&x.root, x.id);
	else
		rc = golive(&x.root, x.id, x.current, o, "after_switch", &o->after_switch);
	if (rc == -CUT_ROLLED_BACK) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", error_last());
		release_discard(&x.root, x.id);
		if (release_drop_orphans(&x.root) < 0)
			warning("objects only the rolled-back release used were not removed");
		unlink(x.marker);
		record(&x, "rolled-back", msg);
		goto out;
	}
	if (rc < 0) {
		if (rc == -1)
			discard(&x);
		else
			record(&x, "failed", error_last());
		goto out;
	}
	unlink(x.marker);
	record(&x, "ok", NULL);
	crashpoint("recorded");

	struct strlist removed = STRLIST_INIT;
	int64_t freed = 0;
	if (release_prune(&x.root, o->keep, &removed, &freed) < 0)
		warning("the deploy succeeded but pruning old releases failed");
	else if (removed.nr) {
		char h[32];
		format_bytes(h, sizeof(h), (uint64_t)freed);
		note("pruned %zu old release%s (%s freed)", removed.nr, removed.nr == 1 ? "" : "s", h);
	}
	strlist_clear(&removed);

	char nb[32], tb[32];
	format_bytes(nb, sizeof(nb), x.new_bytes);
	format_bytes(tb, sizeof(tb), x.st.bytes);
	if (!log_quiet)
		printf("%s %s: %llu files (%s), %llu new (%s), in %.2f s\n", o->adopt ? "adopted" : "deployed", x.id,
	       (unsigned long long)x.st.files, tb, (unsigned long long)x.new_files, nb,
	       (double)(time_now_ms() - x.start_ms) / 1000);
out:
	sync_ahead_wait(&x); /* a deploy that went live synced after it started: long done */
	if (x.tree_fd >= 0)
		close(x.tree_fd);
	if (x.store_ready)
		store_release(&x.store);
	manifest_release(&x.m);
	source_release(&x.src);
	free(x.id);
	free(x.current);
	free(x.marker);
	free(x.spool);
	free(x.staged);
	free(x.final);
	root_release(&x.root);
	return rc;
}
