/* Archive and stream sources through libarchive: every format and filter it knows. */
#include "source/source.h"
#include "util/error.h"
#include "util/fs.h"
#include "source/libarchive.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int spool_data(const struct libarchive *la, struct archive *a, struct entry *e, const char *spool,
		      unsigned seq, const char *what)
{
	char *path = xasprintf("%s/%u", spool, seq);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_errno("cannot create '%s'", path);
		free(path);
		return -1;
	}
	struct hash_ctx *h = hash_begin();
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t offset;
		int r = la->read_data_block(a, &block, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = error("%s: cannot read '%s': %s", what, e->path, la->error_string(a));
			break;
		}
		/* sparse entries: the gap before offset is zeros */
		while ((uint64_t)offset > total) {
			static const char zeros[65536];
			size_t n = (uint64_t)offset - total > sizeof(zeros) ? sizeof(zeros) :
									   (size_t)((uint64_t)offset - total);
			hash_update(h, zeros, n);
			if (write(fd, zeros, n) != (ssize_t)n) {
				rc = error_errno("cannot write '%s'", path);
				break;
			}
			total += n;
		}
		if (rc)
			break;
		hash_update(h, block, size);
		const char *p = block;
		size_t left = size;
		while (left) {
			ssize_t n = write(fd, p, left);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = error_errno("cannot write '%s'", path);
				break;
			}
			p += n;
			left -= (size_t)n;
		}
		if (rc)
			break;
		total += size;
	}
	hash_end(h, e->hash);
	if (close(fd) < 0 && !rc)
		rc = error_errno("cannot write '%s'", path);
	if (rc) {
		unlink(path);
		free(path);
		return -1;
	}
	e->size = total;
	e->origin = path;
	return 0;
}

int source_read_archive(const char *path, int fd, const char *what, struct manifest *m,
			const struct source_opts *o, struct source_stats *st)
{
	const struct libarchive *la = libarchive_load();
	if (!la)
		return -1;
	struct archive *a = la->read_new();
	struct archive_entry *ae;
	int rc = 0, r;
	unsigned seq = 0;

	la->read_support_filter_all(a);
	la->read_support_format_all(a);
	if (fd >= 0)
		r = la->read_open_fd(a, fd, 1 << 16);
	else
		r = la->read_open_filename(a, path, 1 << 16);
	if (r != ARCHIVE_OK) {
		rc = error("cannot read archive %s: %s", what, la->error_string(a));
		goto out;
	}
	while ((r = la->read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = la->entry_pathname(ae);
		if (!name) {
			rc = error("%s: an entry has no name it can be read by", what);
			break;
		}
		char *p = xstrdup(name);
		int c = manifest_clean_path(p, what);
		if (c < 0) {
			free(p);
			rc = -1;
			break;
		}
		mode_t type = la->entry_filetype(ae);
		if (c == 1 || source_excluded(o->exclude, p, type == AE_IFDIR)) {
			free(p);
			continue;
		}
		const char *hardlink = la->entry_hardlink(ae);
		unsigned mode = la->entry_perm(ae) & 07777;
		if (hardlink) {
			char *t = xstrdup(hardlink);
			if (manifest_clean_path(t, what) != 0) {
				free(t);
				free(p);
				rc = -1;
				break;
			}
			struct entry *target = NULL;
			for (size_t i = m->nr; i-- > 0;)
				if (!strcmp(m->v[i].path, t)) {
					target = &m->v[i];
					break;
				}
			if (!target || target->type != ENT_FILE) {
				rc = error("%s: hard link '%s' points at '%s', which is not an earlier file of the archive",
					   what, p, t);
				free(t);
				free(p);
				break;
			}
			free(t);
			unsigned char hash[HASH_LEN];
			memcpy(hash, target->hash, HASH_LEN);
			uint64_t size = target->size;
			char *origin = xstrdup(target->origin);
			struct entry *e = manifest_add(m, p, ENT_FILE); /* may move `target` */
			memcpy(e->hash, hash, HASH_LEN);
			e->size = size;
			e->mode = mode;
			e->origin = origin;
			st->files++;
			st->bytes += size;
		} else if (type == AE_IFREG) {
			struct entry *e = manifest_add(m, p, ENT_FILE);
			e->mode = mode;
			if (spool_data(la, a, e, o->spool_dir, seq++, what) < 0) {
				free(p);
				rc = -1;
				break;
			}
			st->files++;
			st->bytes += e->size;
			st->hashed_files++;
			st->hashed_bytes += e->size;
		} else if (type == AE_IFDIR) {
			manifest_add(m, p, ENT_DIR)->mode = mode;
		} else if (type == AE_IFLNK) {
			const char *target = la->entry_symlink(ae);
			if (!target || !*target) {
				rc = error("%s: symlink '%s' has no target", what, p);
				free(p);
				break;
			}
			struct entry *e = manifest_add(m, p, ENT_LINK);
			e->mode = 0777;
			e->target = xstrdup(target);
		} else {
			const char *kind = type == AE_IFCHR || type == AE_IFBLK ? "a device file" :
					   type == AE_IFIFO			  ? "a named pipe" :
					   type == AE_IFSOCK			  ? "a socket" :
										    "a special file";
			rc = error("%s: entry '%s' is %s; a release holds only files, directories and symlinks",
				   what, p, kind);
			free(p);
			break;
		}
		free(p);
	}
	if (!rc && r != ARCHIVE_EOF)
		rc = error("cannot read archive %s: %s", what, la->error_string(a));
out:
	la->read_free(a);
	return rc;
}
