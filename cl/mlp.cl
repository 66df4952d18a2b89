/*
** mlp.cl: the plain MLP's training pass in two launches (src/nn/mlp_fused.c),
** the same bits as the layer-by-layer path (clgrad_model_forward, loss_grad,
** clgrad_model_backward: GEMMs with fused epilogues, activation_bias_grad):
**
**   mlp_rows   per slice of MLP_R batch rows (one work-group): the gather of
**              the batch (optional), the forward pass through every layer,
**              the loss gradient of each row and the backward chain
**              dH_{l-1} = dZ_l W_l, dZ_{l-1} = dH_{l-1} * f'(Z_{l-1}).  Batch rows
**              are independent through all of these, so the layers follow
**              one another with barriers inside the group, no launch between.
**   mlp_wgrad  every layer's dW = dZ^T A_in and db = column sums of dZ, one
**              work-item per task (MLP_C x 16 outputs of a dW, or 8 of a db),
**              the gradient state's reset (clip_gradstate_reset) and the
**              loss value (loss_value) of the terms mlp_rows left.
**
** Bits: every GEMM output is one fma chain in k order from 0 with the
** operands in matmul_cpu's order, then matmul_cpu_store_'s epilogue (C =
** alpha acc with alpha 1, + bias; E = f(C), or E = C * f'(Z), here on whole
** float16s: act_fn.cl's lanes give the float8 halves' bits); the loss
** gradient is loss_fn.cl's per row (CE) or per element; db is
** activation_bias_grad's order (act_bias_grad_run_, act_fn.cl).  The rows of a
** float16 are independent lanes: a row past the batch (clamped to the last
** row) is computed and never stored.
**
** Memory: a work-item's results are MLP_C columns of 16 rows (a float16 a
** column); they reach the row-major global buffers (Z, H, dH, dZ, logits)
** transposed in registers, one float8 store per row (mlp_store_tile_), and
** the backward's Z comes the same way (mlp_load_tile_): no strided scalar
** accesses.  Local memory holds only the current layer's input and output,
** (width, 16) each.
**
** The layer table (ulong, MLP_LF words per linear layer l = 0 .. nlin-1):
** N outputs, K inputs, W and b offsets in the parameter block (has_bias),
** the activation, the offsets of Z (the logits buffer for the last layer), H,
** dZ and dH (fwd / bwd blocks of the model), and the first dW and db task of
** the layer in mlp_wgrad.
*/
#define MLP_R 16 /* rows per work-group: the lanes of a float16 */
#define MLP_C 8  /* outputs of one task: independent fma chains (acc0 .. acc7 below) */
#define MLP_LF 12
#define MLP_N 0
#define MLP_K 1
#define MLP_W 2
#define MLP_B 3
#define MLP_HASB 4
#define MLP_ACT 5
#define MLP_Z 6
#define MLP_H 7
#define MLP_DZ 8
#define MLP_DH 9
#define MLP_TW 10
#define MLP_TB 11

/* Apply X(j) for j = 0 .. MLP_C - 1 */
#define MLP_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define MLP_ACC_DECL(j) float16 acc##j = (float16)(0.0f);

/* A task's tile: 16 rows (the lanes) by MLP_C columns, c[j] column j as a
** float16 of the rows.  The transposes to and from the row-major global
** buffers are exact lane moves in registers: three interleave stages
** (groups of 1, 2, 4 lanes) turn the 8 columns into 8 float16 of two rows
** each, r[m] = (row 2m, row 2m + 1), and three de-interleave stages back;
** the global accesses are one float8 per row. */
#define MLP_IL1LO(a, b) \
    (float16)(a.s0, b.s0, a.s1, b.s1, a.s2, b.s2, a.s3, b.s3, a.s4, b.s4, a.s5, b.s5, a.s6, b.s6, a.s7, b.s7)
#define MLP_IL1HI(a, b) \
    (float16)(a.s8, b.s8, a.s9, b.s9, a.sa, b.sa, a.sb, b.sb, a.sc, b.sc, a.sd, b.sd, a.se, b.se, a.sf, b.sf)
