/*
 * The local target: a deploy root on this machine, worked on with
 * src/release/. The same operations reach a remote root through its agent,
 * whose other end is this file.
 */
#include "target/local.h"
#include "deploy/hooks.h"
#include "release/refresh.h"
#include "release/retention.h"
#include "release/stage.h"
#include "util/error.h"
#include "util/fs.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void target_info_release(struct target_info *i)
{
	strlist_clear(&i->releases);
	free(i->current);
	i->current = NULL;
}

const char *target_info_previous(const struct target_info *i)
{
	return release_previous(&i->releases, i->current);
}

static int local_lock(struct target *t, long wait_ms)
{
	struct local_target *l = local_of(t);
	int rc = root_lock(&l->root, wait_ms);
	if (rc < 0)
		return rc;
	return root_recover(&l->root);
}

int target_live_dir_error(const struct target *t)
{
	return error("'%s/current' is a real directory, not a link cutover manages; adopt it with "
		     "'cutover init --adopt %s'",
		     t->name, t->name);
}

static int local_state(struct target *t, struct target_info *out)
{
	struct local_target *l = local_of(t);
	struct stat st;
	if (release_list(&l->root, &out->releases) < 0)
		return -1;
	if (!lstat(l->root.current, &st) && S_ISDIR(st.st_mode)) {
		out->live_dir = 1;
		return 0;
	}
	return release_current(&l->root, &out->current);
}

