/*
** reduce.cl: deterministic statistics of tensors in a flat float buffer:
** sum, 2-norm, max |x| and the count of non-finite values, per segment and
** over all segments, in two launches whatever the number of segments.
**
** THE ORDER OF OPERATIONS IS A FUNCTION OF THE SEGMENT LENGTHS ALONE: the
** work-group size (CLGRAD_WG), the number of work-groups and of compute units
** change which work-item evaluates which node of the trees below, never the
** trees.  The constants REDUCE_LEAF_VECS, REDUCE_LEAVES (and so REDUCE_CHUNK)
** are part of the numeric definition, not tunables: changing them changes
** the last bits of the results.  clgrad_reduce_stats_replica (src/ops/reduce.c)
** evaluates the same definition on the host in float32, bit for bit.
**
** A segment table (built by clgrad_segs_new, see include/clgrad/reduce.h) is
** one ulong buffer of 3*nseg + 1 words:
**   off[nseg]        first element of segment s (relative to the buffer offset)
**   len[nseg]        its length (0 allowed)
**   cstart[nseg + 1] first chunk of segment s; cstart[nseg] = number of chunks
** A segment is cut into chunks of REDUCE_CHUNK = 16384 elements (the last one
** partial), whatever the device.
**
** Records.  Every node of every tree is a record (s, e, q, m, n):
**   s  the sum (float)
**   e, q  the scaled sum of squares: sum x^2 = q * 2^(2e) (LAPACK dnrm2 style
**      with power-of-two scales); e = REDUCE_NOEXP when the node holds no
**      non-zero finite element (then q = 0)
**   m  max |x| as the bits of |x| (sign cleared): for non-negative floats
**      the integer order is the numeric order and NaN > Inf > any finite
**      value, so an integer max is the NaN-propagating max |x|
**   n  the count of NaN and +-Inf elements (exact uint)
** The identity record is I = (-0.0f, REDUCE_NOEXP, 0, 0, 0): -0.0 is the
** identity of float addition for every x (+0.0 is not: +0 + -0 = +0).
** merge(a, b) = (a.s + b.s, E = max(a.e, b.e),
**                rescale(a.q, a.e, E) + rescale(b.q, b.e, E),
**                max(a.m, b.m), a.n + b.n)
** with rescale(q, e, E) = 0 if e = REDUCE_NOEXP, else q * 2^(2(e - E)) (a
** multiplication by a normal power of two: exact; ldexp where 2^(2(e-E)) is
** not a normal float: exact unless the result is denormal, then correctly
** rounded).  merge(a, I) = a bit for bit (and merge(I, I) = I), so a tree
** padded on the right with identities equals the tree without the padding:
** work-items may skip identities, the bits do not change.
**
** Level 0, the leaf: 64 consecutive elements = REDUCE_LEAF_VECS (8) float8.
** In a chunk (elements 16384 c .. of its segment; vector v = the 8 elements
** 8v .. 8v+7 of the chunk) leaf j (0 <= j < REDUCE_LEAVES = 256) holds the
** vectors 8j + k, k = 0 .. 7 (the elements 64j .. 64j + 63).  Elements past
** the segment's end read as -0.0 (identities).  Its record:
**   s: lane i (0..7) sums element i of the vectors k = 0 .. 7 in order,
**      starting from -0.0: ((-0 + x_0) + x_1) + ... + x_7; the lanes then
**      pairwise:
**      ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
**   e: the frexp exponent of the leaf's largest finite |x| (REDUCE_NOEXP
**      when that is 0)
**   q: lane i sums t^2 in the same order starting from +0.0, with
**      t = x * 2^-e for finite x and t = 0 for Inf and NaN (|t| < 1; the
**      scaling is exact except for results below 2^-126), then the lanes
**      pairwise as for s
**   m, n: max of the |x| bits and count of non-finite values of the leaf
** Level 1, the chunk: the balanced pairwise tree over its 256 leaves:
**   merge(merge(L0, L1), merge(L2, L3)) ... (depth 8).  Leaves past the end
**   of a partial chunk are identities.
** Level 2, the segment: the balanced pairwise tree over its chunks
**   0 .. nc-1 padded with identities to the next power of two P >= nc.
**   The global statistics: the same tree over all chunks of the table, in
**   table order (cstart), padded the same way.  nc = 0 gives all zeros.
** Outputs: sum = s; norm = NaN if m is NaN, else +Inf if n > 0, else 0 if
**   e = REDUCE_NOEXP, else ldexp(sqrt(q), e); max |x| = m as a float (NaN
**   when m is a NaN pattern); count = (float)n.  NaN results are written as
**   the canonical quiet NaN 0x7fc00000 (payloads and signs of NaN differ
**   between devices and compilers).
**
** Evaluation (how the work is shared; it does not change the trees above).
** REDUCE_WG = min(CLGRAD_WG, 256) work-items per group, a power of two.
** Launch 1, reduce_stats_chunks: one work-group per chunk; work-item l owns
**   the REDUCE_R = 256 / REDUCE_WG consecutive leaves l R .. l R + R - 1,
**   computes them in turn (two at a time in the lanes of float16, with a
**   fast path for finite leaves: reduce_leaf2_; four at a time merged into
**   their subtree before one push) and merges them with a binary-counter
**   stack (a subtree of the chunk tree); then the balanced tree over the
**   work-items (in two levels of local memory, see reduce_tree_rec_).  An item reads whole
**   32-byte vectors (one memory sector each on GPUs), its leaves are
**   contiguous (streaming on CPUs), and a small segment fills few leaves
**   completely instead of many leaves partly.  It writes
**   a record of REDUCE_PART uint words per chunk:
**     [0] s (float bits)  [1] e (int)  [2] q (float bits)  [3] m  [4] n
** Launch 2, reduce_stats_final: work-group g < nseg combines the chunks of
**   segment g, group nseg (launched when the global stats are wanted)
**   combines all chunks of the table (reduce_stats_final_one and
**   reduce_stats_final_gradstate, for small tables: one work-item evaluates
**   these groups in turn, the same trees).  With the padded count P: item l owns
**   the run of r = max(P / REDUCE_WG, 1) positions l r .. l r + r - 1 (a
**   subtree of the segment tree), merges its chunks with a binary-counter
**   stack (exactly the balanced tree of the run; the identities at the end of
**   a run are skipped, which is exact), then the balanced tree over items.
**
** A log step's update (reduce_stats_optim_chunks, reduce_stats_optim_final):
**   the optimizer's update of each chunk by its work-group, then the chunk
**   records of the parameters and of the update, the same trees (see there).
** Accuracy: the sum is a tree of depth 8 + 3 + 8 + log2(P); the scaled
** squares never overflow (q <= the number of elements below it) and a term
** rounds to a denormal only when more than 2^62 below its leaf's maximum
** (share of q < 2^-124).  No atomics, no dependence on timing.
*/
#define REDUCE_LEAF_VECS 8                               /* float8 per leaf (numeric definition) */
#define REDUCE_LEAVES 256                                /* leaves per chunk (numeric definition) */
#define REDUCE_CHUNK (REDUCE_LEAVES * 8 * REDUCE_LEAF_VECS) /* 16384 elements */
#define REDUCE_WG (CLGRAD_WG < REDUCE_LEAVES ? CLGRAD_WG : REDUCE_LEAVES) /* items per group */
#define REDUCE_R (REDUCE_LEAVES / REDUCE_WG)             /* leaves per work-item */
#define REDUCE_PART 5
#define REDUCE_NOEXP (-1000000) /* exponent of a record with no non-zero finite element */
#define REDUCE_STACK 48         /* binary-counter stack of the final launch: runs of up to 2^47 chunks */
#define REDUCE_RSTACK 9         /* the same for an item's <= 256 leaves */
#define REDUCE_QNAN as_float(0x7fc00000u) /* the canonical quiet NaN written for NaN results */

