/*
** step.c: one training step (include/clgrad/step.h), enqueued in one fixed
** order; used by `clgrad run` (src/run/train.c) and `clgrad bench`.
*/
#include "core/internal.h"
#include "clgrad/hist.h"
#include "clgrad/init.h"
#include "clgrad/step.h"
#include "nn/mlp_fused.h"
#include "ops/clip_watch.h"

#include <string.h>

void clgrad_metrics_layout_init(clgrad_metrics_layout *L, size_t nt, size_t model_metrics, size_t nunits)
{
    size_t o = 0;
    L->loss = o++;
    L->acc = o++;
    L->gs = o, o += CLGRAD_GS_SIZE;
    L->rec = o, o += CLGRAD_REC_SIZE;
    L->gstats = o, o += CLGRAD_RS_SIZE * (nt + 1);
    L->pstats = o, o += CLGRAD_RS_SIZE * (nt + 1);
    L->dstats = o, o += CLGRAD_RS_SIZE * (nt + 1);
    L->model = o, o += model_metrics;
    L->agc = o, o += nunits ? 2 * CLGRAD_RS_SIZE * (nunits + 1) : 0;
    L->hist = o;
    L->lw = 0;
    L->size = o;
}

void clgrad_metrics_layout_add_hist(clgrad_metrics_layout *L, size_t nseg)
{
    L->hist = L->size;
    L->size += CLGRAD_HIST_NBINS * nseg; /* uint32 counts: bit patterns in the float block */
}

clgrad_status clgrad_step_histograms(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_segs *ps = clgrad_model_param_segs(p->m), *hs;
    cl_mem fwd;
    size_t nt = (size_t)clgrad_model_ntensors(p->m), o = p->L.hist;
    if (!p->hscratch) return clgrad_fail(ctx, CLGRAD_E_ARG, "step_histograms: no scratch buffer in the plan");
    CLGRAD_TRY(clgrad_model_hidden_segs(ctx, p->m, B, &hs, &fwd));
    CLGRAD_TRY(clgrad_hist_counts(ctx, clgrad_model_params(p->m), 0, ps, p->hscratch, p->mbuf, o));
    CLGRAD_TRY(clgrad_hist_counts(ctx, clgrad_model_grads(p->m), 0, ps, p->hscratch, p->mbuf, o + CLGRAD_HIST_NBINS * nt));
    CLGRAD_TRY(clgrad_hist_counts(ctx, fwd, 0, hs, p->hscratch, p->mbuf, o + 2 * CLGRAD_HIST_NBINS * nt));
fail:
    return st;
}

void clgrad_metrics_layout_add_layerwise(clgrad_metrics_layout *L, size_t nt)
{
    L->lw = L->size;
    L->size += CLGRAD_OPTIM_LAYERS_WORK(nt);
}

clgrad_status clgrad_step_layerwise_init(clgrad_ctx *ctx, const clgrad_step_plan *p)
{
    clgrad_status st = CLGRAD_OK;
    int nt = clgrad_model_ntensors(p->m);
    if (p->L.lw == 0) return clgrad_fail(ctx, CLGRAD_E_ARG, "step: the metrics block has no LARS/LAMB work area");
    float mask[CLGRAD_MODEL_MAX_TENSORS];
    for (int t = 0; t < nt; t++) {
        const clgrad_tensor *tt = clgrad_model_tensor(p->m, t);
        mask[t] = (p->optim->exclude_bias && tt->is_bias) || (p->optim->exclude_norm && tt->norm) ? 1.0f : 0.0f;
    }
    CLGRAD_TRY(clgrad_buf_write(ctx, p->mbuf, p->L.lw, (size_t)nt, mask));
    CLGRAD_TRY(clgrad_buf_fill(ctx, p->mbuf, p->L.lw + (size_t)nt, (size_t)nt, 1.0f));
fail:
    return st;
}

static const char *const clip_names_[] = {"none", "value", "norm", "global_norm", "agc", "zscore"};
#define NCLIP (int)(sizeof clip_names_ / sizeof *clip_names_)

const char *clgrad_clip_kind_name(clgrad_clip_kind k) { return (int)k >= 0 && (int)k < NCLIP ? clip_names_[k] : "?"; }

int clgrad_clip_kind_parse(const char *s)
{
    for (int i = 0; s && i < NCLIP; i++)
        if (strcmp(s, clip_names_[i]) == 0) return i;
    return -1;
}

