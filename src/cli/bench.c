/*
** bench.c: `clgrad bench`: device limits (cl/bench.cl), GEMM throughput of
** both backends, training-step time of the reference models, start-up time
** (child processes), the JSON record and `--compare` of several records.
** What each figure means is documented in src/cli/bench.h.
**
** Timing rules: every timed unit ends with clFinish; a kernel's time comes
** from its profiling event when the queue has profiling on (else the host
** clock around the enqueue and clFinish); figures are medians of the timed
** repetitions after untimed warm-up ones.  Library functions never print:
** progress goes through opts->print; only clgrad_cli_bench writes to stdout.
*/
#include "core/internal.h"
#include "run/rundir.h"
#include "util/fsutil.h"
#include "util/sbuf.h"
#include "cli/bench.h"
#include "cli/opts.h"
#include "clgrad/clip.h"
#include "clgrad/gemm.h"
#include "clgrad/init.h"
#include "clgrad/optim.h"
#include "clgrad/report.h"
#include "check/testrng.h"
#include "clgrad/step.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MIB (1024.0 * 1024.0)

/* ---- small helpers ---------------------------------------------------------- */

static int cmp_double_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts them in place); NaN for n == 0. */
static double median_(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double_);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double min_of_(const double *v, int n)
{
    double m = INFINITY;
    for (int i = 0; i < n; i++) m = v[i] < m ? v[i] : m;
    return n ? m : NAN;
}

static double max_of_(const double *v, int n)
{
    double m = -INFINITY;
    for (int i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return n ? m : NAN;
}

/* One progress line to o->print (none without one). */
#define say_(o, ...) clgrad_sb_line((o) ? (o)->print : NULL, (o) ? (o)->user : NULL, __VA_ARGS__)

/* Does the context's queue record profiling information? */
static int has_events_(clgrad_ctx *ctx)
{
    cl_command_queue_properties p = 0;
    if (clGetCommandQueueInfo(clgrad_queue(ctx), CL_QUEUE_PROPERTIES, sizeof p, &p, NULL) != CL_SUCCESS) return 0;
    return (p & CL_QUEUE_PROFILING_ENABLE) != 0;
}

static int is_gpu_(clgrad_ctx *ctx)
{
    return (clgrad_device(ctx)->cl_type & CL_DEVICE_TYPE_GPU) != 0;
}

/* ---- reference models ------------------------------------------------------------ */

#define ALWAYS_ CLGRAD_BENCH_RUN_ALWAYS
#define FULL_ CLGRAD_BENCH_RUN_FULL
#define GPU_ CLGRAD_BENCH_RUN_GPU
static const clgrad_bench_model models_[] = {
    {"tiny", "MLP 4x64 tanh, batch 32, CE", CLGRAD_MODEL_MLP, 4, 64, 32, 64, 1, 10, CLGRAD_LOSS_CE, ALWAYS_},
    {"medium", "MLP 16x256 tanh, batch 128, CE", CLGRAD_MODEL_MLP, 16, 256, 128, 256, 1, 10, CLGRAD_LOSS_CE, ALWAYS_},
    {"large", "MLP 16x1024 tanh, batch 512, CE", CLGRAD_MODEL_MLP, 16, 1024, 512, 1024, 1, 10, CLGRAD_LOSS_CE, FULL_},
    {"rnn", "RNN H128 T100 tanh, batch 64, MSE", CLGRAD_MODEL_RNN, 1, 128, 64, 2, 100, 1, CLGRAD_LOSS_MSE, ALWAYS_},
    {"lstm", "LSTM H128 T50, batch 64, MSE", CLGRAD_MODEL_LSTM, 1, 128, 64, 2, 50, 1, CLGRAD_LOSS_MSE, ALWAYS_},
    {"gru", "GRU H128 T50, batch 64, MSE", CLGRAD_MODEL_GRU, 1, 128, 64, 2, 50, 1, CLGRAD_LOSS_MSE, ALWAYS_},
    {"xl", "MLP 16x4096 tanh, batch 4096, CE", CLGRAD_MODEL_MLP, 16, 4096, 4096, 4096, 1, 10, CLGRAD_LOSS_CE, GPU_},
};
#define NMODELS ((int)(sizeof models_ / sizeof models_[0]))

int clgrad_bench_model_count(void) { return NMODELS; }
const clgrad_bench_model *clgrad_bench_model_at(int i) { return i >= 0 && i < NMODELS ? &models_[i] : NULL; }

const clgrad_bench_model *clgrad_bench_model_find(const char *name)
{
    for (int i = 0; name && i < NMODELS; i++)
        if (strcmp(models_[i].name, name) == 0) return &models_[i];
    return NULL;
}

/* Gates per recurrent cell (the GEMM widths of the recurrent models); 1 for the MLP. */
static size_t gates_(const clgrad_bench_model *bm)
{
    return bm->kind == CLGRAD_MODEL_LSTM ? 4 : bm->kind == CLGRAD_MODEL_GRU ? 3 : 1;
}

int clgrad_bench_model_default(const clgrad_bench_model *bm, int quick, int gpu)
{
    return bm->run == CLGRAD_BENCH_RUN_ALWAYS || (!quick && (bm->run == CLGRAD_BENCH_RUN_FULL || gpu));
}

/* Is model bm in o->models (a comma-separated list), or with none given, in the default set? */
static int model_wanted_(const clgrad_bench_opts *o, const clgrad_bench_model *bm, int gpu)
{
    const char *list = o->models, *name = bm->name;
    if (!list) return clgrad_bench_model_default(bm, o->quick, gpu);
    size_t nl = strlen(name);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == nl && strncmp(p, name, l) == 0) return 1;
        p += l;
        if (*p == ',') p++;
    }
    return 0;
}

/* ---- device limits ------------------------------------------------------------------ */

typedef clgrad_status (*launch_fn)(clgrad_ctx *ctx, void *arg, cl_event *ev);

/* Run one launch to completion: its event time when events is set (falling
** back to the host clock), else the host clock around enqueue + clFinish. */
static clgrad_status time_launch_(clgrad_ctx *ctx, launch_fn fn, void *arg, int events, double *sec)
{
    clgrad_status st = CLGRAD_OK;
    cl_event ev = NULL;
    double t0 = clgrad_now();
    CLGRAD_TRY(fn(ctx, arg, events ? &ev : NULL));
    CLGRAD_TRY(clgrad_finish(ctx));
    *sec = clgrad_now() - t0;
    if (ev) {
        double e = clgrad_event_seconds(ev);
        if (e > 0) *sec = e;
    }
fail:
    if (ev) clReleaseEvent(ev);
    return st;
}

typedef struct {
    int variant;
    size_t n;
    cl_mem out;
    int iters;
} peak_arg_;

static clgrad_status peak_launch_(clgrad_ctx *ctx, void *arg, cl_event *ev)
{
    peak_arg_ *p = arg;
    return clgrad_bench_peak(ctx, p->variant, p->n, p->out, 0, 0.999f, 0.001f, p->iters, ev);
}

static double peak_flops_(const peak_arg_ *p)
{
    return 2.0 * clgrad_bench_peak_chains(p->variant) * CLGRAD_BENCH_UNROLL * (double)p->iters *
           (double)clgrad_bench_peak_width(p->variant) * (double)p->n;
}

typedef struct {
    int triad;
    cl_mem a, b, c;
    size_t n;
} mem_arg_;

static clgrad_status mem_launch_(clgrad_ctx *ctx, void *arg, cl_event *ev)
{
    mem_arg_ *p = arg;
    if (p->triad) return clgrad_bench_triad(ctx, p->a, 0, p->b, 0, p->c, 0, 3.0f, p->n, ev);
    return clgrad_bench_copy(ctx, p->b, 0, p->a, 0, p->n, ev);
}

static clgrad_status limits_peak_(clgrad_ctx *ctx, int quick, int reps, clgrad_bench_limits *L)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_device_info *d = clgrad_device(ctx);
    size_t n = (size_t)(d->compute_units ? d->compute_units : 1) * 4096; /* work-items of every variant */
    double target = quick ? 0.02 : 0.2; /* seconds per timed launch */
    cl_mem out = NULL;
    double *t = calloc((size_t)reps, sizeof *t);
    if (!t) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    CLGRAD_TRY(clgrad_buf_new(ctx, n * 16, "bench peak output", &out));
    L->peak_items = n;
    L->fp32_peak_gflops = 0;
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++) {
        peak_arg_ p = {v, n, out, 4};
        double s = 0;
        CLGRAD_TRY(time_launch_(ctx, peak_launch_, &p, L->events, &s)); /* also the warm-up */
        /* calibrate: grow iters until one launch takes about `target` */
        while (s < target / 2 && p.iters < (1 << 22)) {
            double f = s > 0 ? target / s : 16;
            f = f > 16 ? 16 : f < 2 ? 2 : f;
            p.iters = (int)((double)p.iters * f);
            CLGRAD_TRY(time_launch_(ctx, peak_launch_, &p, L->events, &s));
        }
        for (int r = 0; r < reps; r++) {
            CLGRAD_TRY(time_launch_(ctx, peak_launch_, &p, L->events, &t[r]));
            t[r] = peak_flops_(&p) / t[r] * 1e-9;
        }
        L->peak_best_gflops[v] = max_of_(t, reps);
        L->peak_gflops[v] = median_(t, reps);
        if (L->peak_gflops[v] > L->fp32_peak_gflops)
            L->fp32_peak_gflops = L->peak_gflops[v], L->peak_iters = p.iters, L->peak_variant = v;
    }
fail:
    clgrad_buf_free(&out);
    free(t);
    return st;
}

