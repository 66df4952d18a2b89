/*
** clgrad/bench.h: the kernels of cl/bench.cl that `clgrad bench` times
** (fp32 peak: independent chains of explicit fma() in float, float4, float8
** and float16 registers, 8 to 16 chains;
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

/* Must match BENCH_UNROLL in cl/bench.cl. */
#define CLGRAD_BENCH_UNROLL 16
/* Peak variants (vector width x fma chains): float x8, float4 x8, float8 x8,
** float8 x16, float16 x8, float16 x12, float16 x16. */
#define CLGRAD_BENCH_NPEAK 7
#define CLGRAD_BENCH_MAX_CHAINS 16

/* ---- the kernels of cl/bench.cl (enqueue only; `ev` may be NULL) ---- */

/* Of peak variant 0..CLGRAD_BENCH_NPEAK-1 (0 / NULL for others): the vector
** width W (1, 4, 8, 16), the number of independent fma chains per lane (8, 12,
** 16) and the short name ("float", "float4", "float8", "float8_c16",
** "float16", "float16_c12", "float16_c16"; the kernel is bench_peak_<name>). */
int clgrad_bench_peak_width(int variant);
int clgrad_bench_peak_chains(int variant);
const char *clgrad_bench_peak_name(int variant);
/* bench_peak_<name>: n work-items (local size: the driver's choice),
** out[off .. off + n*W) (see cl/bench.cl).  Flops: 2*chains*UNROLL*iters*W*n. */
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
