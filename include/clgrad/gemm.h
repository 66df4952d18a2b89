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

/* Own-kernel variant: "auto" (default) uses "vec" (explicit vectors, no local
** memory) on CPU devices for NN, NT and TN, else "tiled" (local memory,
** register blocks) when the device's work-group and local-memory limits allow
** it, else "simple".  clgrad_gemm_set_variant forces one ("auto", "tiled",
** "simple", "vec"; vec falls back to tiled for TT, tiled to simple where the
** device cannot run it); returns -1 for an unknown name.  clgrad_gemm_variant
** describes the current choice per op combination. */
const char *clgrad_gemm_variant(const clgrad_ctx *ctx);
int clgrad_gemm_set_variant(clgrad_ctx *ctx, const char *name);

/* Double-precision host reference with the same argument convention. */
void clgrad_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, double beta, const float *C_in, double *C_out, size_t ldc);
#endif
