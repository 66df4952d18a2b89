/*
** model.cl: kernels the models need beyond the kernel families: activation
** statistics for the per-layer metrics, the parameter difference for the
** update ratio, the minibatch gather, the divergence watch, the L1
** subgradient, and the elementwise cells of the LSTM and the GRU (their
** GEMMs and bias adds come from matmul.cl and activation.cl; see
** include/clgrad/model.h for the equations and src/nn/model.c for the layout).
**
** model_act_stats: h (B, H) -> out[0..3) = mean |h|, the fraction of elements
** saturated, the fraction of dead units.  "Saturated": sigmoid h < 0.01 or
** h > 0.99; tanh and softsign |h| > 0.99 (where f' < ~0.02 of its maximum);
** other activations 0.  "Dead unit": a unit whose output is exactly 0 for
** every sample of the batch (relu; for other activations it is rare but is
** counted the same way).  The order is a function of (B, H) alone, whatever
** the work-group size: unit j's column sum of |h| runs over the batch in order
** from +0.0; the total is the balanced pairwise tree over the units 0 .. H-1
** padded with +0.0 to the next power of two P (all terms are >= +0 or NaN,
** so a + 0 = a: the padding changes no bit and is skipped); mean |h| = total
** / ((float)B * (float)H).  The saturated and dead counts are exact uint
** sums (any order), written as (float)count / n.  One work-group of
** CLGRAD_WG items, 256 units (a chunk) at a time: item i computes the units
** i, i + WG, ... of the chunk into local memory (consecutive items read
** consecutive columns; on CPUs, WG <= 16, the R = 256 / WG consecutive
** units R i .. R i + R - 1, 16 columns per float16), 16 items the 16 subtrees of 16 units, item 0 their
** tree, kept on a binary-counter stack over the chunks (see cl/reduce.cl) and
** folded at the end: the balanced tree over the units, evaluated in pieces.
** clgrad_model_act_stats_replica (src/nn/model.c) is the same order on the host.
*/
#define ACT_KIND_SIGMOID 1
#define ACT_KIND_TANH 2
#define ACT_KIND_SOFTSIGN 7

#define MODEL_STACK 40 /* binary-counter stack of model_act_stats over its 256-unit chunks */
#define MODEL_R (CLGRAD_WG < 256 ? 256 / CLGRAD_WG : 1) /* units of a chunk per work-item */

/* t[0] = balanced pairwise sum of t[0 .. 15] */
inline float model_tree16_(float *t)
{
    for (uint w = 1; w < 16; w *= 2)
        for (uint i = 0; i + w < 16; i += 2 * w) t[i] = t[i] + t[i + w];
    return t[0];
}

/* Column figures: the sum of |h| (of one unit; unused for a group of units), saturated and dead counts. */
typedef struct {
    float col;
    uint sat, dead;
} model_cols_;

/* Unit u's column sum of |h| over the batch in order from +0.0 (0 for u >= H), its saturated and dead counts. */
inline model_cols_ model_act_col_(const int kind, const int B, const int H, __global const float *h, const uint u)
{
    model_cols_ r = {0.0f, 0, 0};
    if (u >= (uint)H) return r;
    int nonzero = 0;
    for (int b = 0; b < B; b++) {
        float v = h[(size_t)b * H + u];
        r.col += fabs(v);
        nonzero |= v != 0.0f;
        if (kind == ACT_KIND_SIGMOID) r.sat += (v < 0.01f || v > 0.99f) ? 1 : 0;
        else if (kind == ACT_KIND_TANH || kind == ACT_KIND_SOFTSIGN) r.sat += fabs(v) > 0.99f ? 1 : 0;
    }
    r.dead = nonzero ? 0 : 1;
    return r;
}

/* model_act_col_ of the 16 units u .. u + 15 (all < H) at once, one per lane (the same operations per unit):
** the sums into lf[0 .. 16), the counts summed over the 16 units. */
inline model_cols_ model_act_cols16_(const int kind, const int B, const int H, __global const float *h, const uint u,
                                     __local float *lf)
{
    float16 col = 0.0f;
    int16 scol = 0, nonzero = 0; /* counts by select(0, 1, ...): Oclgrind 21.10 miscounts `scol -= mask` */
    for (int b = 0; b < B; b++) {
        const float16 v = vload16(0, h + (size_t)b * H + u), a = fabs(v);
        col = col + a;
        nonzero |= v != 0.0f;
        if (kind == ACT_KIND_SIGMOID) scol += select((int16)0, (int16)1, (v < 0.01f) | (v > 0.99f));
        else if (kind == ACT_KIND_TANH || kind == ACT_KIND_SOFTSIGN) scol += select((int16)0, (int16)1, a > 0.99f);
    }
    vstore16(col, 0, lf);
    const int16 d = nonzero == 0;
    const int8 s8 = scol.lo + scol.hi, d8 = d.lo + d.hi;
    model_cols_ r;
    r.col = 0.0f;
    r.sat = (uint)(s8.s0 + s8.s1 + s8.s2 + s8.s3 + s8.s4 + s8.s5 + s8.s6 + s8.s7);
    r.dead = (uint)-(d8.s0 + d8.s1 + d8.s2 + d8.s3 + d8.s4 + d8.s5 + d8.s6 + d8.s7);
    return r;
}

