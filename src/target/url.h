#ifndef CUTOVER_TARGET_URL_H
#define CUTOVER_TARGET_URL_H

/*
 * Where a --to points: a local path, or a root on another host reached
 * over ssh, written ssh://[user@]host[:port]/path or [user@]host:/path
 * (scp style). A local path is anything else: it starts with '/' or '.',
 * or has no ':' before its first '/'.
 */
struct target_url {
	char *user; /* NULL: ssh's default (~/.ssh/config, the local user) */
	char *host;
	int port;   /* 0: ssh's default */
	char *path; /* absolute */
};
#define TARGET_URL_INIT { NULL, NULL, 0, NULL }

/* 1 when `spec` names a remote root (by its form only). */
int target_url_is_remote(const char *spec);
/*
 * Parse a remote spec. Returns 0, or -1 after a message naming what is
 * wrong (no host, a port that is not 1-65535, a path that is not absolute,
 * characters that ssh would take as an option or the shell as syntax).
 */
int target_url_parse(struct target_url *u, const char *spec);
void target_url_release(struct target_url *u);

#endif
