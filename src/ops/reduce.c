/*
** reduce.c: segment tables (clgrad_segs), the launcher of the deterministic
** statistics kernels of cl/reduce.cl (reduce_stats_chunks, reduce_stats_final)
** and of its log-magnitude histograms (hist_chunks, hist_final; clgrad/hist.h).
** Their float64 host reference, the float32 host replica of the kernels'
** fixed order and the "reduce" self-check: src/check/reduce_check.c.
*/
#include "core/internal.h"
#include "clgrad/hist.h"
#include "ops/clip_watch.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REDUCE_PART 5 /* uint words per chunk partial (cl/reduce.cl) */

struct clgrad_segs {
    size_t nseg, nchunks, chunk;
    size_t end;        /* max off[s] + len[s]: the buffer must hold xoff + end floats */
    size_t *off, *len; /* owned host copies */
    cl_mem tab;        /* owned: ulong[3*nseg + 1] */
    cl_mem part;       /* owned: uint[2 * REDUCE_PART * max(nchunks, 1)] (two reductions: clgrad_reduce_stats_pair) */
};

void clgrad_segs_free(clgrad_segs **segs)
{
    if (!segs || !*segs) return;
    clgrad_segs *s = *segs;
    if (s->tab) clReleaseMemObject(s->tab);
    if (s->part) clReleaseMemObject(s->part);
    free(s->off), free(s->len), free(s);
    *segs = NULL;
}

size_t clgrad_segs_count(const clgrad_segs *segs) { return segs->nseg; }
size_t clgrad_segs_chunks(const clgrad_segs *segs) { return segs->nchunks; }
size_t clgrad_segs_chunk(const clgrad_segs *segs) { return segs->chunk; }
const size_t *clgrad_segs_off(const clgrad_segs *segs) { return segs->off; }
const size_t *clgrad_segs_len(const clgrad_segs *segs) { return segs->len; }
cl_mem clgrad_segs_table(const clgrad_segs *segs) { return segs->tab; }

/* Fill the host table (off | len | cstart) and the sizes; 0 on overflow. */
static int layout_(clgrad_segs *s, cl_ulong *tab)
{
    size_t n = s->nseg, c = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->off[i] > SIZE_MAX - s->len[i]) return 0;
        if (s->off[i] + s->len[i] > s->end) s->end = s->off[i] + s->len[i];
        tab[i] = s->off[i];
        tab[n + i] = s->len[i];
        tab[2 * n + i] = c;
        c += (s->len[i] + s->chunk - 1) / s->chunk;
    }
    tab[3 * n] = c;
    s->nchunks = c;
    return 1;
}

clgrad_status clgrad_segs_new(clgrad_ctx *ctx, size_t nseg, const size_t *off, const size_t *len,
                              clgrad_segs **out)
{
    clgrad_status st = CLGRAD_OK;
    cl_int err;
    cl_ulong *tab = NULL;
    *out = NULL;
    if (nseg >= UINT_MAX || (nseg > 0 && (!off || !len)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "segs_new: bad table (nseg=%zu)", nseg);
    clgrad_segs *s = calloc(1, sizeof *s);
    tab = malloc((3 * nseg + 1) * sizeof *tab);
    if (!s || !tab) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "segs_new: out of memory"); goto fail; }
    s->nseg = nseg;
    s->chunk = CLGRAD_REDUCE_CHUNK; /* the fixed partition: no dependence on the device */
    s->off = malloc((nseg ? nseg : 1) * sizeof *s->off);
    s->len = malloc((nseg ? nseg : 1) * sizeof *s->len);
    if (!s->off || !s->len) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "segs_new: out of memory"); goto fail; }
    if (nseg) memcpy(s->off, off, nseg * sizeof *off), memcpy(s->len, len, nseg * sizeof *len);
    if (!layout_(s, tab)) { st = clgrad_fail(ctx, CLGRAD_E_ARG, "segs_new: offset + length overflows"); goto fail; }
    s->tab = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                            (3 * nseg + 1) * sizeof *tab, tab, &err);
    if (err != CL_SUCCESS) {
        s->tab = NULL;
        st = clgrad_fail_cl(ctx, err, "clCreateBuffer", __FILE__, __LINE__);
        goto fail;
    }
    size_t words = 2 * REDUCE_PART * (s->nchunks ? s->nchunks : 1);
    s->part = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_WRITE, words * sizeof(cl_uint), NULL, &err);
    if (err != CL_SUCCESS) {
        s->part = NULL;
        st = clgrad_fail_cl(ctx, err, "clCreateBuffer", __FILE__, __LINE__);
        goto fail;
    }
    free(tab);
    *out = s;
    return CLGRAD_OK;