/* The statistics of one layer output by the work-group (see the header). */
inline void model_act_stats_(const int kind, const int B, const int H, __global const float *h, const ulong hoff,
                             __global float *out, const ulong ooff, __local float *lf, __local float *l1,
                             __local uint *s_sat, __local uint *s_dead)
{
    const uint lid = get_local_id(0), nch = ((uint)H + 255) / 256;
    h += hoff;
    float stk[MODEL_STACK]; /* item 0's chunk sums */
    uint sp = 0, sat = 0, dead = 0;
    for (uint ch = 0; ch < nch; ch++) {
#if MODEL_R >= 16
        /* units 256 ch + j, j = R lid .. R lid + R - 1: 16 columns at a time (independent sums, one per lane) */
        for (uint i = 0; i < MODEL_R; i += 16) {
            const uint j = lid * MODEL_R + i, u = 256 * ch + j;
            if (u + 16 <= (uint)H) {
                const model_cols_ c = model_act_cols16_(kind, B, H, h, u, lf + j);
                sat += c.sat, dead += c.dead;
            } else
                for (uint k = 0; k < 16; k++) {
                    const model_cols_ c = model_act_col_(kind, B, H, h, u + k);
                    lf[j + k] = c.col, sat += c.sat, dead += c.dead;
                }
        }
#else
        /* units 256 ch + j, j = lid, lid + WG, ...: consecutive items read consecutive columns */
        for (uint i = 0; i < MODEL_R; i++) {
            const uint j = lid + i * CLGRAD_WG;
            if (j >= 256) break;
            const model_cols_ c = model_act_col_(kind, B, H, h, 256 * ch + j);
            lf[j] = c.col, sat += c.sat, dead += c.dead;
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
        /* the chunk's balanced tree: 16 subtrees of 16 units, then their tree */
        for (uint g = lid; g < 16; g += CLGRAD_WG) {
            float t[16];
            for (uint i = 0; i < 16; i++) t[i] = lf[16 * g + i];
            l1[g] = model_tree16_(t);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            float t[16];
            for (uint i = 0; i < 16; i++) t[i] = l1[i];
            stk[sp++] = model_tree16_(t);
            /* binary counter over the chunks: add the top two once per trailing 0 bit of ch + 1 */
            for (uint q = ch + 1; (q & 1) == 0; q >>= 1, sp--) stk[sp - 2] = stk[sp - 2] + stk[sp - 1];
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* lf and l1 are reused by the next chunk */
    }
    s_sat[lid] = sat, s_dead[lid] = dead;
    for (uint w = 1; w < CLGRAD_WG; w *= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if ((lid & (2 * w - 1)) == 0) {
            s_sat[lid] += s_sat[lid + w];
            s_dead[lid] += s_dead[lid + w];
        }
    }
    if (lid == 0) {
        /* the chunks padded with +0.0 to a power of two: fold the stack from the top */
        float a = sp > 0 ? stk[sp - 1] : 0.0f;
        for (uint q = sp > 0 ? sp - 1 : 0; q > 0; q--) a = stk[q - 1] + a;
        float n = (float)B * (float)H;
        out[ooff + 0] = clg_div(a, n);
        out[ooff + 1] = clg_div((float)s_sat[0], n);
        out[ooff + 2] = clg_div((float)s_dead[0], (float)H);
    }
}

__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void model_act_stats(
    const int kind, const int B, const int H, __global const float *h, const ulong hoff, __global float *out,
    const ulong ooff)
{
    __local float lf[256], l1[16];
    __local uint s_sat[CLGRAD_WG], s_dead[CLGRAD_WG];
    model_act_stats_(kind, B, H, h, hoff, out, ooff, lf, l1, s_sat, s_dead);
}

/* model_act_stats of many layers in one launch: work-group g takes row g of
** tab (ulong: kind, rows, cols, hoff, o; kind -1: zeros) and writes
** out[ooff + o .. + 3). */
__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void model_act_stats_all(
    __global const ulong *tab, __global const float *h, __global float *out, const ulong ooff)
{
    __local float lf[256], l1[16];
    __local uint s_sat[CLGRAD_WG], s_dead[CLGRAD_WG];
    __global const ulong *t = tab + 5 * (ulong)get_group_id(0);
    const int kind = (int)(long)t[0], none = kind < 0;
    /* no branch around the barriers: a row of zeros takes a 1 x 1 pass, then its zeros */
    model_act_stats_(none ? 0 : kind, none ? 1 : (int)t[1], none ? 1 : (int)t[2], h, none ? 0 : t[3], out,
                     ooff + t[4], lf, l1, s_sat, s_dead);
    if (none && get_local_id(0) == 0)
        for (int i = 0; i < 3; i++) out[ooff + t[4] + i] = 0.0f;
}

/* dst (B, row) = src rows idx[idx_off + i] (row floats each): a minibatch from
** the device-resident data set. */
__kernel void model_gather(__global const float *src, const ulong row, __global const uint *idx, const ulong idx_off,
                           const uint B, __global float *dst)
{
    size_t i = get_global_id(0);
    if (i >= (size_t)B * row) return;
    size_t r = i / row, c = i - r * row;
    dst[i] = src[(size_t)idx[idx_off + r] * row + c];
}

/* ---- L1 regularisation ---- */

/* g (n) += l1 * sign(p (n)), sign(0) = 0 (torch.sign), sign(NaN) = NaN. */
__kernel void model_l1_grad(__global const float *p, __global float *g, const ulong n, const float l1)
{
    size_t i = get_global_id(0);
    if (i >= n) return;
    float v = p[i];
    float s = v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v == 0.0f ? 0.0f : v;
    g[i] = g[i] + l1 * s;
}

/* ---- LSTM and GRU cells ----
** One work-item per (row b, unit j) of a (B, H) state, n = B*H; a gate block
** of 4H (or 3H) floats per row holds gate k of unit j at k*H + j.  All
** regions are element offsets into one buffer (f: forward, d: backward).
** sigmoid is the stable form of activation.cl; exp and tanh are math.cl's. */

/* The per-element arithmetic (model_sigmoid_, cell_lstm_fwd_ / _bwd_,
** cell_gru_fwd_ / _bwd_) is in cell_fn.cl, included before this file and
** compiled on the host too (tests/test_model.c); the kernels load and store. */

/* The element functions below are defined for one element (S empty, float)
** and for 8 consecutive elements of one row (S 8, float8: the one-launch
** kernels when H % 8 == 0; the same operations in each lane: the same bits). */
#define MODEL_LD1_(q) (*(q))
#define MODEL_ST1_(q, v) (*(q) = (v))
#define MODEL_LD8_(q) vload8(0, q)
#define MODEL_ST8_(q, v) vstore8(v, 0, q)
#define MODEL_LD16_(q) vload16(0, q)
#define MODEL_ST16_(q, v) vstore16(v, 0, q)
/* The one-launch kernels' cell: 16 elements per work-item on CPUs (work-group
** size <= 32: AVX-512 lanes) when H % 16 == 0, else 8 when H % 8 == 0, else 1. */
#define MODEL_CELL_V(H) (CLGRAD_WG <= 32 && (H) % 16 == 0 ? 16 : (H) % 8 == 0 ? 8 : 1)

/* a (B, 4H) at aoff: the pre-activations [i f g o] without b_hh in, the
** activated gates out (kept for backward); b_hh (4H) at p + boff is added
** when has_b; c_t = f c_{t-1} + i g at coff, h_t = o clgm_tanh(c_t) at hoff,
** and clgm_tanh(c_t) at tcoff when has_tc (the one-launch kernels). */
#define MODEL_LSTM_FWD_DEF(S, F, LD, ST)                                                                      \
    inline void model_lstm_fwd_elem##S##_(const size_t e, const ulong H, __global float *f, const ulong aoff,     \
                                          const ulong cpoff, const ulong coff, const ulong hoff,                 \
                                          __global const float *p, const ulong boff, const int has_b,             \
                                          const ulong tcoff, const int has_tc)                                    \
    {                                                                                                             \
        size_t b = e / H, j = e - b * H;                                                                          \
        __global float *a = f + aoff + b * 4 * H + j;                                                             \
        F zi = LD(a), zf = LD(a + H), zg = LD(a + 2 * H), zo = LD(a + 3 * H);                                     \
        if (has_b) {                                                                                              \
            __global const float *bb = p + boff + j;                                                              \
            zi = zi + LD(bb), zf = zf + LD(bb + H), zg = zg + LD(bb + 2 * H), zo = zo + LD(bb + 3 * H);           \
        }                                                                                                         \
        F o[6], tc;                                                                                               \
        cell_lstm_fwd_tc##S##_(zi, zf, zg, zo, LD(f + cpoff + e), o, &tc);                                        \
        ST(a, o[0]), ST(a + H, o[1]), ST(a + 2 * H, o[2]), ST(a + 3 * H, o[3]);                                   \
        ST(f + coff + e, o[4]);                                                                                   \
        ST(f + hoff + e, o[5]);                                                                                   \
        if (has_tc) ST(f + tcoff + e, tc);                                                                        \
    }
MODEL_LSTM_FWD_DEF(, float, MODEL_LD1_, MODEL_ST1_)
MODEL_LSTM_FWD_DEF(8, float8, MODEL_LD8_, MODEL_ST8_)
MODEL_LSTM_FWD_DEF(16, float16, MODEL_LD16_, MODEL_ST16_)
__kernel void model_lstm_forward(const ulong n, const ulong H, __global float *f, const ulong aoff,
                                 const ulong cpoff, const ulong coff, const ulong hoff, __global const float *p,
                                 const ulong boff, const int has_b)
{
    size_t e = get_global_id(0);
    if (e < n) model_lstm_fwd_elem_(e, H, f, aoff, cpoff, coff, hoff, p, boff, has_b, 0, 0);
}

/* Backward of one LSTM step t: with the activated gates A_t at aoff, c_t at
** coff, c_{t-1} at cpoff and dh_t at dhoff (the total dL/dh_t),
**   dc_t = dh_t o (1 - tanh^2 c_t) + [next] dc_{t+1} f_{t+1}
** (dc_{t+1} at dcnoff, A_{t+1} at anoff), stored at dcoff, and the gradients
** of the pre-activations (B, 4H) at dgoff:
**   di = dc g i(1-i), df = dc c_{t-1} f(1-f), dg = dc i (1-g^2), do = dh clgm_tanh(c_t) o(1-o). */
#define MODEL_LSTM_BWD_DEF(S, F, LD, ST)                                                                      \
    inline void model_lstm_bwd_elem##S##_(const size_t e, const ulong H, __global const float *f,                \
                                          const ulong aoff, const ulong anoff, const ulong coff,                  \
                                          const ulong cpoff, __global float *d, const ulong dhoff,                \
                                          const ulong dcnoff, const int next, const ulong dgoff,                  \
                                          const ulong dcoff, const ulong tcoff, const int has_tc)                 \
    {                                                                                                             \
        size_t b = e / H, j = e - b * H, g4 = b * 4 * H + j;                                                      \
        __global const float *a = f + aoff + g4;                                                                  \
        F o[5], z = (F)(0.0f);                                                                                    \
        const F dcn = next ? LD(d + dcnoff + e) : z, fn = next ? LD(f + anoff + g4 + H) : z;                      \
        if (has_tc) /* clgm_tanh(c_t) from the forward */                                                         \
            cell_lstm_bwd_tc##S##_(LD(a), LD(a + H), LD(a + 2 * H), LD(a + 3 * H), LD(f + tcoff + e),             \
                                   LD(f + cpoff + e), LD(d + dhoff + e), next, dcn, fn, o);                       \
        else                                                                                                      \
            cell_lstm_bwd##S##_(LD(a), LD(a + H), LD(a + 2 * H), LD(a + 3 * H), LD(f + coff + e),                 \
                                LD(f + cpoff + e), LD(d + dhoff + e), next, dcn, fn, o);                          \
        ST(d + dcoff + e, o[4]);                                                                                  \
        __global float *dg = d + dgoff + g4;                                                                      \
        ST(dg, o[0]), ST(dg + H, o[1]), ST(dg + 2 * H, o[2]), ST(dg + 3 * H, o[3]);                               \
    }
