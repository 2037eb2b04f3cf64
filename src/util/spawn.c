/*
 * Hooks and command checks: /bin/sh -c in its own process group, output
 * through one pipe, copied to our stderr line by line with a prefix.
 */
#include "util/spawn.h"
#include "util/buf.h"
#include "util/error.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPAWN_CAPTURE_MAX (64 * 1024)
#define SPAWN_LINE_MAX 8192      /* longer lines are broken up when copied */
#define SPAWN_KILL_GRACE_MS 2000 /* SIGTERM to SIGKILL */
#define SPAWN_TICK_MS 50         /* exit polling when pidfd_open is unavailable */
#define SPAWN_DRAIN_MAX (1024 * 1024)

extern char **environ;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Move a descriptor out of 0..2 so the child's dup2 calls cannot clobber it. */
static int fd_above_stdio(int fd)
{
	int nfd;
	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/*
 * The environment for the child: ours, minus the names `extra` overrides,
 * plus `extra`. The array is freed by the caller; its strings are borrowed.
 */
static char **build_env(const struct strlist *extra)
{
	size_t n = 0, k = 0, nextra = extra ? extra->nr : 0;
	char **env;

	for (char **e = environ; e && *e; e++)
		n++;
	env = xcalloc(n + nextra + 1, sizeof(*env));
	for (char **e = environ; e && *e; e++) {
		size_t len = strcspn(*e, "=");
		int overridden = 0;
		for (size_t i = 0; i < nextra && !overridden; i++)
			overridden = !strncmp(extra->items[i], *e, len) && extra->items[i][len] == '=';
		if (!overridden)
			env[k++] = *e;
	}
	for (size_t i = 0; i < nextra; i++)
		env[k++] = extra->items[i];
	env[k] = NULL;
	return env;
}

/* What the child reports through the exec-status pipe when it cannot run. */
struct child_failure {
	int step; /* 0: chdir, 1: execve */
	int err;
};

/*
 * After fork: only async-signal-safe calls, no allocation (the parent may
 * have other threads holding malloc locks).
 */
static void __attribute__((noreturn))
child(const struct spawn_opts *o, char *const argv[], char *const envp[], int devnull, int out,
      int status_fd)
{
	struct child_failure f = { 0, 0 };
	struct sigaction dfl;
	sigset_t none;

	setpgid(0, 0);
	/* Ignored signals survive execve (main() ignores SIGPIPE); hooks get defaults. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	dup2(devnull, 0);
	dup2(out, 1);
	dup2(out, 2);
	/*
	 * Nothing else of ours may reach the command. Mark rather than close, so
	 * that status_fd stays usable until execve closes it.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		struct rlimit rl;
		int max = 65536;
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)
			max = (int)rl.rlim_cur;
		for (int fd = 3; fd < max; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (o->cwd && chdir(o->cwd) < 0) {
		f.err = errno;
	} else {
		execve("/bin/sh", argv, envp);
		f.step = 1;
		f.err = errno;
	}
	while (write(status_fd, &f, sizeof(f)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* Copying the child's output: complete lines to the reporter, raw bytes to o->output. */
struct out_state {
	const struct spawn_opts *o;
	struct buf line;
	size_t captured;
};

static void emit_line(struct out_state *s)
{
	struct buf b = BUF_INIT;
	buf_addstr(&b, s->o->prefix ? s->o->prefix : "");
	buf_add(&b, s->line.buf, s->line.len);
	report_output(b.buf, b.len);
	buf_release(&b);
	buf_reset(&s->line);
}

static void take_output(struct out_state *s, const char *data, size_t len)
{
	if (s->o->output && s->captured < SPAWN_CAPTURE_MAX) {
		size_t n = len < SPAWN_CAPTURE_MAX - s->captured ? len : SPAWN_CAPTURE_MAX - s->captured;
		if (!buf_add(s->o->output, data, n))
			s->captured += n;
	}
	if (s->o->quiet_output)
		return;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (n > SPAWN_LINE_MAX - s->line.len)
			n = SPAWN_LINE_MAX - s->line.len;
		buf_add(&s->line, data, n);
		data += n;
		len -= n;
		if (len && *data == '\n') {
			data++;
			len--;
			emit_line(s);
		} else if (s->line.len >= SPAWN_LINE_MAX) {
			emit_line(s);
		}
	}
}

/*
 * Read what is available. Returns 1 while the pipe is open, 0 at EOF.
 * At most `budget` bytes are taken, so that a busy writer cannot starve
 * the timers.
 */
static int drain(struct out_state *s, int fd, size_t budget)
{
	char chunk[4096];
	while (budget) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 1 : 0;
		if (!n)
			return 0;
		take_output(s, chunk, (size_t)n);
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
	}
	return 1;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/* Has the child exited? Leaves it a zombie, so its pid (and group) stay reserved. */
static int child_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		if (errno != EINTR)
			return 1; /* ECHILD: someone else reaped it */
	return si.si_pid == pid;
}

