#ifndef CUTOVER_PROXY_HANDOVER_H
#define CUTOVER_PROXY_HANDOVER_H
#include "proxy/proxy.h"

/*
 * Listening sockets outlive the process (nginx ngx_add_inherited_sockets,
 * systemd LISTEN_FDS). A proxy started by systemd socket activation, or by
 * an older proxy handing over, finds its sockets in LISTEN_FDS; an upgrade
 * (SIGUSR2 or 'cutover proxy upgrade') starts the binary again with them,
 * waits until the new process says it is ready, then stops accepting and
 * finishes its connections.
 */
struct admin_conn;

/* Sockets passed in the environment: -1 when absent. Clears LISTEN_*. */
void handover_inherit(int *http_fd, int *admin_fd);
/* Start the handover; reports go to `a` (may be NULL). 0, or -1 with why. */
int handover_start(struct proxy *px, struct admin_conn *a, char *why, size_t why_len);
/* Tell whoever started us (older proxy, systemd) that we serve now. */
void handover_ready(void);

#endif
