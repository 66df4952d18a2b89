/*
** clgrad/reduce.h: deterministic statistics of tensors on the device: sum,
** 2-norm, max |x| and the count of non-finite values, per tensor and over a
** set of tensors, and their float64 host reference.
**
** Models keep parameters and gradients in one flat float buffer with a table
** of segments (offset, length).  clgrad_segs uploads such a table once; then
** clgrad_reduce_stats computes the statistics of every segment and of all of
** them together in two kernel launches, whatever the number of segments,
** writing them to a device buffer (no host synchronisation; read them back
** when logging).
**
** Output layout (floats), for a table of T segments, at out[out_off + ...]:
**   4*s + CLGRAD_RS_SUM        sum of segment s
**   4*s + CLGRAD_RS_NORM2      2-norm of segment s
**   4*s + CLGRAD_RS_MAXABS     max |x| of segment s
**   4*s + CLGRAD_RS_NONFINITE  number of NaN and +-Inf elements of segment s
**   4*T + (the same four)      the global statistics over all T segments
** so 4*(T+1) floats (CLGRAD_RS_SIZE each).  An empty segment gives 0, 0, 0, 0.
**
** Semantics (cl/reduce.cl has the details):
** - sum: IEEE float arithmetic in a fixed order (may overflow to Inf when the
**   sum of |x| exceeds FLT_MAX; Inf and NaN propagate as usual).
** - 2-norm: a scaled sum of squares (power-of-two scales, LAPACK style), so it
**   neither overflows nor underflows while the norm itself is representable:
**   gradients of 1e25 or 1e-25 (or denormals) give the right norm, not Inf or
**   0.  NaN anywhere -> NaN; else any +-Inf -> +Inf.
** - max |x|: NaN if any element is NaN (NaN-propagating, unlike fmax).
** - non-finite count: exact uint arithmetic, stored as a float value: exact
**   up to 2^24 elements, the nearest float above that (never 0 when non-zero).
** Deterministic and independent of the launch: the order of every operation
** is a function of the segment lengths alone (chunks of CLGRAD_REDUCE_CHUNK
** elements, fixed leaves, balanced pairwise trees; cl/reduce.cl specifies
** it), never of the work-group size, the number of work-groups or compute
** units, and there are no atomics: the same inputs give the same bits on
** every run and for every CLGRAD_WG (and on every device whose float
** arithmetic, sqrt and ldexp are correctly rounded).
** clgrad_reduce_stats_replica evaluates that order on the host, in float32.
*/
#ifndef CLGRAD_REDUCE_H
#define CLGRAD_REDUCE_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CLGRAD_RS_SUM = 0,
    CLGRAD_RS_NORM2 = 1,
    CLGRAD_RS_MAXABS = 2,
    CLGRAD_RS_NONFINITE = 3,
    CLGRAD_RS_SIZE = 4
};

/* The fixed numeric definition of cl/reduce.cl (not tunables: they decide
** the order of the additions): a leaf is CLGRAD_REDUCE_LEAF_VECS float8 (64
** elements), a chunk CLGRAD_REDUCE_LEAVES leaves = CLGRAD_REDUCE_CHUNK
** elements. */
#define CLGRAD_REDUCE_LEAF_VECS 8
#define CLGRAD_REDUCE_LEAVES 256
#define CLGRAD_REDUCE_CHUNK (CLGRAD_REDUCE_LEAVES * 8 * CLGRAD_REDUCE_LEAF_VECS)

/* A segment table on the device, with its chunk map and the scratch space of
** the partial results (so a launch allocates nothing).  One table serves any
** buffer with the same layout (parameters, gradients, optimizer state). */
typedef struct clgrad_segs clgrad_segs;

/* Upload nseg segments (off[s], len[s]), in elements; len 0 is allowed, and
** segments may be in any order.  nseg may be 0 (all statistics 0). */
clgrad_status clgrad_segs_new(clgrad_ctx *ctx, size_t nseg, const size_t *off, const size_t *len,
                              clgrad_segs **out);
/* One segment per row: tensor t is a (rows[t], cols[t]) row-major matrix at
** off[t], giving rows[t] segments of cols[t] elements (the units of AGC; a
** bias vector is passed as rows = 1, cols = n). */
clgrad_status clgrad_segs_new_rows(clgrad_ctx *ctx, size_t ntensor, const size_t *off, const size_t *rows,
                                   const size_t *cols, clgrad_segs **out);
void clgrad_segs_free(clgrad_segs **segs); /* NULL-safe; sets *segs = NULL */
size_t clgrad_segs_count(const clgrad_segs *segs);  /* T */
size_t clgrad_segs_chunks(const clgrad_segs *segs); /* chunks in the partition */
size_t clgrad_segs_chunk(const clgrad_segs *segs);  /* elements per chunk: CLGRAD_REDUCE_CHUNK */
/* Host copies of the table (nseg entries each). */
const size_t *clgrad_segs_off(const clgrad_segs *segs);
const size_t *clgrad_segs_len(const clgrad_segs *segs);
/* The device table (borrowed): ulong[3*T + 1] = off[T], len[T], cstart[T+1]
** where chunk c of the partition belongs to segment s iff cstart[s] <= c <
** cstart[s+1] and covers its elements (c - cstart[s]) * chunk ... + chunk - 1.
** Kernels of other files may use it to walk the same partition. */
cl_mem clgrad_segs_table(const clgrad_segs *segs);

/* Statistics of the segments of x (at xoff + off[s]) and of all of them:
** writes 4*(T+1) floats at out[out_off] (layout above).  Two launches. */
clgrad_status clgrad_reduce_stats(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem out,
                                  size_t out_off);
/* clgrad_reduce_stats of x (at off_x) and of the differences x - y (each as
** one float subtraction: at off_d), x and y over the same segments at offset 0,
** in two launches instead of a subtraction and four; the same bits. */
clgrad_status clgrad_reduce_stats_pair(clgrad_ctx *ctx, cl_mem x, cl_mem y, const clgrad_segs *segs, cl_mem out,
                                       size_t off_x, size_t off_d);
/* A clgrad_reduce_stats to run inside the launches of another (clgrad_optim_step_stats): x at xoff over
** segs, written to that call's output at out_off. */
typedef struct {
    cl_mem x;
    size_t xoff;
    const clgrad_segs *segs;
    size_t out_off;
} clgrad_reduce_job;
/* The same for one tensor x[off .. off+n): writes 4 floats at out[out_off].
** Convenience: it creates and releases a one-segment table per call. */
clgrad_status clgrad_reduce_stats1(clgrad_ctx *ctx, cl_mem x, size_t off, size_t n, cl_mem out, size_t out_off);

/* Upper bound on the number of additions any one term passes through in the
** device's sums for a table of `nchunks` chunks (for error bounds:
** |err| <= gamma(depth) * sum |terms|, gamma(n) = n u / (1 - n u)).  A
** function of nchunks alone (ctx is not used). */
size_t clgrad_reduce_depth(const clgrad_ctx *ctx, size_t nchunks);

#ifdef __cplusplus
}
#endif
#endif
