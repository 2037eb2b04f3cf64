#include "cmd/cmd.h"
#include "cmd/common.h"
#include "release/inspect.h"
#include "util/error.h"

static const char usage[] = "cutover diff A [B] --to ROOT\n"
			    "  without B: compare A with the live release";

struct counts {
	int n[3];
};

static void show(enum change c, const struct entry *a, const struct entry *b, void *data)
{
	struct counts *k = data;
	const struct entry *e = b ? b : a;
	const char *suffix = e->type == ENT_DIR ? "/" : "";
	const char *what = "";
	if (c == CHANGE_MODIFIED) {
		if (a->type != b->type)
			what = " (type)";
		else if (a->type == ENT_FILE && memcmp(a->hash, b->hash, HASH_LEN))
			what = "";
		else if (a->mode != b->mode)
			what = " (mode)";
		else if (a->type == ENT_LINK)
			what = " (link target)";
	}
	printf("%c %s%s%s\n", c, e->path, suffix, what);
	k->n[c == CHANGE_ADDED ? 0 : c == CHANGE_REMOVED ? 1 : 2]++;
}

int cmd_diff(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	struct manifest a = MANIFEST_INIT, b = MANIFEST_INIT;
	char *current = NULL, **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 1, 2, "diff takes one or two release ids")) < 0)
		goto out;
	const char *ida = args[0], *idb = nargs == 2 ? args[1] : NULL;
	if (!idb) {
		if ((rc = release_current(&r, &current)) < 0)
			goto out;
		if (!current) {
			rc = error("'%s' has no live release; name two releases", r.path);
			goto out;
		}
		idb = current;
	}
	if ((rc = release_check_exists(&r, ida)) < 0 || (rc = release_check_exists(&r, idb)) < 0 ||
	    (rc = manifest_read(&a, r.manifests, ida)) < 0 || (rc = manifest_read(&b, r.manifests, idb)) < 0)
		goto out;
	struct counts k = { { 0, 0, 0 } };
	manifest_diff(&a, &b, show, &k);
	note("%s -> %s: %d added, %d removed, %d changed", ida, idb, k.n[0], k.n[1], k.n[2]);
out:
	deploy_opts_release(&o);
	manifest_release(&a);
	manifest_release(&b);
	free(current);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
