/*
** test_bench.c: `clgrad bench` (device suite).
**
** - The device-limit kernels of cl/bench.cl against host references on fresh
**   random inputs at the awkward sizes: bench_peak_* (every width and chain
**   count) bit for bit against the
**   host's fmaf chains (fma is correctly rounded on the device and on the
**   host, and the float additions are the same, so exact equality is the
**   right test); bench_copy exactly; bench_triad against float64 with the
**   two-rounding bound; elements outside the range stay untouched.
** - clgrad_selfcheck_bench: every row passes.
** - The timing harnesses: a GEMM and training steps of a reference model on
**   each backend give the asked number of positive times.
** - A very short whole bench (tiny sizes, start-up children included: this
**   program runs itself as "test_bench bench --startup-child"), its JSON parsed
**   back: every field present, every figure positive, the cold child compiled
**   every program and the warm child loaded every program from the cache.
** - --compare of two records, and the command line's usage errors.
*/
#include "fixture.h"
#include "cli/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- kernels ---------------------------------------------------------------- */

START_TEST(test_peak_exact)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng rng = fixture_rng(101);
    static const int iters[] = {0, 1, 3};
    /* float16 with >= 12 chains is there (wide-vector CPUs: 2 FMA ports x latency 4) */
    ck_assert_str_eq(clgrad_bench_peak_name(5), "float16_c12");
    ck_assert_int_eq(clgrad_bench_peak_width(5) * clgrad_bench_peak_chains(5), 16 * 12);
    ck_assert(clgrad_bench_peak_name(CLGRAD_BENCH_NPEAK) == NULL && clgrad_bench_peak_chains(-1) == 0);
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++)
        for (int s = 0; s < fixture_nsizes; s++)
            for (int it = 0; it < 3; it++) {
                size_t n = fixture_sizes[s], W = (size_t)clgrad_bench_peak_width(v), off = (size_t)(it * 5);
                float m = clgrad_testrng_uniform(&rng, 0.5f, 0.999f), c = clgrad_testrng_uniform(&rng, -1, 1);
                float *dev = malloc((n * W + off + 1) * sizeof *dev), *ref = malloc(n * W * sizeof *ref);
                ck_assert(dev && ref);
                for (size_t i = 0; i < n * W + off + 1; i++) dev[i] = -7.0f;
                cl_mem out = fixture_upload(dev, n * W + off + 1, "peak out");
                FX_OK(clgrad_bench_peak(ctx, v, n, out, off, m, c, iters[it], NULL));
                fixture_download(out, dev, n * W + off + 1);
                clgrad_bench_peak_ref(v, n, m, c, iters[it], ref);
                size_t bad = 0;
                for (size_t i = 0; i < n * W; i++) bad += memcmp(&dev[off + i], &ref[i], sizeof(float)) != 0;
                for (size_t i = 0; i < off; i++) bad += dev[i] != -7.0f;
                bad += dev[off + n * W] != -7.0f;
                ck_assert_msg(bad == 0, "bench_peak width %zu n=%zu iters=%d off=%zu: %zu elements differ (first: %a vs %a)",
                              W, n, iters[it], off, bad, (double)dev[off], (double)ref[0]);
                clgrad_buf_free(&out);
                free(dev), free(ref);
            }
}
END_TEST

