#include "cmd/common.h"
#include "util/format.h"
#include "release/root.h"
#include "util/error.h"
#include "util/httpcheck.h"
#include <unistd.h>

static const char *const known_keys[] = {
	"to", "sudo", "keep", "link_mode", "label", "wait", "shared", "writable", "exclude",
	"hooks", "hooks.before_switch", "hooks.after_switch", "hooks.after_rollback",
	"check", "check.url", "check.command", "check.timeout", "check.retries", "check.interval",
	NULL,
};

void common_flags_init(struct common_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->keep = -1;
	f->check_retries = -1;
	f->wait_ms = -1;
	f->check_timeout_ms = -1;
	f->check_interval_ms = -1;
}

void common_flags_release(struct common_flags *f)
{
	strlist_clear(&f->shared);
	strlist_clear(&f->writable);
	strlist_clear(&f->exclude);
	strlist_clear(&f->before_switch);
	strlist_clear(&f->after_switch);
	strlist_clear(&f->after_rollback);
}

int common_parse(int argc, char **argv, const struct opt *opts, const char *usage, char ***args,
		 int *nargs, int *done)
{
	int rc = opts_parse(argc, argv, opts, usage, args, nargs);
	*done = rc != 0;
	return rc == 1 ? 0 : rc < 0 ? CUT_USAGE : 0;
}

static void take_list(struct strlist *dst, struct strlist *flag)
{
	if (!flag->nr)
		return;
	strlist_clear(dst);
	for (size_t i = 0; i < flag->nr; i++)
		strlist_push(dst, flag->items[i]);
}

/* The configuration lives as long as the process: option values point into it. */
static struct config cfg = CONFIG_INIT;

/*
 * A health check from cutover.yml, checked before anything changes: what
 * is written as a URL (SCHEME://) must be one the check can GET, or it
 * would run as a shell command or fail only after the switch; 'check.url'
 * must be a URL and 'check.command' must not be one. Returns 0 or
 * -CUT_USAGE (reported with the line and column of `n`).
 */
static int config_check_spec(const struct cfg_node *n, const char *key)
{
	char why[512];
	int url = http_check_looks_like_url(n->value);
	if (!*n->value)
		return config_error(&cfg, n, "'%s' is empty; give %s, or leave the key out", key,
				    !strcmp(key, "check.url") ? "a URL" :
				    !strcmp(key, "check.command") ? "a command" : "a URL or a command");
	if (!strcmp(key, "check.url") && !url)
		return config_error(&cfg, n, "'check.url' must be an http:// URL, not '%s'; a command "
					     "goes in 'check.command'",
				    n->value);
	if (!strcmp(key, "check.command") && url)
		return config_error(&cfg, n, "'check.command' is a URL; write it as 'check.url'");
	if (url && http_check_url_usable(n->value, why, sizeof(why)) < 0)
		return config_error(&cfg, n, "'%s' is not a URL the check can get: %s", key, why);
	return 0;
}

/* 'hooks' is a mapping of phases to commands (or empty); 'check' a URL, a command or a mapping. */
static int config_check_shapes(void)
{
	const struct cfg_node *n = config_get(&cfg, "hooks");
	if (n && n->kind != CFG_MAP && !(n->kind == CFG_SCALAR && !*n->value))
		return config_error(&cfg, n, "'hooks' must be a mapping of before_switch, after_switch "
					     "and after_rollback to commands");
	n = config_get(&cfg, "check");
	if (n && n->kind == CFG_SEQ)
		return config_error(&cfg, n, "'check' must be a URL, a command, or a mapping with 'url' "
					     "or 'command'");
	return 0;
}

const char *common_config_path(const char *given)
{
	static int said;
	if (given)
		return given;
	if (access("cutover.yml", F_OK) < 0)
		return NULL;
	if (!said++)
		note("reading ./cutover.yml");
	return "cutover.yml";
}

