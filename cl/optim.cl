/*
** optim.cl: optimizer updates, 8 parameters per work item over a flat block
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

/* Each work-item updates 8 consecutive parameters as float8 (clg_load8_ /
** clg_store8_ in common.cl handle the partial last vector); every lane does
** exactly the scalar operations below, so results do not depend on n. */
#define OPT_V 8

/* The gradient as the optimizer sees it: clipped (g * coef) when a
** gradient-state block is given. */
static float8 optim_grad_(global const float *g, ulong gi, ulong r, global const float *gs, ulong gs_coef, int use_gs)
{
    float8 x = clg_load8_(g + gi, r);
    if (use_gs) x = x * gs[gs_coef];
    return x;
}

static int optim_skip_(global const float *gs, ulong gs_skip, int use_gs)
{
    return use_gs && gs[gs_skip] != 0.0f;
}

/* The per-parameter arithmetic of each kernel is in optim_fn.cl (included
** before this file, compiled on the host too: tests/test_optim.c), and the
** loads and stores of the state slots around it (optim_*_apply8_). */

/* SGD: g += wd*p; momentum: b = g on step 1, else b = mu*b + (1-tau)*g;
** g = nesterov ? g + mu*b : b; p -= lr*g.  State slot 0: momentum buffer. */
kernel void optim_sgd(global float *p, ulong p_off, global const float *g, ulong g_off, global float *s, ulong s_off,
                      ulong s_stride, ulong n, global const float *gs, ulong gs_coef, ulong gs_skip, int use_gs,
                      float lr, float wd, float momentum, float one_minus_dampening, int nesterov, int first)
{
    ulong i = (ulong)get_global_id(0) * OPT_V;
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    ulong r = n - i;
    optim_sgd_apply8_(p + p_off + i, clg_load8_(p + p_off + i, r), optim_grad_(g, g_off + i, r, gs, gs_coef, use_gs),
                      s + s_off + i, r, lr, wd, momentum, one_minus_dampening, nesterov, first);
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
    ulong i = (ulong)get_global_id(0) * OPT_V;
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    ulong r = n - i;
    optim_rmsprop_apply8_(p + p_off + i, clg_load8_(p + p_off + i, r),
                          optim_grad_(g, g_off + i, r, gs, gs_coef, use_gs), s + s_off + i, s_stride, r, lr, wd, alpha,
                          one_minus_alpha, eps, momentum, centered);
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
    ulong i = (ulong)get_global_id(0) * OPT_V;
    if (i >= n || optim_skip_(gs, gs_skip, use_gs)) return;
    ulong r = n - i;
    optim_adam_apply8_(p + p_off + i, clg_load8_(p + p_off + i, r), optim_grad_(g, g_off + i, r, gs, gs_coef, use_gs),
                       s + s_off + i, s_stride, r, wd, decoupled, decay, beta1, one_minus_beta1, beta2,
                       one_minus_beta2, step_size, bc2_sqrt, eps, amsgrad);
}

/* ---- layer-wise: LARS and LAMB (include/clgrad/optim.h) ----
** tab, nseg, chunk: the segment table of clgrad_segs_new (cl/reduce.cl): one
** segment per tensor; prepare and apply run one work-group per chunk of a
** segment, one element per work-item (any assignment gives the same bits:
** each element's arithmetic depends on its own values and its tensor's
** ratio alone).  work + w_off: mask[T], ratio[T], then the statistics of
** the parameters (records at st_w) and of the direction (at st_u). */

