/*
** benchk.c: launchers of the kernels of cl/bench.cl (peak compute, copy,
** triad, empty: what `clgrad bench` times, src/cli/bench.c), the float64 host
** reference of the peak kernel and the "bench" self-check.
*/
#include "core/internal.h"
#include "check/check.h"
#include "clgrad/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- kernels of cl/bench.cl --------------------------------------------------- */

static const char *peak_names_[CLGRAD_BENCH_NPEAK] = {"bench_peak_float", "bench_peak_float4", "bench_peak_float8"};
static const int peak_widths_[CLGRAD_BENCH_NPEAK] = {1, 4, 8};

int clgrad_bench_peak_width(int variant)
{
    return variant >= 0 && variant < CLGRAD_BENCH_NPEAK ? peak_widths_[variant] : 0;
}

/* Enqueue k (arguments set) over n work-items, the local size left to the driver. */
static clgrad_status enqueue_(clgrad_ctx *ctx, cl_kernel k, const char *name, size_t n, cl_event *ev)
{
    cl_int err = clEnqueueNDRangeKernel(clgrad_queue(ctx), k, 1, NULL, &n, NULL, 0, NULL, ev);
    if (err == CL_SUCCESS) return CLGRAD_OK;
    if (ev) *ev = NULL;
    return clgrad_fail(ctx, CLGRAD_E_CL, "clEnqueueNDRangeKernel(%s, global %zu): %s", name, n,
                       clgrad_cl_error_name(err));
}

clgrad_status clgrad_bench_peak(clgrad_ctx *ctx, int variant, size_t n, cl_mem out, size_t off, float m, float c,
                                int iters, cl_event *ev)
{
    clgrad_status st = CLGRAD_OK;
    if (variant < 0 || variant >= CLGRAD_BENCH_NPEAK || n == 0 || iters < 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "bench_peak: bad variant %d, n %zu or iters %d", variant, n, iters);
    cl_kernel k = clgrad_kernel(ctx, peak_names_[variant]);
    if (!k) return CLGRAD_E_ARG;
    cl_ulong o = off;
    cl_int it = iters;
    CLGRAD_ARG(ctx, k, 0, out);
    CLGRAD_ARG(ctx, k, 1, o);
    CLGRAD_ARG(ctx, k, 2, m);
    CLGRAD_ARG(ctx, k, 3, c);
    CLGRAD_ARG(ctx, k, 4, it);
    return enqueue_(ctx, k, peak_names_[variant], n, ev);
fail:
    return st;
}

clgrad_status clgrad_bench_copy(clgrad_ctx *ctx, cl_mem a, size_t aoff, cl_mem b, size_t boff, size_t n, cl_event *ev)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) {
        if (ev) *ev = NULL;
        return CLGRAD_OK;
    }
    cl_kernel k = clgrad_kernel(ctx, "bench_copy");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong ao = aoff, bo = boff, nn = n;
    CLGRAD_ARG(ctx, k, 0, a);
    CLGRAD_ARG(ctx, k, 1, ao);
    CLGRAD_ARG(ctx, k, 2, b);
    CLGRAD_ARG(ctx, k, 3, bo);
    CLGRAD_ARG(ctx, k, 4, nn);
    return enqueue_(ctx, k, "bench_copy", (n + 3) / 4, ev);
fail:
    return st;
}

clgrad_status clgrad_bench_triad(clgrad_ctx *ctx, cl_mem a, size_t aoff, cl_mem b, size_t boff, cl_mem c, size_t coff,
                                 float s, size_t n, cl_event *ev)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) {
        if (ev) *ev = NULL;
        return CLGRAD_OK;
    }
    cl_kernel k = clgrad_kernel(ctx, "bench_triad");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong ao = aoff, bo = boff, co = coff, nn = n;
    CLGRAD_ARG(ctx, k, 0, a);
    CLGRAD_ARG(ctx, k, 1, ao);
    CLGRAD_ARG(ctx, k, 2, b);
    CLGRAD_ARG(ctx, k, 3, bo);
    CLGRAD_ARG(ctx, k, 4, c);
    CLGRAD_ARG(ctx, k, 5, co);
    CLGRAD_ARG(ctx, k, 6, s);
    CLGRAD_ARG(ctx, k, 7, nn);
    return enqueue_(ctx, k, "bench_triad", (n + 3) / 4, ev);
fail:
    return st;
}

clgrad_status clgrad_bench_empty(clgrad_ctx *ctx, cl_mem p, cl_event *ev)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "bench_empty");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong zero = 0;
    CLGRAD_ARG(ctx, k, 0, p);
    CLGRAD_ARG(ctx, k, 1, zero);
    return enqueue_(ctx, k, "bench_empty", 1, ev);
fail:
    return st;
}

void clgrad_bench_peak_ref(int variant, size_t n, float m, float c, int iters, float *out)
{
    size_t W = (size_t)clgrad_bench_peak_width(variant);
    for (size_t e = 0; e < n * W; e++) {
        float v = (float)e * 0x1.0p-10f, x[CLGRAD_BENCH_CHAINS];
        for (int k = 0; k < CLGRAD_BENCH_CHAINS; k++) x[k] = k ? v + (float)k : v;
        for (long r = 0; r < (long)iters * CLGRAD_BENCH_UNROLL; r++)
            for (int k = 0; k < CLGRAD_BENCH_CHAINS; k++) x[k] = fmaf(x[k], m, c);
        float s01 = x[0] + x[1], s23 = x[2] + x[3], s45 = x[4] + x[5], s67 = x[6] + x[7];
        float lo = s01 + s23, hi = s45 + s67;
        out[e] = lo + hi;
    }
}

/* ---- selfcheck ---------------------------------------------------------------------------------------- */

clgrad_status clgrad_selfcheck_bench(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    const size_t n = 65, nm = 257, off = 3;
    cl_mem out = NULL, a = NULL, b = NULL, c = NULL;
    float *h = malloc(8 * n * sizeof *h), *r = malloc(8 * n * sizeof *r), *x = malloc(3 * (nm + off) * sizeof *x);
    double *ref = malloc((nm + off) * sizeof *ref);
    if (!h || !r || !x || !ref) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, 8 * n, "bench check out", &out));
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++) {
        /* exact: the host does the same correctly rounded fma and float adds */
        size_t W = (size_t)clgrad_bench_peak_width(v);
        CLGRAD_TRY(clgrad_bench_peak(ctx, v, n, out, 0, 0.999f, 0.001f, 3, NULL));
        CLGRAD_TRY(clgrad_buf_read(ctx, out, 0, n * W, h));
        clgrad_bench_peak_ref(v, n, 0.999f, 0.001f, 3, r);
        double err = 0;
        for (size_t i = 0; i < n * W; i++) err = fmax(err, fabs((double)h[i] - (double)r[i]));
        char what[64];
        snprintf(what, sizeof what, "%s n=%zu, bit-exact", peak_names_[v], n);
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