static clgrad_status limits_mem_(clgrad_ctx *ctx, const clgrad_bench_opts *o, int reps, clgrad_bench_limits *L)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_device_info *d = clgrad_device(ctx);
    size_t bytes = o->mem_bytes ? o->mem_bytes : (size_t)(o->quick ? 16 * MIB : 128 * MIB);
    if (!o->mem_bytes) {
        if (bytes > d->max_alloc / 2) bytes = (size_t)(d->max_alloc / 2);
        if (bytes > d->global_mem / 8) bytes = (size_t)(d->global_mem / 8);
    }
    size_t n = bytes / sizeof(float);
    if (n < 4) n = 4;
    mem_arg_ p = {0, NULL, NULL, NULL, n};
    double *tc = calloc((size_t)reps, sizeof *tc), *tt = calloc((size_t)reps, sizeof *tt), s;
    if (!tc || !tt) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    L->mem_bytes = n * sizeof(float);
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "bench bandwidth a", &p.a));
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "bench bandwidth b", &p.b));
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "bench bandwidth c", &p.c));
    CLGRAD_TRY(clgrad_buf_fill(ctx, p.a, 0, n, 1.0f));
    CLGRAD_TRY(clgrad_buf_fill(ctx, p.b, 0, n, 2.0f));
    CLGRAD_TRY(clgrad_buf_fill(ctx, p.c, 0, n, 0.5f));
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up; copy and triad alternate */
        p.triad = 0;
        CLGRAD_TRY(time_launch_(ctx, mem_launch_, &p, L->events, &s));
        if (r >= 0) tc[r] = 2.0 * (double)n * sizeof(float) / s * 1e-9;
        p.triad = 1;
        CLGRAD_TRY(time_launch_(ctx, mem_launch_, &p, L->events, &s));
        if (r >= 0) tt[r] = 3.0 * (double)n * sizeof(float) / s * 1e-9;
    }
    L->best_copy_gbps = max_of_(tc, reps);
    L->best_triad_gbps = max_of_(tt, reps);
    L->copy_gbps = median_(tc, reps);
    L->triad_gbps = median_(tt, reps);
    L->mem_gbps = L->copy_gbps > L->triad_gbps ? L->copy_gbps : L->triad_gbps;
fail:
    clgrad_buf_free(&p.a), clgrad_buf_free(&p.b), clgrad_buf_free(&p.c);
    free(tc), free(tt);
    return st;
}

static clgrad_status limits_launch_(clgrad_ctx *ctx, int quick, clgrad_bench_limits *L)
{
    clgrad_status st = CLGRAD_OK;
    int nrt = quick ? 20 : 200, npipe = quick ? 100 : 1000;
    cl_mem p = NULL;
    double *t = calloc((size_t)nrt, sizeof *t), tp[3];
    if (!t) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    CLGRAD_TRY(clgrad_buf_new(ctx, 1, "bench empty", &p));
    for (int r = 0; r < 5; r++) CLGRAD_TRY(clgrad_bench_empty(ctx, p, NULL));
    CLGRAD_TRY(clgrad_finish(ctx));
    for (int r = 0; r < nrt; r++) {
        double t0 = clgrad_now();
        CLGRAD_TRY(clgrad_bench_empty(ctx, p, NULL));
        CLGRAD_TRY(clgrad_finish(ctx));
        t[r] = (clgrad_now() - t0) * 1e6;
    }
    L->launch_us = median_(t, nrt);
    for (int r = 0; r < 3; r++) {
        double t0 = clgrad_now();
        for (int i = 0; i < npipe; i++) CLGRAD_TRY(clgrad_bench_empty(ctx, p, NULL));
        CLGRAD_TRY(clgrad_finish(ctx));
        tp[r] = (clgrad_now() - t0) * 1e6 / npipe;
    }
    L->launch_pipelined_us = median_(tp, 3);
fail:
    clgrad_buf_free(&p);
    free(t);
    return st;
}

static clgrad_status limits_xfer_(clgrad_ctx *ctx, const clgrad_bench_opts *o, int reps, clgrad_bench_limits *L)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_device_info *d = clgrad_device(ctx);
    size_t bytes = o->xfer_bytes ? o->xfer_bytes : (size_t)(o->quick ? 8 * MIB : 64 * MIB);
    if (!o->xfer_bytes && bytes > d->max_alloc / 2) bytes = (size_t)(d->max_alloc / 2);
    size_t n = bytes / sizeof(float);
    if (n < 1) n = 1;
    cl_mem m = NULL;
    float *h = malloc(n * sizeof *h);
    double *tw = calloc((size_t)reps, sizeof *tw), *tr = calloc((size_t)reps, sizeof *tr);
    if (!h || !tw || !tr) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) h[i] = (float)(i & 1023);
    L->xfer_bytes = n * sizeof(float);
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "bench transfer", &m));
    for (int r = -1; r < reps; r++) {
        double t0 = clgrad_now();
        CLGRAD_TRY(clgrad_buf_write(ctx, m, 0, n, h));
        double t1 = clgrad_now();
        CLGRAD_TRY(clgrad_buf_read(ctx, m, 0, n, h));
        double t2 = clgrad_now();
        if (r >= 0) tw[r] = (double)L->xfer_bytes / (t1 - t0) * 1e-9, tr[r] = (double)L->xfer_bytes / (t2 - t1) * 1e-9;
    }
    L->h2d_gbps = median_(tw, reps);
    L->d2h_gbps = median_(tr, reps);
fail:
    clgrad_buf_free(&m);
    free(h), free(tw), free(tr);
    return st;
}

static int limit_reps_(const clgrad_bench_opts *o)
{
    return o->reps > 0 ? o->reps : o->quick ? 3 : 10;
}

clgrad_status clgrad_bench_limits_measure(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_limits *out)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_bench_opts dflt = {0};
    const clgrad_bench_opts *o = opts ? opts : &dflt;
    int reps = limit_reps_(o);
    memset(out, 0, sizeof *out);
    out->events = has_events_(ctx);
    out->reps = reps;
    CLGRAD_TRY(limits_peak_(ctx, o->quick, reps, out));
    char all[512];
    int w = 0;
    for (int v = 0; v < CLGRAD_BENCH_NPEAK && w >= 0 && (size_t)w < sizeof all; v++)
        w += snprintf(all + w, sizeof all - (size_t)w, "%s%s %.1f", v ? ", " : "", clgrad_bench_peak_name(v),
                      out->peak_gflops[v]);
    say_(o, "fp32 peak          %10.1f GFLOP/s   (best: %s, %d chains of float%d; medians: %s)", out->fp32_peak_gflops,
         clgrad_bench_peak_name(out->peak_variant), clgrad_bench_peak_chains(out->peak_variant),
         clgrad_bench_peak_width(out->peak_variant), all);
    CLGRAD_TRY(limits_mem_(ctx, o, reps, out));
    say_(o, "memory bandwidth   %10.1f GB/s      (copy %.1f, triad %.1f; %.0f MiB buffers)", out->mem_gbps,
         out->copy_gbps, out->triad_gbps, (double)out->mem_bytes / MIB);
    CLGRAD_TRY(limits_launch_(ctx, o->quick, out));
    say_(o, "launch latency     %10.1f us        (enqueue + wait (clgrad_finish) of an empty kernel; back-to-back %.1f us)",
         out->launch_us, out->launch_pipelined_us);
    CLGRAD_TRY(limits_xfer_(ctx, o, reps, out));
    say_(o, "host -> device     %10.2f GB/s      (device -> host %.2f GB/s; %.0f MiB, pageable memory)",
         out->h2d_gbps, out->d2h_gbps, (double)out->xfer_bytes / MIB);
fail:
    return st;
}

/* ---- GEMM ------------------------------------------------------------------------------ */

/* Time up to `reps` calls of each backend in be[0..nb), interleaved call by
** call after one warm-up call each; stops once every backend has 3 timed calls
** and the loop has run for budget_s * nb (budget_s <= 0: no limit).  A
** backend that fails gets err[b] (the context's message) and drops out. */
static clgrad_status gemm_measure_(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, int nb,
                                   const clgrad_gemm_backend *be, int reps, double budget_s, double *med, double *best,
                                   int *done, char (*err)[256])
{
    clgrad_status st = CLGRAD_OK;
    size_t na = M * K, nbb = K * N, nc = M * N;
    cl_mem A = NULL, B = NULL, C = NULL;
    float *h = malloc((na > nbb ? na : nbb) * sizeof *h);
    double *t = calloc((size_t)(nb * reps), sizeof *t);
    int alive[2] = {1, 1};
    clgrad_gemm_backend saved = clgrad_get_gemm_backend(ctx);
    if (!h || !t) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, na, "bench gemm A", &A));
    CLGRAD_TRY(clgrad_buf_new(ctx, nbb, "bench gemm B", &B));
    CLGRAD_TRY(clgrad_buf_new(ctx, nc, "bench gemm C", &C));
    clgrad_testrng rng = {M * 7919u + N * 31u + K};
    for (size_t i = 0; i < na; i++) h[i] = clgrad_testrng_uniform(&rng, -1, 1);
    CLGRAD_TRY(clgrad_buf_write(ctx, A, 0, na, h));
    for (size_t i = 0; i < nbb; i++) h[i] = clgrad_testrng_uniform(&rng, -1, 1);
    CLGRAD_TRY(clgrad_buf_write(ctx, B, 0, nbb, h));
    size_t lda = ta ? M : K, ldb = tb ? K : N;
    double t_start = 0;
    for (int b = 0; b < nb; b++) done[b] = 0, err[b][0] = '\0', med[b] = best[b] = NAN;
    for (int r = -1; r < reps; r++) {
        if (r == 0) t_start = clgrad_now();
        int any = 0;
        for (int b = 0; b < nb; b++) {
            if (!alive[b]) continue;
            clgrad_set_gemm_backend(ctx, be[b]);
            double t0 = clgrad_now();
            clgrad_status s = clgrad_gemm(ctx, ta, tb, M, N, K, 1.0f, A, 0, lda, B, 0, ldb, 0.0f, C, 0, N);
            if (s == CLGRAD_OK) s = clgrad_finish(ctx);
            if (s != CLGRAD_OK) {
                snprintf(err[b], 256, "%s", clgrad_errmsg(ctx));
                alive[b] = 0;
                clFinish(clgrad_queue(ctx));
                continue;
            }
            any = 1;
            if (r >= 0) t[b * reps + done[b]++] = clgrad_now() - t0;
        }
        if (!any) break;
        int min_done = reps;
        for (int b = 0; b < nb; b++)
            if (alive[b] && done[b] < min_done) min_done = done[b];
        if (budget_s > 0 && r >= 0 && min_done >= 3 && clgrad_now() - t_start > budget_s * nb) break;
    }
    for (int b = 0; b < nb; b++)
        if (done[b] > 0) {
            best[b] = min_of_(t + b * reps, done[b]);
            med[b] = median_(t + b * reps, done[b]);
        }
