#ifndef CUTOVER_RETENTION_H
#define CUTOVER_RETENTION_H
#include "release/root.h"
#include <stdint.h>

/*
 * Keep the `keep` newest releases, and always the current one, the one
 * before it and pinned ones; remove the rest and the objects no remaining
 * release uses. A release is first renamed into .cutover/staging/ so that a
 * crash mid-removal never leaves a half-deleted release in releases/.
 * Under the lock. Returns 0 or -1; *removed lists what went, *freed the bytes
 * the file system got back.
 */
int release_prune(struct root *r, int keep, struct strlist *removed, int64_t *freed);

int release_pin(struct root *r, const char *id);
int release_unpin(struct root *r, const char *id);

/* Remove one release that never went live (failed deploy): tree, manifests. */
int release_discard(struct root *r, const char *id);

/*
 * Remove the objects that no release uses. After a deploy that did not go
 * live, what it stored was never synced: a power cut could leave such an
 * object empty or short under its hash name, and a later deploy would link
 * it as it is. Releases that went live were synced before their switch, so
 * their objects are whole. Under the lock. Returns 0 or -1 (reported).
 */
int release_drop_orphans(struct root *r);

#endif