clgrad_status clgrad_step_gather(clgrad_ctx *ctx, const clgrad_step_plan *p, cl_mem x, cl_mem y, size_t start, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "model_gather");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong row = p->row, one = 1, off = start;
    cl_uint b = (cl_uint)B;
    CLGRAD_ARG(ctx, k, 0, x);
    CLGRAD_ARG(ctx, k, 1, row);
    CLGRAD_ARG(ctx, k, 2, p->idx);
    CLGRAD_ARG(ctx, k, 3, off);
    CLGRAD_ARG(ctx, k, 4, b);
    CLGRAD_ARG(ctx, k, 5, p->xb);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "model_gather", B * p->row, 0));
    CLGRAD_ARG(ctx, k, 0, y);
    CLGRAD_ARG(ctx, k, 1, one);
    CLGRAD_ARG(ctx, k, 5, p->yb);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "model_gather", B, 0));
fail:
    return st;
}

/* Norms and clipping: every kind records the global norm (and per-tensor
** statistics) in the gradient state, and the divergence watch runs in the
** same launch (src/ops/clip_watch.h: it reads the loss, the block's NORM and
** NONFINITE and the per-tensor statistics, which nothing after it changes);
** global_norm and zscore leave the coefficient to the optimizer, which
** applies it fused. */
static clgrad_status clip_(clgrad_ctx *ctx, const clgrad_step_plan *p, long step, int log)
{
    cl_mem g = clgrad_model_grads(p->m), mb = p->mbuf;
    const clgrad_segs *segs = clgrad_model_param_segs(p->m);
    clgrad_status st = CLGRAD_OK;
    const clgrad_clip_watch w = {(float)step, mb,     p->L.loss, p->loss_limit, p->grad_norm_limit,
                                 mb,          p->L.rec, log && p->halt_on_divergence};
    /* global_norm: the optimizer applies COEF, fused; ZClip's norm is the 2-norm ([clip] norm_type is not one of
    ** its keys) */
    int glob = p->clip == CLGRAD_CLIP_GLOBAL_NORM;
    clgrad_norm_type nt = p->clip == CLGRAD_CLIP_ZSCORE ? CLGRAD_NORM_L2 : p->norm_type;
    CLGRAD_TRY(clgrad_clip_gradstate_watch(ctx, g, 0, segs, mb, p->L.gstats, nt, glob, glob ? p->max_norm : 1.0f,
                                           p->policy, mb, p->L.gs, &w));
    if (p->clip == CLGRAD_CLIP_VALUE)
        CLGRAD_TRY(clgrad_clip_value(ctx, g, 0, clgrad_model_nparams(p->m), p->clip_value, mb, p->L.gs));
    else if (p->clip == CLGRAD_CLIP_NORM)
        CLGRAD_TRY(clgrad_clip_tensor_norm(ctx, g, 0, segs, mb, p->L.dstats, p->max_norm, mb, p->L.gs));
    else if (p->clip == CLGRAD_CLIP_AGC)
        CLGRAD_TRY(clgrad_clip_agc(ctx, clgrad_model_params(p->m), 0, g, 0, p->units, mb, p->L.agc, p->agc_clipping,
                                   1e-3f, mb, p->L.gs));
    else if (p->clip == CLGRAD_CLIP_ZSCORE) /* COEF from ZClip's device state; the optimizer applies it, fused */
        CLGRAD_TRY(clgrad_clip_zscore(ctx, p->zclip, p->zstate, mb, p->L.gs));
fail:
    return st;
}

clgrad_status clgrad_step_accuracy(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B)
{
    if (p->loss == CLGRAD_LOSS_MSE) return CLGRAD_OK;
    return clgrad_loss_accuracy(ctx, p->loss, clgrad_model_logits(p->m), 0, p->yb, 0, B, p->K, p->mbuf, p->L.acc);
}

clgrad_status clgrad_step_batch(clgrad_ctx *ctx, const clgrad_step_plan *p, long step, size_t pos, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(clgrad_step_gather(ctx, p, p->x, p->y, pos, B));
    /* input-noise augmentation: training batches only, keyed by (seed, step, element) */
    CLGRAD_TRY(clgrad_init_add_noise(ctx, p->xb, 0, B * p->row, p->input_std, p->seed, CLGRAD_NOISE_STREAM_INPUT,
                                     (uint32_t)step));
fail:
    return st;
}

