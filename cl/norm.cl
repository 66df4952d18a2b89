/*
** norm.cl: the normalisation layers of the MLP (src/ops/norm.c launches
** them; include/clgrad/norm.h has the equations), PyTorch's semantics:
**   layer norm (nn.LayerNorm(N)): per row, y = (x - mean) rstd w + b,
**     rstd = 1 / sqrt(var + eps), var the biased variance over the row
**   RMS norm (nn.RMSNorm(N)): per row, y = x rstd w, rstd = 1 / sqrt(mean(x^2) + eps)
**   batch norm (nn.BatchNorm1d(N)): per column over the batch; training:
**     batch mean and biased variance, the running estimates updated with
**     momentum m: r = (1 - m) r + m s, the variance's with the unbiased
**     estimate q / (B - 1); evaluation: the running estimates.
** Every reduction is one work-item's loop over the row (or column) in index
** order from +0.0: the order is a function of the shape alone, whatever the
** work-group size.  No float atomics.  Division and square root are
** common.cl's correctly rounded clg_div / clg_sqrt; rstd = clg_div(1,
** clg_sqrt(v + eps)) (two correctly rounded operations; PyTorch uses rsqrt,
** whose result may differ in the last bit).  The per-row (per-column) mean
** and rstd of a training forward go to st (mean at 2i, rstd at 2i + 1) and
** are read back by the backward kernels, which recompute xhat from x.
*/
#define NORM_LAYER 1
#define NORM_RMS 2
#define NORM_BATCH 3

__kernel void norm_rows_forward(const int kind, const ulong B, const ulong N, const float eps,
                                __global const float *x, const ulong xoff, __global const float *p, const ulong woff,
                                const ulong boff, const int has_bias, __global float *y, const ulong yoff,
                                __global float *st, const ulong soff)
{
    const ulong r = get_global_id(0);
    if (r >= B) return;
    __global const float *xr = x + xoff + r * N;
    __global float *yr = y + yoff + r * N;
    float mean = 0.0f;
    if (kind == NORM_LAYER) {
        float s = 0.0f;
        for (ulong j = 0; j < N; j++) s = s + xr[j];
        mean = clg_div(s, (float)N);
    }
    float q = 0.0f;
    for (ulong j = 0; j < N; j++) {
        const float d = xr[j] - mean;
        q = q + d * d;
    }
    const float rstd = clg_div(1.0f, clg_sqrt(clg_div(q, (float)N) + eps));
    for (ulong j = 0; j < N; j++) {
        float v = (xr[j] - mean) * rstd;
        v = v * p[woff + j];
        if (has_bias) v = v + p[boff + j];
        yr[j] = v;
    }
    st[soff + 2 * r] = mean;
    st[soff + 2 * r + 1] = rstd;
}

/* dx (B, N) (+)= the row norm's input gradient from dy; acc: add to dx. */
__kernel void norm_rows_backward(const int kind, const ulong B, const ulong N, __global const float *x,
                                 const ulong xoff, __global const float *p, const ulong woff, __global const float *st,
                                 const ulong soff, __global const float *dy, const ulong dyoff, __global float *dx,
                                 const ulong dxoff, const int acc)
{
    const ulong r = get_global_id(0);
    if (r >= B) return;
    __global const float *xr = x + xoff + r * N, *dr = dy + dyoff + r * N;
    __global float *outr = dx + dxoff + r * N;
    const float mean = st[soff + 2 * r], rstd = st[soff + 2 * r + 1];
    float sg = 0.0f, sgx = 0.0f;
    for (ulong j = 0; j < N; j++) {
        const float xh = (xr[j] - mean) * rstd, g = dr[j] * p[woff + j];
        sg = sg + g;
        sgx = sgx + g * xh;
    }
    const float mg = kind == NORM_LAYER ? clg_div(sg, (float)N) : 0.0f, mgx = clg_div(sgx, (float)N);
    for (ulong j = 0; j < N; j++) {
        const float xh = (xr[j] - mean) * rstd, g = dr[j] * p[woff + j];
        const float v = rstd * ((g - mg) - xh * mgx);
        outr[j] = acc ? outr[j] + v : v;
    }
}

