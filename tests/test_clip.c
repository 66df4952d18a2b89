/*
** test_clip.c: gradient clipping (cl/clip.cl) and the gradient-state block:
** the worked numbers of semantics.md, random multi-tensor cases against the
** float64 references (global norm 2 and inf, applied in place or left to the
** optimizer, value, per-tensor norm, AGC over weight rows and biases), the
** non-finite policies propagate / skip / stop on NaN and Inf gradients, the
** SKIP flag honoured by every clipping kernel, reset, and argument checks.
** Elements outside the segments hold a sentinel and must stay bit-identical.
**
** Tolerances (u = 2^-24), relative to |reference|:
**   clamp: exact (a comparison and a copy).
**   norms: eps_n = gamma(D + 1) / 2 + 4u with D = clgrad_reduce_depth() (see
**          test_reduce.c: fixed-tree sum of squares, sqrt <= 3 ulp).
**   global clip: coef = max_norm / (total + 1e-6): eps_n + 1u (addition) +
**          2.5u (OpenCL division bound) + 1u for min; g * coef + 1u, so
**          eps_n + 6u.  Per-tensor: c / max(n, c) and g * f: eps_n + 4u.
**   AGC: limit = clipping * max(||W||, eps): eps_n + 1u; limit / ||G||:
**          2 eps_n + 3.5u; g * f: + 1u, so 2 eps_n + 6u.
** The semantics.md decimals are exact values for decimal inputs; the device
** gets them rounded to float (< u/2 each), so those checks allow 16u.
**
** ZClip (tests zscore_*): against the float64 reimplementation of zclip.py,
** see zscore_vs_ref.
**
** Bit for bit (test `bitwise_host`): the gradient-state COEF and CLIPCOEF,
** clip_scale, clip_value, clip_tensor_norm and clip_agc against the host
** build of the same formulas (cl/clip_fn.cl) applied to the device's
** statistics (whose own bits the reduce replica covers, test_reduce).
*/
#include "fixture.h"

/* The host build of the kernels' clipping formulas (test `bitwise_host`). */
#include "../cl/clip_fn.cl"
#include "clgrad/step.h"
#include "ops/clip_watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double U = 0x1.0p-24;
static const float SENTINEL = 123.25f;

/* the norm tolerance for a table */
static double eps_n_(const clgrad_segs *segs)
{
    double D = (double)clgrad_reduce_depth(fixture_ctx(), clgrad_segs_chunks(segs)) + 1;
    return D * U / (1 - D * U) / 2 + 4 * U;
}

static cl_mem gs_new_(void)
{
    cl_mem gs = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), CLGRAD_GS_SIZE, "gradstate", &gs));
    FX_OK(clgrad_buf_fill(fixture_ctx(), gs, 0, CLGRAD_GS_SIZE, -7.0f));
    return gs;
}

/* Relative comparison of n values (NaN == NaN, Inf == same Inf). */
static size_t rel_(const char *what, const float *dev, const double *ref, size_t n, double rtol)
{
    return fixture_check(what, dev, ref, n, 0x1.0p-149, rtol);
}

/* Compare the gradient-state block (NORM with rtol, the rest with rtol too:
** COEF and CLIPCOEF carry the norm's error; the flags are 0/1 exactly). */
static size_t check_gs_(const char *what, cl_mem gs, const double *ref, double rtol)
{
    float d[CLGRAD_GS_SIZE];
    fixture_download(gs, d, CLGRAD_GS_SIZE);
    return rel_(what, d, ref, 5, rtol);
}

/* A flat buffer with segments of the given lengths separated by sentinels. */
typedef struct {
    size_t nseg, n, off[128], len[128];
    float *g, *w;
} layout_;

static void layout_init_(layout_ *L, size_t nseg, const size_t *len, clgrad_testrng *r, float gmag, float wmag)
{
    L->nseg = nseg;
    L->n = 1;
    for (size_t s = 0; s < nseg; s++) L->off[s] = L->n, L->len[s] = len[s], L->n += len[s] + 1;
    L->g = malloc(L->n * sizeof *L->g), L->w = malloc(L->n * sizeof *L->w);
    ck_assert(L->g && L->w);
    for (size_t i = 0; i < L->n; i++) L->g[i] = L->w[i] = SENTINEL;
    for (size_t s = 0; s < nseg; s++)
        for (size_t i = L->off[s]; i < L->off[s] + len[s]; i++) {
            /* per-segment scale so some segments clip and some do not */
            float sc = (float)pow(10.0, (double)(s % 4) - 1.5);
            L->g[i] = gmag * sc * clgrad_testrng_uniform(r, -1, 1);
            L->w[i] = wmag * clgrad_testrng_uniform(r, -1, 1);
        }
}

static void layout_free_(layout_ *L) { free(L->g), free(L->w); }

/* ---- semantics.md worked numbers ---- */

START_TEST(worked_global_l2)
{
    clgrad_ctx *ctx = fixture_ctx();
    const float g[2] = {3, 4};
    size_t off = 0, len = 2;
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 1, &off, &len, &segs));
    cl_mem dg = fixture_upload(g, 2, "g"), ds = NULL, gs = gs_new_();
    FX_OK(clgrad_buf_new(ctx, 8, "stats", &ds));
    FX_OK(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, CLGRAD_NORM_L2, 1.0f, CLGRAD_NONFINITE_PROPAGATE, gs, 0, 1));
    float h[2];
    fixture_download(dg, h, 2);
    const double r[2] = {0.599999880000024, 0.799999840000032};
    ck_assert(rel_("[3,4] max_norm 1", h, r, 2, 16 * U) == 0);
    const double rgs[5] = {5.0, 1.0 /* consumed */, 0, 0, 1 / (5 + 1e-6)};
    ck_assert(check_gs_("[3,4] block", gs, rgs, 16 * U) == 0);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&gs);
}
END_TEST

