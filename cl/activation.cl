/*
** activation.cl: elementwise activations (forward and backward) and the bias
** add / bias gradient of a dense layer.
**
** Kernels
**   activation_forward(act, p, z, zoff, h, hoff, n)         h = f(z)         (n)
**   activation_backward(act, p, z, zoff, dh, dhoff, dz, dzoff, n)
**                                                    dz = dh * f'(z)  (n)
**   activation_bias_add(X, xoff, rows, cols, b, boff)  X[i,j] += b[j]  X (rows, cols)
**   activation_bias_grad(dY, dyoff, rows, cols, beta, db, dboff)
**                             db[j] = beta * db[j] + sum_i dY[i,j]   dY (rows, cols)
**
** `act` is a clgrad_act value (include/clgrad/activation.h; the ACT_* defines
** below must match it) and `p` its parameter: the slope of leaky_relu, alpha
** of elu, unused otherwise.  Every formula is written so that no intermediate
** overflows or turns into NaN for finite z of any size (|z| = 1e4 and beyond),
** ±Inf gives the mathematical limit, and NaN z gives NaN (no function maps
** NaN to a number: every branch below either passes z through or computes
** with it).  The backward is one IEEE multiplication dh * f'(z), so NaN in dh
** always propagates (PyTorch's relu backward is a select and would give 0).
**
** Stable forms (e = exp(-|z|) never overflows):
**   sigmoid   z >= 0 ? 1/(1+e) : e/(1+e);   sigmoid' = e / (1+e)^2
**   tanh'     1 - tanh^2 = 4 e2 / (1+e2)^2 with e2 = exp(-2|z|): accurate to a
**             few ulp relative even where tanh rounds to ±1
**   softplus  max(z,0) + log1p(exp(-|z|)),  softplus' = sigmoid
**   gelu      z * Phi(z) with Phi(z) = erfc(-z/sqrt2)/2 (no 1+erf cancellation
**             for z << 0);  gelu' = Phi(z) + z phi(z)
**   gelu_tanh 0.5 z (1 + tanh(y)) = z * sigmoid(2y), y = sqrt(2/pi)(z + 0.044715 z^3);
**             gelu_tanh' = s + 2 z s (1-s) sqrt(2/pi) (1 + 3 * 0.044715 z^2), s = sigmoid(2y)
** Where a product is "z times something that underflowed to 0" (the left tails
** of gelu and gelu_tanh, and their derivatives), the result is 0, the limit,
** instead of -Inf * 0 = NaN.
**
** Bias: activation_bias_add has one work-item per element.  activation_bias_grad
** runs one work-group of exactly CLGRAD_WG work-items per column: item l sums
** rows l, l + WG, l + 2 WG, ... with Neumaier-compensated summation, then the
** group adds the partial sums in a fixed local-memory tree.  No atomics: the
** same inputs give the same bits on every run.  beta == 0 never reads db.
*/

/* clgrad_act values (include/clgrad/activation.h) */
#define ACT_IDENTITY 0
#define ACT_SIGMOID 1
#define ACT_TANH 2
#define ACT_RELU 3
#define ACT_LEAKY_RELU 4
#define ACT_ELU 5
#define ACT_SELU 6
#define ACT_SOFTSIGN 7
#define ACT_SOFTPLUS 8
#define ACT_GELU 9
#define ACT_GELU_TANH 10

#define SELU_ALPHA 1.6732632423543772f
#define SELU_LAMBDA 1.0507009873554805f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT2PI 0.39894228040143268f
#define GELU_BETA 0.79788456080286536f /* sqrt(2/pi) */
#define GELU_KAPPA 0.044715f

