/*
** cli/report.h (private, not installed): comparing runs and plotting them,
** parts of the clgrad executable (runs are read with clgrad/report.h).
**
**   compare.c  `clgrad compare`: per-metric differences between runs
**   plot.c     `clgrad plot`: SVG figures and a self-contained report.html
**
** Every function returns a clgrad_status and, on failure, writes a message
** that names the file into why[nwhy]; nothing here exits or prints, except the
** two CLI entry points at the end (and the print functions, to their FILE).
*/
#ifndef CLGRAD_CLI_REPORT_H
#define CLGRAD_CLI_REPORT_H
#include "clgrad/report.h"

#include <stddef.h>
#include <stdio.h>

/* ---- compare ------------------------------------------------------------------ */

/* Agreement rule, per value, with b the reference run (the first):
**   |a - b| <= atol + rtol*|b|; NaN equals NaN, +Inf equals +Inf, -Inf equals
**   -Inf; a finite value against a non-finite one is a difference; a value
**   measured in one run and empty in the other is a difference.
** Defaults (CLGRAD_COMPARE_RTOL/ATOL): rtol 1e-4, atol 1e-6 -- far above the
** float32 rounding noise of a single op, small enough that a real change in a
** trajectory shows on the first logged step it affects. */
#define CLGRAD_COMPARE_RTOL 1e-4
#define CLGRAD_COMPARE_ATOL 1e-6

/* One metric of one run against the reference. */
typedef struct clgrad_metric_diff {
    char file[16];     /* "metrics.csv", "layers.csv", "timesteps.csv", "summary.json" */
    char metric[64];   /* column or summary field */
    char layer[64];    /* layers.csv: the layer name; else "" */
    int timing;        /* wall-clock figure (ms_per_step): shown, never a disagreement */
    size_t compared;   /* values present in both runs at common steps */
    size_t ndiff;      /* of those, beyond tolerance (or present in one run only) */
    double max_abs;    /* max |a-b| over pairs where both are finite; 0 if none */
    double max_rel;    /* max |a-b|/|b| likewise (Inf when b == 0 != a) */
    int has_first;     /* the first difference below is set */
    long first_step;   /* step of the first difference (summary: -1) */
    long first_t;      /* timesteps.csv: its t; else -1 */
    double first_a, first_b; /* values there (NaN also for "not measured") */
    int first_missing;       /* 0: both measured there; 1: not measured in this run;
                                2: not measured in the reference */
    char note[96];     /* e.g. "column missing in this run" */
    int disagree;      /* counts toward the verdict */
} clgrad_metric_diff;

/* One run against the reference run. */
typedef struct clgrad_rundata_cmp {
    int run;                     /* index into the runs array (>= 1) */
    size_t rows_ref, rows_run;   /* metrics.csv rows */
    long last_ref, last_run;     /* last logged step, -1 if none */
    size_t common_steps;         /* metrics.csv steps present in both */
    int length_mismatch;         /* the logged step sets differ */
    int status_differs;          /* final status differs */
    int divergence_differs;      /* divergence step/kind/layer differ */
    clgrad_metric_diff *diffs;   /* owned */
    size_t ndiffs;
    size_t ndisagree;            /* metrics that disagree */
    int agree;                   /* everything above agrees */
    /* Bit identity, whatever the tolerances: the same rows and columns with the
    ** same text in metrics.csv, layers.csv, timesteps.csv and events.csv (time columns
    ** aside), the same status, and byte-identical weights/ files (.npy). */
    int bit_identical;
    long first_bit_step;         /* step of the first differing value (-1: none / not a row) */
    char first_bit_diff[320];    /* "step 7, metrics.csv, grad_norm: 1.2345678 vs 1.2345679" */
    int weights_compared;        /* .npy files compared byte by byte */
} clgrad_rundata_cmp;

typedef struct clgrad_compare_result {
    double rtol, atol;
    int nruns;
    clgrad_rundata_cmp *cmp; /* nruns-1 entries, owned */
    int agree;
    int bit_identical;       /* every run is bit-identical to the reference */
} clgrad_compare_result;

