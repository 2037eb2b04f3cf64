/*
 * The agent's side of the protocol: read requests from the client, run
 * them on the local target (local.c) for the one root named at "open",
 * answer. Every frame is hostile until checked: lengths by wire.c, paths
 * and links by the manifest checks, ids, phases and modes here. Nothing
 * is written outside the root. Reports (errors, warnings, notes, hook
 * output) travel as LOG frames; standard output is the wire.
 */
#include "target/serve.h"
#include "target/local.h"
#include "target/wire.h"
#include "target/wire_manifest.h"
#include "release/history.h"
#include "release/id.h"
#include "release/stage.h"
#include "util/version.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_DEFERRED 200

/* A file of the manifest by its object: content and the mode it is stored with. */
struct obj_key {
	unsigned char hash[HASH_LEN];
	unsigned mode;
	size_t entry;
};

static int cmp_key(const void *a, const void *b)
{
	const struct obj_key *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, HASH_LEN);
	return c ? c : (x->mode > y->mode) - (x->mode < y->mode);
}

struct serve {
	struct wire w;
	struct target *t;
	struct manifest m; /* the manifest of the deploy under way */
	int have_manifest;
	struct buf sent; /* its plain encoding as the client sent it: the base of the next delta */
	struct obj_key *keys; /* its files by object, sorted */
	size_t nkeys;
	int defer; /* while the client streams objects, log lines wait (it is not reading) */
	struct strlist deferred_lines;
	struct buf kinds; /* one byte per deferred line */
	unsigned spool_seq;
};

static void send_log(struct serve *s, enum report_kind kind, const char *line)
{
	struct buf b = BUF_INIT;
	wire_put_u64(&b, kind);
	wire_put_str(&b, line);
	wire_send(&s->w, WF_LOG, b.buf, b.len);
	buf_release(&b);
}

/* The reporter's sink on an agent: lines become LOG frames. */
static void sink(enum report_kind kind, const char *line, void *ctx)
{
	struct serve *s = ctx;
	if (s->w.broken) {
		fprintf(stderr, "cutover agent: %s\n", line);
		return;
	}
	if (s->defer) {
		if (s->deferred_lines.nr < MAX_DEFERRED) {
			strlist_push(&s->deferred_lines, line);
			buf_addch(&s->kinds, (char)kind);
		}
		return;
	}
	send_log(s, kind, line);
}

static void flush_deferred(struct serve *s)
{
	s->defer = 0;
	for (size_t i = 0; i < s->deferred_lines.nr; i++)
		send_log(s, (enum report_kind)s->kinds.buf[i], s->deferred_lines.items[i]);
	strlist_clear(&s->deferred_lines);
	buf_reset(&s->kinds);
}

static int reply_ok(struct serve *s, const struct buf *payload)
{
	return wire_send(&s->w, WF_OK, payload ? payload->buf : NULL, payload ? payload->len : 0);
}

/* rc: -1 or -CUT_*: the exit code and the last error go back. */
static int reply_fail(struct serve *s, int rc)
{
	struct buf b = BUF_INIT;
	wire_put_u64(&b, (uint64_t)exit_status(rc < 0 ? rc : -1));
	wire_put_str(&b, error_last());
	wire_put_u64(&b, s->t && s->t->cache_lied ? 1 : 0); /* flags: 1 = the client's stat cache misled it */
	int r = wire_send(&s->w, WF_FAIL, b.buf, b.len);
	buf_release(&b);
	return r;
}

static int reply(struct serve *s, int rc)
{
	return rc < 0 ? reply_fail(s, rc) : reply_ok(s, NULL);
}

/* A release id from the client, checked: "" allowed only when `may_be_empty` (then NULL). */
static int get_id(struct wire_rd *r, char **id, int may_be_empty)
{
	*id = wire_get_str(r);
	if (!*id)
		return error("a request from the client is cut short");
	if (!**id && may_be_empty) {
		free(*id);
		*id = NULL;
		return 0;
	}
	if (!release_id_valid(*id))
		return error("the client sent an invalid release id '%.80s'", *id);
	return 0;
}