/* The frexp exponent e of a finite x > 0 (x = m 2^e, m in [0.5, 1)) from its
** bits b, denormals included: integer-only, exact on every device.  Not
** frexp(x, &e): Oclgrind's uninitialized-value checker stops with a fatal
** error on builtins that write through a private pointer. */
inline int reduce_exponent_(const uint b)
{
    const int be = (int)(b >> 23);
    return be > 0 ? be - 126 : -117 - (int)clz(b); /* denormal: b * 2^-149 */
}

/* q * 2^k for k <= 0, as ldexp (exact unless the result is denormal, then
** correctly rounded); a multiplication by the float 2^k where that is a
** normal number (the same result, much cheaper than ldexp on some devices). */
inline float reduce_scale_(const float q, const int k)
{
    return k >= -126 ? q * as_float((uint)(k + 127) << 23) : ldexp(q, k);
}

/* ssq scaled to 2^(2 E) from 2^(2 e) (e <= E); 0 for a record with no
** exponent (its q is +0, and 0 * 2^k = +0 for any k, so no test is needed) */
inline float reduce_rescale_(const float q, const int e, const int E) { return reduce_scale_(q, 2 * (e - E)); }

inline float reduce_hsum8_(const float8 v)
{
    return ((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7));
}

/* A record (see the header): sum, scaled ssq with its exponent, max |x| bits,
** non-finite count. */
typedef struct {
    float s, q;
    int e;
    uint m, n;
} reduce_rec_;

inline reduce_rec_ reduce_identity_(void)
{
    reduce_rec_ r;
    r.s = -0.0f, r.q = 0.0f, r.e = REDUCE_NOEXP, r.m = 0, r.n = 0;
    return r;
}

inline reduce_rec_ reduce_merge_(const reduce_rec_ a, const reduce_rec_ b)
{
    reduce_rec_ r;
    r.e = max(a.e, b.e);
    r.s = a.s + b.s;
    r.q = reduce_rescale_(a.q, a.e, r.e) + reduce_rescale_(b.q, b.e, r.e);
    r.m = max(a.m, b.m);
    r.n = a.n + b.n;
    return r;
}

/* Pairwise merging of a run of records 0, 1, 2, ... (the run's length a
** power of two, aligned) with a binary-counter stack: push record i, then
** merge the two top entries once for each trailing 0 bit of i + 1; at the
** end of the run, or earlier where the rest of the run is identities, fold
** the stack from the top (merge(below, top)): exactly the balanced tree over
** the identity-padded run (REDUCE_PUSH, REDUCE_FOLD). */
/* (Macros, not functions taking the private stack by pointer: inlining such
** a function leaves llvm.experimental.noalias.scope.decl calls that
** Oclgrind 21.10 cannot run.) */
#define REDUCE_PUSH(stk, sp, i, r)                                                                 \
    do {                                                                                           \
        (stk)[(sp)++] = (r);                                                                       \
        for (ulong k_ = (ulong)(i) + 1; (k_ & 1) == 0; k_ >>= 1, (sp)--)                           \
            (stk)[(sp) - 2] = reduce_merge_((stk)[(sp) - 2], (stk)[(sp) - 1]);                     \
    } while (0)

#define REDUCE_FOLD(out, stk, sp)                                                                  \
    do {                                                                                           \
        if ((sp) == 0) (out) = reduce_identity_();                                                 \
        else {                                                                                     \
            (out) = (stk)[(sp) - 1];                                                               \
            for (uint k_ = (sp) - 1; k_ > 0; k_--) (out) = reduce_merge_((stk)[k_ - 1], (out));    \
        }                                                                                          \
    } while (0)

