/*
** model.cl: kernels the models need beyond the kernel families: activation
** statistics for the per-layer metrics, and the parameter difference for the
** update ratio.
**
** model_act_stats: h (B, H) -> out[0..3) = mean |h|, the fraction of elements
** saturated, the fraction of dead units.  "Saturated": sigmoid h < 0.01 or
** h > 0.99; tanh and softsign |h| > 0.99 (where f' < ~0.02 of its maximum);
** other activations 0.  "Dead unit": a unit whose output is exactly 0 for
** every sample of the batch (relu; for other activations it is rare but is
** counted the same way).  One work-group of CLGRAD_WG items: item i handles
** units i, i+WG, ...; each unit sums its column over the batch in order; then
** a fixed local tree.  Deterministic.
*/
#define ACT_KIND_SIGMOID 1
#define ACT_KIND_TANH 2
#define ACT_KIND_SOFTSIGN 7

__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1))) void model_act_stats(
    const int kind, const int B, const int H, __global const float *h, const ulong hoff, __global float *out,
    const ulong ooff)
{
    __local float s_abs[CLGRAD_WG], s_sat[CLGRAD_WG], s_dead[CLGRAD_WG];
    const int lid = get_local_id(0);
    h += hoff;
    float a = 0.0f, sat = 0.0f, dead = 0.0f;
    for (int j = lid; j < H; j += CLGRAD_WG) {
        float col = 0.0f, scol = 0.0f;
        int nonzero = 0;
        for (int b = 0; b < B; b++) {
            float v = h[(size_t)b * H + j];
            col += fabs(v);
            nonzero |= v != 0.0f;
            if (kind == ACT_KIND_SIGMOID) scol += (v < 0.01f || v > 0.99f) ? 1.0f : 0.0f;
            else if (kind == ACT_KIND_TANH || kind == ACT_KIND_SOFTSIGN) scol += fabs(v) > 0.99f ? 1.0f : 0.0f;
        }
        a += col;
        sat += scol;
        dead += nonzero ? 0.0f : 1.0f;
    }
    s_abs[lid] = a, s_sat[lid] = sat, s_dead[lid] = dead;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = CLGRAD_WG / 2; w > 0; w >>= 1) {
        if (lid < w) {
            s_abs[lid] += s_abs[lid + w];
            s_sat[lid] += s_sat[lid + w];
            s_dead[lid] += s_dead[lid + w];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        float n = (float)B * (float)H;
        out[ooff + 0] = s_abs[0] / n;
        out[ooff + 1] = s_sat[0] / n;
        out[ooff + 2] = s_dead[0] / (float)H;
    }
}

/* d (n) = a (n) - b (n) */
__kernel void model_sub(__global const float *a, const ulong aoff, __global const float *b, const ulong boff,
                        __global float *d, const ulong doff, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n) d[doff + i] = a[aoff + i] - b[boff + i];
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

/*
** Divergence watch, one work-item, every step, no host synchronisation:
** rec[0] first divergent step (0 = none yet), rec[1] kind (1 non-finite loss,
** 2 loss over its limit, 3 non-finite gradient, 4 gradient norm over its
** limit), rec[2] the tensor where it appeared (scanning from the output
** towards the input: the first tensor with a non-finite gradient, or with a
** norm over the limit, else the one with the largest norm; -1 for loss
** kinds), rec[3] the largest finite-or-infinite (not NaN) global gradient norm
** so far, rec[4] the offending value.  Limits <= 0 are off.
*/
__kernel void model_diverge_check(const float step, __global const float *loss, const ulong loss_off,
                                  __global const float *gs, const ulong gs_off, __global const float *gstats,
                                  const ulong gst_off, const int ntensors, const float loss_limit,
                                  const float grad_limit, __global float *rec, const ulong rec_off)
{
    if (get_global_id(0) != 0) return;
    rec += rec_off;
    float norm = gs[gs_off + 0]; /* CLGRAD_GS_NORM */
    rec[3] = fmax(rec[3], norm); /* fmax ignores NaN */
    if (rec[0] != 0.0f) return;
    float L = loss[loss_off];
    int kind = 0;
    float value = 0.0f;
    if (!isfinite(L)) kind = 1, value = L;
    else if (loss_limit > 0.0f && L > loss_limit) kind = 2, value = L;
    else if (!isfinite(norm) || gs[gs_off + 2] != 0.0f) kind = 3, value = norm;
    else if (grad_limit > 0.0f && norm > grad_limit) kind = 4, value = norm;
    if (kind == 0) return;
    int where = -1;
    if (kind >= 3) {
        float best = -1.0f;
        int bi = ntensors - 1;
        for (int t = ntensors - 1; t >= 0 && where < 0; t--) {
            float nf = gstats[gst_off + 4 * t + 3], n2 = gstats[gst_off + 4 * t + 1];
            if (kind == 3 && (nf != 0.0f || !isfinite(n2))) where = t;
            if (kind == 4 && n2 > grad_limit) where = t;
            if (n2 > best) best = n2, bi = t;
        }
        if (where < 0) where = bi;
    }
    rec[0] = step;
    rec[1] = (float)kind;
    rec[2] = (float)where;
    rec[4] = value;
}
