/* A directory source: walk it with openat/fstatat and hash what the stat cache does not know. */
#include "source/source.h"
#include "source/statcache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/workers.h"
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The walk lists directories on every CPU: a worker takes a directory from
 * the queue, adds its entries to its own part of the manifest and queues
 * its subdirectories. The parts are joined at the end (the manifest is
 * sorted later anyway).
 */
struct part {
	struct manifest m;
	size_t *todo; /* entries the stat cache did not know: hashed after the walk, in parallel */
	size_t todo_nr, todo_alloc;
	struct source_stats st;
};

struct dirjob {
	char *rel; /* "" for the root */
	struct dirjob *next;
};

struct walk {
	const char *root;
	int rootfd;
	struct manifest *m;
	const struct source_opts *o;
	struct statcache cache;
	struct part *parts;
	int nparts;
	int next_part; /* __atomic: a part for each worker */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct dirjob *queue; /* directories still to list */
	int busy;             /* workers listing one now */
	int failed;
	size_t *todo; /* after the join: indexes into m */
	size_t todo_nr;
};

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int add_file(struct walk *w, struct part *p, const char *rel, const struct stat *sb)
{
	struct entry *e = manifest_add(&p->m, rel, ENT_FILE);
	e->mode = sb->st_mode & 07777;
	e->size = (uint64_t)sb->st_size;
	e->mtime_ns = ns_of(&sb->st_mtim);
	e->ctime_ns = ns_of(&sb->st_ctim);
	e->ino = (uint64_t)sb->st_ino;
	e->origin = path_join(w->root, rel);
	p->st.files++;
	p->st.bytes += e->size;

	const unsigned char *cached = statcache_lookup(&w->cache, e);
	if (cached) {
		memcpy(e->hash, cached, HASH_LEN);
		e->cached = 1;
		return 0;
	}
	ALLOC_GROW(p->todo, p->todo_nr + 1, p->todo_alloc);
	p->todo[p->todo_nr++] = p->m.nr - 1;
	p->st.hashed_files++;
	p->st.hashed_bytes += e->size;
	return 0;
}

/* The walk saw `e`; `now` is the file after it was read: refuse anything in between. */
static int changed_since_walk(const struct entry *e, const struct stat *now, uint64_t read)
{
	if (read == e->size && (uint64_t)now->st_size == e->size &&
	    ns_of(&now->st_mtim) == e->mtime_ns && ns_of(&now->st_ctim) == e->ctime_ns)
		return 0;
	error("'%s' changed while it was being read; deploy again once it is stable", e->origin);
	return 1;
}

/* Hash one file the stat cache did not know, or hand it to o->keep. */
static int read_one(void *ctx, size_t i)
{
	struct walk *w = ctx;
	struct entry *e = &w->m->v[w->todo[i]];
	int fd = openat(w->rootfd, e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_errno("cannot read '%s'", e->origin);
	uint64_t size = 0;
	struct stat now;
	int rc;
	if (w->o->keep) {
		rc = w->o->keep(w->o->keep_ctx, e, fd, &size);
	} else {
		rc = hash_fd(fd, e->hash, &size);
		if (rc < 0)
			error_errno("cannot read '%s'", e->origin);
	}
	if (!rc && fstat(fd, &now) < 0)
		rc = error_errno("cannot stat '%s'", e->origin);
	close(fd);
	if (!rc && changed_since_walk(e, &now, size))
		rc = -1;
	return rc;
}

static void queue_dir(struct walk *w, const char *rel)
{
	struct dirjob *j = xcalloc(1, sizeof(*j));
	j->rel = xstrdup(rel);
	pthread_mutex_lock(&w->lock);
	j->next = w->queue;
	w->queue = j;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* Add the entries of directory `rel` to part `p`, and queue its subdirectories. */
static int list_dir(struct walk *w, struct part *p, const char *rel)
{
	int dfd = *rel ? openat(w->rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) :
			 dup(w->rootfd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return error_errno("cannot read directory '%s%s%s'", w->root, *rel ? "/" : "", rel);
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		char *sub = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
		struct stat sb;
		if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = error_errno("cannot stat '%s/%s'", w->root, sub);
			free(sub);
			break;
		}
		if (strchr(name, '\n') || strchr(name, '\r')) {
			rc = error("'%s/%s' has a line break in its name; rename it or exclude it", w->root,
				   sub);
			free(sub);
			break;
		}
		if (source_excluded(w->o->exclude, sub, S_ISDIR(sb.st_mode))) {
			free(sub);
			continue;
		}
		if (S_ISREG(sb.st_mode)) {
			rc = add_file(w, p, sub, &sb);
		} else if (S_ISDIR(sb.st_mode)) {
			manifest_add(&p->m, sub, ENT_DIR)->mode = sb.st_mode & 07777;
			queue_dir(w, sub);
		} else if (S_ISLNK(sb.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target) - 1);
			if (n < 0) {
				rc = error_errno("cannot read link '%s/%s'", w->root, sub);
			} else {
				target[n] = 0;
				struct entry *e = manifest_add(&p->m, sub, ENT_LINK);
				e->mode = 0777;
				e->target = xstrdup(target);
			}
		} else {
			const char *kind = S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "a device file" :
					   S_ISFIFO(sb.st_mode)			   ? "a named pipe" :
					   S_ISSOCK(sb.st_mode)			   ? "a socket" :
										     "a special file";
			rc = error("'%s/%s' is %s; a release holds only files, directories and "
				   "symlinks (exclude it with --exclude)",
				   w->root, sub, kind);
		}
		free(sub);
	}
	closedir(d);
	return rc;
}

