/*
** clfault.c: OpenCL fault injection for tests, as an LD_PRELOAD shim.
**
** Wraps the OpenCL entry points clgrad calls (and a few more CLBlast uses),
** forwards each to the real one (dlsym(RTLD_NEXT)), and counts the calls that
** can fail.  Environment:
**   CLGRAD_FAULT_AT=N      the N-th counted call (1-based) fails without being
**                          forwarded: creators return NULL with *errcode_ret =
**                          CLGRAD_FAULT_ERR (default CL_OUT_OF_HOST_MEMORY),
**                          the others return CLGRAD_FAULT_ERR (default
**                          CL_OUT_OF_RESOURCES).  Every later call succeeds.
**   CLGRAD_FAULT_ERR=E     the error code to inject (a negative number).
**   CLGRAD_FAULT_COUNT=1   at exit print "clfault: calls N" to stderr.
**   CLGRAD_FAULT_TRACE=1   print every counted call ("clfault: #N clXxx").
** At exit (whenever CLGRAD_FAULT_AT or CLGRAD_FAULT_COUNT is set) the shim
** prints the OpenCL objects still alive, as created minus released through
** this process's calls ("clfault: live context 0 queue 0 program 0 kernel 0
** mem 0 event 0"): a leak the sanitizers cannot see (PoCL's own allocations are
** suppressed in tests/lsan.supp).  When it injected a fault it prints
** "clfault: injected CL_... into call #N clXxx" as it happens.  The shim
** removes LD_PRELOAD from the environment at start, so child processes
** (PoCL runs the system linker) are not preloaded.
** Release and retain calls are never failed (a failed release is a leak by
** definition) but are tracked for the live-object count.
**
** Build: cc -shared -fPIC -o libclfault.so tests/fault/clfault.c -ldl
** (tests/meson.build builds it; tests/fault/run_faults.sh uses it).  Under a
** GCC ASan build, preload the sanitizer runtime first:
**   LD_PRELOAD="$(gcc -print-file-name=libasan.so) libclfault.so"
*/
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long calls_;
static long at_ = -1;
static int err_ = 0, trace_ = 0, report_ = 0, inited_ = 0;
static atomic_long live_[6]; /* context, queue, program, kernel, mem, event */
enum { O_CTX, O_QUEUE, O_PROG, O_KERNEL, O_MEM, O_EVENT };

static const char *err_name_(cl_int e)
{
    switch (e) {
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    default: return "(other)";
    }
}

static void fini_(void)
{
    if (!report_ || atomic_load(&calls_) == 0) return;
    fprintf(stderr, "clfault: calls %ld\n", (long)atomic_load(&calls_));
    fprintf(stderr, "clfault: live context %ld queue %ld program %ld kernel %ld mem %ld event %ld\n",
            (long)live_[O_CTX], (long)live_[O_QUEUE], (long)live_[O_PROG], (long)live_[O_KERNEL], (long)live_[O_MEM],
            (long)live_[O_EVENT]);
}

static void init_(void)
{
    if (inited_) return;
    inited_ = 1;
    const char *s = getenv("CLGRAD_FAULT_AT");
    if (s && *s) at_ = atol(s);
    s = getenv("CLGRAD_FAULT_ERR");
    if (s && *s) err_ = atoi(s);
    s = getenv("CLGRAD_FAULT_TRACE");
    trace_ = s && *s == '1';
    s = getenv("CLGRAD_FAULT_COUNT");
    report_ = (s && *s == '1') || at_ > 0;
    atexit(fini_);
}

/* Children (PoCL runs the linker to finish kernels) must not inherit the
** preload: neither the shim nor a preloaded sanitizer runtime. */
__attribute__((constructor)) static void ctor_(void)
{
    init_();
    unsetenv("LD_PRELOAD");
}

/* 1 when this call must fail. */
static int fault_(const char *name, cl_int dflt, cl_int *code)
{
    init_();
    long n = atomic_fetch_add(&calls_, 1) + 1;
    if (trace_) fprintf(stderr, "clfault: #%ld %s\n", n, name);
    if (n != at_) return 0;
    *code = err_ ? (cl_int)err_ : dflt;
    fprintf(stderr, "clfault: injected %s into call #%ld %s\n", err_name_(*code), n, name);
    return 1;
}

static void *real_(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "clfault: no real %s\n", name);
        abort();
    }
    return f;
}

