/*
 * cutover proxy: the traffic proxy daemon (run) and the commands that talk
 * to it over its admin socket (deploy, rollback, status, pause, resume,
 * upgrade, metrics). See docs/proxy.md.
 */
#include "cmd/cmd.h"
#include "proxy/proxy.h"
#include "proxy/params.h"
#include "proxy/handover.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/opts.h"
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_ADMIN "/run/cutover/proxy.sock"
#define DEFAULT_STATE "/var/lib/cutover/proxy.state"

static const char *admin_path = DEFAULT_ADMIN;

static char *self_exe(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	/* replaced on disk by an upgrade: the path is what we want to run again */
	const char *del = " (deleted)";
	size_t dl = strlen(del);
	if ((size_t)n > dl && !strcmp(buf + n - dl, del))
		buf[n - dl] = 0;
	return xstrdup(buf);
}

static int parent_dir(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');
	int rc = 0;
	if (slash && slash != d) {
		*slash = 0;
		rc = fs_mkdir_p(d, 0755);
	}
	free(d);
	return rc;
}

static int proxy_cmd_run(int argc, char **argv)
{
	const char *listen_addr = "0.0.0.0:80", *state_path = DEFAULT_STATE;
	long header_to = -1, idle_to = -1, up_to = -1, conn_to = -1, stop_to = -1;
	int max_idle = -1, max_conns = 0;
	char **args;
	int nargs;
	struct opt opts[] = {
		OPT_STRING(0, "listen", &listen_addr, "HOST:PORT", "traffic address (default 0.0.0.0:80)"),
		OPT_STRING(0, "admin", &admin_path, "PATH", "admin unix socket (default " DEFAULT_ADMIN ")"),
		OPT_STRING(0, "state", &state_path, "PATH", "routing state file (default " DEFAULT_STATE ")"),
		OPT_DURATION(0, "header-timeout", &header_to, "time to send a request head (default 10s)"),
		OPT_DURATION(0, "idle-timeout", &idle_to, "keep-alive time between requests (default 60s)"),
		OPT_DURATION(0, "upstream-timeout", &up_to, "silence from an upstream before 504 (default 60s)"),
		OPT_DURATION(0, "connect-timeout", &conn_to, "upstream connect time before 504 (default 5s)"),
		OPT_DURATION(0, "shutdown-timeout", &stop_to, "time to finish connections when stopping (default 30s)"),
		OPT_INT(0, "max-idle", &max_idle, "N", "pooled idle connections per target (default 256)"),
		OPT_INT(0, "max-connections", &max_conns, "N", "client connections at a time (default: what the descriptor limit allows)"),
		OPT_END(),
	};
	int rc = opts_parse(argc, argv, opts, "cutover proxy run [--listen HOST:PORT] [--admin PATH] [--state PATH]",
			    &args, &nargs);
	if (rc)
		return rc > 0 ? CUT_OK : CUT_USAGE;
	free(args);
	if (nargs) {
		error("'proxy run' takes no operands");
		return CUT_USAGE;
	}

	static struct proxy px;
	if (proxy_init(&px) < 0)
		return CUT_INTERNAL;
	if (header_to >= 0)
		px.cfg.header_timeout_ms = header_to;
	if (idle_to >= 0)
		px.cfg.idle_timeout_ms = idle_to;
	if (up_to >= 0)
		px.cfg.upstream_timeout_ms = up_to;
	if (conn_to >= 0)
		px.cfg.connect_timeout_ms = conn_to;
	if (stop_to >= 0)
		px.cfg.shutdown_timeout_ms = stop_to;
	if (max_idle >= 0)
		px.cfg.max_idle_per_target = max_idle;
	limits_configure(&px, max_conns);
	px.state_path = *state_path ? xstrdup(state_path) : NULL;

	/* the command line again, for the re-exec of an upgrade */
	px.exe = self_exe();
	px.argv = xcalloc((size_t)argc + 3, sizeof(char *));
	px.argv[0] = px.exe ? px.exe : "cutover";
	px.argv[1] = "proxy";
	for (int i = 0; i < argc; i++)
		px.argv[i + 2] = argv[i];

	int http_fd, admin_fd;
	handover_inherit(&http_fd, &admin_fd);
	if (px.state_path && parent_dir(px.state_path) < 0)
		return CUT_FAILED;
	if (state_load(&px) < 0)
		return CUT_FAILED;
	if (http_fd < 0 && proxy_listen_tcp(listen_addr, &http_fd) < 0)
		return CUT_FAILED;
	px.listener.fd = http_fd;
	if (admin_fd < 0 && parent_dir(admin_path) < 0)
		return CUT_FAILED;
	if ((rc = admin_listen(&px, admin_path, admin_fd)) < 0)
		return exit_status(rc);
	note("proxy serving on %s%s, admin socket '%s'", listen_addr, http_fd == 3 ? " (inherited socket)" : "",
	     admin_path);
	handover_ready();
	rc = proxy_run(&px);
	return rc < 0 ? CUT_INTERNAL : CUT_OK;
}

