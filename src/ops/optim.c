/*
** optim.c: the optimizers (see include/clgrad/optim.h): configuration
** (defaults, names, validation, state size), the launcher clgrad_optim_step
** for cl/optim.cl (derived scalars computed here in double), the float64
** host reference, and the selfcheck of the family.
*/
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const names_[CLGRAD_OPTIM_COUNT] = {"sgd", "rmsprop", "adam", "adamw", "lars", "lamb"};

/* ---- configuration ---- */

clgrad_optim_cfg clgrad_optim_defaults(clgrad_optim_kind kind)
{
    clgrad_optim_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = 1e-3;
    c.alpha = 0.99;
    c.eps = 1e-8;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    if (kind == CLGRAD_OPTIM_RMSPROP) c.lr = 1e-2;
    if (kind == CLGRAD_OPTIM_ADAMW) c.weight_decay = 1e-2;
    c.trust_coefficient = kind == CLGRAD_OPTIM_LARS ? 1e-3 : 1.0;
    c.trust_clip = INFINITY;
    c.exclude_bias = 1;
    if (kind == CLGRAD_OPTIM_LARS) c.momentum = 0.9, c.weight_decay = 5e-4; /* You et al. 2017 */
    if (kind == CLGRAD_OPTIM_LAMB) c.eps = 1e-6, c.weight_decay = 1e-2;     /* You et al. 2020 */
    return c;
}

const char *clgrad_optim_name(clgrad_optim_kind kind)
{
    return (int)kind >= 0 && kind < CLGRAD_OPTIM_COUNT ? names_[kind] : NULL;
}

int clgrad_optim_parse(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k < CLGRAD_OPTIM_COUNT; k++)
        if (strcmp(name, names_[k]) == 0) return k;
    return -1;
}

/* !(x >= 0) also catches NaN */
#define NONNEG_(x, msg) if (!((x) >= 0.0) || !isfinite(x)) return msg

const char *clgrad_optim_invalid(const clgrad_optim_cfg *cfg)
{
    if (!cfg) return "no optimizer configuration";
    if ((int)cfg->kind < 0 || cfg->kind >= CLGRAD_OPTIM_COUNT) return "unknown optimizer kind";
    NONNEG_(cfg->lr, "learning rate must be finite and >= 0");
    NONNEG_(cfg->weight_decay, "weight_decay must be finite and >= 0");
    switch (cfg->kind) {
    case CLGRAD_OPTIM_SGD:
        NONNEG_(cfg->momentum, "sgd: momentum must be finite and >= 0");
        if (!isfinite(cfg->dampening)) return "sgd: dampening must be finite";
        if (cfg->nesterov && (cfg->momentum <= 0.0 || cfg->dampening != 0.0))
            return "sgd: nesterov momentum requires momentum > 0 and zero dampening";
        break;
    case CLGRAD_OPTIM_RMSPROP:
        NONNEG_(cfg->momentum, "rmsprop: momentum must be finite and >= 0");
        NONNEG_(cfg->alpha, "rmsprop: alpha must be finite and >= 0");
        NONNEG_(cfg->eps, "rmsprop: eps must be finite and >= 0");
        break;
    case CLGRAD_OPTIM_LARS:
        NONNEG_(cfg->momentum, "lars: momentum must be finite and >= 0");
        if (!(cfg->trust_coefficient > 0.0) || !isfinite(cfg->trust_coefficient))
            return "lars: trust_coefficient must be finite and > 0";
        if (!(cfg->trust_clip > 0.0)) return "lars: trust_clip must be > 0 (or inf: none)";
        break;
    case CLGRAD_OPTIM_LAMB:
        NONNEG_(cfg->eps, "lamb: eps must be finite and >= 0");
        if (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0)) return "lamb: beta1 must be in [0, 1)";
        if (!(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0)) return "lamb: beta2 must be in [0, 1)";
        if (!(cfg->trust_clip > 0.0)) return "lamb: trust_clip must be > 0 (or inf: none)";
        break;
    default: /* adam, adamw */
        NONNEG_(cfg->eps, "adam: eps must be finite and >= 0");
        if (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0)) return "adam: beta1 must be in [0, 1)";
        if (!(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0)) return "adam: beta2 must be in [0, 1)";
        break;
    }
    return NULL;
}

