/*
** clgrad/tune.h: the own GEMM's tunable parameters, per device.
**
** The parameters only choose which outputs one work-item computes and how
** operands are staged (cl/matmul.cl); every output stays one fma chain in k
** order from 0 plus the same epilogue, so every parameter set gives the same
** bits (tests/test_gemm.c, tests/test_tune.sh).  A context takes them, in
** this order of precedence, from:
**   $CLGRAD_TUNE  "off": the built-in defaults (the kernels' own #defines);
**                 "key=value,...": those keys over the built-in defaults;
**   the tune file <cache dir>/tune-<device fingerprint>.ini that
**                 `clgrad tune` wrote for this device (key = value lines);
**   the shipped table (src/ops/tune_table.c) by device class.
** clgrad_open_opts.gemm_tune (a "key=value,..." string) overrides all three.
** Keys: cpu_mr, cpu_nw, cpu_direct_max, cpu_pack_a_min (the CPU
** micro-kernel), wgm, wgn, rm, rn, tk, lpad (the tiled GPU kernel), and
** clblast.NAME for CLBlast's Xgemm parameters (applied through
** CLBlastOverrideParameters when all of them are given).
*/
#ifndef CLGRAD_TUNE_H
#define CLGRAD_TUNE_H
#include "clgrad/core.h"

#define CLGRAD_TUNE_CLBLAST_MAX 20

typedef struct clgrad_gemm_tune {
    /* CPU micro-kernel (matmul_cpu): rows per work-item (1..16), float16
    ** vectors of columns per work-item (1..4: 16..64 columns), B read in place
    ** when not transposed and K N <= cpu_direct_max floats, a transposed A
    ** packed when M K > cpu_pack_a_min floats */
    int cpu_mr, cpu_nw;
    long cpu_direct_max, cpu_pack_a_min;
    /* tiled kernel: wgm x wgn work-items per group, rm x rn outputs each, tk deep
    ** K tiles, lpad floats of padding per local-memory row (0..4) */
    int wgm, wgn, rm, rn, tk, lpad;
    /* CLBlast Xgemm parameters (name, value), all or none */
    int n_clblast;
    char clblast_name[CLGRAD_TUNE_CLBLAST_MAX][12];
    size_t clblast_value[CLGRAD_TUNE_CLBLAST_MAX];
    char source[16]; /* "builtin", "table", "file", "env", "opts" (informational) */
} clgrad_gemm_tune;

/* The built-in defaults (the #defines of cl/matmul.cl), source "builtin"
** (core/tune_table.c, with the table). */
void clgrad_gemm_tune_defaults(clgrad_gemm_tune *t);
/* The shipped starting point for a device (by type, vendor, name), source "table". */
void clgrad_gemm_tune_table(const clgrad_device_info *d, clgrad_gemm_tune *t);
/* Apply "key=value" items separated by ',' or newlines ('#' starts a comment
** line; spaces around keys and values are ignored) over *t; then check the
** whole set.  0, or -1 with why (t may be partly changed). */
int clgrad_gemm_tune_parse(const char *text, clgrad_gemm_tune *t, char *why, size_t nwhy);
/* The parameters as "key=value,..." (the CLBlast ones only when set). */
void clgrad_gemm_tune_format(const clgrad_gemm_tune *t, char *out, size_t n);
/* The -D options of the matmul program for t. */
void clgrad_gemm_tune_defines(const clgrad_gemm_tune *t, char *out, size_t n);

/* The context's parameters (valid after clgrad_open). */
const clgrad_gemm_tune *clgrad_gemm_tune_get(const clgrad_ctx *ctx);
/* The device fingerprint the tune file is keyed by (16 hex digits + NUL). */
void clgrad_tune_fingerprint(const clgrad_device_info *d, char out[17]);
/* The tune file of the context's device: <cache dir>/tune-<fingerprint>.ini;
** 0 when the context has no cache directory. */
int clgrad_tune_path(const clgrad_ctx *ctx, char *out, size_t n);
/* Write t as the device's tune file (atomically: a new file renamed over it),
** with `comment` (may be NULL; lines are prefixed with '#'). */
clgrad_status clgrad_tune_save(clgrad_ctx *ctx, const clgrad_gemm_tune *t, const char *comment);
/* Remove the device's tune file; *removed says whether there was one. */
clgrad_status clgrad_tune_reset(clgrad_ctx *ctx, int *removed);

/* ---- the search (src/ops/tune_search.c) ---- */
typedef struct clgrad_tune_opts {
    const char *device_spec;
    const clgrad_open_opts *open; /* cl_dir, cache_dir (gemm_tune and only are set per candidate) */
    int quick;                    /* a handful of candidates, small shapes (CI) */
    const size_t *sizes;          /* square sizes to time (NULL: 256, 512, 1024, 2048; quick: 64, 128) */
    int nsizes;
    double budget_s;              /* stop trying new candidates after this many seconds (0: no limit) */
    int clblast;                  /* search CLBlast's Xgemm parameters instead */
    /* progress (may be NULL): one line per candidate */
    void (*on_line)(void *user, const char *line);
    void *user;
} clgrad_tune_opts;

/* Time the candidates on the device, each checked bit for bit against the
** default parameters' results first, and return the fastest in *best (with
** *speedup: the default's time over the best's, on the sum over the shapes).
** The caller stores it (clgrad_tune_save).  ctx: an open context on the
** device (messages go to it). */
clgrad_status clgrad_tune_search(clgrad_ctx *ctx, const clgrad_tune_opts *o, clgrad_gemm_tune *best, double *speedup);

#endif
