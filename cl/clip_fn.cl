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
