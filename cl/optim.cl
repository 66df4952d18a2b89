/*
** optim.cl: optimizer updates, one work item per parameter over a flat block
** (PyTorch torch.optim semantics, see include/clgrad/optim.h):
**   optim_sgd      SGD with momentum, dampening, nesterov, weight decay
**   optim_rmsprop  RMSprop, optionally centered and with momentum
**   optim_adam     Adam (L2 weight decay) and AdamW (decoupled decay)
**
** Common arguments:
**   p  (n) at p_off       parameters, updated in place
**   g  (n) at g_off       gradients, read only
**   s  (S, n) at s_off    state; slot k of parameter i at s[s_off + k*s_stride + i]
**   gs, gs_coef, gs_skip  gradient-state block (use_gs != 0): the gradient is
**                         multiplied by gs[gs_coef]; gs[gs_skip] != 0 means
**                         write nothing.  gs_coef / gs_skip are absolute
**                         element indices, so the block layout lives only in
**                         gradstate.h.  With use_gs == 0 the host passes any
**                         valid buffer and it is never read.
** Each operation mirrors PyTorch's single-tensor code, one float rounding per
** operation (FP_CONTRACT is off in common.cl; no fma/mad on purpose), with
** derived scalars (1 - beta, bias corrections) computed by the host in double.
*/

/* The gradient as the optimizer sees it: clipped (g * coef) when a
** gradient-state block is given. */
static float optim_grad_(global const float *g, ulong gi, global const float *gs, ulong gs_coef, int use_gs)
{
    float x = g[gi];
    if (use_gs) x = x * gs[gs_coef];
    return x;
}

static int optim_skip_(global const float *gs, ulong gs_skip, int use_gs)
{
    return use_gs && gs[gs_skip] != 0.0f;
}

/* SGD: g += wd*p; momentum: b = g on step 1, else b = mu*b + (1-tau)*g;
** g = nesterov ? g + mu*b : b; p -= lr*g.  State slot 0: momentum buffer. */
kernel void optim_sgd(global float *p, ulong p_off, global const float *g, ulong g_off, global float *s, ulong s_off,
                      ulong s_stride, ulong n, global const float *gs, ulong gs_coef, ulong gs_skip, int use_gs,
                      float lr, float wd, float momentum, float one_minus_dampening, int nesterov, int first)
{
    ulong i = get_global_id(0);
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    float theta = p[p_off + i];
    float d = optim_grad_(g, g_off + i, gs, gs_coef, use_gs);
    if (wd != 0.0f) d = d + wd * theta;
    if (momentum != 0.0f) {
        ulong bi = s_off + i;
        float b = first ? d : momentum * s[bi] + one_minus_dampening * d;
        s[bi] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[p_off + i] = theta - lr * d;
}

/* RMSprop: g += wd*p; v = alpha*v + (1-alpha)*g^2; centered: ga = alpha*ga +
** (1-alpha)*g, avg = sqrt(v - ga^2) + eps, else avg = sqrt(v) + eps;
** momentum > 0: b = mu*b + g/avg, p -= lr*b; else p -= lr*(g/avg).
** State slots: 0 square_avg, then momentum_buffer (momentum > 0), then
** grad_avg (centered). */
kernel void optim_rmsprop(global float *p, ulong p_off, global const float *g, ulong g_off, global float *s,
                          ulong s_off, ulong s_stride, ulong n, global const float *gs, ulong gs_coef, ulong gs_skip,
                          int use_gs, float lr, float wd, float alpha, float one_minus_alpha, float eps, float momentum,
                          int centered)
{
    ulong i = get_global_id(0);
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    float theta = p[p_off + i];
    float d = optim_grad_(g, g_off + i, gs, gs_coef, use_gs);
    if (wd != 0.0f) d = d + wd * theta;
    ulong vi = s_off + i, slot = 1;
    float v = alpha * s[vi] + one_minus_alpha * (d * d);
    s[vi] = v;
    ulong bi = s_off + slot * s_stride + i;
    if (momentum > 0.0f) slot++;
    float avg;
    if (centered) {
        ulong ai = s_off + slot * s_stride + i;
        float ga = alpha * s[ai] + one_minus_alpha * d;
        s[ai] = ga;
        avg = sqrt(v - ga * ga);
    } else {
        avg = sqrt(v);
    }
    avg = avg + eps;
    if (momentum > 0.0f) {
        float b = momentum * s[bi] + d / avg;
        s[bi] = b;
        p[p_off + i] = theta - lr * b;
    } else {
        p[p_off + i] = theta - lr * (d / avg);
    }
}

/* Adam / AdamW: decoupled: p *= decay (= 1 - lr*wd) first; else g += wd*p;
** m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; amsgrad: vmax = max(vmax, v)
** (NaN-propagating, as torch.maximum) and v is replaced by vmax;
** p -= step_size * (m / (sqrt(v)/bc2_sqrt + eps)), step_size = lr/(1-b1^t),
** bc2_sqrt = sqrt(1-b2^t).  State slots: 0 exp_avg, 1 exp_avg_sq,
** 2 max_exp_avg_sq (amsgrad). */
kernel void optim_adam(global float *p, ulong p_off, global const float *g, ulong g_off, global float *s, ulong s_off,
                       ulong s_stride, ulong n, global const float *gs, ulong gs_coef, ulong gs_skip, int use_gs,
                       float wd, int decoupled, float decay, float beta1, float one_minus_beta1, float beta2,
                       float one_minus_beta2, float step_size, float bc2_sqrt, float eps, int amsgrad)
{
    ulong i = get_global_id(0);
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    float theta = p[p_off + i];
    float d = optim_grad_(g, g_off + i, gs, gs_coef, use_gs);
    if (decoupled) theta = theta * decay;
    else if (wd != 0.0f) d = d + wd * theta;
    ulong mi = s_off + i, vi = s_off + s_stride + i;
    float m = beta1 * s[mi] + one_minus_beta1 * d;
    float v = beta2 * s[vi] + one_minus_beta2 * (d * d);
    s[mi] = m;
    s[vi] = v;
    if (amsgrad) {
        ulong xi = s_off + 2 * s_stride + i;
        float vmax = s[xi];
        if (vmax < v || isnan(v)) vmax = v;
        s[xi] = vmax;
        v = vmax;
    }
    float denom = sqrt(v) / bc2_sqrt + eps;
    p[p_off + i] = theta - step_size * (m / denom);
}
