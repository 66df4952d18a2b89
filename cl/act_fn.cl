/*
** act_fn.cl: the activation functions f(z) and f'(z) on float8 (on the host: float), a function
** library (no kernels) included after common.cl by the programs that apply
** activations: activation.cl (the elementwise kernels) and matmul.cl (the
** GEMM epilogues).  Both use these same functions, so an activation fused
** into a GEMM gives the same bits as the separate kernel.  The formulas and
** their stable forms are described in activation.cl's header.
**
**   act_f_<name>_(z, p), act_d_<name>_(z, p)   one activation, straight-line
**   act_f8_(act, p, z), act_d8_(act, p, z)      by clgrad_act value (a switch);
**                                               act_d8_ passes NaN z through
**
** One source for device and host: on the device z is a float8 (ACT_T), on the
** host (tests/test_activation.c includes cl/math.cl then this file) a float,
** named act_f1_/act_d1_ for the switches; the transcendentals are math.cl's
** (clgm_exp8 / clgm_exp ...), so the host scalar build gives the kernels' bits.
*/

#ifdef __OPENCL_VERSION__
#define ACT_T float8
#define ACT_FN inline
#define ACT_M(name) clgm_##name##8 /* math.cl, float8 */
#define ACT_DIV(a, b) clg_div8((ACT_T)(a), (ACT_T)(b)) /* common.cl: correctly rounded */
#define act_fabs_ fabs
#define act_copysign_ copysign
/* c ? a : b, component-wise (c from a float8 comparison: -1 true, 0 false) */
#define SEL(c, a, b) select((ACT_T)(b), (ACT_T)(a), (c))
#else
#define ACT_T float
#define ACT_FN static inline
#define ACT_M(name) clgm_##name
#define ACT_DIV(a, b) clg_div((a), (b))
#define act_fabs_ fabsf
#define act_copysign_ copysignf
#define SEL(c, a, b) ((c) ? (ACT_T)(a) : (ACT_T)(b))
#define act_f8_ act_f1_
#define act_d8_ act_d1_
#endif

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
ACT_FN ACT_T act_sigmoid_(const ACT_T z)
{
    const ACT_T e = ACT_M(exp)(-act_fabs_(z));
    return SEL(z >= 0.0f, ACT_DIV(1.0f, 1.0f + e), ACT_DIV(e, 1.0f + e));
}

/* sigmoid'(z) = sigmoid(z) sigmoid(-z) = e / (1+e)^2, symmetric, no cancellation */
ACT_FN ACT_T act_dsigmoid_(const ACT_T z)
{
    const ACT_T e = ACT_M(exp)(-act_fabs_(z));
    const ACT_T d = 1.0f + e;
    return ACT_DIV(e, d * d);
}

/* gelu_tanh's inner argument 2y = 2 sqrt(2/pi) (z + kappa z^3); Inf for |z| > ~7e12 */
ACT_FN ACT_T act_gelu_2y_(const ACT_T z)
{
    return 2.0f * (GELU_BETA * (z + GELU_KAPPA * (z * z * z)));
}

/* ---- f(z) ---- */
ACT_FN ACT_T act_f_identity_(const ACT_T z, const float p) { return z; }
ACT_FN ACT_T act_f_sigmoid_(const ACT_T z, const float p) { return act_sigmoid_(z); }
ACT_FN ACT_T act_f_tanh_(const ACT_T z, const float p) { return ACT_M(tanh)(z); }
ACT_FN ACT_T act_f_relu_(const ACT_T z, const float p) { return SEL((z > 0.0f) | isnan(z), z, 0.0f); }
ACT_FN ACT_T act_f_leaky_relu_(const ACT_T z, const float p)
{
    /* slope 0 is relu: -Inf * 0 would be NaN */
    return SEL((z > 0.0f) | isnan(z), z, p == 0.0f ? (ACT_T)0.0f : z * p);
}
/* expm1(-Inf) = -1; NaN stays NaN */
ACT_FN ACT_T act_f_elu_(const ACT_T z, const float p) { return SEL(z > 0.0f, z, p * ACT_M(expm1)(z)); }
ACT_FN ACT_T act_f_selu_(const ACT_T z, const float p)
{
    return SELU_LAMBDA * SEL(z > 0.0f, z, SELU_ALPHA * ACT_M(expm1)(z));
}
ACT_FN ACT_T act_f_softsign_(const ACT_T z, const float p)
{
    return SEL(isinf(z), act_copysign_((ACT_T)1.0f, z), ACT_DIV(z, 1.0f + act_fabs_(z)));
}
ACT_FN ACT_T act_f_softplus_(const ACT_T z, const float p)
{
    return SEL(z > 0.0f, z, 0.0f) + ACT_M(log1p)(ACT_M(exp)(-act_fabs_(z)));
}
ACT_FN ACT_T act_f_gelu_(const ACT_T z, const float p)
{
    const ACT_T phi = 0.5f * ACT_M(erfc)(-(z * INV_SQRT2)); /* Phi(z), NaN for NaN */
    return SEL(phi == 0.0f, 0.0f, z * phi);
}
ACT_FN ACT_T act_f_gelu_tanh_(const ACT_T z, const float p)
{
    const ACT_T s = act_sigmoid_(act_gelu_2y_(z));
    return SEL(s == 0.0f, 0.0f, z * s);
}

