/*
** step.h: one training step, the only place its sequence is written.
**
** gather the batch -> input noise -> forward -> loss (value; accuracy on log
** steps) -> loss gradient -> backward -> L1 subgradient -> gradient noise ->
** gradient state with the divergence watch -> norms and clipping ->
** [skip/stop read by the caller] -> optimizer.
**
** `clgrad run` (src/run/train.c) and `clgrad bench` (src/cli/bench.c) both
** step through these functions; neither writes the sequence itself.  Nothing
** here waits for the device: the caller decides when to read the metrics
** block back (train.c: at log steps; bench: never).
**
** The metrics block is one device buffer of floats whose regions the layout
** names (clgrad_metrics_layout): each kernel writes its figures at its
** region's offset, and the host reads the block back in one transfer.
*/
#ifndef CLGRAD_STEP_H
#define CLGRAD_STEP_H

#include "clgrad/clip.h"
#include "clgrad/core.h"
#include "clgrad/gradstate.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"
#include "clgrad/reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Regions of the metrics block, offsets in floats. */
typedef struct clgrad_metrics_layout {
    size_t loss;   /* 1: the batch's mean loss */
    size_t acc;    /* 1: correct predictions in the batch (classification, log steps) */
    size_t gs;     /* CLGRAD_GS_SIZE: gradient state (gradstate.h): norm, clip coefficient, skip flag */
    size_t rec;    /* CLGRAD_REC_SIZE: the divergence record, see below */
    size_t gstats; /* CLGRAD_RS_SIZE * (ntensors + 1): gradient statistics per tensor, then all */
    size_t pstats; /* the same for the parameters (log steps) */
    size_t dstats; /* the same for the update, parameters minus previous (log steps; "norm" clipping) */
    size_t model;  /* clgrad_model_metrics_size: the model's per-layer figures (log steps) */
    size_t agc;    /* AGC: 2 * CLGRAD_RS_SIZE * (nunits + 1), else 0 floats */
    size_t hist;   /* CLGRAD_HIST_NBINS * nseg uint32 counts (histogram steps; clgrad_step_histograms), else 0 */
    size_t lw;     /* LARS/LAMB: CLGRAD_OPTIM_LAYERS_WORK(ntensors) floats (clgrad_optim_step_layers' work
                   ** area: the excluded-tensor mask, the trust ratios, statistics); 0: none */
    size_t size;   /* floats in all */
} clgrad_metrics_layout;

/* The divergence record (clip_diverge_check_ of cl/clip_fn.cl, in clgrad_step_grads). */
enum {
    CLGRAD_REC_STEP = 0,          /* first divergent step, 0 = none yet */
    CLGRAD_REC_KIND = 1,          /* 1 non-finite loss, 2 loss over its limit, 3 non-finite gradient, 4 norm over its limit */
    CLGRAD_REC_TENSOR = 2,        /* the tensor where it appeared, -1 for the loss kinds */
    CLGRAD_REC_MAX_GRAD_NORM = 3, /* the largest global gradient norm so far (NaN ignored) */
    CLGRAD_REC_VALUE = 4,         /* the offending value */
    CLGRAD_REC_HALT = 5,          /* 1: halted (clgrad_step_plan.halt_on_divergence): steps change nothing */
    CLGRAD_REC_SIZE = 8
};

/* The layout for a model of ntensors tensors, model_metrics floats of its own
** figures (clgrad_model_metrics_size) and nunits AGC units (0: no AGC). */
void clgrad_metrics_layout_init(clgrad_metrics_layout *L, size_t ntensors, size_t model_metrics, size_t nunits);
/* Append the LARS/LAMB work area (L->lw) for ntensors tensors. */
void clgrad_metrics_layout_add_layerwise(clgrad_metrics_layout *L, size_t ntensors);
/* Append the histogram region: nseg = 2 * ntensors + clgrad_model_hidden_layers
** (0: none), see clgrad_step_histograms. */
void clgrad_metrics_layout_add_hist(clgrad_metrics_layout *L, size_t nseg);

typedef enum {
    CLGRAD_CLIP_NONE = 0,
    CLGRAD_CLIP_VALUE,       /* clamp each element to [-value, value] */
    CLGRAD_CLIP_NORM,        /* each tensor's norm to max_norm */
    CLGRAD_CLIP_GLOBAL_NORM, /* the global norm to max_norm (torch.nn.utils.clip_grad_norm_) */
    CLGRAD_CLIP_AGC,         /* adaptive gradient clipping, unit-wise (Brock et al. 2021) */
    CLGRAD_CLIP_ZSCORE,      /* ZClip: the global norm against its EMA z-score (Kumar et al. 2025; clgrad_clip_zscore) */
    CLGRAD_CLIP_NKINDS
} clgrad_clip_kind;
/* "none" | "value" | "norm" | "global_norm" | "agc" | "zscore"; parse: -1 when unknown. */
const char *clgrad_clip_kind_name(clgrad_clip_kind k);
int clgrad_clip_kind_parse(const char *s);