static int op_open(struct serve *s, struct wire_rd *r)
{
	char *root = wire_get_str(r);
	uint64_t mode = wire_get_u64(r), create = wire_get_u64(r);
	int rc = -1;
	if (r->bad || !root)
		error("a request from the client is cut short");
	else if (s->t)
		error("the root is open already");
	else if (root[0] != '/')
		error("the root '%s' is not an absolute path", root);
	else if (mode > LINK_COPY)
		error("the client asked for an unknown link mode %llu", (unsigned long long)mode);
	else {
		struct root cr = ROOT_INIT;
		if (create && root_create(&cr, root) < 0) {
			root_release(&cr);
			goto out;
		}
		root_release(&cr);
		s->t = target_open_local(root, (enum link_mode)mode);
		rc = s->t ? 0 : -1;
	}
out:
	free(root);
	return reply(s, rc);
}

static int op_lock(struct serve *s, struct wire_rd *r)
{
	long wait = (long)wire_get_u64(r);
	if (r->bad || wait < 0)
		return reply(s, error("a request from the client is cut short"));
	return reply(s, s->t->ops->lock(s->t, wait));
}

static int op_state(struct serve *s)
{
	struct target_info info = TARGET_INFO_INIT;
	int rc = s->t->ops->state(s->t, &info);
	if (rc < 0) {
		target_info_release(&info);
		return reply_fail(s, rc);
	}
	struct buf b = BUF_INIT;
	wire_put_list(&b, &info.releases);
	wire_put_str(&b, info.current ? info.current : "");
	wire_put_u64(&b, (uint64_t)info.live_dir);
	rc = reply_ok(s, &b);
	buf_release(&b);
	target_info_release(&info);
	return rc;
}

static int op_begin(struct serve *s, struct wire_rd *r)
{
	char *id;
	int rc = get_id(r, &id, 0);
	if (!rc) {
		manifest_release(&s->m);
		s->m = (struct manifest)MANIFEST_INIT;
		s->have_manifest = 0;
		rc = s->t->ops->begin(s->t, id);
	}
	free(id);
	return reply(s, rc);
}

/* The manifest follows; answer with the objects this root lacks, each (hash, mode) once. */
static void index_objects(struct serve *s)
{
	free(s->keys);
	s->keys = xcalloc(s->m.nr ? s->m.nr : 1, sizeof(*s->keys));
	s->nkeys = 0;
	for (size_t i = 0; i < s->m.nr; i++) {
		if (s->m.v[i].type != ENT_FILE)
			continue;
		struct obj_key *k = &s->keys[s->nkeys++];
		memcpy(k->hash, s->m.v[i].hash, HASH_LEN);
		k->mode = store_object_mode(s->m.v[i].mode);
		k->entry = i;
	}
	qsort(s->keys, s->nkeys, sizeof(*s->keys), cmp_key);
}

/* .cutover/sent/<id>.zst: what the client sent for the live release, the base of its next delta. */
static char *sent_path(struct serve *s, const char *id)
{
	return xasprintf("%s/sent/%s.zst", local_of(s->t)->root.meta, id);
}