#define MLP_IL2LO(a, b) (float16)(a.s01, b.s01, a.s23, b.s23, a.s45, b.s45, a.s67, b.s67)
#define MLP_IL2HI(a, b) (float16)(a.s89, b.s89, a.sab, b.sab, a.scd, b.scd, a.sef, b.sef)
#define MLP_IL4LO(a, b) (float16)(a.s0123, b.s0123, a.s4567, b.s4567)
#define MLP_IL4HI(a, b) (float16)(a.s89ab, b.s89ab, a.scdef, b.scdef)
#define MLP_DL1A(a, b) (float16)(a.even, b.even)
#define MLP_DL1B(a, b) (float16)(a.odd, b.odd)
#define MLP_DL2A(a, b) (float16)(a.s01, a.s45, a.s89, a.scd, b.s01, b.s45, b.s89, b.scd)
#define MLP_DL2B(a, b) (float16)(a.s23, a.s67, a.sab, a.sef, b.s23, b.s67, b.sab, b.sef)
#define MLP_DL4A(a, b) (float16)(a.s0123, a.s89ab, b.s0123, b.s89ab)
#define MLP_DL4B(a, b) (float16)(a.s4567, a.scdef, b.s4567, b.scdef)

/* p[i * stride + j] = lane i of c[j], rows i < nr, columns j < nc. */
inline void mlp_store_tile_(const float16 *c, __global float *p, const uint stride, const uint nr, const uint nc)
{
    if (nc < MLP_C) {
        float t[MLP_C * MLP_R];
        for (uint j = 0; j < nc; j++) vstore16(c[j], j, t);
        for (uint i = 0; i < nr; i++)
            for (uint j = 0; j < nc; j++) p[(size_t)i * stride + j] = t[j * MLP_R + i];
        return;
    }
    /* xgb: columns 2g, 2g+1 interleaved, rows 8b .. 8b+7 */
#define MLP_ST1(g) \
    const float16 x##g##0 = MLP_IL1LO(c[2 * g], c[2 * g + 1]), x##g##1 = MLP_IL1HI(c[2 * g], c[2 * g + 1]);
    MLP_ST1(0) MLP_ST1(1) MLP_ST1(2) MLP_ST1(3)
    /* qhv: columns 4h .. 4h+3, rows 4v .. 4v+3, from the pairs ga, gb = 2h, 2h+1, rows 8b .. */
#define MLP_ST2(h, b, ga, gb, v0, v1) \
    const float16 q##h##v0 = MLP_IL2LO(x##ga##b, x##gb##b), q##h##v1 = MLP_IL2HI(x##ga##b, x##gb##b);
    MLP_ST2(0, 0, 0, 1, 0, 1) MLP_ST2(0, 1, 0, 1, 2, 3) MLP_ST2(1, 0, 2, 3, 0, 1) MLP_ST2(1, 1, 2, 3, 2, 3)
    /* rows 4v .. 4v+1, 4v+2 .. 4v+3: one float8 a row */
#define MLP_ST3(v)                                                                                           \
    {                                                                                                        \
        const float16 lo = MLP_IL4LO(q0##v, q1##v), hi = MLP_IL4HI(q0##v, q1##v);                            \
        __global float *pv = p + (size_t)(4 * v) * stride;                                                   \
        if (4 * v < nr) vstore8(lo.lo, 0, pv);                                                               \
        if (4 * v + 1 < nr) vstore8(lo.hi, 0, pv + stride);                                                  \
        if (4 * v + 2 < nr) vstore8(hi.lo, 0, pv + 2 * (size_t)stride);                                      \
        if (4 * v + 3 < nr) vstore8(hi.hi, 0, pv + 3 * (size_t)stride);                                      \
    }
    MLP_ST3(0) MLP_ST3(1) MLP_ST3(2) MLP_ST3(3)
}

/* c[j] = the 16 rows' p[min(i, nr - 1) * stride + min(j, nc - 1)], j < MLP_C. */
inline void mlp_load_tile_(__global const float *p, const uint stride, const uint nr, const uint nc, float16 *c)
{
    if (nc < MLP_C) {
        float t[MLP_C * MLP_R];
        for (uint i = 0; i < MLP_R; i++)
            for (uint j = 0; j < MLP_C; j++) t[j * MLP_R + i] = p[(size_t)min(i, nr - 1) * stride + min(j, nc - 1)];
        for (uint j = 0; j < MLP_C; j++) c[j] = vload16(j, t);
        return;
    }
    /* rows 4v .. 4v+3 (clamped to the last): qhv, columns 4h .. 4h+3 */
#define MLP_LD3(v)                                                                                           \
    float16 q0##v, q1##v;                                                                                    \
    {                                                                                                        \
        const float16 lo = (float16)(vload8(0, p + (size_t)min(4u * v, nr - 1) * stride),                     \
                                     vload8(0, p + (size_t)min(4u * v + 1, nr - 1) * stride));                \
        const float16 hi = (float16)(vload8(0, p + (size_t)min(4u * v + 2, nr - 1) * stride),                 \
                                     vload8(0, p + (size_t)min(4u * v + 3, nr - 1) * stride));                \
        q0##v = MLP_DL4A(lo, hi), q1##v = MLP_DL4B(lo, hi);                                                  \
    }
    MLP_LD3(0) MLP_LD3(1) MLP_LD3(2) MLP_LD3(3)
    /* xgb: columns 2g, 2g+1 interleaved, rows 8b .. 8b+7 */
#define MLP_LD2(h, b, ga, gb, v0, v1) \
    const float16 x##ga##b = MLP_DL2A(q##h##v0, q##h##v1), x##gb##b = MLP_DL2B(q##h##v0, q##h##v1);
    MLP_LD2(0, 0, 0, 1, 0, 1) MLP_LD2(0, 1, 0, 1, 2, 3) MLP_LD2(1, 0, 2, 3, 0, 1) MLP_LD2(1, 1, 2, 3, 2, 3)
#define MLP_LD1(g) c[2 * g] = MLP_DL1A(x##g##0, x##g##1), c[2 * g + 1] = MLP_DL1B(x##g##0, x##g##1);
    MLP_LD1(0) MLP_LD1(1) MLP_LD1(2) MLP_LD1(3)
}

/* One row p[0 .. n-1] into the column o[k * MLP_R] of a (n, R) tile in local
** memory, and into copy (when not 0).  By float8s: a vectorised scalar loop
** would scatter into o. */
inline void mlp_row_in_(__global const float *p, const size_t n, __global float *copy, __local float *o)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const float8 v = vload8(0, p + k);
        if (copy) vstore8(v, 0, copy + k);
        __local float *q = o + k * MLP_R;
        q[0] = v.s0, q[MLP_R] = v.s1, q[2 * MLP_R] = v.s2, q[3 * MLP_R] = v.s3;
        q[4 * MLP_R] = v.s4, q[5 * MLP_R] = v.s5, q[6 * MLP_R] = v.s6, q[7 * MLP_R] = v.s7;
    }
    for (; k < n; k++) {
        if (copy) copy[k] = p[k];
        o[k * MLP_R] = p[k];
    }
}

