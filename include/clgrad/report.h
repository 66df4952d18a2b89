/*
** clgrad/report.h: reading finished run directories back, comparing runs and
** plotting them.  Host-only: nothing here touches OpenCL.
**
**   runread.c  a small JSON reader (manifest.json, summary.json), a CSV reader
**              with columns looked up by header name (metrics.csv, layers.csv,
**              timesteps.csv, a sweep's summary.csv), and clgrad_rundata_read()
**   compare.c  `clgrad compare`: per-metric differences between runs
**   plot.c     `clgrad plot`: SVG figures and a self-contained report.html
**
** The files read are those `clgrad run` writes (see the README).  Every
** function returns a clgrad_status and, on failure, writes a message that
** names the file into why[nwhy]; nothing here exits or prints, except the two
** CLI entry points at the end, which the executable calls.
*/
#ifndef CLGRAD_REPORT_H
#define CLGRAD_REPORT_H
#include "clgrad/core.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- JSON ------------------------------------------------------------------ */

typedef enum {
    CLGRAD_JSON_NULL = 0,
    CLGRAD_JSON_BOOL,
    CLGRAD_JSON_NUMBER,
    CLGRAD_JSON_STRING,
    CLGRAD_JSON_ARRAY,
    CLGRAD_JSON_OBJECT
} clgrad_json_type;

/* A parsed JSON value.  Objects keep their members in file order. */
typedef struct clgrad_json {
    clgrad_json_type type;
    double num;                /* NUMBER; BOOL as 0/1 */
    char *str;                 /* STRING (owned, UTF-8, NUL-terminated) */
    size_t n;                  /* ARRAY / OBJECT: number of items */
    char **keys;               /* OBJECT: n owned keys */
    struct clgrad_json *items; /* ARRAY / OBJECT: n owned values */
} clgrad_json;

/* Parse a complete JSON text (nesting depth <= 64).  *out is a new value to
** free with clgrad_json_free; on error *out is NULL and why says where. */
clgrad_status clgrad_json_parse(const char *text, clgrad_json **out, char *why, size_t nwhy);
/* Read and parse a file; the message names the path. */
clgrad_status clgrad_json_load(const char *path, clgrad_json **out, char *why, size_t nwhy);
void clgrad_json_free(clgrad_json *v); /* NULL is fine */
/* Member `key` of an object (exact key), or NULL. */
const clgrad_json *clgrad_json_member(const clgrad_json *obj, const char *key);
/* Follow a dotted path of member names: "device.name", "divergence.step".
** NULL when any step is missing or not an object. */
const clgrad_json *clgrad_json_path(const clgrad_json *root, const char *path);
/* A string's text, or NULL for anything else (and for NULL). */
const char *clgrad_json_str(const clgrad_json *v);
/* A number: JSON numbers, booleans, and the strings "nan", "inf", "-inf"
** (also "+inf", "infinity").  NaN for anything else, including null/missing. */
double clgrad_json_num(const clgrad_json *v);
/* A number field of summary.json by dotted path ("final_test_loss",
** "divergence.value").  JSON has no NaN/Inf: clgrad writes them as null with a
** sibling "KEY_nonfinite": "nan"|"inf"|"-inf"; a null without one means "not
** measured" (NaN, *measured = 0).  Older files with "nan"/"inf" strings read
** too.  *present (may be NULL): the member exists at all. */
double clgrad_json_num_field(const clgrad_json *root, const char *path, int *present, int *measured);
/* Is v a number or one of the non-finite number strings? */
int clgrad_json_is_num(const clgrad_json *v);
/* A scalar as text into buf: strings as-is, numbers with %.9g, true/false,
** "null"; "" for NULL, "{...}" / "[...]" for containers.  Returns buf. */
const char *clgrad_json_text(const clgrad_json *v, char *buf, size_t nbuf);