/* The plain manifest of a delta: the stored base with the change applied, both checked by hash. 1: ask for it whole. */
static int delta_to_plain(struct serve *s, const char *base_id, const void *base_sha, const void *new_sha,
			  const struct buf *delta, struct buf *plain)
{
	char *path = sent_path(s, base_id);
	struct buf z = BUF_INIT, base_plain = BUF_INIT;
	struct manifest base = MANIFEST_INIT;
	unsigned char h[HASH_LEN];
	int rc = 1;
	if (fs_read_file(&z, path, (size_t)WIRE_MAX * 32, 1) != 0 || wire_unzstd(&base_plain, z.buf, z.len, path) < 0)
		goto out;
	hash_bytes(h, base_plain.buf, base_plain.len);
	if (memcmp(h, base_sha, HASH_LEN) || wire_manifest_decode(&base, base_plain.buf, base_plain.len, path, 0) < 0)
		goto out;
	if (wire_manifest_apply(plain, &base, delta->buf, delta->len, "the client's manifest delta") < 0) {
		rc = -1;
		goto out;
	}
	hash_bytes(h, plain->buf, plain->len);
	rc = memcmp(h, new_sha, HASH_LEN) ? 1 : 0;
out:
	if (rc)
		buf_reset(plain);
	manifest_release(&base);
	buf_release(&z);
	buf_release(&base_plain);
	free(path);
	return rc;
}

static int op_missing(struct serve *s, struct wire_rd *r)
{
	struct local_target *l = local_of(s->t);
	uint64_t kind = wire_get_u64(r);
	char *base_id = kind == 1 ? wire_get_str(r) : NULL;
	size_t bl = 0, nl = 0;
	const void *base_sha = kind == 1 ? wire_get_blob(r, &bl) : NULL;
	const void *new_sha = kind == 1 ? wire_get_blob(r, &nl) : NULL;
	struct buf in = BUF_INIT;
	int got = wire_recv_stream(&s->w, &in, "the client's manifest");
	if (got < 0 && s->w.broken) {
		free(base_id);
		buf_release(&in);
		return -1;
	}
	manifest_release(&s->m);
	s->m = (struct manifest)MANIFEST_INIT;
	s->have_manifest = 0;
	buf_reset(&s->sent);
	int rc = got;
	if (!rc && !l->store_ready)
		rc = error("the client sent a manifest before 'begin'");
	if (!rc && kind > 1)
		rc = error("the client sent a manifest of an unknown kind %llu", (unsigned long long)kind);
	if (!rc && kind == 1) {
		if (r->bad || !base_id || !release_id_valid(base_id) || bl != HASH_LEN || nl != HASH_LEN)
			rc = error("a malformed manifest delta request from the client");
		else
			rc = delta_to_plain(s, base_id, base_sha, new_sha, &in, &s->sent);
		if (rc == 1) {
			/* no such base here (pruned, never stored, another client's): ask for it whole */
			struct buf b = BUF_INIT;
			wire_put_u64(&b, 1);
			free(base_id);
			buf_release(&in);
			rc = reply_ok(s, &b);
			buf_release(&b);
			return rc;
		}
	} else if (!rc) {
		buf_add(&s->sent, in.buf, in.len);
	}
	free(base_id);
	buf_release(&in);
	if (!rc)
		rc = wire_manifest_decode(&s->m, s->sent.buf, s->sent.len, "the client's manifest", 1);
	if (rc < 0) {
		buf_reset(&s->sent);
		return reply_fail(s, rc);
	}
	s->have_manifest = 1;
	index_objects(s);
	struct buf b = BUF_INIT;
	struct buf list = BUF_INIT;
	uint64_t n = 0;
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct entry *e = &s->m.v[s->keys[i].entry];
		if (i && !cmp_key(&s->keys[i - 1], &s->keys[i]))
			continue; /* once per object */
		if (store_has(&l->store, e->hash, e->mode))
			continue;
		wire_put_blob(&list, e->hash, HASH_LEN);
		wire_put_u64(&list, e->mode & 07777);
		n++;
	}
	wire_put_u64(&b, 0); /* the manifest is here */
	wire_put_u64(&b, n);
	buf_add(&b, list.buf, list.len);
	buf_release(&list);
	rc = reply_ok(s, &b);
	buf_release(&b);
	return rc;
}

/* The manifest has a file with this content and mode. */
static int wanted(const struct serve *s, const unsigned char *hash, unsigned mode)
{
	struct obj_key k = { .mode = store_object_mode(mode) };
	memcpy(k.hash, hash, HASH_LEN);
	return s->nkeys && bsearch(&k, s->keys, s->nkeys, sizeof(k), cmp_key) != NULL;
}

