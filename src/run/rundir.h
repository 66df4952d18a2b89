/*
** rundir.h: the files of a run directory: atomic text files, JSON strings,
** the manifest and summary, tensor snapshots as .npy.  Internal to the library.
*/
#ifndef CLGRAD_RUNDIR_H
#define CLGRAD_RUNDIR_H
#include "clgrad/model.h"
#include "clgrad/train.h"
#include "util/sbuf.h"
#include <stdio.h>

/* Create dir (and parents), lock it (clgrad_rundir_lock; *lock_fd, release
** with clgrad_rundir_unlock), refuse it when it holds a run (manifest.json or
** summary.json) unless force (the message says whether that run is of
** another experiment: the manifest's "experiment"), prove it writable by
** writing a 64 KiB reserve file (.clgrad-reserve: space kept for the final
** summary.json and manifest.json should the disk fill during the run), and
** remove a summary.json left by an earlier run.  CLGRAD_OK, else CLGRAD_E_IO with
** why (nothing in dir changed, no lock held). */
clgrad_status clgrad_rundir_prepare(const char *dir, const char *experiment, int force, int *lock_fd, char *why, size_t nwhy);
/* The run-directory lock: flock(LOCK_EX) on dir/.clgrad-lock (opened without
** following a symlink), held for the run's whole life; a second run of the
** same directory is refused with a message naming the holder's pid.  A lock
** already held on that file through the fd in $CLGRAD_RUN_LOCK_FD (a sweep
** starting a point) is taken over.  Unlock removes the file. */
clgrad_status clgrad_rundir_lock(const char *dir, int *lock_fd, char *why, size_t nwhy);
void clgrad_rundir_unlock(const char *dir, int lock_fd);
void clgrad_rundir_finish(const char *dir);
/* Write text to dir/name atomically (clgrad_fs_replace: exclusive temp file
** with an unpredictable name, fsync, rename; removed on failure).  On ENOSPC/EDQUOT it frees the reserve and tries
** once more.  CLGRAD_OK, or CLGRAD_E_IO with why. */
clgrad_status clgrad_write_atomic(const char *dir, const char *name, const char *text, size_t len, char *why, size_t nwhy);
/* CSV files of whole rows, whatever stops the writer (a full disk, a
** SIGKILL): clgrad_csv_open creates path and writes the header; the rows of
** one step are printed into o->rows (an in-memory stream), then
** clgrad_csv_commit writes them with one write() call (a kill leaves the
** step's rows in the file or not, barring a short write, which readers see
** as a last line without its newline).  On a write error it cuts the file
** back to the end of the last commit and returns -1 with errno: stop the run
** (fail it).  clgrad_csv_close closes the file, cut back likewise, and is a
** no-op on a zeroed o.  All return 0 or -1 with errno. */
typedef struct clgrad_csv_out {
    FILE *rows;    /* the step's rows, printed here; NULL when not open */
    int fd;
    char *buf;     /* rows' text (open_memstream) */
    size_t len;
    long good_end; /* the file's end after the last whole commit */
} clgrad_csv_out;
int clgrad_csv_open(clgrad_csv_out *o, const char *path, const char *header);
int clgrad_csv_commit(clgrad_csv_out *o);
int clgrad_csv_close(clgrad_csv_out *o);
void clgrad_sb_json_str(clgrad_sbuf *b, const char *s);
/* A double as JSON: finite values with %.9g, NaN and +-Inf as null (JSON has
** neither); where the kind matters the caller adds "KEY_nonfinite": "nan"|"inf"|"-inf". */
void clgrad_sb_json_num(clgrad_sbuf *b, double v);
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