/* What a step needs: the model, its loss and optimizer, the data on the
** device, the scratch buffers and the settings.  Owned by the caller, which
** creates every buffer (sizes in comments) and frees them. */
typedef struct clgrad_step_plan {
    clgrad_model *m;
    clgrad_loss loss;
    const clgrad_optim_cfg *optim;
    size_t row, K;     /* floats per sample (seq_len * features); outputs per sample */
    cl_mem x, y;       /* the training set: n * row features, n targets */
    cl_mem idx;        /* the epoch's order: uint32 row indices */
    cl_mem xb, yb;     /* the batch: max_batch * row, max_batch */
    cl_mem dlogits;    /* max_batch * K */
    cl_mem state;      /* optimizer state: clgrad_optim_state_floats * nparams */
    cl_mem prev;       /* the parameters before the update (log steps): nparams */
    cl_mem mbuf;       /* the metrics block: L.size */
    clgrad_metrics_layout L;
    uint64_t seed;     /* noise streams' key */
    float input_std;   /* input-noise std (0: off) */
    float l1;          /* L1 strength (0: off) */
    clgrad_clip_kind clip;
    float max_norm, clip_value, agc_clipping;
    clgrad_norm_type norm_type;
    clgrad_nonfinite_policy policy;
    const clgrad_segs *units; /* AGC's units (rows of each weight, a bias as one) */
    const clgrad_zclip_params *zclip; /* zscore: ZClip's settings */
    cl_mem zstate;     /* zscore: its state, clgrad_zclip_state_floats(zclip), zeroed before step 1 */
    float loss_limit, grad_norm_limit; /* divergence limits, <= 0: off */
    /* [diverge] action = stop: the run ends at the first log step whose record holds a divergence.  1: the
    ** device knows it too: after such a log step's watch, every later step's gradient state says skip, so
    ** the steps queued behind it (metrics read back late) change no parameter or optimizer state. */
    int halt_on_divergence;
    cl_mem hscratch;   /* histograms' scratch (NULL: none): clgrad_hist_scratch_words of the parameter table
                          and of the hidden outputs at max batch, the larger (uint32 words) */
} clgrad_step_plan;

/* The flags of clgrad_step_grads: a log step (the batch accuracy), a
** histogram step (clgrad_step_histograms before clipping). */
enum { CLGRAD_STEP_LOG = 1, CLGRAD_STEP_HIST = 2 };

/* The batch: xb, yb = rows idx[start .. start + B) of x and y. */
clgrad_status clgrad_step_gather(clgrad_ctx *ctx, const clgrad_step_plan *p, cl_mem x, cl_mem y, size_t start, size_t B);

/* The batch of step `step` as clgrad_step_grads makes it: rows idx[pos ..
** pos + B) into xb, yb, then the input noise.  For measurements on the
** step's batch before the step (the sharpness: src/nn/sharpness.c);
** clgrad_step_grads makes it again, the same bits. */
clgrad_status clgrad_step_batch(clgrad_ctx *ctx, const clgrad_step_plan *p, long step, size_t pos, size_t B);

/* Step `step` (1-based) up to the clipped gradients: gather rows
** idx[pos .. pos + B), input noise, forward, loss (and the batch accuracy
** when flags has CLGRAD_STEP_LOG; 1 = log), backward, L1, gradient noise of
** std noise_std, gradient state, [histograms when flags has
** CLGRAD_STEP_HIST], norms (with the divergence watch) and clipping. */
clgrad_status clgrad_step_grads(clgrad_ctx *ctx, const clgrad_step_plan *p, long step, size_t pos, size_t B,
                                float noise_std, int flags);

/* Log-magnitude histograms (include/clgrad/hist.h) into L.hist: segment t =
** parameter tensor t (t < ntensors), ntensors + t = its gradient, 2 ntensors
** + l = hidden layer l's output of the last forward pass (B rows; recurrent:
** h_1 .. h_T).  clgrad_step_grads calls it after the gradient noise, before
** clipping: the weights of this step's forward pass, the unclipped gradient. */
clgrad_status clgrad_step_histograms(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B);

/* The batch accuracy of the logits the last forward left (log steps). */
clgrad_status clgrad_step_accuracy(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B);

/* Log steps, after clgrad_step_grads: the model's per-layer figures and a
** copy of the parameters (prev) for the update statistics. */
clgrad_status clgrad_step_snapshot(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B);

/* LARS/LAMB, once before the first step: the work area's mask (the model's
** biases when optim->exclude_bias) and trust ratios 1.  Needs L.lw. */
clgrad_status clgrad_step_layerwise_init(clgrad_ctx *ctx, const clgrad_step_plan *p);

/* The optimizer's step t (1-based, skipped steps not counted) at learning
** rate lr, after clgrad_step_grads (whose divergence watch ran with the
** gradient state: it reads nothing the optimizer writes).  LARS/LAMB
** (clgrad_optim_step_layers, one segment per model tensor) need L.lw. */
clgrad_status clgrad_step_update(clgrad_ctx *ctx, const clgrad_step_plan *p, long t, double lr);

/* Log steps, after clgrad_step_update: statistics of the parameters and of
** the update (parameters minus prev, formed inside the reduction) into the
** metrics block, in two launches. */
clgrad_status clgrad_step_stats(clgrad_ctx *ctx, const clgrad_step_plan *p);

/* A log step after clgrad_step_grads: what clgrad_step_snapshot, clgrad_step_update and clgrad_step_stats
** do, the same bits, with the copy to prev, the update and the statistics of the parameters and of the update
** in one pass over the parameters (clgrad_optim_step_stats; LARS and LAMB: the three calls). */
clgrad_status clgrad_step_log_update(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t B, long t, double lr);

#ifdef __cplusplus
}
#endif
#endif
