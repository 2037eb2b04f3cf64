/*
 * The plan of one deploy to one target, the data flow of DESIGN.md:
 * source -> manifest -> target operations (lock, state, begin, send,
 * stage, hooks, seal, switch, check, commit or abort, record, prune).
 * Nothing here touches a target's files: see src/target/.
 */
#include "deploy/deploy.h"
#include "release/history.h"
#include "release/id.h"
#include "source/source.h"
#include "source/statcache.h"
#include "target/target.h"
#include "target/ssh.h"
#include "target/url.h"
#include "util/error.h"
#include "util/format.h"
#include "util/fs.h"
#include "util/hash.h"
#include <pthread.h>
#include <time.h>
#include <unistd.h>

struct run {
	const struct deploy_opts *o;
	struct target *t;
	struct source src;
	struct manifest m;
	struct send_stats st;
	struct target_info info;
	char *id;
	char *stat_cache; /* the source's stat cache file, or NULL */
	int64_t start_ms;
	int begun;
	int sent; /* the source was read whole: the stat cache holds true hashes */
	/* a remote target: the source is read on a thread while the connection is made */
	pthread_t reader;
	int reading, read_rc;
	char *spool;
	struct send_stats read;
};

/* The stat cache of a directory source, kept by the client in the target's cache dir. */
static char *stat_cache_path(const char *cache_dir, const char *dir)
{
	char hex[HASH_HEX + 1];
	hash_bytes_hex(hex, dir, strlen(dir));
	return xasprintf("%s/source-%.16s.stat", cache_dir, hex);
}

static void *read_source(void *arg)
{
	struct run *x = arg;
	struct source_opts so = { .exclude = &x->o->exclude, .spool_dir = x->spool, .stat_cache = x->stat_cache };
	struct source_stats ss = { 0 };
	int spooled;
	x->read_rc = source_read(&x->src, &x->m, &so, &ss, &spooled);
	x->read.files = ss.files;
	x->read.bytes = ss.bytes;
	x->read.hashed_files = ss.hashed_files;
	x->read.hashed_bytes = ss.hashed_bytes;
	return NULL;
}

/*
 * For a remote root the source's manifest does not depend on the host: read
 * it (hash what the stat cache does not vouch for) while ssh connects, the
 * agent starts and the lock is taken. Returns 0 (started, or not needed), -1.
 */
static int read_ahead(struct run *x)
{
	if (!target_url_is_remote(x->o->root))
		return 0;
	char *cache = target_ssh_cache_dir(x->o->root);
	if (!cache)
		return -1;
	if (x->src.kind == SOURCE_DIR)
		x->stat_cache = stat_cache_path(cache, x->src.path);
	free(cache);
	const char *tmp = getenv("TMPDIR");
	x->spool = xasprintf("%s/cutover-spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(x->spool)) {
		error_errno("cannot create '%s'", x->spool);
		free(x->spool);
		x->spool = NULL;
		return -1;
	}
	x->reading = pthread_create(&x->reader, NULL, read_source, x) == 0;
	if (!x->reading)
		read_source(x);
	return 0;
}

/* The source read ahead: 0 when it is read (or was never read ahead), -1 when it failed. */
static int read_ahead_wait(struct run *x)
{
	if (x->reading) {
		pthread_join(x->reader, NULL);
		x->reading = 0;
	}
	return x->spool ? x->read_rc : 0;
}


/* A cache of source stat -> hash, true whatever becomes of this deploy
 * (discard() forgets it all the same when it misled the deploy). */
struct cache_saver {
	struct run *x;
	pthread_t tid;
	int started;
};

/* A cache that cannot be written costs the next deploy a re-hash, and fails nothing. */
static void *save_stat_cache(void *arg)
{
	struct run *x = arg;
	int demoted = report_demote_errors(1);
	statcache_save(&x->m, x->stat_cache, x->start_ms * 1000000);
	report_demote_errors(demoted);
	return NULL;
}

static void cache_save_start(struct cache_saver *c, struct run *x)
{
	c->x = x;
	c->started = 0;
	if (!x->stat_cache)
		return;
	if (pthread_create(&c->tid, NULL, save_stat_cache, x) == 0)
		c->started = 1;
	else
		save_stat_cache(x);
}

static void cache_save_wait(struct cache_saver *c)
{
	if (c->started)
		pthread_join(c->tid, NULL);
	c->started = 0;
}

