/*
** loss.cl: losses with PyTorch's default mean reduction: gradient, value and
** accuracy, all on the device.
**
** `loss` is a clgrad_loss value (include/clgrad/loss.h; LOSS_* below match it).
**   MSE  pred (rows, cols), target (rows, cols): mean of (pred - target)^2 (no 1/2)
**   BCE  logits z (rows, cols), targets y (rows, cols), binary cross-entropy
**        with logits: mean of max(z,0) - z y + log1p(exp(-|z|)), written as
**        (z > 0 ? z (1-y) : -z y) + log1p(exp(-|z|)) so that z = ±Inf gives the
**        limit (0 when the prediction is right, +Inf when wrong), not Inf - Inf
**   CE   logits z (rows, K = cols), targets (rows) holding integer class ids
**        as floats: mean over rows of lse(z_row) - z[t] with the max m
**        subtracted, evaluated as (m - z[t]) + log(sum_k exp(z_k - m)) so
**        that logits of ±1e4 lose nothing to cancellation.  A target that is
**        not an integer in [0, K) (or NaN) makes that row's loss and gradient
**        NaN (PyTorch raises an error).  A +Inf logit gives NaN, as in PyTorch.
**
** Kernels
**   loss_grad(loss, pred, poff, target, toff, grad, goff, rows, cols)
**       dL/dpred (same shape as pred), already divided by the count:
**       MSE 2 (p - y) / n, BCE (sigmoid(z) - y) / n with n = rows * cols,
**       CE (softmax(z_row) - onehot(t)) / rows.  One work-item per element
**       (MSE, BCE) or per row (CE).  grad may be pred (same offset).
**   loss_value(loss, pred, poff, target, toff, rows, cols, out, ooff)
**       out[ooff] = the loss (float), no host round trip.
**   loss_accuracy(loss, pred, poff, target, toff, rows, cols, out, ooff)
**       out[ooff] = number of correct predictions, as a float (exact up to
**       2^24): CE argmax(z_row) == t (ties: the first max; a row with a NaN
**       logit or an invalid target is wrong), BCE per element (z > 0) == (y > 0.5)
**       (a NaN logit is wrong).  Not defined for MSE (the host rejects it).
**
** loss_value: the mean of the terms (elements, or rows for CE) u = 0 .. n-1
** summed in an order that is a function of n alone, whatever the work-group
** size (LOSS_LEAF and LOSS_LEAVES are part of the numeric definition, not tunables;
** clgrad_loss_sum_replica in src/ops/loss.c is the same order in host float32):
**   records are Neumaier pairs (s, c), value s + c (s when s is not finite:
**   Inf - Inf in c must not turn an Inf sum into NaN); identity (-0.0, +0.0);
**   adding a term x (loss_nsum_): t = s + x, c = c + (|s| >= |x| ?
**   (s - t) + x : (x - t) + s), s = t;  merge(a, b) (loss_nmerge_):
**   t = a.s + b.s, c = (a.c + b.c) + (|a.s| >= |b.s| ? (a.s - t) + b.s
**   : (b.s - t) + a.s), s = t.
**   The terms are cut into chunks of 8192 (LOSS_CHUNK; the last one
**   partial); leaf j (0 <= j < 256 = LOSS_LEAVES) of chunk ch holds the terms
**   8192 ch + j + 256 k, k = 0 .. 31 (those below n), added in order of k to
**   the identity; the chunk is the balanced pairwise tree
**   merge(merge(L0, L1), merge(L2, L3)) ... over its 256 leaves (empty
**   leaves, at the end, are identities); the total is the balanced pairwise
**   tree over the chunks padded with identities to the next power of two
**   (c is never -0, so a merge with the identity keeps the value: the padding
**   is skipped); the loss = value / (float)n.
** It runs as ONE work-group of CLGRAD_WG items, chunk after chunk: item l
** computes the leaves l, l + WG, ... (at each step consecutive items read
** consecutive terms: coalesced on GPUs, vectorisable across items on CPUs)
** into local memory; 16 items evaluate the 16 subtrees of 16 leaves, item 0
** their tree and keeps the chunk records on a binary-counter stack (as in
** cl/reduce.cl), folded at the end.  Deterministic (no atomics) and accurate
** for large batches: about 2u sum |terms| plus second-order terms, whatever
** n (a plain running sum would add up to n u), see the bound in src/ops/loss.c.
** loss_accuracy: one work-group of CLGRAD_WG items, item l counts the terms
** l, l + WG, ... as a uint, the counts are added in a local tree: integer
** additions are exact in any order, so the count (and the float written, exact
** up to 2^24) does not depend on the work-group size either.
*/

/* The per-element formulas (LOSS_MSE/BCE/CE, loss_*_term_, loss_ce_row_,
** loss_grad_elem_, loss_ce_grad_row_, loss_class_) and the sum's records
** (loss_nsum_, loss_nmerge_, loss_tree16_, LOSS_LEAF, LOSS_LEAVES) are in loss_fn.cl,
** included before this file and compiled on the host too (tests/test_loss.c). */

