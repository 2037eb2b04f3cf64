#ifndef CUTOVER_FS_H
#define CUTOVER_FS_H
#include "util/buf.h"
#include <stdint.h>
#include <sys/types.h>

/* "a" + "b" -> "a/b" into a fresh allocation (either may be empty). */
char *path_join(const char *a, const char *b);
/* Absolute, lexically normalised form of `p` (no symlink resolution). */
char *path_absolute(const char *p);
/* The relative path that leads from directory `from_dir` to `to`, both
 * relative to the same base and normalised ("a/b", "shared/x" -> "../../shared/x"). */
char *path_relative_link(const char *from_dir, const char *to);

/* mkdir -p; existing directories are fine. Returns 0 or -1 (reported). */
int fs_mkdir_p(const char *path, mode_t mode);
/* rm -rf; a missing path is fine. Read-only directories are made writable
 * first. Returns 0 or -1 (reported). */
int fs_rm_rf(const char *path);
/*
 * The same for a large tree (a release): the subtrees two levels down are
 * removed on all CPUs (ext4 removes entries of different directories in
 * parallel), then the rest. Returns 0 or -1 (reported).
 */
int fs_rm_rf_parallel(const char *path);
/* fsync a directory so that renames/links inside it are durable. */
int fs_fsync_dir(const char *path);
/* fsync the directory that contains `path`. */
int fs_fsync_parent(const char *path);
/* Write `len` bytes to `path` atomically: temp file in the same directory,
 * fsync, rename, fsync of the directory. Returns 0 or -1 (reported). */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Write all of `data` to `fd`, retrying short writes and EINTR. 0 or -1 (errno set, not reported). */
int fs_write_all(int fd, const void *data, size_t len);
/* The same without the fsyncs, for files a later syncfs(2) makes durable
 * before anything depends on them, and for caches. */
int fs_write_replace(const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole file, failing (reported) when it is larger than `max`.
 * Returns 0, -1; with errno ENOENT and no message when `missing_ok` and absent (returns 1). */
int fs_read_file(struct buf *out, const char *path, size_t max, int missing_ok);
/* Copy the contents of open `srcfd` (from offset 0) to a new file `dst`
 * (O_EXCL) with `mode`; copy_file_range, falling back to read/write.
 * Returns 0 or -1 (reported, naming `what` as the source). */
int fs_copy_fd(int srcfd, const char *what, const char *dst, mode_t mode);
/* The same, `dst` relative to directory `dfd` (AT_FDCWD: the working directory). */
int fs_copy_fd_at(int srcfd, const char *what, int dfd, const char *dst, mode_t mode);
/* Copy a file, directory tree or symlink from `src` to `dst` (which must not
 * exist), keeping modes but making everything owner-writable. */
int fs_copy_tree(const char *src, const char *dst);
/* Clone (FICLONE) `srcfd` into new file `dst`. Returns 0, -1 (reported), or
 * -2 with errno EOPNOTSUPP/EXDEV/EINVAL when the file system cannot reflink (not reported). */
int fs_reflink_fd(int srcfd, const char *dst, mode_t mode);
int fs_reflink_fd_at(int srcfd, int dfd, const char *dst, mode_t mode);
/* Copy everything from `srcfd` (offset 0) into open `out`. Returns 0 or -1 (reported). */
int fs_copy_data(int srcfd, const char *what, int out, const char *dst);
/* Disk use of a tree, counting each inode once across calls sharing `seen`
 * (NULL: count every link). */
struct inode_set;
struct inode_set *inode_set_new(void);
void inode_set_free(struct inode_set *s);
/* Adds (dev, ino); returns 1 if it was new, 0 if already present. */
int inode_set_add(struct inode_set *s, dev_t dev, ino_t ino);
uint64_t fs_disk_usage(const char *path, struct inode_set *seen);
int64_t time_now_ms(void);

#endif
