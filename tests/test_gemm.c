/*
** test_gemm.c: GEMM, all four op combinations, both backends (own kernel,
** tiled, simple, vec, and the CPU micro-kernel with B packed or read in
** place; CLBlast), against the float64 host reference on
** fresh random data, at sizes 1, 7, 63, 64, 65, 257, non-square shapes, K = 0,
** offsets and padded leading dimensions (views into a flat block), and the
** beta == 0 rule (C is not read: NaN in C must not leak); each also with a
** bias epilogue (clgrad_gemm_bias).  The activation epilogues of
** clgrad_gemm_fused must give the same bits as the separate kernels.
**
** Tolerance, per element: the standard error bound of a float32 dot product
** of K terms followed by the alpha and beta roundings,
**     |C - C_ref| <= gamma(K + 3) * (|alpha| * sum_k |a_k b_k| + |beta * c|),
** gamma(n) = n u / (1 - n u), u = 2^-24 (Higham, Accuracy and Stability,
** section 3.1).  It holds for any summation order, so it is a real bound,
** not a tuned constant, and it still fails on any indexing error.
**
** Bit for bit (test `bitwise_host`): every own-kernel variant, op
** combination and epilogue against a float32 host model of cl/matmul.cl's
** per-output formula (host_gemm_ below), the activations from the host build
** of the same cl/act_fn.cl the kernels use.
*/
#include "fixture.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host scalar build of the kernels' activation functions (act_f1_, act_d1_). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "../cl/math.cl"
#include "../cl/act_fn.cl"
#pragma GCC diagnostic pop

static const char *variants_[] = {"tiled", "simple", "vec", "packed", "direct"};
#define NVARIANTS 5

static int run_case_(clgrad_gemm_backend be, int variant, int ta, int tb, size_t M, size_t N, size_t K,
                     size_t pad, size_t off, float alpha, float beta, int nan_in_c, int with_bias)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t arows = ta ? K : M, brows = tb ? N : K;
    size_t na = off + arows * lda + 1, nb = off + brows * ldb + 1, nc = off + M * ldc + 1;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    float *Cd = malloc(nc * sizeof *Cd);
    double *R = malloc(nc * sizeof *R), *tol = malloc(nc * sizeof *tol);
    ck_assert(A && B && C && Cd && R && tol);
    clgrad_testrng rng = fixture_rng(M * 7919u + N * 104729u + K * 31u + (size_t)ta * 2 + (size_t)tb);
    for (size_t i = 0; i < na; i++) A[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < nb; i++) B[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < nc; i++) C[i] = nan_in_c ? NAN : clgrad_testrng_uniform(&rng, -2, 2);
    /* bias (N) at offset off + 2 in its own buffer */
    size_t nbias = off + 2 + N;
    float *bias = malloc(nbias * sizeof *bias);
    ck_assert(bias);
    for (size_t i = 0; i < nbias; i++) bias[i] = clgrad_testrng_uniform(&rng, -2, 2);

    /* reference: untouched padding stays as it was */
    for (size_t i = 0; i < nc; i++) R[i] = C[i], tol[i] = 0;
    clgrad_gemm_ref(ta, tb, M, N, K, alpha, A + off, lda, B + off, ldb, beta, C + off, R + off, ldc);
    if (with_bias)
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < N; n++) R[off + m * ldc + n] += bias[off + 2 + n];
    /* one more rounding for the bias addition: gamma(K + 4) */
    double u = 0x1.0p-24, g = (K + 4) * u / (1 - (K + 4) * u);
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                double a = ta ? A[off + k * lda + m] : A[off + m * lda + k];
                double b = tb ? B[off + n * ldb + k] : B[off + k * ldb + n];
                s += fabs(a * b);
            }
            double c = beta == 0 ? 0 : fabs((double)beta * C[off + m * ldc + n]);
            double bb = with_bias ? fabs((double)bias[off + 2 + n]) : 0.0;
            tol[off + m * ldc + n] = g * (fabs(alpha) * s + c + bb) + 1e-30;
        }

    cl_mem dA = fixture_upload(A, na, "A"), dB = fixture_upload(B, nb, "B"), dC = fixture_upload(C, nc, "C");
    clgrad_set_gemm_backend(ctx, be);
    clgrad_gemm_set_variant(ctx, variants_[variant]);
    cl_mem dbias = fixture_upload(bias, nbias, "bias");
    if (with_bias)
        FX_OK(clgrad_gemm_bias(ctx, ta, tb, M, N, K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc, dbias, off + 2));
    else
        FX_OK(clgrad_gemm(ctx, ta, tb, M, N, K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc));
    fixture_download(dC, Cd, nc);
    char what[128];
    snprintf(what, sizeof what, "%s/%s %c%c M=%zu N=%zu K=%zu pad=%zu off=%zu beta=%g%s%s", clgrad_gemm_backend_name(be),
             be == CLGRAD_GEMM_OWN ? variants_[variant] : "", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N,
             K, pad, off, (double)beta, nan_in_c ? " NaN-in-C" : "", with_bias ? " +bias" : "");
    size_t bad = fixture_check_tol(what, Cd, R, tol, nc);
    clgrad_buf_free(&dA), clgrad_buf_free(&dB), clgrad_buf_free(&dC), clgrad_buf_free(&dbias);
    clgrad_gemm_set_variant(ctx, "auto");
    free(A), free(B), free(C), free(Cd), free(R), free(tol), free(bias);
    return bad == 0;
}

