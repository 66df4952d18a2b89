/*
** clgrad/report.h: reading finished run directories back (src/run/runread.c).
** Host-only: nothing here touches OpenCL.
**
**   a small JSON reader (manifest.json, summary.json), a CSV reader with
**   columns looked up by header name (metrics.csv, layers.csv, timesteps.csv,
**   a sweep's summary.csv), and clgrad_rundata_read()
**
** Comparing runs (`clgrad compare`) and plotting them (`clgrad plot`) are
** part of the clgrad executable (src/cli/report.h).
**
** The files read are those `clgrad run` writes (see the README).  Every
** function returns a clgrad_status and, on failure, writes a message that
** names the file into why[nwhy]; nothing here exits or prints (except
** clgrad_rundata_print_warnings and clgrad_json_fputs, to the FILE given).
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
    clgrad_csv histograms;  /* histograms.csv, runs with [metrics] histogram_every > 0 only */
    int has_histograms;
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
/* The distinct layer names of run->layers in order of first appearance
** (malloc'd array to free; the names point into run->layers); *n gets their
** count (0 when layers.csv has no "layer" column).  NULL (*n = 0) on no memory. */
/* The distinct values of column col in first-appearance order (malloc'd
** array of pointers into t, *n of them; NULL on no memory; none when t has no
** such column). */
const char **clgrad_csv_distinct(const clgrad_csv *t, const char *col, size_t *n);
const char **clgrad_rundata_layers(const clgrad_rundata *run, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
