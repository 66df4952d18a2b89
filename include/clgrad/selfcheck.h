/*
** clgrad/selfcheck.h: run every kernel family once on the open device against
** a float64 host reference (`clgrad selfcheck`).  Each family reports rows
** through a callback: family, what was checked, pass, max error, tolerance.
*/
#ifndef CLGRAD_SELFCHECK_H
#define CLGRAD_SELFCHECK_H
#include "clgrad/core.h"

typedef clgrad_status (*clgrad_family_check)(clgrad_ctx *ctx, clgrad_check_fn report, void *user);

typedef struct clgrad_family {
    const char *name;
    clgrad_family_check run;
} clgrad_family;

/* The registered families, NULL-terminated. */
extern const clgrad_family clgrad_families[];

/* Run all families; returns the number of failed rows (a family that cannot
** run counts as failed and reports its error as the row's text). */
int clgrad_selfcheck(clgrad_ctx *ctx, clgrad_check_fn report, void *user);

/* Compare n device values with a float64 reference: |d - r| <= atol + rtol*|r|,
** NaN matching NaN and Inf matching the same Inf.  Returns the number of
** mismatches; *max_err gets the largest |d - r| / (atol + rtol*|r|) ratio
** scaled back to an absolute error. */
size_t clgrad_compare(const float *dev, const double *ref, size_t n, double atol, double rtol, double *max_err);

/* Deterministic host random numbers for checks (splitmix64). */
typedef struct { uint64_t s; } clgrad_testrng;
uint64_t clgrad_testrng_next(clgrad_testrng *r);
/* uniform in [lo, hi) */
float clgrad_testrng_uniform(clgrad_testrng *r, float lo, float hi);

/* The arithmetic the same-bits guarantee needs: no contraction, fma, division, sqrt (fingerprint.c). */
clgrad_status clgrad_selfcheck_numerics(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
clgrad_status clgrad_selfcheck_gemm(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
