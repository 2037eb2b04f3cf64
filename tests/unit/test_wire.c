/* The agent protocol's framing: round trips, and hostile frames refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>
#include "target/wire.h"
#include "util/error.h"

struct pair {
	int fd[2];
	struct wire w;
};

static void pair_open(struct pair *p)
{
	assert_int_equal(pipe(p->fd), 0);
	wire_init(&p->w, p->fd[0], p->fd[1], "the test peer");
}

static void pair_close(struct pair *p)
{
	close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
	wire_release(&p->w);
}

static void test_frames_and_fields_round_trip(void **state)
{
	struct pair p;
	struct buf out = BUF_INIT, in = BUF_INIT;
	pair_open(&p);
	wire_put_str(&out, "stage");
	wire_put_u64(&out, 0x0102030405060708ULL);
	wire_put_blob(&out, "a\0b", 3);
	wire_put_str(&out, NULL);
	assert_int_equal(wire_send(&p.w, WF_REQ, out.buf, out.len), 0);
	assert_int_equal(wire_send(&p.w, WF_END, NULL, 0), 0);
	assert_int_equal(wire_recv(&p.w, &in), WF_REQ);
	struct wire_rd r;
	wire_rd_init(&r, &in);
	char *s = wire_get_str(&r);
	assert_string_equal(s, "stage");
	free(s);
	assert_true(wire_get_u64(&r) == 0x0102030405060708ULL);
	size_t n;
	const char *b = wire_get_blob(&r, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(b, "a\0b", 3);
	s = wire_get_str(&r);
	assert_string_equal(s, "");
	free(s);
	assert_false(r.bad);
	/* nothing is left: one more field is bad, and stays bad */
	assert_null(wire_get_str(&r));
	assert_true(r.bad);
	assert_int_equal(wire_recv(&p.w, &in), WF_END);
	assert_int_equal(in.len, 0);
	buf_release(&out);
	buf_release(&in);
	pair_close(&p);
}

/* Write raw bytes, then expect wire_recv to refuse them. */
static void expect_refused(const void *raw, size_t len)
{
	struct pair p;
	struct buf in = BUF_INIT;
	pair_open(&p);
	assert_int_equal(write(p.fd[1], raw, len), (ssize_t)len);
	close(p.fd[1]);
	p.fd[1] = -1;
	assert_int_equal(wire_recv(&p.w, &in), -1);
	assert_true(p.w.broken);
	/* and the session stays closed */
	assert_int_equal(wire_recv(&p.w, &in), -1);
	buf_release(&in);
	pair_close(&p);
}

static void test_hostile_frames_end_the_session(void **state)
{
	/* over the maximum */
	expect_refused("\x7f\xff\xff\xff\x02\0\0\0", 8);
	/* unknown types */
	expect_refused("\0\0\0\0\x00\0\0\0", 8);
	expect_refused("\0\0\0\0\x63\0\0\0", 8);
	/* reserved bytes set */
	expect_refused("\0\0\0\0\x02\x01\0\0", 8);
	/* a noisy shell: text where a header should be */
	expect_refused("Welcome to web1!\n", 17);
	/* cut in the middle of a header, of a payload */
	expect_refused("\0\0\0", 3);
	expect_refused("\0\0\0\x05\x02\0\0\0abc", 11);
	/* nothing at all */
	expect_refused("", 0);
}

static void test_fields_past_the_end_are_bad(void **state)
{
	struct buf b = BUF_INIT;
	struct wire_rd r;
	/* a blob that claims more than is there */
	wire_put_u64(&b, 1000);
	buf_add(&b, "abc", 3);
	wire_rd_init(&r, &b);
	size_t n;
	assert_null(wire_get_blob(&r, &n));
	assert_true(r.bad);
	/* a length near 2^64 does not wrap around */
	buf_reset(&b);
	wire_put_u64(&b, UINT64_MAX);
	wire_rd_init(&r, &b);
	assert_null(wire_get_blob(&r, &n));
	/* a string with a NUL inside */
	buf_reset(&b);
	wire_put_blob(&b, "a\0b", 3);
	wire_rd_init(&r, &b);
	assert_null(wire_get_str(&r));
	/* a short number */
	buf_reset(&b);
	buf_add(&b, "\0\0\0", 3);
	wire_rd_init(&r, &b);
	wire_get_u64(&r);
	assert_true(r.bad);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_and_fields_round_trip),
		cmocka_unit_test(test_hostile_frames_end_the_session),
		cmocka_unit_test(test_fields_past_the_end_are_bad),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
