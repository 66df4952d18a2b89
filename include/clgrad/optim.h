/*
** clgrad/optim.h: the optimizers SGD, RMSprop, Adam and AdamW, with PyTorch
** torch.optim semantics (docs/semantics.md), as one update
** kernel launch over a flat block of n parameters (llm.c layout), and their
** float64 host reference.
**
** Buffers (flat float cl_mem, all of them starting at element 0):
**   params  (n)            updated in place
**   grads   (n)            read only: the update never modifies gradients
**   state   (S * n)        optimizer state, S = clgrad_optim_state_floats(cfg);
**                          slot k of parameter i is state[k * n + i].  The
**                          caller zeroes it before the first step (as PyTorch
**                          creates its state with zeros).  Slot order follows
**                          PyTorch's state dict:
**       sgd      momentum != 0: [momentum_buffer]
**       rmsprop  [square_avg] + [momentum_buffer] if momentum > 0
**                             + [grad_avg] if centered
**       adam(w)  [exp_avg, exp_avg_sq] + [max_exp_avg_sq] if amsgrad
**
** Step counter: step_t is the 1-based count of steps actually taken, i.e.
** PyTorch's state["step"] after its increment.  It gives Adam's bias
** corrections and SGD's first momentum step (buffer <- g, no dampening).  A
** step the device skipped (gradient-state SKIP flag, see below) must not be
** counted: PyTorch never calls optimizer.step() for it.
**
** Gradient state (include/clgrad/gradstate.h; fused clip + update): when a
** block is given, the kernel reads block[CLGRAD_GS_COEF] and uses the
** gradient g * coef (rounded to float, exactly the value clip_grad_norm_
** would have stored), and when block[CLGRAD_GS_SKIP] != 0 it changes nothing
** (parameters and state keep their bits).  PyTorch's order is kept: clip
** first, then the optimizer's weight decay, momentum etc.  Non-finite
** gradients under the "propagate" policy flow through as in PyTorch (IEEE
** arithmetic, NaN-propagating maximum for amsgrad), so parameters become NaN
** or +-Inf the way they would there.
**
** Scalars: the kernel works in float32 with FMA contraction off.  The host
** computes every derived scalar in double and rounds it to float once:
** 1 - dampening, 1 - alpha, 1 - beta1, 1 - beta2, Adam's step size
** lr / (1 - beta1^t), sqrt(1 - beta2^t), and AdamW's decay factor 1 - lr*wd.
*/
#ifndef CLGRAD_OPTIM_H
#define CLGRAD_OPTIM_H
#include "clgrad/core.h"
#include "clgrad/reduce.h"

#include <stdint.h>

typedef enum {
    CLGRAD_OPTIM_SGD = 0,
    CLGRAD_OPTIM_RMSPROP = 1,
    CLGRAD_OPTIM_ADAM = 2,
    CLGRAD_OPTIM_ADAMW = 3,
    CLGRAD_OPTIM_LARS = 4, /* layer-wise: clgrad_optim_step_layers */
    CLGRAD_OPTIM_LAMB = 5, /* layer-wise: clgrad_optim_step_layers */
    CLGRAD_OPTIM_COUNT = 6
} clgrad_optim_kind;
/* The element-wise kinds are 0 .. CLGRAD_OPTIM_ELEMENTWISE - 1 (clgrad_optim_step);
** the layer-wise ones (LARS, LAMB) need the per-tensor segments. */
#define CLGRAD_OPTIM_ELEMENTWISE 4

/* Hyper-parameters.  Fields a kind does not use are ignored. */
typedef struct clgrad_optim_cfg {
    clgrad_optim_kind kind;
    double lr;           /* default learning rate (clgrad_optim_step takes the scheduled one) */
    double weight_decay; /* sgd/rmsprop/adam: L2 added to the gradient; adamw: decoupled */
    double momentum;     /* sgd, rmsprop */
    double dampening;    /* sgd */
    int nesterov;        /* sgd: needs momentum > 0 and dampening == 0 */
    double alpha;        /* rmsprop: smoothing constant */
    int centered;        /* rmsprop */
    double eps;          /* rmsprop, adam(w) */
    double beta1, beta2; /* adam(w) */
    int amsgrad;         /* adam(w) */
    double trust_coefficient; /* lars: eta in eta*||w|| / (||g|| + wd*||w||) (default 1e-3); lamb: 1 */
    double trust_clip;        /* lars, lamb: upper bound on the trust ratio; INFINITY = none (default) */
    int exclude_bias;         /* lars, lamb: biases get trust ratio 1 and no weight decay (default 1);
                              ** applied by the caller through the mask of clgrad_optim_step_layers */
    int exclude_norm;         /* lars, lamb: so do the normalisation layers' weights and biases (default 1) */
} clgrad_optim_cfg;

/* PyTorch's defaults for `kind`:
**   sgd      lr 1e-3, momentum 0, dampening 0, weight_decay 0, nesterov off
**   rmsprop  lr 1e-2, alpha .99, eps 1e-8, weight_decay 0, momentum 0, centered off
**   adam     lr 1e-3, betas (.9, .999), eps 1e-8, weight_decay 0, amsgrad off
**   adamw    as adam with weight_decay 1e-2 (decoupled)
**   lars     (You et al. 2017) lr 1e-3, momentum .9, weight_decay 5e-4, trust_coefficient 1e-3
**   lamb     (You et al. 2020) lr 1e-3, betas (.9, .999), eps 1e-6, weight_decay 1e-2
**   lars, lamb: trust_clip none (INFINITY), exclude_bias on
** (the unused fields get alpha .99, betas (.9, .999), eps 1e-8 as well). */
clgrad_optim_cfg clgrad_optim_defaults(clgrad_optim_kind kind);

