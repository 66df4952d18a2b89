/*
** test_plot.c (unit suite, no device): `clgrad plot`.  Each test writes small
** run directories (or a sweep summary.csv) into a fresh temporary directory,
** plots them, and checks every SVG and report.html with a small XML
** well-formedness checker (balanced tags, one root, quoted attributes, no
** duplicate attributes, escaped text and entities, and every coordinate
** attribute a finite number, path data only commands and numbers), then that
** the figures hold what they should: one series per curve and per layer with
** its legend text, log-scale tick labels (powers of ten), the divergence
** marker only when the run diverged, lines broken at NaN/Inf and at values a
** log axis cannot show, dots for single points, "no data" for empty series,
** heat-map cells and colour bar, overlays of several runs, escaping of odd
** names, and a sweep heat map with diverged cells crossed out.
*/
#include "cli/report.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
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
    snprintf(tmp_, sizeof tmp_, "/tmp/clgrad-test-plot-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_));
}

static void teardown_(void)
{
    if (!getenv("CLGRAD_TEST_KEEP")) rm_rf_(tmp_);
}

static const char *path_(const char *name)
{
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_, name);
    return p[k];
}

static char *slurp_(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    size_t r = fread(s, 1, (size_t)n, f);
    s[r] = '\0';
    fclose(f);
    return s;
}

static int exists_(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static size_t count_(const char *s, const char *what)
{
    size_t n = 0, l = strlen(what);
    for (const char *p = strstr(s, what); p; p = strstr(p + l, what)) n++;
    return n;
}

static void write_text_(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* ---- a tiny XML well-formedness checker ----------------------------------- */

static const char *const numeric_attrs[] = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", NULL};

static int entity_len_(const char *p)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", NULL};
    for (int i = 0; ents[i]; i++)
        if (!strncmp(p, ents[i], strlen(ents[i]))) return (int)strlen(ents[i]);
    if (p[1] == '#') {
        const char *q = p + 2;
        int hex = *q == 'x';
        if (hex) q++;
        const char *d0 = q;
        while (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q)) q++;
        if (q > d0 && *q == ';') return (int)(q - p + 1);
    }
    return 0;
}

static int name_len_(const char *p)
{
    const char *q = p;
    if (!(isalpha((unsigned char)*q) || *q == '_' || *q == ':')) return 0;
    while (isalnum((unsigned char)*q) || *q == '_' || *q == ':' || *q == '-' || *q == '.') q++;
    return (int)(q - p);
}

static int finite_number_(const char *v, size_t n)
{
    char b[64];
    if (n == 0 || n >= sizeof b) return 0;
    memcpy(b, v, n);
    b[n] = '\0';
    char *end;
    double d = strtod(b, &end);
    return *end == '\0' && isfinite(d) && !strpbrk(b, "nNiI");
}

/* 0 when s is well-formed; else -1 and a message with the byte offset. */
static int xml_check_(const char *s, char *why, size_t nwhy)
{
    char stack[128][64];
    int depth = 0, roots = 0;
    const char *p = s;
#define XFAIL(...)                                                                                                     \
    do {                                                                                                               \
        char m_[256];                                                                                                  \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                                          \
        snprintf(why, nwhy, "offset %ld: %s near '%.40s'", (long)(p - s), m_, p);                                     \
        return -1;                                                                                                     \
    } while (0)
    while (*p) {
        if (*p == '&') {
            if (!entity_len_(p)) XFAIL("bare '&' in text");
            p += entity_len_(p);
            continue;
        }
        if (*p != '<') {
            if (depth == 0 && !isspace((unsigned char)*p)) XFAIL("text outside the root element");
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2)) {
            if (p != s) XFAIL("XML declaration not at the start");
            const char *q = strstr(p, "?>");
            if (!q) XFAIL("unterminated declaration");
            p = q + 2;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *q = strstr(p + 4, "-->");
            if (!q) XFAIL("unterminated comment");
            p = q + 3;
            continue;
        }
        if (!strncmp(p, "<!DOCTYPE", 9)) {
            if (depth || roots) XFAIL("DOCTYPE inside the document");
            const char *q = strchr(p, '>');
            if (!q) XFAIL("unterminated DOCTYPE");
            p = q + 1;
            continue;
        }
        if (p[1] == '/') {
            int n = name_len_(p + 2);
            if (!n) XFAIL("bad end tag");
            if (depth == 0) XFAIL("end tag without a start tag");
            depth--;
            if ((int)strlen(stack[depth]) != n || strncmp(stack[depth], p + 2, (size_t)n))
                XFAIL("end tag does not match <%.60s>", stack[depth]);
            p += 2 + n;
            while (isspace((unsigned char)*p)) p++;
            if (*p != '>') XFAIL("bad end tag");
            p++;
            continue;
        }
        int n = name_len_(p + 1);
        if (!n) XFAIL("bad tag name");
        if (depth == 0 && roots++ > 0) XFAIL("a second root element");
        char tag[64];
        snprintf(tag, sizeof tag, "%.*s", n, p + 1);
        p += 1 + n;
        char seen[64][32];
        int nseen = 0;
        for (;;) {
            int ws = 0;
            while (isspace((unsigned char)*p)) p++, ws = 1;
            if (*p == '>' || !strncmp(p, "/>", 2)) break;
            if (!ws) XFAIL("attributes need a space before them");
            int an = name_len_(p);
            if (!an) XFAIL("bad attribute name");
            char aname[32];
            snprintf(aname, sizeof aname, "%.*s", an, p);
            for (int i = 0; i < nseen; i++)
                if (!strcmp(seen[i], aname)) XFAIL("duplicate attribute %.60s", aname);
            if (nseen < 64) snprintf(seen[nseen++], sizeof seen[0], "%s", aname);
            p += an;
            if (*p != '=') XFAIL("attribute %.60s without a value", aname);
            p++;
            char q = *p;
            if (q != '"' && q != '\'') XFAIL("unquoted attribute %.60s", aname);
            const char *v = ++p;
            while (*p && *p != q) {
                if (*p == '<') XFAIL("'<' in attribute %.60s", aname);
                if (*p == '&') {
                    if (!entity_len_(p)) XFAIL("bare '&' in attribute %.60s", aname);
                    p += entity_len_(p);
                    continue;
                }
                p++;
            }
            if (!*p) XFAIL("unterminated attribute %.60s", aname);
            size_t vl = (size_t)(p - v);
            for (int i = 0; numeric_attrs[i]; i++)
                if (!strcmp(aname, numeric_attrs[i]) && strcmp(tag, "html") && !finite_number_(v, vl))
                    XFAIL("attribute %.60s=\"%.*s\" of <%s> is not a finite number", aname, (int)vl, v, tag);
            if (!strcmp(aname, "d") && !strcmp(tag, "path"))
                for (size_t i = 0; i < vl; i++)
                    if (!strchr("MLml0123456789.- ", v[i])) XFAIL("path data has '%c'", v[i]);
            p++;
        }
        if (*p == '/') {
            p += 2;
            continue;
        }
        p++;
        if (depth >= 128) XFAIL("too deep");
        snprintf(stack[depth++], sizeof stack[0], "%s", tag);
    }
    if (depth) XFAIL("<%.60s> not closed", stack[depth - 1]);
    if (roots != 1) XFAIL("no root element");
#undef XFAIL
    return 0;
}

/* Read a written file, check it is well-formed, return its text. */
static char *wf_(const char *path)
{
    ck_assert_msg(exists_(path), "%s was not written", path);
    char *s = slurp_(path);
    char why[512];
    ck_assert_msg(xml_check_(s, why, sizeof why) == 0, "%s is not well-formed: %s", path, why);
    return s;
}

