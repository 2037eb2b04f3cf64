#ifndef CUTOVER_OPTS_H
#define CUTOVER_OPTS_H

/*
 * Options are declared as tables (git's parse-options). A command declares
 *   struct opt opts[] = { OPT_STRING(0, "to", &to, "ROOT", "target root"), ..., OPT_END() };
 * and calls opts_parse(); positional arguments come back in order.
 * `seen`, when set, is raised when the option was given, so that values
 * from cutover.yml can be applied only where the command line said nothing.
 */
enum opt_type { OPT_T_END, OPT_T_BOOL, OPT_T_STRING, OPT_T_INT, OPT_T_DURATION, OPT_T_LIST };

struct opt {
	enum opt_type type;
	int short_name;
	const char *long_name;
	void *value; /* BOOL/INT: int*; STRING: const char**; DURATION: long* (ms); LIST: struct strlist* */
	const char *argh;
	const char *help;
	int *seen;
};

#define OPT_BOOL(s, l, v, h) { OPT_T_BOOL, (s), (l), (v), NULL, (h), NULL }
#define OPT_STRING(s, l, v, a, h) { OPT_T_STRING, (s), (l), (v), (a), (h), NULL }
#define OPT_INT(s, l, v, a, h) { OPT_T_INT, (s), (l), (v), (a), (h), NULL }
#define OPT_DURATION(s, l, v, h) { OPT_T_DURATION, (s), (l), (v), "DURATION", (h), NULL }
#define OPT_LIST(s, l, v, a, h) { OPT_T_LIST, (s), (l), (v), (a), (h), NULL }
#define OPT_END() { OPT_T_END, 0, NULL, NULL, NULL, NULL, NULL }

/*
 * Parse argv[1..]; options and operands may be mixed, "--" ends options,
 * "-" is an operand. -q and --quiet are taken by every command (they set
 * log_quiet) unless the table declares them. Returns 0, 1 when --help was printed (exit 0), or
 * -CUT_USAGE after printing what was wrong and the usage.
 * *args points into argv (no allocation to free but the array itself).
 */
int opts_parse(int argc, char **argv, const struct opt *opts, const char *usage,
	       char ***args, int *nargs);
void opts_usage(const struct opt *opts, const char *usage);

/* "250ms", "30s", "2m", "1h", or a bare number of seconds; -1 when invalid. */
long parse_duration_ms(const char *s);
/* Non-negative decimal integer that fits an int; -1 when invalid. */
int parse_uint(const char *s, int *out);

#endif