fail:
    free(tab);
    clgrad_segs_free(&s);
    return st;
}

clgrad_status clgrad_segs_new_rows(clgrad_ctx *ctx, size_t ntensor, const size_t *off, const size_t *rows,
                                   const size_t *cols, clgrad_segs **out)
{
    size_t n = 0;
    *out = NULL;
    for (size_t t = 0; t < ntensor; t++) n += rows[t];
    size_t *o = malloc((n ? n : 1) * sizeof *o), *l = malloc((n ? n : 1) * sizeof *l);
    if (!o || !l) {
        free(o), free(l);
        return clgrad_fail(ctx, CLGRAD_E_NOMEM, "segs_new_rows: out of memory");
    }
    size_t k = 0;
    for (size_t t = 0; t < ntensor; t++)
        for (size_t r = 0; r < rows[t]; r++, k++) o[k] = off[t] + r * cols[t], l[k] = cols[t];
    clgrad_status st = clgrad_segs_new(ctx, n, o, l, out);
    free(o), free(l);
    return st;
}

size_t clgrad_reduce_depth(const clgrad_ctx *ctx, size_t nchunks)
{
    (void)ctx;
    size_t lg = 0;
    while (lg < 64 && ((size_t)1 << lg) < nchunks) lg++;
    /* per lane in order over the leaf's vectors, the 3 pairwise lane levels,
    ** the chunk tree over 256 leaves (8 levels), the tree over the chunks
    ** padded to a power of two (cl/reduce.cl) */
    return CLGRAD_REDUCE_LEAF_VECS + 3 + 8 + lg;
}

/* The buffer must hold the segments' elements. */
static clgrad_status check_size_(clgrad_ctx *ctx, cl_mem x, size_t need, const char *what)
{
    clgrad_status st = CLGRAD_OK;
    size_t bytes = 0;
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(x, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (need > bytes / sizeof(float))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: segments reach element %zu, the buffer holds %zu", what, need,
                           bytes / sizeof(float));
fail:
    return st;
}

/* REDUCE_WG of cl/reduce.cl: a pure performance choice */
size_t clgrad_reduce_wg(const clgrad_ctx *ctx)
{
    return clgrad_wg(ctx) < CLGRAD_REDUCE_LEAVES ? clgrad_wg(ctx) : CLGRAD_REDUCE_LEAVES;
}

cl_mem clgrad_segs_part(const clgrad_segs *segs) { return segs->part; }

clgrad_status clgrad_reduce_stats_chunks(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem out,
                                         size_t out_off, int with_global)
{
    clgrad_status st = CLGRAD_OK;
    size_t wg = clgrad_reduce_wg(ctx);
    if (segs->nseg && xoff > SIZE_MAX - segs->end)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "reduce_stats: offset overflows");
    CLGRAD_TRY(check_size_(ctx, x, xoff + segs->end, "reduce_stats"));
    CLGRAD_TRY(check_size_(ctx, out, out_off + CLGRAD_RS_SIZE * (segs->nseg + (with_global ? 1 : 0)),
                           "reduce_stats (output)"));
    if (segs->nchunks) {
        cl_kernel k = clgrad_kernel(ctx, "reduce_stats_chunks");
        if (!k) return CLGRAD_E_ARG;
        cl_uint nseg = (cl_uint)segs->nseg;
        cl_ulong xo = xoff;
        CLGRAD_ARG(ctx, k, 0, x);
        CLGRAD_ARG(ctx, k, 1, xo);
        CLGRAD_ARG(ctx, k, 2, segs->tab);
        CLGRAD_ARG(ctx, k, 3, nseg);
        CLGRAD_ARG(ctx, k, 4, segs->part);
        CLGRAD_TRY(clgrad_launch1d(ctx, k, "reduce_stats_chunks", segs->nchunks * wg, wg));
    }
fail:
    return st;
}

int clgrad_reduce_final_by_one(const clgrad_segs *segs)
{
    const char *e = getenv("CLGRAD_REDUCE_ONE");
    if (e && strcmp(e, "0") == 0) return 0;
    if (e && strcmp(e, "1") == 0) return 1;
    return segs->nseg <= CLGRAD_REDUCE_ONE_SEGS && segs->nchunks <= CLGRAD_REDUCE_ONE_CHUNKS;
}

