#include "proxy/handover.h"
#include "proxy/ops.h"
#include "util/error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3

void handover_inherit(int *http_fd, int *admin_fd)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	*http_fd = *admin_fd = -1;
	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		goto out;
	int n = (int)strtol(fds, NULL, 10);
	for (int i = 0; i < n && i < 8; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		char name[64] = "";
		if (names) {
			/* colon-separated, in fd order */
			const char *p = names;
			for (int k = 0; k < i && p; k++) {
				p = strchr(p, ':');
				if (p)
					p++;
			}
			if (p)
				snprintf(name, sizeof(name), "%.*s", (int)strcspn(p, ":"), p);
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		/* named "admin", or any unix socket, is the admin socket; the rest is traffic */
		if (!strcmp(name, "admin") || (ss.ss_family == AF_UNIX && strcmp(name, "http")))
			*admin_fd = *admin_fd < 0 ? fd : *admin_fd;
		else if (*http_fd < 0)
			*http_fd = fd;
	}
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* systemd's sd_notify, without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify_text(const char *text)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (!path || !*path || strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = 0; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

void handover_ready(void)
{
	const char *rfd = getenv("CUTOVER_READY_FD");
	char msg[64];
	if (rfd) {
		int fd = (int)strtol(rfd, NULL, 10);
		if (fd > 2) {
			if (write(fd, "R", 1) < 0)
				warning_errno("cannot tell the old proxy we are ready");
			close(fd);
		}
		unsetenv("CUTOVER_READY_FD");
	}
	/* under systemd (NotifyAccess=all) the new process becomes the main one */
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long)getpid());
	sd_notify_text(msg);
}

static void handover_finish(struct proxy *px, int ok, const char *msg)
{
	struct admin_conn *a = px->handover_admin;
	if (px->handover_pipe.fd >= 0) {
		ev_del(&px->loop, &px->handover_pipe);
		close(px->handover_pipe.fd);
		px->handover_pipe.fd = -1;
	}
	px->handover_admin = NULL;
	if (a) {
		admin_say(a, "%s%s", ok ? "" : "error: ", msg);
		admin_end(a, ok ? 0 : 1);
	}
	if (ok) {
		note("%s", msg);
		/* the new process owns the admin socket path now */
		px->admin_owned = 0;
		proxy_stop(px, "handed over");
	} else {
		error("%s", msg);
		int st;
		if (px->handover_pid > 0)
			waitpid(px->handover_pid, &st, WNOHANG);
	}
	px->handover_pid = 0;
}

static void pipe_ev(struct ev_handler *h, int events)
{
	struct proxy *px = container_of(h, struct proxy, handover_pipe);
	char c;
	char msg[160];
	ssize_t n = read(h->fd, &c, 1);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n == 1 && c == 'R') {
		snprintf(msg, sizeof(msg), "handed over to pid %d; this process finishes its connections and exits",
			 px->handover_pid);
		handover_finish(px, 1, msg);
	} else {
		snprintf(msg, sizeof(msg), "the new proxy (pid %d) exited before it was ready; this one keeps serving",
			 px->handover_pid);
		handover_finish(px, 0, msg);
	}
}

/* dup `fd` to `target` without CLOEXEC, in the child before exec */
static int place_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

int handover_start(struct proxy *px, struct admin_conn *a, char *why, size_t why_len)
{
	int p[2];
	if (px->handover_pid) {
		snprintf(why, why_len, "a handover is already in progress");
		return -1;
	}
	if (px->stopping) {
		snprintf(why, why_len, "the proxy is stopping");
		return -1;
	}
	if (!list_empty(&px->ops)) {
		snprintf(why, why_len, "a deploy is in progress; upgrade when it is done");
		return -1;
	}
	if (!px->exe) {
		snprintf(why, why_len, "cannot find our own executable");
		return -1;
	}
	if (state_save_wait(px) < 0) {
		snprintf(why, why_len, "cannot save the routing state for the new process");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, why_len, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "cannot fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char buf[32];
		/* move everything above the target slots first, so dup2 never clobbers a source */
		int lfd = fcntl(px->listener.fd, F_DUPFD_CLOEXEC, 10);
		int afd = fcntl(px->admin.fd, F_DUPFD_CLOEXEC, 10);
		int rfd = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
		if (lfd < 0 || afd < 0 || rfd < 0 || place_fd(lfd, 3) < 0 || place_fd(afd, 4) < 0 ||
		    place_fd(rfd, 5) < 0)
			_exit(127);
		snprintf(buf, sizeof(buf), "%ld", (long)getpid());
		setenv("LISTEN_PID", buf, 1);
		setenv("LISTEN_FDS", "2", 1);
		setenv("LISTEN_FDNAMES", "http:admin", 1);
		setenv("CUTOVER_READY_FD", "5", 1);
		execv(px->exe, px->argv);
		_exit(127);
	}
	close(p[1]);
	px->handover_pid = pid;
	px->handover_admin = a;
	px->handover_pipe.fd = p[0];
	px->handover_pipe.fn = pipe_ev;
	px->handover_pipe.mask = -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ev_set(&px->loop, &px->handover_pipe, EV_READ);
	if (a)
		admin_say(a, "started the new proxy (pid %d, %s); waiting until it is ready", pid, px->exe);
	note("upgrade: started pid %d", pid);
	return 0;
}
