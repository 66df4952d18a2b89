/*
** optim.c: the optimizers (see include/clgrad/optim.h): configuration
** (defaults, names, validation, state size), the launcher clgrad_optim_step
** for cl/optim.cl (derived scalars computed here in double).  The float64
** host reference and the "optim" self-check: src/check/optim_check.c.
*/
#include "core/internal.h"
#include "clgrad/optim.h"
#include "clgrad/reduce.h"
#include "clgrad/gradstate.h"

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
    c.exclude_norm = 1;
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

/* The scalars of an update of kind SGD, RMSprop, Adam or AdamW at step t (hp, ip: reduce_stats_optim_chunks's
** list in cl/reduce.cl), derived in double and rounded to float once (Adam's bias corrections too); the
** kind's code (0 SGD, 1 RMSprop, 2 Adam).  Every launch of an update takes them from here: optim_sgd,
** optim_rmsprop and optim_adam through kernels_ below, the log step's fused update as they are. */
static cl_int optim_scalars_(const clgrad_optim_cfg *c, int64_t t, double lr, cl_float hp[16], cl_int ip[4])
{
    memset(hp, 0, 16 * sizeof *hp), memset(ip, 0, 4 * sizeof *ip);
    if (c->kind == CLGRAD_OPTIM_SGD) {
        hp[0] = (cl_float)lr, hp[1] = (cl_float)c->weight_decay, hp[2] = (cl_float)c->momentum;
        hp[3] = (cl_float)(1.0 - c->dampening);
        ip[0] = c->nesterov ? 1 : 0, ip[1] = t == 1;
        return 0;
    }
    if (c->kind == CLGRAD_OPTIM_RMSPROP) {
        hp[0] = (cl_float)lr, hp[1] = (cl_float)c->weight_decay, hp[2] = (cl_float)c->alpha;
        hp[3] = (cl_float)(1.0 - c->alpha), hp[4] = (cl_float)c->eps, hp[5] = (cl_float)c->momentum;
        ip[0] = c->centered ? 1 : 0;
        return 1;
    }
    int decoupled = c->kind == CLGRAD_OPTIM_ADAMW;
    hp[0] = decoupled ? 0.0f : (cl_float)c->weight_decay;
    hp[1] = decoupled ? (cl_float)(1.0 - lr * c->weight_decay) : 1.0f;
    hp[2] = (cl_float)c->beta1, hp[3] = (cl_float)(1.0 - c->beta1);
    hp[4] = (cl_float)c->beta2, hp[5] = (cl_float)(1.0 - c->beta2);
    hp[6] = (cl_float)(lr / (1.0 - pow(c->beta1, (double)t)));
    hp[7] = (cl_float)sqrt(1.0 - pow(c->beta2, (double)t));
    hp[8] = (cl_float)c->eps;
    ip[0] = decoupled, ip[1] = c->amsgrad ? 1 : 0;
    return 2;
}

/* Each kind's kernel and its scalars in argument order from 12 (optim.cl): entry i >= 0 is hp[i], i < 0 is
** ip[-1 - i] (optim_scalars_). */
static const struct {
    const char *name;
    int nargs;
    signed char arg[11];
} kernels_[3] = {
    {"optim_sgd", 6, {0, 1, 2, 3, -1, -2}},                    /* lr, wd, momentum, 1 - dampening, nesterov, first */
    {"optim_rmsprop", 7, {0, 1, 2, 3, 4, 5, -1}},              /* lr, wd, alpha, 1 - alpha, eps, momentum, centered */
    {"optim_adam", 11, {0, -1, 1, 2, 3, 4, 5, 6, 7, 8, -2}},   /* wd, decoupled, decay, b1, 1 - b1, b2, 1 - b2,
                                                                  step size, sqrt(bc2), eps, amsgrad */
};

