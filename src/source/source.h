#ifndef CUTOVER_SOURCE_H
#define CUTOVER_SOURCE_H
#include "release/manifest.h"
#include "util/strlist.h"

/*
 * Where a release comes from:
 *   ./build                 a directory (walked; a stat cache makes unchanged files free)
 *   app.tar.zst             .tar .tar.gz .tar.xz .tar.zst .tar.bz2 .zip (libarchive)
 *   git:/path/repo.git#v1.4 a git revision, exported like `git archive`
 *   -                       a tar stream (any compression) on standard input
 * Reading a source fills a manifest. File entries of a directory keep their
 * path as `origin`; entries of streams are written to `spool_dir` while they
 * are hashed and are marked `spooled` (origin is then our own file to move).
 */
enum source_kind { SOURCE_DIR, SOURCE_ARCHIVE, SOURCE_STDIN, SOURCE_GIT };

struct source {
	enum source_kind kind;
	char *spec;   /* as the user gave it */
	char *path;   /* directory, archive or repository (absolute) */
	char *rev;    /* git: the revision asked for */
	char *commit; /* git: the full commit id */
	char *label;  /* suggested label (git short sha), or NULL */
};
#define SOURCE_INIT { SOURCE_DIR, NULL, NULL, NULL, NULL, NULL }

struct source_opts {
	const struct strlist *exclude; /* fnmatch patterns */
	const char *spool_dir;         /* for streamed content; must exist */
	const char *stat_cache;        /* file for the directory stat cache, or NULL */
	/*
	 * Directories only, optional: instead of hashing a file the stat cache
	 * does not know, hand it to keep(keep_ctx, e, fd, &size), which reads
	 * `fd` from offset 0 to the end, fills e->hash and keeps the content
	 * (the store, in one pass), setting `size` to the bytes read. Returns 0
	 * or -1 (reported). Called from several threads at once.
	 */
	int (*keep)(void *ctx, struct entry *e, int fd, uint64_t *size);
	/*
	 * Directories only, optional: called once the walk has listed every
	 * entry (manifest not yet sorted or finished) and before any file is
	 * read, hashed or kept. Returns 0 or -1 (reported: the read stops).
	 */
	int (*walked)(void *ctx, struct manifest *m);
	void *keep_ctx;
};

struct source_stats {
	uint64_t files, bytes;             /* regular files in the release */
	uint64_t hashed_files, hashed_bytes; /* read and hashed this time */
};

/* Classify `spec` and check it exists; resolves git revisions. Returns 0,
 * or -1 after a specific message (missing, unreadable, unknown revision). */
int source_open(struct source *s, const char *spec);
void source_release(struct source *s);

/* Read the whole source into `m` (finished and validated). Returns 0 or -1. */
int source_read(struct source *s, struct manifest *m, const struct source_opts *o,
		struct source_stats *st, int *spooled);

/* Implementations. */
int source_read_dir(const char *dir, struct manifest *m, const struct source_opts *o,
		    struct source_stats *st);
/* fd >= 0: read the archive from this descriptor (stdin, a git pipe); else from `path`. */
int source_read_archive(const char *path, int fd, const char *what, struct manifest *m,
			const struct source_opts *o, struct source_stats *st);
int source_git_resolve(struct source *s);
int source_read_git(struct source *s, struct manifest *m, const struct source_opts *o,
		    struct source_stats *st);

/* 1 when `rel` (a relative path, is_dir for directories) matches an exclude pattern. */
int source_excluded(const struct strlist *exclude, const char *rel, int is_dir);

#endif
