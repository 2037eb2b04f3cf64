#include "deploy/check.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/httpcheck.h"
#include "util/spawn.h"
#include <unistd.h>

static int attempt(const struct check_opts *c, const struct strlist *env, const char *cwd,
		   char *why, size_t why_len)
{
	if (http_check_is_url(c->spec)) {
		int status = http_check_get(c->spec, c->timeout_ms, why, why_len);
		if (status < 0)
			return -1;
		if (status < 200 || status > 299) {
			snprintf(why, why_len, "HTTP status %d", status);
			return -1;
		}
		return 0;
	}
	struct spawn_opts o = { 0 };
	int timed_out = 0;
	o.cmd = c->spec;
	o.cwd = cwd;
	o.env = env;
	o.prefix = "check| ";
	o.timeout_ms = c->timeout_ms;
	o.timeout_silent = 1; /* said below, as one attempt of several */
	int st = spawn_shell(&o, &timed_out);
	if (timed_out)
		snprintf(why, why_len, "timed out after %ld ms", c->timeout_ms);
	else if (st < 0)
		snprintf(why, why_len, "could not be run");
	else if (st)
		snprintf(why, why_len, "exit status %d", st);
	return st == 0 && !timed_out ? 0 : -1;
}

int check_run(const struct check_opts *c, const struct hook_env *env, const char *cwd)
{
	if (!c->spec)
		return 0;
	struct strlist envl = STRLIST_INIT;
	char why[512] = "";
	hook_env_list(env, &envl);
	int tries = c->retries + 1;
	for (int i = 1; i <= tries; i++) {
		if (attempt(c, &envl, cwd, why, sizeof(why)) == 0) {
			note("health check '%s' passed%s", c->spec,
			     i > 1 ? " after retrying" : "");
			strlist_clear(&envl);
			return 0;
		}
		if (i < tries) {
			note("health check '%s' failed (%s); retrying in %ld ms (%d of %d)", c->spec, why,
			     c->interval_ms, i, tries);
			usleep((useconds_t)c->interval_ms * 1000);
		}
	}
	strlist_clear(&envl);
	return error("health check '%s' failed %d time%s: %s", c->spec, tries, tries == 1 ? "" : "s",
		     why);
}