size_t clgrad_optim_state_floats(const clgrad_optim_cfg *cfg)
{
    switch (cfg->kind) {
    case CLGRAD_OPTIM_SGD: return cfg->momentum != 0.0 ? 1 : 0;
    case CLGRAD_OPTIM_RMSPROP: return 1 + (cfg->momentum > 0.0 ? 1 : 0) + (cfg->centered ? 1 : 0);
    case CLGRAD_OPTIM_ADAM:
    case CLGRAD_OPTIM_ADAMW: return 2 + (cfg->amsgrad ? 1 : 0);
    case CLGRAD_OPTIM_LARS: return 2;
    case CLGRAD_OPTIM_LAMB: return 3;
    default: return 0;
    }
}

/* ---- device launch ---- */

/* Arguments 0..11 shared by the three kernels: buffers, offsets, gradient state. */
typedef struct {
    cl_mem p, g, s, gs;
    cl_ulong n, gs_coef, gs_skip;
    cl_int use_gs;
} common_args_;

static clgrad_status set_common_(clgrad_ctx *ctx, cl_kernel k, const common_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_ulong zero = 0, stride = a->n;
    CLGRAD_ARG(ctx, k, 0, a->p);
    CLGRAD_ARG(ctx, k, 1, zero);
    CLGRAD_ARG(ctx, k, 2, a->g);
    CLGRAD_ARG(ctx, k, 3, zero);
    CLGRAD_ARG(ctx, k, 4, a->s);
    CLGRAD_ARG(ctx, k, 5, zero);
    CLGRAD_ARG(ctx, k, 6, stride);
    CLGRAD_ARG(ctx, k, 7, a->n);
    CLGRAD_ARG(ctx, k, 8, a->gs);
    CLGRAD_ARG(ctx, k, 9, a->gs_coef);
    CLGRAD_ARG(ctx, k, 10, a->gs_skip);
    CLGRAD_ARG(ctx, k, 11, a->use_gs);
fail:
    return st;
}

static clgrad_status launch_optim_sgd_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, int64_t t, double lr,
                                       const common_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_sgd");
    if (!k) return CLGRAD_E_ARG;
    cl_float flr = (cl_float)lr, wd = (cl_float)c->weight_decay, mu = (cl_float)c->momentum;
    cl_float omd = (cl_float)(1.0 - c->dampening);
    cl_int nesterov = c->nesterov ? 1 : 0, first = t == 1;
    CLGRAD_TRY(set_common_(ctx, k, a));
    CLGRAD_ARG(ctx, k, 12, flr);
    CLGRAD_ARG(ctx, k, 13, wd);
    CLGRAD_ARG(ctx, k, 14, mu);
    CLGRAD_ARG(ctx, k, 15, omd);
    CLGRAD_ARG(ctx, k, 16, nesterov);
    CLGRAD_ARG(ctx, k, 17, first);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "optim_sgd", ((size_t)a->n + 7) / 8, clgrad_wg(ctx)));
fail:
    return st;
}

static clgrad_status launch_optim_rmsprop_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, double lr,
                                           const common_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_rmsprop");
    if (!k) return CLGRAD_E_ARG;
    cl_float flr = (cl_float)lr, wd = (cl_float)c->weight_decay, alpha = (cl_float)c->alpha;
    cl_float oma = (cl_float)(1.0 - c->alpha), eps = (cl_float)c->eps, mu = (cl_float)c->momentum;
    cl_int centered = c->centered ? 1 : 0;
    CLGRAD_TRY(set_common_(ctx, k, a));
    CLGRAD_ARG(ctx, k, 12, flr);
    CLGRAD_ARG(ctx, k, 13, wd);
    CLGRAD_ARG(ctx, k, 14, alpha);
    CLGRAD_ARG(ctx, k, 15, oma);
    CLGRAD_ARG(ctx, k, 16, eps);
    CLGRAD_ARG(ctx, k, 17, mu);
    CLGRAD_ARG(ctx, k, 18, centered);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "optim_rmsprop", ((size_t)a->n + 7) / 8, clgrad_wg(ctx)));
