/*
 * The routing state file: which target each service sends traffic to, so
 * that a restarted proxy routes as the old one did. Written atomically
 * (temporary file, fsync, rename, fsync of the directory) on every change.
 *
 *   cutover-proxy-state 1
 *   service app default=1 sticky=0 sticky-idle=5000 health=/up hosts=a.example,b.example gen=7
 *   target app current 127.0.0.1:9002 gen=6
 *   target app previous 127.0.0.1:9001 gen=5
 *
 * A service is written once it has a current target (a first deploy still
 * checking its target is not). No value can break a line: a byte that is
 * not printable ASCII, a space, '%' and ',' (between host names) are
 * written %XX. A file with such an escape says version 2 (a proxy from
 * before the escaping refuses it instead of misreading it); one without
 * (through the admin API's checks, all but those with a '%' in a health
 * path) stays version 1, and its values are read as they are.
 */
#include "proxy/proxy.h"
#include "util/error.h"
#include "util/fs.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static int plain_byte(unsigned char c, int in_list)
{
	return c > ' ' && c < 0x7f && c != '%' && !(in_list && c == ',');
}

/* v, escaped as above; *escaped raised when a byte was. */
static void add_value(struct buf *out, const char *v, int in_list, int *escaped)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!*v) {
		buf_addstr(out, "%00"); /* never written by the admin API; read back as a refusal, not a shift */
		*escaped = 1;
		return;
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (plain_byte(*p, in_list)) {
			buf_addch(out, (char)*p);
			continue;
		}
		buf_addch(out, '%');
		buf_addch(out, hex[*p >> 4]);
		buf_addch(out, hex[*p & 15]);
		*escaped = 1;
	}
}

static void add_target(struct buf *out, const struct service *s, const char *role, const struct target *t,
		       int *escaped)
{
	buf_addstr(out, "target ");
	add_value(out, s->name, 0, escaped);
	buf_addf(out, " %s ", role);
	add_value(out, t->addr, 0, escaped);
	buf_addf(out, " gen=%u\n", t->gen);
}

int state_format(struct buf *out, const struct service *list)
{
	struct buf body = BUF_INIT;
	int escaped = 0;
	for (const struct service *s = list; s; s = s->next) {
		if (!s->cur)
			continue;
		buf_addstr(&body, "service ");
		add_value(&body, s->name, 0, &escaped);
		buf_addf(&body, " default=%d sticky=%d sticky-idle=%ld health=", s->is_default, s->sticky,
			 s->sticky_idle_ms);
		if (s->health_path)
			add_value(&body, s->health_path, 0, &escaped);
		else
			buf_addch(&body, '-');
		buf_addstr(&body, " hosts=");
		if (!s->hosts.nr)
			buf_addch(&body, '-');
		for (size_t i = 0; i < s->hosts.nr; i++) {
			if (i)
				buf_addch(&body, ',');
			add_value(&body, s->hosts.items[i], 1, &escaped);
		}
		buf_addf(&body, " gen=%u\n", s->next_gen);
		add_target(&body, s, "current", s->cur, &escaped);
		if (s->prev)
			add_target(&body, s, "previous", s->prev, &escaped);
	}
	buf_addf(out, "cutover-proxy-state %d\n", escaped ? 2 : 1);
	buf_add(out, body.buf, body.len);
	buf_release(&body);
	return 0;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undo add_value's escapes in place (version 2): 0, or -1 when malformed or empty. */
static int unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		if (hexval(r[1]) < 0 || hexval(r[2]) < 0)
			return -1;
		*w = (char)(hexval(r[1]) * 16 + hexval(r[2]));
		if (!*w++)
			return -1;
		r += 2;
	}
	*w = 0;
	return w == s ? -1 : 0;
}

static int bad(char *why, size_t len, int line, const char *what)
{
	snprintf(why, len, "line %d: %s", line, what);
	return -1;
}

static int valid_value(const char *v)
{
	/* values are written by state_format: no spaces, printable */
	for (; *v; v++)
		if ((unsigned char)*v <= ' ' || *v == 0x7f)
			return 0;
	return 1;
}

