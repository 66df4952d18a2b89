/*
** clgrad/core.h: the device layer's public API.
**
** Status codes and error messages, device enumeration and selection, the
** context (one device, one in-order queue, every kernel program built at
** open), device buffers and kernel launches.  Everything below returns a
** clgrad_status; on failure the context keeps a human-readable message
** (clgrad_errmsg) that names the OpenCL call and error, or carries the
** device's build log.  Library code never exits.
**
** The library's one error convention: every function that can fail returns
** a clgrad_status (CLGRAD_OK = 0, errors < 0) and keeps its message where the
** caller reads it: a function that takes a context, in the context
** (clgrad_errmsg); one that runs without a device (experiment files, data,
** .npy, run directories read back), in the caller's buffer (err/why, n bytes,
** NULL-safe).  Predicates that explain a "no" (clgrad_device_same_bits) and
** the util/ layer below the library (errno values) are not failures of this
** kind.
*/
#ifndef CLGRAD_CORE_H
#define CLGRAD_CORE_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLGRAD_VERSION "0.1.0"

typedef enum {
    CLGRAD_OK = 0,
    CLGRAD_E_NOMEM = -1001,       /* host allocation failed */
    CLGRAD_E_CL = -1002,          /* an OpenCL call failed (message names it) */
    CLGRAD_E_BUILD = -1003,       /* a kernel program failed to build (message has the log) */
    CLGRAD_E_NODEVICE = -1004,    /* no device, or a device spec matched none / several */
    CLGRAD_E_ARG = -1005,         /* invalid argument */
    CLGRAD_E_IO = -1006,          /* file or directory error */
    CLGRAD_E_UNSUPPORTED = -1007, /* the device lacks a capability the call needs */
    CLGRAD_E_CONFIG = -1008       /* invalid configuration */
} clgrad_status;

const char *clgrad_status_name(clgrad_status st);
/* "CL_OUT_OF_RESOURCES" for -5; "CL_UNKNOWN_ERROR(-n)" for codes it does not know. */
const char *clgrad_cl_error_name(cl_int err);

/* One OpenCL device as enumerated (platform index P, device index D). */
typedef struct clgrad_device_info {
    int platform_index, device_index;
    cl_platform_id platform; /* borrowed */
    cl_device_id device;     /* borrowed (root devices are not reference counted) */
    char platform_name[128], platform_version[128], platform_vendor[128];
    char name[128], vendor[128], driver_version[128], device_version[128], c_version[128];
    char type[16]; /* "cpu", "gpu", "accelerator", "other" */
    cl_device_type cl_type;
    unsigned compute_units, clock_mhz, mem_base_align_bits;
    unsigned long long global_mem, local_mem, max_alloc;
    size_t max_wg_size, max_wi_sizes[3];
    int local_mem_is_local; /* CL_LOCAL (dedicated) rather than CL_GLOBAL (emulated) */
    int has_fp64, has_fp16;
    int c_major, c_minor; /* OpenCL C version */
    cl_device_fp_config single_fp; /* CL_DEVICE_SINGLE_FP_CONFIG (0 when the query failed) */
} clgrad_device_info;

/* The "same bits on every device" guarantee (README, Reproducibility) holds
** on a device whose float32 arithmetic is IEEE 754 as the kernels need it:
** denormals kept (CL_FP_DENORM), round to nearest even (CL_FP_ROUND_TO_NEAREST),
** Inf and NaN (CL_FP_INF_NAN), and division and square root correctly
** rounded: the device's (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT; clgrad then
** builds with -cl-fp32-correctly-rounded-divide-sqrt), else computed in
** double (fp64, whose division and sqrt OpenCL rounds correctly) and rounded
** once (cl/common.cl).  Returns 1 inside the guarantee; else 0 with what is
** missing in why (may be NULL). */
int clgrad_device_same_bits(const clgrad_device_info *d, char *why, size_t nwhy);
/* The single-precision flags as a short list: "denorm,inf_nan,rte,rtz,rtinf,fma,cr_divsqrt,soft". */
void clgrad_fp_config_str(cl_device_fp_config c, char *out, size_t n);

/* Build statistics of a context's kernel programs (filled by clgrad_open). */
typedef struct clgrad_build_stats {
    int programs;      /* programs built */
    int compiled;      /* of those, compiled from source */
    int loaded;        /* of those, loaded from the binary cache */
    int cache_rejects; /* cache entries found corrupt or refused by the driver */
    int cache_write_failures;
    double seconds;    /* wall time spent building all programs */
    char source_hash[65]; /* sha256 of all program sources as built */
} clgrad_build_stats;

typedef enum { CLGRAD_GEMM_OWN = 0, CLGRAD_GEMM_CLBLAST = 1 } clgrad_gemm_backend;
const char *clgrad_gemm_backend_name(clgrad_gemm_backend b);
/* "own" or "clblast" -> backend; -1 when unknown. */
int clgrad_gemm_backend_parse(const char *s);