/* Every backend/variant x op combination for one shape, without and with a bias. */
static int all_(size_t M, size_t N, size_t K, size_t pad, size_t off, float beta, int nan_in_c)
{
    int ok = 1;
    for (int v = 0; v <= NVARIANTS; v++)
        for (int t = 0; t < 4; t++)
            for (int bias = 0; bias < 2; bias++)
                ok &= run_case_(v == NVARIANTS ? CLGRAD_GEMM_CLBLAST : CLGRAD_GEMM_OWN, v == NVARIANTS ? 0 : v, t >> 1,
                                t & 1, M, N, K, pad, off, 0.5f + (float)t, beta, nan_in_c, bias);
    return ok;
}

START_TEST(square)
{
    size_t n = fixture_sizes[_i];
    ck_assert_msg(all_(n, n, n, 0, 0, 0.0f, 0), "square n=%zu beta=0", n);
    ck_assert_msg(all_(n, n, n, 0, 0, -1.5f, 0), "square n=%zu beta=-1.5", n);
}
END_TEST

START_TEST(nonsquare)
{
    static const size_t shapes[][3] = {{1, 257, 7}, {65, 7, 63}, {257, 64, 1}, {7, 65, 257}, {63, 1, 65}, {2, 3, 300}};
    const size_t *s = shapes[_i];
    ck_assert_msg(all_(s[0], s[1], s[2], 0, 0, 0.25f, 0), "shape %zux%zux%zu", s[0], s[1], s[2]);
}
END_TEST

START_TEST(views)
{
    /* offsets into a larger block and padded leading dimensions */
    ck_assert(all_(33, 17, 29, 3, 11, 1.0f, 0));
    ck_assert(all_(64, 65, 63, 1, 64, 0.0f, 0));
    /* large enough (M K > 64 Ki) that the CPU kernel packs a transposed A from a view */
    ck_assert(all_(300, 20, 250, 3, 11, 1.0f, 0));
}
END_TEST

START_TEST(beta_zero_ignores_c)
{
    ck_assert(all_(7, 65, 63, 0, 0, 0.0f, 1));
}
END_TEST

START_TEST(k_zero)
{
    /* K = 0: C = beta * C */
    ck_assert(all_(7, 9, 0, 0, 0, 2.0f, 0));
}
END_TEST