START_TEST(worked_global_inf)
{
    clgrad_ctx *ctx = fixture_ctx();
    const float g[2] = {3, -4};
    size_t off = 0, len = 2;
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 1, &off, &len, &segs));
    cl_mem dg = fixture_upload(g, 2, "g"), ds = NULL, gs = gs_new_();
    FX_OK(clgrad_buf_new(ctx, 8, "stats", &ds));
    /* apply = 0: COEF stays pending for the optimizer; then materialise it */
    FX_OK(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, CLGRAD_NORM_INF, 1.0f, CLGRAD_NONFINITE_PROPAGATE, gs, 0, 0));
    const double pend[5] = {4.0, 1 / (4 + 1e-6), 0, 0, 1 / (4 + 1e-6)};
    ck_assert(check_gs_("[3,-4] inf block, pending", gs, pend, 16 * U) == 0);
    float h[2];
    fixture_download(dg, h, 2);
    ck_assert(h[0] == 3 && h[1] == -4);
    FX_OK(clgrad_clip_scale(ctx, dg, 0, segs, gs, 0));
    fixture_download(dg, h, 2);
    const double r[2] = {0.7499998125000469, -0.9999997500000625};
    ck_assert(rel_("[3,-4] inf max_norm 1", h, r, 2, 16 * U) == 0);
    const double done[5] = {4.0, 1.0, 0, 0, 1 / (4 + 1e-6)};
    ck_assert(check_gs_("[3,-4] inf block, consumed", gs, done, 16 * U) == 0);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&gs);
}
END_TEST

START_TEST(worked_value)
{
    const float g[3] = {0.5f, -3, NAN};
    cl_mem dg = fixture_upload(g, 3, "g");
    FX_OK(clgrad_clip_value(fixture_ctx(), dg, 0, 3, 1.0f, NULL, 0));
    float h[3];
    fixture_download(dg, h, 3);
    const double r[3] = {0.5, -1, NAN};
    ck_assert(rel_("value [0.5,-3,NaN]", h, r, 3, 0) == 0);
    clgrad_buf_free(&dg);
}
END_TEST

START_TEST(worked_agc)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t off = 0, rows = 1, cols = 2;
    clgrad_segs *units = NULL;
    FX_OK(clgrad_segs_new_rows(ctx, 1, &off, &rows, &cols, &units));
    cl_mem ds = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "stats", &ds));
    const double ex[2][2] = {{0.03, 0.04}, {6e-6, 8e-6}};
    for (int z = 0; z < 2; z++) {
        const float w[2] = {z ? 0.0f : 3.0f, z ? 0.0f : 4.0f}, g[2] = {0.3f, 0.4f};
        cl_mem dw = fixture_upload(w, 2, "w"), dg = fixture_upload(g, 2, "g");
        FX_OK(clgrad_clip_agc(ctx, dw, 0, dg, 0, units, ds, 0, 0.01f, 1e-3f, NULL, 0));
        float h[2];
        fixture_download(dg, h, 2);
        ck_assert_msg(rel_(z ? "AGC W=0" : "AGC W=[3,4]", h, ex[z], 2, 16 * U) == 0, "z=%d", z);
        clgrad_buf_free(&dw), clgrad_buf_free(&dg);
    }
    clgrad_segs_free(&units);
    clgrad_buf_free(&ds);
}
END_TEST

/* ---- random multi-tensor cases ---- */

static const size_t seglens_[] = {1, 7, 63, 64, 65, 257, 0, 3000, 2049};
enum { NSEG = sizeof seglens_ / sizeof seglens_[0] };

/* Global norm: type x (clipping or not) x (apply or fused). */
START_TEST(random_global)
{
    clgrad_ctx *ctx = fixture_ctx();
    const clgrad_norm_type type = (_i & 1) ? CLGRAD_NORM_INF : CLGRAD_NORM_L2;
    const int apply = (_i >> 1) & 1, clips = (_i >> 2) & 1;
    clgrad_testrng r = fixture_rng(1000 + _i);
    layout_ L;
    layout_init_(&L, NSEG, seglens_, &r, 1.0f, 1.0f);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    double *ref = malloc(L.n * sizeof *ref), rgs[CLGRAD_GS_SIZE];
    float *h = malloc(L.n * sizeof *h);
    ck_assert(ref && h);
    /* max_norm below or above the total */
    clgrad_clip_global_norm_ref(L.g, L.n, L.nseg, L.off, L.len, type, 1.0, 0, CLGRAD_NONFINITE_PROPAGATE, 0, ref, rgs);
    double max_norm = clips ? rgs[CLGRAD_GS_NORM] * 0.3 : rgs[CLGRAD_GS_NORM] * 2;
    clgrad_clip_global_norm_ref(L.g, L.n, L.nseg, L.off, L.len, type, (float)max_norm, 1, CLGRAD_NONFINITE_PROPAGATE,
                                apply, ref, rgs);
    cl_mem dg = fixture_upload(L.g, L.n, "g"), ds = NULL, gs = gs_new_();
    FX_OK(clgrad_buf_new(ctx, 4 * (L.nseg + 1), "stats", &ds));
    FX_OK(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, type, (float)max_norm, CLGRAD_NONFINITE_PROPAGATE, gs, 0,
                                  apply));
    fixture_download(dg, h, L.n);
    double tol = eps_n_(segs) + 6 * U;
    char what[96];
    snprintf(what, sizeof what, "global %s apply=%d clips=%d", type ? "inf" : "l2", apply, clips);
    ck_assert_msg(rel_(what, h, ref, L.n, tol) == 0, "%s", what);
    ck_assert_msg(check_gs_(what, gs, rgs, tol) == 0, "%s block", what);
    if (!clips) {
        float d[CLGRAD_GS_SIZE];
        fixture_download(gs, d, CLGRAD_GS_SIZE);
        ck_assert_float_eq(d[CLGRAD_GS_COEF], 1.0f); /* min(1, .) is exactly 1: gradients unchanged */
    }
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&gs);
    layout_free_(&L), free(ref), free(h);
}
END_TEST

START_TEST(random_value)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t n = _i < fixture_nsizes ? fixture_sizes[_i] : 100001, off = 3, tot = n + 6;
    clgrad_testrng r = fixture_rng(2000 + _i);
    float *g = malloc(tot * sizeof *g), *h = malloc(tot * sizeof *h);
    double *ref = malloc(tot * sizeof *ref);
    ck_assert(g && h && ref);
    for (size_t i = 0; i < tot; i++) g[i] = clgrad_testrng_uniform(&r, -3, 3);
    g[off] = NAN;
    if (n > 2) g[off + 1] = INFINITY, g[off + 2] = -INFINITY;
    for (size_t i = 0; i < tot; i++) ref[i] = g[i];
    clgrad_clip_value_ref(g + off, n, 1.25, ref + off);
    cl_mem dg = fixture_upload(g, tot, "g");
    FX_OK(clgrad_clip_value(ctx, dg, off, n, 1.25f, NULL, 0));
    fixture_download(dg, h, tot);
    ck_assert(rel_("value", h, ref, tot, 0) == 0);
    clgrad_buf_free(&dg);
    free(g), free(h), free(ref);
}
END_TEST