fail:
    clgrad_set_gemm_backend(ctx, saved);
    clgrad_buf_free(&A), clgrad_buf_free(&B), clgrad_buf_free(&C);
    free(h), free(t);
    return st;
}

clgrad_status clgrad_bench_gemm_time(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K,
                                     clgrad_gemm_backend backend, int reps, double budget_s, double *median_s,
                                     double *best_s, int *done)
{
    char err[1][256];
    if (reps < 1 || M == 0 || N == 0 || K == 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "bench gemm: reps %d, M %zu, N %zu, K %zu must be positive", reps, M, N, K);
    clgrad_status st = gemm_measure_(ctx, ta, tb, M, N, K, 1, &backend, reps, budget_s, median_s, best_s, done, err);
    if (st == CLGRAD_OK && err[0][0]) st = clgrad_fail(ctx, CLGRAD_E_CL, "%s", err[0]);
    return st;
}

/* ---- training steps --------------------------------------------------------------------- */

/* One reference model set up for stepping through clgrad_step_* (include/clgrad/step.h),
** the step `clgrad run` takes: SGD with momentum 0.9, global-norm clipping at 1, no noise. */
typedef struct {
    const clgrad_bench_model *bm;
    clgrad_model *m;
    clgrad_optim_cfg optim;
    clgrad_step_plan plan;
    size_t ndata, np;
    cl_mem x, y, idx, xb, yb, dlogits, state, prev, mbuf;
} trainer_;

static void trainer_free_(trainer_ *t)
{
    cl_mem *b[] = {&t->x, &t->y, &t->idx, &t->xb, &t->yb, &t->dlogits, &t->state, &t->prev, &t->mbuf};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) clgrad_buf_free(b[i]);
    clgrad_model_free(t->m);
    t->m = NULL;
}

/* Parameters from PyTorch's nn.Linear default, optimizer state and the metrics block (divergence record) zeroed. */
static clgrad_status trainer_reset_(clgrad_ctx *ctx, trainer_ *t)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_init_cfg w = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    CLGRAD_TRY(clgrad_model_init(ctx, t->m, &w, &w, 20240601u));
    CLGRAD_TRY(clgrad_buf_fill(ctx, t->state, 0, t->np, 0.0f));
    CLGRAD_TRY(clgrad_buf_fill(ctx, t->mbuf, 0, t->plan.L.size, 0.0f));
fail:
    return st;
}

/* Synthetic data on the device: features U(-1, 1); CE class ids, MSE targets U(-1, 1); a fixed order. */
static clgrad_status trainer_data_(clgrad_ctx *ctx, trainer_ *t, size_t row, size_t K)
{
    clgrad_status st = CLGRAD_OK;
    size_t nx = t->ndata * row;
    float *h = malloc(nx * sizeof *h);
    uint32_t *perm = malloc(t->ndata * sizeof *perm);
    if (!h || !perm) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    clgrad_testrng rng = {0x5eed0000u + t->np};
    for (size_t i = 0; i < nx; i++) h[i] = clgrad_testrng_uniform(&rng, -1, 1);
    CLGRAD_TRY(clgrad_buf_new(ctx, nx, "bench features", &t->x));
    CLGRAD_TRY(clgrad_buf_write(ctx, t->x, 0, nx, h));
    for (size_t i = 0; i < t->ndata; i++)
        h[i] = t->bm->loss == CLGRAD_LOSS_CE ? (float)(clgrad_testrng_next(&rng) % K) : clgrad_testrng_uniform(&rng, -1, 1);
    CLGRAD_TRY(clgrad_buf_new(ctx, t->ndata, "bench targets", &t->y));
    CLGRAD_TRY(clgrad_buf_write(ctx, t->y, 0, t->ndata, h));
    for (size_t i = 0; i < t->ndata; i++) perm[i] = (uint32_t)i;
    for (size_t i = t->ndata; i > 1; i--) {
        size_t j = (size_t)(clgrad_testrng_next(&rng) % i);
        uint32_t s = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = s;
    }
    cl_int err;
    t->idx = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_WRITE, t->ndata * sizeof(uint32_t), NULL, &err);
    CLGRAD_CL_TRY(ctx, err);
    CLGRAD_CL_TRY(ctx, clEnqueueWriteBuffer(clgrad_queue(ctx), t->idx, CL_TRUE, 0, t->ndata * sizeof(uint32_t), perm, 0,
                                            NULL, NULL));
fail:
    free(h);
    free(perm);
    return st;
}

static clgrad_status trainer_setup_(clgrad_ctx *ctx, const clgrad_bench_model *bm, trainer_ *t)
{
    clgrad_status st = CLGRAD_OK;
    long hidden[64];
    clgrad_act acts[64];
    memset(t, 0, sizeof *t);
    t->bm = bm;
    for (int i = 0; i < bm->depth && i < 64; i++) hidden[i] = (long)bm->width, acts[i] = CLGRAD_ACT_TANH;
    clgrad_model_spec ms = {0};
    ms.kind = bm->kind;
    ms.in = bm->in;
    ms.seq_len = bm->seq_len;
    ms.out = bm->out;
    ms.nhidden = bm->depth;
    ms.hidden = hidden;
    ms.acts = acts;
    ms.bias = 1;
    ms.layers = 1;
    ms.forget_bias = NAN;
    ms.max_batch = bm->batch;
    CLGRAD_TRY(clgrad_model_create(ctx, &ms, &t->m));
    size_t B = bm->batch, row = bm->in * bm->seq_len, K = bm->out;
    t->ndata = 4 * B;
    t->np = clgrad_model_nparams(t->m);
    t->optim = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    t->optim.lr = 0.01;
    t->optim.momentum = 0.9;
    CLGRAD_TRY(trainer_data_(ctx, t, row, K));
    clgrad_step_plan *p = &t->plan;
    clgrad_metrics_layout_init(&p->L, (size_t)clgrad_model_ntensors(t->m), clgrad_model_metrics_size(t->m), 0);
    CLGRAD_TRY(clgrad_buf_new(ctx, B * row, "bench batch features", &t->xb));
    CLGRAD_TRY(clgrad_buf_new(ctx, B, "bench batch targets", &t->yb));
    CLGRAD_TRY(clgrad_buf_new(ctx, B * K, "bench logit gradients", &t->dlogits));
    CLGRAD_TRY(clgrad_buf_new(ctx, t->np * clgrad_optim_state_floats(&t->optim), "bench optimizer state", &t->state));
    CLGRAD_TRY(clgrad_buf_new(ctx, t->np, "bench previous parameters", &t->prev));
    CLGRAD_TRY(clgrad_buf_new(ctx, p->L.size, "bench metrics block", &t->mbuf));
    p->m = t->m, p->loss = bm->loss, p->optim = &t->optim, p->row = row, p->K = K;
    p->x = t->x, p->y = t->y, p->idx = t->idx, p->xb = t->xb, p->yb = t->yb, p->dlogits = t->dlogits;
    p->state = t->state, p->prev = t->prev, p->mbuf = t->mbuf;
    p->seed = 1, p->clip = CLGRAD_CLIP_GLOBAL_NORM, p->max_norm = 1.0f;
    p->norm_type = CLGRAD_NORM_L2, p->policy = CLGRAD_NONFINITE_PROPAGATE;
    CLGRAD_TRY(trainer_reset_(ctx, t));
fail:
    return st;
}

/* Training step `step` (1-based) of `clgrad run`'s kind, not a log step: nothing waits. */
static clgrad_status trainer_step_(clgrad_ctx *ctx, trainer_ *t, long step)
{
    clgrad_status st = CLGRAD_OK;
    size_t pos = (size_t)((step - 1) % 4) * t->bm->batch;
    CLGRAD_TRY(clgrad_step_grads(ctx, &t->plan, step, pos, t->bm->batch, 0.0f, 0));
    CLGRAD_TRY(clgrad_step_update(ctx, &t->plan, step, t->optim.lr));
fail:
    return st;
}

static clgrad_status train_loop_(clgrad_ctx *ctx, trainer_ *t, int warmup, int steps, double budget_s, double *times,
                                 int *n)
{
    clgrad_status st = CLGRAD_OK;
    long step = 1;
    *n = 0;
    for (int i = 0; i < warmup; i++) CLGRAD_TRY(trainer_step_(ctx, t, step++));
    CLGRAD_TRY(clgrad_finish(ctx));
    double t_start = clgrad_now();
    for (int i = 0; i < steps; i++) {
        double t0 = clgrad_now();
        CLGRAD_TRY(trainer_step_(ctx, t, step++));
        CLGRAD_TRY(clgrad_finish(ctx));
        double t1 = clgrad_now();
        times[(*n)++] = t1 - t0;
        if (budget_s > 0 && *n >= 3 && t1 - t_start > budget_s) break;
    }
fail:
    return st;
}

clgrad_status clgrad_bench_train_time(clgrad_ctx *ctx, const clgrad_bench_model *model, clgrad_gemm_backend backend,
                                      int warmup, int steps, double budget_s, size_t *params, double **times, int *n)
{
    clgrad_status st = CLGRAD_OK;
    trainer_ t;
    memset(&t, 0, sizeof t);
    clgrad_gemm_backend saved = clgrad_get_gemm_backend(ctx);
    *times = NULL, *n = 0;
    if (!model || steps < 1 || warmup < 0)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "bench train: a model, steps >= 1 and warmup >= 0 are needed");
    *times = calloc((size_t)steps, sizeof **times);
    if (!*times) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    clgrad_set_gemm_backend(ctx, backend);
    CLGRAD_TRY(trainer_setup_(ctx, model, &t));
    if (params) *params = t.np;
    CLGRAD_TRY(train_loop_(ctx, &t, warmup, steps, budget_s, *times, n));
