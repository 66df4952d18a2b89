/*
** reduce.cl: deterministic statistics of tensors in a flat float buffer:
** sum, 2-norm, max |x| and the count of non-finite values, per segment and
** over all segments, in two launches whatever the number of segments.
**
** A segment table (built by clgrad_segs_new, see include/clgrad/reduce.h) is
** one ulong buffer of 3*nseg + 1 words:
**   off[nseg]        first element of segment s (relative to the buffer offset)
**   len[nseg]        its length (0 allowed)
**   cstart[nseg + 1] first chunk of segment s; cstart[nseg] = number of chunks
** A segment is cut into chunks of `chunk` = CLGRAD_WG * REDUCE_PER_ITEM
** elements (the last one partial).  The partition depends only on the table
** and the work-group size, never on timing.
**
** Launch 1, reduce_stats_chunks: one work-group per chunk, each work-item
**   holds REDUCE_PER_ITEM elements (strided by CLGRAD_WG), sums them in index
**   order, then a fixed local-memory tree combines the work-items.  It writes a
**   partial record of REDUCE_PART uint words per chunk:
**     [0] sum (float bits)  [1] exponent e (int)  [2] ssq (float bits)
**     [3] max |x| (float bits, NaN-propagating)   [4] non-finite count (uint)
**   The 2-norm is kept scaled (LAPACK dnrm2 style, with power-of-two scales):
**   e is the frexp exponent of the largest finite |x| of the chunk, and
**   ssq = sum (x * 2^-e)^2 over the finite x, each scaled term below 1, so
**   ssq <= chunk: neither the squares nor the sums overflow or underflow
**   (terms more than 2^126 below the chunk maximum may underflow: their
**   relative contribution is < 2^-252).  Scaling by 2^-e is exact (ldexp).
**   An all-zero chunk has e = REDUCE_NOEXP.
** Launch 2, reduce_stats_final: work-group g < nseg combines the chunks of
**   segment g, group nseg (launched when the global stats are wanted)
**   combines all chunks of the table.  Work-item l takes chunks l, l+WG, ...
**   in order, then a fixed tree: first the largest exponent E, then
**   Q = sum ssq_c * 2^(2(e_c - E)) and norm = sqrt(Q) * 2^E.
**   Writes out[out_off + 4*g + {0,1,2,3}] = sum, norm, max |x|, count.
**
** Non-finite values: the sum follows IEEE arithmetic (Inf, NaN, Inf - Inf =
** NaN); max |x| is NaN if any element is NaN (unlike fmax); the norm is NaN if
** any element is NaN, else +Inf if any is +-Inf, else the scaled result (+Inf
** only if the true norm exceeds FLT_MAX).  The count of NaN and +-Inf values
** is accumulated as an exact uint and stored as a float, so it is exact up to
** 2^24 and rounded to the nearest float above (never 0 when non-zero).
** No atomics; every sum has a fixed order: same inputs -> same bits.
*/
#ifndef REDUCE_PER_ITEM
#define REDUCE_PER_ITEM 8
#endif
#define REDUCE_CHUNK (CLGRAD_WG * REDUCE_PER_ITEM)
#define REDUCE_PART 5
#define REDUCE_NOEXP (-1000000) /* exponent of a partial with no non-zero finite element */

/* max that propagates NaN (fmax ignores it) */
inline float reduce_nanmax_(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : fmax(a, b); }

