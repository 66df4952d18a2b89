/*
** clip_fn.cl: the scalar formulas of gradient clipping, a function library
** (no kernels) included after common.cl by clip.cl, whose kernels apply them
** to the statistics of cl/reduce.cl.  Semantics in clip.cl's header.
**
**   clip_nanmin_(a, b), clip_nanmax_(a, b)   NaN-propagating min / max
**   clip_norm_coef_(total, max_norm)         clip_grad_norm_'s COEF
**   clip_value_(x, v)                        clamp(x, -v, v), NaN stays NaN
**   clip_tensor_fac_(norm, c)                Keras clipnorm factor
**   clip_agc_fac_(wn, gn, clipping, eps)     AGC factor of one unit
**
** One source for device and host (tests/test_clip.c includes this file): the
** same float operations in the same order, divisions correctly rounded on
** both (common.cl), so the host build gives the kernels' bits.
*/

#ifdef __OPENCL_VERSION__
#define CLIP_FN inline
#define clip_fmin_ fmin
#define clip_fmax_ fmax
#else
#include <math.h>
#ifndef clg_div /* the host's division and sqrt are IEEE's: correctly rounded (cl/common.cl on devices) */
#define clg_div(a, b) ((a) / (b))
#define clg_sqrt sqrtf
#endif
#define CLIP_FN static inline
#define clip_fmin_ fminf
#define clip_fmax_ fmaxf
#endif

/* min and max that propagate NaN (as torch.clamp and jnp.maximum do; fmin/fmax drop it) */
CLIP_FN float clip_nanmin_(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : clip_fmin_(a, b); }
CLIP_FN float clip_nanmax_(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : clip_fmax_(a, b); }

/* clip_grad_norm_: COEF = min(1, max_norm / (total + 1e-6)), NaN-propagating. */
CLIP_FN float clip_norm_coef_(const float total, const float max_norm)
{
    return clip_nanmin_(1.0f, clg_div(max_norm, total + 1e-6f));
}

/* comparisons are false for NaN, so NaN stays NaN; +-Inf clamp to +-v */
CLIP_FN float clip_value_(const float x, const float v) { return x > v ? v : (x < -v ? -v : x); }

/* Keras clipnorm: c / max(||g_s||, c) (1 exactly when ||g_s|| <= c; NaN norm
** -> NaN, Inf norm -> 0). */
CLIP_FN float clip_tensor_fac_(const float norm, const float c) { return clg_div(c, clip_nanmax_(norm, c)); }

/* AGC (Optax): limit = clipping * max(||W_u||, eps); 1 when ||G_u|| < limit,
** else limit / max(||G_u||, 1e-6) (a NaN norm gives NaN, an Inf ||G_u|| 0). */
CLIP_FN float clip_agc_fac_(const float wn, const float gn, const float clipping, const float eps)
{
    const float limit = clipping * clip_nanmax_(wn, eps);
    return gn < limit ? 1.0f : clg_div(limit, clip_nanmax_(gn, 1e-6f));
}

/* ---- the gradient-state block and the divergence watch ----
** Pointers into device buffers on the device (CLIP_G = __global), plain
** pointers on the host.  The block's slots must match include/clgrad/gradstate.h. */
#ifdef __OPENCL_VERSION__
#define CLIP_G __global
#else
#define CLIP_G
#endif
#define GS_NORM 0
#define GS_COEF 1
#define GS_NONFINITE 2
#define GS_SKIP 3
#define GS_CLIPCOEF 4 /* include/clgrad/clip.h */
#define GS_SIZE 8
#define GS_PROPAGATE 0 /* clgrad_nonfinite_policy */
#define REC_HALT 5     /* CLGRAD_REC_HALT of include/clgrad/step.h */

/* Statistics record layout of cl/reduce.cl. */
#define RS_NORM2 1
#define RS_MAXABS 2
#define RS_NONFINITE 3

