/*
** act_fn.cl: the activation functions f(z) and f'(z) on float8 and float16
** (on the host: float), a function library (no kernels) included after
** common.cl by the programs that apply activations: activation.cl (the
** elementwise kernels), matmul.cl (the GEMM epilogues), model.cl and mlp.cl.
** All use these same functions, so an activation fused into a GEMM gives the
** same bits as the separate kernel.  The formulas and their stable forms are
** described in activation.cl's header.
**
**   act_f_<name>_(z, p), act_d_<name>_(z, p)   one activation, straight-line (float8)
**   act_f8_(act, p, z), act_d8_(act, p, z)      by clgrad_act value (a switch);
**                                               act_d8_ passes NaN z through
**   act_f_<name>_16, act_f16_, act_d16_ ...     the same on float16
**
** One source for device and host: the functions are written once, as the
** macro ACT_DEFINE(V, T, MS, SW) over the name suffix V ("" or 16), the type
** T, math.cl's suffix MS and the switches' suffix SW, instantiated on the
** device for float8 (V "", SW 8) and float16 (V 16, SW 16), on the host
** (tests/test_activation.c includes cl/math.cl then this file) for float
** (V "", SW 1: act_f1_/act_d1_).  The transcendentals are math.cl's
** (clgm_exp8 / clgm_exp16 / clgm_exp ...), branch-free on vectors, so every
** lane of either vector width gives the host scalar build's bits.
*/

#ifdef __OPENCL_VERSION__
#define ACT_T float8 /* activation.cl's kernels */
#define ACT_FN inline
#define ACT_DIV(T, MS, a, b) clg_div##MS((T)(a), (T)(b)) /* common.cl / math.cl: correctly rounded */
#define act_fabs_ fabs
#define act_copysign_ copysign
/* c ? a : b, component-wise (c from a vector comparison: -1 true, 0 false) */
#define ACT_SEL(T, c, a, b) select((T)(b), (T)(a), (c))
#else
#define ACT_T float
#define ACT_FN static inline
#define ACT_DIV(T, MS, a, b) clg_div((a), (b))
#define act_fabs_ fabsf
#define act_copysign_ copysignf
#define ACT_SEL(T, c, a, b) ((c) ? (T)(a) : (T)(b))
#endif
#define SEL(c, a, b) ACT_SEL(ACT_T, c, a, b)

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


#define ACT_DEFINE(V, T, MS, SW)                                                                                    \
/* sigmoid(z) from e = exp(-|z|) */                                                                                 \
ACT_FN T act_sigmoid_##V(const T z)                                                                                 \
{                                                                                                                   \
    const T e = clgm_exp##MS(-act_fabs_(z));                                                                        \
    return ACT_SEL(T, z >= 0.0f, ACT_DIV(T, MS, 1.0f, 1.0f + e), ACT_DIV(T, MS, e, 1.0f + e));                      \
}                                                                                                                   \
                                                                                                                    \
/* sigmoid'(z) = sigmoid(z) sigmoid(-z) = e / (1+e)^2, symmetric, no cancellation */                                \
ACT_FN T act_dsigmoid_##V(const T z)                                                                                \
{                                                                                                                   \
    const T e = clgm_exp##MS(-act_fabs_(z));                                                                        \
    const T d = 1.0f + e;                                                                                           \
    return ACT_DIV(T, MS, e, d * d);                                                                                \
}                                                                                                                   \
                                                                                                                    \
/* gelu_tanh's inner argument 2y = 2 sqrt(2/pi) (z + kappa z^3); Inf for |z| > ~7e12 */                             \
ACT_FN T act_gelu_2y_##V(const T z)                                                                                 \
{                                                                                                                   \
    return 2.0f * (GELU_BETA * (z + GELU_KAPPA * (z * z * z)));                                                     \
}                                                                                                                   \
                                                                                                                    \