fail:
    return st;
}

/* Adam and AdamW: the bias corrections in double, rounded to float once. */
static clgrad_status launch_optim_adam_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, int64_t t, double lr,
                                        const common_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_adam");
    if (!k) return CLGRAD_E_ARG;
    cl_int decoupled = c->kind == CLGRAD_OPTIM_ADAMW, amsgrad = c->amsgrad ? 1 : 0;
    cl_float wd = decoupled ? 0.0f : (cl_float)c->weight_decay;
    cl_float decay = decoupled ? (cl_float)(1.0 - lr * c->weight_decay) : 1.0f;
    cl_float b1 = (cl_float)c->beta1, omb1 = (cl_float)(1.0 - c->beta1);
    cl_float b2 = (cl_float)c->beta2, omb2 = (cl_float)(1.0 - c->beta2);
    cl_float step_size = (cl_float)(lr / (1.0 - pow(c->beta1, (double)t)));
    cl_float bc2_sqrt = (cl_float)sqrt(1.0 - pow(c->beta2, (double)t));
    cl_float eps = (cl_float)c->eps;
    CLGRAD_TRY(set_common_(ctx, k, a));
    CLGRAD_ARG(ctx, k, 12, wd);
    CLGRAD_ARG(ctx, k, 13, decoupled);
    CLGRAD_ARG(ctx, k, 14, decay);
    CLGRAD_ARG(ctx, k, 15, b1);
    CLGRAD_ARG(ctx, k, 16, omb1);
    CLGRAD_ARG(ctx, k, 17, b2);
    CLGRAD_ARG(ctx, k, 18, omb2);
    CLGRAD_ARG(ctx, k, 19, step_size);
    CLGRAD_ARG(ctx, k, 20, bc2_sqrt);
    CLGRAD_ARG(ctx, k, 21, eps);
    CLGRAD_ARG(ctx, k, 22, amsgrad);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "optim_adam", ((size_t)a->n + 7) / 8, clgrad_wg(ctx)));
fail:
    return st;
}

clgrad_status clgrad_optim_step(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                size_t gradstate_offset)
{
    const char *why = clgrad_optim_invalid(cfg);
    if (why) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "optimizer: %s", why);
    if (step_t < 1) return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step: step_t must be >= 1 (got %lld)", (long long)step_t);
    if (!(lr >= 0.0) || !isfinite(lr))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step: learning rate must be finite and >= 0 (got %g)", lr);
    if (clgrad_optim_is_layerwise(cfg->kind))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step(%s): a layer-wise optimizer: use clgrad_optim_step_layers",
                           names_[cfg->kind]);
    if (n == 0) return CLGRAD_OK;
    size_t ns = clgrad_optim_state_floats(cfg);
    if (!params || !grads || (ns > 0 && !state))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step(%s): params, grads%s must be buffers", names_[cfg->kind],
                           ns > 0 ? " and state" : "");
    common_args_ a;
    a.p = params, a.g = grads, a.s = state ? state : params; /* unread when ns == 0 */
    a.n = n;
    a.use_gs = gradstate != NULL;
    a.gs = gradstate ? gradstate : params; /* any valid buffer; never read when use_gs == 0 */
    a.gs_coef = (cl_ulong)gradstate_offset + CLGRAD_GS_COEF;
    a.gs_skip = (cl_ulong)gradstate_offset + CLGRAD_GS_SKIP;
    switch (cfg->kind) {
    case CLGRAD_OPTIM_SGD: return launch_optim_sgd_(ctx, cfg, step_t, lr, &a);
    case CLGRAD_OPTIM_RMSPROP: return launch_optim_rmsprop_(ctx, cfg, lr, &a);
    default: return launch_optim_adam_(ctx, cfg, step_t, lr, &a);
    }
}

/* ---- layer-wise: LARS and LAMB ---- */

int clgrad_optim_is_layerwise(clgrad_optim_kind kind)
{
    return kind == CLGRAD_OPTIM_LARS || kind == CLGRAD_OPTIM_LAMB;
}

