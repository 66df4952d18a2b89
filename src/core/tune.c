/*
** tune.c: the own GEMM's parameters of a context (clgrad/tune.h): parsing,
** checking, formatting, the -D options of the matmul program, the per-device
** tune file in the cache directory, and the choice at clgrad_open.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "core/internal.h"
#include "clgrad/hash.h"
#include "util/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The integer keys: name, field, smallest and largest value. */
static const struct {
    const char *key;
    size_t off;
    int is_long;
    long lo, hi;
} keys_[] = {
    {"cpu_mr", offsetof(clgrad_gemm_tune, cpu_mr), 0, 1, 16},
    {"cpu_nw", offsetof(clgrad_gemm_tune, cpu_nw), 0, 1, 4},
    {"cpu_direct_max", offsetof(clgrad_gemm_tune, cpu_direct_max), 1, 0, 1L << 30},
    {"cpu_pack_a_min", offsetof(clgrad_gemm_tune, cpu_pack_a_min), 1, 0, 1L << 30},
    {"wgm", offsetof(clgrad_gemm_tune, wgm), 0, 1, 64},
    {"wgn", offsetof(clgrad_gemm_tune, wgn), 0, 1, 64},
    {"rm", offsetof(clgrad_gemm_tune, rm), 0, 1, 16},
    {"rn", offsetof(clgrad_gemm_tune, rn), 0, 1, 16},
    {"tk", offsetof(clgrad_gemm_tune, tk), 0, 1, 64},
    {"lpad", offsetof(clgrad_gemm_tune, lpad), 0, 0, 4},
};
#define NKEYS ((int)(sizeof keys_ / sizeof keys_[0]))

/* One "key=value" item (trimmed, NUL-terminated). */
static int item_(char *item, clgrad_gemm_tune *t, char *why, size_t nwhy)
{
    char *eq = strchr(item, '=');
    if (!eq) return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "'%s' is not key=value", item), -1;
    char *v = eq + 1, *k = item, *end;
    while (eq > k && isspace((unsigned char)eq[-1])) eq--;
    *eq = '\0';
    while (isspace((unsigned char)*v)) v++;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || end == v || *end) return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s = '%s' is not an integer", k, v), -1;
    if (strncmp(k, "clblast.", 8) == 0) {
        const char *name = k + 8;
        int i = 0;
        while (i < t->n_clblast && strcmp(t->clblast_name[i], name) != 0) i++;
        if (i == CLGRAD_TUNE_CLBLAST_MAX || strlen(name) == 0 || strlen(name) >= sizeof t->clblast_name[0] || x < 0)
            return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "bad CLBlast parameter %s = %ld", k, x), -1;
        if (i == t->n_clblast) snprintf(t->clblast_name[t->n_clblast++], sizeof t->clblast_name[0], "%s", name);
        t->clblast_value[i] = (size_t)x;
        return 0;
    }
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(k, keys_[i].key) != 0) continue;
        if (x < keys_[i].lo || x > keys_[i].hi)
            return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "%s = %ld is outside %ld..%ld", k, x, keys_[i].lo, keys_[i].hi), -1;
        if (keys_[i].is_long) *(long *)((char *)t + keys_[i].off) = x;
        else *(int *)((char *)t + keys_[i].off) = (int)x;
        return 0;
    }
    return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "unknown GEMM tuning key '%s'", k), -1;
}

int clgrad_gemm_tune_parse(const char *text, clgrad_gemm_tune *t, char *why, size_t nwhy)
{
    char *copy = strdup(text ? text : "");
    if (!copy) return clgrad_failf(CLGRAD_E_ARG, why, nwhy, "out of memory"), -1;
    int rc = 0;
    for (char *save = NULL, *line = strtok_r(copy, ",\n", &save); line && rc == 0; line = strtok_r(NULL, ",\n", &save)) {
        while (isspace((unsigned char)*line)) line++;
        size_t l = strlen(line);
        while (l > 0 && isspace((unsigned char)line[l - 1])) line[--l] = '\0';
        if (l == 0 || line[0] == '#') continue;
        rc = item_(line, t, why, nwhy);
    }
    free(copy);
    if (rc == 0 && t->wgm * t->wgn > 1024) {
        clgrad_failf(CLGRAD_E_ARG, why, nwhy, "wgm * wgn = %d is more than 1024 work-items", t->wgm * t->wgn);
        rc = -1;
    }
    return rc;
}

void clgrad_gemm_tune_format(const clgrad_gemm_tune *t, char *out, size_t n)
{
    size_t u = (size_t)snprintf(out, n,
                                "cpu_mr=%d,cpu_nw=%d,cpu_direct_max=%ld,cpu_pack_a_min=%ld,wgm=%d,wgn=%d,rm=%d,rn=%d,tk=%d,lpad=%d",
                                t->cpu_mr, t->cpu_nw, t->cpu_direct_max, t->cpu_pack_a_min, t->wgm, t->wgn, t->rm,
                                t->rn, t->tk, t->lpad);
    for (int i = 0; i < t->n_clblast && u < n; i++)
        u += (size_t)snprintf(out + u, n - u, ",clblast.%s=%zu", t->clblast_name[i], t->clblast_value[i]);
}

void clgrad_gemm_tune_defines(const clgrad_gemm_tune *t, char *out, size_t n)
{
    snprintf(out, n, " -DCPU_MR=%d -DCPU_NW=%d -DGEMM_WGM=%d -DGEMM_WGN=%d -DGEMM_RM=%d -DGEMM_RN=%d -DGEMM_TK=%d -DGEMM_LPAD=%d",
             t->cpu_mr, t->cpu_nw, t->wgm, t->wgn, t->rm, t->rn, t->tk, t->lpad);
}

