#ifndef CUTOVER_WIRE_H
#define CUTOVER_WIRE_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

/*
 * The agent protocol's framing (docs/remote.md): every frame is an 8-byte
 * header, the payload's length (32 bits, big-endian), a type, a zero flags
 * byte and two zero bytes, then the payload, at most WIRE_MAX bytes. Frames
 * are read and written whole with plain read/write on a pipe or socket;
 * a length over the maximum, an unknown type or non-zero reserved bytes end
 * the session with a clear error (git pkt-line, casync's protocol).
 *
 * Payloads are sequences of fields: a number is 8 bytes big-endian, a
 * string or blob a number (its length) then its bytes. Every read of a
 * field checks the length against what is left of the payload.
 */
#define WIRE_MAX (16u << 20)
#define WIRE_MAGIC "CUTOVER\x01"
#define WIRE_VERSION 1

enum wire_type {
	WF_HELLO = 1,  /* magic, protocol version, features, program version */
	WF_REQ = 2,    /* an operation: its name, then its arguments */
	WF_OK = 3,     /* the operation's result */
	WF_FAIL = 4,   /* the operation failed: code (0 < n < 256), message */
	WF_LOG = 5,    /* kind (enum report_kind), one line */
	WF_DATA = 6,   /* bytes of a stream (zstd-compressed object or manifest) */
	WF_END = 7,    /* the end of a stream */
	WF_ABORT = 8,  /* the session ends: errno, reason */
	WF_OUT = 9,    /* standard output of a command run on the host */
	WF_TYPE_MAX = 9
};

/* A connection: two descriptors (a pipe pair or one socket twice). */
struct wire {
	int in, out;
	const char *peer; /* for messages: "web1", "the client" */
	struct buf rbuf;  /* bytes read ahead */
	size_t roff;
	uint64_t bytes_in, bytes_out;
	int broken; /* an error ended the session: every later call fails */
	int eof;    /* ... and it was the peer closing between two frames */
};
void wire_init(struct wire *w, int in, int out, const char *peer);
void wire_release(struct wire *w);

/* Send one frame. Returns 0 or -1 (reported, naming the peer). */
int wire_send(struct wire *w, enum wire_type type, const void *payload, size_t len);
/*
 * Receive one frame into `payload` (reset first). Returns its type, or -1
 * (reported): end of input, a read error, a bad header.
 */
int wire_recv(struct wire *w, struct buf *payload);

/* Field encoding into a payload. */
void wire_put_u64(struct buf *b, uint64_t v);
void wire_put_str(struct buf *b, const char *s);
void wire_put_blob(struct buf *b, const void *p, size_t len);

struct strlist;
/* A list of strings: its count, then each. */
void wire_put_list(struct buf *b, const struct strlist *l);

/* Field decoding: a cursor over a received payload. */
struct wire_rd {
	const unsigned char *p, *end;
	int bad; /* a field ran past the end: every later read fails too */
};
void wire_rd_init(struct wire_rd *r, const struct buf *payload);
uint64_t wire_get_u64(struct wire_rd *r);
/* A string field as a new allocation (NULs inside refused: bad); NULL when bad. */
char *wire_get_str(struct wire_rd *r);
/* A blob: pointer into the payload, length in *len; NULL when bad. */
const void *wire_get_blob(struct wire_rd *r, size_t *len);
/* A list of strings appended to `out`; more than `max` of them is bad. */
void wire_get_list(struct wire_rd *r, struct strlist *out, size_t max);

#endif
