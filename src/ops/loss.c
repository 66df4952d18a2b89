/*
** loss.c: loss launchers (cl/loss.cl) and loss names.  The float64 host
** references of value, gradient and accuracy with the kernels' error bounds,
** the float32 replica of the summation order and the "loss" self-check:
** src/check/loss_check.c.
*/
#include "core/internal.h"
#include "clgrad/loss.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const loss_names_[CLGRAD_LOSS_COUNT] = {"mse", "bce", "ce"};

const char *clgrad_loss_name(clgrad_loss loss)
{
    return (int)loss >= 0 && loss < CLGRAD_LOSS_COUNT ? loss_names_[loss] : "?";
}

int clgrad_loss_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < CLGRAD_LOSS_COUNT; i++)
        if (strcmp(name, loss_names_[i]) == 0) return i;
    return -1;
}

size_t clgrad_loss_target_count(clgrad_loss loss, size_t rows, size_t cols)
{
    return loss == CLGRAD_LOSS_CE ? rows : rows * cols;
}

/* ---- launchers ---- */

static clgrad_status check_args_(clgrad_ctx *ctx, const char *fn, clgrad_loss loss, cl_mem a, cl_mem b, cl_mem c,
                                 size_t rows, size_t cols)
{
    if ((int)loss < 0 || loss >= CLGRAD_LOSS_COUNT)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown loss %d", fn, (int)loss);
    if (!a || !b || !c) return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: NULL buffer", fn);
    if (cols != 0 && rows > SIZE_MAX / cols) return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: rows * cols overflows", fn);
    return CLGRAD_OK;
}

clgrad_status clgrad_loss_grad(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                               size_t toff, cl_mem grad, size_t goff, size_t rows, size_t cols)
{
    clgrad_status st = check_args_(ctx, "loss_grad", loss, pred, target, grad, rows, cols);
    if (st != CLGRAD_OK || rows == 0 || cols == 0) return st;
    cl_kernel k = clgrad_kernel(ctx, "loss_grad");
    if (!k) return CLGRAD_E_ARG;
    cl_int l = (cl_int)loss;
    cl_ulong po = poff, to = toff, go = goff, r = rows, c = cols;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, l);
    CLGRAD_ARG(ctx, k, i++, pred); CLGRAD_ARG(ctx, k, i++, po);
    CLGRAD_ARG(ctx, k, i++, target); CLGRAD_ARG(ctx, k, i++, to);
    CLGRAD_ARG(ctx, k, i++, grad); CLGRAD_ARG(ctx, k, i++, go);
    CLGRAD_ARG(ctx, k, i++, r); CLGRAD_ARG(ctx, k, i++, c);
    /* one work-item per row (CE) or per element */
    return clgrad_launch1d(ctx, k, "loss_grad", loss == CLGRAD_LOSS_CE ? rows : rows * cols, clgrad_wg(ctx));
fail:
    return st;
}

/* loss_value / loss_accuracy: one work-group of exactly clgrad_wg items. */
static clgrad_status reduce_launch_(clgrad_ctx *ctx, const char *name, clgrad_loss loss, cl_mem pred, size_t poff,
                                    cl_mem target, size_t toff, size_t rows, size_t cols, cl_mem out, size_t ooff)
{
    clgrad_status st = check_args_(ctx, name, loss, pred, target, out, rows, cols);
    if (st != CLGRAD_OK) return st;
    if (rows == 0 || cols == 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: empty batch (%zu x %zu): the mean is undefined", name, rows, cols);
    cl_kernel k = clgrad_kernel(ctx, name);
    if (!k) return CLGRAD_E_ARG;
    cl_int l = (cl_int)loss;
    cl_ulong po = poff, to = toff, r = rows, c = cols, oo = ooff;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, l);
    CLGRAD_ARG(ctx, k, i++, pred); CLGRAD_ARG(ctx, k, i++, po);
    CLGRAD_ARG(ctx, k, i++, target); CLGRAD_ARG(ctx, k, i++, to);
    CLGRAD_ARG(ctx, k, i++, r); CLGRAD_ARG(ctx, k, i++, c);
    CLGRAD_ARG(ctx, k, i++, out); CLGRAD_ARG(ctx, k, i++, oo);
    {
        size_t wg = clgrad_wg(ctx);
        return clgrad_launch(ctx, k, name, 1, &wg, &wg);
    }
fail:
    return st;
}

clgrad_status clgrad_loss_value(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                                size_t toff, size_t rows, size_t cols, cl_mem out, size_t ooff)
{
    return reduce_launch_(ctx, "loss_value", loss, pred, poff, target, toff, rows, cols, out, ooff);
}

clgrad_status clgrad_loss_accuracy(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                                   size_t toff, size_t rows, size_t cols, cl_mem out, size_t ooff)
{
    if (loss == CLGRAD_LOSS_MSE)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "loss_accuracy: accuracy is not defined for mse");
    return reduce_launch_(ctx, "loss_accuracy", loss, pred, poff, target, toff, rows, cols, out, ooff);
}