/* The fused epilogues (clgrad_gemm_fused): with variant v, C and E of one
** fused call must have the same bits as clgrad_gemm followed by the separate
** bias and activation kernels (both apply the same act_fn.cl functions to
** the same floats).  Padded leading dimensions for C, E and Z; NaN and large
** values in Z for the derivative. */
static int fused_case_(clgrad_gemm_backend be, int variant, int kind, clgrad_act act, float p, int ta, int tb, size_t M, size_t N, size_t K)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t pad = 3, lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + 1, lde = N + 2, ldz = N + 5;
    size_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc, ne = M * lde, nz = M * ldz;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *bias = malloc(N * sizeof *bias);
    float *Z = malloc(nz * sizeof *Z), *C1 = malloc(nc * sizeof *C1), *C2 = malloc(nc * sizeof *C2);
    float *E1 = malloc(ne * sizeof *E1), *E2 = malloc(ne * sizeof *E2), *init = malloc((nc + ne) * sizeof *init);
    ck_assert(A && B && bias && Z && C1 && C2 && E1 && E2 && init);
    clgrad_testrng rng = fixture_rng(M * 31u + N * 7u + K + (size_t)kind * 1000u + (size_t)act * 100000u);
    for (size_t i = 0; i < na; i++) A[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < nb; i++) B[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < N; i++) bias[i] = clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nz; i++) Z[i] = clgrad_testrng_uniform(&rng, -6, 6);
    Z[0] = NAN, Z[nz / 2] = 80.0f, Z[nz - 1] = -1e30f;
    for (size_t i = 0; i < nc + ne; i++) init[i] = clgrad_testrng_uniform(&rng, -1, 1);
    cl_mem dA = fixture_upload(A, na, "A"), dB = fixture_upload(B, nb, "B"), db = fixture_upload(bias, N, "bias");
    cl_mem dZ = fixture_upload(Z, nz, "Z"), dC1 = fixture_upload(init, nc, "C1"), dC2 = fixture_upload(init, nc, "C2");
    cl_mem dE1 = fixture_upload(init + nc, ne, "E1"), dE2 = fixture_upload(init + nc, ne, "E2");
    clgrad_set_gemm_backend(ctx, be);
    clgrad_gemm_set_variant(ctx, variants_[variant]);
    clgrad_gemm_epilogue e = {0};
    e.bias = kind == CLGRAD_EPI_ACT ? db : NULL; /* a dense layer's forward has the bias, its backward none */
    e.kind = kind, e.act = act, e.act_param = p;
    e.e = dE1, e.lde = lde, e.z = dZ, e.ldz = ldz;
    FX_OK(clgrad_gemm_fused(ctx, ta, tb, M, N, K, 1.0f, dA, 0, lda, dB, 0, ldb, 0.0f, dC1, 0, ldc, &e));
    /* the same with separate launches, row by row (padded leading dimensions) */
    FX_OK(clgrad_gemm(ctx, ta, tb, M, N, K, 1.0f, dA, 0, lda, dB, 0, ldb, 0.0f, dC2, 0, ldc));
    for (size_t m = 0; m < M; m++) {
        if (kind == CLGRAD_EPI_ACT) {
            FX_OK(clgrad_activation_bias_add(ctx, dC2, m * ldc, 1, N, db, 0));
            FX_OK(clgrad_activation_forward(ctx, act, p, dC2, m * ldc, dE2, m * lde, N));
        } else {
            FX_OK(clgrad_activation_backward(ctx, act, p, dZ, m * ldz, dC2, m * ldc, dE2, m * lde, N));
        }
    }
    fixture_download(dC1, C1, nc), fixture_download(dC2, C2, nc);
    fixture_download(dE1, E1, ne), fixture_download(dE2, E2, ne);
    size_t bad = 0;
    for (size_t i = 0; i < nc; i++) bad += memcmp(&C1[i], &C2[i], sizeof(float)) != 0;
    for (size_t i = 0; i < ne; i++)
        if (memcmp(&E1[i], &E2[i], sizeof(float)) != 0) {
            if (bad++ < 3)
                fprintf(stderr, "  fused %s/%s %s act %d %c%c M=%zu N=%zu K=%zu: E[%zu] fused %.9g separate %.9g\n",
                        clgrad_gemm_backend_name(be), variants_[variant], kind == CLGRAD_EPI_ACT ? "act" : "dact", (int)act, ta ? 'T' : 'N',
                        tb ? 'T' : 'N', M, N, K, i, (double)E1[i], (double)E2[i]);
        }
    cl_mem all[] = {dA, dB, db, dZ, dC1, dC2, dE1, dE2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgrad_buf_free(&all[i]);
    clgrad_gemm_set_variant(ctx, "auto");
    free(A), free(B), free(bias), free(Z), free(C1), free(C2), free(E1), free(E2), free(init);
    return bad == 0;
}