static clgrad_status launch_optim_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, int64_t t, double lr,
                                   const common_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_float hp[16];
    cl_int ip[4];
    int kind = optim_scalars_(c, t, lr, hp, ip);
    cl_kernel k = clgrad_kernel(ctx, kernels_[kind].name);
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_TRY(set_common_(ctx, k, a));
    for (int j = 0; j < kernels_[kind].nargs; j++) {
        int i = kernels_[kind].arg[j];
        if (i >= 0) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)(12 + j), sizeof(cl_float), &hp[i]));
        else CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)(12 + j), sizeof(cl_int), &ip[-1 - i]));
    }
    CLGRAD_TRY(clgrad_launch1d(ctx, k, kernels_[kind].name, ((size_t)a->n + 7) / 8, clgrad_wg(ctx)));
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
    return launch_optim_(ctx, cfg, step_t, lr, &a);
}

/* ---- a log step's update with its statistics (reduce_stats_optim_chunks, cl/reduce.cl) ---- */

static const char *segs_cover_(const clgrad_segs *segs, size_t n);

clgrad_status clgrad_optim_step_stats(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                      cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                      size_t gradstate_offset, cl_mem prev, const clgrad_segs *segs, cl_mem out,
                                      size_t off_x, size_t off_d, const clgrad_reduce_job *also)
{
    clgrad_status st = CLGRAD_OK;
    const char *why = clgrad_optim_invalid(cfg);
    if (why) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "optimizer: %s", why);
    if (clgrad_optim_is_layerwise(cfg->kind))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_stats(%s): a layer-wise optimizer", names_[cfg->kind]);
    if (step_t < 1 || !(lr >= 0.0) || !isfinite(lr))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_stats: step_t >= 1 and a finite lr >= 0 are needed");
    if (!params || !grads || !prev || !segs || (clgrad_optim_state_floats(cfg) > 0 && !state))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_stats(%s): params, grads, prev, segs (and state) are needed",
                           names_[cfg->kind]);
    if (n > 0 && (why = segs_cover_(segs, n))) return clgrad_fail(ctx, CLGRAD_E_ARG, "optim_step_stats: %s", why);
    CLGRAD_TRY(clgrad_reduce_stats_pair_check(ctx, params, prev, segs, out, off_x, off_d));
    cl_float hp[16];
    cl_int ip[4], kind = optim_scalars_(cfg, step_t, lr, hp, ip), use_gs = gradstate != NULL;
    cl_uint nseg = (cl_uint)clgrad_segs_count(segs);
    cl_mem tab = clgrad_segs_table(segs), part = clgrad_segs_part(segs), s = state ? state : params;
    cl_mem gs = gradstate ? gradstate : params; /* any valid buffer; never read when use_gs == 0 */
    cl_kernel k = clgrad_kernel(ctx, "reduce_stats_optim_chunks");
    if (!k) return CLGRAD_E_ARG;
    clgrad_karg a[] = {CLGRAD_KM(params), CLGRAD_KM(grads), CLGRAD_KM(s), CLGRAD_KU(n), CLGRAD_KM(gs),
                       CLGRAD_KU(gradstate_offset + CLGRAD_GS_COEF), CLGRAD_KU(gradstate_offset + CLGRAD_GS_SKIP),
                       CLGRAD_KI(use_gs), CLGRAD_KM(prev), CLGRAD_KM(tab), {&nseg, sizeof nseg},
                       CLGRAD_KU(clgrad_segs_chunks(segs)), CLGRAD_KM(part), CLGRAD_KI(kind),
                       {hp, sizeof(cl_float16)}, {ip, sizeof(cl_int4)}};
    for (int i = 0; i < 16; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].p));
    CLGRAD_TRY(clgrad_reduce_stats_optim_(ctx, k, segs, out, off_x, off_d, also));
fail:
    return st;
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

/* The buffers and derived scalars the three optim_layers_* kernels take (names as in their argument lists). */
typedef struct {
    cl_mem params, grads, state, work, tab, gs;
    cl_int use_gs, ilamb;
    cl_ulong gs_coef, gs_skip, nn, wo, chunk, st_w, st_u;
    cl_uint nseg;
    cl_float wd, b1, omb1, b2, omb2, bc1, bc2_sqrt, eps, coef, rwd, clip, flr, mu;
} layers_args_;

