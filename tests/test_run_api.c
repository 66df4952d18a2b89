/*
** test_run_api.c (device suite): clgrad_run() from a C program.
**   - quiet: the library writes nothing to stdout or stderr during a run
**   - the per-step callback (on_step) sees every step in order, with loss and
**     gradient norm at the logged steps, and stops the run at a step boundary
**     when it returns nonzero (status interrupted, every file written)
**   - the kernel-build hook (on_build) reports every program
**   - clgrad_run_check_files: a missing data file, before any run directory
**   - metrics_lag (non-blocking read-backs): the same rows, weights and
**     result as 0; a callback stop ends the run within the lag, every
**     queued step recorded
**   - metrics_lag under [diverge] action = stop: the run ends at the same
**     step with the same files as without the lag (the device halts there:
**     the steps already queued change nothing), for SGD with and without
**     momentum, logged every step or every 4th; with batch norm (its
**     running estimates and count of batches)
*/
#define _POSIX_C_SOURCE 200809L
#include "fixture.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_[256];

static void load_(const char *exp, const char *const *sets, int nsets, clgrad_config *cfg)
{
    static char err[8192];
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/%s.ini", getenv("CLGRAD_SOURCE_ROOT"), exp);
    ck_assert_msg(clgrad_config_load(path, sets, nsets, cfg, err, sizeof err) == 0, "%s: %s", path, err);
}

typedef struct {
    long calls, last_step, logged, stop_at;
    int in_order, values_ok;
} watch_;

static int on_step_(void *user, const clgrad_step_info *in)
{
    watch_ *w = user;
    w->calls++;
    if (in->step != w->last_step + 1) w->in_order = 0;
    w->last_step = in->step;
    if (in->logged) {
        w->logged++;
        if (!isfinite(in->loss) || !isfinite(in->grad_norm) || in->lr <= 0) w->values_ok = 0;
    } else if (!isnan(in->loss)) w->values_ok = 0;
    return w->stop_at && in->step >= w->stop_at;
}

/* Run with fds 1 and 2 sent to a file; returns how many bytes were written there. */
static long run_captured_(clgrad_config *cfg, clgrad_run_opts *o, clgrad_run_result *res)
{
    char cap[300];
    snprintf(cap, sizeof cap, "%s/captured", tmp_);
    fflush(stdout), fflush(stderr);
    int save1 = dup(1), save2 = dup(2), fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(save1 >= 0 && save2 >= 0 && fd >= 0);
    dup2(fd, 1), dup2(fd, 2);
    clgrad_status st = clgrad_run(fixture_ctx(), cfg, o, res);
    fflush(stdout), fflush(stderr);
    dup2(save1, 1), dup2(save2, 2);
    close(fd), close(save1), close(save2);
    ck_assert_msg(st == CLGRAD_OK, "clgrad_run: %s", clgrad_errmsg(fixture_ctx()));
    struct stat sb;
    ck_assert(stat(cap, &sb) == 0);
    return (long)sb.st_size;
}

START_TEST(quiet_and_callback)
{
    static clgrad_config cfg;
    const char *sets[] = {"run.steps=40", "run.log_every=4"};
    load_("linreg_lr_below", sets, 2, &cfg);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/watched", tmp_);
    watch_ w = {0, 0, 0, 0, 1, 1};
    clgrad_run_opts o = {0};
    o.out_dir = dir;
    o.quiet = 1;
    o.on_step = on_step_, o.on_step_user = &w;
    clgrad_run_result res;
    long printed = run_captured_(&cfg, &o, &res);
    ck_assert_msg(printed == 0, "a quiet run printed %ld bytes", printed);
    ck_assert_int_eq(res.status, CLGRAD_RUN_COMPLETED);
    ck_assert_int_eq(w.calls, 40);
    ck_assert_int_eq(w.logged, 10);
    ck_assert(w.in_order && w.values_ok);
    ck_assert(res.test_eval_step == 40);
    ck_assert(isfinite(res.median_ms_per_step) && res.median_ms_per_step > 0);
    ck_assert(isfinite(res.first_step_ms));
    ck_assert_int_eq(res.has_accuracy, 0); /* linear regression */
}
END_TEST