fail:
    clgrad_set_gemm_backend(ctx, saved);
    if (st != CLGRAD_OK) clFinish(clgrad_queue(ctx));
    trainer_free_(&t);
    return st;
}

/* A log step as `clgrad run` takes it at log_every = 1 (no histograms): the step with the batch accuracy,
** the per-layer figures, the update, the parameter and update statistics, one read-back of the block:
** blocking when wait, else enqueued without waiting, as `clgrad run` takes it with its metrics read back late
** (clgrad_run_opts.metrics_lag). */
static clgrad_status trainer_log_step_(clgrad_ctx *ctx, trainer_ *t, long step, float *mhost, int wait)
{
    clgrad_status st = CLGRAD_OK;
    size_t pos = (size_t)((step - 1) % 4) * t->bm->batch;
    CLGRAD_TRY(clgrad_step_grads(ctx, &t->plan, step, pos, t->bm->batch, 0.0f, CLGRAD_STEP_LOG));
    CLGRAD_TRY(clgrad_step_log_update(ctx, &t->plan, t->bm->batch, step, t->optim.lr));
    if (wait) CLGRAD_TRY(clgrad_buf_read(ctx, t->mbuf, 0, t->plan.L.size, mhost));
    else
        CLGRAD_CL_TRY(ctx, clEnqueueReadBuffer(clgrad_queue(ctx), t->mbuf, CL_FALSE, 0, t->plan.L.size * sizeof *mhost,
                                               mhost, 0, NULL, NULL));
fail:
    return st;
}

/* ms per step of n steps enqueued back to back (log steps with their read-backs, or plain ones), one wait. */
static clgrad_status piped_block_(clgrad_ctx *ctx, trainer_ *t, long *step, int n, int log, float *mhost, double *ms)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(clgrad_finish(ctx));
    double t0 = clgrad_now();
    for (int i = 0; i < n; i++) {
        if (log) CLGRAD_TRY(trainer_log_step_(ctx, t, (*step)++, mhost, 0));
        else CLGRAD_TRY(trainer_step_(ctx, t, (*step)++));
    }
    CLGRAD_TRY(clgrad_finish(ctx));
    *ms = 1e3 * (clgrad_now() - t0) / n;
fail:
    return st;
}

clgrad_status clgrad_bench_train_extras(clgrad_ctx *ctx, const clgrad_bench_model *model, clgrad_gemm_backend backend,
                                        int steps, double *launches, double *log_pct, double *log_block_pct,
                                        double *piped_ms)
{
    clgrad_status st = CLGRAD_OK;
    trainer_ t;
    memset(&t, 0, sizeof t);
    clgrad_gemm_backend saved = clgrad_get_gemm_backend(ctx);
    float *mhost = NULL;
    double *tp = calloc((size_t)steps + 1, sizeof *tp), *tl = calloc((size_t)steps + 1, sizeof *tl);
    *launches = *log_pct = *log_block_pct = *piped_ms = NAN;
    clgrad_set_gemm_backend(ctx, backend);
    CLGRAD_TRY(trainer_setup_(ctx, model, &t));
    mhost = malloc(t.plan.L.size * sizeof *mhost);
    if (!tp || !tl || !mhost) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    long step = 1;
    CLGRAD_TRY(trainer_log_step_(ctx, &t, step++, mhost, 1)); /* warm-up: first launches */
    unsigned long long n0 = clgrad_enqueue_count(ctx);
    CLGRAD_TRY(trainer_step_(ctx, &t, step++));
    *launches = (double)(clgrad_enqueue_count(ctx) - n0);
    for (int i = 0; i < steps; i++) {
        CLGRAD_TRY(clgrad_finish(ctx));
        double t0 = clgrad_now();
        CLGRAD_TRY(trainer_step_(ctx, &t, step++));
        CLGRAD_TRY(clgrad_finish(ctx));
        double t1 = clgrad_now();
        CLGRAD_TRY(trainer_log_step_(ctx, &t, step++, mhost, 1)); /* ends with a blocking read */
        tp[i] = t1 - t0, tl[i] = clgrad_now() - t1;
    }
    double mp = median_(tp, steps);
    *log_block_pct = 100.0 * (median_(tl, steps) - mp) / mp;
    /* back to back: 3 rounds of a block of plain steps then one of log steps (medians) */
    int nb = steps < 9 ? 3 : (steps + 2) / 3;
    double bp[3], bl[3];
    for (int r = 0; r < 3; r++) {
        CLGRAD_TRY(piped_block_(ctx, &t, &step, nb, 0, mhost, &bp[r]));
        CLGRAD_TRY(piped_block_(ctx, &t, &step, nb, 1, mhost, &bl[r]));
    }
    *piped_ms = median_(bp, 3);
    *log_pct = 100.0 * (median_(bl, 3) - *piped_ms) / *piped_ms;
fail:
    clgrad_set_gemm_backend(ctx, saved);
    if (st != CLGRAD_OK) clFinish(clgrad_queue(ctx));
    free(mhost), free(tp), free(tl);
    trainer_free_(&t);
    return st;
}

/* ---- start-up: child processes ------------------------------------------------------------ */

/* The child: time ctx_new + open, the tiny model's set-up and first step; one
** JSON line on stdout.  With `only` (tests): build only those programs, and
** the "first step" is one bench_empty launch. */
static int startup_child_(const char *device, const char *cl_dir, const char *only)
{
    double t0 = clgrad_now();
    clgrad_ctx *ctx = clgrad_ctx_new();
    clgrad_open_opts oo = {0};
    oo.cl_dir = cl_dir;
    oo.only = only;
    trainer_ t;
    memset(&t, 0, sizeof t);
    if (!ctx || clgrad_open(ctx, device, &oo) != CLGRAD_OK) {
        fprintf(stderr, "clgrad bench --startup-child: %s\n", ctx ? clgrad_errmsg(ctx) : "out of memory");
        clgrad_ctx_free(ctx);
        return 1;
    }
    double t1 = clgrad_now();
    clgrad_status st = CLGRAD_OK;
    cl_mem p = NULL;
    if (!only) st = trainer_setup_(ctx, &models_[0], &t);
    else st = clgrad_buf_new(ctx, 1, "bench empty", &p);
    if (st == CLGRAD_OK) st = clgrad_finish(ctx);
    double t2 = clgrad_now();
    if (st == CLGRAD_OK) st = only ? clgrad_bench_empty(ctx, p, NULL) : trainer_step_(ctx, &t, 1);
    if (st == CLGRAD_OK) st = clgrad_finish(ctx);
    double t3 = clgrad_now();
    clgrad_buf_free(&p);
    if (st != CLGRAD_OK) {
        fprintf(stderr, "clgrad bench --startup-child: %s\n", clgrad_errmsg(ctx));
        trainer_free_(&t);
        clgrad_ctx_free(ctx);
        return 1;
    }
    const clgrad_build_stats *b = clgrad_build_info(ctx);
    printf("{\"open_s\": %.6f, \"setup_s\": %.6f, \"first_step_s\": %.6f, \"programs\": %d, \"compiled\": %d, "
           "\"loaded\": %d}\n",
           t1 - t0, t2 - t1, t3 - t2, b->programs, b->compiled, b->loaded);
    fflush(stdout);
    trainer_free_(&t);
    clgrad_ctx_free(ctx);
    return 0;
}

static void rm_rf_(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                size_t n = strlen(path) + strlen(e->d_name) + 2;
                char *p = malloc(n);
                if (!p) continue;
                snprintf(p, n, "%s/%s", path, e->d_name);
                rm_rf_(p);
                free(p);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Cache variables the children get from us (any inherited value is dropped). */
static const char *cache_vars_[] = {"CLGRAD_CACHE_DIR", "CLGRAD_NO_CACHE", "POCL_CACHE_DIR", "POCL_KERNEL_CACHE",
                                    "CUDA_CACHE_PATH", "CUDA_CACHE_DISABLE"};
#define NCACHE_VARS ((int)(sizeof cache_vars_ / sizeof cache_vars_[0]))

/* environ without the cache variables, then: no_cache = 0: clgrad's, PoCL's and
** CUDA's caches in dir/clgrad, dir/pocl, dir/cuda; no_cache = 1: every cache
** off (PoCL's and CUDA's directories still pointed into dir, so nothing of the
** user's is read). */
static char **child_env_(const char *dir, int no_cache, char *store, size_t nstore)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (int v = 0; v < NCACHE_VARS; v++) {
            size_t l = strlen(cache_vars_[v]);
            if (strncmp(environ[i], cache_vars_[v], l) == 0 && environ[i][l] == '=') drop = 1;
        }
        if (!drop) env[k++] = environ[i];
    }
    char add[6][4200];
    int na = 0;
    if (no_cache) {
        snprintf(add[na++], sizeof add[0], "CLGRAD_NO_CACHE=1");
        snprintf(add[na++], sizeof add[0], "POCL_KERNEL_CACHE=0");
        snprintf(add[na++], sizeof add[0], "CUDA_CACHE_DISABLE=1");
        snprintf(add[na++], sizeof add[0], "POCL_CACHE_DIR=%s/pocl-off", dir);
        snprintf(add[na++], sizeof add[0], "CUDA_CACHE_PATH=%s/cuda-off", dir);
    } else {
        snprintf(add[na++], sizeof add[0], "CLGRAD_CACHE_DIR=%s/clgrad", dir);
        snprintf(add[na++], sizeof add[0], "POCL_CACHE_DIR=%s/pocl", dir);
        snprintf(add[na++], sizeof add[0], "CUDA_CACHE_PATH=%s/cuda", dir);
    }
    size_t used = 0;
    for (int a = 0; a < na; a++) {
        size_t l = strlen(add[a]);
        if (used + l + 1 > nstore) {
            free(env);
            return NULL;
        }
        memcpy(store + used, add[a], l + 1);
        env[k++] = store + used;
        used += l + 1;
    }
    env[k] = NULL;
    return env;
}

