/*
** clgrad/clip.h: gradient clipping on the device, with PyTorch / Keras /
** Optax semantics (docs/semantics.md), the gradient-state
** block (clgrad/gradstate.h) and float64 host references.
**
** Modes:
** - by global norm (torch.nn.utils.clip_grad_norm_, norm 2 or inf):
**     total = ||G|| over all segments; coef = min(1, max_norm / (total + 1e-6))
**     (float32, NaN-propagating min); every gradient *= coef (always, so a
**     clipped norm lands just under max_norm).  NORM holds the PRE-clip total.
** - by value (clip_grad_value_): g = clamp(g, -v, v); NaN stays NaN.
** - by norm per tensor (Keras clipnorm): g_s *= c / max(||g_s||, c) per segment.
** - AGC (Optax adaptive_grad_clip, Brock et al. 2021): per unit u (a row of a
**     weight matrix, or a whole bias vector: clgrad_segs_new_rows),
**     limit = clipping * max(||W_u||, eps); G_u kept if ||G_u|| < limit, else
**     G_u *= limit / max(||G_u||, 1e-6).
** - ZClip (Kumar et al. 2025, github.com/bluorion-com/ZClip, mode "zscore"):
**     clgrad_clip_record_norm, then clgrad_clip_zscore: a one-work-item kernel
**     that keeps (mean, var, count, warm-up norms) in a small device buffer
**     and sets COEF (fused into the optimizer, as for the global norm); see
**     clgrad_clip_zscore below.  Nothing is read back to the host.
** - none: clgrad_clip_record_norm records the norm and flags only (COEF = 1).
**
** Gradient-state contract (what the optimizer kernels rely on), at gs[gs_off]:
**   NORM       the global gradient norm before clipping (2-norm or max |g|),
**              float32; NaN or +Inf when a gradient is non-finite.  Log it.
**   COEF       the multiplier STILL TO BE APPLIED to every gradient: the
**              optimizer always uses g * COEF (fused into its update).  It is
**              min(1, max_norm/(NORM+1e-6)) after clgrad_clip_global_norm
**              with apply = 0; 1 after clgrad_clip_record_norm, after
**              clgrad_clip_scale (apply = 1: the gradients already carry the
**              factor, so it is consumed), after reset, and whenever SKIP = 1.
**   NONFINITE  1.0 when NORM is NaN or Inf (or any gradient is), else 0.0.
**   SKIP       1.0 when the step must not happen: the optimizer leaves
**              parameters AND its state (moments, step count) untouched, and
**              every clip kernel here leaves the gradients untouched.
**              Set iff NONFINITE and the policy is skip or stop.
**   CLGRAD_GS_CLIPCOEF (slot 4) the clip coefficient as computed, for
**              logging: min(1, max_norm/(NORM+1e-6)) (also when it was applied
**              in place or the step is skipped: then 0 or NaN for a
**              non-finite NORM), 1 for record-only and after reset.
** With policy propagate, a non-finite total gives COEF = 0 (Inf total: finite
** gradients become 0 and Inf ones NaN when multiplied) or NaN (NaN total: all
** NaN), as PyTorch does; SKIP stays 0.  Policy stop behaves as skip on the
** device; the driver stops the run when it reads SKIP (or NONFINITE).
**
** Order within one step: compute gradients -> one norm call
** (clgrad_clip_global_norm, or clgrad_clip_record_norm before value /
** per-tensor / AGC clipping) -> the clipping kernel -> the optimizer.  The
** norm calls overwrite NORM, COEF, NONFINITE, SKIP and CLIPCOEF, so
** clgrad_gradstate_reset is only needed when no norm is computed.
**
** Every function enqueues work and returns without waiting.  `stats` buffers
** receive the per-segment statistics of clgrad_reduce_stats (layout in
** clgrad/reduce.h), useful for per-tensor logging.  gs may be NULL where
** marked (no skip check).  Offsets are in floats.
*/
#ifndef CLGRAD_CLIP_H
#define CLGRAD_CLIP_H
#include "clgrad/core.h"
#include "clgrad/gradstate.h"
#include "clgrad/reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The clip coefficient for logging; gradstate.h reserves slots 4..7 (the
** lead may move this there). */
#define CLGRAD_GS_CLIPCOEF 4

typedef enum {
    CLGRAD_NORM_L2 = 0, /* 2-norm */
    CLGRAD_NORM_INF = 1 /* max |g| (NaN-propagating) */
} clgrad_norm_type;

/* NORM = 0, COEF = CLIPCOEF = 1, NONFINITE = SKIP = 0 (the other fields 0). */
clgrad_status clgrad_gradstate_reset(clgrad_ctx *ctx, cl_mem gs, size_t gs_off);

/* clip_grad_norm_: statistics of the segments of g (at goff + off[s]) into
** stats[stats_off .. + 4*(T+1)), then NORM, COEF, NONFINITE, SKIP into gs;
** apply = 1 also multiplies the gradients by COEF in place (unless SKIP) and
** consumes it (clgrad_clip_scale).  max_norm > 0. */
clgrad_status clgrad_clip_global_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, float max_norm,
                                      clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off, int apply);
