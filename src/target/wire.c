/* The agent protocol's frames and fields: see wire.h. */
#include "target/wire.h"
#include "util/error.h"
#include "util/strlist.h"
#include <errno.h>
#include <unistd.h>

#define HEADER 8
#define READ_CHUNK 65536

void wire_init(struct wire *w, int in, int out, const char *peer)
{
	memset(w, 0, sizeof(*w));
	w->in = in;
	w->out = out;
	w->peer = peer;
	buf_init(&w->rbuf, WIRE_MAX + HEADER + READ_CHUNK); /* one frame and a read ahead, never more */
}

void wire_release(struct wire *w)
{
	buf_release(&w->rbuf);
}

static int write_all(struct wire *w, const void *p, size_t len)
{
	const char *c = p;
	while (len) {
		ssize_t n = write(w->out, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->broken = 1;
			return error_errno("cannot send to %s", w->peer);
		}
		c += n;
		len -= (size_t)n;
		w->bytes_out += (uint64_t)n;
	}
	return 0;
}

int wire_send(struct wire *w, enum wire_type type, const void *payload, size_t len)
{
	unsigned char h[HEADER] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
				    (unsigned char)len, (unsigned char)type, 0, 0, 0 };
	if (w->broken)
		return error("the connection to %s is closed", w->peer);
	if (len > WIRE_MAX)
		return error("internal: a frame of %zu bytes for %s is over the maximum", len, w->peer);
	if (write_all(w, h, HEADER) < 0)
		return -1;
	return len ? write_all(w, payload, len) : 0;
}

/* Have at least `want` bytes buffered from roff on: 0, or -1 (EOF, error). */
static int fill(struct wire *w, size_t want)
{
	if (w->roff && w->rbuf.len - w->roff < want) {
		size_t left = w->rbuf.len - w->roff;
		memmove(w->rbuf.buf, w->rbuf.buf + w->roff, left);
		buf_setlen(&w->rbuf, left);
		w->roff = 0;
	}
	while (w->rbuf.len - w->roff < want) {
		size_t need = want - (w->rbuf.len - w->roff);
		size_t chunk = need > READ_CHUNK ? need : READ_CHUNK;
		if (buf_grow(&w->rbuf, chunk) < 0)
			return error("internal: no room for a frame from %s", w->peer);
		ssize_t n = read(w->in, w->rbuf.buf + w->rbuf.len, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->broken = 1;
			return error_errno("cannot read from %s", w->peer);
		}
		if (n == 0) {
			w->broken = 1;
			if (w->rbuf.len - w->roff)
				return error("%s closed the connection in the middle of a frame", w->peer);
			w->eof = 1;
			return error("%s closed the connection", w->peer);
		}
		buf_setlen(&w->rbuf, w->rbuf.len + (size_t)n);
		w->bytes_in += (uint64_t)n;
	}
	return 0;
}

int wire_recv(struct wire *w, struct buf *payload)
{
	buf_reset(payload);
	if (w->broken)
		return error("the connection to %s is closed", w->peer);
	if (fill(w, HEADER) < 0)
		return -1;
	const unsigned char *h = (const unsigned char *)w->rbuf.buf + w->roff;
	uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	int type = h[4];
	if (type < 1 || type > WF_TYPE_MAX || h[5] || h[6] || h[7] || len > WIRE_MAX) {
		w->broken = 1;
		if (len > WIRE_MAX)
			return error("%s sent a frame of %u bytes (at most %u): not the cutover protocol, or a "
				     "damaged stream",
				     w->peer, len, WIRE_MAX);
		return error("%s sent a malformed frame header (type %d): not the cutover protocol, or a "
			     "damaged stream",
			     w->peer, type);
	}
	if (fill(w, HEADER + (size_t)len) < 0)
		return -1;
	if (buf_add(payload, w->rbuf.buf + w->roff + HEADER, len) < 0)
		return error("internal: no room for a frame from %s", w->peer);
	w->roff += HEADER + len;
	if (w->roff == w->rbuf.len) {
		w->roff = 0;
		buf_reset(&w->rbuf);
	}
	return type;
}

void wire_put_u64(struct buf *b, uint64_t v)
{
	unsigned char c[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		c[i] = (unsigned char)v;
	buf_add(b, c, 8);
}

void wire_put_blob(struct buf *b, const void *p, size_t len)
{
	wire_put_u64(b, len);
	buf_add(b, p, len);
}

void wire_put_str(struct buf *b, const char *s)
{
	wire_put_blob(b, s ? s : "", s ? strlen(s) : 0);
}

void wire_rd_init(struct wire_rd *r, const struct buf *payload)
{
	r->p = (const unsigned char *)payload->buf;
	r->end = r->p + payload->len;
	r->bad = 0;
}

uint64_t wire_get_u64(struct wire_rd *r)
{
	uint64_t v = 0;
	if (r->bad || r->end - r->p < 8) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[i];
	r->p += 8;
	return v;
}

const void *wire_get_blob(struct wire_rd *r, size_t *len)
{
	uint64_t n = wire_get_u64(r);
	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		*len = 0;
		return NULL;
	}
	const void *p = r->p;
	r->p += n;
	*len = (size_t)n;
	return p;
}

char *wire_get_str(struct wire_rd *r)
{
	size_t n;
	const char *p = wire_get_blob(r, &n);
	if (!p)
		return NULL;
	if (memchr(p, 0, n)) {
		r->bad = 1;
		return NULL;
	}
	return xstrndup(p, n);
}

void wire_put_list(struct buf *b, const struct strlist *l)
{
	wire_put_u64(b, l ? l->nr : 0);
	for (size_t i = 0; l && i < l->nr; i++)
		wire_put_str(b, l->items[i]);
}

void wire_get_list(struct wire_rd *r, struct strlist *out, size_t max)
{
	uint64_t n = wire_get_u64(r);
	if (n > max) {
		r->bad = 1;
		return;
	}
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		char *v = wire_get_str(r);
		if (v)
			strlist_push(out, v);
		free(v);
	}
}
