/*
** ctx.c: the context's life cycle (new, open, free), its accessors, device
** buffers and kernel launches.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "core/internal.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The own GEMM's kernel variants (clgrad_gemm_variant_t, core/internal.h): a
** context setting, chosen here, used by src/ops/gemm.c. */
static const char *const variant_names_[] = {"auto", "tiled", "simple", "vec", "packed", "direct"};

const char *clgrad_gemm_variant_name_(clgrad_gemm_variant_t v)
{
    return (unsigned)v < sizeof variant_names_ / sizeof *variant_names_ ? variant_names_[v] : "?";
}

int clgrad_gemm_set_variant(clgrad_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < sizeof variant_names_ / sizeof *variant_names_; i++)
        if (strcmp(name, variant_names_[i]) == 0) {
            ctx->gemm_variant = (clgrad_gemm_variant_t)i;
            return 0;
        }
    return -1;
}

clgrad_ctx *clgrad_ctx_new(void)
{
    clgrad_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    clgrad_msgs_init_(ctx);
    ctx->dev_index = -1;
    ctx->gemm_backend = CLGRAD_GEMM_OWN;
    return ctx;
}

static void close_(clgrad_ctx *ctx)
{
    if (ctx->queue) clFinish(ctx->queue);
    clgrad_programs_release(ctx);
    if (ctx->gemm_scratch) clReleaseMemObject(ctx->gemm_scratch);
    ctx->gemm_scratch = NULL;
    ctx->gemm_scratch_floats = 0;
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    ctx->queue = NULL;
    ctx->context = NULL;
    ctx->dev_index = -1;
}

void clgrad_ctx_free(clgrad_ctx *ctx)
{
    if (!ctx) return;
    close_(ctx);
    free(ctx->devices);
    free(ctx->prof);
    clgrad_msgs_free_(ctx);
    free(ctx);
}

static int env_true_(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0 && strcmp(v, "no") != 0;
}

clgrad_status clgrad_open(clgrad_ctx *ctx, const char *device_spec, const clgrad_open_opts *opts)
{
    clgrad_status st = CLGRAD_OK;
    int idx = -1;
    if (ctx->dev_index >= 0) return clgrad_fail(ctx, CLGRAD_E_ARG, "context is already open");
    CLGRAD_TRY(clgrad_device_find(ctx, device_spec, &idx));
    ctx->dev = ctx->devices[idx];
    char why[256];
    if (!clgrad_device_same_bits(&ctx->dev, why, sizeof why))
        clgrad_warn(ctx, "%s is outside clgrad's same-bits guarantee (%s): its results may differ in the last "
                    "bits from other devices'", ctx->dev.name, why);

    int no_cache = (opts && opts->no_cache) || env_true_("CLGRAD_NO_CACHE");
    ctx->cache_dir[0] = '\0';
    if (!no_cache) {
        if (opts && opts->cache_dir && *opts->cache_dir)
            snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", opts->cache_dir);
        else if (!clgrad_cache_dir_default(ctx->cache_dir, sizeof ctx->cache_dir))
            clgrad_warn(ctx, "kernel cache: no cache directory (set CLGRAD_CACHE_DIR or HOME); caching off");
        char why[1200];
        if (ctx->cache_dir[0] && !clgrad_cache_dir_trusted(ctx->cache_dir, why, sizeof why)) {
            clgrad_warn(ctx, "kernel cache: not using %s (%s); compiling the kernels", ctx->cache_dir, why);
            ctx->cache_dir[0] = '\0';
        }
    }

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        ctx->context = NULL;
        st = clgrad_fail_cl(ctx, err, "clCreateContext", __FILE__, __LINE__);
        goto fail;
    }
    /* the wait's polling: opts, else $CLGRAD_WAIT_SPIN_US (an integer), else 200 us */
    long spin = opts && opts->wait_spin_us ? opts->wait_spin_us : 200;
    const char *sv = getenv("CLGRAD_WAIT_SPIN_US");
    if (!(opts && opts->wait_spin_us) && sv && *sv) {
        char *end = NULL;
        long v = strtol(sv, &end, 10);
        if (*end == '\0' && v >= -1000000000L && v <= 1000000000L) spin = v;
        else clgrad_warn(ctx, "CLGRAD_WAIT_SPIN_US=%s is not an integer number of microseconds; ignored", sv);
    }
    ctx->wait_spin_s = spin > 0 ? 1e-6 * (double)spin : 0.0, ctx->last_wait_s = 0.0;
    int kprof = (opts && opts->kernel_profile) || env_true_("CLGRAD_PROFILE");
    cl_command_queue_properties qp = (opts && opts->profiling) || kprof ? CL_QUEUE_PROFILING_ENABLE : 0;
    free(ctx->prof);
    ctx->prof = NULL, ctx->nprof = ctx->prof_cap = 0;
    if (kprof) {
        ctx->prof = calloc(64, sizeof *ctx->prof);
        if (!ctx->prof) {
            st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
            goto fail;
        }
        ctx->prof_cap = 64;
    }
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device, qp, &err);
    if (err != CL_SUCCESS) {
        ctx->queue = NULL;
        st = clgrad_fail_cl(ctx, err, "clCreateCommandQueue", __FILE__, __LINE__);
        goto fail;
    }
    ctx->dev_index = idx;
    /* CLGRAD_GEMM_VARIANT=tiled|simple|vec forces the own GEMM kernel variant (comparisons) */
    const char *gv = getenv("CLGRAD_GEMM_VARIANT");
    if (gv && *gv && clgrad_gemm_set_variant(ctx, gv) != 0)
        clgrad_warn(ctx, "CLGRAD_GEMM_VARIANT=%s is not auto, tiled, simple, vec, packed or direct; ignored", gv);
    CLGRAD_TRY(clgrad_tune_resolve_(ctx, opts));
    ctx->clblast_tuned = 0;
    CLGRAD_TRY(clgrad_programs_build(ctx, opts));
    return CLGRAD_OK;
