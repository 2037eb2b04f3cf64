/* A git revision, exported exactly as `git archive` does (export-ignore, no .git). */
#include "source/source.h"
#include "util/error.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Start git with `argv`; its stdout is returned in *out_fd, stderr is ours or /dev/null. */
static pid_t git_start(char *const argv[], int *out_fd, int quiet_stderr)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		error_errno("cannot create a pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		error_errno("cannot start git");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		if (quiet_stderr) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0)
				dup2(null, 2);
		}
		int in = open("/dev/null", O_RDONLY);
		if (in >= 0)
			dup2(in, 0);
		execvp("git", argv);
		_exit(127);
	}
	close(p[1]);
	*out_fd = p[0];
	return pid;
}

static int git_wait(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run git and capture the first line of its output. */
static int git_line(char *const argv[], char **line)
{
	int fd;
	pid_t pid = git_start(argv, &fd, 1);
	if (pid < 0)
		return -1;
	struct buf b = BUF_INIT_MAX(1 << 16);
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			buf_add(&b, chunk, (size_t)n);
	close(fd);
	int st = git_wait(pid);
	if (st == 127) {
		buf_release(&b);
		return error("cannot run git; install it (apt-get install git)");
	}
	char *nl = strchr(b.buf, '\n');
	if (nl)
		*nl = 0;
	*line = buf_detach(&b, NULL);
	return st;
}

int source_git_resolve(struct source *s)
{
	char *rev = xasprintf("%s^{commit}", s->rev);
	char *argv[] = { "git", "-C", s->path, "rev-parse", "--verify", "--quiet", rev, NULL };
	char *line = NULL;
	int st = git_line(argv, &line);
	free(rev);
	if (st < 0)
		return -1;
	if (st != 0 || strlen(line) < 40) {
		free(line);
		char *probe[] = { "git", "-C", s->path, "rev-parse", "--git-dir", NULL };
		char *dir = NULL;
		int pst = git_line(probe, &dir);
		free(dir);
		if (pst != 0)
			return error("'%s' is not a git repository", s->path);
		return error("unknown revision '%s' in '%s'", s->rev, s->path);
	}
	s->commit = line;
	char *argv2[] = { "git", "-C", s->path, "rev-parse", "--short=7", s->commit, NULL };
	char *shortid = NULL;
	if (git_line(argv2, &shortid) == 0 && *shortid)
		s->label = shortid;
	else
		free(shortid);
	return 0;
}

int source_read_git(struct source *s, struct manifest *m, const struct source_opts *o,
		    struct source_stats *st)
{
	char *argv[] = { "git", "-C", s->path, "archive", "--format=tar", s->commit, NULL };
	int fd;
	pid_t pid = git_start(argv, &fd, 0);
	if (pid < 0)
		return -1;
	char *what = xasprintf("git archive of '%s' at %s", s->path, s->rev);
	int rc = source_read_archive(NULL, fd, what, m, o, st);
	close(fd);
	int status = git_wait(pid);
	if (!rc && status != 0)
		rc = error("git archive of '%s' at '%s' failed (exit status %d)", s->path, s->rev,
			   status);
	free(what);
	return rc;
}