/* The loop over this work-group's chunk: sg (segment), j (element index in
** the flat block) are in scope in the body (the variadic argument). */
#define OPTIM_CHUNK_FOR(tab, nseg, chunk, ...)                                                         \
    do {                                                                                               \
        const ulong c_ = get_group_id(0);                                                              \
        global const ulong *cstart_ = (tab) + 2 * (ulong)(nseg);                                       \
        const uint sg = clg_segment_of_(cstart_, (nseg), c_);                                         \
        const ulong b_ = (c_ - cstart_[sg]) * (chunk), len_ = (tab)[(nseg) + sg];                        \
        const ulong e_ = min(b_ + (chunk), len_);                                                      \
        for (ulong i_ = b_ + get_local_id(0); i_ < e_; i_ += get_local_size(0)) {                      \
            const ulong j = (tab)[sg] + i_;                                                               \
            __VA_ARGS__                                                                                \
        }                                                                                              \
    } while (0)

/* Prepare: lamb == 0 (LARS): slot 1 = d = g * COEF.  lamb != 0: m (slot 0),
** v (slot 1) updated, slot 2 = u = r + wd*theta (wd 0 for a masked tensor). */
kernel void optim_layers_prep(global const float *p, global const float *g, global float *s, ulong n,
                              global const ulong *tab, uint nseg, ulong chunk, global const float *gs, ulong gs_coef,
                              ulong gs_skip, int use_gs, global const float *work, ulong w_off, int lamb, float wd,
                              float beta1, float one_minus_beta1, float beta2, float one_minus_beta2, float bc1,
                              float bc2_sqrt, float eps)
{
    if (optim_skip_(gs, gs_skip, use_gs)) return;
    const float coef = use_gs ? gs[gs_coef] : 1.0f;
    OPTIM_CHUNK_FOR(tab, nseg, chunk, {
        float d = g[j];
        if (use_gs) d = d * coef;
        if (!lamb) {
            s[n + j] = d;
        } else {
            const float wds = work[w_off + sg] != 0.0f ? 0.0f : wd;
            float m = s[j], v = s[n + j];
            s[2 * n + j] = optim_lamb_dir_(p[j], d, &m, &v, wds, beta1, one_minus_beta1, beta2, one_minus_beta2, bc1,
                                           bc2_sqrt, eps);
            s[j] = m;
            s[n + j] = v;
        }
    });
}

/* One work-item: ratio[s] = 1 for a masked tensor, else
** optim_trust_ratio_(||w_s||, ||u_s||, coef, wd, clip) from the records. */
kernel void optim_layers_ratio(global float *work, ulong w_off, uint nseg, ulong st_w, ulong st_u, float coef, float wd,
                               float clip, global const float *gs, ulong gs_skip, int use_gs)
{
    if (get_global_id(0) != 0 || optim_skip_(gs, gs_skip, use_gs)) return;
    global float *w = work + w_off;
    for (uint t = 0; t < nseg; t++) {
        const float wn = w[st_w + 4 * (ulong)t + 1], un = w[st_u + 4 * (ulong)t + 1]; /* RS_NORM2 */
        w[nseg + t] = w[t] != 0.0f ? 1.0f : optim_trust_ratio_(wn, un, coef, wd, clip);
    }
}

/* Apply: local = lr * ratio[s]; LARS: v (slot 0) = mu*v + local*(d + wd*theta)
** (wd 0 when masked), theta -= v; LAMB: theta -= local * u (slot 2); local = lr_t here. */
kernel void optim_layers_apply(global float *p, global float *s, ulong n, global const ulong *tab, uint nseg,
                               ulong chunk, global const float *gs, ulong gs_skip, int use_gs,
                               global const float *work, ulong w_off, int lamb, float lr, float wd, float momentum)
{
    if (optim_skip_(gs, gs_skip, use_gs)) return;
    OPTIM_CHUNK_FOR(tab, nseg, chunk, {
        const float lr_t = lr * work[w_off + nseg + sg];
        if (!lamb) {
            const float wds = work[w_off + sg] != 0.0f ? 0.0f : wd;
            float v = s[j];
            p[j] = optim_lars_upd_(p[j], s[n + j], &v, lr_t, wds, momentum);
            s[j] = v;
        } else {
            p[j] = p[j] - lr_t * s[2 * n + j];
        }
    });
}
