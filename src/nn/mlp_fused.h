/*
** nn/mlp_fused.h (private): the plain MLP's training pass in two launches
** (cl/mlp.cl): gather, forward, loss gradient and the backward chain per
** slice of batch rows (mlp_rows), then every layer's weight and bias
** gradients (mlp_wgrad), the same bits as the layer-by-layer path.
** clgrad_step_grads (src/nn/step.c) takes it where it applies;
** CLGRAD_MLP_FUSED=0 keeps the layer-by-layer path.
*/
#ifndef CLGRAD_NN_MLP_FUSED_H
#define CLGRAD_NN_MLP_FUSED_H
#include "clgrad/model.h"
#include "clgrad/step.h"

/* The plain MLP's layout (model.c fills it; the arrays are the model's). */
typedef struct clgrad_mlp_view_ {
    int nlin, bias;
    float act_param;
    size_t max_batch;
    const size_t *width, *z_off, *h_off, *dz_off, *dh_off;
    const clgrad_act *acts;
    cl_mem params, grads, fwd, bwd, logits;
    cl_mem *tab;   /* the model's slot for the device layer table (the model releases it) */
    cl_mem *terms; /* its slot for the loss terms (max_batch * K floats) */
} clgrad_mlp_view_;

/* 1 and *v filled for a plain MLP (no norm, no residual), else 0. */
int clgrad_model_mlp_view_(clgrad_model *m, clgrad_mlp_view_ *v);
/* Record x at xoff as the input of the last forward pass. */
void clgrad_model_set_input_(clgrad_model *m, cl_mem x, size_t xoff);

/* What clgrad_mlp_fused_grads did (*done). */
enum { CLGRAD_MLP_FUSED_GRADS = 1, CLGRAD_MLP_FUSED_LOSS = 2 };

/* The gradients of the plan's model on rows idx[pos .. pos + B): with
** gather, the batch (xb, yb) first, as model_gather (without: xb and yb hold
** it already, clgrad_step_batch's, with its input noise), logits, dlogits, the model's
** forward and backward blocks and gradients, and the gradient state reset,
** as clgrad_step_batch, clgrad_model_forward, clgrad_loss_grad,
** clgrad_model_backward and clgrad_gradstate_reset leave them; *done =
** CLGRAD_MLP_FUSED_GRADS, with CLGRAD_MLP_FUSED_LOSS when the loss value
** (clgrad_loss_value's, at L.loss) is in it too (at most 8192 terms).
** *done = 0 (nothing enqueued) where the fused pass does not apply: not a
** plain MLP, MSE/BCE with more than one output, layers too wide for the
** device's local memory, a context without mlp.cl, more than 256 Ki
** parameters (unless CLGRAD_MLP_FUSED=1: a performance choice, the bits are
** the same), or CLGRAD_MLP_FUSED=0. */
clgrad_status clgrad_mlp_fused_grads(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t pos, size_t B, int gather,
                                     int *done);
#endif