START_TEST(callback_stops)
{
    static clgrad_config cfg;
    const char *sets[] = {"run.steps=1000", "run.log_every=1"};
    load_("linreg_lr_below", sets, 2, &cfg);
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/stopped", tmp_);
    watch_ w = {0, 0, 0, 7, 1, 1};
    clgrad_run_opts o = {0};
    o.out_dir = dir;
    o.quiet = 1;
    o.on_step = on_step_, o.on_step_user = &w;
    clgrad_run_result res;
    run_captured_(&cfg, &o, &res);
    ck_assert_int_eq(res.status, CLGRAD_RUN_INTERRUPTED);
    ck_assert_int_eq(res.stopped_by_callback, 1);
    ck_assert_int_eq(res.steps_done, 7);
    ck_assert_int_eq(w.calls, 7);
    const char *files[] = {"summary.json", "manifest.json", "metrics.csv", "weights/final/0.weight.npy"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        ck_assert_msg(access(path, F_OK) == 0, "no %s after a stop", path);
    }
    clgrad_json *s = NULL;
    char why[512];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    ck_assert(clgrad_json_load(path, &s, why, sizeof why) == CLGRAD_OK);
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(s, "stopped_by")), "callback");
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(s, "status")), "interrupted");
    clgrad_json_free(s);
}
END_TEST

static void on_build_(void *user, int index, int total, const char *program, int compiling)
{
    int *seen = user;
    (void)compiling;
    ck_assert(index >= 1 && index <= total && program && *program);
    seen[0]++, seen[1] = total;
}