/* The balanced binary tree over the REDUCE_WG records of the work-group
** (adjacent pairs first: ((0+1)+(2+3))+..., depth log2(REDUCE_WG)), evaluated
** in two levels with two barriers: REDUCE_N1 work-items each merge REDUCE_R1
** consecutive records in registers, then work-item 0 merges their REDUCE_N1
** results (few barriers and idle work-items: cheap on CPUs,
** fine on GPUs).  The same tree as one level per barrier.  The total is
** returned in work-item 0. */
#define REDUCE_R1 (REDUCE_WG < 16 ? REDUCE_WG : 16) /* children of a first-level node */
#define REDUCE_N1 (REDUCE_WG / REDUCE_R1)           /* first-level nodes: children of the root */

inline reduce_rec_ reduce_tree_rec_(__local reduce_rec_ *lr, __local reduce_rec_ *l1, reduce_rec_ me, const uint lid,
                                   const uint na)
{
    /* Records na .. REDUCE_WG - 1 are identities (the caller knows which items hold nothing): each
    ** node merges only its first k children, with the binary-counter stack, which is its balanced
    ** tree (the identities padding it change no bit). */
    lr[lid] = me;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < REDUCE_N1) {
        const uint k = (uint)clamp((int)na - (int)(lid * REDUCE_R1), 0, REDUCE_R1);
        reduce_rec_ stk[REDUCE_RSTACK], t;
        uint sp = 0;
        for (uint i = 0; i < k; i++) {
            const reduce_rec_ r = lr[lid * REDUCE_R1 + i];
            REDUCE_PUSH(stk, sp, i, r);
        }
        REDUCE_FOLD(t, stk, sp);
        l1[lid] = t;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        const uint k = min((na + REDUCE_R1 - 1) / REDUCE_R1, (uint)REDUCE_N1);
        reduce_rec_ stk[REDUCE_RSTACK];
        uint sp = 0;
        for (uint i = 0; i < k; i++) {
            const reduce_rec_ r = l1[i];
            REDUCE_PUSH(stk, sp, i, r);
        }
        REDUCE_FOLD(me, stk, sp);
    }
    return me;
}

/* The float8 at x[0 .. 7], of which only the first n are read when n < 8;
** the rest are -0.0, the identity of the sums. */
inline float8 reduce_load8_(__global const float *x, const uint n)
{
    if (n >= 8) return vload8(0, x);
    if (n == 0) return (float8)(-0.0f);
    float t[8];
    for (uint k = 0; k < 8; k++) t[k] = k < n ? x[k] : -0.0f;
    return vload8(0, t);
}

/* reduce_load8_ of the differences p[k] - q[k] (one float subtraction each), the rest -0.0; p itself when
** !sub. */
inline float8 reduce_load8d_(__global const float *p, __global const float *q, const int sub, const uint n)
{
    if (!sub) return reduce_load8_(p, n);
    if (n >= 8) return vload8(0, p) - vload8(0, q);
    if (n == 0) return (float8)(-0.0f);
    float t[8];
    for (uint k = 0; k < 8; k++) t[k] = k < n ? p[k] - q[k] : -0.0f;
    return vload8(0, t);
}

/* The record of leaf j of a chunk at p holding clen valid elements (of p - q when sub).  The usual
** leaf has no Inf or NaN: then the largest finite |x| is the largest |x|, the count is 0 and the
** squares need no masking, so those are computed only for a leaf that has one (the same values). */
inline reduce_rec_ reduce_leaf_(__global const float *p, __global const float *q, const int sub, const uint clen,
                                const uint j)
{
    float8 v[REDUCE_LEAF_VECS];
    float8 sum = -0.0f;
    uint8 amx = 0; /* max |x| bits per lane */
    for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
        const uint i = (j * REDUCE_LEAF_VECS + k) * 8;
        v[k] = reduce_load8d_(p + i, q + i, sub, clg_rest_(clen, i));
        sum = sum + v[k];
        amx = max(amx, as_uint8(v[k]) & 0x7fffffffu);
    }
    const uint4 a4 = max(amx.lo, amx.hi);
    const uint2 a2 = max(a4.lo, a4.hi);
    const uint am = max(a2.x, a2.y);
    const int allfinite = am < 0x7f800000u;
    uint fm = am, nf = 0; /* largest finite |x| bits, non-finite elements */
    if (!allfinite) {
        uint8 fmx = 0;
        int8 nf8 = 0;
        for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
            const uint8 a = as_uint8(v[k]) & 0x7fffffffu;
            const int8 bad = as_int8(a) >= 0x7f800000; /* -1 for Inf or NaN */
            fmx = max(fmx, select(a, (uint8)0, bad));
            nf8 -= bad;
        }
        const uint4 f4 = max(fmx.lo, fmx.hi);
        const uint2 f2 = max(f4.lo, f4.hi);
        fm = max(f2.x, f2.y);
        nf = (uint)(nf8.s0 + nf8.s1 + nf8.s2 + nf8.s3 + nf8.s4 + nf8.s5 + nf8.s6 + nf8.s7);
    }
    const float mx = as_float(fm); /* largest finite |x| */
    reduce_rec_ r;
    r.e = REDUCE_NOEXP;
    r.q = 0.0f;
    if (mx > 0.0f) {
        r.e = reduce_exponent_(fm); /* mx = f * 2^e, f in [0.5, 1) */
        float8 q8 = 0.0f;
        if (r.e >= -127 && r.e <= 126) {
            const float sc = as_float((uint)(127 - r.e) << 23); /* 2^-e, a normal float */
            if (allfinite)
                for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
                    const float8 t = v[k] * sc; /* |t| < 1 */
                    q8 = q8 + t * t;
                }
            else
                for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
                    const float8 t = select((float8)0.0f, v[k], isfinite(v[k])) * sc;
                    q8 = q8 + t * t;
                }
        } else
            for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
                const float8 t = ldexp(select((float8)0.0f, v[k], isfinite(v[k])), -r.e);
                q8 = q8 + t * t;
            }
        r.q = reduce_hsum8_(q8);
    }
    r.s = reduce_hsum8_(sum);
    r.m = am;
    r.n = nf;
    return r;
}

