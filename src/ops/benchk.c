/*
** benchk.c: launchers of the kernels of cl/bench.cl (peak compute, copy,
** triad, empty: what `clgrad bench` times, src/cli/bench.c).  Their host
** reference and the "bench" self-check: src/check/bench_check.c.
*/
#include "core/internal.h"
#include "clgrad/bench.h"

#include <string.h>

/* ---- kernels of cl/bench.cl --------------------------------------------------- */

/* The peak variants of cl/bench.cl: kernel name, vector width, fma chains. */
static const struct {
    const char *kernel;
    int width, chains;
} peak_[CLGRAD_BENCH_NPEAK] = {
    {"bench_peak_float", 1, 8},           {"bench_peak_float4", 4, 8},        {"bench_peak_float8", 8, 8},
    {"bench_peak_float8_c16", 8, 16},     {"bench_peak_float16", 16, 8},      {"bench_peak_float16_c12", 16, 12},
    {"bench_peak_float16_c16", 16, 16},
};

static int peak_ok_(int variant) { return variant >= 0 && variant < CLGRAD_BENCH_NPEAK; }

int clgrad_bench_peak_width(int variant) { return peak_ok_(variant) ? peak_[variant].width : 0; }
int clgrad_bench_peak_chains(int variant) { return peak_ok_(variant) ? peak_[variant].chains : 0; }
const char *clgrad_bench_peak_name(int variant)
{
    return peak_ok_(variant) ? peak_[variant].kernel + strlen("bench_peak_") : NULL;
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
    if (!peak_ok_(variant) || n == 0 || iters < 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "bench_peak: bad variant %d, n %zu or iters %d", variant, n, iters);
    cl_kernel k = clgrad_kernel(ctx, peak_[variant].kernel);
    if (!k) return CLGRAD_E_ARG;
    cl_ulong o = off;
    cl_int it = iters;
    CLGRAD_ARG(ctx, k, 0, out);
    CLGRAD_ARG(ctx, k, 1, o);
    CLGRAD_ARG(ctx, k, 2, m);
    CLGRAD_ARG(ctx, k, 3, c);
    CLGRAD_ARG(ctx, k, 4, it);
    return enqueue_(ctx, k, peak_[variant].kernel, n, ev);
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