/* Find the segment owning chunk c: the largest s with cstart[s] <= c (empty
** segments own no chunk; cstart[nseg] > c, so that s is not empty). */
inline uint reduce_segment_of_(__global const ulong *cstart, const uint nseg, const ulong c)
{
    uint lo = 0, hi = nseg - 1;
    while (lo < hi) {
        uint mid = (lo + hi + 1) / 2;
        if (cstart[mid] <= c) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Fixed tree over the work-group: sum of a, max of f (finite maxima, >= 0),
** NaN-propagating max of m, sum of n.  Results in element 0. */
inline void reduce_tree4_(__local float *a, __local float *f, __local float *m, __local uint *n, const uint lid)
{
    for (uint s = CLGRAD_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) {
            a[lid] = a[lid] + a[lid + s];
            f[lid] = fmax(f[lid], f[lid + s]);
            m[lid] = reduce_nanmax_(m[lid], m[lid + s]);
            n[lid] = n[lid] + n[lid + s];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

inline void reduce_tree_sum_(__local float *a, const uint lid)
{
    for (uint s = CLGRAD_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) a[lid] = a[lid] + a[lid + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Launch 1: nchunks work-groups of exactly CLGRAD_WG.  x (buffer) is read at
** xoff + off[s] + i; part is (nchunks, REDUCE_PART). */
__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void
reduce_stats_chunks(__global const float *x, const ulong xoff, __global const ulong *tab, const uint nseg,
                    __global uint *part)
{
    __local float ls[CLGRAD_WG], lf[CLGRAD_WG], lm[CLGRAD_WG];
    __local uint ln[CLGRAD_WG];
    const uint lid = get_local_id(0);
    const ulong c = get_group_id(0);
    __global const ulong *soff = tab, *slen = tab + nseg, *cstart = tab + 2 * (ulong)nseg;
    const uint s = reduce_segment_of_(cstart, nseg, c);
    const ulong base = (c - cstart[s]) * REDUCE_CHUNK, len = slen[s];
    __global const float *p = x + xoff + soff[s];

    float v[REDUCE_PER_ITEM];
    float sum = 0.0f, fmx = 0.0f, amx = 0.0f;
    uint cnt = 0;
    for (int j = 0; j < REDUCE_PER_ITEM; j++) {
        const ulong i = base + (ulong)j * CLGRAD_WG + lid;
        v[j] = i < len ? p[i] : 0.0f;
        const float a = fabs(v[j]);
        sum = sum + v[j];
        amx = reduce_nanmax_(amx, a);
        if (isfinite(a)) fmx = fmax(fmx, a);
        else cnt++;
    }
    ls[lid] = sum, lf[lid] = fmx, lm[lid] = amx, ln[lid] = cnt;
    reduce_tree4_(ls, lf, lm, ln, lid);
    const float cmax = lf[0];
    int e = REDUCE_NOEXP;
    if (cmax > 0.0f) frexp(cmax, &e); /* cmax = m * 2^e, m in [0.5, 1) */
    float q = 0.0f;
    if (cmax > 0.0f)
        for (int j = 0; j < REDUCE_PER_ITEM; j++)
            if (isfinite(v[j])) {
                const float t = ldexp(v[j], -e); /* |t| < 1, exact unless far below cmax */
                q = q + t * t;
            }
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read lf[0] */
    lf[lid] = q;
    reduce_tree_sum_(lf, lid);
    if (lid == 0) {
        __global uint *r = part + c * REDUCE_PART;
        r[0] = as_uint(ls[0]);
        r[1] = as_uint(e);
        r[2] = as_uint(lf[0]);
        r[3] = as_uint(lm[0]);
        r[4] = ln[0];
    }
}

/* Launch 2: nseg (+1 for the global stats) work-groups of exactly CLGRAD_WG.
** out gets 4 floats per group at out_off + 4*g. */
__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void
reduce_stats_final(__global const ulong *tab, const uint nseg, __global const uint *part, __global float *out,
                   const ulong out_off)
{
    __local float ls[CLGRAD_WG], lf[CLGRAD_WG], lm[CLGRAD_WG];
    __local uint ln[CLGRAD_WG];
    __local int le[CLGRAD_WG];
    const uint lid = get_local_id(0), g = get_group_id(0);
    __global const ulong *cstart = tab + 2 * (ulong)nseg;
    const ulong c0 = g < nseg ? cstart[g] : 0, c1 = g < nseg ? cstart[g + 1] : cstart[nseg];

    float sum = 0.0f, amx = 0.0f;
    uint cnt = 0;
    int emax = REDUCE_NOEXP;
    for (ulong c = c0 + lid; c < c1; c += CLGRAD_WG) {
        __global const uint *r = part + c * REDUCE_PART;
        sum = sum + as_float(r[0]);
        emax = max(emax, as_int(r[1]));
        amx = reduce_nanmax_(amx, as_float(r[3]));
        cnt += r[4];
    }
    ls[lid] = sum, lf[lid] = 0.0f, lm[lid] = amx, ln[lid] = cnt, le[lid] = emax;
    for (uint s = CLGRAD_WG / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) le[lid] = max(le[lid], le[lid + s]);
    }
    reduce_tree4_(ls, lf, lm, ln, lid); /* also the barrier after the exponent tree */
    const int E = le[0];
    float q = 0.0f;
    for (ulong c = c0 + lid; c < c1; c += CLGRAD_WG) {
        __global const uint *r = part + c * REDUCE_PART;
        const int e = as_int(r[1]);
        /* an all-zero chunk has ssq 0 and e = REDUCE_NOEXP: the term is 0 */
        if (e != REDUCE_NOEXP) q = q + ldexp(as_float(r[2]), 2 * (e - E)); /* exact power-of-two rescale */
    }
    lf[lid] = q;
    reduce_tree_sum_(lf, lid);
    if (lid == 0) {
        const float m = lm[0];
        const uint n = ln[0];
        float norm;
        if (isnan(m)) norm = NAN;
        else if (n > 0) norm = INFINITY;
        else if (E == REDUCE_NOEXP) norm = 0.0f;
        else norm = ldexp(sqrt(lf[0]), E);
        __global float *o = out + out_off + 4 * (ulong)g;
        o[0] = ls[0];
        o[1] = norm;
        o[2] = m;
        o[3] = (float)n;
    }
}