clgrad_status clgrad_step_grads(clgrad_ctx *ctx, const clgrad_step_plan *p, long step, size_t pos, size_t B,
                                float noise_std, int flags)
{
    clgrad_status st = CLGRAD_OK;
    cl_mem grads = clgrad_model_grads(p->m), lg = clgrad_model_logits(p->m);
    size_t np = clgrad_model_nparams(p->m);
    int fused = 0, batched = p->input_std != 0.0f;
    /* the batch with input noise: its own launches; a plain MLP: (the
    ** batch,) forward, loss value and gradient, backward and the gradient
    ** state's reset in two launches (nn/mlp_fused.h), the same bits */
    if (batched) CLGRAD_TRY(clgrad_step_batch(ctx, p, step, pos, B));
    CLGRAD_TRY(clgrad_mlp_fused_grads(ctx, p, pos, B, !batched, &fused));
    if (!fused) {
        if (!batched) CLGRAD_TRY(clgrad_step_batch(ctx, p, step, pos, B));
        CLGRAD_TRY(clgrad_model_forward(ctx, p->m, p->xb, 0, B));
    }
    if (!(fused & CLGRAD_MLP_FUSED_LOSS))
        CLGRAD_TRY(clgrad_loss_value(ctx, p->loss, lg, 0, p->yb, 0, B, p->K, p->mbuf, p->L.loss));
    if (flags & CLGRAD_STEP_LOG) CLGRAD_TRY(clgrad_step_accuracy(ctx, p, B));
    if (!fused) {
        CLGRAD_TRY(clgrad_loss_grad(ctx, p->loss, lg, 0, p->yb, 0, p->dlogits, 0, B, p->K));
        CLGRAD_TRY(clgrad_model_backward(ctx, p->m, p->dlogits, 0, B));
    }
    /* L1's subgradient (part of the loss), then gradient noise: both before the norm and clipping */
    CLGRAD_TRY(clgrad_model_l1_grad(ctx, p->m, p->l1));
    CLGRAD_TRY(clgrad_init_add_noise(ctx, grads, 0, np, noise_std, p->seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step));
    if (!fused) CLGRAD_TRY(clgrad_gradstate_reset(ctx, p->mbuf, p->L.gs));
    if (flags & CLGRAD_STEP_HIST) CLGRAD_TRY(clgrad_step_histograms(ctx, p, B));
    CLGRAD_TRY(clip_(ctx, p, step, (flags & CLGRAD_STEP_LOG) != 0));
fail:
    return st;
}

clgrad_status clgrad_step_snapshot(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    size_t np = clgrad_model_nparams(p->m);
    CLGRAD_TRY(clgrad_model_metrics(ctx, p->m, B, p->mbuf, p->L.model));
    CLGRAD_TRY(clgrad_buf_copy(ctx, clgrad_model_params(p->m), 0, p->prev, 0, np));
fail:
    return st;
}

clgrad_status clgrad_step_update(clgrad_ctx *ctx, const clgrad_step_plan *p, long t, double lr)
{
    clgrad_status st = CLGRAD_OK;
    if (clgrad_optim_is_layerwise(p->optim->kind)) {
        if (p->L.lw == 0) return clgrad_fail(ctx, CLGRAD_E_ARG, "step: the metrics block has no LARS/LAMB work area");
        CLGRAD_TRY(clgrad_optim_step_layers(ctx, p->optim, t, lr, clgrad_model_params(p->m), clgrad_model_grads(p->m),
                                            p->state, clgrad_model_nparams(p->m), p->mbuf, p->L.gs,
                                            clgrad_model_param_segs(p->m), p->mbuf, p->L.lw));
    } else {
        CLGRAD_TRY(clgrad_optim_step(ctx, p->optim, t, lr, clgrad_model_params(p->m), clgrad_model_grads(p->m),
                                     p->state, clgrad_model_nparams(p->m), p->mbuf, p->L.gs));
    }
fail:
    return st;
}

/* Both reductions and the update params - prev in two launches (clgrad_reduce_stats_pair). */
clgrad_status clgrad_step_stats(clgrad_ctx *ctx, const clgrad_step_plan *p)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_segs *psegs = clgrad_model_param_segs(p->m);
    CLGRAD_TRY(clgrad_reduce_stats_pair(ctx, clgrad_model_params(p->m), p->prev, psegs, p->mbuf, p->L.pstats,
                                        p->L.dstats));
fail:
    return st;
}

/* The copy, update and statistics of a log step in one pass, the model's gradient statistics in the same
** launches, where the optimizer allows it (not LARS/LAMB). */
clgrad_status clgrad_step_log_update(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B, long t, double lr)
{
    clgrad_status st = CLGRAD_OK;
    if (clgrad_optim_is_layerwise(p->optim->kind)) {
        CLGRAD_TRY(clgrad_step_snapshot(ctx, p, B));
        CLGRAD_TRY(clgrad_step_update(ctx, p, t, lr));
        CLGRAD_TRY(clgrad_step_stats(ctx, p));
        return CLGRAD_OK;
    }
    clgrad_reduce_job g; /* the model's gradient statistics: in the launches of the update's */
    CLGRAD_TRY(clgrad_model_metrics_split(ctx, p->m, B, p->mbuf, p->L.model, &g));
    CLGRAD_TRY(clgrad_optim_step_stats(ctx, p->optim, t, lr, clgrad_model_params(p->m), clgrad_model_grads(p->m),
                                       p->state, clgrad_model_nparams(p->m), p->mbuf, p->L.gs, p->prev,
                                       clgrad_model_param_segs(p->m), p->mbuf, p->L.pstats, p->L.dstats, &g));
fail:
    return st;
}