MODEL_LSTM_BWD_DEF(, float, MODEL_LD1_, MODEL_ST1_)
MODEL_LSTM_BWD_DEF(8, float8, MODEL_LD8_, MODEL_ST8_)
MODEL_LSTM_BWD_DEF(16, float16, MODEL_LD16_, MODEL_ST16_)
__kernel void model_lstm_backward(const ulong n, const ulong H, __global const float *f, const ulong aoff,
                                  const ulong anoff, const ulong coff, const ulong cpoff, __global float *d,
                                  const ulong dhoff, const ulong dcnoff, const int next, const ulong dgoff,
                                  const ulong dcoff)
{
    size_t e = get_global_id(0);
    if (e < n) model_lstm_bwd_elem_(e, H, f, aoff, anoff, coff, cpoff, d, dhoff, dcnoff, next, dgoff, dcoff, 0, 0);
}

/* GRU step: xw (B, 3H) = x W_ih^T + b_ih and gh (B, 3H) = h_{t-1} W_hh^T
** ([r z n] blocks; b_hh (3H) at p + boff is added to gh when has_b), h_{t-1}
** at hpoff; writes A_t (B, 4H) = [r z n hn] at aoff (hn = gh's n block with
** b_hn, kept for backward) and h_t = n + z (h_{t-1} - n) at hoff. */
#define MODEL_GRU_FWD_DEF(S, F, LD, ST)                                                                       \
    inline void model_gru_fwd_elem##S##_(const size_t e, const ulong H, __global float *f, const ulong xwoff,     \
                                         const ulong ghoff, const ulong hpoff, const ulong aoff,                  \
                                         const ulong hoff, __global const float *p, const ulong boff,             \
                                         const int has_b)                                                         \
    {                                                                                                             \
        size_t b = e / H, j = e - b * H, g3 = b * 3 * H + j;                                                      \
        __global const float *xw = f + xwoff + g3, *gh = f + ghoff + g3;                                          \
        F hr = LD(gh), hz = LD(gh + H), hn = LD(gh + 2 * H);                                                      \
        if (has_b) {                                                                                              \
            __global const float *bb = p + boff + j;                                                              \
            hr = hr + LD(bb), hz = hz + LD(bb + H), hn = hn + LD(bb + 2 * H);                                     \
        }                                                                                                         \
        F o[4];                                                                                                   \
        cell_gru_fwd##S##_(LD(xw), LD(xw + H), LD(xw + 2 * H), hr, hz, hn, LD(f + hpoff + e), o);                 \
        __global float *a = f + aoff + b * 4 * H + j;                                                             \
        ST(a, o[0]), ST(a + H, o[1]), ST(a + 2 * H, o[2]), ST(a + 3 * H, hn);                                     \
        ST(f + hoff + e, o[3]);                                                                                   \
    }