/* The text of the series group labelled `label` (up to its </g>), or NULL. */
static char *series_(const char *svg, const char *label)
{
    char key[256];
    snprintf(key, sizeof key, "<g class=\"series\" data-label=\"%s\">", label);
    const char *a = strstr(svg, key);
    if (!a) return NULL;
    const char *b = strstr(a, "</g>");
    ck_assert_ptr_nonnull(b);
    size_t n = (size_t)(b - a);
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

/* Number of line pieces (path "M" commands) in a series. */
static size_t pieces_(const char *series)
{
    const char *d = strstr(series, " d=\"");
    if (!d) return 0;
    size_t n = 0;
    for (d += 4; *d && *d != '"'; d++) n += *d == 'M';
    return n;
}

static char *out_, *err_;

static int cli_(int (*fn)(int, char **), const char *const *args)
{
    free(out_), free(err_);
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
    rewind(fo), rewind(fe);
    out_ = calloc(1, 1 << 16), err_ = calloc(1, 1 << 16);
    size_t r1 = fread(out_, 1, (1 << 16) - 1, fo), r2 = fread(err_, 1, (1 << 16) - 1, fe);
    (void)r1, (void)r2;
    fclose(fo), fclose(fe);
    return rc;
}

/* ---- synthetic runs ------------------------------------------------------- */

typedef struct {
    const char *device;
    long steps;      /* logged steps 1..steps, every log_every (default 1) */
    long log_every;
    long div_step;   /* > 0: diverged there: loss inf and grad_norm NaN at that step */
    int nlayers;     /* MLP layers "0", "2", ... (default 3) */
    int rnn;
    long zero_grad_at;    /* grad_norm 0 at this step (a log axis cannot show it) */
    int no_test;          /* test_loss never measured */
    int no_summary;
    int lstm;             /* rnn: timesteps.csv has cell_grad_norm (the LSTM) */
    double layer_scale;   /* layers' out_grad_norm times this (default 1) */
    const char *config;   /* config.ini text, or NULL for none */
} runspec;

static void num_(FILE *f, double v)
{
    if (isnan(v)) fputs("nan", f);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    else fprintf(f, "%.9g", v);
}

static void jstr_(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void make_run_(const char *dir, const runspec *sp)
{
    runspec s = *sp;
    if (!s.device) s.device = "Test Device A";
    if (!s.steps) s.steps = 50;
    if (!s.log_every) s.log_every = 1;
    if (s.div_step) s.steps = s.div_step;
    if (!s.nlayers) s.nlayers = s.rnn ? 2 : 3;
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("step,epoch,loss,train_acc,lr,grad_norm,clip_coef,grad_norm_clipped,weight_norm,nonfinite_grads,"
          "ms_per_step,test_loss,test_acc\n",
          f);
    for (long st = 1; st <= s.steps; st++) {
        if (st % s.log_every && st != 1 && st != s.steps) continue;
        double loss = s.div_step ? 0.5 * exp(0.4 * (double)st) : 2 * exp(-0.05 * (double)st) + 0.1;
        double g = s.div_step ? exp(0.3 * (double)st) : 1 + 0.5 * sin((double)st);
        if (st == s.div_step) loss = INFINITY, g = NAN;
        if (st == s.zero_grad_at) g = 0;
        double coef = g > 5 ? 5 / g : 1;
        fprintf(f, "%ld,%ld,", st, st / 10), num_(f, loss), fputs(",,0.1,", f), num_(f, g), fputc(',', f);
        num_(f, coef), fputc(',', f), num_(f, g * coef), fputs(",3,0,1.5,", f);
        if (st % 10 == 0 && !s.no_test) num_(f, loss * 1.1), fputs(",0.5", f);
        else fputc(',', f);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/layers.csv", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("step,layer,weight_norm,weight_grad_norm,bias_grad_norm,out_grad_norm,act_mean_abs,act_saturated,"
          "act_dead,update_ratio\n",
          f);
    for (long st = 1; st <= s.steps; st++) {
        if (st % s.log_every && st != 1 && st != s.steps) continue;
        for (int l = 0; l < s.nlayers; l++) {
            char name[16];
            if (s.rnn) snprintf(name, sizeof name, "%s", l == 0 ? "rnn" : "fc");
            else snprintf(name, sizeof name, "%d", 2 * l);
            double og = pow(10.0, -1.0 * l) * (1 + 0.3 * sin(0.2 * (double)st + l)) * (s.layer_scale ? s.layer_scale : 1);
            if (st == s.div_step && l == 0) og = INFINITY;
            fprintf(f, "%ld,%s,1,0.1,0.01,", st, name), num_(f, og), fputs(",0.5,0.1,0,0.001\n", f);
        }
    }
    fclose(f);
    if (s.rnn) {
        snprintf(p, sizeof p, "%s/timesteps.csv", dir);
        f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(s.lstm ? "step,t,grad_norm,cell_grad_norm\n" : "step,t,grad_norm\n", f);
        for (long st = 1; st <= s.steps; st++) {
            if (st != 1 && st % 5) continue;
            for (long t = 20; t >= 1; t--) {
                fprintf(f, "%ld,%ld,", st, t);
                num_(f, pow(0.8, (double)(20 - t)) * (1 + 0.02 * (double)st));
                if (s.lstm) fputc(',', f), num_(f, 0.5 * (1 + 0.01 * (double)t));
                fputc('\n', f);
            }
        }
        fclose(f);
    }
    if (s.config) {
        snprintf(p, sizeof p, "%s/config.ini", dir);
        write_text_(p, s.config);
    }
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n  \"clgrad_version\": \"0.1.0\",\n  \"device\": {\"index\": \"0:1\", \"name\": ", f);
    jstr_(f, s.device);
    fprintf(f, ", \"vendor\": \"Vendor & Co <x>\", \"compute_units\": 2, \"fp64\": true},\n"
               "  \"gemm_backend\": \"own\",\n  \"kernel_build\": {\"programs\": 8, \"seconds\": 0.1},\n"
               "  \"build_options\": \"-cl-std=CL1.2\",\n  \"seed\": 5,\n  \"status\": \"%s\"\n}\n",
            s.div_step ? "diverged" : "completed");
    fclose(f);
    if (s.no_summary) return;
    snprintf(p, sizeof p, "%s/summary.json", dir);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"status\": \"%s\", \"steps_done\": %ld, \"steps_planned\": 100, \"divergence\": ",
            s.div_step ? "diverged" : "completed", s.steps);
    if (s.div_step) fprintf(f, "{\"step\": %ld, \"kind\": \"nonfinite_loss\", \"layer\": \"4\", \"value\": \"inf\"}",
                            s.div_step);
    else fputs("null", f);
    fputs(", \"final_train_loss\": 0.125, \"final_test_loss\": \"nan\", \"final_test_accuracy\": \"nan\", "
          "\"max_grad_norm\": 12.5, \"ms_per_step\": 1.5}\n",
          f);
    fclose(f);
}

static void plot1_(const char *run, const char *out)
{
    clgrad_rundata r;
    char why[1024];
    ck_assert_msg(clgrad_rundata_read(run, 0, &r, why, sizeof why) == CLGRAD_OK, "%s", why);
    int nw = 0;
    ck_assert_msg(clgrad_plot_runs(&r, 1, out, &nw, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert_int_ge(nw, 5);
    clgrad_rundata_free(&r);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(xml_checker_rejects)
{
    /* the checker itself must catch what it is for */
    static const char *const bad[] = {
        "<svg><g></svg>", "<svg><text>a & b</text></svg>", "<svg><text>a < b</text></svg>",
        "<svg x=1/>", "<svg x=\"1\" x=\"2\"/>", "<svg/><svg/>", "<svg><rect x=\"nan\"/></svg>",
        "<svg><rect width=\"inf\"/></svg>", "<svg><path d=\"M1 2Lnan 3\"/></svg>", "<svg a=\"<\"/>",
        "text<svg/>", "<svg>", "<svg></g>", "<svg><text>&bogus;</text></svg>",
    };
    static const char *const good[] = {
        "<?xml version=\"1.0\"?>\n<svg a=\"&amp;&lt;\"><text>&#39;&#x41;&gt;</text><!-- c --></svg>\n",
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/></head><body>x &amp; y</body></html>",
    };
    char why[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(xml_check_(bad[i], why, sizeof why) != 0, "accepted: %s", bad[i]);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(xml_check_(good[i], why, sizeof why) == 0, "rejected: %s: %s", good[i], why);
}
END_TEST

START_TEST(diverged_run_figures)
{
    runspec s = {.div_step = 37, .zero_grad_at = 5};
    make_run_(path_("run"), &s);
    plot1_(path_("run"), path_("out"));
    static const char *const files[] = {"loss.svg", "grad_norm.svg", "layers_grad.svg", "layers_heatmap.svg", NULL};
    for (int i = 0; files[i]; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", path_("out"), files[i]);
        char *svg = wf_(p);
        ck_assert_msg(!strncmp(svg, "<?xml", 5) && strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""), "%s", p);
        free(svg);
    }
    ck_assert(!exists_(path_("out/timesteps.svg"))); /* not an RNN */

    /* grad_norm: log axis, the two curves, the divergence marker with its label */
    char *g = wf_(path_("out/grad_norm.svg"));
    ck_assert_uint_eq(count_(g, "<g class=\"series\""), 2);
    ck_assert(strstr(g, ">before clipping<") && strstr(g, ">after clipping<"));
    ck_assert_msg(strstr(g, "class=\"logtick\"") && strstr(g, ">10<tspan dy=\"-6\" font-size=\"9\">1</tspan>"), "%s", g);
    ck_assert_uint_eq(count_(g, "class=\"marker diverge\""), 1);
    ck_assert_msg(strstr(g, "diverged at step 37 (nonfinite_loss, layer 4)"), "%s", g);
    /* zero at step 5 (not on a log axis) and NaN at step 37: the line breaks once, at step 5 */
    char *before = series_(g, "before clipping");
    ck_assert_ptr_nonnull(before);
    ck_assert_uint_eq(pieces_(before), 2);
    free(before);
    free(g);

    /* loss: train and test; values span > 2 decades -> log scale; inf skipped */
    char *l = wf_(path_("out/loss.svg"));
    ck_assert_uint_eq(count_(l, "<g class=\"series\""), 2);
    ck_assert(strstr(l, ">train loss<") && strstr(l, ">test loss<"));
    ck_assert(strstr(l, "loss (log scale)") && strstr(l, "class=\"logtick\""));
    char *train = series_(l, "train loss");
    ck_assert_uint_eq(pieces_(train), 1);
    free(train);
    char *test = series_(l, "test loss");
    ck_assert_uint_eq(count_(test, "<circle"), 3); /* steps 10, 20, 30: dots on a sparse series */
    free(test);
    ck_assert_uint_eq(count_(l, "class=\"marker diverge\""), 1);
    free(l);

    /* layers: one series per layer with its legend text */
    char *lg = wf_(path_("out/layers_grad.svg"));
    ck_assert_uint_eq(count_(lg, "<g class=\"series\""), 3);
    static const char *const names[] = {"layer 0", "layer 2", "layer 4"};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, ">%s<", names[i]); /* the legend text */
        ck_assert_msg(strstr(lg, key), "no legend %s", names[i]);
        char *ser = series_(lg, names[i]);
        ck_assert_msg(ser && strstr(ser, "<path"), "no path for %s", names[i]);
        free(ser);
    }
    ck_assert(strstr(lg, "class=\"logtick\""));
    /* layers span 1e-2.3 .. 1e0.1: ticks 10^-3 .. 10^1 */
    ck_assert(strstr(lg, ">-3</tspan>") && strstr(lg, ">1</tspan>"));
    free(lg);

    /* heat map: one cell per layer and step, colour bar, inf shown as non-finite */
    char *h = wf_(path_("out/layers_heatmap.svg"));
    const char *cells = strstr(h, "<g class=\"cells\"");
    ck_assert_ptr_nonnull(cells);
    const char *cells_end = strstr(cells, "</g>");
    size_t nrect = 0;
    for (const char *q = strstr(cells, "<rect"); q && q < cells_end; q = strstr(q + 1, "<rect")) nrect++;
    ck_assert_uint_eq(nrect, 3 * 37);
    ck_assert(strstr(h, "class=\"colorbar\"") && strstr(h, "log10 out_grad_norm") && strstr(h, ">non-finite<"));
    ck_assert(strstr(h, ">0<") && strstr(h, ">2<") && strstr(h, ">4<")); /* row labels */
    free(h);

    /* report.html: self-contained, the inline figures, manifest and summary */
    char *html = wf_(path_("out/report.html"));
    ck_assert_uint_eq(count_(html, "<svg xmlns="), 4);
    ck_assert(!strstr(html, "<?xml"));
    ck_assert(!strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "src=") && !strstr(html, "href="));
    ck_assert_uint_eq(count_(html, "http"), 4); /* the four SVG namespaces only */
    ck_assert(strstr(html, ">device.name<") && strstr(html, ">Test Device A<") && strstr(html, ">gemm_backend<"));
    ck_assert(strstr(html, ">device.vendor<") && strstr(html, ">Vendor &amp; Co &lt;x&gt;<"));
    ck_assert(strstr(html, ">final_train_loss<") && strstr(html, ">divergence.kind<") && strstr(html, ">nonfinite_loss<"));
    ck_assert(strstr(html, "status-diverged"));
    free(html);
}
END_TEST

