#include "release/root.h"
#include "release/history.h"
#include "release/manifest.h"
#include "release/retention.h"
#include "release/id.h"
#include "util/error.h"
#include "util/fs.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *lock_command;

void root_set_command(int argc, char **argv)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, "cutover");
	for (int i = 0; i < argc; i++) {
		buf_addch(&b, ' ');
		buf_addstr(&b, argv[i]);
		if (b.len > 300)
			break;
	}
	free(lock_command);
	lock_command = buf_detach(&b, NULL);
}

static const char *crash_at;
static pthread_once_t crash_once = PTHREAD_ONCE_INIT;

static void read_crash_at(void)
{
	crash_at = getenv("CUTOVER_CRASH_AT");
}

void crashpoint(const char *name)
{
	/* read once: some points are passed for every file, on several threads */
	pthread_once(&crash_once, read_crash_at);
	const char *at = crash_at;
	if (at && !strcmp(at, name))
		kill(getpid(), SIGKILL);
}

void root_paths(struct root *r, const char *path)
{
	r->path = path_absolute(path);
	r->meta = path_join(r->path, ".cutover");
	r->objects = path_join(r->meta, "objects");
	r->manifests = path_join(r->meta, "manifests");
	r->staging = path_join(r->meta, "staging");
	r->pins = path_join(r->meta, "pins");
	r->cache = path_join(r->meta, "cache");
	r->history = path_join(r->meta, "history.jsonl");
	r->partial = path_join(r->meta, "partial");
	r->releases = path_join(r->path, "releases");
	r->shared = path_join(r->path, "shared");
	r->current = path_join(r->path, "current");
	r->lock_fd = -1;
}

void root_release(struct root *r)
{
	root_unlock(r);
	free(r->path);
	free(r->meta);
	free(r->objects);
	free(r->manifests);
	free(r->staging);
	free(r->pins);
	free(r->cache);
	free(r->history);
	free(r->partial);
	free(r->releases);
	free(r->shared);
	free(r->current);
	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
}

int root_create(struct root *r, const char *path)
{
	root_paths(r, path);
	const char *dirs[] = { r->path, r->releases, r->shared, r->meta, r->objects,
			       r->manifests, r->staging, r->pins, r->cache };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		struct stat st;
		int existed = !stat(dirs[i], &st);
		if (fs_mkdir_p(dirs[i], i >= 3 ? 0700 : 0755) < 0)
			return -1;
		/* the web server must traverse the root, releases/ and shared/
		 * whatever the umask; directories that existed keep their modes */
		if (!existed && i < 3 && chmod(dirs[i], 0755) < 0)
			return error_errno("cannot set the mode of '%s'", dirs[i]);
	}
	/* objects must be readable by the web server through the links */
	chmod(r->meta, 0711);
	chmod(r->objects, 0711);
	char *lock = path_join(r->meta, "lock");
	int fd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		error_errno("cannot create '%s'", lock);
		free(lock);
		return -1;
	}
	close(fd);
	free(lock);
	return fs_fsync_dir(r->meta) < 0 || fs_fsync_dir(r->path) < 0 ? -1 : 0;
}

int root_open(struct root *r, const char *path)
{
	struct stat st;
	root_paths(r, path);
	if (stat(r->path, &st) < 0)
		return error_errno("cannot use '%s' as a cutover root", r->path);
	if (!S_ISDIR(st.st_mode))
		return error("'%s' is not a directory", r->path);
	if (stat(r->meta, &st) < 0 || !S_ISDIR(st.st_mode))
		return error("'%s' is not a cutover root (no .cutover/); run 'cutover init %s' first",
			     r->path, r->path);
	const char *need[] = { r->objects, r->manifests, r->staging, r->releases };
	for (size_t i = 0; i < ARRAY_SIZE(need); i++)
		if (stat(need[i], &st) < 0 || !S_ISDIR(st.st_mode))
			return error("'%s' is damaged: '%s' is missing; run 'cutover init %s' to repair it",
				     r->path, need[i], r->path);
	return 0;
}

static int open_lock(struct root *r)
{
	char *lock = path_join(r->meta, "lock");
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		error_errno("cannot open lock file '%s'", lock);
	free(lock);
	return fd;
}

static void describe_holder(int fd, char **who)
{
	char text[1024];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0) {
		*who = xstrdup("another process (no details recorded)");
		return;
	}
	text[n] = 0;
	/* the file holds "user@host pid N since T: command" on one line */
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = 0;
	*who = xstrdup(text);
}

int root_lock_holder(struct root *r, char **who)
{
	int fd = open_lock(r);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	describe_holder(fd, who);
	close(fd);
	return 1;
}

static const char *lock_advice;

void root_set_lock_advice(const char *advice)
{
	lock_advice = advice;
}

