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

typedef struct {
    const void *p;
    size_t size;
} narg_;
#define NM(v) ((narg_){&(v), sizeof(cl_mem)})
#define NU(v) ((narg_){&(cl_ulong){(cl_ulong)(v)}, sizeof(cl_ulong)})
#define NI(v) ((narg_){&(cl_int){(cl_int)(v)}, sizeof(cl_int)})
#define NF(v) ((narg_){&(cl_float){(cl_float)(v)}, sizeof(cl_float)})

static clgrad_status launch_(clgrad_ctx *ctx, const char *name, size_t n, const narg_ *args, int nargs)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, name);
    if (!k) return CLGRAD_E_ARG;
    for (int i = 0; i < nargs; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    CLGRAD_TRY(clgrad_launch1d(ctx, k, name, n, 0));
fail:
    return st;
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
        cl_mem run = a->run;
        narg_ args[] = {NI(a->training), NU(a->B),  NU(a->N),    NF(a->eps),     NF(a->momentum), NM(x),
                        NU(xoff),        NM(a->p),  NU(a->woff), NU(a->boff),    NI(a->has_bias), NM(y),
                        NU(yoff),        NM(a->st), NU(a->soff), NM(run),        NU(a->rmoff),    NU(a->rvoff),
                        NI(!a->freeze)};
        return launch_(ctx, "norm_batch_forward", a->N, args, 19);
    }
    narg_ args[] = {NI(a->kind),     NU(a->B), NU(a->N),  NF(a->eps), NM(x),       NU(xoff), NM(a->p),
                    NU(a->woff),     NU(a->boff), NI(a->has_bias), NM(y), NU(yoff), NM(a->st), NU(a->soff)};
    return launch_(ctx, "norm_rows_forward", a->B, args, 14);
}

clgrad_status clgrad_norm_backward(clgrad_ctx *ctx, const clgrad_norm_args *a, cl_mem x, size_t xoff, cl_mem dy,
                                   size_t dyoff, cl_mem dx, size_t dxoff, int acc, cl_mem g, size_t gwoff,
                                   size_t gboff)
{
    clgrad_status st = check_(ctx, a, 1);
    if (st != CLGRAD_OK) return st;
    if (a->kind == CLGRAD_NL_BATCH) {
        narg_ args[] = {NU(a->B), NU(a->N), NM(x),    NU(xoff),  NM(a->p), NU(a->woff), NM(a->st),
                        NU(a->soff), NM(dy), NU(dyoff), NM(dx), NU(dxoff), NI(acc)};
        CLGRAD_TRY(launch_(ctx, "norm_batch_backward", a->N, args, 13));
    } else {
        narg_ args[] = {NI(a->kind), NU(a->B), NU(a->N), NM(x),  NU(xoff),  NM(a->p), NU(a->woff),
                        NM(a->st),   NU(a->soff), NM(dy), NU(dyoff), NM(dx), NU(dxoff), NI(acc)};
        CLGRAD_TRY(launch_(ctx, "norm_rows_backward", a->B, args, 14));
    }
    {
        narg_ args[] = {NI(a->kind), NU(a->B), NU(a->N), NM(x),     NU(xoff),  NM(a->st),      NU(a->soff),
                        NM(dy),      NU(dyoff), NM(g),   NU(gwoff), NU(gboff), NI(a->has_bias)};
        CLGRAD_TRY(launch_(ctx, "norm_param_grad", a->N, args, 13));
    }
fail:
    return st;
}

clgrad_status clgrad_norm_add(clgrad_ctx *ctx, size_t n, cl_mem a, size_t aoff, cl_mem b, size_t boff, cl_mem y,
                              size_t yoff)
{
    narg_ args[] = {NU(n), NM(a), NU(aoff), NM(b), NU(boff), NM(y), NU(yoff)};
    return launch_(ctx, "norm_add", n, args, 7);
}