START_TEST(completed_run_no_marker)
{
    runspec s = {.steps = 200, .log_every = 10, .nlayers = 5};
    make_run_(path_("run"), &s);
    plot1_(path_("run"), path_("out"));
    char *g = wf_(path_("out/grad_norm.svg"));
    ck_assert(!strstr(g, "diverge"));
    free(g);
    char *l = wf_(path_("out/loss.svg"));
    ck_assert(!strstr(l, "diverge"));
    ck_assert(!strstr(l, "log scale")); /* 0.1 .. 2: linear */
    ck_assert(strstr(l, ">200<") && strstr(l, ">0<"));  /* x ticks */
    free(l);
    char *lg = wf_(path_("out/layers_grad.svg"));
    ck_assert_uint_eq(count_(lg, "<g class=\"series\""), 5);
    ck_assert(strstr(lg, ">layer 8<"));
    free(lg);
    char *h = wf_(path_("out/layers_heatmap.svg"));
    ck_assert(!strstr(h, ">non-finite<"));
    free(h);
}
END_TEST

START_TEST(rnn_timesteps)
{
    runspec s = {.rnn = 1, .steps = 40};
    make_run_(path_("rnn"), &s);
    plot1_(path_("rnn"), path_("out"));
    char *t = wf_(path_("out/timesteps.svg"));
    /* logged steps 1, 5, ..., 40 (9 of them): six curves, first and last included */
    ck_assert_uint_eq(count_(t, "<g class=\"series\""), 6);
    ck_assert(strstr(t, ">step 1<") && strstr(t, ">step 40<"));
    ck_assert(strstr(t, "class=\"logtick\"") && strstr(t, "t (time step)"));
    char *c = series_(t, "step 1");
    ck_assert_uint_eq(pieces_(c), 1);
    /* sorted by t: the path starts at the left (t = 1) */
    const char *d = strstr(c, " d=\"M");
    ck_assert_ptr_nonnull(d);
    ck_assert_double_lt(strtod(d + 5, NULL), 120);
    free(c);
    free(t);
    char *lg = wf_(path_("out/layers_grad.svg"));
    ck_assert(strstr(lg, ">layer rnn<") && strstr(lg, ">layer fc<"));
    free(lg);
    /* the time step x training step heat map: rows t=1 (top) .. t=20, columns the 9 logged steps */
    char *th = wf_(path_("out/timesteps_heatmap.svg"));
    ck_assert(strstr(th, "||dL/dh_t||") && strstr(th, ">t=1<") && strstr(th, "class=\"colorbar\""));
    const char *cells = strstr(th, "<g class=\"cells\"");
    const char *cells_end = strstr(cells, "</g>");
    size_t nrect = 0;
    for (const char *q = strstr(cells, "<rect"); q && q < cells_end; q = strstr(q + 1, "<rect")) nrect++;
    ck_assert_uint_eq(nrect, 20 * 9);
    free(th);
    ck_assert(!exists_(path_("out/cell_timesteps.svg"))); /* no cell_grad_norm column: not an LSTM */
    char *html = wf_(path_("out/report.html"));
    ck_assert_uint_eq(count_(html, "<svg xmlns="), 6);
    free(html);
}
END_TEST

START_TEST(edge_cases)
{
    /* a single logged step, no test loss: dots, "(no data)" */
    runspec s = {.steps = 1, .no_test = 1};
    make_run_(path_("one"), &s);
    plot1_(path_("one"), path_("o1"));
    char *l = wf_(path_("o1/loss.svg"));
    char *train = series_(l, "train loss");
    ck_assert_uint_eq(count_(train, "<circle"), 1);
    ck_assert(!strstr(train, "<path"));
    free(train);
    ck_assert_msg(strstr(l, ">test loss (no data)<"), "%s", l);
    free(l);
    free(wf_(path_("o1/layers_heatmap.svg")));
    free(wf_(path_("o1/layers_grad.svg")));
    free(wf_(path_("o1/grad_norm.svg")));

    /* header-only files: every figure says there is no data; no summary.json */
    ck_assert_int_eq(mkdir(path_("empty"), 0755), 0);
    write_text_(path_("empty/metrics.csv"), "step,loss,grad_norm,grad_norm_clipped,test_loss\n");
    write_text_(path_("empty/layers.csv"), "step,layer,out_grad_norm\n");
    write_text_(path_("empty/manifest.json"), "{\"status\": \"running\", \"device\": {\"name\": \"D\"}}");
    plot1_(path_("empty"), path_("o2"));
    static const char *const files[] = {"o2/loss.svg", "o2/grad_norm.svg", "o2/layers_grad.svg",
                                        "o2/layers_heatmap.svg", NULL};
    for (int i = 0; files[i]; i++) {
        char *svg = wf_(path_(files[i]));
        ck_assert_msg(strstr(svg, "no data to plot"), "%s", files[i]);
        free(svg);
    }
    char *html = wf_(path_("o2/report.html"));
    ck_assert(strstr(html, "No summary.json") && strstr(html, "running"));
    free(html);

    /* every gradient norm zero or non-finite: the zeros are data (an underflow), shown in the
    ** "0 (underflow)" band under the log axis; NaN/Inf are gaps */
    ck_assert_int_eq(mkdir(path_("zero"), 0755), 0);
    write_text_(path_("zero/metrics.csv"), "step,loss,grad_norm,grad_norm_clipped\n1,1,0,0\n2,nan,inf,-inf\n3,1,0,0\n");
    write_text_(path_("zero/layers.csv"), "step,layer,out_grad_norm\n1,0,0\n2,0,nan\n3,0,-1\n");
    write_text_(path_("zero/manifest.json"), "{}");
    plot1_(path_("zero"), path_("o3"));
    char *g = wf_(path_("o3/grad_norm.svg"));
    ck_assert(!strstr(g, "no data to plot") && !strstr(g, "(no data)"));
    ck_assert(strstr(g, "class=\"zeroband\"") && strstr(g, ">0 (underflow)<"));
    char *bz = series_(g, "||g|| (no clipping)");
    ck_assert_ptr_nonnull(bz);
    ck_assert_uint_eq(count_(bz, "<circle class=\"zero\""), 2); /* steps 1 and 3 */
    ck_assert_uint_eq(count_(bz, "<path"), 0);
    free(bz);
    free(g);
    char *ls = wf_(path_("o3/loss.svg"));
    char *tr = series_(ls, "train loss");
    ck_assert_uint_eq(count_(tr, "<circle"), 2); /* 1 and 1 either side of the NaN: two dots */
    free(tr);
    free(ls);
    char *h = wf_(path_("o3/layers_heatmap.svg"));
    ck_assert(strstr(h, ">non-finite<") && strstr(h, ">0 (underflow)<") && strstr(h, ">not logged<"));
    free(h);
}
END_TEST