START_TEST(random_tensor_norm)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng r = fixture_rng(3000);
    layout_ L;
    layout_init_(&L, NSEG, seglens_, &r, 1.0f, 1.0f);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    double *ref = malloc(L.n * sizeof *ref);
    float *h = malloc(L.n * sizeof *h), st[4 * (NSEG + 1)];
    ck_assert(ref && h);
    const double c = 0.5;
    clgrad_clip_tensor_norm_ref(L.g, L.n, L.nseg, L.off, L.len, c, ref);
    cl_mem dg = fixture_upload(L.g, L.n, "g"), ds = NULL;
    FX_OK(clgrad_buf_new(ctx, 4 * (L.nseg + 1), "stats", &ds));
    FX_OK(clgrad_clip_tensor_norm(ctx, dg, 0, segs, ds, 0, (float)c, NULL, 0));
    fixture_download(dg, h, L.n);
    ck_assert(rel_("tensor norm", h, ref, L.n, eps_n_(segs) + 4 * U) == 0);
    /* some segments clipped, some not (the random scales span 10^-1.5 .. 10^1.5) */
    fixture_download(ds, st, 4 * (NSEG + 1));
    int above = 0, below = 0;
    for (size_t s = 0; s < NSEG; s++) above += st[4 * s + 1] > c, below += st[4 * s + 1] <= c;
    ck_assert_msg(above > 0 && below > 0, "test layout must clip some tensors and not others (%d/%d)", above, below);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds);
    layout_free_(&L), free(ref), free(h);
}
END_TEST

START_TEST(random_agc)
{
    clgrad_ctx *ctx = fixture_ctx();
    /* weight matrices (rows, cols) and biases (1, n) in one flat block, gaps between */
    static const size_t rows[] = {7, 1, 64, 1, 3, 2};
    static const size_t cols[] = {65, 257, 1, 7, 2049, 63};
    enum { NT = 6 };
    size_t off[NT], n = 1;
    for (int t = 0; t < NT; t++) off[t] = n, n += rows[t] * cols[t] + 2;
    clgrad_segs *units = NULL;
    FX_OK(clgrad_segs_new_rows(ctx, NT, off, rows, cols, &units));
    size_t nu = clgrad_segs_count(units);
    clgrad_testrng r = fixture_rng(4000);
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g), *h = malloc(n * sizeof *h);
    double *ref = malloc(n * sizeof *ref);
    ck_assert(w && g && h && ref);
    for (size_t i = 0; i < n; i++) w[i] = g[i] = SENTINEL;
    const size_t *uo = clgrad_segs_off(units), *ul = clgrad_segs_len(units);
    for (size_t u = 0; u < nu; u++) {
        /* some rows with tiny weights (eps branch), gradient scales across the limit */
        float ws = u % 5 == 0 ? 1e-6f : 1.0f, gs = (float)pow(10.0, (double)(u % 4) - 3);
        for (size_t i = uo[u]; i < uo[u] + ul[u]; i++) {
            w[i] = ws * clgrad_testrng_uniform(&r, -1, 1);
            g[i] = gs * clgrad_testrng_uniform(&r, -1, 1);
        }
    }
    const double clipping = 0.05, eps = 1e-3;
    clgrad_clip_agc_ref(w, g, n, nu, uo, ul, clipping, eps, ref);
    size_t clipped = 0;
    for (size_t u = 0; u < nu; u++) clipped += ref[uo[u]] != g[uo[u]];
    ck_assert_msg(clipped > 0 && clipped < nu, "layout must clip some units and not others (%zu of %zu)", clipped, nu);
    cl_mem dw = fixture_upload(w, n, "w"), dg = fixture_upload(g, n, "g"), ds = NULL;
    FX_OK(clgrad_buf_new(ctx, 8 * (nu + 1), "stats", &ds));
    FX_OK(clgrad_clip_agc(ctx, dw, 0, dg, 0, units, ds, 0, (float)clipping, (float)eps, NULL, 0));
    fixture_download(dg, h, n);
    double en = eps_n_(units);
    ck_assert(rel_("agc", h, ref, n, 2 * en + 6 * U) == 0);
    fixture_download(dw, h, n);
    ck_assert(memcmp(h, w, n * sizeof *w) == 0); /* W untouched */
    clgrad_segs_free(&units);
    clgrad_buf_free(&dw), clgrad_buf_free(&dg), clgrad_buf_free(&ds);
    free(w), free(g), free(h), free(ref);
}
END_TEST

/* ---- non-finite policies ---- */

/* case k: 0 = one +Inf, 1 = one NaN, 2 = -Inf and NaN, 3 = finite but the norm overflows */
static void poison_(layout_ *L, int k)
{
    if (k == 0) L->g[L->off[3] + 5] = INFINITY;
    if (k == 1) L->g[L->off[5] + 100] = NAN;
    if (k == 2) L->g[L->off[0]] = -INFINITY, L->g[L->off[7] + 2999] = NAN;
    if (k == 3)
        for (size_t i = 0; i < 8; i++) L->g[L->off[7] + i] = 3e38f;
}

