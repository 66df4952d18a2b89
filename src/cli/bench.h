/*
** cli/bench.h (private, not installed): `clgrad bench`: the same kernels and
** the same experiments timed on every device, against that device's own
** measured limits.
**
** What is measured (src/cli/bench.c has the method of each; the kernels:
** clgrad/bench.h, src/ops/benchk.c):
**   limits    fp32 compute peak (GFLOP/s, cl/bench.cl bench_peak_*: 8 to 16
**             independent chains of explicit fma() in float, float4, float8
**             and float16 registers; the peak is the best variant's median,
**             and the record names the winner), global memory bandwidth (GB/s, copy
**             and triad), kernel launch latency (us: enqueue + clgrad_finish of an
**             empty kernel; and back-to-back launches), host<->device transfer
**             (GB/s, blocking clEnqueueWrite/ReadBuffer from pageable memory).
**             Kernel times come from OpenCL profiling events when the queue
**             has profiling enabled, else from the host clock around clFinish.
**   gemm      GFLOP/s of C = A*B for square sizes (default 256 .. 4096) and the
**             GEMMs of the reference models (forward NT (B,W,W), weight
**             gradient TN (W,W,B), input gradient NN (B,W,W)), for clgrad's
**             own kernel and CLBlast, interleaved call by call, each also as a
**             percentage of the measured peak.
**   train     median ms per training step of the reference models, both GEMM
**             backends: the step of src/run/train.c's loop (a step that does not
**             log): gather the batch, (input noise: off), forward, loss
**             value, loss gradient, backward, (L1 and gradient noise: off),
**             gradient-state reset, global-norm clipping (max norm 1, fused
**             into the update), SGD with momentum 0.9 (lr 0.01), the
**             divergence watch; synthetic random data already on the device;
**             one clFinish at the end of each timed step, nothing else waits.
**   startup   `clgrad_ctx_new` + `clgrad_open` (every program) + model set-up +
**             the first step of the tiny model, finished, in child processes
**             (exe "bench --startup-child"), three of them in turn:
**               no_cache  every kernel cache off (CLGRAD_NO_CACHE=1,
**                         POCL_KERNEL_CACHE=0, CUDA_CACHE_DISABLE=1): what
**                         every start costs without caches
**               cold      clgrad's, PoCL's and CUDA's caches on but empty (in
**                         fresh temporary directories), filled by this run: a
**                         first run after installing; on PoCL this includes
**                         generating machine code for every kernel, because
**                         storing the program binary asks for it
**               warm      the same caches as the cold run left them
**             Other vendors' private driver caches are not redirected.
**
** Reference models (tanh, SGD momentum 0.9, global-norm clipping):
**   tiny    MLP, 4 hidden layers of 64,   64 inputs,   10 classes, batch 32,  cross-entropy
**   medium  MLP, 16 hidden layers of 256, 256 inputs,  10 classes, batch 128, cross-entropy
**   large   MLP, 16 hidden layers of 1024, 1024 inputs, 10 classes, batch 512, cross-entropy
**   rnn     vanilla RNN, hidden 128, 100 time steps, 2 inputs (the adding
**           problem's shape), 1 output, batch 64, MSE
**   lstm    LSTM, hidden 128, 50 time steps, otherwise as rnn
**   gru     GRU, hidden 128, 50 time steps, otherwise as rnn
**   xl      MLP, 16 hidden layers of 4096, 4096 inputs, 10 classes, batch 4096,
**           cross-entropy (about 6.6 TFLOP per step): by default only on GPU
**           devices, not with --quick; --models xl runs it anywhere
** --quick leaves out large and xl.
**
** JSON (--json FILE): the device fingerprint (as manifest.json), clgrad
** version, kernel source hash, build options, and every number with its unit
** in the key name (_gflops, _gbps, _us, _ms, _s, _pct, _per_s).  Every gemm and
** train entry has an "id" that is the same on every device, so
** `clgrad bench --compare A.json B.json ...` can line them up.
*/
#ifndef CLGRAD_CLI_BENCH_H
#define CLGRAD_CLI_BENCH_H
#include "clgrad/bench.h"
#include "clgrad/core.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"

#include <stdio.h>

#define CLGRAD_BENCH_MAX_GEMM 96
#define CLGRAD_BENCH_MAX_TRAIN 32

/* ---- reference models ---- */

/* When a reference model runs without --models: always, in full runs (not
** --quick), in full runs on GPU devices only (too slow for CPU devices). */
typedef enum { CLGRAD_BENCH_RUN_ALWAYS = 0, CLGRAD_BENCH_RUN_FULL = 1, CLGRAD_BENCH_RUN_GPU = 2 } clgrad_bench_run_when;