START_TEST(several_runs_overlay)
{
    runspec a = {.device = "GPU Alpha"}, b = {.device = "CPU Beta", .div_step = 30, .rnn = 1};
    make_run_(path_("ra"), &a);
    make_run_(path_("rb"), &b);
    const char *args[] = {"plot", path_("ra"), path_("rb"), "--out", path_("both"), NULL};
    int rc = cli_(clgrad_cli_plot, args);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err_);
    ck_assert(strstr(out_, path_("both")));
    char *l = wf_(path_("both/loss.svg"));
    ck_assert_uint_eq(count_(l, "<g class=\"series\""), 4);
    ck_assert_msg(strstr(l, "data-label=\"ra / GPU Alpha: train\"") && strstr(l, "data-label=\"rb / CPU Beta: test\""),
                  "%s", l);
    ck_assert(strstr(l, ">ra / GPU Alpha: train<"));
    free(l);
    char *g = wf_(path_("both/grad_norm.svg"));
    /* ra never clips (clip_coef 1 throughout, no config.ini): no "after clip" curve for it */
    ck_assert_uint_eq(count_(g, "<g class=\"series\""), 3);
    ck_assert_msg(strstr(g, "data-label=\"ra / GPU Alpha (no clipping)\"") && !strstr(g, "GPU Alpha: after clip") &&
                      strstr(g, "data-label=\"rb / CPU Beta: after clip\""),
                  "grad_norm series labels");
    ck_assert_uint_eq(count_(g, "class=\"marker diverge\""), 1);
    ck_assert(strstr(g, "rb / CPU Beta: diverged at step 30"));
    free(g);
    free(wf_(path_("both/layers_grad.svg")));
    free(wf_(path_("both/layers_grad.run2.svg")));
    free(wf_(path_("both/layers_heatmap.run2.svg")));
    free(wf_(path_("both/timesteps.run2.svg")));
    ck_assert(!exists_(path_("both/timesteps.svg")));
    char *html = wf_(path_("both/report.html"));
    ck_assert(strstr(html, "Run 1: ra") && strstr(html, "Run 2: rb") && strstr(html, ">GPU Alpha<"));
    ck_assert_uint_eq(count_(html, "<svg xmlns="), 8); /* loss, grad_norm, 2 x layers (2), timesteps (2) of rb */
    free(html);
    /* same device: labels are the run names alone */
    make_run_(path_("rc"), &a);
    const char *a2[] = {"plot", path_("ra"), path_("rc"), "--out", path_("same"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a2), 0);
    l = wf_(path_("same/loss.svg"));
    ck_assert(strstr(l, "data-label=\"rc: train\""));
    free(l);
}
END_TEST

START_TEST(escaping)
{
    runspec s = {.device = "Dev \"Q\" & <R> 'x'", .div_step = 12, .rnn = 1,
                 .config = "[run]\nname = \"<&\\\"'>\"\n[clip]\nkind = none\n"};
    make_run_(path_("a&b<c>\"q'"), &s);
    plot1_(path_("a&b<c>\"q'"), path_("out"));
    char *l = wf_(path_("out/loss.svg"));
    ck_assert(strstr(l, "a&amp;b&lt;c&gt;&quot;q&#39;"));
    free(l);
    free(wf_(path_("out/timesteps.svg")));
    free(wf_(path_("out/timesteps_heatmap.svg")));
    free(wf_(path_("out/grad_norm.svg")));
    free(wf_(path_("out/layers_grad.svg")));
    free(wf_(path_("out/layers_heatmap.svg")));
    char *html = wf_(path_("out/report.html"));
    ck_assert(strstr(html, "Dev &quot;Q&quot; &amp; &lt;R&gt; &#39;x&#39;"));
    free(html);
}
END_TEST

START_TEST(many_steps_binned)
{
    runspec s = {.steps = 3000, .nlayers = 4};
    make_run_(path_("long"), &s);
    plot1_(path_("long"), path_("out"));
    char *h = wf_(path_("out/layers_heatmap.svg"));
    const char *cells = strstr(h, "<g class=\"cells\"");
    const char *end = strstr(cells, "</g>");
    size_t nrect = 0;
    for (const char *q = strstr(cells, "<rect"); q && q < end; q = strstr(q + 1, "<rect")) nrect++;
    ck_assert_uint_eq(nrect, 4 * 375); /* 3000 steps in bins of 8 */
    ck_assert(strstr(h, "mean of 8 logged steps"));
    free(h);
    free(wf_(path_("out/loss.svg")));
}
END_TEST


/* The class of issue 19: a series with gaps, single points between gaps and runs of points
** (non-finite steps skipped now and then) once wrote a <circle> inside the open d attribute. */
START_TEST(intermittent_nonfinite)
{
    ck_assert_int_eq(mkdir(path_("gaps"), 0755), 0);
    write_text_(path_("gaps/metrics.csv"),
                "step,loss,grad_norm,clip_coef,grad_norm_clipped,test_loss\n"
                "1,1,1,1,1,\n2,0.9,2,0.5,1,\n3,nan,nan,nan,nan,\n4,0.8,3,0.3,1,1\n5,inf,inf,0,0,\n"
                "6,0.7,4,0.25,1,\n7,0.6,5,0.2,1,nan\n8,nan,nan,nan,nan,\n9,0.5,0,1,0,\n10,-inf,inf,0,0,\n"
                "11,0.4,7,0.1,1,0.5\n12,0.3,8,0.1,1,\n");
    write_text_(path_("gaps/layers.csv"), "step,layer,out_grad_norm\n1,0,1\n2,0,nan\n3,0,0\n4,0,2\n5,0,inf\n6,0,3\n");
    write_text_(path_("gaps/manifest.json"), "{\"status\": \"completed\"}");
    plot1_(path_("gaps"), path_("out"));
    static const char *const files[] = {"out/loss.svg", "out/grad_norm.svg", "out/layers_grad.svg",
                                        "out/layers_heatmap.svg", "out/report.html", NULL};
    for (int i = 0; files[i]; i++) free(wf_(path_(files[i])));
    char *g = wf_(path_("out/grad_norm.svg"));
    char *b = series_(g, "before clipping");
    ck_assert_ptr_nonnull(b);
    /* 1-2 and 6-7 and 11-12 are lines; 4 is a dot; 9 is 0: in the underflow band */
    ck_assert_uint_eq(pieces_(b), 3);
    ck_assert_uint_eq(count_(b, "<circle class=\"point\""), 1);
    ck_assert_uint_eq(count_(b, "<circle class=\"zero\""), 1);
    const char *d = strstr(b, " d=\"");
    ck_assert_ptr_nonnull(d);
    ck_assert(strchr(d + 4, '"') < strstr(b, "<circle")); /* the attribute closes before the dots */
    free(b);
    free(g);
    const char *sm[] = {"plot", path_("gaps"), "--out", path_("sm"), "--smooth", "0.8", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, sm), 0);
    free(wf_(path_("sm/loss.svg")));
}
END_TEST

/* The sharpness figures: present when metrics.csv has the columns (measured on some rows only: the
** others empty), with the limit as a dashed series; the preconditioned one only with its columns; none
** for a run without them. */
START_TEST(sharpness_figures)
{
    ck_assert_int_eq(mkdir(path_("eos"), 0755), 0);
    write_text_(path_("eos/metrics.csv"),
                "step,loss,grad_norm,sharpness,sharpness_limit,precond_sharpness,precond_limit\n"
                "1,1,1,,,,\n2,0.9,1,5,20,100,380\n3,0.8,1,,,,\n4,0.7,1,12,20,200,380\n5,0.6,1,,,,\n"
                "6,0.5,1,21,20,390,380\n7,0.4,1,nan,20,,\n8,0.3,1,19,20,370,380\n");
    write_text_(path_("eos/layers.csv"), "step,layer,out_grad_norm\n1,0,1\n2,0,1\n");
    write_text_(path_("eos/manifest.json"), "{\"status\": \"completed\"}");
    plot1_(path_("eos"), path_("out"));
    char why[256];
    static const char *const figs[] = {"out/sharpness.svg", "out/precond_sharpness.svg"};
    for (int i = 0; i < 2; i++) {
        char *g = wf_(path_(figs[i]));
        ck_assert_msg(xml_check_(g, why, sizeof why) == 0, "%s: %s", figs[i], why);
        char *a = series_(g, i ? "preconditioned sharpness" : "sharpness"), *b = series_(g, i ? "its limit" : "2/lr");
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        /* steps 2-6 a line, 8 alone: the NaN at 7 breaks the line; few points: a dot at each of the 4 */
        ck_assert_uint_eq(pieces_(a), 1);
        ck_assert_uint_eq(count_(a, "<circle class=\"point\""), 4);
        ck_assert(strstr(b, "stroke-dasharray"));
        free(a), free(b), free(g);
    }
    char *h = wf_(path_("out/report.html"));
    ck_assert(strstr(h, "sharpness.svg") && strstr(h, "Cohen et al. 2021") && strstr(h, "Cohen et al. 2022"));
    free(h);
    /* without the columns: no sharpness figures */
    ck_assert_int_eq(mkdir(path_("plain"), 0755), 0);
    write_text_(path_("plain/metrics.csv"), "step,loss,grad_norm\n1,1,1\n2,0.5,1\n");
    write_text_(path_("plain/layers.csv"), "step,layer,out_grad_norm\n1,0,1\n2,0,1\n");
    write_text_(path_("plain/manifest.json"), "{\"status\": \"completed\"}");
    plot1_(path_("plain"), path_("out2"));
    ck_assert(access(path_("out2/sharpness.svg"), F_OK) != 0 && access(path_("out2/precond_sharpness.svg"), F_OK) != 0);
}
END_TEST