/* root_lock and root_lock_try: `quiet` leaves a refusal unreported. */
static int take_lock(struct root *r, long wait_ms, int quiet)
{
	if (r->lock_fd >= 0)
		return 0;
	int fd = open_lock(r);
	if (fd < 0)
		return -1;
	int64_t deadline = time_now_ms() + wait_ms;
	int said = 0;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_errno("cannot lock '%s/.cutover/lock'", r->path);
			close(fd);
			return -1;
		}
		if (time_now_ms() >= deadline) {
			char *who;
			describe_holder(fd, &who);
			if (!quiet)
				error("'%s' is locked by %s; %s", r->path, who,
				      wait_ms ? "gave up waiting" :
				      lock_advice ? lock_advice : "wait for it with --wait, e.g. --wait 60s");
			free(who);
			close(fd);
			return -CUT_LOCKED;
		}
		if (!said) {
			char *who;
			describe_holder(fd, &who);
			note("waiting for the lock on '%s', held by %s", r->path, who);
			free(who);
			said = 1;
		}
		usleep(50 * 1000);
	}
	char host[256] = "", since[32];
	struct passwd *pw = getpwuid(geteuid());
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gethostname(host, sizeof(host) - 1);
	char *info = xasprintf("%s@%s pid %d since %s (%s)\n", pw ? pw->pw_name : "?", host,
			       (int)getpid(), since, lock_command ? lock_command : "cutover");
	if (ftruncate(fd, 0) < 0 || pwrite(fd, info, strlen(info), 0) < 0)
		warning_errno("cannot record the lock holder in '%s/.cutover/lock'", r->path);
	free(info);
	r->lock_fd = fd;
	return 0;
}

int root_lock(struct root *r, long wait_ms)
{
	return take_lock(r, wait_ms, 0);
}

int root_lock_try(struct root *r)
{
	int rc = take_lock(r, 0, 1);
	return rc == -CUT_LOCKED ? 0 : rc < 0 ? rc : 1;
}

void root_unlock(struct root *r)
{
	if (r->lock_fd < 0)
		return;
	if (ftruncate(r->lock_fd, 0) < 0) {
		/* stale holder text is harmless: the kernel lock is what counts */
	}
	close(r->lock_fd);
	r->lock_fd = -1;
}

char *release_path(struct root *r, const char *id)
{
	return path_join(r->releases, id);
}

int release_list(struct root *r, struct strlist *ids)
{
	DIR *d = opendir(r->releases);
	if (!d)
		return error_errno("cannot read '%s'", r->releases);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!release_id_valid(de->d_name))
			continue;
		/* a release is complete once its manifest exists and it is no longer pending */
		char *tree = xasprintf("%s/%s" MANIFEST_TREE_EXT, r->manifests, de->d_name);
		char *pending = xasprintf("%s/%s.pending", r->staging, de->d_name);
		if (!access(tree, F_OK) && access(pending, F_OK))
			strlist_push(ids, de->d_name);
		free(tree);
		free(pending);
	}
	closedir(d);
	strlist_sort(ids);
	return 0;
}

int release_current(struct root *r, char **id)
{
	char target[4096];
	*id = NULL;
	ssize_t n = readlink(r->current, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == EINVAL)
			return error("'%s' is a real directory, not a link cutover manages; adopt it with "
				     "'cutover init --adopt %s'",
				     r->current, r->path);
		return error_errno("cannot read '%s'", r->current);
	}
	target[n] = 0;
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(target, "releases/", 9) || !release_id_valid(base))
		return error("'%s' points at '%s', not at a release; fix it by hand or run "
			     "'cutover rollback RELEASE'",
			     r->current, target);
	*id = xstrdup(base);
	return 0;
}

const char *release_previous(const struct strlist *ids, const char *current)
{
	const char *prev = NULL;
	for (size_t i = 0; i < ids->nr; i++) {
		if (current && strcmp(ids->items[i], current) >= 0)
			break;
		prev = ids->items[i];
	}
	return current ? prev : NULL;
}

int release_check_exists(struct root *r, const char *id)
{
	struct strlist ids = STRLIST_INIT;
	if (!release_id_valid(id))
		return error("'%s' is not a release id (they look like 20261122T083106Z or "
			     "20261122T083106Z-label); see 'cutover releases'",
			     id);
	if (release_list(r, &ids) < 0)
		return -1;
	int found = strlist_has(&ids, id);
	strlist_clear(&ids);
	if (!found)
		return error("no release '%s' in '%s'; see 'cutover releases --to %s'", id, r->path,
			     r->path);
	return 0;
}

int release_switch(struct root *r, const char *id)
{
	char *target = xasprintf("releases/%s", id);
	char *tmp = xasprintf("%s/.current.tmp-%d", r->path, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp) < 0) {
		error_errno("cannot create link '%s'", tmp);
		goto fail;
	}
	crashpoint("switch-link");
	if (rename(tmp, r->current) < 0) {
		error_errno("cannot rename '%s' over '%s'", tmp, r->current);
		unlink(tmp);
		goto fail;
	}
	crashpoint("switch-rename");
	free(target);
	free(tmp);
	return fs_fsync_dir(r->path);
fail:
	free(target);
	free(tmp);
	return -1;
}

