#ifndef CUTOVER_ERROR_H
#define CUTOVER_ERROR_H
#include <stdarg.h>

/*
 * Exit codes (documented in docs/cutover.1.scd). Library code returns the
 * negated code (-CUT_LOCKED ...) or -1 for an ordinary failure; only main()
 * and cmd_* turn it into an exit status.
 */
enum cut_exit {
	CUT_OK = 0,
	CUT_FAILED = 1,      /* the operation failed and nothing changed */
	CUT_USAGE = 2,       /* bad command line or configuration */
	CUT_LOCKED = 3,      /* another deploy holds the lock */
	CUT_ROLLED_BACK = 4, /* health check failed, cutover switched back */
	CUT_PARTIAL = 5,     /* some hosts could not be reverted */
	CUT_INTERNAL = 70,
};

/* Map a library return value (0, -1, -CUT_*) to an exit status. */
int exit_status(int rc);

/* Report once, where it happens; each returns -1 so callers can `return error(...)`. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with ": strerror(errno)" appended. */
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress and notes, on stderr, silenced by --quiet. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Unrecoverable (out of memory, broken invariant): message and exit 70. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

extern int log_quiet;

/*
 * The one reporter: every error, warning, note and line of hook output
 * goes through it. By default each becomes a line on stderr ("cutover:
 * error: ..." / a hook line as it is); a sink set here receives them
 * instead (an agent, whose stdout and stdin are the wire, sends them to the
 * client as frames). `line` has no newline; the sink is called under a lock,
 * one line at a time, from any thread.
 */
enum report_kind { REPORT_ERROR, REPORT_WARNING, REPORT_NOTE, REPORT_OUTPUT, REPORT_FATAL };
typedef void (*report_sink_fn)(enum report_kind kind, const char *line, void *ctx);
void report_set_sink(report_sink_fn fn, void *ctx);
/* A line of a child's output (hooks, checks), `prefix` included. */
void report_output(const char *line, size_t len);
/*
 * While on, error() is reported as a warning ("warning: ..."; error_last()
 * still has it): for a step whose failure does not fail the command, such
 * as the prune after a deploy that went live, so that every "error:" line
 * a user sees means the command failed. The setting is the calling
 * thread's (another thread's errors at the same time are its own), and
 * workers_run's threads take their caller's. Returns the previous setting,
 * to be restored with another call.
 */
int report_demote_errors(int on);
/* The calling thread's setting of report_demote_errors. */
int report_demoting(void);
/* The text of the last error() reported (for history records), or "". */
const char *error_last(void);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* snprintf into a fresh allocation */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Grow an array of `nr` items to hold at least `want`, doubling. */
#define ALLOC_GROW(arr, want, alloc)                                           \
	do {                                                                   \
		if ((size_t)(want) > (alloc)) {                                \
			size_t n_ = (alloc) ? (alloc) * 2 : 16;                \
			while (n_ < (size_t)(want))                            \
				n_ *= 2;                                       \
			(arr) = xrealloc((arr), n_ * sizeof(*(arr)));          \
			(alloc) = n_;                                          \
		}                                                              \
	} while (0)

#endif
