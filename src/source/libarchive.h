#ifndef CUTOVER_SOURCE_LIBARCHIVE_H
#define CUTOVER_SOURCE_LIBARCHIVE_H
#include <archive.h>
#include <archive_entry.h>

/*
 * libarchive, loaded the first time an archive or a tar stream is read.
 * Linking it would load libarchive's own dependencies (libxml2, ICU,
 * libstdc++ ...) into every cutover process, several milliseconds at each
 * start, though most commands never read an archive.
 */
struct libarchive {
	struct archive *(*read_new)(void);
	int (*read_support_filter_all)(struct archive *);
	int (*read_support_format_all)(struct archive *);
	int (*read_open_fd)(struct archive *, int, size_t);
	int (*read_open_filename)(struct archive *, const char *, size_t);
	int (*read_next_header)(struct archive *, struct archive_entry **);
	int (*read_data_block)(struct archive *, const void **, size_t *, la_int64_t *);
	int (*read_free)(struct archive *);
	const char *(*error_string)(struct archive *);
	const char *(*entry_pathname)(struct archive_entry *);
	const char *(*entry_hardlink)(struct archive_entry *);
	const char *(*entry_symlink)(struct archive_entry *);
	__LA_MODE_T (*entry_filetype)(struct archive_entry *);
	__LA_MODE_T (*entry_perm)(struct archive_entry *);
};

/* The functions, or NULL (reported: what could not be loaded and what to install). */
const struct libarchive *libarchive_load(void);

#endif
