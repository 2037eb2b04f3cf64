#include "cmd/cmd.h"
#include "cmd/common.h"
#include "util/format.h"
#include "release/id.h"
#include "release/inspect.h"
#include "util/error.h"
#include "util/json.h"

static const char usage[] = "cutover releases --to ROOT [--json]";

int cmd_releases(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	struct strlist ids = STRLIST_INIT;
	char *current = NULL, **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_JSON(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 0, 0, "releases takes no arguments")) < 0)
		goto out;
	if ((rc = release_list(&r, &ids)) < 0 ||
	    (rc = release_current(&r, &current)) < 0)
		goto out;
	const char *previous = release_previous(&ids, current);
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);
	if (f.json)
		json_arr_begin(&w);
	else if (ids.nr)
		printf("%-40s %-20s %10s  %s\n", "RELEASE", "CREATED", "UNIQUE", "");
	else
		printf("no releases in %s yet\n", r.path);
	for (size_t i = ids.nr; i-- > 0;) {
		const char *id = ids.items[i];
		char created[21] = "";
		release_id_time(id, created);
		const char *label = release_id_label(id);
		uint64_t unique = release_unique_bytes(&r, id);
		int is_cur = current && !strcmp(id, current);
		int is_prev = previous && !strcmp(id, previous);
		int pinned = release_is_pinned(&r, id);
		if (f.json) {
			json_obj_begin(&w);
			json_key_str(&w, "id", id);
			json_key_str(&w, "label", label);
			json_key_str(&w, "created", created);
			json_key_int(&w, "unique_bytes", (int64_t)unique);
			json_key_bool(&w, "current", is_cur);
			json_key_bool(&w, "previous", is_prev);
			json_key_bool(&w, "pinned", pinned);
			json_obj_end(&w);
			continue;
		}
		char size[32], marks[64] = "";
		format_bytes(size, sizeof(size), unique);
		snprintf(marks, sizeof(marks), "%s%s%s", is_cur ? "current " : "",
			 is_prev ? "previous " : "", pinned ? "pinned" : "");
		printf("%-40s %-20s %10s  %s\n", id, created, size, marks);
	}
	if (f.json) {
		json_arr_end(&w);
		printf("%s\n", b.buf);
	}
	buf_release(&b);
out:
	deploy_opts_release(&o);
	free(current);
	strlist_clear(&ids);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