static void add_param(struct buf *url, const char *key, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!val)
		return;
	buf_addf(url, "%c%s=", strchr(url->buf, '?') ? '&' : '?', key);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-_./~:", *p)) {
			buf_addch(url, (char)*p);
		} else {
			buf_addch(url, '%');
			buf_addch(url, hex[*p >> 4]);
			buf_addch(url, hex[*p & 15]);
		}
	}
}

static void add_ms(struct buf *url, const char *key, long ms)
{
	char v[32];
	if (ms < 0)
		return;
	snprintf(v, sizeof(v), "%ldms", ms);
	add_param(url, key, v);
}

/*
 * One request to the admin socket; prints the answer as it streams in.
 * With `raw`, the body goes to stdout as it is; otherwise lines starting
 * "error: " and "warning: " are reported as such, "exit: N" gives the
 * status, and the rest is printed.
 */
static int admin_request(const char *method, const char *url, int raw)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct buf in = BUF_INIT_MAX(1 << 24);
	int fd, code = -1, in_body = 0;
	char chunk[4096];
	size_t start = 0;

	if (strlen(admin_path) >= sizeof(sun.sun_path)) {
		error("admin socket path '%s' is too long", admin_path);
		return CUT_USAGE;
	}
	memcpy(sun.sun_path, admin_path, strlen(admin_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		error_errno("cannot reach the proxy at '%s' (is 'cutover proxy run' running?)", admin_path);
		if (fd >= 0)
			close(fd);
		return CUT_FAILED;
	}
	struct buf req = BUF_INIT;
	buf_addf(&req, "%s %s HTTP/1.1\r\nHost: cutover\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", method, url);
	if (write(fd, req.buf, req.len) != (ssize_t)req.len) {
		error_errno("cannot send to the proxy at '%s'", admin_path);
		buf_release(&req);
		close(fd);
		return CUT_FAILED;
	}
	buf_release(&req);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_add(&in, chunk, (size_t)n) < 0) {
			error("answer from the proxy is too large");
			break;
		}
		if (!in_body) {
			char *end = strstr(in.buf, "\r\n\r\n");
			if (!end)
				continue;
			start = (size_t)(end + 4 - in.buf);
			in_body = 1;
			/* a refusal is "error: ..." and "exit: N" lines whatever was asked */
			if (raw && strncmp(in.buf, "HTTP/1.1 200", 12))
				raw = 0;
		}
		/* handle complete lines */
		for (;;) {
			char *nl = memchr(in.buf + start, '\n', in.len - start);
			if (!nl)
				break;
			*nl = 0;
			const char *line = in.buf + start;
			start = (size_t)(nl + 1 - in.buf);
			if (!strncmp(line, "exit: ", 6) && !raw) {
				code = atoi(line + 6);
			} else if (raw) {
				printf("%s\n", line);
			} else if (!strncmp(line, "error: ", 7)) {
				error("%s", line + 7);
			} else if (!strncmp(line, "warning: ", 9)) {
				warning("%s", line + 9);
			} else {
				printf("%s\n", line);
			}
		}
	}
	if (raw && start < in.len)
		fwrite(in.buf + start, 1, in.len - start, stdout);
	close(fd);
	if (raw) {
		int ok = in.len > 12 && !strncmp(in.buf, "HTTP/1.1 200", 12);
		if (!ok) {
			if (!in_body)
				error("the proxy closed the connection without an answer");
			buf_release(&in);
			return CUT_FAILED;
		}
		buf_release(&in);
		return CUT_OK;
	}
	buf_release(&in);
	if (code < 0) {
		error("the proxy closed the connection before the result; see its log");
		return CUT_FAILED;
	}
	return code;
}