/* Forward of layer L for the group's rows: in (K, R) the transposed input;
** per task (MLP_C output columns) the 16 rows' Z and H stored row-major and
** H into out (N, R) for the next layer. */
inline void mlp_fwd_layer_(__global const ulong *L, const int last, __global const float *P, __global float *fwd,
                           __global float *logits, const float act_p, const uint r0, const uint nr,
                           __local const float *in, __local float *out)
{
    const uint N = (uint)L[MLP_N], K = (uint)L[MLP_K], lid = get_local_id(0), ls = get_local_size(0);
    const int act = (int)L[MLP_ACT], hasb = (int)L[MLP_HASB];
    __global const float *W = P + L[MLP_W];
    for (uint t = lid; t * MLP_C < N; t += ls) {
        const uint n0 = t * MLP_C, nc = min((uint)MLP_C, N - n0);
#define MLP_W_DECL(j) __global const float *w##j = W + (size_t)min(n0 + j, N - 1) * K;
#define MLP_FWD_FMA(j) acc##j = fma(a, (float16)(w##j[k]), acc##j);
        MLP_EACH(MLP_W_DECL)
        MLP_EACH(MLP_ACC_DECL)
        for (uint k = 0; k < K; k++) {
            const float16 a = vload16(k, in);
            MLP_EACH(MLP_FWD_FMA)
        }
        float16 z[MLP_C], h[MLP_C];
#define MLP_FWD_OUT(j)                                                                                               \
    z[j] = hasb ? acc##j + (float16)(P[L[MLP_B] + min(n0 + j, N - 1)]) : acc##j;                                     \
    if (!last) {                                                                                                     \
        h[j] = act_f16_(act, act_p, z[j]);                                                                           \
        if (j < nc) vstore16(h[j], n0 + j, out);                                                                     \
    }
        MLP_EACH(MLP_FWD_OUT)
        mlp_store_tile_(z, (last ? logits : fwd + L[MLP_Z]) + (size_t)r0 * N + n0, N, nr, nc);
        if (!last) mlp_store_tile_(h, fwd + L[MLP_H] + (size_t)r0 * N + n0, N, nr, nc);
    }
}