/* sigmoid(z) from e = exp(-|z|) */
inline float act_sigmoid_(float z)
{
    float e = exp(-fabs(z));
    return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* sigmoid'(z) = sigmoid(z) sigmoid(-z) = e / (1+e)^2, symmetric, no cancellation */
inline float act_dsigmoid_(float z)
{
    float e = exp(-fabs(z));
    float d = 1.0f + e;
    return e / (d * d);
}

/* gelu_tanh's inner argument 2y = 2 sqrt(2/pi) (z + kappa z^3); Inf for |z| > ~7e12 */
inline float act_gelu_2y_(float z)
{
    return 2.0f * (GELU_BETA * (z + GELU_KAPPA * (z * z * z)));
}

inline float act_forward_(int act, float p, float z)
{
    switch (act) {
    case ACT_SIGMOID: return act_sigmoid_(z);
    case ACT_TANH: return tanh(z);
    case ACT_RELU: return (z > 0.0f || isnan(z)) ? z : 0.0f;
    case ACT_LEAKY_RELU:
        /* slope 0 is relu: -Inf * 0 would be NaN */
        return (z > 0.0f || isnan(z)) ? z : (p == 0.0f ? 0.0f : z * p);
    case ACT_ELU: return z > 0.0f ? z : p * expm1(z); /* expm1(-Inf) = -1; NaN stays NaN */
    case ACT_SELU: return SELU_LAMBDA * (z > 0.0f ? z : SELU_ALPHA * expm1(z));
    case ACT_SOFTSIGN: return isinf(z) ? copysign(1.0f, z) : z / (1.0f + fabs(z));
    case ACT_SOFTPLUS: return (z > 0.0f ? z : 0.0f) + log1p(exp(-fabs(z)));
    case ACT_GELU: {
        float phi = 0.5f * erfc(-(z * INV_SQRT2)); /* Phi(z), NaN for NaN */
        return phi == 0.0f ? 0.0f : z * phi;
    }
    case ACT_GELU_TANH: {
        float s = act_sigmoid_(act_gelu_2y_(z));
        return s == 0.0f ? 0.0f : z * s;
    }
    default: return z; /* ACT_IDENTITY (the host rejects unknown values) */
    }
}

/* f'(z) */
inline float act_derivative_(int act, float p, float z)
{
    if (isnan(z)) return z;
    switch (act) {
    case ACT_SIGMOID: return act_dsigmoid_(z);
    case ACT_TANH: {
        float e = exp(-2.0f * fabs(z));
        float d = 1.0f + e;
        return (4.0f * e) / (d * d);
    }
    case ACT_RELU: return z > 0.0f ? 1.0f : 0.0f; /* relu'(0) = 0, as PyTorch */
    case ACT_LEAKY_RELU: return z > 0.0f ? 1.0f : p;
    case ACT_ELU: return z > 0.0f ? 1.0f : p * exp(z);
    case ACT_SELU: return z > 0.0f ? SELU_LAMBDA : SELU_LAMBDA * SELU_ALPHA * exp(z);
    case ACT_SOFTSIGN: {
        float t = 1.0f / (1.0f + fabs(z)); /* 0 at ±Inf */
        return t * t;
    }
    case ACT_SOFTPLUS: return act_sigmoid_(z);
    case ACT_GELU: {
        float Phi = 0.5f * erfc(-(z * INV_SQRT2));
        float phi = INV_SQRT2PI * exp(-0.5f * (z * z));
        return phi == 0.0f ? Phi : Phi + z * phi;
    }
    case ACT_GELU_TANH: {
        float t = act_gelu_2y_(z);
        float s = act_sigmoid_(t);
        float ds = act_dsigmoid_(t); /* s (1 - s) */
        if (ds == 0.0f) return s;
        return s + ((2.0f * z) * ds) * (GELU_BETA * (1.0f + (3.0f * GELU_KAPPA) * (z * z)));
    }
    default: return 1.0f; /* ACT_IDENTITY */
    }
}

/* h = f(z), (n).  h may be z (same buffer and offset). */
__kernel void activation_forward(const int act, const float p, __global const float *z, const ulong zoff,
                                 __global float *h, const ulong hoff, const ulong n)
{
    size_t i = get_global_id(0);
    if (i >= n) return;
    h[hoff + i] = act_forward_(act, p, z[zoff + i]);
}

/* dz = dh * f'(z), (n).  dz may be dh or z (same buffer and offset). */
__kernel void activation_backward(const int act, const float p, __global const float *z, const ulong zoff,
                                  __global const float *dh, const ulong dhoff, __global float *dz,
                                  const ulong dzoff, const ulong n)
{
    size_t i = get_global_id(0);
    if (i >= n) return;
    float zi = z[zoff + i], g = dh[dhoff + i];
    dz[dzoff + i] = act == ACT_IDENTITY ? g : g * act_derivative_(act, p, zi);
}

/* X (rows, cols) += b (cols) broadcast over rows; one work-item per element. */
__kernel void activation_bias_add(__global float *X, const ulong xoff, const ulong rows, const ulong cols,
                                  __global const float *b, const ulong boff)
{
    size_t i = get_global_id(0);
    if (i >= rows * cols) return;
    X[xoff + i] += b[boff + i % cols];
}

/* Neumaier's compensated sum: s + c carries the running total. */
inline void act_nsum_(float *s, float *c, float x)
{
    float t = *s + x;
    if (fabs(*s) >= fabs(x)) *c += (*s - t) + x;
    else *c += (x - t) + *s;
    *s = t;
}

/* db (cols) = beta * db + column sums of dY (rows, cols); one group of
** CLGRAD_WG items per column (group j = column j). */
__kernel __attribute__((reqd_work_group_size(CLGRAD_WG, 1, 1)))
void activation_bias_grad(__global const float *dY, const ulong dyoff, const ulong rows, const ulong cols,
                          const float beta, __global float *db, const ulong dboff)
{
    __local float part[CLGRAD_WG];
    const size_t j = get_group_id(0), l = get_local_id(0);
    float s = 0.0f, c = 0.0f;
    for (size_t i = l; i < rows; i += CLGRAD_WG) act_nsum_(&s, &c, dY[dyoff + i * cols + j]);
    part[l] = isfinite(s) ? s + c : s; /* Inf - Inf in c must not turn an Inf sum into NaN */
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t w = CLGRAD_WG / 2; w > 0; w >>= 1) {
        if (l < w) part[l] += part[l + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) db[dboff + j] = beta == 0.0f ? part[0] : beta * db[dboff + j] + part[0];
}
