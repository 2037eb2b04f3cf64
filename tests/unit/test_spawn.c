/* Running hooks: exit status, signals, timeouts, environment, output, fds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "util/spawn.h"
#include "util/buf.h"
#include "util/error.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#include "capture.h"

/* Run quietly, capturing the output; returns the status. */
static int run(const char *cmd, struct buf *out)
{
	struct spawn_opts o = { .cmd = cmd, .quiet_output = 1, .output = out, .timeout_ms = 10000 };
	return spawn_shell(&o, NULL);
}

static void returns_the_exit_status(void **state)
{
	assert_int_equal(run("true", NULL), 0);
	assert_int_equal(run("exit 3", NULL), 3);
	assert_int_equal(run("exit 255", NULL), 255);
	assert_int_equal(run("nonexistent-command-xyz 2>/dev/null", NULL), 127);
}

static void reports_death_by_signal_as_128_plus_n(void **state)
{
	assert_int_equal(run("kill -TERM $$", NULL), 128 + SIGTERM);
	assert_int_equal(run("kill -KILL $$", NULL), 128 + SIGKILL);
}

/* 1 when `pid` is gone or a zombie waiting for a reaper that is not us. */
static int is_dead(pid_t pid)
{
	char path[64], stat[256];
	FILE *f;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = 0;
	const char *paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static void timeout_kills_the_whole_group(void **state)
{
	char path[] = "/tmp/cutover-test-spawn.XXXXXX";
	int fd = mkstemp(path), timed_out = 0;
	char cmd[256], pidtext[32] = { 0 };
	struct capture c;
	long t0 = now_ms();

	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; wait", path);
	struct spawn_opts o = { .cmd = cmd, .timeout_ms = 300, .quiet_output = 1 };
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, &timed_out), -1);
	const char *msg = capture_end(&c);
	long took = now_ms() - t0;
	assert_int_equal(timed_out, 1);
	assert_non_null(strstr(msg, "timed out after 300 ms"));
	assert_in_range(took, 290, 1500);

	assert_true(read(fd, pidtext, sizeof(pidtext) - 1) > 0);
	close(fd);
	unlink(path);
	pid_t grandchild = (pid_t)atoi(pidtext);
	assert_true(grandchild > 1);
	for (int i = 0; i < 100 && !is_dead(grandchild); i++)
		usleep(10000);
	if (!is_dead(grandchild)) {
		kill(grandchild, SIGKILL);
		fail_msg("the grandchild sleep %d survived the timeout", (int)grandchild);
	}
	buf_release(&c.out);
}

static void timeout_escalates_to_sigkill(void **state)
{
	int timed_out = 0;
	struct capture c;
	long t0 = now_ms();
	/* the shell and its sleep both ignore SIGTERM */
	struct spawn_opts o = { .cmd = "trap '' TERM; sleep 30; echo survived", .timeout_ms = 200,
				.prefix = "hook| " };
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, &timed_out), -1);
	const char *msg = capture_end(&c);
	long took = now_ms() - t0;
	assert_int_equal(timed_out, 1);
	assert_in_range(took, 2150, 4000);
	assert_null(strstr(msg, "hook| survived"));
	assert_non_null(strstr(msg, "timed out after 200 ms"));
	buf_release(&c.out);
}

static void timeout_sends_sigterm_to_the_group_first(void **state)
{
	struct buf out = BUF_INIT;
	int timed_out = 0;
	long t0 = now_ms();
	/* a grandchild that cleans up on SIGTERM gets the chance to */
	struct spawn_opts o = {
		.cmd = "sh -c 'trap \"echo cleaned up; exit 0\" TERM; while :; do sleep 0.05; done' & wait",
		.timeout_ms = 200, .quiet_output = 1, .output = &out,
	};
	struct capture c;
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, &timed_out), -1);
	capture_end(&c);
	assert_int_equal(timed_out, 1);
	assert_in_range(now_ms() - t0, 190, 1500);
	/* (the inner shell may also report its sleep as "Terminated") */
	assert_non_null(strstr(out.buf, "cleaned up\n"));
	buf_release(&c.out);
	buf_release(&out);
}