START_TEST(test_copy_triad)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng rng = fixture_rng(202);
    for (int s = 0; s < fixture_nsizes; s++)
        for (size_t off = 0; off <= 5; off += 5) {
            size_t n = fixture_sizes[s], tot = n + 2 * off + 3;
            float *a = malloc(tot * sizeof *a), *b = malloc(tot * sizeof *b), *c = malloc(tot * sizeof *c);
            float *got = malloc(tot * sizeof *got);
            double *ref = malloc(tot * sizeof *ref), *tol = malloc(tot * sizeof *tol);
            ck_assert(a && b && c && got && ref && tol);
            for (size_t i = 0; i < tot; i++) {
                a[i] = clgrad_testrng_uniform(&rng, -3, 3);
                b[i] = clgrad_testrng_uniform(&rng, -3, 3);
                c[i] = clgrad_testrng_uniform(&rng, -3, 3);
            }
            cl_mem da = fixture_upload(a, tot, "a"), db = fixture_upload(b, tot, "b"), dc = fixture_upload(c, tot, "c");
            /* copy b[off + 3 ..] -> a[off ..]: exact; everything else in a untouched */
            FX_OK(clgrad_bench_copy(ctx, db, off + 3, da, off, n, NULL));
            fixture_download(da, got, tot);
            for (size_t i = 0; i < tot; i++) ref[i] = i >= off && i < off + n ? b[i + 3] : a[i];
            char what[96];
            snprintf(what, sizeof what, "bench_copy n=%zu off=%zu", n, off);
            ck_assert(fixture_check(what, got, ref, tot, 0, 0) == 0);
            /* triad a = b + s c, float64 reference: two roundings (s*c, then the
            ** add), |err| <= u|s c| + u|b + fl(s c)| <= u (|b| + 2|s c|) (1 + u),
            ** with u = 2^-24; 2u (|b| + 2|s c|) covers it */
            const float sc = clgrad_testrng_uniform(&rng, -2, 2);
            for (size_t i = 0; i < tot; i++) {
                ref[i] = got[i], tol[i] = 0;
                if (i >= off && i < off + n) {
                    double bb = b[i + 1], cc = c[i + 2];
                    ref[i] = bb + (double)sc * cc;
                    tol[i] = 0x1.0p-23 * (fabs(bb) + 2 * fabs((double)sc * cc));
                }
            }
            FX_OK(clgrad_bench_triad(ctx, da, off, db, off + 1, dc, off + 2, sc, n, NULL));
            fixture_download(da, got, tot);
            snprintf(what, sizeof what, "bench_triad n=%zu off=%zu", n, off);
            ck_assert(fixture_check_tol(what, got, ref, tol, tot) == 0);
            clgrad_buf_free(&da), clgrad_buf_free(&db), clgrad_buf_free(&dc);
            free(a), free(b), free(c), free(got), free(ref), free(tol);
        }
}
END_TEST

START_TEST(test_empty)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem p = NULL;
    cl_event ev = NULL;
    FX_OK(clgrad_buf_new(ctx, 1, "p", &p));
    FX_OK(clgrad_bench_empty(ctx, p, &ev));
    ck_assert(ev != NULL);
    ck_assert(clWaitForEvents(1, &ev) == CL_SUCCESS);
    cl_int status = 1;
    ck_assert(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL) == CL_SUCCESS);
    ck_assert_int_eq(status, CL_COMPLETE);
    clReleaseEvent(ev);
    clgrad_buf_free(&p);
    /* bad arguments are refused, with a message */
    ck_assert_int_eq(clgrad_bench_peak(ctx, CLGRAD_BENCH_NPEAK, 4, p, 0, 0.5f, 0.0f, 1, NULL), CLGRAD_E_ARG);
    ck_assert(strstr(clgrad_errmsg(ctx), "bench_peak") != NULL);
}
END_TEST

/* The selfcheck rows (registered as family "bench"): all pass. */
static int rows_, fails_;
static void row_(void *user, const char *family, const char *what, int pass, double max_err, double tol)
{
    (void)user;
    printf("  %s %-44s %10.3g %10.3g %s\n", family, what, max_err, tol, pass ? "pass" : "FAIL");
    ck_assert_str_eq(family, "bench");
    rows_++, fails_ += !pass;
}

START_TEST(test_selfcheck)
{
    rows_ = fails_ = 0;
    FX_OK(clgrad_selfcheck_bench(fixture_ctx(), row_, NULL));
    ck_assert_int_eq(rows_, CLGRAD_BENCH_NPEAK + 3);
    ck_assert_int_eq(fails_, 0);
}
END_TEST

/* ---- harnesses ------------------------------------------------------------------ */

START_TEST(test_gemm_time)
{
    clgrad_ctx *ctx = fixture_ctx();
    for (int b = 0; b < 2; b++) {
        double med = 0, best = 0;
        int done = 0;
        FX_OK(clgrad_bench_gemm_time(ctx, b, 1 - b, 33, 17, 9, (clgrad_gemm_backend)b, 3, 0, &med, &best, &done));
        ck_assert_int_eq(done, 3);
        ck_assert(med > 0 && best > 0 && best <= med);
    }
    ck_assert_int_eq(clgrad_get_gemm_backend(ctx), CLGRAD_GEMM_OWN); /* restored */
}
END_TEST

