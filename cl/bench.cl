/*
** bench.cl: device-limit kernels for `clgrad bench`, measured the way clpeak
** measures them:
**   bench_peak_float, _float4, _float8, _float8_c16, _float16, _float16_c12, _float16_c16
**                  fp32 compute peak: independent chains of explicit fma() in
**                  registers (8 chains unless the name says _cN); the bench
**                  takes the best variant: wide-vector CPUs (AVX-512: two FMA
**                  ports x latency 4) need float16 and >= 8 chains to be full
**   bench_copy     global memory bandwidth: b = a       (8 bytes per element)
**   bench_triad    global memory bandwidth: a = b + s*c (12 bytes per element)
**   bench_empty    a kernel that does nothing: launch latency
** The results are real (checked against host references in tests/test_bench.c
** and the selfcheck), so no compiler can drop the work.
*/

/* fma rounds per chain per loop iteration (must match CLGRAD_BENCH_UNROLL in
** include/clgrad/bench.h; the chain counts: src/ops/benchk.c). */
#define BENCH_UNROLL 16

#define BENCH_FMA8_                                                                                 \
    x0 = fma(x0, mv, cv); x1 = fma(x1, mv, cv); x2 = fma(x2, mv, cv); x3 = fma(x3, mv, cv);         \
    x4 = fma(x4, mv, cv); x5 = fma(x5, mv, cv); x6 = fma(x6, mv, cv); x7 = fma(x7, mv, cv);
#define BENCH_FMA12_                                                                                \
    BENCH_FMA8_ x8 = fma(x8, mv, cv); x9 = fma(x9, mv, cv); x10 = fma(x10, mv, cv); x11 = fma(x11, mv, cv);
#define BENCH_FMA16_                                                                                \
    BENCH_FMA12_ x12 = fma(x12, mv, cv); x13 = fma(x13, mv, cv); x14 = fma(x14, mv, cv); x15 = fma(x15, mv, cv);
#define BENCH_R4_(s) s s s s
#define BENCH_R16_(s) BENCH_R4_(BENCH_R4_(s))

/* The chains summed as a fixed pairwise tree (the host's clgrad_bench_peak_ref:
** halves at the largest power of two below the count). */
#define BENCH_SUM4_(a, b, c, d) ((a + b) + (c + d))
#define BENCH_SUM8_ (BENCH_SUM4_(x0, x1, x2, x3) + BENCH_SUM4_(x4, x5, x6, x7))
#define BENCH_SUM12_ (BENCH_SUM8_ + BENCH_SUM4_(x8, x9, x10, x11))
#define BENCH_SUM16_ (BENCH_SUM8_ + (BENCH_SUM4_(x8, x9, x10, x11) + BENCH_SUM4_(x12, x13, x14, x15)))

/* Lane j of work-item i starts at (i*W + j) * 2^-10 (exact in float for i*W + j < 2^24). */
#define BENCH_INIT1_ ((float)i * 0x1.0p-10f)
#define BENCH_INIT4_ ((float4)((float)(4 * i), (float)(4 * i + 1), (float)(4 * i + 2), (float)(4 * i + 3)) * 0x1.0p-10f)
#define BENCH_INIT8_                                                                                \
    ((float8)((float)(8 * i), (float)(8 * i + 1), (float)(8 * i + 2), (float)(8 * i + 3), (float)(8 * i + 4), \
              (float)(8 * i + 5), (float)(8 * i + 6), (float)(8 * i + 7)) * 0x1.0p-10f)
#define BENCH_INIT16_                                                                               \
    ((float16)((float)(16 * i), (float)(16 * i + 1), (float)(16 * i + 2), (float)(16 * i + 3),     \
               (float)(16 * i + 4), (float)(16 * i + 5), (float)(16 * i + 6), (float)(16 * i + 7),  \
               (float)(16 * i + 8), (float)(16 * i + 9), (float)(16 * i + 10), (float)(16 * i + 11), \
               (float)(16 * i + 12), (float)(16 * i + 13), (float)(16 * i + 14), (float)(16 * i + 15)) * 0x1.0p-10f)