/* Run one child and parse its line into *s. */
static clgrad_status run_child_(clgrad_ctx *ctx, const char *exe, char **argv, char **env, clgrad_bench_start *s)
{
    int fd[2];
    if (pipe(fd) != 0) return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    double t0 = clgrad_now();
    int e = posix_spawn(&pid, exe, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (e != 0) {
        close(fd[0]);
        return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: cannot run %s: %s", exe, strerror(e));
    }
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        if (len == sizeof buf - 1) len = 0; /* keep only the tail: the line we want is last */
    }
    buf[len] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    s->process_s = clgrad_now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: the child %s bench --startup-child failed (status %d)",
                           exe, status);
    char *line = strrchr(buf, '{'), why[256];
    clgrad_json *j = NULL;
    if (!line || clgrad_json_parse(line, &j, why, sizeof why) != CLGRAD_OK)
        return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: the child printed no result line");
    s->open_s = clgrad_json_num(clgrad_json_member(j, "open_s"));
    s->setup_s = clgrad_json_num(clgrad_json_member(j, "setup_s"));
    s->first_step_s = clgrad_json_num(clgrad_json_member(j, "first_step_s"));
    s->programs = (int)clgrad_json_num(clgrad_json_member(j, "programs"));
    s->compiled = (int)clgrad_json_num(clgrad_json_member(j, "compiled"));
    s->loaded = (int)clgrad_json_num(clgrad_json_member(j, "loaded"));
    s->total_s = s->open_s + s->setup_s + s->first_step_s;
    clgrad_json_free(j);
    return CLGRAD_OK;
}

clgrad_status clgrad_bench_startup_measure(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_startup *out)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_bench_opts dflt = {0};
    const clgrad_bench_opts *o = opts ? opts : &dflt;
    memset(out, 0, sizeof *out);
    char exe[4096], dir[4096], sub[4200], store[8 * 4200], dev[32];
    char **env = NULL, **env_off = NULL;
    const char *tmp = getenv("TMPDIR");
    if (o->exe) {
        snprintf(exe, sizeof exe, "%s", o->exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: cannot read /proc/self/exe: %s", strerror(errno));
        exe[n] = '\0';
    }
    snprintf(dir, sizeof dir, "%s/clgrad-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: mkdtemp %s: %s", dir, strerror(errno));
    const char *subs[5] = {"clgrad", "pocl", "cuda", "pocl-off", "cuda-off"};
    for (int i = 0; i < 5; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        if (mkdir(sub, 0700) != 0) {
            st = clgrad_fail(ctx, CLGRAD_E_IO, "bench start-up: mkdir %s: %s", sub, strerror(errno));
            goto fail;
        }
    }
    env_off = child_env_(dir, 1, store, sizeof store / 2);
    env = child_env_(dir, 0, store + sizeof store / 2, sizeof store / 2);
    if (!env || !env_off) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
        goto fail;
    }
    const clgrad_device_info *d = clgrad_device(ctx);
    snprintf(dev, sizeof dev, "%d:%d", d->platform_index, d->device_index);
    char *argv[10] = {exe, "bench", "--startup-child", "--device", dev, NULL, NULL, NULL, NULL, NULL};
    int a = 5;
    if (o->cl_dir) argv[a++] = "--cl-dir", argv[a++] = (char *)o->cl_dir;
    if (o->startup_only) argv[a++] = "--only", argv[a++] = (char *)o->startup_only;
    CLGRAD_TRY(run_child_(ctx, exe, argv, env_off, &out->no_cache));
    CLGRAD_TRY(run_child_(ctx, exe, argv, env, &out->cold));
    CLGRAD_TRY(run_child_(ctx, exe, argv, env, &out->warm));
    out->measured = 1;
fail:
    free(env);
    free(env_off);
    rm_rf_(dir);
    return st;
}

/* ---- the whole bench ------------------------------------------------------------------------- */

static const char *op_name_(int ta, int tb)
{
    static const char *n[4] = {"NN", "NT", "TN", "TT"};
    return n[(ta ? 2 : 0) + (tb ? 1 : 0)];
}

typedef struct {
    char shape[32];
    int ta, tb;
    size_t M, N, K;
} gshape_;

static int gemm_shapes_(const clgrad_bench_opts *o, int gpu, gshape_ *s, int cap)
{
    static const size_t full[] = {256, 512, 1024, 2048, 4096}, quick[] = {128, 256};
    const size_t *sz = o->sizes ? o->sizes : o->quick ? quick : full;
    int nsz = o->sizes ? o->nsizes : o->quick ? 2 : 5, n = 0;
    for (int i = 0; i < nsz && n < cap; i++)
        s[n++] = (gshape_){"square", 0, 0, sz[i], sz[i], sz[i]};
    for (int m = 0; m < NMODELS; m++) {
        const clgrad_bench_model *bm = &models_[m];
        if (!model_wanted_(o, bm, gpu) || n + 3 > cap) continue;
        size_t B = bm->batch, W = bm->width, GW = gates_(bm) * W; /* recurrent: the gate pre-activations */
        gshape_ *g = &s[n];
        snprintf(g[0].shape, sizeof g[0].shape, "%s.fwd", bm->name);
        g[0].ta = 0, g[0].tb = 1, g[0].M = B, g[0].N = GW, g[0].K = W;
        snprintf(g[1].shape, sizeof g[1].shape, "%s.dw", bm->name);
        g[1].ta = 1, g[1].tb = 0, g[1].M = GW, g[1].N = W, g[1].K = B;
        snprintf(g[2].shape, sizeof g[2].shape, "%s.dx", bm->name);
        g[2].ta = 0, g[2].tb = 0, g[2].M = B, g[2].N = W, g[2].K = GW;
        n += 3;
    }
    return n;
}

static int backends_(const clgrad_bench_opts *o, clgrad_gemm_backend *be)
{
    int mask = o->backends ? o->backends : 3, n = 0;
    if (mask & 1) be[n++] = CLGRAD_GEMM_OWN;
    if (mask & 2) be[n++] = CLGRAD_GEMM_CLBLAST;
    return n;
}

static void run_gemm_(clgrad_ctx *ctx, const clgrad_bench_opts *o, clgrad_bench_result *res)
{
    gshape_ shapes[CLGRAD_BENCH_MAX_GEMM];
    clgrad_gemm_backend be[2];
    int nb = backends_(o, be), ns = gemm_shapes_(o, is_gpu_(ctx), shapes, CLGRAD_BENCH_MAX_GEMM / 2);
    double budget = o->budget_s > 0 ? o->budget_s : o->budget_s < 0 ? 0 : o->quick ? 1.0 : 10.0;
    double peak = res->has_limits ? res->limits.fp32_peak_gflops : NAN;
    say_(o, "%-14s %-3s %5s %5s %5s  %s", "shape", "op", "M", "N", "K",
         nb == 2 ? "own GFLOP/s  %peak | CLBlast GFLOP/s  %peak | own/CLBlast" : "GFLOP/s  %peak");
    for (int i = 0; i < ns; i++) {
        gshape_ *g = &shapes[i];
        double med[2], best[2];
        int done[2];
        char err[2][256];
        clgrad_status st = gemm_measure_(ctx, g->ta, g->tb, g->M, g->N, g->K, nb, be, res->reps, budget, med, best,
                                         done, err);
        char line[512];
        int w = snprintf(line, sizeof line, "%-14s %-3s %5zu %5zu %5zu ", g->shape, op_name_(g->ta, g->tb), g->M, g->N,
                         g->K);
        for (int b = 0; b < nb && res->ngemm < CLGRAD_BENCH_MAX_GEMM; b++) {
            clgrad_bench_gemm_row *r = &res->gemm[res->ngemm++];
            memset(r, 0, sizeof *r);
            snprintf(r->shape, sizeof r->shape, "%.31s", g->shape);
            snprintf(r->id, sizeof r->id, "%.31s/%s/%zux%zux%zu/%s", g->shape, op_name_(g->ta, g->tb), g->M, g->N, g->K,
                     clgrad_gemm_backend_name(be[b]));
            r->ta = g->ta, r->tb = g->tb, r->M = g->M, r->N = g->N, r->K = g->K, r->backend = be[b];
            double flop = 2.0 * (double)g->M * (double)g->N * (double)g->K;
            if (st != CLGRAD_OK) snprintf(r->error, sizeof r->error, "%s", clgrad_errmsg(ctx));
            else snprintf(r->error, sizeof r->error, "%s", err[b]);
            r->reps = st == CLGRAD_OK ? done[b] : 0;
            r->median_ms = r->reps ? 1e3 * med[b] : NAN;
            r->best_ms = r->reps ? 1e3 * best[b] : NAN;
            r->gflops = r->reps ? flop / med[b] * 1e-9 : NAN;
            r->best_gflops = r->reps ? flop / best[b] * 1e-9 : NAN;
            r->pct_peak = 100.0 * r->gflops / peak;
            if (w > 0 && (size_t)w < sizeof line) {
                if (r->error[0]) w += snprintf(line + w, sizeof line - (size_t)w, " %15s %6s |", "error", "");
                else if (isnan(r->pct_peak)) /* no --limits: no measured peak */
                    w += snprintf(line + w, sizeof line - (size_t)w, " %15.1f %6s |", r->gflops, "-");
                else w += snprintf(line + w, sizeof line - (size_t)w, " %15.1f %6.1f |", r->gflops, r->pct_peak);
            }
        }
        if (nb == 2 && w > 0 && (size_t)w < sizeof line) {
            clgrad_bench_gemm_row *r = &res->gemm[res->ngemm - 2];
            snprintf(line + w, sizeof line - (size_t)w, " %8.2f", r[0].gflops / r[1].gflops);
        }
        say_(o, "%s", line);
        for (int b = 0; b < nb; b++)
            if (err[b][0] || st != CLGRAD_OK)
                say_(o, "  %s: %s", clgrad_gemm_backend_name(be[b]), st != CLGRAD_OK ? clgrad_errmsg(ctx) : err[b]);
    }
}