/* Backward through layer L (N, K) for the group's rows: in (N, R) its dZ
** transposed; per task (MLP_C input columns) the 16 rows' dH_{l-1} and
** dZ_{l-1} = dH_{l-1} * f'(Z_{l-1}) (Lp: layer l-1) stored row-major and
** dZ_{l-1} into out (K, R). */
inline void mlp_bwd_layer_(__global const ulong *L, __global const ulong *Lp, __global const float *P,
                           __global const float *fwd, __global float *bwd, const float act_p, const uint r0,
                           const uint nr, __local const float *in, __local float *out)
{
    const uint N = (uint)L[MLP_N], K = (uint)L[MLP_K], lid = get_local_id(0), ls = get_local_size(0);
    const int act = (int)Lp[MLP_ACT];
    __global const float *W = P + L[MLP_W];
    for (uint t = lid; t * MLP_C < K; t += ls) {
        const uint k0 = t * MLP_C, nc = min((uint)MLP_C, K - k0);
#define MLP_K_DECL(j) const uint kk##j = min(k0 + j, K - 1);
#define MLP_BWD_FMA(j) acc##j = fma(d, (float16)(wr[kk##j]), acc##j);
        MLP_EACH(MLP_K_DECL)
        MLP_EACH(MLP_ACC_DECL)
        for (uint n = 0; n < N; n++) {
            const float16 d = vload16(n, in);
            __global const float *wr = W + (size_t)n * K;
            MLP_EACH(MLP_BWD_FMA)
        }
        float16 dh[MLP_C], dz[MLP_C], z[MLP_C];
        if (act != ACT_IDENTITY) mlp_load_tile_(fwd + Lp[MLP_Z] + (size_t)r0 * K + k0, K, nr, nc, z);
#define MLP_BWD_OUT(j)                                                                                               \
    dh[j] = acc##j, dz[j] = acc##j;                                                                                  \
    if (act != ACT_IDENTITY) {                                                                                       \
        dz[j] = dz[j] * act_d16_(act, act_p, z[j]);                                                                  \
    }                                                                                                                \
    if (j < nc) vstore16(dz[j], k0 + j, out);
        MLP_EACH(MLP_BWD_OUT)
        mlp_store_tile_(dh, bwd + Lp[MLP_DH] + (size_t)r0 * K + k0, K, nr, nc);
        mlp_store_tile_(dz, bwd + Lp[MLP_DZ] + (size_t)r0 * K + k0, K, nr, nc);
    }
}

