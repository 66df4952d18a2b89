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
** Tunables (-D, clgrad/tune.h): GEMM_WGM x GEMM_WGN work-items per group,
** GEMM_RM x GEMM_RN outputs per work-item, GEMM_TK depth of a K tile,
** GEMM_LPAD floats of padding after each row of the local tiles (against
** local-memory bank conflicts).  None changes an order of operations.
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
#ifndef GEMM_LPAD
#define GEMM_LPAD 0
#endif
#define GEMM_TM (GEMM_WGM * GEMM_RM)
#define GEMM_TN (GEMM_WGN * GEMM_RN)
#define GEMM_LM (GEMM_TM + GEMM_LPAD) /* row stride of As */
#define GEMM_LN (GEMM_TN + GEMM_LPAD) /* row stride of Bs */

/* The tiled body; ta, tb are compile-time constants in each kernel below. */
inline void matmul_tiled_(const int ta, const int tb, const int M, const int N, const int K, const float alpha,
                          __global const float *A, const int lda, __global const float *B, const int ldb,
                          const float beta, __global float *C, const int ldc,
                          __local float *As /* (TK, LM) */, __local float *Bs /* (TK, LN) */)
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
            As[kk * GEMM_LM + mm] = v;
        }
        for (int l = lid; l < GEMM_TK * GEMM_TN; l += GEMM_WGM * GEMM_WGN) {
            int nn = tb ? l / GEMM_TK : l % GEMM_TN;
            int kk = tb ? l % GEMM_TK : l / GEMM_TN;
            int n = n0 + nn, k = k0 + kk;
            float v = 0.0f;
            if (n < N && k < K) v = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
            Bs[kk * GEMM_LN + nn] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* only the K - k0 real products of a partial last slice: fma(0, 0, -0)
        ** is +0, so a padded product would turn an accumulated -0 into +0
        ** where the other variants (and the host model) keep -0 */
        const int kn = min(GEMM_TK, K - k0);
        for (int kk = 0; kk < kn; kk++) {
            float a[GEMM_RM], b[GEMM_RN];
            for (int i = 0; i < GEMM_RM; i++) a[i] = As[kk * GEMM_LM + ty + i * GEMM_WGM];
            for (int j = 0; j < GEMM_RN; j++) b[j] = Bs[kk * GEMM_LN + tx + j * GEMM_WGN];
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
    __local float As[GEMM_TK * GEMM_LM];                                                             \
    __local float Bs[GEMM_TK * GEMM_LN]

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

/*
** CPU-friendly variants (no local memory, no barriers, explicit vectors), used
** on CPU devices where local memory is ordinary memory and the compiler
** vectorises explicit vector types better than work-item loops.
**
** matmul_vec_nn / matmul_vec_tn: each work-item computes VEC_RM rows x 16
** columns of C with float16 accumulators; B rows are read with vload16.
** Global size (ceil(N/16), ceil(M/VEC_RM)).  A partial column block (N not a
** multiple of 16) takes a scalar path with the same per-element order.
** matmul_vec_nt: both operands are contiguous along k, so each work-item
** computes VEC_NT_R x VEC_NT_R dot products, loading float8 slices along k.
** Global size (ceil(N/R), ceil(M/R)).
** Every output is one fma chain in k order, as in every other variant: the
** variants give the same bits.
*/
#ifndef VEC_RM
#define VEC_RM 4
#endif
#ifndef VEC_NT_R
#define VEC_NT_R 4
#endif

inline void matmul_vec_rows_(const int ta, const int M, const int N, const int K, const float alpha,
                             __global const float *A, const int lda, __global const float *B, const int ldb,
                             const float beta, __global float *C, const int ldc)
{
    const int n0 = get_global_id(0) * 16, m0 = get_global_id(1) * VEC_RM;
    if (n0 >= N || m0 >= M) return;
    if (n0 + 16 <= N) {
        float16 acc[VEC_RM];
        for (int i = 0; i < VEC_RM; i++) acc[i] = (float16)(0.0f);
        for (int k = 0; k < K; k++) {
            float16 b = vload16(0, B + (size_t)k * ldb + n0);
            for (int i = 0; i < VEC_RM; i++) {
                int m = min(m0 + i, M - 1);
                float a = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
                acc[i] = fma((float16)(a), b, acc[i]);
            }
        }
        for (int i = 0; i < VEC_RM && m0 + i < M; i++) {
            __global float *c = C + (size_t)(m0 + i) * ldc + n0;
            float16 r = alpha * acc[i];
            if (beta != 0.0f) r = r + beta * vload16(0, c);
            vstore16(r, 0, c);
        }
        return;
    }
    for (int i = 0; i < VEC_RM && m0 + i < M; i++) {
        int m = m0 + i;
        for (int n = n0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
                acc = fma(a, B[(size_t)k * ldb + n], acc);
            }
            __global float *c = C + (size_t)m * ldc + n;
            float r = alpha * acc;
            *c = beta == 0.0f ? r : r + beta * *c;
        }
    }
}

__kernel void matmul_vec_nn(MATMUL_ARGS)
{
    matmul_vec_rows_(0, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc);
}
__kernel void matmul_vec_tn(MATMUL_ARGS)
{
    matmul_vec_rows_(1, M, N, K, alpha, A + offA, lda, B + offB, ldb, beta, C + offC, ldc);
}

__kernel void matmul_vec_nt(MATMUL_ARGS)
{
    const int n0 = get_global_id(0) * VEC_NT_R, m0 = get_global_id(1) * VEC_NT_R;
    if (n0 >= N || m0 >= M) return;
    A += offA, B += offB, C += offC;
    int rows[VEC_NT_R], cols[VEC_NT_R];
    for (int i = 0; i < VEC_NT_R; i++) rows[i] = min(m0 + i, M - 1), cols[i] = min(n0 + i, N - 1);
    /* one fma chain per output in k order (the order of every variant: the same
    ** bits); the VEC_NT_R^2 independent chains keep the FMA units busy */
    float acc[VEC_NT_R][VEC_NT_R];
    for (int i = 0; i < VEC_NT_R; i++)
        for (int j = 0; j < VEC_NT_R; j++) acc[i][j] = 0.0f;
    const int K8 = K & ~7;
    for (int k = 0; k < K8; k += 8) {
        float a[VEC_NT_R][8], b[VEC_NT_R][8];
        for (int i = 0; i < VEC_NT_R; i++) vstore8(vload8(0, A + (size_t)rows[i] * lda + k), 0, a[i]);
        for (int j = 0; j < VEC_NT_R; j++) vstore8(vload8(0, B + (size_t)cols[j] * ldb + k), 0, b[j]);
        for (int l = 0; l < 8; l++)
            for (int i = 0; i < VEC_NT_R; i++)
                for (int j = 0; j < VEC_NT_R; j++) acc[i][j] = fma(a[i][l], b[j][l], acc[i][j]);
    }
    for (int i = 0; i < VEC_NT_R && m0 + i < M; i++)
        for (int j = 0; j < VEC_NT_R && n0 + j < N; j++) {
            float s = acc[i][j];
            for (int k = K8; k < K; k++) s = fma(A[(size_t)rows[i] * lda + k], B[(size_t)cols[j] * ldb + k], s);
            __global float *c = C + (size_t)rows[i] * ldc + cols[j];
            float r = alpha * s;
            *c = beta == 0.0f ? r : r + beta * *c;
        }
}

/*
** Packed CPU variant ("packed"): a register-blocked micro-kernel in the style
** of BLIS's Haswell kernel.  Each work-item computes CPU_MR rows x CPU_NB =
** 16 CPU_NW columns of C in CPU_MR x CPU_NW float16 accumulators; per k it
** loads one CPU_NB-float row of the B panel and broadcasts CPU_MR values of
** op(A): CPU_NW loads + CPU_MR broadcasts feed CPU_MR CPU_NW vector FMAs.
** Tunables (-D, clgrad/tune.h): CPU_MR rows (6 fits AVX2's 16 registers at
** CPU_NW 1; AVX-512's 32 take e.g. 12 x 1 or 6 x 2), CPU_NW float16 per row.
**
** op(B) is read from panels of CPU_NB columns, each (K, CPU_NB) contiguous:
**   packed: matmul_cpu_pack_b wrote panel p at Bp + p * K * CPU_NB, zero-padded
**           past N, so every panel takes the fast path and the panel walks
**           memory linearly (no cache-set conflicts at power-of-two ldb);
**   direct: op(B) = B (K, N) itself, panel p at B + CPU_NB p with row stride
**           ldb; a partial last panel (N % CPU_NB) takes the guarded path.
** op(A) is read in place: element (m, k) at A[m * lda + k] (ta = 0) or
** A[k * lda + m] (ta = 1); rows past M are clamped to M - 1 and never stored.
** Work-item (i, j) = (row block, panel), so the work-items one thread runs in
** a row share one B panel, which stays in cache while op(A) streams.
** Every output is fma(a_k, b_k, acc) in k order from 0: deterministic, and
** the same rounding as the other variants' fixed-order sums, whatever the
** tunables (they only choose which outputs one work-item holds).
*/
#ifndef CPU_MR
#define CPU_MR 6
#endif
#ifndef CPU_NW
#define CPU_NW 1
#endif
#define CPU_NB (16 * CPU_NW)

/* Bp panel p (K, CPU_NB) = op(B)[:, NB p .. NB p + NB-1], zero past N.  Global (K, ceil(N/NB)). */
__kernel void matmul_cpu_pack_b(const int tb, const int N, const int K, __global const float *B, const ulong offB,
                                const int ldb, __global float *Bp)
{
    const int k = get_global_id(0), p = get_global_id(1);
    if (k >= K) return;
    B += offB;
    const int n0 = p * CPU_NB;
    __global float *dst = Bp + ((size_t)p * K + k) * CPU_NB;
    if (!tb && n0 + CPU_NB <= N) {
        for (int w = 0; w < CPU_NW; w++) vstore16(vload16(0, B + (size_t)k * ldb + n0 + 16 * w), w, dst);
        return;
    }
    for (int c = 0; c < CPU_NB; c++) {
        int n = n0 + c;
        dst[c] = n >= N ? 0.0f : tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
    }
}

/* Ap block i (K, CPU_MR) = op(A)[MR i .. MR i + MR-1, :] transposed, rows past M
** zero.  Global (K, ceil(M/MR)).  For a transposed A (lda a power of two, say)
** the micro-kernel would otherwise walk A with a stride that maps every k
** onto the same few cache sets. */
__kernel void matmul_cpu_pack_a(const int ta, const int M, const int K, __global const float *A, const ulong offA,
                                const int lda, __global float *Ap, const ulong offAp)
{
    const int k = get_global_id(0), i = get_global_id(1);
    if (k >= K) return;
    A += offA;
    __global float *dst = Ap + offAp + ((size_t)i * K + k) * CPU_MR;
    for (int r = 0; r < CPU_MR; r++) {
        int m = i * CPU_MR + r;
        dst[r] = m >= M ? 0.0f : ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
    }
}

/* matmul_cpu_store_ (the epilogue) is in gemm_fn.cl, shared with model.cl's recurrent kernels. */

/* C (M, N) = alpha op(A) op(B) + beta C (+ bias (N) broadcast over rows when
** has_bias), and the epilogue `epi` (matmul_cpu_store_) writing E (M, N),
** leading dimension lde, from zin (M, N), leading dimension ldz (epi 2).
** `packed`: B is a matmul_cpu_pack_b buffer (offB 0, ldb unused); else
** op(B) = B (K, N).  `packed_a`: A is a matmul_cpu_pack_a buffer (offA 0, ta
** and lda unused).  Global (ceil(M/MR), ceil(N/NB)). */
__kernel void matmul_cpu(const int ta, const int packed_a, const int packed, const int M, const int N, const int K, const float alpha,
                         __global const float *A, const ulong offA, const int lda, __global const float *B,
                         const ulong offB, const int ldb, const float beta, __global float *C, const ulong offC,
                         const int ldc, __global const float *bias, const ulong offBias, const int has_bias,
                         const int epi, const int act, const float act_p, __global float *E, const ulong offE,
                         const int lde, __global const float *zin, const ulong offZ, const int ldz)
{
    const int m0 = get_global_id(0) * CPU_MR, p = get_global_id(1), n0 = p * CPU_NB;
    if (m0 >= M || n0 >= N) return;
    C += offC;
    /* row r of op(A): element k at A[ar[r] + k * ak] */
    size_t ak, am;
    if (packed_a) {
        A += offA + (size_t)get_global_id(0) * K * CPU_MR; /* block (K, MR), rows past M zero */
        ak = CPU_MR, am = 1;
    } else {
        ak = ta ? (size_t)lda : 1, am = ta ? 1 : (size_t)lda;
        A += offA + (size_t)m0 * am;
    }
    const int last = packed_a ? CPU_MR - 1 : M - 1 - m0; /* rows past M read row M - 1 (not stored) */
    size_t ar[CPU_MR];
#pragma unroll
    for (int r = 0; r < CPU_MR; r++) ar[r] = (size_t)min(r, last) * am;
    const int nvall = min(CPU_NB, N - n0);
    float16 acc[CPU_MR][CPU_NW];
#pragma unroll
    for (int r = 0; r < CPU_MR; r++)
#pragma unroll
        for (int w = 0; w < CPU_NW; w++) acc[r][w] = (float16)(0.0f);
    if (packed || nvall == CPU_NB) {
        __global const float *bp = packed ? B + (size_t)p * K * CPU_NB : B + offB + n0;
        const size_t bk = packed ? CPU_NB : (size_t)ldb;
        for (int k = 0; k < K; k++) {
            float16 b[CPU_NW];
#pragma unroll
            for (int w = 0; w < CPU_NW; w++) b[w] = vload16(w, bp + (size_t)k * bk);
#pragma unroll
            for (int r = 0; r < CPU_MR; r++) {
                float16 a = (float16)(A[ar[r] + (size_t)k * ak]);
#pragma unroll
                for (int w = 0; w < CPU_NW; w++) acc[r][w] = fma(a, b[w], acc[r][w]);
            }
        }
    } else {
        /* direct, partial last panel: guarded loads, the same order of operations */
        __global const float *bp = B + offB + n0;
        for (int k = 0; k < K; k++) {
            float t[CPU_NB];
            for (int j = 0; j < CPU_NB; j++) t[j] = j < nvall ? bp[(size_t)k * ldb + j] : 0.0f;
            float16 b[CPU_NW];
            for (int w = 0; w < CPU_NW; w++) b[w] = vload16(w, t);
            for (int r = 0; r < CPU_MR; r++) {
                float16 a = (float16)(A[ar[r] + (size_t)k * ak]);
                for (int w = 0; w < CPU_NW; w++) acc[r][w] = fma(a, b[w], acc[r][w]);
            }
        }
    }
    for (int w = 0; w < CPU_NW; w++) {
        const int nw0 = n0 + 16 * w, nv = min(16, N - nw0);
        if (nv <= 0) break;
        float16 bv = (float16)(0.0f);
        if (has_bias) {
            __global const float *bp = bias + offBias + nw0;
            if (nv == 16) {
                bv = vload16(0, bp);
            } else {
                float t[16];
                for (int j = 0; j < 16; j++) t[j] = j < nv ? bp[j] : 0.0f;
                bv = vload16(0, t);
            }
        }
        __global float *c = C + (size_t)m0 * ldc + nw0;
        __global float *e = E + offE + (size_t)m0 * lde + nw0;
        __global const float *z = zin + offZ + (size_t)m0 * ldz + nw0;
        for (int r = 0; r < CPU_MR && m0 + r < M; r++)
            matmul_cpu_store_(acc[r][w], nv, alpha, beta, has_bias, bv, epi, act, act_p, c + r * (size_t)ldc,
                              e + r * (size_t)lde, z + r * (size_t)ldz);
    }
}
