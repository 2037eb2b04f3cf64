/* The agent protocol's framing: round trips, and hostile frames refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>
#include "target/wire.h"
#include "target/wire_manifest.h"
#include "util/error.h"
#include "util/hash.h"

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

static void add(struct manifest *m, const char *path, char type, const char *content)
{
	struct entry *e = manifest_add(m, path, type);
	e->mode = type == ENT_DIR ? 0755 : 0644;
	if (type == ENT_FILE) {
		e->size = strlen(content);
		hash_bytes(e->hash, content, e->size);
	} else if (type == ENT_LINK) {
		e->mode = 0777;
		e->target = xstrdup(content);
	}
}

/* A delta of B against A, applied to A, gives B's own encoding, byte for byte. */
static void test_manifest_delta_round_trip(void **state)
{
	struct manifest a = MANIFEST_INIT, b = MANIFEST_INIT, a2 = MANIFEST_INIT;
	struct buf plain_a = BUF_INIT, plain_b = BUF_INIT, delta = BUF_INIT, applied = BUF_INIT;
	add(&a, "index.html", ENT_FILE, "v1");
	add(&a, "css", ENT_DIR, NULL);
	add(&a, "css/site.css", ENT_FILE, "body{}");
	add(&a, "old.txt", ENT_FILE, "gone soon");
	add(&a, "link", ENT_LINK, "index.html");
	add(&b, "index.html", ENT_FILE, "v2");           /* changed */
	add(&b, "css", ENT_DIR, NULL);
	add(&b, "css/site.css", ENT_FILE, "body{}");     /* same */
	add(&b, "link", ENT_LINK, "css/site.css");       /* retargeted */
	add(&b, "new", ENT_DIR, NULL);                   /* added */
	add(&b, "new/a.js", ENT_FILE, "x");
	assert_int_equal(manifest_finish(&a, "a"), 0);
	assert_int_equal(manifest_finish(&b, "b"), 0);
	wire_manifest_encode(&plain_a, &a);
	wire_manifest_encode(&plain_b, &b);
	wire_manifest_delta(&delta, &a, &b);
	/* one deletion and four entries, not the whole tree */
	assert_true(delta.len < plain_b.len);
	assert_int_equal(wire_manifest_decode(&a2, plain_a.buf, plain_a.len, "a", 0), 0);
	assert_int_equal(wire_manifest_apply(&applied, &a2, delta.buf, delta.len, "delta"), 0);
	assert_int_equal(applied.len, plain_b.len);
	assert_memory_equal(applied.buf, plain_b.buf, plain_b.len);
	/* a delta cut short is refused */
	buf_reset(&applied);
	assert_int_equal(wire_manifest_apply(&applied, &a2, delta.buf, delta.len - 3, "delta"), -1);
	manifest_release(&a);
	manifest_release(&b);
	manifest_release(&a2);
	buf_release(&plain_a);
	buf_release(&plain_b);
	buf_release(&delta);
	buf_release(&applied);
}

/* Hostile manifests: every entry is checked. */
static void test_manifest_decode_refuses_hostile_entries(void **state)
{
	struct manifest m = MANIFEST_INIT, bad = MANIFEST_INIT;
	struct buf plain = BUF_INIT;
	add(&bad, "../escape", ENT_FILE, "x");
	wire_manifest_encode(&plain, &bad);
	assert_int_equal(wire_manifest_decode(&m, plain.buf, plain.len, "hostile", 1), -1);
	manifest_release(&m);
	m = (struct manifest)MANIFEST_INIT;
	buf_reset(&plain);
	/* a count far beyond what the bytes can hold */
	wire_put_u64(&plain, 1000000);
	assert_int_equal(wire_manifest_decode(&m, plain.buf, plain.len, "hostile", 1), -1);
	manifest_release(&m);
	manifest_release(&bad);
	buf_release(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_and_fields_round_trip),
		cmocka_unit_test(test_hostile_frames_end_the_session),
		cmocka_unit_test(test_fields_past_the_end_are_bad),
		cmocka_unit_test(test_manifest_delta_round_trip),
		cmocka_unit_test(test_manifest_decode_refuses_hostile_entries),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
