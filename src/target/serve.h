#ifndef CUTOVER_SERVE_H
#define CUTOVER_SERVE_H
#include "target/target.h"
#include "target/wire.h"

/*
 * `cutover agent`: serve one client over `in` and `out` (its stdin and
 * stdout, the ssh channel) until it goes away. Returns 0 when the client
 * ended the session, -1 when the connection failed or broke the protocol.
 */
int serve_agent(int in, int out);

/*
 * The "run" request: one of the commands that read or tend a root
 * (releases, status, log, verify, diff, prune, pin, unpin, init) run on
 * this host for the open root, its standard output and error sent back as
 * OUT frames, then OK with its exit status. Returns 0, or -1 when the
 * connection failed.
 */
struct wire_rd;
int serve_run(struct wire *w, struct target *t, struct wire_rd *r);

#endif
