/*
** sharpness.c: the sharpness (lambda_max of the loss Hessian) and the
** preconditioned sharpness of an adaptive optimizer by power iteration on
** central-difference Hessian-vector products; the definitions, the method
** and the same-bits argument are in include/clgrad/sharpness.h, the vector
** kernels in cl/sharpness.cl, the reductions are cl/reduce.cl's.  A small
** API (model, batch, loss) so that any training step can call it.
*/
#include "core/internal.h"
#include "clgrad/init.h"
#include "clgrad/reduce.h"
#include "clgrad/sharpness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct clgrad_sharp {
    clgrad_sharp_cfg cfg;
    size_t n;
    cl_mem wsave; /* the weights, saved at entry and restored at exit */
    cl_mem gp;    /* g(w + eps u) */
    cl_mem v[2];  /* the current unit vector: plain, preconditioned (warm start) */
    int started[2];
    cl_mem hv, tmp, dinv; /* H u; scratch (D v, products); D = P^-1/2 */
    int have_dinv;
    cl_mem stats;      /* 2 records of the one-segment reduction: dot at 0, norm at 2*CLGRAD_RS_SIZE */
    clgrad_segs *segs; /* one segment [0, n) */
};

size_t clgrad_sharp_floats(size_t nparams) { return 7 * nparams + 4 * CLGRAD_RS_SIZE; }

void clgrad_sharp_free(clgrad_sharp **shp)
{
    if (!shp || !*shp) return;
    clgrad_sharp *sh = *shp;
    cl_mem *b[] = {&sh->wsave, &sh->gp, &sh->v[0], &sh->v[1], &sh->hv, &sh->tmp, &sh->dinv, &sh->stats};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) clgrad_buf_free(b[i]);
    clgrad_segs_free(&sh->segs);
    free(sh);
    *shp = NULL;
}

clgrad_status clgrad_sharp_new(clgrad_ctx *ctx, size_t nparams, const clgrad_sharp_cfg *cfg, clgrad_sharp **out)
{
    clgrad_status st = CLGRAD_OK;
    *out = NULL;
    if (!cfg || cfg->iters < 1 || !(cfg->tol >= 0) || !(cfg->eps_rel > 0) || !isfinite(cfg->eps_rel) || nparams == 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "sharp_new: iters >= 1, tol >= 0, eps_rel > 0 finite, nparams > 0");
    clgrad_sharp *sh = calloc(1, sizeof *sh);
    if (!sh) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "sharp_new: out of memory");
    sh->cfg = *cfg, sh->n = nparams;
    size_t zero = 0;
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "sharpness saved weights", &sh->wsave));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "sharpness gradient", &sh->gp));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "sharpness vector", &sh->v[0]));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "preconditioned sharpness vector", &sh->v[1]));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "Hessian-vector product", &sh->hv));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "sharpness scratch", &sh->tmp));
    CLGRAD_TRY(clgrad_buf_new(ctx, nparams, "preconditioner", &sh->dinv));
    CLGRAD_TRY(clgrad_buf_new(ctx, 4 * CLGRAD_RS_SIZE, "sharpness statistics", &sh->stats));
    CLGRAD_TRY(clgrad_segs_new(ctx, 1, &zero, &nparams, &sh->segs));
    *out = sh;
    return CLGRAD_OK;
fail:
    clgrad_sharp_free(&sh);
    return st;
}

int clgrad_sharp_has_precond(const clgrad_optim_cfg *o)
{
    return o->kind == CLGRAD_OPTIM_RMSPROP || o->kind == CLGRAD_OPTIM_ADAM || o->kind == CLGRAD_OPTIM_ADAMW;
}

double clgrad_sharp_limit(double lr) { return 2.0 / lr; }

double clgrad_sharp_precond_limit(const clgrad_optim_cfg *o, double lr)
{
    if (o->kind == CLGRAD_OPTIM_RMSPROP) return (2.0 + 2.0 * o->momentum) / lr;
    if (o->kind == CLGRAD_OPTIM_ADAM || o->kind == CLGRAD_OPTIM_ADAMW)
        return (2.0 + 2.0 * o->beta1) / ((1.0 - o->beta1) * lr);
    return NAN;
}

