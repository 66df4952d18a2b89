/*
** rundir.c: run-directory files: directory preparation, atomic writes, JSON
** text, tensor snapshots (.npy via data.h).
*/
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include "run/rundir.h"
#include "core/cache.h"
#include "util/fsutil.h"
#include "core/internal.h"
#include "clgrad/gemm.h"
#include "clgrad/model.h"
#include "clgrad/data.h"
#include "clgrad/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Space set aside in every run directory while a run is going: a file of
** RESERVE_BYTES that clgrad_write_atomic deletes when the disk is full, so
** the final summary.json and manifest.json ("failed") can still be written. */
#define RESERVE_NAME ".clgrad-reserve"
#define RESERVE_BYTES (64 * 1024)
/* Held (flock) by the run writing the directory, removed when it ends. */
#define LOCK_NAME ".clgrad-lock"

static int fill_reserve_(int fd, void *user)
{
    (void)user;
    static const char zeros[4096];
    for (size_t done = 0; done < RESERVE_BYTES; done += sizeof zeros)
        if (clgrad_fs_write_all(fd, zeros, sizeof zeros) != 0) return errno ? errno : EIO;
    return 0;
}

/* The text of a JSON string member "key": "..." of text (its escaped form,
** quotes included) into out; 0 if absent. */
static int json_member_(const char *text, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(text, pat);
    if (!p) return 0;
    p += strlen(pat) - 1;
    const char *q = p + 1;
    while (*q && *q != '"') q += q[0] == '\\' && q[1] ? 2 : 1;
    if (*q != '"' || (size_t)(q - p + 2) > n) return 0;
    snprintf(out, n, "%.*s", (int)(q - p + 1), p);
    return 1;
}

/* Whether dir may receive a run of experiment: refused (-1 with why) when
** it holds a run (a manifest.json or summary.json) and force is not set. */
static int check_reuse_(const char *dir, const char *experiment, int force, char *why, size_t nwhy)
{
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    int has_manifest = lstat(path, &sb) == 0;
    if (!has_manifest) {
        snprintf(path, sizeof path, "%s/summary.json", dir);
        if (lstat(path, &sb) != 0) return 0; /* no run here */
        snprintf(path, sizeof path, "%s/manifest.json", dir);
    }
    if (force) return 0;
    char text[16384] = "", old[512] = "", status[64] = "", cur[512];
    int fd = has_manifest ? open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
    if (fd >= 0) {
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
            ssize_t r = read(fd, text, sizeof text - 1);
            text[r > 0 ? r : 0] = 0;
        }
        close(fd);
    }
    clgrad_sbuf b = {0};
    clgrad_sb_json_str(&b, experiment ? experiment : "");
    snprintf(cur, sizeof cur, "%s", b.s ? b.s : "\"\"");
    clgrad_sb_free(&b);
    int same = json_member_(text, "experiment", old, sizeof old) && strcmp(old, cur) == 0;
    if (!json_member_(text, "status", status, sizeof status)) snprintf(status, sizeof status, "unknown");
    if (same)
        snprintf(why, nwhy,
                 "the run directory %s already holds a run of %s (status %s); clgrad never overwrites a run: use "
                 "another --out, or --force to replace that run",
                 dir, cur, status);
    else
        snprintf(why, nwhy,
                 "the run directory %s holds a run of another experiment (%s, status %s; this is %s); use another "
                 "--out, or --force to replace that run",
                 dir, *old ? old : "not recorded", status, cur);
    return -1;
}

clgrad_status clgrad_rundir_lock(const char *dir, int *lock_fd, char *why, size_t nwhy)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    *lock_fd = -1;
    /* a sweep hands its point's lock down to the run it starts */
    const char *inh = getenv("CLGRAD_RUN_LOCK_FD");
    int ifd = inh && *inh ? atoi(inh) : -1;
    for (int tries = 0; tries < 100; tries++) {
        int fd = clgrad_fs_open_lock(path);
        if (fd < 0) {
            snprintf(why, nwhy, "cannot open the lock file %s: %s", path,
                     errno == ELOOP || errno == EINVAL || errno == EMLINK ? "not a regular file of its own" : strerror(errno));
            return CLGRAD_E_IO;
        }
        struct stat a, b;
        if (ifd > 2 && fstat(fd, &a) == 0 && fstat(ifd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
            flock(ifd, LOCK_EX | LOCK_NB) == 0) {
            close(fd);
            fd = ifd;
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            unsetenv("CLGRAD_RUN_LOCK_FD");
        } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
            pid[r > 0 ? r : 0] = 0;
            pid[strcspn(pid, "\n")] = 0;
            close(fd);
            if (e == EWOULDBLOCK)
                snprintf(why, nwhy,
                         "the run directory %s is in use by another clgrad run (pid %s; lock %s): wait for it or use "
                         "another --out",
                         dir, *pid ? pid : "?", path);
            else snprintf(why, nwhy, "cannot lock %s: %s", path, strerror(e));
            return CLGRAD_E_IO;
        }
        /* the lock file is removed when a run ends: locked but unlinked (or
        ** replaced) means the previous holder just ended; take the new file */
        if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) { /* the pid is only for messages */ }
            *lock_fd = fd;
            return 0;
        }
        close(fd);
    }
    snprintf(why, nwhy, "cannot lock %s: it keeps changing", path);
    return CLGRAD_E_IO;
}

