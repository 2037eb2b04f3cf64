/*
 * The ssh target: the same operations as local.c, sent to `cutover agent`
 * on the host over one OpenSSH connection (BatchMode; the user's ssh
 * config, agent, keys, jump hosts and ControlMaster apply). The host needs
 * nothing installed: a small shell bootstrap runs the agent binary kept in
 * <root>/.cutover/bin/ when it is this client's exact binary, and else
 * receives this binary over the same connection, checks its SHA-256 and
 * installs it atomically first (docs/remote.md).
 */
#include "target/ssh.h"
#include "target/url.h"
#include "target/wire.h"
#include "target/wire_manifest.h"
#include "source/source.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/version.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define BOOT_MARK "CUTOVER-BOOT-1"
#define JUNK_SHOWN 300
#define DATA_CHUNK (256u << 10)

struct ssh_target {
	struct target t;
	struct target_url url;
	pid_t pid;
	int to_fd, from_fd, err_fd;
	struct wire w;
	pthread_t err_thread;
	int err_started;
	struct buf err; /* what ssh printed on stderr (the last lines) */
	pthread_mutex_t err_lock;
	char *spool; /* the client's spool for streamed sources */
	int create, sudo;
	struct strlist releases; /* the host's, as state() last said */
	char *id;                /* the deploy under way */
	struct buf sent;         /* its manifest's plain encoding, kept for the next delta once it is live */
};

static struct ssh_target *ssh_of(struct target *t)
{
	return (struct ssh_target *)t; /* t is the first member */
}

/* ---- the program we send ---- */

struct self_exe {
	char *data;
	size_t len;
	char sha[HASH_HEX + 1];
};

static int self_exe_read(struct self_exe *x)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read this program's own binary (/proc/self/exe)");
	}
	x->len = (size_t)st.st_size;
	x->data = xmalloc(x->len ? x->len : 1);
	size_t got = 0;
	while (got < x->len) {
		ssize_t n = read(fd, x->data + got, x->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return error_errno("cannot read this program's own binary (/proc/self/exe)");
		}
		got += (size_t)n;
	}
	close(fd);
	hash_bytes_hex(x->sha, x->data, x->len);
	return 0;
}

/* ---- starting ssh ---- */

/* 'text' for sh: single quotes, each ' as '\''. */
static void shell_quote(struct buf *b, const char *s)
{
	buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_addstr(b, "'\\''");
		else
			buf_addch(b, *s);
	}
	buf_addch(b, '\'');
}

/*
 * The remote command: mark the start of our output (a login shell may
 * print before it), then run the agent kept under the root when it is our
 * exact binary, else ask for it, check it and install it atomically.
 */
static char *bootstrap(const struct ssh_target *s, const struct self_exe *x)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, "R=");
	shell_quote(&b, s->url.path);
	buf_addf(&b, "; S=%s; N=%zu; B=\"$R/.cutover/bin/cutover-%s-%.12s\"; ", x->sha, x->len, CUTOVER_VERSION, x->sha);
	buf_addstr(&b, "printf '%s\\n' " BOOT_MARK "; ");
	if (s->create)
		buf_addstr(&b, "mkdir -p \"$R/.cutover/bin\" || exit 97; ");
	else
		buf_addstr(&b, "[ -d \"$R/.cutover\" ] || { printf 'CUTOVER-NOROOT\\n'; exit 0; }; "
			       "mkdir -p \"$R/.cutover/bin\" || exit 97; ");
	buf_addstr(&b, "if [ -x \"$B\" ] && [ \"$(sha256sum < \"$B\" | cut -c1-64)\" = \"$S\" ]; then "
		       "printf 'CUTOVER-HAVE\\n'; else printf 'CUTOVER-SEND\\n'; T=\"$B.tmp.$$\"; "
		       "head -c \"$N\" > \"$T\" && [ \"$(sha256sum < \"$T\" | cut -c1-64)\" = \"$S\" ] && "
		       "chmod 755 \"$T\" && mv -f \"$T\" \"$B\" || { rm -f \"$T\"; printf 'CUTOVER-BADBIN\\n'; exit 0; }; "
		       "printf 'CUTOVER-INSTALLED\\n'; fi; "
		       "exec \"$B\" agent");
	return buf_detach(&b, NULL);
}

