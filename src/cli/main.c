/*
** main.c: the clgrad command-line driver.
**
**   clgrad devices [--json]      list every OpenCL platform and device
**   clgrad selfcheck             build every kernel on the chosen device and
**                                check each kernel family against a float64
**                                host reference; prints a pass/fail table
**   clgrad run EXP.ini           train the experiment, write a run directory
**   clgrad version
**
** Common options: --device SPEC, --cl-dir DIR, --cache-dir DIR, --no-cache,
** --gemm own|clblast.  Only this file (and the tests) exit on errors.
*/
#include "clgrad.h"
#include "cli/sweep.h"
#include "cli/bench.h"
#include "cli/tune.h"
#include "cli/report.h"
#include "cli/commands.h"
#include "cli/opts.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SETS 256

typedef struct {
    const char *device;
    const char *cl_dir, *cache_dir;
    int no_cache, json, gemm, no_timing;
    const char *out, *init_from;
    int quiet, save_data, force;
    const char *sets[MAX_SETS];
    int nsets;
    char cmdline[4096];
} cli_opts;

static void usage_(FILE *f)
{
    fprintf(f,
            "usage: clgrad <command> [options]\n"
            "\n"
            "commands:\n"
            "  devices            list OpenCL platforms and devices (--json for machines)\n"
            "  selfcheck          build every kernel and check each family against a host reference\n"
            "  run EXP.ini|NAME   train the experiment on the device, record gradients in a run directory\n"
            "                     (NAME: a shipped experiment, e.g. clgrad run linreg_lr_below)\n"
            "  sweep EXP.ini --grid SEC.KEY=V1,V2 ... [--jobs N] [--shard K/N] [--out DIR]\n"
            "                     run the cartesian product of the grid, one run directory per point,\n"
            "                     summary.csv; resumable; `sweep --merge DIR` joins shards\n"
            "  compare RUN RUN... compare runs metric by metric (--rtol, --atol, --json); exit 1 if they differ\n"
            "  plot RUN...        SVG figures + report.html (--out DIR; --sweep DIR [--x KEY [--y KEY]]:\n"
            "                     heat map, and LR sensitivity when optim.lr is swept)\n"
            "  bench [--quick] [--json F]  device limits, GEMM, training-step and start-up timing;\n"
            "                     bench --compare A.json B.json ... for devices side by side\n"
            "  tune [--quick] [--clblast]  search the GEMM's parameters on the device, store the best\n"
            "                     per device in the cache directory (--show, --reset)\n"
            "  keys               every experiment-file key: type, allowed values, default\n"
            "  version            print the version\n"
            "  help [COMMAND]     this text, or one command's options (also: clgrad COMMAND --help)\n"
            "\n"
            "Every option also takes the form --option=value.\n"
            "\n"
            "options:\n"
            "  --device SPEC      P:D, cpu|gpu|accelerator, or part of the device/platform name\n"
            "                     (default: $CLGRAD_DEVICE, else the first GPU, else the first CPU)\n"
            "  --gemm own|clblast GEMM backend (default own)\n"
            "  --cl-dir DIR       load kernel sources from DIR instead of the embedded copies ($CLGRAD_CL_DIR)\n"
            "  --cache-dir DIR    kernel binary cache ($CLGRAD_CACHE_DIR, default $XDG_CACHE_HOME/clgrad)\n"
            "  --no-cache         neither read nor write the kernel cache ($CLGRAD_NO_CACHE=1)\n"
            "  --json             machine-readable output (devices, selfcheck)\n"
            "  --no-timing        selfcheck: skip the compile-from-source / warm-cache timing\n"
            "\n"
            "run options:\n"
            "  --set SEC.KEY=VAL  override a key of the experiment file (repeatable)\n"
            "  --out DIR          run directory (default runs/<name>-<timestamp>, -2, -3... when taken);\n"
            "                     a directory that holds a run is refused, one in use by a run always is\n"
            "  --force            replace the run --out DIR holds (only the files a run writes are removed)\n"
            "  --init-from DIR    start from the .npy tensors in DIR (e.g. another run's weights/final)\n"
            "  --save-data        also write the train and test arrays under DIR/data/\n"
            "  --quiet            no progress output on stderr (a terminal gets a progress bar, else a\n"
            "                     line every tenth of the run)\n");
}

/* ---- per-command help and option checking ---- */


static void json_str_(FILE *f, const char *s) { clgrad_json_fputs(f, s); }