/* The real function (object -> function pointer through memcpy, as POSIX dlsym allows). */
#define REAL(name)                                                   \
    static __typeof__(name) *real;                                   \
    if (!real) {                                                     \
        void *sym_ = real_(#name);                                   \
        memcpy(&real, &sym_, sizeof sym_);                           \
    }

/* A call returning cl_int. */
#define WRAP_INT(name, params, args)                                 \
    CL_API_ENTRY cl_int CL_API_CALL name params                      \
    {                                                                \
        cl_int fe_;                                                  \
        if (fault_(#name, CL_OUT_OF_RESOURCES, &fe_)) return fe_;    \
        REAL(name);                                                  \
        return real args;                                            \
    }

/* An enqueue (its last parameter the event out, ev): counts the event it creates. */
#define WRAP_ENQ(name, params, args)                                 \
    CL_API_ENTRY cl_int CL_API_CALL name params                      \
    {                                                                \
        cl_int fe_;                                                  \
        if (fault_(#name, CL_OUT_OF_RESOURCES, &fe_)) return fe_;    \
        REAL(name);                                                  \
        cl_int r_ = real args;                                       \
        if (r_ == CL_SUCCESS && ev) atomic_fetch_add(&live_[O_EVENT], 1); \
        return r_;                                                   \
    }

/* A creator: NULL and *errcode_ret on a fault; counts live objects of kind k. */
#define WRAP_NEW(type, k, name, params, args)                        \
    CL_API_ENTRY type CL_API_CALL name params                        \
    {                                                                \
        cl_int fe_;                                                  \
        if (fault_(#name, CL_OUT_OF_HOST_MEMORY, &fe_)) {            \
            if (errcode_ret) *errcode_ret = fe_;                     \
            return NULL;                                             \
        }                                                            \
        REAL(name);                                                  \
        type o = real args;                                          \
        if (o) atomic_fetch_add(&live_[k], 1);                       \
        return o;                                                    \
    }

/* Release / retain: never failed, tracked. */
#define WRAP_REL(type, k, name, delta)                               \
    CL_API_ENTRY cl_int CL_API_CALL name(type o)                     \
    {                                                                \
        REAL(name);                                                  \
        cl_int r = real(o);                                          \
        if (r == CL_SUCCESS) atomic_fetch_add(&live_[k], delta);     \
        return r;                                                    \
    }

WRAP_INT(clGetPlatformIDs, (cl_uint n, cl_platform_id *p, cl_uint *np), (n, p, np))
WRAP_INT(clGetPlatformInfo, (cl_platform_id p, cl_platform_info w, size_t n, void *v, size_t *r), (p, w, n, v, r))
WRAP_INT(clGetDeviceIDs, (cl_platform_id p, cl_device_type t, cl_uint n, cl_device_id *d, cl_uint *nd),
         (p, t, n, d, nd))
WRAP_INT(clGetDeviceInfo, (cl_device_id d, cl_device_info w, size_t n, void *v, size_t *r), (d, w, n, v, r))
WRAP_NEW(cl_context, O_CTX, clCreateContext,
         (const cl_context_properties *pr, cl_uint n, const cl_device_id *d,
          void(CL_CALLBACK *cb)(const char *, const void *, size_t, void *), void *u, cl_int *errcode_ret),
         (pr, n, d, cb, u, errcode_ret))
WRAP_NEW(cl_command_queue, O_QUEUE, clCreateCommandQueue,
         (cl_context c, cl_device_id d, cl_command_queue_properties p, cl_int *errcode_ret), (c, d, p, errcode_ret))
WRAP_NEW(cl_program, O_PROG, clCreateProgramWithSource,
         (cl_context c, cl_uint n, const char **s, const size_t *l, cl_int *errcode_ret), (c, n, s, l, errcode_ret))
WRAP_NEW(cl_program, O_PROG, clCreateProgramWithBinary,
         (cl_context c, cl_uint n, const cl_device_id *d, const size_t *l, const unsigned char **b, cl_int *bs,
          cl_int *errcode_ret),
         (c, n, d, l, b, bs, errcode_ret))
WRAP_INT(clBuildProgram,
         (cl_program p, cl_uint n, const cl_device_id *d, const char *o, void(CL_CALLBACK *cb)(cl_program, void *),
          void *u),
         (p, n, d, o, cb, u))
WRAP_INT(clGetProgramInfo, (cl_program p, cl_program_info w, size_t n, void *v, size_t *r), (p, w, n, v, r))
WRAP_INT(clGetProgramBuildInfo, (cl_program p, cl_device_id d, cl_program_build_info w, size_t n, void *v, size_t *r),
         (p, d, w, n, v, r))
WRAP_NEW(cl_kernel, O_KERNEL, clCreateKernel, (cl_program p, const char *name, cl_int *errcode_ret),
         (p, name, errcode_ret))
WRAP_INT(clGetKernelInfo, (cl_kernel k, cl_kernel_info w, size_t n, void *v, size_t *r), (k, w, n, v, r))
WRAP_INT(clGetKernelWorkGroupInfo, (cl_kernel k, cl_device_id d, cl_kernel_work_group_info w, size_t n, void *v, size_t *r),
         (k, d, w, n, v, r))
WRAP_NEW(cl_mem, O_MEM, clCreateBuffer, (cl_context c, cl_mem_flags f, size_t s, void *h, cl_int *errcode_ret),
         (c, f, s, h, errcode_ret))
WRAP_INT(clGetMemObjectInfo, (cl_mem m, cl_mem_info w, size_t n, void *v, size_t *r), (m, w, n, v, r))
WRAP_ENQ(clEnqueueWriteBuffer,
         (cl_command_queue q, cl_mem m, cl_bool b, size_t o, size_t n, const void *p, cl_uint ne, const cl_event *w,
          cl_event *ev),
         (q, m, b, o, n, p, ne, w, ev))
WRAP_ENQ(clEnqueueReadBuffer,
         (cl_command_queue q, cl_mem m, cl_bool b, size_t o, size_t n, void *p, cl_uint ne, const cl_event *w,
          cl_event *ev),
         (q, m, b, o, n, p, ne, w, ev))
WRAP_ENQ(clEnqueueFillBuffer,
         (cl_command_queue q, cl_mem m, const void *pat, size_t ps, size_t o, size_t n, cl_uint ne, const cl_event *w,
          cl_event *ev),
         (q, m, pat, ps, o, n, ne, w, ev))
WRAP_ENQ(clEnqueueCopyBuffer,
         (cl_command_queue q, cl_mem s, cl_mem d, size_t so, size_t dof, size_t n, cl_uint ne, const cl_event *w,
          cl_event *ev),
         (q, s, d, so, dof, n, ne, w, ev))
WRAP_INT(clSetKernelArg, (cl_kernel k, cl_uint i, size_t s, const void *v), (k, i, s, v))
WRAP_ENQ(clEnqueueNDRangeKernel,
         (cl_command_queue q, cl_kernel k, cl_uint d, const size_t *o, const size_t *g, const size_t *l, cl_uint ne,
          const cl_event *w, cl_event *ev),
         (q, k, d, o, g, l, ne, w, ev))
WRAP_INT(clFlush, (cl_command_queue q), (q))
WRAP_INT(clFinish, (cl_command_queue q), (q))
WRAP_INT(clWaitForEvents, (cl_uint n, const cl_event *e), (n, e))
WRAP_ENQ(clEnqueueMarkerWithWaitList, (cl_command_queue q, cl_uint ne, const cl_event *w, cl_event *ev), (q, ne, w, ev))
WRAP_INT(clGetEventInfo, (cl_event e, cl_event_info w, size_t n, void *v, size_t *r), (e, w, n, v, r))

/* clCreateKernelsInProgram creates *num_kernels_ret kernels when kernels != NULL. */
CL_API_ENTRY cl_int CL_API_CALL clCreateKernelsInProgram(cl_program p, cl_uint n, cl_kernel *ks, cl_uint *nret)
{
    cl_int e;
    if (fault_("clCreateKernelsInProgram", CL_OUT_OF_RESOURCES, &e)) return e;
    REAL(clCreateKernelsInProgram);
    cl_uint got = 0;
    cl_int r = real(p, n, ks, &got);
    if (nret) *nret = got;
    if (r == CL_SUCCESS && ks) atomic_fetch_add(&live_[O_KERNEL], (long)got);
    return r;
}

WRAP_REL(cl_context, O_CTX, clReleaseContext, -1)
WRAP_REL(cl_context, O_CTX, clRetainContext, 1)
WRAP_REL(cl_command_queue, O_QUEUE, clReleaseCommandQueue, -1)
WRAP_REL(cl_command_queue, O_QUEUE, clRetainCommandQueue, 1)
WRAP_REL(cl_program, O_PROG, clReleaseProgram, -1)
WRAP_REL(cl_program, O_PROG, clRetainProgram, 1)
WRAP_REL(cl_kernel, O_KERNEL, clReleaseKernel, -1)
WRAP_REL(cl_kernel, O_KERNEL, clRetainKernel, 1)
WRAP_REL(cl_mem, O_MEM, clReleaseMemObject, -1)
WRAP_REL(cl_mem, O_MEM, clRetainMemObject, 1)
WRAP_REL(cl_event, O_EVENT, clReleaseEvent, -1)
WRAP_REL(cl_event, O_EVENT, clRetainEvent, 1)