/* ---- elementwise launches (cl/sharpness.cl) ---- */

static clgrad_status axpy_(clgrad_ctx *ctx, cl_mem x, float a, cl_mem y, cl_mem out, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "sharp_axpy");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong nn = n;
    CLGRAD_ARG(ctx, k, 0, x);
    CLGRAD_ARG(ctx, k, 1, a);
    CLGRAD_ARG(ctx, k, 2, y);
    CLGRAD_ARG(ctx, k, 3, out);
    CLGRAD_ARG(ctx, k, 4, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "sharp_axpy", n, 0));
fail:
    return st;
}

static clgrad_status mul_(clgrad_ctx *ctx, cl_mem a, cl_mem b, cl_mem out, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "sharp_mul");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong nn = n;
    CLGRAD_ARG(ctx, k, 0, a);
    CLGRAD_ARG(ctx, k, 1, b);
    CLGRAD_ARG(ctx, k, 2, out);
    CLGRAD_ARG(ctx, k, 3, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "sharp_mul", n, 0));
fail:
    return st;
}

static clgrad_status diff_scale_(clgrad_ctx *ctx, cl_mem a, cl_mem b, float c, cl_mem out, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "sharp_diff_scale");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong nn = n;
    CLGRAD_ARG(ctx, k, 0, a);
    CLGRAD_ARG(ctx, k, 1, b);
    CLGRAD_ARG(ctx, k, 2, c);
    CLGRAD_ARG(ctx, k, 3, out);
    CLGRAD_ARG(ctx, k, 4, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "sharp_diff_scale", n, 0));
fail:
    return st;
}

static clgrad_status scale_(clgrad_ctx *ctx, cl_mem x, float c, cl_mem out, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "sharp_scale");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong nn = n;
    CLGRAD_ARG(ctx, k, 0, x);
    CLGRAD_ARG(ctx, k, 1, c);
    CLGRAD_ARG(ctx, k, 2, out);
    CLGRAD_ARG(ctx, k, 3, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "sharp_scale", n, 0));
fail:
    return st;
}

static clgrad_status copy_(clgrad_ctx *ctx, cl_mem src, cl_mem dst, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), src, dst, 0, 0, n * sizeof(float), 0, NULL, NULL));
fail:
    return st;
}

/* 2-norm of x (fixed-order tree), read back. */
static clgrad_status norm_(clgrad_ctx *ctx, clgrad_sharp *sh, cl_mem x, double *out)
{
    clgrad_status st = CLGRAD_OK;
    float r;
    CLGRAD_TRY(clgrad_reduce_stats(ctx, x, 0, sh->segs, sh->stats, 2 * CLGRAD_RS_SIZE));
    CLGRAD_TRY(clgrad_buf_read(ctx, sh->stats, 2 * CLGRAD_RS_SIZE + CLGRAD_RS_NORM2, 1, &r));
    *out = r;
fail:
    return st;
}

/* x *= 1/||x|| (the factor rounded to float once); *nrm = ||x||. */
static clgrad_status normalize_(clgrad_ctx *ctx, clgrad_sharp *sh, cl_mem x, double *nrm)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(norm_(ctx, sh, x, nrm));
    if (*nrm > 0 && isfinite(*nrm)) CLGRAD_TRY(scale_(ctx, x, (float)(1.0 / *nrm), x, sh->n));
fail:
    return st;
}

/* g(w) into the model's gradient buffer for the current weights. */
static clgrad_status grad_(clgrad_ctx *ctx, clgrad_model *m, clgrad_loss loss, cl_mem x, cl_mem y, size_t B, size_t K,
                           cl_mem dlogits)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(clgrad_model_forward(ctx, m, x, 0, B));
    CLGRAD_TRY(clgrad_loss_grad(ctx, loss, clgrad_model_logits(m), 0, y, 0, dlogits, 0, B, K));
    CLGRAD_TRY(clgrad_model_backward(ctx, m, dlogits, 0, B));
fail:
    return st;
}

