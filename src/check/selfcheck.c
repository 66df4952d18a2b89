/*
** selfcheck.c: `clgrad selfcheck`: the table of kernel families, the shared
** comparison (the random helpers: check/testrng.h) and the GEMM family's check.
*/
#include "core/internal.h"
#include "check/check.h"

#include <math.h>
#include <stdlib.h>

const clgrad_family clgrad_families[] = {
    {"numerics", clgrad_selfcheck_numerics},
    {"gemm", clgrad_selfcheck_gemm},
    {"activation", clgrad_selfcheck_activation},
    {"loss", clgrad_selfcheck_loss},
    {"reduce", clgrad_selfcheck_reduce},
    {"clip", clgrad_selfcheck_clip},
    {"optim", clgrad_selfcheck_optim},
    {"init", clgrad_selfcheck_init},
    {"bench", clgrad_selfcheck_bench},
    {NULL, NULL},
};

typedef struct { clgrad_check_fn fn; void *user; int failed; } counter_;

static void count_(void *user, const char *family, const char *what, int pass, double max_err, double tol)
{
    counter_ *c = user;
    if (!pass) c->failed++;
    c->fn(c->user, family, what, pass, max_err, tol);
}

int clgrad_selfcheck(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    counter_ c = {report, user, 0};
    for (const clgrad_family *f = clgrad_families; f->name; f++) {
        clgrad_status st = f->run(ctx, count_, &c);
        if (st != CLGRAD_OK) count_(&c, f->name, clgrad_errmsg(ctx), 0, NAN, NAN);
    }
    return c.failed;
}

size_t clgrad_compare(const float *dev, const double *ref, size_t n, double atol, double rtol, double *max_err)
{
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = dev[i], r = ref[i];
        if (isnan(r) || isnan(d)) {
            if (!(isnan(r) && isnan(d))) bad++, worst = INFINITY;
            continue;
        }
        if (isinf(r) || isinf(d)) {
            if (d != r) bad++, worst = INFINITY;
            continue;
        }
        double err = fabs(d - r);
        if (err > worst) worst = err;
        if (err > atol + rtol * fabs(r)) bad++;
    }
    if (max_err) *max_err = worst;
    return bad;
}

double clgrad_worst_ratio(const float *dev, const double *ref, const double *tol, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = dev[i], r = ref[i], q;
        if (isnan(r) || isnan(d)) q = isnan(r) && isnan(d) ? 0.0 : INFINITY;
        else if (isinf(r) || isinf(d)) q = d == r ? 0.0 : INFINITY;
        else q = fabs(d - r) == 0.0 ? 0.0 : tol[i] > 0 ? fabs(d - r) / tol[i] : INFINITY;
        if (q > worst) worst = q;
    }
    return worst;
}

/* One GEMM case on the device vs the float64 reference. */
static clgrad_status gemm_case_(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float beta,
                                clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    size_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    size_t na = M * K, nb = K * N, nc = M * N;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    double *R = malloc(nc * sizeof *R);
    cl_mem dA = NULL, dB = NULL, dC = NULL;
    if (!A || !B || !C || !R) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    clgrad_testrng rng = {M * 1000003u + N * 1009u + K};
    for (size_t i = 0; i < na; i++) A[i] = clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nb; i++) B[i] = clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nc; i++) C[i] = clgrad_testrng_uniform(&rng, -1, 1);
    clgrad_gemm_ref(ta, tb, M, N, K, 0.75, A, lda, B, ldb, beta, C, R, ldc);
    CLGRAD_TRY(clgrad_buf_new(ctx, na, "selfcheck A", &dA));
    CLGRAD_TRY(clgrad_buf_new(ctx, nb, "selfcheck B", &dB));
    CLGRAD_TRY(clgrad_buf_new(ctx, nc, "selfcheck C", &dC));
    CLGRAD_TRY(clgrad_buf_write(ctx, dA, 0, na, A));
    CLGRAD_TRY(clgrad_buf_write(ctx, dB, 0, nb, B));
    CLGRAD_TRY(clgrad_buf_write(ctx, dC, 0, nc, C));
    CLGRAD_TRY(clgrad_gemm(ctx, ta, tb, M, N, K, 0.75f, dA, 0, lda, dB, 0, ldb, beta, dC, 0, ldc));
    CLGRAD_TRY(clgrad_buf_read(ctx, dC, 0, nc, C));
    /* float32 products summed over K terms of size <= 1: error grows like sqrt(K) ulps */
    double tol = 4.0 * sqrt((double)K + 1.0) * 0x1.0p-24 * 2.0, maxerr;
    size_t bad = clgrad_compare(C, R, nc, tol, tol, &maxerr);
    char what[96];
    snprintf(what, sizeof what, "%s %c%c %zux%zux%zu beta=%g", clgrad_gemm_backend_name(ctx->gemm_backend),
             ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, (double)beta);
    report(user, "gemm", what, bad == 0, maxerr, tol);
fail:
    clgrad_buf_free(&dA);
    clgrad_buf_free(&dB);
    clgrad_buf_free(&dC);
    free(A), free(B), free(C), free(R);
    return st;
}

clgrad_status clgrad_selfcheck_gemm(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_gemm_backend saved = ctx->gemm_backend;
    for (int b = 0; b < 2; b++) {
        ctx->gemm_backend = b ? CLGRAD_GEMM_CLBLAST : CLGRAD_GEMM_OWN;
        for (int t = 0; t < 4; t++) CLGRAD_TRY(gemm_case_(ctx, t >> 1, t & 1, 65, 63, 67, t == 0 ? 0.0f : 0.5f, report, user));
    }
fail:
    ctx->gemm_backend = saved;
    return st;
}