static clgrad_status chunk_launch_(clgrad_ctx *ctx, cl_kernel k, const char *name, const clgrad_segs *segs)
{
    size_t wg = clgrad_wg(ctx);
    return clgrad_launch1d(ctx, k, name, clgrad_segs_chunks(segs) * wg, wg);
}

/* The segments are sorted, disjoint and cover [0, n) exactly. */
static const char *segs_cover_(const clgrad_segs *segs, size_t n)
{
    size_t T = clgrad_segs_count(segs), next = 0;
    const size_t *off = clgrad_segs_off(segs), *len = clgrad_segs_len(segs);
    if (T == 0) return "no segments";
    for (size_t s = 0; s < T; s++) {
        if (off[s] != next) return "the segments must be in order, disjoint and cover the n parameters exactly";
        next = off[s] + len[s];
    }
    return next == n ? NULL : "the segments must cover the n parameters exactly";
}

clgrad_status clgrad_optim_step_layers(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                       cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                       size_t gradstate_offset, const clgrad_segs *segs, cl_mem work,
                                       size_t work_off)
{
    clgrad_status st = CLGRAD_OK;
    const char *why = clgrad_optim_invalid(cfg);
    if (why) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "optimizer: %s", why);
    if (!clgrad_optim_is_layerwise(cfg->kind))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers: %s is not layer-wise: use clgrad_optim_step",
                           names_[cfg->kind]);
    if (step_t < 1)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers: step_t must be >= 1 (got %lld)", (long long)step_t);
    if (!(lr >= 0.0) || !isfinite(lr))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers: learning rate must be finite and >= 0 (got %g)", lr);
    if (n == 0) return CLGRAD_OK;
    if (!params || !grads || !state || !work || !segs)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers(%s): params, grads, state, work and segs are required",
                           names_[cfg->kind]);
    if ((why = segs_cover_(segs, n)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers(%s): %s", names_[cfg->kind], why);
    size_t T = clgrad_segs_count(segs), bytes = 0;
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(work, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (work_off + CLGRAD_OPTIM_LAYERS_WORK(T) > bytes / sizeof(float))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_layers: the work area at %zu (%zu floats) does not fit the buffer",
                           work_off, CLGRAD_OPTIM_LAYERS_WORK(T));
    int lamb = cfg->kind == CLGRAD_OPTIM_LAMB;
    cl_int use_gs = gradstate != NULL, ilamb = lamb;
    cl_mem gs = gradstate ? gradstate : params; /* any valid buffer; never read when use_gs == 0 */
    cl_ulong gs_coef = (cl_ulong)gradstate_offset + CLGRAD_GS_COEF, gs_skip = (cl_ulong)gradstate_offset + CLGRAD_GS_SKIP;
    cl_ulong nn = n, wo = work_off, chunk = clgrad_segs_chunk(segs);
    cl_ulong st_w = 2 * (cl_ulong)T, st_u = st_w + CLGRAD_RS_SIZE * ((cl_ulong)T + 1);
    cl_uint nseg = (cl_uint)T;
    cl_mem tab = clgrad_segs_table(segs);
    cl_float wd = (cl_float)cfg->weight_decay, b1 = (cl_float)cfg->beta1, omb1 = (cl_float)(1.0 - cfg->beta1);
    cl_float b2 = (cl_float)cfg->beta2, omb2 = (cl_float)(1.0 - cfg->beta2);
    cl_float bc1 = (cl_float)(1.0 - pow(cfg->beta1, (double)step_t));
    cl_float bc2_sqrt = (cl_float)sqrt(1.0 - pow(cfg->beta2, (double)step_t)), eps = (cl_float)cfg->eps;
    cl_float coef = lamb ? 1.0f : (cl_float)cfg->trust_coefficient, rwd = lamb ? 0.0f : wd;
    cl_float clip = (cl_float)cfg->trust_clip, flr = (cl_float)lr, mu = (cl_float)cfg->momentum;

    cl_kernel k = clgrad_kernel(ctx, "optim_layers_prep");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, params);
    CLGRAD_ARG(ctx, k, 1, grads);
    CLGRAD_ARG(ctx, k, 2, state);
    CLGRAD_ARG(ctx, k, 3, nn);
    CLGRAD_ARG(ctx, k, 4, tab);
    CLGRAD_ARG(ctx, k, 5, nseg);
    CLGRAD_ARG(ctx, k, 6, chunk);
    CLGRAD_ARG(ctx, k, 7, gs);
    CLGRAD_ARG(ctx, k, 8, gs_coef);
    CLGRAD_ARG(ctx, k, 9, gs_skip);
    CLGRAD_ARG(ctx, k, 10, use_gs);
    CLGRAD_ARG(ctx, k, 11, work);
    CLGRAD_ARG(ctx, k, 12, wo);
    CLGRAD_ARG(ctx, k, 13, ilamb);
    CLGRAD_ARG(ctx, k, 14, wd);
    CLGRAD_ARG(ctx, k, 15, b1);
    CLGRAD_ARG(ctx, k, 16, omb1);
    CLGRAD_ARG(ctx, k, 17, b2);
    CLGRAD_ARG(ctx, k, 18, omb2);
    CLGRAD_ARG(ctx, k, 19, bc1);
    CLGRAD_ARG(ctx, k, 20, bc2_sqrt);
    CLGRAD_ARG(ctx, k, 21, eps);
    CLGRAD_TRY(chunk_launch_(ctx, k, "optim_layers_prep", segs));

    /* ||w|| per tensor, ||d|| (LARS, slot 1) or ||u|| (LAMB, slot 2) per tensor */
    CLGRAD_TRY(clgrad_reduce_stats(ctx, params, 0, segs, work, work_off + (size_t)st_w));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, state, (lamb ? 2 : 1) * n, segs, work, work_off + (size_t)st_u));

    k = clgrad_kernel(ctx, "optim_layers_ratio");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, work);
    CLGRAD_ARG(ctx, k, 1, wo);
    CLGRAD_ARG(ctx, k, 2, nseg);
    CLGRAD_ARG(ctx, k, 3, st_w);
    CLGRAD_ARG(ctx, k, 4, st_u);
    CLGRAD_ARG(ctx, k, 5, coef);
    CLGRAD_ARG(ctx, k, 6, rwd);
    CLGRAD_ARG(ctx, k, 7, clip);
    CLGRAD_ARG(ctx, k, 8, gs);
    CLGRAD_ARG(ctx, k, 9, gs_skip);
    CLGRAD_ARG(ctx, k, 10, use_gs);
    {
        size_t one = 1;
        CLGRAD_TRY(clgrad_launch(ctx, k, "optim_layers_ratio", 1, &one, &one));
    }

    k = clgrad_kernel(ctx, "optim_layers_apply");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, params);
    CLGRAD_ARG(ctx, k, 1, state);
    CLGRAD_ARG(ctx, k, 2, nn);
    CLGRAD_ARG(ctx, k, 3, tab);
    CLGRAD_ARG(ctx, k, 4, nseg);
    CLGRAD_ARG(ctx, k, 5, chunk);
    CLGRAD_ARG(ctx, k, 6, gs);
    CLGRAD_ARG(ctx, k, 7, gs_skip);
    CLGRAD_ARG(ctx, k, 8, use_gs);
    CLGRAD_ARG(ctx, k, 9, work);
    CLGRAD_ARG(ctx, k, 10, wo);
    CLGRAD_ARG(ctx, k, 11, ilamb);
    CLGRAD_ARG(ctx, k, 12, flr);
    CLGRAD_ARG(ctx, k, 13, wd);
    CLGRAD_ARG(ctx, k, 14, mu);
    CLGRAD_TRY(chunk_launch_(ctx, k, "optim_layers_apply", segs));
fail:
    return st;
}

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
    snprintf(what, sizeof what, "%s %s n=%zu %d steps", names_[cfg->kind], opts, n, steps);
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
    snprintf(what, sizeof what, "%s %s 3 tensors (bias excluded) %d steps", names_[cfg->kind], opts, steps);
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