int state_parse(struct proxy *px, const char *text, char *why, size_t why_len)
{
	struct strlist lines = STRLIST_INIT;
	int rc = 0, lineno = 0, seen_magic = 0, version = 1;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, n);
		strlist_push(&lines, line);
		free(line);
		p += n + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < lines.nr && !rc; i++) {
		char *tok[16], *save = NULL;
		int nt = 0;
		lineno = (int)i + 1;
		for (char *t = strtok_r(lines.items[i], " \t\r", &save); t && nt < 16; t = strtok_r(NULL, " \t\r", &save))
			tok[nt++] = t;
		if (!nt || tok[0][0] == '#')
			continue;
		if (!seen_magic) {
			if (nt != 2 || strcmp(tok[0], "cutover-proxy-state"))
				rc = bad(why, why_len, lineno, "not a cutover proxy state file");
			else if (strcmp(tok[1], "1") && strcmp(tok[1], "2"))
				rc = bad(why, why_len, lineno, "unsupported state file version");
			else
				version = tok[1][0] - '0';
			seen_magic = 1;
			continue;
		}
		/* names and addresses (values are undone one by one, hosts after the split) */
		if (version == 2 && nt > 1 && unescape(tok[1]) < 0) {
			rc = bad(why, why_len, lineno, "malformed %-escape");
			break;
		}
		if (version == 2 && nt > 3 && !strcmp(tok[0], "target") && unescape(tok[3]) < 0) {
			rc = bad(why, why_len, lineno, "malformed %-escape");
			break;
		}
		if (!strcmp(tok[0], "service")) {
			if (nt < 2 || !service_name_ok(tok[1])) {
				rc = bad(why, why_len, lineno, "invalid service name");
				break;
			}
			struct service *s = service_find(px->services, tok[1]);
			if (!s)
				s = service_add(px, tok[1]);
			for (int k = 2; k < nt && !rc; k++) {
				char *eq = strchr(tok[k], '=');
				if (!eq || !valid_value(eq + 1)) {
					rc = bad(why, why_len, lineno, "expected key=value");
					break;
				}
				*eq = 0;
				const char *v = eq + 1;
				if (!strcmp(tok[k], "default"))
					s->is_default = !strcmp(v, "1");
				else if (!strcmp(tok[k], "sticky"))
					s->sticky = !strcmp(v, "1");
				else if (!strcmp(tok[k], "sticky-idle"))
					s->sticky_idle_ms = strtol(v, NULL, 10);
				else if (!strcmp(tok[k], "gen"))
					s->next_gen = (unsigned)strtoul(v, NULL, 10);
				else if (!strcmp(tok[k], "health")) {
					if (version == 2 && strcmp(eq + 1, "-") && unescape(eq + 1) < 0) {
						rc = bad(why, why_len, lineno, "malformed %-escape");
						break;
					}
					free(s->health_path);
					s->health_path = strcmp(v, "-") && v[0] == '/' ? xstrdup(v) : NULL;
				} else if (!strcmp(tok[k], "hosts")) {
					strlist_clear(&s->hosts);
					if (strcmp(v, "-")) {
						char *copy = xstrdup(v), *sv = NULL;
						for (char *h = strtok_r(copy, ",", &sv); h && !rc; h = strtok_r(NULL, ",", &sv)) {
							if (version == 2 && unescape(h) < 0)
								rc = bad(why, why_len, lineno, "malformed %-escape");
							else
								strlist_push(&s->hosts, h);
						}
						free(copy);
					}
				}
				/* unknown keys are from a newer proxy: ignored */
			}
		} else if (!strcmp(tok[0], "target")) {
			struct service *s;
			struct target *t;
			if (nt < 4 || !(s = service_find(px->services, tok[1]))) {
				rc = bad(why, why_len, lineno, "target of an unknown service");
				break;
			}
			if (strcmp(tok[2], "current") && strcmp(tok[2], "previous")) {
				rc = bad(why, why_len, lineno, "expected 'current' or 'previous'");
				break;
			}
			if (!(t = service_target(s, tok[3]))) {
				rc = bad(why, why_len, lineno, "invalid target address");
				break;
			}
			if (nt > 4 && !strncmp(tok[4], "gen=", 4))
				t->gen = (unsigned)strtoul(tok[4] + 4, NULL, 10);
			if (!strcmp(tok[2], "current")) {
				s->cur = t;
				t->state = T_ACTIVE;
			} else {
				s->prev = t;
			}
		} else {
			rc = bad(why, why_len, lineno, "unknown line");
		}
	}
	if (!rc && !seen_magic && lines.nr)
		rc = bad(why, why_len, 1, "not a cutover proxy state file");
	strlist_clear(&lines);
	return rc;
}