static void a_fast_command_is_not_a_timeout(void **state)
{
	int timed_out = 7;
	struct spawn_opts o = { .cmd = "exit 4", .timeout_ms = 5000, .quiet_output = 1 };
	assert_int_equal(spawn_shell(&o, &timed_out), 4);
	assert_int_equal(timed_out, 0);
}

static void passes_environment_and_cwd(void **state)
{
	char dir[] = "/tmp/cutover-test-cwd.XXXXXX";
	struct strlist env = STRLIST_INIT;
	struct buf out = BUF_INIT;
	char want[256];

	assert_non_null(mkdtemp(dir));
	setenv("CUTOVER_TEST_PARENT", "inherited", 1);
	setenv("CUTOVER_TEST_OVERRIDE", "old", 1);
	strlist_push(&env, "CUTOVER_TEST_X=hello world");
	strlist_push(&env, "CUTOVER_TEST_OVERRIDE=new");
	struct spawn_opts o = {
		.cmd = "printf '%s|%s|%s|%s|' \"$CUTOVER_TEST_X\" \"$CUTOVER_TEST_PARENT\" "
		       "\"$CUTOVER_TEST_OVERRIDE\" \"$(pwd)\"; env | grep -c '^CUTOVER_TEST_OVERRIDE='",
		.cwd = dir, .env = &env, .quiet_output = 1, .output = &out,
	};
	assert_int_equal(spawn_shell(&o, NULL), 0);
	snprintf(want, sizeof(want), "hello world|inherited|new|%s|1\n", dir);
	assert_string_equal(out.buf, want);
	/* our own environment is left alone */
	assert_string_equal(getenv("CUTOVER_TEST_OVERRIDE"), "old");
	assert_null(getenv("CUTOVER_TEST_X"));
	rmdir(dir);
	strlist_clear(&env);
	buf_release(&out);
}

static void refuses_what_cannot_start(void **state)
{
	struct strlist env = STRLIST_INIT;
	struct capture c;
	struct spawn_opts o = { .cmd = "true", .cwd = "/nonexistent/dir" };

	capture_start(&c);
	assert_int_equal(spawn_shell(&o, NULL), -1);
	assert_non_null(strstr(capture_end(&c),
			       "cannot change directory to '/nonexistent/dir': No such file or directory"));
	buf_release(&c.out);

	strlist_push(&env, "NOEQUALS");
	o.cwd = NULL;
	o.env = &env;
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, NULL), -1);
	assert_non_null(strstr(capture_end(&c), "invalid environment entry 'NOEQUALS'"));
	buf_release(&c.out);
	strlist_clear(&env);
}

static void copies_output_with_a_prefix(void **state)
{
	struct buf out = BUF_INIT;
	struct capture c;
	struct spawn_opts o = {
		.cmd = "echo one; echo two >&2; echo; printf 'last without newline'",
		.prefix = "before_switch| ", .output = &out,
	};
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, NULL), 0);
	assert_string_equal(capture_end(&c), "before_switch| one\nbefore_switch| two\nbefore_switch| \n"
					     "before_switch| last without newline\n");
	assert_string_equal(out.buf, "one\ntwo\n\nlast without newline");
	buf_release(&c.out);
	buf_release(&out);
}

static void quiet_output_is_only_captured(void **state)
{
	struct buf out = BUF_INIT;
	struct capture c;
	struct spawn_opts o = { .cmd = "echo hidden; echo also >&2", .prefix = "x| ", .output = &out,
				.quiet_output = 1 };
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, NULL), 0);
	assert_string_equal(capture_end(&c), "");
	assert_string_equal(out.buf, "hidden\nalso\n");
	buf_release(&c.out);
	buf_release(&out);
}

static void capture_is_capped_at_64k(void **state)
{
	struct buf out = BUF_INIT;
	/* the command still runs to completion: a full pipe must not block it */
	assert_int_equal(run("head -c 300000 /dev/zero | tr '\\0' a; echo end >&2; exit 5", &out), 5);
	assert_int_equal(out.len, 64 * 1024);
	assert_int_equal(out.buf[out.len - 1], 'a');
	buf_release(&out);
}