const clgrad_gemm_tune *clgrad_gemm_tune_get(const clgrad_ctx *ctx) { return &ctx->tune; }

void clgrad_tune_fingerprint(const clgrad_device_info *d, char out[17])
{
    const char *parts[] = {"clgrad-tune-1", d->platform_name, d->platform_version, d->name,
                           d->device_version, d->vendor, d->driver_version};
    clgrad_sha256 s;
    unsigned char dig[32];
    char hex[65];
    clgrad_sha256_init(&s);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) clgrad_sha256_update(&s, parts[i], strlen(parts[i]) + 1);
    clgrad_sha256_final(&s, dig);
    clgrad_sha256_hex(dig, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

int clgrad_tune_path(const clgrad_ctx *ctx, char *out, size_t n)
{
    if (!ctx->cache_dir[0]) return 0;
    char fp[17];
    clgrad_tune_fingerprint(&ctx->dev, fp);
    return snprintf(out, n, "%s/tune-%s.ini", ctx->cache_dir, fp) < (int)n;
}

clgrad_status clgrad_tune_save(clgrad_ctx *ctx, const clgrad_gemm_tune *t, const char *comment)
{
    char path[1100], params[1024], text[4096];
    if (!clgrad_tune_path(ctx, path, sizeof path))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "tune: no cache directory to store the parameters in (CLGRAD_CACHE_DIR)");
    int e = clgrad_mkdirs(ctx->cache_dir);
    if (e) return clgrad_fail(ctx, CLGRAD_E_IO, "tune: cannot create %s: %s", ctx->cache_dir, strerror(e));
    clgrad_gemm_tune_format(t, params, sizeof params);
    size_t u = (size_t)snprintf(text, sizeof text, "# clgrad tune file: the own GEMM's parameters for\n# %s (%s)\n",
                                ctx->dev.name, ctx->dev.platform_name);
    for (const char *p = comment; p && *p && u < sizeof text;) {
        size_t l = strcspn(p, "\n");
        u += (size_t)snprintf(text + u, sizeof text - u, "# %.*s\n", (int)l, p);
        p += l + (p[l] == '\n');
    }
    for (char *save = NULL, *it = strtok_r(params, ",", &save); it && u < sizeof text; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        *eq = '\0';
        u += (size_t)snprintf(text + u, sizeof text - u, "%s = %s\n", it, eq + 1);
    }
    if (u >= sizeof text) return clgrad_fail(ctx, CLGRAD_E_ARG, "tune: the tune file is too long");
    e = clgrad_fs_replace_text(path, text, u);
    if (e) return clgrad_fail(ctx, CLGRAD_E_IO, "tune: cannot write %s: %s", path, strerror(e));
    return CLGRAD_OK;
}

clgrad_status clgrad_tune_reset(clgrad_ctx *ctx, int *removed)
{
    char path[1100];
    *removed = 0;
    if (!clgrad_tune_path(ctx, path, sizeof path)) return CLGRAD_OK;
    if (unlink(path) == 0) *removed = 1;
    else if (errno != ENOENT) return clgrad_fail(ctx, CLGRAD_E_IO, "tune: cannot remove %s: %s", path, strerror(errno));
    return CLGRAD_OK;
}

/* The tune file of the device, over the built-in defaults: 1 loaded, 0 none,
** -1 unreadable or bad (a warning; the caller falls back to the table). */
static int load_file_(clgrad_ctx *ctx, clgrad_gemm_tune *t)
{
    char path[1100], why[300];
    char *text = NULL;
    if (!clgrad_tune_path(ctx, path, sizeof path)) return 0;
    int e = clgrad_fs_read_all(path, 65536, 1, &text, NULL);
    if (e == ENOENT) return 0;
    clgrad_gemm_tune_defaults(t);
    if (e || clgrad_gemm_tune_parse(text, t, why, sizeof why) != 0) {
        clgrad_warn(ctx, "tune file %s ignored: %s", path, e ? strerror(e) : why);
        free(text);
        return -1;
    }
    free(text);
    snprintf(t->source, sizeof t->source, "file");
    return 1;
}

clgrad_status clgrad_tune_resolve_(clgrad_ctx *ctx, const clgrad_open_opts *opts)
{
    clgrad_gemm_tune *t = &ctx->tune;
    const char *env = getenv("CLGRAD_TUNE"), *given = opts && opts->gemm_tune ? opts->gemm_tune : NULL;
    char why[300];
    if (!given && env && *env) given = env;
    if (given && (strcmp(given, "off") == 0 || strcmp(given, "builtin") == 0)) {
        clgrad_gemm_tune_defaults(t);
    } else if (given) {
        clgrad_gemm_tune_defaults(t);
        if (clgrad_gemm_tune_parse(given, t, why, sizeof why) != 0)
            return clgrad_fail(ctx, CLGRAD_E_ARG, "GEMM tuning %s'%s': %s", opts && opts->gemm_tune ? "" : "$CLGRAD_TUNE ",
                               given, why);
        snprintf(t->source, sizeof t->source, "%s", opts && opts->gemm_tune ? "opts" : "env");
    } else if (load_file_(ctx, t) != 1) {
        clgrad_gemm_tune_table(&ctx->dev, t);
    }
    clgrad_gemm_tune_defines(t, ctx->gemm_defines, sizeof ctx->gemm_defines);
    return CLGRAD_OK;
}
