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

/* The paper rules in double (include/clgrad/optim.h), tensor by tensor. */
void clgrad_optim_ref_step_layers(const clgrad_optim_cfg *c, int64_t t, double lr, double *p, const double *g,
                                  double *s, size_t n, const double *gradstate, size_t nseg, const size_t *off,
                                  const size_t *len, const unsigned char *mask, double *ratio_out)
{
    double coef = gradstate ? gradstate[CLGRAD_GS_COEF] : 1.0;
    if (gradstate && gradstate[CLGRAD_GS_SKIP] != 0.0) return;
    int lamb = c->kind == CLGRAD_OPTIM_LAMB;
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2_sqrt = sqrt(1.0 - pow(c->beta2, (double)t));
    for (size_t k = 0; k < nseg; k++) {
        double *w = p + off[k], *sa = s + off[k], *sb = s + n + off[k], *su = s + (lamb ? 2 : 1) * n + off[k];
        const double *gk = g + off[k];
        double wd = mask[k] ? 0.0 : c->weight_decay, wn = 0, un = 0;
        for (size_t i = 0; i < len[k]; i++) {
            double d = gk[i] * coef;
            if (lamb) {
                sa[i] = c->beta1 * sa[i] + (1.0 - c->beta1) * d;
                sb[i] = c->beta2 * sb[i] + (1.0 - c->beta2) * d * d;
                su[i] = (sa[i] / bc1) / (sqrt(sb[i]) / bc2_sqrt + c->eps) + wd * w[i];
            } else {
                su[i] = d;
            }
            wn += w[i] * w[i], un += su[i] * su[i];
        }
        wn = sqrt(wn), un = sqrt(un);
        double ratio = 1.0;
        if (!mask[k] && wn != 0.0 && un != 0.0) {
            ratio = lamb ? wn / un : c->trust_coefficient * wn / (un + c->weight_decay * wn);
            if (ratio > c->trust_clip) ratio = c->trust_clip;
        }
        if (ratio_out) ratio_out[k] = ratio;
        for (size_t i = 0; i < len[k]; i++) {
            if (lamb) {
                w[i] -= lr * ratio * su[i];
            } else {
                sa[i] = c->momentum * sa[i] + lr * ratio * (su[i] + wd * w[i]);
                w[i] -= sa[i];
            }
        }
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
    case CLGRAD_OPTIM_LARS:
    case CLGRAD_OPTIM_LAMB: { /* one tensor, not excluded */
        size_t off0 = 0;
        unsigned char m0 = 0;
        clgrad_optim_ref_step_layers(cfg, step_t, lr, params, grads, state, n, gradstate, 1, &off0, &n, &m0, NULL);
        break;
    }
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

/* LARS / LAMB: three tensors (a weight of 300, a bias of 17 excluded, a
** weight of 1000), `steps` steps, device vs the float64 reference of the
** papers' rules.  Tolerance as tests/test_optim_layers.c: (64 + 4T) * T *
** 2^-24 * S absolute (the trust ratio adds the error of two float32 norms). */
static clgrad_status case_layers_(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, const char *opts, double lr,
                                  int steps, clgrad_check_fn report, void *user)
{
    enum { T = 3 };
    const size_t off[T] = {0, 300, 317}, len[T] = {300, 17, 1000}, n = 1317;
    const unsigned char mask[T] = {0, 1, 0};
    clgrad_status st = CLGRAD_OK;
    size_t ns = clgrad_optim_state_floats(cfg), nst = ns * n, W = CLGRAD_OPTIM_LAYERS_WORK(T);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), fm[T] = {0, 1, 0};
    double *rp = malloc(n * sizeof *rp), *rg = malloc(n * sizeof *rg), *rs = calloc(nst, sizeof *rs);
    cl_mem dp = NULL, dg = NULL, ds = NULL, dw = NULL;
    clgrad_segs *segs = NULL;
    if (!p || !g || !rp || !rg || !rs) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    clgrad_testrng rng = {0x1a7 + (uint64_t)cfg->kind};
    for (size_t i = 0; i < n; i++) p[i] = clgrad_testrng_uniform(&rng, -1, 1), rp[i] = p[i];
    double S = max_abs_(rp, n, 1.0);
    CLGRAD_TRY(clgrad_segs_new(ctx, T, off, len, &segs));
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "selfcheck params", &dp));
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "selfcheck grads", &dg));
    CLGRAD_TRY(clgrad_buf_new(ctx, nst, "selfcheck state", &ds));
    CLGRAD_TRY(clgrad_buf_new(ctx, W, "selfcheck work", &dw));
    CLGRAD_TRY(clgrad_buf_write(ctx, dp, 0, n, p));
    CLGRAD_TRY(clgrad_buf_fill(ctx, ds, 0, nst, 0.0f));
    CLGRAD_TRY(clgrad_buf_fill(ctx, dw, 0, W, 0.0f));
    CLGRAD_TRY(clgrad_buf_write(ctx, dw, 0, T, fm));
    for (int t = 1; t <= steps; t++) {
        for (size_t i = 0; i < n; i++) g[i] = clgrad_testrng_uniform(&rng, -1, 1) * (i < 300 ? 0.1f : i < 317 ? 1e-3f : 1.0f), rg[i] = g[i];
        CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, n, g));
        CLGRAD_TRY(clgrad_optim_step_layers(ctx, cfg, t, lr, dp, dg, ds, n, NULL, 0, segs, dw, 0));
        clgrad_optim_ref_step_layers(cfg, t, lr, rp, rg, rs, n, NULL, T, off, len, mask, NULL);
        S = max_abs_(rp, n, S);
    }
    CLGRAD_TRY(clgrad_buf_read(ctx, dp, 0, n, p));
    double tol = (64.0 + 4.0 * steps) * steps * 0x1.0p-24 * S, maxerr;
    size_t bad = clgrad_compare(p, rp, n, tol, 0.0, &maxerr);
    char what[96];
    snprintf(what, sizeof what, "%s %s 3 tensors (bias excluded) %d steps", clgrad_optim_name(cfg->kind), opts, steps);
    report(user, "optim", what, bad == 0, maxerr, tol);
fail:
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dp), clgrad_buf_free(&dg), clgrad_buf_free(&ds), clgrad_buf_free(&dw);
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
    c = clgrad_optim_defaults(CLGRAD_OPTIM_LARS);
    c.weight_decay = 1e-2, c.trust_clip = 5e-3;
    CLGRAD_TRY(case_layers_(ctx, &c, "wd 1e-2 trust_clip", 20, 5, report, user));
    c = clgrad_optim_defaults(CLGRAD_OPTIM_LAMB);
    CLGRAD_TRY(case_layers_(ctx, &c, "defaults", 2e-2, 5, report, user));
fail:
    return st;
}