/* Compare runs[1..n-1] with runs[0].  n >= 2. */
clgrad_status clgrad_runs_compare(const clgrad_rundata *runs, int n, double rtol, double atol,
                                  clgrad_compare_result *res, char *why, size_t nwhy);
void clgrad_compare_result_free(clgrad_compare_result *res);
/* The side-by-side text report, or the same as one JSON object. */
void clgrad_compare_print_text(FILE *f, const clgrad_rundata *runs, const clgrad_compare_result *res);
void clgrad_compare_print_json(FILE *f, const clgrad_rundata *runs, const clgrad_compare_result *res);

/* ---- plot -------------------------------------------------------------------- */

/* Write the figures of one or several runs into outdir (created):
**   loss.svg            train loss and test loss over steps (log y when the
**                       values are positive and span more than two decades)
**   grad_norm.svg       global gradient norm before / after clipping, log y,
**                       the divergence step marked
**   layers_grad.svg     per-layer out_grad_norm over steps, log y
**   layers_heatmap.svg  layer x step heat map of log10 out_grad_norm
**   timesteps.svg       RNN runs: ||dL/dh_t|| over t at a few logged steps
**   timesteps_heatmap.svg  RNN runs: time step x training step, log10 ||dL/dh_t||
**   cell_timesteps.svg, cell_timesteps_heatmap.svg  LSTM runs: the same for ||dL/dc_t||
**   hist_<layer>_<weight|grad|act>.svg  runs with histograms.csv: bin x step
**                       heat map of log10 (fraction of entries) per layer and tensor
**   report.html         the settings (config.ini: differing keys highlighted, the
**                       full config folded), the outcome, the figures inline,
**                       summary and manifest folded
** With several runs, loss.svg and grad_norm.svg overlay one line per run; the
** per-run figures of the k-th run (k >= 2, counting from 1) are named
** layers_grad.run<k>.svg, layers_heatmap.run<k>.svg, timesteps.run<k>.svg, ...
** and share one y range (heat maps: one colour scale) per kind across runs.
** On log axes an exact 0 is drawn in a "0 (underflow)" band.
** *nwritten (may be NULL) gets the number of files written. */
clgrad_status clgrad_plot_runs(const clgrad_rundata *runs, int n, const char *outdir, int *nwritten,
                               char *why, size_t nwhy);
/* Sweep outcome heat map over two swept keys (ykey may be NULL for one row),
** read from sweep_dir/summary.csv; writes sweep_heatmap.svg and report.html
** into outdir.  On success why holds a warning to report (a cut last line
** of summary.csv left out; see clgrad_csv_warning), or "". */
clgrad_status clgrad_plot_sweep(const char *sweep_dir, const char *xkey, const char *ykey,
                                const char *outdir, char *why, size_t nwhy);

/* ---- learning-rate sensitivity (Wortsman et al. 2023) ---------------------------- */

/* Wortsman et al., "Small-scale proxies for large-scale Transformer training
** instabilities" (2023), define the LR sensitivity of a training set-up as
**   E_{eta in [a,b]} [ min(l(eta), l0) - l* ]
** with l(eta) the final loss at learning rate eta, l0 the loss at
** initialisation and l* the best final loss over [a,b].  Over a sweep the
** expectation is the plain mean over the swept learning rates: on a
** log-spaced grid each value stands for an equal share of log(eta), i.e.
** the expectation for eta log-uniform on [a,b].  A point that diverged, or
** whose final loss is non-finite or above l0, counts as l0. */
enum {
    CLGRAD_LR_OK = 0,    /* a finite final loss, not above l0 (or l0 unknown) */
    CLGRAD_LR_DIVERGED,  /* the run diverged (summary status "diverged") */
    CLGRAD_LR_NONFINITE, /* completed with a NaN/Inf final loss */
    CLGRAD_LR_ABOVE_L0,  /* completed with a final loss above l0 */
    CLGRAD_LR_MISSING    /* no result: no row, or failed/pending/interrupted */
};

