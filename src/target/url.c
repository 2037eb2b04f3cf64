/* Remote root specs: see url.h. */
#include "target/url.h"
#include "util/error.h"
#include <ctype.h>
#include <stdlib.h>

int target_url_is_remote(const char *spec)
{
	if (!strncmp(spec, "ssh://", 6))
		return 1;
	if (spec[0] == '/' || spec[0] == '.')
		return 0;
	const char *colon = strchr(spec, ':'), *slash = strchr(spec, '/');
	return colon && colon != spec && (!slash || colon < slash);
}

void target_url_release(struct target_url *u)
{
	free(u->user);
	free(u->host);
	free(u->path);
	*u = (struct target_url)TARGET_URL_INIT;
}

/* User and host names: letters, digits and . _ - (a host may be [v6]). */
static int name_ok(const char *s, int host)
{
	if (!*s || *s == '-')
		return 0;
	if (host && s[0] == '[') {
		size_t n = strlen(s);
		if (n < 3 || s[n - 1] != ']')
			return 0;
		for (size_t i = 1; i + 1 < n; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return 0;
		return 1;
	}
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

static int path_ok(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int target_url_parse(struct target_url *u, const char *spec)
{
	char *s = xstrdup(spec), *rest, *at, *path;
	*u = (struct target_url)TARGET_URL_INIT;
	if (!strncmp(s, "ssh://", 6)) {
		rest = s + 6;
		path = strchr(rest, '/');
		if (!path) {
			free(s);
			return error("'%s' has no path: write ssh://[user@]host[:port]/path", spec);
		}
		u->path = xstrdup(path);
		*path = 0;
		char *colon = strrchr(rest, ':');
		if (colon && (rest[0] != '[' || colon > strchr(rest, ']'))) {
			char *end;
			long port = strtol(colon + 1, &end, 10);
			if (!colon[1] || *end || port < 1 || port > 65535) {
				free(s);
				target_url_release(u);
				return error("'%s': the port must be a number from 1 to 65535", spec);
			}
			u->port = (int)port;
			*colon = 0;
		}
	} else {
		rest = s;
		char *colon = strchr(rest, ':');
		if (!colon) {
			free(s);
			return error("'%s' is not a remote root: write host:/path or ssh://host/path", spec);
		}
		u->path = xstrdup(colon + 1);
		*colon = 0;
	}
	at = strrchr(rest, '@');
	if (at) {
		*at = 0;
		u->user = xstrdup(rest);
		rest = at + 1;
	}
	u->host = xstrdup(rest);
	free(s);
	if (!name_ok(u->host, 1) || (u->user && !name_ok(u->user, 0))) {
		error("'%s': the host and user may hold only letters, digits, '.', '_' and '-' (and not start "
		      "with '-')",
		      spec);
		target_url_release(u);
		return -1;
	}
	if (u->path[0] != '/' || !path_ok(u->path)) {
		error("'%s': the path on the host must be absolute (/srv/site) and free of control characters",
		      spec);
		target_url_release(u);
		return -1;
	}
	return 0;
}
