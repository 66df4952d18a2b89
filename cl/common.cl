/*
** common.cl: prepended to every kernel program.
**
** Floating-point contraction is off: a*b+c is two roundings everywhere, so
** results do not depend on whether a compiler chooses to fuse.  Kernels that
** want a fused multiply-add (the GEMM inner loop) call fma() explicitly, which
** OpenCL requires to be correctly rounded, hence the same on every device.
** Tunables are -D defines with defaults here (the CLBlast pattern).
*/
#pragma OPENCL FP_CONTRACT OFF

#ifndef CLGRAD_FP64
#define CLGRAD_FP64 0
#endif
#ifndef CLGRAD_LOCAL_MEM
#define CLGRAD_LOCAL_MEM 1
#endif

/* Work-group size of the 1-D elementwise and reduction kernels. */
#ifndef CLGRAD_WG
#define CLGRAD_WG 256
#endif

/* The number of elements left at i of n, 0 when i >= n (both < 2^63).  As
** signed arithmetic, not `i < n ? n - i : 0`: clang folds that into the
** llvm.usub.sat intrinsic, which Oclgrind's interpreter does not implement;
** max() of the signed difference stays a max() call (or llvm.smax), which it
** does.  Same value on every device. */
inline ulong clg_rest_(const ulong n, const ulong i)
{
    return (ulong)max((long)n - (long)i, 0L);
}

/* Partial float8 access for elementwise kernels that give each work-item 8
** consecutive elements: the float8 at x[0 .. 7], of which only the first n
** are read when n < 8 (the rest 0); and the store of v's first min(n, 8)
** elements.  vload8/vstore8 need only float alignment. */
inline float8 clg_load8_(__global const float *x, const ulong n)
{
    if (n >= 8) return vload8(0, x);
    float t[8];
    for (int k = 0; k < 8; k++) t[k] = (ulong)k < n ? x[k] : 0.0f;
    return vload8(0, t);
}

inline void clg_store8_(__global float *x, const ulong n, const float8 v)
{
    if (n >= 8) {
        vstore8(v, 0, x);
        return;
    }
    float t[8];
    vstore8(v, 0, t);
    for (int k = 0; k < 8; k++)
        if ((ulong)k < n) x[k] = t[k];
}

/* Division and square root, correctly rounded on every device in the
** same-bits guarantee (README, Reproducibility): where the device rounds
** float32 division and sqrt correctly, clgrad builds with
** -cl-fp32-correctly-rounded-divide-sqrt and these are the plain operators;
** where it does not but has fp64 (-DCLGRAD_DIVSQRT_FP64=1), they are computed
** in double, which OpenCL rounds correctly, and rounded once to float: the
** correctly rounded float32 result, since 53 >= 2*24 + 2 bits make that
** double rounding innocuous for +, -, *, / and sqrt.  Every float division
** and square root in the kernels goes through these. */
#ifndef CLGRAD_DIVSQRT_FP64
#define CLGRAD_DIVSQRT_FP64 0
#endif
#if CLGRAD_DIVSQRT_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
inline float clg_div(const float a, const float b) { return (float)((double)a / (double)b); }
inline float8 clg_div8(const float8 a, const float8 b) { return convert_float8(convert_double8(a) / convert_double8(b)); }
inline float clg_sqrt(const float x) { return (float)sqrt((double)x); }
inline float8 clg_sqrt8(const float8 x) { return convert_float8(sqrt(convert_double8(x))); }
#else
inline float clg_div(const float a, const float b) { return a / b; }
inline float8 clg_div8(const float8 a, const float8 b) { return a / b; }
inline float clg_sqrt(const float x) { return sqrt(x); }
inline float8 clg_sqrt8(const float8 x) { return sqrt(x); }
#endif

/* The segment owning chunk c of a segmented reduction (cl/reduce.cl, and
** the kernels of cl/clip.cl and cl/optim.cl that share its chunk table): the
** largest s with cstart[s] <= c (empty segments own no chunk; cstart[nseg] > c,
** so that s is not empty). */
inline uint clg_segment_of_(__global const ulong *cstart, const uint nseg, const ulong c)
{
    uint lo = 0, hi = nseg - 1;
    while (lo < hi) {
        uint mid = (lo + hi + 1) / 2;
        if (cstart[mid] <= c) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
