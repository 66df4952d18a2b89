/*
** clgrad/gemm.h: C = alpha * op(A) * op(B) + beta * C on the device.
**
** float32, row-major; op(A) is (M, K), op(B) is (K, N), C is (M, N); ta / tb
** select the transposed storage (see cl/matmul.cl).  Offsets and leading
** dimensions are in floats.  beta == 0 never reads C.  The backend (clgrad's
** own kernel or CLBlast) is the context's run-time choice
** (clgrad_set_gemm_backend), recorded wherever results are written.
*/
#ifndef CLGRAD_GEMM_H
#define CLGRAD_GEMM_H
#include "clgrad/core.h"

clgrad_status clgrad_gemm(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                          size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                          size_t offC, size_t ldc);

/* The same with a bias epilogue: C = alpha op(A) op(B) + beta C + bias, bias
** (N) at offBias broadcast over the rows (NULL: none).  The result has the
** same bits as clgrad_gemm followed by clgrad_activation_bias_add; the CPU
** micro-kernel adds the bias in its store, the other variants and CLBlast
** launch activation_bias_add after the GEMM. */
clgrad_status clgrad_gemm_bias(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                               size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                               size_t offC, size_t ldc, cl_mem bias, size_t offBias);

/* Own-kernel variant: "auto" (default) uses the CPU micro-kernel on CPU
** devices ("direct" when op(B) is B itself and at most 64 Ki floats, read in
** place; else "packed", op(B) packed into 16-column panels first), else
** "tiled" (local memory, register blocks) when the device's work-group and
** local-memory limits allow it, else "simple".  clgrad_gemm_set_variant
** forces one ("auto", "tiled", "simple", "vec", "packed", "direct"; vec falls
** back to tiled for TT, direct to packed for a transposed B, tiled to simple
** where the device cannot run it); returns -1 for an unknown name.
** clgrad_gemm_variant describes the current choice per op combination. */
const char *clgrad_gemm_variant(const clgrad_ctx *ctx);
int clgrad_gemm_set_variant(clgrad_ctx *ctx, const char *name);

/* Double-precision host reference with the same argument convention. */
void clgrad_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, double beta, const float *C_in, double *C_out, size_t ldc);
#endif
