/*
** clgrad/sharpness.h: the sharpness of the loss, lambda_max of its Hessian H
** with respect to all parameters, on one mini-batch, and the preconditioned
** sharpness lambda_max(P^-1/2 H P^-1/2) of an adaptive optimizer (Cohen et
** al. 2021, "Gradient descent on neural networks typically occurs at the
** edge of stability"; Cohen et al. 2022, "Adaptive gradient methods at the
** edge of stability").
**
** Method.  Power iteration on Hessian-vector products, each from central
** differences of two gradients of the mini-batch loss (the model's forward,
** the loss gradient, the model's backward; no L1 subgradient, weight decay,
** gradient noise or clipping):
**   Hv ~ (g(w + eps v) - g(w - eps v)) * (1 / (2 eps)),  ||v|| = 1,
**   eps = (float)(eps_rel * max(1, ||w||))
** (||w|| the 2-norm of all parameters; exact for a quadratic loss up to
** float32 rounding, O(eps^2) otherwise).  Iteration k: w_k = H v_k, the
** estimate lambda_k = v_k . w_k (the Rayleigh quotient), v_{k+1} = w_k *
** (1/||w_k||); it stops after `iters` products or when |lambda_k -
** lambda_{k-1}| <= tol |lambda_k| (k >= 2).  The result is the last
** lambda_k.  Power iteration finds the eigenvalue of largest magnitude: that
** is lambda_max whenever lambda_max >= |lambda_min| (the case in the
** edge-of-stability regime; a sharply negative curvature would be reported
** with its sign).  The start vector is v_1 = z / ||z||, z standard normal from
** Philox (seed, stream CLGRAD_NOISE_STREAM_SHARPNESS, step 0 for the plain and
** 1 for the preconditioned operator); each later call starts from the
** previous call's last v (warm start).
**
** Preconditioned: the operator D H D with D = P^-1/2 (a symmetric matrix with
** the eigenvalues of P^-1 H), one HVP per iteration at D v, start and warm
** start kept separately.  P comes from the optimizer state
** (clgrad_sharp_precond): RMSprop sqrt(v) + eps (centered: sqrt(v - ga^2) +
** eps); Adam(W) (1 - beta1^t) (sqrt(v / (1 - beta2^t)) + eps), amsgrad with
** max_exp_avg_sq.
**
** Same bits: the vector operations are the elementwise kernels of
** cl/sharpness.cl, the dot products and norms cl/reduce.cl's fixed-order
** trees over one segment of nparams elements; the scalars (1/||.||, eps,
** 1/(2 eps), the stopping test) are computed on the host in double from the
** device's floats and rounded to float once.  No atomics.
**
** The weights are restored bit for bit (a copy of the saved buffer) before a
** call returns; the model's gradients, activations and logits and the
** caller's dlogits buffer are overwritten (a training step computes them
** afterwards).
*/
#ifndef CLGRAD_SHARPNESS_H
#define CLGRAD_SHARPNESS_H
#include "clgrad/core.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_sharp clgrad_sharp;

typedef struct {
    int iters;       /* at most this many Hessian-vector products per estimate (>= 1) */
    double tol;      /* relative change that stops the iteration (0: only an exact repeat stops it early) */
    double eps_rel;  /* finite-difference step relative to max(1, ||w||) (> 0) */
    uint64_t seed;   /* the start vectors' Philox seed */
} clgrad_sharp_cfg;

typedef struct {
    double value;    /* the estimate (NaN when the weights or a product are not finite) */
    int iters;       /* products computed */
    double eps;      /* the finite-difference step used */
} clgrad_sharp_result;

/* Scratch for a model of nparams parameters (7 vectors of nparams floats). */
clgrad_status clgrad_sharp_new(clgrad_ctx *ctx, size_t nparams, const clgrad_sharp_cfg *cfg, clgrad_sharp **out);
void clgrad_sharp_free(clgrad_sharp **sh);
/* Device floats it allocates for nparams parameters (for memory planning). */
size_t clgrad_sharp_floats(size_t nparams);

/* The sharpness on the batch (x, y) of B rows (the model's input and the
** loss target as clgrad_model_forward and clgrad_loss_grad take them), K
** outputs; dlogits: scratch of B*K floats.  precond != 0: of D H D, after
** clgrad_sharp_precond. */
clgrad_status clgrad_sharp_estimate(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, clgrad_loss loss, cl_mem x,
                                    cl_mem y, size_t B, size_t K, cl_mem dlogits, int precond,
                                    clgrad_sharp_result *res);

/* D = P^-1/2 from the optimizer state after t >= 1 optimizer steps
** (cl/optim.cl's layout, slots of nparams floats); only rmsprop, adam, adamw. */
clgrad_status clgrad_sharp_precond(clgrad_ctx *ctx, clgrad_sharp *sh, const clgrad_optim_cfg *o, long t, cl_mem state);

/* Whether the optimizer has a diagonal preconditioner (rmsprop, adam, adamw). */
int clgrad_sharp_has_precond(const clgrad_optim_cfg *o);
/* The stability limits at learning rate lr: GD's 2/lr; the preconditioned
** one: adam(w) (2 + 2 beta1) / ((1 - beta1) lr), rmsprop (2 + 2 momentum) / lr. */
double clgrad_sharp_limit(double lr);
double clgrad_sharp_precond_limit(const clgrad_optim_cfg *o, double lr);

/* One Hessian-vector product out = H u (the same central difference; used
** by the tests): params are restored, eps as in the estimate. */
clgrad_status clgrad_sharp_hvp(clgrad_ctx *ctx, clgrad_sharp *sh, clgrad_model *m, clgrad_loss loss, cl_mem x,
                               cl_mem y, size_t B, size_t K, cl_mem dlogits, cl_mem u, cl_mem out);

#ifdef __cplusplus
}
#endif
#endif