START_TEST(test_train_time)
{
    clgrad_ctx *ctx = fixture_ctx();
    ck_assert_int_eq(clgrad_bench_model_count(), 7);
    ck_assert(clgrad_bench_model_find("rnn") && clgrad_bench_model_find("rnn")->seq_len == 100);
    ck_assert(clgrad_bench_model_find("nope") == NULL);
    for (int b = 0; b < 2; b++) {
        double *t = NULL;
        int n = 0;
        size_t np = 0;
        FX_OK(clgrad_bench_train_time(ctx, clgrad_bench_model_find("tiny"), (clgrad_gemm_backend)b, 1, 3, 0, &np, &t, &n));
        ck_assert_int_eq(n, 3);
        /* tiny: 4 hidden layers of 64 on 64 inputs, 10 classes, with biases */
        ck_assert_uint_eq(np, 4 * (64 * 64 + 64) + 10 * 64 + 10);
        for (int i = 0; i < n; i++) ck_assert(t[i] > 0 && t[i] < 60);
        free(t);
    }
}
END_TEST

/* The reference models of issue 13: lstm and gru (H128 T50 batch 64, the rnn's
** data and loss) take one step and report a time; xl's table entry (16x4096,
** batch 4096) and the default sets: xl runs by default only in full runs on
** GPU devices, large and xl never in quick runs (xl itself is too slow to step
** here). */
START_TEST(test_models_issue13)
{
    clgrad_ctx *ctx = fixture_ctx();
    static const char *rec[] = {"lstm", "gru"};
    static const size_t want_params[] = {4 * 128 * (2 + 128) + 8 * 128 + 129, 3 * 128 * (2 + 128) + 6 * 128 + 129};
    for (int i = 0; i < 2; i++) {
        const clgrad_bench_model *m = clgrad_bench_model_find(rec[i]);
        ck_assert(m != NULL);
        ck_assert(m->width == 128 && m->seq_len == 50 && m->batch == 64 && m->in == 2 && m->out == 1);
        ck_assert_int_eq(m->loss, CLGRAD_LOSS_MSE);
        double *t = NULL;
        int n = 0;
        size_t np = 0;
        FX_OK(clgrad_bench_train_time(ctx, m, CLGRAD_GEMM_OWN, 0, 1, 0, &np, &t, &n));
        ck_assert_int_eq(n, 1);
        ck_assert_uint_eq(np, want_params[i]); /* as torch.nn.LSTM / GRU + Linear(128, 1) */
        ck_assert(t[0] > 0 && t[0] < 60);
        free(t);
    }
    const clgrad_bench_model *xl = clgrad_bench_model_find("xl");
    ck_assert(xl != NULL);
    ck_assert(xl->kind == CLGRAD_MODEL_MLP && xl->depth == 16 && xl->width == 4096 && xl->batch == 4096);
    ck_assert(xl->in == 4096 && xl->out == 10 && xl->loss == CLGRAD_LOSS_CE);
    for (int quick = 0; quick < 2; quick++)
        for (int gpu = 0; gpu < 2; gpu++) {
            ck_assert_int_eq(clgrad_bench_model_default(xl, quick, gpu), !quick && gpu);
            ck_assert_int_eq(clgrad_bench_model_default(clgrad_bench_model_find("large"), quick, gpu), !quick);
            for (int i = 0; i < 2; i++) ck_assert(clgrad_bench_model_default(clgrad_bench_model_find(rec[i]), quick, gpu));
        }
    char *argv[] = {"bench", "--models", "lstm,gru,xl", "--help", NULL}; /* known names */
    ck_assert_int_eq(clgrad_cli_bench(4, argv), 0);
}
END_TEST

/* ---- the whole bench, quick ---------------------------------------------------------- */

static const clgrad_json *need_(const clgrad_json *root, const char *path)
{
    const clgrad_json *v = clgrad_json_path(root, path);
    ck_assert_msg(v != NULL, "bench JSON: %s missing", path);
    return v;
}

static double pos_(const clgrad_json *root, const char *path)
{
    double v = clgrad_json_num(need_(root, path));
    ck_assert_msg(isfinite(v) && v > 0, "bench JSON: %s = %g, want a positive number", path, v);
    return v;
}

static char json_path_[2][256];

static void write_tmp_(int i, const char *text)
{
    snprintf(json_path_[i], sizeof json_path_[i], "%s/clgrad-test-bench-%ld-%d.json",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), i);
    FILE *f = fopen(json_path_[i], "w");
    ck_assert(f != NULL);
    ck_assert(fputs(text, f) >= 0);
    ck_assert(fclose(f) == 0);
}

static void print_(void *user, const char *line)
{
    (void)user;
    printf("  | %s\n", line);
    fflush(stdout);
}