/* One walker: list queued directories until none is left and no other walker can queue more. */
static void *walker(void *arg)
{
	struct walk *w = arg;
	struct part *p = &w->parts[__atomic_fetch_add(&w->next_part, 1, __ATOMIC_RELAXED)];
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue && w->busy && !w->failed)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->queue || w->failed)
			break;
		struct dirjob *j = w->queue;
		w->queue = j->next;
		w->busy++;
		pthread_mutex_unlock(&w->lock);
		int rc = list_dir(w, p, j->rel);
		free(j->rel);
		free(j);
		pthread_mutex_lock(&w->lock);
		w->busy--;
		if (rc < 0)
			w->failed = 1;
		if (rc < 0 || (!w->queue && !w->busy))
			pthread_cond_broadcast(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Every part into w->m, and the stat cache misses as indexes into it. */
static void join_parts(struct walk *w, struct source_stats *st)
{
	struct manifest *m = w->m;
	size_t total = m->nr, todo = 0;
	for (int t = 0; t < w->nparts; t++) {
		total += w->parts[t].m.nr;
		todo += w->parts[t].todo_nr;
	}
	ALLOC_GROW(m->v, total, m->alloc);
	w->todo = xcalloc(todo + 1, sizeof(*w->todo));
	for (int t = 0; t < w->nparts; t++) {
		struct part *p = &w->parts[t];
		size_t base = m->nr;
		for (size_t i = 0; i < p->m.nr; i++) {
			m->v[base + i] = p->m.v[i];
			m->v[base + i].seq = (unsigned)(base + i);
		}
		for (size_t i = 0; i < p->todo_nr; i++)
			w->todo[w->todo_nr++] = base + p->todo[i];
		m->nr += p->m.nr;
		st->files += p->st.files;
		st->bytes += p->st.bytes;
		st->hashed_files += p->st.hashed_files;
		st->hashed_bytes += p->st.hashed_bytes;
		free(p->m.v);
		p->m = (struct manifest)MANIFEST_INIT;
		free(p->todo);
		p->todo = NULL;
	}
}

/* Walk the whole tree into w->m on every CPU. Returns 0 or -1 (reported). */
static int walk_tree(struct walk *w, struct source_stats *st)
{
	w->nparts = workers_count();
	w->parts = xcalloc((size_t)w->nparts, sizeof(*w->parts));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	queue_dir(w, "");
	pthread_t tid[WORKERS_MAX];
	int started = 0;
	for (int t = 1; t < w->nparts; t++)
		if (pthread_create(&tid[started], NULL, walker, w) == 0)
			started++;
	walker(w);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	while (w->queue) { /* left by a failure */
		struct dirjob *j = w->queue;
		w->queue = j->next;
		free(j->rel);
		free(j);
	}
	join_parts(w, st);
	for (int t = 0; t < w->nparts; t++)
		manifest_release(&w->parts[t].m);
	free(w->parts);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	return w->failed ? -1 : 0;
}

int source_read_dir(const char *dir, struct manifest *m, const struct source_opts *o,
		    struct source_stats *st)
{
	struct walk w = { .root = dir, .m = m, .o = o, .cache = STATCACHE_INIT };
	statcache_load(&w.cache, o->stat_cache);
	w.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (w.rootfd < 0)
		rc = error_errno("cannot read directory '%s'", dir);
	else
		rc = walk_tree(&w, st);
	if (!rc && o->walked)
		rc = o->walked(o->keep_ctx, m);
	if (!rc)
		rc = workers_run(w.todo_nr, read_one, &w, 0);
	if (w.rootfd >= 0)
		close(w.rootfd);
	free(w.todo);
	statcache_release(&w.cache);
	return rc;
}