fail:
    close_(ctx);
    return st;
}

const clgrad_device_info *clgrad_device(const clgrad_ctx *ctx) { return &ctx->dev; }
cl_context clgrad_cl_context(const clgrad_ctx *ctx) { return ctx->context; }
cl_command_queue clgrad_queue(const clgrad_ctx *ctx) { return ctx->queue; }
const clgrad_build_stats *clgrad_build_info(const clgrad_ctx *ctx) { return &ctx->stats; }
const char *clgrad_build_options(const clgrad_ctx *ctx) { return ctx->build_options; }
size_t clgrad_wg(const clgrad_ctx *ctx) { return ctx->wg; }
const char *clgrad_cache_dir(const clgrad_ctx *ctx) { return ctx->cache_dir; }
void clgrad_set_gemm_backend(clgrad_ctx *ctx, clgrad_gemm_backend b) { ctx->gemm_backend = b; }
clgrad_gemm_backend clgrad_get_gemm_backend(const clgrad_ctx *ctx) { return ctx->gemm_backend; }

const char *clgrad_gemm_backend_name(clgrad_gemm_backend b) { return b == CLGRAD_GEMM_CLBLAST ? "clblast" : "own"; }
int clgrad_gemm_backend_parse(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "own") == 0) return CLGRAD_GEMM_OWN;
    if (strcmp(s, "clblast") == 0) return CLGRAD_GEMM_CLBLAST;
    return -1;
}

/* ---- buffers ---- */

clgrad_status clgrad_buf_new(clgrad_ctx *ctx, size_t nfloats, const char *what, cl_mem *out)
{
    *out = NULL;
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    if (nfloats > SIZE_MAX / sizeof(float))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "buffer %s: %zu floats overflow size_t", what, nfloats);
    if (bytes > ctx->dev.max_alloc)
        return clgrad_fail(ctx, CLGRAD_E_UNSUPPORTED,
                           "buffer %s needs %zu bytes (%.1f MiB), more than the device's largest allocation "
                           "(%.1f MiB) on %s",
                           what, bytes, bytes / 1048576.0, ctx->dev.max_alloc / 1048576.0, ctx->dev.name);
    cl_int err;
    *out = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return clgrad_fail(ctx, CLGRAD_E_CL, "clCreateBuffer: %s for buffer %s (%zu bytes, %.1f MiB) on %s",
                           clgrad_cl_error_name(err), what, bytes, bytes / 1048576.0, ctx->dev.name);
    }
    return CLGRAD_OK;
}