static int cmd_devices_(clgrad_ctx *ctx, const cli_opts *o)
{
    const clgrad_device_info *list;
    int n;
    if (clgrad_devices(ctx, &list, &n) != CLGRAD_OK) {
        fprintf(stderr, "clgrad: %s\n", clgrad_errmsg(ctx));
        return 1;
    }
    int def = -1;
    if (clgrad_device_find(ctx, o->device, &def) != CLGRAD_OK) def = -1;
    if (o->json) {
        printf("[\n");
        for (int i = 0; i < n; i++) {
            const clgrad_device_info *d = &list[i];
            printf("  {\"index\": \"%d:%d\", \"platform\": ", d->platform_index, d->device_index);
            json_str_(stdout, d->platform_name);
            printf(", \"platform_version\": ");
            json_str_(stdout, d->platform_version);
            printf(", \"device\": ");
            json_str_(stdout, d->name);
            printf(", \"type\": \"%s\", \"vendor\": ", d->type);
            json_str_(stdout, d->vendor);
            printf(", \"driver_version\": ");
            json_str_(stdout, d->driver_version);
            printf(", \"device_version\": ");
            json_str_(stdout, d->device_version);
            printf(", \"opencl_c_version\": ");
            json_str_(stdout, d->c_version);
            char fpc[160], why[256];
            clgrad_fp_config_str(d->single_fp, fpc, sizeof fpc);
            const int sb = clgrad_device_same_bits(d, why, sizeof why);
            printf(", \"single_fp_config\": \"%s\", \"same_bits\": %s, \"same_bits_missing\": ", fpc,
                   sb ? "true" : "false");
            json_str_(stdout, why);
            printf(", \"compute_units\": %u, \"clock_mhz\": %u, \"global_mem_bytes\": %llu, "
                   "\"local_mem_bytes\": %llu, \"local_mem_dedicated\": %s, \"max_alloc_bytes\": %llu, "
                   "\"max_work_group_size\": %zu, \"fp64\": %s, \"fp16\": %s, \"selected\": %s}%s\n",
                   d->compute_units, d->clock_mhz, d->global_mem, d->local_mem,
                   d->local_mem_is_local ? "true" : "false", d->max_alloc, d->max_wg_size,
                   d->has_fp64 ? "true" : "false", d->has_fp16 ? "true" : "false", i == def ? "true" : "false",
                   i + 1 < n ? "," : "");
        }
        printf("]\n");
        return 0;
    }
    char *t = clgrad_devices_table(list, n);
    if (!t) return 1;
    fputs(t, stdout);
    free(t);
    if (def >= 0) printf("default device: %d:%d %s\n", list[def].platform_index, list[def].device_index, list[def].name);
    return 0;
}

/* ---- progress on stderr (the library reports through callbacks; only this file prints) ---- */

static int err_tty_;    /* stderr is a terminal: one line redrawn with \r and \033[K */
static int err_closed_; /* stderr is a closed pipe (EPIPE): stop printing, the run goes on */

