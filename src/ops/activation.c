/*
** activation.c: activation and bias launchers (cl/activation.cl), activation
** names and init gains.  The float64 host references with the kernels' error
** bounds and the "activation" self-check: src/check/activation_check.c.
*/
#include "core/internal.h"
#include "clgrad/activation.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- names, parameters, gains ---- */

static const char *const act_names_[CLGRAD_ACT_COUNT] = {
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softsign", "softplus", "gelu", "gelu_tanh",
};

const char *clgrad_act_name(clgrad_act act)
{
    return (int)act >= 0 && act < CLGRAD_ACT_COUNT ? act_names_[act] : "?";
}

int clgrad_act_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "linear") == 0) return CLGRAD_ACT_IDENTITY;
    for (int i = 0; i < CLGRAD_ACT_COUNT; i++)
        if (strcmp(name, act_names_[i]) == 0) return i;
    return -1;
}

float clgrad_act_default_param(clgrad_act act)
{
    switch (act) {
    case CLGRAD_ACT_LEAKY_RELU: return 0.01f;
    case CLGRAD_ACT_ELU: return 1.0f;
    default: return 0.0f;
    }
}

double clgrad_act_gain(clgrad_act act, double param)
{
    switch (act) {
    case CLGRAD_ACT_TANH: return 5.0 / 3.0;
    case CLGRAD_ACT_RELU: return sqrt(2.0);
    case CLGRAD_ACT_LEAKY_RELU: return sqrt(2.0 / (1.0 + param * param));
    case CLGRAD_ACT_SELU: return 0.75;
    default: return (int)act >= 0 && act < CLGRAD_ACT_COUNT ? 1.0 : NAN;
    }
}

/* ---- launchers ---- */

#define ACT_V 8 /* elements per work-item of the activation and bias kernels (ACT_V in cl/activation.cl) */

static clgrad_status check_act_(clgrad_ctx *ctx, const char *fn, clgrad_act act)
{
    if ((int)act < 0 || act >= CLGRAD_ACT_COUNT)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown activation %d", fn, (int)act);
    return CLGRAD_OK;
}

/* The kernel "activation_<dir>_<name>" of act (one kernel per activation). */
static cl_kernel act_kernel_(clgrad_ctx *ctx, const char *dir, clgrad_act act, char *name, size_t cap)
{
    snprintf(name, cap, "activation_%s_%s", dir, act_names_[act]);
    return clgrad_kernel(ctx, name);
}

static size_t pow2_at_least_(size_t x)
{
    size_t p = 1;
    while (p < x) p *= 2;
    return p;
}

clgrad_status clgrad_activation_forward(clgrad_ctx *ctx, clgrad_act act, float param, cl_mem z, size_t zoff,
                                        cl_mem h, size_t hoff, size_t n)
{
    clgrad_status st = check_act_(ctx, "activation_forward", act);
    if (st != CLGRAD_OK || n == 0) return st;
    if (!z || !h) return clgrad_fail(ctx, CLGRAD_E_ARG, "activation_forward: NULL buffer");
    char name[64];
    cl_kernel k = act_kernel_(ctx, "forward", act, name, sizeof name);
    if (!k) return CLGRAD_E_ARG;
    cl_ulong zo = zoff, ho = hoff, nn = n;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, param);
    CLGRAD_ARG(ctx, k, i++, z); CLGRAD_ARG(ctx, k, i++, zo);
    CLGRAD_ARG(ctx, k, i++, h); CLGRAD_ARG(ctx, k, i++, ho);
    CLGRAD_ARG(ctx, k, i++, nn);
    /* one float8 per work-item */
    return clgrad_launch1d(ctx, k, name, (n + ACT_V - 1) / ACT_V, clgrad_wg(ctx));
fail:
    return st;
}

clgrad_status clgrad_activation_backward(clgrad_ctx *ctx, clgrad_act act, float param, cl_mem z, size_t zoff,
                                         cl_mem dh, size_t dhoff, cl_mem dz, size_t dzoff, size_t n)
{
    clgrad_status st = check_act_(ctx, "activation_backward", act);
    if (st != CLGRAD_OK || n == 0) return st;
    if (!z || !dh || !dz) return clgrad_fail(ctx, CLGRAD_E_ARG, "activation_backward: NULL buffer");
    char name[64];
    cl_kernel k = act_kernel_(ctx, "backward", act, name, sizeof name);
    if (!k) return CLGRAD_E_ARG;
    cl_ulong zo = zoff, ho = dhoff, dzo = dzoff, nn = n;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, param);
    CLGRAD_ARG(ctx, k, i++, z); CLGRAD_ARG(ctx, k, i++, zo);
    CLGRAD_ARG(ctx, k, i++, dh); CLGRAD_ARG(ctx, k, i++, ho);
    CLGRAD_ARG(ctx, k, i++, dz); CLGRAD_ARG(ctx, k, i++, dzo);
    CLGRAD_ARG(ctx, k, i++, nn);
    return clgrad_launch1d(ctx, k, name, (n + ACT_V - 1) / ACT_V, clgrad_wg(ctx));
