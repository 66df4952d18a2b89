/*
** matmul.cl: GEMM, C = alpha * op(A) * op(B) + beta * C, float32, row-major.
**
**   op(A) is (M, K): A stored (M, K) with leading dimension lda (N), or (K, M) (T)
**   op(B) is (K, N): B stored (K, N) with leading dimension ldb (N), or (N, K) (T)
**   C is (M, N) with leading dimension ldc.  Offsets are in floats, so views
**   into a flat parameter block need no sub-buffers.
** beta == 0 means C is written, never read (NaN or Inf in C do not leak in),
** as BLAS specifies.
**
** Kernels: matmul_nn, matmul_nt, matmul_tn, matmul_tt (tiled, local memory,
** each work-item computes an RM x RN register block), and matmul_simple (one
** output per work-item, no local memory: the fallback for devices whose
** work-group or local-memory limits are below the tiled kernel's needs).
** Every output is a fixed-order sum over k with explicit fma(): deterministic.
**
** Tunables (-D): GEMM_WGM x GEMM_WGN work-items per group, GEMM_RM x GEMM_RN
** outputs per work-item, GEMM_TK depth of a K tile.
*/
#ifndef GEMM_WGM
#define GEMM_WGM 16
#endif
#ifndef GEMM_WGN
#define GEMM_WGN 16
#endif
#ifndef GEMM_RM
#define GEMM_RM 4
#endif
#ifndef GEMM_RN
#define GEMM_RN 4
#endif
#ifndef GEMM_TK
#define GEMM_TK 16
#endif
#define GEMM_TM (GEMM_WGM * GEMM_RM)
#define GEMM_TN (GEMM_WGN * GEMM_RN)

/* The tiled body; ta, tb are compile-time constants in each kernel below. */
inline void matmul_tiled_(const int ta, const int tb, const int M, const int N, const int K, const float alpha,
                          __global const float *A, const int lda, __global const float *B, const int ldb,
                          const float beta, __global float *C, const int ldc,
                          __local float *As /* (TK, TM) */, __local float *Bs /* (TK, TN) */)
{
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int lid = ty * GEMM_WGN + tx;
    const int m0 = get_group_id(1) * GEMM_TM, n0 = get_group_id(0) * GEMM_TN;
    float acc[GEMM_RM][GEMM_RN];
    for (int i = 0; i < GEMM_RM; i++)
        for (int j = 0; j < GEMM_RN; j++) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += GEMM_TK) {
        for (int l = lid; l < GEMM_TK * GEMM_TM; l += GEMM_WGM * GEMM_WGN) {
            /* walk memory contiguously: along k for A (N), along m for A (T) */
            int kk = ta ? l / GEMM_TM : l % GEMM_TK;
            int mm = ta ? l % GEMM_TM : l / GEMM_TK;
            int m = m0 + mm, k = k0 + kk;
            float v = 0.0f;
            if (m < M && k < K) v = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
            As[kk * GEMM_TM + mm] = v;
        }
        for (int l = lid; l < GEMM_TK * GEMM_TN; l += GEMM_WGM * GEMM_WGN) {
            int nn = tb ? l / GEMM_TK : l % GEMM_TN;
            int kk = tb ? l % GEMM_TK : l / GEMM_TN;
            int n = n0 + nn, k = k0 + kk;
            float v = 0.0f;
            if (n < N && k < K) v = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
            Bs[kk * GEMM_TN + nn] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < GEMM_TK; kk++) {
            float a[GEMM_RM], b[GEMM_RN];
            for (int i = 0; i < GEMM_RM; i++) a[i] = As[kk * GEMM_TM + ty + i * GEMM_WGM];
            for (int j = 0; j < GEMM_RN; j++) b[j] = Bs[kk * GEMM_TN + tx + j * GEMM_WGN];
            for (int i = 0; i < GEMM_RM; i++)
                for (int j = 0; j < GEMM_RN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < GEMM_RM; i++) {
        int m = m0 + ty + i * GEMM_WGM;
        if (m >= M) continue;
        for (int j = 0; j < GEMM_RN; j++) {
            int n = n0 + tx + j * GEMM_WGN;
            if (n >= N) continue;
            __global float *c = C + (size_t)m * ldc + n;
            float r = alpha * acc[i][j];
            *c = beta == 0.0f ? r : r + beta * *c;
        }
    }
}

#define MATMUL_ARGS                                                                                  \
    const int M, const int N, const int K, const float alpha, __global const float *A, const ulong offA, \
        const int lda, __global const float *B, const ulong offB, const int ldb, const float beta,  \
        __global float *C, const ulong offC, const int ldc
#define MATMUL_LOCALS                                                                                \
    __local float As[GEMM_TK * GEMM_TM];                                                             \
    __local float Bs[GEMM_TK * GEMM_TN]

__kernel __attribute__((reqd_work_group_size(GEMM_WGN, GEMM_WGM, 1))) void matmul_nn(MATMUL_ARGS)
{
    MATMUL_LOCALS;
    matmul_tiled_(0, 0, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc, As, Bs);
}
__kernel __attribute__((reqd_work_group_size(GEMM_WGN, GEMM_WGM, 1))) void matmul_nt(MATMUL_ARGS)
{
    MATMUL_LOCALS;
    matmul_tiled_(0, 1, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc, As, Bs);
}
__kernel __attribute__((reqd_work_group_size(GEMM_WGN, GEMM_WGM, 1))) void matmul_tn(MATMUL_ARGS)
{
    MATMUL_LOCALS;
    matmul_tiled_(1, 0, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc, As, Bs);
}
__kernel __attribute__((reqd_work_group_size(GEMM_WGN, GEMM_WGM, 1))) void matmul_tt(MATMUL_ARGS)
{
    MATMUL_LOCALS;
    matmul_tiled_(1, 1, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc, As, Bs);
}

/* One output per work-item; global size (N, M) rounded up by the host. */
__kernel void matmul_simple(const int ta, const int tb, MATMUL_ARGS)
{
    const int n = get_global_id(0), m = get_global_id(1);
    if (m >= M || n >= N) return;
    A += offA, B += offB, C += offC;
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        float a = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
        float b = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
        acc = fma(a, b, acc);
    }
    __global float *c = C + (size_t)m * ldc + n;
    float r = alpha * acc;
    *c = beta == 0.0f ? r : r + beta * *c;
}
