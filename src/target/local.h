#ifndef CUTOVER_TARGET_LOCAL_H
#define CUTOVER_TARGET_LOCAL_H
#include "target/target.h"
#include "release/root.h"
#include "release/store.h"
#include <pthread.h>

/*
 * Private to the local target (local.c: the operations; local_send.c:
 * reading a source into this root's store). A target on this machine: the
 * root's own release/ code does the work.
 */
struct local_target {
	struct target t;
	struct root root;
	enum link_mode link_mode;
	struct store store;
	int store_ready;
	/* the deploy between begin() and commit() or abort() */
	char *id, *marker, *spool, *staged, *final;
	int first;   /* no release yet: every file is new to the store */
	int place;   /* first deploy by hard links: files are written straight into the staged tree */
	int tree_fd; /* the staged tree once stage_begin made it, else -1 */
	/* first deploy: one syncfs() in the background once most bytes are written */
	uint64_t ahead_at, kept_bytes; /* kept_bytes: __atomic */
	pthread_t ahead;
	int ahead_started;
	uint64_t new_files, new_bytes; /* __atomic */
};

static inline struct local_target *local_of(struct target *t)
{
	return (struct local_target *)t; /* t is the first member */
}

int local_send(struct target *t, struct source *src, const struct send_opts *o, struct manifest *m,
	       struct send_stats *st);
/*
 * The client went away in the middle of a deploy (on an agent): make the
 * objects received so far durable and keep them, through the manifest
 * `m` in .cutover/partial/, so that the next deploy sends only the rest.
 * The release itself is removed by the next lock, as for any interrupted
 * deploy. Returns 0 or -1 (reported).
 */
int local_keep_partial(struct target *t, const struct manifest *m);
/* Wait for the background sync of a first deploy, if one was started. */
void local_sync_ahead_wait(struct local_target *l);

#endif
