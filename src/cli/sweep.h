/*
** cli/sweep.h (private, not installed): `clgrad sweep`, one experiment run
** over a grid of overrides.
**
**   clgrad sweep EXP.ini [--grid SEC.KEY=V1,V2,...]... [--set SEC.KEY=VAL]...
**                [--out SWEEP_DIR] [--jobs N] [--device SPEC[,SPEC...]]
**                [--shard K/N|off] [--force] [--dry-run | --emit] [--quiet]
**                [--cl-dir D] [--cache-dir D] [--no-cache] [--gemm own|clblast]
**                [--save-data] [--init-from D] [--runner PATH]
**   clgrad sweep --merge SWEEP_DIR
**
** The grid.  Axes come from the experiment file's [sweep] section (one
** `section.key = v1, v2, ...` line per axis, in file order) and from --grid
** options; a --grid for a key of [sweep] replaces that axis's values in place,
** any other --grid appends an axis.  Values are separated by commas; a value
** is taken verbatim (trimmed) and may be quoted with "..." or '...' to hold
** commas or spaces (`--grid 'model.hidden="64,64",128x3'`).  A key given twice,
** a value listed twice, an empty value, a key that is not SECTION.KEY, or a
** --set of a swept key is an error.  The points are the cartesian product,
** first axis outermost (the last axis varies fastest); point i runs
**   RUNNER run SWEEP_DIR/<exp>.ini --set k1=v1 ... --set <--set options>
**          --out SWEEP_DIR/<dir> --quiet --force [--device D] [passed-through options]
** with stdout and stderr appended to SWEEP_DIR/<dir>/run.log (--force: a
** point is rerun in its own directory; the run-directory lock, which the sweep
** takes before touching the point and hands to the run, keeps every point to
** one run at a time).  <dir> is
** "<index>-<key=value>-..." (index zero-padded to at least 3 digits; every
** byte outside [A-Za-z0-9._=+-] becomes '_'; cut at 200 bytes), e.g.
** "003-optim.lr=0.01-clip.kind=none".
**
** The experiment copy.  `clgrad run` rejects unknown sections, so every point
** runs from SWEEP_DIR/<basename of EXP>: the experiment with its [sweep]
** section commented out ("# sweep: " before each of its lines, so line numbers
** in error messages still match EXP) and relative [data] path / labels made
** absolute against EXP's directory (as clgrad_config_load would).  The copy
** keeps EXP's base name, so run.name still defaults to it.  When a validator
** is registered (clgrad_sweep_set_validator), every point's configuration is
** checked before anything runs; errors name EXP and its line numbers.
**
** The sweep directory (default sweeps/<run name>-<YYYYmmdd-HHMMSS>):
**   sweep.json      the definition: experiment path, the copy's name, grid
**                   (ordered), sets, number of points, creation time
**   <exp>.ini       the experiment copy (see above)
**   <dir>/          one run directory per point (+ run.log)
**   summary.csv     one row per point (see below), rewritten atomically (temp
**                   file + rename) after every finished point and at the end
**   summary-shard-K-of-N.csv   the same for the points of shard K/N only
**   .sweep*.lock    fcntl locks: one full sweep, or shards that do not overlap;
**                   .sweep-merge.lock: one merge at a time
**   rerun-commands.txt  (merge) the runs of the points not yet done
** summary.csv columns: index, one column per swept key (named section.key,
** the value as given), status, diverge_step, diverge_kind, final_train_loss,
** final_test_loss, final_test_accuracy, max_grad_norm, ms_per_step, device,
** run_dir.  status is completed|diverged|interrupted|failed, or pending /
** running while the sweep is under way (merge: missing).  Numbers are the
** run's summary.json values printed with the fewest digits that read back
** exactly (nan, inf, -inf as such); an empty field means not available.
** device is the run's manifest.json device index ("P:D"), else the --device
** spec it was given, else empty.  run_dir is relative to SWEEP_DIR; a failed
** point's log is run_dir/run.log (its last line is also printed).
**
** Resuming: running a sweep again with the same --out skips every point whose
** run directory holds a summary.json with status completed or diverged, and
** runs the others again (their old summary.json is removed first, run.log is
** appended to).  The sweep.json and copy must match the new command's
** (grid, sets, experiment text); otherwise the sweep is refused with the
** differences listed, unless --force, which replaces the definition (points
** whose directory names still hold a completed run are still skipped).  An
** existing non-empty directory without sweep.json is refused unless --force.
**
** --jobs N runs up to N points at once (fork/exec).  --device A,B,... gives
** each point one of the devices: the one with the fewest running points,
** ties broken round-robin (with equal-length points that is plain
** round-robin).  --device all is every device of the machine (the registered
** device lister's list; on a node where Slurm set CUDA_VISIBLE_DEVICES,
** NVIDIA's OpenCL driver lists only those GPUs), with --jobs defaulting to
** their number: one point per device at a time.
**
** Shards.  --shard K/N runs the points with index % N == K (needs --out) and
** writes summary-shard-K-of-N.csv.  Without --shard the shard comes from the
** environment, and the sweep says so on stderr ("running shard K/N (...),
** from ..."):
**   - a Slurm array task: K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) /
**     SLURM_ARRAY_TASK_STEP of N = SLURM_ARRAY_TASK_COUNT (else (MAX - MIN) /
**     STEP + 1); with CLGRAD_SHARDS=N, K = SLURM_ARRAY_TASK_ID itself (some
**     tasks submitted again alone: sbatch --array=1,4);
**   - ranks: the first of OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/PMI_SIZE, and
**     (inside an srun step, SLURM_STEP_ID set) SLURM_PROCID/SLURM_NTASKS with
**     a size > 1; no MPI library is involved.  Inside an array task as well,
**     K = task * size + rank of N = tasks * size.
** --shard off ignores the environment.  A malformed variable is an error
** naming it (exit 2).
**
** --emit records the definition in SWEEP_DIR (sweep.json, the copy; locks as
** a run would) and prints, for each point of this shard, the command line of
** its run with absolute paths (`RUNNER run SWEEP_DIR/<exp>.ini --set ...
** --out SWEEP_DIR/<dir> --quiet --force [...]`, shell-quoted where needed), one per
** line, always the same lines in the same order (for GNU parallel --resume);
** it runs nothing.  --dry-run prints the points and commands, writing
** nothing.
**
** Merge.  `--merge SWEEP_DIR` builds summary.csv from whatever finished,
** however it was launched: every point's run directory (summary.json,
** manifest.json: the truth) and every summary-shard-K-of-N.csv.  Rows of one
** point that agree (all fields but ms_per_step) fold into one (a requeued
** task, a rerun in another sharding); different completed/diverged results
** are reported with their sources (exit 1; the row is the run directory's).
** A point with no result is "missing"; the `clgrad run` lines that rerun the
** points not completed or diverged are written to SWEEP_DIR/rerun-commands.txt
** (removed by a merge that finds none) and the first 10 printed.  A shard
** file with rows of another sweep or shard is refused (exit 1, nothing
** written).  Merges take an fcntl lock (.sweep-merge.lock) one at a time, and
** summary.csv is replaced atomically (temporary names hold host and pid).
** The runner is --runner PATH, else $CLGRAD_SWEEP_RUNNER, else this
** executable (/proc/self/exe).
**
** Signals: on SIGINT/SIGTERM no new point starts, the signal is forwarded to
** the running points (they stop at a step boundary and mark themselves
** interrupted), the sweep waits for them, writes summary.csv and returns 130.
** A second signal kills the running points (SIGKILL).
**
** Exit status: 0 every point completed or diverged; 1 a point failed or was
** interrupted on its own, or an I/O error; 2 a usage or configuration error
** (nothing ran); 130 interrupted.  --merge: 0 when every point is covered
** once and completed or diverged, 1 otherwise, 2 when it cannot merge.
*/
#ifndef CLGRAD_SWEEP_H
#define CLGRAD_SWEEP_H
#include <stddef.h>

