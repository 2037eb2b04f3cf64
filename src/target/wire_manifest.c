/*
 * A manifest on the wire: every entry (type, mode, size, hash of a file,
 * path, link target) as fields, the whole zstd-compressed and cut into
 * DATA frames, then an END frame. The receiving side checks every entry as
 * hostile input (paths cleaned and refused as an archive's would be, modes,
 * types, sizes) and finishes the manifest, which refuses links that leave
 * the release.
 */
#include "target/wire_manifest.h"
#include "util/error.h"
#include "util/strlist.h"
#include <zstd.h>

#define CHUNK (1u << 20)
#define MAX_COMPRESSED ((size_t)512 << 20)
#define MAX_PLAIN ((size_t)2 << 30)

static void encode_entry(struct buf *b, const struct entry *e)
{
	wire_put_u64(b, (uint64_t)(unsigned char)e->type);
	wire_put_u64(b, e->mode & 07777);
	wire_put_u64(b, e->type == ENT_FILE ? e->size : 0);
	wire_put_blob(b, e->hash, e->type == ENT_FILE ? HASH_LEN : 0);
	wire_put_str(b, e->path);
	wire_put_str(b, e->type == ENT_LINK ? e->target : "");
}

void wire_manifest_encode(struct buf *b, const struct manifest *m)
{
	wire_put_u64(b, m->nr);
	for (size_t i = 0; i < m->nr; i++)
		encode_entry(b, &m->v[i]);
}

int wire_send_stream(struct wire *w, const void *plain, size_t len)
{
	size_t cap = ZSTD_compressBound(len);
	char *z = xmalloc(cap);
	size_t zn = ZSTD_compress(z, cap, plain, len, 3);
	int rc = 0;
	if (ZSTD_isError(zn))
		rc = error("cannot compress a manifest for %s: %s", w->peer, ZSTD_getErrorName(zn));
	for (size_t off = 0; !rc && off < zn; off += CHUNK)
		rc = wire_send(w, WF_DATA, z + off, zn - off < CHUNK ? zn - off : CHUNK);
	if (!rc)
		rc = wire_send(w, WF_END, NULL, 0);
	free(z);
	return rc;
}

int wire_send_manifest(struct wire *w, const struct manifest *m)
{
	struct buf plain = BUF_INIT;
	wire_manifest_encode(&plain, m);
	int rc = wire_send_stream(w, plain.buf, plain.len);
	buf_release(&plain);
	return rc;
}

/* One entry from the decoded fields, checked. Returns 0 or -1 (reported). */
static int decode_entry(struct wire_rd *r, struct manifest *m, const char *what)
{
	uint64_t type = wire_get_u64(r), mode = wire_get_u64(r), size = wire_get_u64(r);
	size_t hlen;
	const void *hash = wire_get_blob(r, &hlen);
	char *path = wire_get_str(r), *target = wire_get_str(r);
	int rc = -1;
	if (r->bad) {
		error("%s: a manifest entry is cut short", what);
		goto out;
	}
	if (type != ENT_FILE && type != ENT_DIR && type != ENT_LINK) {
		error("%s: entry '%s' has an unknown type %llu", what, path, (unsigned long long)type);
		goto out;
	}
	if (mode & ~(uint64_t)07777) {
		error("%s: entry '%s' has an invalid mode %llo", what, path, (unsigned long long)mode);
		goto out;
	}
	if (hlen != (type == ENT_FILE ? HASH_LEN : 0)) {
		error("%s: entry '%s' has a hash of %zu bytes", what, path, hlen);
		goto out;
	}
	if (type == ENT_LINK && !*target) {
		error("%s: link '%s' has no target", what, path);
		goto out;
	}
	int clean = manifest_clean_path(path, what);
	if (clean < 0)
		goto out;
	if (clean == 1) { /* the release root itself */
		rc = 0;
		goto out;
	}
	struct entry *e = manifest_add(m, path, (char)type);
	e->mode = (unsigned)mode;
	e->size = type == ENT_FILE ? size : 0;
	if (type == ENT_FILE)
		memcpy(e->hash, hash, HASH_LEN);
	if (type == ENT_LINK)
		e->target = xstrdup(target);
	rc = 0;
out:
	free(path);
	free(target);
	return rc;
}

/* Decompress one zstd stream (no size needed: a false one gains nothing) into `out`. */
int wire_unzstd(struct buf *out, const void *z, size_t zlen, const char *what)
{
	ZSTD_DCtx *dz = ZSTD_createDCtx();
	ZSTD_inBuffer in = { z, zlen, 0 };
	size_t zr = 1;
	int bad = 0;
	while (!bad && (in.pos < in.size || zr)) {
		if (out->len + CHUNK > MAX_PLAIN) {
			bad = error("%s: the manifest is over 2 GiB", what);
			break;
		}
		buf_grow(out, CHUNK);
		ZSTD_outBuffer o = { out->buf + out->len, CHUNK, 0 };
		zr = ZSTD_decompressStream(dz, &o, &in);
		if (ZSTD_isError(zr)) {
			bad = error("%s: the manifest does not decompress: %s", what, ZSTD_getErrorName(zr));
			break;
		}
		buf_setlen(out, out->len + o.pos);
		if (in.pos == in.size && zr && !o.pos)
			bad = error("%s: the manifest is cut short", what);
	}
	ZSTD_freeDCtx(dz);
	return bad ? -1 : 0;
}

