/*
** optim_fn.cl: the per-parameter updates of the optimizers, a function
** library (no kernels) included after common.cl by optim.cl, whose kernels
** load 8 parameters, their gradients (times the gradient-state COEF) and
** state as float8, call these, and store the results.  The semantics are in
** optim.cl's comments and include/clgrad/optim.h.
**
**   optim_sgd_upd_(theta, d, &b, ...)            -> new theta; b momentum buffer
**   optim_rmsprop_upd_(theta, d, &v, &b, &ga, ...) -> new theta; square_avg,
**                                                  momentum_buffer, grad_avg
**   optim_adam_upd_(theta, d, &m, &v, &vmax, ...)  -> new theta; exp_avg,
**                                                  exp_avg_sq, max_exp_avg_sq
** A state is read and written only where the options use it (the caller
** loads and stores those slots alone).
**
** One source for device and host: on the device the values are float8
** (OPT_T), on the host (tests/test_optim.c includes this file) float, one
** float rounding per operation in the order written (no fma; contraction is
** off on both), division and sqrt correctly rounded on both
** (clg_div, clg_sqrt: cl/common.cl), so the host build gives the
** kernels' bits lane by lane.
*/

#ifdef __OPENCL_VERSION__
#define OPT_T float8
#define OPT_FN inline
#define opt_sqrt_ clg_sqrt8
#define opt_div_ clg_div8
/* c ? a : b, component-wise (c from a float8 comparison: -1 true, 0 false) */
#define OPT_SEL(c, a, b) select((b), (a), (c))
#else
#include <math.h>
#ifndef clg_div /* the host's division and sqrt are IEEE's: correctly rounded (cl/common.cl on devices) */
#define clg_div(a, b) ((a) / (b))
#define clg_sqrt sqrtf
#endif
#define OPT_T float
#define OPT_FN static inline
#define opt_sqrt_ clg_sqrt
#define opt_div_ clg_div
#define OPT_SEL(c, a, b) ((c) ? (a) : (b))
#endif

/* SGD: d += wd*theta; momentum: b = d on step 1 (first), else b = mu*b +
** (1-tau)*d; d = nesterov ? d + mu*b : b; theta - lr*d. */
OPT_FN OPT_T optim_sgd_upd_(const OPT_T theta, OPT_T d, OPT_T *b, const float lr, const float wd, const float momentum,
                            const float one_minus_dampening, const int nesterov, const int first)
{
    if (wd != 0.0f) d = d + wd * theta;
    if (momentum != 0.0f) {
        *b = first ? d : momentum * *b + one_minus_dampening * d;
        d = nesterov ? d + momentum * *b : *b;
    }
    return theta - lr * d;
}

/* RMSprop: d += wd*theta; v = alpha*v + (1-alpha)*d^2; centered: ga =
** alpha*ga + (1-alpha)*d, avg = sqrt(v - ga^2) + eps, else sqrt(v) + eps;
** momentum > 0: b = mu*b + d/avg, theta - lr*b; else theta - lr*(d/avg). */
OPT_FN OPT_T optim_rmsprop_upd_(const OPT_T theta, OPT_T d, OPT_T *v, OPT_T *b, OPT_T *ga, const float lr,
                                const float wd, const float alpha, const float one_minus_alpha, const float eps,
                                const float momentum, const int centered)
{
    if (wd != 0.0f) d = d + wd * theta;
    *v = alpha * *v + one_minus_alpha * (d * d);
    OPT_T avg;
    if (centered) {
        *ga = alpha * *ga + one_minus_alpha * d;
        avg = opt_sqrt_(*v - *ga * *ga);
    } else {
        avg = opt_sqrt_(*v);
    }
    avg = avg + eps;
    if (momentum > 0.0f) {
        *b = momentum * *b + d / avg;
        return theta - lr * *b;
    }
    return theta - lr * opt_div_(d, avg);
}

/* Adam / AdamW: decoupled: theta *= decay first; else d += wd*theta;
** m = b1*m + (1-b1)*d; v = b2*v + (1-b2)*d^2; amsgrad: vmax = max(vmax, v)
** (NaN-propagating) used in place of v; theta - step_size * (m / (sqrt(v) /
** bc2_sqrt + eps)). */
OPT_FN OPT_T optim_adam_upd_(OPT_T theta, OPT_T d, OPT_T *m, OPT_T *v, OPT_T *vmax, const float wd,
                             const int decoupled, const float decay, const float beta1, const float one_minus_beta1,
                             const float beta2, const float one_minus_beta2, const float step_size,
                             const float bc2_sqrt, const float eps, const int amsgrad)
{
    if (decoupled) theta = theta * decay;
    else if (wd != 0.0f) d = d + wd * theta;
    *m = beta1 * *m + one_minus_beta1 * d;
    *v = beta2 * *v + one_minus_beta2 * (d * d);
    OPT_T w = *v;
    if (amsgrad) {
        *vmax = OPT_SEL((*vmax < w) | isnan(w), w, *vmax);
        w = *vmax;
    }
    const OPT_T denom = opt_div_(opt_sqrt_(w), (OPT_T)bc2_sqrt) + eps;
    return theta - step_size * opt_div_(*m, denom);
}

