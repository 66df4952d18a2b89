/*
** clip.cl: gradient clipping (PyTorch / Keras / Optax semantics, see
** docs/semantics.md) and the gradient-state block.
**
** The gradient-state block gs (include/clgrad/gradstate.h) is CLGRAD_GS_SIZE
** floats at gs[gs_off]: NORM, COEF, NONFINITE, SKIP, CLIPCOEF (the contract is
** in include/clgrad/clip.h).  clip_gradstate writes it from the statistics of
** cl/reduce.cl; every gradient-changing kernel here takes it (use_gs = 1) and
** changes nothing when SKIP != 0.
**
** Kernels:
**   clip_gradstate_reset  NORM = 0, COEF = CLIPCOEF = 1, NONFINITE = SKIP = 0 (one work-item)
**   clip_gradstate        from the global stats: NORM, COEF and CLIPCOEF
**                         (clip_grad_norm_'s coefficient, or 1), NONFINITE, SKIP
**                         (policy), then optionally the step's divergence watch
**                         (one work-item; reduce_stats_final_gradstate of
**                         cl/reduce.cl does the same after the statistics'
**                         second launch, in it, for tables of few segments)
**   clip_scale            g *= COEF over the segments of a table (clip_grad_norm_'s multiply)
**   clip_scale_consume    then COEF = 1: the factor is in g, the optimizer must not apply it again
**   clip_value            g = clamp(g, -v, v), NaN stays NaN (clip_grad_value_)
**   clip_tensor_norm      per segment g *= c / max(||g||, c) (Keras clipnorm)
**   clip_agc              per unit (segment) AGC from ||W_u||, ||G_u|| (Optax)
**   clip_zscore           ZClip (Kumar et al. 2025): COEF from NORM and the EMA
**                         statistics in zs (one work-item; include/clgrad/clip.h)
** The segment kernels walk the chunk partition of the table built by
** clgrad_segs_new (cl/reduce.cl describes it): one work-group per chunk.
*/

/* The block's slots (GS_*), the statistics record's (RS_*), the block's
** formulas (clip_gradstate_fill_) and the divergence watch
** (clip_diverge_check_) are in clip_fn.cl. */

/* The scalar formulas (clip_nanmin_ / clip_nanmax_, the COEF, the clamp, the
** per-tensor and AGC factors) are in clip_fn.cl, included before this file
** and compiled on the host too (tests/test_clip.c). */

inline int clip_skipped_(__global const float *gs, const ulong gs_off, const int use_gs)
{
    return use_gs && gs[gs_off + GS_SKIP] != 0.0f;
}

__kernel void clip_gradstate_reset(__global float *gs, const ulong gs_off)
{
    if (get_global_id(0) != 0) return;
    for (int i = 0; i < GS_SIZE; i++) gs[gs_off + i] = 0.0f;
    gs[gs_off + GS_COEF] = 1.0f;
    gs[gs_off + GS_CLIPCOEF] = 1.0f;
}

/* stats + st_off: the per-segment records of the gradient (nseg of them),
** then the global record, from which clip_gradstate_fill_ writes the block.
** watch: then the divergence watch of step `step` (clip_watch_, 2: a step
** that halts on a recorded divergence; clip_diverge_check_: the loss at
** loss + loss_off, the record at rec + rec_off) over the nseg segments (the
** model's tensors). */
__kernel void clip_gradstate(__global const float *stats, const ulong st_off, const uint nseg, const int norm_inf,
                             const int do_clip, const float max_norm, const int policy, __global float *gs,
                             const ulong gs_off, const int watch, const float step, __global const float *loss,
                             const ulong loss_off, const float loss_limit, const float grad_limit,
                             __global float *rec, const ulong rec_off)
{
    if (get_global_id(0) != 0) return;
    clip_gradstate_fill_(stats + st_off + 4 * (ulong)nseg, norm_inf, do_clip, max_norm, policy, gs + gs_off);
    if (watch)
        clip_watch_(watch == 2, step, loss[loss_off], gs + gs_off, stats + st_off, (int)nseg, loss_limit, grad_limit,
                    rec + rec_off);
}

/* Multiply the elements of this work-group's chunk by its segment's factor
** f(s); f is an expression of s.  One work-group per chunk. */
#define CLIP_CHUNK_SCALE(g, goff, tab, nseg, chunk, f)                                                 \
    do {                                                                                               \
        const ulong c_ = get_group_id(0);                                                              \
        __global const ulong *cstart_ = (tab) + 2 * (ulong)(nseg);                                     \
        const uint s = clg_segment_of_(cstart_, (nseg), c_);                                           \
        const ulong b_ = (c_ - cstart_[s]) * (chunk), len_ = (tab)[(nseg) + s];                        \
        const ulong e_ = min(b_ + (chunk), len_);                                                      \
        __global float *p_ = (g) + (goff) + (tab)[s];                                                  \
        const float f_ = (f);                                                                          \
        for (ulong i = b_ + get_local_id(0); i < e_; i += get_local_size(0)) p_[i] = p_[i] * f_;       \
    } while (0)

__kernel void clip_scale(__global float *g, const ulong goff, __global const ulong *tab, const uint nseg,
                         const ulong chunk, __global const float *gs, const ulong gs_off)
{
    if (clip_skipped_(gs, gs_off, 1)) return;
    CLIP_CHUNK_SCALE(g, goff, tab, nseg, chunk, gs[gs_off + GS_COEF]);
}

__kernel void clip_scale_consume(__global float *gs, const ulong gs_off)
{
    if (get_global_id(0) == 0) gs[gs_off + GS_COEF] = 1.0f;
}

