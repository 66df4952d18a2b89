/*
** clgrad/norm.h: normalisation layers (cl/norm.cl), PyTorch's semantics and
** state_dict names:
**   layernorm  nn.LayerNorm(N, eps): y = (x - mean_row) / sqrt(var_row + eps) * w + b
**              (var the biased variance over the row's N features)
**   rmsnorm    nn.RMSNorm(N, eps): y = x / sqrt(mean_row(x^2) + eps) * w (no bias)
**   batchnorm  nn.BatchNorm1d(N, eps, momentum = 0.1): per feature over the
**              batch; training: batch mean and biased variance, and the
**              running estimates running_mean = (1 - m) running_mean + m mean,
**              running_var = (1 - m) running_var + m q / (B - 1) (unbiased);
**              evaluation: the running estimates.  Training needs B >= 2
**              (PyTorch raises "Expected more than 1 value per channel").
** x and y are (B, N) row-major; w (weight) and b (bias) N floats in a
** parameter buffer.  A training forward keeps 2 floats per row (layer, RMS)
** or per feature (batch) in st: the mean (0 for RMS) and rstd =
** 1 / sqrt(var + eps); the backward reads them (and x) back.  Every
** reduction runs in index order in one work-item: the result depends on the
** shape alone, never on the work-group size.
*/
#ifndef CLGRAD_NORM_H
#define CLGRAD_NORM_H
#include "clgrad/core.h"

typedef enum {
    CLGRAD_NL_NONE = 0,
    CLGRAD_NL_LAYER = 1,
    CLGRAD_NL_RMS = 2,
    CLGRAD_NL_BATCH = 3
} clgrad_normlayer;

/* "none", "layernorm", "rmsnorm", "batchnorm" -> kind; -1 when unknown.  And back. */
int clgrad_normlayer_parse(const char *name);
const char *clgrad_normlayer_name(clgrad_normlayer kind);
/* PyTorch's default eps: 1e-5 (LayerNorm, BatchNorm1d); RMSNorm's eps=None,
** torch.finfo(float32).eps = 2^-23. */
double clgrad_normlayer_default_eps(clgrad_normlayer kind);
/* Floats of st one forward needs: 2 B (layer, RMS) or 2 N (batch). */
size_t clgrad_norm_stats_floats(clgrad_normlayer kind, size_t B, size_t N);

typedef struct clgrad_norm_args {
    clgrad_normlayer kind;
    size_t B, N;
    float eps;
    cl_mem p;          /* parameters: w at woff, b at boff (has_bias) */
    size_t woff, boff;
    int has_bias;      /* layernorm, batchnorm: 1 (elementwise_affine with bias); rmsnorm: 0 */
    cl_mem st;         /* statistics of the training forward */
    size_t soff;
    /* batch norm */
    int training;      /* 1: batch statistics (and running estimates updated); 0: running estimates */
    int freeze;        /* training with the running estimates left alone (extra passes: the sharpness) */
    float momentum;    /* 0.1 */
    cl_mem run;        /* running_mean at rmoff, running_var at rvoff (N each) */
    size_t rmoff, rvoff;
    cl_mem halt;       /* NULL, or a run's halt flag at halt_off (CLGRAD_REC_HALT): once it is nonzero, training
                       ** passes leave the running estimates alone (clgrad_model_set_halt) */
    size_t halt_off;
} clgrad_norm_args;

/* y = norm(x).  y must not overlap x. */
clgrad_status clgrad_norm_forward(clgrad_ctx *ctx, const clgrad_norm_args *a, cl_mem x, size_t xoff, cl_mem y,
                                  size_t yoff);
/* From dy (the gradient at y) after a training forward on the same x: dx =
** dL/dx (acc: dx += dL/dx), and the gradients of w (at gwoff) and b (at gboff)
** in g (overwritten).  dx must not overlap dy or x. */
clgrad_status clgrad_norm_backward(clgrad_ctx *ctx, const clgrad_norm_args *a, cl_mem x, size_t xoff, cl_mem dy,
                                   size_t dyoff, cl_mem dx, size_t dxoff, int acc, cl_mem g, size_t gwoff,
                                   size_t gboff);
/* y (n) = a (n) + b (n) (the residual add); y may be a or b. */
clgrad_status clgrad_norm_add(clgrad_ctx *ctx, size_t n, cl_mem a, size_t aoff, cl_mem b, size_t boff, cl_mem y,
                              size_t yoff);
#endif