/*
 * One object: DATA frames of one zstd stream, then END with its hash, mode
 * and size. The bytes go to a spool file while they are hashed; a match
 * moves the file into the store. Returns 0, -1 (reported; the stream's
 * frames have been read), or -2 (the connection failed).
 */
static int receive_object(struct serve *s, ZSTD_DCtx *dz, struct buf *frame, int failed)
{
	struct local_target *l = local_of(s->t);
	char *path = xasprintf("%s/recv-%u", l->spool, s->spool_seq++);
	int fd = failed ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct hash_ctx *hc = hash_begin();
	unsigned char got[HASH_LEN];
	uint64_t size = 0;
	int rc = failed ? -1 : 0;
	char out[1 << 16];
	if (!failed && fd < 0)
		rc = error_errno("cannot create '%s'", path);
	ZSTD_DCtx_reset(dz, ZSTD_reset_session_only);
	for (;;) {
		int type = wire_recv(&s->w, frame);
		if (type < 0) {
			rc = -2;
			break;
		}
		if (type == WF_END)
			break;
		if (type != WF_DATA) {
			rc = -2;
			error("the client sent a frame of type %d inside an object", type);
			s->w.broken = 1;
			break;
		}
		if (rc < 0)
			continue; /* failed: read the stream to its end */
		ZSTD_inBuffer in = { frame->buf, frame->len, 0 };
		while (in.pos < in.size && rc == 0) {
			ZSTD_outBuffer o = { out, sizeof(out), 0 };
			size_t z = ZSTD_decompressStream(dz, &o, &in);
			if (ZSTD_isError(z)) {
				rc = error("an object from the client does not decompress: %s", ZSTD_getErrorName(z));
				break;
			}
			hash_update(hc, out, o.pos);
			size += o.pos;
			if (o.pos && fs_write_all(fd, out, o.pos) < 0)
				rc = error_errno("cannot write '%s'", path);
		}
	}
	hash_end(hc, got);
	if (rc == -2)
		goto out;
	struct wire_rd r;
	size_t hlen;
	wire_rd_init(&r, frame);
	const unsigned char *hash = wire_get_blob(&r, &hlen);
	unsigned mode = (unsigned)wire_get_u64(&r);
	uint64_t claimed = wire_get_u64(&r);
	if (rc < 0)
		goto out;
	if (r.bad || hlen != HASH_LEN || mode & ~07777u) {
		rc = error("the client sent a malformed object trailer");
		goto out;
	}
	if (!wanted(s, hash, mode)) {
		rc = error("the client sent an object the manifest does not use");
		goto out;
	}
	if (size != claimed || memcmp(hash, got, HASH_LEN)) {
		char hex[HASH_HEX + 1];
		hash_to_hex(hex, hash);
		rc = error("an object arrived with other bytes than its name says (%s, %llu bytes); the source "
			   "changed while it was being deployed, or the connection damaged it",
			   hex, (unsigned long long)size);
		s->t->cache_lied = 1;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = error_errno("cannot write '%s'", path);
		goto out;
	}
	fd = -1;
	struct entry e = { 0 };
	memcpy(e.hash, hash, HASH_LEN);
	e.mode = mode;
	e.size = size;
	e.origin = path;
	e.type = ENT_FILE;
	rc = store_put(&l->store, &e, 1) < 0 ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(path);
	return rc;
}

