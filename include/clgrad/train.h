/*
** clgrad/train.h: run one experiment (`clgrad run`): data -> model -> the
** gradient-descent loop with clipping and the optimizer -> metrics and the
** run directory.
**
** Run directory (opts.out_dir):
**   config.ini     the resolved config (every key)
**   manifest.json  version, device fingerprint, GEMM backend, build options,
**                  kernel source hash, compile/cache timing, seed, command
**                  line, experiment ([run] name), start/end time, status
**                  (rewritten atomically at the end)
**   metrics.csv    one row every log_every steps (flushed as it goes)
**   layers.csv     long format: step, layer, per-layer metrics
**   timesteps.csv  RNN only: step, t, ||dL/dh_t|| (t = T .. 1)
**   histograms.csv unless [metrics] histogram_every = 0: per histogram step,
**                  layer and tensor (weight, grad per parameter tensor; act per
**                  hidden layer) the counts of 52 log-magnitude bins (README;
**                  include/clgrad/hist.h)
**   summary.json   status completed|diverged|interrupted|failed, divergence,
**                  stopped_by, test_evaluated_step, final losses and accuracy,
**                  max gradient norm, mean/median time per step, step 1 alone;
**                  NaN/Inf as null with "KEY_nonfinite" beside it (README)
**   weights/init/NAME.npy, weights/final/NAME.npy  one file per tensor, state_dict names
**   data/NAME.npy  with save_data: the train and test arrays as used
** A diverging run is a result (status diverged, return CLGRAD_OK); an
** interrupt (*stop set, or on_step returning nonzero) ends the run at the
** next step boundary, writes every file and reports status interrupted.
** The library prints nothing: progress goes to on_step, kernel builds to
** clgrad_open_opts.on_build.
** The run holds an exclusive lock on out_dir (.clgrad-lock, removed at the
** end): a second run of the same directory is refused.  A directory that
** already holds a run (manifest.json or summary.json) is refused unless
** opts.force; with force only the files a run writes are replaced (files of
** other names stay, symlinks are never followed).
*/
#ifndef CLGRAD_TRAIN_H
#define CLGRAD_TRAIN_H
#include "clgrad/config.h"
#include "clgrad/core.h"
#include <signal.h>

/* What a per-step callback sees.  The device runs ahead of the host between
** logged steps, so loss, accuracy and gradient norms are read back only at
** logged steps ([run] log_every; logged = 1); at other steps they are NaN.
** seconds: wall time since the first step began (synchronised with the device
** at logged steps only). */
typedef struct clgrad_step_info {
    long step, steps_planned, epoch;
    int logged;          /* 1: the values below were read back at this step */
    double loss;         /* training loss of this step's batch (NaN unless logged) */
    double grad_norm;    /* gradient norm before clipping (NaN unless logged) */
    double lr;           /* learning rate used at this step */
    double seconds;      /* since the loop started */
    int diverged;        /* 1 once a divergence has been detected (logged steps) */
} clgrad_step_info;
/* Return 0 to go on, nonzero to stop the run at this step boundary (status
** interrupted, every file written, as after SIGINT). */
typedef int (*clgrad_step_fn)(void *user, const clgrad_step_info *info);

typedef struct clgrad_run_opts {
    const char *out_dir;      /* required: created (with parents) if missing */
    const char *init_from;    /* NULL, or a directory of .npy tensors to start from */
    int save_data;            /* write data/NAME.npy */
    int quiet;                /* unused: the library never prints; progress goes to on_step */
    int progress_tty;         /* unused (kept for source compatibility): see on_step */
    const char *command_line; /* recorded in the manifest */
    volatile sig_atomic_t *stop; /* set asynchronously (SIGINT/SIGTERM) to stop at the next step */
    int force;                /* replace a run out_dir already holds (else refused) */
    clgrad_step_fn on_step;   /* NULL, or called after every step (see clgrad_step_info) */
    void *on_step_user;
    /* 0: each logged step's metrics block is read back before the next step is
    ** queued.  N > 0: up to N logged steps' blocks may be in flight (read back
    ** without blocking, their rows written in order once they arrive, all of
    ** them at the end or an interrupt): on_step of such a step comes late, and
    ** a stop it asks for ends the run at the latest step queued.  Only where
    ** nothing waits on the values: [clip] nonfinite = propagate, not step 1,
    ** the last step, an evaluation or a sharpness step (those read back at
    ** once, as with 0).  A [diverge] stop found late ends the run at the step
    ** where it applies, as with 0: the device halted there
    ** (clgrad_step_plan.halt_on_divergence; batch norm's running estimates
    ** too, clgrad_model_set_halt), so the steps queued behind it changed
    ** nothing and are not recorded, though on_step was called for the
    ** unlogged ones among them.  The files are the same either way
    ** (timesteps' ms aside). */
    int metrics_lag;
} clgrad_run_opts;

typedef enum {
    CLGRAD_RUN_COMPLETED = 0,
    CLGRAD_RUN_DIVERGED = 1,
    CLGRAD_RUN_INTERRUPTED = 2,
    CLGRAD_RUN_FAILED = 3
} clgrad_run_status;

typedef struct clgrad_run_result {
    clgrad_run_status status;
    long steps_done;
    long diverge_step;        /* 0 if none */
    char diverge_kind[48];    /* "nonfinite_loss", "loss_limit", "nonfinite_grad", "grad_norm_limit" */
    char diverge_layer[48];   /* layer where it first appeared (see README); "" when no layer was found */
    double final_train_loss, final_test_loss, final_test_acc, max_grad_norm, ms_per_step;
    long test_eval_step;      /* step of the last test-set evaluation (final_test_*); 0: never evaluated */
    int has_accuracy;         /* 1 for classification (accuracy is measured), 0 for regression */
    double median_ms_per_step; /* median over the logged intervals after step 1 */
    double first_step_ms;     /* step 1 alone (first launches, warm-up) */
    int stopped_by_callback;  /* 1 when on_step asked the run to stop */
} clgrad_run_result;

const char *clgrad_run_status_name(clgrad_run_status s);

/* The data files the experiment reads ([data] kind = csv, idx, cifar10) are
** readable regular files: CLGRAD_E_CONFIG with a message naming the key and
** the path otherwise.  Works on a fresh (unopened) context; clgrad_run checks
** this first too, before it creates the run directory. */
clgrad_status clgrad_run_check_files(clgrad_ctx *ctx, const clgrad_config *cfg);

/* Run the experiment on an open context.  Returns CLGRAD_OK for completed,
** diverged and interrupted runs (res->status tells which); an error status
** (with clgrad_errmsg) when the run could not be carried out; the run
** directory then still holds a summary.json with status failed when it could
** be written. */
clgrad_status clgrad_run(clgrad_ctx *ctx, const clgrad_config *cfg, const clgrad_run_opts *opts,
                         clgrad_run_result *res);
#endif