/* Print to stderr unless it has been closed; a failed write (EPIPE with
** SIGPIPE ignored) ends progress output for good, not the run. */
static void say_(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void say_(const char *fmt, ...)
{
    if (err_closed_) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (n < 0 || fflush(stderr) != 0 || ferror(stderr)) err_closed_ = 1;
}

typedef struct {
    clgrad_ctx *ctx;
    int started, drawn;
} build_note_;

/* clgrad_open_opts.on_build: the first program compiled from source announces
** the build (seconds per program on a CPU device: the first run looked hung). */
static void on_build_(void *user, int index, int total, const char *program, int compiling)
{
    build_note_ *b = user;
    if (!compiling) return;
    if (!b->started) {
        b->started = 1;
        say_("clgrad: building %d kernel programs for %s (first run only; cached afterwards)...\n", total,
             clgrad_device(b->ctx)->name);
    }
    if (err_tty_) {
        say_("\r\033[K  [%d/%d] %s", index, total, program);
        b->drawn = 1;
    } else say_("  [%d/%d] %s\n", index, total, program);
}

#define RATE_WINDOW 32
typedef struct {
    int tty, quiet, tenth, drawn;
    double last_draw, loss, gnorm;
    long s[RATE_WINDOW];  /* recent synchronised points (step 1 and logged steps): step */
    double t[RATE_WINDOW];/* ... and seconds */
    int n, head;
} progress_;

/* steps/s over the recent points (at most RATE_WINDOW, at most the last 30 s):
** step 1 (kernel warm-up) is a start point only, never inside the window; NaN before two points. */
static double rate_(const progress_ *p)
{
    if (p->n < 2) return NAN;
    int newest = (p->head + RATE_WINDOW - 1) % RATE_WINDOW, oldest = (p->head + RATE_WINDOW - p->n) % RATE_WINDOW;
    for (int k = p->n; k > 2 && p->t[newest] - p->t[oldest] > 30; k--) oldest = (oldest + 1) % RATE_WINDOW;
    double dt = p->t[newest] - p->t[oldest];
    return dt > 0 ? (double)(p->s[newest] - p->s[oldest]) / dt : NAN;
}

/* clgrad_run_opts.on_step: a progress bar on a terminal, else a line every tenth of the run. */
static int on_step_(void *user, const clgrad_step_info *in)
{
    progress_ *p = user;
    if (in->logged || in->step == 1) {
        p->s[p->head] = in->step, p->t[p->head] = in->seconds;
        p->head = (p->head + 1) % RATE_WINDOW;
        if (p->n < RATE_WINDOW) p->n++;
    }
    if (in->logged) p->loss = in->loss, p->gnorm = in->grad_norm;
    if (p->quiet || err_closed_) return 0;
    double rate = rate_(p);
    char rs[32], eta[32];
    if (isnan(rate)) snprintf(rs, sizeof rs, "- steps/s"), snprintf(eta, sizeof eta, "-");
    else {
        snprintf(rs, sizeof rs, "%.1f steps/s", rate);
        snprintf(eta, sizeof eta, "%.0fs", rate > 0 ? (double)(in->steps_planned - in->step) / rate : 0.0);
    }
    int last = in->step >= in->steps_planned;
    if (p->tty) {
        if (!last && in->seconds - p->last_draw < 0.1 && p->drawn) return 0;
        p->last_draw = in->seconds;
        int w = 30, fill = (int)((double)w * (double)in->step / (double)(in->steps_planned ? in->steps_planned : 1));
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        say_("\r\033[K[%s] %ld/%ld  %s  loss %.4g  |g| %.3g  ETA %s", bar, in->step, in->steps_planned, rs, p->loss,
             p->gnorm, eta);
        p->drawn = 1;
        return 0;
    }
    if (!in->logged) return 0;
    int tenth = (int)(10 * in->step / (in->steps_planned ? in->steps_planned : 1));
    if (tenth > p->tenth || last) {
        p->tenth = tenth;
        say_("step %ld/%ld  %s  loss %.6g  grad norm %.4g\n", in->step, in->steps_planned, rs, in->loss, in->grad_norm);
    }
    return 0;
}

/* Free the context; print its kernel profile first when CLGRAD_PROFILE=1 asked for one. */
static void ctx_free_(clgrad_ctx *ctx)
{
    if (ctx) clgrad_profile_print(ctx, stderr);
    clgrad_ctx_free(ctx);
}

static clgrad_ctx *open_announced_(const cli_opts *o, int profiling, int announce);
static clgrad_ctx *open_(const cli_opts *o, int profiling) { return open_announced_(o, profiling, 0); }

/* announce: report kernel programs compiled from source on stderr (not with --quiet) */
static clgrad_ctx *open_announced_(const cli_opts *o, int profiling, int announce)
{
    clgrad_ctx *ctx = clgrad_ctx_new();
    if (!ctx) {
        fprintf(stderr, "clgrad: out of memory\n");
        exit(1);
    }
    clgrad_open_opts oo = {0};
    oo.cl_dir = o->cl_dir;
    oo.cache_dir = o->cache_dir;
    oo.no_cache = o->no_cache;
    oo.profiling = profiling;
    build_note_ note = {ctx, 0, 0};
    if (announce && !o->quiet) oo.on_build = on_build_, oo.on_build_user = &note;
    clgrad_status ost = clgrad_open(ctx, o->device, &oo);
    if (note.drawn) say_("\r\033[K");
    if (note.started) say_("clgrad: kernels built in %.1f s\n", clgrad_build_info(ctx)->seconds);
    if (ost != CLGRAD_OK) {
        fprintf(stderr, "clgrad: %s\n", clgrad_errmsg(ctx));
        ctx_free_(ctx);
        return NULL;
    }
    if (*clgrad_warnings(ctx)) fprintf(stderr, "clgrad: warning: %s", clgrad_warnings(ctx));
    clgrad_set_gemm_backend(ctx, (clgrad_gemm_backend)o->gemm);
    return ctx;
}

/* a JSON number (null for NaN/Inf: JSON has neither) */
static void json_num_(double v)
{
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

static void row_(void *user, const char *family, const char *what, int pass, double max_err, double tol)
{
    int *json_rows = user;
    if (json_rows) { /* selfcheck --json: one object per check */
        printf("%s\n    {\"family\": ", (*json_rows)++ ? "," : "");
        json_str_(stdout, family);
        printf(", \"check\": ");
        json_str_(stdout, what);
        printf(", \"max_err\": ");
        json_num_(max_err);
        if (!isfinite(max_err)) printf(", \"max_err_nonfinite\": \"%s\"", isnan(max_err) ? "nan" : max_err > 0 ? "inf" : "-inf");
        printf(", \"tol\": ");
        json_num_(tol);
        printf(", \"pass\": %s}", pass ? "true" : "false");
        return;
    }
    printf("  %-10s %-44s %10.3g %10.3g  %s\n", family, what, max_err, tol, pass ? "pass" : "FAIL");
    fflush(stdout);
}

/* Time building all programs in a fresh context: from source (no cache) or from the cache. */
static double time_build_(const cli_opts *o, int no_cache, int *from_cache)
{
    cli_opts o2 = *o;
    o2.no_cache = no_cache;
    clgrad_ctx *c = open_(&o2, 0);
    if (!c) return NAN;
    const clgrad_build_stats *b = clgrad_build_info(c);
    double s = b->seconds;
    *from_cache = b->loaded;
    ctx_free_(c);
    return s;
}

/* selfcheck --json: the device, kernel build, timing and gemm objects (everything before "checks"). */
static void selfcheck_json_head_(clgrad_ctx *ctx, double cold, double warm, int fc)
{
    const clgrad_device_info *d = clgrad_device(ctx);
    const clgrad_build_stats *b = clgrad_build_info(ctx);
    printf("{\n  \"clgrad_version\": \"%s\",\n  \"device\": {\"index\": \"%d:%d\", \"name\": ", CLGRAD_VERSION,
           d->platform_index, d->device_index);
    json_str_(stdout, d->name);
    printf(", \"type\": ");
    json_str_(stdout, d->type);
    printf(", \"platform\": ");
    json_str_(stdout, d->platform_name);
    printf(", \"driver_version\": ");
    json_str_(stdout, d->driver_version);
    printf("},\n  \"kernels\": {\"programs\": %d, \"compiled\": %d, \"loaded\": %d, \"seconds\": ", b->programs,
           b->compiled, b->loaded);
    json_num_(b->seconds);
    printf(", \"source_sha256\": ");
    json_str_(stdout, b->source_hash);
    printf(", \"build_options\": ");
    json_str_(stdout, clgrad_build_options(ctx));
    printf(", \"cache_dir\": ");
    if (*clgrad_cache_dir(ctx)) json_str_(stdout, clgrad_cache_dir(ctx));
    else printf("null");
    printf("},\n  \"timing\": ");
    if (isnan(cold)) printf("null");
    else {
        printf("{\"compile_from_source_s\": ");
        json_num_(cold);
        printf(", \"warm_cache_s\": ");
        json_num_(warm);
        printf(", \"programs_from_cache\": %d}", fc);
    }
    printf(",\n  \"gemm\": {\"variant\": ");
    json_str_(stdout, clgrad_gemm_variant(ctx));
    printf(", \"backend\": \"%s\"},\n  \"checks\": [", clgrad_gemm_backend_name(clgrad_get_gemm_backend(ctx)));
}

/* selfcheck --json: the "fingerprint" value (null and "fingerprint_error" when it fails); returns 1 on failure. */
static int selfcheck_json_fingerprint_(clgrad_ctx *ctx)
{
    clgrad_fingerprint fp;
    if (clgrad_numerics_fingerprint(ctx, &fp) == CLGRAD_OK) {
        printf("{\"all\": ");
        json_str_(stdout, fp.all);
        printf(", \"families\": {");
        for (int i = 0; i < fp.nfam; i++) {
            printf("%s", i ? ", " : "");
            json_str_(stdout, fp.family[i]);
            printf(": {\"hash\": ");
            json_str_(stdout, fp.hex[i]);
            printf(", \"values\": %llu}", fp.values[i]);
        }
        printf("}}");
        return 0;
    }
    printf("null, \"fingerprint_error\": ");
    json_str_(stdout, clgrad_errmsg(ctx));
    return 1;
}

/* selfcheck --json: the whole report as one JSON object; returns the number of failures. */
static int selfcheck_json_(clgrad_ctx *ctx, const cli_opts *o)
{
    double cold = NAN, warm = NAN;
    int fc = 0;
    if (!o->no_timing && !o->no_cache && *clgrad_cache_dir(ctx)) {
        cold = time_build_(o, 1, &fc);
        warm = time_build_(o, 0, &fc);
    }
    selfcheck_json_head_(ctx, cold, warm, fc);
    int rows = 0;
    int failed = clgrad_selfcheck(ctx, row_, &rows);
    printf("\n  ],\n  \"fingerprint\": ");
    failed += selfcheck_json_fingerprint_(ctx);
    printf(",\n  \"failed\": %d,\n  \"pass\": %s\n}\n", failed, failed ? "false" : "true");
    return failed;
}

/* selfcheck as text: the device and build, the timing, a row per check, the fingerprint, the verdict;
** returns the number of failures. */
static int selfcheck_text_(clgrad_ctx *ctx, const cli_opts *o)
{
    const clgrad_device_info *d = clgrad_device(ctx);
    const clgrad_build_stats *b = clgrad_build_info(ctx);
    printf("clgrad %s selfcheck\n", CLGRAD_VERSION);
    printf("device:   %d:%d %s (%s, %s, driver %s)\n", d->platform_index, d->device_index, d->name, d->type,
           d->platform_name, d->driver_version);
    printf("kernels:  %d programs, %d compiled from source, %d loaded from cache, %.3f s\n", b->programs,
           b->compiled, b->loaded, b->seconds);
    printf("options:  %s\n", clgrad_build_options(ctx));
    printf("cache:    %s\n", *clgrad_cache_dir(ctx) ? clgrad_cache_dir(ctx) : "(disabled)");
    printf("sources:  sha256 %s\n", b->source_hash);
    printf("gemm:     own kernel variant %s; backend in use: %s\n", clgrad_gemm_variant(ctx),
           clgrad_gemm_backend_name(clgrad_get_gemm_backend(ctx)));
    if (!o->no_timing && !o->no_cache && *clgrad_cache_dir(ctx)) {
        int fc = 0;
        double cold = time_build_(o, 1, &fc);
        double warm = time_build_(o, 0, &fc);
        printf("timing:   compile from source %.3f s; load from the warm cache %.3f s (%d programs from cache)\n",
               cold, warm, fc);
    }
    printf("\n  %-10s %-44s %10s %10s  %s\n", "family", "check", "max err", "tol", "result");
    int failed = clgrad_selfcheck(ctx, row_, NULL);
    clgrad_fingerprint fp;
    if (clgrad_numerics_fingerprint(ctx, &fp) == CLGRAD_OK) {
        printf("\nnumerics fingerprint: %s  (same value on two devices = same bits in every run)\n", fp.all);
        for (int i = 0; i < fp.nfam; i++)
            printf("  %-10s %s  (%llu output floats)\n", fp.family[i], fp.hex[i], fp.values[i]);
    } else {
        printf("\nnumerics fingerprint: FAILED: %s\n", clgrad_errmsg(ctx));
        failed++;
    }
    printf("\n%s: %d check%s failed on %s\n", failed ? "FAIL" : "PASS", failed, failed == 1 ? "" : "s", d->name);
    return failed;
}

static int cmd_selfcheck_(const cli_opts *o)
{
    clgrad_ctx *ctx = open_announced_(o, 0, 1);
    if (!ctx) return 1;
    int failed = o->json ? selfcheck_json_(ctx, o) : selfcheck_text_(ctx, o);
    ctx_free_(ctx);
    return failed ? 1 : 0;
}

/* The sweep checks every point's configuration with the real parser before running anything. */
static int sweep_validate_(const char *name, const char *text, const char *const *sets, int nsets, char *err, size_t nerr)
{
    static clgrad_config cfg;
    return clgrad_config_parse(name, text, sets, nsets, &cfg, err, nerr);
}

static volatile sig_atomic_t stop_;
static void on_signal_(int sig)
{
    (void)sig;
    stop_ = 1;
}

/* SIGINT and SIGTERM set stop_: the run ends at the next step boundary. */
static void catch_signals_(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* One run of cfg on one device (spec) into out; returns the exit status. */

/* "outputs: DIR/ (the files the run wrote)": the names that are there, in the run directory's order. */
static void print_outputs_(const char *out)
{
    static const char *const names[] = {"config.ini", "metrics.csv", "layers.csv", "timesteps.csv", "histograms.csv",
                                        "events.csv", "summary.json", "manifest.json", "weights/", "data/"};
    printf("outputs: %s/ (", out);
    int n = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[1400];
        struct stat sb;
        size_t l = strlen(names[i]);
        snprintf(p, sizeof p, "%s/%.*s", out, (int)(names[i][l - 1] == '/' ? l - 1 : l), names[i]);
        if (lstat(p, &sb) == 0) printf("%s%s", n++ ? ", " : "", names[i]);
    }
    printf(")\n");
}

static int run_one_(cli_opts *o, const clgrad_config *cfg, const char *path, const char *spec, const char *out)
{
    cli_opts od = *o;
    od.device = spec;
    clgrad_ctx *ctx = open_announced_(&od, 0, 1);
    if (!ctx) return 1;
    /* again: an OpenCL platform may install its own SIGINT handler when it
    ** initialises (a second SIGINT then killed the run before its summary) */
    catch_signals_();
    clgrad_run_opts ro = {0};
    ro.out_dir = out;
    ro.init_from = o->init_from;
    ro.save_data = o->save_data;
    ro.force = o->force;
    ro.quiet = o->quiet;
    ro.command_line = o->cmdline;
    ro.stop = &stop_;
    static progress_ prog;
    memset(&prog, 0, sizeof prog);
    prog.tty = err_tty_, prog.quiet = o->quiet;
    ro.on_step = on_step_, ro.on_step_user = &prog;
    ro.metrics_lag = 3; /* the progress display may lag a few logged steps; on_step_ never stops the run */
    const clgrad_device_info *d = clgrad_device(ctx);
    if (!o->quiet)
        say_("clgrad: running %s on %d:%d %s (gemm %s) -> %s\n", path, d->platform_index, d->device_index, d->name,
             clgrad_gemm_backend_name(clgrad_get_gemm_backend(ctx)), out);
    /* keys the experiment sets that its kinds do not use (also in the manifest) */
    for (int i = 0; i < cfg->nwarnings; i++) say_("clgrad: warning: %s: %s\n", path, cfg->warnings[i]);
    clgrad_run_result res;
    clgrad_status st = clgrad_run(ctx, cfg, &ro, &res);
    if (prog.drawn) say_("\n");
    if (st != CLGRAD_OK) {
        fprintf(stderr, "clgrad: run failed: %s\n", clgrad_errmsg(ctx));
        ctx_free_(ctx);
        return 1;
    }
    printf("status: %s after %ld steps", clgrad_run_status_name(res.status), res.steps_done);
    if (res.diverge_step > 0) {
        printf(" (diverged at step %ld: %s", res.diverge_step, res.diverge_kind);
        if (res.diverge_layer[0]) printf(", first in layer %s", res.diverge_layer);
        printf(")");
    }
    printf("\nfinal train loss %.6g, ", res.final_train_loss);
    if (res.test_eval_step <= 0) printf("test set not evaluated");
    else {
        printf("test loss %.6g", res.final_test_loss);
        if (res.has_accuracy) printf(", test accuracy %.4g", res.final_test_acc);
        if (res.test_eval_step != res.steps_done) printf(" (at step %ld)", res.test_eval_step);
    }
    printf(", max gradient norm %.4g, %.3f ms/step (median %.3f; step 1 alone %.1f ms)\n", res.max_grad_norm,
           res.ms_per_step, res.median_ms_per_step, res.first_step_ms);
    print_outputs_(out);
    ctx_free_(ctx);
    return res.status == CLGRAD_RUN_INTERRUPTED ? 130 : 0;
}

/* --device all, or a comma-separated list: the device indices to run on. */
static int device_list_(const char *spec, char specs[][16], int max)
{
    clgrad_ctx *ctx = clgrad_ctx_new();
    const clgrad_device_info *list;
    int n = 0, count = 0;
    if (!ctx || clgrad_devices(ctx, &list, &n) != CLGRAD_OK) {
        fprintf(stderr, "clgrad: %s\n", ctx ? clgrad_errmsg(ctx) : "out of memory");
        ctx_free_(ctx);
        return -1;
    }
    if (strcmp(spec, "all") == 0) {
        for (int i = 0; i < n && count < max; i++)
            snprintf(specs[count++], 16, "%d:%d", list[i].platform_index, list[i].device_index);
    } else {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", spec);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && count < max; t = strtok_r(NULL, ",", &save)) {
            int idx;
            if (clgrad_device_find(ctx, t, &idx) != CLGRAD_OK) {
                fprintf(stderr, "clgrad: %s\n", clgrad_errmsg(ctx));
                ctx_free_(ctx);
                return -1;
            }
            snprintf(specs[count++], 16, "%d:%d", list[idx].platform_index, list[idx].device_index);
        }
    }
    ctx_free_(ctx);
    return count;
}

/* `clgrad sweep --device all`: every device as "P:D,P:D,...". */
static int sweep_devices_(char *out, size_t n)
{
    static char specs[64][16];
    int count = device_list_("all", specs, 64);
    if (count < 0) {
        snprintf(out, n, "cannot list the OpenCL devices (see above)");
        return -1;
    }
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < count && k < n; i++) k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "," : "", specs[i]);
    return count;
}