/* "sgd", "rmsprop", "adam", "adamw" (NULL for an invalid kind). */
const char *clgrad_optim_name(clgrad_optim_kind kind);
/* Name -> kind (exact lower-case names above); -1 when unknown or NULL. */
int clgrad_optim_parse(const char *name);

/* NULL when cfg is valid, else a static message saying what is wrong.  The
** checks are PyTorch's (lr, eps, momentum, weight_decay, alpha >= 0;
** 0 <= betas < 1; nesterov needs momentum > 0 and dampening 0), plus: every
** value finite. */
const char *clgrad_optim_invalid(const clgrad_optim_cfg *cfg);

/* State floats per parameter: sgd momentum != 0: 1 (else 0);
** rmsprop: 1 + (momentum > 0) + centered; adam(w): 2 + amsgrad;
** lars: 2 (momentum buffer, then the update direction, scratch);
** lamb: 3 (exp_avg, exp_avg_sq, then the update direction, scratch). */
size_t clgrad_optim_state_floats(const clgrad_optim_cfg *cfg);

/* One optimizer step over n parameters: ONE kernel launch (optim_sgd,
** optim_rmsprop or optim_adam in cl/optim.cl).  step_t >= 1 (see above); lr is
** the scheduled learning rate for this step and overrides cfg->lr (finite,
** >= 0).  gradstate may be NULL (coef 1, never skip); otherwise the block
** starts at element gradstate_offset of that buffer.  Fails with
** CLGRAD_E_CONFIG for an invalid cfg, CLGRAD_E_ARG for bad arguments. */
clgrad_status clgrad_optim_step(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                size_t gradstate_offset);

/* clgrad_optim_step of a log step with the statistics of its result: prev (n floats) gets the parameters
** before the update, out the statistics of the new parameters (at off_x) and of the update params - prev (at
** off_d) as clgrad_reduce_stats_pair writes them; the same bits as a copy to prev, clgrad_optim_step and
** clgrad_reduce_stats_pair(params, prev), in two launches and one pass over the parameters.  segs: one
** segment per tensor, in order, covering [0, n) exactly.  Not for LARS and LAMB (CLGRAD_E_ARG).  also (NULL:
** none): one more clgrad_reduce_stats, into out, in the same two launches. */
clgrad_status clgrad_optim_step_stats(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                      cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                      size_t gradstate_offset, cl_mem prev, const clgrad_segs *segs, cl_mem out,
                                      size_t off_x, size_t off_d, const clgrad_reduce_job *also);

/* ---- layer-wise adaptive rates: LARS and LAMB ----
**
** LARS (You, Gitman, Ginsburg 2017, Algorithm 1), per tensor l, step t,
** scheduled lr gamma_t, momentum m, weight decay beta, trust coefficient eta:
**     d = g (times the gradient-state COEF)
**     lambda = eta * ||w|| / (||d|| + beta * ||w||)         (trust ratio)
**     v = m * v + gamma_t * lambda * (d + beta * w);   w = w - v
** LAMB (You et al. 2020, Algorithm 2), Adam moments with bias correction:
**     m = b1 m + (1-b1) d;  v = b2 v + (1-b2) d^2
**     r = (m / (1-b1^t)) / (sqrt(v) / sqrt(1-b2^t) + eps)
**     u = r + lambda_wd * w
**     ratio = ||w|| / ||u||;   w = w - gamma_t * ratio * u
** Both: ratio = 1 when ||w|| = 0 or ||d|| (LARS) / ||u|| (LAMB) = 0; then
** ratio = min(ratio, trust_clip) (phi of LAMB: the identity clipped above;
** NaN propagates).  An excluded tensor (mask 1: biases by default) gets
** ratio 1 and no weight decay: LARS v = m v + gamma_t d, LAMB u = r.
**
** Norms come from clgrad_reduce_stats (cl/reduce.cl: a fixed-order tree,
** bit-identical on every device and work-group size); nothing is read back.
** Launches: prepare (d or u into the scratch slot, moments), the two
** statistics reductions, one work-item computing the per-tensor ratios, the
** update.  segs: one segment per tensor, disjoint, covering [0, n) exactly.
** work (a float buffer, from element work_off) holds
** CLGRAD_OPTIM_LAYERS_WORK(T) floats, T = clgrad_segs_count(segs):
**   [0, T)        the mask, written by the caller before the first step:
**                 1.0f = tensor excluded from the trust ratio and weight decay
**   [T, 2T)       the trust ratios of the last step (written; unchanged on a
**                 skipped step)
**   [2T, ...)     statistics scratch: 2 * CLGRAD_RS_SIZE * (T + 1) floats.
** The scalar derived in double and rounded once: 1-b1, 1-b2, 1-b1^t,
** sqrt(1-b2^t). */
#define CLGRAD_OPTIM_LAYERS_WORK(T) (2 * (size_t)(T) + 2 * (size_t)CLGRAD_RS_SIZE * ((size_t)(T) + 1))
clgrad_status clgrad_optim_step_layers(clgrad_ctx *ctx, const clgrad_optim_cfg *cfg, int64_t step_t, double lr,
                                       cl_mem params, cl_mem grads, cl_mem state, size_t n, cl_mem gradstate,
                                       size_t gradstate_offset, const clgrad_segs *segs, cl_mem work,
                                       size_t work_off);
/* 1 for lars and lamb. */
int clgrad_optim_is_layerwise(clgrad_optim_kind kind);
#endif
