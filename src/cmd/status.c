#include "cmd/cmd.h"
#include "cmd/common.h"
#include "util/format.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"
#include <dirent.h>

static const char usage[] = "cutover status --to ROOT [--json]";

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int cmd_status(int argc, char **argv)
{
	struct common_flags f;
	struct deploy_opts o;
	struct root r = ROOT_INIT;
	struct strlist ids = STRLIST_INIT;
	char *current = NULL, *holder = NULL, **args;
	int nargs, done, rc;

	common_flags_init(&f);
	struct opt opts[] = { OPTS_TARGET(f), OPTS_JSON(f), OPT_END() };
	rc = common_parse(argc, argv, opts, usage, &args, &nargs, &done);
	if (done)
		return rc;
	if ((rc = common_open_root(&o, &f, &r, nargs, 0, 0, "status takes no arguments")) < 0)
		goto out;
	/* tidy up after a killed deploy, but only when nobody is deploying right now */
	if ((rc = root_lock_try(&r)) < 0)
		goto out;
	if (rc == 1) {
		int demoted = report_demote_errors(1); /* a status shows; its tidying up is best effort */
		root_recover(&r);
		report_demote_errors(demoted);
		root_unlock(&r);
	} else {
		root_lock_holder(&r, &holder);
	}
	if ((rc = release_list(&r, &ids)) < 0 || (rc = release_current(&r, &current)) < 0)
		goto out;
	const char *previous = release_previous(&ids, current);
	size_t pinned = count_entries(r.pins);
	struct inode_set *seen = inode_set_new();
	uint64_t releases_bytes = fs_disk_usage(r.releases, seen);
	uint64_t store_bytes = fs_disk_usage(r.objects, seen);
	uint64_t shared_bytes = fs_disk_usage(r.shared, NULL);
	inode_set_free(seen);

	if (f.json) {
		struct buf b = BUF_INIT;
		struct json_writer w = JSON_WRITER_INIT(&b);
		json_obj_begin(&w);
		json_key_str(&w, "root", r.path);
		json_key_str(&w, "current", current);
		json_key_str(&w, "previous", previous);
		json_key_int(&w, "releases", (int64_t)ids.nr);
		json_key_int(&w, "pinned", (int64_t)pinned);
		json_key_str(&w, "lock_holder", holder);
		json_key_int(&w, "releases_bytes", (int64_t)(releases_bytes + store_bytes));
		json_key_int(&w, "shared_bytes", (int64_t)shared_bytes);
		json_obj_end(&w);
		printf("%s\n", b.buf);
		buf_release(&b);
		goto out;
	}
	char rb[32], sb[32];
	format_bytes(rb, sizeof(rb), releases_bytes + store_bytes);
	format_bytes(sb, sizeof(sb), shared_bytes);
	printf("root:      %s\n", r.path);
	printf("current:   %s\n", current ? current : "(none: nothing deployed yet)");
	printf("previous:  %s\n", previous ? previous : "(none)");
	printf("releases:  %zu (%zu pinned)\n", ids.nr, pinned);
	printf("lock:      %s\n", holder ? holder : "free");
	printf("disk:      %s in releases and the store (shared files counted once), %s in shared/\n",
	       rb, sb);
out:
	deploy_opts_release(&o);
	free(current);
	free(holder);
	strlist_clear(&ids);
	root_release(&r);
	common_flags_release(&f);
	free(args);
	return exit_status(rc);
}
