/*
** fsutil.h: how clgrad creates files (and reads one whole).  Every file is first created under an
** unpredictable name (".NAME.tmp.RANDOM" in the same directory) with
** O_CREAT|O_EXCL|O_NOFOLLOW, so a planted file or symlink is never opened,
** then filled, fsync'd and renamed over NAME (rename replaces a symlink at
** NAME, it never follows it), and the directory is fsync'd.  Files kept open
** (appended logs, locks) are opened with O_NOFOLLOW and must be regular
** files with a single link.  Internal to clgrad (also used by src/cli/sweep.c).
*/
#ifndef CLGRAD_FSUTIL_H
#define CLGRAD_FSUTIL_H
#include <stddef.h>

/* Write n bytes (retrying on EINTR); 0, or -1 with errno. */
int clgrad_fs_write_all(int fd, const void *p, size_t n);
/* Replace path by a new file: created as above, filled by fill(fd, user)
** (returns 0 or an errno; NULL: left empty), fsync'd, renamed over path.
** With keep_fd NULL the file is closed; else *keep_fd gets it, open for
** writing at its end (for files written as a run goes).  0, or an errno;
** on failure the temporary file is removed and path is untouched. */
int clgrad_fs_replace(const char *path, int (*fill)(int fd, void *user), void *user, int *keep_fd);
/* clgrad_fs_replace with the file's content in memory (_fd: keep_fd as above). */
int clgrad_fs_replace_text(const char *path, const void *text, size_t len);
int clgrad_fs_replace_text_fd(const char *path, const void *text, size_t len, int *keep_fd);
/* Open path to append (O_APPEND) or to lock (not O_APPEND), creating it when
** missing, never through a symlink; anything but a regular file with one
** link is refused (ELOOP / EINVAL / EMLINK).  The fd (O_CLOEXEC), or -1 with errno. */
int clgrad_fs_open_append(const char *path);
int clgrad_fs_open_lock(const char *path);
/* Read the file at path whole: *text gets a malloc'd copy with a NUL after
** its *len bytes (len may be NULL).  regular_only: anything but a regular
** file is refused (EINVAL), and a FIFO is refused instead of waited on
** (opened with O_NONBLOCK); else a FIFO or device is read to its end.
** max > 0: a larger file is refused.  0, or an errno (*text NULL): the
** open's, EISDIR (a directory), EINVAL, EFBIG (larger than max), ENOMEM, or
** the read's. */
int clgrad_fs_read_all(const char *path, size_t max, int regular_only, char **text, size_t *len);
/* flock(fd, LOCK_EX | LOCK_NB): 0, or -1 with errno (EWOULDBLOCK: held by another). */
int clgrad_fs_trylock(int fd);
#endif
