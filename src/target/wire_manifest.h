#ifndef CUTOVER_WIRE_MANIFEST_H
#define CUTOVER_WIRE_MANIFEST_H
#include "release/manifest.h"
#include "target/wire.h"

/* Send `m` as DATA frames (zstd) and an END frame. Returns 0 or -1. */
int wire_send_manifest(struct wire *w, const struct manifest *m);
/*
 * Receive a manifest sent so into `m` (empty), checking every entry as
 * hostile input and finishing it (manifest_finish). `what` names the
 * sender in messages. Returns 0 or -1 (reported).
 */
int wire_recv_manifest(struct wire *w, struct manifest *m, const char *what);

/* The plain (uncompressed) encoding of `m`: deterministic, the same bytes on both sides. */
void wire_manifest_encode(struct buf *out, const struct manifest *m);
/* Entries of a plain encoding into `m` (empty), each checked as hostile;
 * `finish`: then manifest_finish. Returns 0 or -1 (reported). */
int wire_manifest_decode(struct manifest *m, const void *plain, size_t n, const char *what, int finish);
/* Any bytes as one zstd stream in DATA frames and an END frame, and back. */
int wire_send_stream(struct wire *w, const void *plain, size_t len);
int wire_recv_stream(struct wire *w, struct buf *plain, const char *what);
int wire_unzstd(struct buf *out, const void *z, size_t zlen, const char *what);
/*
 * A manifest as a change of another (both sorted, finished): the paths
 * that went, then the entries that are new or differ. For a one-file
 * change it is one entry, whatever the size of the tree.
 */
void wire_manifest_delta(struct buf *out, const struct manifest *base, const struct manifest *m);
/* The plain encoding of `base` with `delta` applied. Returns 0 or -1 (reported). */
int wire_manifest_apply(struct buf *plain, const struct manifest *base, const void *delta, size_t n,
			const char *what);

#endif