typedef struct clgrad_lr_point {
    double lr;
    double loss;  /* the final loss read (NaN when none) */
    double loss0; /* l0 of this point's run (NaN: unknown) */
    int state;    /* CLGRAD_LR_*; clgrad_lr_curve_compute sets NONFINITE / ABOVE_L0 */
    char status[24];
} clgrad_lr_point;

#define CLGRAD_LR_MAX_KEYS 16

typedef struct clgrad_lr_curve {
    char label[512];                  /* "optim.kind=sgd, clip.kind=none" ("all points": lr only) */
    char *value[CLGRAD_LR_MAX_KEYS];  /* the other swept keys' values (owned) */
    size_t n;                         /* points, ascending lr */
    clgrad_lr_point *pt;              /* owned */
    double loss0;                     /* the curve's l0 for points without their own (NaN: unknown) */
    double best_lr, best_loss;        /* the optimum over CLGRAD_LR_OK points (NaN: none) */
    double edge_lr;                   /* smallest lr diverged / non-finite / above l0 (NaN: none) */
    double sensitivity;               /* NaN when it cannot be computed (see note) */
    size_t ncapped, nmissing;
    char note[512];
} clgrad_lr_curve;

typedef struct clgrad_lr_sens {
    int has_lr;                       /* optim.lr is a swept key */
    char loss_col[32];                /* the summary.csv column used as the final loss */
    int nkeys;                        /* the other swept keys */
    char *key[CLGRAD_LR_MAX_KEYS];    /* owned */
    size_t ncurves;
    clgrad_lr_curve *curve;           /* owned */
    char note[768];                   /* !has_lr: why there is no figure */
} clgrad_lr_sens;

/* Classify c->pt (NONFINITE, ABOVE_L0) and fill best_*, edge_lr,
** sensitivity, ncapped, nmissing and note.  A point's own loss0 is its l0,
** else c->loss0.  The sensitivity is NaN when a point has no result or when a
** point must be capped and its l0 is unknown. */
void clgrad_lr_curve_compute(clgrad_lr_curve *c);
/* Read sweep_dir/summary.csv (and each point's metrics.csv for l0: the
** train loss logged at step 1, i.e. of the initial weights) into *out: one
** curve per combination of the other swept keys.  No optim.lr axis is not an
** error: out->has_lr = 0 and out->note says so. */
clgrad_status clgrad_sweep_lr_read(const char *sweep_dir, clgrad_lr_sens *out, char *why, size_t nwhy);
void clgrad_lr_sens_free(clgrad_lr_sens *s); /* a zeroed *s is fine */
/* clgrad_plot_sweep, plus, when optim.lr is swept, lr_sensitivity.svg (final
** loss against lr, a curve per combination of the other keys, optimum and
** divergence edge marked) and lr_sensitivity.csv, and their table in
** report.html.  xkey NULL: optim.lr when swept, else the first swept key
** (ykey then the next one).  lrs (may be NULL) receives what was computed. */
clgrad_status clgrad_plot_sweep_lr(const char *sweep_dir, const char *xkey, const char *ykey, const char *outdir,
                                   clgrad_lr_sens *lrs, char *why, size_t nwhy);

/* ---- command line -------------------------------------------------------------- */

/* `clgrad compare RUN_DIR RUN_DIR ... [--rtol R] [--atol A] [--json]`
** argv[0] is "compare".  Returns 0 when all runs agree, 1 when some metric,
** status or divergence verdict differs (or the runs have different lengths),
** 2 on a usage or read error. */
int clgrad_cli_compare(int argc, char **argv);
/* `clgrad plot RUN_DIR [RUN_DIR ...] [--out DIR]`
** `clgrad plot --sweep SWEEP_DIR --x KEY [--y KEY] [--out DIR]`
** argv[0] is "plot".  Returns 0 on success, 1 when reading or writing failed,
** 2 on a usage error. */
int clgrad_cli_plot(int argc, char **argv);

#endif