static void run_train_(clgrad_ctx *ctx, const clgrad_bench_opts *o, clgrad_bench_result *res)
{
    clgrad_gemm_backend be[2];
    int nb = backends_(o, be);
    int steps = o->reps > 0 ? o->reps : o->quick ? 3 : 20;
    double budget = o->budget_s > 0 ? o->budget_s : 0;
    say_(o, "%-7s %-34s %-8s %9s %5s %11s %17s %9s %8s %6s %9s", "model", "description", "backend", "params", "steps",
         "ms/step", "(min..max)", "steps/s", "launches", "log+%", "piped ms");
    for (int m = 0; m < NMODELS; m++) {
        const clgrad_bench_model *bm = &models_[m];
        if (!model_wanted_(o, bm, is_gpu_(ctx))) continue;
        for (int b = 0; b < nb && res->ntrain < CLGRAD_BENCH_MAX_TRAIN; b++) {
            clgrad_bench_train_row *r = &res->train[res->ntrain++];
            memset(r, 0, sizeof *r);
            r->model = bm, r->backend = be[b], r->warmup = res->warmup;
            snprintf(r->id, sizeof r->id, "%s/%s", bm->name, clgrad_gemm_backend_name(be[b]));
            double *t = NULL;
            int n = 0;
            clgrad_status st = clgrad_bench_train_time(ctx, bm, be[b], res->warmup, steps, budget, &r->params, &t, &n);
            r->steps = n;
            if (st != CLGRAD_OK) snprintf(r->error, sizeof r->error, "%s", clgrad_errmsg(ctx));
            if (st != CLGRAD_OK || n == 0) {
                r->median_ms = r->min_ms = r->max_ms = r->steps_per_s = r->launches = r->log_pct = r->log_block_pct =
                    r->piped_ms = NAN;
                say_(o, "%-7s %-34s %-8s error: %s", bm->name, bm->desc, clgrad_gemm_backend_name(be[b]), r->error);
                free(t);
                continue;
            }
            for (int i = 0; i < n; i++) t[i] *= 1e3;
            r->min_ms = min_of_(t, n);
            r->max_ms = max_of_(t, n);
            r->median_ms = median_(t, n);
            r->steps_per_s = 1e3 / r->median_ms;
            free(t);
            if (clgrad_bench_train_extras(ctx, bm, be[b], n, &r->launches, &r->log_pct, &r->log_block_pct,
                                          &r->piped_ms) != CLGRAD_OK)
                r->launches = r->log_pct = r->log_block_pct = r->piped_ms = NAN;
            say_(o, "%-7s %-34s %-8s %9zu %5d %11.3f %8.4g..%-8.4g %9.3g %8.0f %6.1f %9.3f", bm->name, bm->desc,
                 clgrad_gemm_backend_name(be[b]), r->params, r->steps, r->median_ms, r->min_ms, r->max_ms,
                 r->steps_per_s, r->launches, r->log_pct, r->piped_ms);
        }
    }
}

clgrad_status clgrad_bench_run(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_result *res)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_bench_opts dflt = {0};
    const clgrad_bench_opts *o = opts ? opts : &dflt;
    double t0 = clgrad_now();
    memset(res, 0, sizeof *res);
    clgrad_iso_time(res->start_time, sizeof res->start_time);
    res->quick = o->quick;
    res->reps = limit_reps_(o);
    res->warmup = o->warmup > 0 ? o->warmup : o->warmup < 0 ? 0 : o->quick ? 1 : 3;
    res->budget_s = o->budget_s;
    res->limits.fp32_peak_gflops = NAN;
    if (!o->no_limits) {
        say_(o, "== device limits (medians of %d) ==", res->reps);
        CLGRAD_TRY(clgrad_bench_limits_measure(ctx, o, &res->limits));
        res->has_limits = 1;
    }
    if (!o->no_gemm) {
        say_(o, "== GEMM: C = op(A) op(B), median of up to %d calls after a warm-up call; %% of the measured fp32 peak ==",
             res->reps);
        run_gemm_(ctx, o, res);
    }
    if (!o->no_train) {
        say_(o, "== training step: median ms over %d steps (fewer where --budget ran out) after %d warm-up "
                "(gather, forward, loss, backward, clip, SGD) ==",
             o->reps > 0 ? o->reps : o->quick ? 3 : 20, res->warmup);
        run_train_(ctx, o, res);
    }
    if (!o->no_startup) {
        say_(o, "== start-up: ctx_new + open + set-up + first step of the tiny model, in a child process ==");
        if (clgrad_bench_startup_measure(ctx, o, &res->startup) != CLGRAD_OK) {
            snprintf(res->startup.error, sizeof res->startup.error, "%s", clgrad_errmsg(ctx));
            say_(o, "start-up: error: %s", res->startup.error);
        } else {
            const clgrad_bench_start *s[3] = {&res->startup.no_cache, &res->startup.cold, &res->startup.warm};
            static const char *nm[3] = {"caches off  ", "cold (empty)", "warm        "};
            for (int i = 0; i < 3; i++)
                say_(o, "%s open %8.3f s + set-up %6.3f s + first step %7.3f s = %8.3f s (process %.3f s; %d compiled, "
                        "%d from cache)",
                     nm[i], s[i]->open_s, s[i]->setup_s, s[i]->first_step_s, s[i]->total_s, s[i]->process_s,
                     s[i]->compiled, s[i]->loaded);
        }
    }
fail:
    res->seconds = clgrad_now() - t0;
    return st;
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static void num_(clgrad_sbuf *b, const char *key, double v, const char *sep)
{
    clgrad_sb_printf(b, "\"%s\": ", key);
    clgrad_sb_json_num(b, v);
    clgrad_sb_printf(b, "%s", sep);
}

static void str_(clgrad_sbuf *b, const char *key, const char *v, const char *sep)
{
    clgrad_sb_printf(b, "\"%s\": ", key);
    if (v && *v) clgrad_sb_json_str(b, v);
    else clgrad_sb_printf(b, "null");
    clgrad_sb_printf(b, "%s", sep);
}

static void json_limits_(clgrad_sbuf *b, const clgrad_bench_limits *L)
{
    char key[64];
    clgrad_sb_printf(b, "  \"limits\": {\n    \"timer\": \"%s\", \"reps\": %d,\n    ",
                     L->events ? "profiling events" : "host clock", L->reps);
    num_(b, "fp32_peak_gflops", L->fp32_peak_gflops, ",\n    ");
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++) {
        snprintf(key, sizeof key, "fp32_peak_%s_gflops", clgrad_bench_peak_name(v));
        num_(b, key, L->peak_gflops[v], ", ");
        snprintf(key, sizeof key, "best_fp32_peak_%s_gflops", clgrad_bench_peak_name(v));
        num_(b, key, L->peak_best_gflops[v], ",\n    ");
    }
    clgrad_sb_printf(b, "\"peak_variant\": \"%s\", \"peak_vector_width\": %d, \"peak_fma_chains\": %d,\n    ",
                     clgrad_bench_peak_name(L->peak_variant), clgrad_bench_peak_width(L->peak_variant),
                     clgrad_bench_peak_chains(L->peak_variant));
    clgrad_sb_printf(b, "\"peak_work_items\": %zu, \"peak_iters\": %d,\n    ", L->peak_items, L->peak_iters);
    num_(b, "mem_bandwidth_gbps", L->mem_gbps, ", ");
    num_(b, "mem_copy_gbps", L->copy_gbps, ", ");
    num_(b, "mem_triad_gbps", L->triad_gbps, ", ");
    num_(b, "best_mem_copy_gbps", L->best_copy_gbps, ", ");
    num_(b, "best_mem_triad_gbps", L->best_triad_gbps, ", ");
    clgrad_sb_printf(b, "\"mem_buffer_bytes\": %zu,\n    ", L->mem_bytes);
    num_(b, "launch_latency_us", L->launch_us, ", ");
    num_(b, "launch_pipelined_us", L->launch_pipelined_us, ",\n    ");
    num_(b, "host_to_device_gbps", L->h2d_gbps, ", ");
    num_(b, "device_to_host_gbps", L->d2h_gbps, ", ");
    clgrad_sb_printf(b, "\"transfer_bytes\": %zu\n  },\n", L->xfer_bytes);
}

static void json_start_(clgrad_sbuf *b, const char *name, const clgrad_bench_start *s, const char *sep)
{
    clgrad_sb_printf(b, "\"%s\": {", name);
    num_(b, "open_s", s->open_s, ", ");
    num_(b, "setup_s", s->setup_s, ", ");
    num_(b, "first_step_s", s->first_step_s, ", ");
    num_(b, "total_s", s->total_s, ", ");
    num_(b, "process_s", s->process_s, ", ");
    clgrad_sb_printf(b, "\"programs\": %d, \"compiled\": %d, \"loaded\": %d}%s", s->programs, s->compiled, s->loaded,
                     sep);
}