START_TEST(test_quick_run)
{
    clgrad_ctx *ctx = fixture_ctx();
    static const size_t sizes[] = {16, 33};
    clgrad_bench_opts o = {0};
    o.quick = 1;
    o.sizes = sizes, o.nsizes = 2;
    o.reps = 2;
    o.models = "tiny,rnn";
    o.mem_bytes = 1 << 20, o.xfer_bytes = 1 << 20;
    o.print = print_;
    /* the start-up children build only bench.cl (a full cold start takes
    ** about a minute on PoCL: `clgrad bench --quick` measures that) */
    o.startup_only = "bench.cl";
    clgrad_bench_result *res = calloc(1, sizeof *res);
    ck_assert(res != NULL);
    FX_OK(clgrad_bench_run(ctx, &o, res));
    ck_assert_msg(res->startup.error[0] == '\0', "start-up: %s", res->startup.error);
    char *text = clgrad_bench_json(ctx, res, "test_bench");
    ck_assert(text != NULL);
    char why[512];
    clgrad_json *j = NULL;
    ck_assert_msg(clgrad_json_parse(text, &j, why, sizeof why) == CLGRAD_OK, "bench JSON does not parse: %s", why);

    ck_assert(clgrad_json_num(need_(j, "clgrad_bench_format")) == 1);
    ck_assert_str_eq(clgrad_json_str(need_(j, "clgrad_version")), CLGRAD_VERSION);
    static const char *strs[] = {"device.platform", "device.name", "device.vendor", "device.driver_version",
                                 "device.opencl_version", "build_options", "kernel_source_sha256", "gemm_variant",
                                 "start_time", "limits.timer", "startup.method"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        ck_assert_msg(clgrad_json_str(need_(j, strs[i])) && *clgrad_json_str(need_(j, strs[i])), "%s empty", strs[i]);
    ck_assert_uint_eq(strlen(clgrad_json_str(need_(j, "kernel_source_sha256"))), 64);
    pos_(j, "device.compute_units");
    static const char *lim[] = {"fp32_peak_gflops", "fp32_peak_float_gflops", "fp32_peak_float4_gflops",
                                "fp32_peak_float8_gflops", "mem_bandwidth_gbps", "mem_copy_gbps", "mem_triad_gbps",
                                "launch_latency_us", "launch_pipelined_us", "host_to_device_gbps",
                                "device_to_host_gbps", "peak_iters", "peak_work_items", "mem_buffer_bytes",
                                "transfer_bytes"};
    char p[128];
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        snprintf(p, sizeof p, "limits.%s", lim[i]);
        pos_(j, p);
    }
    double peak = pos_(j, "limits.fp32_peak_gflops");
    /* every variant measured; the peak is the best one's median, and the record names it */
    const char *won = clgrad_json_str(need_(j, "limits.peak_variant"));
    ck_assert(won != NULL);
    int found = 0;
    for (int v = 0; v < CLGRAD_BENCH_NPEAK; v++) {
        snprintf(p, sizeof p, "limits.fp32_peak_%s_gflops", clgrad_bench_peak_name(v));
        ck_assert(peak >= pos_(j, p));
        if (!strcmp(won, clgrad_bench_peak_name(v))) {
            found = 1;
            ck_assert(peak == clgrad_json_num(need_(j, p)));
            ck_assert(clgrad_json_num(need_(j, "limits.peak_fma_chains")) == clgrad_bench_peak_chains(v));
            ck_assert(clgrad_json_num(need_(j, "limits.peak_vector_width")) == clgrad_bench_peak_width(v));
        }
    }
    ck_assert_msg(found, "peak_variant %s is not a variant", won);

    /* gemm: 2 squares + 3 shapes per model (tiny, rnn), each on both backends */
    const clgrad_json *g = need_(j, "gemm");
    ck_assert_int_eq(g->type, CLGRAD_JSON_ARRAY);
    ck_assert_uint_eq(g->n, (2 + 2 * 3) * 2);
    int own = 0, clb = 0;
    for (size_t i = 0; i < g->n; i++) {
        const clgrad_json *e = &g->items[i];
        ck_assert_msg(clgrad_json_member(e, "error")->type == CLGRAD_JSON_NULL, "gemm %s: %s",
                      clgrad_json_str(clgrad_json_member(e, "id")), clgrad_json_str(clgrad_json_member(e, "error")));
        static const char *f[] = {"m", "n", "k", "reps", "median_ms", "best_ms", "gflops", "best_gflops", "peak_pct"};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) pos_(e, f[k]);
        ck_assert_int_eq((int)clgrad_json_num(clgrad_json_member(e, "reps")), 2);
        double m = clgrad_json_num(clgrad_json_member(e, "m")), n = clgrad_json_num(clgrad_json_member(e, "n")),
               k = clgrad_json_num(clgrad_json_member(e, "k")), ms = clgrad_json_num(clgrad_json_member(e, "median_ms"));
        ck_assert_double_eq_tol(clgrad_json_num(clgrad_json_member(e, "gflops")), 2 * m * n * k / (ms * 1e-3) * 1e-9,
                                1e-6 * clgrad_json_num(clgrad_json_member(e, "gflops")));
        ck_assert(clgrad_json_num(clgrad_json_member(e, "best_gflops")) >= clgrad_json_num(clgrad_json_member(e, "gflops")));
        const char *be = clgrad_json_str(need_(e, "backend"));
        own += strcmp(be, "own") == 0, clb += strcmp(be, "clblast") == 0;
        ck_assert(strstr(clgrad_json_str(need_(e, "id")), be) != NULL);
    }
    ck_assert_int_eq(own, 8);
    ck_assert_int_eq(clb, 8);
    ck_assert_str_eq(clgrad_json_str(need_(&g->items[0], "id")), "square/NN/16x16x16/own");

    /* train: tiny and rnn, both backends, 2 timed steps after 1 warm-up */
    const clgrad_json *t = need_(j, "train");
    ck_assert_uint_eq(t->n, 4);
    for (size_t i = 0; i < t->n; i++) {
        const clgrad_json *e = &t->items[i];
        ck_assert_msg(clgrad_json_member(e, "error")->type == CLGRAD_JSON_NULL, "train %s: %s",
                      clgrad_json_str(clgrad_json_member(e, "id")), clgrad_json_str(clgrad_json_member(e, "error")));
        static const char *f[] = {"params", "batch", "median_step_ms", "min_step_ms", "max_step_ms", "steps_per_s",
                                  "warmup_steps", "steps_timed", "pipelined_step_ms"};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) pos_(e, f[k]);
        ck_assert_int_eq((int)clgrad_json_num(clgrad_json_member(e, "steps_timed")), 2);
        double med = clgrad_json_num(clgrad_json_member(e, "median_step_ms"));
        ck_assert(clgrad_json_num(clgrad_json_member(e, "min_step_ms")) <= med);
        ck_assert(clgrad_json_num(clgrad_json_member(e, "max_step_ms")) >= med);
        ck_assert_double_eq_tol(clgrad_json_num(clgrad_json_member(e, "steps_per_s")), 1e3 / med, 1e-6 * 1e3 / med);
        /* a log step's extra time, back to back and blocking: numbers (either may be negative in noise) */
        static const char *lf[] = {"log_step_extra_pct", "log_step_blocking_extra_pct"};
        for (size_t k = 0; k < 2; k++) {
            const clgrad_json *x = need_(e, lf[k]);
            ck_assert_msg(x->type == CLGRAD_JSON_NUMBER && isfinite(clgrad_json_num(x)), "train %s: %s",
                          clgrad_json_str(clgrad_json_member(e, "id")), lf[k]);
        }
    }
    ck_assert_str_eq(clgrad_json_str(need_(&t->items[2], "id")), "rnn/own");
    ck_assert(clgrad_json_num(need_(&t->items[2], "seq_len")) == 100);

    /* start-up: with caches off and with empty caches the child compiled every
    ** program; the warm child loaded them all from the cache the cold one wrote */
    static const char *sf[] = {"open_s", "setup_s", "first_step_s", "total_s", "process_s", "programs"};
    static const char *sk[] = {"no_cache", "cold", "warm"};
    for (int w = 0; w < 3; w++)
        for (size_t k = 0; k < sizeof sf / sizeof sf[0]; k++) {
            snprintf(p, sizeof p, "startup.%s.%s", sk[w], sf[k]);
            pos_(j, p);
        }
    ck_assert(clgrad_json_num(need_(j, "startup.cold.programs")) == 1);
    ck_assert(clgrad_json_num(need_(j, "startup.no_cache.compiled")) == 1);
    ck_assert(clgrad_json_num(need_(j, "startup.no_cache.loaded")) == 0);
    ck_assert(clgrad_json_num(need_(j, "startup.cold.compiled")) == 1);
    ck_assert(clgrad_json_num(need_(j, "startup.cold.loaded")) == 0);
    ck_assert(clgrad_json_num(need_(j, "startup.warm.loaded")) == 1);
    ck_assert(clgrad_json_num(need_(j, "startup.warm.compiled")) == 0);
    for (int w = 0; w < 3; w++) {
        snprintf(p, sizeof p, "startup.%s.total_s", sk[w]);
        double tot = clgrad_json_num(need_(j, p));
        snprintf(p, sizeof p, "startup.%s.process_s", sk[w]);
        ck_assert_msg(clgrad_json_num(need_(j, p)) >= tot, "%s: the process took less than its parts", p);
    }

    /* --compare of the record with itself: every ratio is 1 */
    write_tmp_(0, text);
    write_tmp_(1, text);
    const char *paths[2] = {json_path_[0], json_path_[1]};
    FILE *f = tmpfile();
    ck_assert(f != NULL);
    ck_assert_int_eq(clgrad_bench_compare(f, 2, paths, why, sizeof why), 0);
    long len = ftell(f);
    char *out = calloc((size_t)len + 1, 1);
    ck_assert(out != NULL);
    rewind(f);
    ck_assert(fread(out, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    ck_assert(strstr(out, "limits.fp32_peak_gflops") != NULL);
    ck_assert(strstr(out, "train.rnn/clblast.median_step_ms") != NULL);
    ck_assert(strstr(out, "gemm.square/NN/33x33x33/own.gflops") != NULL);
    ck_assert(strstr(out, "startup.warm.total_s") != NULL);
    ck_assert(strstr(out, "best_gflops") == NULL); /* companions are not shown */
    size_t rows = 0, ones = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        if (!strncmp(l, "limits.", 7) || !strncmp(l, "gemm.", 5) || !strncmp(l, "train.", 6) || !strncmp(l, "startup.", 8)) {
            rows++;
            ones += strstr(l, "(x 1.00)") != NULL;
        }
    }
    ck_assert_uint_gt(rows, 40);
    ck_assert_uint_eq(ones, rows);
    free(out);

    /* the command line: compare through clgrad_cli_bench; a file that is not a bench record */
    char *argv[] = {"bench", "--compare", json_path_[0], json_path_[1], NULL};
    ck_assert_int_eq(clgrad_cli_bench(4, argv), 0);
    FILE *bad = fopen(json_path_[1], "w");
    ck_assert(bad != NULL);
    fputs("{\"status\": \"completed\"}\n", bad);
    fclose(bad);
    ck_assert_int_eq(clgrad_bench_compare(stdout, 2, paths, why, sizeof why), 2);
    ck_assert(strstr(why, "not a clgrad bench") != NULL);
    remove(json_path_[0]);
    remove(json_path_[1]);
    clgrad_json_free(j);
    free(text);
    free(res);
}
END_TEST