/* report.html: the settings first (one run: keys that differ from the defaults; several: the keys
** that differ between them, highlighted), then the outcome, then the figures; details folded. */
START_TEST(report_structure)
{
    runspec a = {.config = "[run]\nname = a\nseed = 5\n[optim]\nkind = sgd\nlr = 0.5\n[clip]\nkind = global_norm\n"
                           "max_norm = 1\n"},
            b = {.div_step = 20, .config = "[run]\nname = a\nseed = 5\n[optim]\nkind = sgd\nlr = 0.75\n[clip]\n"
                                            "kind = none\nmax_norm = 1\n"};
    make_run_(path_("ra"), &a);
    make_run_(path_("rb"), &b);
    plot1_(path_("ra"), path_("one"));
    char *h = wf_(path_("one/report.html"));
    const char *set = strstr(h, "id=\"settings\""), *outc = strstr(h, "id=\"outcome\""), *svg = strstr(h, "<svg"),
               *det = strstr(h, "<details class=\"run\">");
    ck_assert_msg(set && outc && svg && det && set < outc && outc < svg && svg < det, "order: settings, outcome, figures, details");
    ck_assert(strstr(h, "<th>optim.lr</th><td class=\"differs\">0.5 (0.01)</td>") &&
              strstr(h, "<th>clip.kind</th><td class=\"differs\">global_norm (none)</td>"));
    ck_assert(!strstr(h, "<th>optim.kind</th><td class=\"differs\">")); /* the default: not in the settings table... */
    ck_assert(strstr(h, "<details class=\"config\">") && strstr(h, "<th>optim.kind</th><td>sgd</td>")); /* ...folded */
    /* the manifest is folded in the run's details */
    const char *man = strstr(h, "<table class=\"manifest\">");
    ck_assert(man && man > det);
    ck_assert(strstr(h, "<td class=\"status-completed\">completed</td>"));
    free(h);

    const char *args[] = {"plot", path_("ra"), path_("rb"), "--out", path_("two"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, args), 0);
    h = wf_(path_("two/report.html"));
    ck_assert(strstr(h, "2 of 6 settings differ"));
    ck_assert(strstr(h, "<tr><th>optim.lr</th><td class=\"differs\">0.5</td><td class=\"differs\">0.75</td></tr>"));
    ck_assert(strstr(h, "<tr><th>clip.kind</th><td class=\"differs\">global_norm</td><td class=\"differs\">none</td></tr>"));
    ck_assert(strstr(h, "<tr class=\"differs\"><th>optim.lr</th>") && strstr(h, "<tr><th>run.seed</th><td>5</td><td>5</td></tr>"));
    /* outcome: the diverged run's step, kind, layer; a "nan" string shown as such */
    ck_assert_msg(strstr(h, "<td class=\"status-diverged\">diverged</td><td>20 / 100</td><td class=\"differs\">20</td>"
                            "<td class=\"differs\">nonfinite_loss</td><td class=\"differs\">4</td>"),
                  "outcome row of rb");
    ck_assert(strstr(h, "<td>0.125</td><td>nan</td>"));
    outc = strstr(h, "id=\"outcome\""), svg = strstr(h, "<svg");
    ck_assert(outc && svg && outc < svg);
    ck_assert(!strstr(h, "<script") && !strstr(h, "src=") && !strstr(h, "href="));
    free(h);
    /* rb does not clip (config.ini): no "after clip" curve for it, though its clip_coef drops below 1 */
    char *g = wf_(path_("two/grad_norm.svg"));
    ck_assert(strstr(g, "data-label=\"ra: after clip\"") && !strstr(g, "rb: after clip") &&
              strstr(g, "data-label=\"rb (no clipping)\""));
    free(g);

    /* summary.json with null for non-finite values (and the kind beside it) reads as well as "nan" */
    char p[700];
    snprintf(p, sizeof p, "%s/summary.json", path_("ra"));
    write_text_(p, "{\"status\": \"completed\", \"steps_done\": 50, \"steps_planned\": 50, \"divergence\": null, "
                   "\"final_train_loss\": null, \"final_train_loss_kind\": \"nan\", \"final_test_loss\": null, "
                   "\"max_grad_norm\": null, \"nonfinite\": {\"max_grad_norm\": \"inf\"}, \"ms_per_step\": 1}");
    plot1_(path_("ra"), path_("nulls"));
    h = wf_(path_("nulls/report.html"));
    ck_assert(strstr(h, "<td>nan</td><td>-</td><td>-</td><td>inf</td><td>1</td>"));
    free(h);
}
END_TEST

/* Runs meant to be compared share scales: per-run figures of one kind get one y range, heat maps
** of one quantity one colour scale. */
static char *between_(const char *s, const char *a, const char *b)
{
    const char *p = strstr(s, a);
    ck_assert_msg(p != NULL, "no %s", a);
    const char *q = strstr(p, b);
    ck_assert_msg(q != NULL, "no %s after %s", b, a);
    size_t n = (size_t)(q - p);
    char *r = malloc(n + 1);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

START_TEST(shared_scales)
{
    runspec a = {.rnn = 1, .lstm = 1}, b = {.rnn = 1, .lstm = 1, .layer_scale = 1e6};
    make_run_(path_("small"), &a);
    make_run_(path_("big"), &b);
    const char *args[] = {"plot", path_("small"), path_("big"), "--out", path_("o"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, args), 0);
    char *l1 = wf_(path_("o/layers_grad.svg")), *l2 = wf_(path_("o/layers_grad.run2.svg"));
    char *y1 = between_(l1, "<g class=\"yaxis\">", "</g>"), *y2 = between_(l2, "<g class=\"yaxis\">", "</g>");
    ck_assert_str_eq(y1, y2);
    ck_assert(strstr(y1, ">6</tspan>") && strstr(y1, ">-2</tspan>")); /* both runs' values on both */
    free(y1), free(y2), free(l1), free(l2);
    char *h1 = wf_(path_("o/layers_heatmap.svg")), *h2 = wf_(path_("o/layers_heatmap.run2.svg"));
    char *c1 = between_(h1, "<g class=\"colorbar\">", "rotate(-90"), *c2 = between_(h2, "<g class=\"colorbar\">", "rotate(-90");
    ck_assert_str_eq(c1, c2);
    free(c1), free(c2), free(h1), free(h2);
    /* the LSTM: ||dL/dc_t|| plotted, and the time-step heat maps */
    static const char *const files[] = {"o/timesteps_heatmap.svg", "o/timesteps_heatmap.run2.svg", "o/cell_timesteps.svg",
                                        "o/cell_timesteps.run2.svg", "o/cell_timesteps_heatmap.svg", NULL};
    for (int i = 0; files[i]; i++) free(wf_(path_(files[i])));
    char *ct = wf_(path_("o/cell_timesteps.svg"));
    ck_assert(strstr(ct, "||dL/dc_t||") && count_(ct, "<g class=\"series\"") == 6);
    free(ct);
}
END_TEST

static void sweep_csv_(const char *dir)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/summary.csv", dir);
    /* lr values out of order on purpose: the axis sorts them numerically */
    write_text_(p, "optim.lr,clip.kind,status,diverge_step,final_loss,max_grad_norm,ms_per_step,run_dir\n"
                   "1,none,diverged,12,inf,1e9,1,runs/0\n"
                   "0.01,none,completed,,0.5,3,1,runs/1\n"
                   "0.1,none,diverged,40,nan,1e7,1,runs/2\n"
                   "0.001,none,completed,,1.5,2,1,runs/3\n"
                   "1,norm,diverged,80,inf,1e5,1,runs/4\n"
                   "0.01,norm,completed,,0.45,3,1,runs/5\n"
                   "0.1,norm,completed,,0.05,4,1,\"runs/6,x\"\n"
                   "0.001,norm,failed,,,,,runs/7\n");
}