char *clgrad_bench_json(clgrad_ctx *ctx, const clgrad_bench_result *res, const char *command_line)
{
    clgrad_sbuf b = {0};
    clgrad_sb_printf(&b, "{\n  \"clgrad_bench_format\": 1,\n  \"clgrad_version\": \"%s\",\n  ", CLGRAD_VERSION);
    str_(&b, "start_time", res->start_time, ",\n  ");
    str_(&b, "command_line", command_line, ",\n");
    clgrad_sb_fingerprint(&b, ctx);
    clgrad_sb_printf(&b, "  \"settings\": {\"quick\": %s, \"reps\": %d, \"warmup_steps\": %d, ", res->quick ? "true" : "false",
                     res->reps, res->warmup);
    num_(&b, "budget_s", res->budget_s, ", ");
    num_(&b, "bench_s", res->seconds, "},\n");
    if (res->has_limits) json_limits_(&b, &res->limits);
    clgrad_sb_printf(&b, "  \"gemm\": [");
    for (int i = 0; i < res->ngemm; i++) {
        const clgrad_bench_gemm_row *r = &res->gemm[i];
        clgrad_sb_printf(&b, "%s\n    {", i ? "," : "");
        str_(&b, "id", r->id, ", ");
        str_(&b, "shape", r->shape, ", ");
        clgrad_sb_printf(&b, "\"op\": \"%s\", \"m\": %zu, \"n\": %zu, \"k\": %zu, \"backend\": \"%s\", \"reps\": %d, ",
                         op_name_(r->ta, r->tb), r->M, r->N, r->K, clgrad_gemm_backend_name(r->backend), r->reps);
        num_(&b, "median_ms", r->median_ms, ", ");
        num_(&b, "best_ms", r->best_ms, ", ");
        num_(&b, "gflops", r->gflops, ", ");
        num_(&b, "best_gflops", r->best_gflops, ", ");
        num_(&b, "peak_pct", r->pct_peak, ", ");
        str_(&b, "error", r->error, "}");
    }
    clgrad_sb_printf(&b, "%s],\n  \"train\": [", res->ngemm ? "\n  " : "");
    for (int i = 0; i < res->ntrain; i++) {
        const clgrad_bench_train_row *r = &res->train[i];
        const clgrad_bench_model *m = r->model;
        clgrad_sb_printf(&b, "%s\n    {", i ? "," : "");
        str_(&b, "id", r->id, ", ");
        str_(&b, "model", m->name, ", ");
        str_(&b, "description", m->desc, ", ");
        clgrad_sb_printf(&b,
                         "\"kind\": \"%s\", \"depth\": %d, \"width\": %zu, \"batch\": %zu, \"inputs\": %zu, "
                         "\"seq_len\": %zu, \"outputs\": %zu, \"loss\": \"%s\", \"backend\": \"%s\", \"params\": %zu, "
                         "\"warmup_steps\": %d, \"steps_timed\": %d, ",
                         clgrad_model_kind_name(m->kind), m->depth, m->width, m->batch, m->in, m->seq_len,
                         m->out, clgrad_loss_name(m->loss), clgrad_gemm_backend_name(r->backend), r->params, r->warmup,
                         r->steps);
        num_(&b, "median_step_ms", r->median_ms, ", ");
        num_(&b, "min_step_ms", r->min_ms, ", ");
        num_(&b, "max_step_ms", r->max_ms, ", ");
        num_(&b, "steps_per_s", r->steps_per_s, ", ");
        num_(&b, "launches_per_step", r->launches, ", ");
        num_(&b, "log_step_extra_pct", r->log_pct, ", ");
        num_(&b, "log_step_blocking_extra_pct", r->log_block_pct, ", ");
        num_(&b, "pipelined_step_ms", r->piped_ms, ", ");
        str_(&b, "error", r->error, "}");
    }
    clgrad_sb_printf(&b, "%s]", res->ntrain ? "\n  " : "");
    const clgrad_bench_startup *s = &res->startup;
    if (s->measured || s->error[0]) {
        clgrad_sb_printf(&b, ",\n  \"startup\": {\n    \"method\": \"child process: clgrad_ctx_new + clgrad_open (all "
                             "programs) + tiny-model set-up + first step, finished; no_cache: CLGRAD_NO_CACHE=1, "
                             "POCL_KERNEL_CACHE=0, CUDA_CACHE_DISABLE=1; cold: clgrad, PoCL and CUDA kernel caches "
                             "on, in fresh empty directories (filled by this run); warm: a third child on the caches "
                             "the cold one filled; other drivers' private caches are not redirected\",\n    ");
        if (s->measured) {
            json_start_(&b, "no_cache", &s->no_cache, ",\n    ");
            json_start_(&b, "cold", &s->cold, ",\n    ");
            json_start_(&b, "warm", &s->warm, ",\n    ");
        }
        str_(&b, "error", s->error, "\n  }");
    }
    clgrad_sb_printf(&b, "\n}\n");
    if (b.oom) {
        clgrad_sb_free(&b);
        return NULL;
    }
    return b.s;
}

/* ---- compare -------------------------------------------------------------------------------------- */

typedef struct {
    char path[192];
    double *v; /* one per file, NaN where missing */
} crow_;

typedef struct {
    crow_ *rows;
    size_t n, cap;
    int nfiles;
    int oom;
} ctable_;

/* Shown in the table: keys that carry a unit, not the best/min/max companions. */
static int shown_key_(const char *k)
{
    static const char *units[] = {"gflops", "_gbps", "_us", "_ms", "_s", "_pct"};
    if (!strncmp(k, "best_", 5) || !strncmp(k, "min_", 4) || !strncmp(k, "max_", 4)) return 0;
    if (!strcmp(k, "budget_s") || !strcmp(k, "bench_s") || !strcmp(k, "median_ms")) return 0; /* gemm: gflops says it */
    size_t l = strlen(k);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t u = strlen(units[i]);
        if (l >= u && strcmp(k + l - u, units[i]) == 0) return 1;
    }
    return 0;
}

static void ctable_put_(ctable_ *t, const char *path, int file, double v)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].path, path) == 0) break;
    if (i == t->n) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            crow_ *r = realloc(t->rows, cap * sizeof *r);
            if (!r) {
                t->oom = 1;
                return;
            }
            t->rows = r, t->cap = cap;
        }
        crow_ *r = &t->rows[t->n];
        snprintf(r->path, sizeof r->path, "%s", path);
        r->v = malloc((size_t)t->nfiles * sizeof *r->v);
        if (!r->v) {
            t->oom = 1;
            return;
        }
        for (int f = 0; f < t->nfiles; f++) r->v[f] = NAN;
        t->n++;
    }
    t->rows[i].v[file] = v;
}

/* Numeric leaves under v, path components joined by '.', array items named by their "id". */
static void ctable_walk_(ctable_ *t, const clgrad_json *v, const char *prefix, int file)
{
    char path[192];
    for (size_t i = 0; i < v->n; i++) {
        const clgrad_json *it = &v->items[i];
        const char *key = v->type == CLGRAD_JSON_OBJECT ? v->keys[i] : clgrad_json_str(clgrad_json_member(it, "id"));
        if (!key) continue;
        if (v->type == CLGRAD_JSON_OBJECT && !*prefix &&
            (!strcmp(key, "device") || !strcmp(key, "kernel_build") || !strcmp(key, "settings")))
            continue;
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (it->type == CLGRAD_JSON_OBJECT || it->type == CLGRAD_JSON_ARRAY) ctable_walk_(t, it, path, file);
        else if (v->type == CLGRAD_JSON_OBJECT && clgrad_json_is_num(it) && shown_key_(key))
            ctable_put_(t, path, file, clgrad_json_num(it));
    }
}

int clgrad_bench_compare(FILE *f, int n, const char *const *paths, char *why, size_t nwhy)
{
    int rc = 0;
    clgrad_json **docs = calloc((size_t)(n > 0 ? n : 1), sizeof *docs);
    ctable_ t = {NULL, 0, 0, n, 0};
    if (!docs) {
        snprintf(why, nwhy, "out of memory");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (clgrad_json_load(paths[i], &docs[i], why, nwhy) != CLGRAD_OK) {
            rc = 2;
            goto out;
        }
        if (!clgrad_json_member(docs[i], "clgrad_bench_format")) {
            snprintf(why, nwhy, "%s: not a clgrad bench JSON file (no clgrad_bench_format)", paths[i]);
            rc = 2;
            goto out;
        }
        ctable_walk_(&t, docs[i], "", i);
    }
    if (t.oom) {
        snprintf(why, nwhy, "out of memory");
        rc = 2;
        goto out;
    }
    fprintf(f, "clgrad bench --compare: %d files; ratio = value / first file's value\n", n);
    fprintf(f, "(gflops, gbps, pct, per_s: higher is better; _us, _ms, _s: lower is better)\n");
    for (int i = 0; i < n; i++) {
        const clgrad_json *d = clgrad_json_member(docs[i], "device");
        fprintf(f, "  [%d] %s: %s (%s, driver %s, %g compute units)%s\n", i + 1, paths[i],
                clgrad_json_str(clgrad_json_member(d, "name")) ? clgrad_json_str(clgrad_json_member(d, "name")) : "?",
                clgrad_json_str(clgrad_json_member(d, "platform")) ? clgrad_json_str(clgrad_json_member(d, "platform")) : "?",
                clgrad_json_str(clgrad_json_member(d, "driver_version")) ? clgrad_json_str(clgrad_json_member(d, "driver_version"))
                                                                         : "?",
                clgrad_json_num(clgrad_json_member(d, "compute_units")),
                clgrad_json_path(docs[i], "settings.quick") && clgrad_json_num(clgrad_json_path(docs[i], "settings.quick")) != 0
                    ? " [quick]"
                    : "");
    }
    size_t w = 6;
    for (size_t r = 0; r < t.n; r++) w = strlen(t.rows[r].path) > w ? strlen(t.rows[r].path) : w;
    fprintf(f, "\n%-*s", (int)w, "metric");
    for (int i = 0; i < n; i++) {
        char col[32];
        snprintf(col, sizeof col, "[%d]", i + 1);
        fprintf(f, "  %15s%s", col, i ? " (ratio)" : "");
    }
    fprintf(f, "\n");
    for (size_t r = 0; r < t.n; r++) {
        fprintf(f, "%-*s", (int)w, t.rows[r].path);
        double ref = t.rows[r].v[0];
        for (int i = 0; i < n; i++) {
            double v = t.rows[r].v[i];
            if (isnan(v)) fprintf(f, "  %15s", "-");
            else fprintf(f, "  %15.4g", v);
            if (i > 0) {
                if (isfinite(v) && isfinite(ref) && ref != 0) fprintf(f, " (x%5.2f)", v / ref);
                else fprintf(f, " %8s", "");
            }
        }
        fprintf(f, "\n");
    }
out:
    for (int i = 0; i < n; i++) clgrad_json_free(docs[i]);
    free(docs);
    for (size_t r = 0; r < t.n; r++) free(t.rows[r].v);
    free(t.rows);
    return rc;
}

/* ---- command line ---------------------------------------------------------------------------------- */