/* Check the buffers, the segments and the work area of a layer-wise step on n > 0 parameters. */
static clgrad_status layers_check_(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, cl_mem params, cl_mem grads,
                                   cl_mem state, size_t n, const clgrad_segs *segs, cl_mem work, size_t work_off)
{
    clgrad_status st = CLGRAD_OK;
    const char *why;
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
    return CLGRAD_OK;
fail:
    return st;
}

/* Fill the kernels' arguments for step step_t at learning rate lr (scalars derived in double). */
static void layers_args_init_(layers_args_ *a, const clgrad_optim_cfg *cfg, int64_t step_t, double lr, cl_mem params,
                              cl_mem grads, cl_mem state, size_t n, cl_mem gradstate, size_t gradstate_offset,
                              const clgrad_segs *segs, cl_mem work, size_t work_off)
{
    size_t T = clgrad_segs_count(segs);
    int lamb = cfg->kind == CLGRAD_OPTIM_LAMB;
    a->params = params, a->grads = grads, a->state = state, a->work = work;
    a->use_gs = gradstate != NULL, a->ilamb = lamb;
    a->gs = gradstate ? gradstate : params; /* any valid buffer; never read when use_gs == 0 */
    a->gs_coef = (cl_ulong)gradstate_offset + CLGRAD_GS_COEF, a->gs_skip = (cl_ulong)gradstate_offset + CLGRAD_GS_SKIP;
    a->nn = n, a->wo = work_off, a->chunk = clgrad_segs_chunk(segs);
    a->st_w = 2 * (cl_ulong)T, a->st_u = a->st_w + CLGRAD_RS_SIZE * ((cl_ulong)T + 1);
    a->nseg = (cl_uint)T;
    a->tab = clgrad_segs_table(segs);
    a->wd = (cl_float)cfg->weight_decay, a->b1 = (cl_float)cfg->beta1, a->omb1 = (cl_float)(1.0 - cfg->beta1);
    a->b2 = (cl_float)cfg->beta2, a->omb2 = (cl_float)(1.0 - cfg->beta2);
    a->bc1 = (cl_float)(1.0 - pow(cfg->beta1, (double)step_t));
    a->bc2_sqrt = (cl_float)sqrt(1.0 - pow(cfg->beta2, (double)step_t)), a->eps = (cl_float)cfg->eps;
    a->coef = lamb ? 1.0f : (cl_float)cfg->trust_coefficient, a->rwd = lamb ? 0.0f : a->wd;
    a->clip = (cl_float)cfg->trust_clip, a->flr = (cl_float)lr, a->mu = (cl_float)cfg->momentum;
}

/* Launch optim_layers_prep: the update direction (LARS: d, LAMB: u) per parameter. */
static clgrad_status layers_prep_(clgrad_ctx *ctx, layers_args_ *a, const clgrad_segs *segs)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_layers_prep");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, a->params);
    CLGRAD_ARG(ctx, k, 1, a->grads);
    CLGRAD_ARG(ctx, k, 2, a->state);
    CLGRAD_ARG(ctx, k, 3, a->nn);
    CLGRAD_ARG(ctx, k, 4, a->tab);
    CLGRAD_ARG(ctx, k, 5, a->nseg);
    CLGRAD_ARG(ctx, k, 6, a->chunk);
    CLGRAD_ARG(ctx, k, 7, a->gs);
    CLGRAD_ARG(ctx, k, 8, a->gs_coef);
    CLGRAD_ARG(ctx, k, 9, a->gs_skip);
    CLGRAD_ARG(ctx, k, 10, a->use_gs);
    CLGRAD_ARG(ctx, k, 11, a->work);
    CLGRAD_ARG(ctx, k, 12, a->wo);
    CLGRAD_ARG(ctx, k, 13, a->ilamb);
    CLGRAD_ARG(ctx, k, 14, a->wd);
    CLGRAD_ARG(ctx, k, 15, a->b1);
    CLGRAD_ARG(ctx, k, 16, a->omb1);
    CLGRAD_ARG(ctx, k, 17, a->b2);
    CLGRAD_ARG(ctx, k, 18, a->omb2);
    CLGRAD_ARG(ctx, k, 19, a->bc1);
    CLGRAD_ARG(ctx, k, 20, a->bc2_sqrt);
    CLGRAD_ARG(ctx, k, 21, a->eps);
    CLGRAD_TRY(chunk_launch_(ctx, k, "optim_layers_prep", segs));