typedef struct clgrad_bench_model {
    const char *name;        /* "tiny", "medium", "large", "rnn", "lstm", "gru", "xl" */
    const char *desc;        /* one line for tables */
    clgrad_model_kind kind;
    int depth;               /* MLP hidden layers (recurrent: 1) */
    size_t width, batch, in, seq_len, out;
    clgrad_loss loss;
    clgrad_bench_run_when run; /* in the default set when */
} clgrad_bench_model;

int clgrad_bench_model_count(void);
const clgrad_bench_model *clgrad_bench_model_at(int i);
const clgrad_bench_model *clgrad_bench_model_find(const char *name); /* NULL when unknown */
/* Is bm in the set that runs without --models, for a --quick run or not, on a GPU device or not? */
int clgrad_bench_model_default(const clgrad_bench_model *bm, int quick, int gpu);

/* ---- options and results ---- */

typedef void (*clgrad_bench_print_fn)(void *user, const char *line);

typedef struct clgrad_bench_opts {
    int quick;              /* small sizes, few reps (CI, tests) */
    const size_t *sizes;    /* square GEMM sizes; NULL: 256..4096 (quick: 128, 256) */
    int nsizes;
    int reps;               /* timed GEMM calls and training steps; 0: 10 calls, 20 steps (quick 3, 3) */
    int warmup;             /* untimed training steps first; 0: 3 (quick 1); < 0: none */
    double budget_s;        /* a measurement stops after 3 reps once it has taken this long; 0: 10 s for
                               GEMM (quick 1 s), no limit for training steps; < 0: never */
    int backends;           /* bit 0 own, bit 1 CLBlast; 0: both */
    const char *models;     /* "tiny,rnn"; NULL: the default set (clgrad_bench_model.run) */
    int no_limits, no_gemm, no_train, no_startup;
    size_t mem_bytes;       /* bandwidth buffer; 0: min(256 MiB, max alloc / 2) (quick 16 MiB) */
    size_t xfer_bytes;      /* transfer size; 0: 64 MiB (quick 8 MiB) */
    /* start-up children: exe (NULL: /proc/self/exe) is run as
    ** "exe bench --startup-child --device P:D [--cl-dir DIR]" */
    const char *exe;
    const char *cl_dir;
    const char *startup_only; /* tests: the children build only these programs ("bench.cl") and
                                 launch bench_empty as their first step */
    clgrad_bench_print_fn print; /* progress lines (table rows as measured); may be NULL */
    void *user;
} clgrad_bench_opts;

typedef struct clgrad_bench_limits {
    int events;                 /* 1: kernel times from profiling events; 0: host clock */
    size_t peak_items;          /* work-items of the peak kernels */
    int peak_iters;             /* loop iterations (calibrated) of the best variant */
    int peak_variant;           /* the best variant (clgrad_bench_peak_name) */
    double peak_gflops[CLGRAD_BENCH_NPEAK], peak_best_gflops[CLGRAD_BENCH_NPEAK];
    double fp32_peak_gflops;    /* max over the variants of the medians: peak_variant's */
    size_t mem_bytes;           /* per buffer */
    double copy_gbps, best_copy_gbps, triad_gbps, best_triad_gbps;
    double mem_gbps;            /* max(copy, triad) medians */
    double launch_us;           /* median enqueue + clgrad_finish of one empty kernel */
    double launch_pipelined_us; /* mean per launch of back-to-back empty kernels, one clFinish */
    size_t xfer_bytes;
    double h2d_gbps, d2h_gbps;  /* medians */
    int reps;
} clgrad_bench_limits;

typedef struct clgrad_bench_gemm_row {
    char id[96];    /* "square/NN/1024x1024x1024/own", "large.fwd/NT/512x1024x1024/clblast" */
    char shape[32]; /* "square", "<model>.fwd", ".dw", ".dx" */
    int ta, tb;
    size_t M, N, K;
    clgrad_gemm_backend backend;
    int reps;
    double median_ms, best_ms, gflops, best_gflops, pct_peak;
    char error[256]; /* "" when measured */
} clgrad_bench_gemm_row;

typedef struct clgrad_bench_train_row {
    char id[64]; /* "<model>/<backend>" */
    const clgrad_bench_model *model;
    clgrad_gemm_backend backend;
    size_t params;
    int warmup, steps;
    double median_ms, min_ms, max_ms, steps_per_s;
    double launches;   /* commands enqueued per (unlogged) step: kernels, copies, fills */
    double log_pct;    /* a log step's extra time over a plain one, %, both back to back, the log step's metrics read
                       ** back without blocking as `clgrad run` does (medians of 3 blocks; NaN: not measured) */
    double log_block_pct; /* the same for a log step that ends with a blocking read, after a plain step that
                       ** ends with a wait (medians) */
    double piped_ms;   /* ms per unlogged step enqueued back to back, one wait at the end (NaN: not measured) */
    char error[256];
} clgrad_bench_train_row;

