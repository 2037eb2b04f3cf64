#ifndef CUTOVER_TEST_CAPTURE_H
#define CUTOVER_TEST_CAPTURE_H
/*
 * Messages go to stderr through error(); tests capture fd 2 in a temporary
 * file around a call and compare what was written. Include after cmocka.h.
 */
#include "util/buf.h"
#include <unistd.h>

struct capture {
	int saved;
	FILE *tmp;
	struct buf out;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(fileno(c->tmp), 2), 2);
	buf_init(&c->out, 0);
}

/* Restores stderr and returns what was written (owned by c->out). */
static const char *capture_end(struct capture *c)
{
	char chunk[4096];
	size_t n;
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->tmp);
	while ((n = fread(chunk, 1, sizeof(chunk), c->tmp)) > 0)
		buf_add(&c->out, chunk, n);
	fclose(c->tmp);
	return c->out.buf;
}

#endif
