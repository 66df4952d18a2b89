/*
** act_fn.cl: the activation functions f(z) and f'(z) on float8, a function
** library (no kernels) included after common.cl by the programs that apply
** activations: activation.cl (the elementwise kernels) and matmul.cl (the
** GEMM epilogues).  Both use these same functions, so an activation fused
** into a GEMM gives the same bits as the separate kernel.  The formulas and
** their stable forms are described in activation.cl's header.
**
**   act_f_<name>_(z, p), act_d_<name>_(z, p)   one activation, straight-line
**   act_f8_(act, p, z), act_d8_(act, p, z)      by clgrad_act value (a switch);
**                                               act_d8_ passes NaN z through
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

/* c ? a : b, component-wise (c from a float8 comparison: -1 true, 0 false) */
#define SEL(c, a, b) select((float8)(b), (float8)(a), (c))

/* sigmoid(z) from e = exp(-|z|) */
inline float8 act_sigmoid_(const float8 z)
{
    const float8 e = exp(-fabs(z));
    return SEL(z >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e));
}

/* sigmoid'(z) = sigmoid(z) sigmoid(-z) = e / (1+e)^2, symmetric, no cancellation */
inline float8 act_dsigmoid_(const float8 z)
{
    const float8 e = exp(-fabs(z));
    const float8 d = 1.0f + e;
    return e / (d * d);
}

/* gelu_tanh's inner argument 2y = 2 sqrt(2/pi) (z + kappa z^3); Inf for |z| > ~7e12 */
inline float8 act_gelu_2y_(const float8 z)
{
    return 2.0f * (GELU_BETA * (z + GELU_KAPPA * (z * z * z)));
}

/* ---- f(z) ---- */
inline float8 act_f_identity_(const float8 z, const float p) { return z; }
inline float8 act_f_sigmoid_(const float8 z, const float p) { return act_sigmoid_(z); }
inline float8 act_f_tanh_(const float8 z, const float p) { return tanh(z); }
inline float8 act_f_relu_(const float8 z, const float p) { return SEL((z > 0.0f) | isnan(z), z, 0.0f); }
inline float8 act_f_leaky_relu_(const float8 z, const float p)
{
    /* slope 0 is relu: -Inf * 0 would be NaN */
    return SEL((z > 0.0f) | isnan(z), z, p == 0.0f ? (float8)0.0f : z * p);
}
/* expm1(-Inf) = -1; NaN stays NaN */
inline float8 act_f_elu_(const float8 z, const float p) { return SEL(z > 0.0f, z, p * expm1(z)); }
inline float8 act_f_selu_(const float8 z, const float p)
{
    return SELU_LAMBDA * SEL(z > 0.0f, z, SELU_ALPHA * expm1(z));
}
inline float8 act_f_softsign_(const float8 z, const float p)
{
    return SEL(isinf(z), copysign((float8)1.0f, z), z / (1.0f + fabs(z)));
}
inline float8 act_f_softplus_(const float8 z, const float p)
{
    return SEL(z > 0.0f, z, 0.0f) + log1p(exp(-fabs(z)));
}
inline float8 act_f_gelu_(const float8 z, const float p)
{
    const float8 phi = 0.5f * erfc(-(z * INV_SQRT2)); /* Phi(z), NaN for NaN */
    return SEL(phi == 0.0f, 0.0f, z * phi);
}
inline float8 act_f_gelu_tanh_(const float8 z, const float p)
{
    const float8 s = act_sigmoid_(act_gelu_2y_(z));
    return SEL(s == 0.0f, 0.0f, z * s);
}

/* ---- f'(z) for finite or infinite z (NaN z is passed through by the kernel) ---- */
inline float8 act_d_sigmoid_(const float8 z, const float p) { return act_dsigmoid_(z); }
inline float8 act_d_tanh_(const float8 z, const float p)
{
    const float8 e = exp(-2.0f * fabs(z));
    const float8 d = 1.0f + e;
    return (4.0f * e) / (d * d);
}
/* relu'(0) = 0, as PyTorch */
inline float8 act_d_relu_(const float8 z, const float p) { return SEL(z > 0.0f, 1.0f, 0.0f); }
inline float8 act_d_leaky_relu_(const float8 z, const float p) { return SEL(z > 0.0f, 1.0f, p); }
inline float8 act_d_elu_(const float8 z, const float p) { return SEL(z > 0.0f, 1.0f, p * exp(z)); }
inline float8 act_d_selu_(const float8 z, const float p)
{
    return SEL(z > 0.0f, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * exp(z));
}
inline float8 act_d_softsign_(const float8 z, const float p)
{
    const float8 t = 1.0f / (1.0f + fabs(z)); /* 0 at ±Inf */
    return t * t;
}
inline float8 act_d_softplus_(const float8 z, const float p) { return act_sigmoid_(z); }
inline float8 act_d_gelu_(const float8 z, const float p)
{
    const float8 Phi = 0.5f * erfc(-(z * INV_SQRT2));
    const float8 phi = INV_SQRT2PI * exp(-0.5f * (z * z));
    return SEL(phi == 0.0f, Phi, Phi + z * phi);
}
inline float8 act_d_gelu_tanh_(const float8 z, const float p)
{
    const float8 t = act_gelu_2y_(z);
    const float8 s = act_sigmoid_(t);
    const float8 ds = act_dsigmoid_(t); /* s (1 - s) */
    return SEL(ds == 0.0f, s, s + ((2.0f * z) * ds) * (GELU_BETA * (1.0f + (3.0f * GELU_KAPPA) * (z * z))));
}

/* f(z) by clgrad_act value (identity for an unknown one: the host rejects those) */
inline float8 act_f8_(const int act, const float p, const float8 z)
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
inline float8 act_d8_(const int act, const float p, const float8 z)
{
    float8 d;
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
    default: return (float8)(1.0f);
    }
    return SEL(isnan(z), z, d);
}
