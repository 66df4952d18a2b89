/*
** cache.c: the on-disk program-binary cache (format and guarantees in cache.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "cache.h"
#include "clgrad/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, nwhy, "%s: %s", path, strerror(errno));
        return 0;
    }
    struct stat sb;
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

static int write_all_(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

int clgrad_cache_store(const char *dir, const unsigned char key[32], const unsigned char *data,
                       size_t len, char *why, size_t nwhy)
{
    int e = clgrad_mkdirs(dir);
    if (e) { snprintf(why, nwhy, "cannot create %s: %s", dir, strerror(e)); return -1; }
    char path[1100], tmp[1200];
    clgrad_cache_entry_path(dir, key, path, sizeof path);
    static atomic_uint counter; /* unique temp names across threads too */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1u));

    unsigned char hdr[HEADER];
    memcpy(hdr, MAGIC, 8);
    for (int i = 0; i < 4; i++) hdr[8 + i] = (unsigned char)(VERSION >> (8 * i));
    memcpy(hdr + 12, key, 32);
    put_u64_(hdr + 44, (uint64_t)len);
    clgrad_sha256 s;
    clgrad_sha256_init(&s);
    clgrad_sha256_update(&s, data, len);
    clgrad_sha256_final(&s, hdr + 52);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) { snprintf(why, nwhy, "cannot write %s: %s", tmp, strerror(errno)); return -1; }
    const char *fault = getenv("CLGRAD_FAULT_CACHE_ENOSPC"); /* test hook: simulate a full disk */
    if ((fault && *fault == '1') || write_all_(fd, hdr, HEADER) != 0 || write_all_(fd, data, len) != 0 ||
        fsync(fd) != 0) {
        int err = (fault && *fault == '1') ? ENOSPC : errno;
        snprintf(why, nwhy, "cannot write %s: %s", tmp, strerror(err));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(why, nwhy, "cannot finish %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