START_TEST(test_cli_usage)
{
    char *a1[] = {"bench", "--sizes", "12,x", NULL};
    ck_assert_int_eq(clgrad_cli_bench(3, a1), 2);
    char *a2[] = {"bench", "--gemm", "cublas", NULL};
    ck_assert_int_eq(clgrad_cli_bench(3, a2), 2);
    char *a3[] = {"bench", "--models", "tiny,huge", NULL};
    ck_assert_int_eq(clgrad_cli_bench(3, a3), 2);
    char *a4[] = {"bench", "--compare", "/nonexistent/a.json", "/nonexistent/b.json", NULL};
    ck_assert_int_eq(clgrad_cli_bench(4, a4), 2);
    char *a5[] = {"bench", "--reps", "0", NULL};
    ck_assert_int_eq(clgrad_cli_bench(3, a5), 2);
    char *a6[] = {"bench", "--frobnicate", NULL};
    ck_assert_int_eq(clgrad_cli_bench(2, a6), 2);
    char *a7[] = {"bench", "--help", NULL};
    ck_assert_int_eq(clgrad_cli_bench(2, a7), 0);
}
END_TEST

int main(int argc, char **argv)
{
    /* the start-up measurement runs this program as "test_bench bench --startup-child ..." */
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return clgrad_cli_bench(argc - 1, argv + 1);
    fixture_open(NULL);
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_peak_exact);
    tcase_add_test(tc, test_copy_triad);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_selfcheck);
    tcase_add_test(tc, test_gemm_time);
    tcase_add_test(tc, test_train_time);
    tcase_add_test(tc, test_models_issue13);
    tcase_add_test(tc, test_quick_run);
    tcase_add_test(tc, test_cli_usage);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