/* Launch 2 by one work-item (reduce_stats_final_one): ng groups of part into out + off_x; pair: those of
** part's second half too, into out + off_d. */
static clgrad_status final_one_(clgrad_ctx *ctx, const clgrad_segs *segs, size_t ng, cl_mem out, size_t off_x,
                                size_t off_d, int pair)
{
    clgrad_status st = CLGRAD_OK;
    cl_uint nseg = (cl_uint)segs->nseg;
    const clgrad_karg a[] = {CLGRAD_KM(segs->tab), {&nseg, sizeof nseg}, {&(cl_uint){(cl_uint)ng}, sizeof(cl_uint)},
                             CLGRAD_KU(segs->nchunks), CLGRAD_KM(segs->part), CLGRAD_KM(out), CLGRAD_KU(off_x),
                             CLGRAD_KU(off_d), CLGRAD_KI(pair)};
    size_t one = 1;
    cl_kernel k = clgrad_kernel(ctx, "reduce_stats_final_one");
    if (!k) return CLGRAD_E_ARG;
    for (cl_uint i = 0; i < sizeof a / sizeof *a; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, i, a[i].size, a[i].p));
    CLGRAD_TRY(clgrad_launch(ctx, k, "reduce_stats_final_one", 1, &one, &one));
fail:
    return st;
}

/* Both launches; `with_global` adds the work-group of the global statistics. */
static clgrad_status stats_(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem out,
                            size_t out_off, int with_global)
{
    clgrad_status st = CLGRAD_OK;
    size_t wg = clgrad_reduce_wg(ctx);
    CLGRAD_TRY(clgrad_reduce_stats_chunks(ctx, x, xoff, segs, out, out_off, with_global));
    if (clgrad_reduce_final_by_one(segs))
        return final_one_(ctx, segs, segs->nseg + (with_global ? 1 : 0), out, out_off, 0, 0);
    cl_uint nseg = (cl_uint)segs->nseg;
    cl_ulong oo = out_off;
    cl_kernel k = clgrad_kernel(ctx, "reduce_stats_final");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, segs->tab);
    CLGRAD_ARG(ctx, k, 1, nseg);
    CLGRAD_ARG(ctx, k, 2, segs->part);
    CLGRAD_ARG(ctx, k, 3, out);
    CLGRAD_ARG(ctx, k, 4, oo);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "reduce_stats_final", (segs->nseg + (with_global ? 1 : 0)) * wg, wg));
fail:
    return st;
}

clgrad_status clgrad_reduce_stats(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem out,
                                  size_t out_off)
{
    return stats_(ctx, x, xoff, segs, out, out_off, 1);
}

clgrad_status clgrad_reduce_stats_pair_check(clgrad_ctx *ctx, cl_mem x, cl_mem y, const clgrad_segs *segs, cl_mem out,
                                             size_t off_x, size_t off_d)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(check_size_(ctx, x, segs->end, "reduce_stats_pair"));
    CLGRAD_TRY(check_size_(ctx, y, segs->end, "reduce_stats_pair"));
    size_t need = CLGRAD_RS_SIZE * (segs->nseg + 1);
    CLGRAD_TRY(check_size_(ctx, out, (off_x > off_d ? off_x : off_d) + need, "reduce_stats_pair (output)"));
fail:
    return st;
}

clgrad_status clgrad_reduce_stats_pair(clgrad_ctx *ctx, cl_mem x, cl_mem y, const clgrad_segs *segs, cl_mem out,
                                       size_t off_x, size_t off_d)
{
    clgrad_status st = CLGRAD_OK;
    size_t wg = clgrad_reduce_wg(ctx);
    CLGRAD_TRY(clgrad_reduce_stats_pair_check(ctx, x, y, segs, out, off_x, off_d));
    cl_uint nseg = (cl_uint)segs->nseg;
    if (segs->nchunks) {
        cl_kernel k = clgrad_kernel(ctx, "reduce_stats_pair_chunks");
        if (!k) return CLGRAD_E_ARG;
        clgrad_karg a[] = {CLGRAD_KM(x), CLGRAD_KM(y), CLGRAD_KM(segs->tab), {&nseg, sizeof nseg},
                           CLGRAD_KU(segs->nchunks), CLGRAD_KM(segs->part)};
        for (int i = 0; i < 6; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].p));
        CLGRAD_TRY(clgrad_launch1d(ctx, k, "reduce_stats_pair_chunks", 2 * segs->nchunks * wg, wg));
    }
    if (clgrad_reduce_final_by_one(segs)) return final_one_(ctx, segs, segs->nseg + 1, out, off_x, off_d, 1);
    cl_kernel k = clgrad_kernel(ctx, "reduce_stats_pair_final");
    if (!k) return CLGRAD_E_ARG;
    clgrad_karg a[] = {CLGRAD_KM(segs->tab), {&nseg, sizeof nseg}, CLGRAD_KU(segs->nchunks), CLGRAD_KM(segs->part),
                       CLGRAD_KM(out),       CLGRAD_KU(off_x),         CLGRAD_KU(off_d)};
    for (int i = 0; i < 7; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].p));
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "reduce_stats_pair_final", 2 * (segs->nseg + 1) * wg, wg));
fail:
    return st;
}