START_TEST(fused_epilogues)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 63, 5}, {65, 17, 64}, {13, 257, 9}};
    static const clgrad_act acts[] = {CLGRAD_ACT_TANH, CLGRAD_ACT_LEAKY_RELU, CLGRAD_ACT_GELU, CLGRAD_ACT_IDENTITY};
    const size_t *s = shapes[_i];
    int ok = 1;
    for (int v = 0; v <= NVARIANTS; v++)
        for (int kind = CLGRAD_EPI_ACT; kind <= CLGRAD_EPI_DACT; kind++)
            for (int a = 0; a < 4; a++)
                ok &= fused_case_(v == NVARIANTS ? CLGRAD_GEMM_CLBLAST : CLGRAD_GEMM_OWN, v == NVARIANTS ? 0 : v, kind, acts[a], 0.1f, kind == CLGRAD_EPI_DACT && a == 1, kind == CLGRAD_EPI_ACT,
                                  s[0], s[1], s[2]);
    ck_assert_msg(ok, "fused epilogue differs from separate launches, shape %zux%zux%zu", s[0], s[1], s[2]);
}
END_TEST

/* ---- the float32 host model, bit for bit ----
** Every variant of cl/matmul.cl computes each output (m, n) as one fma chain
** in k order from 0.0f, acc = fma(op(A)[m,k], op(B)[k,n], acc) for k = 0 ..
** K-1, then r = alpha * acc, then r = r + beta * C[m,n] unless beta == 0 (C
** not read), then (clgrad_gemm_fused / clgrad_gemm_bias) r = r + bias[n];
** C = r; epilogue ACT: E = f(r); DACT: E = r * f'(Z) (f' NaN where Z is NaN,
** identity: E = r), f from act_fn.cl: the order of matmul_cpu_store_ and of
** the separate activation_bias_add / activation_forward / _backward kernels.
** fmaf is correctly rounded, and the project builds with -ffp-contract=off. */
static void host_gemm_(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                       const float *B, size_t ldb, float beta, float *C, size_t ldc, const float *bias, int kind,
                       int act, float p, float *E, size_t lde, const float *Z, size_t ldz)
{
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + m] : A[m * lda + k];
                float b = tb ? B[n * ldb + k] : B[k * ldb + n];
                acc = fmaf(a, b, acc);
            }
            float r = alpha * acc;
            if (beta != 0.0f) r = r + beta * C[m * ldc + n];
            if (bias) r = r + bias[n];
            C[m * ldc + n] = r;
            if (kind == CLGRAD_EPI_ACT)
                E[m * lde + n] = act_f1_(act, p, r);
            else if (kind == CLGRAD_EPI_DACT)
                E[m * lde + n] = act == CLGRAD_ACT_IDENTITY ? r : r * act_d1_(act, p, Z[m * ldz + n]);
        }
}

/* Awkward operands: mixed magnitudes (2^-20 .. 2^20) so every fma rounds, and
** a few zeros, denormals and exact cancellations. */
static float hb_value_(clgrad_testrng *r)
{
    float u = clgrad_testrng_uniform(r, 0, 1), m = clgrad_testrng_uniform(r, -2, 2);
    if (u < 0.03f) return m < 0 ? -0.0f : 0.0f;
    if (u < 0.05f) return m * 0x1.0p-135f;
    return m * ldexpf(1.0f, (int)clgrad_testrng_uniform(r, -20, 20));
}

/* One own-kernel call (variant, ops, epilogue mode 0 plain, 1 bias, 2 fused
** bias + f, 3 fused f') against the host model, C and E bit for bit. */
/* n floats into a new buffer of ctx (hb_case_ runs on other contexts too). */
static cl_mem up_(clgrad_ctx *ctx, const float *host, size_t n, const char *what)
{
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx, n, what, &m));
    FX_OK(clgrad_buf_write(ctx, m, 0, n, host));
    return m;
}