fail:
    return st;
}

clgrad_status clgrad_activation_bias_add(clgrad_ctx *ctx, cl_mem X, size_t xoff, size_t rows, size_t cols,
                                         cl_mem b, size_t boff)
{
    clgrad_status st = CLGRAD_OK;
    if (rows == 0 || cols == 0) return CLGRAD_OK;
    if (!X || !b) return clgrad_fail(ctx, CLGRAD_E_ARG, "activation_bias_add: NULL buffer");
    if (rows > SIZE_MAX / cols) return clgrad_fail(ctx, CLGRAD_E_ARG, "activation_bias_add: rows * cols overflows");
    cl_kernel k = clgrad_kernel(ctx, "activation_bias_add");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong xo = xoff, r = rows, c = cols, bo = boff;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, X); CLGRAD_ARG(ctx, k, i++, xo);
    CLGRAD_ARG(ctx, k, i++, r); CLGRAD_ARG(ctx, k, i++, c);
    CLGRAD_ARG(ctx, k, i++, b); CLGRAD_ARG(ctx, k, i++, bo);
    /* 2-D range: (float8 column vectors, rows), groups of at most clgrad_wg items */
    size_t wg = clgrad_wg(ctx), nv = (cols + ACT_V - 1) / ACT_V;
    size_t l0 = pow2_at_least_(nv) < wg ? pow2_at_least_(nv) : wg;
    size_t l1 = pow2_at_least_(rows) < wg / l0 ? pow2_at_least_(rows) : wg / l0;
    size_t local[2] = {l0, l1}, global[2] = {(nv + l0 - 1) / l0 * l0, (rows + l1 - 1) / l1 * l1};
    return clgrad_launch(ctx, k, "activation_bias_add", 2, global, local);
fail:
    return st;
}

/* Row split S of activation_bias_grad (cl/activation.cl): a power of two, at
** most wg / min(#column vectors, 4) so that a group covers at least 4 column
** vectors (128 contiguous bytes of a row) where the matrix has them, and
** leaving at least one block of 32 rows to each item.  A pure performance
** choice: the summation order is fixed by the shape whatever S is. */
static size_t bias_grad_split_(size_t rows, size_t cols, size_t wg)
{
    size_t nv = (cols + ACT_V - 1) / ACT_V, lcmin = pow2_at_least_(nv) < 4 ? pow2_at_least_(nv) : 4;
    size_t s = 1, nb = (rows + 31) / 32;
    while (s * 2 <= wg / lcmin && nb / (s * 2) >= 1) s *= 2;
    return s;
}

clgrad_status clgrad_activation_bias_grad(clgrad_ctx *ctx, cl_mem dY, size_t dyoff, size_t rows, size_t cols,
                                          float beta, cl_mem db, size_t dboff)
{
    clgrad_status st = CLGRAD_OK;
    if (cols == 0) return CLGRAD_OK;
    if (!dY || !db) return clgrad_fail(ctx, CLGRAD_E_ARG, "activation_bias_grad: NULL buffer");
    /* at most 256 items (ACT_BG_WG of cl/activation.cl) */
    size_t wg = clgrad_wg(ctx) < 256 ? clgrad_wg(ctx) : 256, nv = (cols + ACT_V - 1) / ACT_V;
    cl_kernel k = clgrad_kernel(ctx, "activation_bias_grad");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong dyo = dyoff, r = rows, c = cols, dbo = dboff;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, dY); CLGRAD_ARG(ctx, k, i++, dyo);
    CLGRAD_ARG(ctx, k, i++, r); CLGRAD_ARG(ctx, k, i++, c);
    CLGRAD_ARG(ctx, k, i++, beta);
    CLGRAD_ARG(ctx, k, i++, db); CLGRAD_ARG(ctx, k, i++, dbo);
    /* groups of wg items: (column vectors, row split) = (wg / S, S) */
    size_t S = bias_grad_split_(rows, cols, wg), lc = wg / S;
    size_t local[2] = {lc, S}, global[2] = {(nv + lc - 1) / lc * lc, S};
    return clgrad_launch(ctx, k, "activation_bias_grad", 2, global, local);
fail:
    return st;
}