/*
** Work-item i owns W lanes (W = the vector width).  Chain k starts at v + k
** (v: the lane's start) and runs x <- fma(x, m, c), BENCH_UNROLL * iters
** times; |m| < 1 keeps the chains bounded (they converge to c / (1 - m)) and
** away from denormals.  out[off + i*W + j] = the pairwise sum of the chains.
** Flops per work-item: 2 * chains * BENCH_UNROLL * iters * W.  m and c are
** arguments, so nothing folds at compile time.  Chains a variant does not use
** are dead code.
*/
#define BENCH_PEAK_(NAME, T, INIT, FMA, SUM, STORE)                                                 \
    __kernel void NAME(__global float *out, const ulong off, const float m, const float c,          \
                       const int iters)                                                             \
    {                                                                                               \
        size_t i = get_global_id(0);                                                                \
        T v = INIT;                                                                                 \
        T mv = (T)(m), cv = (T)(c);                                                                 \
        T x0 = v, x1 = v + 1.0f, x2 = v + 2.0f, x3 = v + 3.0f;                                      \
        T x4 = v + 4.0f, x5 = v + 5.0f, x6 = v + 6.0f, x7 = v + 7.0f;                               \
        T x8 = v + 8.0f, x9 = v + 9.0f, x10 = v + 10.0f, x11 = v + 11.0f;                           \
        T x12 = v + 12.0f, x13 = v + 13.0f, x14 = v + 14.0f, x15 = v + 15.0f;                       \
        for (int it = 0; it < iters; it++) {                                                        \
            BENCH_R16_(FMA)                                                                         \
        }                                                                                           \
        T r = SUM;                                                                                  \
        STORE;                                                                                      \
    }

BENCH_PEAK_(bench_peak_float, float, BENCH_INIT1_, BENCH_FMA8_, BENCH_SUM8_, out[off + i] = r)
BENCH_PEAK_(bench_peak_float4, float4, BENCH_INIT4_, BENCH_FMA8_, BENCH_SUM8_, vstore4(r, 0, out + off + 4 * i))
BENCH_PEAK_(bench_peak_float8, float8, BENCH_INIT8_, BENCH_FMA8_, BENCH_SUM8_, vstore8(r, 0, out + off + 8 * i))
BENCH_PEAK_(bench_peak_float8_c16, float8, BENCH_INIT8_, BENCH_FMA16_, BENCH_SUM16_, vstore8(r, 0, out + off + 8 * i))
BENCH_PEAK_(bench_peak_float16, float16, BENCH_INIT16_, BENCH_FMA8_, BENCH_SUM8_, vstore16(r, 0, out + off + 16 * i))
BENCH_PEAK_(bench_peak_float16_c12, float16, BENCH_INIT16_, BENCH_FMA12_, BENCH_SUM12_,
            vstore16(r, 0, out + off + 16 * i))
BENCH_PEAK_(bench_peak_float16_c16, float16, BENCH_INIT16_, BENCH_FMA16_, BENCH_SUM16_,
            vstore16(r, 0, out + off + 16 * i))

/* b (n) at boff = a (n) at aoff; four elements per work-item (the last one
** takes the 1..3 that remain).  Launch ceil(n / 4) work-items. */
__kernel void bench_copy(__global const float *a, const ulong aoff, __global float *b, const ulong boff, const ulong n)
{
    ulong e = 4 * (ulong)get_global_id(0);
    if (e + 4 <= n) {
        vstore4(vload4(0, a + aoff + e), 0, b + boff + e);
    } else {
        for (; e < n; e++) b[boff + e] = a[aoff + e];
    }
}

/* a (n) = b (n) + s * c (n) (STREAM triad; two roundings, contraction is off).
** Four elements per work-item, as bench_copy. */
__kernel void bench_triad(__global float *a, const ulong aoff, __global const float *b, const ulong boff,
                          __global const float *c, const ulong coff, const float s, const ulong n)
{
    ulong e = 4 * (ulong)get_global_id(0);
    if (e + 4 <= n) {
        float4 t = s * vload4(0, c + coff + e);
        vstore4(vload4(0, b + boff + e) + t, 0, a + aoff + e);
    } else {
        for (; e < n; e++) {
            float t = s * c[coff + e];
            a[aoff + e] = b[boff + e] + t;
        }
    }
}

/* Nothing at all: enqueue-to-completion cost of one launch. */
__kernel void bench_empty(__global float *p, const ulong off)
{
    (void)p;
    (void)off;
}
