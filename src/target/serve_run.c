/*
 * The agent's "run" request: a command that reads or tends the root, run
 * as a child of the agent so that its output can be relayed: the same
 * output and exit status as on the host itself.
 */
#include "target/serve.h"
#include "util/error.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const allowed[] = { "releases", "status", "log", "verify", "diff", "prune", "pin", "unpin", NULL };

static int allowed_command(const char *name)
{
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(allowed[i], name))
			return 1;
	return 0;
}

static int fail(struct wire *w, const char *msg)
{
	struct buf b = BUF_INIT;
	error("%s", msg);
	wire_put_u64(&b, CUT_USAGE);
	wire_put_str(&b, error_last());
	wire_put_u64(&b, 0);
	int rc = wire_send(w, WF_FAIL, b.buf, b.len);
	buf_release(&b);
	return rc;
}

/* Relay the child's two pipes as OUT frames until both close. */
static int relay(struct wire *w, int out_fd, int err_fd)
{
	struct pollfd p[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	char chunk[16384];
	int open_fds = 2, rc = 0;
	while (open_fds) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return error_errno("cannot wait for the command's output");
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			struct buf b = BUF_INIT;
			wire_put_u64(&b, (uint64_t)(i + 1));
			wire_put_blob(&b, chunk, (size_t)n);
			if (rc == 0 && wire_send(w, WF_OUT, b.buf, b.len) < 0)
				rc = -1; /* keep reading so that the child is not stuck on a full pipe */
			buf_release(&b);
		}
	}
	return rc;
}

int serve_run(struct wire *w, struct target *t, struct wire_rd *r)
{
	struct strlist argv = STRLIST_INIT;
	wire_get_list(r, &argv, 64);
	if (r->bad || !argv.nr) {
		strlist_clear(&argv);
		return fail(w, "a malformed run request from the client");
	}
	if (!allowed_command(argv.items[0])) {
		char msg[128];
		snprintf(msg, sizeof(msg), "'%.40s' cannot be run on a remote root", argv.items[0]);
		strlist_clear(&argv);
		return fail(w, msg);
	}
	/* the child works on the open root only, and reads no cutover.yml of the host */
	char **args = xcalloc(argv.nr + 6, sizeof(*args));
	size_t k = 0;
	args[k++] = "cutover";
	for (size_t i = 0; i < argv.nr; i++)
		args[k++] = argv.items[i];
	args[k++] = "--to";
	args[k++] = (char *)t->local_root;
	args[k++] = "--config";
	args[k++] = "/dev/null";
	args[k] = NULL;

	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, rc = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		error_errno("cannot create a pipe");
		goto done;
	}
	pid_t pid = fork();
	if (pid < 0) {
		error_errno("cannot fork");
		goto done;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		if (chdir(t->local_root) < 0)
			_exit(127);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	int relayed = relay(w, out[0], err[0]);
	out[0] = err[0] = -1;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (relayed < 0) {
		rc = -1;
		goto done;
	}
	struct buf b = BUF_INIT;
	wire_put_u64(&b, WIFEXITED(st) ? (uint64_t)WEXITSTATUS(st) : (uint64_t)CUT_INTERNAL);
	rc = wire_send(w, WF_OK, b.buf, b.len);
	buf_release(&b);
	goto free;
done:
	if (rc < 0 && !w->broken) {
		struct buf f = BUF_INIT;
		wire_put_u64(&f, CUT_INTERNAL);
		wire_put_str(&f, error_last());
		wire_put_u64(&f, 0);
		rc = wire_send(w, WF_FAIL, f.buf, f.len);
		buf_release(&f);
	}
free:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(args);
	strlist_clear(&argv);
	return rc;
}
