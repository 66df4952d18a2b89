/*
** status.c: status codes, OpenCL error names, and the error and warning
** messages a context keeps (clgrad_errmsg, clgrad_warnings).
*/
#define _POSIX_C_SOURCE 200809L
#include "core/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *clgrad_status_name(clgrad_status st)
{
    switch (st) {
    case CLGRAD_OK: return "ok";
    case CLGRAD_E_NOMEM: return "out of host memory";
    case CLGRAD_E_CL: return "OpenCL error";
    case CLGRAD_E_BUILD: return "kernel build failed";
    case CLGRAD_E_NODEVICE: return "no such device";
    case CLGRAD_E_ARG: return "invalid argument";
    case CLGRAD_E_IO: return "I/O error";
    case CLGRAD_E_UNSUPPORTED: return "unsupported by the device";
    case CLGRAD_E_CONFIG: return "invalid configuration";
    }
    return "unknown status";
}

const char *clgrad_cl_error_name(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E(CL_INVALID_IMAGE_SIZE) E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: break;
    }
    static _Thread_local char buf[40];
    snprintf(buf, sizeof buf, "CL_UNKNOWN_ERROR(%d)", (int)err);
    return buf;
}

static char empty_[1] = "";

static void set_msg_(char **slot, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *m = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!m) return; /* keep the old message rather than lose everything */
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    if (*slot != empty_) free(*slot);
    *slot = m;
}

clgrad_status clgrad_fail(clgrad_ctx *ctx, clgrad_status st, const char *fmt, ...)
{
    if (!ctx) return st;
    va_list ap;
    va_start(ap, fmt);
    set_msg_(&ctx->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

clgrad_status clgrad_fail_cl(clgrad_ctx *ctx, cl_int err, const char *call, const char *file, int line)
{
    /* Keep only the function name of the call expression: "clFinish(q)" -> "clFinish". */
    size_t n = strcspn(call, "(");
    if (err == CL_OUT_OF_RESOURCES || err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
        err == CL_INVALID_BUFFER_SIZE)
        return clgrad_fail(ctx, CLGRAD_E_CL, "%.*s: %s (%s:%d); the device may be out of memory",
                           (int)n, call, clgrad_cl_error_name(err), file, line);
    return clgrad_fail(ctx, CLGRAD_E_CL, "%.*s: %s (%s:%d)", (int)n, call,
                       clgrad_cl_error_name(err), file, line);
}

void clgrad_warn(clgrad_ctx *ctx, const char *fmt, ...)
{
    if (!ctx) return;
    va_list ap;
    va_start(ap, fmt);
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t old = strlen(ctx->warnings), add = strlen(line);
    char *m = malloc(old + add + 2);
    if (!m) return;
    memcpy(m, ctx->warnings, old);
    memcpy(m + old, line, add);
    m[old + add] = '\n';
    m[old + add + 1] = '\0';
    if (ctx->warnings != empty_) free(ctx->warnings);
    ctx->warnings = m;
}

const char *clgrad_errmsg(const clgrad_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }
const char *clgrad_warnings(const clgrad_ctx *ctx) { return ctx ? ctx->warnings : ""; }

void clgrad_msgs_init_(clgrad_ctx *ctx)
{
    ctx->errmsg = empty_;
    ctx->warnings = empty_;
}
void clgrad_msgs_free_(clgrad_ctx *ctx)
{
    if (ctx->errmsg != empty_) free(ctx->errmsg);
    if (ctx->warnings != empty_) free(ctx->warnings);
    ctx->errmsg = ctx->warnings = empty_;
}

clgrad_status clgrad_failf(clgrad_status st, char *why, size_t nwhy, const char *fmt, ...)
{
    if (why && nwhy) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, nwhy, fmt, ap);
        va_end(ap);
    }
    return st;
}

double clgrad_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