/* ---- f'(z) for finite or infinite z (NaN z is passed through by the kernel) ---- */
ACT_FN ACT_T act_d_sigmoid_(const ACT_T z, const float p) { return act_dsigmoid_(z); }
ACT_FN ACT_T act_d_tanh_(const ACT_T z, const float p)
{
    const ACT_T e = ACT_M(exp)(-2.0f * act_fabs_(z));
    const ACT_T d = 1.0f + e;
    return ACT_DIV(4.0f * e, d * d);
}
/* relu'(0) = 0, as PyTorch */
ACT_FN ACT_T act_d_relu_(const ACT_T z, const float p) { return SEL(z > 0.0f, 1.0f, 0.0f); }
ACT_FN ACT_T act_d_leaky_relu_(const ACT_T z, const float p) { return SEL(z > 0.0f, 1.0f, p); }
ACT_FN ACT_T act_d_elu_(const ACT_T z, const float p) { return SEL(z > 0.0f, 1.0f, p * ACT_M(exp)(z)); }
ACT_FN ACT_T act_d_selu_(const ACT_T z, const float p)
{
    return SEL(z > 0.0f, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * ACT_M(exp)(z));
}
ACT_FN ACT_T act_d_softsign_(const ACT_T z, const float p)
{
    const ACT_T t = ACT_DIV(1.0f, 1.0f + act_fabs_(z)); /* 0 at ±Inf */
    return t * t;
}
ACT_FN ACT_T act_d_softplus_(const ACT_T z, const float p) { return act_sigmoid_(z); }
ACT_FN ACT_T act_d_gelu_(const ACT_T z, const float p)
{
    const ACT_T Phi = 0.5f * ACT_M(erfc)(-(z * INV_SQRT2));
    const ACT_T phi = INV_SQRT2PI * ACT_M(exp)(-0.5f * (z * z));
    return SEL(phi == 0.0f, Phi, Phi + z * phi);
}
ACT_FN ACT_T act_d_gelu_tanh_(const ACT_T z, const float p)
{
    const ACT_T t = act_gelu_2y_(z);
    const ACT_T s = act_sigmoid_(t);
    const ACT_T ds = act_dsigmoid_(t); /* s (1 - s) */
    return SEL(ds == 0.0f, s, s + ((2.0f * z) * ds) * (GELU_BETA * (1.0f + (3.0f * GELU_KAPPA) * (z * z))));
}

/* f(z) by clgrad_act value (identity for an unknown one: the host rejects those) */
ACT_FN ACT_T act_f8_(const int act, const float p, const ACT_T z)
{
    switch (act) {
    case ACT_SIGMOID: return act_f_sigmoid_(z, p);
    case ACT_TANH: return act_f_tanh_(z, p);
    case ACT_RELU: return act_f_relu_(z, p);
    case ACT_LEAKY_RELU: return act_f_leaky_relu_(z, p);
    case ACT_ELU: return act_f_elu_(z, p);
    case ACT_SELU: return act_f_selu_(z, p);
    case ACT_SOFTSIGN: return act_f_softsign_(z, p);
    case ACT_SOFTPLUS: return act_f_softplus_(z, p);
    case ACT_GELU: return act_f_gelu_(z, p);
    case ACT_GELU_TANH: return act_f_gelu_tanh_(z, p);
    default: return z;
    }
}

/* f'(z) by clgrad_act value, NaN where z is NaN (identity: 1) */
ACT_FN ACT_T act_d8_(const int act, const float p, const ACT_T z)
{
    ACT_T d;
    switch (act) {
    case ACT_SIGMOID: d = act_d_sigmoid_(z, p); break;
    case ACT_TANH: d = act_d_tanh_(z, p); break;
    case ACT_RELU: d = act_d_relu_(z, p); break;
    case ACT_LEAKY_RELU: d = act_d_leaky_relu_(z, p); break;
    case ACT_ELU: d = act_d_elu_(z, p); break;
    case ACT_SELU: d = act_d_selu_(z, p); break;
    case ACT_SOFTSIGN: d = act_d_softsign_(z, p); break;
    case ACT_SOFTPLUS: d = act_d_softplus_(z, p); break;
    case ACT_GELU: d = act_d_gelu_(z, p); break;
    case ACT_GELU_TANH: d = act_d_gelu_tanh_(z, p); break;
    default: return (ACT_T)(1.0f);
    }
    return SEL(isnan(z), z, d);
}

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