static size_t hb_case_(clgrad_ctx *ctx, const char *variant, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                       float beta, int mode, clgrad_act act, float p)
{
    size_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3, lde = N + 1, ldz = N + 2, off = 5;
    size_t na = off + (ta ? K : M) * lda, nb = off + (tb ? N : K) * ldb, nc = off + M * ldc, ne = M * lde, nz = M * ldz;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    float *Cd = malloc(nc * sizeof *Cd), *bias = malloc((N + 1) * sizeof *bias), *Z = malloc(nz * sizeof *Z);
    float *E = malloc(ne * sizeof *E), *Ed = malloc(ne * sizeof *Ed);
    ck_assert(A && B && C && Cd && bias && Z && E && Ed);
    clgrad_testrng rng = fixture_rng(M * 131u + N * 17u + K * 7u + (size_t)variant[0] * 3u + (size_t)mode * 1000u +
                                     (size_t)(ta * 2 + tb) * 10000u);
    for (size_t i = 0; i < na; i++) A[i] = hb_value_(&rng);
    for (size_t i = 0; i < nb; i++) B[i] = hb_value_(&rng);
    for (size_t i = 0; i < nc; i++) C[i] = hb_value_(&rng);
    for (size_t i = 0; i < N + 1; i++) bias[i] = hb_value_(&rng);
    for (size_t i = 0; i < nz; i++) Z[i] = clgrad_testrng_uniform(&rng, -12, 12);
    for (size_t i = 0; i < ne; i++) E[i] = clgrad_testrng_uniform(&rng, -1, 1);
    Z[0] = NAN, Z[nz - 1] = -1e30f, Z[nz / 2] = 90.0f;
    int kind = mode == 2 ? CLGRAD_EPI_ACT : mode == 3 ? CLGRAD_EPI_DACT : CLGRAD_EPI_NONE;
    cl_mem dA = up_(ctx, A, na, "A"), dB = up_(ctx, B, nb, "B"), dC = up_(ctx, C, nc, "C");
    cl_mem db = up_(ctx, bias, N + 1, "bias"), dZ = up_(ctx, Z, nz, "Z"), dE = up_(ctx, E, ne, "E");
    clgrad_set_gemm_backend(ctx, CLGRAD_GEMM_OWN);
    ck_assert_int_eq(clgrad_gemm_set_variant(ctx, variant), 0);
    if (mode == 0) {
        FX_OK(clgrad_gemm(ctx, ta, tb, M, N, K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc));
    } else if (mode == 1) {
        FX_OK(clgrad_gemm_bias(ctx, ta, tb, M, N, K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc, db, 1));
    } else {
        clgrad_gemm_epilogue e = {0};
        e.bias = mode == 2 ? db : NULL, e.bias_off = 1;
        e.kind = kind, e.act = act, e.act_param = p;
        e.e = dE, e.lde = lde, e.z = dZ, e.ldz = ldz;
        FX_OK(clgrad_gemm_fused(ctx, ta, tb, M, N, K, alpha, dA, off, lda, dB, off, ldb, beta, dC, off, ldc, &e));
    }
    FX_OK(clgrad_buf_read(ctx, dC, 0, nc, Cd));
    FX_OK(clgrad_buf_read(ctx, dE, 0, ne, Ed));
    host_gemm_(ta, tb, M, N, K, alpha, A + off, lda, B + off, ldb, beta, C + off, ldc, mode == 1 || mode == 2 ? bias + 1 : NULL,
               kind, (int)act, p, E, lde, Z, ldz);
    char what[160];
    snprintf(what, sizeof what, "%s %c%c M=%zu N=%zu K=%zu alpha=%g beta=%g mode %d act %d", variant,
             ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, (double)alpha, (double)beta, mode, (int)act);
    size_t bad = fixture_check_bits(what, Cd, C, nc) + fixture_check_bits(what, Ed, E, ne);
    cl_mem all[] = {dA, dB, dC, db, dZ, dE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgrad_buf_free(&all[i]);
    clgrad_gemm_set_variant(ctx, "auto");
    free(A), free(B), free(C), free(Cd), free(bias), free(Z), free(E), free(Ed);
    return bad;
}

/* Every own-kernel variant x op combination x epilogue at one awkward shape
** (loop index), against the float32 host model, bit for bit. */
START_TEST(bitwise_host)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 17, 33}, {65, 7, 130}, {33, 130, 17}, {130, 65, 7}, {17, 33, 0}, {1, 65, 65}};
    static const clgrad_act acts[] = {CLGRAD_ACT_TANH, CLGRAD_ACT_GELU, CLGRAD_ACT_IDENTITY, CLGRAD_ACT_LEAKY_RELU,
                                      CLGRAD_ACT_SIGMOID};
    const size_t *s = shapes[_i];
    size_t bad = 0;
    int c = 0;
    for (int v = 0; v < NVARIANTS; v++)
        for (int t = 0; t < 4; t++)
            for (int mode = 0; mode < 4; mode++, c++) {
                float beta = (c % 3) == 0 ? 0.0f : (c % 3) == 1 ? -0.75f : 1.0f;
                float alpha = (c % 2) ? 1.0f : -1.3f;
                bad += hb_case_(fixture_ctx(), variants_[v], t >> 1, t & 1, s[0], s[1], s[2], alpha, beta, mode, acts[c % 5], 0.1f);
            }
    ck_assert_msg(bad == 0, "%zu outputs differ from the float32 host model, shape %zux%zux%zu", bad, s[0], s[1], s[2]);
}
END_TEST

