/*
** rundir.h: the files of a run directory: atomic text files, JSON strings,
** the manifest and summary, tensor snapshots as .npy.  Internal to the library.
*/
#ifndef CLGRAD_RUNDIR_H
#define CLGRAD_RUNDIR_H
#include "clgrad/model.h"
#include "clgrad/train.h"
#include <stdio.h>

/* Create dir (and parents), prove it writable by writing a 64 KiB reserve
** file (.clgrad-reserve: space kept for the final summary.json and
** manifest.json should the disk fill during the run), and remove a
** summary.json left by an earlier run.  0 on success, else -1 with why. */
int clgrad_rundir_prepare(const char *dir, char *why, size_t nwhy);
/* At the end of a run (after the last summary/manifest write, on success
** and on failure): remove the reserve file.  clgrad_write_atomic also does
** this once it has written a manifest.json whose status is not "running". */
void clgrad_rundir_finish(const char *dir);
/* Write text to dir/name atomically (temp file, fsync, rename; the temp file
** is removed on failure).  On ENOSPC/EDQUOT it frees the reserve and tries
** once more.  0 or -1 with why. */
int clgrad_write_atomic(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy);
/* CSV files that stay whole rows when the disk fills: after writing each
** group of whole rows call clgrad_csv_commit (flush; on success *good_end =
** the file's end; start *good_end at the header's commit).  It returns -1
** with errno on a write error: stop the run (fail it) and close the file
** with clgrad_csv_close(f, good_end), which closes f and cuts the file back
** to good_end, so it ends on the last whole row that was committed. */
int clgrad_csv_commit(FILE *f, long *good_end);
int clgrad_csv_close(FILE *f, long good_end);
/* A growable string for building JSON and CSV text. */
typedef struct { char *s; size_t len, cap; int oom; } clgrad_sbuf;
void clgrad_sb_printf(clgrad_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void clgrad_sb_json_str(clgrad_sbuf *b, const char *s);
/* A double as JSON: finite values with %.9g, NaN and +-Inf as null (JSON has
** neither); where the kind matters the caller adds "KEY_nonfinite": "nan"|"inf"|"-inf". */
void clgrad_sb_json_num(clgrad_sbuf *b, double v);
void clgrad_sb_free(clgrad_sbuf *b);
/* The device fingerprint and kernel provenance as JSON object members
** ("device", "gemm_variant", "build_options", "kernel_source_sha256",
** "kernel_build"), each line indented and ending in ",\n"; shared by
** manifest.json and the bench record. */
void clgrad_sb_fingerprint(clgrad_sbuf *b, clgrad_ctx *ctx);
/* Current UTC time as ISO 8601. */
void clgrad_iso_time(char *out, size_t n);

/* Read the parameter block and write one .npy per tensor into dir (created). */
clgrad_status clgrad_save_tensors(clgrad_ctx *ctx, const clgrad_model *m, const char *dir);
/* Load every tensor's .npy from dir into the parameter block; shapes must match. */
clgrad_status clgrad_load_tensors(clgrad_ctx *ctx, clgrad_model *m, const char *dir);
#endif
