/*
** hist.c: log-magnitude histograms (include/clgrad/hist.h): the host
** definition of the bins, the column names, and the launcher of the
** hist_chunks / hist_final kernels of cl/reduce.cl.
*/
#include "core/internal.h"
#include "clgrad/hist.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int clgrad_hist_bin(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t a = u & 0x7fffffffu, be = a >> 23;
    if (a == 0) return 0;
    if (be == 255) return CLGRAD_HIST_NBINS - 1;
    int e = (int)be - 127;
    if (be == 0 || e < CLGRAD_HIST_EMIN) return 1;
    if (e >= CLGRAD_HIST_EMAX) return CLGRAD_HIST_NBINS - 2;
    return 2 + e - CLGRAD_HIST_EMIN;
}

void clgrad_hist_bin_name(int b, char *out, size_t n)
{
    if (b <= 0) snprintf(out, n, "zero");
    else if (b == 1) snprintf(out, n, "lt_2^%d", CLGRAD_HIST_EMIN);
    else if (b == CLGRAD_HIST_NBINS - 2) snprintf(out, n, "ge_2^%d", CLGRAD_HIST_EMAX);
    else if (b >= CLGRAD_HIST_NBINS - 1) snprintf(out, n, "nonfinite");
    else snprintf(out, n, "2^%d", CLGRAD_HIST_EMIN + b - 2);
}

void clgrad_hist_host(const float *x, size_t n, uint32_t *counts)
{
    for (size_t i = 0; i < n; i++) counts[clgrad_hist_bin(x[i])]++;
}

size_t clgrad_hist_scratch_words(const clgrad_segs *segs)
{
    size_t c = clgrad_segs_chunks(segs);
    return CLGRAD_HIST_NBINS * (c ? c : 1);
}

clgrad_status clgrad_hist_counts(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem scratch,
                                 cl_mem out, size_t out_off)
{
    clgrad_status st = CLGRAD_OK;
    size_t nseg = clgrad_segs_count(segs), end = 0, bytes = 0;
    const size_t *off = clgrad_segs_off(segs), *len = clgrad_segs_len(segs);
    for (size_t s = 0; s < nseg; s++) {
        if (len[s] > UINT32_MAX)
            return clgrad_fail(ctx, CLGRAD_E_ARG, "hist_counts: segment %zu has %zu elements (at most 2^32 - 1)", s,
                               len[s]);
        if (off[s] + len[s] > end) end = off[s] + len[s];
    }
    if (xoff > SIZE_MAX / sizeof(float) - end) return clgrad_fail(ctx, CLGRAD_E_ARG, "hist_counts: offset overflows");
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(x, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (xoff + end > bytes / sizeof(float))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "hist_counts: segments reach element %zu, the buffer holds %zu", xoff + end,
                           bytes / sizeof(float));
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(scratch, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes / sizeof(cl_uint) < clgrad_hist_scratch_words(segs))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "hist_counts: scratch holds %zu words, %zu needed", bytes / sizeof(cl_uint),
                           clgrad_hist_scratch_words(segs));
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(out, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (out_off + CLGRAD_HIST_NBINS * nseg > bytes / sizeof(cl_uint))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "hist_counts: the output holds %zu words, %zu needed",
                           bytes / sizeof(cl_uint), out_off + CLGRAD_HIST_NBINS * nseg);
    if (nseg == 0) return CLGRAD_OK;
    cl_uint ns = (cl_uint)nseg;
    cl_ulong xo = xoff, oo = out_off;
    cl_mem tab = clgrad_segs_table(segs);
    size_t nch = clgrad_segs_chunks(segs);
    if (nch) {
        /* HIST_WG of cl/reduce.cl: a pure performance choice (counts are exact) */
        size_t wg = clgrad_wg(ctx) < 64 ? clgrad_wg(ctx) : 64;
        cl_kernel k = clgrad_kernel(ctx, "hist_chunks");
        if (!k) return CLGRAD_E_ARG;
        CLGRAD_ARG(ctx, k, 0, x);
        CLGRAD_ARG(ctx, k, 1, xo);
        CLGRAD_ARG(ctx, k, 2, tab);
        CLGRAD_ARG(ctx, k, 3, ns);
        CLGRAD_ARG(ctx, k, 4, scratch);
        CLGRAD_TRY(clgrad_launch1d(ctx, k, "hist_chunks", nch * wg, wg));
    }
    cl_kernel k = clgrad_kernel(ctx, "hist_final");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, tab);
    CLGRAD_ARG(ctx, k, 1, ns);
    CLGRAD_ARG(ctx, k, 2, scratch);
    CLGRAD_ARG(ctx, k, 3, out);
    CLGRAD_ARG(ctx, k, 4, oo);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "hist_final", nseg * CLGRAD_HIST_NBINS, 0));
fail:
    return st;
}