/* The tuning parameters (clgrad/tune.h) do not change a bit: contexts built
** with other CPU micro-kernel rows x columns and packing thresholds, and other
** tiled work-group and register tiles and K slices (odd ones included), give
** the float32 host model's bits for every op combination, epilogue and
** awkward shape (loop index: the parameter set).  K = 1 and 3 included: the
** tiled kernel once padded a partial K slice with zero products, and
** fma(0, 0, -0) = +0 turned an accumulated -0 (every product a negative
** underflow) into +0 where the host model and the other variants keep -0. */
START_TEST(bitwise_tuned)
{
    static const char *sets[] = {
        "off",
        "cpu_mr=8,cpu_nw=2,wgm=8,wgn=8,rm=8,rn=8,tk=32,lpad=1",
        "cpu_mr=12,cpu_nw=1,cpu_direct_max=0,cpu_pack_a_min=0,wgm=4,wgn=16,rm=3,rn=5,tk=7,lpad=3",
        "cpu_mr=5,cpu_nw=4,cpu_direct_max=1000000,cpu_pack_a_min=1000000,wgm=16,wgn=4,rm=1,rn=2,tk=1",
    };
    static const size_t shapes[][3] = {{1, 3, 17}, {3, 100, 33}, {17, 33, 100}, {100, 17, 19}, {33, 1, 65}, {70, 97, 21},
                                       {5, 9, 1},  {19, 33, 3}};
    static const char *vars[] = {"auto", "packed", "direct", "tiled"};
    static const clgrad_act acts[] = {CLGRAD_ACT_TANH, CLGRAD_ACT_GELU, CLGRAD_ACT_IDENTITY, CLGRAD_ACT_LEAKY_RELU};
    clgrad_open_opts oo = {0};
    oo.only = "matmul.cl,activation.cl", oo.gemm_tune = sets[_i];
    clgrad_ctx *ctx = fixture_open_with(&oo);
    ck_assert_msg(strstr(clgrad_gemm_variant(ctx), _i == 0 ? "tuning builtin" : "tuning opts") != NULL, "%s",
                  clgrad_gemm_variant(ctx));
    size_t bad = 0;
    int c = 0;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int v = 0; v < 4; v++)
            for (int t = 0; t < 4; t++)
                for (int mode = 0; mode < 4; mode++, c++) {
                    float beta = (c % 3) == 0 ? 0.0f : (c % 3) == 1 ? -0.75f : 1.0f;
                    bad += hb_case_(ctx, vars[v], t >> 1, t & 1, shapes[sh][0], shapes[sh][1], shapes[sh][2],
                                    (c % 2) ? 1.0f : -1.3f, beta, mode, acts[c % 4], 0.1f);
                }
    clgrad_ctx_free(ctx);
    ck_assert_msg(bad == 0, "%zu outputs differ from the float32 host model with tuning %s", bad, sets[_i]);
}
END_TEST

