/* A directory source: walk it with openat/fstatat and hash what the stat cache does not know. */
#include "source/source.h"
#include "source/statcache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/workers.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct walk {
	const char *root;
	struct manifest *m;
	const struct source_opts *o;
	struct source_stats *st;
	struct statcache cache;
	size_t *todo; /* entries the stat cache did not know: hashed after the walk, in parallel */
	size_t todo_nr, todo_alloc;
};

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int add_file(struct walk *w, const char *rel,
		    const struct stat *sb)
{
	struct entry *e = manifest_add(w->m, rel, ENT_FILE);
	e->mode = sb->st_mode & 07777;
	e->size = (uint64_t)sb->st_size;
	e->mtime_ns = ns_of(&sb->st_mtim);
	e->ctime_ns = ns_of(&sb->st_ctim);
	e->ino = (uint64_t)sb->st_ino;
	e->origin = path_join(w->root, rel);
	w->st->files++;
	w->st->bytes += e->size;

	const unsigned char *cached = statcache_lookup(&w->cache, e);
	if (cached) {
		memcpy(e->hash, cached, HASH_LEN);
		e->cached = 1;
		return 0;
	}
	ALLOC_GROW(w->todo, w->todo_nr + 1, w->todo_alloc);
	w->todo[w->todo_nr++] = w->m->nr - 1;
	w->st->hashed_files++;
	w->st->hashed_bytes += e->size;
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
	int fd = open(e->origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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

static int walk_dir(struct walk *w, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return error_errno("cannot read directory '%s/%s'", w->root, rel);
	}
	struct dirent *de;
	int rc = 0;
	errno = 0;
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
			rc = add_file(w, sub, &sb);
		} else if (S_ISDIR(sb.st_mode)) {
			manifest_add(w->m, sub, ENT_DIR)->mode = sb.st_mode & 07777;
			int fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				rc = error_errno("cannot read directory '%s/%s'", w->root, sub);
			else
				rc = walk_dir(w, fd, sub);
		} else if (S_ISLNK(sb.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target) - 1);
			if (n < 0) {
				rc = error_errno("cannot read link '%s/%s'", w->root, sub);
			} else {
				target[n] = 0;
				struct entry *e = manifest_add(w->m, sub, ENT_LINK);
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

int source_read_dir(const char *dir, struct manifest *m, const struct source_opts *o,
		    struct source_stats *st)
{
	struct walk w = { dir, m, o, st, STATCACHE_INIT, NULL, 0, 0 };
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	statcache_load(&w.cache, o->stat_cache);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (fd < 0)
		rc = error_errno("cannot read directory '%s'", dir);
	else
		rc = walk_dir(&w, fd, "");
	if (!rc && o->walked)
		rc = o->walked(o->keep_ctx, m);
	if (!rc)
		rc = workers_run(w.todo_nr, read_one, &w, 0);
	free(w.todo);
	statcache_release(&w.cache);
	return rc;
}