MODEL_GRU_FWD_DEF(, float, MODEL_LD1_, MODEL_ST1_)
MODEL_GRU_FWD_DEF(8, float8, MODEL_LD8_, MODEL_ST8_)
MODEL_GRU_FWD_DEF(16, float16, MODEL_LD16_, MODEL_ST16_)
__kernel void model_gru_forward(const ulong n, const ulong H, __global float *f, const ulong xwoff,
                                const ulong ghoff, const ulong hpoff, const ulong aoff, const ulong hoff,
                                __global const float *p, const ulong boff, const int has_b)
{
    size_t e = get_global_id(0);
    if (e < n) model_gru_fwd_elem_(e, H, f, xwoff, ghoff, hpoff, aoff, hoff, p, boff, has_b);
}

/* dst (T, B, F) at doff = x (B, T, F) at xoff: a sequence batch made time-major. */
__kernel void model_time_major(__global const float *x, const ulong xoff, const ulong B, const ulong T,
                               const ulong F, __global float *dst, const ulong doff)
{
    size_t i = get_global_id(0);
    if (i >= T * B * F) return;
    size_t t = i / (B * F), r = i - t * B * F, b = r / F, k = r - b * F;
    dst[doff + i] = x[xoff + (b * T + t) * F + k];
}

/* Backward of one GRU step from dh_t (at dhoff), A_t and h_{t-1}:
**   dn = dh (1-z) (1-n^2), dr = dn hn r(1-r), dz = dh (h_{t-1} - n) z(1-z)
**   dGi (B, 3H) = [dr dz dn] at dgioff, dGh = [dr dz dn r] at dghoff,
**   dh_{t-1} = dh z at dhpoff: mode 0 not written, 1 overwritten, 2 added. */
#define MODEL_GRU_BWD_DEF(S, F, LD, ST)                                                                       \
    inline void model_gru_bwd_elem##S##_(const size_t e, const ulong H, __global const float *f,                 \
                                         const ulong aoff, const ulong hpoff, __global float *d,                  \
                                         const ulong dhoff, const ulong dgioff, const ulong dghoff,               \
                                         const ulong dhpoff, const int mode)                                      \
    {                                                                                                             \
        size_t b = e / H, j = e - b * H, g3 = b * 3 * H + j;                                                      \
        __global const float *a = f + aoff + b * 4 * H + j;                                                       \
        F o[5];                                                                                                   \
        cell_gru_bwd##S##_(LD(a), LD(a + H), LD(a + 2 * H), LD(a + 3 * H), LD(d + dhoff + e), LD(f + hpoff + e),  \
                           o);                                                                                    \
        __global float *dgi = d + dgioff + g3, *dgh = d + dghoff + g3;                                            \
        ST(dgi, o[0]), ST(dgi + H, o[1]), ST(dgi + 2 * H, o[2]);                                                  \
        ST(dgh, o[0]), ST(dgh + H, o[1]), ST(dgh + 2 * H, o[3]);                                                  \
        if (mode == 1) ST(d + dhpoff + e, o[4]);                                                                  \
        else if (mode == 2) ST(d + dhpoff + e, LD(d + dhpoff + e) + o[4]);                                        \
    }
