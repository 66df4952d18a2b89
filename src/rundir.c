/*
** rundir.c: run-directory files: directory preparation, atomic writes, JSON
** text, tensor snapshots (.npy via data.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "rundir.h"
#include "cache.h"
#include "internal.h"
#include "clgrad/data.h"
#include "clgrad/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Space set aside in every run directory while a run is going: a file of
** RESERVE_BYTES that clgrad_write_atomic deletes when the disk is full, so
** the final summary.json and manifest.json ("failed") can still be written. */
#define RESERVE_NAME ".clgrad-reserve"
#define RESERVE_BYTES (64 * 1024)

static int write_all_(int fd, const char *p, size_t n)
{
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

int clgrad_rundir_prepare(const char *dir, char *why, size_t nwhy)
{
    int e = clgrad_mkdirs(dir);
    if (e) {
        snprintf(why, nwhy, "cannot create the run directory %s: %s", dir, strerror(e));
        return -1;
    }
    /* the reserve doubles as the probe that proves the directory writable */
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, RESERVE_NAME);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(why, nwhy, "the run directory %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    static const char zeros[4096];
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < RESERVE_BYTES; done += sizeof zeros)
        rc = write_all_(fd, zeros, sizeof zeros);
    if (rc != 0 || fsync(fd) != 0) rc = -1;
    e = errno;
    if (close(fd) != 0 && rc == 0) rc = -1, e = errno;
    if (rc != 0) {
        snprintf(why, nwhy, "the run directory %s is not writable: %s", dir, strerror(e));
        unlink(path);
        return -1;
    }
    /* a summary.json left by an earlier run in this directory would describe
    ** that run until this one ends (or for good if this one is killed) */
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(why, nwhy, "cannot remove the old %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

void clgrad_rundir_finish(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, RESERVE_NAME);
    unlink(path);
}

/* Whether text[0..n) contains pat. */
static int contains_(const char *text, size_t n, const char *pat)
{
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(text + i, pat, m) == 0) return 1;
    return 0;
}

/* One attempt: temp file, write, fsync, close, rename.  0, or an errno. */
static int write_atomic_once_(const char *path, const char *tmp, const char *text, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return errno ? errno : EIO;
    int e = 0;
    if (write_all_(fd, text, len) != 0 || fsync(fd) != 0) e = errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno ? errno : EIO;
    if (!e && rename(tmp, path) != 0) e = errno ? errno : EIO;
    if (e) unlink(tmp);
    return e;
}

int clgrad_write_atomic(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy)
{
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int e = write_atomic_once_(path, tmp, text, len);
    if (e == ENOSPC || e == EDQUOT) {
        /* the disk is full: give up the reserve and try once more */
        char res[1200];
        snprintf(res, sizeof res, "%s/%s", dir, RESERVE_NAME);
        if (unlink(res) == 0) e = write_atomic_once_(path, tmp, text, len);
    }
    if (e) {
        snprintf(why, nwhy, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    /* the final manifest (any status but "running") is a run's last file: the
    ** reserve is no longer needed (clgrad_rundir_finish does the same) */
    if (strcmp(name, "manifest.json") == 0 && !contains_(text, len, "\"status\": \"running\"")) clgrad_rundir_finish(dir);
    return 0;
}

int clgrad_csv_commit(FILE *f, long *good_end)
{
    if (fflush(f) != 0 || ferror(f)) {
        if (!errno) errno = EIO;
        return -1;
    }
    long at = ftell(f);
    if (at >= 0) *good_end = at;
    return 0;
}

int clgrad_csv_close(FILE *f, long good_end)
{
    if (!f) return 0;
    int fd = good_end >= 0 ? dup(fileno(f)) : -1;
    int rc = fclose(f); /* may write (part of) a row a failed commit left buffered */
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_size > (off_t)good_end && ftruncate(fd, (off_t)good_end) != 0) rc = -1;
        close(fd);
    }
    return rc == 0 ? 0 : -1;
}

void clgrad_sb_printf(clgrad_sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) { va_end(ap); return; }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024);
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = 1; va_end(ap); return; }
        b->s = s, b->cap = cap;
    }
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    va_end(ap);
}

static void sb_put_(void *u, const char *p, size_t n) { clgrad_sb_printf((clgrad_sbuf *)u, "%.*s", (int)n, p); }

/* clgrad_json_escape (runread.c): the one JSON string writer */
void clgrad_sb_json_str(clgrad_sbuf *b, const char *s) { clgrad_json_escape(s, sb_put_, b); }

void clgrad_sb_json_num(clgrad_sbuf *b, double v)
{
    if (!isfinite(v)) clgrad_sb_printf(b, "null"); /* JSON has no NaN/Inf: callers add a *_nonfinite field */
    else clgrad_sb_printf(b, "%.9g", v);
}

