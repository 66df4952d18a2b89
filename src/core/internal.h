/*
** internal.h: the context structure and helpers shared by the library's
** source files.  Not installed; nothing here is public API.
*/
#ifndef CLGRAD_INTERNAL_H
#define CLGRAD_INTERNAL_H

#include "clgrad/core.h"
#include "clgrad/tune.h"
#include <stdio.h>

#define CLGRAD_MAX_PROGRAMS 32
#define CLGRAD_MAX_KERNELS 256
#define CLGRAD_KHASH 512 /* slots of the kernel-name table: twice CLGRAD_MAX_KERNELS, so a probe always meets a free one */

typedef enum { CLGRAD_GEMM_AUTO = 0, CLGRAD_GEMM_TILED, CLGRAD_GEMM_SIMPLE, CLGRAD_GEMM_VEC, CLGRAD_GEMM_PACKED, CLGRAD_GEMM_DIRECT } clgrad_gemm_variant_t;
const char *clgrad_gemm_variant_name_(clgrad_gemm_variant_t v); /* "auto", "tiled", ... (core/ctx.c) */

typedef struct clgrad_program {
    char name[64];      /* "matmul.cl" */
    char origin[1024];  /* "embedded" or the path it was read from */
    char hash[65];      /* sha256 of the assembled source */
    cl_program program; /* owned */
    int from_cache;
} clgrad_program;

typedef struct clgrad_kentry {
    char name[64];
    cl_kernel kernel; /* owned */
} clgrad_kentry;

struct clgrad_ctx {
    char *errmsg;   /* owned; never NULL after clgrad_ctx_new */
    char *warnings; /* owned; accumulated, never NULL */

    clgrad_device_info *devices; /* owned array, filled by clgrad_devices */
    int ndevices;

    int dev_index;          /* -1 while closed */
    clgrad_device_info dev; /* copy of the selected device */
    cl_context context;     /* owned */
    cl_command_queue queue; /* owned */

    clgrad_program programs[CLGRAD_MAX_PROGRAMS];
    int nprograms;
    clgrad_kentry kernels[CLGRAD_MAX_KERNELS];
    int nkernels;
    short khash[CLGRAD_KHASH]; /* open addressing by name: index + 1 into kernels, 0 empty */

    char build_options[512];
    size_t wg; /* CLGRAD_WG passed to the programs */
    char cache_dir[1024]; /* "" when the cache is disabled */
    clgrad_build_stats stats;
    clgrad_gemm_backend gemm_backend;
    clgrad_gemm_variant_t gemm_variant;
    cl_mem gemm_scratch;       /* owned; the CPU GEMM's packed B panels then A blocks, grown on demand */
    size_t gemm_scratch_floats;
    clgrad_gemm_tune tune;  /* the own GEMM's parameters (core/tune.c) */
    char gemm_defines[256]; /* their -D options, added to matmul.cl's build options */
    int clblast_tuned;      /* tune's CLBlast parameters handed to CLBlast (ops/gemm.c, first CLBlast call) */

    struct clgrad_prof_row { char name[48]; long calls; double ns; } *prof; /* owned; NULL: profiling off */
    int nprof, prof_cap;
    unsigned long long enqueued; /* kernel launches, copies and fills enqueued (clgrad_enqueue_count) */
    double wait_spin_s;          /* clgrad_wait's polling before it sleeps (clgrad_open_opts.wait_spin_us) */
    double last_wait_s;          /* how long the last clgrad_wait took: it polls only after one <= wait_spin_s */

    char numerics_fp[17]; /* CLGRAD_FP_HEX + 1 (clgrad/fingerprint.h); clgrad_numerics_fingerprint_cached: "" until computed */
    int numerics_fp_tried;
};

/* The context's numerics fingerprint (clgrad/fingerprint.h), computed on the
** first call (outside the kernel profile); NULL when it failed (the reason is
** then a warning). */
const char *clgrad_numerics_fingerprint_cached(clgrad_ctx *ctx);