/* policy x case x norm type x record-only, through the device and the reference */
START_TEST(policies)
{
    clgrad_ctx *ctx = fixture_ctx();
    const clgrad_nonfinite_policy pol = (clgrad_nonfinite_policy)(_i % 3);
    const int k = (_i / 3) % 4;
    const clgrad_norm_type type = (_i / 12) % 2 ? CLGRAD_NORM_INF : CLGRAD_NORM_L2;
    const int record = _i / 24;
    if (k == 3 && type == CLGRAD_NORM_INF) return; /* max |g| of finite values is finite */
    clgrad_testrng r = fixture_rng(5000 + _i);
    layout_ L;
    layout_init_(&L, NSEG, seglens_, &r, 1.0f, 1.0f);
    poison_(&L, k);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    double *ref = malloc(L.n * sizeof *ref), rgs[CLGRAD_GS_SIZE];
    float *h = malloc(L.n * sizeof *h), d[CLGRAD_GS_SIZE];
    ck_assert(ref && h);
    clgrad_clip_global_norm_ref(L.g, L.n, L.nseg, L.off, L.len, type, 1.0, !record, pol, !record, ref, rgs);
    cl_mem dg = fixture_upload(L.g, L.n, "g"), ds = NULL, gs = gs_new_();
    FX_OK(clgrad_buf_new(ctx, 4 * (L.nseg + 1), "stats", &ds));
    if (record) FX_OK(clgrad_clip_record_norm(ctx, dg, 0, segs, ds, 0, type, pol, gs, 0));
    else FX_OK(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, type, 1.0f, pol, gs, 0, 1));
    fixture_download(dg, h, L.n);
    fixture_download(gs, d, CLGRAD_GS_SIZE);
    char what[128];
    snprintf(what, sizeof what, "policy %d case %d %s%s", (int)pol, k, type ? "inf" : "l2", record ? " record" : "");
    /* all exact: non-finite values, the 0/1 flags, or untouched gradients */
    ck_assert_msg(rel_(what, h, ref, L.n, 0) == 0, "%s: gradients", what);
    ck_assert_msg(rel_(what, d, rgs, 5, 0) == 0, "%s: block", what);
    /* the documented outcome, spelled out */
    ck_assert_float_eq(d[CLGRAD_GS_NONFINITE], 1.0f);
    ck_assert(!isfinite(d[CLGRAD_GS_NORM]));
    if (pol == CLGRAD_NONFINITE_PROPAGATE || record) {
        ck_assert_float_eq(d[CLGRAD_GS_SKIP], pol == CLGRAD_NONFINITE_PROPAGATE ? 0.0f : 1.0f);
    } else {
        ck_assert_float_eq(d[CLGRAD_GS_SKIP], 1.0f);
        ck_assert_float_eq(d[CLGRAD_GS_COEF], 1.0f);
        ck_assert(memcmp(h, L.g, L.n * sizeof *h) == 0); /* untouched */
    }
    if (pol == CLGRAD_NONFINITE_PROPAGATE && !record) {
        size_t i0 = L.off[8]; /* a finite gradient */
        if (isnan(d[CLGRAD_GS_NORM])) ck_assert(isnan(h[i0]));
        else ck_assert_float_eq(h[i0], 0.0f); /* Inf total: coef 0 */
        if (k == 0) ck_assert(isnan(h[L.off[3] + 5])); /* Inf * 0 */
    }
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&gs);
    layout_free_(&L), free(ref), free(h);
}
END_TEST

/* Per-tensor norm and AGC on NaN / Inf units propagate as documented
** (NaN norm -> NaN unit; Inf norm -> finite entries 0, Inf entries NaN);
** the other units are clipped normally.  Also a NaN weight row in AGC. */
START_TEST(nonfinite_units)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng r = fixture_rng(7000);
    layout_ L;
    layout_init_(&L, NSEG, seglens_, &r, 1.0f, 1.0f);
    L.g[L.off[2] + 10] = NAN;
    L.g[L.off[4] + 3] = INFINITY;
    L.g[L.off[8] + 2048] = -INFINITY; /* second chunk of a two-chunk segment */
    L.w[L.off[5] + 1] = NAN;
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    double *ref = malloc(L.n * sizeof *ref);
    float *h = malloc(L.n * sizeof *h);
    ck_assert(ref && h);
    cl_mem dg = fixture_upload(L.g, L.n, "g"), dw = fixture_upload(L.w, L.n, "w"), ds = NULL;
    FX_OK(clgrad_buf_new(ctx, 8 * (L.nseg + 1), "stats", &ds));
    double en = eps_n_(segs);

    clgrad_clip_tensor_norm_ref(L.g, L.n, L.nseg, L.off, L.len, 0.5, ref);
    FX_OK(clgrad_clip_tensor_norm(ctx, dg, 0, segs, ds, 0, 0.5f, NULL, 0));
    fixture_download(dg, h, L.n);
    ck_assert(rel_("tensor norm, non-finite units", h, ref, L.n, en + 4 * U) == 0);
    ck_assert(isnan(h[L.off[2]]) && isnan(h[L.off[4] + 3]) && h[L.off[4]] == 0.0f);

    FX_OK(clgrad_buf_write(ctx, dg, 0, L.n, L.g));
    clgrad_clip_agc_ref(L.w, L.g, L.n, L.nseg, L.off, L.len, 0.05, 1e-3, ref);
    FX_OK(clgrad_clip_agc(ctx, dw, 0, dg, 0, segs, ds, 0, 0.05f, 1e-3f, NULL, 0));
    fixture_download(dg, h, L.n);
    ck_assert(rel_("agc, non-finite units", h, ref, L.n, 2 * en + 6 * U) == 0);
    ck_assert(isnan(h[L.off[2]]) && isnan(h[L.off[5]]) && h[L.off[8]] == 0.0f);

    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&dw), clgrad_buf_free(&ds);
    layout_free_(&L), free(ref), free(h);
}
END_TEST

/* SKIP set -> value, per-tensor, AGC and scale leave gradients untouched. */
START_TEST(skip_honoured)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng r = fixture_rng(6000);
    layout_ L;
    layout_init_(&L, NSEG, seglens_, &r, 10.0f, 1.0f);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    float *h = malloc(L.n * sizeof *h);
    ck_assert(h);
    cl_mem dg = fixture_upload(L.g, L.n, "g"), dw = fixture_upload(L.w, L.n, "w"), ds = NULL, gs = NULL;
    FX_OK(clgrad_buf_new(ctx, 8 * (L.nseg + 1), "stats", &ds));
    FX_OK(clgrad_buf_new(ctx, 2 * CLGRAD_GS_SIZE, "gradstate", &gs));
    /* the block at offset 8: SKIP = 1, COEF = 0.5 */
    float blk[CLGRAD_GS_SIZE] = {INFINITY, 0.5f, 1, 1, 0.5f, 0, 0, 0};
    FX_OK(clgrad_buf_write(ctx, gs, CLGRAD_GS_SIZE, CLGRAD_GS_SIZE, blk));
    FX_OK(clgrad_clip_value(ctx, dg, 0, L.n, 0.01f, gs, CLGRAD_GS_SIZE));
    FX_OK(clgrad_clip_tensor_norm(ctx, dg, 0, segs, ds, 0, 0.01f, gs, CLGRAD_GS_SIZE));
    FX_OK(clgrad_clip_agc(ctx, dw, 0, dg, 0, segs, ds, 0, 1e-3f, 1e-3f, gs, CLGRAD_GS_SIZE));
    FX_OK(clgrad_clip_scale(ctx, dg, 0, segs, gs, CLGRAD_GS_SIZE));
    fixture_download(dg, h, L.n);
    ck_assert_msg(memcmp(h, L.g, L.n * sizeof *h) == 0, "a clip kernel changed gradients under SKIP");
    /* and with SKIP = 0 they do clip (the same calls are not no-ops) */
    FX_OK(clgrad_gradstate_reset(ctx, gs, CLGRAD_GS_SIZE));
    FX_OK(clgrad_clip_value(ctx, dg, 0, L.n, 0.01f, gs, CLGRAD_GS_SIZE));
    fixture_download(dg, h, L.n);
    ck_assert(memcmp(h, L.g, L.n * sizeof *h) != 0);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&dw), clgrad_buf_free(&ds), clgrad_buf_free(&gs);
    layout_free_(&L), free(h);
}
END_TEST

