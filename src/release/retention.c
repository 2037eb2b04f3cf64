#include "release/retention.h"
#include "release/manifest.h"
#include "release/store.h"
#include "util/error.h"
#include "util/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int remove_manifests(struct root *r, const char *id)
{
	const char *ext[] = { MANIFEST_TREE_EXT + 1, "sha256" };
	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		char *p = xasprintf("%s/%s.%s", r->manifests, id, ext[i]);
		if (unlink(p) < 0 && errno != ENOENT) {
			error_errno("cannot remove '%s'", p);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

/* Move releases/<id> out of sight first, then delete it at leisure. */
static int remove_release(struct root *r, const char *id)
{
	char *src = release_path(r, id);
	char *dst = xasprintf("%s/%s.removing", r->staging, id);
	int rc = 0;
	if (rename(src, dst) < 0 && errno != ENOENT)
		rc = error_errno("cannot move '%s' out of releases/", src);
	crashpoint("prune-moved");
	if (!rc)
		rc = remove_manifests(r, id);
	if (!rc)
		rc = fs_rm_rf_parallel(dst);
	free(src);
	free(dst);
	return rc;
}

int release_discard(struct root *r, const char *id)
{
	char *p = path_join(r->staging, id);
	int rc = fs_rm_rf(p);
	free(p);
	if (remove_release(r, id) < 0)
		rc = -1;
	return rc;
}

int release_prune(struct root *r, int keep, struct strlist *removed, int64_t *freed)
{
	struct strlist ids = STRLIST_INIT, kept = STRLIST_INIT;
	char *current = NULL;
	int rc = 0;
	struct statvfs before, after;
	int have_before = statvfs(r->path, &before) == 0;
	*freed = 0;

	if (release_list(r, &ids) < 0 || release_current(r, &current) < 0) {
		rc = -1;
		goto out;
	}
	const char *previous = release_previous(&ids, current);
	int newest = 0;
	for (size_t i = ids.nr; i-- > 0;) {
		const char *id = ids.items[i];
		int keep_it = newest < keep || (current && !strcmp(id, current)) ||
			      (previous && !strcmp(id, previous)) || release_is_pinned(r, id);
		newest++;
		if (keep_it) {
			strlist_push(&kept, id);
			continue;
		}
		if (remove_release(r, id) < 0) {
			rc = -1;
			goto out;
		}
		strlist_push(removed, id);
	}
	if (removed->nr) {
		struct store s;
		if (store_init(&s, r, LINK_HARDLINK) < 0) {
			rc = -1;
			goto out;
		}
		int64_t n = store_gc(&s, &kept);
		store_release(&s);
		if (n < 0)
			rc = -1;
		/* what the file system got back: release trees, manifests and objects */
		if (have_before && statvfs(r->path, &after) == 0 && after.f_bfree > before.f_bfree)
			*freed = (int64_t)((after.f_bfree - before.f_bfree) * before.f_frsize);
		else if (n > 0)
			*freed = n;
	}
out:
	free(current);
	strlist_clear(&ids);
	strlist_clear(&kept);
	return rc;
}

int release_drop_orphans(struct root *r)
{
	struct strlist ids = STRLIST_INIT;
	struct store s;
	int rc = -1;
	if (release_list(r, &ids) < 0)
		goto out;
	if (store_init(&s, r, LINK_HARDLINK) < 0)
		goto out;
	rc = store_gc(&s, &ids) < 0 ? -1 : 0;
	store_release(&s);
out:
	strlist_clear(&ids);
	return rc;
}

int release_pin(struct root *r, const char *id)
{
	if (release_check_exists(r, id) < 0)
		return -1;
	if (fs_mkdir_p(r->pins, 0700) < 0)
		return -1;
	char *p = path_join(r->pins, id);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0)
		rc = error_errno("cannot create '%s'", p);
	else {
		close(fd);
		rc = fs_fsync_dir(r->pins);
	}
	free(p);
	return rc;
}

int release_unpin(struct root *r, const char *id)
{
	if (!release_is_pinned(r, id))
		return error("release '%s' is not pinned", id);
	char *p = path_join(r->pins, id);
	int rc = unlink(p) < 0 ? error_errno("cannot remove '%s'", p) : fs_fsync_dir(r->pins);
	free(p);
	return rc;
}
