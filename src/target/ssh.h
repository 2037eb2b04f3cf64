#ifndef CUTOVER_TARGET_SSH_H
#define CUTOVER_TARGET_SSH_H
#include "target/target.h"

/*
 * A root on another host, `spec` as url.h describes, reached over ssh;
 * `flags`: TARGET_CREATE, TARGET_SUDO. Returns NULL after a
 * message naming the host and the cause (unreachable, authentication, not a
 * cutover root, the agent could not be installed).
 */
#define TARGET_CREATE 1 /* make the root when it is missing (init) */
#define TARGET_SUDO 2   /* run the bootstrap and the agent with sudo -n */
struct target *target_open_ssh(const char *spec, enum link_mode mode, int flags);

/*
 * Run a command that reads or tends a root (releases, status, ...) on the
 * host of `spec` for its root, with `argv` (the command's name first, no
 * --to); its output appears here as there. Returns its exit status, or -1
 * when the host could not be reached (reported).
 */
/* The directory where the client keeps what it learnt for this remote root (made if missing), or NULL. */
char *target_ssh_cache_dir(const char *spec);

int target_run_remote(const char *spec, const struct strlist *argv, int flags);

#endif
