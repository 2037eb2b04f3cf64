#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/inspect.h"
#include "util/error.h"
#include "util/json.h"

static const char usage[] = "cutover verify [RELEASE] --to ROOT [--json]\n"
			    "  without RELEASE: the live one";

/* The findings, kept until the end: they are only true if the release is still there. */
struct out {
	int json;
	struct json_writer *w;
	struct buf text;
};

static void report(const char *kind, const char *path, const char *detail, void *data)
{
	struct out *o = data;
	if (o->json) {
		json_obj_begin(o->w);
		json_key_str(o->w, "kind", kind);
		json_key_str(o->w, "path", path);
		json_key_str(o->w, "detail", detail);
		json_obj_end(o->w);
	} else {
		buf_addf(&o->text, "%-8s %s (%s)\n", kind, path, detail);
	}
}

/*
 * verify takes no lock, so that it never holds up a deploy nor waits for
 * one; but a prune may remove the release while verify reads it (prune
 * first moves a release out of releases/, then deletes it), and what it
 * found then is not drift. After a verify that found anything or could
 * not read: when `id` has left releases/, say so and name the prune
 * (the lock's holder, or the history when it has finished). Returns 1
 * when it did (reported as an error), else 0.
 */
static int removed_meanwhile(struct root *r, const char *id)
{
	struct strlist ids = STRLIST_INIT;
	int gone = release_list(r, &ids) == 0 && !strlist_has(&ids, id);
	strlist_clear(&ids);
	if (!gone)
		return 0;
	char *who = NULL;
	if (root_lock_holder(r, &who))
		error("release '%s' was removed while it was being verified, by the prune of %s; its "
		      "files are gone, not drifted",
		      id, who);
	else
		error("release '%s' was removed while it was being verified, by a prune that has "
		      "finished (see 'cutover log --to %s'); its files are gone, not drifted",
		      id, r->path);
	free(who);
	return 1;
}

int cmd_verify(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	char *current = NULL, **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_JSON(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 0, 1, "verify takes at most one release id")) < 0)
		goto out;
	const char *id = nargs ? args[0] : NULL;
	if (!id) {
		if ((rc = release_current(&r, &current)) < 0)
			goto out;
		if (!current) {
			rc = error("'%s' has no live release; name one to verify", r.path);
			goto out;
		}
		id = current;
	} else if ((rc = release_check_exists(&r, id)) < 0) {
		goto out;
	}
	struct buf b = BUF_INIT;
	struct json_writer w = JSON_WRITER_INIT(&b);
	struct out out = { f.json, &w, BUF_INIT };
	if (f.json) {
		json_obj_begin(&w);
		json_key_str(&w, "release", id);
		json_key(&w, "drift");
		json_arr_begin(&w);
	}
	int n = release_verify(&r, id, report, &out);
	if (n != 0 && removed_meanwhile(&r, id))
		n = -1;
	else if (f.json) {
		json_arr_end(&w);
		json_key_bool(&w, "ok", n == 0);
		json_obj_end(&w);
		if (n >= 0)
			printf("%s\n", b.buf);
	} else if (out.text.len) {
		fputs(out.text.buf, stdout);
	}
	buf_release(&b);
	buf_release(&out.text);
	if (n < 0) {
		rc = -1;
	} else if (n > 0) {
		if (!f.json)
			printf("%s: %d path%s drifted from the manifest\n", id, n, n == 1 ? "" : "s");
		rc = -1;
	} else if (!f.json && !log_quiet) {
		printf("%s: every path matches its manifest\n", id);
	}
out:
	deploy_opts_release(&o);
	free(current);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
