/*
** fsutil.c: safe file creation (see fsutil.h).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int clgrad_fs_write_all(int fd, const void *p_, size_t n)
{
    const char *p = p_;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

int clgrad_fs_read_all(const char *path, size_t max, int regular_only, char **text, size_t *len)
{
    *text = NULL;
    if (len) *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
    if (fd < 0) return errno;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) != 0) e = errno;
    else if (S_ISDIR(st.st_mode)) e = EISDIR;
    else if (regular_only && !S_ISREG(st.st_mode)) e = EINVAL;
    else if (S_ISREG(st.st_mode) && (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)(SIZE_MAX / 2))) e = EFBIG;
    else if (S_ISREG(st.st_mode) && max && (uintmax_t)st.st_size > (uintmax_t)max) e = EFBIG;
    if (e) {
        close(fd);
        return e;
    }
    /* st_size + 1 is read so that a file grown since fstat is seen growing */
    size_t cap = (S_ISREG(st.st_mode) ? (size_t)st.st_size : 65536) + 2, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            e = ENOMEM;
            break;
        }
        if (n + 1 == cap) {
            if (cap > SIZE_MAX / 2) {
                e = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                e = ENOMEM;
                break;
            }
            buf = nb, cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (max && n > max) {
            e = EFBIG;
            break;
        }
    }
    close(fd);
    if (e) {
        free(buf);
        return e;
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return 0;
}

/* 12 unpredictable characters [a-z0-9]. */
static void random_suffix_(char out[13])
{
    static atomic_uint counter;
    unsigned char r[12];
    ssize_t got = getrandom(r, sizeof r, GRND_NONBLOCK);
    if (got != (ssize_t)sizeof r) { /* no entropy yet: time, pid and a counter, still unique */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 17 ^
                     atomic_fetch_add(&counter, 1u);
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 12; i++) out[i] = al[r[i] % 36];
    out[12] = 0;
}

/* fsync the directory holding path (best effort: only EIO counts). */
static int sync_dir_(const char *path)
{
    const char *sl = strrchr(path, '/');
    char *dir = sl ? strndup(path, sl == path ? 1 : (size_t)(sl - path)) : strdup(".");
    if (!dir) return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return 0;
    int e = fsync(fd) != 0 && errno == EIO ? EIO : 0;
    close(fd);
    return e;
}

int clgrad_fs_replace(const char *path, int (*fill)(int fd, void *user), void *user, int *keep_fd)
{
    const char *sl = strrchr(path, '/');
    size_t dl = sl ? (size_t)(sl - path) + 1 : 0;
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return ENOMEM;
    int fd = -1, e = 0;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        char rnd[13];
        random_suffix_(rnd);
        snprintf(tmp, n, "%.*s.%s.tmp.%s", (int)dl, path, path + dl, rnd);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        e = errno ? errno : EEXIST;
        free(tmp);
        return e;
    }
    if (fill) e = fill(fd, user);
    if (!e && fsync(fd) != 0) e = errno ? errno : EIO;
    if (!e && rename(tmp, path) != 0) e = errno ? errno : EIO;
    if (e) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return e;
    }
    free(tmp);
    e = sync_dir_(path);
    if (keep_fd && !e) {
        *keep_fd = fd;
        return 0;
    }
    if (close(fd) != 0 && !e) e = errno ? errno : EIO;
    return e;
}

typedef struct {
    const void *p;
    size_t n;
} text_;

static int fill_text_(int fd, void *user)
{
    const text_ *t = user;
    return clgrad_fs_write_all(fd, t->p, t->n) != 0 ? (errno ? errno : EIO) : 0;
}

int clgrad_fs_replace_text_fd(const char *path, const void *text, size_t len, int *keep_fd)
{
    text_ t = {text, len};
    return clgrad_fs_replace(path, fill_text_, &t, keep_fd);
}

int clgrad_fs_replace_text(const char *path, const void *text, size_t len)
{
    return clgrad_fs_replace_text_fd(path, text, len, NULL);
}

static int open_kept_(const char *path, int flags)
{
    int fd = open(path, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) return -1;
    struct stat sb;
    int e = 0;
    if (fstat(fd, &sb) != 0) e = errno;
    else if (!S_ISREG(sb.st_mode)) e = EINVAL;
    else if (sb.st_nlink != 1) e = EMLINK;
    else {
        int fl = fcntl(fd, F_GETFL);
        if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) e = errno;
    }
    if (e) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int clgrad_fs_open_append(const char *path) { return open_kept_(path, O_WRONLY | O_APPEND); }
int clgrad_fs_open_lock(const char *path) { return open_kept_(path, O_RDWR); }
int clgrad_fs_trylock(int fd) { return flock(fd, LOCK_EX | LOCK_NB); }