fail:
    return st;
}

/* Launch optim_layers_ratio: each tensor's trust ratio from the norms in the work area. */
static clgrad_status layers_ratio_(clgrad_ctx *ctx, layers_args_ *a)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_layers_ratio");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, a->work);
    CLGRAD_ARG(ctx, k, 1, a->wo);
    CLGRAD_ARG(ctx, k, 2, a->nseg);
    CLGRAD_ARG(ctx, k, 3, a->st_w);
    CLGRAD_ARG(ctx, k, 4, a->st_u);
    CLGRAD_ARG(ctx, k, 5, a->coef);
    CLGRAD_ARG(ctx, k, 6, a->rwd);
    CLGRAD_ARG(ctx, k, 7, a->clip);
    CLGRAD_ARG(ctx, k, 8, a->gs);
    CLGRAD_ARG(ctx, k, 9, a->gs_skip);
    CLGRAD_ARG(ctx, k, 10, a->use_gs);
    {
        size_t one = 1;
        CLGRAD_TRY(clgrad_launch(ctx, k, "optim_layers_ratio", 1, &one, &one));
    }
fail:
    return st;
}

/* Launch optim_layers_apply: the parameter update scaled by each tensor's trust ratio. */
static clgrad_status layers_apply_(clgrad_ctx *ctx, layers_args_ *a, const clgrad_segs *segs)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "optim_layers_apply");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, a->params);
    CLGRAD_ARG(ctx, k, 1, a->state);
    CLGRAD_ARG(ctx, k, 2, a->nn);
    CLGRAD_ARG(ctx, k, 3, a->tab);
    CLGRAD_ARG(ctx, k, 4, a->nseg);
    CLGRAD_ARG(ctx, k, 5, a->chunk);
    CLGRAD_ARG(ctx, k, 6, a->gs);
    CLGRAD_ARG(ctx, k, 7, a->gs_skip);
    CLGRAD_ARG(ctx, k, 8, a->use_gs);
    CLGRAD_ARG(ctx, k, 9, a->work);
    CLGRAD_ARG(ctx, k, 10, a->wo);
    CLGRAD_ARG(ctx, k, 11, a->ilamb);
    CLGRAD_ARG(ctx, k, 12, a->flr);
    CLGRAD_ARG(ctx, k, 13, a->wd);
    CLGRAD_ARG(ctx, k, 14, a->mu);
    CLGRAD_TRY(chunk_launch_(ctx, k, "optim_layers_apply", segs));
fail:
    return st;
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
    CLGRAD_TRY(layers_check_(ctx, cfg, params, grads, state, n, segs, work, work_off));
    layers_args_ a;
    layers_args_init_(&a, cfg, step_t, lr, params, grads, state, n, gradstate, gradstate_offset, segs, work, work_off);
    CLGRAD_TRY(layers_prep_(ctx, &a, segs));

    /* ||w|| per tensor, ||d|| (LARS, slot 1) or ||u|| (LAMB, slot 2) per tensor */
    CLGRAD_TRY(clgrad_reduce_stats(ctx, params, 0, segs, work, work_off + (size_t)a.st_w));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, state, (a.ilamb ? 2 : 1) * n, segs, work, work_off + (size_t)a.st_u));

    CLGRAD_TRY(layers_ratio_(ctx, &a));
    CLGRAD_TRY(layers_apply_(ctx, &a, segs));
fail:
    return st;
}
