/*
** clgrad/bench.h: the kernels of cl/bench.cl that `clgrad bench` times
** (fp32 peak: chains of explicit fma() in float, float4 and float8 registers;
** memory copy and triad; an empty kernel for launch latency).  The bench
** itself (measurements, JSON, --compare) is part of the clgrad executable
** (src/cli/bench.c, src/cli/bench.h).
*/
#ifndef CLGRAD_BENCH_H
#define CLGRAD_BENCH_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Must match BENCH_CHAINS and BENCH_UNROLL in cl/bench.cl. */
#define CLGRAD_BENCH_CHAINS 8
#define CLGRAD_BENCH_UNROLL 16
#define CLGRAD_BENCH_NPEAK 3 /* float, float4, float8 */

/* ---- the kernels of cl/bench.cl (enqueue only; `ev` may be NULL) ---- */

/* Vector widths of the peak kernels, index 0..CLGRAD_BENCH_NPEAK-1: 1, 4, 8. */
int clgrad_bench_peak_width(int variant);
/* bench_peak_float{,4,8}: n work-items (local size: the driver's choice),
** out[off .. off + n*W) (see cl/bench.cl).  Flops: 2*CHAINS*UNROLL*iters*W*n. */
clgrad_status clgrad_bench_peak(clgrad_ctx *ctx, int variant, size_t n, cl_mem out, size_t off, float m, float c,
                                int iters, cl_event *ev);
/* b (n) = a (n). */
clgrad_status clgrad_bench_copy(clgrad_ctx *ctx, cl_mem a, size_t aoff, cl_mem b, size_t boff, size_t n, cl_event *ev);
/* a (n) = b (n) + s * c (n). */
clgrad_status clgrad_bench_triad(clgrad_ctx *ctx, cl_mem a, size_t aoff, cl_mem b, size_t boff, cl_mem c, size_t coff,
                                 float s, size_t n, cl_event *ev);
/* One work-item of a kernel that does nothing. */
clgrad_status clgrad_bench_empty(clgrad_ctx *ctx, cl_mem p, cl_event *ev);

#ifdef __cplusplus
}
#endif
#endif
