#ifndef CUTOVER_INSPECT_H
#define CUTOVER_INSPECT_H
#include "release/manifest.h"
#include "release/root.h"
#include <stdint.h>

/*
 * Read-only views of releases: what differs between two manifests, what has
 * drifted in a release since it was made, and how much disk it alone holds.
 */
enum change { CHANGE_ADDED = 'A', CHANGE_REMOVED = 'D', CHANGE_MODIFIED = 'M' };

typedef void (*diff_fn)(enum change c, const struct entry *a, const struct entry *b, void *data);
/* Calls fn for each path added, removed or changed (type, content, mode, link target). */
void manifest_diff(const struct manifest *a, const struct manifest *b, diff_fn fn, void *data);

/* One finding of verify: kind is "missing", "changed", "mode", "type", "link", "extra". */
typedef void (*drift_fn)(const char *kind, const char *path, const char *detail, void *data);
/*
 * Re-hash every file of releases/<id> against its manifest and walk the
 * tree for files nobody listed. Writable copies are compared only by type.
 * Returns the number of findings, or -1 (reported) when it cannot read.
 */
int release_verify(struct root *r, const char *id, drift_fn fn, void *data);

/* Bytes on disk that only this release holds (freed if it were pruned). */
uint64_t release_unique_bytes(struct root *r, const char *id);

#endif
