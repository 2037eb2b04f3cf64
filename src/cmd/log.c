#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/history.h"
#include "util/error.h"

static const char usage[] = "cutover log --to ROOT [-n N] [--json]";

int cmd_log(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	struct history h = HISTORY_INIT;
	char **args;
	int nargs, done, rc, limit = 0;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_JSON(f),
			      OPT_INT('n', "max-count", &limit, "N", "show only the newest N records"),
			      OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 0, 0, "log takes no arguments")) < 0)
		goto out;
	if ((rc = history_read(&r, &h)) < 0)
		goto out;
	size_t first = limit > 0 && (size_t)limit < h.nr ? h.nr - (size_t)limit : 0;
	if (f.json) {
		struct buf b = BUF_INIT;
		struct json_writer w = JSON_WRITER_INIT(&b);
		json_arr_begin(&w);
		for (size_t i = first; i < h.nr; i++) {
			json_obj_begin(&w);
			for (size_t k = 0; k < h.v[i].nr; k++) {
				const char *key = h.v[i].keys[k], *val = h.v[i].vals[k];
				if (!strcmp(key, "duration_ms") || !strcmp(key, "files") || !strcmp(key, "new_bytes"))
					json_key_int(&w, key, val ? strtoll(val, NULL, 10) : 0);
				else
					json_key_str(&w, key, val);
			}
			json_obj_end(&w);
		}
		json_arr_end(&w);
		printf("%s\n", b.buf);
		buf_release(&b);
		goto out;
	}
	if (!h.nr)
		printf("no history in %s yet\n", r.path);
	else
		printf("%-20s %-9s %-36s %-12s %-10s %8s  %s\n", "TIME", "ACTION", "RELEASE", "OUTCOME",
		       "USER", "SECONDS", "MESSAGE");
	for (size_t i = first; i < h.nr; i++) {
		const struct json_flat *e = &h.v[i];
		const char *rel = json_flat_get(e, "release"), *msg = json_flat_get(e, "message");
		const char *dur = json_flat_get(e, "duration_ms");
		printf("%-20s %-9s %-36s %-12s %-10s %8.2f  %s\n", json_flat_get(e, "time") ?: "?",
		       json_flat_get(e, "action") ?: "?", rel ? rel : "-",
		       json_flat_get(e, "outcome") ?: "?", json_flat_get(e, "user") ?: "?",
		       dur ? strtod(dur, NULL) / 1000 : 0.0, msg ? msg : "");
	}
out:
	deploy_opts_release(&o);
	history_release(&h);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
