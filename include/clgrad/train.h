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
**   summary.json   status completed|diverged|interrupted|failed, divergence,
**                  final losses and accuracy, max gradient norm, time per step
**   weights/init/NAME.npy, weights/final/NAME.npy  one file per tensor, state_dict names
**   data/NAME.npy  with save_data: the train and test arrays as used
** A diverging run is a result (status diverged, return CLGRAD_OK); an
** interrupt (*stop set) ends the run at the next step boundary, writes every
** file and reports status interrupted.
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

typedef struct clgrad_run_opts {
    const char *out_dir;      /* required: created (with parents) if missing */
    const char *init_from;    /* NULL, or a directory of .npy tensors to start from */
    int save_data;            /* write data/NAME.npy */
    int quiet;                /* no progress bar: a line every few steps instead */
    int progress_tty;         /* draw a progress bar (stderr is a terminal and not quiet) */
    const char *command_line; /* recorded in the manifest */
    volatile sig_atomic_t *stop; /* set asynchronously (SIGINT/SIGTERM) to stop at the next step */
    int force;                /* replace a run out_dir already holds (else refused) */
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
    char diverge_layer[48];   /* layer where it first appeared (see README) */
    double final_train_loss, final_test_loss, final_test_acc, max_grad_norm, ms_per_step;
} clgrad_run_result;

const char *clgrad_run_status_name(clgrad_run_status s);

/* Run the experiment on an open context.  Returns CLGRAD_OK for completed,
** diverged and interrupted runs (res->status tells which); an error status
** (with clgrad_errmsg) when the run could not be carried out; the run
** directory then still holds a summary.json with status failed when it could
** be written. */
clgrad_status clgrad_run(clgrad_ctx *ctx, const clgrad_config *cfg, const clgrad_run_opts *opts,
                         clgrad_run_result *res);
#endif