/* ---- f(z) ---- */                                                                                                \
ACT_FN T act_f_identity_##V(const T z, const float p) { return z; }                                                 \
ACT_FN T act_f_sigmoid_##V(const T z, const float p) { return act_sigmoid_##V(z); }                                 \
ACT_FN T act_f_tanh_##V(const T z, const float p) { return clgm_tanh##MS(z); }                                      \
ACT_FN T act_f_relu_##V(const T z, const float p) { return ACT_SEL(T, (z > 0.0f) | isnan(z), z, 0.0f); }            \
ACT_FN T act_f_leaky_relu_##V(const T z, const float p)                                                             \
{                                                                                                                   \
    /* slope 0 is relu: -Inf * 0 would be NaN */                                                                    \
    return ACT_SEL(T, (z > 0.0f) | isnan(z), z, p == 0.0f ? (T)0.0f : z * p);                                       \
}                                                                                                                   \
/* expm1(-Inf) = -1; NaN stays NaN */                                                                               \
ACT_FN T act_f_elu_##V(const T z, const float p) { return ACT_SEL(T, z > 0.0f, z, p * clgm_expm1##MS(z)); }         \
ACT_FN T act_f_selu_##V(const T z, const float p)                                                                   \
{                                                                                                                   \
    return SELU_LAMBDA * ACT_SEL(T, z > 0.0f, z, SELU_ALPHA * clgm_expm1##MS(z));                                   \
}                                                                                                                   \
ACT_FN T act_f_softsign_##V(const T z, const float p)                                                               \
{                                                                                                                   \
    return ACT_SEL(T, isinf(z), act_copysign_((T)1.0f, z), ACT_DIV(T, MS, z, 1.0f + act_fabs_(z)));                 \
}                                                                                                                   \
ACT_FN T act_f_softplus_##V(const T z, const float p)                                                               \
{                                                                                                                   \
    return ACT_SEL(T, z > 0.0f, z, 0.0f) + clgm_log1p##MS(clgm_exp##MS(-act_fabs_(z)));                             \
}                                                                                                                   \
ACT_FN T act_f_gelu_##V(const T z, const float p)                                                                   \
{                                                                                                                   \
    const T phi = 0.5f * clgm_erfc##MS(-(z * INV_SQRT2)); /* Phi(z), NaN for NaN */                                 \
    return ACT_SEL(T, phi == 0.0f, 0.0f, z * phi);                                                                  \
}                                                                                                                   \
ACT_FN T act_f_gelu_tanh_##V(const T z, const float p)                                                              \
{                                                                                                                   \
    const T s = act_sigmoid_##V(act_gelu_2y_##V(z));                                                                \
    return ACT_SEL(T, s == 0.0f, 0.0f, z * s);                                                                      \
}                                                                                                                   \
                                                                                                                    \
/* ---- f'(z) for finite or infinite z (NaN z is passed through by the kernel) ---- */                              \
ACT_FN T act_d_sigmoid_##V(const T z, const float p) { return act_dsigmoid_##V(z); }                                \
ACT_FN T act_d_tanh_##V(const T z, const float p)                                                                   \
{                                                                                                                   \
    const T e = clgm_exp##MS(-2.0f * act_fabs_(z));                                                                 \
    const T d = 1.0f + e;                                                                                           \
    return ACT_DIV(T, MS, 4.0f * e, d * d);                                                                         \
}                                                                                                                   \
/* relu'(0) = 0, as PyTorch */                                                                                      \
ACT_FN T act_d_relu_##V(const T z, const float p) { return ACT_SEL(T, z > 0.0f, 1.0f, 0.0f); }                      \
ACT_FN T act_d_leaky_relu_##V(const T z, const float p) { return ACT_SEL(T, z > 0.0f, 1.0f, p); }                   \
ACT_FN T act_d_elu_##V(const T z, const float p) { return ACT_SEL(T, z > 0.0f, 1.0f, p * clgm_exp##MS(z)); }        \
ACT_FN T act_d_selu_##V(const T z, const float p)                                                                   \
{                                                                                                                   \
    return ACT_SEL(T, z > 0.0f, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * clgm_exp##MS(z));                           \
}                                                                                                                   \
ACT_FN T act_d_softsign_##V(const T z, const float p)                                                               \
{                                                                                                                   \
    const T t = ACT_DIV(T, MS, 1.0f, 1.0f + act_fabs_(z)); /* 0 at ±Inf */                                          \
    return t * t;                                                                                                   \
}                                                                                                                   \
ACT_FN T act_d_softplus_##V(const T z, const float p) { return act_sigmoid_##V(z); }                                \
ACT_FN T act_d_gelu_##V(const T z, const float p)                                                                   \
{                                                                                                                   \
    const T Phi = 0.5f * clgm_erfc##MS(-(z * INV_SQRT2));                                                           \
    const T phi = INV_SQRT2PI * clgm_exp##MS(-0.5f * (z * z));                                                      \
    return ACT_SEL(T, phi == 0.0f, Phi, Phi + z * phi);                                                             \
}                                                                                                                   \
ACT_FN T act_d_gelu_tanh_##V(const T z, const float p)                                                              \
{                                                                                                                   \
    const T t = act_gelu_2y_##V(z);                                                                                 \
    const T s = act_sigmoid_##V(t);                                                                                 \
    const T ds = act_dsigmoid_##V(t); /* s (1 - s) */                                                               \
    return ACT_SEL(T, ds == 0.0f, s, s + ((2.0f * z) * ds) * (GELU_BETA * (1.0f + (3.0f * GELU_KAPPA) * (z * z)))); \
}                                                                                                                   \
                                                                                                                    \
/* f(z) by clgrad_act value (identity for an unknown one: the host rejects those) */                                \
ACT_FN T act_f##SW##_(const int act, const float p, const T z)                                                      \
{                                                                                                                   \
    switch (act) {                                                                                                  \
    case ACT_SIGMOID: return act_f_sigmoid_##V(z, p);                                                               \
    case ACT_TANH: return act_f_tanh_##V(z, p);                                                                     \
    case ACT_RELU: return act_f_relu_##V(z, p);                                                                     \
    case ACT_LEAKY_RELU: return act_f_leaky_relu_##V(z, p);                                                         \
    case ACT_ELU: return act_f_elu_##V(z, p);                                                                       \
    case ACT_SELU: return act_f_selu_##V(z, p);                                                                     \
    case ACT_SOFTSIGN: return act_f_softsign_##V(z, p);                                                             \
    case ACT_SOFTPLUS: return act_f_softplus_##V(z, p);                                                             \
    case ACT_GELU: return act_f_gelu_##V(z, p);                                                                     \
    case ACT_GELU_TANH: return act_f_gelu_tanh_##V(z, p);                                                           \
    default: return z;                                                                                              \
    }                                                                                                               \
}                                                                                                                   \
                                                                                                                    \
/* f'(z) by clgrad_act value, NaN where z is NaN (identity: 1) */                                                   \
ACT_FN T act_d##SW##_(const int act, const float p, const T z)                                                      \
{                                                                                                                   \
    T d;                                                                                                            \
    switch (act) {                                                                                                  \
    case ACT_SIGMOID: d = act_d_sigmoid_##V(z, p); break;                                                           \
    case ACT_TANH: d = act_d_tanh_##V(z, p); break;                                                                 \
    case ACT_RELU: d = act_d_relu_##V(z, p); break;                                                                 \
    case ACT_LEAKY_RELU: d = act_d_leaky_relu_##V(z, p); break;                                                     \
    case ACT_ELU: d = act_d_elu_##V(z, p); break;                                                                   \
    case ACT_SELU: d = act_d_selu_##V(z, p); break;                                                                 \
    case ACT_SOFTSIGN: d = act_d_softsign_##V(z, p); break;                                                         \
    case ACT_SOFTPLUS: d = act_d_softplus_##V(z, p); break;                                                         \
    case ACT_GELU: d = act_d_gelu_##V(z, p); break;                                                                 \
    case ACT_GELU_TANH: d = act_d_gelu_tanh_##V(z, p); break;                                                       \
    default: return (T)(1.0f);                                                                                      \
    }                                                                                                               \
    return ACT_SEL(T, isnan(z), z, d);                                                                              \
}

#ifdef __OPENCL_VERSION__
ACT_DEFINE(, float8, 8, 8)
ACT_DEFINE(16, float16, 16, 16)
#else
ACT_DEFINE(, float, , 1)
#endif

#ifdef __OPENCL_VERSION__
/* ---- the column sums of activation_bias_grad (activation.cl's header gives
** the order), shared with mlp_wgrad (mlp.cl) ---- */
#define ACT_BG_BLOCK 32 /* rows per block (numeric definition) */
#define ACT_BG_STACK 40 /* binary-counter stack: runs of up to 2^39 blocks */

typedef struct {
    float8 s, c;
} act_nrec_;

inline act_nrec_ act_nmerge_(const act_nrec_ a, const act_nrec_ b)
{
    act_nrec_ r;
    r.s = a.s + b.s;
    r.c = (a.c + b.c) + select((b.s - r.s) + a.s, (a.s - r.s) + b.s, isgreaterequal(fabs(a.s), fabs(b.s)));
    return r;
}

/* The record of the blocks b0 .. b1-1 (a run of the column tree) of the
** columns j .. j+7 (nc of them valid; 0: the identity) of dY (rows, cols):
** each block's rows added in order, the blocks merged with a binary-counter
** stack, folded from the top. */
inline act_nrec_ act_bias_grad_run_(__global const float *dY, const ulong dyoff, const ulong rows, const ulong cols,
                                    const ulong j, const ulong nc, const ulong b0, const ulong b1)
{
    act_nrec_ stk[ACT_BG_STACK];
    uint sp = 0;
    if (nc > 0)
        for (ulong b = b0; b < b1; b++) {
            float8 s = -0.0f, e = 0.0f;
            const ulong i1 = min((b + 1) * ACT_BG_BLOCK, rows);
            for (ulong i = b * ACT_BG_BLOCK; i < i1; i++) {
                const float8 x = clg_load8_(dY + dyoff + i * cols + j, nc);
                const float8 t = s + x;
                e = e + select((x - t) + s, (s - t) + x, isgreaterequal(fabs(s), fabs(x)));
                s = t;
            }
            stk[sp].s = s, stk[sp].c = e, sp++;
            /* binary counter: merge the top two once per trailing 0 bit of (b - b0) + 1 */
            for (ulong q = b - b0 + 1; (q & 1) == 0; q >>= 1, sp--) stk[sp - 2] = act_nmerge_(stk[sp - 2], stk[sp - 1]);
        }
    act_nrec_ me;
    me.s = -0.0f, me.c = 0.0f;
    if (sp > 0) {
        me = stk[sp - 1];
        for (uint q = sp - 1; q > 0; q--) me = act_nmerge_(stk[q - 1], me); /* the rest of the run: identities */
    }
    return me;
}
#endif
