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
** Launch 1, reduce_stats_chunks: one work-group per chunk; work-item l
**   holds REDUCE_PER_ITEM elements as REDUCE_VECS float8: vector j is the 8
**   consecutive elements at 8 (j CLGRAD_WG + l) of the chunk (consecutive
**   items read consecutive memory: coalesced; vectorised on CPUs).  Each of
**   the 8 lanes sums its elements in order, the lanes are added pairwise
**   ((0+1)+(2+3))+((4+5)+(6+7)), then one fixed local-memory tree combines
**   the work-items.  It writes a partial record of REDUCE_PART uint words per
**   chunk:
**     [0] sum (float bits)  [1] exponent e (int)  [2] ssq (float bits)
**     [3] max |x| (float bits, NaN-propagating)   [4] non-finite count (uint)
**   The 2-norm is kept scaled (LAPACK dnrm2 style, with power-of-two scales):
**   e is the frexp exponent of the largest finite |x| of the chunk, and
**   ssq = sum (x * 2^-e)^2 over the finite x, each scaled term below 1, so
**   ssq <= chunk: neither the squares nor the sums overflow or underflow.
**   Each work-item first scales by its own maximum (2^-e_l, exact: a
**   multiplication by a power of two, or ldexp where 2^-e_l is not a normal
**   float), and the tree merges (e, ssq) pairs to the larger exponent with an
**   exact power-of-two rescale.  Only terms and partial sums below 2^-126
**   after scaling round (denormal): a term more than 2^62 below the chunk
**   maximum, whose share of ssq is < 2^-124 (so < 2^-100 relative in all).
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
#define REDUCE_PER_ITEM 32
#endif
#define REDUCE_VECS (REDUCE_PER_ITEM / 8) /* float8 per work-item */
#define REDUCE_CHUNK (CLGRAD_WG * REDUCE_PER_ITEM)
#define REDUCE_PART 5
#define REDUCE_NOEXP (-1000000) /* exponent of a partial with no non-zero finite element */

/* The frexp exponent e of a finite x > 0 (x = m 2^e, m in [0.5, 1)) from its
** bits b, denormals included: integer-only, exact on every device.  Not
** frexp(x, &e): Oclgrind's uninitialized-value checker stops with a fatal
** error on builtins that write through a private pointer. */
inline int reduce_exponent_(const uint b)
{
    const int be = (int)(b >> 23);
    return be > 0 ? be - 126 : -117 - (int)clz(b); /* denormal: b * 2^-149 */
}

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

/* q * 2^k for k <= 0, as ldexp (exact unless the result is denormal, then
** correctly rounded); a multiplication by the float 2^k where that is a
** normal number (the same result, much cheaper than ldexp on some devices). */
inline float reduce_scale_(const float q, const int k)
{
    return k >= -126 ? q * as_float((uint)(k + 127) << 23) : ldexp(q, k);
}

/* ssq scaled to 2^(2 E) from 2^(2 e) (e <= E); 0 for a partial with no exponent */
inline float reduce_rescale_(const float q, const int e, const int E)
{
    return e == REDUCE_NOEXP ? 0.0f : reduce_scale_(q, 2 * (e - E));
}

inline float reduce_hsum8_(const float8 v)
{
    return ((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7));
}

/* A work-item's (then a subtree's) statistics: sum, scaled ssq with its
** exponent, NaN-propagating max |x|, non-finite count. */
typedef struct {
    float s, q, m;
    int e;
    uint n;
} reduce_rec_;

inline reduce_rec_ reduce_merge_(const reduce_rec_ a, const reduce_rec_ b)
{
    reduce_rec_ r;
    r.e = max(a.e, b.e);
    r.s = a.s + b.s;
    r.q = reduce_rescale_(a.q, a.e, r.e) + reduce_rescale_(b.q, b.e, r.e); /* exact rescales */
    r.m = reduce_nanmax_(a.m, b.m);
    r.n = a.n + b.n;
    return r;
}

/* The fixed balanced binary tree over the work-group (adjacent pairs first:
** ((0+1)+(2+3))+..., depth log2(CLGRAD_WG)), evaluated in two levels with
** two barriers: REDUCE_N1 work-items each merge REDUCE_R1 consecutive records
** pairwise in registers, then work-item 0 merges their REDUCE_N1 results
** pairwise (few barriers and idle work-items: cheap on CPUs, fine on GPUs).
** The total is returned in work-item 0. */
#define REDUCE_R1 (CLGRAD_WG < 16 ? CLGRAD_WG : 16) /* children of a first-level node */
#define REDUCE_N1 (CLGRAD_WG / REDUCE_R1)             /* first-level nodes: children of the root */