int common_resolve(struct deploy_opts *o, struct common_flags *f)
{
	const char *path = common_config_path(f->config);
	int rc = 0;

	deploy_opts_init(o);
	if (path) {
		if (config_load(&cfg, path) < 0 || config_check_keys(&cfg, known_keys) < 0 ||
		    config_check_shapes() < 0)
			return -CUT_USAGE;
		const char *s;
		if (config_get_str(&cfg, "to", &o->root) < 0 || config_get_uint(&cfg, "keep", &o->keep) < 0 ||
		    config_get_str(&cfg, "label", &o->label) < 0 ||
		    config_get_duration(&cfg, "wait", &o->wait_ms) < 0 ||
		    config_get_bool(&cfg, "sudo", &o->sudo) < 0 ||
		    config_get_list(&cfg, "shared", &o->shared) < 0 ||
		    config_get_list(&cfg, "writable", &o->writable) < 0 ||
		    config_get_list(&cfg, "exclude", &o->exclude) < 0 ||
		    config_get_list(&cfg, "hooks.before_switch", &o->before_switch) < 0 ||
		    config_get_list(&cfg, "hooks.after_switch", &o->after_switch) < 0 ||
		    config_get_list(&cfg, "hooks.after_rollback", &o->after_rollback) < 0)
			return -CUT_USAGE;
		if ((rc = config_get_str(&cfg, "link_mode", &s)) < 0)
			return -CUT_USAGE;
		if (rc == 1 && link_mode_parse(s, &o->link_mode) < 0)
			return config_error(&cfg, config_get(&cfg, "link_mode"),
					    "'link_mode' must be hardlink, reflink or copy");
		const struct cfg_node *chk = config_get(&cfg, "check");
		if (chk && chk->kind == CFG_SCALAR) {
			if (config_check_spec(chk, "check") < 0)
				return -CUT_USAGE;
			o->check.spec = chk->value;
		} else if (chk) {
			const char *url = NULL, *cmd = NULL;
			if (config_get_str(&cfg, "check.url", &url) < 0 ||
			    config_get_str(&cfg, "check.command", &cmd) < 0 ||
			    config_get_duration(&cfg, "check.timeout", &o->check.timeout_ms) < 0 ||
			    config_get_uint(&cfg, "check.retries", &o->check.retries) < 0 ||
			    config_get_duration(&cfg, "check.interval", &o->check.interval_ms) < 0)
				return -CUT_USAGE;
			if (url && cmd)
				return config_error(&cfg, chk, "'check' takes a url or a command, not both");
			if ((url && config_check_spec(config_get(&cfg, "check.url"), "check.url") < 0) ||
			    (cmd && config_check_spec(config_get(&cfg, "check.command"), "check.command") < 0))
				return -CUT_USAGE;
			o->check.spec = url ? url : cmd;
		}
	}
	if (f->to)
		o->root = f->to;
	if (f->keep >= 0)
		o->keep = f->keep;
	if (f->label)
		o->label = f->label;
	if (f->wait_ms >= 0)
		o->wait_ms = f->wait_ms;
	if (f->sudo)
		o->sudo = 1;
	if (f->link_mode && link_mode_parse(f->link_mode, &o->link_mode) < 0)
		return -CUT_USAGE;
	if (f->check) {
		char why[512];
		if (http_check_looks_like_url(f->check) && http_check_url_usable(f->check, why, sizeof(why)) < 0)
			return error("check '%s' is not a URL the check can get: %s", f->check, why),
			       -CUT_USAGE;
		o->check.spec = f->check;
	}
	if (f->check_timeout_ms >= 0)
		o->check.timeout_ms = f->check_timeout_ms;
	if (f->check_retries >= 0)
		o->check.retries = f->check_retries;
	if (f->check_interval_ms >= 0)
		o->check.interval_ms = f->check_interval_ms;
	take_list(&o->shared, &f->shared);
	take_list(&o->writable, &f->writable);
	take_list(&o->exclude, &f->exclude);
	take_list(&o->before_switch, &f->before_switch);
	take_list(&o->after_switch, &f->after_switch);
	take_list(&o->after_rollback, &f->after_rollback);

	if (!o->root || !*o->root)
		return error("no target: give --to ROOT or set 'to:' in cutover.yml"), -CUT_USAGE;
	if (o->keep < 1)
		return error("keep must be at least 1 (the live release), not %d", o->keep), -CUT_USAGE;
	if (o->check.timeout_ms <= 0)
		return error("the check timeout must be more than zero"), -CUT_USAGE;
	if (o->check.spec && !*o->check.spec)
		return error("the health check is empty; give a URL or a command"), -CUT_USAGE;
	return 0;
}

int common_open_root(struct deploy_opts *o, struct common_flags *f, struct root *r, int nargs,
		     int min, int max, const char *arity)
{
	int rc;
	if (nargs < min || nargs > max) {
		deploy_opts_init(o);
		error("%s", arity);
		return -CUT_USAGE;
	}
	if ((rc = common_resolve(o, f)) < 0)
		return rc;
	return root_open(r, o->root);
}

void deploy_print_result(const struct deploy_result *r, const char *verb)
{
	char nb[32], tb[32];
	if (log_quiet)
		return;
	format_bytes(nb, sizeof(nb), r->new_bytes);
	format_bytes(tb, sizeof(tb), r->bytes);
	printf("%s %s: %llu files (%s), %llu new (%s), in %.2f s\n", verb, r->id, (unsigned long long)r->files, tb,
	       (unsigned long long)r->new_files, nb, r->seconds);
}