clgrad_status clgrad_reduce_stats_optim_(clgrad_ctx *ctx, cl_kernel k, const clgrad_segs *segs, cl_mem out,
                                         size_t off_x, size_t off_d, const clgrad_reduce_job *also)
{
    clgrad_status st = CLGRAD_OK;
    size_t wg = clgrad_wg(ctx) < CLGRAD_REDUCE_LEAVES ? clgrad_wg(ctx) : CLGRAD_REDUCE_LEAVES;
    const clgrad_segs *sa = also ? also->segs : segs; /* without `also`: any valid table, no group reads it */
    if (also) {
        if (also->xoff > SIZE_MAX - sa->end) return clgrad_fail(ctx, CLGRAD_E_ARG, "reduce_stats: offset overflows");
        CLGRAD_TRY(check_size_(ctx, also->x, also->xoff + sa->end, "reduce_stats"));
        CLGRAD_TRY(check_size_(ctx, out, also->out_off + CLGRAD_RS_SIZE * (sa->nseg + 1), "reduce_stats (output)"));
    }
    cl_uint nseg = (cl_uint)segs->nseg, nsa = (cl_uint)sa->nseg, ga = also ? nsa + 1 : 0;
    size_t na = also ? sa->nchunks : 0;
    if (segs->nchunks + na) {
        cl_mem xa = also ? also->x : out;
        clgrad_karg a[] = {CLGRAD_KM(xa), CLGRAD_KU(also ? also->xoff : 0), CLGRAD_KM(sa->tab),
                           {&nsa, sizeof nsa}, CLGRAD_KU(na), CLGRAD_KM(sa->part)};
        for (int i = 0; i < 6; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)(16 + i), a[i].size, a[i].p));
        CLGRAD_TRY(clgrad_launch1d(ctx, k, "reduce_stats_optim_chunks", (segs->nchunks + na) * wg, wg));
    }
    cl_kernel kf = clgrad_kernel(ctx, "reduce_stats_optim_final");
    if (!kf) return CLGRAD_E_ARG;
    clgrad_karg f[] = {CLGRAD_KM(sa->tab),   {&nsa, sizeof nsa},        {&ga, sizeof ga},
                       CLGRAD_KM(sa->part),  CLGRAD_KU(also ? also->out_off : 0), CLGRAD_KM(segs->tab),
                       {&nseg, sizeof nseg}, CLGRAD_KU(segs->nchunks),  CLGRAD_KM(segs->part),
                       CLGRAD_KM(out),       CLGRAD_KU(off_x),          CLGRAD_KU(off_d)};
    for (int i = 0; i < 12; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(kf, (cl_uint)i, f[i].size, f[i].p));
    CLGRAD_TRY(clgrad_launch1d(ctx, kf, "reduce_stats_optim_final", (ga + 2 * (segs->nseg + 1)) * wg, wg));
fail:
    return st;
}

clgrad_status clgrad_reduce_stats1(clgrad_ctx *ctx, cl_mem x, size_t off, size_t n, cl_mem out, size_t out_off)
{
    clgrad_segs *segs = NULL;
    clgrad_status st = clgrad_segs_new(ctx, 1, &off, &n, &segs);
    if (st == CLGRAD_OK) st = stats_(ctx, x, 0, segs, out, out_off, 0);
    /* releasing is safe while the kernels are queued: OpenCL keeps the memory
    ** until the commands that use it complete */
    clgrad_segs_free(&segs);
    return st;
}

/* ---- log-magnitude histograms (include/clgrad/hist.h): the host definition of
** the bins, the column names, and the launcher of hist_chunks / hist_final ---- */

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
