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

static void report(const char *prefix, const char *fmt, va_list ap, int err)
{
	char msg[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&report_lock);
	if (!strcmp(prefix, "error: ")) {
		if (err)
			snprintf(last_error, sizeof(last_error), "%.900s: %.100s", msg, strerror(err));
		else
			snprintf(last_error, sizeof(last_error), "%.1000s", msg);
	}
	if (err)
		fprintf(stderr, "cutover: %s%s: %s\n", prefix, msg, strerror(err));
	else
		fprintf(stderr, "cutover: %s%s\n", prefix, msg);
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
	report("error: ", fmt, ap, 0);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	report("error: ", fmt, ap, err);
	va_end(ap);
	errno = err;
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("warning: ", fmt, ap, 0);
	va_end(ap);
}

void warning_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	report("warning: ", fmt, ap, err);
	va_end(ap);
	errno = err;
}

void note(const char *fmt, ...)
{
	if (log_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	report("", fmt, ap, 0);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("fatal: ", fmt, ap, 0);
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
