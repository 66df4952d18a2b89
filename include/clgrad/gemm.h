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
#include "clgrad/activation.h"
#include "clgrad/core.h"

clgrad_status clgrad_gemm(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                          size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                          size_t offC, size_t ldc);

/* What clgrad_gemm_fused does after the product, in the GEMM's store on the
** CPU micro-kernel, as separate launches after the other variants and CLBlast
** (the same operations in the same order either way: the same bits).
**   bias:  C += bias (N) at bias_off, broadcast over the rows (NULL: none);
**   kind CLGRAD_EPI_ACT:  E = f(C)          (a dense layer: C = Z, E = H);
**   kind CLGRAD_EPI_DACT: E = C * f'(Z)     (its backward: C = dH, E = dZ);
** f = activation `act` with parameter act_param (clgrad/activation.h).
** E and Z are (M, N) with leading dimensions lde, ldz. */
enum { CLGRAD_EPI_NONE = 0, CLGRAD_EPI_ACT = 1, CLGRAD_EPI_DACT = 2 };
typedef struct clgrad_gemm_epilogue {
    cl_mem bias;
    size_t bias_off;
    int kind;
    clgrad_act act;
    float act_param;
    cl_mem e;
    size_t e_off, lde;
    cl_mem z;
    size_t z_off, ldz;
} clgrad_gemm_epilogue;

clgrad_status clgrad_gemm_fused(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                                size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                                size_t offC, size_t ldc, const clgrad_gemm_epilogue *epi);

/* clgrad_gemm_fused with only a bias (NULL: none). */
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

#endif
