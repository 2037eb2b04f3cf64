#ifndef CUTOVER_ROOT_H
#define CUTOVER_ROOT_H
#include "util/strlist.h"

/*
 * One host's deploy root:
 *   <path>/current -> releases/<id>   <path>/releases/  <path>/shared/
 *   <path>/.cutover/{lock,objects,manifests,staging,pins,cache,history.jsonl}
 */
struct root {
	char *path; /* absolute */
	char *meta, *objects, *manifests, *staging, *pins, *cache, *history;
	char *partial; /* manifests of uploads cut off half way, whose objects are kept */
	char *releases, *shared, *current;
	int lock_fd; /* -1 when we do not hold the lock */
};
#define ROOT_INIT { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1 }

/* Fill the paths for `path` (no file system access). */
void root_paths(struct root *r, const char *path);
/* Create the layout (idempotent). Returns 0 or -1 (reported). */
int root_create(struct root *r, const char *path);
/* Open an existing root, refusing a directory that is not one:
 * "'/srv/x' is not a cutover root (no .cutover/); run 'cutover init /srv/x'". */
int root_open(struct root *r, const char *path);
void root_release(struct root *r);

/*
 * The lock: flock(2) on .cutover/lock, so it dies with its holder and can
 * never go stale. The holder writes who it is into the file for the error
 * message of whoever is refused. Waits up to wait_ms (0: do not wait).
 * Returns 0, or -CUT_LOCKED after naming the holder.
 */
int root_lock(struct root *r, long wait_ms);
/* Take the lock if it is free: 1 (taken), 0 (another holds it; nothing
 * reported), or -1 (reported). */
int root_lock_try(struct root *r);
/*
 * What root_lock's refusal advises after "locked by ...". The default,
 * "wait for it with --wait, e.g. --wait 60s", is for commands that take
 * --wait; a command that does not sets its own (a static string).
 */
void root_set_lock_advice(const char *advice);
void root_unlock(struct root *r);
/* 1 and a description in *who when another process holds the lock, 0 when free. */
int root_lock_holder(struct root *r, char **who);
/* Record the command line shown to those refused by our lock. */
void root_set_command(int argc, char **argv);

/*
 * Under the lock: remove what a killed deploy left behind (staging/,
 * temporary links, releases that never went live). Returns 0 or -1.
 */
int root_recover(struct root *r);

/* Sorted ids of the complete releases in releases/. */
int release_list(struct root *r, struct strlist *ids);
/* The id `current` points at, or NULL when there is none. *id is freed by the caller. */
int release_current(struct root *r, char **id);
/* The newest release older than `current` in `ids`, or NULL. Not allocated. */
const char *release_previous(const struct strlist *ids, const char *current);
char *release_path(struct root *r, const char *id);
/* Check that `id` names an existing release; reports "no release 'X' in '/srv/site'". */
int release_check_exists(struct root *r, const char *id);

/*
 * Make `current` point at releases/<id>: a new relative symlink under a
 * temporary name, rename(2) over `current`, fsync of the root. Every reader
 * sees the old or the new target, never a missing one.
 */
int release_switch(struct root *r, const char *id);
/*
 * Replace the real directory at `current` by a link to releases/<id> in one
 * step (renameat2 RENAME_EXCHANGE), then remove the old directory.
 */
int release_adopt_switch(struct root *r, const char *id);
/* Remove `current` (a failed first deploy returns to "no site"). */
int release_unswitch(struct root *r);

int release_is_pinned(struct root *r, const char *id);

/* For the kill -9 tests: CUTOVER_CRASH_AT=<name> makes the process SIGKILL itself here. */
void crashpoint(const char *name);

#endif