static int op_put(struct serve *s, struct wire_rd *r)
{
	uint64_t count = wire_get_u64(r);
	if (r->bad)
		return reply(s, error("a request from the client is cut short"));
	if (!s->have_manifest)
		return reply(s, error("the client sent objects before its manifest"));
	ZSTD_DCtx *dz = ZSTD_createDCtx();
	struct buf frame = BUF_INIT;
	int failed = 0, rc;
	uint64_t stored = 0;
	s->defer = 1;
	for (uint64_t i = 0; i < count; i++) {
		rc = receive_object(s, dz, &frame, failed);
		if (rc == -2)
			break;
		if (rc < 0)
			failed = 1;
		else
			stored++;
	}
	ZSTD_freeDCtx(dz);
	buf_release(&frame);
	flush_deferred(s);
	if (s->w.broken)
		return -1;
	if (failed)
		return reply_fail(s, -1);
	crashpoint("objects");
	struct buf b = BUF_INIT;
	wire_put_u64(&b, stored);
	rc = reply_ok(s, &b);
	buf_release(&b);
	return rc;
}

static int op_stage(struct serve *s, struct wire_rd *r)
{
	struct strlist shared = STRLIST_INIT, writable = STRLIST_INIT;
	char *id;
	int rc = get_id(r, &id, 0);
	wire_get_list(r, &shared, 10000);
	wire_get_list(r, &writable, 10000);
	if (!rc && r->bad)
		rc = error("a request from the client is cut short");
	if (!rc && !s->have_manifest)
		rc = error("the client asked to stage '%s' before sending its manifest", id);
	if (!rc)
		rc = stage_check_paths(&shared, &writable);
	if (!rc) {
		struct stage_opts o = { &shared, &writable };
		rc = s->t->ops->stage(s->t, id, &s->m, &o);
	}
	free(id);
	strlist_clear(&shared);
	strlist_clear(&writable);
	return reply(s, rc);
}

static int phase_known(const char *p)
{
	return p && (!strcmp(p, "before_switch") || !strcmp(p, "after_switch") || !strcmp(p, "after_rollback"));
}

static int op_hooks(struct serve *s, struct wire_rd *r)
{
	struct strlist cmds = STRLIST_INIT;
	char *phase = wire_get_str(r), *id = NULL, *prev = NULL;
	wire_get_list(r, &cmds, 10000);
	int rc = get_id(r, &id, 0);
	if (!rc)
		rc = get_id(r, &prev, 1);
	if (!rc && (r->bad || !phase_known(phase)))
		rc = error("the client asked for an unknown hook phase '%.40s'", phase ? phase : "");
	if (!rc)
		rc = s->t->ops->hooks(s->t, phase, &cmds, id, prev);
	free(phase);
	free(id);
	free(prev);
	strlist_clear(&cmds);
	return reply(s, rc);
}

static int op_seal(struct serve *s, struct wire_rd *r)
{
	char *id;
	int rc = get_id(r, &id, 0);
	uint64_t refresh = wire_get_u64(r);
	if (!rc && r->bad)
		rc = error("a request from the client is cut short");
	if (!rc && refresh && !s->have_manifest)
		rc = error("the client asked to seal '%s' without its manifest", id);
	if (!rc)
		rc = s->t->ops->seal(s->t, id, &s->m, refresh != 0);
	if (!rc)
		crashpoint("synced");
	free(id);
	return reply(s, rc);
}

/* The live release's manifest as the client sent it, for its next delta; only the newest is kept. */
static void keep_sent(struct serve *s, const char *id)
{
	if (!s->sent.len)
		return;
	char *dir = xasprintf("%s/sent", local_of(s->t)->root.meta), *path = sent_path(s, id);
	size_t cap = ZSTD_compressBound(s->sent.len);
	char *z = xmalloc(cap);
	size_t zn = ZSTD_compress(z, cap, s->sent.buf, s->sent.len, 3);
	fs_rm_rf(dir);
	if (!ZSTD_isError(zn) && fs_mkdir_p(dir, 0700) == 0)
		fs_write_atomic(path, z, zn, 0600); /* a failure costs the next deploy a whole manifest, no more */
	free(z);
	free(dir);
	free(path);
}