__kernel void clip_value(__global float *g, const ulong goff, const ulong n, const float v,
                         __global const float *gs, const ulong gs_off, const int use_gs)
{
    const ulong i = get_global_id(0);
    if (i >= n || clip_skipped_(gs, gs_off, use_gs)) return;
    const float x = g[goff + i];
    g[goff + i] = clip_value_(x, v);
}

/* Keras clipnorm: factor c / max(||g_s||, c) (1 exactly when ||g_s|| <= c;
** NaN norm -> NaN, Inf norm -> 0). stats + st_off: per-segment records of g. */
inline float clip_tensor_factor_(__global const float *stats, const uint s, const float c)
{
    return clip_tensor_fac_(stats[4 * (ulong)s + RS_NORM2], c);
}

__kernel void clip_tensor_norm(__global float *g, const ulong goff, __global const ulong *tab, const uint nseg,
                               const ulong chunk, __global const float *stats, const ulong st_off, const float c,
                               __global const float *gs, const ulong gs_off, const int use_gs)
{
    if (clip_skipped_(gs, gs_off, use_gs)) return;
    CLIP_CHUNK_SCALE(g, goff, tab, nseg, chunk, clip_tensor_factor_(stats + st_off, s, c));
}

/* AGC (Optax adaptive_grad_clip): limit = clipping * max(||W_u||, eps);
** G_u kept when ||G_u|| < limit, else G_u *= limit / max(||G_u||, 1e-6).
** Written as Optax's where(gnorm < limit, g, clipped), so a NaN norm (of W or
** G) gives NaN and an Inf ||G_u|| gives 0 * G (propagation, as PyTorch).
** wstats, gstats: per-unit records of W and G (stats + wst_off, + gst_off). */
inline float clip_agc_factor_(__global const float *wstats, __global const float *gstats, const uint s,
                              const float clipping, const float eps)
{
    return clip_agc_fac_(wstats[4 * (ulong)s + RS_NORM2], gstats[4 * (ulong)s + RS_NORM2], clipping, eps);
}

__kernel void clip_agc(__global float *g, const ulong goff, __global const ulong *tab, const uint nseg,
                       const ulong chunk, __global const float *stats, const ulong wst_off, const ulong gst_off,
                       const float clipping, const float eps, __global const float *gs, const ulong gs_off,
                       const int use_gs)
{
    if (clip_skipped_(gs, gs_off, use_gs)) return;
    CLIP_CHUNK_SCALE(g, goff, tab, nseg, chunk, clip_agc_factor_(stats + wst_off, stats + gst_off, s, clipping, eps));
}

/* ZClip state slots (include/clgrad/clip.h). */
#define ZS_MEAN 0
#define ZS_VAR 1
#define ZS_COUNT 2
#define ZS_Z 3
#define ZS_THRESH 4
#define ZS_STATE 8

/* One ZClip step (zclip.py, mode zscore), float32, one work-item; the rule is
** in include/clgrad/clip.h (clgrad_clip_zscore).  max_norm = +Inf: none. */
__kernel void clip_zscore(__global float *zs, const float alpha, const float z_thresh, const uint warmup,
                          const int option_mean, const float clip_factor, const float max_norm, const int skip_update,
                          __global float *gs, const ulong gs_off)
{
    if (get_global_id(0) != 0) return;
    if (gs[gs_off + GS_SKIP] != 0.0f) return;
    const float total = gs[gs_off + GS_NORM];
    const uint count = (uint)zs[ZS_COUNT];
    float coef = 1.0f, z = NAN, thr = NAN;
    if (count < warmup) {
        if (isfinite(total)) {
            zs[ZS_STATE + count] = total;
            zs[ZS_COUNT] = (float)(count + 1);
            if (count + 1 == warmup) {
                float sum = 0.0f;
                for (uint i = 0; i < warmup; i++) sum = sum + zs[ZS_STATE + i];
                const float n = (float)warmup, mean = clg_div(sum, n);
                float ss = 0.0f;
                for (uint i = 0; i < warmup; i++) {
                    const float d = zs[ZS_STATE + i] - mean;
                    ss = ss + d * d;
                }
                zs[ZS_MEAN] = mean;
                zs[ZS_VAR] = clg_div(ss, n);
            }
        }
        if (isfinite(max_norm)) coef = clip_norm_coef_(total, max_norm);
    } else {
        float mean = zs[ZS_MEAN], var = zs[ZS_VAR];
        const float sd = clg_sqrt(var);
        z = clg_div(total - mean, sd + 1e-6f);
        const int spike = z > z_thresh;
        if (spike) {
            if (option_mean) thr = mean;
            else {
                const float eta = clg_div(z, z_thresh);
                thr = (mean + clg_div(z_thresh * sd, eta)) * clip_factor;
            }
        }
        const float adaptive = spike ? thr : total;
        const float eff = isfinite(max_norm) ? clip_fmin_(adaptive, max_norm) : adaptive;
        coef = total > eff ? clg_div(eff, total + 1e-6f) : 1.0f;
        const float x = spike ? thr : total;
        if (!(spike && skip_update) && isfinite(x)) {
            mean = alpha * mean + (1.0f - alpha) * x;
            const float d = x - mean;
            var = alpha * var + (1.0f - alpha) * (d * d);
            zs[ZS_MEAN] = mean;
            zs[ZS_VAR] = var;
        }
    }
    zs[ZS_Z] = z;
    zs[ZS_THRESH] = thr;
    gs[gs_off + GS_COEF] = coef;
    gs[gs_off + GS_CLIPCOEF] = coef;
}
