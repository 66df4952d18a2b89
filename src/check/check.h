/*
** check/check.h (private, not installed): the self-check internals: the
** per-family checks that clgrad_families (src/check/selfcheck.c) lists, the
** comparison against a float64 reference, and (included) the references and
** the test random numbers.  Hidden: not exported from libclgrad.so.
*/
#ifndef CLGRAD_CHECK_CHECK_H
#define CLGRAD_CHECK_CHECK_H
#include "clgrad/selfcheck.h"
#include "check/ref.h"
#include "check/testrng.h"

#include <stddef.h>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Compare n device values with a float64 reference: |d - r| <= atol + rtol*|r|,
** NaN matching NaN and Inf matching the same Inf.  Returns the number of
** mismatches; *max_err gets the largest |d - r| / (atol + rtol*|r|) ratio
** scaled back to an absolute error. */
size_t clgrad_compare(const float *dev, const double *ref, size_t n, double atol, double rtol, double *max_err);

/* The arithmetic the same-bits guarantee needs: no contraction, fma, division, sqrt (fingerprint.c). */
clgrad_status clgrad_selfcheck_numerics(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_gemm(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_activation(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_loss(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_reduce(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_clip(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_optim(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_init(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_bench(clgrad_ctx *ctx, clgrad_check_fn report, void *user);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#endif