/* Options for clgrad_open.  Zero-initialise, then set what you need.
** NULL strings mean: take the environment variable, else the default. */
typedef struct clgrad_open_opts {
    const char *cl_dir;    /* load cl/<file>.cl from here ($CLGRAD_CL_DIR) */
    const char *cache_dir; /* binary cache ($CLGRAD_CACHE_DIR, else XDG) */
    int no_cache;          /* 1: never read or write the binary cache ($CLGRAD_NO_CACHE=1) */
    int profiling;         /* 1: create the queue with profiling enabled */
    int kernel_profile;    /* 1: time every launch (serialises the queue; $CLGRAD_PROFILE=1) */
    const char *only;      /* build only these programs, e.g. "matmul.cl,reduce.cl" (tests) */
    /* NULL, or called for each kernel program just before it is built:
    ** index 1..total, its file name, and compiling = 1 when it is compiled
    ** from source (a cache miss: seconds per program on a CPU device), 0 when
    ** it is loaded from the binary cache.  The library itself prints nothing. */
    void (*on_build)(void *user, int index, int total, const char *program, int compiling);
    void *on_build_user;
    /* NULL, or the own GEMM's parameters as "key=value,..." over the built-in
    ** defaults, instead of $CLGRAD_TUNE, the tune file or the shipped table
    ** (clgrad/tune.h) */
    const char *gemm_tune;
    /* How long clgrad_finish and the blocking read-backs poll the queue before
    ** they sleep, in microseconds: 0 takes $CLGRAD_WAIT_SPIN_US, else 200;
    ** negative: sleep at once.  They poll only while the last wait ended
    ** within that time.  Polling (with sched_yield) saves the runtime's
    ** wake-up of the waiting thread: about 35 us per wait on PoCL, the half of
    ** a tiny MLP's step; longer waits would only take a core from a CPU
    ** device.  It never changes a result. */
    int wait_spin_us;
} clgrad_open_opts;

typedef struct clgrad_ctx clgrad_ctx;

/* A fresh, closed context: it holds only an error message.  NULL on OOM. */
clgrad_ctx *clgrad_ctx_new(void);
/* Release everything the context created (kernels, programs, queue, context). */
void clgrad_ctx_free(clgrad_ctx *ctx);
/* The message of the last failure ("" if none). */
const char *clgrad_errmsg(const clgrad_ctx *ctx);
/* Warnings that did not fail the call (cache trouble, fallbacks); "" if none. */
const char *clgrad_warnings(const clgrad_ctx *ctx);

/* Enumerate every platform and device.  The list stays owned by ctx. */
clgrad_status clgrad_devices(clgrad_ctx *ctx, const clgrad_device_info **list, int *n);
/* Resolve a device spec: "P:D", "cpu" | "gpu" | "accelerator", or a
** case-insensitive substring of the device or platform name.  NULL or "" means
** $CLGRAD_DEVICE, else the first GPU, else the first CPU, else the first
** device.  Unknown or ambiguous specs fail with a message listing devices. */
clgrad_status clgrad_device_find(clgrad_ctx *ctx, const char *spec, int *index);
/* Write the device table (as `clgrad devices` prints it) into a malloc'd string. */
char *clgrad_devices_table(const clgrad_device_info *list, int n);

/* Select a device, create the context and queue, build every kernel program
** (from the binary cache when it can). */
clgrad_status clgrad_open(clgrad_ctx *ctx, const char *device_spec, const clgrad_open_opts *opts);

/* Accessors, valid after clgrad_open. */
const clgrad_device_info *clgrad_device(const clgrad_ctx *ctx);
cl_context clgrad_cl_context(const clgrad_ctx *ctx);      /* borrowed */
cl_command_queue clgrad_queue(const clgrad_ctx *ctx);     /* borrowed */
const clgrad_build_stats *clgrad_build_info(const clgrad_ctx *ctx);
const char *clgrad_build_options(const clgrad_ctx *ctx);
/* The 1-D work-group size every program was built with (-DCLGRAD_WG): 256, or
** the largest power of two the device allows.  Reduction kernels that use
** local memory must be launched with exactly this local size. */
size_t clgrad_wg(const clgrad_ctx *ctx);
const char *clgrad_cache_dir(const clgrad_ctx *ctx);      /* "" when disabled */
/* The origin of each program's source: "embedded" or a file path. */
int clgrad_program_count(const clgrad_ctx *ctx);
const char *clgrad_program_name(const clgrad_ctx *ctx, int i);
const char *clgrad_program_origin(const clgrad_ctx *ctx, int i);
int clgrad_program_from_cache(const clgrad_ctx *ctx, int i);

void clgrad_set_gemm_backend(clgrad_ctx *ctx, clgrad_gemm_backend b);
clgrad_gemm_backend clgrad_get_gemm_backend(const clgrad_ctx *ctx);

/* Device buffers of floats.  `what` names the buffer in error messages. */
clgrad_status clgrad_buf_new(clgrad_ctx *ctx, size_t nfloats, const char *what, cl_mem *out);
void clgrad_buf_free(cl_mem *mem); /* releases and sets *mem = NULL; NULL-safe */
clgrad_status clgrad_buf_write(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, const float *src);
clgrad_status clgrad_buf_read(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, float *dst);
clgrad_status clgrad_buf_fill(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, float value);
clgrad_status clgrad_finish(clgrad_ctx *ctx);

/* Per-kernel time, when the context was opened with kernel_profile (or
** $CLGRAD_PROFILE=1): every launch waits for its own profiling event, so the
** queue is serialised and the totals add up to the device time (a CLBlast
** GEMM counts as the event CLBlast returns, its last kernel).  Writes a
** table (kernel, calls, total ms, mean us, share) sorted by total time;
** nothing when profiling is off. */
void clgrad_profile_print(const clgrad_ctx *ctx, FILE *out);

/* Self-check rows: each kernel family reports one or more checks. */
typedef void (*clgrad_check_fn)(void *user, const char *family, const char *what, int pass,
                                double max_err, double tol);

#ifdef __cplusplus
}
#endif
#endif
