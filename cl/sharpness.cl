/*
** sharpness.cl: the elementwise vector kernels of the sharpness estimate
** (src/nn/sharpness.c): power iteration on Hessian-vector products from
** central differences of two gradients.  Every kernel is elementwise, one
** element per work-item, each result a fixed expression of its inputs (FMA
** contraction is off in common.cl; division and square root through
** clg_div / clg_sqrt, correctly rounded): the same bits on every device and
** work-group size.  The reductions (dot products and norms) are not here:
** they are cl/reduce.cl's fixed-order trees (a dot product is the tree sum of
** sharp_mul's products).
**
**   sharp_axpy(x, a, y) -> out = x + a*y          (perturbed weights w +- eps v)
**   sharp_mul(a, b)     -> out = a*b              (dot products; D v, D Hv)
**   sharp_diff_scale(a, b, c) -> out = (a - b)*c  (Hv = (g+ - g-) * (1/(2 eps)))
**   sharp_scale(x, c)   -> out = x*c              (normalisation)
**   sharp_precond_isqrt(s, ...) -> out = 1/sqrt(P) with P the optimizer's
**     diagonal preconditioner from its state (see the kernel)
*/

__kernel void sharp_axpy(__global const float *x, const float a, __global const float *y, __global float *out,
                         const ulong n)
{
    const ulong i = get_global_id(0);
    if (i < n) out[i] = x[i] + a * y[i];
}

__kernel void sharp_mul(__global const float *a, __global const float *b, __global float *out, const ulong n)
{
    const ulong i = get_global_id(0);
    if (i < n) out[i] = a[i] * b[i];
}

__kernel void sharp_diff_scale(__global const float *a, __global const float *b, const float c, __global float *out,
                               const ulong n)
{
    const ulong i = get_global_id(0);
    if (i < n) out[i] = (a[i] - b[i]) * c;
}

__kernel void sharp_scale(__global const float *x, const float c, __global float *out, const ulong n)
{
    const ulong i = get_global_id(0);
    if (i < n) out[i] = x[i] * c;
}

/* out = 1/sqrt(P), P the diagonal preconditioner of the optimizer state s
** (slots of s_stride floats, cl/optim.cl's layout):
**   kind 1, RMSprop: P = sqrt(v) + eps, v = slot 0 (square_avg); centered:
**     P = sqrt(v - ga^2) + eps, ga = slot `ga_slot` (grad_avg) -- the
**     denominator of torch.optim.RMSprop's update;
**   kind 2, Adam/AdamW: P = bc1 * (sqrt(v)/bc2_sqrt + eps), v = slot 1
**     (exp_avg_sq), or slot 2 (max_exp_avg_sq) with amsgrad; bc1 = 1 -
**     beta1^t, bc2_sqrt = sqrt(1 - beta2^t) -- so that Adam's update is
**     w -= lr * m / P (Cohen et al. 2022, eq. for P_t).
** The same operations, in the same order, as optim_fn.cl's denominators. */
__kernel void sharp_precond_isqrt(__global const float *s, const ulong s_stride, const int kind, const int v_slot,
                                  const int ga_slot, const float eps, const float bc1, const float bc2_sqrt,
                                  __global float *out, const ulong n)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    const float v = s[(ulong)v_slot * s_stride + i];
    float p;
    if (kind == 1) {
        float w = v;
        if (ga_slot >= 0) {
            const float ga = s[(ulong)ga_slot * s_stride + i];
            w = v - ga * ga;
        }
        p = clg_sqrt(w) + eps;
    } else {
        p = bc1 * (clg_div(clg_sqrt(v), bc2_sqrt) + eps);
    }
    out[i] = clg_div(1.0f, clg_sqrt(p));
}