/* Is this clgrad the one in the build directory (then the source tree's experiments/ count too)? */
static int in_build_dir_(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    struct stat a, b;
    return stat(exe, &a) == 0 && stat(CLGRAD_BUILD_DIR, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The experiment directories `clgrad run NAME` searches, in order; returns how many. */
static int experiment_dirs_(const char *dirs[2])
{
    int n = 0;
    const char *env = getenv("CLGRAD_EXPERIMENTS_DIR");
    dirs[n++] = env && *env ? env : CLGRAD_EXPERIMENTS_DIR;
    if (in_build_dir_()) dirs[n++] = CLGRAD_SOURCE_EXPERIMENTS;
    return n;
}

static int cmp_name_(const void *a, const void *b) { return strcmp(a, b); }

/* `clgrad run NAME`: NAME without a slash that is no file here is a shipped
** experiment, NAME.ini in the experiment directories.  path is returned as
** is when it names a file (or has a slash); else the found file in buf, or
** NULL after a message listing the available names. */
static const char *resolve_experiment_(const char *path, char *buf, size_t nbuf)
{
    if (strchr(path, '/') || access(path, F_OK) == 0) return path;
    size_t l = strlen(path);
    int has_ini = l > 4 && strcmp(path + l - 4, ".ini") == 0;
    if (!has_ini) {
        snprintf(buf, nbuf, "%s.ini", path);
        if (access(buf, F_OK) == 0) return buf;
    }
    const char *dirs[2];
    int nd = experiment_dirs_(dirs);
    for (int d = 0; d < nd; d++) {
        snprintf(buf, nbuf, "%s/%s%s", dirs[d], path, has_ini ? "" : ".ini");
        if (access(buf, F_OK) == 0) return buf;
    }
    fprintf(stderr, "clgrad run: no experiment file %s%s here, nor a shipped experiment of that name", path,
            has_ini ? "" : " (or .ini)");
    int listed = 0;
    for (int d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        fprintf(stderr, "%s\n  %s:", listed ? "" : "; available", dirs[d]);
        listed = 1;
        static char names[256][256];
        int count = 0;
        for (struct dirent *e; (e = readdir(dir)) && count < 256;) {
            size_t n = strlen(e->d_name);
            if (n <= 4 || n >= 256 || strcmp(e->d_name + n - 4, ".ini") != 0 || e->d_name[0] == '.') continue;
            snprintf(names[count++], sizeof names[0], "%.*s", (int)(n - 4), e->d_name);
        }
        closedir(dir);
        qsort(names, (size_t)count, sizeof names[0], cmp_name_);
        for (int k = 0; k < count; k++) fprintf(stderr, "%s%s", k % 4 ? "  " : "\n    ", names[k]);
    }
    if (!listed) fprintf(stderr, " (no experiment directory found: %s)", dirs[0]);
    fprintf(stderr, "\nclgrad: nothing was run.\n");
    return NULL;
}

static int cmd_run_(cli_opts *o, const char *path)
{
    static clgrad_config cfg;
    static char err[1 << 16];
    if (!path) {
        fprintf(stderr, "clgrad run: which experiment? usage: clgrad run EXP.ini|NAME [--set sec.key=val ...] "
                        "(clgrad help run)\n");
        return 2;
    }
    static char found[4200];
    path = resolve_experiment_(path, found, sizeof found);
    if (!path) return 2;
    if (clgrad_config_load(path, o->sets, o->nsets, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad: %s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
        fprintf(stderr, "clgrad: nothing was run.\n");
        return 2;
    }
    {
        clgrad_ctx *c = clgrad_ctx_new();
        if (c && clgrad_run_check_files(c, &cfg) != CLGRAD_OK) {
            fprintf(stderr, "clgrad: %s\nclgrad: nothing was run.\n", clgrad_errmsg(c));
            clgrad_ctx_free(c);
            return 2;
        }
        clgrad_ctx_free(c);
    }
    char out[1024];
    if (o->out) snprintf(out, sizeof out, "%s", o->out);
    else {
        char ts[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
        /* a new directory of its own: mkdir is atomic, so runs started in the
        ** same second (any number of processes) take -2, -3, ... */
        if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "clgrad: cannot create runs/: %s\n", strerror(errno));
            return 1;
        }
        int made = 0;
        for (int k = 1; k <= 10000 && !made; k++) {
            if (k == 1) snprintf(out, sizeof out, "runs/%s-%s", cfg.run.name, ts);
            else snprintf(out, sizeof out, "runs/%s-%s-%d", cfg.run.name, ts, k);
            if (mkdir(out, 0755) == 0) made = 1;
            else if (errno != EEXIST) {
                fprintf(stderr, "clgrad: cannot create the run directory %s: %s\n", out, strerror(errno));
                return 1;
            }
        }
        if (!made) {
            fprintf(stderr, "clgrad: no free run directory name under runs/ for %s-%s\n", cfg.run.name, ts);
            return 1;
        }
    }
    catch_signals_();
    const char *dev = o->device ? o->device : getenv("CLGRAD_DEVICE");
    if (!dev || (strcmp(dev, "all") != 0 && !strchr(dev, ','))) return run_one_(o, &cfg, path, o->device, out);

    /* several devices: one run directory each under out/ */
    static char specs[64][16];
    int n = device_list_(dev, specs, 64), worst = 0;
    if (n < 0) return 1;
    for (int i = 0; i < n && !stop_; i++) {
        char sub[1200];
        snprintf(sub, sizeof sub, "%s/%c%c%s", out, 'd', specs[i][0], specs[i] + 1);
        for (char *c = sub + strlen(out) + 1; *c; c++)
            if (*c == ':') *c = '-';
        int rc = run_one_(o, &cfg, path, specs[i], sub);
        if (rc == 130 || (rc != 0 && worst != 130)) worst = rc;
    }
    printf("runs on %d devices under %s/; compare them with: clgrad compare %s/*\n", n, out, out);
    return worst;
}

/* `clgrad help [COMMAND]` */
static int help_(const char *cmd)
{
    if (!cmd) {
        usage_(stdout);
        return 0;
    }
    const clgrad_cli_command *c = clgrad_cli_command_find(cmd);
    if (!c) {
        fprintf(stderr, "clgrad help: unknown command '%s'\n", cmd);
        usage_(stderr);
        return 2;
    }
    if (c->help) {
        clgrad_cli_command_help(c, stdout);
        return 0;
    }
    char *av[] = {(char *)c->name, (char *)"--help", NULL};
    if (strcmp(cmd, "compare") == 0) return clgrad_cli_compare(2, av);
    if (strcmp(cmd, "plot") == 0) return clgrad_cli_plot(2, av);
    if (strcmp(cmd, "bench") == 0) return clgrad_cli_bench(2, av);
    return clgrad_cli_sweep(2, av);
}

/* `clgrad plot DIR` where DIR is a sweep directory: say how to plot it. */
static int plot_sweep_hint_(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (strncmp(a, "--sweep", 7) == 0 && (a[7] == '\0' || a[7] == '=')) return 0;
        if (a[0] == '-') {
            if (!strchr(a, '=') && clgrad_cli_option_kind(clgrad_cli_command_find("plot"), a + 2, strlen(a + 2)) == 2) i++;
            continue;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/sweep.json", a);
        if (access(path, F_OK) == 0) {
            fprintf(stderr,
                    "clgrad plot: %s is a sweep directory: plot it with\n"
                    "  clgrad plot --sweep %s [--x SEC.KEY [--y SEC.KEY]] [--out DIR]\n"
                    "(or plot its run directories, %s/*/ with a metrics.csv)\n",
                    a, a, a);
            return 1;
        }
    }
    return 0;
}

/* The command: argv[1] for those with options of their own, else the first
** argument that is not an option or an option's value (NULL: none or unknown). */
static const clgrad_cli_command *cli_command_(int argc, char **argv)
{
    const char *cmdname = NULL;
    for (int i = 1; i < argc && !cmdname; i++) {
        const char *a = argv[i];
        if (a[0] != '-') cmdname = a;
        else if (strncmp(a, "--", 2) == 0 && !strchr(a, '=') && clgrad_cli_option_kind(clgrad_cli_global_options(), a + 2, strlen(a + 2)) == 2) i++;
    }
    const clgrad_cli_command *c = clgrad_cli_command_find(cmdname);
    if (c && !c->help && argc > 1 && strcmp(argv[1], c->name) != 0) c = NULL; /* compare & co. come first */
    return c;
}

/* The subcommands with options of their own (argv[1]): runs one into *rc and returns 1, else returns 0. */
static int cli_own_options_cmd_(int argc, char **argv, int *rc)
{
    if (argc < 2) return 0;
    if (strcmp(argv[1], "compare") == 0) *rc = clgrad_cli_compare(argc - 1, argv + 1);
    else if (strcmp(argv[1], "plot") == 0)
        *rc = plot_sweep_hint_(argc - 1, argv + 1) ? 2 : clgrad_cli_plot(argc - 1, argv + 1);
    else if (strcmp(argv[1], "bench") == 0) *rc = clgrad_cli_bench(argc - 1, argv + 1);
    else if (strcmp(argv[1], "sweep") == 0) {
        clgrad_sweep_set_validator(sweep_validate_);
        clgrad_sweep_set_device_lister(sweep_devices_);
        *rc = clgrad_cli_sweep(argc - 1, argv + 1);
    } else return 0;
    return 1;
}

/* Runs the command cmd (its argument arg) with the parsed options; an unknown one: a guess and the usage. */
static int cli_dispatch_(const char *cmd, const char *arg, cli_opts *o)
{
    if (strcmp(cmd, "help") == 0) return help_(arg);
    if (strcmp(cmd, "version") == 0) { printf("clgrad %s\n", CLGRAD_VERSION); return 0; }
    if (strcmp(cmd, "keys") == 0) return clgrad_config_help(stdout) == 0 ? 0 : 1;
    if (strcmp(cmd, "devices") == 0) {
        clgrad_ctx *ctx = clgrad_ctx_new();
        if (!ctx) return 1;
        int r = cmd_devices_(ctx, o);
        ctx_free_(ctx);
        return r;
    }
    if (strcmp(cmd, "selfcheck") == 0) return cmd_selfcheck_(o);
    if (strcmp(cmd, "run") == 0) return cmd_run_(o, arg);
    fprintf(stderr, "clgrad: unknown command '%s'", cmd);
    char guess[64];
    if (clgrad_config_suggest(cmd, "run|sweep|compare|plot|bench|tune|selfcheck|devices|keys|version|help", guess, sizeof guess))
        fprintf(stderr, " (did you mean '%s'?)", guess);
    fprintf(stderr, "\n");
    usage_(stderr);
    return 2;
}

/* `clgrad [options] tune [options]`: tune parses its own options, wherever they stand. */
static int tune_(int argc, char **argv)
{
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av) return 2;
    int n = 1, seen = 0;
    av[0] = (char *)"tune";
    for (int i = 1; i < argc; i++)
        if (seen || strcmp(argv[i], "tune") != 0) av[n++] = argv[i];
        else seen = 1;
    int rc = clgrad_cli_tune(n, av);
    free(av);
    return rc;
}

int clgrad_cli_main(int argc, char **argv)
{
    /* a closed pipe (clgrad run ... | head) must not kill a run: writes then fail with EPIPE */
    signal(SIGPIPE, SIG_IGN);
    err_tty_ = isatty(STDERR_FILENO);
    static cli_opts o;
    const clgrad_cli_command *c = cli_command_(argc, argv);
    int rc;
    if (cli_own_options_cmd_(argc, argv, &rc)) return rc;
    if (c && strcmp(c->name, "tune") == 0) return tune_(argc, argv);
    const char *cmd = NULL, *arg = NULL;
    int want_help = 0;
    clgrad_cli_cmdline(c ? c->name : NULL, "", argc, argv, o.cmdline, sizeof o.cmdline);
    /* the command's options (c NULL: no or an unknown command: those of any command) */
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, c ? c->name : "", "clgrad", NULL, argc, argv) != 0) return 2;
    int r, bad = 0;
    while (!bad && (r = clgrad_cli_args_next(&g)) != -1) {
        const char *a = r == 1 ? g.opt : g.value, *v = g.value;
        if (r == -2) bad = 1;
        else if (r == 0) {
            if (!cmd) cmd = a;
            else if (!arg) arg = a;
            else { fprintf(stderr, "clgrad: unexpected argument %s\n", a); bad = 1; }
        }
        else if (strcmp(a, "--device") == 0) o.device = v;
        else if (strcmp(a, "--cl-dir") == 0) o.cl_dir = v;
        else if (strcmp(a, "--cache-dir") == 0) o.cache_dir = v;
        else if (strcmp(a, "--gemm") == 0) {
            o.gemm = clgrad_gemm_backend_parse(v);
            if (o.gemm < 0) {
                fprintf(stderr, "clgrad: --gemm takes own or clblast, not '%s'\n", v);
                bad = 1;
            }
        }
        else if (strcmp(a, "--no-cache") == 0) o.no_cache = 1;
        else if (strcmp(a, "--json") == 0) o.json = 1;
        else if (strcmp(a, "--no-timing") == 0) o.no_timing = 1;
        else if (strcmp(a, "--quiet") == 0) o.quiet = 1;
        else if (strcmp(a, "--save-data") == 0) o.save_data = 1;
        else if (strcmp(a, "--force") == 0) o.force = 1;
        else if (strcmp(a, "--out") == 0) o.out = v;
        else if (strcmp(a, "--init-from") == 0) o.init_from = v;
        else if (strcmp(a, "--set") == 0) {
            if (o.nsets == MAX_SETS) { fprintf(stderr, "clgrad: too many --set options\n"); bad = 1; }
            else o.sets[o.nsets++] = v;
        }
        else if (strcmp(a, "--help") == 0) want_help = 1;
        else { clgrad_cli_unknown_option(g.command, g.elem); bad = 1; } /* in the table, not handled here */
    }
    clgrad_cli_args_free(&g);
    if (bad) return 2;
    if (want_help) {
        if (c) clgrad_cli_command_help(c, stdout);
        else usage_(stdout);
        return 0;
    }
    if (!cmd) { usage_(stderr); return 2; }
    return cli_dispatch_(cmd, arg, &o);
}