MODEL_GRU_BWD_DEF(, float, MODEL_LD1_, MODEL_ST1_)
MODEL_GRU_BWD_DEF(8, float8, MODEL_LD8_, MODEL_ST8_)
MODEL_GRU_BWD_DEF(16, float16, MODEL_LD16_, MODEL_ST16_)
__kernel void model_gru_backward(const ulong n, const ulong H, __global const float *f, const ulong aoff,
                                 const ulong hpoff, __global float *d, const ulong dhoff, const ulong dgioff,
                                 const ulong dghoff, const ulong dhpoff, const int mode)
{
    size_t e = get_global_id(0);
    if (e < n) model_gru_bwd_elem_(e, H, f, aoff, hpoff, d, dhoff, dgioff, dghoff, dhpoff, mode);
}

/* ---- one recurrent layer in one launch ----
** model_rec_forward and model_rec_backward run all T steps of one layer: what
** rec_step_forward_ / rec_layer_backward_ (src/nn/model.c) launch step by
** step, with the same operations in the same order, so the same bits.  Batch
** rows are independent: work-group g owns rows [g R, min(B, g R + R)) and
** walks the steps with work-group barriers (its rows' h_t are all it reads).
** The recurrent GEMM of a step is matmul.cl's CPU micro-kernel with 8 rows
** and two 16-column panels (REC_MR rows x 32 columns per work-item: 16
** independent chains keep two FMA units of 4-cycle latency busy with room to
** spare, 2 loads of B per 16 FMAs; the RNN's, whose epilogue weighs more
** against its K = H, one panel: REC_MR x 16; one fma chain per output in k
** order from 0)
** with matmul_cpu_store_'s epilogue (gemm_fn.cl), which is clgrad_gemm's
** rounding on every variant; op(B) is a copy of W_hh made by model_rec_pad (or
** W_hh itself), its rows zero-padded to ldp (a multiple of 32) columns.  Any R >= 1 and any
** work-group size give the same bits (the work-items share the items). */
#define REC_MR 8

/* dst (rows, ldp) at doff = W (wr, wc) at woff (trans 0) or W^T (trans 1),
** zero in columns past wc (wr).  Global rows * ceil(ldp / 16): work-item i
** writes 16 columns (fewer at the end) of row i % rows, consecutive items
** consecutive rows (W^T's reads contiguous across them; no 64-bit division
** per element). */
__kernel void model_rec_pad(__global const float *W, const ulong woff, const ulong wr, const ulong wc, const int trans,
                            __global float *dst, const ulong doff, const ulong ldp)
{
    const uint rows = trans ? wc : wr, cols = trans ? wr : wc, i = get_global_id(0), r = i % rows,
               c0 = i / rows * 16;
    if (c0 >= ldp) return;
    W += woff, dst += doff + (size_t)r * ldp;
    for (uint c = c0, ce = min((uint)ldp, c0 + 16); c < ce; c++)
        dst[c] = c >= cols ? 0.0f : trans ? W[(size_t)c * wc + r] : W[(size_t)r * wc + c];
}

/* The input side of a step when its F <= REC_XFOLD inputs make it cheaper in
** the recurrent GEMM's items than as a GEMM launch over all T*B rows: row x
** (F inputs) times W_ih^T padded (F, ldp) at Wi, 16 columns from n0, plus
** b_ih's bv (model_rec_bias16_) when has_b: clgrad_gemm_bias's fma chain (k
** order from 0) and epilogue (alpha 1, beta 0), the same bits as the launch
** it replaces (src/nn/model.c rec_forward_). */
#define REC_XFOLD 8
inline float16 model_rec_xw_(__global const float *x, const int F, __global const float *Wi, const int ldp,
                             const int has_b, const float16 bv)
{
    float16 acc = (float16)(0.0f);
    for (int k = 0; k < F; k++) acc = fma((float16)(x[k]), vload16(0, Wi + (size_t)k * ldp), acc);
    return has_b ? acc + bv : acc;
}

/* b[0 .. nv) and zeros (16 lanes) */
inline float16 model_rec_bias16_(__global const float *b, const int nv)
{
    if (nv == 16) return vload16(0, b);
    float w[16];
    for (int j = 0; j < 16; j++) w[j] = j < nv ? b[j] : 0.0f;
    return vload16(0, w);
}