#ifdef __OPENCL_VERSION__
/* ---- the slots around them (device only): the update of the r (<= 8)
** parameters at p with gradient d (as the optimizer sees it: times COEF),
** their state slots s + k stride, loading and storing the slots the options
** use (optim.cl's kernels and reduce.cl's log-step update both call these:
** one place for the state layout).  theta: the parameters' current values. */

/* SGD; slot 0 the momentum buffer (momentum != 0; not read at step 1). */
inline void optim_sgd_apply8_(__global float *p, const float8 theta, const float8 d, __global float *s, const ulong r,
                              const float lr, const float wd, const float momentum, const float omd,
                              const int nesterov, const int first)
{
    float8 b = momentum != 0.0f && !first ? clg_load8_(s, r) : (float8)(0.0f);
    const float8 out = optim_sgd_upd_(theta, d, &b, lr, wd, momentum, omd, nesterov, first);
    if (momentum != 0.0f) clg_store8_(s, r, b);
    clg_store8_(p, r, out);
}

/* RMSprop; slots: 0 square_avg, then momentum_buffer (momentum > 0), then grad_avg (centered). */
inline void optim_rmsprop_apply8_(__global float *p, const float8 theta, const float8 d, __global float *s,
                                  const ulong stride, const ulong r, const float lr, const float wd, const float alpha,
                                  const float oma, const float eps, const float momentum, const int centered)
{
    __global float *sb = s + stride, *sa = s + (momentum > 0.0f ? 2 : 1) * stride;
    float8 v = clg_load8_(s, r), b = (float8)(0.0f), ga = (float8)(0.0f);
    if (momentum > 0.0f) b = clg_load8_(sb, r);
    if (centered) ga = clg_load8_(sa, r);
    const float8 out = optim_rmsprop_upd_(theta, d, &v, &b, &ga, lr, wd, alpha, oma, eps, momentum, centered);
    clg_store8_(s, r, v);
    if (centered) clg_store8_(sa, r, ga);
    if (momentum > 0.0f) clg_store8_(sb, r, b);
    clg_store8_(p, r, out);
}

/* Adam / AdamW; slots: 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq (amsgrad). */
inline void optim_adam_apply8_(__global float *p, const float8 theta, const float8 d, __global float *s,
                               const ulong stride, const ulong r, const float wd, const int decoupled,
                               const float decay, const float beta1, const float omb1, const float beta2,
                               const float omb2, const float step_size, const float bc2_sqrt, const float eps,
                               const int amsgrad)
{
    __global float *sv = s + stride, *sx = s + 2 * stride;
    float8 m = clg_load8_(s, r), v = clg_load8_(sv, r), vmax = amsgrad ? clg_load8_(sx, r) : (float8)(0.0f);
    const float8 out = optim_adam_upd_(theta, d, &m, &v, &vmax, wd, decoupled, decay, beta1, omb1, beta2, omb2,
                                       step_size, bc2_sqrt, eps, amsgrad);
    clg_store8_(s, r, m);
    clg_store8_(sv, r, v);
    if (amsgrad) clg_store8_(sx, r, vmax);
    clg_store8_(p, r, out);
}
#endif

/* ---- LARS and LAMB (include/clgrad/optim.h): scalar, one element per call
** (the layer-wise kernels walk the segment table one element per
** work-item); the same source on the host gives the kernels' bits. ---- */

/* The trust ratio of a tensor from its norms: 1 when wn == 0 or un == 0,
** else coef * wn / (un + wd * wn), then at most clip (NaN propagates).
** LARS: un = ||d||, coef = eta, wd = beta; LAMB: un = ||r + lambda w||,
** coef = 1, wd = 0. */
OPT_FN float optim_trust_ratio_(const float wn, const float un, const float coef, const float wd, const float clip)
{
    if (wn == 0.0f || un == 0.0f) return 1.0f;
    const float r = clg_div(coef * wn, un + wd * wn);
    return r > clip ? clip : r;
}

/* LARS: v = m*v + local_lr*(d + wd*theta) (local_lr = lr * ratio); theta - v. */
OPT_FN float optim_lars_upd_(const float theta, const float d, float *v, const float local_lr, const float wd,
                             const float momentum)
{
    float x = d;
    if (wd != 0.0f) x = x + wd * theta;
    *v = momentum * *v + local_lr * x;
    return theta - *v;
}

/* LAMB's direction: m = b1*m + (1-b1)*d; v = b2*v + (1-b2)*d^2;
** u = (m / bc1) / (sqrt(v) / bc2_sqrt + eps) + wd*theta (bc1 = 1 - b1^t,
** bc2_sqrt = sqrt(1 - b2^t)).  The update is then theta - (lr * ratio) * u. */
OPT_FN float optim_lamb_dir_(const float theta, const float d, float *m, float *v, const float wd, const float beta1,
                             const float one_minus_beta1, const float beta2, const float one_minus_beta2,
                             const float bc1, const float bc2_sqrt, const float eps)
{
    *m = beta1 * *m + one_minus_beta1 * d;
    *v = beta2 * *v + one_minus_beta2 * (d * d);
    const float den = clg_div(clg_sqrt(*v), bc2_sqrt) + eps;
    float u = clg_div(clg_div(*m, bc1), den);
    if (wd != 0.0f) u = u + wd * theta;
    return u;
}