/* sh->hv = (g(w + eps u) - g(w - eps u)) * (1/(2 eps)), w = sh->wsave; leaves
** the weights at w - eps u (the caller restores them). */
static clgrad_status hvp_(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, clgrad_loss loss, cl_mem x, cl_mem y,
                          size_t B, size_t K, cl_mem dlogits, cl_mem u, float eps, cl_mem out)
{
    clgrad_status st = CLGRAD_OK;
    cl_mem p = clgrad_model_params(m), g = clgrad_model_grads(m);
    CLGRAD_TRY(axpy_(ctx, sh->wsave, eps, u, p, sh->n));
    CLGRAD_TRY(grad_(ctx, m, loss, x, y, B, K, dlogits));
    CLGRAD_TRY(copy_(ctx, g, sh->gp, sh->n));
    CLGRAD_TRY(axpy_(ctx, sh->wsave, -eps, u, p, sh->n));
    CLGRAD_TRY(grad_(ctx, m, loss, x, y, B, K, dlogits));
    CLGRAD_TRY(diff_scale_(ctx, sh->gp, g, (float)(0.5 / (double)eps), out, sh->n));
fail:
    return st;
}

/* Save the weights and choose eps from their norm; *eps = 0 when the
** weights are not finite. */
static clgrad_status begin_(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, float *eps)
{
    clgrad_status st = CLGRAD_OK;
    double wn;
    if (clgrad_model_nparams(m) != sh->n)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "sharpness: the model has %zu parameters, the scratch %zu",
                           clgrad_model_nparams(m), sh->n);
    CLGRAD_TRY(copy_(ctx, clgrad_model_params(m), sh->wsave, sh->n));
    CLGRAD_TRY(norm_(ctx, sh, sh->wsave, &wn));
    *eps = isfinite(wn) ? (float)(sh->cfg.eps_rel * (wn > 1.0 ? wn : 1.0)) : 0.0f;
    if (!(*eps > 0.0f) || !isfinite(*eps)) *eps = 0.0f;
fail:
    return st;
}

clgrad_status clgrad_sharp_hvp(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, clgrad_loss loss, cl_mem x,
                               cl_mem y, size_t B, size_t K, cl_mem dlogits, cl_mem u, cl_mem out)
{
    clgrad_status st = CLGRAD_OK;
    float eps;
    CLGRAD_TRY(begin_(ctx, sh, m, &eps));
    if (eps > 0.0f) CLGRAD_TRY(hvp_(ctx, sh, m, loss, x, y, B, K, dlogits, u, eps, out));
    else CLGRAD_TRY(clgrad_buf_fill(ctx, out, 0, sh->n, NAN));
    CLGRAD_TRY(copy_(ctx, sh->wsave, clgrad_model_params(m), sh->n));
fail:
    return st;
}

clgrad_status clgrad_sharp_precond(clgrad_ctx *ctx, clgrad_sharp *sh, const clgrad_optim_cfg *o, long t, cl_mem state)
{
    clgrad_status st = CLGRAD_OK;
    if (!clgrad_sharp_has_precond(o) || t < 1 || !state)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "sharp_precond: needs rmsprop/adam/adamw state after t >= 1 steps");
    cl_kernel k = clgrad_kernel(ctx, "sharp_precond_isqrt");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong stride = sh->n, nn = sh->n;
    cl_int kind, vslot, gaslot = -1;
    cl_float eps = (cl_float)o->eps, bc1 = 1.0f, bc2 = 1.0f;
    if (o->kind == CLGRAD_OPTIM_RMSPROP) {
        kind = 1, vslot = 0;
        if (o->centered) gaslot = o->momentum > 0.0 ? 2 : 1; /* cl/optim.cl: square_avg, momentum_buffer, grad_avg */
    } else {
        kind = 2, vslot = o->amsgrad ? 2 : 1;
        /* as optim.c: the bias corrections in double, rounded to float once */
        bc1 = (cl_float)(1.0 - pow(o->beta1, (double)t));
        bc2 = (cl_float)sqrt(1.0 - pow(o->beta2, (double)t));
    }
    CLGRAD_ARG(ctx, k, 0, state);
    CLGRAD_ARG(ctx, k, 1, stride);
    CLGRAD_ARG(ctx, k, 2, kind);
    CLGRAD_ARG(ctx, k, 3, vslot);
    CLGRAD_ARG(ctx, k, 4, gaslot);
    CLGRAD_ARG(ctx, k, 5, eps);
    CLGRAD_ARG(ctx, k, 6, bc1);
    CLGRAD_ARG(ctx, k, 7, bc2);
    CLGRAD_ARG(ctx, k, 8, sh->dinv);
    CLGRAD_ARG(ctx, k, 9, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "sharp_precond_isqrt", sh->n, 0));
    sh->have_dinv = 1;