/* Rows [b0, b1) of C (ldc) = A (lda; K columns) Bp (K, ldp; N columns) + beta C
** with matmul_cpu_store_'s epilogue epi (E at lde, Z at ldz); alpha is 1.
** With xf > 0 the input side (model_rec_xw_: X (ld xf), W_ih^T (xf, ldp) at
** Wi, b_ih at bi when has_bi) of each row: xreg 1, it is C's beta term (beta
** 1), added in registers (matmul_cpu_store_'s bias slot: acc + xw, as acc +
** 1 * C when C held it); xreg 0, each item stores it into XW (ld N) first.
** Each work-item's items: REC_MR rows x pw (16 or 32) columns. */
inline void model_rec_gemm_(const int b0, const int b1, const int N, const int K, __global const float *A,
                            const int lda, __global const float *Bp, const int ldp, float beta,
                            __global float *C, const int ldc, const int epi, const int act, const float p,
                            __global float *E, const int lde, __global const float *Z, const int ldz, const int xf,
                            const int xreg, __global const float *X, __global const float *Wi,
                            __global const float *bi, const int has_bi, __global float *XW, const int pw)
{
    if (xf > 0 && xreg) beta = 0.0f;
    const int pairs = (N + pw - 1) / pw, items = pairs * ((b1 - b0 + REC_MR - 1) / REC_MR);
    for (int w = get_local_id(0); w < items; w += get_local_size(0)) {
        const int m0 = b0 + w / pairs * REC_MR, n0 = w % pairs * pw, last = b1 - 1 - m0;
        /* nvh <= 0: no second panel (its chains are not run) */
        const int nvl = min(16, N - n0), nvh = pw == 32 ? min(16, N - n0 - 16) : 0;
        const float16 z16 = (float16)(0.0f);
        const float16 bvl = xf > 0 && has_bi ? model_rec_bias16_(bi + n0, nvl) : z16;
        const float16 bvh = xf > 0 && has_bi && nvh > 0 ? model_rec_bias16_(bi + n0 + 16, nvh) : z16;
        for (int r = 0, re = min(last, REC_MR - 1); xf > 0 && !xreg && r <= re; r++) {
            __global const float *x = X + (size_t)(m0 + r) * xf;
            __global float *c = XW + (size_t)(m0 + r) * N + n0;
            matmul_cpu_store_(model_rec_xw_(x, xf, Wi + n0, ldp, has_bi, bvl), nvl, 1.0f, 0.0f, 0, z16, 0, 0, 0.0f,
                              c, c, c);
            if (nvh > 0)
                matmul_cpu_store_(model_rec_xw_(x, xf, Wi + n0 + 16, ldp, has_bi, bvh), nvh, 1.0f, 0.0f, 0, z16, 0,
                                  0, 0.0f, c + 16, c, c);
        }
        /* rows past b1 read row b1 - 1 (not stored); columns past N read the zero padding */
        __global const float *a0 = A + (size_t)m0 * lda, *a1 = A + (size_t)(m0 + min(1, last)) * lda;
        __global const float *a2 = A + (size_t)(m0 + min(2, last)) * lda, *a3 = A + (size_t)(m0 + min(3, last)) * lda;
        __global const float *a4 = A + (size_t)(m0 + min(4, last)) * lda, *a5 = A + (size_t)(m0 + min(5, last)) * lda;
        __global const float *a6 = A + (size_t)(m0 + min(6, last)) * lda, *a7 = A + (size_t)(m0 + min(7, last)) * lda;
        float16 acc0l = z16, acc1l = z16, acc2l = z16, acc3l = z16, acc4l = z16, acc5l = z16, acc6l = z16,
                acc7l = z16, acc0h = z16, acc1h = z16, acc2h = z16, acc3h = z16, acc4h = z16, acc5h = z16,
                acc6h = z16, acc7h = z16;
        __global const float *bp = Bp + n0;
#define REC_FMA(r)                                                                                             \
    acc##r##l = fma((float16)(a##r[k]), bl, acc##r##l), acc##r##h = fma((float16)(a##r[k]), bh, acc##r##h)
#define REC_FMA1(r) acc##r##l = fma((float16)(a##r[k]), bl, acc##r##l)
        if (nvh > 0) {
            for (int k = 0; k < K; k++) {
                const float16 bl = vload16(0, bp + (size_t)k * ldp), bh = vload16(1, bp + (size_t)k * ldp);
                REC_FMA(0); REC_FMA(1); REC_FMA(2); REC_FMA(3);
                REC_FMA(4); REC_FMA(5); REC_FMA(6); REC_FMA(7);
            }
        } else {
            for (int k = 0; k < K; k++) {
                const float16 bl = vload16(0, bp + (size_t)k * ldp);
                REC_FMA1(0); REC_FMA1(1); REC_FMA1(2); REC_FMA1(3);
                REC_FMA1(4); REC_FMA1(5); REC_FMA1(6); REC_FMA1(7);
            }
        }
#undef REC_FMA
#undef REC_FMA1
#define REC_STORE1(r, h, nv, off, bv)                                                                              \
    matmul_cpu_store_(acc##r##h, nv, 1.0f, beta, xf > 0 && xreg,                                                  \
                      xf > 0 && xreg ? model_rec_xw_(X + (size_t)(m0 + r) * xf, xf, Wi + off, ldp, has_bi, bv) : bv, \
                      epi, act, p, C + (size_t)(m0 + r) * ldc + off, E + (size_t)(m0 + r) * lde + off,             \
                      Z + (size_t)(m0 + r) * ldz + off)
#define REC_STORE(r)                                                                                           \
    if (last >= r) {                                                                                           \
        REC_STORE1(r, l, nvl, n0, bvl);                                                                        \
        if (nvh > 0) REC_STORE1(r, h, nvh, n0 + 16, bvh);                                                      \
    }
        REC_STORE(0) REC_STORE(1) REC_STORE(2) REC_STORE(3)
        REC_STORE(4) REC_STORE(5) REC_STORE(6) REC_STORE(7)
#undef REC_STORE
#undef REC_STORE1
    }
}