START_TEST(sweep_heatmap)
{
    sweep_csv_(path_("sw"));
    const char *args[] = {"plot", "--sweep", path_("sw"), "--x", "optim.lr", "--y", "clip.kind", NULL};
    int rc = cli_(clgrad_cli_plot, args);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err_);
    char *svg = wf_(path_("sw/plots/sweep_heatmap.svg"));
    ck_assert_uint_eq(count_(svg, "<g class=\"cell diverged\">"), 3);
    ck_assert_uint_eq(count_(svg, "class=\"xmark\""), 3);
    ck_assert_uint_eq(count_(svg, "<g class=\"cell\">"), 5);
    ck_assert(strstr(svg, ">optim.lr<") && strstr(svg, ">clip.kind<"));
    ck_assert(strstr(svg, ">failed<") && strstr(svg, ">diverged (X)<") && strstr(svg, "log10 final loss"));
    ck_assert(strstr(svg, ">step 12<")); /* the divergence step in the cell */
    const char *p1 = strstr(svg, ">0.001<"), *p2 = strstr(svg, ">0.01<"), *p3 = strstr(svg, ">0.1<"),
               *p4 = strstr(svg, ">1<");
    ck_assert(p1 && p2 && p3 && p4);
    ck_assert_msg(p1 < p2 && p2 < p3 && p3 < p4, "x categories not in numeric order");
    free(svg);
    char *html = wf_(path_("sw/plots/report.html"));
    ck_assert(strstr(html, "<svg xmlns=") && strstr(html, ">runs/6,x<") && strstr(html, ">final_loss<"));
    /* the points table, sortable in the page: an inline script, nothing loaded */
    ck_assert(strstr(html, "<table class=\"sweep sortable\" id=\"points-table\">") && strstr(html, "<thead>") &&
              strstr(html, "<th data-key=\"final_loss\">"));
    ck_assert(strstr(html, "<script>") && !strstr(html, "src=") && !strstr(html, "href="));
    ck_assert_uint_eq(count_(html, "http"), count_(html, "<svg xmlns=\"http")); /* the SVG namespaces only */
    ck_assert(strstr(html, "<td class=\"status-diverged\">diverged</td>"));
    free(html);

    /* one key only: a single row */
    char why[512];
    ck_assert_msg(clgrad_plot_sweep(path_("sw"), "clip.kind", NULL, path_("one"), why, sizeof why) == CLGRAD_OK, "%s",
                  why);
    svg = wf_(path_("one/sweep_heatmap.svg"));
    ck_assert_uint_eq(count_(svg, "<g class=\"cell\">"), 2);
    ck_assert(strstr(svg, "div)")); /* cells mixing diverged and finished runs say how many diverged */
    free(svg);

    /* an unknown key names the file and lists the columns */
    ck_assert_int_eq(clgrad_plot_sweep(path_("sw"), "optim.momentum", "clip.kind", path_("x"), why, sizeof why),
                     CLGRAD_E_ARG);
    ck_assert_msg(strstr(why, "optim.momentum") && strstr(why, "summary.csv") && strstr(why, "optim.lr, clip.kind"),
                  "%s", why);
    const char *a2[] = {"plot", "--sweep", path_("sw"), "--x", "nope", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a2), 1);
    ck_assert(strstr(err_, "nope"));
    const char *a3[] = {"plot", "--sweep", path_("missing"), "--x", "optim.lr", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a3), 1);
    ck_assert(strstr(err_, path_("missing/summary.csv")));
}
END_TEST

/* ---- learning-rate sensitivity --------------------------------------------- */

/* A point's run directory with only what the sensitivity reads: metrics.csv,
** whose step-1 loss is l0 (NULL: no metrics.csv at all). */
static void lr_rundir_(const char *sweep, const char *name, const char *l0)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", sweep, name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    if (!l0) return;
    char m[900], text[256];
    snprintf(m, sizeof m, "%s/metrics.csv", p);
    snprintf(text, sizeof text, "step,epoch,loss,lr\n1,0,%s,0.1\n2,0,1.0,0.1\n3,0,0.9,0.1\n", l0);
    write_text_(m, text);
}

/* The synthetic sweep: optim.lr x clip.kind, final_test_loss known.
**   none: 0.001 -> 1.5, 0.01 -> 0.5 (best), 0.1 -> nan (completed: non-finite), 1 -> diverged
**   norm: 0.001 -> 3.0 (> l0), 0.01 -> 0.45, 0.1 -> 0.05 (best), 1 -> 0.2
**   value: 0.001 -> 0.7, 0.01 -> 0.6, 0.1 -> no row, 1 -> failed
** l0 = 2.25 everywhere (the points' metrics.csv step 1; one point has none). */
static void lr_sweep_(const char *dir)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/summary.csv", dir);
    write_text_(p, "index,optim.lr,clip.kind,status,diverge_step,diverge_kind,final_train_loss,final_test_loss,"
                   "max_grad_norm,ms_per_step,device,run_dir\n"
                   "0,0.001,none,completed,,,1.4,1.5,1,1,0:0,p0\n"
                   "1,0.001,norm,completed,,,2.9,3.0,1,1,0:0,p1\n"
                   "2,0.001,value,completed,,,0.71,0.7,1,1,0:0,p2\n"
                   "3,0.01,none,completed,,,0.4,0.5,1,1,0:0,p3\n"
                   "4,0.01,norm,completed,,,0.44,0.45,1,1,0:0,p4\n"
                   "5,0.01,value,completed,,,0.5,0.6,1,1,0:0,p5\n"
                   "6,0.1,none,completed,,,nan,nan,1,1,0:0,p6\n"
                   "7,0.1,norm,completed,,,0.04,0.05,1,1,0:0,p7\n"
                   "9,1,none,diverged,12,loss_limit,1e9,,1,1,0:0,p9\n"
                   "10,1,norm,completed,,,0.25,0.2,1,1,0:0,p10\n"
                   "11,1,value,failed,,,,,,,0:0,p11\n");
    static const char *const names[] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p9", "p10", "p11"};
    for (int i = 0; i < 11; i++) lr_rundir_(dir, names[i], i == 4 ? NULL : "2.25");
}

/* Wortsman et al.'s definition, written out on its own: the mean over the
** points of min(l_i, l0) - l*, a point that diverged or is not finite
** counting as l0; l* the smallest of those. */
static double lr_ref_(const double *loss, const int *div, int n, double l0)
{
    double v[16], lstar = INFINITY, s = 0;
    for (int i = 0; i < n; i++) {
        v[i] = div[i] || !isfinite(loss[i]) || loss[i] > l0 ? l0 : loss[i];
        if (v[i] < lstar) lstar = v[i];
    }
    for (int i = 0; i < n; i++) s += v[i] - lstar;
    return s / n;
}

/* A field of a CSV row (row 1 = first data row) as a number; NaN when empty. */
static double csv_num_at_(const char *path, size_t row, const char *col)
{
    clgrad_csv t;
    char why[512];
    ck_assert_msg(clgrad_csv_read(path, &t, why, sizeof why) == CLGRAD_OK, "%s", why);
    int c = clgrad_csv_col(&t, col);
    ck_assert_msg(c >= 0 && row >= 1 && row <= t.nrows, "%s: no %s row %zu", path, col, row);
    double v = clgrad_csv_present(&t, row - 1, c) ? clgrad_csv_num(&t, row - 1, c) : NAN;
    clgrad_csv_free(&t);
    return v;
}

