#ifndef CUTOVER_BUF_H
#define CUTOVER_BUF_H
#include <stddef.h>
#include <stdarg.h>

/*
 * A growable, always NUL-terminated byte buffer (git's strbuf).
 * `max` caps the size for buffers fed from the network or from files:
 * an append past it fails with -1 and leaves the buffer unchanged.
 */
struct buf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t max; /* 0: no cap */
};

extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0, 0 }
#define BUF_INIT_MAX(m) { buf_empty, 0, 0, (m) }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Hand the string to the caller, who frees it; the buffer is reset. */
char *buf_detach(struct buf *b, size_t *len);
int buf_grow(struct buf *b, size_t extra);
void buf_reset(struct buf *b);
void buf_setlen(struct buf *b, size_t len);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, int c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Remove trailing whitespace. */
void buf_rtrim(struct buf *b);

#endif
