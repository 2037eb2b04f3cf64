#ifndef CUTOVER_CMD_REMOTE_H
#define CUTOVER_CMD_REMOTE_H

/*
 * For releases, status, log, verify, diff, prune, pin, unpin: when the root
 * (--to, or to: of cutover.yml) is remote, run the command on its host and
 * return 1 with its exit status in *status; 0 when the root is local.
 */
int remote_forward(int argc, char **argv, int *status);
/* `cutover init` of a remote root (made over ssh). Returns 0 or a negative code. */
int remote_init(const char *spec, int adopt, int write_config, int sudo);

#endif