void clgrad_rundir_unlock(const char *dir, int lock_fd)
{
    if (lock_fd < 0) return;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    unlink(path); /* while still holding it: see clgrad_rundir_lock */
    close(lock_fd);
}

clgrad_status clgrad_rundir_prepare(const char *dir, const char *experiment, int force, int *lock_fd, char *why, size_t nwhy)
{
    *lock_fd = -1;
    int e = clgrad_mkdirs(dir);
    if (e) {
        snprintf(why, nwhy, "cannot create the run directory %s: %s", dir, strerror(e));
        return CLGRAD_E_IO;
    }
    if (clgrad_rundir_lock(dir, lock_fd, why, nwhy) != 0) return CLGRAD_E_IO;
    if (check_reuse_(dir, experiment, force, why, nwhy) != 0) goto fail;
    /* a run's files go only inside its directory: never through a symlinked subdirectory */
    static const char *subs[] = {"weights", "weights/init", "weights/final", "data"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char sp[1200];
        struct stat sb;
        snprintf(sp, sizeof sp, "%s/%s", dir, subs[i]);
        if (lstat(sp, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            snprintf(why, nwhy, "%s is %s; clgrad writes a run's files only inside its run directory", sp,
                     S_ISLNK(sb.st_mode) ? "a symbolic link" : "not a directory");
            goto fail;
        }
    }
    /* the reserve doubles as the probe that proves the directory writable */
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, RESERVE_NAME);
    e = clgrad_fs_replace(path, fill_reserve_, NULL, NULL);
    if (e) {
        snprintf(why, nwhy, "the run directory %s is not writable: %s", dir, strerror(e));
        goto fail;
    }
    /* a summary.json left by an earlier run in this directory would describe
    ** that run until this one ends (or for good if this one is killed) */
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(why, nwhy, "cannot remove the old %s: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    clgrad_rundir_unlock(dir, *lock_fd);
    *lock_fd = -1;
    return CLGRAD_E_IO;
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

clgrad_status clgrad_write_atomic(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int e = clgrad_fs_replace_text(path, text, len);
    if (e == ENOSPC || e == EDQUOT) {
        /* the disk is full: give up the reserve and try once more */
        char res[1200];
        snprintf(res, sizeof res, "%s/%s", dir, RESERVE_NAME);
        if (unlink(res) == 0) e = clgrad_fs_replace_text(path, text, len);
    }
    if (e) {
        snprintf(why, nwhy, "cannot write %s: %s", path, strerror(e));
        return CLGRAD_E_IO;
    }
    /* the final manifest (any status but "running") is a run's last file: the
    ** reserve is no longer needed (clgrad_rundir_finish does the same) */
    if (strcmp(name, "manifest.json") == 0 && !contains_(text, len, "\"status\": \"running\"")) clgrad_rundir_finish(dir);
    return 0;
}

int clgrad_csv_open(clgrad_csv_out *o, const char *path, const char *header)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    /* a new file (never a planted one or a symlink's target), header first */
    int e = clgrad_fs_replace_text_fd(path, header, strlen(header), &o->fd);
    if (e) {
        errno = e;
        return -1;
    }
    o->good_end = (long)strlen(header);
    o->rows = open_memstream(&o->buf, &o->len);
    if (!o->rows) {
        int e = errno;
        close(o->fd);
        o->fd = -1;
        errno = e;
        return -1;
    }
    return 0;
}

int clgrad_csv_commit(clgrad_csv_out *o)
{
    errno = 0;
    if (fflush(o->rows) != 0 || ferror(o->rows)) {
        if (!errno) errno = ENOMEM;
        return -1;
    }
    size_t n = o->len;
    ssize_t w = n ? write(o->fd, o->buf, n) : 0; /* the step's rows: one call */
    if (w < 0 && errno == EINTR) w = 0;
    int rc = w >= 0 && (size_t)w < n ? clgrad_fs_write_all(o->fd, o->buf + w, n - (size_t)w) : w < 0 ? -1 : 0;
    if (rc != 0) {
        int e = errno ? errno : EIO;
        if (ftruncate(o->fd, (off_t)o->good_end) == 0) lseek(o->fd, (off_t)o->good_end, SEEK_SET);
        errno = e;
        return -1;
    }
    o->good_end += (long)n;
    rewind(o->rows); /* the next step's rows from the start of the buffer */
    return 0;
}

int clgrad_csv_close(clgrad_csv_out *o)
{
    if (!o->rows) return 0;
    int rc = fclose(o->rows);
    free(o->buf);
    struct stat sb;
    if (fstat(o->fd, &sb) == 0 && sb.st_size > (off_t)o->good_end && ftruncate(o->fd, (off_t)o->good_end) != 0) rc = -1;
    if (close(o->fd) != 0) rc = -1;
    memset(o, 0, sizeof *o);
    return rc == 0 ? 0 : -1;
}

static void sb_put_(void *u, const char *p, size_t n) { clgrad_sb_printf((clgrad_sbuf *)u, "%.*s", (int)n, p); }

/* clgrad_json_escape (runread.c): the one JSON string writer */
void clgrad_sb_json_str(clgrad_sbuf *b, const char *s) { clgrad_json_escape(s, sb_put_, b); }

void clgrad_sb_json_num(clgrad_sbuf *b, double v)
{
    if (!isfinite(v)) clgrad_sb_printf(b, "null"); /* JSON has no NaN/Inf: callers add a *_nonfinite field */
    else clgrad_sb_printf(b, "%.9g", v);
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
        int vec = t->is_bias || t->norm, nd = vec ? 1 : 2;
        if (clgrad_npy_write(path, p + t->off, vec ? shape + 1 : shape, nd, why, sizeof why) != 0) {
            st = clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
            goto fail;
        }
    }
    /* batch norm's buffers: running_mean, running_var (float32 (N)) and
    ** num_batches_tracked (a float32 scalar; PyTorch's is int64, which
    ** load_state_dict converts to) */
    for (int i = 0; i < clgrad_model_nbuffers(m); i++) {
        const char *pre;
        size_t n, mo, vo;
        clgrad_model_buffer(m, i, &pre, &n, &mo, &vo);
        float *v = malloc(2 * n * sizeof *v);
        if (!v) {
            st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory saving weights");
            goto fail;
        }
        st = clgrad_buf_read(ctx, clgrad_model_running(m), mo, n, v);
        if (st == CLGRAD_OK) st = clgrad_buf_read(ctx, clgrad_model_running(m), vo, n, v + n);
        float tracked = (float)clgrad_model_batches_tracked(m);
        const char *what[3] = {"running_mean", "running_var", "num_batches_tracked"};
        for (int k = 0; k < 3 && st == CLGRAD_OK; k++) {
            char path[1200], why[1400];
            snprintf(path, sizeof path, "%s/%s.%s.npy", dir, pre, what[k]);
            if (clgrad_npy_write(path, k < 2 ? v + (size_t)k * n : &tracked, &n, k < 2 ? 1 : 0, why, sizeof why) != CLGRAD_OK)
                st = clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
        }
        free(v);
        if (st != CLGRAD_OK) goto fail;
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
        int ok = t->is_bias || t->norm ? (nd == 1 && shape[0] == t->cols) : (nd == 2 && shape[0] == t->rows && shape[1] == t->cols);
        if (!ok || n != t->rows * t->cols) {
            free(data);
            char have[128] = "(", want[64];
            for (int d = 0; d < nd; d++) {
                size_t l = strlen(have);
                snprintf(have + l, sizeof have - l, "%s%zu", d ? ", " : "", shape[d]);
            }
            size_t l = strlen(have);
            snprintf(have + l, sizeof have - l, ")");
            if (t->is_bias || t->norm) snprintf(want, sizeof want, "(%zu)", t->cols);
            else snprintf(want, sizeof want, "(%zu, %zu)", t->rows, t->cols);
            return clgrad_fail(ctx, CLGRAD_E_IO, "--init-from: %s has shape %s, expected %s", path, have, want);
        }
        st = clgrad_buf_write(ctx, clgrad_model_params(m), t->off, n, data);
        free(data);
        if (st != CLGRAD_OK) return st;
    }
    return st;
}