/* The loss gradient of the group's rows: dlogits and the last layer's dZ
** (loss_grad's values; MSE and BCE: one output per row), and the terms of
** the loss value (loss_value's: one per row for CE, per element else). */
inline void mlp_loss_grad_(const int loss, __global const float *logits, __global const float *yb, const uint B,
                           const uint K, const uint r0, const uint nr, __global float *dlogits, __global float *dz,
                           __global float *terms)
{
    const uint lid = get_local_id(0), ls = get_local_size(0);
    if (loss == LOSS_CE) {
        for (uint i = lid; i < nr; i += ls) {
            const size_t o = (size_t)(r0 + i) * K;
            loss_ce_grad_row_(logits + o, K, yb[r0 + i], (float)B, dlogits + o);
            for (uint c = 0; c < K; c++) dz[o + c] = dlogits[o + c];
            terms[r0 + i] = loss_ce_row_(logits + o, K, yb[r0 + i]);
        }
        return;
    }
    for (uint i = lid; i < nr * K; i += ls) {
        const size_t e = (size_t)r0 * K + i;
        const float g = loss_grad_elem_(loss, logits[e], yb[e], (ulong)B * K);
        dlogits[e] = g, dz[e] = g;
        terms[e] = loss == LOSS_MSE ? loss_mse_term_(logits[e], yb[e]) : loss_bce_term_(logits[e], yb[e]);
    }
}

/* loss_value of n <= LOSS_CHUNK terms (one chunk), by one work-item: the
** leaves, the 16 subtrees of 16 leaves, their tree, then / n. */
inline float mlp_loss_value_(__global const float *terms, const uint n)
{
    float2 lf[LOSS_LEAVES], l1[16];
    for (uint j = 0; j < LOSS_LEAVES; j++) {
        float s = -0.0f, c = 0.0f;
        for (uint u = j; u < n; u += LOSS_LEAVES) loss_nsum_(&s, &c, terms[u]);
        lf[j] = (float2)(s, c);
    }
    for (uint g = 0; g < 16; g++) l1[g] = loss_tree16_(lf + 16 * g);
    const float2 r = loss_tree16_(l1);
    return clg_div(isfinite(r.x) ? r.x + r.y : r.x, (float)n);
}

/* Global (ceil(B / MLP_R) * ls), local ls; s0, s1: maxw * MLP_R floats each
** (maxw the widest layer input or output). */
__kernel void mlp_rows(__global const float *x, __global const float *y, __global const uint *idx, const ulong idx_off,
                       const int gather, const uint B, const ulong row, __global float *xb, __global float *yb,
                       __global const float *P, __global float *fwd, __global float *bwd, __global float *logits,
                       __global float *dlogits, __global const ulong *tab, const int nlin, const float act_p,
                       const int loss, __global float *terms, __local float *s0, __local float *s1)
{
    const uint lid = get_local_id(0), ls = get_local_size(0), r0 = get_group_id(0) * MLP_R;
    const uint nr = min((uint)MLP_R, B - r0);
    for (uint i = lid; i < MLP_R; i += ls) { /* row by row, model_gather's copies if gather */
        const uint r = r0 + min(i, nr - 1);
        const int put = gather && i < nr;
        __global float *xr = xb + (size_t)r * row;
        mlp_row_in_(gather ? x + (size_t)idx[idx_off + r] * row : xr, row, put ? xr : 0, s0 + i);
        if (put) yb[r] = y[(size_t)idx[idx_off + r]];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    __local float *in = s0, *out = s1, *sw;
    for (int l = 0; l < nlin; l++) {
        mlp_fwd_layer_(tab + l * MLP_LF, l == nlin - 1, P, fwd, logits, act_p, r0, nr, in, out);
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        sw = in, in = out, out = sw;
    }
    __global const ulong *Lo = tab + (nlin - 1) * MLP_LF;
    const uint K = (uint)Lo[MLP_N];
    mlp_loss_grad_(loss, logits, yb, B, K, r0, nr, dlogits, bwd + Lo[MLP_DZ], terms);
    barrier(CLK_GLOBAL_MEM_FENCE);
    for (uint i = lid; i < MLP_R; i += ls) mlp_row_in_(dlogits + (size_t)(r0 + min(i, nr - 1)) * K, K, 0, in + i);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int l = nlin - 1; l > 0; l--) {
        mlp_bwd_layer_(tab + l * MLP_LF, tab + (l - 1) * MLP_LF, P, fwd, bwd, act_p, r0, nr, in, out);
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        sw = in, in = out, out = sw;
    }
}