/* s, e, m, n of a leaf from its lane sums, max |x| bits (all, finite) and non-finite counts (q = 0: the caller's). */
inline reduce_rec_ reduce_leaf_rec_(const float8 sum, const uint8 amx, const uint8 fmx, const int8 nf)
{
    const uint4 f4 = max(fmx.lo, fmx.hi), a4 = max(amx.lo, amx.hi);
    const uint2 f2 = max(f4.lo, f4.hi), a2 = max(a4.lo, a4.hi);
    const float mx = as_float(max(f2.x, f2.y)); /* largest finite |x| */
    reduce_rec_ r;
    r.e = mx > 0.0f ? reduce_exponent_(as_uint(mx)) : REDUCE_NOEXP;
    r.q = 0.0f;
    r.s = reduce_hsum8_(sum);
    r.m = max(a2.x, a2.y);
    r.n = (uint)(nf.s0 + nf.s1 + nf.s2 + nf.s3 + nf.s4 + nf.s5 + nf.s6 + nf.s7);
    return r;
}

/* The scale 2^-e of a leaf's squares as a float (1 when the leaf has no exponent: its q is not used). */
inline float reduce_leaf_scale_(const int e) { return e == REDUCE_NOEXP ? 1.0f : as_float((uint)(127 - e) << 23); }

typedef struct {
    reduce_rec_ a, b;
} reduce_rec2_;

/* The float8 vector k of the leaf pair at element i of the chunk (of p - q when sub): whole vectors where the
** pair lies inside the chunk's clen elements, else reduce_load8d_. */
inline float8 reduce_pair_load_(__global const float *p, __global const float *q, const int sub, const uint clen,
                                const uint i, const int whole)
{
    if (whole) return sub ? vload8(0, p + i) - vload8(0, q + i) : vload8(0, p + i);
    return reduce_load8d_(p + i, q + i, sub, clg_rest_(clen, i));
}

/* reduce_leaf_ of the leaves j and j + 1 at once, lanes 0-7 of each float16 those of leaf j, lanes 8-15 those
** of leaf j + 1: every lane does the operations of reduce_leaf_ (two independent chains instead of one).
** Where both leaves are finite (max |x| bits below Inf's) the finite max is the max, there is nothing to
** count and no element to zero: the same values with fewer operations.  Where a leaf holds Inf or NaN, or its
** exponent needs ldexp (|x| >= 2^126 or all |x| < 2^-127), both come from reduce_leaf_.  The same bits. */
inline reduce_rec2_ reduce_leaf2_(__global const float *p, __global const float *q, const int sub, const uint clen,
                                  const uint j)
{
    float16 v[REDUCE_LEAF_VECS];
    float16 sum = -0.0f;
    uint16 amx = 0;
    const uint e0 = j * REDUCE_LEAF_VECS * 8;
    const int whole = e0 + 16 * REDUCE_LEAF_VECS <= clen;
    for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
        const uint i = e0 + 8 * k, i2 = i + 8 * REDUCE_LEAF_VECS;
        v[k] = (float16)(reduce_pair_load_(p, q, sub, clen, i, whole), reduce_pair_load_(p, q, sub, clen, i2, whole));
        sum = sum + v[k];
        amx = max(amx, as_uint16(v[k]) & 0x7fffffffu);
    }
    const uint8 a8 = max(amx.lo, amx.hi);
    const uint4 a4 = max(a8.lo, a8.hi);
    const uint2 a2 = max(a4.lo, a4.hi);
    reduce_rec2_ r;
    if (max(a2.x, a2.y) >= 0x7f800000u) { /* Inf or NaN in a leaf */
        r.a = reduce_leaf_(p, q, sub, clen, j);
        r.b = reduce_leaf_(p, q, sub, clen, j + 1);
        return r;
    }
    r.a = reduce_leaf_rec_(sum.lo, amx.lo, amx.lo, (int8)0);
    r.b = reduce_leaf_rec_(sum.hi, amx.hi, amx.hi, (int8)0);
    const int ina = r.a.e == REDUCE_NOEXP || (r.a.e >= -127 && r.a.e <= 126),
              inb = r.b.e == REDUCE_NOEXP || (r.b.e >= -127 && r.b.e <= 126);
    if (!ina || !inb) {
        r.a = reduce_leaf_(p, q, sub, clen, j);
        r.b = reduce_leaf_(p, q, sub, clen, j + 1);
        return r;
    }
    const float sa = reduce_leaf_scale_(r.a.e), sb = reduce_leaf_scale_(r.b.e);
    const float16 sc = (float16)((float8)sa, (float8)sb);
    float16 q16 = 0.0f;
    for (uint k = 0; k < REDUCE_LEAF_VECS; k++) {
        const float16 t = v[k] * sc;
        q16 = q16 + t * t;
    }
    if (r.a.e != REDUCE_NOEXP) r.a.q = reduce_hsum8_(q16.lo);
    if (r.b.e != REDUCE_NOEXP) r.b.q = reduce_hsum8_(q16.hi);
    return r;
}