__kernel void loss_grad(const int loss, __global const float *pred, const ulong poff, __global const float *target,
                        const ulong toff, __global float *grad, const ulong goff, const ulong rows, const ulong cols)
{
    size_t i = get_global_id(0);
    if (loss == LOSS_CE) {
        if (i >= rows) return;
        loss_ce_grad_row_(pred + poff + i * cols, cols, target[toff + i], (float)rows, grad + goff + i * cols);
        return;
    }
    ulong n = rows * cols;
    if (i >= n) return;
    grad[goff + i] = loss_grad_elem_(loss, pred[poff + i], target[toff + i], n);
}

#define LOSS_R (CLGRAD_WG < LOSS_LEAVES ? LOSS_LEAVES / CLGRAD_WG : 1) /* leaves per work-item */
#define LOSS_STACK 48 /* binary-counter stack over the chunks */

__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1)))
void loss_value(const int loss, __global const float *pred, const ulong poff, __global const float *target,
                const ulong toff, const ulong rows, const ulong cols, __global float *out, const ulong ooff)
{
    __local float2 lf[LOSS_LEAVES], l1[16];
    const uint l = get_local_id(0);
    const ulong n = loss == LOSS_CE ? rows : rows * cols, nch = (n + LOSS_CHUNK - 1) / LOSS_CHUNK;
    float2 stk[LOSS_STACK]; /* item 0's chunk records */
    uint sp = 0;
    for (ulong ch = 0; ch < nch; ch++) {
        const ulong base = ch * LOSS_CHUNK;
        /* leaves j = l, l + WG, ...: at each step consecutive items take consecutive terms */
        for (uint i = 0; i < LOSS_R; i++) {
            const uint j = l + i * CLGRAD_WG;
            if (j >= LOSS_LEAVES) break;
            float s = -0.0f, c = 0.0f;
            const ulong u0 = base + j;
            const ulong u1 = min(base + LOSS_CHUNK, n); /* terms u0, u0 + 256, ... below u1 */
            /* one loop per loss: no branch per term */
            if (loss == LOSS_MSE)
                for (ulong u = u0; u < u1; u += LOSS_LEAVES) loss_nsum_(&s, &c, loss_mse_term_(pred[poff + u], target[toff + u]));
            else if (loss == LOSS_BCE)
                for (ulong u = u0; u < u1; u += LOSS_LEAVES) loss_nsum_(&s, &c, loss_bce_term_(pred[poff + u], target[toff + u]));
            else
                for (ulong u = u0; u < u1; u += LOSS_LEAVES)
                    loss_nsum_(&s, &c, loss_ce_row_(pred + poff + u * cols, cols, target[toff + u]));
            lf[j] = (float2)(s, c);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* the chunk's balanced tree over its 256 leaves: 16 subtrees of 16, then their tree */
        for (uint g = l; g < 16; g += CLGRAD_WG) {
            float2 t[16];
            for (uint i = 0; i < 16; i++) t[i] = lf[16 * g + i];
            l1[g] = loss_tree16_(t);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l == 0) {
            float2 t[16];
            for (uint i = 0; i < 16; i++) t[i] = l1[i];
            stk[sp++] = loss_tree16_(t);
            /* binary counter over the chunks: merge the top two once per trailing 0 bit of ch + 1 */
            for (ulong q = ch + 1; (q & 1) == 0; q >>= 1, sp--) stk[sp - 2] = loss_nmerge_(stk[sp - 2], stk[sp - 1]);
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* lf and l1 are reused by the next chunk */
    }
    if (l == 0) {
        /* the chunks padded to a power of two with identities: fold the stack from the top */
        float2 r = sp > 0 ? stk[sp - 1] : (float2)(-0.0f, 0.0f);
        for (uint q = sp > 0 ? sp - 1 : 0; q > 0; q--) r = loss_nmerge_(stk[q - 1], r);
        out[ooff] = clg_div(isfinite(r.x) ? r.x + r.y : r.x, (float)n);
    }
}

__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1)))
void loss_accuracy(const int loss, __global const float *pred, const ulong poff, __global const float *target,
                   const ulong toff, const ulong rows, const ulong cols, __global float *out, const ulong ooff)
{
    __local uint part[CLGRAD_WG];
    const size_t l = get_local_id(0);
    const ulong n = loss == LOSS_CE ? rows : rows * cols;
    uint cnt = 0;
    for (ulong u = l; u < n; u += CLGRAD_WG) {
        if (loss == LOSS_CE) {
            __global const float *z = pred + poff + u * cols;
            long t = loss_class_(target[toff + u], cols);
            ulong arg = 0;
            float best = z[0];
            int bad = isnan(best);
            for (ulong k = 1; k < cols; k++) {
                float v = z[k];
                bad |= isnan(v);
                if (v > best) best = v, arg = k;
            }
            cnt += !bad && t >= 0 && (long)arg == t;
        } else {
            float z = pred[poff + u];
            cnt += !isnan(z) && ((z > 0.0f) == (target[toff + u] > 0.5f));
        }
    }
    part[l] = cnt;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t w = CLGRAD_WG / 2; w > 0; w >>= 1) {
        if (l < w) part[l] += part[l + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[ooff] = (float)part[0];
}
