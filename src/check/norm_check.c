/*
** norm_check.c: the "norm" self-check of src/ops/norm.c (cl/norm.cl): the
** test vectors of docs/semantics.md (LayerNorm, RMSNorm, BatchNorm1d with
** its running estimates and evaluation mode) and random rows against a
** float64 reference, forward and input gradient.
*/
#include "core/internal.h"
#include "check/check.h"
#include "clgrad/norm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    clgrad_ctx *ctx;
    clgrad_check_fn report;
    void *user;
} nc_;

enum { NC_B = 7, NC_N = 45 }; /* the random rows: NC_B x NC_N */

static void row_(nc_ *c, const char *what, const float *dev, const double *ref, size_t n, double atol, double rtol)
{
    double worst = 0;
    size_t bad = clgrad_compare(dev, ref, n, atol, rtol, &worst);
    c->report(c->user, "norm", what, bad == 0, worst, atol + rtol);
}

/* float64 layer (rms = 0) or RMS norm of each row of x (B, N), weight 1, bias 0 */
static void rows_ref_(int rms, size_t B, size_t N, const float *x, double eps, double *y)
{
    for (size_t r = 0; r < B; r++) {
        double m = 0, q = 0;
        if (!rms) {
            for (size_t j = 0; j < N; j++) m += x[r * N + j];
            m /= (double)N;
        }
        for (size_t j = 0; j < N; j++) q += (x[r * N + j] - m) * (x[r * N + j] - m);
        for (size_t j = 0; j < N; j++) y[r * N + j] = (x[r * N + j] - m) / sqrt(q / (double)N + eps);
    }
}

/* The docs/semantics.md vectors on x = [1,2,3,4]: LayerNorm, RMSNorm, BatchNorm1d (training, running stats, eval). */
static clgrad_status semantics_rows_(nc_ *c, clgrad_norm_args *a, cl_mem dx, cl_mem dy, cl_mem drun)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = c->ctx;
    const double u = 0x1.0p-24;
    float y[4], run[2];
    /* docs/semantics.md: x = [1, 2, 3, 4] */
    const float x4[4] = {1, 2, 3, 4};
    CLGRAD_TRY(clgrad_buf_write(ctx, dx, 0, 4, x4));
    a->kind = CLGRAD_NL_LAYER, a->B = 1, a->N = 4, a->eps = 1e-5f, a->has_bias = 1;
    CLGRAD_TRY(clgrad_norm_forward(ctx, a, dx, 0, dy, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dy, 0, 4, y));
    const double ln4[4] = {-1.3416354199689269, -0.447211806656309, 0.447211806656309, 1.3416354199689269};
    row_(c, "LayerNorm [1,2,3,4] (semantics.md)", y, ln4, 4, 0, 16 * u);
    a->kind = CLGRAD_NL_RMS, a->eps = 0x1p-23f, a->has_bias = 0;
    CLGRAD_TRY(clgrad_norm_forward(ctx, a, dx, 0, dy, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dy, 0, 4, y));
    const double rms4[4] = {0.3651483687681722, 0.7302967375363444, 1.0954451063045167, 1.4605934750726888};
    row_(c, "RMSNorm [1,2,3,4] (semantics.md)", y, rms4, 4, 0, 16 * u);
    /* batch norm: 4 samples of one feature; running estimates 0 and 1 before */
    a->kind = CLGRAD_NL_BATCH, a->B = 4, a->N = 1, a->eps = 1e-5f, a->has_bias = 1;
    run[0] = 0.0f, run[1] = 1.0f;
    CLGRAD_TRY(clgrad_buf_write(ctx, drun, 0, 2, run));
    CLGRAD_TRY(clgrad_norm_forward(ctx, a, dx, 0, dy, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dy, 0, 4, y));
    row_(c, "BatchNorm1d training [1,2,3,4] (semantics.md)", y, ln4, 4, 0, 16 * u);
    CLGRAD_TRY(clgrad_buf_read(ctx, drun, 0, 2, run));
    {
        const double rr[2] = {0.25, 1.0666666666666667};
        row_(c, "BatchNorm1d running_mean, running_var (semantics.md)", run, rr, 2, 0, 16 * u);
    }
    a->training = 0;
    CLGRAD_TRY(clgrad_norm_forward(ctx, a, dx, 0, dy, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dy, 0, 4, y));
    {
        double e[4];
        for (int i = 0; i < 4; i++) e[i] = (x4[i] - 0.25) / sqrt(1.0666666666666667 + 1e-5);
        row_(c, "BatchNorm1d evaluation: the running estimates", y, e, 4, 0, 32 * u);
    }
    a->training = 1;
fail:
    return st;
}