/* Chunk c's record (of x - y when sub; x, y already offset) into part: launch 1's work-group. */
inline void reduce_chunk_(__global const float *x, __global const float *y, const int sub, __global const ulong *tab,
                          const uint nseg, const ulong c, __global uint *part, __local reduce_rec_ *lr,
                          __local reduce_rec_ *l1)
{
    const uint lid = get_local_id(0);
    __global const ulong *soff = tab, *slen = tab + nseg, *cstart = tab + 2 * (ulong)nseg;
    const uint s = clg_segment_of_(cstart, nseg, c);
    const ulong base = (c - cstart[s]) * REDUCE_CHUNK, rest = slen[s] - base;
    const uint clen = rest < REDUCE_CHUNK ? (uint)rest : REDUCE_CHUNK; /* valid elements of the chunk */
    __global const float *p = x + soff[s] + base, *q = y + soff[s] + base;

    /* this item's leaves j0 .. j0 + R - 1: the first nl hold elements, the
    ** rest are identities (not computed: merge(a, I) = a) */
    const uint j0 = lid * REDUCE_R, nv = (clen + 8 * REDUCE_LEAF_VECS - 1) / (8 * REDUCE_LEAF_VECS);
    const uint nl = (uint)min((long)REDUCE_R, max((long)nv - (long)j0, 0L)); /* leaf j holds elements iff j < nv */
    reduce_rec_ stk[REDUCE_RSTACK];
    uint sp = 0;
    /* four leaves at a time (two reduce_leaf2_): their subtree, pushed as one node of a counter over quads
    ** (the entries leaf by leaf pushes would leave: the subtrees of the set bits of the count); then the
    ** rest leaf by leaf */
    uint i = 0;
    for (; i + 4 <= nl; i += 4) {
        const reduce_rec2_ x = reduce_leaf2_(p, q, sub, clen, j0 + i), y = reduce_leaf2_(p, q, sub, clen, j0 + i + 2);
        const reduce_rec_ quad = reduce_merge_(reduce_merge_(x.a, x.b), reduce_merge_(y.a, y.b));
        REDUCE_PUSH(stk, sp, i / 4, quad);
    }
    if (i + 2 <= nl) {
        const reduce_rec2_ two = reduce_leaf2_(p, q, sub, clen, j0 + i);
        REDUCE_PUSH(stk, sp, i, two.a);
        REDUCE_PUSH(stk, sp, i + 1, two.b);
        i += 2;
    }
    if (i < nl) {
        const reduce_rec_ leaf = reduce_leaf_(p, q, sub, clen, j0 + i);
        REDUCE_PUSH(stk, sp, i, leaf);
    }
    reduce_rec_ mine;
    REDUCE_FOLD(mine, stk, sp);
    const uint na = (uint)min((ulong)REDUCE_WG, ((ulong)nv + REDUCE_R - 1) / REDUCE_R); /* items with leaves */
    const reduce_rec_ me = reduce_tree_rec_(lr, l1, mine, lid, na);
    if (lid == 0) {
        __global uint *r = part + c * REDUCE_PART;
        r[0] = as_uint(me.s);
        r[1] = as_uint(me.e);
        r[2] = as_uint(me.q);
        r[3] = me.m;
        r[4] = me.n;
    }
}

/* Launch 1: nchunks work-groups of exactly REDUCE_WG.  x (buffer) is read at
** xoff + off[s] + i; part is (nchunks, REDUCE_PART). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_chunks(__global const float *x, const ulong xoff, __global const ulong *tab, const uint nseg,
                    __global uint *part)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    reduce_chunk_(x + xoff, x + xoff, 0, tab, nseg, get_group_id(0), part, lr, l1);
}

/* Launch 1 of two reductions over the same segments at once: 2 * nchunks work-groups, the first nchunks
** those of x, the others those of x - y (x, y at offset 0); part is (2 * nchunks, REDUCE_PART). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_pair_chunks(__global const float *x, __global const float *y, __global const ulong *tab,
                         const uint nseg, const ulong nchunks, __global uint *part)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    const ulong g = get_group_id(0), sub = g >= nchunks;
    reduce_chunk_(x, y, (int)sub, tab, nseg, sub ? g - nchunks : g, sub ? part + nchunks * REDUCE_PART : part, lr, l1);
}

/* ---- a log step's update with its statistics (reduce_stats_optim_chunks) ----
** The optimizer's update of SGD, RMSprop, Adam or AdamW (optim_fn.cl, included before this file: the
** arithmetic of optim.cl's kernels, lane by lane, so the same bits whatever the grouping of the elements)
** over the elements of one chunk, the parameters before it saved in prev, then the chunk records of the
** parameters and of params - prev: what a copy to prev, optim_sgd / optim_rmsprop / optim_adam and
** reduce_stats_pair_chunks give, in one launch and one pass.  The segments must cover the parameters
** exactly (the host checks it).  hp, ip: the scalars of the kind (optim_scalars_, src/ops/optim.c):
**   SGD      hp lr, wd, momentum, 1 - dampening; ip nesterov, first
**   RMSprop  hp lr, wd, alpha, 1 - alpha, eps, momentum; ip centered
**   Adam     hp wd, decay, beta1, 1 - beta1, beta2, 1 - beta2, step size, sqrt(bc2), eps; ip decoupled, amsgrad */
#define REDUCE_OPT_SGD 0
#define REDUCE_OPT_RMSPROP 1
#define REDUCE_OPT_ADAM 2

