#ifndef CUTOVER_TARGET_H
#define CUTOVER_TARGET_H
#include "deploy/check.h"
#include "release/history.h"
#include "release/manifest.h"
#include "release/store.h"
#include "util/strlist.h"
#include <stdint.h>

/*
 * A target: one host's deploy root, reached through one table of
 * operations (git's transport vtable). The plan in src/deploy/ sees only
 * these: release ids, manifests, hook phases and history records, never
 * the target's paths or descriptors, so that a local root and one behind
 * an agent look the same to it. local.c does the work on this machine with
 * src/release/; an ssh target sends the same operations to `cutover
 * agent`, whose other end is local.c.
 *
 * Every operation returns 0 or a negative code: -1 (reported through the
 * reporter, naming the target), -CUT_LOCKED, -CUT_USAGE. Operations other
 * than open, lock and close need the lock.
 */
struct target;

/* What state() tells: the complete releases, oldest first, and the live one. */
struct target_info {
	struct strlist releases;
	char *current; /* NULL: nothing is live */
	int live_dir;  /* `current` is a real directory (a site to adopt) */
};
#define TARGET_INFO_INIT { STRLIST_INIT, NULL, 0 }
/* The error for a `current` that is a real directory (what to do about it). */
int target_live_dir_error(const struct target *t);
void target_info_release(struct target_info *i);
/* The release before `current` in the list, or NULL (not allocated). */
const char *target_info_previous(const struct target_info *i);

/* What a release is built with besides its manifest. */
struct stage_opts {
	const struct strlist *shared, *writable;
};

struct source;
struct send_opts {
	const struct strlist *exclude;
	const char *stat_cache; /* file, or NULL: hash every file */
	const struct strlist *shared, *writable;
	/* set: the plan has read the source into the manifest already (while the
	 * connection to a remote target was made); these are its counters */
	const struct send_stats *read;
};
struct send_stats {
	uint64_t files, bytes;         /* regular files in the release */
	uint64_t hashed_files, hashed_bytes;
	uint64_t new_files, new_bytes; /* objects the target did not have */
};

struct target_ops {
	/* Take the deploy lock (waiting up to wait_ms), then clean up what a
	 * killed deploy left behind. */
	int (*lock)(struct target *t, long wait_ms);
	int (*state)(struct target *t, struct target_info *out);
	/* A deploy of `id` starts: it stays marked pending (and is removed by
	 * the next lock) until it is switched to or aborted. */
	int (*begin)(struct target *t, const char *id);
	/* Build releases/<id> from `m` (its objects present), shared and
	 * writable paths applied; writes its manifests. */
	int (*stage)(struct target *t, const char *id, struct manifest *m, const struct stage_opts *o);
	/* Run one phase's commands in releases/<id>, with CUTOVER_* in the
	 * environment (`previous` may be NULL); output through the reporter. */
	int (*hooks)(struct target *t, const char *phase, const struct strlist *cmds, const char *id,
		     const char *previous);
	/* Make releases/<id> durable before anything points at it; when
	 * `refresh`, first bring its manifest (`m`) up to date with what hooks
	 * changed in the tree. */
	int (*seal)(struct target *t, const char *id, struct manifest *m, int refresh);
	/* Point `current` at releases/<id> in one rename; id NULL removes
	 * `current` (a first deploy that failed its check). */
	int (*switch_to)(struct target *t, const char *id);
	/* init --adopt: swap the live directory at `current` for a link to
	 * releases/<id> in one step. */
	int (*adopt)(struct target *t, const char *id);
	/* The health check after a switch, run where the release is. */
	int (*check)(struct target *t, const struct check_opts *c, const char *id, const char *previous);
	/* A deploy of `id` that did not go live (or was switched back): remove
	 * it and the objects only it used; nothing else changes. */
	int (*abort)(struct target *t, const char *id);
	/* The deploy went live: it is no longer pending. */
	int (*commit)(struct target *t, const char *id);
	int (*record)(struct target *t, const struct history_rec *h);
	/* Keep the newest `keep` (and the live, previous and pinned ones). */
	int (*prune)(struct target *t, int keep, struct strlist *removed, int64_t *freed);
	/*
	 * Read `src` into `m` and make sure the target holds every object of
	 * it (what it has already does not travel); `o` says what to exclude,
	 * which stat cache to use, and the shared and writable paths (files
	 * under them are marked before they are read). Called after begin(id).
	 * Returns 0 or -1.
	 */
	int (*send)(struct target *t, struct source *src, const struct send_opts *o, struct manifest *m,
		    struct send_stats *st);
	/* Unlock and free. */
	void (*close)(struct target *t);
};

struct target {
	const struct target_ops *ops;
	char *name;      /* for messages: the root path, or host:path */
	char *cache_dir; /* where the client keeps what it learnt of its sources for this target (stat cache) */
	const char *local_root; /* the root's path when it is on this machine, else NULL */
	/* raised when a file the client's stat cache vouched for turned out to
	 * have other bytes (the plan then forgets that cache) */
	int cache_lied;
};

/*
 * The target for a root on this machine, built with `mode` (link mode of
 * the release files). Returns NULL after reporting (the root does not
 * exist or is not a cutover root).
 */
struct target *target_open_local(const char *path, enum link_mode mode);
/* The target `spec` names: a local path, or a remote root (url.h, ssh.h),
 * whose agent runs under sudo -n when `sudo` (ignored for a local path). */
struct target *target_open(const char *spec, enum link_mode mode, int sudo);

#endif