/* dW (N, K) block: rows n0 .. n0 + MLP_C - 1, columns k0 .. k0 + 15 of
** dZ^T A (A: B rows of stride lda), the fma chain over the batch in order. */
inline void mlp_dw_task_(__global const float *dZ, const uint N, __global const float *A, const ulong lda,
                         const uint K, const uint B, const uint n0, const uint k0, __global float *dW)
{
    const uint nv = min(16u, K - k0);
#define MLP_N_DECL(j) const uint nn##j = min(n0 + j, N - 1);
#define MLP_DW_FMA(j) acc##j = fma((float16)(dz[nn##j]), av, acc##j);
    MLP_EACH(MLP_N_DECL)
    MLP_EACH(MLP_ACC_DECL)
    for (uint b = 0; b < B; b++) {
        __global const float *a = A + (size_t)b * lda + k0, *dz = dZ + (size_t)b * N;
        float16 av;
        if (nv == 16) av = vload16(0, a);
        else {
            float t[16];
            for (uint c = 0; c < 16; c++) t[c] = c < nv ? a[c] : 0.0f;
            av = vload16(0, t);
        }
        MLP_EACH(MLP_DW_FMA)
    }
#define MLP_DW_STORE(j)                                                                                      \
    if (n0 + j < N) {                                                                                        \
        if (nv == 16) vstore16(acc##j, 0, dW + (size_t)(n0 + j) * K + k0);                                   \
        else {                                                                                               \
            float t[16];                                                                                     \
            vstore16(acc##j, 0, t);                                                                          \
            for (uint c = 0; c < nv; c++) dW[(size_t)(n0 + j) * K + k0 + c] = t[c];                          \
        }                                                                                                    \
    }
    MLP_EACH(MLP_DW_STORE)
}

/* One work-item per task: the dW tasks and db tasks of every layer (table);
** item 0 also resets the gradient state at gs_off in the metrics block gs (as
** clip_gradstate_reset: include/clgrad/gradstate.h, NORM = 0, COEF =
** CLIPCOEF = 1, the rest 0), and item ntask (nterms > 0) writes the loss
** value of mlp_rows' terms at loss_off (loss_value's bits). */
__kernel void mlp_wgrad(__global const float *xb, const ulong row, __global const float *fwd,
                        __global const float *bwd, __global float *G, __global const ulong *tab, const int nlin,
                        const uint B, const ulong ntask, __global float *gs, const ulong gs_off,
                        __global const float *terms, const uint nterms, const ulong loss_off)
{
    const ulong t = get_global_id(0);
    if (t == 0) {
        for (int i = 0; i < 8; i++) gs[gs_off + i] = 0.0f;
        gs[gs_off + 1] = 1.0f, gs[gs_off + 4] = 1.0f;
    }
    if (t == ntask && nterms > 0) gs[loss_off] = mlp_loss_value_(terms, nterms); /* gs: the metrics block */
    if (t >= ntask) return;
    int l = 0;
    while (l + 1 < nlin && t >= tab[(l + 1) * MLP_LF + MLP_TW]) l++;
    __global const ulong *L = tab + l * MLP_LF;
    const uint N = (uint)L[MLP_N], K = (uint)L[MLP_K];
    __global const float *dZ = bwd + L[MLP_DZ];
    if (t < L[MLP_TB]) {
        const uint q = (uint)(t - L[MLP_TW]), nkb = (K + 15) / 16;
        __global const float *A = l == 0 ? xb : fwd + tab[(l - 1) * MLP_LF + MLP_H];
        mlp_dw_task_(dZ, N, A, l == 0 ? row : K, K, B, q / nkb * MLP_C, q % nkb * 16, G + L[MLP_W]);
        return;
    }
    const ulong j = (t - L[MLP_TB]) * 8, nc = clg_rest_(N, j);
    const ulong nb = (B + ACT_BG_BLOCK - 1) / ACT_BG_BLOCK;
    const act_nrec_ me = act_bias_grad_run_(dZ, 0, B, N, j, nc, 0, nb);
    const float8 v = select(me.s, me.s + me.c, isfinite(me.s));
    float o[8];
    vstore8(v, 0, o);
    for (ulong c = 0; c < nc && c < 8; c++) G[L[MLP_B] + j + c] = o[c];
}
