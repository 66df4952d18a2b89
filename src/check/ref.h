/*
** check/ref.h (private, not installed): the float64 host references and the
** float32 host replicas of the kernels (defined in the src/check files
** NAME_check.c), for the self-checks and the tests.  They live in the library
** (the self-checks use them) but are hidden: not exported from libclgrad.so,
** not declared in an installed header.  The tests link the internal static
** library (meson.build: clgrad_internal), which has them.
*/
#ifndef CLGRAD_CHECK_REF_H
#define CLGRAD_CHECK_REF_H
#include "clgrad/activation.h"
#include "clgrad/clip.h"
#include "clgrad/gemm.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"
#include "clgrad/reduce.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* ---- gemm (src/check/gemm_check.c) ---- */
/* Double-precision host reference with the same argument convention. */
void clgrad_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, double beta, const float *C_in, double *C_out, size_t ldc);

/* ---- activation (src/check/activation_check.c) ---- */
/* ---- float64 host references ---- */
double clgrad_activation_ref_forward(clgrad_act act, double param, double z);
/* f'(z) (the conventions above at kinks; NaN for NaN z, except identity: 1) */
double clgrad_activation_ref_derivative(clgrad_act act, double param, double z);
/* dh * f'(z); identity returns dh. */
double clgrad_activation_ref_backward(clgrad_act act, double param, double z, double dh);
/* Error bounds that the float32 kernels meet on any conforming OpenCL 1.2
** device (derived from the spec's ulp limits, see src/ops/activation.c): for the
** float input z, |forward - ref_forward| <= *tol_h and, for the float dh,
** |backward - ref_backward| <= *tol_dz.  Either pointer may be NULL. */
void clgrad_activation_ref_bounds(clgrad_act act, double param, double z, double dh, double *tol_h,
                                  double *tol_dz);
/* out (rows, cols) = X + b broadcast */
void clgrad_activation_ref_bias_add(const float *X, size_t rows, size_t cols, const float *b, double *out);
/* db_out (cols) = beta * db_in + column sums of dY (rows, cols); db_in unread when beta == 0 */
void clgrad_activation_ref_bias_grad(const float *dY, size_t rows, size_t cols, double beta, const float *db_in,
                                     double *db_out);
/* Float32 host replica of the device's fixed summation order (cl/activation.cl):
** bitwise equal to activation_bias_grad on a device with IEEE float32
** arithmetic, whatever the work-group size. */
void clgrad_activation_bias_grad_replica(const float *dY, size_t rows, size_t cols, float beta, const float *db_in,
                                         float *db_out);

/* ---- loss (src/check/loss_check.c) ---- */
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

/* ---- reduce (src/check/reduce_check.c) ---- */
/* Float64 host reference: out gets 4*(nseg+1) doubles in the layout above,
** segment s being x[off[s] .. off[s]+len[s]).  A norm that rounds to +Inf in
** float32 (beyond FLT_MAX) is given as +Inf, as the device must return it. */
void clgrad_reduce_stats_ref(const float *x, size_t nseg, const size_t *off, const size_t *len, double *out);

/* Float32 host replica of the device's fixed order (cl/reduce.cl), written
** as the literal trees (identity-padded, not the device's shortcuts): out
** gets 4*(nseg+1) floats in the layout above, bitwise equal to the device's
** on a device with correctly rounded float arithmetic, sqrt and ldexp. */
void clgrad_reduce_stats_replica(const float *x, size_t nseg, const size_t *off, const size_t *len, float *out);

/* ---- clip (src/check/clip_check.c) ---- */
/* ---- float64 host references ----
** g is the whole flat buffer of n floats; out (n doubles) gets a copy of g
** with the segments changed as the device would.  gs_out (CLGRAD_GS_SIZE
** doubles) gets the block (NORM, COEF, NONFINITE, SKIP, CLIPCOEF, 0...).
** do_clip = 0 is clgrad_clip_record_norm; apply = 0 leaves out = g and COEF
** pending, apply = 1 scales out and sets COEF = 1. */
void clgrad_clip_global_norm_ref(const float *g, size_t n, size_t nseg, const size_t *off, const size_t *len,
                                 clgrad_norm_type type, double max_norm, int do_clip, clgrad_nonfinite_policy policy,
                                 int apply, double *out, double *gs_out);
void clgrad_clip_value_ref(const float *g, size_t n, double v, double *out);
void clgrad_clip_tensor_norm_ref(const float *g, size_t n, size_t nseg, const size_t *off, const size_t *len,
                                 double c, double *out);
void clgrad_clip_agc_ref(const float *w, const float *g, size_t n, size_t nunit, const size_t *off,
                         const size_t *len, double clipping, double eps, double *out);
/* The same in float64 over a sequence of n norms (all steps unskipped):
** coef[i] the factor applied at step i, clipped[i] 1 at a spike (z >
** z_thresh after warm-up), z[i] (NaN in warm-up; may be NULL). */
void clgrad_clip_zscore_ref(const double *norms, size_t n, const clgrad_zclip_params *p, double *coef, int *clipped,
                            double *z);


/* ---- optim (src/check/optim_check.c) ---- */
/* The float64 host reference of clgrad_optim_step: same config, layout and
** step rule, on double arrays.  gradstate is NULL or a block of
** CLGRAD_GS_SIZE doubles (reads [CLGRAD_GS_COEF] and [CLGRAD_GS_SKIP]).
** The caller validates cfg. */
void clgrad_optim_ref_step(const clgrad_optim_cfg *cfg, int64_t step_t, double lr, double *params,
                           const double *grads, double *state, size_t n, const double *gradstate);
/* Float64 reference of clgrad_optim_step_layers (LARS, LAMB: the papers' rules,
** include/clgrad/optim.h) over nseg tensors (off, len), mask[s] != 0
** excluded; ratio_out (nseg, may be NULL) gets the trust ratios.  gradstate
** as for clgrad_optim_ref_step. */
void clgrad_optim_ref_step_layers(const clgrad_optim_cfg *cfg, int64_t step_t, double lr, double *params,
                                  const double *grads, double *state, size_t n, const double *gradstate, size_t nseg,
                                  const size_t *off, const size_t *len, const unsigned char *mask, double *ratio_out);

/* ---- model (src/check/model_check.c) ---- */
void clgrad_model_act_stats_replica(clgrad_act kind, size_t rows, size_t cols, const float *h, float *out);
/* ---- bench (src/check/bench_check.c) ----
** bench_peak (cl/bench.cl) on the host, the same float operations (fmaf is
** correctly rounded, as OpenCL's fma, so device and host agree bit for bit):
** out[0 .. n*W) for work-items 0 .. n-1. */
void clgrad_bench_peak_ref(int variant, size_t n, float m, float c, int iters, float *out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#endif