START_TEST(build_hook)
{
    clgrad_ctx *ctx = clgrad_ctx_new();
    clgrad_open_opts oo = {0};
    int seen[2] = {0, 0};
    oo.on_build = on_build_, oo.on_build_user = seen;
    oo.only = "reduce.cl,loss.cl";
    ck_assert_msg(clgrad_open(ctx, getenv("CLGRAD_TEST_DEVICE"), &oo) == CLGRAD_OK, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(seen[0], 2);
    ck_assert_int_eq(seen[1], 2);
    clgrad_ctx_free(ctx);
}
END_TEST

START_TEST(missing_data_file)
{
    static clgrad_config cfg;
    static char err[4096];
    char ini[300], dir[300];
    snprintf(ini, sizeof ini, "%s/csv.ini", tmp_);
    FILE *f = fopen(ini, "w");
    ck_assert(f != NULL);
    fprintf(f, "[run]\nsteps = 3\n[data]\nkind = csv\npath = %s/missing.csv\ntarget = y\n", tmp_);
    fclose(f);
    ck_assert_msg(clgrad_config_load(ini, NULL, 0, &cfg, err, sizeof err) == 0, "%s", err);
    clgrad_ctx *c = clgrad_ctx_new();
    ck_assert(clgrad_run_check_files(c, &cfg) == CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(clgrad_errmsg(c), "missing.csv") != NULL, "%s", clgrad_errmsg(c));
    clgrad_ctx_free(c);
    snprintf(dir, sizeof dir, "%s/never", tmp_);
    clgrad_run_opts o = {0};
    o.out_dir = dir;
    clgrad_run_result res;
    ck_assert(clgrad_run(fixture_ctx(), &cfg, &o, &res) != CLGRAD_OK);
    ck_assert_msg(access(dir, F_OK) != 0, "a run directory was created for a missing data file");
}
END_TEST

/* The file's bytes, ms_per_step cells of a CSV blanked (the one column that is a wall-clock time). */
static char *slurp_(const char *dir, const char *name, size_t *n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    char *b = malloc(1 << 20);
    ck_assert(b);
    *n = fread(b, 1, (1 << 20) - 1, f);
    fclose(f);
    b[*n] = '\0';
    if (strstr(name, "metrics.csv")) { /* column 11 (1-based) of every line */
        char *o = b;
        int col = 1;
        for (const char *p = b; *p; p++) {
            if (*p == '\n') col = 1;
            else if (*p == ',') col++;
            else if (col == 11) continue;
            *o++ = *p;
        }
        *o = '\0', *n = (size_t)(o - b);
    }
    return b;
}

/* Run exp (with sets) into tmp_/name with metrics_lag = lag, a callback that asks to stop at stop_at (0:
** never); what the callback saw. */
static watch_ lagged_run_(const char *exp, const char *const *sets, int nsets, const char *name, int lag,
                          long stop_at, clgrad_run_result *res)
{
    static clgrad_config cfg;
    load_(exp, sets, nsets, &cfg);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", tmp_, name);
    watch_ w = {0, 0, 0, stop_at, 1, 1};
    clgrad_run_opts o = {0};
    o.out_dir = dir, o.quiet = 1, o.metrics_lag = lag;
    o.on_step = on_step_, o.on_step_user = &w;
    run_captured_(&cfg, &o, res);
    return w;
}

/* files[0 .. n) of the run directories tmp_/a and tmp_/b hold the same bytes (metrics.csv: slurp_'s). */
static void same_files_(const char *a, const char *b, const char *const *files, int n, const char *what)
{
    char da[400], db[400];
    snprintf(da, sizeof da, "%s/%s", tmp_, a), snprintf(db, sizeof db, "%s/%s", tmp_, b);
    for (int i = 0; i < n; i++) {
        size_t na, nb;
        char *x = slurp_(da, files[i], &na), *y = slurp_(db, files[i], &nb);
        ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s%s differs with metrics_lag 3", what, files[i]);
        free(x), free(y);
    }
}

static void lag_run_(const char *name, int lag, long stop_at, clgrad_run_result *res)
{
    static const char *const sets[] = {"run.steps=60", "run.log_every=1", "diverge.action=continue",
                                       "metrics.histogram_every=4"};
    watch_ w = lagged_run_("linreg_lr_above", sets, 4, name, lag, stop_at, res);
    ck_assert_int_eq(w.calls, res->steps_done);
    ck_assert(w.in_order); /* logged steps' calls come late, still in order */
}

START_TEST(lagged_same)
{
    clgrad_run_result a, b;
    lag_run_("lag0", 0, 0, &a);
    lag_run_("lag3", 3, 0, &b);
    ck_assert_int_eq(a.status, b.status);
    ck_assert_int_eq(a.steps_done, 60);
    ck_assert_int_eq(b.steps_done, 60);
    ck_assert_int_eq(a.diverge_step, b.diverge_step);
    ck_assert(memcmp(&a.final_train_loss, &b.final_train_loss, sizeof(double)) == 0);
    const char *files[] = {"metrics.csv", "layers.csv", "histograms.csv", "weights/final/0.weight.npy"};
    same_files_("lag0", "lag3", files, 4, "");
    /* a callback stop at step 7: the run ends at the latest step queued, within the lag, all of them recorded */
    clgrad_run_result c;
    lag_run_("lagstop", 3, 7, &c);
    ck_assert_int_eq(c.status, CLGRAD_RUN_INTERRUPTED);
    ck_assert(c.steps_done >= 7 && c.steps_done <= 7 + 3);
    char ds[300];
    snprintf(ds, sizeof ds, "%s/lagstop", tmp_);
    size_t n;
    char *m = slurp_(ds, "metrics.csv", &n);
    long rows = -1;
    for (size_t i = 0; i < n; i++) rows += m[i] == '\n';
    ck_assert_int_eq(rows, c.steps_done);
    free(m);
}
END_TEST

START_TEST(lagged_stop_same)
{
    /* linreg diverges (loss limit) within ~100 steps; eval_every off so that every log step may lag */
    static const char *const sgd1[] = {"run.log_every=1", "run.eval_every=0", "diverge.action=stop"};
    static const char *const sgd4[] = {"run.log_every=4", "run.eval_every=0", "diverge.action=stop"};
    static const char *const mom[] = {"run.log_every=1", "run.eval_every=0", "diverge.action=stop",
                                      "optim.momentum=0.9", "optim.lr=4"}; /* stops at step 6 */
    static const char *const bn[] = {"run.log_every=2", "run.eval_every=0", "run.steps=60", "diverge.action=stop",
                                     "optim.lr=1e4",    "diverge.loss_limit=50"};
    struct {
        const char *exp;
        const char *const *sets;
        int n;
    } cases[] = {{"linreg_lr_above", sgd1, 3}, {"linreg_lr_above", sgd4, 3}, {"linreg_lr_above", mom, 5},
                 {"sigmoid_deep_batchnorm", bn, 6}};
    const int c = _i;
    clgrad_run_result a, b;
    char n0[64], n3[64];
    snprintf(n0, sizeof n0, "stop%d_lag0", c), snprintf(n3, sizeof n3, "stop%d_lag3", c);
    const long ca = lagged_run_(cases[c].exp, cases[c].sets, cases[c].n, n0, 0, 0, &a).calls;
    const long cb = lagged_run_(cases[c].exp, cases[c].sets, cases[c].n, n3, 3, 0, &b).calls;
    ck_assert_msg(a.status == CLGRAD_RUN_DIVERGED, "case %d: the run did not diverge (status %d)", c, (int)a.status);
    ck_assert_int_eq(a.status, b.status);
    ck_assert_int_eq(a.steps_done, b.steps_done);
    ck_assert_int_eq(a.diverge_step, b.diverge_step);
    ck_assert_str_eq(a.diverge_kind, b.diverge_kind);
    ck_assert(memcmp(&a.final_train_loss, &b.final_train_loss, sizeof(double)) == 0);
    ck_assert(memcmp(&a.max_grad_norm, &b.max_grad_norm, sizeof(double)) == 0);
    ck_assert_int_eq(ca, a.steps_done); /* without the lag: one call per step up to the stop */
    ck_assert(cb >= b.steps_done);       /* with it, unlogged steps queued past the stop are called too */
    if (c == 1 || c == 3) /* logged every 4th / 2nd step: steps past the stop ran (halted), so the test tests */
        ck_assert_msg(cb > b.steps_done, "case %d: no step ran past the stop at %ld", c, b.steps_done);
    const char *files[] = {"metrics.csv",
                           "layers.csv",
                           "weights/final/0.weight.npy",
                           "weights/final/0.bias.npy",
                           "weights/final/1.running_mean.npy",
                           "weights/final/1.running_var.npy",
                           "weights/final/1.num_batches_tracked.npy"};
    const int nfiles = c == 3 ? 7 : 4; /* the batch-norm model's buffers */
    char what[64];
    snprintf(what, sizeof what, "case %d (stop at %ld): ", c, a.steps_done);
    same_files_(n0, n3, files, nfiles, what);
}
END_TEST

int main(void)
{
    fixture_open(NULL);
    snprintf(tmp_, sizeof tmp_, "/tmp/clgrad-test-api-XXXXXX");
    if (!mkdtemp(tmp_)) return 1;
    Suite *s = suite_create("run_api");
    TCase *tc = tcase_create("run_api");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, quiet_and_callback);
    tcase_add_test(tc, callback_stops);
    tcase_add_test(tc, build_hook);
    tcase_add_test(tc, missing_data_file);
    tcase_add_test(tc, lagged_same);
    tcase_add_loop_test(tc, lagged_stop_same, 0, 4);
    suite_add_tcase(s, tc);
    int r = fixture_run(s, 1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_);
    if (system(cmd) != 0) r = 1;
    return r;
}
