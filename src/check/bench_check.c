/*
** bench_check.c: the host reference of cl/bench.cl's peak kernel (the same
** float operations, bit for bit) and the "bench" self-check of the launchers
** in src/ops/benchk.c (peak bit-exact, copy exact, triad against float64,
** the empty kernel completes).
*/
#include "core/internal.h"
#include "check/check.h"
#include "clgrad/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* x[0] + ... + x[n-1] as cl/bench.cl sums its chains: split at the largest
** power of two below n, each half summed the same way. */
static float pair_sum_(const float *x, int n)
{
    if (n == 1) return x[0];
    int h = 1;
    while (2 * h < n) h *= 2;
    float lo = pair_sum_(x, h), hi = pair_sum_(x + h, n - h);
    return lo + hi;
}

void clgrad_bench_peak_ref(int variant, size_t n, float m, float c, int iters, float *out)
{
    size_t W = (size_t)clgrad_bench_peak_width(variant);
    int C = clgrad_bench_peak_chains(variant);
    for (size_t e = 0; e < n * W; e++) {
        float v = (float)e * 0x1.0p-10f, x[CLGRAD_BENCH_MAX_CHAINS];
        for (int k = 0; k < C; k++) x[k] = k ? v + (float)k : v;
        for (long r = 0; r < (long)iters * CLGRAD_BENCH_UNROLL; r++)
            for (int k = 0; k < C; k++) x[k] = fmaf(x[k], m, c);
        out[e] = pair_sum_(x, C);
    }
}

clgrad_status clgrad_selfcheck_bench(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    const size_t n = 65, nm = 257, off = 3;
    cl_mem out = NULL, a = NULL, b = NULL, c = NULL;
    float *h = malloc(16 * n * sizeof *h), *r = malloc(16 * n * sizeof *r), *x = malloc(3 * (nm + off) * sizeof *x);
    double *ref = malloc((nm + off) * sizeof *ref);
    if (!h || !r || !x || !ref) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, 16 * n, "bench check out", &out));
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++) {
        /* exact: the host does the same correctly rounded fma and float adds */
        size_t W = (size_t)clgrad_bench_peak_width(v);
        CLGRAD_TRY(clgrad_bench_peak(ctx, v, n, out, 0, 0.999f, 0.001f, 3, NULL));
        CLGRAD_TRY(clgrad_buf_read(ctx, out, 0, n * W, h));
        clgrad_bench_peak_ref(v, n, 0.999f, 0.001f, 3, r);
        double err = 0;
        for (size_t i = 0; i < n * W; i++) err = fmax(err, fabs((double)h[i] - (double)r[i]));
        char what[64];
        snprintf(what, sizeof what, "bench_peak_%s n=%zu, bit-exact", clgrad_bench_peak_name(v), n);
        report(user, "bench", what, err == 0, err, 0);
    }
    /* copy (exact) and triad (two roundings: |err| <= u (|s c| + |b + fl(s c)|) <= 2u (|b| + 2|s c|)) */
    clgrad_testrng rng = {0xbe4c4u};
    for (size_t i = 0; i < 3 * (nm + off); i++) x[i] = clgrad_testrng_uniform(&rng, -4, 4);
    CLGRAD_TRY(clgrad_buf_new(ctx, nm + off, "bench check a", &a));
    CLGRAD_TRY(clgrad_buf_new(ctx, nm + off, "bench check b", &b));
    CLGRAD_TRY(clgrad_buf_new(ctx, nm + off, "bench check c", &c));
    CLGRAD_TRY(clgrad_buf_write(ctx, b, 0, nm + off, x + (nm + off)));
    CLGRAD_TRY(clgrad_buf_write(ctx, c, 0, nm + off, x + 2 * (nm + off)));
    CLGRAD_TRY(clgrad_buf_fill(ctx, a, 0, nm + off, 0.0f));
    CLGRAD_TRY(clgrad_bench_copy(ctx, b, off, a, off, nm, NULL));
    CLGRAD_TRY(clgrad_buf_read(ctx, a, off, nm, h));
    for (size_t i = 0; i < nm; i++) ref[i] = x[(nm + off) + off + i];
    double err = 0;
    size_t bad = clgrad_compare(h, ref, nm, 0, 0, &err);
    report(user, "bench", "bench_copy n=257 off=3, exact", bad == 0, err, 0);
    const float s = 1.75f;
    CLGRAD_TRY(clgrad_bench_triad(ctx, a, off, b, off, c, off, s, nm, NULL));
    CLGRAD_TRY(clgrad_buf_read(ctx, a, off, nm, h));
    double worst = 0, tol_at = 0;
    bad = 0;
    for (size_t i = 0; i < nm; i++) {
        double bb = x[(nm + off) + off + i], cc = x[2 * (nm + off) + off + i], rr = bb + (double)s * cc;
        double tol = 0x1.0p-23 * (fabs(bb) + 2 * fabs((double)s * cc));
        double e = fabs((double)h[i] - rr);
        if (e > tol) bad++;
        if (e > worst) worst = e, tol_at = tol;
    }
    report(user, "bench", "bench_triad n=257 off=3 vs float64", bad == 0, worst, tol_at);
    clgrad_status se = clgrad_bench_empty(ctx, out, NULL);
    if (se == CLGRAD_OK) se = clgrad_finish(ctx);
    report(user, "bench", "bench_empty launches and completes", se == CLGRAD_OK, 0, 0);
    CLGRAD_TRY(se);
fail:
    clgrad_buf_free(&out), clgrad_buf_free(&a), clgrad_buf_free(&b), clgrad_buf_free(&c);
    free(h), free(r), free(x), free(ref);
    return st;
}
