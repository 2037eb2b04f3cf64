#ifndef CUTOVER_STAGE_H
#define CUTOVER_STAGE_H
#include "release/store.h"

/*
 * Clean and check `shared:` and `writable:` paths from the configuration
 * (relative, no "..", not nested in one another). Returns 0 or -CUT_USAGE.
 */
int stage_check_paths(struct strlist *shared, struct strlist *writable);

/*
 * Mark files under `writable` paths as private copies, and turn every
 * `shared` path into an ENT_SHARED entry (dropping what the source had
 * under it). Before that, a shared path that does not exist yet in
 * <root>/shared is seeded from this release's content (or created empty
 * when it ends in '/'); a missing shared file with nothing to seed it is
 * an error naming the file to create.
 */
int stage_apply_paths(struct store *s, struct manifest *m, const struct strlist *shared,
		      const struct strlist *writable);

/*
 * Flag the entries of `m` (in any order: a walk that has not finished its
 * manifest) that lie under `writable` (ENT_WRITABLE) or `shared` paths
 * (ENT_UNDER_SHARED), before their content is read.
 */
void stage_mark_paths(struct manifest *m, const struct strlist *shared,
		      const struct strlist *writable);

/*
 * Create `dir` (which must not exist) and the directories of `m` that are not
 * ENT_UNDER_SHARED, flagging them ENT_PLACED, ahead of the content: files can
 * then be written straight into the tree as they are read (ENT_PLACED too).
 * stage_build with `begun` set finishes such a tree, making the directories
 * added since (parents of shared paths).
 */
int stage_begin(struct manifest *m, const char *dir);

/*
 * Build the release tree described by `m` in `dir` from the store:
 * directories, links to objects, symlinks, and relative links into
 * <root>/shared computed for the final place releases/<id>. `dir` must not
 * exist, unless `begun` (stage_begin made it; ENT_PLACED directories and
 * files are in it already).
 */
int stage_build(struct store *s, const struct manifest *m, const char *dir, const char *id,
		int begun);

#endif
