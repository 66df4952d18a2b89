/*
** optim_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "optim" self-check of src/ops/optim.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 host reference (same formulas, in double) ---- */

static void ref_sgd_(const clgrad_optim_cfg *c, int64_t t, double lr, double *p, const double *g, double *s,
                     size_t n, double coef)
{
    for (size_t i = 0; i < n; i++) {
        double d = g[i] * coef;
        if (c->weight_decay != 0.0) d += c->weight_decay * p[i];
        if (c->momentum != 0.0) {
            double b = t == 1 ? d : c->momentum * s[i] + (1.0 - c->dampening) * d;
            s[i] = b;
            d = c->nesterov ? d + c->momentum * b : b;
        }
        p[i] -= lr * d;
    }
}

static void ref_rmsprop_(const clgrad_optim_cfg *c, double lr, double *p, const double *g, double *s, size_t n,
                         double coef)
{
    int mom = c->momentum > 0.0;
    double *v = s, *b = mom ? s + n : NULL, *ga = c->centered ? s + (mom ? 2 : 1) * n : NULL;
    for (size_t i = 0; i < n; i++) {
        double d = g[i] * coef;
        if (c->weight_decay != 0.0) d += c->weight_decay * p[i];
        v[i] = c->alpha * v[i] + (1.0 - c->alpha) * d * d;
        double avg;
        if (c->centered) {
            ga[i] = c->alpha * ga[i] + (1.0 - c->alpha) * d;
            avg = sqrt(v[i] - ga[i] * ga[i]);
        } else {
            avg = sqrt(v[i]);
        }
        avg += c->eps;
        if (mom) {
            b[i] = c->momentum * b[i] + d / avg;
            p[i] -= lr * b[i];
        } else {
            p[i] -= lr * (d / avg);
        }
    }
}

static void ref_adam_(const clgrad_optim_cfg *c, int64_t t, double lr, double *p, const double *g, double *s,
                      size_t n, double coef)
{
    int decoupled = c->kind == CLGRAD_OPTIM_ADAMW;
    double *m = s, *v = s + n, *vmax = c->amsgrad ? s + 2 * n : NULL;
    double step_size = lr / (1.0 - pow(c->beta1, (double)t));
    double bc2_sqrt = sqrt(1.0 - pow(c->beta2, (double)t));
    for (size_t i = 0; i < n; i++) {
        double d = g[i] * coef;
        if (decoupled) p[i] *= 1.0 - lr * c->weight_decay;
        else if (c->weight_decay != 0.0) d += c->weight_decay * p[i];
        m[i] = c->beta1 * m[i] + (1.0 - c->beta1) * d;
        v[i] = c->beta2 * v[i] + (1.0 - c->beta2) * d * d;
        double vh = v[i];
        if (c->amsgrad) {
            if (vmax[i] < v[i] || isnan(v[i])) vmax[i] = v[i]; /* NaN-propagating, as torch.maximum */
            vh = vmax[i];
        }
        p[i] -= step_size * (m[i] / (sqrt(vh) / bc2_sqrt + c->eps));
    }
}

void clgrad_optim_ref_step(const clgrad_optim_cfg *cfg, int64_t step_t, double lr, double *params,
                           const double *grads, double *state, size_t n, const double *gradstate)
{
    double coef = gradstate ? gradstate[CLGRAD_GS_COEF] : 1.0;
    if (gradstate && gradstate[CLGRAD_GS_SKIP] != 0.0) return;
    switch (cfg->kind) {
    case CLGRAD_OPTIM_SGD: ref_sgd_(cfg, step_t, lr, params, grads, state, n, coef); break;
    case CLGRAD_OPTIM_RMSPROP: ref_rmsprop_(cfg, lr, params, grads, state, n, coef); break;
    default: ref_adam_(cfg, step_t, lr, params, grads, state, n, coef); break;
    }
}

/* ---- selfcheck ---- */