/* The one JSON string writer of clgrad (every JSON file and --json output):
** s (NULL as "") as a quoted JSON string through put(u, bytes, n).  Escapes
** " and \, writes \n \t \r, every other control character and DEL (0x7f)
** as \u00XX; valid UTF-8 is copied; each byte that is not part of a valid
** UTF-8 sequence becomes \ufffd (U+FFFD), so the output is always valid
** UTF-8 JSON (the original bytes of such a name are not recoverable). */
void clgrad_json_escape(const char *s, void (*put)(void *u, const char *p, size_t n), void *u);
/* clgrad_json_escape to a stdio stream. */
void clgrad_json_fputs(FILE *f, const char *s);
/* 1 when s (NULL: yes) is valid UTF-8. */
int clgrad_utf8_valid(const char *s);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the byte at s
** starts none (overlong forms, surrogates, code points above U+10FFFF). */
size_t clgrad_utf8_len(const unsigned char *s);

/* ---- CSV ------------------------------------------------------------------- */

/* A CSV file with a header line.  Fields are kept as text; num[] holds the
** parsed number of each field: NaN when the field is empty or not a number
** ("nan", "inf", "-inf" parse as numbers).  RFC 4180 quotes are understood. */
typedef struct clgrad_csv {
    char path[1024];
    size_t ncols, nrows;
    char **names;  /* ncols column names (point into buf) */
    char **text;   /* nrows*ncols fields, row-major (point into buf) */
    double *num;   /* nrows*ncols */
    char *buf;     /* owned text storage */
    size_t cut_line; /* a last line without its newline (a writer killed mid-row, or still
                        writing) is left out, never read as a row: its line number; 0: none */
} clgrad_csv;

clgrad_status clgrad_csv_read(const char *path, clgrad_csv *t, char *why, size_t nwhy);
void clgrad_csv_free(clgrad_csv *t); /* zeroes t; a zeroed t is fine */
/* What reading t left out, for the reader to report as a warning: "PATH:
** ignored a cut last line (line N has no newline: ...)" into buf, or NULL
** when nothing was. */
const char *clgrad_csv_warning(const clgrad_csv *t, char *buf, size_t nbuf);
/* Column index by header name, or -1. */
int clgrad_csv_col(const clgrad_csv *t, const char *name);
const char *clgrad_csv_text(const clgrad_csv *t, size_t row, int col); /* "" when col < 0 */
double clgrad_csv_num(const clgrad_csv *t, size_t row, int col);       /* NaN when col < 0 */
/* Was the field written (non-empty)?  An empty field means "not measured". */
int clgrad_csv_present(const clgrad_csv *t, size_t row, int col);

/* ---- a run directory -------------------------------------------------------- */

enum {
    CLGRAD_RUN_NEED_SUMMARY = 1 /* summary.json must exist (else: optional) */
};

typedef struct clgrad_rundata {
    char dir[1024];
    char name[256];         /* last path component of dir */
    clgrad_json *manifest;  /* manifest.json (required) */
    clgrad_json *summary;   /* summary.json, NULL when absent and not required */
    clgrad_csv metrics;     /* metrics.csv (required) */
    clgrad_csv layers;      /* layers.csv (required) */
    clgrad_csv timesteps;   /* timesteps.csv, RNN runs only */
    int has_timesteps;
    clgrad_csv events;      /* events.csv (step,metric,layer,value,z: the spike detector's events);
                               runs written before it existed have none */
    int has_events;
} clgrad_rundata;

/* Read the files of a run directory.  A missing directory or required file
** is CLGRAD_E_IO with the path in why; *run is then zeroed. */
clgrad_status clgrad_rundata_read(const char *dir, unsigned flags, clgrad_rundata *run, char *why, size_t nwhy);
void clgrad_rundata_free(clgrad_rundata *run);
/* The warnings of a run's CSV files (clgrad_csv_warning), one a line, into
** buf ("" when none); returns how many there are. */
size_t clgrad_rundata_warnings(const clgrad_rundata *run, char *buf, size_t nbuf);
/* Those warnings on f, a line each: "WHO: warning: ..." (compare and plot). */
void clgrad_rundata_print_warnings(FILE *f, const char *who, const clgrad_rundata *run);
/* The run's final status: summary "status", else manifest "status", else "unknown". */
const char *clgrad_rundata_status(const clgrad_rundata *run);
/* summary "divergence" object, or NULL when the run did not diverge. */
const clgrad_json *clgrad_rundata_divergence(const clgrad_rundata *run);

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

#ifdef __cplusplus
}
#endif
#endif
