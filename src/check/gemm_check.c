/*
** gemm_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "gemm" self-check of src/ops/gemm.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include "clgrad/activation.h"
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

void clgrad_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, double beta, const float *C_in, double *C_out, size_t ldc)
{
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + m] : A[m * lda + k];
                double b = tb ? B[n * ldb + k] : B[k * ldb + n];
                acc += a * b;
            }
            double r = alpha * acc;
            C_out[m * ldc + n] = beta == 0.0 ? r : r + beta * (double)C_in[m * ldc + n];
        }
}
