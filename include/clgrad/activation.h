/*
** clgrad/activation.h: elementwise activations (forward h = f(z) and backward
** dz = dh * f'(z) from the pre-activation z), the bias add and bias gradient
** of a dense layer, and their float64 host references (cl/activation.cl).
**
** Buffers are flat float buffers with element offsets.  Semantics follow
** PyTorch (docs/semantics.md); every function is stable for
** any finite z, gives the mathematical limit at ±Inf and NaN for NaN (see the
** header of cl/activation.cl for the formulas).  NaN in dh always gives NaN
** in dz (the backward is one multiplication dh * f'(z)).
*/
#ifndef CLGRAD_ACTIVATION_H
#define CLGRAD_ACTIVATION_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values are compiled into cl/activation.cl (ACT_*): keep them in step. */
typedef enum {
    CLGRAD_ACT_IDENTITY = 0,   /* "identity" (alias "linear") */
    CLGRAD_ACT_SIGMOID = 1,    /* "sigmoid" */
    CLGRAD_ACT_TANH = 2,       /* "tanh" */
    CLGRAD_ACT_RELU = 3,       /* "relu"; relu'(0) = 0 */
    CLGRAD_ACT_LEAKY_RELU = 4, /* "leaky_relu", param = negative slope (default 0.01); f'(0) = slope */
    CLGRAD_ACT_ELU = 5,        /* "elu", param = alpha (default 1); f'(0) = alpha */
    CLGRAD_ACT_SELU = 6,       /* "selu" (fixed alpha 1.6732632423543772, lambda 1.0507009873554805) */
    CLGRAD_ACT_SOFTSIGN = 7,   /* "softsign" z / (1 + |z|) */
    CLGRAD_ACT_SOFTPLUS = 8,   /* "softplus" log(1 + e^z) (beta 1, exact: no PyTorch threshold switch) */
    CLGRAD_ACT_GELU = 9,       /* "gelu", erf form z * Phi(z) */
    CLGRAD_ACT_GELU_TANH = 10, /* "gelu_tanh", PyTorch gelu(approximate='tanh') */
    CLGRAD_ACT_COUNT = 11
} clgrad_act;

/* "relu" etc.; "?" for a value out of range. */
const char *clgrad_act_name(clgrad_act act);
/* Name (as clgrad_act_name, or "linear") -> clgrad_act; -1 when unknown. */
int clgrad_act_parse(const char *name);
/* The parameter used when none is given: 0.01 for leaky_relu, 1 for elu, 0 otherwise. */
float clgrad_act_default_param(clgrad_act act);
/* PyTorch's torch.nn.init.calculate_gain: identity and sigmoid 1, tanh 5/3,
** relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4.  PyTorch has no
** gain for elu, softsign, softplus, gelu, gelu_tanh (it raises); clgrad
** returns 1 for them.  NaN for a value out of range. */
double clgrad_act_gain(clgrad_act act, double param);

/* h (n) = f(z (n)).  In place (h == z, hoff == zoff) is allowed. */
clgrad_status clgrad_activation_forward(clgrad_ctx *ctx, clgrad_act act, float param, cl_mem z, size_t zoff,
                                        cl_mem h, size_t hoff, size_t n);
/* dz (n) = dh (n) * f'(z (n)).  dz may be dh or z (same buffer and offset).
** identity: dz = dh without reading z. */
clgrad_status clgrad_activation_backward(clgrad_ctx *ctx, clgrad_act act, float param, cl_mem z, size_t zoff,
                                         cl_mem dh, size_t dhoff, cl_mem dz, size_t dzoff, size_t n);

/* X (rows, cols) row-major += b (cols) broadcast over the rows. */
clgrad_status clgrad_activation_bias_add(clgrad_ctx *ctx, cl_mem X, size_t xoff, size_t rows, size_t cols,
                                         cl_mem b, size_t boff);
/* db (cols) = beta * db + sum over rows of dY (rows, cols); beta == 0 never
** reads db.  Deterministic (fixed-order compensated sums, a fixed tree; no
** atomics): the same inputs give the same bits on every run. */
clgrad_status clgrad_activation_bias_grad(clgrad_ctx *ctx, cl_mem dY, size_t dyoff, size_t rows, size_t cols,
                                          float beta, cl_mem db, size_t dboff);

#ifdef __cplusplus
}
#endif
#endif
