#ifndef CUTOVER_REFRESH_H
#define CUTOVER_REFRESH_H
#include "release/manifest.h"

/*
 * After before_switch hooks changed a staged release (composer install,
 * cache warm-up), bring its manifest up to date so that `verify` later
 * reports real drift, not the build's own output: paths the hooks added or
 * replaced are hashed and added, paths they removed are dropped. A file
 * still of the same type, size and mode is taken as unchanged (hooks write
 * new files; writing through a read-only link is what verify exists to catch).
 * Returns 0 or -1 (reported).
 */
int manifest_refresh(struct manifest *m, const char *release_dir);

#endif
