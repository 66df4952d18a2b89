/*
** test_compare.c (unit suite, no device): reading run directories back and
** `clgrad compare`.  Every test writes its own small run directories
** (manifest.json, summary.json, metrics.csv, layers.csv, timesteps.csv) into
** a fresh temporary directory, from a spec with one optional perturbation,
** then checks the exit status, the first differing step and metric, NaN/Inf
** rules, statuses and divergence verdicts, runs of different lengths, read
** and usage errors (the path named), and the --json output (parsed back).
** The JSON and CSV readers get their own tests: escapes, "nan" strings,
** errors with line numbers, quotes, CRLF, ragged rows.
*/
#include "cli/report.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers: temporary directories, files, CLI capture                  */
/* ------------------------------------------------------------------ */

static char tmp_[256];

static void rm_rf_(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf_(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup_(void)
{
    snprintf(tmp_, sizeof tmp_, "/tmp/clgrad-test-compare-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_));
}

static void teardown_(void)
{
    rm_rf_(tmp_);
}

static const char *path_(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_, name);
    return p[k];
}

static void write_text_(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_stream_(FILE *f)
{
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    size_t r = fread(s, 1, (size_t)n, f);
    s[r] = '\0';
    return s;
}

static char *out_, *err_;

/* Run a CLI entry point with stdout/stderr captured into out_/err_. */
static int cli_(int (*fn)(int, char **), const char *const *args)
{
    free(out_), free(err_);
    out_ = err_ = NULL;
    char *argv[64];
    int argc = 0;
    while (args[argc] && argc < 63) argv[argc] = (char *)args[argc], argc++;
    argv[argc] = NULL;
    fflush(stdout), fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    ck_assert(fo && fe);
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1), dup2(fileno(fe), 2);
    int rc = fn(argc, argv);
    fflush(stdout), fflush(stderr);
    dup2(so, 1), dup2(se, 2);
    close(so), close(se);
    out_ = read_stream_(fo), err_ = read_stream_(fe);
    fclose(fo), fclose(fe);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Synthetic run directories                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *device;   /* manifest device.name */
    const char *status;   /* summary/manifest status (default completed, or diverged with div_step) */
    long steps;           /* logged steps 1..steps (every step) */
    long planned;         /* steps_planned (default steps) */
    long div_step;        /* > 0: diverged there (logging stops there) */
    const char *div_kind; /* default loss_limit */
    const char *div_layer;
    int nlayers;          /* MLP: layers "0", "2", ... */
    int rnn;              /* layers "rnn", "fc" and timesteps.csv */
    double ms;            /* ms_per_step level (timing: may differ freely) */
    /* perturbation: from step pstep on (and at t == pt for timesteps, if pt > 0),
    ** column pcol of pfile (rows of layer player, if set) is multiplied by pmul,
    ** or set to pval when pset */
    const char *pfile, *pcol, *player;
    long pstep, pt;
    double pmul, pval;
    int pset;
    int no_test_loss;     /* leave test_loss empty everywhere */
} runspec;

static double pert_(const runspec *s, const char *file, const char *col, const char *layer, long step, long t,
                    double v)
{
    if (!s->pfile || strcmp(s->pfile, file) || strcmp(s->pcol, col) || step < s->pstep) return v;
    if (s->player && (!layer || strcmp(s->player, layer))) return v;
    if (s->pt > 0 && t != s->pt) return v;
    return s->pset ? s->pval : v * s->pmul;
}

static void num_(FILE *f, double v)
{
    if (isnan(v)) fputs("nan", f);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    else fprintf(f, "%.9g", v);
}

static void jnum_(FILE *f, double v)
{
    if (isnan(v)) fputs("\"nan\"", f);
    else if (isinf(v)) fputs(v > 0 ? "\"inf\"" : "\"-inf\"", f);
    else fprintf(f, "%.9g", v);
}

/* a JSON string with escapes */
static void jstr_(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static double loss_at_(long step)
{
    return 2.0 * exp(-0.02 * (double)step) + 0.05;
}

static const char *const metric_cols[] = {"epoch", "loss", "train_acc", "lr", "grad_norm", "clip_coef",
                                          "grad_norm_clipped", "weight_norm", "nonfinite_grads",
                                          "ms_per_step", "test_loss", "test_acc", NULL};

static void make_run_(const char *dir, const runspec *sp)
{
    runspec s = *sp;
    if (!s.device) s.device = "Test Device A";
    if (!s.steps) s.steps = 60;
    if (s.div_step > 0) s.steps = s.div_step;
    if (!s.planned) s.planned = s.div_step > 0 ? 100 : s.steps;
    if (!s.status) s.status = s.div_step > 0 ? "diverged" : "completed";
    if (!s.div_kind) s.div_kind = "loss_limit";
    if (!s.div_layer) s.div_layer = "0";
    if (!s.nlayers) s.nlayers = 3;
    if (!s.ms) s.ms = 2.0;
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[1024];

    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("step", f);
    for (int c = 0; metric_cols[c]; c++) fprintf(f, ",%s", metric_cols[c]);
    fputc('\n', f);
    double last_loss = NAN, last_test = NAN, max_g = 0;
    for (long st = 1; st <= s.steps; st++) {
        double g = 1.0 + 0.5 * sin((double)st);
        double vals[] = {(double)(st / 10), loss_at_(st), NAN, 0.1, g, 1, g, 3 + 0.01 * (double)st, 0,
                         s.ms + (double)(st % 3), loss_at_(st) * 1.1, 0.5 + 0.001 * (double)st};
        fprintf(f, "%ld", st);
        for (int c = 0; metric_cols[c]; c++) {
            fputc(',', f);
            int eval = st % 10 == 0 && !s.no_test_loss;
            if (!strcmp(metric_cols[c], "train_acc")) continue; /* regression: never measured */
            if ((!strcmp(metric_cols[c], "test_loss") || !strcmp(metric_cols[c], "test_acc")) && !eval) continue;
            double v = pert_(&s, "metrics.csv", metric_cols[c], NULL, st, 0, vals[c]);
            num_(f, v);
            if (!strcmp(metric_cols[c], "loss")) last_loss = v;
            if (!strcmp(metric_cols[c], "test_loss")) last_test = v;
            if (!strcmp(metric_cols[c], "grad_norm") && v > max_g) max_g = v;
        }
        fputc('\n', f);
    }
    fclose(f);

    snprintf(p, sizeof p, "%s/layers.csv", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("step,layer,weight_norm,weight_grad_norm,bias_grad_norm,out_grad_norm,act_mean_abs,act_saturated,"
          "act_dead,update_ratio\n",
          f);
    int nl = s.rnn ? 2 : s.nlayers;
    for (long st = 1; st <= s.steps; st++) {
        for (int l = 0; l < nl; l++) {
            char name[16];
            if (s.rnn) snprintf(name, sizeof name, "%s", l == 0 ? "rnn" : "fc");
            else snprintf(name, sizeof name, "%d", 2 * l);
            double v[8] = {1.0 + l, 0.1 * (l + 1) * exp(-0.01 * (double)st), 0.01 * (l + 1),
                           pow(10.0, -0.5 * l) * (1 + 0.1 * sin((double)st)), 0.5, 0.1, 0.0, 1e-3};
            static const char *const lc[8] = {"weight_norm", "weight_grad_norm", "bias_grad_norm", "out_grad_norm",
                                              "act_mean_abs", "act_saturated", "act_dead", "update_ratio"};
            fprintf(f, "%ld,%s", st, name);
            for (int c = 0; c < 8; c++) fputc(',', f), num_(f, pert_(&s, "layers.csv", lc[c], name, st, 0, v[c]));
            fputc('\n', f);
        }
    }
    fclose(f);

    if (s.rnn) {
        snprintf(p, sizeof p, "%s/timesteps.csv", dir);
        f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs("step,t,grad_norm\n", f);
        for (long st = 1; st <= s.steps; st++) {
            if (st != 1 && st % 10) continue;
            for (long t = 8; t >= 1; t--) {
                fprintf(f, "%ld,%ld,", st, t);
                num_(f, pert_(&s, "timesteps.csv", "grad_norm", NULL, st, t,
                              pow(0.7, (double)(8 - t)) * (1 + 0.01 * (double)st)));
                fputc('\n', f);
            }
        }
        fclose(f);
    }

    snprintf(p, sizeof p, "%s/manifest.json", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n  \"clgrad_version\": \"0.1.0\",\n  \"device\": {\"index\": \"0:0\", \"platform\": \"Test Platform\", "
          "\"name\": ", f);
    jstr_(f, s.device);
    fprintf(f, ", \"type\": \"cpu\", \"compute_units\": 2, \"fp64\": true},\n"
               "  \"gemm_backend\": \"own\",\n  \"kernel_build\": {\"programs\": 8, \"seconds\": 0.1},\n"
               "  \"seed\": 5,\n  \"command_line\": \"clgrad run x.ini --out \\\"dir\\\"\",\n  \"status\": \"%s\"\n}\n",
            s.status);
    fclose(f);

    snprintf(p, sizeof p, "%s/summary.json", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\n  \"status\": \"%s\",\n  \"steps_done\": %ld,\n  \"steps_planned\": %ld,\n  \"divergence\": ",
            s.status, s.steps, s.planned);
    if (s.div_step > 0)
        fprintf(f, "{\"step\": %ld, \"kind\": \"%s\", \"layer\": \"%s\", \"value\": 1e6}", s.div_step, s.div_kind,
                s.div_layer);
    else fputs("null", f);
    fputs(",\n  \"final_train_loss\": ", f), jnum_(f, last_loss);
    fputs(",\n  \"final_test_loss\": ", f), jnum_(f, last_test);
    fputs(",\n  \"final_test_accuracy\": \"nan\",\n  \"max_grad_norm\": ", f), jnum_(f, max_g);
    fputs(",\n  \"ms_per_step\": ", f), jnum_(f, s.ms);
    fputs("\n}\n", f);
    fclose(f);
}

/* Read two runs and compare them through the library. */
static void compare2_(const char *a, const char *b, double rtol, double atol, clgrad_rundata runs[2],
                      clgrad_compare_result *res)
{
    char why[1024];
    ck_assert_msg(clgrad_rundata_read(a, CLGRAD_RUN_NEED_SUMMARY, &runs[0], why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_msg(clgrad_rundata_read(b, CLGRAD_RUN_NEED_SUMMARY, &runs[1], why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_msg(clgrad_runs_compare(runs, 2, rtol, atol, res, why, sizeof why) == CLGRAD_OK, "%s", why);
}

static void free2_(clgrad_rundata runs[2], clgrad_compare_result *res)
{
    clgrad_compare_result_free(res);
    clgrad_rundata_free(&runs[0]);
    clgrad_rundata_free(&runs[1]);
}

static const clgrad_metric_diff *find_diff_(const clgrad_rundata_cmp *c, const char *file, const char *metric,
                                            const char *layer)
{
    for (size_t i = 0; i < c->ndiffs; i++)
        if (!strcmp(c->diffs[i].file, file) && !strcmp(c->diffs[i].metric, metric) &&
            !strcmp(c->diffs[i].layer, layer ? layer : ""))
            return &c->diffs[i];
    return NULL;
}

/* The only metrics that disagree are exactly the listed ones. */
static void only_disagree_(const clgrad_rundata_cmp *c, const char *const *names)
{
    for (size_t i = 0; i < c->ndiffs; i++) {
        const clgrad_metric_diff *m = &c->diffs[i];
        int listed = 0;
        for (int k = 0; names[k]; k++) {
            char full[160];
            snprintf(full, sizeof full, "%s:%s%s%s", m->file, m->layer, m->layer[0] ? ":" : "", m->metric);
            listed |= !strcmp(names[k], full);
        }
        ck_assert_msg(m->disagree == listed, "%s [%s] %s: disagree=%d, expected %d", m->file, m->layer, m->metric,
                      m->disagree, listed);
    }
}

/* ------------------------------------------------------------------ */
/* JSON and CSV readers                                                */
/* ------------------------------------------------------------------ */

START_TEST(json_values)
{
    const char *text = "{\"a\": 1.5e3, \"s\": \"x\\\"y\\\\z\\n\\u00e9\\ud83d\\ude00\", \"n\": null, \"t\": true,\n"
                       " \"nan\": \"nan\", \"inf\": \"inf\", \"minf\": \"-inf\", \"o\": {\"k\": [1, 2, {\"z\": -0.25}],"
                       " \"name\": \"dev\"}, \"e\": {}, \"arr\": []}";
    clgrad_json *v = NULL;
    char why[256];
    ck_assert_msg(clgrad_json_parse(text, &v, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_int_eq(v->type, CLGRAD_JSON_OBJECT);
    ck_assert_double_eq(clgrad_json_num(clgrad_json_member(v, "a")), 1500.0);
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(v, "s")), "x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_int_eq(clgrad_json_member(v, "n")->type, CLGRAD_JSON_NULL);
    ck_assert(isnan(clgrad_json_num(clgrad_json_member(v, "n"))));
    ck_assert(!clgrad_json_is_num(clgrad_json_member(v, "n")));
    ck_assert_double_eq(clgrad_json_num(clgrad_json_member(v, "t")), 1.0);
    ck_assert(isnan(clgrad_json_num(clgrad_json_member(v, "nan"))));
    ck_assert(clgrad_json_is_num(clgrad_json_member(v, "nan")));
    ck_assert(isinf(clgrad_json_num(clgrad_json_member(v, "inf"))) && clgrad_json_num(clgrad_json_member(v, "inf")) > 0);
    ck_assert(clgrad_json_num(clgrad_json_member(v, "minf")) < 0 && isinf(clgrad_json_num(clgrad_json_member(v, "minf"))));
    ck_assert(isnan(clgrad_json_num(clgrad_json_member(v, "s")))); /* a string that is not a number */
    ck_assert_str_eq(clgrad_json_str(clgrad_json_path(v, "o.name")), "dev");
    const clgrad_json *k = clgrad_json_path(v, "o.k");
    ck_assert_int_eq(k->type, CLGRAD_JSON_ARRAY);
    ck_assert_uint_eq(k->n, 3);
    ck_assert_double_eq(clgrad_json_num(clgrad_json_member(&k->items[2], "z")), -0.25);
    ck_assert_ptr_null(clgrad_json_path(v, "o.missing"));
    ck_assert_ptr_null(clgrad_json_path(v, "a.b")); /* through a number */
    ck_assert_uint_eq(clgrad_json_path(v, "e")->n, 0);
    char buf[64];
    ck_assert_str_eq(clgrad_json_text(clgrad_json_member(v, "a"), buf, sizeof buf), "1500");
    ck_assert_str_eq(clgrad_json_text(clgrad_json_member(v, "n"), buf, sizeof buf), "null");
    ck_assert_str_eq(clgrad_json_text(NULL, buf, sizeof buf), "");
    clgrad_json_free(v);
}
END_TEST

static void put_(void *u, const char *p, size_t n)
{
    char *out = u;
    strncat(out, p, n);
}

/* The one JSON string writer: control characters, DEL, invalid UTF-8 -> U+FFFD; and it parses back. */
START_TEST(json_escape)
{
    static const struct { const char *in, *out; } cases[] = {
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"\n\t\r\x01\x1f\x7f", "\"\\n\\t\\r\\u0001\\u001f\\u007f\""},
        {"\xc3\xa9\xf0\x9f\x98\x80", "\"\xc3\xa9\xf0\x9f\x98\x80\""},           /* valid UTF-8 as is */
        {"a\xff\xfe" "b", "\"a\\ufffd\\ufffdb\""},                                /* invalid bytes */
        {"\xc3", "\"\\ufffd\""},                                                 /* cut short */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                                     /* overlong */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},                         /* a surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},             /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256] = "";
        clgrad_json_escape(cases[i].in, put_, out);
        ck_assert_str_eq(out, cases[i].out);
        ck_assert(clgrad_utf8_valid(out));
        clgrad_json *v = NULL;
        char why[256];
        ck_assert_msg(clgrad_json_parse(out, &v, why, sizeof why) == CLGRAD_OK, "%s: %s", out, why);
        if (clgrad_utf8_valid(cases[i].in)) ck_assert_str_eq(clgrad_json_str(v), cases[i].in);
        clgrad_json_free(v);
    }
    char out[16] = "";
    clgrad_json_escape(NULL, put_, out);
    ck_assert_str_eq(out, "\"\"");
}
END_TEST

/* summary.json's non-finite numbers: null + KEY_nonfinite; null alone is "not measured"; old strings read too */
START_TEST(json_num_field)
{
    const char *text = "{\"a\": null, \"a_nonfinite\": \"inf\", \"b\": null, \"c\": 2.5, \"d\": \"nan\","
                       " \"div\": {\"value\": null, \"value_nonfinite\": \"-inf\"}}";
    clgrad_json *v = NULL;
    char why[256];
    ck_assert(clgrad_json_parse(text, &v, why, sizeof why) == CLGRAD_OK);
    int p, m;
    double x = clgrad_json_num_field(v, "a", &p, &m);
    ck_assert(p && m && isinf(x) && x > 0);
    x = clgrad_json_num_field(v, "b", &p, &m);
    ck_assert(p && !m && isnan(x));
    ck_assert(clgrad_json_num_field(v, "c", &p, &m) == 2.5 && p && m);
    x = clgrad_json_num_field(v, "d", &p, &m);
    ck_assert(p && m && isnan(x));
    x = clgrad_json_num_field(v, "div.value", &p, &m);
    ck_assert(p && m && isinf(x) && x < 0);
    clgrad_json_num_field(v, "missing", &p, &m);
    ck_assert(!p && !m);
    clgrad_json_free(v);
}
END_TEST

START_TEST(json_errors)
{
    static const struct { const char *text, *msg; } bad[] = {
        {"{\"a\": 1,}", "expected a member name"},
        {"{\"a\" 1}", "expected ':'"},
        {"{\"a\": 1", "expected ',' or '}'"},
        {"[1 2]", "expected ',' or ']'"},
        {"{\"a\": \"abc}", "unterminated string"},
        {"{\"a\": 01}", "expected ',' or '}'"},
        {"{\"a\": -}", "invalid value"},
        {"{\"a\": 1.}", "invalid number"},
        {"{\"a\": \"\\q\"}", "bad escape"},
        {"{\"a\": \"\\u12G4\"}", "bad escape"},
        {"{} {}", "text after"},
        {"", "unexpected end"},
        {"{\"a\": tru}", "invalid value"},
        {"\n\n  {\"a\": [1,, 2]}", "line 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clgrad_json *v = (clgrad_json *)1;
        char why[256] = "";
        ck_assert_msg(clgrad_json_parse(bad[i].text, &v, why, sizeof why) != CLGRAD_OK, "accepted: %s", bad[i].text);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(why, bad[i].msg) != NULL, "'%s': message '%s' lacks '%s'", bad[i].text, why, bad[i].msg);
    }
    /* too deep */
    char deep[400];
    memset(deep, '[', 300);
    deep[300] = '\0';
    clgrad_json *v = NULL;
    char why[256] = "";
    ck_assert(clgrad_json_parse(deep, &v, why, sizeof why) != CLGRAD_OK);
    ck_assert_msg(strstr(why, "too deep") != NULL, "%s", why);
    /* a tiny message buffer is fine */
    char tiny[4] = "zzz";
    ck_assert(clgrad_json_parse("{", &v, tiny, sizeof tiny) != CLGRAD_OK);
    ck_assert_uint_le(strlen(tiny), 3);
}
END_TEST

START_TEST(csv_reader)
{
    write_text_(path_("a.csv"), "\xef\xbb\xbfstep, name ,value,x\r\n1,\"a,b\",1.5,\r\n\r\n2,\"say \"\"hi\"\"\",nan,\r\n"
                                "3,plain,-inf,7\r\n4,z,inf,garbage\n5,last,2,");
    clgrad_csv t;
    char why[512];
    ck_assert_msg(clgrad_csv_read(path_("a.csv"), &t, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_uint_eq(t.ncols, 4);
    ck_assert_uint_eq(t.nrows, 4); /* the last line has no newline: a writer cut it, left out */
    ck_assert_uint_eq(t.cut_line, 7);
    char w[1400];
    ck_assert_ptr_nonnull(clgrad_csv_warning(&t, w, sizeof w));
    ck_assert_msg(strstr(w, "a.csv: ignored a cut last line (line 7") != NULL, "%s", w);
    ck_assert_int_eq(clgrad_csv_col(&t, "step"), 0);
    ck_assert_int_eq(clgrad_csv_col(&t, "name"), 1); /* trimmed */
    ck_assert_int_eq(clgrad_csv_col(&t, "nope"), -1);
    int cv = clgrad_csv_col(&t, "value"), cx = clgrad_csv_col(&t, "x"), cn = clgrad_csv_col(&t, "name");
    ck_assert_str_eq(clgrad_csv_text(&t, 0, cn), "a,b");
    ck_assert_str_eq(clgrad_csv_text(&t, 1, cn), "say \"hi\"");
    ck_assert_double_eq(clgrad_csv_num(&t, 0, cv), 1.5);
    ck_assert(isnan(clgrad_csv_num(&t, 1, cv)) && clgrad_csv_present(&t, 1, cv));
    ck_assert(!clgrad_csv_present(&t, 0, cx) && isnan(clgrad_csv_num(&t, 0, cx)));
    ck_assert(isinf(clgrad_csv_num(&t, 2, cv)) && clgrad_csv_num(&t, 2, cv) < 0);
    ck_assert(isinf(clgrad_csv_num(&t, 3, cv)) && clgrad_csv_num(&t, 3, cv) > 0);
    ck_assert(isnan(clgrad_csv_num(&t, 3, cx)) && clgrad_csv_present(&t, 3, cx)); /* text, not a number */
    ck_assert_double_eq(clgrad_csv_num(&t, 2, cx), 7.0);
    ck_assert_str_eq(clgrad_csv_text(&t, 4, cn), ""); /* the cut line is no row */
    ck_assert_str_eq(clgrad_csv_text(&t, 99, cx), "");
    ck_assert(isnan(clgrad_csv_num(&t, 0, -1)));
    clgrad_csv_free(&t);
    clgrad_csv_free(&t); /* twice is fine */
    /* a number cut by a kill (3.5906288e-07 written as far as 3.5906288) is never read as a whole one */
    write_text_(path_("cut.csv"), "step,loss\n1,0.5\n2,3.5906288");
    ck_assert_msg(clgrad_csv_read(path_("cut.csv"), &t, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_uint_eq(t.nrows, 1);
    ck_assert_uint_eq(t.cut_line, 3);
    clgrad_csv_free(&t);
    write_text_(path_("cut.csv"), "step,loss\n1,0.5\n");
    ck_assert_msg(clgrad_csv_read(path_("cut.csv"), &t, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_uint_eq(t.nrows, 1);
    ck_assert_uint_eq(t.cut_line, 0);
    ck_assert_ptr_null(clgrad_csv_warning(&t, w, sizeof w));
    clgrad_csv_free(&t);
    write_text_(path_("cut.csv"), "step,lo");
    ck_assert(clgrad_csv_read(path_("cut.csv"), &t, why, sizeof why) != CLGRAD_OK);
    ck_assert_msg(strstr(why, "header line is cut short") != NULL, "%s", why);
}
END_TEST

START_TEST(csv_errors)
{
    clgrad_csv t;
    char why[512];
    write_text_(path_("ragged.csv"), "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    ck_assert_int_eq(clgrad_csv_read(path_("ragged.csv"), &t, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, path_("ragged.csv")) && strstr(why, ":3:"), "%s", why);
    ck_assert_ptr_null(t.buf);
    write_text_(path_("empty.csv"), "");
    ck_assert_int_eq(clgrad_csv_read(path_("empty.csv"), &t, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, "no header"), "%s", why);
    ck_assert_int_eq(clgrad_csv_read(path_("nope.csv"), &t, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, path_("nope.csv")), "%s", why);
    /* a cut-off last line (a writer still running) is dropped */
    write_text_(path_("cut.csv"), "a,b,c\n1,2,3\n4,5");
    ck_assert_msg(clgrad_csv_read(path_("cut.csv"), &t, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_uint_eq(t.nrows, 1);
    clgrad_csv_free(&t);
}
END_TEST

START_TEST(run_read)
{
    runspec s = {.rnn = 1};
    make_run_(path_("r"), &s);
    clgrad_rundata r;
    char why[1024];
    ck_assert_msg(clgrad_rundata_read(path_("r"), CLGRAD_RUN_NEED_SUMMARY, &r, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_str_eq(r.name, "r");
    ck_assert_str_eq(clgrad_rundata_status(&r), "completed");
    ck_assert_ptr_null(clgrad_rundata_divergence(&r));
    ck_assert_uint_eq(r.metrics.nrows, 60);
    ck_assert_uint_eq(r.layers.nrows, 120);
    ck_assert(r.has_timesteps);
    ck_assert_str_eq(clgrad_json_str(clgrad_json_path(r.manifest, "device.name")), "Test Device A");
    clgrad_rundata_free(&r);
    /* a trailing slash gives the same name */
    char d[600];
    snprintf(d, sizeof d, "%s/", path_("r"));
    ck_assert(clgrad_rundata_read(d, 0, &r, why, sizeof why) == CLGRAD_OK);
    ck_assert_str_eq(r.name, "r");
    clgrad_rundata_free(&r);
    /* summary.json optional without the flag */
    unlink(path_("r/summary.json"));
    ck_assert(clgrad_rundata_read(path_("r"), 0, &r, why, sizeof why) == CLGRAD_OK);
    ck_assert_ptr_null(r.summary);
    ck_assert_str_eq(clgrad_rundata_status(&r), "completed"); /* from the manifest */
    clgrad_rundata_free(&r);
    ck_assert_int_eq(clgrad_rundata_read(path_("r"), CLGRAD_RUN_NEED_SUMMARY, &r, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, path_("r/summary.json")), "%s", why);
    /* bad JSON names the file and the line */
    write_text_(path_("r/manifest.json"), "{\n\"a\": 1,\n}");
    ck_assert_int_eq(clgrad_rundata_read(path_("r"), 0, &r, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, path_("r/manifest.json")) && strstr(why, "line 3"), "%s", why);
    /* not a directory */
    ck_assert_int_eq(clgrad_rundata_read(path_("r/metrics.csv"), 0, &r, why, sizeof why), CLGRAD_E_IO);
    ck_assert_msg(strstr(why, "not a directory"), "%s", why);
}
END_TEST

/* ------------------------------------------------------------------ */
/* compare                                                             */
/* ------------------------------------------------------------------ */

START_TEST(identical_runs_agree)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.ms = 9.0; /* timing differs: never a disagreement */
    s.device = "Other Device";
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 0, "rc %d\n%s\n%s", rc, out_, err_);
    ck_assert_msg(strstr(out_, "all runs agree within tolerance"), "%s", out_);
    /* only the time differs: bit-identical (no weights/ in these runs) */
    ck_assert_msg(strstr(out_, "=> BIT-IDENTICAL") && strstr(out_, "BIT-IDENTICAL to run 1"), "%s", out_);
    ck_assert(strstr(out_, "Test Device A") && strstr(out_, "Other Device"));
    ck_assert(strstr(out_, "(timing)"));
    ck_assert_str_eq(err_, "");
    /* three runs, all the same */
    make_run_(path_("c"), &s);
    const char *args3[] = {"compare", path_("a"), path_("b"), path_("c"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, args3), 0);
    ck_assert(strstr(out_, "run 3 (c) vs run 1 (a)"));

    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("b"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    ck_assert(res.agree);
    const clgrad_metric_diff *m = find_diff_(&res.cmp[0], "metrics.csv", "loss", NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->compared, 60);
    ck_assert_double_eq(m->max_abs, 0);
    m = find_diff_(&res.cmp[0], "metrics.csv", "ms_per_step", NULL);
    ck_assert(m && m->timing && !m->disagree && m->ndiff > 0);
    m = find_diff_(&res.cmp[0], "metrics.csv", "test_loss", NULL);
    ck_assert_uint_eq(m->compared, 6); /* only eval steps are measured */
    ck_assert_ptr_nonnull(find_diff_(&res.cmp[0], "layers.csv", "out_grad_norm", "4"));
    free2_(runs, &res);
}
END_TEST

START_TEST(perturbed_beyond_tolerance)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.pfile = "metrics.csv", s.pcol = "loss", s.pstep = 17, s.pmul = 1 + 1e-3;
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 1, "rc %d\n%s\n%s", rc, out_, err_);
    ck_assert_msg(strstr(out_, "runs DIFFER"), "%s", out_);
    /* the loss row names step 17 */
    const char *row = strstr(out_, "metrics.csv   loss ");
    ck_assert_msg(row != NULL, "%s", out_);
    const char *eol = strchr(row, '\n');
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(eol - row), row);
    ck_assert_msg(strstr(line, "step 17") && strstr(line, "DIFF"), "%s", line);

    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("b"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    ck_assert(!res.agree);
    const clgrad_rundata_cmp *c = &res.cmp[0];
    const clgrad_metric_diff *m = find_diff_(c, "metrics.csv", "loss", NULL);
    ck_assert(m->disagree && m->has_first);
    ck_assert_int_eq(m->first_step, 17);
    ck_assert_int_eq(m->first_t, -1);
    ck_assert_uint_eq(m->ndiff, 60 - 17 + 1);
    ck_assert_double_eq_tol(m->max_rel, 1e-3, 1e-7);
    ck_assert_double_eq_tol(m->first_a, loss_at_(17) * (1 + 1e-3), 1e-7);
    ck_assert_double_eq_tol(m->first_b, loss_at_(17), 1e-7);
    ck_assert_uint_eq(m->compared, 60);
    /* final_train_loss in the summary follows the perturbed loss */
    static const char *const expect[] = {"metrics.csv:loss", "summary.json:final_train_loss", NULL};
    only_disagree_(c, expect);
    ck_assert_uint_eq(c->ndisagree, 2);
    ck_assert(!c->status_differs && !c->divergence_differs && !c->length_mismatch);
    free2_(runs, &res);
}
END_TEST

START_TEST(within_tolerance_agree)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    /* 1e-6 relative: far below rtol 1e-4 */
    s.pfile = "metrics.csv", s.pcol = "grad_norm", s.pstep = 5, s.pmul = 1 + 1e-6;
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 0, "rc %d\n%s", rc, out_);
    /* within tolerance, yet not the same bits: the first differing step, file and metric */
    ck_assert_msg(strstr(out_, "not bit-identical: first difference at step 5, metrics.csv, grad_norm:"), "%s", out_);
    ck_assert_msg(strstr(out_, "(not bit-identical)"), "%s", out_);
    /* 1e-3 relative passes with --rtol 1e-2 and fails with the default, also as --rtol=... */
    s.pmul = 1 + 1e-3;
    make_run_(path_("c"), &s);
    const char *a2[] = {"compare", path_("a"), path_("c"), "--rtol", "1e-2", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 0);
    const char *a3[] = {"compare", "--rtol=1e-2", path_("a"), path_("c"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a3), 0);
    const char *a4[] = {"compare", path_("a"), path_("c"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a4), 1);
    /* atol alone: |a-b| ~ 1.5e-3 at most; --atol 1e-2 --rtol 0 accepts */
    const char *a5[] = {"compare", path_("a"), path_("c"), "--rtol", "0", "--atol", "1e-2", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a5), 0);
    const char *a6[] = {"compare", path_("a"), path_("c"), "--rtol", "0", "--atol", "1e-5", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a6), 1);
    /* exactly on the boundary |a-b| == atol + rtol*|b| agrees */
    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("c"), 0, 0, runs, &res);
    const clgrad_metric_diff *m = find_diff_(&res.cmp[0], "metrics.csv", "grad_norm", NULL);
    double maxabs = m->max_abs;
    ck_assert_int_eq(m->first_step, 5);
    clgrad_compare_result_free(&res);
    char why[256];
    ck_assert(clgrad_runs_compare(runs, 2, 0, maxabs, &res, why, sizeof why) == CLGRAD_OK);
    m = find_diff_(&res.cmp[0], "metrics.csv", "grad_norm", NULL);
    ck_assert_uint_eq(m->ndiff, 0);
    free2_(runs, &res);
}
END_TEST

START_TEST(nan_and_inf)
{
    runspec s = {0};
    /* both runs: loss NaN from step 30 -> agree */
    s.pfile = "metrics.csv", s.pcol = "loss", s.pstep = 30, s.pset = 1, s.pval = NAN;
    make_run_(path_("a"), &s);
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 0, "rc %d\n%s", rc, out_);
    /* inf == inf */
    s.pval = INFINITY;
    make_run_(path_("c"), &s);
    make_run_(path_("d"), &s);
    const char *a2[] = {"compare", path_("c"), path_("d"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 0);
    /* inf vs NaN, inf vs -inf, finite vs NaN: all differences, at step 30 */
    s.pval = -INFINITY;
    make_run_(path_("e"), &s);
    s.pset = 0, s.pfile = NULL;
    make_run_(path_("f"), &s);
    static const char *const pairs[][2] = {{"c", "a"}, {"c", "e"}, {"f", "a"}, {"a", "f"}};
    for (int i = 0; i < 4; i++) {
        clgrad_rundata runs[2];
        clgrad_compare_result res;
        compare2_(path_(pairs[i][0]), path_(pairs[i][1]), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
        ck_assert_msg(!res.agree, "%s vs %s", pairs[i][0], pairs[i][1]);
        const clgrad_metric_diff *m = find_diff_(&res.cmp[0], "metrics.csv", "loss", NULL);
        ck_assert_int_eq(m->first_step, 30);
        ck_assert_uint_eq(m->ndiff, 31);
        /* max_abs only over finite pairs: 0 here */
        ck_assert_double_eq(m->max_abs, 0);
        free2_(runs, &res);
    }
    const char *a3[] = {"compare", path_("f"), path_("a"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a3), 1);
    ck_assert_msg(strstr(out_, "nan"), "%s", out_);
}
END_TEST

START_TEST(status_and_divergence_differ)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.status = "interrupted"; /* same numbers, another status */
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 1, "rc %d\n%s", rc, out_);
    ck_assert_msg(strstr(out_, "status: interrupted vs completed -- DIFFERS"), "%s", out_);
    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("b"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    ck_assert(res.cmp[0].status_differs && res.cmp[0].ndisagree == 0 && !res.cmp[0].divergence_differs);
    free2_(runs, &res);

    /* both diverged at the same step, but of another kind */
    runspec d = {.div_step = 40};
    make_run_(path_("c"), &d);
    d.div_kind = "grad_norm_limit";
    make_run_(path_("d"), &d);
    compare2_(path_("c"), path_("d"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    ck_assert(!res.agree && res.cmp[0].divergence_differs && !res.cmp[0].status_differs);
    ck_assert_uint_eq(res.cmp[0].ndisagree, 0);
    free2_(runs, &res);
    const char *a2[] = {"compare", path_("c"), path_("d"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 1);
    ck_assert_msg(strstr(out_, "divergence: step 40 grad_norm_limit layer 0 vs step 40 loss_limit layer 0 -- DIFFERS"),
                  "%s", out_);
    /* same divergence: agree */
    d.div_kind = NULL;
    make_run_(path_("e"), &d);
    const char *a3[] = {"compare", path_("c"), path_("e"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a3), 0);
    /* another layer */
    d.div_layer = "2";
    make_run_(path_("f"), &d);
    const char *a4[] = {"compare", path_("c"), path_("f"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a4), 1);
}
END_TEST

START_TEST(different_lengths)
{
    runspec s = {.steps = 60};
    make_run_(path_("long"), &s);
    s.steps = 25, s.planned = 60; /* the same trajectory, stopped early */
    make_run_(path_("short"), &s);
    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("long"), path_("short"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    const clgrad_rundata_cmp *c = &res.cmp[0];
    ck_assert(c->length_mismatch && !res.agree);
    ck_assert_uint_eq(c->common_steps, 25);
    ck_assert_uint_eq(c->rows_run, 25);
    ck_assert_uint_eq(c->rows_ref, 60);
    ck_assert_int_eq(c->last_run, 25);
    /* over the common steps every metric agrees; the summary's steps_done and finals differ */
    const clgrad_metric_diff *m = find_diff_(c, "metrics.csv", "loss", NULL);
    ck_assert(!m->disagree && m->compared == 25);
    ck_assert(!find_diff_(c, "layers.csv", "out_grad_norm", "2")->disagree);
    ck_assert(find_diff_(c, "summary.json", "steps_done", NULL)->disagree);
    free2_(runs, &res);
    const char *args[] = {"compare", path_("long"), path_("short"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, args), 1);
    ck_assert_msg(strstr(out_, "logged steps: 25 vs 60, 25 in common -- LENGTH MISMATCH"), "%s", out_);
}
END_TEST

START_TEST(layers_and_timesteps)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.pfile = "layers.csv", s.pcol = "out_grad_norm", s.player = "2", s.pstep = 40, s.pmul = 1.01;
    make_run_(path_("b"), &s);
    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("b"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    static const char *const expect[] = {"layers.csv:2:out_grad_norm", NULL};
    only_disagree_(&res.cmp[0], expect);
    const clgrad_metric_diff *m = find_diff_(&res.cmp[0], "layers.csv", "out_grad_norm", "2");
    ck_assert_int_eq(m->first_step, 40);
    free2_(runs, &res);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, args), 1);
    ck_assert_msg(strstr(out_, "[2] out_grad_norm"), "%s", out_);

    /* RNN: one value of timesteps.csv at step 20, t = 3 */
    runspec r = {.rnn = 1};
    make_run_(path_("ra"), &r);
    r.pfile = "timesteps.csv", r.pcol = "grad_norm", r.pstep = 20, r.pt = 3, r.pmul = 1.5;
    make_run_(path_("rb"), &r);
    compare2_(path_("ra"), path_("rb"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    static const char *const expect2[] = {"timesteps.csv:grad_norm", NULL};
    only_disagree_(&res.cmp[0], expect2);
    m = find_diff_(&res.cmp[0], "timesteps.csv", "grad_norm", NULL);
    ck_assert_int_eq(m->first_step, 20);
    ck_assert_int_eq(m->first_t, 3);
    ck_assert_uint_eq(m->ndiff, 5); /* steps 20, 30, 40, 50, 60 */
    free2_(runs, &res);
    const char *a2[] = {"compare", path_("ra"), path_("rb"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 1);
    ck_assert_msg(strstr(out_, "step 20 t 3"), "%s", out_);
    /* an RNN run against an MLP run: layers and timesteps missing on one side */
    compare2_(path_("ra"), path_("a"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    ck_assert(!res.agree);
    m = find_diff_(&res.cmp[0], "timesteps.csv", "*", NULL);
    ck_assert(m && m->disagree && strstr(m->note, "reference"));
    m = find_diff_(&res.cmp[0], "layers.csv", "*", "rnn");
    ck_assert(m && m->disagree && strstr(m->note, "missing in this run"));
    free2_(runs, &res);
}
END_TEST

START_TEST(measured_in_one_run_only)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.no_test_loss = 1;
    make_run_(path_("b"), &s);
    clgrad_rundata runs[2];
    clgrad_compare_result res;
    compare2_(path_("a"), path_("b"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    const clgrad_metric_diff *m = find_diff_(&res.cmp[0], "metrics.csv", "test_loss", NULL);
    ck_assert(m->disagree);
    ck_assert_int_eq(m->first_step, 10);
    ck_assert_int_eq(m->first_missing, 1);
    ck_assert_uint_eq(m->compared, 0);
    free2_(runs, &res);
    const char *args[] = {"compare", path_("a"), path_("b"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, args), 1);
    ck_assert_msg(strstr(out_, "(none) / "), "%s", out_);
    /* a column only one run has */
    runspec t = {0};
    make_run_(path_("c"), &t);
    FILE *f = fopen(path_("c/metrics.csv"), "w");
    fputs("step,loss\n1,1\n", f);
    fclose(f);
    make_run_(path_("d"), &t);
    f = fopen(path_("d/metrics.csv"), "w");
    fputs("step,loss,extra\n1,1,5\n", f);
    fclose(f);
    compare2_(path_("c"), path_("d"), CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL, runs, &res);
    m = find_diff_(&res.cmp[0], "metrics.csv", "extra", NULL);
    ck_assert(m && m->disagree && strstr(m->note, "column missing in the reference"));
    ck_assert(!find_diff_(&res.cmp[0], "metrics.csv", "loss", NULL)->disagree);
    free2_(runs, &res);
}
END_TEST

START_TEST(read_errors_exit_2)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    make_run_(path_("b"), &s);
    /* missing directory */
    const char *args[] = {"compare", path_("a"), path_("missing"), NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err_, path_("missing")), "%s", err_);
    ck_assert_str_eq(out_, "");
    /* each required file missing in turn */
    static const char *const files[] = {"metrics.csv", "layers.csv", "manifest.json", "summary.json"};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "m%d", i);
        make_run_(path_(name), &s);
        char file[600];
        snprintf(file, sizeof file, "%s/%s", path_(name), files[i]);
        ck_assert_int_eq(unlink(file), 0);
        const char *a2[] = {"compare", path_("a"), path_(name), NULL};
        ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 2);
        ck_assert_msg(strstr(err_, file), "%s lacks %s", err_, file);
    }
    /* a broken file */
    write_text_(path_("b/metrics.csv"), "step,loss\n1,2,3\n4,5\n");
    const char *a3[] = {"compare", path_("a"), path_("b"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a3), 2);
    ck_assert_msg(strstr(err_, "metrics.csv:2"), "%s", err_);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    const char *one[] = {"compare", path_("a"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, one), 2);
    ck_assert(strstr(err_, "at least two") && strstr(err_, "usage"));
    const char *none[] = {"compare", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, none), 2);
    const char *bad[][6] = {
        {"compare", path_("a"), path_("a"), "--rtol", "x", NULL},
        {"compare", path_("a"), path_("a"), "--rtol", "-1", NULL},
        {"compare", path_("a"), path_("a"), "--atol", "nan", NULL},
        {"compare", path_("a"), path_("a"), "--atol", NULL},
        {"compare", path_("a"), path_("a"), "--bogus", NULL},
        {"compare", path_("a"), path_("a"), "--rtol=", NULL},
    };
    for (int i = 0; i < 6; i++) {
        int rc = cli_(clgrad_cli_compare, bad[i]);
        ck_assert_msg(rc == 2, "case %d: rc %d", i, rc);
        ck_assert_msg(err_[0] != '\0', "case %d: no message", i);
    }
    const char *help[] = {"compare", "--help", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, help), 0);
    ck_assert(strstr(out_, "--rtol") && strstr(out_, "exit status"));
    clgrad_compare_result res;
    char why[128];
    clgrad_rundata r[1];
    memset(r, 0, sizeof r);
    ck_assert_int_eq(clgrad_runs_compare(r, 1, 1e-4, 1e-6, &res, why, sizeof why), CLGRAD_E_ARG);
}
END_TEST

START_TEST(json_output)
{
    runspec s = {0};
    make_run_(path_("a"), &s);
    s.pfile = "metrics.csv", s.pcol = "grad_norm", s.pstep = 23, s.pmul = 2;
    s.device = "Dev \"quoted\" \\ name";
    make_run_(path_("b"), &s);
    const char *args[] = {"compare", path_("a"), path_("b"), "--json", NULL};
    int rc = cli_(clgrad_cli_compare, args);
    ck_assert_msg(rc == 1, "rc %d\n%s\n%s", rc, out_, err_);
    ck_assert(strstr(out_, "\"agree\": false"));
    ck_assert(strstr(out_, "\"rtol\": 0.0001"));
    clgrad_json *v = NULL;
    char why[256];
    ck_assert_msg(clgrad_json_parse(out_, &v, why, sizeof why) == CLGRAD_OK, "%s\n%s", why, out_);
    ck_assert_int_eq(clgrad_json_member(v, "agree")->type, CLGRAD_JSON_BOOL);
    ck_assert_double_eq(clgrad_json_num(clgrad_json_member(v, "agree")), 0);
    const clgrad_json *runs = clgrad_json_member(v, "runs");
    ck_assert_uint_eq(runs->n, 2);
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(&runs->items[1], "device")), "Dev \"quoted\" \\ name");
    ck_assert_str_eq(clgrad_json_str(clgrad_json_member(&runs->items[0], "status")), "completed");
    ck_assert(isnan(clgrad_json_num(clgrad_json_member(&runs->items[0], "final_test_accuracy"))));
    const clgrad_json *cmp = clgrad_json_member(v, "comparisons");
    ck_assert_uint_eq(cmp->n, 1);
    const clgrad_json *ms = clgrad_json_member(&cmp->items[0], "metrics");
    int found = 0;
    for (size_t i = 0; i < ms->n; i++) {
        const clgrad_json *m = &ms->items[i];
        if (strcmp(clgrad_json_str(clgrad_json_member(m, "file")), "metrics.csv") ||
            strcmp(clgrad_json_str(clgrad_json_member(m, "metric")), "grad_norm"))
            continue;
        found = 1;
        ck_assert_double_eq(clgrad_json_num(clgrad_json_path(m, "first_diff.step")), 23);
        ck_assert_double_eq(clgrad_json_num(clgrad_json_member(m, "agree")), 0);
        ck_assert_double_eq_tol(clgrad_json_num(clgrad_json_member(m, "max_rel")), 1.0, 1e-6); /* %.9g text */
    }
    ck_assert(found);
    clgrad_json_free(v);
    /* agreeing runs: agree true, exit 0, still valid JSON */
    const char *a2[] = {"compare", "--json", path_("a"), path_("a"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_compare, a2), 0);
    ck_assert(strstr(out_, "\"agree\": true"));
    ck_assert(clgrad_json_parse(out_, &v, why, sizeof why) == CLGRAD_OK);
    clgrad_json_free(v);
}
END_TEST

static Suite *compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, setup_, teardown_);
    tcase_add_test(tc, json_values);
    tcase_add_test(tc, json_errors);
    tcase_add_test(tc, json_escape);
    tcase_add_test(tc, json_num_field);
    tcase_add_test(tc, csv_reader);
    tcase_add_test(tc, csv_errors);
    tcase_add_test(tc, run_read);
    suite_add_tcase(s, tc);
    tc = tcase_create("compare");
    tcase_add_checked_fixture(tc, setup_, teardown_);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identical_runs_agree);
    tcase_add_test(tc, perturbed_beyond_tolerance);
    tcase_add_test(tc, within_tolerance_agree);
    tcase_add_test(tc, nan_and_inf);
    tcase_add_test(tc, status_and_divergence_differ);
    tcase_add_test(tc, different_lengths);
    tcase_add_test(tc, layers_and_timesteps);
    tcase_add_test(tc, measured_in_one_run_only);
    tcase_add_test(tc, read_errors_exit_2);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, json_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(compare_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