void clgrad_buf_free(cl_mem *mem)
{
    if (mem && *mem) {
        clReleaseMemObject(*mem);
        *mem = NULL;
    }
}

clgrad_status clgrad_buf_write(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, const float *src)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) return CLGRAD_OK;
    CLGRAD_CL_TRY(ctx, clEnqueueWriteBuffer(ctx->queue, mem, CL_TRUE, off * sizeof(float), n * sizeof(float),
                                            src, 0, NULL, NULL));
fail:
    return st;
}

clgrad_status clgrad_wait(clgrad_ctx *ctx, cl_event ev)
{
    const char *call = "clFlush";
    cl_int err = clFlush(ctx->queue);
    double t0 = clgrad_now();
    /* poll only while waits end within the polling time: a long wait (the device still busy for
    ** milliseconds) would keep a core the device may need (a CPU device) busy for nothing */
    if (err == CL_SUCCESS && ctx->wait_spin_s > 0 && ctx->last_wait_s <= ctx->wait_spin_s) {
        for (;;) {
            cl_int s = CL_QUEUED;
            err = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, NULL);
            if (err != CL_SUCCESS) call = "clGetEventInfo";
            if (err != CL_SUCCESS || s <= CL_COMPLETE || clgrad_now() - t0 > ctx->wait_spin_s) break; /* s < 0: failed */
            sched_yield();
        }
    }
    if (err == CL_SUCCESS) {
        call = "clWaitForEvents";
        err = clWaitForEvents(1, &ev);
    }
    ctx->last_wait_s = clgrad_now() - t0;
    if (err == CL_SUCCESS) return CLGRAD_OK;
    /* nothing may stay in flight: a read-back's host memory belongs to the caller once it returns */
    clFinish(ctx->queue);
    return clgrad_fail_cl(ctx, err, call, __FILE__, __LINE__);
}

clgrad_status clgrad_buf_read(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, float *dst)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) return CLGRAD_OK;
    cl_event ev = NULL;
    CLGRAD_CL_TRY(ctx, clEnqueueReadBuffer(ctx->queue, mem, CL_FALSE, off * sizeof(float), n * sizeof(float),
                                           dst, 0, NULL, &ev));
    st = clgrad_wait(ctx, ev);
    clReleaseEvent(ev);
fail:
    return st;
}

clgrad_status clgrad_buf_fill(clgrad_ctx *ctx, cl_mem mem, size_t off, size_t n, float value)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) return CLGRAD_OK;
    CLGRAD_CL_TRY(ctx, clEnqueueFillBuffer(ctx->queue, mem, &value, sizeof value, off * sizeof(float),
                                           n * sizeof(float), 0, NULL, NULL));
    ctx->enqueued++;
fail:
    return st;
}

clgrad_status clgrad_buf_copy(clgrad_ctx *ctx, cl_mem src, size_t soff, cl_mem dst, size_t doff, size_t n)
{
    clgrad_status st = CLGRAD_OK;
    if (n == 0) return CLGRAD_OK;
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(ctx->queue, src, dst, soff * sizeof(float), doff * sizeof(float),
                                           n * sizeof(float), 0, NULL, NULL));
    ctx->enqueued++;
fail:
    return st;
}

unsigned long long clgrad_enqueue_count(const clgrad_ctx *ctx) { return ctx->enqueued; }

clgrad_status clgrad_finish(clgrad_ctx *ctx)
{
    clgrad_status st = CLGRAD_OK;
    cl_event ev = NULL;
    CLGRAD_CL_TRY(ctx, clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &ev));
    st = clgrad_wait(ctx, ev);
    clReleaseEvent(ev);
fail:
    return st;
}

/* ---- launches ---- */

double clgrad_event_seconds(cl_event ev)
{
    cl_ulong t0 = 0, t1 = 0;
    if (clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) != CL_SUCCESS ||
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) != CL_SUCCESS || t1 < t0)
        return NAN;
    return 1e-9 * (double)(t1 - t0);
}