/* t[0] = balanced pairwise merge of t[0 .. k-1] (k a power of two) */
#define REDUCE_PAIRWISE(t, k)                                                                      \
    for (uint w_ = 1; w_ < (k); w_ *= 2)                                                           \
        for (uint i_ = 0; i_ + w_ < (k); i_ += 2 * w_) (t)[i_] = reduce_merge_((t)[i_], (t)[i_ + w_])

inline reduce_rec_ reduce_tree_rec_(__local reduce_rec_ *lr, __local reduce_rec_ *l1, reduce_rec_ me, const uint lid)
{
    lr[lid] = me;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < REDUCE_N1) {
        reduce_rec_ t[REDUCE_R1];
        for (uint i = 0; i < REDUCE_R1; i++) t[i] = lr[lid * REDUCE_R1 + i];
        REDUCE_PAIRWISE(t, REDUCE_R1);
        l1[lid] = t[0];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        reduce_rec_ t[REDUCE_N1];
        for (uint i = 0; i < REDUCE_N1; i++) t[i] = l1[i];
        REDUCE_PAIRWISE(t, REDUCE_N1);
        me = t[0];
    }
    return me;
}

/* Launch 1: nchunks work-groups of exactly CLGRAD_WG.  x (buffer) is read at
** xoff + off[s] + i; part is (nchunks, REDUCE_PART). */
__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void
reduce_stats_chunks(__global const float *x, const ulong xoff, __global const ulong *tab, const uint nseg,
                    __global uint *part)
{
    __local reduce_rec_ lr[CLGRAD_WG], l1[REDUCE_N1];
    const uint lid = get_local_id(0);
    const ulong c = get_group_id(0);
    __global const ulong *soff = tab, *slen = tab + nseg, *cstart = tab + 2 * (ulong)nseg;
    const uint s = reduce_segment_of_(cstart, nseg, c);
    const ulong base = (c - cstart[s]) * REDUCE_CHUNK, len = slen[s];
    __global const float *p = x + xoff + soff[s];

    /* this item's REDUCE_VECS float8 (zeros past the end of the segment).
    ** |x| is compared as its bits (sign cleared): for non-negative floats the
    ** integer order is the numeric order, and NaN > Inf > any finite value,
    ** so one integer max gives the NaN-propagating max |x|. */
    float8 v[REDUCE_VECS];
    float8 sum = 0.0f;
    uint8 amx = 0, fmx = 0; /* max |x| bits over all elements / over the finite ones, per lane */
    int8 nf = 0;            /* non-finite elements per lane */
    for (int j = 0; j < REDUCE_VECS; j++) {
        const ulong i = base + ((ulong)j * CLGRAD_WG + lid) * 8;
        v[j] = clg_load8_(p + i, clg_rest_(len, i));
        const uint8 a = as_uint8(v[j]) & 0x7fffffffu;
        const int8 bad = as_int8(a) >= 0x7f800000; /* -1 for Inf or NaN */
        sum = sum + v[j];
        amx = max(amx, a);
        fmx = max(fmx, select(a, (uint8)0, bad));
        nf -= bad;
    }
    const uint4 f4 = max(fmx.lo, fmx.hi), a4 = max(amx.lo, amx.hi);
    const uint2 f2 = max(f4.lo, f4.hi), a2 = max(a4.lo, a4.hi);
    const float mx = as_float(max(f2.x, f2.y)); /* largest finite |x| */
    const uint amxb = max(a2.x, a2.y);
    int e = REDUCE_NOEXP;
    float q = 0.0f;
    if (mx > 0.0f) {
        e = reduce_exponent_(as_uint(mx)); /* mx = m * 2^e, m in [0.5, 1) */
        float8 q8 = 0.0f;
        if (e >= -127 && e <= 126) {
            const float sc = as_float((uint)(127 - e) << 23); /* 2^-e, a normal float */
            for (int j = 0; j < REDUCE_VECS; j++) {
                const float8 t = select((float8)0.0f, v[j], isfinite(v[j])) * sc; /* |t| < 1 */
                q8 = q8 + t * t;
            }
        } else
            for (int j = 0; j < REDUCE_VECS; j++) {
                const float8 t = ldexp(select((float8)0.0f, v[j], isfinite(v[j])), -e);
                q8 = q8 + t * t;
            }
        q = reduce_hsum8_(q8);
    }
    reduce_rec_ me;
    me.s = reduce_hsum8_(sum), me.q = q, me.m = amxb > 0x7f800000u ? NAN : as_float(amxb), me.e = e;
    me.n = (uint)(nf.s0 + nf.s1 + nf.s2 + nf.s3 + nf.s4 + nf.s5 + nf.s6 + nf.s7);
    me = reduce_tree_rec_(lr, l1, me, lid);
    if (lid == 0) {
        __global uint *r = part + c * REDUCE_PART;
        r[0] = as_uint(me.s);
        r[1] = as_uint(me.e);
        r[2] = as_uint(me.q);
        r[3] = as_uint(me.m);
        r[4] = me.n;
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