void clgrad_sb_free(clgrad_sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void clgrad_sb_fingerprint(clgrad_sbuf *b, clgrad_ctx *ctx)
{
    const clgrad_device_info *d = clgrad_device(ctx);
    const clgrad_build_stats *bs = clgrad_build_info(ctx);
    clgrad_sb_printf(b, "  \"device\": {\"index\": \"%d:%d\", \"platform\": ", d->platform_index, d->device_index);
    clgrad_sb_json_str(b, d->platform_name);
    clgrad_sb_printf(b, ", \"platform_version\": ");
    clgrad_sb_json_str(b, d->platform_version);
    clgrad_sb_printf(b, ", \"name\": ");
    clgrad_sb_json_str(b, d->name);
    clgrad_sb_printf(b, ", \"vendor\": ");
    clgrad_sb_json_str(b, d->vendor);
    clgrad_sb_printf(b, ", \"type\": \"%s\", \"driver_version\": ", d->type);
    clgrad_sb_json_str(b, d->driver_version);
    clgrad_sb_printf(b, ", \"opencl_version\": ");
    clgrad_sb_json_str(b, d->device_version);
    clgrad_sb_printf(b, ", \"opencl_c_version\": ");
    clgrad_sb_json_str(b, d->c_version);
    char fpc[160], why[256];
    clgrad_fp_config_str(d->single_fp, fpc, sizeof fpc);
    const int sb = clgrad_device_same_bits(d, why, sizeof why);
    clgrad_sb_printf(b, ", \"compute_units\": %u, \"clock_mhz\": %u, \"global_mem_bytes\": %llu, \"fp64\": %s, "
                     "\"single_fp_config\": \"%s\", \"same_bits\": %s, \"same_bits_missing\": ",
                     d->compute_units, d->clock_mhz, d->global_mem, d->has_fp64 ? "true" : "false", fpc,
                     sb ? "true" : "false");
    clgrad_sb_json_str(b, why);
    clgrad_sb_printf(b, "},\n");
    clgrad_sb_printf(b, "  \"gemm_variant\": ");
    clgrad_sb_json_str(b, clgrad_gemm_variant(ctx));
    clgrad_sb_printf(b, ",\n  \"build_options\": ");
    clgrad_sb_json_str(b, clgrad_build_options(ctx));
    clgrad_sb_printf(b, ",\n  \"kernel_source_sha256\": \"%s\",\n", bs->source_hash);
    const char *nfp = clgrad_numerics_fingerprint_cached(ctx);
    if (nfp) clgrad_sb_printf(b, "  \"numerics_fingerprint\": \"%s\",\n", nfp);
    else clgrad_sb_printf(b, "  \"numerics_fingerprint\": null,\n");
    clgrad_sb_printf(b, "  \"work_group_size\": %zu,\n", clgrad_wg(ctx));
    clgrad_sb_printf(b, "  \"kernel_build\": {\"programs\": %d, \"compiled\": %d, \"loaded_from_cache\": %d, \"seconds\": %.4f},\n",
                     bs->programs, bs->compiled, bs->loaded, bs->seconds);
}

void clgrad_iso_time(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

clgrad_status clgrad_save_tensors(clgrad_ctx *ctx, const clgrad_model *m, const char *dir)
{
    clgrad_status st = CLGRAD_OK;
    int e = clgrad_mkdirs(dir);
    if (e) return clgrad_fail(ctx, CLGRAD_E_IO, "cannot create %s: %s", dir, strerror(e));
    size_t np = clgrad_model_nparams(m);
    float *p = malloc((np ? np : 1) * sizeof *p);
    if (!p) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory saving weights");
    CLGRAD_TRY(clgrad_buf_read(ctx, clgrad_model_params(m), 0, np, p));
    for (int i = 0; i < clgrad_model_ntensors(m); i++) {
        const clgrad_tensor *t = clgrad_model_tensor(m, i);
        char path[1200], why[1400];
        snprintf(path, sizeof path, "%s/%s.npy", dir, t->name);
        size_t shape[2] = {t->rows, t->cols};
        int nd = t->is_bias ? 1 : 2;
        if (clgrad_npy_write(path, p + t->off, t->is_bias ? shape + 1 : shape, nd, why, sizeof why) != 0) {
            st = clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
            goto fail;
        }
    }
fail:
    free(p);
    return st;
}

clgrad_status clgrad_load_tensors(clgrad_ctx *ctx, clgrad_model *m, const char *dir)
{
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < clgrad_model_ntensors(m); i++) {
        const clgrad_tensor *t = clgrad_model_tensor(m, i);
        char path[1200], why[1400];
        snprintf(path, sizeof path, "%s/%s.npy", dir, t->name);
        float *data = NULL;
        size_t shape[4];
        int nd = 0;
        if (clgrad_npy_read(path, &data, shape, &nd, 4, why, sizeof why) != 0)
            return clgrad_fail(ctx, CLGRAD_E_IO, "--init-from: %s", why);
        size_t n = 1;
        for (int d = 0; d < nd; d++) n *= shape[d];
        int ok = t->is_bias ? (nd == 1 && shape[0] == t->cols) : (nd == 2 && shape[0] == t->rows && shape[1] == t->cols);
        if (!ok || n != t->rows * t->cols) {
            free(data);
            return clgrad_fail(ctx, CLGRAD_E_IO, "--init-from: %s has shape %s, expected (%zu%s%zu)", path,
                               nd == 1 ? "(n,)" : "another", t->is_bias ? t->cols : t->rows, t->is_bias ? "" : ", ",
                               t->is_bias ? (size_t)0 : t->cols);
        }
        st = clgrad_buf_write(ctx, clgrad_model_params(m), t->off, n, data);
        free(data);
        if (st != CLGRAD_OK) return st;
    }
    return st;
}