/* The update of the r (<= 8) parameters at p (gradients g, state slots s + k * stride), as optim.cl's kernel
** of the kind (optim_fn.cl's optim_*_apply8_): the gradient times coef; prev gets the old values; nothing
** else is written when skip. */
inline __attribute__((always_inline)) void reduce_optim8_(const int kind, __global float *p, __global const float *g, __global float *s,
                           const ulong stride, __global float *prev, const ulong r, const int use_gs, const float coef,
                           const int skip, const float16 hp, const int4 ip)
{
    const float8 theta = clg_load8_(p, r);
    clg_store8_(prev, r, theta);
    if (skip) return;
    float8 d = clg_load8_(g, r);
    if (use_gs) d = d * coef;
    if (kind == REDUCE_OPT_SGD)
        optim_sgd_apply8_(p, theta, d, s, r, hp.s0, hp.s1, hp.s2, hp.s3, ip.s0, ip.s1);
    else if (kind == REDUCE_OPT_RMSPROP)
        optim_rmsprop_apply8_(p, theta, d, s, stride, r, hp.s0, hp.s1, hp.s2, hp.s3, hp.s4, hp.s5, ip.s0);
    else
        optim_adam_apply8_(p, theta, d, s, stride, r, hp.s0, ip.s0, hp.s1, hp.s2, hp.s3, hp.s4, hp.s5, hp.s6, hp.s7,
                           hp.s8, ip.s1);
}

/* na + nchunks work-groups of exactly REDUCE_WG.  Groups g < na: the chunk records of another reduction
** (reduce_stats_chunks of xa at xa_off over table taba into parta; na = its chunks, 0: none).  Group na + c
** updates chunk c's elements (item l those of its leaves l R .. l R + R - 1), then writes the chunk's records
** of p (part) and of p - prev (part + nchunks records).  gs[gs_coef], gs[gs_skip]: the gradient state (use_gs). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_optim_chunks(__global float *p, __global const float *g, __global float *s, const ulong n,
                          __global const float *gs, const ulong gs_coef, const ulong gs_skip, const int use_gs,
                          __global float *prev, __global const ulong *tab, const uint nseg, const ulong nchunks,
                          __global uint *part, const int kind, const float16 hp, const int4 ip,
                          __global const float *xa, const ulong xa_off, __global const ulong *taba, const uint nsega,
                          const ulong na, __global uint *parta)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    if (get_group_id(0) < na) {
        reduce_chunk_(xa + xa_off, xa + xa_off, 0, taba, nsega, get_group_id(0), parta, lr, l1);
        return;
    }
    const ulong c = get_group_id(0) - na;
    __global const ulong *cstart = tab + 2 * (ulong)nseg;
    const uint sg = clg_segment_of_(cstart, nseg, c);
    const ulong base = tab[sg] + (c - cstart[sg]) * REDUCE_CHUNK, rest = tab[nseg + sg] - (c - cstart[sg]) * REDUCE_CHUNK;
    const uint clen = rest < REDUCE_CHUNK ? (uint)rest : REDUCE_CHUNK;
    const int skip = use_gs && gs[gs_skip] != 0.0f;
    const float coef = use_gs ? gs[gs_coef] : 1.0f;
    const uint e0 = get_local_id(0) * REDUCE_R * 8 * REDUCE_LEAF_VECS, e1 = min(e0 + REDUCE_R * 8 * REDUCE_LEAF_VECS, clen);
    /* one loop per kind (the kind a constant in each), whole vectors then the rest */
#define REDUCE_OPT_LOOP(K)                                                                                   \
    do {                                                                                                     \
        uint e = e0;                                                                                         \
        for (; e + 8 <= e1; e += 8)                                                                          \
            reduce_optim8_((K), p + base + e, g + base + e, s + base + e, n, prev + base + e, 8, use_gs, coef, \
                           skip, hp, ip);                                                                    \
        if (e < e1)                                                                                          \
            reduce_optim8_((K), p + base + e, g + base + e, s + base + e, n, prev + base + e, e1 - e, use_gs,  \
                           coef, skip, hp, ip);                                                              \
    } while (0)
    if (kind == REDUCE_OPT_SGD) REDUCE_OPT_LOOP(REDUCE_OPT_SGD);
    else if (kind == REDUCE_OPT_RMSPROP) REDUCE_OPT_LOOP(REDUCE_OPT_RMSPROP);
    else REDUCE_OPT_LOOP(REDUCE_OPT_ADAM);
#undef REDUCE_OPT_LOOP
    barrier(CLK_GLOBAL_MEM_FENCE);
    reduce_chunk_(p, p, 0, tab, nseg, c, part, lr, l1);
    reduce_chunk_(p, prev, 1, tab, nseg, c, part + nchunks * REDUCE_PART, lr, l1);
}

inline reduce_rec_ reduce_read_(__global const uint *r)
{
    reduce_rec_ a;
    a.s = as_float(r[0]), a.e = as_int(r[1]), a.q = as_float(r[2]), a.m = r[3], a.n = r[4];
    return a;
}

/* The figures of a group's record `me` over nc chunks into o[0 .. 3] (see the header's outputs). */
inline void reduce_write_(const reduce_rec_ me, const ulong nc, __global float *o)
{
    const int bad = me.m > 0x7f800000u; /* a NaN element */
    float norm;
    if (bad) norm = REDUCE_QNAN;
    else if (me.n > 0) norm = INFINITY;
    else if (me.e == REDUCE_NOEXP) norm = 0.0f;
    else norm = ldexp(clg_sqrt(me.q), me.e);
    o[0] = nc == 0 ? 0.0f : (isnan(me.s) ? REDUCE_QNAN : me.s);
    o[1] = norm;
    o[2] = bad ? REDUCE_QNAN : as_float(me.m);
    o[3] = (float)me.n;
}

