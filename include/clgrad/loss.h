/*
** clgrad/loss.h: losses with PyTorch's default mean reduction (MSE, binary
** cross-entropy with logits, softmax cross-entropy with class-index targets):
** the gradient, the value and the accuracy computed on the device into
** buffers (no host round trip), and their float64 host references with the
** kernels' error bounds.  Formulas and conventions: cl/loss.cl.
**
** Shapes: pred is (rows, cols).  MSE and BCE: target (rows, cols), the mean
** is over all rows * cols elements.  CE: cols = K classes, target (rows)
** holds class ids as floats, the mean is over rows.  Counts must stay below
** 2^24 for the float count to be exact.
*/
#ifndef CLGRAD_LOSS_H
#define CLGRAD_LOSS_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values are compiled into cl/loss.cl (LOSS_*): keep them in step. */
typedef enum {
    CLGRAD_LOSS_MSE = 0, /* "mse" */
    CLGRAD_LOSS_BCE = 1, /* "bce" (with logits) */
    CLGRAD_LOSS_CE = 2,  /* "ce" (softmax cross-entropy) */
    CLGRAD_LOSS_COUNT = 3
} clgrad_loss;

/* "mse" etc.; "?" for a value out of range. */
const char *clgrad_loss_name(clgrad_loss loss);
/* Name -> clgrad_loss; -1 when unknown. */
int clgrad_loss_parse(const char *name);
/* Number of target values: rows for CE, rows * cols otherwise. */
size_t clgrad_loss_target_count(clgrad_loss loss, size_t rows, size_t cols);

/* grad (rows, cols) = dL/dpred, already divided by the count (one launch).
** grad may be pred (same buffer and offset). */
clgrad_status clgrad_loss_grad(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                               size_t toff, cl_mem grad, size_t goff, size_t rows, size_t cols);
/* out[ooff] = L (one launch, one work-group; deterministic). */
clgrad_status clgrad_loss_value(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                                size_t toff, size_t rows, size_t cols, cl_mem out, size_t ooff);
/* out[ooff] = number of correct predictions (a whole number as a float):
** CE argmax == target (first max wins ties), BCE (z > 0) == (y > 0.5) per
** element; NaN logits count as wrong.  CLGRAD_E_ARG for MSE. */
clgrad_status clgrad_loss_accuracy(clgrad_ctx *ctx, clgrad_loss loss, cl_mem pred, size_t poff, cl_mem target,
                                   size_t toff, size_t rows, size_t cols, cl_mem out, size_t ooff);

#ifdef __cplusplus
}
#endif
#endif