/* Everything up to a complete, not yet live release in releases/<id>. */
static int build_release(struct run *x)
{
	const struct deploy_opts *o = x->o;
	struct target *t = x->t;

	if (t->ops->state(t, &x->info) < 0)
		return -1;
	if (x->info.live_dir && !o->adopt)
		return target_live_dir_error(t);
	if (read_ahead_wait(x) < 0)
		return -1;
	const char *label = o->label ? o->label : x->src.label;
	x->id = release_id_make(&x->info.releases, time(NULL), label);
	if (t->ops->begin(t, x->id) < 0)
		return -1;
	x->begun = 1;
	if (x->src.kind == SOURCE_DIR && !x->stat_cache)
		x->stat_cache = stat_cache_path(t->cache_dir, x->src.path);
	struct send_opts so = { &o->exclude, x->stat_cache, &o->shared, &o->writable, x->spool ? &x->read : NULL };
	if (t->ops->send(t, &x->src, &so, &x->m, &x->st) < 0)
		return -1;
	x->sent = 1;
	struct stage_opts sto = { &o->shared, &o->writable };
	return t->ops->stage(t, x->id, &x->m, &sto);
}

static void record(struct run *x, const char *outcome, const char *message)
{
	struct history_rec h = HISTORY_REC_INIT;
	h.action = x->o->adopt ? "adopt" : "deploy";
	h.release = x->id;
	h.previous = x->info.current;
	h.outcome = outcome;
	h.message = message;
	h.duration_ms = time_now_ms() - x->start_ms;
	h.files = (int64_t)x->st.files;
	h.new_bytes = (int64_t)x->st.new_bytes;
	x->t->ops->record(x->t, &h);
}

/* A deploy that failed before going live: leave no trace but the history line. */
static void discard(struct run *x)
{
	if (!x->begun)
		return;
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", error_last());
	x->t->ops->abort(x->t, x->id);
	/*
	 * The stat cache it wrote stays true (a hash is a hash whatever became of
	 * the deploy; an object dropped above is read and stored again when a
	 * link to it is missing), unless the cache itself misled this deploy:
	 * then the next one reads every file once more.
	 */
	if (x->stat_cache && x->t->cache_lied)
		unlink(x->stat_cache);
	record(x, "failed", msg);
	note("nothing changed: '%s/current' still points at %s", x->t->name,
	     x->info.current ? x->info.current : "nothing");
}

/*
 * The prune after a deploy that went live, with a history line of its own
 * like 'cutover prune' (marked automatic) when it removed something or
 * failed. Its failure does not fail the deploy.
 */
static void prune_after(struct run *x)
{
	struct target *t = x->t;
	struct strlist removed = STRLIST_INIT;
	struct buf msg = BUF_INIT;
	int64_t freed = 0, start = time_now_ms();
	int rc = t->ops->prune(t, x->o->keep, &removed, &freed);

	if (rc < 0)
		warning("the deploy succeeded but pruning old releases failed; 'cutover prune' tries "
			"again");
	else if (removed.nr) {
		char h[32];
		format_bytes(h, sizeof(h), (uint64_t)freed);
		note("pruned %zu old release%s (%s freed)", removed.nr, removed.nr == 1 ? "" : "s", h);
	}
	if (rc < 0 || removed.nr) {
		struct history_rec h = HISTORY_REC_INIT;
		buf_addf(&msg, "automatic, after the deploy of %s: ", x->id);
		history_prune_message(&msg, &removed, rc < 0 ? error_last() : NULL);
		h.action = "prune";
		h.outcome = rc < 0 ? "failed" : "ok";
		h.message = msg.buf;
		h.duration_ms = time_now_ms() - start;
		t->ops->record(t, &h);
	}
	buf_release(&msg);
	strlist_clear(&removed);
}

/* `path` is `dir` or below it. */
static int path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/"))
		return 1;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

/*
 * A source directory must not contain the root it deploys to (the deploy
 * would read what it writes), nor lie inside the parts of the root cutover
 * keeps: .cutover/ (its own state), releases/ and current (a release's
 * files are the store's, its shared paths links that lead out of it; and
 * prune may remove it), shared/ (the data releases link to). Compared by
 * real path, so a link to any of them is found too.
 */