START_TEST(reset)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem gs = NULL;
    FX_OK(clgrad_buf_new(ctx, 3 + CLGRAD_GS_SIZE, "gradstate", &gs));
    FX_OK(clgrad_buf_fill(ctx, gs, 0, 3 + CLGRAD_GS_SIZE, NAN));
    FX_OK(clgrad_gradstate_reset(ctx, gs, 3));
    float d[3 + CLGRAD_GS_SIZE];
    fixture_download(gs, d, 3 + CLGRAD_GS_SIZE);
    const float e[CLGRAD_GS_SIZE] = {0, 1, 0, 0, 1, 0, 0, 0};
    for (int i = 0; i < 3; i++) ck_assert(isnan(d[i]));
    ck_assert(memcmp(d + 3, e, sizeof e) == 0);
    clgrad_buf_free(&gs);
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem g = NULL, s = NULL, gs = NULL;
    FX_OK(clgrad_buf_new(ctx, 8, "g", &g));
    FX_OK(clgrad_buf_new(ctx, 8, "s", &s));
    FX_OK(clgrad_buf_new(ctx, 4, "gs (too small)", &gs));
    size_t off = 0, len = 4;
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 1, &off, &len, &segs));
    ck_assert_int_eq(clgrad_clip_global_norm(ctx, g, 0, segs, s, 0, CLGRAD_NORM_L2, 0.0f, CLGRAD_NONFINITE_SKIP, gs, 0, 1),
                     CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_clip_global_norm(ctx, g, 0, segs, s, 0, CLGRAD_NORM_L2, 1.0f, CLGRAD_NONFINITE_SKIP, gs, 0, 1),
                     CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "gradient-state block") != NULL, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(clgrad_clip_scale(ctx, g, 0, segs, NULL, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_clip_value(ctx, g, 0, 8, -1.0f, NULL, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_clip_tensor_norm(ctx, g, 0, segs, s, 0, 0.0f, NULL, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_clip_agc(ctx, g, 0, g, 0, segs, s, 0, 0.01f, 0.0f, NULL, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_clip_agc(ctx, g, 0, g, 0, segs, s, 0, 0.01f, 1e-3f, NULL, 0), CLGRAD_E_ARG); /* stats 8 < 16 */
    clgrad_segs_free(&segs);
    clgrad_buf_free(&g), clgrad_buf_free(&s), clgrad_buf_free(&gs);
}
END_TEST

/* ---- bit for bit against the host build of cl/clip_fn.cl ---- */

/* case k: 0..3 finite at gradient scales that clip or not, 4 one +Inf, 5 one
** NaN, 6 huge (the 2-norm overflows), 7 denormal gradients only. */
static void hb_layout_(layout_ *L, int k, clgrad_testrng *r)
{
    static const float mags[] = {1e-3f, 0.3f, 1.0f, 50.0f, 1.0f, 1.0f, 1e30f, 0x1.0p-140f};
    layout_init_(L, NSEG, seglens_, r, mags[k], 1.0f);
    if (k == 4) L->g[L->off[1] + 3] = INFINITY;
    if (k == 5) L->g[L->off[4] + 10] = NAN;
}

START_TEST(bitwise_host)
{
    clgrad_ctx *ctx = fixture_ctx();
    const int k = _i;
    clgrad_testrng r = fixture_rng(9100 + (uint64_t)k);
    layout_ L;
    hb_layout_(&L, k, &r);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, L.nseg, L.off, L.len, &segs));
    const size_t nst = 4 * (L.nseg + 1);
    float *h = malloc(L.n * sizeof *h), *e = malloc(L.n * sizeof *e), *st = malloc(2 * nst * sizeof *st);
    ck_assert(h && e && st);
    size_t bad = 0;
    char what[96];
    cl_mem dg = fixture_upload(L.g, L.n, "g"), ds = NULL, gs = gs_new_();
    FX_OK(clgrad_buf_new(ctx, 2 * nst, "stats", &ds));
    for (int type = 0; type < 2; type++)
        for (int apply = 0; apply < 2; apply++) {
            /* clip_grad_norm_: COEF from the global record; g *= COEF (apply, or clip_scale) */
            const float max_norm = type ? 0.75f : 2.5f;
            FX_OK(clgrad_buf_write(ctx, dg, 0, L.n, L.g));
            FX_OK(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, (clgrad_norm_type)type, max_norm,
                                          CLGRAD_NONFINITE_PROPAGATE, gs, 0, apply));
            float gsd[CLGRAD_GS_SIZE];
            fixture_download(ds, st, nst);
            fixture_download(gs, gsd, CLGRAD_GS_SIZE);
            const float total = st[4 * L.nseg + (type ? 2 : 1)], coef = clip_norm_coef_(total, max_norm);
            float want[5] = {total, apply ? 1.0f : coef, !isfinite(total) || st[4 * L.nseg + 3] != 0.0f, 0.0f, coef};
            snprintf(what, sizeof what, "case %d %s apply %d gradstate", k, type ? "inf" : "l2", apply);
            bad += fixture_check_bits(what, gsd, want, 5);
            if (!apply) FX_OK(clgrad_clip_scale(ctx, dg, 0, segs, gs, 0));
            fixture_download(dg, h, L.n);
            memcpy(e, L.g, L.n * sizeof *e);
            for (size_t s = 0; s < L.nseg; s++)
                for (size_t i = L.off[s]; i < L.off[s] + L.len[s]; i++) e[i] = e[i] * coef;
            snprintf(what, sizeof what, "case %d %s apply %d scaled g", k, type ? "inf" : "l2", apply);
            bad += fixture_check_bits(what, h, e, L.n);
        }
    /* clip_value over the whole block (sentinels included) */
    const float v = k == 6 ? 1e29f : 0.01f;
    FX_OK(clgrad_buf_write(ctx, dg, 0, L.n, L.g));
    FX_OK(clgrad_clip_value(ctx, dg, 0, L.n, v, NULL, 0));
    fixture_download(dg, h, L.n);
    for (size_t i = 0; i < L.n; i++) e[i] = clip_value_(L.g[i], v);
    snprintf(what, sizeof what, "case %d value", k);
    bad += fixture_check_bits(what, h, e, L.n);
    /* Keras clipnorm: the factor of each segment's norm */
    const float c = 0.5f;
    FX_OK(clgrad_buf_write(ctx, dg, 0, L.n, L.g));
    FX_OK(clgrad_clip_tensor_norm(ctx, dg, 0, segs, ds, 0, c, NULL, 0));
    fixture_download(dg, h, L.n);
    fixture_download(ds, st, nst);
    memcpy(e, L.g, L.n * sizeof *e);
    for (size_t s = 0; s < L.nseg; s++) {
        const float f = clip_tensor_fac_(st[4 * s + 1], c);
        for (size_t i = L.off[s]; i < L.off[s] + L.len[s]; i++) e[i] = e[i] * f;
    }
    snprintf(what, sizeof what, "case %d tensor norm", k);
    bad += fixture_check_bits(what, h, e, L.n);
    /* AGC with the segments as units: W's records, then G's */
    const float clipping = 0.05f, eps = 1e-3f;
    cl_mem dw = fixture_upload(L.w, L.n, "w");
    FX_OK(clgrad_buf_write(ctx, dg, 0, L.n, L.g));
    FX_OK(clgrad_clip_agc(ctx, dw, 0, dg, 0, segs, ds, 0, clipping, eps, NULL, 0));
    fixture_download(dg, h, L.n);
    fixture_download(ds, st, 2 * nst);
    memcpy(e, L.g, L.n * sizeof *e);
    for (size_t s = 0; s < L.nseg; s++) {
        const float f = clip_agc_fac_(st[4 * s + 1], st[nst + 4 * s + 1], clipping, eps);
        for (size_t i = L.off[s]; i < L.off[s] + L.len[s]; i++) e[i] = e[i] * f;
    }
    snprintf(what, sizeof what, "case %d agc", k);
    bad += fixture_check_bits(what, h, e, L.n);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&gs), clgrad_buf_free(&dw);
    layout_free_(&L), free(h), free(e), free(st);
    ck_assert_msg(bad == 0, "case %d: %zu values differ from the host build of clip_fn.cl", k, bad);
}
END_TEST