/* Clipping "none" (or before value / per-tensor / AGC clipping): the same
** statistics and NORM, NONFINITE, SKIP by the policy, COEF = 1. */
clgrad_status clgrad_clip_record_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, clgrad_nonfinite_policy policy,
                                      cl_mem gs, size_t gs_off);
/* g *= gs[COEF] over the segments of g, unless gs[SKIP]; then COEF = 1 (the
** factor is now in g; CLIPCOEF keeps it for the log).  gs required. */
clgrad_status clgrad_clip_scale(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem gs,
                                size_t gs_off);
/* g[off .. off+n) = clamp(g, -v, v), NaN stays NaN, unless gs[SKIP] (gs may be NULL).  v >= 0. */
clgrad_status clgrad_clip_value(clgrad_ctx *ctx, cl_mem g, size_t off, size_t n, float v, cl_mem gs, size_t gs_off);
/* Keras clipnorm per segment: stats[stats_off ..] gets the pre-clip statistics
** (4*(T+1) floats), then g_s *= c / max(||g_s||, c), unless gs[SKIP] (gs may be NULL).  c > 0. */
clgrad_status clgrad_clip_tensor_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, float c, cl_mem gs, size_t gs_off);
/* AGC per unit (a segment of `units`, e.g. from clgrad_segs_new_rows): W at
** woff + off[u], G at goff + off[u].  stats[stats_off ..] gets the statistics
** of W (4*(U+1) floats) then of G (4*(U+1) floats), pre-clip.  Unless
** gs[SKIP] (gs may be NULL).  clipping > 0, eps > 0 (Optax default 1e-3). */
clgrad_status clgrad_clip_agc(clgrad_ctx *ctx, cl_mem w, size_t woff, cl_mem g, size_t goff, const clgrad_segs *units,
                              cl_mem stats, size_t stats_off, float clipping, float eps, cl_mem gs, size_t gs_off);

/* ZClip's settings (zclip.py's arguments, its defaults in brackets). */
typedef struct clgrad_zclip_params {
    double alpha;        /* (0, 1): EMA factor [0.97] */
    double z_thresh;     /* > 0 [2.5] */
    long warmup_steps;   /* >= 1: norms collected before the statistics exist [25] */
    int option_mean;     /* clip_option: 0 adaptive_scaling [default], 1 mean */
    double clip_factor;  /* > 0: multiplies the adaptive threshold [1.0] */
    double max_norm;     /* max_grad_norm, > 0; +Inf = None [1.0] */
    int skip_update_on_spike; /* [false] */
} clgrad_zclip_params;

/* The ZClip state buffer: CLGRAD_ZCLIP_STATE + warmup_steps floats, zeroed
** before the first step (clgrad_buf_fill).  Slots: MEAN, VAR, COUNT (norms
** collected, == warmup_steps once the statistics exist), Z and THRESH (the
** last step's z-score and threshold, NaN when none), then the warm-up norms. */
#define CLGRAD_ZCLIP_MEAN 0
#define CLGRAD_ZCLIP_VAR 1
#define CLGRAD_ZCLIP_COUNT 2
#define CLGRAD_ZCLIP_Z 3
#define CLGRAD_ZCLIP_THRESH 4
#define CLGRAD_ZCLIP_STATE 8
size_t clgrad_zclip_state_floats(const clgrad_zclip_params *p);

/* One ZClip step from gs[NORM] (after clgrad_clip_record_norm), in float32 on
** the device, one work-item, the reference's order of operations:
**   SKIP set: nothing changes (COEF stays 1).
**   warm-up (COUNT < warmup_steps): a finite NORM is stored, COUNT++; at
**     COUNT == warmup_steps MEAN = their mean, VAR = their population variance
**     (fixed order, two passes); COEF = clip_grad_norm_'s min(1, max_norm /
**     (NORM + 1e-6)) (1 with max_norm = inf).
**   after: std = sqrt(VAR) (cl/common.cl's correctly rounded clg_sqrt),
**     z = (NORM - MEAN) / (std + 1e-6); spike iff z > z_thresh; then
**     threshold = (MEAN + z_thresh*std / (z / z_thresh)) * clip_factor
**     (adaptive_scaling: MEAN + z_thresh^2 std / z) or MEAN (mean);
**     eff = min(spike ? threshold : NORM, max_norm);
**     COEF = NORM > eff ? eff / (NORM + 1e-6) : 1;
**     unless (spike and skip_update_on_spike) or the value is not finite:
**     x = spike ? threshold : NORM; MEAN = alpha MEAN + (1-alpha) x;
**     VAR = alpha VAR + (1-alpha) (x - MEAN)^2 (the new MEAN, as zclip.py).
** Deviation from zclip.py: a non-finite NORM is never stored nor averaged in
** (the reference would poison its statistics with it for good).
** CLIPCOEF = COEF (logged as clip_coef). */
clgrad_status clgrad_clip_zscore(clgrad_ctx *ctx, const clgrad_zclip_params *p, cl_mem zs, cl_mem gs, size_t gs_off);

#ifdef __cplusplus
}
#endif
#endif