static int check_source_place(const struct run *x)
{
	const char *root = x->t->local_root;
	if (!root || x->src.kind != SOURCE_DIR || x->o->adopt)
		return 0;
	char *src = realpath(x->src.path, NULL), *real_root = realpath(root, NULL);
	int rc = 0;
	if (!src || !real_root) {
		rc = error_errno("cannot resolve '%s'", !src ? x->src.path : root);
		goto out;
	}
	if (path_under(real_root, src)) {
		rc = error("source '%s' contains the deploy root '%s'; deploy a build directory outside it",
			   x->o->source, root);
		goto out;
	}
	static const char *const kept[] = { ".cutover", "releases", "shared" };
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		char *dir = path_join(real_root, kept[i]);
		int inside = path_under(src, dir);
		free(dir);
		if (!inside)
			continue;
		if (i == 1)
			rc = error("source '%s' is a release of the deploy root '%s' (or inside one); to make a "
				   "release live again use 'cutover rollback ID --to %s', or deploy a build "
				   "directory outside the root",
				   x->o->source, root, root);
		else
			rc = error("source '%s' is inside '%s/%s', which cutover keeps for the deploy root; "
				   "deploy a build directory outside '%s'",
				   x->o->source, root, kept[i], root);
		break;
	}
out:
	free(src);
	free(real_root);
	return rc;
}

int deploy_run(const struct deploy_opts *o, struct deploy_result *res)
{
	struct run x = { .o = o, .src = SOURCE_INIT, .m = MANIFEST_INIT, .info = TARGET_INFO_INIT };
	struct cache_saver cs = { 0 };
	int rc;

	x.start_ms = time_now_ms();
	if (source_open(&x.src, o->source) < 0) {
		source_release(&x.src);
		return -1;
	}
	if (read_ahead(&x) < 0) {
		rc = -1;
		goto out;
	}
	x.t = target_open(o->root, o->link_mode, o->sudo);
	if (!x.t) {
		rc = -1;
		goto out;
	}
	struct target *t = x.t;
	if (check_source_place(&x) < 0) {
		rc = -1;
		goto out;
	}
	rc = t->ops->lock(t, o->wait_ms);
	if (rc < 0)
		goto out;
	if (build_release(&x) < 0) {
		if (x.sent && x.stat_cache && !x.t->cache_lied)
			save_stat_cache(&x); /* a failed stage (a full disk) costs the next deploy no re-hash */
		discard(&x);
		rc = -1;
		goto out;
	}
	/* the stat cache is written while hooks run and the release is synced */
	cache_save_start(&cs, &x);
	const char *previous = x.info.current;
	int hooks_ok = t->ops->hooks(t, "before_switch", &o->before_switch, x.id, previous) == 0;
	if (o->before_switch.nr)
		cache_save_wait(&cs); /* the refresh changes the manifest the cache is written from */
	if (!hooks_ok || t->ops->seal(t, x.id, &x.m, o->before_switch.nr > 0) < 0) {
		cache_save_wait(&cs);
		discard(&x);
		rc = -1;
		goto out;
	}
	cache_save_wait(&cs);
	crashpoint("synced");

	char why[1024] = "";
	if (o->adopt)
		rc = t->ops->adopt(t, x.id);
	else
		rc = golive(t, x.id, previous, o, 0, why, sizeof(why));
	if (rc == -CUT_ROLLED_BACK) {
		if (t->ops->abort(t, x.id) < 0)
			warning("objects only the rolled-back release used were not removed");
		record(&x, "rolled-back", why);
		goto out;
	}
	if (rc < 0) {
		if (rc == -1)
			discard(&x);
		else
			record(&x, "failed", *why ? why : error_last());
		goto out;
	}
	t->ops->commit(t, x.id);
	/* the release is live: what fails from here on is said, but does not fail the deploy */
	int demoted = report_demote_errors(1);
	record(&x, "ok", NULL);
	crashpoint("recorded");
	prune_after(&x);
	report_demote_errors(demoted);
	if (res) {
		res->id = xstrdup(x.id);
		res->files = x.st.files;
		res->bytes = x.st.bytes;
		res->new_files = x.st.new_files;
		res->new_bytes = x.st.new_bytes;
		res->seconds = (double)(time_now_ms() - x.start_ms) / 1000;
	}
out:
	read_ahead_wait(&x);
	cache_save_wait(&cs);
	if (x.spool) {
		fs_rm_rf(x.spool);
		free(x.spool);
	}
	if (x.t)
		x.t->ops->close(x.t);
	manifest_release(&x.m);
	source_release(&x.src);
	target_info_release(&x.info);
	free(x.id);
	free(x.stat_cache);
	return rc;
}