/* Forward of one layer, kind 0 RNN, 1 LSTM, 2 GRU; the regions of
** rec_step_forward_: Z_t / A_t at aoff (step stride B GH, 4BH for the GRU's
** A_t), h_t at hoff, c_t at coff (LSTM), XW_t at xwoff and Gh at ghoff (GRU);
** Wt = W_hh^T padded (H, ldp); b_hh at p + boff when has_b.  xf > 0: the
** input side XW_t (Z_t / A_t, the GRU's XW_t) is not there yet: each step's
** GEMM items store it first (model_rec_xw_) from X_t (B, xf) at f + xoff +
** t B xf, W_ih^T padded (xf, ldp) at Wt + wioff and b_ih at p + bioff.
** The LSTM also stores clgm_tanh(c_t) (T, B, H) at tcoff for the backward. */
__kernel void model_rec_forward(const int kind, const int B, const int H, const int T, const int R,
                                __global float *f, const ulong aoff, const ulong hoff, const ulong coff,
                                const ulong xwoff, const ulong ghoff, __global const float *Wt, const ulong wtoff,
                                const int ldp, __global const float *p, const ulong boff, const int has_b,
                                const int act, const float act_p, const int xf, const ulong xoff,
                                const ulong wioff, const ulong bioff, const int has_bi, const ulong tcoff)
{
    const int b0 = get_group_id(0) * R, b1 = min(B, b0 + R), GH = (kind == 1 ? 4 : kind == 2 ? 3 : 1) * H;
    if (b0 >= B) return; /* the whole group */
    const size_t BH = (size_t)B * H, lid = get_local_id(0), nl = get_local_size(0), v = MODEL_CELL_V(H);
    __global const float *Wi = Wt + wioff, *bi = p + bioff;
    Wt += wtoff;
    for (int t = 0; t < T; t++) {
        const size_t hp = hoff + t * BH, a = aoff + t * (kind == 0 ? BH : 4 * BH);
        __global float *A = f + hp, *X = f + xoff + (size_t)t * B * xf;
        if (kind == 0) /* Z_t += H_t W_hh^T; H_{t+1} = act(Z_t) */
            model_rec_gemm_(b0, b1, H, H, A, H, Wt, ldp, 1.0f, f + a, H, 1, act, act_p, f + hp + BH, H, f, 0, xf, 1,
                            X, Wi, bi, has_bi, f, 16);
        else if (kind == 1) /* A_t += H_t W_hh^T */
            model_rec_gemm_(b0, b1, GH, H, A, H, Wt, ldp, 1.0f, f + a, GH, 0, 0, 0.0f, f, 0, f, 0, xf, 1, X, Wi, bi,
                            has_bi, f, 32);
        else /* Gh = H_t W_hh^T */
            model_rec_gemm_(b0, b1, GH, H, A, H, Wt, ldp, 0.0f, f + ghoff, GH, 0, 0, 0.0f, f, 0, f, 0, xf, 0, X, Wi, bi,
                            has_bi, f + xwoff + t * 3 * BH, 32);
        barrier(CLK_GLOBAL_MEM_FENCE);
        if (kind == 0) continue;
        /* the cell, v nl elements at a time (v = 16 or 8 consecutive elements of a row
        ** per work-item: MODEL_CELL_V), a barrier after each chunk */
        for (size_t e0 = (size_t)b0 * H, e1 = (size_t)b1 * H; e0 < e1; e0 += v * nl) {
            const size_t e = e0 + v * lid, cp = coff + t * BH, xw = xwoff + t * 3 * BH, tc = tcoff + t * BH;
            if (e < e1 && v == 16 && kind == 1)
                model_lstm_fwd_elem16_(e, H, f, a, cp, cp + BH, hp + BH, p, boff, has_b, tc, 1);
            else if (e < e1 && v == 16)
                model_gru_fwd_elem16_(e, H, f, xw, ghoff, hp, a, hp + BH, p, boff, has_b);
            else if (e < e1 && v == 8 && kind == 1)
                model_lstm_fwd_elem8_(e, H, f, a, cp, cp + BH, hp + BH, p, boff, has_b, tc, 1);
            else if (e < e1 && v == 8)
                model_gru_fwd_elem8_(e, H, f, xw, ghoff, hp, a, hp + BH, p, boff, has_b);
            else if (e < e1 && kind == 1)
                model_lstm_fwd_elem_(e, H, f, a, cp, cp + BH, hp + BH, p, boff, has_b, tc, 1);
            else if (e < e1)
                model_gru_fwd_elem_(e, H, f, xw, ghoff, hp, a, hp + BH, p, boff, has_b);
            barrier(CLK_GLOBAL_MEM_FENCE);
        }
    }
}

