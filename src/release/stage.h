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
 * Build the release tree described by `m` in `dir` (which must not exist)
 * from the store: directories, links to objects, symlinks, and relative
 * links into <root>/shared computed for the final place releases/<id>.
 */
int stage_build(struct store *s, const struct manifest *m, const char *dir, const char *id);

#endif