/* switch, adopt, abort, commit: one id. */
static int op_id(struct serve *s, struct wire_rd *r, const char *op)
{
	char *id;
	int rc = get_id(r, &id, !strcmp(op, "switch"));
	if (!rc) {
		if (!strcmp(op, "switch"))
			rc = s->t->ops->switch_to(s->t, id);
		else if (!strcmp(op, "adopt"))
			rc = s->t->ops->adopt(s->t, id);
		else if (!strcmp(op, "abort"))
			rc = s->t->ops->abort(s->t, id);
		else if ((rc = s->t->ops->commit(s->t, id)) == 0)
			keep_sent(s, id);
	}
	free(id);
	return reply(s, rc);
}

static int op_check(struct serve *s, struct wire_rd *r)
{
	struct check_opts c = { 0 };
	char *spec = wire_get_str(r), *id = NULL, *prev = NULL;
	c.timeout_ms = (long)wire_get_u64(r);
	c.retries = (int)wire_get_u64(r);
	c.interval_ms = (long)wire_get_u64(r);
	int rc = get_id(r, &id, 0);
	if (!rc)
		rc = get_id(r, &prev, 1);
	if (!rc && (r->bad || !spec || !*spec || c.timeout_ms < 0 || c.retries < 0 || c.retries > 1000 ||
		    c.interval_ms < 0))
		rc = error("a malformed check request from the client");
	c.spec = spec;
	if (!rc)
		rc = s->t->ops->check(s->t, &c, id, prev);
	free(spec);
	free(id);
	free(prev);
	return reply(s, rc);
}

static int op_record(struct serve *s, struct wire_rd *r)
{
	struct history_rec h = HISTORY_REC_INIT;
	char *f[5];
	for (int i = 0; i < 5; i++)
		f[i] = wire_get_str(r);
	h.duration_ms = (int64_t)wire_get_u64(r);
	h.files = (int64_t)wire_get_u64(r);
	h.new_bytes = (int64_t)wire_get_u64(r);
	int rc;
	if (r->bad)
		rc = error("a request from the client is cut short");
	else {
		h.action = f[0];
		h.release = *f[1] ? f[1] : NULL;
		h.previous = *f[2] ? f[2] : NULL;
		h.outcome = f[3];
		h.message = *f[4] ? f[4] : NULL;
		rc = s->t->ops->record(s->t, &h);
	}
	for (int i = 0; i < 5; i++)
		free(f[i]);
	return reply(s, rc);
}

static int op_prune(struct serve *s, struct wire_rd *r)
{
	uint64_t keep = wire_get_u64(r);
	if (r->bad || keep > 100000)
		return reply(s, error("a malformed prune request from the client"));
	struct strlist removed = STRLIST_INIT;
	int64_t freed = 0;
	int rc = s->t->ops->prune(s->t, (int)keep, &removed, &freed);
	if (rc < 0) {
		strlist_clear(&removed);
		return reply_fail(s, rc);
	}
	struct buf b = BUF_INIT;
	wire_put_list(&b, &removed);
	wire_put_u64(&b, (uint64_t)freed);
	rc = reply_ok(s, &b);
	buf_release(&b);
	strlist_clear(&removed);
	return rc;
}

