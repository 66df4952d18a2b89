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

/* ---- float64 host references (same shapes; targets as doubles) ---- */
double clgrad_loss_ref_value(clgrad_loss loss, const double *pred, const double *target, size_t rows, size_t cols);
/* Float32 host replica of loss_value's fixed summation order (cl/loss.cl): the
** mean of the n float terms, bitwise equal to the device's given the same
** terms (for MSE the terms (p - y)^2 are themselves exact to replicate). */
float clgrad_loss_sum_replica(const float *terms, size_t n);
void clgrad_loss_ref_grad(clgrad_loss loss, const double *pred, const double *target, size_t rows, size_t cols,
                          double *grad);
/* The count of correct predictions; NaN for MSE. */
double clgrad_loss_ref_accuracy(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                size_t cols);
/* Bounds on |device - reference| that the float32 kernels meet on any
** conforming OpenCL 1.2 device with work-groups of at most 256, for inputs
** that are floats (derivation in src/ops/loss.c): for the value, and per element
** of the gradient (tol (rows, cols)). */
double clgrad_loss_ref_value_bound(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                   size_t cols);
void clgrad_loss_ref_grad_bound(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                size_t cols, double *tol);

clgrad_status clgrad_selfcheck_loss(clgrad_ctx *ctx, clgrad_check_fn report, void *user);

#ifdef __cplusplus
}
#endif
#endif