__kernel void norm_batch_forward(const int training, const ulong B, const ulong N, const float eps,
                                 const float momentum, __global const float *x, const ulong xoff,
                                 __global const float *p, const ulong woff, const ulong boff, const int has_bias,
                                 __global float *y, const ulong yoff, __global float *st, const ulong soff,
                                 __global float *run, const ulong rmoff, const ulong rvoff, const int update,
                                 __global const float *halt, const ulong halt_off, const int use_halt)
{
    const ulong c = get_global_id(0);
    if (c >= N) return;
    __global const float *xc = x + xoff + c;
    __global float *yc = y + yoff + c;
    float mean, rstd;
    if (training) {
        float s = 0.0f, q = 0.0f;
        for (ulong b = 0; b < B; b++) s = s + xc[b * N];
        mean = clg_div(s, (float)B);
        for (ulong b = 0; b < B; b++) {
            const float d = xc[b * N] - mean;
            q = q + d * d;
        }
        rstd = clg_div(1.0f, clg_sqrt(clg_div(q, (float)B) + eps));
        const float keep = 1.0f - momentum;
        if (update && !(use_halt && halt[halt_off] != 0.0f)) { /* a halted run changes nothing */
            run[rmoff + c] = keep * run[rmoff + c] + momentum * mean;
            run[rvoff + c] = keep * run[rvoff + c] + momentum * clg_div(q, (float)(B - 1));
        }
        st[soff + 2 * c] = mean;
        st[soff + 2 * c + 1] = rstd;
    } else {
        mean = run[rmoff + c];
        rstd = clg_div(1.0f, clg_sqrt(run[rvoff + c] + eps));
    }
    const float w = p[woff + c], bb = has_bias ? p[boff + c] : 0.0f;
    for (ulong b = 0; b < B; b++) {
        float v = (xc[b * N] - mean) * rstd;
        v = v * w;
        if (has_bias) v = v + bb;
        yc[b * N] = v;
    }
}

/* dx (B, N) (+)= batch norm's input gradient (training statistics) from dy. */
__kernel void norm_batch_backward(const ulong B, const ulong N, __global const float *x, const ulong xoff,
                                  __global const float *p, const ulong woff, __global const float *st, const ulong soff,
                                  __global const float *dy, const ulong dyoff, __global float *dx, const ulong dxoff,
                                  const int acc)
{
    const ulong c = get_global_id(0);
    if (c >= N) return;
    __global const float *xc = x + xoff + c, *dc = dy + dyoff + c;
    __global float *oc = dx + dxoff + c;
    const float mean = st[soff + 2 * c], rstd = st[soff + 2 * c + 1], w = p[woff + c];
    float sg = 0.0f, sgx = 0.0f;
    for (ulong b = 0; b < B; b++) {
        const float xh = (xc[b * N] - mean) * rstd, g = dc[b * N] * w;
        sg = sg + g;
        sgx = sgx + g * xh;
    }
    const float mg = clg_div(sg, (float)B), mgx = clg_div(sgx, (float)B);
    for (ulong b = 0; b < B; b++) {
        const float xh = (xc[b * N] - mean) * rstd, g = dc[b * N] * w;
        const float v = rstd * ((g - mg) - xh * mgx);
        oc[b * N] = acc ? oc[b * N] + v : v;
    }
}

/* The affine parameters' gradients, per column c over the batch in order:
** dw[c] = sum_b dy[b, c] xhat[b, c], db[c] = sum_b dy[b, c] (has_bias). */
__kernel void norm_param_grad(const int kind, const ulong B, const ulong N, __global const float *x, const ulong xoff,
                              __global const float *st, const ulong soff, __global const float *dy, const ulong dyoff,
                              __global float *g, const ulong gwoff, const ulong gboff, const int has_bias)
{
    const ulong c = get_global_id(0);
    if (c >= N) return;
    float sw = 0.0f, sb = 0.0f;
    for (ulong b = 0; b < B; b++) {
        const ulong i = b * N + c, s = kind == NORM_BATCH ? 2 * c : 2 * b;
        const float xh = (x[xoff + i] - st[soff + s]) * st[soff + s + 1], d = dy[dyoff + i];
        sw = sw + d * xh;
        sb = sb + d;
    }
    g[gwoff + c] = sw;
    if (has_bias) g[gboff + c] = sb;
}

/* y (n) = a (n) + b (n): the residual add (one correctly rounded addition). */
__kernel void norm_add(const ulong n, __global const float *a, const ulong aoff, __global const float *b,
                       const ulong boff, __global float *y, const ulong yoff)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    y[yoff + i] = a[aoff + i] + b[boff + i];
}