/*
 * Saving happens in a writer thread: the fsyncs take milliseconds (tens on
 * a busy disk), and the event loop must not stop serving for them. The
 * loop hands over the newest text; the thread writes whatever is newest
 * when it gets to it, so a burst of switches costs one write, not one each.
 */
static pthread_mutex_t save_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t save_cv = PTHREAD_COND_INITIALIZER;
static char *save_text, *save_path;
static size_t save_len;
static uint64_t save_want, save_done, save_failed;
static int save_thread_started;

static void *save_thread(void *arg)
{
	pthread_mutex_lock(&save_mu);
	for (;;) {
		while (!save_text)
			pthread_cond_wait(&save_cv, &save_mu);
		char *text = save_text, *path = xstrdup(save_path);
		size_t len = save_len;
		uint64_t gen = save_want;
		save_text = NULL;
		pthread_mutex_unlock(&save_mu);
		int rc = fs_write_atomic(path, text, len, 0644);
		free(text);
		free(path);
		pthread_mutex_lock(&save_mu);
		save_done = gen;
		if (rc < 0)
			save_failed = gen;
		pthread_cond_broadcast(&save_cv);
	}
	return arg;
}

uint64_t state_save(struct proxy *px)
{
	struct buf b = BUF_INIT;
	uint64_t gen;
	if (!px->state_path)
		return 0;
	state_format(&b, px->services);
	pthread_mutex_lock(&save_mu);
	if (!save_thread_started) {
		pthread_t t;
		sigset_t all, old;
		/* the loop takes signals through its signalfd; the thread must not */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		if (pthread_create(&t, NULL, save_thread, NULL) == 0) {
			pthread_detach(t);
			save_thread_started = 1;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!save_thread_started) {
			pthread_mutex_unlock(&save_mu);
			gen = fs_write_atomic(px->state_path, b.buf, b.len, 0644) < 0 ? 0 : 1;
			buf_release(&b);
			return gen ? 0 : (uint64_t)-1;
		}
	}
	free(save_text);
	free(save_path);
	save_text = buf_detach(&b, &save_len);
	save_path = xstrdup(px->state_path);
	gen = ++save_want;
	pthread_cond_signal(&save_cv);
	pthread_mutex_unlock(&save_mu);
	return gen;
}

int state_saved(uint64_t gen)
{
	int rc;
	if (gen == (uint64_t)-1)
		return -1;
	pthread_mutex_lock(&save_mu);
	rc = save_done >= gen ? (save_failed >= gen ? -1 : 1) : 0;
	pthread_mutex_unlock(&save_mu);
	return rc;
}

void state_flush(void)
{
	pthread_mutex_lock(&save_mu);
	while (save_done < save_want)
		pthread_cond_wait(&save_cv, &save_mu);
	pthread_mutex_unlock(&save_mu);
}

int state_save_wait(struct proxy *px)
{
	uint64_t gen = state_save(px);
	int rc;
	if (gen == (uint64_t)-1)
		return -1;
	pthread_mutex_lock(&save_mu);
	while (save_done < gen)
		pthread_cond_wait(&save_cv, &save_mu);
	rc = save_failed >= gen ? -1 : 0;
	pthread_mutex_unlock(&save_mu);
	return rc;
}

int state_load(struct proxy *px)
{
	struct buf b = BUF_INIT;
	char why[160];
	int rc;
	if (!px->state_path)
		return 0;
	rc = fs_read_file(&b, px->state_path, 1 << 20, 1);
	if (rc == 1 || rc < 0) {
		buf_release(&b);
		return rc < 0 ? -1 : 0;
	}
	rc = state_parse(px, b.buf, why, sizeof(why));
	if (rc < 0)
		error("cannot read state file '%s': %s", px->state_path, why);
	buf_release(&b);
	return rc;
}