int release_adopt_switch(struct root *r, const char *id)
{
	char *target = xasprintf("releases/%s", id);
	char *tmp = xasprintf("%s/.current.tmp-%d", r->path, (int)getpid());
	int rc = 0;
	unlink(tmp);
	if (symlink(target, tmp) < 0) {
		rc = error_errno("cannot create link '%s'", tmp);
	} else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, r->current, RENAME_EXCHANGE) < 0) {
		rc = error_errno("cannot swap '%s' for a link to '%s'", r->current, target);
		unlink(tmp);
	} else if (fs_fsync_dir(r->path) < 0) {
		rc = -1;
	} else {
		/* tmp is now the old directory, its content safe in the release:
		 * what cannot be removed of it is said, but the adoption stands */
		char *old = xasprintf("%s/.adopted-%d", r->meta, (int)getpid());
		int demoted = report_demote_errors(1);
		if (rename(tmp, old) == 0)
			fs_rm_rf(old);
		else
			fs_rm_rf(tmp);
		report_demote_errors(demoted);
		free(old);
	}
	free(target);
	free(tmp);
	return rc;
}

int release_unswitch(struct root *r)
{
	if (unlink(r->current) < 0 && errno != ENOENT)
		return error_errno("cannot remove '%s'", r->current);
	return fs_fsync_dir(r->path);
}

int release_is_pinned(struct root *r, const char *id)
{
	char *p = path_join(r->pins, id);
	int pinned = !access(p, F_OK);
	free(p);
	return pinned;
}

int root_recover(struct root *r)
{
	DIR *d = opendir(r->staging);
	if (!d)
		return error_errno("cannot read '%s'", r->staging);
	struct dirent *de;
	struct strlist pending = STRLIST_INIT, other = STRLIST_INIT;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t n = strlen(de->d_name);
		if (n > 8 && !strcmp(de->d_name + n - 8, ".pending"))
			strlist_push(&pending, de->d_name);
		else
			strlist_push(&other, de->d_name);
	}
	closedir(d);

	char *current = NULL;
	int discarded = 0;
	/* best effort from here on: what cannot be cleaned up now is tried again next time */
	int demoted = report_demote_errors(1);
	if (pending.nr && release_current(r, &current) < 0)
		current = NULL;
	for (size_t i = 0; i < pending.nr; i++) {
		char *id = xstrndup(pending.items[i], strlen(pending.items[i]) - 8);
		struct history_rec h = HISTORY_REC_INIT;
		h.action = "deploy";
		h.release = id;
		if (current && !strcmp(current, id)) {
			h.outcome = "interrupted";
			h.message = "cutover was stopped after the switch; the release is live";
			warning("the deploy of '%s' was interrupted after it went live; keeping it", id);
		} else {
			h.outcome = "failed";
			h.message = "interrupted before the switch; the unfinished release was removed";
			note("removing the unfinished release '%s' of an interrupted deploy", id);
			release_discard(r, id);
			discarded++;
		}
		history_append(r, &h);
		char *p = path_join(r->staging, pending.items[i]);
		unlink(p);
		free(p);
		free(id);
	}
	for (size_t i = 0; i < other.nr; i++) {
		char *p = path_join(r->staging, other.items[i]);
		fs_rm_rf(p);
		free(p);
	}
	/* temporary links left by a switch that was killed between symlink and rename */
	d = opendir(r->path);
	if (d) {
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, ".current.tmp-", 13)) {
				char *p = path_join(r->path, de->d_name);
				unlink(p);
				free(p);
			}
		closedir(d);
	}
	/* manifests written under a temporary name, and those of releases a
	 * killed prune already moved away */
	d = opendir(r->manifests);
	if (d) {
		while ((de = readdir(d))) {
			char *p = path_join(r->manifests, de->d_name);
			size_t len = strlen(de->d_name), ext = 0;
			if (len > strlen(MANIFEST_TREE_EXT) &&
			    !strcmp(de->d_name + len - strlen(MANIFEST_TREE_EXT), MANIFEST_TREE_EXT))
				ext = strlen(MANIFEST_TREE_EXT);
			else if (len > 7 && !strcmp(de->d_name + len - 7, ".sha256"))
				ext = 7;
			if (strstr(de->d_name, ".tmp-")) {
				unlink(p);
			} else if (ext) {
				char *id = xstrndup(de->d_name, len - ext);
				char *rel = release_path(r, id);
				if (release_id_valid(id) && access(rel, F_OK) < 0 && errno == ENOENT)
					unlink(p);
				free(rel);
				free(id);
			}
			free(p);
		}
		closedir(d);
	}
	char *tmp = path_join(r->objects, "tmp");
	fs_rm_rf(tmp);
	free(tmp);
	/* what the interrupted deploy stored may be torn if the machine went down */
	if (discarded && release_drop_orphans(r) < 0)
		warning("objects stored by the interrupted deploy were not removed; 'cutover verify' "
			"checks the releases that use them");
	report_demote_errors(demoted);
	free(current);
	strlist_clear(&pending);
	strlist_clear(&other);
	return 0;
}