fail:
    return st;
}

clgrad_status clgrad_sharp_estimate(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, clgrad_loss loss, cl_mem x,
                                    cl_mem y, size_t B, size_t K, cl_mem dlogits, int precond,
                                    clgrad_sharp_result *res)
{
    clgrad_status st = CLGRAD_OK, st2;
    const int which = precond ? 1 : 0;
    cl_mem v = sh->v[which];
    float eps = 0.0f;
    res->value = NAN, res->iters = 0, res->eps = 0;
    if (precond && !sh->have_dinv)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "sharp_estimate: the preconditioner is not set (clgrad_sharp_precond)");
    CLGRAD_TRY(begin_(ctx, sh, m, &eps));
    res->eps = eps;
    if (eps == 0.0f) goto restore; /* non-finite weights: NaN */
    if (!sh->started[which]) {
        double z;
        CLGRAD_TRY(clgrad_buf_fill(ctx, v, 0, sh->n, 0.0f));
        CLGRAD_TRY(clgrad_init_add_noise(ctx, v, 0, sh->n, 1.0f, sh->cfg.seed, CLGRAD_NOISE_STREAM_SHARPNESS,
                                         (uint32_t)which));
        CLGRAD_TRY(normalize_(ctx, sh, v, &z));
        sh->started[which] = 1;
    }
    double prev = NAN;
    for (int it = 1; it <= sh->cfg.iters; it++) {
        cl_mem u = v;
        if (precond) {
            CLGRAD_TRY(mul_(ctx, sh->dinv, v, sh->tmp, sh->n));
            u = sh->tmp;
        }
        CLGRAD_TRY(hvp_(ctx, sh, m, loss, x, y, B, K, dlogits, u, eps, sh->hv));
        if (precond) CLGRAD_TRY(mul_(ctx, sh->dinv, sh->hv, sh->hv, sh->n));
        /* lambda = v . Hv and ||Hv||, one read-back */
        float r[4 * CLGRAD_RS_SIZE];
        CLGRAD_TRY(mul_(ctx, v, sh->hv, sh->tmp, sh->n));
        CLGRAD_TRY(clgrad_reduce_stats(ctx, sh->tmp, 0, sh->segs, sh->stats, 0));
        CLGRAD_TRY(clgrad_reduce_stats(ctx, sh->hv, 0, sh->segs, sh->stats, 2 * CLGRAD_RS_SIZE));
        CLGRAD_TRY(clgrad_buf_read(ctx, sh->stats, 0, 4 * CLGRAD_RS_SIZE, r));
        double lam = r[CLGRAD_RS_SUM], nw = r[2 * CLGRAD_RS_SIZE + CLGRAD_RS_NORM2];
        res->iters = it;
        if (!isfinite(lam) || !isfinite(nw)) {
            res->value = NAN;
            sh->started[which] = 0; /* v stays finite; start afresh next time anyway */
            break;
        }
        res->value = lam;
        if (nw == 0.0) break; /* H v = 0: lambda = 0, v kept */
        CLGRAD_TRY(scale_(ctx, sh->hv, (float)(1.0 / nw), v, sh->n));
        if (it >= 2 && fabs(lam - prev) <= sh->cfg.tol * fabs(lam)) break;
        prev = lam;
    }
restore:
    /* the weights back, bit for bit, whatever happened above */
    st2 = copy_(ctx, sh->wsave, clgrad_model_params(m), sh->n);
    return st2;
fail:
    /* an OpenCL failure: try to leave the weights as they were (the error is st's) */
    if (eps > 0.0f) copy_(ctx, sh->wsave, clgrad_model_params(m), sh->n);
    return st;
}