static void bench_usage_(FILE *f)
{
    fprintf(f,
            "usage: clgrad bench [--device SPEC] [--gemm own|clblast] [--quick] [--sizes 256,512,...]\n"
            "                    [--reps N] [--warmup N] [--budget S] [--models tiny,medium,...]\n"
            "                    [--no-limits] [--no-gemm] [--no-train] [--no-startup] [--json FILE]\n"
            "                    [--cl-dir DIR] [--cache-dir DIR] [--no-cache]\n"
            "       clgrad bench --compare A.json B.json ...\n"
            "\n"
            "Measures the device's limits (fp32 peak, memory bandwidth, launch latency, host<->device\n"
            "transfer), GEMM GFLOP/s of both backends (square sizes and the reference models' shapes,\n"
            "also as %% of the measured peak), median ms per training step of the reference models\n"
            "(tiny MLP 4x64, medium 16x256, large 16x1024, RNN H128 T100, LSTM and GRU H128 T50;\n"
            "xl MLP 16x4096 batch 4096 only on GPU devices unless --models names it) and the start-up\n"
            "time to the first step (kernel caches off, empty, warm; child processes).  --gemm\n"
            "restricts to one backend (default: both).\n"
            "--quick: small sizes, few reps, no large or xl model (CI).  --reps: timed GEMM calls and\n"
            "training steps (default 10 and 20; quick 3).  --budget S: stop a measurement after 3\n"
            "reps once it has run S seconds (default 10 s for GEMM, none for training steps).\n"
            "--json FILE: the record (device fingerprint, every number with its unit).\n"
            "--compare: one column per JSON file, ratios to the first.\n");
}

static int parse_sizes_(const char *s, size_t *out, int cap)
{
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || errno || v == 0 || v > 65536 || n == cap || (*end && *end != ',')) return -1;
        out[n++] = (size_t)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

static int parse_int_(const char *opt, const char *s, int lo, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > 1000000) {
        fprintf(stderr, "clgrad bench: %s takes an integer >= %d, not '%s'\n", opt, lo, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void print_line_(void *user, const char *line)
{
    (void)user;
    printf("%s\n", line);
    fflush(stdout);
}

static int write_file_(const char *path, const char *text)
{
    int e = clgrad_fs_replace_text(path, text, strlen(text)); /* fsutil.h: never through a symlink */
    if (e) errno = e;
    return e ? -1 : 0;
}

/* --gemm: restrict to one backend (o->backends 1: own, 2: clblast); -1 with a message when v is neither. */
static int bench_gemm_opt_(const char *v, clgrad_bench_opts *o)
{
    int b = clgrad_gemm_backend_parse(v);
    if (b < 0) {
        fprintf(stderr, "clgrad bench: --gemm takes own or clblast, not '%s'\n", v);
        return -1;
    }
    o->backends = b == CLGRAD_GEMM_OWN ? 1 : 2;
    return 0;
}

/* --sizes: the GEMM sizes into sizes[64] (o->sizes points there); -1 with a message when v is not a list of them. */
static int bench_sizes_opt_(const char *v, clgrad_bench_opts *o, size_t *sizes)
{
    o->nsizes = parse_sizes_(v, sizes, 64);
    if (o->nsizes <= 0) {
        fprintf(stderr, "clgrad bench: --sizes takes sizes 1..65536 separated by commas, not '%s'\n", v);
        return -1;
    }
    o->sizes = sizes;
    return 0;
}

/* --budget: seconds > 0 into o->budget_s; -1 with a message otherwise. */
static int bench_budget_opt_(const char *v, clgrad_bench_opts *o)
{
    char *end;
    o->budget_s = strtod(v, &end);
    if (end == v || *end || !isfinite(o->budget_s) || o->budget_s <= 0) {
        fprintf(stderr, "clgrad bench: --budget takes seconds > 0, not '%s'\n", v);
        return -1;
    }
    return 0;
}

/* --models: a comma-separated list of known models into o->models; -1 with a message at the first unknown one. */
static int bench_models_opt_(const char *v, clgrad_bench_opts *o)
{
    for (const char *p = v; *p;) {
        size_t l = strcspn(p, ",");
        char nm[32];
        snprintf(nm, sizeof nm, "%.*s", (int)(l < 31 ? l : 31), p);
        if (!clgrad_bench_model_find(nm)) {
            fprintf(stderr, "clgrad bench: unknown model '%s' (", nm);
            for (int m = 0; m < NMODELS; m++) fprintf(stderr, "%s%s", m ? ", " : "", models_[m].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        p += l;
        if (*p == ',') p++;
    }
    o->models = v;
    return 0;
}

/* bench --compare: a column per bench JSON file, ratios to the first; returns the exit status. */
static int bench_compare_(int nfiles, const char **files)
{
    char why[1536];
    if (nfiles < 1) {
        fprintf(stderr, "clgrad bench --compare: give one or more bench JSON files\n");
        return 2;
    }
    int rc = clgrad_bench_compare(stdout, nfiles, files, why, sizeof why);
    if (rc) fprintf(stderr, "clgrad bench --compare: %s\n", why);
    return rc;
}

/* The benchmark itself: open the device, print its header, run, write --json FILE; returns the exit status. */
static int bench_run_(const char *device, const char *cl_dir, const char *cache_dir, int no_cache, const char *json,
                      const char *cmdline, clgrad_bench_opts *o)
{
    int rc;
    clgrad_ctx *ctx = clgrad_ctx_new();
    clgrad_open_opts oo = {0};
    oo.cl_dir = cl_dir, oo.cache_dir = cache_dir, oo.no_cache = no_cache, oo.profiling = 1;
    if (!ctx || clgrad_open(ctx, device, &oo) != CLGRAD_OK) {
        fprintf(stderr, "clgrad bench: %s\n", ctx ? clgrad_errmsg(ctx) : "out of memory");
        clgrad_ctx_free(ctx);
        return 1;
    }
    if (*clgrad_warnings(ctx)) fprintf(stderr, "clgrad bench: warning: %s", clgrad_warnings(ctx));
    const clgrad_device_info *d = clgrad_device(ctx);
    printf("clgrad %s bench on %d:%d %s (%s, %s, driver %s), %u compute units\n", CLGRAD_VERSION, d->platform_index,
           d->device_index, d->name, d->type, d->platform_name, d->driver_version, d->compute_units);
    printf("own GEMM variant %s; kernels %s; %s\n", clgrad_gemm_variant(ctx), clgrad_build_info(ctx)->source_hash,
           o->quick ? "quick" : "full run (minutes on a CPU device)");
    o->cl_dir = cl_dir;
    o->print = print_line_;
    clgrad_bench_result *res = calloc(1, sizeof *res);
    if (!res) {
        clgrad_ctx_free(ctx);
        return 1;
    }
    clgrad_status st = clgrad_bench_run(ctx, o, res);
    rc = st == CLGRAD_OK ? 0 : 1;
    if (st != CLGRAD_OK) fprintf(stderr, "clgrad bench: %s\n", clgrad_errmsg(ctx));
    printf("bench took %.1f s\n", res->seconds);
    if (json) {
        char *text = clgrad_bench_json(ctx, res, cmdline);
        if (!text || write_file_(json, text) != 0) {
            fprintf(stderr, "clgrad bench: cannot write %s: %s\n", json, text ? strerror(errno) : "out of memory");
            rc = 1;
        } else {
            printf("wrote %s\n", json);
        }
        free(text);
    }
    free(res);
    clgrad_profile_print(ctx, stderr);
    clgrad_ctx_free(ctx);
    return rc;
}

int clgrad_cli_bench(int argc, char **argv)
{
    const char *device = NULL, *json = NULL, *cache_dir = NULL, *cl_dir = NULL, *only = NULL;
    int no_cache = 0, compare = 0, child = 0, rc = 2;
    size_t sizes[64];
    clgrad_bench_opts o = {0};
    const char **files = calloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
    int nfiles = 0;
    char cmdline[4096] = "clgrad";
    if (!files) return 2;
    clgrad_cli_cmdline("bench", "clgrad", argc, argv, cmdline, sizeof cmdline);
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, "bench", "clgrad bench", NULL, argc, argv) != 0) goto out;
    for (int r; (r = clgrad_cli_args_next(&g)) != -1;) {
        const char *a = r == 1 ? g.opt : g.value, *v = g.value;
        if (r == -2) goto out_args;
        if (r == 0) {
            if (compare) files[nfiles++] = a;
            else {
                fprintf(stderr, "clgrad bench: unexpected argument %s\n", a);
                goto out_args;
            }
        } else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--gemm")) {
            if (bench_gemm_opt_(v, &o)) goto out_args;
        } else if (!strcmp(a, "--sizes")) {
            if (bench_sizes_opt_(v, &o, sizes)) goto out_args;
        } else if (!strcmp(a, "--reps")) {
            if (parse_int_(a, v, 1, &o.reps)) goto out_args;
        } else if (!strcmp(a, "--warmup")) {
            if (parse_int_(a, v, 0, &o.warmup)) goto out_args;
            if (o.warmup == 0) o.warmup = -1; /* explicit none */
        } else if (!strcmp(a, "--budget")) {
            if (bench_budget_opt_(v, &o)) goto out_args;
        } else if (!strcmp(a, "--models")) {
            if (bench_models_opt_(v, &o)) goto out_args;
        } else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--cl-dir")) cl_dir = v;
        else if (!strcmp(a, "--only")) only = v;
        else if (!strcmp(a, "--cache-dir")) cache_dir = v;
        else if (!strcmp(a, "--no-cache")) no_cache = 1;
        else if (!strcmp(a, "--quick")) o.quick = 1;
        else if (!strcmp(a, "--no-limits")) o.no_limits = 1;
        else if (!strcmp(a, "--no-gemm")) o.no_gemm = 1;
        else if (!strcmp(a, "--no-train")) o.no_train = 1;
        else if (!strcmp(a, "--no-startup")) o.no_startup = 1;
        else if (!strcmp(a, "--compare")) compare = 1;
        else if (!strcmp(a, "--startup-child")) child = 1;
        else if (!strcmp(a, "--help")) {
            bench_usage_(stdout);
            rc = 0;
            goto out_args;
        } else {
            clgrad_cli_unknown_option("bench", g.elem);
            bench_usage_(stderr);
            goto out_args;
        }
    }
    clgrad_cli_args_free(&g);
    if (child) rc = startup_child_(device, cl_dir, only);
    else if (compare) rc = bench_compare_(nfiles, files);
    else rc = bench_run_(device, cl_dir, cache_dir, no_cache, json, cmdline, &o);
out_args:
    clgrad_cli_args_free(&g);
out:
    free(files);
    return rc;
}
