/*
** norm.c: launchers of the normalisation kernels (cl/norm.cl; the equations
** and PyTorch's conventions are in include/clgrad/norm.h).
*/
#include "core/internal.h"
#include "clgrad/norm.h"

#include <math.h>
#include <string.h>

static const char *const names_[] = {"none", "layernorm", "rmsnorm", "batchnorm"};

int clgrad_normlayer_parse(const char *name)
{
    for (int k = 0; name && k < 4; k++)
        if (strcmp(name, names_[k]) == 0) return k;
    return -1;
}

const char *clgrad_normlayer_name(clgrad_normlayer kind) { return (unsigned)kind < 4 ? names_[kind] : "?"; }

double clgrad_normlayer_default_eps(clgrad_normlayer kind)
{
    return kind == CLGRAD_NL_RMS ? 0x1p-23 : 1e-5;
}

size_t clgrad_norm_stats_floats(clgrad_normlayer kind, size_t B, size_t N)
{
    return 2 * (kind == CLGRAD_NL_BATCH ? N : B);
}

static clgrad_status check_(clgrad_ctx *ctx, const clgrad_norm_args *a, int training)
{
    if (a->kind < CLGRAD_NL_LAYER || a->kind > CLGRAD_NL_BATCH || a->B == 0 || a->N == 0 || !(a->eps > 0.0f))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "norm: invalid arguments (kind %d, %zu x %zu, eps %g)", (int)a->kind,
                           a->B, a->N, (double)a->eps);
    if (a->kind == CLGRAD_NL_BATCH && training && a->B < 2)
        return clgrad_fail(ctx, CLGRAD_E_ARG,
                           "batchnorm: training needs more than 1 value per feature (batch of %zu), as PyTorch's "
                           "BatchNorm1d",
                           a->B);
    return CLGRAD_OK;
}

clgrad_status clgrad_norm_forward(clgrad_ctx *ctx, const clgrad_norm_args *a, cl_mem x, size_t xoff, cl_mem y,
                                  size_t yoff)
{
    clgrad_status st = check_(ctx, a, a->training);
    if (st != CLGRAD_OK) return st;
    if (a->kind == CLGRAD_NL_BATCH) {
        cl_mem run = a->run, halt = a->halt ? a->halt : a->run; /* any valid buffer when unused */
        cl_ulong hoff = a->halt ? a->halt_off : 0;
        cl_int use_halt = a->halt != NULL;
        clgrad_karg args[] = {CLGRAD_KI(a->training), CLGRAD_KU(a->B),  CLGRAD_KU(a->N),    CLGRAD_KF(a->eps),     CLGRAD_KF(a->momentum), CLGRAD_KM(x),
                        CLGRAD_KU(xoff),        CLGRAD_KM(a->p),  CLGRAD_KU(a->woff), CLGRAD_KU(a->boff),    CLGRAD_KI(a->has_bias), CLGRAD_KM(y),
                        CLGRAD_KU(yoff),        CLGRAD_KM(a->st), CLGRAD_KU(a->soff), CLGRAD_KM(run),        CLGRAD_KU(a->rmoff),    CLGRAD_KU(a->rvoff),
                        CLGRAD_KI(!a->freeze), CLGRAD_KM(halt), CLGRAD_KU(hoff),
                        CLGRAD_KI(use_halt)};
        return clgrad_launch_args(ctx, "norm_batch_forward", a->N, args, 22);
    }
    clgrad_karg args[] = {CLGRAD_KI(a->kind),     CLGRAD_KU(a->B), CLGRAD_KU(a->N),  CLGRAD_KF(a->eps), CLGRAD_KM(x),       CLGRAD_KU(xoff), CLGRAD_KM(a->p),
                    CLGRAD_KU(a->woff),     CLGRAD_KU(a->boff), CLGRAD_KI(a->has_bias), CLGRAD_KM(y), CLGRAD_KU(yoff), CLGRAD_KM(a->st), CLGRAD_KU(a->soff)};
    return clgrad_launch_args(ctx, "norm_rows_forward", a->B, args, 14);
}

clgrad_status clgrad_norm_backward(clgrad_ctx *ctx, const clgrad_norm_args *a, cl_mem x, size_t xoff, cl_mem dy,
                                   size_t dyoff, cl_mem dx, size_t dxoff, int acc, cl_mem g, size_t gwoff,
                                   size_t gboff)
{
    clgrad_status st = check_(ctx, a, 1);
    if (st != CLGRAD_OK) return st;
    if (a->kind == CLGRAD_NL_BATCH) {
        clgrad_karg args[] = {CLGRAD_KU(a->B), CLGRAD_KU(a->N), CLGRAD_KM(x),    CLGRAD_KU(xoff),  CLGRAD_KM(a->p), CLGRAD_KU(a->woff), CLGRAD_KM(a->st),
                        CLGRAD_KU(a->soff), CLGRAD_KM(dy), CLGRAD_KU(dyoff), CLGRAD_KM(dx), CLGRAD_KU(dxoff), CLGRAD_KI(acc)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "norm_batch_backward", a->N, args, 13));
    } else {
        clgrad_karg args[] = {CLGRAD_KI(a->kind), CLGRAD_KU(a->B), CLGRAD_KU(a->N), CLGRAD_KM(x),  CLGRAD_KU(xoff),  CLGRAD_KM(a->p), CLGRAD_KU(a->woff),
                        CLGRAD_KM(a->st),   CLGRAD_KU(a->soff), CLGRAD_KM(dy), CLGRAD_KU(dyoff), CLGRAD_KM(dx), CLGRAD_KU(dxoff), CLGRAD_KI(acc)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "norm_rows_backward", a->B, args, 14));
    }
    {
        clgrad_karg args[] = {CLGRAD_KI(a->kind), CLGRAD_KU(a->B), CLGRAD_KU(a->N), CLGRAD_KM(x),     CLGRAD_KU(xoff),  CLGRAD_KM(a->st),      CLGRAD_KU(a->soff),
                        CLGRAD_KM(dy),      CLGRAD_KU(dyoff), CLGRAD_KM(g),   CLGRAD_KU(gwoff), CLGRAD_KU(gboff), CLGRAD_KI(a->has_bias)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "norm_param_grad", a->N, args, 13));
    }
fail:
    return st;
}

clgrad_status clgrad_norm_add(clgrad_ctx *ctx, size_t n, cl_mem a, size_t aoff, cl_mem b, size_t boff, cl_mem y,
                              size_t yoff)
{
    clgrad_karg args[] = {CLGRAD_KU(n), CLGRAD_KM(a), CLGRAD_KU(aoff), CLGRAD_KM(b), CLGRAD_KU(boff), CLGRAD_KM(y), CLGRAD_KU(yoff)};
    return clgrad_launch_args(ctx, "norm_add", n, args, 7);
}
