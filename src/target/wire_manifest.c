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
#include <zstd.h>

#define CHUNK (1u << 20)
#define MAX_COMPRESSED ((size_t)512 << 20)
#define MAX_PLAIN ((size_t)2 << 30)

static void encode(struct buf *b, const struct manifest *m)
{
	wire_put_u64(b, m->nr);
	for (size_t i = 0; i < m->nr; i++) {
		const struct entry *e = &m->v[i];
		wire_put_u64(b, (uint64_t)(unsigned char)e->type);
		wire_put_u64(b, e->mode & 07777);
		wire_put_u64(b, e->size);
		wire_put_blob(b, e->hash, e->type == ENT_FILE ? HASH_LEN : 0);
		wire_put_str(b, e->path);
		wire_put_str(b, e->type == ENT_LINK ? e->target : "");
	}
}

int wire_send_manifest(struct wire *w, const struct manifest *m)
{
	struct buf plain = BUF_INIT;
	encode(&plain, m);
	size_t cap = ZSTD_compressBound(plain.len);
	char *z = xmalloc(cap);
	size_t zn = ZSTD_compress(z, cap, plain.buf, plain.len, 3);
	int rc = 0;
	if (ZSTD_isError(zn))
		rc = error("cannot compress the manifest for %s: %s", w->peer, ZSTD_getErrorName(zn));
	for (size_t off = 0; !rc && off < zn; off += CHUNK)
		rc = wire_send(w, WF_DATA, z + off, zn - off < CHUNK ? zn - off : CHUNK);
	if (!rc)
		rc = wire_send(w, WF_END, NULL, 0);
	free(z);
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

int wire_recv_manifest(struct wire *w, struct manifest *m, const char *what)
{
	struct buf z = BUF_INIT, frame = BUF_INIT;
	char *plain = NULL;
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
	/* streamed: a sender need not state the size, and a false one gains nothing */
	struct buf out = BUF_INIT;
	ZSTD_DCtx *dz = ZSTD_createDCtx();
	ZSTD_inBuffer in = { z.buf, z.len, 0 };
	size_t zr = 1;
	int bad = 0;
	while (!bad && (in.pos < in.size || zr)) {
		if (out.len + CHUNK > MAX_PLAIN) {
			bad = error("%s: the manifest is over 2 GiB", what);
			break;
		}
		buf_grow(&out, CHUNK);
		ZSTD_outBuffer o = { out.buf + out.len, CHUNK, 0 };
		zr = ZSTD_decompressStream(dz, &o, &in);
		if (ZSTD_isError(zr)) {
			bad = error("%s: the manifest does not decompress: %s", what, ZSTD_getErrorName(zr));
			break;
		}
		buf_setlen(&out, out.len + o.pos);
		if (in.pos == in.size && zr && !o.pos)
			bad = error("%s: the manifest is cut short", what);
	}
	ZSTD_freeDCtx(dz);
	if (bad) {
		buf_release(&out);
		goto out;
	}
	size_t n = out.len;
	plain = buf_detach(&out, NULL);
	struct buf view = { .buf = plain, .len = n };
	struct wire_rd r;
	wire_rd_init(&r, &view);
	uint64_t count = wire_get_u64(&r);
	if (r.bad || count > n / 40 + 1) { /* an entry is at least 48 bytes of fields */
		error("%s: the manifest claims %llu entries in %zu bytes", what, (unsigned long long)count, n);
		goto out;
	}
	for (uint64_t i = 0; i < count; i++)
		if (decode_entry(&r, m, what) < 0)
			goto out;
	if (r.p != r.end) {
		error("%s: the manifest has bytes after its last entry", what);
		goto out;
	}
	rc = manifest_finish(m, what);
out:
	free(plain);
	buf_release(&z);
	buf_release(&frame);
	return rc;
}
