/*
** loss_fn.cl: the per-element (MSE, BCE) and per-row (CE) loss formulas, a
** function library (no kernels) included after common.cl and math.cl by
** loss.cl, whose kernels loss_grad and loss_value evaluate the gradients and
** terms through these functions only.  The formulas and their stable forms
** are described in loss.cl's header.
**
**   loss_mse_term_(p, y), loss_bce_term_(z, y)   one term of loss_value
**   loss_ce_row_(z, K, t)                        one CE row's term
**   loss_grad_elem_(loss, p, y, n)               MSE / BCE gradient element
**   loss_ce_grad_row_(z, K, t, B, g)             one CE row's gradient (K)
**
** One source for device and host: on the device the rows are __global, on the
** host (tests/test_loss.c includes cl/math.cl then this file) plain pointers;
** the transcendentals are math.cl's clgm_exp / clgm_log / clgm_log1p and the
** divisions the plain operator (correctly rounded on the device: see
** common.cl), so the host build gives the kernels' bits.
*/

#ifdef __OPENCL_VERSION__
#define LOSS_FN inline
#define LOSS_G __global
#define LOSS_U64 ulong
#define LOSS_I64 long
#define loss_fabs_ fabs
#define loss_floor_ floor
#else
#define LOSS_FN static inline
#ifndef clg_div /* the host's division and sqrt are IEEE's: correctly rounded (cl/common.cl on devices) */
#define clg_div(a, b) ((a) / (b))
#define clg_sqrt sqrtf
#endif
#define LOSS_G
#define LOSS_U64 uint64_t
#define LOSS_I64 int64_t
#define loss_fabs_ fabsf
#define loss_floor_ floorf
#endif

/* clgrad_loss values (include/clgrad/loss.h) */
#define LOSS_MSE 0
#define LOSS_BCE 1
#define LOSS_CE 2

LOSS_FN float loss_sigmoid_(float z)
{
    float e = clgm_exp(-loss_fabs_(z));
    return z >= 0.0f ? clg_div(1.0f, 1.0f + e) : clg_div(e, 1.0f + e);
}

/* One MSE term (p - y)^2. */
LOSS_FN float loss_mse_term_(float p, float y)
{
    const float d = p - y;
    return d * d;
}

/* One BCE term; see loss.cl's header for the form. */
LOSS_FN float loss_bce_term_(float z, float y)
{
    float a = z > 0.0f ? 1.0f - y : -y;
    float lin = a == 0.0f ? 0.0f : z * a;
    return lin + clgm_log1p(clgm_exp(-loss_fabs_(z)));
}

/* The class id held in t, or -1 when t is not an integer in [0, K). */
LOSS_FN LOSS_I64 loss_class_(float t, LOSS_U64 K)
{
    if (!(t >= 0.0f) || !(t < (float)K) || t != loss_floor_(t)) return -1;
    return (LOSS_I64)t;
}

/* Row max m and sum_k exp(z_k - m) of one CE row (K), in order of k. */
LOSS_FN void loss_lse_(LOSS_G const float *z, LOSS_U64 K, float *m, float *sum)
{
    float mx = z[0];
    for (LOSS_U64 k = 1; k < K; k++)
        if (z[k] > mx) mx = z[k];
    float s = 0.0f;
    for (LOSS_U64 k = 0; k < K; k++) s += clgm_exp(z[k] - mx); /* K terms <= 1 each; NaN propagates */
    *m = mx;
    *sum = s;
}

/* One CE row's loss (m - z[t]) + log(sum). */
LOSS_FN float loss_ce_row_(LOSS_G const float *z, LOSS_U64 K, float t)
{
    LOSS_I64 c = loss_class_(t, K);
    if (c < 0) return NAN;
    float m, s;
    loss_lse_(z, K, &m, &s);
    return (m - z[c]) + clgm_log(s);
}

/* g (K) = (softmax(z) - onehot(t)) / B of one CE row (B = rows as a float);
** NaN everywhere for an invalid target. */
LOSS_FN void loss_ce_grad_row_(LOSS_G const float *z, LOSS_U64 K, float t, float B, LOSS_G float *g)
{
    LOSS_I64 c = loss_class_(t, K);
    float m, s;
    loss_lse_(z, K, &m, &s);
    for (LOSS_U64 k = 0; k < K; k++) {
        float p = clg_div(clgm_exp(z[k] - m), s);
        g[k] = c < 0 ? NAN : clg_div((LOSS_I64)k == c ? p - 1.0f : p, B);
    }
}

/* One MSE (2 (p - y)) or BCE (sigmoid(p) - y) gradient element, / n. */
LOSS_FN float loss_grad_elem_(int loss, float p, float y, LOSS_U64 n)
{
    float g = loss == LOSS_MSE ? 2.0f * (p - y) : loss_sigmoid_(p) - y;
    return clg_div(g, (float)n);
}

#ifdef __OPENCL_VERSION__
/* ---- loss_value's sum (loss.cl's header gives the order), shared with
** mlp_wgrad (mlp.cl) ---- */
#define LOSS_LEAF 32    /* terms per leaf (numeric definition) */
#define LOSS_LEAVES 256 /* leaves per chunk (numeric definition) */
#define LOSS_CHUNK (LOSS_LEAF * LOSS_LEAVES)

/* Neumaier's compensated sum: s + c carries the running total. */
inline void loss_nsum_(float *s, float *c, float x)
{
    float t = *s + x;
    if (fabs(*s) >= fabs(x)) *c += (*s - t) + x;
    else *c += (x - t) + *s;
    *s = t;
}

/* Merge of two Neumaier records (s, c) = (x, y) (see the header). */
inline float2 loss_nmerge_(const float2 a, const float2 b)
{
    const float t = a.x + b.x;
    const float e = fabs(a.x) >= fabs(b.x) ? (a.x - t) + b.x : (b.x - t) + a.x;
    return (float2)(t, (a.y + b.y) + e);
}

/* t[0] = balanced pairwise merge of t[0 .. 15] */
inline float2 loss_tree16_(float2 *t)
{
    for (uint w = 1; w < 16; w *= 2)
        for (uint i = 0; i + w < 16; i += 2 * w) t[i] = loss_nmerge_(t[i], t[i + w]);
    return t[0];
}
#endif