/* ZClip (clip_zscore) against the float64 reimplementation of zclip.py
** (clgrad_clip_zscore_ref) over a sequence of gradient norms: warm-up (with a
** NaN that must not enter the statistics), a quiet stretch, planted spikes of
** several sizes, an Inf norm, a NaN norm, recovery.  Which steps clip must
** agree exactly (the test first checks that no z-score of the reference lies
** within 1e-3 of z_thresh, where float32 and float64 could honestly differ);
** the coefficients, and so the clipped norms coef * norm, to 1e-5 relative
** (the device keeps mean and variance in float32: an EMA of ~100 float
** roundings, each <= u, plus the sqrt/division roundings of one step).
** Variants (_i): clip_option adaptive_scaling / mean, max_grad_norm none /
** 1e9 / 1.5, skip_update_on_spike off / on, warmup 25 / 1, clip_factor 1 /
** 0.8, norms around 1 / around 1e-3 (where the 1e-6 terms show). */
START_TEST(zscore_vs_ref)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_zclip_params p = {0.97, 2.5, 25, 0, 1.0, INFINITY, 0};
    p.option_mean = _i & 1;
    p.max_norm = (_i >> 1) % 3 == 0 ? INFINITY : (_i >> 1) % 3 == 1 ? 1e9 : 1.5;
    p.skip_update_on_spike = _i >= 6;
    if (_i == 11) p.warmup_steps = 1, p.clip_factor = 0.8, p.option_mean = 0;
    double scale = _i == 4 || _i == 5 || _i == 10 ? 1e-3 : 1; /* small norms: the 1e-6 terms matter */
    enum { N = 120 };
    double x[N], coef[N], zr[N];
    int clipped[N];
    for (int i = 0; i < N; i++) x[i] = 1.0 + 0.05 * sin(1.7 * i) + 0.03 * cos(0.37 * i * i); /* a noisy baseline */
    x[10] = NAN;                            /* in warm-up: not collected */
    x[40] = 3.0, x[41] = 2.2, x[42] = 1.6;  /* a spike and its tail */
    x[60] = 12.0;                           /* a big one */
    x[75] = INFINITY, x[76] = NAN;          /* non-finite norms */
    x[90] = 1.35, x[91] = 1.5;              /* moderate */
    for (int i = 0; i < N; i++) x[i] = (float)(scale * x[i]); /* the device's inputs exactly */
    clgrad_clip_zscore_ref(x, N, &p, coef, clipped, zr);
    int nclip = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(!(fabs(zr[i] - p.z_thresh) < 1e-3), "step %d: z = %.9g too close to the threshold", i, zr[i]);
        nclip += clipped[i];
    }
    ck_assert_msg(nclip >= 3 && clipped[40] && clipped[60] && clipped[75] && !clipped[30] && !clipped[100],
                  "the planted spikes (40, 60, 75) and only spikes clip in the reference: %d clipped", nclip);
    cl_mem zs = NULL, gs = gs_new_();
    size_t nz = clgrad_zclip_state_floats(&p);
    FX_OK(clgrad_buf_new(ctx, nz, "zclip state", &zs));
    FX_OK(clgrad_buf_fill(ctx, zs, 0, nz, 0.0f));
    float dcoef[N], dclipped[N], dnorm[N];
    double rnorm[N];
    for (int i = 0; i < N; i++) {
        float blk[CLGRAD_GS_SIZE] = {(float)x[i], 1, 0, 0, 1, 0, 0, 0}, out[CLGRAD_GS_SIZE], st[CLGRAD_ZCLIP_STATE];
        FX_OK(clgrad_buf_write(ctx, gs, 0, CLGRAD_GS_SIZE, blk));
        FX_OK(clgrad_clip_zscore(ctx, &p, zs, gs, 0));
        fixture_download(gs, out, CLGRAD_GS_SIZE);
        FX_OK(clgrad_buf_read(ctx, zs, 0, CLGRAD_ZCLIP_STATE, st));
        dcoef[i] = out[CLGRAD_GS_COEF];
        ck_assert_msg(memcmp(&out[CLGRAD_GS_CLIPCOEF], &out[CLGRAD_GS_COEF], sizeof(float)) == 0, "step %d: CLIPCOEF != COEF", i);
        dclipped[i] = !isnan(st[CLGRAD_ZCLIP_THRESH]); /* a threshold exists iff the step was a spike */
        ck_assert_msg((int)dclipped[i] == clipped[i], "variant %d step %d (norm %g, z_ref %g, z_dev %g): device %s, reference %s",
                      (int)_i, i, x[i], zr[i], (double)st[CLGRAD_ZCLIP_Z], dclipped[i] ? "clips" : "does not clip",
                      clipped[i] ? "clips" : "does not");
        dnorm[i] = dcoef[i] * (float)x[i];
        rnorm[i] = coef[i] * x[i];
    }
    char what[96];
    snprintf(what, sizeof what, "zscore variant %d: coef", (int)_i);
    ck_assert_uint_eq(rel_(what, dcoef, coef, N, 1e-5), 0);
    snprintf(what, sizeof what, "zscore variant %d: clipped norm", (int)_i);
    ck_assert_uint_eq(rel_(what, dnorm, rnorm, N, 1e-5), 0);
    clgrad_buf_free(&zs);
    clgrad_buf_free(&gs);
}
END_TEST