START_TEST(lr_sensitivity_sweep)
{
    lr_sweep_(path_("sw"));
    const char *args[] = {"plot", "--sweep", path_("sw"), NULL}; /* no --x: optim.lr, then clip.kind */
    int rc = cli_(clgrad_cli_plot, args);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err_);
    /* by hand: none: values 1.5, 0.5, 2.25, 2.25, l* = 0.5 -> (1 + 0 + 1.75 + 1.75) / 4 = 1.125
    **          norm: values 2.25, 0.45, 0.05, 0.2, l* = 0.05 -> (2.2 + 0.4 + 0 + 0.15) / 4 = 0.6875 */
    static const double none_l[] = {1.5, 0.5, NAN, NAN}, norm_l[] = {3.0, 0.45, 0.05, 0.2};
    static const int none_d[] = {0, 0, 0, 1}, norm_d[] = {0, 0, 0, 0};
    double s_none = lr_ref_(none_l, none_d, 4, 2.25), s_norm = lr_ref_(norm_l, norm_d, 4, 2.25);
    ck_assert_double_eq_tol(s_none, 1.125, 1e-15);
    ck_assert_double_eq_tol(s_norm, 0.6875, 1e-15);

    /* the library's numbers */
    clgrad_lr_sens ls;
    char why[1024];
    ck_assert_msg(clgrad_sweep_lr_read(path_("sw"), &ls, why, sizeof why) == CLGRAD_OK, "%s", why);
    ck_assert(ls.has_lr);
    ck_assert_str_eq(ls.loss_col, "final_test_loss"); /* the evaluation loss: every completed point has one */
    ck_assert_int_eq(ls.nkeys, 1);
    ck_assert_str_eq(ls.key[0], "clip.kind");
    ck_assert_uint_eq(ls.ncurves, 3);
    const clgrad_lr_curve *cn = &ls.curve[0], *cm = &ls.curve[1], *cv = &ls.curve[2];
    ck_assert_str_eq(cn->label, "clip.kind=none");
    ck_assert_str_eq(cm->value[0], "norm");
    ck_assert_double_eq_tol(cn->sensitivity, s_none, 1e-12);
    ck_assert_double_eq_tol(cm->sensitivity, s_norm, 1e-12);
    ck_assert_double_eq(cn->loss0, 2.25);
    /* optimum and divergence edge */
    ck_assert_double_eq(cn->best_lr, 0.01);
    ck_assert_double_eq(cn->best_loss, 0.5);
    ck_assert_double_eq(cn->edge_lr, 0.1); /* the non-finite loss at 0.1, below the diverged 1 */
    ck_assert_double_eq(cm->best_lr, 0.1);
    ck_assert_double_eq(cm->best_loss, 0.05);
    ck_assert_double_eq(cm->edge_lr, 0.001); /* above l0 */
    ck_assert_int_eq(cn->pt[2].state, CLGRAD_LR_NONFINITE);
    ck_assert_int_eq(cn->pt[3].state, CLGRAD_LR_DIVERGED);
    ck_assert_int_eq(cm->pt[0].state, CLGRAD_LR_ABOVE_L0);
    ck_assert_uint_eq(cn->ncapped, 2);
    /* a curve with a missing point: no number, and it says why */
    ck_assert(isnan(cv->sensitivity));
    ck_assert_uint_eq(cv->nmissing, 2);
    ck_assert_msg(strstr(cv->note, "0.1 (no row)") && strstr(cv->note, "1 (failed)"), "%s", cv->note);
    ck_assert(isnan(cv->edge_lr));
    ck_assert_double_eq(cv->best_lr, 0.01);
    clgrad_lr_sens_free(&ls);

    /* stdout */
    ck_assert_msg(strstr(out_, "LR sensitivity") && strstr(out_, "clip.kind=none") && strstr(out_, "1.125") &&
                      strstr(out_, "0.6875") && strstr(out_, "n/a") && strstr(out_, "1 (failed)"),
                  "%s", out_);
    /* lr_sensitivity.csv */
    const char *csv = path_("sw/plots/lr_sensitivity.csv");
    ck_assert(exists_(csv));
    ck_assert_double_eq_tol(csv_num_at_(csv, 1, "sensitivity"), s_none, 1e-8);
    ck_assert_double_eq_tol(csv_num_at_(csv, 2, "sensitivity"), s_norm, 1e-8);
    ck_assert(isnan(csv_num_at_(csv, 3, "sensitivity")));
    ck_assert_double_eq(csv_num_at_(csv, 1, "best_lr"), 0.01);
    ck_assert_double_eq(csv_num_at_(csv, 1, "best_loss"), 0.5);
    ck_assert_double_eq(csv_num_at_(csv, 1, "divergence_edge_lr"), 0.1);
    ck_assert_double_eq(csv_num_at_(csv, 2, "divergence_edge_lr"), 0.001);
    ck_assert(isnan(csv_num_at_(csv, 3, "divergence_edge_lr")));
    ck_assert_double_eq(csv_num_at_(csv, 2, "loss0"), 2.25);
    char *ct = slurp_(csv);
    ck_assert_msg(!strncmp(ct, "curve,clip.kind,loss,", 21), "%s", ct);
    ck_assert(strstr(ct, "\n2,norm,final_test_loss,4,1,0,"));
    free(ct);

    /* the figure: one curve per clip.kind, the diverged/non-finite/above-l0 points in the top band */
    char *svg = wf_(path_("sw/plots/lr_sensitivity.svg"));
    ck_assert_uint_eq(count_(svg, "<g class=\"lrcurve\""), 3);
    ck_assert(strstr(svg, "data-label=\"clip.kind=none\"") && strstr(svg, "data-label=\"clip.kind=norm\"") &&
              strstr(svg, "data-label=\"clip.kind=value\""));
    ck_assert_uint_eq(count_(svg, "class=\"optimum\""), 3);
    ck_assert_uint_eq(count_(svg, "class=\"edge\""), 2);
    ck_assert_uint_eq(count_(svg, "class=\"capped diverged\""), 1);
    ck_assert_uint_eq(count_(svg, "class=\"capped nonfinite\""), 1);
    ck_assert_uint_eq(count_(svg, "class=\"capped above-l0\""), 1);
    ck_assert_uint_eq(count_(svg, "class=\"point\""), 7); /* the finite points, not above l0: 2 + 3 + 2 */
    ck_assert(strstr(svg, "S = 1.125") && strstr(svg, "S = 0.6875") && strstr(svg, "S = n/a"));
    /* the optimum ring sits on its point, the edge line at the x of lr = 0.1 */
    const char *g = strstr(svg, "data-label=\"clip.kind=none\"");
    const char *ring = strstr(g, "class=\"optimum\" cx=\""), *edge = strstr(g, "class=\"edge\" x1=\"");
    ck_assert(ring && edge);
    double rx = strtod(ring + strlen("class=\"optimum\" cx=\""), NULL);
    double ex = strtod(edge + strlen("class=\"edge\" x1=\""), NULL);
    /* the points of this curve in lr order: 0.001, 0.01 (circles), 0.1 (triangle), 1 (cross) */
    const char *c1 = strstr(g, "class=\"point\" cx=\"");
    const char *c2 = strstr(c1 + 1, "class=\"point\" cx=\"");
    size_t lp = strlen("class=\"point\" cx=\"");
    double x1 = strtod(c1 + lp, NULL), x2 = strtod(c2 + lp, NULL);
    ck_assert_double_eq_tol(rx, x2, 0.01);
    ck_assert_double_eq_tol(ex - x2, x2 - x1, 0.05); /* one decade further right on the log axis */
    free(svg);
    char *html = wf_(path_("sw/plots/report.html"));
    ck_assert(strstr(html, "<h2 id=\"lr-sensitivity\">") && strstr(html, "Wortsman") &&
              strstr(html, "<td><b>1.125</b></td>") && strstr(html, "lr_sensitivity.svg"));
    /* the LR sensitivity first (figure, then its numbers), then the heat map, then the points */
    const char *h_lr = strstr(html, "<h2 id=\"lr-sensitivity\">");
    const char *f_lr = strstr(html, "<figure id=\"fig-lr_sensitivity\">");
    const char *t_lr = strstr(html, "<table class=\"lrsens\">");
    const char *f_hm = strstr(html, "<figure id=\"fig-sweep_heatmap\">");
    const char *h_pt = strstr(html, "<h2 id=\"points\">");
    ck_assert(h_lr && f_lr && t_lr && f_hm && h_pt);
    ck_assert(h_lr < f_lr && f_lr < t_lr && t_lr < f_hm && f_hm < h_pt);
    ck_assert_uint_eq(count_(html, "<figure"), 2);
    ck_assert_uint_eq(count_(html, "http"), 2); /* the two SVG namespaces only: nothing linked */
    free(html);
    /* the heat map's default axes */
    svg = wf_(path_("sw/plots/sweep_heatmap.svg"));
    ck_assert(strstr(svg, ">optim.lr<") && strstr(svg, ">clip.kind<"));
    free(svg);
}
END_TEST

START_TEST(lr_sensitivity_bad_input)
{
    char why[1024];
    clgrad_lr_sens ls;
    /* no lr axis: the heat map as before, and a sentence saying what the lr figure needs */
    ck_assert_int_eq(mkdir(path_("nolr"), 0755), 0);
    write_text_(path_("nolr/summary.csv"), "index,optim.momentum,status,final_test_loss,run_dir\n"
                                           "0,0,completed,0.5,a\n1,0.9,diverged,,b\n");
    const char *a1[] = {"plot", "--sweep", path_("nolr"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a1), 0);
    ck_assert_msg(strstr(out_, "needs optim.lr swept") && strstr(out_, "optim.momentum"), "%s", out_);
    ck_assert(exists_(path_("nolr/plots/sweep_heatmap.svg")) && !exists_(path_("nolr/plots/lr_sensitivity.svg")) &&
              !exists_(path_("nolr/plots/lr_sensitivity.csv")));
    char *html = wf_(path_("nolr/plots/report.html"));
    ck_assert(!strstr(html, "lr-sensitivity"));
    free(html);
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("nolr"), &ls, why, sizeof why), CLGRAD_OK);
    ck_assert(!ls.has_lr && strstr(ls.note, "optim.lr"));
    clgrad_lr_sens_free(&ls);

    /* lr the only key, no run directories: l0 unknown, so a diverged point cannot be counted */
    ck_assert_int_eq(mkdir(path_("nol0"), 0755), 0);
    write_text_(path_("nol0/summary.csv"), "optim.lr,status,final_train_loss,run_dir\n"
                                           "0.1,completed,0.5,gone\n0.01,completed,0.7,gone2\n1,diverged,inf,x\n");
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("nol0"), &ls, why, sizeof why), CLGRAD_OK);
    ck_assert_uint_eq(ls.ncurves, 1);
    ck_assert_str_eq(ls.curve[0].label, "all points");
    ck_assert_str_eq(ls.loss_col, "final_train_loss");
    ck_assert(isnan(ls.curve[0].sensitivity) && strstr(ls.curve[0].note, "l0 is unknown"));
    ck_assert_double_eq(ls.curve[0].edge_lr, 1);
    ck_assert_double_eq(ls.curve[0].best_lr, 0.1);
    clgrad_lr_sens_free(&ls);
    const char *a2[] = {"plot", "--sweep", path_("nol0"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a2), 0);
    ck_assert(strstr(out_, "l0 is unknown"));
    free(wf_(path_("nol0/plots/lr_sensitivity.svg")));

    /* a learning rate that is not a number: the file, the line and the key */
    ck_assert_int_eq(mkdir(path_("badlr"), 0755), 0);
    write_text_(path_("badlr/summary.csv"), "optim.lr,status,final_train_loss\n0.1,completed,0.5\nfast,completed,1\n");
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("badlr"), &ls, why, sizeof why), CLGRAD_E_ARG);
    ck_assert_msg(strstr(why, "badlr/summary.csv:3") && strstr(why, "optim.lr") && strstr(why, "fast"), "%s", why);
    const char *a3[] = {"plot", "--sweep", path_("badlr"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a3), 1);
    ck_assert(strstr(err_, "summary.csv:3"));
    /* the same point twice */
    ck_assert_int_eq(mkdir(path_("dup"), 0755), 0);
    write_text_(path_("dup/summary.csv"), "optim.lr,status,final_train_loss\n0.1,completed,0.5\n0.1,completed,1\n");
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("dup"), &ls, why, sizeof why), CLGRAD_E_ARG);
    ck_assert_msg(strstr(why, "dup/summary.csv:3") && strstr(why, "line 2"), "%s", why);
    /* no summary at all; no status column */
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("none"), &ls, why, sizeof why), CLGRAD_E_IO);
    ck_assert(strstr(why, path_("none/summary.csv")));
    ck_assert_int_eq(mkdir(path_("nostatus"), 0755), 0);
    write_text_(path_("nostatus/summary.csv"), "optim.lr,final_train_loss\n0.1,0.5\n");
    ck_assert_int_eq(clgrad_sweep_lr_read(path_("nostatus"), &ls, why, sizeof why), CLGRAD_E_IO);
    ck_assert(strstr(why, "status"));
    /* an empty sweep (header only) is no crash */
    ck_assert_int_eq(mkdir(path_("empty"), 0755), 0);
    write_text_(path_("empty/summary.csv"), "index,optim.lr,status,final_train_loss,run_dir\n");
    const char *a4[] = {"plot", "--sweep", path_("empty"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, a4), 0);
    free(wf_(path_("empty/plots/lr_sensitivity.svg")));
}
END_TEST