/* Start the child; returns its pid, or -1 after reporting. *out_fd gets the pipe. */
static pid_t start(const struct spawn_opts *o, int *out_fd)
{
	char *argv[] = { "sh", "-c", (char *)o->cmd, NULL };
	char **envp = NULL;
	int devnull = -1, out[2] = { -1, -1 }, st[2] = { -1, -1 };
	struct child_failure f;
	pid_t pid = -1;
	ssize_t n;

	if (o->env)
		for (size_t i = 0; i < o->env->nr; i++)
			if (!strchr(o->env->items[i], '=') || o->env->items[i][0] == '=')
				return error("invalid environment entry '%s' (want NAME=value)", o->env->items[i]);

	devnull = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (devnull < 0) {
		error_errno("cannot open '/dev/null'");
		goto out;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		error_errno("cannot create a pipe");
		goto out;
	}
	out[0] = fd_above_stdio(out[0]);
	out[1] = fd_above_stdio(out[1]);
	st[1] = fd_above_stdio(st[1]);
	if (out[0] < 0 || out[1] < 0 || st[1] < 0) {
		error_errno("cannot create a pipe");
		goto out;
	}
	envp = build_env(o->env);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		error_errno("cannot fork to run '%s'", o->cmd);
		goto out;
	}
	if (!pid)
		child(o, argv, envp, devnull, out[1], st[1]);

	/* Either side may win the race; both make the group so killpg always finds it. */
	setpgid(pid, pid);
	close(st[1]);
	st[1] = -1;
	do
		n = read(st[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(f)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (f.step == 0)
			error("cannot change directory to '%s': %s", o->cwd, strerror(f.err));
		else
			error("cannot run '/bin/sh': %s", strerror(f.err));
		pid = -1;
		goto out;
	}
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	*out_fd = out[0];
	out[0] = -1;
out:
	free(envp);
	if (devnull >= 0)
		close(devnull);
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (st[i] >= 0)
			close(st[i]);
	}
	return pid;
}

/*
 * The loop ends when the shell has exited: at once (after taking what it
 * wrote) when it finished on its own, since a background child it started
 * may hold the pipe for ever; after a timeout, once the pipe is closed too
 * (everyone who got SIGTERM and still held our output has gone) or at the
 * SIGKILL deadline. The shell is reaped only after the final SIGKILL to the
 * group: its zombie keeps the pid, so the group id cannot have been recycled.
 */
int spawn_shell(const struct spawn_opts *o, int *timed_out)
{
	struct out_state s = { o, BUF_INIT, 0 };
	long start_ms = now_ms(), term_at = 0, kill_at = 0;
	int fd = -1, pidfd, status = 0, pipe_open = 1, exited = 0, term_sent = 0, kill_sent = 0;
	pid_t pid;

	if (timed_out)
		*timed_out = 0;
	pid = start(o, &fd);
	if (pid < 0)
		return -1;
	pidfd = open_pidfd(pid);
	if (o->timeout_ms > 0)
		term_at = start_ms + o->timeout_ms;

	for (;;) {
		struct pollfd pfd[2];
		int nfds = 0, wait_ms = -1, pid_slot = -1;
		long now = now_ms();

		if (term_at && !term_sent && now >= term_at) {
			killpg(pid, SIGTERM);
			term_sent = 1;
			kill_at = now + SPAWN_KILL_GRACE_MS;
		}
		if (term_sent && !kill_sent && now >= kill_at) {
			killpg(pid, SIGKILL);
			kill_sent = 1;
		}
		if (exited && (!pipe_open || kill_sent))
			break;
		if (term_at && !term_sent)
			wait_ms = (int)(term_at - now);
		else if (term_sent && !kill_sent)
			wait_ms = (int)(kill_at - now);
		if (!exited && pidfd < 0 && (wait_ms < 0 || wait_ms > SPAWN_TICK_MS))
			wait_ms = SPAWN_TICK_MS;

		if (pipe_open) {
			pfd[nfds].fd = fd;
			pfd[nfds++].events = POLLIN;
		}
		if (!exited && pidfd >= 0) {
			pid_slot = nfds;
			pfd[nfds].fd = pidfd;
			pfd[nfds++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nfds, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pipe_open && pfd[0].revents)
			pipe_open = drain(&s, fd, 64 * 1024);
		if (!exited)
			exited = pid_slot >= 0 ? (pfd[pid_slot].revents & POLLIN) != 0 : child_exited(pid);
		if (exited && !term_sent) {
			if (pipe_open)
				drain(&s, fd, SPAWN_DRAIN_MAX);
			break;
		}
	}
	if (term_sent)
		killpg(pid, SIGKILL); /* whoever let go of the pipe but lives on */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (s.line.len)
		emit_line(&s); /* a last line without a newline */
	buf_release(&s.line);
	close(fd);
	if (pidfd >= 0)
		close(pidfd);

	if (term_sent) {
		if (timed_out)
			*timed_out = 1;
		if (o->timeout_silent)
			return -1;
		return error("'%s' timed out after %ld ms", o->cmd, o->timeout_ms);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}