/* A skipped step (SKIP = 1) changes neither COEF nor the statistics; bad settings are refused. */
START_TEST(zscore_skip_and_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_zclip_params p = {0.97, 2.5, 2, 0, 1.0, INFINITY, 0};
    cl_mem zs = NULL, gs = gs_new_();
    size_t nz = clgrad_zclip_state_floats(&p);
    FX_OK(clgrad_buf_new(ctx, nz, "zclip state", &zs));
    FX_OK(clgrad_buf_fill(ctx, zs, 0, nz, 0.0f));
    float blk[CLGRAD_GS_SIZE] = {1000, 1, 1, 1, 1, 0, 0, 0}, out[CLGRAD_GS_SIZE], st[CLGRAD_ZCLIP_STATE];
    FX_OK(clgrad_buf_write(ctx, gs, 0, CLGRAD_GS_SIZE, blk));
    FX_OK(clgrad_clip_zscore(ctx, &p, zs, gs, 0));
    fixture_download(gs, out, CLGRAD_GS_SIZE);
    FX_OK(clgrad_buf_read(ctx, zs, 0, CLGRAD_ZCLIP_STATE, st));
    ck_assert(out[CLGRAD_GS_COEF] == 1.0f && st[CLGRAD_ZCLIP_COUNT] == 0.0f);
    clgrad_zclip_params bad[4] = {p, p, p, p};
    bad[0].alpha = 1.0, bad[1].z_thresh = -1, bad[2].warmup_steps = 0, bad[3].max_norm = 0;
    for (int i = 0; i < 4; i++) ck_assert_int_eq(clgrad_clip_zscore(ctx, &bad[i], zs, gs, 0), CLGRAD_E_ARG);
    clgrad_zclip_params big = p;
    big.warmup_steps = 1000; /* the state buffer is too small for it */
    ck_assert_int_eq(clgrad_clip_zscore(ctx, &big, zs, gs, 0), CLGRAD_E_ARG);
    clgrad_buf_free(&zs);
    clgrad_buf_free(&gs);
}
END_TEST

/* ---- the gradient state with the divergence watch (src/ops/clip_watch.h) ----
** Both ways (the block in the statistics' second launch, reduce_stats_final_gradstate,
** and after it, clip_gradstate; $CLGRAD_REDUCE_ONE = 1 / 0 forces them) give the same
** bits: statistics, block, divergence record; both equal the host build of clip_gradstate_fill_
** and clip_diverge_check_ applied to the device's statistics.  Tables: none, few segments
** (empty ones, a 3-chunk one), 100 segments; clean, Inf, NaN and overflowing gradients; every
** policy, norm type, record-only or clipping; the watch off, fresh, or already holding a step. */
/* Bit for bit, except that any NaN equals any NaN (the host's and the device's NaN payloads differ). */
static int same_bits_(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0 && !(isnan(a[i]) && isnan(b[i]))) return 0;
    return 1;
}

static void watch_run_(int fused, cl_mem dg, const clgrad_segs *segs, size_t nseg, int _i, int stop_here, float *stats,
                       float *gsb, float *rec, const float *rec0, float loss)
{
    clgrad_ctx *ctx = fixture_ctx();
    const clgrad_nonfinite_policy pol = (clgrad_nonfinite_policy)(_i % 3);
    const clgrad_norm_type type = (_i / 3) % 2 ? CLGRAD_NORM_INF : CLGRAD_NORM_L2;
    const int do_clip = (_i / 6) % 2, watch = (_i / 12) % 3;
    cl_mem ds = NULL, gs = gs_new_(), mb = NULL;
    FX_OK(clgrad_buf_new(ctx, 4 * (nseg + 1), "stats", &ds));
    FX_OK(clgrad_buf_fill(ctx, ds, 0, 4 * (nseg + 1), SENTINEL));
    FX_OK(clgrad_buf_new(ctx, 2 + CLGRAD_REC_SIZE, "loss+rec", &mb));
    float m0[2 + CLGRAD_REC_SIZE] = {loss, SENTINEL};
    memcpy(m0 + 2, rec0, CLGRAD_REC_SIZE * sizeof *rec0);
    FX_OK(clgrad_buf_write(ctx, mb, 0, 2 + CLGRAD_REC_SIZE, m0));
    const clgrad_clip_watch w = {7.0f, mb, 0, 10.0f, 3.0f, mb, 2, stop_here};
    FX_OK(setenv("CLGRAD_REDUCE_ONE", fused ? "1" : "0", 1) == 0 ? CLGRAD_OK : CLGRAD_E_IO);
    FX_OK(clgrad_clip_gradstate_watch(ctx, dg, 0, segs, ds, 0, type, do_clip, 1.5f, pol, gs, 0, watch ? &w : NULL));
    unsetenv("CLGRAD_REDUCE_ONE");
    fixture_download(ds, stats, 4 * (nseg + 1));
    fixture_download(gs, gsb, CLGRAD_GS_SIZE);
    fixture_download(mb, rec, 2 + CLGRAD_REC_SIZE);
    clgrad_buf_free(&ds), clgrad_buf_free(&gs), clgrad_buf_free(&mb);
}