struct op_opts {
	const char *target, *health_path;
	long interval, timeout, deadline, drain, drain_grace, sticky_idle;
	int successes, sticky, no_sticky, is_default;
	struct strlist hosts;
};

static int run_op(int argc, char **argv, int rollback)
{
	struct op_opts o = { .interval = -1, .timeout = -1, .deadline = -1, .drain = -1, .drain_grace = -1,
			     .sticky_idle = -1,
			     .successes = -1 };
	char **args, why[300];
	int nargs;
	struct opt deploy_opts[] = {
		OPT_STRING(0, "target", &o.target, "HOST:PORT", "the new version's address (required)"),
		OPT_STRING(0, "health-path", &o.health_path, "PATH", "GET this and expect 2xx/3xx (default: TCP connect)"),
		OPT_DURATION(0, "health-interval", &o.interval, "time between checks (default 1s)"),
		OPT_DURATION(0, "health-timeout", &o.timeout, "time one check may take (default 2s)"),
		OPT_INT(0, "health-successes", &o.successes, "N", "consecutive passes needed (default 3)"),
		OPT_DURATION(0, "health-deadline", &o.deadline, "give up after this long (default 30s)"),
		OPT_DURATION(0, "drain", &o.drain, "time the old target gets to finish (default 30s)"),
		OPT_BOOL(0, "sticky", &o.sticky, "sessions that began on the old version stay on it while it drains"),
		OPT_BOOL(0, "no-sticky", &o.no_sticky, "turn sticky sessions off"),
		OPT_DURATION(0, "sticky-idle", &o.sticky_idle, "with --sticky: end the drain after this long without old sessions (default 5s)"),
		OPT_DURATION(0, "drain-grace", &o.drain_grace, "with --sticky: time requests in flight get after --drain (default 5s)"),
		OPT_LIST(0, "host", &o.hosts, "NAME", "Host header served by this service (repeatable)"),
		OPT_BOOL(0, "default", &o.is_default, "serve requests whose Host no service claims"),
		OPT_STRING(0, "admin", &admin_path, "PATH", "admin socket (default " DEFAULT_ADMIN ")"),
		OPT_END(),
	};
	struct opt *opts = deploy_opts;
	if (rollback) {
		/* the same rules, minus what only a deploy can set */
		static struct opt rb[16];
		int n = 0;
		for (struct opt *p = deploy_opts; p->type != OPT_T_END; p++)
			if (strcmp(p->long_name, "target") && strcmp(p->long_name, "host") && strcmp(p->long_name, "default"))
				rb[n++] = *p;
		rb[n] = (struct opt)OPT_END();
		opts = rb;
	}
	int rc = opts_parse(argc, argv, opts,
			    rollback ? "cutover proxy rollback <service> [--drain DURATION] [--health-path PATH]"
				     : "cutover proxy deploy <service> --target HOST:PORT [--health-path PATH] [--drain DURATION] [--sticky]",
			    &args, &nargs);
	if (rc)
		return rc > 0 ? CUT_OK : CUT_USAGE;
	if (nargs != 1) {
		error("expected one service name");
		free(args);
		return CUT_USAGE;
	}
	const char *service = args[0];
	free(args);
	if (service_name_check(service, why, sizeof(why)) < 0) {
		error("%s", why);
		return CUT_USAGE;
	}
	if (!rollback && !o.target) {
		error("'proxy deploy' needs --target HOST:PORT");
		return CUT_USAGE;
	}
	struct buf url = BUF_INIT;
	char num[16];
	buf_addstr(&url, rollback ? "/rollback" : "/deploy");
	add_param(&url, "service", service);
	add_param(&url, "target", o.target);
	add_param(&url, "health_path", o.health_path);
	add_ms(&url, "interval", o.interval);
	add_ms(&url, "timeout", o.timeout);
	add_ms(&url, "deadline", o.deadline);
	add_ms(&url, "drain", o.drain);
	add_ms(&url, "sticky_idle", o.sticky_idle);
	add_ms(&url, "drain_grace", o.drain_grace);
	if (o.successes >= 0) {
		snprintf(num, sizeof(num), "%d", o.successes);
		add_param(&url, "successes", num);
	}
	if (o.sticky || o.no_sticky)
		add_param(&url, "sticky", o.sticky ? "1" : "0");
	if (o.is_default)
		add_param(&url, "default", "1");
	if (o.hosts.nr) {
		struct buf h = BUF_INIT;
		for (size_t i = 0; i < o.hosts.nr; i++)
			buf_addf(&h, "%s%s", i ? "," : "", o.hosts.items[i]);
		add_param(&url, "hosts", h.buf);
		buf_release(&h);
	}
	strlist_clear(&o.hosts);
	rc = admin_request("POST", url.buf, 0);
	buf_release(&url);
	return rc;
}