/* A sum that is -0 stays -0 in every variant: every product a negative
** underflow (2^-100 * -2^-100 rounds to -0), K = 1, 2, 3, 17 (partial K slices
** of the tiled kernel, whose padding once added fma(0, 0, -0) = +0). */
START_TEST(negative_zero)
{
    static const char *vars[] = {"tiled", "simple", "vec", "packed", "direct"};
    clgrad_ctx *ctx = fixture_ctx();
    static const size_t ks[] = {1, 2, 3, 17};
    float a[4 * 17], b[17 * 5], c[4 * 5];
    for (size_t i = 0; i < 4 * 17; i++) a[i] = 0x1.0p-100f;
    for (size_t i = 0; i < 17 * 5; i++) b[i] = -0x1.0p-100f;
    cl_mem dA = up_(ctx, a, 4 * 17, "A"), dB = up_(ctx, b, 17 * 5, "B"), dC = NULL;
    FX_OK(clgrad_buf_new(ctx, 4 * 5, "C", &dC));
    clgrad_set_gemm_backend(ctx, CLGRAD_GEMM_OWN);
    for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++)
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            ck_assert_int_eq(clgrad_gemm_set_variant(ctx, vars[v]), 0);
            FX_OK(clgrad_gemm(ctx, 0, 0, 4, 5, ks[i], 1.0f, dA, 0, ks[i], dB, 0, 5, 0.0f, dC, 0, 5));
            FX_OK(clgrad_buf_read(ctx, dC, 0, 4 * 5, c));
            for (int j = 0; j < 4 * 5; j++)
                ck_assert_msg(c[j] == 0.0f && signbit(c[j]), "%s K=%zu: C[%d] = %g, expected -0", vars[v], ks[i], j,
                              (double)c[j]);
        }
    clgrad_gemm_set_variant(ctx, "auto");
    clgrad_buf_free(&dA), clgrad_buf_free(&dB), clgrad_buf_free(&dC);
}
END_TEST

START_TEST(tune_parse)
{
    clgrad_gemm_tune t;
    char why[256], out[1024];
    clgrad_gemm_tune_defaults(&t);
    ck_assert_int_eq(clgrad_gemm_tune_parse("# c\n cpu_mr = 12 ,cpu_nw=2\nclblast.MWG=64", &t, why, sizeof why), 0);
    ck_assert_int_eq(t.cpu_mr, 12);
    ck_assert_int_eq(t.cpu_nw, 2);
    ck_assert_int_eq(t.n_clblast, 1);
    clgrad_gemm_tune_format(&t, out, sizeof out);
    ck_assert_msg(strstr(out, "cpu_mr=12,cpu_nw=2,") == out && strstr(out, ",clblast.MWG=64"), "%s", out);
    clgrad_gemm_tune u;
    clgrad_gemm_tune_defaults(&u);
    ck_assert_int_eq(clgrad_gemm_tune_parse(out, &u, why, sizeof why), 0);
    ck_assert_int_eq(memcmp(&t, &u, offsetof(clgrad_gemm_tune, source)), 0);
    ck_assert_int_eq(clgrad_gemm_tune_parse("cpu_mr=0", &t, why, sizeof why), -1);
    ck_assert_int_eq(clgrad_gemm_tune_parse("bogus=1", &t, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "bogus"), "%s", why);
    ck_assert_int_eq(clgrad_gemm_tune_parse("wgm=64,wgn=64", &t, why, sizeof why), -1);
    ck_assert_int_eq(clgrad_gemm_tune_parse("cpu_nw=2x", &t, why, sizeof why), -1);
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "m", &m));
    clgrad_set_gemm_backend(ctx, CLGRAD_GEMM_OWN);
    ck_assert_int_eq(clgrad_gemm(ctx, 0, 0, 4, 4, 4, 1, m, 0, 3, m, 0, 4, 0, m, 0, 4), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "leading dimension") != NULL, "%s", clgrad_errmsg(ctx));
    clgrad_buf_free(&m);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, square, 0, fixture_nsizes);
    tcase_add_loop_test(tc, nonsquare, 0, 6);
    tcase_add_test(tc, views);
    tcase_add_test(tc, beta_zero_ignores_c);
    tcase_add_test(tc, k_zero);
    tcase_add_loop_test(tc, fused_epilogues, 0, 4);
    tcase_add_loop_test(tc, bitwise_host, 0, 7);
    tcase_add_loop_test(tc, bitwise_tuned, 0, 4);
    tcase_add_test(tc, negative_zero);
    tcase_add_test(tc, tune_parse);
    tcase_add_test(tc, bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("matmul.cl,activation.cl");
    return fixture_run(suite_(), 1);
}