static void long_lines_are_broken_not_buffered_forever(void **state)
{
	struct capture c;
	struct spawn_opts o = { .cmd = "head -c 20000 /dev/zero | tr '\\0' a", .prefix = "p| " };
	capture_start(&c);
	assert_int_equal(spawn_shell(&o, NULL), 0);
	const char *msg = capture_end(&c);
	size_t lines = 0, total = 0;
	for (const char *p = msg; (p = strstr(p, "p| ")); p += 3)
		lines++;
	for (const char *p = msg; *p; p++)
		total += *p == 'a';
	assert_int_equal(lines, 3);
	assert_int_equal(total, 20000);
	buf_release(&c.out);
}

static void stdin_is_dev_null(void **state)
{
	struct buf out = BUF_INIT;
	assert_int_equal(run("cat; readlink /proc/self/fd/0", &out), 0);
	assert_string_equal(out.buf, "/dev/null\n");
	buf_release(&out);
}

static void no_descriptor_leaks_into_the_child(void **state)
{
	char path[] = "/tmp/cutover-test-leak.XXXXXX";
	struct buf out = BUF_INIT;
	int fd = mkstemp(path), p[2];

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFD, 0), 0); /* inheritable on purpose */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(run("ls -l /proc/self/fd", &out), 0);
	if (strstr(out.buf, path))
		fail_msg("the child inherited '%s':\n%s", path, out.buf);
	buf_reset(&out);
	/* the shell itself holds nothing but 0, 1 and 2 (ls reads them from outside) */
	assert_int_equal(run("ls /proc/$$/fd; true", &out), 0);
	assert_string_equal(out.buf, "0\n1\n2\n");
	close(fd);
	close(p[0]);
	close(p[1]);
	unlink(path);
	buf_release(&out);
}

static void a_background_child_holding_the_pipe_does_not_block(void **state)
{
	struct buf out = BUF_INIT;
	long t0 = now_ms();
	assert_int_equal(run("(sleep 2; echo late) & echo early", &out), 0);
	assert_in_range(now_ms() - t0, 0, 1500);
	assert_string_equal(out.buf, "early\n");
	buf_release(&out);
}

static void ignored_signals_are_reset_for_the_child(void **state)
{
	struct buf out = BUF_INIT;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	/* with SIGPIPE ignored, `yes` would complain about a broken pipe */
	assert_int_equal(run("yes | head -n 1 >/dev/null; echo done", &out), 0);
	sigaction(SIGPIPE, &old, NULL);
	assert_string_equal(out.buf, "done\n");
	buf_release(&out);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void survives_signal_interruptions(void **state)
{
	struct buf out = BUF_INIT;
	struct sigaction sa = { .sa_handler = on_alarm }, old; /* no SA_RESTART */
	struct itimerval every = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };

	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &every, NULL);
	int rc = run("sleep 0.3; echo ok; exit 6", &out);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_int_equal(rc, 6);
	assert_string_equal(out.buf, "ok\n");
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(returns_the_exit_status),
		cmocka_unit_test(reports_death_by_signal_as_128_plus_n),
		cmocka_unit_test(timeout_kills_the_whole_group),
		cmocka_unit_test(timeout_escalates_to_sigkill),
		cmocka_unit_test(timeout_sends_sigterm_to_the_group_first),
		cmocka_unit_test(a_fast_command_is_not_a_timeout),
		cmocka_unit_test(passes_environment_and_cwd),
		cmocka_unit_test(refuses_what_cannot_start),
		cmocka_unit_test(copies_output_with_a_prefix),
		cmocka_unit_test(quiet_output_is_only_captured),
		cmocka_unit_test(capture_is_capped_at_64k),
		cmocka_unit_test(long_lines_are_broken_not_buffered_forever),
		cmocka_unit_test(stdin_is_dev_null),
		cmocka_unit_test(no_descriptor_leaks_into_the_child),
		cmocka_unit_test(a_background_child_holding_the_pipe_does_not_block),
		cmocka_unit_test(ignored_signals_are_reset_for_the_child),
		cmocka_unit_test(survives_signal_interruptions),
	};
	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