static int proxy_cmd_simple(int argc, char **argv)
{
	const char *sub = argv[0];
	int json = 0;
	long max = -1;
	char **args;
	int nargs;
	struct opt opts[] = {
		OPT_STRING(0, "admin", &admin_path, "PATH", "admin socket (default " DEFAULT_ADMIN ")"),
		OPT_BOOL(0, "json", &json, "status as JSON"),
		OPT_DURATION(0, "max", &max, "pause: resume on its own after this long (default 30s)"),
		OPT_END(),
	};
	int rc = opts_parse(argc, argv, opts, "cutover proxy status [service] [--json] | pause <service> [--max DURATION] | resume <service> | upgrade | metrics",
			    &args, &nargs);
	if (rc)
		return rc > 0 ? CUT_OK : CUT_USAGE;
	struct buf url = BUF_INIT;
	const char *method = "POST";
	int raw = 0;
	rc = CUT_USAGE;
	if (!strcmp(sub, "status") && nargs <= 1) {
		buf_addstr(&url, "/status");
		if (nargs)
			add_param(&url, "service", args[0]);
		if (json)
			add_param(&url, "format", "json");
		method = "GET";
		raw = 1;
	} else if (!strcmp(sub, "metrics") && !nargs) {
		buf_addstr(&url, "/metrics");
		method = "GET";
		raw = 1;
	} else if ((!strcmp(sub, "pause") || !strcmp(sub, "resume")) && nargs == 1) {
		buf_addf(&url, "/%s", sub);
		add_param(&url, "service", args[0]);
		if (!strcmp(sub, "pause"))
			add_ms(&url, "max", max);
	} else if (!strcmp(sub, "upgrade") && !nargs) {
		buf_addstr(&url, "/upgrade");
	} else {
		error("wrong operands for 'proxy %s'", sub);
		opts_usage(opts, "cutover proxy status [service] [--json] | pause <service> [--max DURATION] | resume <service> | upgrade | metrics");
		free(args);
		buf_release(&url);
		return CUT_USAGE;
	}
	free(args);
	if (url.len)
		rc = admin_request(method, url.buf, raw);
	buf_release(&url);
	return rc;
}

int cmd_proxy(int argc, char **argv)
{
	static const char usage[] =
		"usage: cutover proxy <subcommand> [options]\n\n"
		"  run        the proxy daemon (--listen HOST:PORT --admin PATH --state PATH)\n"
		"  deploy     health-check a new target, switch a service to it, drain the old one\n"
		"  rollback   the same, back to the previous target\n"
		"  status     targets, state, in-flight and request counts ([service] [--json])\n"
		"  pause      hold new requests of a service (--max DURATION)\n"
		"  resume     release them\n"
		"  upgrade    re-execute the proxy binary without dropping connections\n"
		"  metrics    Prometheus text\n"
		"\n"
		"  -q, --quiet  print only errors (before or after the subcommand)\n";
	while (argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"))) {
		log_quiet = 1; /* cutover proxy -q deploy ...: as after any command name */
		argc--;
		argv++;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CUT_USAGE : CUT_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "run"))
		return proxy_cmd_run(argc - 1, argv + 1);
	if (!strcmp(sub, "deploy"))
		return run_op(argc - 1, argv + 1, 0);
	if (!strcmp(sub, "rollback"))
		return run_op(argc - 1, argv + 1, 1);
	if (!strcmp(sub, "status") || !strcmp(sub, "pause") || !strcmp(sub, "resume") || !strcmp(sub, "upgrade") ||
	    !strcmp(sub, "metrics"))
		return proxy_cmd_simple(argc - 1, argv + 1);
	error("'%s' is not a proxy subcommand; see 'cutover proxy --help'", sub);
	return CUT_USAGE;
}