typedef struct clgrad_bench_start {
    double open_s;       /* clgrad_ctx_new + clgrad_open */
    double setup_s;      /* model create + init + data on the device */
    double first_step_s; /* the first training step, finished */
    double total_s;      /* the three */
    double process_s;    /* the child process, spawn to exit (as the parent saw it) */
    int programs, compiled, loaded;
} clgrad_bench_start;

typedef struct clgrad_bench_startup {
    int measured;
    clgrad_bench_start no_cache, cold, warm;
    char error[512];
} clgrad_bench_startup;

typedef struct clgrad_bench_result {
    int quick, reps, warmup;
    double budget_s;
    int has_limits;
    clgrad_bench_limits limits;
    clgrad_bench_gemm_row gemm[CLGRAD_BENCH_MAX_GEMM];
    int ngemm;
    clgrad_bench_train_row train[CLGRAD_BENCH_MAX_TRAIN];
    int ntrain;
    clgrad_bench_startup startup;
    double seconds; /* the whole bench */
    char start_time[32];
} clgrad_bench_result;

/* ---- the measurements ---- */

/* Device limits.  Fails only on an OpenCL error. */
clgrad_status clgrad_bench_limits_measure(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_limits *out);
/* One GEMM shape on one backend (the context's backend is restored).  A
** failure (e.g. CLBlast on a device it does not support) is returned with
** the context's message. */
clgrad_status clgrad_bench_gemm_time(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K,
                                     clgrad_gemm_backend backend, int reps, double budget_s, double *median_s,
                                     double *best_s, int *done);
/* Training steps of one reference model on one backend: warmup untimed steps, then
** `steps` timed ones (fewer only when budget_s > 0 ran out after 3);
** *times gets malloc'd per-step seconds (the caller frees), *n their count. */
clgrad_status clgrad_bench_train_time(clgrad_ctx *ctx, const clgrad_bench_model *model, clgrad_gemm_backend backend,
                                      int warmup, int steps, double budget_s, size_t *params, double **times, int *n);
/* Of the same steps: the commands enqueued per unlogged step; the extra
** time of a log step at log_every = 1 (statistics, per-layer figures, the
** metrics block's read-back) over an unlogged one, %: *log_pct with both
** enqueued back to back and the read-back not waited for, as `clgrad run`
** takes them (medians of 3 blocks of ~steps/3 each), *log_block_pct for a
** log step ending with a blocking read after a plain step ending with a wait
** (medians of `steps` alternating pairs); and the ms per step of unlogged
** steps enqueued back to back with one wait at the end, as `clgrad run`
** takes the steps between log steps (the median of the 3 plain blocks; the
** timed steps above each wait for the queue to drain). */
clgrad_status clgrad_bench_train_extras(clgrad_ctx *ctx, const clgrad_bench_model *model, clgrad_gemm_backend backend,
                                        int steps, double *launches, double *log_pct, double *log_block_pct,
                                        double *piped_ms);
/* Start-up (cold, then warm) through two child processes on ctx's device. */
clgrad_status clgrad_bench_startup_measure(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_startup *out);

/* Everything the options ask for.  Measurements that fail are recorded with
** their error (row.error, startup.error) and the bench goes on; the return
** value is an error only when the device itself fails (limits). */
clgrad_status clgrad_bench_run(clgrad_ctx *ctx, const clgrad_bench_opts *opts, clgrad_bench_result *res);

/* The JSON document (malloc'd, NUL-terminated; NULL on OOM). */
char *clgrad_bench_json(clgrad_ctx *ctx, const clgrad_bench_result *res, const char *command_line);
/* The side-by-side table of several bench JSON files (one column per file,
** ratios to the first).  Returns 0, or 2 with why when a file cannot be read. */
int clgrad_bench_compare(FILE *f, int n, const char *const *paths, char *why, size_t nwhy);

/* `clgrad bench [--device SPEC] [--gemm own|clblast] [--quick] [--sizes 256,512,...]
**   [--reps N] [--warmup N] [--budget S] [--models tiny,medium,large,rnn,lstm,gru,xl]
**   [--no-limits] [--no-gemm] [--no-train] [--no-startup] [--json FILE]
**   [--cl-dir DIR] [--cache-dir DIR] [--no-cache]`
** `clgrad bench --compare A.json B.json ...`
** argv[0] is "bench".  Returns 0, 1 when the device fails, 2 on a usage or
** read error. */
int clgrad_cli_bench(int argc, char **argv);
#endif
