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