static double max_abs_(const double *x, size_t n, double m)
{
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

/* One configuration: `steps` steps of random gradients on n parameters,
** device vs reference.  Tolerance as in tests/test_optim.c: ~16 float32
** roundings per step of quantities bounded by the parameter scale S (the
** largest |theta| seen, >= 1), state rounding errors re-counted in up to T
** later steps: (16 + 2T) * T * 2^-24 * S absolute. */
static clgrad_status case_(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, const char *opts, double lr, size_t n,
                           int steps, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    size_t ns = clgrad_optim_state_floats(cfg), nst = ns * n;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    double *rp = malloc(n * sizeof *rp), *rg = malloc(n * sizeof *rg), *rs = calloc(nst + 1, sizeof *rs);
    cl_mem dp = NULL, dg = NULL, ds = NULL;
    if (!p || !g || !rp || !rg || !rs) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    clgrad_testrng rng = {0x0b7 + (uint64_t)cfg->kind * 977u + n};
    for (size_t i = 0; i < n; i++) p[i] = clgrad_testrng_uniform(&rng, -1, 1), rp[i] = p[i];
    double S = max_abs_(rp, n, 1.0);
    /* L2 decay with a normalised update (rmsprop, adam): g takes theta's sign,
    ** so g + wd*theta cannot cancel (ill-conditioned; see tests/test_optim.c) */
    int align = (cfg->kind == CLGRAD_OPTIM_RMSPROP || cfg->kind == CLGRAD_OPTIM_ADAM) && cfg->weight_decay != 0.0;
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "selfcheck params", &dp));
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "selfcheck grads", &dg));
    CLGRAD_TRY(clgrad_buf_write(ctx, dp, 0, n, p));
    if (nst) {
        CLGRAD_TRY(clgrad_buf_new(ctx, nst, "selfcheck state", &ds));
        CLGRAD_TRY(clgrad_buf_fill(ctx, ds, 0, nst, 0.0f));
    }
    for (int t = 1; t <= steps; t++) {
        for (size_t i = 0; i < n; i++) {
            g[i] = clgrad_testrng_uniform(&rng, -1, 1);
            if (align && (rp[i] < 0) != (g[i] < 0)) g[i] = -g[i];
            rg[i] = g[i];
        }
        CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, n, g));
        CLGRAD_TRY(clgrad_optim_step(ctx, cfg, t, lr, dp, dg, ds, n, NULL, 0));
        clgrad_optim_ref_step(cfg, t, lr, rp, rg, rs, n, NULL);
        S = max_abs_(rp, n, S);
    }
    CLGRAD_TRY(clgrad_buf_read(ctx, dp, 0, n, p));
    double tol = (16.0 + 2.0 * steps) * steps * 0x1.0p-24 * S, maxerr;
    size_t bad = clgrad_compare(p, rp, n, tol, 0.0, &maxerr);
    char what[96];
    snprintf(what, sizeof what, "%s %s n=%zu %d steps", clgrad_optim_name(cfg->kind), opts, n, steps);
    report(user, "optim", what, bad == 0, maxerr, tol);
fail:
    clgrad_buf_free(&dp);
    clgrad_buf_free(&dg);
    clgrad_buf_free(&ds);
    free(p), free(g), free(rp), free(rg), free(rs);
    return st;
}

clgrad_status clgrad_selfcheck_optim(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_optim_cfg c = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    c.momentum = 0.9, c.nesterov = 1, c.weight_decay = 1e-2;
    CLGRAD_TRY(case_(ctx, &c, "nesterov wd", 0.05, 300, 5, report, user));
    c = clgrad_optim_defaults(CLGRAD_OPTIM_RMSPROP);
    c.momentum = 0.5, c.centered = 1;
    CLGRAD_TRY(case_(ctx, &c, "centered momentum", 1e-2, 300, 5, report, user));
    c = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    c.amsgrad = 1, c.weight_decay = 1e-2;
    CLGRAD_TRY(case_(ctx, &c, "amsgrad L2", 1e-2, 300, 5, report, user));
    c = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW);
    CLGRAD_TRY(case_(ctx, &c, "wd 1e-2", 1e-2, 300, 5, report, user));
fail:
    return st;
}
