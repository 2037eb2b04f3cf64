#ifndef CUTOVER_WORKERS_H
#define CUTOVER_WORKERS_H
#include <stddef.h>

/*
 * Run fn(ctx, i) for i in [0, n) on up to `threads` threads (0: one per
 * online CPU, at most 8), handing out indexes from a shared counter. fn
 * returns 0 or -1; after the first -1 no new index is started and
 * workers_run returns -1. Errors are reported by fn itself. Small batches
 * run on the calling thread.
 */
int workers_run(size_t n, int (*fn)(void *ctx, size_t i), void *ctx, int threads);

/* The threads workers_run uses by default: one per online CPU, at most WORKERS_MAX. */
#define WORKERS_MAX 8
int workers_count(void);

#endif