START_TEST(gradstate_watch_paths)
{
    clgrad_ctx *ctx = fixture_ctx();
    const int tcase = _i / 36, poison = (_i / 9) % 4;
    static const size_t big[] = {5, 0, 40000, 64, 1, 17};
    size_t lens[100] = {0}, nseg = tcase == 0 ? 0 : tcase == 1 ? 6 : 100;
    for (size_t s = 0; s < nseg; s++) lens[s] = tcase == 1 ? big[s] : 1 + (s * 37) % 300;
    clgrad_testrng r = fixture_rng(9000 + _i);
    layout_ L;
    layout_init_(&L, nseg, lens, &r, 1.0f, 1.0f);
    if (nseg && poison == 1) L.g[L.off[nseg - 1]] = INFINITY;
    if (nseg && poison == 2) L.g[L.off[2] + 3] = NAN;
    if (nseg && poison == 3)
        for (size_t i = 0; i < 5; i++) L.g[L.off[0] + i] = 3e38f;
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, nseg, L.off, L.len, &segs));
    cl_mem dg = fixture_upload(L.g, L.n, "g");
    const int k = _i % 36; /* policy, type, do_clip, watch (watch_run_) */
    float rec0[CLGRAD_REC_SIZE] = {0, 0, 0, 0.25f, 0, 0, 0, 0};
    if ((k / 12) % 3 == 2) rec0[0] = 3, rec0[1] = 4, rec0[2] = 1, rec0[3] = 50, rec0[4] = 50; /* already diverged */
    /* halting ([diverge] stop with late read-backs): none; this step halts on a divergence on record; or the
    ** run halted at an earlier step (its block must then say skip) */
    const int halt = (_i / 5) % 3, stop_here = halt >= 1;
    if (halt == 2) rec0[CLGRAD_REC_HALT] = 1;
    const float loss = (_i % 5 == 4) ? NAN : (_i % 7 == 6) ? 20.0f : 0.5f;
    float *st[2], gsb[2][CLGRAD_GS_SIZE], rec[2][2 + CLGRAD_REC_SIZE];
    for (int f = 0; f < 2; f++) {
        st[f] = malloc(4 * (nseg + 1) * sizeof(float));
        ck_assert(st[f]);
        watch_run_(f, dg, segs, nseg, k, stop_here, st[f], gsb[f], rec[f], rec0, loss);
    }
    ck_assert_msg(memcmp(st[0], st[1], 4 * (nseg + 1) * sizeof(float)) == 0, "case %d: statistics differ", _i);
    ck_assert_msg(memcmp(gsb[0], gsb[1], sizeof gsb[0]) == 0, "case %d: blocks differ", _i);
    ck_assert_msg(memcmp(rec[0], rec[1], sizeof rec[0]) == 0, "case %d: records differ", _i);
    /* the host build of the same formulas on the device's statistics */
    float hgs[CLGRAD_GS_SIZE] = {-7, -7, -7, -7, -7, -7, -7, -7}, hrec[CLGRAD_REC_SIZE];
    memcpy(hrec, rec0, sizeof hrec);
    clip_gradstate_fill_(st[0] + 4 * nseg, (k / 3) % 2, (k / 6) % 2, 1.5f, k % 3, hgs);
    if ((k / 12) % 3) clip_watch_(stop_here, 7.0f, loss, hgs, st[0], (int)nseg, 10.0f, 3.0f, hrec);
    ck_assert_msg(same_bits_(hgs, gsb[0], CLGRAD_GS_SIZE), "case %d: block vs host", _i);
    ck_assert_msg(same_bits_(hrec, rec[0] + 2, CLGRAD_REC_SIZE), "case %d: record vs host", _i);
    if ((k / 12) % 3 == 0) ck_assert(memcmp(rec0, rec[0] + 2, sizeof rec0) == 0); /* no watch: untouched */
    if ((k / 12) % 3) { /* the halting rule itself, not only device = host */
        const int diverged = rec[0][2 + CLGRAD_REC_STEP] != 0.0f;
        ck_assert_msg(rec[0][2 + CLGRAD_REC_HALT] == (halt == 2 || (stop_here && diverged) ? 1.0f : 0.0f),
                      "case %d: halt flag %g (halt mode %d, diverged %d)", _i, (double)rec[0][2 + CLGRAD_REC_HALT],
                      halt, diverged);
        if (halt == 2)
            ck_assert_msg(gsb[0][CLGRAD_GS_SKIP] == 1.0f && gsb[0][CLGRAD_GS_COEF] == 1.0f,
                          "case %d: a halted run's step must say skip with COEF 1", _i);
    }
    free(st[0]), free(st[1]);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg);
    layout_free_(&L);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("clip");
    TCase *tc = tcase_create("clip");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, worked_global_l2);
    tcase_add_test(tc, worked_global_inf);
    tcase_add_test(tc, worked_value);
    tcase_add_test(tc, worked_agc);
    tcase_add_loop_test(tc, random_global, 0, 8);
    tcase_add_loop_test(tc, random_value, 0, fixture_nsizes + 1);
    tcase_add_test(tc, random_tensor_norm);
    tcase_add_test(tc, random_agc);
    tcase_add_loop_test(tc, policies, 0, 48);
    tcase_add_test(tc, nonfinite_units);
    tcase_add_test(tc, skip_honoured);
    tcase_add_test(tc, reset);
    tcase_add_loop_test(tc, bitwise_host, 0, 8);
    tcase_add_test(tc, bad_args);
    tcase_add_loop_test(tc, zscore_vs_ref, 0, 12);
    tcase_add_test(tc, zscore_skip_and_args);
    tcase_add_loop_test(tc, gradstate_watch_paths, 0, 3 * 36);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("reduce.cl,clip.cl");
    return fixture_run(suite_(), 1);
}
