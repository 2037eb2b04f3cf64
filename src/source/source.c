#include "source/source.h"
#include "util/error.h"
#include "util/fs.h"
#include <errno.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

int source_excluded(const struct strlist *exclude, const char *rel, int is_dir)
{
	if (!exclude)
		return 0;
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	for (size_t i = 0; i < exclude->nr; i++) {
		char pat[4096];
		snprintf(pat, sizeof(pat), "%s", exclude->items[i]);
		size_t n = strlen(pat);
		int dir_only = n > 1 && pat[n - 1] == '/';
		if (dir_only) {
			pat[n - 1] = 0;
			if (!is_dir)
				continue;
		}
		const char *p = pat;
		int anchored = p[0] == '/';
		if (anchored)
			p++;
		if (anchored || strchr(p, '/')) {
			if (!fnmatch(p, rel, FNM_PATHNAME | FNM_PERIOD))
				return 1;
		} else if (!fnmatch(p, base, 0)) {
			return 1;
		}
	}
	return 0;
}

int source_open(struct source *s, const char *spec)
{
	struct stat st;
	s->spec = xstrdup(spec);
	if (!strcmp(spec, "-")) {
		s->kind = SOURCE_STDIN;
		if (isatty(0))
			return error("source '-' reads a tar stream from standard input, which is a terminal; pipe one in: tar c . | cutover deploy - ...");
		return 0;
	}
	if (!strncmp(spec, "git:", 4)) {
		s->kind = SOURCE_GIT;
		const char *repo = spec + 4;
		const char *hash = strrchr(repo, '#');
		char *path = hash ? xstrndup(repo, (size_t)(hash - repo)) : xstrdup(repo);
		s->rev = xstrdup(hash && hash[1] ? hash + 1 : "HEAD");
		if (!*path) {
			free(path);
			return error("source '%s' names no repository; use git:/path/to/repo.git#REV", spec);
		}
		s->path = path_absolute(path);
		free(path);
		if (stat(s->path, &st) < 0)
			return error_errno("git repository '%s'", s->path);
		return source_git_resolve(s);
	}
	s->path = path_absolute(spec);
	if (stat(spec, &st) < 0) {
		if (errno == ENOENT)
			return error("source '%s' does not exist", spec);
		return error_errno("cannot read source '%s'", spec);
	}
	if (S_ISDIR(st.st_mode)) {
		s->kind = SOURCE_DIR;
		if (access(spec, R_OK | X_OK) < 0)
			return error_errno("cannot read source directory '%s'", spec);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		s->kind = SOURCE_ARCHIVE;
		if (access(spec, R_OK) < 0)
			return error_errno("cannot read archive '%s'", spec);
		return 0;
	}
	return error("source '%s' is neither a directory nor an archive file", spec);
}

void source_release(struct source *s)
{
	free(s->spec);
	free(s->path);
	free(s->rev);
	free(s->commit);
	free(s->label);
	memset(s, 0, sizeof(*s));
}

int source_read(struct source *s, struct manifest *m, const struct source_opts *o,
		struct source_stats *st, int *spooled)
{
	int rc;
	memset(st, 0, sizeof(*st));
	*spooled = s->kind != SOURCE_DIR;
	switch (s->kind) {
	case SOURCE_DIR:
		rc = source_read_dir(s->path, m, o, st);
		break;
	case SOURCE_ARCHIVE:
		rc = source_read_archive(s->path, -1, s->spec, m, o, st);
		break;
	case SOURCE_STDIN:
		rc = source_read_archive(NULL, 0, "standard input", m, o, st);
		break;
	case SOURCE_GIT:
		rc = source_read_git(s, m, o, st);
		break;
	default:
		rc = error("unknown source kind");
	}
	if (rc < 0)
		return rc;
	if (!m->nr)
		return error("source '%s' is empty; refusing to deploy an empty release", s->spec);
	return manifest_finish(m, s->spec);
}