static void *read_stderr(void *arg)
{
	struct ssh_target *s = arg;
	char chunk[4096];
	for (;;) {
		ssize_t n = read(s->err_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pthread_mutex_lock(&s->err_lock);
		if (s->err.len > 8192) { /* keep the last lines only */
			memmove(s->err.buf, s->err.buf + s->err.len - 4096, 4096);
			buf_setlen(&s->err, 4096);
		}
		buf_add(&s->err, chunk, (size_t)n);
		pthread_mutex_unlock(&s->err_lock);
	}
	return NULL;
}

/* The last non-empty line ssh printed on stderr, or "" (static buffer). */
static const char *ssh_said(struct ssh_target *s)
{
	static char line[512];
	line[0] = 0;
	if (s->err_started) {
		pthread_join(s->err_thread, NULL);
		s->err_started = 0;
	}
	pthread_mutex_lock(&s->err_lock);
	size_t n = s->err.len;
	while (n && (s->err.buf[n - 1] == '\n' || s->err.buf[n - 1] == '\r'))
		n--;
	size_t start = n;
	while (start && s->err.buf[start - 1] != '\n')
		start--;
	snprintf(line, sizeof(line), "%.*s", (int)(n - start), s->err.buf + start);
	pthread_mutex_unlock(&s->err_lock);
	return line;
}

/* The ssh command: $CUTOVER_SSH (split on spaces) or "ssh", then our options. */
static void ssh_argv(struct strlist *a, const struct ssh_target *s, const char *cmd)
{
	const char *env = getenv("CUTOVER_SSH");
	if (env && *env) {
		char *copy = xstrdup(env), *save = NULL;
		for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			strlist_push(a, w);
		free(copy);
	} else {
		strlist_push(a, "ssh");
	}
	strlist_push(a, "-o");
	strlist_push(a, "BatchMode=yes");
	strlist_push(a, "-o");
	strlist_push(a, "ServerAliveInterval=15");
	strlist_push(a, "-T");
	if (s->url.port) {
		char p[16];
		snprintf(p, sizeof(p), "%d", s->url.port);
		strlist_push(a, "-p");
		strlist_push(a, p);
	}
	if (s->url.user) {
		strlist_push(a, "-l");
		strlist_push(a, s->url.user);
	}
	strlist_push(a, "--");
	strlist_push(a, s->url.host);
	strlist_push(a, cmd);
}

static int spawn_ssh(struct ssh_target *s, const char *cmd)
{
	int in[2], out[2], err[2];
	struct strlist args = STRLIST_INIT;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return error_errno("cannot create a pipe for ssh");
	ssh_argv(&args, s, cmd);
	char **argv = xcalloc(args.nr + 1, sizeof(*argv));
	for (size_t i = 0; i < args.nr; i++)
		argv[i] = args.items[i];
	pid_t parent = getpid();
	s->pid = fork();
	if (s->pid < 0) {
		free(argv);
		strlist_clear(&args);
		return error_errno("cannot fork to run ssh");
	}
	if (s->pid == 0) {
		/* its own process group: a ^C reaches us, and we end the session cleanly;
		 * and it dies with us, so that a killed client leaves no session (and no
		 * lock) behind on the host */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	strlist_clear(&args);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	s->to_fd = in[1];
	s->from_fd = out[0];
	s->err_fd = err[0];
	s->err_started = pthread_create(&s->err_thread, NULL, read_stderr, s) == 0;
	return 0;
}

/* Read one line (up to 1 KiB) byte by byte: nothing past it is consumed. 1, 0 at EOF, -1. */
static int read_line(int fd, struct buf *line)
{
	buf_reset(line);
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return line->len ? 1 : 0;
		if (c == '\n')
			return 1;
		if (line->len < 1024)
			buf_addch(line, c);
	}
}

/* The exit status of ssh, once it has ended (-1 while it runs or when unknown). */
static int ssh_wait(struct ssh_target *s, int hang)
{
	int st;
	if (s->pid <= 0)
		return -1;
	pid_t r;
	while ((r = waitpid(s->pid, &st, hang ? 0 : WNOHANG)) < 0 && errno == EINTR)
		;
	if (r != s->pid)
		return -1;
	s->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ssh ended before the agent spoke: say why, in the words of ssh or of the shell. */
static int boot_failed(struct ssh_target *s, const struct buf *junk)
{
	close(s->to_fd);
	s->to_fd = -1;
	int st = ssh_wait(s, 1);
	const char *said = ssh_said(s);
	if (s->sudo && strstr(said, "sudo"))
		return error("'%s': sudo would ask for a password (%s): allow the deploy user to run cutover's agent "
			     "without one (a NOPASSWD rule), or deploy as a user who owns '%s'",
			     s->url.host, said, s->url.path);
	if (st == 255)
		return error("cannot reach '%s': %s", s->url.host, *said ? said : "ssh failed (exit status 255)");
	if (junk->len)
		return error("'%s': the remote shell printed '%.*s' and cutover did not start (exit status %d%s%s)",
			     s->url.host, (int)(junk->len > JUNK_SHOWN ? JUNK_SHOWN : junk->len), junk->buf, st,
			     *said ? "; " : "", said);
	if (st == 97)
		return error("'%s': cannot create '%s/.cutover/bin': permission denied or no space; %s",
			     s->url.host, s->url.path, *said ? said : "check the path and its owner");
	return error("'%s': the remote command ended before cutover started (exit status %d)%s%s", s->url.host, st,
		     *said ? ": " : "", said);
}

static int send_binary(struct ssh_target *s, const struct self_exe *x)
{
	size_t off = 0;
	while (off < x->len) {
		ssize_t n = write(s->to_fd, x->data + off, x->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* errno set; the caller says what the host said */
		off += (size_t)n;
	}
	return 0;
}

/* Bootstrap, then the greeting both ways. */
static int connect_agent(struct ssh_target *s)
{
	struct self_exe x = { 0 };
	struct buf line = BUF_INIT, junk = BUF_INIT;
	int rc = -1;
	if (self_exe_read(&x) < 0)
		return -1;
	char *cmd = bootstrap(s, &x);
	if (s->sudo) {
		/* the whole bootstrap as root: it writes under a root the login user may not own */
		struct buf w = BUF_INIT;
		buf_addstr(&w, "sudo -n sh -c ");
		shell_quote(&w, cmd);
		free(cmd);
		cmd = buf_detach(&w, NULL);
	}
	if (spawn_ssh(s, cmd) < 0)
		goto out;
	for (;;) {
		int r = read_line(s->from_fd, &line);
		if (r <= 0) {
			rc = boot_failed(s, &junk);
			goto out;
		}
		if (line.len == strlen(BOOT_MARK) && !memcmp(line.buf, BOOT_MARK, line.len))
			break;
		if (junk.len < 4096) {
			buf_add(&junk, line.buf, line.len);
			buf_addch(&junk, '\n');
		}
	}
	if (junk.len) {
		/* a login shell that prints: harmless here, but worth knowing (rsync would break on it) */
		while (junk.len && junk.buf[junk.len - 1] == '\n')
			buf_setlen(&junk, junk.len - 1);
		note("%s: the remote shell printed '%.*s' before cutover started (skipped)", s->url.host,
		     (int)(junk.len > 120 ? 120 : junk.len), junk.buf);
	}
	if (read_line(s->from_fd, &line) <= 0) {
		rc = boot_failed(s, &junk);
		goto out;
	}
	if (!strcmp(line.buf ? line.buf : "", "CUTOVER-NOROOT")) {
		rc = error("'%s:%s' is not a cutover root (no .cutover/)%s; run 'cutover init %s' first%s", s->url.host,
			   s->url.path, s->sudo ? "" : ", or the login user cannot reach it", s->t.name,
			   s->sudo ? "" : " (or add --sudo)");
		goto out;
	}
	if (!strcmp(line.buf, "CUTOVER-SEND")) {
		note("%s: installing cutover %s in %s/.cutover/bin", s->url.host, CUTOVER_VERSION, s->url.path);
		if (send_binary(s, &x) < 0) {
			/* the host stopped reading: what did it say (no space, a read-only file system)? */
			int err = errno;
			close(s->to_fd);
			s->to_fd = -1;
			ssh_wait(s, 1);
			const char *said = ssh_said(s);
			rc = error("'%s': cutover could not be installed in %s/.cutover/bin: %s", s->url.host, s->url.path,
				   *said ? said : strerror(err));
			goto out;
		}
		if (read_line(s->from_fd, &line) <= 0) {
			rc = boot_failed(s, &junk);
			goto out;
		}
		if (!strcmp(line.buf, "CUTOVER-BADBIN")) {
			rc = error("'%s': the cutover binary arrived damaged (its SHA-256 did not match), or it could "
				   "not be written to %s/.cutover/bin",
				   s->url.host, s->url.path);
			goto out;
		}
		if (strcmp(line.buf, "CUTOVER-INSTALLED")) {
			rc = error("'%s': unexpected output after the binary was sent: '%.80s'", s->url.host, line.buf);
			goto out;
		}
	} else if (strcmp(line.buf, "CUTOVER-HAVE")) {
		rc = error("'%s': unexpected output from the bootstrap: '%.80s'", s->url.host, line.buf);
		goto out;
	}
	wire_init(&s->w, s->from_fd, s->to_fd, s->url.host);
	struct buf hello = BUF_INIT;
	int type = wire_recv(&s->w, &hello);
	if (type != WF_HELLO || hello.len < 8 || memcmp(hello.buf, WIRE_MAGIC, 8)) {
		buf_release(&hello);
		if (type >= 0)
			error("'%s': the agent did not greet with the cutover protocol", s->url.host);
		else
			error("'%s': the agent did not start: %s", s->url.host, *ssh_said(s) ? ssh_said(s) : "no greeting");
		goto out;
	}
	struct wire_rd r;
	struct buf rest = { .buf = hello.buf + 8, .len = hello.len - 8 };
	wire_rd_init(&r, &rest);
	uint64_t version = wire_get_u64(&r);
	wire_get_u64(&r); /* features: none yet */
	char *prog = wire_get_str(&r);
	if (r.bad || version != WIRE_VERSION || !prog || strcmp(prog, CUTOVER_VERSION)) {
		error("'%s': the agent speaks protocol %llu of cutover %s; this client speaks %d of %s",
		      s->url.host, (unsigned long long)version, prog ? prog : "?", WIRE_VERSION, CUTOVER_VERSION);
		free(prog);
		buf_release(&hello);
		goto out;
	}
	free(prog);
	buf_reset(&hello);
	buf_add(&hello, WIRE_MAGIC, 8);
	wire_put_u64(&hello, WIRE_VERSION);
	wire_put_u64(&hello, 0);
	wire_put_str(&hello, CUTOVER_VERSION);
	rc = wire_send(&s->w, WF_HELLO, hello.buf, hello.len);
	buf_release(&hello);
out:
	free(cmd);
	free(x.data);
	buf_release(&line);
	buf_release(&junk);
	return rc;
}

/* ---- requests ---- */

/*
 * Send a request and wait for its answer, reporting the agent's LOG lines
 * (prefixed with the host) and writing OUT frames to our stdout/stderr on
 * the way. Returns 0 with the OK payload in *res (optional), or the
 * negated exit code the agent sent (-1, -CUT_LOCKED ...).
 */
static int call(struct ssh_target *s, const struct buf *req, struct buf *res)
{
	struct buf frame = BUF_INIT;
	int rc;
	if (req && wire_send(&s->w, WF_REQ, req->buf, req->len) < 0) {
		rc = -1;
		goto out;
	}
	for (;;) {
		int type = wire_recv(&s->w, &frame);
		if (type < 0) {
			const char *said = ssh_said(s);
			if (*said)
				error("'%s': %s", s->url.host, said);
			rc = -1;
			goto out;
		}
		struct wire_rd r;
		wire_rd_init(&r, &frame);
		if (type == WF_LOG) {
			uint64_t kind = wire_get_u64(&r);
			char *line = wire_get_str(&r);
			if (!line)
				continue;
			if (kind == REPORT_ERROR)
				error("%s: %s", s->url.host, line);
			else if (kind == REPORT_WARNING)
				warning("%s: %s", s->url.host, line);
			else if (kind == REPORT_OUTPUT) {
				char *l = xasprintf("%s: %s", s->url.host, line);
				report_output(l, strlen(l));
				free(l);
			} else
				note("%s: %s", s->url.host, line);
			free(line);
		} else if (type == WF_OUT) {
			uint64_t stream = wire_get_u64(&r);
			size_t n;
			const char *p = wire_get_blob(&r, &n);
			if (p) {
				fflush(stdout);
				fs_write_all(stream == 2 ? 2 : 1, p, n);
			}
		} else if (type == WF_OK) {
			if (res) {
				buf_reset(res);
				buf_add(res, frame.buf, frame.len);
			}
			rc = 0;
			goto out;
		} else if (type == WF_FAIL) {
			uint64_t code = wire_get_u64(&r);
			char *msg = wire_get_str(&r);
			uint64_t flags = wire_get_u64(&r);
			if (!r.bad && flags & 1)
				s->t.cache_lied = 1;
			free(msg);
			rc = code >= 1 && code <= CUT_INTERNAL ? -(int)code : -1;
			goto out;
		} else {
			rc = error("'%s': the agent sent a frame of type %d where an answer belongs", s->url.host, type);
			goto out;
		}
	}
out:
	buf_release(&frame);
	return rc;
}

static void req_init(struct buf *b, const char *op)
{
	buf_init(b, 0);
	wire_put_str(b, op);
}

static int call_simple(struct ssh_target *s, struct buf *req)
{
	int rc = call(s, req, NULL);
	buf_release(req);
	return rc;
}

static int ssh_lock(struct target *t, long wait_ms)
{
	struct buf b;
	req_init(&b, "lock");
	wire_put_u64(&b, (uint64_t)(wait_ms > 0 ? wait_ms : 0));
	return call_simple(ssh_of(t), &b);
}

static int ssh_state(struct target *t, struct target_info *out)
{
	struct ssh_target *s = ssh_of(t);
	struct buf b, res = BUF_INIT;
	req_init(&b, "state");
	int rc = call(s, &b, &res);
	buf_release(&b);
	if (rc == 0) {
		struct wire_rd r;
		wire_rd_init(&r, &res);
		wire_get_list(&r, &out->releases, SIZE_MAX);
		char *cur = wire_get_str(&r);
		out->live_dir = (int)wire_get_u64(&r);
		strlist_clear(&s->releases);
		for (size_t i = 0; i < out->releases.nr; i++)
			strlist_push(&s->releases, out->releases.items[i]);
		if (r.bad)
			rc = error("'%s': a malformed answer to 'state'", s->url.host);
		if (cur && *cur)
			out->current = cur;
		else
			free(cur);
	}
	buf_release(&res);
	return rc;
}

static int ssh_id_op(struct target *t, const char *op, const char *id)
{
	struct buf b;
	req_init(&b, op);
	wire_put_str(&b, id ? id : "");
	return call_simple(ssh_of(t), &b);
}

static int ssh_begin(struct target *t, const char *id)
{
	struct ssh_target *s = ssh_of(t);
	free(s->id);
	s->id = xstrdup(id);
	return ssh_id_op(t, "begin", id);
}

static int ssh_stage(struct target *t, const char *id, struct manifest *m, const struct stage_opts *o)
{
	struct buf b;
	req_init(&b, "stage");
	wire_put_str(&b, id);
	wire_put_list(&b, o->shared);
	wire_put_list(&b, o->writable);
	return call_simple(ssh_of(t), &b);
}

static int ssh_hooks(struct target *t, const char *phase, const struct strlist *cmds, const char *id,
		     const char *previous)
{
	if (!cmds || !cmds->nr)
		return 0;
	struct buf b;
	req_init(&b, "hooks");
	wire_put_str(&b, phase);
	wire_put_list(&b, cmds);
	wire_put_str(&b, id);
	wire_put_str(&b, previous ? previous : "");
	return call_simple(ssh_of(t), &b);
}

static int ssh_seal(struct target *t, const char *id, struct manifest *m, int refresh)
{
	struct buf b;
	req_init(&b, "seal");
	wire_put_str(&b, id);
	wire_put_u64(&b, refresh ? 1 : 0);
	return call_simple(ssh_of(t), &b);
}

static int ssh_switch_to(struct target *t, const char *id)
{
	return ssh_id_op(t, "switch", id);
}

static int ssh_adopt(struct target *t, const char *id)
{
	return ssh_id_op(t, "adopt", id);
}

static int ssh_abort(struct target *t, const char *id)
{
	return ssh_id_op(t, "abort", id);
}

/* <cache_dir>/last-sent: the id and the manifest (zstd) of the last release we made live there. */
static char *last_sent_path(const struct ssh_target *s)
{
	return path_join(s->t.cache_dir, "last-sent");
}

static int ssh_commit(struct target *t, const char *id)
{
	struct ssh_target *s = ssh_of(t);
	int rc = ssh_id_op(t, "commit", id);
	if (rc == 0 && s->sent.len) {
		struct buf f = BUF_INIT;
		size_t cap = ZSTD_compressBound(s->sent.len);
		char *z = xmalloc(cap);
		size_t zn = ZSTD_compress(z, cap, s->sent.buf, s->sent.len, 3);
		char *path = last_sent_path(s);
		if (!ZSTD_isError(zn)) {
			wire_put_str(&f, id);
			wire_put_blob(&f, z, zn);
			fs_write_atomic(path, f.buf, f.len, 0600); /* lost: the next deploy sends the whole manifest */
		}
		free(path);
		free(z);
		buf_release(&f);
	}
	return rc;
}

/*
 * The manifest of the last release we made live on this host, when the host
 * still has that release: the base a delta can be sent against. 0 with
 * *base and *base_plain filled, or -1 (nothing usable; not an error).
 */
static int last_sent(struct ssh_target *s, char **base_id, struct buf *base_plain, struct manifest *base)
{
	char *path = last_sent_path(s);
	struct buf f = BUF_INIT;
	int rc = -1;
	if (fs_read_file(&f, path, (size_t)1 << 30, 1) != 0)
		goto out;
	struct wire_rd r;
	wire_rd_init(&r, &f);
	char *id = wire_get_str(&r);
	size_t zn;
	const void *z = wire_get_blob(&r, &zn);
	if (!id || !z || !strlist_has(&s->releases, id)) {
		free(id);
		goto out;
	}
	if (wire_unzstd(base_plain, z, zn, path) < 0 ||
	    wire_manifest_decode(base, base_plain->buf, base_plain->len, path, 0) < 0) {
		free(id);
		goto out;
	}
	*base_id = id;
	rc = 0;
out:
	buf_release(&f);
	free(path);
	return rc;
}

/*
 * "Which objects does the host lack?": the manifest goes as a change of the
 * last one we made live there when the host has it (a one-file change is a
 * few hundred bytes whatever the tree), else whole. The answer lands in *res.
 */
static int ask_missing(struct ssh_target *s, const struct manifest *m, struct buf *res)
{
	char *base_id = NULL;
	struct buf base_plain = BUF_INIT, delta = BUF_INIT, b;
	struct manifest base = MANIFEST_INIT;
	int rc;
	buf_reset(&s->sent);
	wire_manifest_encode(&s->sent, m);
	if (last_sent(s, &base_id, &base_plain, &base) == 0) {
		unsigned char hb[HASH_LEN], hn[HASH_LEN];
		hash_bytes(hb, base_plain.buf, base_plain.len);
		hash_bytes(hn, s->sent.buf, s->sent.len);
		wire_manifest_delta(&delta, &base, m);
		req_init(&b, "missing");
		wire_put_u64(&b, 1);
		wire_put_str(&b, base_id);
		wire_put_blob(&b, hb, HASH_LEN);
		wire_put_blob(&b, hn, HASH_LEN);
		rc = wire_send(&s->w, WF_REQ, b.buf, b.len) < 0 || wire_send_stream(&s->w, delta.buf, delta.len) < 0
			     ? -1
			     : call(s, NULL, res);
		buf_release(&b);
		if (rc < 0 || res->len < 8 || res->buf[7] != 1)
			goto out; /* answered (or failed) */
		/* the host no longer has that base as we sent it: whole, then */
	}
	req_init(&b, "missing");
	wire_put_u64(&b, 0);
	rc = wire_send(&s->w, WF_REQ, b.buf, b.len) < 0 || wire_send_stream(&s->w, s->sent.buf, s->sent.len) < 0
		     ? -1
		     : call(s, NULL, res);
	buf_release(&b);
out:
	free(base_id);
	manifest_release(&base);
	buf_release(&base_plain);
	buf_release(&delta);
	return rc;
}

static int ssh_check(struct target *t, const struct check_opts *c, const char *id, const char *previous)
{
	struct buf b;
	req_init(&b, "check");
	wire_put_str(&b, c->spec);
	wire_put_u64(&b, (uint64_t)c->timeout_ms);
	wire_put_u64(&b, (uint64_t)c->retries);
	wire_put_u64(&b, (uint64_t)c->interval_ms);
	wire_put_str(&b, id);
	wire_put_str(&b, previous ? previous : "");
	return call_simple(ssh_of(t), &b);
}

static int ssh_record(struct target *t, const struct history_rec *h)
{
	struct ssh_target *s = ssh_of(t);
	/* the host's own history needs no "host1: " before what its agent said */
	const char *msg = h->message;
	size_t hl = strlen(s->url.host);
	if (msg && !strncmp(msg, s->url.host, hl) && !strncmp(msg + hl, ": ", 2))
		msg += hl + 2;
	struct buf b;
	req_init(&b, "record");
	wire_put_str(&b, h->action);
	wire_put_str(&b, h->release);
	wire_put_str(&b, h->previous);
	wire_put_str(&b, h->outcome);
	wire_put_str(&b, msg);
	wire_put_u64(&b, (uint64_t)h->duration_ms);
	wire_put_u64(&b, (uint64_t)h->files);
	wire_put_u64(&b, (uint64_t)h->new_bytes);
	return call_simple(ssh_of(t), &b);
}

static int ssh_prune(struct target *t, int keep, struct strlist *removed, int64_t *freed)
{
	struct ssh_target *s = ssh_of(t);
	struct buf b, res = BUF_INIT;
	req_init(&b, "prune");
	wire_put_u64(&b, (uint64_t)keep);
	int rc = call(s, &b, &res);
	buf_release(&b);
	if (rc == 0) {
		struct wire_rd r;
		wire_rd_init(&r, &res);
		wire_get_list(&r, removed, SIZE_MAX);
		*freed = (int64_t)wire_get_u64(&r);
		if (r.bad)
			rc = error("'%s': a malformed answer to 'prune'", s->url.host);
	}
	buf_release(&res);
	return rc;
}

/* ---- sending a source ---- */

/* The files of a manifest sorted by object (content, then stored mode), to find what the host asks for. */
static const struct entry **index_objects(const struct manifest *m, size_t *n)
{
	const struct entry **v = xcalloc(m->nr ? m->nr : 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < m->nr; i++)
		if (m->v[i].type == ENT_FILE)
			v[(*n)++] = &m->v[i];
	qsort(v, *n, sizeof(*v), store_cmp_object);
	return v;
}

static const struct entry *find_object(const struct entry **index, size_t n, const unsigned char *hash, unsigned mode)
{
	struct entry key = { .mode = mode };
	const struct entry *k = &key;
	memcpy(key.hash, hash, HASH_LEN);
	const struct entry **hit = n ? bsearch(&k, index, n, sizeof(*index), store_cmp_object) : NULL;
	return hit ? *hit : NULL;
}

/* One object: its bytes zstd-compressed in DATA frames, then END with hash, mode and size. */
static int send_object(struct ssh_target *s, ZSTD_CCtx *cz, const struct entry *e, char *in, char *out)
{
	int fd = open(e->origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return error_errno("cannot read '%s'", e->origin);
	uint64_t size = 0;
	int rc = 0;
	ZSTD_CCtx_reset(cz, ZSTD_reset_session_only);
	for (int last = 0; !last && rc == 0;) {
		ssize_t n = read(fd, in, DATA_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = error_errno("cannot read '%s'", e->origin);
			break;
		}
		last = n == 0;
		size += (uint64_t)n;
		ZSTD_inBuffer ib = { in, (size_t)n, 0 };
		ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
		for (;;) {
			ZSTD_outBuffer ob = { out, ZSTD_compressBound(DATA_CHUNK), 0 };
			size_t left = ZSTD_compressStream2(cz, &ob, &ib, mode);
			if (ZSTD_isError(left)) {
				rc = error("cannot compress '%s': %s", e->origin, ZSTD_getErrorName(left));
				break;
			}
			if (ob.pos && wire_send(&s->w, WF_DATA, out, ob.pos) < 0) {
				rc = -2;
				break;
			}
			if (last ? left == 0 : ib.pos == ib.size)
				break;
		}
	}
	close(fd);
	if (rc == -2)
		return -2;
	/* an error here still ends the object: the agent drops it (size and hash do not match) */
	struct buf end = BUF_INIT;
	wire_put_blob(&end, e->hash, HASH_LEN);
	wire_put_u64(&end, e->mode & 07777);
	wire_put_u64(&end, rc ? UINT64_MAX : size);
	int sent = wire_send(&s->w, WF_END, end.buf, end.len);
	buf_release(&end);
	if (sent < 0)
		return -2;
	return rc;
}

static int ssh_send(struct target *t, struct source *src, const struct send_opts *o, struct manifest *m,
		    struct send_stats *st)
{
	struct ssh_target *s = ssh_of(t);
	struct source_stats ss = { 0 };
	int spooled, rc;
	if (!s->spool && !o->read) {
		const char *tmp = getenv("TMPDIR");
		s->spool = xasprintf("%s/cutover-spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(s->spool)) {
			error_errno("cannot create '%s'", s->spool);
			free(s->spool);
			s->spool = NULL;
			return -1;
		}
	}
	if (o->read) {
		*st = *o->read; /* the plan read the source while we connected */
	} else {
		struct source_opts so = { .exclude = o->exclude, .spool_dir = s->spool, .stat_cache = o->stat_cache };
		rc = source_read(src, m, &so, &ss, &spooled);
		st->files = ss.files;
		st->bytes = ss.bytes;
		st->hashed_files = ss.hashed_files;
		st->hashed_bytes = ss.hashed_bytes;
		if (rc < 0)
			return -1;
	}
	crashpoint("read");

	/* one round trip: the manifest goes, the objects the host lacks come back */
	struct buf b, res = BUF_INIT;
	rc = ask_missing(s, m, &res);
	if (rc < 0) {
		buf_release(&res);
		return rc;
	}
	struct wire_rd r;
	wire_rd_init(&r, &res);
	if (wire_get_u64(&r) != 0)
		r.bad = 1;
	uint64_t n = wire_get_u64(&r);
	size_t nindex;
	const struct entry **index = index_objects(m, &nindex);
	const struct entry **todo = xcalloc(n && n <= nindex ? n : 1, sizeof(*todo));
	size_t k = 0;
	if (n > nindex)
		r.bad = 1;
	for (uint64_t i = 0; i < n && !r.bad; i++) {
		size_t hl;
		const unsigned char *h = wire_get_blob(&r, &hl);
		unsigned mode = (unsigned)wire_get_u64(&r);
		const struct entry *e = h && hl == HASH_LEN ? find_object(index, nindex, h, mode) : NULL;
		if (!e) {
			r.bad = 1;
			break;
		}
		todo[k++] = e;
	}
	buf_release(&res);
	free(index);
	if (r.bad) {
		free(todo);
		return error("'%s': a malformed answer to 'missing'", s->url.host);
	}

	req_init(&b, "put");
	wire_put_u64(&b, k);
	rc = wire_send(&s->w, WF_REQ, b.buf, b.len);
	buf_release(&b);
	ZSTD_CCtx *cz = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cz, ZSTD_c_compressionLevel, 1); /* fast: objects are often compressed already */
	char *in = xmalloc(DATA_CHUNK), *out = xmalloc(ZSTD_compressBound(DATA_CHUNK));
	int failed = 0;
	for (size_t i = 0; i < k && rc == 0; i++) {
		int one = send_object(s, cz, todo[i], in, out);
		if (one == -2)
			rc = -1;
		else if (one < 0)
			failed = 1;
		else {
			st->new_files++;
			st->new_bytes += todo[i]->size;
		}
	}
	ZSTD_freeCCtx(cz);
	free(in);
	free(out);
	free(todo);
	if (rc == 0)
		rc = call(s, NULL, NULL);
	if (rc == 0 && failed)
		rc = -1;
	if (rc == 0)
		crashpoint("objects");
	return rc;
}

static void ssh_close(struct target *t)
{
	if (!t)
		return;
	struct ssh_target *s = ssh_of(t);
	if (s->to_fd >= 0) {
		if (s->w.out == s->to_fd && !s->w.broken)
			wire_send(&s->w, WF_ABORT, NULL, 0);
		close(s->to_fd);
	}
	if (s->from_fd >= 0)
		close(s->from_fd);
	if (s->pid > 0)
		ssh_wait(s, 1);
	if (s->err_started)
		pthread_join(s->err_thread, NULL);
	if (s->err_fd >= 0)
		close(s->err_fd);
	if (s->spool)
		fs_rm_rf(s->spool);
	free(s->spool);
	free(s->id);
	strlist_clear(&s->releases);
	buf_release(&s->sent);
	wire_release(&s->w);
	buf_release(&s->err);
	pthread_mutex_destroy(&s->err_lock);
	target_url_release(&s->url);
	free(t->name);
	free(t->cache_dir);
	free(s);
}

static const struct target_ops ssh_ops = {
	.lock = ssh_lock,
	.state = ssh_state,
	.begin = ssh_begin,
	.send = ssh_send,
	.stage = ssh_stage,
	.hooks = ssh_hooks,
	.seal = ssh_seal,
	.switch_to = ssh_switch_to,
	.adopt = ssh_adopt,
	.check = ssh_check,
	.abort = ssh_abort,
	.commit = ssh_commit,
	.record = ssh_record,
	.prune = ssh_prune,
	.close = ssh_close,
};

/* ~/.cache/cutover/<host>-<hash of the spec>: the client's stat caches for this target. */
static char *client_cache_dir(const char *spec, const char *host)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char hex[HASH_HEX + 1];
	hash_bytes_hex(hex, spec, strlen(spec));
	char *base = xdg && *xdg ? xasprintf("%s/cutover", xdg) : xasprintf("%s/.cache/cutover", home && *home ? home : "/tmp");
	char *dir = xasprintf("%s/%s-%.16s", base, host, hex);
	free(base);
	if (fs_mkdir_p(dir, 0700) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

char *target_ssh_cache_dir(const char *spec)
{
	struct target_url u;
	if (target_url_parse(&u, spec) < 0)
		return NULL;
	char *dir = client_cache_dir(spec, u.host);
	target_url_release(&u);
	return dir;
}

struct target *target_open_ssh(const char *spec, enum link_mode mode, int flags)
{
	struct ssh_target *s = xcalloc(1, sizeof(*s));
	s->to_fd = s->from_fd = s->err_fd = -1;
	s->create = !!(flags & TARGET_CREATE);
	s->sudo = !!(flags & TARGET_SUDO);
	buf_init(&s->err, 0);
	buf_init(&s->sent, 0);
	pthread_mutex_init(&s->err_lock, NULL);
	s->t.ops = &ssh_ops;
	s->t.name = xstrdup(spec);
	if (target_url_parse(&s->url, spec) < 0)
		goto fail;
	s->t.cache_dir = client_cache_dir(spec, s->url.host);
	if (!s->t.cache_dir)
		goto fail;
	signal(SIGPIPE, SIG_IGN); /* a dead connection is an error, not a signal */
	if (connect_agent(s) < 0)
		goto fail;
	struct buf b;
	req_init(&b, "open");
	wire_put_str(&b, s->url.path);
	wire_put_u64(&b, (uint64_t)mode);
	wire_put_u64(&b, s->create ? 1 : 0);
	if (call_simple(s, &b) < 0)
		goto fail;
	return &s->t;
fail:
	ssh_close(&s->t);
	return NULL;
}

int target_run_remote(const char *spec, const struct strlist *argv, int flags)
{
	struct target *t = target_open_ssh(spec, LINK_HARDLINK, flags);
	if (!t)
		return -1;
	struct ssh_target *s = ssh_of(t);
	struct buf b, res = BUF_INIT;
	req_init(&b, "run");
	wire_put_list(&b, argv);
	int rc = call(s, &b, &res);
	buf_release(&b);
	if (rc == 0) {
		struct wire_rd r;
		wire_rd_init(&r, &res);
		uint64_t status = wire_get_u64(&r);
		rc = r.bad ? error("'%s': a malformed answer to 'run'", s->url.host) : (int)status;
	}
	buf_release(&res);
	ssh_close(t);
	return rc;
}
