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

#endif