/* BPTT through one layer, t = T .. 1: the cell's backward (rec_cell_backward_;
** the RNN's dZ_T = dH_T f'(Z_T), its later dZ_t come from the GEMM's
** epilogue), a barrier, dH_{t-1} (+)= dGh_t W_hh (W padded (GH, ldp); beta 0
** on the top layer, except for the GRU, whose direct term is there), a
** barrier.  Regions as in rec_layer_backward_; top: the layer is the top one;
** the LSTM reads clgm_tanh(c_t) at tcoff (model_rec_forward's). */
__kernel void model_rec_backward(const int kind, const int B, const int H, const int T, const int R,
                                 __global const float *f, const ulong aoff, const ulong hoff, const ulong coff,
                                 __global float *d, const ulong dhoff, const ulong dcoff, const ulong dgoff,
                                 const ulong dghoff, __global const float *W, const ulong woff, const int ldp,
                                 const int top, const int act, const float act_p, const ulong tcoff)
{
    const int b0 = get_group_id(0) * R, b1 = min(B, b0 + R), GH = (kind == 1 ? 4 : kind == 2 ? 3 : 1) * H;
    if (b0 >= B) return; /* the whole group */
    const size_t BH = (size_t)B * H, BG = (size_t)B * GH, lid = get_local_id(0), nl = get_local_size(0);
    const size_t v = MODEL_CELL_V(H); /* elements per work-item of the cell's chunks, as in the forward */
    const size_t e0 = (size_t)b0 * H, e1 = (size_t)b1 * H;
    const float beta = top && kind != 2 ? 0.0f : 1.0f;
    W += woff;
    for (int t = T; t >= 1; t--) {
        const size_t dht = dhoff + (t - 1) * BH, dg = dgoff + (t - 1) * BG, a = aoff + (t - 1) * (kind ? 4 * BH : BH);
        if (kind == 0 && t == T) {
            for (size_t e = e0 + 8 * lid; e < e1; e += 8 * nl) {
                float8 g = clg_load8_(d + dht + e, e1 - e);
                if (act != ACT_IDENTITY) g = g * act_d8_(act, act_p, clg_load8_(f + a + e, e1 - e));
                clg_store8_(d + dg + e, e1 - e, g);
            }
        } else if (kind != 0) { /* chunks of nl elements as in the forward */
            const size_t dct = dcoff + (t - 1) * BH;
            const int next = t < T, mode = t == 1 ? 0 : top ? 1 : 2;
            const size_t an = next ? a + 4 * BH : a, ct = coff + t * BH, dcn = next ? dct + BH : dct;
            const size_t hp = hoff + (t - 1) * BH, dgh = dghoff + (t - 1) * BG, dhp = t > 1 ? dht - BH : dht;
            const size_t tc = tcoff + (t - 1) * BH;
            for (size_t c = e0; c < e1; c += v * nl) {
                const size_t e = c + v * lid;
                if (e < e1 && v == 16 && kind == 1)
                    model_lstm_bwd_elem16_(e, H, f, a, an, ct, ct - BH, d, dht, dcn, next, dg, dct, tc, 1);
                else if (e < e1 && v == 16)
                    model_gru_bwd_elem16_(e, H, f, a, hp, d, dht, dg, dgh, dhp, mode);
                else if (e < e1 && v == 8 && kind == 1)
                    model_lstm_bwd_elem8_(e, H, f, a, an, ct, ct - BH, d, dht, dcn, next, dg, dct, tc, 1);
                else if (e < e1 && v == 8)
                    model_gru_bwd_elem8_(e, H, f, a, hp, d, dht, dg, dgh, dhp, mode);
                else if (e < e1 && kind == 1)
                    model_lstm_bwd_elem_(e, H, f, a, an, ct, ct - BH, d, dht, dcn, next, dg, dct, tc, 1);
                else if (e < e1)
                    model_gru_bwd_elem_(e, H, f, a, hp, d, dht, dg, dgh, dhp, mode);
                barrier(CLK_GLOBAL_MEM_FENCE);
            }
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
        if (t == 1) break;
        __global const float *dG = d + (kind == 2 ? dghoff : dgoff) + (t - 1) * BG;
        if (kind == 0) /* dH_{t-1} (+)= dZ_t W_hh; dZ_{t-1} = dH_{t-1} f'(Z_{t-1}) */
            model_rec_gemm_(b0, b1, H, GH, dG, GH, W, ldp, beta, d + dht - BH, H, 2, act, act_p, d + dg - BG, H,
                            f + a - BH, H, 0, 0, f, f, f, 0, d, 16);
        else
            model_rec_gemm_(b0, b1, H, GH, dG, GH, W, ldp, beta, d + dht - BH, H, 0, 0, 0.0f, d, 0, f, 0, 0, 0, f, f, f,
                            0, d, 32);
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
}

/* ---- the weight gradients of a layer over all its T*B rows ----
** C (M, N) at coff (ldc) = A^T B: A (K, M) at aoff (lda), B (K, N) at boff
** (ldb), K = T*B rows, walked in order with contiguous loads (no packing of
** the long operands): what clgrad_gemm(ta 1, tb 0, alpha 1, beta 0) stores,
** one fma chain per output in k order from 0 and matmul_cpu_store_'s
** epilogue, so the same bits.  Work-item (i, j) owns rows 8i .. 8i+7 and
** columns 32j .. 32j+31 (two 16-column halves); rows past M read row M - 1
** and columns past N read zero (neither is stored).  Global (ceil(M/8)
** rounded up to the work-group's first size, ceil(N/32)); work-items past M
** take part in the barriers only.  Any work-group size gives the same bits. */
#define REC_WG_MR 8
#define REC_WG_KC 64 /* rows of A and B per chunk */
#define REC_WG_FMA(r)                                                                                        \
    acc##r##l = fma((float16)(a##r[(size_t)k * lda]), bl, acc##r##l),                                        \
    acc##r##h = fma((float16)(a##r[(size_t)k * lda]), bh, acc##r##h)
__kernel void model_rec_wgrad(const int M, const int N, const int K, __global const float *A, const ulong aoff,
                              const int lda, __global const float *B, const ulong boff, const int ldb,
                              __global float *C, const ulong coff, const int ldc)
{
    const int m0 = get_global_id(0) * REC_WG_MR, n0 = get_global_id(1) * 32;
    const int active = m0 < M && n0 < N; /* the others only take the barriers */
    A += aoff + min(m0, M - 1), B += boff + min(n0, N - 1), C += coff;
    const int mv = active ? min(REC_WG_MR, M - m0) : 1, nv = active ? min(32, N - n0) : 0;
    __global const float *a0 = A, *a1 = A + min(1, mv - 1), *a2 = A + min(2, mv - 1), *a3 = A + min(3, mv - 1);
    __global const float *a4 = A + min(4, mv - 1), *a5 = A + min(5, mv - 1), *a6 = A + min(6, mv - 1);
    __global const float *a7 = A + min(7, mv - 1);
    float16 acc0l = (float16)(0.0f), acc1l = acc0l, acc2l = acc0l, acc3l = acc0l, acc4l = acc0l, acc5l = acc0l,
            acc6l = acc0l, acc7l = acc0l, acc0h = acc0l, acc1h = acc0l, acc2h = acc0l, acc3h = acc0l,
            acc4h = acc0l, acc5h = acc0l, acc6h = acc0l, acc7h = acc0l;
    /* the group's items walk K in chunks together (a barrier after each), so
    ** they share the chunk's rows of A and B in cache */
    for (int kc = 0; kc < K; kc += REC_WG_KC) {
        for (int k = kc, ke = active ? min(K, kc + REC_WG_KC) : kc; k < ke; k++) {
            __global const float *bk = B + (size_t)k * ldb;
            float16 bl, bh;
            if (nv == 32) {
                bl = vload16(0, bk), bh = vload16(1, bk);
            } else {
                float t[32];
                for (int j = 0; j < 32; j++) t[j] = j < nv ? bk[j] : 0.0f;
                bl = vload16(0, t), bh = vload16(1, t);
            }
            REC_WG_FMA(0); REC_WG_FMA(1); REC_WG_FMA(2); REC_WG_FMA(3);
            REC_WG_FMA(4); REC_WG_FMA(5); REC_WG_FMA(6); REC_WG_FMA(7);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (!active) return;
    const int nl = min(16, nv), nh = nv - 16;
#define REC_WG_STORE(r)                                                                                          \
    if (r < mv) {                                                                                                \
        __global float *c = C + (size_t)(m0 + r) * ldc + n0;                                                     \
        matmul_cpu_store_(acc##r##l, nl, 1.0f, 0.0f, 0, (float16)(0.0f), 0, 0, 0.0f, c, c, c);                \
        if (nh > 0) matmul_cpu_store_(acc##r##h, nh, 1.0f, 0.0f, 0, (float16)(0.0f), 0, 0, 0.0f, c + 16, c, c); \
    }
    REC_WG_STORE(0) REC_WG_STORE(1) REC_WG_STORE(2) REC_WG_STORE(3)
    REC_WG_STORE(4) REC_WG_STORE(5) REC_WG_STORE(6) REC_WG_STORE(7)
#undef REC_WG_STORE
}
#undef REC_WG_FMA