/* Add one launch's device time to the profile row of `name` (waits for ev). */
void clgrad_profile_add_(clgrad_ctx *ctx, const char *name, cl_event ev)
{
    double sec = clWaitForEvents(1, &ev) == CL_SUCCESS ? clgrad_event_seconds(ev) : NAN;
    if (isnan(sec)) return;
    int i = 0;
    while (i < ctx->nprof && strncmp(ctx->prof[i].name, name, sizeof ctx->prof[i].name - 1) != 0) i++;
    if (i == ctx->nprof) {
        if (ctx->nprof == ctx->prof_cap) {
            void *p = realloc(ctx->prof, 2 * (size_t)ctx->prof_cap * sizeof *ctx->prof);
            if (!p) return;
            ctx->prof = p, ctx->prof_cap *= 2;
        }
        memset(&ctx->prof[i], 0, sizeof ctx->prof[i]);
        snprintf(ctx->prof[i].name, sizeof ctx->prof[i].name, "%s", name);
        ctx->nprof++;
    }
    ctx->prof[i].calls++;
    ctx->prof[i].ns += 1e9 * sec;
}

static int prof_cmp_(const void *a, const void *b)
{
    double x = ((const struct clgrad_prof_row *)a)->ns, y = ((const struct clgrad_prof_row *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

void clgrad_profile_print(const clgrad_ctx *ctx, FILE *out)
{
    if (!ctx->prof || ctx->nprof == 0) return;
    struct clgrad_prof_row *r = malloc((size_t)ctx->nprof * sizeof *r);
    if (!r) return;
    memcpy(r, ctx->prof, (size_t)ctx->nprof * sizeof *r);
    qsort(r, (size_t)ctx->nprof, sizeof *r, prof_cmp_);
    double total = 0;
    long calls = 0;
    for (int i = 0; i < ctx->nprof; i++) total += r[i].ns, calls += r[i].calls;
    fprintf(out, "== kernel profile (device time from profiling events; launches serialised) ==\n");
    fprintf(out, "%-32s %9s %12s %11s %7s\n", "kernel", "calls", "total ms", "mean us", "share");
    for (int i = 0; i < ctx->nprof; i++)
        fprintf(out, "%-32s %9ld %12.3f %11.2f %6.1f%%\n", r[i].name, r[i].calls, r[i].ns * 1e-6,
                r[i].ns * 1e-3 / (double)r[i].calls, total > 0 ? 100.0 * r[i].ns / total : 0.0);
    fprintf(out, "%-32s %9ld %12.3f\n", "all", calls, total * 1e-6);
    free(r);
}

clgrad_status clgrad_launch(clgrad_ctx *ctx, cl_kernel k, const char *name, cl_uint dims, const size_t *global,
                            const size_t *local)
{
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, global, local, 0, NULL, ctx->prof ? &ev : NULL);
    ctx->enqueued++;
    if (ev) {
        if (err == CL_SUCCESS) clgrad_profile_add_(ctx, name, ev);
        clReleaseEvent(ev);
    }
    if (err == CL_SUCCESS) return CLGRAD_OK;
    return clgrad_fail(ctx, CLGRAD_E_CL, "clEnqueueNDRangeKernel(%s, global %zu x %zu, local %zu x %zu): %s", name,
                       global[0], dims > 1 ? global[1] : 1, local ? local[0] : 0,
                       local && dims > 1 ? local[1] : 0, clgrad_cl_error_name(err));
}

clgrad_status clgrad_launch1d(clgrad_ctx *ctx, cl_kernel k, const char *name, size_t n, size_t local)
{
    if (n == 0) return CLGRAD_OK;
    size_t g = n;
    if (local) g = (n + local - 1) / local * local;
    return clgrad_launch(ctx, k, name, 1, &g, local ? &local : NULL);
}

clgrad_status clgrad_launch_args(clgrad_ctx *ctx, const char *name, size_t n, const clgrad_karg *args, int nargs)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, name);
    if (!k) return CLGRAD_E_ARG;
    for (int i = 0; i < nargs; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    CLGRAD_TRY(clgrad_launch1d(ctx, k, name, n, 0));
fail:
    return st;
}