/* Group g's figures (segment g, or all of them when g = nseg) into out + out_off + 4 g: launch 2's work-group. */
inline void reduce_final_(__global const ulong *tab, const uint nseg, __global const uint *part, __global float *out,
                          const ulong out_off, const uint g, __local reduce_rec_ *lr, __local reduce_rec_ *l1)
{
    const uint lid = get_local_id(0);
    __global const ulong *cstart = tab + 2 * (ulong)nseg;
    const ulong c0 = g < nseg ? cstart[g] : 0, c1 = g < nseg ? cstart[g + 1] : cstart[nseg], nc = c1 - c0;
    ulong P = 1;
    while (P < nc) P *= 2;
    const ulong run = P > REDUCE_WG ? P / REDUCE_WG : 1, b = (ulong)lid * run;
    const ulong e = b < nc ? min(b + run, nc) : b;

    reduce_rec_ stk[REDUCE_STACK];
    uint sp = 0;
    for (ulong i = 0; b + i < e; i++) {
        const reduce_rec_ rec = reduce_read_(part + (c0 + b + i) * REDUCE_PART);
        REDUCE_PUSH(stk, sp, i, rec);
    }
    reduce_rec_ me;
    REDUCE_FOLD(me, stk, sp);
    me = reduce_tree_rec_(lr, l1, me, lid, (uint)min((ulong)REDUCE_WG, (nc + run - 1) / run));
    if (lid == 0) reduce_write_(me, nc, out + out_off + 4 * (ulong)g);
}

/* Group g's figures as reduce_final_ computes them, by one work-item: one
** binary-counter stack over all of the group's chunks is the same balanced
** tree (the runs of reduce_final_'s items and its tree over them are its
** subtrees; the padding identities change no bit), so the same bits. */
inline void reduce_final_one_(__global const ulong *tab, const uint nseg, __global const uint *part,
                              __global float *out, const ulong out_off, const uint g)
{
    __global const ulong *cstart = tab + 2 * (ulong)nseg;
    const ulong c0 = g < nseg ? cstart[g] : 0, c1 = g < nseg ? cstart[g + 1] : cstart[nseg];
    reduce_rec_ stk[REDUCE_STACK];
    uint sp = 0;
    for (ulong i = 0; c0 + i < c1; i++) {
        const reduce_rec_ rec = reduce_read_(part + (c0 + i) * REDUCE_PART);
        REDUCE_PUSH(stk, sp, i, rec);
    }
    reduce_rec_ me;
    REDUCE_FOLD(me, stk, sp);
    reduce_write_(me, c1 - c0, out + out_off + 4 * (ulong)g);
}

/* Launch 2: nseg (+1 for the global stats) work-groups of exactly REDUCE_WG.
** out gets 4 floats per group at out_off + 4*g. */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_final(__global const ulong *tab, const uint nseg, __global const uint *part, __global float *out,
                   const ulong out_off)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    reduce_final_(tab, nseg, part, out, out_off, get_group_id(0), lr, l1);
}

/* Launch 2 after reduce_stats_pair_chunks: 2 (nseg + 1) work-groups, those of x (into out at off_x) then those
** of x - y (at off_d). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_pair_final(__global const ulong *tab, const uint nseg, const ulong nchunks, __global const uint *part,
                        __global float *out, const ulong off_x, const ulong off_d)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    const uint g = get_group_id(0), d = g > nseg;
    reduce_final_(tab, nseg, d ? part + nchunks * REDUCE_PART : part, out, d ? off_d : off_x, d ? g - nseg - 1 : g,
                  lr, l1);
}

/* Launch 2 by one work-item, for a table of few segments and chunks (src/ops/reduce.c): groups g = 0 ..
** ng - 1 (reduce_final_one_: the same trees as reduce_stats_final's, the same bits) into out + off_x; when
** pair, then the same groups of the second half of part (x - y, after reduce_stats_pair_chunks) into
** out + off_d. */
__kernel void reduce_stats_final_one(__global const ulong *tab, const uint nseg, const uint ng, const ulong nchunks,
                                     __global const uint *part, __global float *out, const ulong off_x,
                                     const ulong off_d, const int pair)
{
    if (get_global_id(0) != 0) return;
    for (uint g = 0; g < ng; g++) reduce_final_one_(tab, nseg, part, out, off_x, g);
    if (pair)
        for (uint g = 0; g < ng; g++) reduce_final_one_(tab, nseg, part + nchunks * REDUCE_PART, out, off_d, g);
}

/* Launch 2 for a table of few segments and chunks, and the gradient state
** (clgrad_clip_record_norm / clip_global_norm, src/ops/clip.c): one
** work-item evaluates reduce_stats_final's groups g = 0 .. nseg in turn
** (reduce_final_one_: the same trees, the same bits) into out + out_off, then
** writes the gradient-state block at gs + gs_off from the global record as
** clip_gradstate does (clip_gradstate_fill_, clip_fn.cl) and, when watch, the
** step's divergence watch (clip_watch_; watch = 2: a step that halts on a
** recorded divergence).  Two one-work-item launches
** less per training step. */
__kernel void reduce_stats_final_gradstate(__global const ulong *tab, const uint nseg, __global const uint *part,
                                           __global float *out, const ulong out_off, const int norm_inf,
                                           const int do_clip, const float max_norm, const int policy,
                                           __global float *gs, const ulong gs_off, const int watch, const float step,
                                           __global const float *loss, const ulong loss_off, const float loss_limit,
                                           const float grad_limit, __global float *rec, const ulong rec_off)
{
    if (get_global_id(0) != 0) return;
    for (uint g = 0; g <= nseg; g++) reduce_final_one_(tab, nseg, part, out, out_off, g);
    clip_gradstate_fill_(out + out_off + 4 * (ulong)nseg, norm_inf, do_clip, max_norm, policy, gs + gs_off);
    if (watch)
        clip_watch_(watch == 2, step, loss[loss_off], gs + gs_off, out + out_off, (int)nseg, loss_limit, grad_limit,
                    rec + rec_off);
}