/* The sensitivity against the reference on random curves (the state of each
** point drawn at random too), every l0 the same. */
START_TEST(lr_sensitivity_random)
{
    unsigned seed = 12345;
    for (int trial = 0; trial < 200; trial++) {
        clgrad_lr_point pt[12];
        double loss[12];
        int div[12], n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
        double l0 = 1 + ((seed = seed * 1103515245u + 12345u) >> 16) % 1000 / 500.0;
        for (int i = 0; i < n; i++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            div[i] = r % 7 == 0;
            loss[i] = r % 11 == 0 ? NAN : r % 13 == 0 ? INFINITY : (r % 3000) / 1000.0;
            pt[i] = (clgrad_lr_point){.lr = 1e-3 * pow(3, i), .loss = loss[i], .loss0 = NAN,
                                      .state = div[i] ? CLGRAD_LR_DIVERGED : CLGRAD_LR_OK};
        }
        clgrad_lr_curve c = {.n = (size_t)n, .pt = pt, .loss0 = l0};
        clgrad_lr_curve_compute(&c);
        ck_assert_double_eq_tol(c.sensitivity, lr_ref_(loss, div, n, l0), 1e-12);
        double edge = NAN, best = NAN, bestl = INFINITY;
        for (int i = 0; i < n; i++) {
            int capped = div[i] || !isfinite(loss[i]) || loss[i] > l0;
            if (capped && isnan(edge)) edge = pt[i].lr;
            if (!capped && loss[i] < bestl) bestl = loss[i], best = pt[i].lr;
        }
        ck_assert(isnan(edge) ? isnan(c.edge_lr) : c.edge_lr == edge);
        ck_assert(isnan(best) ? isnan(c.best_lr) : c.best_lr == best);
    }
}
END_TEST

START_TEST(cli_defaults_and_errors)
{
    runspec s = {0};
    make_run_(path_("run"), &s);
    const char *args[] = {"plot", path_("run"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, args), 0);
    ck_assert(exists_(path_("run/plots/loss.svg")) && exists_(path_("run/plots/report.html")));
    /* plotting again replaces the files */
    ck_assert_int_eq(cli_(clgrad_cli_plot, args), 0);
    const char *missing[] = {"plot", path_("run"), path_("nope"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, missing), 1);
    ck_assert_msg(strstr(err_, path_("nope")), "%s", err_);
    unlink(path_("run/layers.csv"));
    const char *nolayers[] = {"plot", path_("run"), NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, nolayers), 1);
    ck_assert_msg(strstr(err_, path_("run/layers.csv")), "%s", err_);
    static const char *const usage[][6] = {
        {"plot", NULL},
        {"plot", "--bogus", NULL},
        {"plot", "--out", NULL},
        {"plot", "--sweep", "x", "--y", "k", NULL},
        {"plot", "a", "--x", "k", NULL},
        {"plot", "--sweep", "x", "--x", "k", "extra"},
    };
    for (int i = 0; i < 6; i++) {
        const char *a[8] = {0};
        for (int k = 0; k < 6 && usage[i][k]; k++) a[k] = usage[i][k];
        int rc = cli_(clgrad_cli_plot, a);
        ck_assert_msg(rc == 2, "case %d: rc %d", i, rc);
        ck_assert_msg(err_[0], "case %d: no message", i);
    }
    static const char *const bad_smooth[][6] = {
        {"plot", "x", "--smooth", "1", NULL},
        {"plot", "x", "--smooth", "0", NULL},
        {"plot", "x", "--smooth", "abc", NULL},
        {"plot", "--sweep", "x", "--x", "k", "--smooth"},
    };
    for (int i = 0; i < 4; i++) {
        const char *a[8] = {0};
        for (int k = 0; k < 6 && bad_smooth[i][k]; k++) a[k] = bad_smooth[i][k];
        if (i == 3) a[6] = "0.5";
        ck_assert_msg(cli_(clgrad_cli_plot, a) == 2, "smooth case %d", i);
        ck_assert(strstr(err_, "smooth"));
    }
    const char *help[] = {"plot", "-h", NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, help), 0);
    ck_assert(strstr(out_, "--sweep"));
    /* an output directory that cannot be created */
    write_text_(path_("file"), "x");
    make_run_(path_("run2"), &s);
    char out[700];
    snprintf(out, sizeof out, "%s/sub", path_("file"));
    const char *bad_out[] = {"plot", path_("run2"), "--out", out, NULL};
    ck_assert_int_eq(cli_(clgrad_cli_plot, bad_out), 1);
    ck_assert_msg(strstr(err_, out), "%s", err_);
}
END_TEST

/* events.csv: the report lists the events (escaped), the loss and gradient-norm figures mark their own metric's
** events (triangles, not the layers' update_norm events, not NaN values); no events.csv (an older run) or an
** empty one says so. */
START_TEST(spike_events)
{
    runspec s = {.steps = 100, .log_every = 1, .nlayers = 3};
    make_run_(path_("run"), &s);
    write_text_(path_("run/events.csv"), "step,metric,layer,value,z\n"
                                         "40,update_norm,linear_0,0.5,6.5\n"
                                         "42,grad_norm,,7.25,9.5\n"
                                         "43,loss,,3.5,12\n"
                                         "44,loss,,nan,nan\n"
                                         "45,update_norm,<b>,0.5,5\n");
    plot1_(path_("run"), path_("out"));
    char *h = wf_(path_("out/report.html"));
    ck_assert(strstr(h, "<h2 id=\"events\">Spike events</h2>"));
    ck_assert(strstr(h, "5 events, the first at step 40."));
    ck_assert(strstr(h, "<tr><td>40</td><td>update_norm</td><td>linear_0</td><td>0.5</td><td>6.5</td></tr>"));
    ck_assert(strstr(h, "<td>&lt;b&gt;</td>") && !strstr(h, "<td><b></td>"));
    free(h);
    char *l = wf_(path_("out/loss.svg")), *g = wf_(path_("out/grad_norm.svg"));
    ck_assert_uint_eq(count_(l, "class=\"event\""), 1); /* step 43 (44's value is NaN: not drawn) */
    ck_assert(strstr(l, "<title>step 43: 3.5</title>") && strstr(l, "loss spikes (2)"));
    ck_assert_uint_eq(count_(g, "class=\"event\""), 1);
    ck_assert(strstr(g, "<title>step 42: 7.25</title>") && strstr(g, "grad_norm spikes (1)"));
    free(l), free(g);
    write_text_(path_("run/events.csv"), "step,metric,layer,value,z\n");
    plot1_(path_("run"), path_("out2"));
    h = wf_(path_("out2/report.html"));
    ck_assert(strstr(h, "No spike events."));
    free(h);
    g = wf_(path_("out2/grad_norm.svg"));
    ck_assert(!strstr(g, "class=\"event\""));
    free(g);
    ck_assert_int_eq(unlink(path_("run/events.csv")), 0);
    plot1_(path_("run"), path_("out3"));
    h = wf_(path_("out3/report.html"));
    ck_assert(strstr(h, "No events.csv"));
    free(h);
}
END_TEST

static Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_checked_fixture(tc, setup_, teardown_);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, xml_checker_rejects);
    tcase_add_test(tc, diverged_run_figures);
    tcase_add_test(tc, completed_run_no_marker);
    tcase_add_test(tc, rnn_timesteps);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, several_runs_overlay);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, many_steps_binned);
    tcase_add_test(tc, sweep_heatmap);
    tcase_add_test(tc, lr_sensitivity_sweep);
    tcase_add_test(tc, lr_sensitivity_bad_input);
    tcase_add_test(tc, lr_sensitivity_random);
    tcase_add_test(tc, cli_defaults_and_errors);
    tcase_add_test(tc, intermittent_nonfinite);
    tcase_add_test(tc, sharpness_figures);
    tcase_add_test(tc, report_structure);
    tcase_add_test(tc, shared_scales);
    tcase_add_test(tc, spike_events);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