/* The block gs from the global statistics record r (sum, norm2, maxabs,
** count).  norm_inf: 1 for the inf-norm (max |g|), 0 for the 2-norm.
** do_clip: 1 for clip_grad_norm_ (COEF = min(1, max_norm / (total + 1e-6)),
** NaN-propagating), 0 to record the norm only (COEF = 1).  Under policy
** skip/stop a non-finite total sets SKIP = 1 and COEF = 1. */
CLIP_FN void clip_gradstate_fill_(CLIP_G const float *r, const int norm_inf, const int do_clip, const float max_norm,
                                  const int policy, CLIP_G float *gs)
{
    const float total = norm_inf ? r[RS_MAXABS] : r[RS_NORM2];
    const int nonfinite = !isfinite(total) || r[RS_NONFINITE] != 0.0f;
    float coef = 1.0f;
    if (do_clip) coef = clip_norm_coef_(total, max_norm);
    const int skip = nonfinite && policy != GS_PROPAGATE;
    gs[GS_NORM] = total;
    gs[GS_COEF] = skip ? 1.0f : coef;
    gs[GS_NONFINITE] = nonfinite ? 1.0f : 0.0f;
    gs[GS_SKIP] = skip ? 1.0f : 0.0f;
    gs[GS_CLIPCOEF] = coef;
}

/*
** Divergence watch (include/clgrad/step.h), every step, no host
** synchronisation: rec[0] first divergent step (0 = none yet), rec[1] kind
** (1 non-finite loss, 2 loss over its limit, 3 non-finite gradient, 4
** gradient norm over its limit), rec[2] the tensor where it appeared
** (scanning from the output towards the input: the first tensor with a
** non-finite gradient, or with a norm over the limit, else the one with the
** largest norm; -1 for loss kinds), rec[3] the largest finite-or-infinite
** (not NaN) global gradient norm so far, rec[4] the offending value.  L: the
** step's loss; gs: its gradient-state block; gstats: the per-tensor
** statistics records of the gradient.  Limits <= 0 are off.
*/
CLIP_FN void clip_diverge_check_(const float step, const float L, CLIP_G const float *gs, CLIP_G const float *gstats,
                                 const int ntensors, const float loss_limit, const float grad_limit, CLIP_G float *rec)
{
    const float norm = gs[GS_NORM];
    rec[3] = clip_fmax_(rec[3], norm); /* fmax ignores NaN */
    if (rec[0] != 0.0f) return;
    int kind = 0;
    float value = 0.0f;
    if (!isfinite(L)) kind = 1, value = L;
    else if (loss_limit > 0.0f && L > loss_limit) kind = 2, value = L;
    else if (!isfinite(norm) || gs[GS_NONFINITE] != 0.0f) kind = 3, value = norm;
    else if (grad_limit > 0.0f && norm > grad_limit) kind = 4, value = norm;
    if (kind == 0) return;
    int where = -1;
    if (kind >= 3) {
        float best = -1.0f;
        int bi = ntensors - 1;
        for (int t = ntensors - 1; t >= 0 && where < 0; t--) {
            const float nf = gstats[4 * t + RS_NONFINITE], n2 = gstats[4 * t + RS_NORM2];
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

/* A training step's watch (clip_gradstate and reduce_stats_final_gradstate with watch = 1, or 2 at a
** step that halts on a recorded divergence: stop_here).  A run that stops at a divergence ([diverge]
** action = stop) ends at the first log step whose record holds one; when its read-back lags, the steps
** already queued behind it run too, and rec[REC_HALT] makes them change nothing: set at a stop_here step
** once the record holds a divergence (after this step's check; the step's own update still runs), it
** makes every later step's block say skip (COEF 1), so the optimizers, ZClip and the log step's update
** write nothing.  Then clip_diverge_check_ as always. */
CLIP_FN void clip_watch_(const int stop_here, const float step, const float L, CLIP_G float *gs,
                         CLIP_G const float *gstats, const int ntensors, const float loss_limit,
                         const float grad_limit, CLIP_G float *rec)
{
    if (rec[REC_HALT] != 0.0f) gs[GS_SKIP] = 1.0f, gs[GS_COEF] = 1.0f;
    clip_diverge_check_(step, L, gs, gstats, ntensors, loss_limit, grad_limit, rec);
    if (stop_here && rec[0] != 0.0f) rec[REC_HALT] = 1.0f;
}