static int dispatch(struct serve *s, const struct buf *req)
{
	struct wire_rd r;
	wire_rd_init(&r, req);
	char *op = wire_get_str(&r);
	int rc;
	if (!op)
		rc = reply(s, error("a request from the client has no operation"));
	else if (!strcmp(op, "open"))
		rc = op_open(s, &r);
	else if (!s->t)
		rc = reply(s, error("the client asked for '%.40s' before opening a root", op));
	else if (!strcmp(op, "lock"))
		rc = op_lock(s, &r);
	else if (!strcmp(op, "state"))
		rc = op_state(s);
	else if (!strcmp(op, "begin"))
		rc = op_begin(s, &r);
	else if (!strcmp(op, "missing"))
		rc = op_missing(s, &r);
	else if (!strcmp(op, "put"))
		rc = op_put(s, &r);
	else if (!strcmp(op, "stage"))
		rc = op_stage(s, &r);
	else if (!strcmp(op, "hooks"))
		rc = op_hooks(s, &r);
	else if (!strcmp(op, "seal"))
		rc = op_seal(s, &r);
	else if (!strcmp(op, "switch") || !strcmp(op, "adopt") || !strcmp(op, "abort") || !strcmp(op, "commit"))
		rc = op_id(s, &r, op);
	else if (!strcmp(op, "check"))
		rc = op_check(s, &r);
	else if (!strcmp(op, "record"))
		rc = op_record(s, &r);
	else if (!strcmp(op, "prune"))
		rc = op_prune(s, &r);
	else if (!strcmp(op, "run"))
		rc = serve_run(&s->w, s->t, &r);
	else
		rc = reply(s, error("the client asked for an unknown operation '%.40s'", op));
	free(op);
	return rc;
}

/* The client's greeting: the same magic, protocol and program version. */
static int client_hello(struct serve *s, struct buf *frame)
{
	int type = wire_recv(&s->w, frame);
	if (type < 0)
		return -1;
	if (type != WF_HELLO || frame->len < 8 || memcmp(frame->buf, WIRE_MAGIC, 8))
		return error("the client did not greet with the cutover protocol");
	struct buf rest = { .buf = frame->buf + 8, .len = frame->len - 8 };
	struct wire_rd r;
	wire_rd_init(&r, &rest);
	uint64_t version = wire_get_u64(&r);
	wire_get_u64(&r);
	char *prog = wire_get_str(&r);
	int rc = 0;
	if (r.bad || version != WIRE_VERSION || !prog || strcmp(prog, CUTOVER_VERSION))
		rc = error("the client speaks protocol %llu of cutover %s; this agent speaks %d of %s",
			   (unsigned long long)version, prog ? prog : "?", WIRE_VERSION, CUTOVER_VERSION);
	free(prog);
	return rc;
}

int serve_agent(int in, int out)
{
	struct serve s = { .m = MANIFEST_INIT, .deferred_lines = STRLIST_INIT, .sent = BUF_INIT };
	struct buf frame = BUF_INIT, hello = BUF_INIT;
	int rc = 0;
	signal(SIGPIPE, SIG_IGN);
	wire_init(&s.w, in, out, "the client");
	buf_init(&s.kinds, 0);
	report_set_sink(sink, &s);
	buf_add(&hello, WIRE_MAGIC, 8);
	wire_put_u64(&hello, WIRE_VERSION);
	wire_put_u64(&hello, 0); /* features */
	wire_put_str(&hello, CUTOVER_VERSION);
	if (wire_send(&s.w, WF_HELLO, hello.buf, hello.len) < 0 || client_hello(&s, &frame) < 0) {
		rc = -1;
		goto out;
	}
	for (;;) {
		int type = wire_recv(&s.w, &frame);
		if (type < 0) {
			rc = s.w.eof ? 0 : -1; /* the client went away between two requests: not an error */
			break;
		}
		if (type == WF_ABORT)
			break;
		if (type != WF_REQ) {
			error("the client sent a frame of type %d where a request belongs", type);
			rc = -1;
			break;
		}
		if (dispatch(&s, &frame) < 0 && s.w.broken) {
			rc = -1;
			break;
		}
	}
out:
	report_set_sink(NULL, NULL);
	if (s.t && s.have_manifest && local_of(s.t)->id)
		local_keep_partial(s.t, &s.m); /* the client went away mid-deploy: keep what arrived */
	if (s.t)
		s.t->ops->close(s.t); /* a deploy left pending is removed by the next lock */
	manifest_release(&s.m);
	free(s.keys);
	buf_release(&s.sent);
	strlist_clear(&s.deferred_lines);
	buf_release(&s.kinds);
	buf_release(&frame);
	buf_release(&hello);
	wire_release(&s.w);
	return rc;
}