/* The pending marker of a deploy: the next lock removes what it left. */
static int create_marker(struct local_target *l)
{
	int fd = open(l->marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return error_errno("cannot create '%s'", l->marker);
	close(fd);
	return fs_fsync_dir(l->root.staging);
}

static int local_begin(struct target *t, const char *id)
{
	struct local_target *l = local_of(t);
	struct strlist ids = STRLIST_INIT;
	if (release_list(&l->root, &ids) < 0)
		return -1;
	l->first = ids.nr == 0;
	strlist_clear(&ids);
	char *exists = release_path(&l->root, id);
	struct stat st;
	int taken = !lstat(exists, &st);
	free(exists);
	if (taken)
		return error("release '%s' exists already in '%s'; a release id is never reused", id, l->root.path);
	l->id = xstrdup(id);
	l->marker = xasprintf("%s/%s.pending", l->root.staging, id);
	l->spool = xasprintf("%s/%s.spool", l->root.staging, id);
	l->staged = path_join(l->root.staging, id);
	l->final = release_path(&l->root, id);
	if (create_marker(l) < 0)
		return -1;
	crashpoint("pending");
	if (mkdir(l->spool, 0700) < 0)
		return error_errno("cannot create '%s'", l->spool);
	if (store_init(&l->store, &l->root, l->link_mode) < 0)
		return -1;
	l->store_ready = 1;
	return 0;
}

/* The manifests are written by a second thread while the tree is linked. */
struct writer {
	struct local_target *l;
	const struct manifest *m;
	int rc;
};

static void *write_manifests(void *arg)
{
	struct writer *w = arg;
	w->rc = manifest_write(w->m, w->l->root.manifests, w->l->id);
	return NULL;
}

static int stage_local(struct local_target *l, const char *id, struct manifest *m, const struct stage_opts *o);

static int local_stage(struct target *t, const char *id, struct manifest *m, const struct stage_opts *o)
{
	struct local_target *l = local_of(t);
	if (!l->id || strcmp(id, l->id))
		return error("internal: stage of '%s' without begin", id);
	int rc = stage_local(l, id, m, o);
	if (__atomic_load_n(&l->store.cache_lied, __ATOMIC_RELAXED))
		t->cache_lied = 1;
	return rc;
}

static int stage_local(struct local_target *l, const char *id, struct manifest *m, const struct stage_opts *o)
{
	if (stage_apply_paths(&l->store, m, o->shared, o->writable) < 0)
		return -1;
	struct writer w = { l, m, 0 };
	pthread_t tid;
	int threaded = pthread_create(&tid, NULL, write_manifests, &w) == 0;
	if (!threaded)
		write_manifests(&w);
	int built = stage_build(&l->store, m, l->staged, id, l->tree_fd >= 0);
	if (threaded)
		pthread_join(tid, NULL);
	if (built < 0 || w.rc < 0)
		return -1;
	crashpoint("staged");
	crashpoint("manifest");
	if (rename(l->staged, l->final) < 0)
		return error_errno("cannot move '%s' to '%s'", l->staged, l->final);
	crashpoint("renamed");
	fs_rm_rf(l->spool);
	return 0;
}

static int local_hooks(struct target *t, const char *phase, const struct strlist *cmds, const char *id,
		       const char *previous)
{
	struct local_target *l = local_of(t);
	if (!cmds || !cmds->nr)
		return 0;
	char *path = release_path(&l->root, id);
	struct hook_env env = { id, path, previous ? previous : "", l->root.path };
	int rc = hooks_run(phase, cmds, path, &env);
	free(path);
	return rc;
}

/* Make what was written durable before anything points at it. */
static int sync_root(struct root *r)
{
	int fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s'", r->path);
	int rc = syncfs(fd) < 0 ? error_errno("cannot sync the file system of '%s'", r->path) : 0;
	close(fd);
	return rc;
}

static int local_seal(struct target *t, const char *id, struct manifest *m, int refresh)
{
	struct local_target *l = local_of(t);
	if (refresh) {
		char *path = release_path(&l->root, id);
		int rc = manifest_refresh(m, path);
		free(path);
		if (rc < 0 || manifest_write(m, l->root.manifests, id) < 0)
			return -1;
	}
	return sync_root(&l->root);
}

static int local_switch_to(struct target *t, const char *id)
{
	struct local_target *l = local_of(t);
	return id ? release_switch(&l->root, id) : release_unswitch(&l->root);
}

static int local_adopt(struct target *t, const char *id)
{
	return release_adopt_switch(&local_of(t)->root, id);
}

static int local_check(struct target *t, const struct check_opts *c, const char *id, const char *previous)
{
	struct local_target *l = local_of(t);
	char *path = release_path(&l->root, id);
	struct hook_env env = { id, path, previous ? previous : "", l->root.path };
	int rc = check_run(c, &env, path);
	free(path);
	return rc;
}

/* Forget the deploy under way (its paths), once it went live or was removed. */
static void end_deploy(struct local_target *l)
{
	local_sync_ahead_wait(l); /* a deploy that went live synced after it started: long done */
	if (l->tree_fd >= 0)
		close(l->tree_fd);
	l->tree_fd = -1;
	if (l->store_ready)
		store_release(&l->store);
	l->store_ready = 0;
	free(l->id);
	free(l->marker);
	free(l->spool);
	free(l->staged);
	free(l->final);
	l->id = l->marker = l->spool = l->staged = l->final = NULL;
}

static int local_abort(struct target *t, const char *id)
{
	struct local_target *l = local_of(t);
	int rc = 0;
	local_sync_ahead_wait(l);
	if (release_discard(&l->root, id) < 0)
		rc = -1;
	if (l->spool)
		fs_rm_rf(l->spool);
	/* what it stored was never synced (or only the rolled-back release used
	 * it): no later deploy may trust it */
	if (release_drop_orphans(&l->root) < 0 && sync_root(&l->root) < 0) {
		warning("objects stored by this deploy may not be on disk yet");
		rc = -1;
	}
	if (l->marker)
		unlink(l->marker);
	end_deploy(l);
	return rc;
}

static int local_commit(struct target *t, const char *id)
{
	struct local_target *l = local_of(t);
	if (l->marker)
		unlink(l->marker);
	/* a release went live: what earlier cut-off uploads kept is no longer owed to a retry */
	fs_rm_rf(l->root.partial);
	end_deploy(l);
	return 0;
}

int local_keep_partial(struct target *t, const struct manifest *m)
{
	struct local_target *l = local_of(t);
	if (!l->id || !m->nr)
		return 0;
	/*
	 * The objects that arrived first become durable, then the manifest that
	 * keeps them is written: after a power cut either it is there and its
	 * objects are whole, or it is not and the recovery drops them.
	 */
	if (sync_root(&l->root) < 0 || fs_mkdir_p(l->root.partial, 0700) < 0 ||
	    manifest_write(m, l->root.partial, l->id) < 0 || fs_fsync_dir(l->root.partial) < 0)
		return -1;
	note("kept the objects of the unfinished upload of '%s' for the next deploy", l->id);
	return 0;
}

static int local_record(struct target *t, const struct history_rec *h)
{
	return history_append(&local_of(t)->root, h);
}

static int local_prune(struct target *t, int keep, struct strlist *removed, int64_t *freed)
{
	return release_prune(&local_of(t)->root, keep, removed, freed);
}

static void local_close(struct target *t)
{
	if (!t)
		return;
	struct local_target *l = local_of(t);
	end_deploy(l);
	root_release(&l->root);
	free(t->name);
	free(t->cache_dir);
	free(l);
}

static const struct target_ops local_ops = {
	.lock = local_lock,
	.state = local_state,
	.begin = local_begin,
	.send = local_send,
	.stage = local_stage,
	.hooks = local_hooks,
	.seal = local_seal,
	.switch_to = local_switch_to,
	.adopt = local_adopt,
	.check = local_check,
	.abort = local_abort,
	.commit = local_commit,
	.record = local_record,
	.prune = local_prune,
	.close = local_close,
};

struct target *target_open_local(const char *path, enum link_mode mode)
{
	struct local_target *l = xcalloc(1, sizeof(*l));
	l->root = (struct root)ROOT_INIT;
	l->tree_fd = -1;
	l->link_mode = mode;
	if (root_open(&l->root, path) < 0) {
		root_release(&l->root);
		free(l);
		return NULL;
	}
	l->t.ops = &local_ops;
	l->t.name = xstrdup(l->root.path);
	l->t.cache_dir = xstrdup(l->root.cache);
	l->t.local_root = l->root.path;
	return &l->t;
}
