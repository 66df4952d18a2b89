/*
** rundir.h: the files of a run directory: atomic text files, JSON strings,
** the manifest and summary, tensor snapshots as .npy.  Internal to the library.
*/
#ifndef CLGRAD_RUNDIR_H
#define CLGRAD_RUNDIR_H
#include "clgrad/model.h"
#include "clgrad/train.h"
#include <stdio.h>

/* Create dir (and parents) and prove it writable by creating and removing a
** probe file.  0 on success, else -1 with why. */
int clgrad_rundir_prepare(const char *dir, char *why, size_t nwhy);
/* Write text to dir/name atomically (temp file, fsync, rename).  0 or -1 with why. */
int clgrad_write_atomic(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy);
/* A growable string for building JSON and CSV text. */
typedef struct { char *s; size_t len, cap; int oom; } clgrad_sbuf;
void clgrad_sb_printf(clgrad_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void clgrad_sb_json_str(clgrad_sbuf *b, const char *s);
/* A double as JSON: finite values with %.17g, NaN/Inf as null... no: as strings "nan", "inf", "-inf". */
void clgrad_sb_json_num(clgrad_sbuf *b, double v);
void clgrad_sb_free(clgrad_sbuf *b);
/* Current UTC time as ISO 8601. */
void clgrad_iso_time(char *out, size_t n);

/* Read the parameter block and write one .npy per tensor into dir (created). */
clgrad_status clgrad_save_tensors(clgrad_ctx *ctx, const clgrad_model *m, const char *dir);
/* Load every tensor's .npy from dir into the parameter block; shapes must match. */
clgrad_status clgrad_load_tensors(clgrad_ctx *ctx, clgrad_model *m, const char *dir);
#endif