int wire_recv_stream(struct wire *w, struct buf *plain, const char *what)
{
	struct buf z = BUF_INIT, frame = BUF_INIT;
	int rc = -1;
	for (;;) {
		int type = wire_recv(w, &frame);
		if (type < 0)
			goto out;
		if (type == WF_END)
			break;
		if (type != WF_DATA) {
			error("%s: expected manifest data, got a frame of type %d", what, type);
			goto out;
		}
		if (z.len + frame.len > MAX_COMPRESSED) {
			error("%s: the manifest is over %zu MiB compressed", what, MAX_COMPRESSED >> 20);
			goto out;
		}
		buf_add(&z, frame.buf, frame.len);
	}
	rc = wire_unzstd(plain, z.buf, z.len, what);
out:
	buf_release(&z);
	buf_release(&frame);
	return rc;
}

/* Entries of a plain encoding into `m`, each checked; `finish` validates the whole. */
int wire_manifest_decode(struct manifest *m, const void *plain, size_t n, const char *what, int finish)
{
	struct buf view = { .buf = (char *)plain, .len = n };
	struct wire_rd r;
	wire_rd_init(&r, &view);
	uint64_t count = wire_get_u64(&r);
	if (r.bad || count > n / 40 + 1) /* an entry is at least 48 bytes of fields */
		return error("%s: the manifest claims %llu entries in %zu bytes", what, (unsigned long long)count, n);
	for (uint64_t i = 0; i < count; i++)
		if (decode_entry(&r, m, what) < 0)
			return -1;
	if (r.p != r.end)
		return error("%s: the manifest has bytes after its last entry", what);
	return finish ? manifest_finish(m, what) : 0;
}

int wire_recv_manifest(struct wire *w, struct manifest *m, const char *what)
{
	struct buf plain = BUF_INIT;
	int rc = wire_recv_stream(w, &plain, what);
	if (!rc)
		rc = wire_manifest_decode(m, plain.buf, plain.len, what, 1);
	buf_release(&plain);
	return rc;
}

/* Same type, mode, size, content and link target. */
static int same_entry(const struct entry *a, const struct entry *b)
{
	if (a->type != b->type || (a->mode & 07777) != (b->mode & 07777))
		return 0;
	if (a->type == ENT_FILE)
		return a->size == b->size && !memcmp(a->hash, b->hash, HASH_LEN);
	if (a->type == ENT_LINK)
		return !strcmp(a->target, b->target);
	return 1;
}

void wire_manifest_delta(struct buf *out, const struct manifest *base, const struct manifest *m)
{
	struct buf puts = BUF_INIT, dels = BUF_INIT;
	uint64_t nput = 0, ndel = 0;
	size_t i = 0, j = 0;
	while (i < base->nr || j < m->nr) {
		int c = i == base->nr ? 1 : j == m->nr ? -1 : strcmp(base->v[i].path, m->v[j].path);
		if (c < 0) {
			wire_put_str(&dels, base->v[i++].path);
			ndel++;
		} else if (c > 0) {
			encode_entry(&puts, &m->v[j++]);
			nput++;
		} else {
			if (!same_entry(&base->v[i], &m->v[j])) {
				encode_entry(&puts, &m->v[j]);
				nput++;
			}
			i++, j++;
		}
	}
	wire_put_u64(out, ndel);
	buf_add(out, dels.buf, dels.len);
	wire_put_u64(out, nput);
	buf_add(out, puts.buf, puts.len);
	buf_release(&puts);
	buf_release(&dels);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

int wire_manifest_apply(struct buf *plain, const struct manifest *base, const void *delta, size_t n,
			const char *what)
{
	struct buf view = { .buf = (char *)delta, .len = n };
	struct wire_rd r;
	struct manifest puts = MANIFEST_INIT;
	struct strlist dels = STRLIST_INIT;
	int rc = -1;
	wire_rd_init(&r, &view);
	uint64_t ndel = wire_get_u64(&r);
	for (uint64_t i = 0; i < ndel && !r.bad; i++) {
		char *p = wire_get_str(&r);
		if (p)
			strlist_push(&dels, p);
		free(p);
	}
	uint64_t nput = wire_get_u64(&r);
	if (r.bad || ndel > n || nput > n) {
		error("%s: a malformed manifest delta", what);
		goto out;
	}
	for (uint64_t i = 0; i < nput; i++)
		if (decode_entry(&r, &puts, what) < 0)
			goto out;
	if (r.p != r.end) {
		error("%s: the manifest delta has bytes after its end", what);
		goto out;
	}
	strlist_sort(&dels);
	qsort(puts.v, puts.nr, sizeof(*puts.v), cmp_path);
	/* the merge of the base (sorted) and the changed entries, less what went */
	struct buf body = BUF_INIT;
	uint64_t count = 0;
	size_t i = 0, j = 0;
	while (i < base->nr || j < puts.nr) {
		int c = i == base->nr ? 1 : j == puts.nr ? -1 : strcmp(base->v[i].path, puts.v[j].path);
		if (c < 0) {
			if (!strlist_has(&dels, base->v[i].path)) {
				encode_entry(&body, &base->v[i]);
				count++;
			}
			i++;
		} else {
			encode_entry(&body, &puts.v[j++]);
			count++;
			if (c == 0)
				i++;
		}
	}
	wire_put_u64(plain, count);
	buf_add(plain, body.buf, body.len);
	buf_release(&body);
	rc = 0;
out:
	manifest_release(&puts);
	strlist_clear(&dels);
	return rc;
}
