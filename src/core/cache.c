/*
** cache.c: the on-disk program-binary cache (format and guarantees in cache.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "clgrad/hash.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CLGRADKC"
#define VERSION 1u
#define HEADER (8 + 4 + 32 + 8 + 32)

int clgrad_cache_dir_default(char *out, size_t n)
{
    const char *d = getenv("CLGRAD_CACHE_DIR");
    if (d && *d) return snprintf(out, n, "%s", d) < (int)n;
    d = getenv("XDG_CACHE_HOME");
    if (d && *d) return snprintf(out, n, "%s/clgrad", d) < (int)n;
    d = getenv("HOME");
    if (d && *d) return snprintf(out, n, "%s/.cache/clgrad", d) < (int)n;
    return 0;
}

int clgrad_mkdirs(const char *dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return errno;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return errno;
    struct stat sb;
    if (stat(path, &sb) != 0) return errno;
    if (!S_ISDIR(sb.st_mode)) return ENOTDIR;
    return 0;
}

/* ssh's rule: owned by us (or root for a directory) and not writable by group or others. */
static int trusted_(const struct stat *sb, int dir)
{
    return (sb->st_uid == geteuid() || (dir && sb->st_uid == 0)) && !(sb->st_mode & (S_IWGRP | S_IWOTH));
}

int clgrad_cache_dir_trusted(const char *dir, char *why, size_t nwhy)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT) return 1; /* created by the first store, ours */
        snprintf(why, nwhy, "%s: %s", dir, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(why, nwhy, "%s is not a directory", dir);
        return 0;
    }
    if (!trusted_(&sb, 1)) {
        snprintf(why, nwhy, "%s is %s", dir,
                 sb.st_uid != geteuid() && sb.st_uid != 0 ? "owned by another user" : "writable by group or others");
        return 0;
    }
    return 1;
}

void clgrad_cache_entry_path(const char *dir, const unsigned char key[32], char *out, size_t n)
{
    char hex[65];
    clgrad_sha256_hex(key, hex);
    snprintf(out, n, "%s/%s.bin", dir, hex);
}

static void put_u64_(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64_(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

int clgrad_cache_load(const char *dir, const unsigned char key[32], unsigned char **data, size_t *len,
                      char *why, size_t nwhy)
{
    char path[1100];
    clgrad_cache_entry_path(dir, key, path, sizeof path);
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO planted under an entry's name must not hang the
    ** open; anything but a regular file is corrupt */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, nwhy, "%s: %s", path, e == ELOOP ? "a symbolic link" : strerror(e));
        return e == ELOOP ? -2 : 0;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && !trusted_(&sb, 0)) {
        snprintf(why, nwhy, "%s is %s", path, sb.st_uid != geteuid() ? "owned by another user" : "writable by group or others");
        close(fd);
        return -2;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
        !(f = fdopen(fd, "rb"))) {
        snprintf(why, nwhy, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    unsigned char hdr[HEADER];
    unsigned char *buf = NULL;
    int ret = -1;
    if (sb.st_size < HEADER) {
        snprintf(why, nwhy, "%s: truncated header", path);
        goto out;
    }
    if (fread(hdr, 1, HEADER, f) != HEADER) { snprintf(why, nwhy, "%s: short read", path); goto out; }
    if (memcmp(hdr, MAGIC, 8) != 0) { snprintf(why, nwhy, "%s: bad magic", path); goto out; }
    uint32_t ver = (uint32_t)hdr[8] | (uint32_t)hdr[9] << 8 | (uint32_t)hdr[10] << 16 | (uint32_t)hdr[11] << 24;
    if (ver != VERSION) { snprintf(why, nwhy, "%s: format version %u", path, ver); goto out; }
    if (memcmp(hdr + 12, key, 32) != 0) { snprintf(why, nwhy, "%s: key mismatch", path); goto out; }
    uint64_t plen = get_u64_(hdr + 44);
    if (plen != (uint64_t)sb.st_size - HEADER || plen == 0) {
        snprintf(why, nwhy, "%s: payload length %llu but file holds %lld", path, (unsigned long long)plen,
                 (long long)sb.st_size - HEADER);
        goto out;
    }
    buf = malloc((size_t)plen);
    if (!buf) { snprintf(why, nwhy, "%s: out of memory", path); goto out; }
    if (fread(buf, 1, (size_t)plen, f) != plen) { snprintf(why, nwhy, "%s: short read", path); goto out; }
    unsigned char dig[32];
    clgrad_sha256 s;
    clgrad_sha256_init(&s);
    clgrad_sha256_update(&s, buf, (size_t)plen);
    clgrad_sha256_final(&s, dig);
    if (memcmp(dig, hdr + 52, 32) != 0) { snprintf(why, nwhy, "%s: checksum mismatch", path); goto out; }
    *data = buf;
    *len = (size_t)plen;
    buf = NULL;
    ret = 1;
out:
    free(buf);
    fclose(f);
    return ret;
}

typedef struct {
    const unsigned char *hdr, *data;
    size_t len;
} entry_out_;

static int fill_entry_(int fd, void *user)
{
    const entry_out_ *o = user;
    const char *fault = getenv("CLGRAD_FAULT_CACHE_ENOSPC"); /* test hook: simulate a full disk */
    if (fault && *fault == '1') return ENOSPC;
    if (clgrad_fs_write_all(fd, o->hdr, HEADER) != 0 || clgrad_fs_write_all(fd, o->data, o->len) != 0)
        return errno ? errno : EIO;
    return 0;
}

int clgrad_cache_store(const char *dir, const unsigned char key[32], const unsigned char *data,
                       size_t len, char *why, size_t nwhy)
{
    int e = clgrad_mkdirs(dir);
    if (e) { snprintf(why, nwhy, "cannot create %s: %s", dir, strerror(e)); return -1; }
    if (!clgrad_cache_dir_trusted(dir, why, nwhy)) return -1;
    char path[1100];
    clgrad_cache_entry_path(dir, key, path, sizeof path);

    unsigned char hdr[HEADER];
    memcpy(hdr, MAGIC, 8);
    for (int i = 0; i < 4; i++) hdr[8 + i] = (unsigned char)(VERSION >> (8 * i));
    memcpy(hdr + 12, key, 32);
    put_u64_(hdr + 44, (uint64_t)len);
    clgrad_sha256 s;
    clgrad_sha256_init(&s);
    clgrad_sha256_update(&s, data, len);
    clgrad_sha256_final(&s, hdr + 52);

    /* a new file with an unpredictable name, renamed over the entry (fsutil.h) */
    entry_out_ o = {hdr, data, len};
    e = clgrad_fs_replace(path, fill_entry_, &o, NULL);
    if (e) {
        snprintf(why, nwhy, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}
