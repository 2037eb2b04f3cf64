#include "util/opts.h"
#include "util/error.h"
#include "util/strlist.h"
#include <errno.h>
#include <limits.h>

long parse_duration_ms(const char *s)
{
	char *end;
	errno = 0;
	if (!(*s >= '0' && *s <= '9'))
		return -1; /* strtod would take "inf", "nan", " 1" and hex */
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		return -1;
	v *= mul;
	if (v > (double)LONG_MAX / 2)
		return -1;
	return (long)v;
}

int parse_uint(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

void opts_usage(const struct opt *opts, const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	if (opts[0].type != OPT_T_END)
		fputc('\n', stderr);
	for (const struct opt *o = opts; o->type != OPT_T_END; o++) {
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name,
				 o->argh ? " " : "", o->argh ? o->argh : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, o->argh ? " " : "",
				 o->argh ? o->argh : "");
		fprintf(stderr, "    %-28s %s\n", left, o->help);
	}
	fprintf(stderr, "    %-28s %s\n", "-q, --quiet", "print only errors (and what the command lists)");
}

static int set_value(const struct opt *o, const char *name, const char *arg, const char *usage,
		     const struct opt *opts)
{
	switch (o->type) {
	case OPT_T_STRING:
		*(const char **)o->value = arg;
		break;
	case OPT_T_INT:
		if (parse_uint(arg, o->value) < 0) {
			error("option '%s' expects a non-negative number, not '%s'", name, arg);
			return -CUT_USAGE;
		}
		break;
	case OPT_T_DURATION: {
		long ms = parse_duration_ms(arg);
		if (ms < 0) {
			error("option '%s' expects a duration like 500ms, 30s or 2m, not '%s'", name, arg);
			return -CUT_USAGE;
		}
		*(long *)o->value = ms;
		break;
	}
	case OPT_T_LIST:
		strlist_push(o->value, arg);
		break;
	default:
		break;
	}
	(void)usage;
	(void)opts;
	if (o->seen)
		*o->seen = 1;
	return 0;
}

int opts_parse(int argc, char **argv, const struct opt *opts, const char *usage, char ***args,
	       int *nargs)
{
	char **out = xcalloc((size_t)argc + 1, sizeof(*out));
	int n = 0, only_operands = 0;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct opt *o = NULL;
		const char *inline_arg = NULL;
		char name[80];

		if (only_operands || a[0] != '-' || !a[1]) {
			out[n++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_operands = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			opts_usage(opts, usage);
			free(out);
			return 1;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			for (const struct opt *p = opts; p->type != OPT_T_END; p++)
				if (strlen(p->long_name) == len && !strncmp(p->long_name, a + 2, len))
					o = p;
			if (eq)
				inline_arg = eq + 1;
			snprintf(name, sizeof(name), "--%.*s", (int)len, a + 2);
		} else {
			for (const struct opt *p = opts; p->type != OPT_T_END; p++)
				if (p->short_name == a[1])
					o = p;
			if (a[2])
				inline_arg = a + 2;
			snprintf(name, sizeof(name), "-%c", a[1]);
		}
		if (!o && (!strcmp(a, "-q") || !strcmp(a, "--quiet"))) {
			log_quiet = 1; /* every command takes it, after its name as before it */
			continue;
		}
		if (!o) {
			error("unknown option '%s'", name);
			opts_usage(opts, usage);
			free(out);
			return -CUT_USAGE;
		}
		if (o->type == OPT_T_BOOL) {
			if (inline_arg) {
				error("option '%s' takes no value", name);
				free(out);
				return -CUT_USAGE;
			}
			*(int *)o->value = 1;
			if (o->seen)
				*o->seen = 1;
			continue;
		}
		if (!inline_arg) {
			if (i + 1 >= argc) {
				error("option '%s' needs a value (%s)", name, o->argh ? o->argh : "VALUE");
				free(out);
				return -CUT_USAGE;
			}
			inline_arg = argv[++i];
		}
		int rc = set_value(o, name, inline_arg, usage, opts);
		if (rc < 0) {
			free(out);
			return rc;
		}
	}
	out[n] = NULL;
	*args = out;
	*nargs = n;
	return 0;
}