/* Launch 2 after reduce_stats_optim_chunks: ga + 2 (nseg + 1) work-groups; the first ga (nsega + 1, or 0
** without the other reduction) those of reduce_stats_final over taba, parta into out at off_a, then those of
** reduce_stats_pair_final. */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
reduce_stats_optim_final(__global const ulong *taba, const uint nsega, const uint ga, __global const uint *parta,
                         const ulong off_a, __global const ulong *tab, const uint nseg, const ulong nchunks,
                         __global const uint *part, __global float *out, const ulong off_x, const ulong off_d)
{
    __local reduce_rec_ lr[REDUCE_WG], l1[REDUCE_N1];
    const uint g = get_group_id(0);
    if (g < ga) {
        reduce_final_(taba, nsega, parta, out, off_a, g, lr, l1);
        return;
    }
    const uint h = g - ga, d = h > nseg;
    reduce_final_(tab, nseg, d ? part + nchunks * REDUCE_PART : part, out, d ? off_d : off_x, d ? h - nseg - 1 : h,
                  lr, l1);
}

/* ---- log-magnitude histograms ----
** Per segment of a segment table, the count of elements in each of
** HIST_NBINS fixed bins of |x|, decided from the float's bits alone (integer
** operations only: the same bin on every device, denormals included, whatever
** the device's denormal mode):
**   0            x = +-0
**   1            0 < |x| < 2^HIST_EMIN (denormals included)
**   2 + k        2^(HIST_EMIN + k) <= |x| < 2^(HIST_EMIN + k + 1), k = 0 .. HIST_EMAX - HIST_EMIN - 1
**   NBINS - 2    2^HIST_EMAX <= |x| < Inf
**   NBINS - 1    +-Inf and NaN
** Counts are exact uint sums, so any order gives the same bits; still, as the
** statistics above: launch 1 (hist_chunks) one work-group per chunk of the
** table, counting in private counters per work-item (no atomics), writing
** HIST_NBINS uint per chunk; launch 2 (hist_final) one work-item per
** (segment, bin) adding its chunks' counts in chunk order.  The input is read
** as uint (bit patterns), never as float.  clgrad_hist_bin (src/hist.c) is
** the host's definition; tests/test_reduce.c checks both against frexp. */
#define HIST_EMIN (-40)
#define HIST_EMAX 8
#define HIST_NBINS (HIST_EMAX - HIST_EMIN + 4)

inline uint hist_bin_(const uint bits)
{
    const uint a = bits & 0x7fffffffu, be = a >> 23; /* biased exponent: 0 zero/denormal, 255 Inf/NaN */
    if (a == 0) return 0;
    if (be == 255) return HIST_NBINS - 1;
    const int e = (int)be - 127; /* |x| in [2^e, 2^(e+1)) for normal x */
    if (be == 0 || e < HIST_EMIN) return 1;
    if (e >= HIST_EMAX) return HIST_NBINS - 2;
    return (uint)(2 + e - HIST_EMIN);
}

/* Launch 1: nchunks work-groups of HIST_WG items; part is (nchunks, HIST_NBINS).
** Item l counts the elements l, l + HIST_WG, ... of the chunk in private
** counters, then item b < HIST_NBINS adds bin b over the items in order. */
#define HIST_WG (CLGRAD_WG < 64 ? CLGRAD_WG : 64)
__kernel __attribute__((reqd_work_group_size(HIST_WG, 1, 1))) void
hist_chunks(__global const uint *x, const ulong xoff, __global const ulong *tab, const uint nseg, __global uint *part)
{
    __local uint lc[HIST_WG * HIST_NBINS];
    const uint lid = get_local_id(0);
    const ulong c = get_group_id(0);
    __global const ulong *soff = tab, *slen = tab + nseg, *cstart = tab + 2 * (ulong)nseg;
    const uint s = clg_segment_of_(cstart, nseg, c);
    const ulong base = (c - cstart[s]) * REDUCE_CHUNK, rest = slen[s] - base;
    const uint clen = rest < REDUCE_CHUNK ? (uint)rest : REDUCE_CHUNK;
    __global const uint *p = x + xoff + soff[s] + base;
    uint h[HIST_NBINS];
    for (uint b = 0; b < HIST_NBINS; b++) h[b] = 0;
    for (uint i = lid; i < clen; i += HIST_WG) h[hist_bin_(p[i])]++;
    for (uint b = 0; b < HIST_NBINS; b++) lc[b * HIST_WG + lid] = h[b];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint b = lid; b < HIST_NBINS; b += HIST_WG) {
        uint n = 0;
        for (uint i = 0; i < HIST_WG; i++) n += lc[b * HIST_WG + i];
        part[c * HIST_NBINS + b] = n;
    }
}

/* Launch 2: nseg * HIST_NBINS work-items; out (uint) gets HIST_NBINS counts per
** segment at out_off + HIST_NBINS * s (an empty segment: zeros). */
__kernel void hist_final(__global const ulong *tab, const uint nseg, __global const uint *part, __global uint *out,
                         const ulong out_off)
{
    const ulong i = get_global_id(0);
    if (i >= (ulong)nseg * HIST_NBINS) return;
    const ulong s = i / HIST_NBINS, b = i - s * HIST_NBINS;
    __global const ulong *cstart = tab + 2 * (ulong)nseg;
    uint n = 0;
    for (ulong c = cstart[s]; c < cstart[s + 1]; c++) n += part[c * HIST_NBINS + b];
    out[out_off + i] = n;
}