/* Append a warning line to ctx->warnings (also used for non-fatal cache trouble). */
void clgrad_warn(clgrad_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Seconds from the event's start to its end (profiling queue); NaN when not available. */
double clgrad_event_seconds(cl_event ev);

/* With kernel profiling on (ctx->prof): wait for ev and add its device time
** to the profile row `name`.  For work enqueued outside clgrad_launch (CLBlast). */
void clgrad_profile_add_(clgrad_ctx *ctx, const char *name, cl_event ev);

void clgrad_msgs_init_(clgrad_ctx *ctx);
void clgrad_msgs_free_(clgrad_ctx *ctx);

/* Format a message into why (nwhy bytes; none when why is NULL) and return st. */
clgrad_status clgrad_failf(clgrad_status st, char *why, size_t nwhy, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Self-checks (check/selfcheck.c): the largest |dev - ref| / tol over n
** values (Inf on a NaN/Inf mismatch or an error with tol 0). */
double clgrad_worst_ratio(const float *dev, const double *ref, const double *tol, size_t n);

/* Wall clock in seconds (monotonic). */
double clgrad_now(void);

/* Choose ctx->tune and ctx->gemm_defines (core/tune.c): opts->gemm_tune,
** $CLGRAD_TUNE, the tune file, the table; a bad setting fails the open. */
clgrad_status clgrad_tune_resolve_(clgrad_ctx *ctx, const clgrad_open_opts *opts);

/* Build every kernel program (program.c). */
clgrad_status clgrad_programs_build(clgrad_ctx *ctx, const clgrad_open_opts *opts);
void clgrad_programs_release(clgrad_ctx *ctx);


/* ---- launching kernels and recording failures (library-internal) ---- */

/* The kernel called `name` (borrowed), or NULL with a message. */
cl_kernel clgrad_kernel(clgrad_ctx *ctx, const char *name);

/* Enqueue `k` (its arguments already set) with a 1-D range of at least n work
** items, rounded up to the kernel's work-group size `local` (0: let the
** driver choose).  `name` is used in error messages. */
clgrad_status clgrad_launch1d(clgrad_ctx *ctx, cl_kernel k, const char *name, size_t n, size_t local);
clgrad_status clgrad_launch(clgrad_ctx *ctx, cl_kernel k, const char *name, cl_uint dims,
                            const size_t *global, const size_t *local);

/* dst[doff ..] = src[soff ..], n floats, enqueued (clEnqueueCopyBuffer). */
clgrad_status clgrad_buf_copy(clgrad_ctx *ctx, cl_mem src, size_t soff, cl_mem dst, size_t doff, size_t n);
/* Commands enqueued so far through clgrad_launch, clgrad_buf_copy and
** clgrad_buf_fill (bench: launches per training step). */
unsigned long long clgrad_enqueue_count(const clgrad_ctx *ctx);
/* Flush the queue and wait for ev (not released): poll its status for up to
** ctx->wait_spin_s (sched_yield between polls) when the last wait took no
** longer than that (a long one: the device is busy for a while, and polling
** would only take a core from a CPU device), then clWaitForEvents.  Every
** wait of clgrad's (clgrad_finish, clgrad_buf_read, the lagged read-backs)
** goes through here. */
clgrad_status clgrad_wait(clgrad_ctx *ctx, cl_event ev);

/* Record a failure in ctx (printf-style) and return st. */
clgrad_status clgrad_fail(clgrad_ctx *ctx, clgrad_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Record a failed OpenCL call: "<call>: <CL_ERROR_NAME> (<file>:<line>)". */
clgrad_status clgrad_fail_cl(clgrad_ctx *ctx, cl_int err, const char *call, const char *file, int line);

/* Evaluate an OpenCL call; on error record it and `goto fail` (needs a local
** `clgrad_status st` and a `fail:` label). */
#define CLGRAD_CL_TRY(ctx, call)                                                   \
    do {                                                                           \
        cl_int e_ = (call);                                                        \
        if (e_ != CL_SUCCESS) {                                                    \
            st = clgrad_fail_cl((ctx), e_, #call, __FILE__, __LINE__);             \
            goto fail;                                                             \
        }                                                                          \
    } while (0)
/* Evaluate a clgrad call; on error `goto fail` (its message is already set). */
#define CLGRAD_TRY(call)                                                           \
    do {                                                                           \
        st = (call);                                                               \
        if (st != CLGRAD_OK) goto fail;                                            \
    } while (0)
/* Set kernel argument i of k from lvalue v; on error record and goto fail. */
#define CLGRAD_ARG(ctx, k, i, v) CLGRAD_CL_TRY(ctx, clSetKernelArg((k), (i), sizeof(v), &(v)))


/* Consecutive kernel arguments by pointer and size: a cl_mem, a cl_ulong, a
** cl_int or a cl_float (the numeric ones as compound literals). */
typedef struct {
    const void *p;
    size_t size;
} clgrad_karg;
#define CLGRAD_KM(v) ((clgrad_karg){&(v), sizeof(cl_mem)})
#define CLGRAD_KU(v) ((clgrad_karg){&(cl_ulong){(cl_ulong)(v)}, sizeof(cl_ulong)})
#define CLGRAD_KI(v) ((clgrad_karg){&(cl_int){(cl_int)(v)}, sizeof(cl_int)})
#define CLGRAD_KF(v) ((clgrad_karg){&(cl_float){(cl_float)(v)}, sizeof(cl_float)})
/* Set args[0..nargs) on kernel `name` and launch it over n work items (1-D, local size chosen by the driver). */
clgrad_status clgrad_launch_args(clgrad_ctx *ctx, const char *name, size_t n, const clgrad_karg *args, int nargs);

/* ops/reduce.c for ops/optim.c's clgrad_optim_step_stats: a table's scratch of chunk records (2 nchunks
** records), the checks of clgrad_reduce_stats_pair. */
#include "clgrad/reduce.h"
cl_mem clgrad_segs_part(const clgrad_segs *segs);
clgrad_status clgrad_reduce_stats_pair_check(clgrad_ctx *ctx, cl_mem x, cl_mem y, const clgrad_segs *segs, cl_mem out,
                                             size_t off_x, size_t off_d);
/* reduce_stats_optim_chunks (arguments 0..15 set by the caller: clgrad_optim_step_stats) with `also` (NULL:
** none) in its first work-groups, then reduce_stats_optim_final. */
clgrad_status clgrad_reduce_stats_optim_(clgrad_ctx *ctx, cl_kernel k, const clgrad_segs *segs, cl_mem out,
                                         size_t off_x, size_t off_d, const clgrad_reduce_job *also);

#endif
