#include "release/history.h"
#include "util/error.h"
#include "util/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

static void iso_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int history_append(struct root *r, const struct history_rec *h)
{
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);
	char now[32], host[256] = "";
	struct passwd *pw = getpwuid(geteuid());

	iso_now(now);
	gethostname(host, sizeof(host) - 1);
	json_obj_begin(&w);
	json_key_str(&w, "time", now);
	json_key_str(&w, "action", h->action);
	if (h->release)
		json_key_str(&w, "release", h->release);
	if (h->previous)
		json_key_str(&w, "previous", h->previous);
	json_key_str(&w, "outcome", h->outcome);
	json_key_str(&w, "user", pw ? pw->pw_name : "?");
	json_key_str(&w, "host", host);
	json_key_int(&w, "duration_ms", h->duration_ms);
	if (h->files >= 0)
		json_key_int(&w, "files", h->files);
	if (h->new_bytes >= 0)
		json_key_int(&w, "new_bytes", h->new_bytes);
	if (h->message)
		json_key_str(&w, "message", h->message);
	json_obj_end(&w);
	buf_addch(&b, '\n');

	int fd = open(r->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		buf_release(&b);
		return error_errno("cannot open '%s'", r->history);
	}
	ssize_t n = write(fd, b.buf, b.len);
	int rc = 0;
	if (n != (ssize_t)b.len || fsync(fd) < 0)
		rc = error_errno("cannot append to '%s'", r->history);
	close(fd);
	buf_release(&b);
	return rc;
}

void history_prune_message(struct buf *b, const struct strlist *removed, const char *failure)
{
	for (size_t i = 0; i < removed->nr; i++)
		buf_addf(b, "%s%s", i ? " " : "removed ", removed->items[i]);
	if (failure)
		buf_addf(b, "%sfailed: %s", removed->nr ? "; " : "", failure);
	else if (!removed->nr)
		buf_addstr(b, "nothing to remove");
}

int history_read(struct root *r, struct history *out)
{
	struct buf b = BUF_INIT;
	int rc = fs_read_file(&b, r->history, (size_t)1 << 30, 1);
	if (rc < 0)
		return -1;
	size_t lineno = 0;
	for (const char *p = b.buf; rc == 0 && p < b.buf + b.len;) {
		const char *nl = memchr(p, '\n', (size_t)(b.buf + b.len - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(b.buf + b.len - p);
		lineno++;
		if (len) {
			struct json_flat o = JSON_FLAT_INIT;
			if (json_flat_parse(&o, p, len) < 0) {
				/* a torn last line after a crash is expected; say so and go on */
				warning("'%s' line %zu is not a complete record; skipping it", r->history,
					lineno);
				json_flat_release(&o);
			} else {
				ALLOC_GROW(out->v, out->nr + 1, out->alloc);
				out->v[out->nr++] = o;
			}
		}
		p += len + 1;
	}
	buf_release(&b);
	return 0;
}

void history_release(struct history *h)
{
	for (size_t i = 0; i < h->nr; i++)
		json_flat_release(&h->v[i]);
	free(h->v);
	h->v = NULL;
	h->nr = h->alloc = 0;
}