#define CLGRAD_SWEEP_MAX_POINTS 1000000L
#define CLGRAD_SWEEP_MAX_AXES 64

/* One axis of the grid. */
typedef struct clgrad_sweep_axis {
    char *key;     /* "section.key" (owned) */
    char **values; /* nvalues values, verbatim, quotes removed (owned) */
    int nvalues;   /* >= 1 */
    int line;      /* line in the [sweep] section; 0 = from --grid */
} clgrad_sweep_axis;

typedef struct clgrad_sweep_grid {
    clgrad_sweep_axis *axes; /* naxes axes, first = outermost (owned) */
    int naxes;
} clgrad_sweep_grid;

/* Free every axis; leaves an empty grid.  NULL is a no-op. */
void clgrad_sweep_grid_free(clgrad_sweep_grid *g);

/* Add a --grid spec "section.key=v1,v2,...": replaces the values of an axis
** read from [sweep], else appends an axis.  0, or -1 with a message in err
** (g unchanged). */
int clgrad_sweep_grid_add(clgrad_sweep_grid *g, const char *spec, char *err, size_t nerr);

/* Read the [sweep] section of INI text (name is used in messages) into g,
** appending its axes in file order.  *has_section (may be NULL) says whether
** the text has the section.  0, or -1 with "NAME:LINE: [sweep] ..." in err. */
int clgrad_sweep_grid_from_ini(clgrad_sweep_grid *g, const char *name, const char *text, int *has_section,
                               char *err, size_t nerr);

/* The number of points: the product of the value counts; 0 for an empty
** grid, -1 when more than CLGRAD_SWEEP_MAX_POINTS. */
long clgrad_sweep_npoints(const clgrad_sweep_grid *g);

/* The value index of every axis at point idx (vi has naxes entries). */
void clgrad_sweep_point(const clgrad_sweep_grid *g, long idx, int *vi);

/* The run directory name of point idx (see above).  0, or -1 when out is too
** small. */
int clgrad_sweep_dirname(const clgrad_sweep_grid *g, long idx, char *out, size_t n);

/* The experiment text as `clgrad run` must see it (see "The experiment copy";
** path is EXP as given, for its directory).  malloc'd, or NULL with err. */
char *clgrad_sweep_experiment_copy(const char *path, const char *text, char *err, size_t nerr);

/* Optional configuration check: the same contract as clgrad_config_parse
** without its output (0 valid; else -1 and the errors, one per line, in err).
** main.c registers one that calls clgrad_config_parse so that bad grids fail
** before anything runs; without one, points fail one by one at run time. */
typedef int (*clgrad_sweep_validate_fn)(const char *name, const char *text, const char *const *sets, int nsets,
                                        char *err, size_t nerr);
void clgrad_sweep_set_validator(clgrad_sweep_validate_fn fn);

/* Optional device list for `--device all`: every device of this machine as
** "P:D,P:D,..." in out; returns their number (0: none), or -1 with the reason
** in out.  main.c registers one; without it `--device all` is an error. */
typedef int (*clgrad_sweep_devices_fn)(char *out, size_t n);
void clgrad_sweep_set_device_lister(clgrad_sweep_devices_fn fn);

/* The `clgrad sweep` command; argv[0] = "sweep".  Prints to stdout/stderr and
** returns the exit status (see above).  Installs SIGINT/SIGTERM/SIGCHLD
** handlers while points run and restores the previous ones before returning. */
int clgrad_cli_sweep(int argc, char **argv);

#endif
