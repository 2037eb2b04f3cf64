#include "util/error.h"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

int log_quiet;
static char last_error[1024];
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

const char *error_last(void)
{
	return last_error;
}

static report_sink_fn sink;
static __thread int demote; /* report_demote_errors(): per thread */
static __thread int in_sink; /* a report from inside the sink must not wait for the lock it holds */
static void *sink_ctx;

void report_set_sink(report_sink_fn fn, void *ctx)
{
	pthread_mutex_lock(&report_lock);
	sink = fn;
	sink_ctx = ctx;
	pthread_mutex_unlock(&report_lock);
}

static void report(enum report_kind kind, const char *fmt, va_list ap, int err)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "", "fatal: " };
	char msg[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	if (in_sink) {
		/* the sink itself failed (its connection broke): stderr is all there is */
		fprintf(stderr, "cutover: %s%s\n", prefix[kind], msg);
		return;
	}
	pthread_mutex_lock(&report_lock);
	if (kind == REPORT_ERROR)
		snprintf(last_error, sizeof(last_error), "%.1000s", msg);
	if (kind == REPORT_ERROR && demote)
		kind = REPORT_WARNING;
	if (sink) {
		in_sink = 1;
		sink(kind, msg, sink_ctx);
		in_sink = 0;
	} else {
		fprintf(stderr, "cutover: %s%s\n", prefix[kind], msg);
	}
	pthread_mutex_unlock(&report_lock);
}

int report_demote_errors(int on)
{
	int was = demote;
	demote = on;
	return was;
}

int report_demoting(void)
{
	return demote;
}

void report_output(const char *line, size_t len)
{
	if (in_sink) {
		fwrite(line, 1, len, stderr);
		fputc('\n', stderr);
		return;
	}
	pthread_mutex_lock(&report_lock);
	if (sink) {
		char *copy = xstrndup(line, len);
		in_sink = 1;
		sink(REPORT_OUTPUT, copy, sink_ctx);
		in_sink = 0;
		free(copy);
	} else {
		fwrite(line, 1, len, stderr);
		fputc('\n', stderr);
		fflush(stderr);
	}
	pthread_mutex_unlock(&report_lock);
}

int exit_status(int rc)
{
	if (rc >= 0)
		return CUT_OK;
	if (rc == -1)
		return CUT_FAILED;
	if (-rc <= CUT_PARTIAL || -rc == CUT_INTERNAL)
		return -rc;
	return CUT_FAILED;
}

int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_ERROR, fmt, ap, 0);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_ERROR, fmt, ap, err);
	va_end(ap);
	errno = err;
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_WARNING, fmt, ap, 0);
	va_end(ap);
}

void warning_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_WARNING, fmt, ap, err);
	va_end(ap);
	errno = err;
}

void note(const char *fmt, ...)
{
	if (log_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_NOTE, fmt, ap, 0);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(REPORT_FATAL, fmt, ap, 0);
	va_end(ap);
	exit(CUT_INTERNAL);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory allocating %zu items", n);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory allocating %zu bytes", n);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		die("out of memory");
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return p;
}
