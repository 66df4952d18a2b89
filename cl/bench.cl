/*
** bench.cl: device-limit kernels for `clgrad bench`, measured the way clpeak
** measures them:
**   bench_peak_float, bench_peak_float4, bench_peak_float8
**                  fp32 compute peak: long chains of explicit fma() in registers
**   bench_copy     global memory bandwidth: b = a       (8 bytes per element)
**   bench_triad    global memory bandwidth: a = b + s*c (12 bytes per element)
**   bench_empty    a kernel that does nothing: launch latency
** The results are real (checked against host references in tests/test_bench.c
** and the selfcheck), so no compiler can drop the work.
*/

/* Independent fma chains per work-item, and fma rounds per chain per loop
** iteration (must match src/cli/bench.c: BENCH_CHAINS, BENCH_UNROLL). */
#define BENCH_CHAINS 8
#define BENCH_UNROLL 16

#define BENCH_FMA8_                                                                                 \
    x0 = fma(x0, mv, cv); x1 = fma(x1, mv, cv); x2 = fma(x2, mv, cv); x3 = fma(x3, mv, cv);         \
    x4 = fma(x4, mv, cv); x5 = fma(x5, mv, cv); x6 = fma(x6, mv, cv); x7 = fma(x7, mv, cv);
#define BENCH_R4_(s) s s s s
#define BENCH_R16_(s) BENCH_R4_(BENCH_R4_(s))

/*
** Work-item i owns W lanes (W = the vector width), lane j starting at
** v = (i*W + j) * 2^-10 (exact in float for i*W + j < 2^24).  Chain k starts at
** v + k and runs x <- fma(x, m, c), BENCH_UNROLL * iters times; |m| < 1 keeps
** the chains bounded (they converge to c / (1 - m)) and away from denormals.
** out[off + i*W + j] = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)).
** Flops per work-item: 2 * BENCH_CHAINS * BENCH_UNROLL * iters * W.
** m and c are arguments, so nothing folds at compile time.
*/
#define BENCH_PEAK_(NAME, T, W, INIT, STORE)                                                        \
    __kernel void NAME(__global float *out, const ulong off, const float m, const float c,          \
                       const int iters)                                                             \
    {                                                                                               \
        size_t i = get_global_id(0);                                                                \
        T v = INIT;                                                                                 \
        T mv = (T)(m), cv = (T)(c);                                                                 \
        T x0 = v, x1 = v + 1.0f, x2 = v + 2.0f, x3 = v + 3.0f;                                      \
        T x4 = v + 4.0f, x5 = v + 5.0f, x6 = v + 6.0f, x7 = v + 7.0f;                               \
        for (int it = 0; it < iters; it++) {                                                        \
            BENCH_R16_(BENCH_FMA8_)                                                                 \
        }                                                                                           \
        T r = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));                                    \
        STORE;                                                                                      \
    }

BENCH_PEAK_(bench_peak_float, float, 1, (float)i * 0x1.0p-10f, out[off + i] = r)
BENCH_PEAK_(bench_peak_float4, float4, 4,
            ((float4)((float)(4 * i), (float)(4 * i + 1), (float)(4 * i + 2), (float)(4 * i + 3))) * 0x1.0p-10f,
            vstore4(r, 0, out + off + 4 * i))
BENCH_PEAK_(bench_peak_float8, float8, 8,
            ((float8)((float)(8 * i), (float)(8 * i + 1), (float)(8 * i + 2), (float)(8 * i + 3),
                      (float)(8 * i + 4), (float)(8 * i + 5), (float)(8 * i + 6), (float)(8 * i + 7))) *
                0x1.0p-10f,
            vstore8(r, 0, out + off + 8 * i))

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