/* Random shifted rows (B x N) against a float64 reference: LayerNorm and RMSNorm, forward and input gradient. */
static clgrad_status random_rows_(nc_ *c, clgrad_norm_args *a, cl_mem dx, cl_mem dy, cl_mem dd, cl_mem dgr)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = c->ctx;
    const double u = 0x1.0p-24;
    enum { B = NC_B, N = NC_N };
    float x[B * N], y[B * N];
    double r[B * N];
    /* random rows (B x N), shifted: the forward, and the input gradient for a random dy */
    clgrad_testrng rng = {0x6e6f726d};
    float g[B * N];
    for (int i = 0; i < B * N; i++) x[i] = 3.0f + clgrad_testrng_uniform(&rng, -1, 1);
    for (int i = 0; i < B * N; i++) g[i] = clgrad_testrng_uniform(&rng, -1, 1);
    CLGRAD_TRY(clgrad_buf_write(ctx, dx, 0, B * N, x));
    for (int rms = 0; rms < 2; rms++) {
        a->kind = rms ? CLGRAD_NL_RMS : CLGRAD_NL_LAYER, a->B = B, a->N = N, a->has_bias = !rms;
        a->eps = (float)clgrad_normlayer_default_eps(a->kind);
        CLGRAD_TRY(clgrad_norm_forward(ctx, a, dx, 0, dy, 0));
        CLGRAD_TRY(clgrad_buf_read(ctx, dy, 0, B * N, y));
        rows_ref_(rms, B, N, x, a->eps, r);
        row_(c, rms ? "RMSNorm 7x45 forward vs float64" : "LayerNorm 7x45 forward vs float64", y, r, B * N, 64 * u,
             64 * u);
        /* dx = rstd (g - mean(g) - xhat mean(g xhat)) (RMS: without mean(g)); weight 1 */
        CLGRAD_TRY(clgrad_buf_write(ctx, dy, 0, B * N, g));
        CLGRAD_TRY(clgrad_norm_backward(ctx, a, dx, 0, dy, 0, dd, 0, 0, dgr, 0, N));
        CLGRAD_TRY(clgrad_buf_read(ctx, dd, 0, B * N, y));
        for (int b = 0; b < B; b++) {
            double m = 0, q = 0, sg = 0, sgx = 0;
            for (int j = 0; j < N && !rms; j++) m += x[b * N + j];
            m /= N;
            for (int j = 0; j < N; j++) q += (x[b * N + j] - m) * (x[b * N + j] - m);
            double rstd = 1 / sqrt(q / N + a->eps);
            for (int j = 0; j < N; j++) sg += g[b * N + j], sgx += g[b * N + j] * (x[b * N + j] - m) * rstd;
            for (int j = 0; j < N; j++)
                r[b * N + j] = rstd * (g[b * N + j] - (rms ? 0 : sg / N) - (x[b * N + j] - m) * rstd * sgx / N);
        }
        row_(c, rms ? "RMSNorm 7x45 input gradient vs float64" : "LayerNorm 7x45 input gradient vs float64", y, r,
             B * N, 128 * u, 64 * u);
    }
fail:
    return st;
}

clgrad_status clgrad_selfcheck_norm(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    nc_ c = {ctx, report, user};
    enum { B = NC_B, N = NC_N };
    cl_mem dx = NULL, dy = NULL, dp = NULL, dst = NULL, drun = NULL, dd = NULL, dgr = NULL;
    float p[2 * N];
    CLGRAD_TRY(clgrad_buf_new(ctx, B * N, "selfcheck x", &dx));
    CLGRAD_TRY(clgrad_buf_new(ctx, B * N, "selfcheck y", &dy));
    CLGRAD_TRY(clgrad_buf_new(ctx, B * N, "selfcheck dx", &dd));
    CLGRAD_TRY(clgrad_buf_new(ctx, 2 * N, "selfcheck p", &dp));
    CLGRAD_TRY(clgrad_buf_new(ctx, 2 * (B > N ? B : N), "selfcheck st", &dst));
    CLGRAD_TRY(clgrad_buf_new(ctx, 2, "selfcheck run", &drun));
    CLGRAD_TRY(clgrad_buf_new(ctx, 2 * N, "selfcheck norm gradients", &dgr));
    for (int i = 0; i < N; i++) p[i] = 1.0f, p[N + i] = 0.0f;
    CLGRAD_TRY(clgrad_buf_write(ctx, dp, 0, 2 * N, p));
    clgrad_norm_args a = {0};
    a.p = dp, a.woff = 0, a.boff = N, a.st = dst, a.training = 1, a.momentum = 0.1f, a.run = drun, a.rmoff = 0, a.rvoff = 1;

    CLGRAD_TRY(semantics_rows_(&c, &a, dx, dy, drun));
    CLGRAD_TRY(random_rows_(&c, &a, dx, dy, dd, dgr));
fail:
    clgrad_buf_free(&dx), clgrad_buf_free(&dy), clgrad_buf_free(&dd), clgrad_buf_free(&dp), clgrad_buf_free(&dst),
        clgrad_buf_free(&drun), clgrad_buf_free(&dgr);
    return st;
}
