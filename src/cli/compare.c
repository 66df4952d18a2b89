/*
** compare.c: `clgrad compare`: line up the logged steps of several runs and
** report, per metric, how far each run is from the first (the reference):
** max absolute and relative difference and the first step beyond tolerance;
** also the final status and divergence verdicts.  Host-only; the agreement
** rule and the defaults are documented in cli/report.h.
*/
#define _POSIX_C_SOURCE 200809L
#include "cli/report.h"
#include "cli/opts.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------------ */

/* Do a (this run) and b (reference) agree?  NaN==NaN, Inf==Inf of one sign. */
static int agree_(double a, double b, double rtol, double atol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= atol + rtol * fabs(b);
}

static const char *fmt_(char *buf, size_t n, const char *fmt, double v)
{
    if (isnan(v)) snprintf(buf, n, "nan");
    else if (isinf(v)) snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else snprintf(buf, n, fmt, v);
    return buf;
}

/* ---- row keys and joining ------------------------------------------------------- */

typedef struct {
    long step, t;
    size_t row;
} rowkey;

typedef struct {
    long step, t;
    size_t ra, rb; /* row in this run, row in the reference */
} rowpair;

static int key_cmp_(const void *x, const void *y)
{
    const rowkey *a = x, *b = y;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static int str_cmp_(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static long as_long_(double v)
{
    return isfinite(v) ? (long)llround(v) : -1;
}

/* Keys of the rows of t (optionally only those whose layer column equals
** layer), sorted by (step, t).  *nk gets their count; NULL on no memory. */
static rowkey *keys_(const clgrad_csv *t, const char *layer, size_t *nk)
{
    int cs = clgrad_csv_col(t, "step"), ct = clgrad_csv_col(t, "t"), cl = clgrad_csv_col(t, "layer");
    rowkey *k = malloc((t->nrows ? t->nrows : 1) * sizeof *k);
    if (!k) return NULL;
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        if (layer && strcmp(clgrad_csv_text(t, r, cl), layer) != 0) continue;
        k[n].step = as_long_(clgrad_csv_num(t, r, cs));
        k[n].t = ct >= 0 ? as_long_(clgrad_csv_num(t, r, ct)) : -1;
        k[n].row = r;
        n++;
    }
    qsort(k, n, sizeof *k, key_cmp_);
    *nk = n;
    return k;
}

/* Merge-join two sorted key lists on (step, t). */
static size_t join_(const rowkey *a, size_t na, const rowkey *b, size_t nb, rowpair *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        int c = key_cmp_(&(rowkey){a[i].step, a[i].t, 0}, &(rowkey){b[j].step, b[j].t, 0});
        if (c < 0) i++;
        else if (c > 0) j++;
        else {
            out[n++] = (rowpair){a[i].step, a[i].t, a[i].row, b[j].row};
            i++, j++;
        }
    }
    return n;
}

/* ---- per-metric differences ---------------------------------------------------------- */

typedef struct {
    clgrad_metric_diff *d;
    size_t n, cap;
    int oom;
} difflist;

static clgrad_metric_diff *diff_new_(difflist *l, const char *file, const char *metric, const char *layer)
{
    if (l->oom) return NULL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        clgrad_metric_diff *d = realloc(l->d, nc * sizeof *d);
        if (!d) { l->oom = 1; return NULL; }
        l->d = d, l->cap = nc;
    }
    clgrad_metric_diff *m = &l->d[l->n++];
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s", file);
    snprintf(m->metric, sizeof m->metric, "%s", metric);
    snprintf(m->layer, sizeof m->layer, "%s", layer ? layer : "");
    m->first_step = m->first_t = -1;
    m->first_a = m->first_b = NAN;
    m->timing = strcmp(metric, "ms_per_step") == 0;
    return m;
}

/* Fold one pair of values into m.  pa/pb: the value was measured. */
static void diff_add_(clgrad_metric_diff *m, int pa, double a, int pb, double b, long step, long t, double rtol,
                      double atol)
{
    if (!pa && !pb) return;
    int differs;
    if (pa && pb) {
        m->compared++;
        if (isfinite(a) && isfinite(b)) {
            double ad = fabs(a - b);
            double rd = b != 0 ? ad / fabs(b) : (ad != 0 ? INFINITY : 0);
            if (ad > m->max_abs) m->max_abs = ad;
            if (rd > m->max_rel) m->max_rel = rd;
        }
        differs = !agree_(a, b, rtol, atol);
    } else {
        differs = 1;
    }
    if (!differs) return;
    m->ndiff++;
    if (!m->has_first) {
        m->has_first = 1;
        m->first_step = step, m->first_t = t;
        m->first_a = pa ? a : NAN, m->first_b = pb ? b : NAN;
        m->first_missing = !pa ? 1 : !pb ? 2 : 0;
        if (!pa || !pb)
            snprintf(m->note, sizeof m->note, "first difference: measured in %s only",
                     pa ? "this run" : "the reference");
    }
}

static void diff_close_(clgrad_metric_diff *m)
{
    m->disagree = !m->timing && (m->ndiff > 0 || m->note[0] != '\0');
}

/* Compare column `name` over the joined rows. */
static void diff_column_(difflist *l, const char *file, const char *name, const char *layer, const clgrad_csv *ta,
                         const clgrad_csv *tb, const rowpair *pairs, size_t np, double rtol, double atol)
{
    clgrad_metric_diff *m = diff_new_(l, file, name, layer);
    if (!m) return;
    int ca = clgrad_csv_col(ta, name), cb = clgrad_csv_col(tb, name);
    if (ca < 0 || cb < 0) {
        snprintf(m->note, sizeof m->note, "column missing in %s", ca < 0 ? "this run" : "the reference");
        diff_close_(m);
        return;
    }
    for (size_t i = 0; i < np; i++) {
        size_t ra = pairs[i].ra, rb = pairs[i].rb;
        diff_add_(m, clgrad_csv_present(ta, ra, ca), clgrad_csv_num(ta, ra, ca), clgrad_csv_present(tb, rb, cb),
                  clgrad_csv_num(tb, rb, cb), pairs[i].step, pairs[i].t, rtol, atol);
    }
    diff_close_(m);
}

static int is_key_col_(const char *name)
{
    return !strcmp(name, "step") || !strcmp(name, "layer") || !strcmp(name, "t");
}

/* Every value column of a (this run) and b (reference), reference order first. */
static void diff_columns_(difflist *l, const char *file, const char *layer, const clgrad_csv *ta,
                          const clgrad_csv *tb, const rowpair *pairs, size_t np, double rtol, double atol)
{
    for (size_t c = 0; c < tb->ncols; c++)
        if (!is_key_col_(tb->names[c]))
            diff_column_(l, file, tb->names[c], layer, ta, tb, pairs, np, rtol, atol);
    for (size_t c = 0; c < ta->ncols; c++)
        if (!is_key_col_(ta->names[c]) && clgrad_csv_col(tb, ta->names[c]) < 0)
            diff_column_(l, file, ta->names[c], layer, ta, tb, pairs, np, rtol, atol);
}

/* Join and compare two tables (optionally restricted to one layer).
** Returns -1 on no memory; *common gets the number of joined rows. */
static int diff_table_(difflist *l, const char *file, const char *layer, const clgrad_csv *ta,
                       const clgrad_csv *tb, double rtol, double atol, size_t *common)
{
    size_t na = 0, nb = 0;
    rowkey *ka = keys_(ta, layer, &na), *kb = keys_(tb, layer, &nb);
    rowpair *pairs = malloc(((na < nb ? na : nb) + 1) * sizeof *pairs);
    if (!ka || !kb || !pairs) {
        free(ka), free(kb), free(pairs);
        return -1;
    }
    size_t np = join_(ka, na, kb, nb, pairs);
    if (common) *common = np;
    diff_columns_(l, file, layer, ta, tb, pairs, np, rtol, atol);
    free(ka), free(kb), free(pairs);
    return l->oom ? -1 : 0;
}

static int has_name_(const char **names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return 1;
    return 0;
}

static int diff_layers_(difflist *l, const clgrad_rundata *a, const clgrad_rundata *b, double rtol, double atol)
{
    size_t na = 0, nb = 0;
    const char **la = clgrad_rundata_layers(a, &na), **lb = clgrad_rundata_layers(b, &nb);
    int rc = 0;
    if (!la || !lb) rc = -1;
    for (size_t i = 0; rc == 0 && i < nb; i++) {
        if (!has_name_(la, na, lb[i])) {
            clgrad_metric_diff *m = diff_new_(l, "layers.csv", "*", lb[i]);
            if (m) snprintf(m->note, sizeof m->note, "layer missing in this run"), diff_close_(m);
            continue;
        }
        rc = diff_table_(l, "layers.csv", lb[i], &a->layers, &b->layers, rtol, atol, NULL);
    }
    for (size_t i = 0; rc == 0 && i < na; i++) {
        if (has_name_(lb, nb, la[i])) continue;
        clgrad_metric_diff *m = diff_new_(l, "layers.csv", "*", la[i]);
        if (m) snprintf(m->note, sizeof m->note, "layer missing in the reference"), diff_close_(m);
    }
    free(la), free(lb);
    return rc || l->oom ? -1 : 0;
}

/* Numeric summary.json fields compared like metrics (ms_per_step: timing). */
static const char *const summary_fields[] = {
    "steps_done", "steps_planned", "final_train_loss", "final_test_loss", "final_test_accuracy",
    "max_grad_norm", "divergence.value", "ms_per_step", NULL,
};

static void diff_summary_(difflist *l, const clgrad_rundata *a, const clgrad_rundata *b, double rtol, double atol)
{
    for (int i = 0; summary_fields[i]; i++) {
        /* null + KEY_nonfinite, or null alone: not measured (see clgrad_json_num_field) */
        int pa, pb;
        double va = clgrad_json_num_field(a->summary, summary_fields[i], NULL, &pa);
        double vb = clgrad_json_num_field(b->summary, summary_fields[i], NULL, &pb);
        if (!pa && !pb) continue;
        clgrad_metric_diff *m = diff_new_(l, "summary.json", summary_fields[i], NULL);
        if (!m) return;
        diff_add_(m, pa, va, pb, vb, -1, -1, rtol, atol);
        if (m->note[0]) snprintf(m->note, sizeof m->note, "present in %s only", pa ? "this run" : "the reference");
        diff_close_(m);
    }
}

/* ---- verdicts ------------------------------------------------------------------------ */

static int divergence_differs_(const clgrad_rundata *a, const clgrad_rundata *b)
{
    const clgrad_json *da = clgrad_rundata_divergence(a), *db = clgrad_rundata_divergence(b);
    if (!da || !db) return (da != NULL) != (db != NULL);
    char x[256], y[256];
    static const char *const keys[] = {"step", "kind", "layer"};
    for (int i = 0; i < 3; i++) {
        clgrad_json_text(clgrad_json_member(da, keys[i]), x, sizeof x);
        clgrad_json_text(clgrad_json_member(db, keys[i]), y, sizeof y);
        if (strcmp(x, y) != 0) return 1;
    }
    return 0;
}

static long last_step_(const clgrad_csv *t)
{
    int cs = clgrad_csv_col(t, "step");
    long last = -1;
    for (size_t r = 0; r < t->nrows; r++) {
        long s = as_long_(clgrad_csv_num(t, r, cs));
        if (s > last) last = s;
    }
    return last;
}

static clgrad_status compare_pair_(const clgrad_rundata *a, const clgrad_rundata *b, double rtol, double atol,
                                   clgrad_rundata_cmp *c)
{
    difflist l = {0};
    c->rows_run = a->metrics.nrows, c->rows_ref = b->metrics.nrows;
    c->last_run = last_step_(&a->metrics), c->last_ref = last_step_(&b->metrics);
    if (diff_table_(&l, "metrics.csv", NULL, &a->metrics, &b->metrics, rtol, atol, &c->common_steps) != 0)
        goto oom;
    c->length_mismatch = c->common_steps != c->rows_run || c->common_steps != c->rows_ref;
    if (diff_layers_(&l, a, b, rtol, atol) != 0) goto oom;
    if (a->has_timesteps && b->has_timesteps) {
        if (diff_table_(&l, "timesteps.csv", NULL, &a->timesteps, &b->timesteps, rtol, atol, NULL) != 0) goto oom;
    } else if (a->has_timesteps || b->has_timesteps) {
        clgrad_metric_diff *m = diff_new_(&l, "timesteps.csv", "*", NULL);
        if (m) snprintf(m->note, sizeof m->note, "present in %s only", a->has_timesteps ? "this run" : "the reference"),
            diff_close_(m);
    }
    diff_summary_(&l, a, b, rtol, atol);
    if (l.oom) goto oom;
    c->diffs = l.d, c->ndiffs = l.n;
    for (size_t i = 0; i < l.n; i++) c->ndisagree += l.d[i].disagree != 0;
    c->status_differs = strcmp(clgrad_rundata_status(a), clgrad_rundata_status(b)) != 0;
    c->divergence_differs = divergence_differs_(a, b);
    c->agree = !c->length_mismatch && !c->status_differs && !c->divergence_differs && c->ndisagree == 0;
    return CLGRAD_OK;
oom:
    free(l.d);
    return CLGRAD_E_NOMEM;
}

/* ---- bit identity ---------------------------------------------------------------------- */

/* Columns that hold wall-clock time (never part of bit identity). */
static int time_column_(const char *name) { return strcmp(name, "ms_per_step") == 0 || strstr(name, "seconds") != NULL; }

/* Record a bit difference at step (-1 when not a step) if it is the earliest so far. */
static void bit_diff_(clgrad_rundata_cmp *c, long step, const char *fmt, ...)
{
    c->bit_identical = 0;
    if (c->first_bit_diff[0] && (step < 0 || (c->first_bit_step >= 0 && c->first_bit_step <= step))) return;
    c->first_bit_step = step;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first_bit_diff, sizeof c->first_bit_diff, fmt, ap);
    va_end(ap);
}

/* One CSV file, row by row and column by column, as text. */
static void bits_csv_(const clgrad_csv *a, const clgrad_csv *b, int present_a, int present_b, const char *file,
                      clgrad_rundata_cmp *c)
{
    if (!present_a && !present_b) return;
    if (present_a != present_b) {
        bit_diff_(c, -1, "%s present in %s only", file, present_a ? "this run" : "the reference");
        return;
    }
    if (a->ncols != b->ncols) {
        bit_diff_(c, -1, "%s: %zu vs %zu columns", file, a->ncols, b->ncols);
        return;
    }
    for (size_t j = 0; j < a->ncols; j++)
        if (strcmp(a->names[j], b->names[j]) != 0) {
            bit_diff_(c, -1, "%s: column %zu is %s vs %s", file, j + 1, a->names[j], b->names[j]);
            return;
        }
    const int cstep = clgrad_csv_col(a, "step"), clayer = clgrad_csv_col(a, "layer"), ct = clgrad_csv_col(a, "t");
    const size_t rows = a->nrows < b->nrows ? a->nrows : b->nrows;
    for (size_t r = 0; r < rows; r++) {
        const long step = cstep >= 0 ? as_long_(clgrad_csv_num(a, r, cstep)) : -1;
        for (size_t j = 0; j < a->ncols; j++) {
            if (time_column_(a->names[j])) continue;
            const char *x = clgrad_csv_text(a, r, (int)j), *y = clgrad_csv_text(b, r, (int)j);
            if (strcmp(x, y) == 0) continue;
            char where[96] = "";
            if (clayer >= 0) snprintf(where, sizeof where, " [%s]", clgrad_csv_text(a, r, clayer));
            else if (ct >= 0) snprintf(where, sizeof where, " t %s", clgrad_csv_text(a, r, ct));
            bit_diff_(c, step, "step %ld, %s%s, %s: %s vs %s", step, file, where, a->names[j], x[0] ? x : "(empty)",
                      y[0] ? y : "(empty)");
            return; /* later rows of this file cannot be earlier */
        }
    }
    if (a->nrows != b->nrows) {
        const long step = cstep >= 0 && rows < a->nrows ? as_long_(clgrad_csv_num(a, rows, cstep))
                          : cstep >= 0 && rows < b->nrows ? as_long_(clgrad_csv_num(b, rows, cstep)) : -1;
        bit_diff_(c, step, "%s: %zu vs %zu rows", file, a->nrows, b->nrows);
    }
}

/* Names of the regular files under dir/weights (one level of subdirectories), sorted. */
static int list_weights_(const char *dir, char ***out, size_t *n)
{
    *out = NULL, *n = 0;
    char path[2048];
    snprintf(path, sizeof path, "%s/weights", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[2400];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) != 0) continue;
        DIR *d2 = S_ISDIR(st.st_mode) ? opendir(sub) : NULL;
        struct dirent *e2;
        for (int once = 1; d2 ? (e2 = readdir(d2)) != NULL : once; once = 0) {
            char rel[600];
            if (d2) {
                if (e2->d_name[0] == '.') continue;
                snprintf(rel, sizeof rel, "%.255s/%.255s", e->d_name, e2->d_name);
            } else if (S_ISREG(st.st_mode)) snprintf(rel, sizeof rel, "%.255s", e->d_name);
            else break;
            if (*n == cap) {
                char **g = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof *g);
                if (!g) break;
                *out = g;
            }
            if (((*out)[*n] = strdup(rel))) (*n)++;
        }
        if (d2) closedir(d2);
    }
    closedir(d);
    qsort(*out, *n, sizeof **out, str_cmp_);
    return 1;
}

static int is_nan_word_(const unsigned char *b)
{
    uint32_t w;
    memcpy(&w, b, sizeof w);
    return (w & 0x7fffffffu) > 0x7f800000u;
}

/* Byte-identical files, except that two NaN float32 words (4-byte aligned
** in the file, as .npy data is) count as equal whatever their sign and
** payload: IEEE 754 leaves those open, and devices differ there. */
static int files_equal_(const char *p, const char *q)
{
    FILE *f = fopen(p, "rb"), *g = fopen(q, "rb");
    int eq = f && g;
    while (eq) {
        unsigned char x[8192], y[8192];
        size_t nx = fread(x, 1, sizeof x, f), ny = fread(y, 1, sizeof y, g);
        if (nx != ny) eq = 0;
        else if (nx == 0) break;
        else if (memcmp(x, y, nx) != 0)
            for (size_t i = 0; i < nx && eq; i += 4)
                if (memcmp(x + i, y + i, nx - i < 4 ? nx - i : 4) != 0)
                    eq = nx - i >= 4 && is_nan_word_(x + i) && is_nan_word_(y + i);
    }
    if (f) fclose(f);
    if (g) fclose(g);
    return eq;
}

static void bits_weights_(const clgrad_rundata *a, const clgrad_rundata *b, clgrad_rundata_cmp *c)
{
    char **wa, **wb;
    size_t na, nb;
    list_weights_(a->dir, &wa, &na);
    list_weights_(b->dir, &wb, &nb);
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int k = i == na ? 1 : j == nb ? -1 : strcmp(wa[i], wb[j]);
        if (k != 0) {
            bit_diff_(c, -1, "weights/%s present in %s only", k < 0 ? wa[i] : wb[j], k < 0 ? "this run" : "the reference");
            if (k < 0) i++;
            else j++;
            continue;
        }
        char p[2400], q[2400];
        snprintf(p, sizeof p, "%s/weights/%s", a->dir, wa[i]);
        snprintf(q, sizeof q, "%s/weights/%s", b->dir, wb[j]);
        c->weights_compared++;
        if (!files_equal_(p, q)) bit_diff_(c, -1, "weights/%s differs", wa[i]);
        i++, j++;
    }
    for (size_t k = 0; k < na; k++) free(wa[k]);
    for (size_t k = 0; k < nb; k++) free(wb[k]);
    free(wa), free(wb);
}

static void bits_pair_(const clgrad_rundata *a, const clgrad_rundata *b, clgrad_rundata_cmp *c)
{
    c->bit_identical = 1;
    c->first_bit_step = -1;
    c->first_bit_diff[0] = '\0';
    bits_csv_(&a->metrics, &b->metrics, 1, 1, "metrics.csv", c);
    bits_csv_(&a->layers, &b->layers, 1, 1, "layers.csv", c);
    bits_csv_(&a->timesteps, &b->timesteps, a->has_timesteps, b->has_timesteps, "timesteps.csv", c);
    bits_csv_(&a->histograms, &b->histograms, a->has_histograms, b->has_histograms, "histograms.csv", c);
    bits_csv_(&a->events, &b->events, a->has_events, b->has_events, "events.csv", c);
    if (strcmp(clgrad_rundata_status(a), clgrad_rundata_status(b)) != 0)
        bit_diff_(c, -1, "status %s vs %s", clgrad_rundata_status(a), clgrad_rundata_status(b));
    bits_weights_(a, b, c);
}

clgrad_status clgrad_runs_compare(const clgrad_rundata *runs, int n, double rtol, double atol,
                                  clgrad_compare_result *res, char *why, size_t nwhy)
{
    memset(res, 0, sizeof *res);
    if (n < 2) {
        snprintf(why, nwhy, "compare needs at least two runs");
        return CLGRAD_E_ARG;
    }
    if (!(rtol >= 0) || !(atol >= 0) || !isfinite(rtol) || !isfinite(atol)) {
        snprintf(why, nwhy, "tolerances must be finite and >= 0");
        return CLGRAD_E_ARG;
    }
    res->rtol = rtol, res->atol = atol, res->nruns = n;
    res->cmp = calloc((size_t)n - 1, sizeof *res->cmp);
    if (!res->cmp) {
        snprintf(why, nwhy, "out of memory");
        return CLGRAD_E_NOMEM;
    }
    res->agree = 1;
    res->bit_identical = 1;
    for (int i = 1; i < n; i++) {
        clgrad_rundata_cmp *c = &res->cmp[i - 1];
        c->run = i;
        if (compare_pair_(&runs[i], &runs[0], rtol, atol, c) != CLGRAD_OK) {
            clgrad_compare_result_free(res);
            snprintf(why, nwhy, "out of memory comparing %s", runs[i].dir);
            return CLGRAD_E_NOMEM;
        }
        bits_pair_(&runs[i], &runs[0], c);
        res->agree &= c->agree;
        res->bit_identical &= c->bit_identical;
    }
    return CLGRAD_OK;
}

void clgrad_compare_result_free(clgrad_compare_result *res)
{
    if (!res) return;
    for (int i = 0; res->cmp && i < res->nruns - 1; i++) free(res->cmp[i].diffs);
    free(res->cmp);
    memset(res, 0, sizeof *res);
}

/* ---- text output ------------------------------------------------------------------------ */

#define NROWS_HEAD 15

/* The side-by-side header table: label and one value per run. */
/* A summary number as text: "-" when not measured (null), nan/inf when non-finite. */
static void sum_text_(const clgrad_json *s, const char *key, char *out, size_t n)
{
    int present, measured;
    double v = clgrad_json_num_field(s, key, &present, &measured);
    if (!measured) snprintf(out, n, "-");
    else if (isnan(v)) snprintf(out, n, "nan");
    else if (isinf(v)) snprintf(out, n, v > 0 ? "inf" : "-inf");
    else snprintf(out, n, "%.9g", v);
}

static void head_value_(const clgrad_rundata *r, int row, char *out, size_t n)
{
    char b1[64], b2[64];
    const clgrad_json *s = r->summary, *d = clgrad_rundata_divergence(r);
    out[0] = '\0';
    switch (row) {
    case 0: snprintf(out, n, "%s", r->dir); break;
    case 1: clgrad_json_text(clgrad_json_path(r->manifest, "device.name"), out, n); break;
    case 2: clgrad_json_text(clgrad_json_path(r->manifest, "device.index"), out, n); break;
    case 3: clgrad_json_text(clgrad_json_member(r->manifest, "gemm_backend"), out, n); break;
    case 4: snprintf(out, n, "%s", clgrad_rundata_status(r)); break;
    case 5:
        if (!d) { snprintf(out, n, "-"); break; }
        {
            char st[32], kind[64], layer[64];
            clgrad_json_text(clgrad_json_member(d, "step"), st, sizeof st);
            clgrad_json_text(clgrad_json_member(d, "kind"), kind, sizeof kind);
            clgrad_json_text(clgrad_json_member(d, "layer"), layer, sizeof layer);
            const clgrad_json *lv = clgrad_json_member(d, "layer"); /* null: no layer (loss_limit) */
            snprintf(out, n, "step %s %s layer %s", st, kind, layer[0] && lv && lv->type == CLGRAD_JSON_STRING ? layer : "-");
        }
        break;
    case 6:
        clgrad_json_text(clgrad_json_member(s, "steps_done"), b1, sizeof b1);
        clgrad_json_text(clgrad_json_member(s, "steps_planned"), b2, sizeof b2);
        snprintf(out, n, "%s / %s", b1[0] ? b1 : "?", b2[0] ? b2 : "?");
        break;
    case 7: sum_text_(s, "final_train_loss", out, n); break;
    case 8: sum_text_(s, "final_test_loss", out, n); break;
    case 9: sum_text_(s, "final_test_accuracy", out, n); break;
    case 10: sum_text_(s, "max_grad_norm", out, n); break;
    case 11: sum_text_(s, "ms_per_step", out, n); break;
    case 12: snprintf(out, n, "%zu (last step %ld)", r->metrics.nrows, last_step_(&r->metrics)); break;
    case 13: snprintf(out, n, "%zu", r->layers.nrows); break;
    case 14: snprintf(out, n, "%s", r->has_timesteps ? "yes" : "-"); break;
    default: break;
    }
    if (!out[0]) snprintf(out, n, "-");
}

static const char *const head_labels[NROWS_HEAD] = {
    "run dir", "device", "device index", "gemm backend", "status", "divergence", "steps done / planned",
    "final train loss", "final test loss", "final test accuracy", "max grad norm", "ms per step",
    "metrics.csv rows", "layers.csv rows", "timesteps.csv",
};

static void print_head_(FILE *f, const clgrad_rundata *runs, int n)
{
    char v[1100];
    int w[64];
    int nn = n < 64 ? n : 64;
    for (int i = 0; i < nn; i++) {
        w[i] = 12;
        for (int r = 0; r < NROWS_HEAD; r++) {
            head_value_(&runs[i], r, v, sizeof v);
            if ((int)strlen(v) > w[i]) w[i] = (int)strlen(v);
        }
    }
    fprintf(f, "%-22s", "");
    for (int i = 0; i < nn; i++) {
        char h[48];
        snprintf(h, sizeof h, "run %d%s", i + 1, i == 0 ? " (reference)" : "");
        fprintf(f, "  %-*s", w[i], h);
    }
    fputc('\n', f);
    for (int r = 0; r < NROWS_HEAD; r++) {
        fprintf(f, "%-22s", head_labels[r]);
        for (int i = 0; i < nn; i++) {
            head_value_(&runs[i], r, v, sizeof v);
            fprintf(f, "  %-*s", w[i], v);
        }
        fputc('\n', f);
    }
}

static void metric_label_(const clgrad_metric_diff *m, char *out, size_t n)
{
    if (m->layer[0]) snprintf(out, n, "[%s] %s", m->layer, m->metric);
    else snprintf(out, n, "%s", m->metric);
}

static void print_diff_row_(FILE *f, const clgrad_metric_diff *m)
{
    char label[160], b1[32], b2[32], first[48] = "-", vals[80] = "";
    metric_label_(m, label, sizeof label);
    if (m->has_first) {
        if (m->first_step < 0) snprintf(first, sizeof first, "final");
        else if (m->first_t >= 0) snprintf(first, sizeof first, "step %ld t %ld", m->first_step, m->first_t);
        else snprintf(first, sizeof first, "step %ld", m->first_step);
        char a[32], b[32];
        if (m->first_missing == 1) snprintf(a, sizeof a, "(none)");
        else fmt_(a, sizeof a, "%.9g", m->first_a);
        if (m->first_missing == 2) snprintf(b, sizeof b, "(none)");
        else fmt_(b, sizeof b, "%.9g", m->first_b);
        snprintf(vals, sizeof vals, "%s / %s", a, b);
    }
    const char *verdict = m->timing ? "(timing)" : m->disagree ? "DIFF" : "ok";
    if (m->compared == 0) snprintf(b1, sizeof b1, "-"), snprintf(b2, sizeof b2, "-");
    else fmt_(b1, sizeof b1, "%.3g", m->max_abs), fmt_(b2, sizeof b2, "%.3g", m->max_rel);
    fprintf(f, "  %-13s %-32s %6zu  %-10s %-10s %-16s %-34s %s", m->file, label, m->compared, b1, b2, first, vals,
            verdict);
    if (m->note[0]) fprintf(f, "  (%s)", m->note);
    fputc('\n', f);
}

void clgrad_compare_print_text(FILE *f, const clgrad_rundata *runs, const clgrad_compare_result *res)
{
    print_head_(f, runs, res->nruns);
    fprintf(f, "\nagreement: |a - b| <= atol + rtol*|b| with rtol %g, atol %g; b is run 1 (the reference);\n"
               "NaN matches NaN, inf matches inf of the same sign, finite vs non-finite differs.\n",
            res->rtol, res->atol);
    for (int i = 0; i < res->nruns - 1; i++) {
        const clgrad_rundata_cmp *c = &res->cmp[i];
        const clgrad_rundata *a = &runs[c->run], *b = &runs[0];
        fprintf(f, "\n== run %d (%s) vs run 1 (%s) ==\n", c->run + 1, a->name, b->name);
        fprintf(f, "  logged steps: %zu vs %zu, %zu in common%s", c->rows_run, c->rows_ref, c->common_steps,
                c->length_mismatch ? " -- LENGTH MISMATCH" : "");
        if (c->length_mismatch) fprintf(f, " (last step %ld vs %ld)", c->last_run, c->last_ref);
        fputc('\n', f);
        fprintf(f, "  status: %s vs %s%s\n", clgrad_rundata_status(a), clgrad_rundata_status(b),
                c->status_differs ? " -- DIFFERS" : "");
        if (c->divergence_differs || clgrad_rundata_divergence(a)) {
            char x[256], y[256];
            head_value_(a, 5, x, sizeof x);
            head_value_(b, 5, y, sizeof y);
            fprintf(f, "  divergence: %s vs %s%s\n", x, y, c->divergence_differs ? " -- DIFFERS" : "");
        }
        fprintf(f, "  %-13s %-32s %6s  %-10s %-10s %-16s %-34s %s\n", "file", "metric", "n", "max|a-b|", "max rel",
                "first diff", "this run / reference there", "verdict");
        for (size_t k = 0; k < c->ndiffs; k++) print_diff_row_(f, &c->diffs[k]);
        fprintf(f, "  => %s", c->agree ? "AGREE" : "DIFFER");
        if (!c->agree) {
            fprintf(f, ":");
            if (c->ndisagree) fprintf(f, " %zu metric%s beyond tolerance;", c->ndisagree, c->ndisagree == 1 ? "" : "s");
            if (c->status_differs) fprintf(f, " status differs;");
            if (c->divergence_differs) fprintf(f, " divergence differs;");
            if (c->length_mismatch) fprintf(f, " different logged steps;");
        }
        fputc('\n', f);
        if (c->bit_identical)
            fprintf(f, "  => BIT-IDENTICAL: every logged value and %d weight file%s\n", c->weights_compared,
                    c->weights_compared == 1 ? "" : "s");
        else fprintf(f, "  => not bit-identical: first difference at %s\n", c->first_bit_diff);
    }
    if (res->bit_identical)
        fprintf(f, "\nall runs agree within tolerance and are BIT-IDENTICAL to run 1 (metrics, layers, time steps, "
                   "events, weights)\n");
    else fprintf(f, "\n%s\n", res->agree ? "all runs agree within tolerance (not bit-identical)" : "runs DIFFER");
}

/* ---- JSON output ---------------------------------------------------------------------------- */

static void jstr_(FILE *f, const char *s) { clgrad_json_fputs(f, s); }

/* JSON has no NaN/Inf: null (the text output and the CSVs keep nan/inf) */
static void jnum_(FILE *f, double v)
{
    if (!isfinite(v)) fputs("null", f);
    else fprintf(f, "%.9g", v);
}

static void jvalue_(FILE *f, const clgrad_json *v)
{
    if (!v) { fputs("null", f); return; }
    switch (v->type) {
    case CLGRAD_JSON_NULL: fputs("null", f); break;
    case CLGRAD_JSON_BOOL: fputs(v->num != 0 ? "true" : "false", f); break;
    case CLGRAD_JSON_NUMBER: jnum_(f, v->num); break;
    case CLGRAD_JSON_STRING: jstr_(f, v->str); break;
    case CLGRAD_JSON_ARRAY:
    case CLGRAD_JSON_OBJECT:
        fputc(v->type == CLGRAD_JSON_ARRAY ? '[' : '{', f);
        for (size_t i = 0; i < v->n; i++) {
            if (i) fputs(", ", f);
            if (v->type == CLGRAD_JSON_OBJECT) jstr_(f, v->keys[i]), fputs(": ", f);
            jvalue_(f, &v->items[i]);
        }
        fputc(v->type == CLGRAD_JSON_ARRAY ? ']' : '}', f);
        break;
    }
}

static void json_run_(FILE *f, const clgrad_rundata *r)
{
    static const char *const sfields[] = {"steps_done", "steps_planned", "final_train_loss", "final_test_loss",
                                          "final_test_accuracy", "max_grad_norm", "ms_per_step", NULL};
    fputs("{\"dir\": ", f), jstr_(f, r->dir);
    fputs(", \"device\": ", f), jvalue_(f, clgrad_json_path(r->manifest, "device.name"));
    fputs(", \"device_index\": ", f), jvalue_(f, clgrad_json_path(r->manifest, "device.index"));
    fputs(", \"gemm_backend\": ", f), jvalue_(f, clgrad_json_member(r->manifest, "gemm_backend"));
    fputs(", \"status\": ", f), jstr_(f, clgrad_rundata_status(r));
    fputs(", \"divergence\": ", f), jvalue_(f, clgrad_rundata_divergence(r));
    for (int i = 0; sfields[i]; i++) {
        fprintf(f, ", \"%s\": ", sfields[i]);
        jvalue_(f, clgrad_json_member(r->summary, sfields[i]));
        char nf[64];
        snprintf(nf, sizeof nf, "%s_nonfinite", sfields[i]);
        const clgrad_json *nv = clgrad_json_member(r->summary, nf);
        if (nv) fprintf(f, ", \"%s\": ", nf), jvalue_(f, nv);
    }
    fprintf(f, ", \"metrics_rows\": %zu, \"last_step\": %ld}", r->metrics.nrows, last_step_(&r->metrics));
}

/* ", "key": v", and for a non-finite v (written null) ", "key_nonfinite": "nan"|"inf"|"-inf"" */
static void jnumk_(FILE *f, const char *key, double v)
{
    fprintf(f, ", \"%s\": ", key);
    jnum_(f, v);
    if (!isfinite(v)) fprintf(f, ", \"%s_nonfinite\": \"%s\"", key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static void json_diff_(FILE *f, const clgrad_metric_diff *m)
{
    fputs("{\"file\": ", f), jstr_(f, m->file);
    fputs(", \"metric\": ", f), jstr_(f, m->metric);
    fputs(", \"layer\": ", f);
    if (m->layer[0]) jstr_(f, m->layer);
    else fputs("null", f);
    fprintf(f, ", \"compared\": %zu, \"ndiff\": %zu", m->compared, m->ndiff);
    jnumk_(f, "max_abs", m->max_abs);
    jnumk_(f, "max_rel", m->max_rel);
    if (m->has_first) {
        fputs(", \"first_diff\": {\"step\": ", f);
        if (m->first_step >= 0) fprintf(f, "%ld", m->first_step);
        else fputs("null", f);
        if (m->first_t >= 0) fprintf(f, ", \"t\": %ld", m->first_t);
        if (m->first_missing == 1) fputs(", \"value\": null", f);
        else jnumk_(f, "value", m->first_a);
        if (m->first_missing == 2) fputs(", \"reference\": null", f);
        else jnumk_(f, "reference", m->first_b);
        fputs("}", f);
    } else {
        fputs(", \"first_diff\": null", f);
    }
    fprintf(f, ", \"timing\": %s, \"agree\": %s", m->timing ? "true" : "false", m->disagree ? "false" : "true");
    if (m->note[0]) fputs(", \"note\": ", f), jstr_(f, m->note);
    fputs("}", f);
}

void clgrad_compare_print_json(FILE *f, const clgrad_rundata *runs, const clgrad_compare_result *res)
{
    fprintf(f, "{\n  \"rtol\": %.9g,\n  \"atol\": %.9g,\n  \"agree\": %s,\n  \"bit_identical\": %s,\n  \"runs\": [\n",
            res->rtol, res->atol, res->agree ? "true" : "false", res->bit_identical ? "true" : "false");
    for (int i = 0; i < res->nruns; i++) {
        fputs("    ", f);
        json_run_(f, &runs[i]);
        fputs(i + 1 < res->nruns ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"comparisons\": [\n", f);
    for (int i = 0; i < res->nruns - 1; i++) {
        const clgrad_rundata_cmp *c = &res->cmp[i];
        fputs("    {\"run\": ", f), jstr_(f, runs[c->run].dir);
        fputs(", \"reference\": ", f), jstr_(f, runs[0].dir);
        fprintf(f, ", \"agree\": %s, \"rows\": %zu, \"rows_reference\": %zu, \"common_steps\": %zu, "
                   "\"length_mismatch\": %s, \"status_differs\": %s, \"divergence_differs\": %s, "
                   "\"metrics_disagreeing\": %zu, \"bit_identical\": %s, \"weights_compared\": %d, \"first_bit_difference\": ",
                c->agree ? "true" : "false", c->rows_run, c->rows_ref, c->common_steps,
                c->length_mismatch ? "true" : "false", c->status_differs ? "true" : "false",
                c->divergence_differs ? "true" : "false", c->ndisagree, c->bit_identical ? "true" : "false",
                c->weights_compared);
        if (c->bit_identical) fputs("null", f);
        else jstr_(f, c->first_bit_diff);
        fputs(",\n     \"metrics\": [\n", f);
        for (size_t k = 0; k < c->ndiffs; k++) {
            fputs("       ", f);
            json_diff_(f, &c->diffs[k]);
            fputs(k + 1 < c->ndiffs ? ",\n" : "\n", f);
        }
        fputs(i + 1 < res->nruns - 1 ? "     ]},\n" : "     ]}\n", f);
    }
    fputs("  ]\n}\n", f);
}

/* ---- command line ----------------------------------------------------------------------------- */

static void compare_usage_(FILE *f)
{
    fprintf(f,
            "usage: clgrad compare RUN_DIR RUN_DIR ... [--rtol R] [--atol A] [--json]\n"
            "\n"
            "Compare runs with the first one: device, status and divergence, final numbers, and for\n"
            "every metric of metrics.csv, layers.csv (per layer) and timesteps.csv the max absolute\n"
            "and relative difference and the first step beyond |a - b| <= atol + rtol*|b|\n"
            "(NaN matches NaN, inf matches inf; finite vs non-finite differs).  Runs of different\n"
            "lengths are compared over their common steps and reported as a mismatch.\n"
            "\n"
            "  --rtol R   relative tolerance (default %g)\n"
            "  --atol A   absolute tolerance (default %g)\n"
            "  --json     print one JSON object instead of the tables\n"
            "\n"
            "exit status: 0 all agree, 1 some metric, status, divergence or length differs,\n"
            "             2 usage or read error\n",
            CLGRAD_COMPARE_RTOL, CLGRAD_COMPARE_ATOL);
}

static int parse_tol_(const char *opt, const char *s, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "clgrad compare: %s needs a finite number >= 0, got '%s'\n", opt, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int clgrad_cli_compare(int argc, char **argv)
{
    double rtol = CLGRAD_COMPARE_RTOL, atol = CLGRAD_COMPARE_ATOL;
    int json = 0, n = 0, rc = 2;
    const char **dirs = calloc((size_t)(argc > 0 ? argc : 1), sizeof *dirs);
    clgrad_rundata *runs = NULL;
    if (!dirs) { fprintf(stderr, "clgrad compare: out of memory\n"); return 2; }
    clgrad_cli_args g;
    if (clgrad_cli_args_init(&g, "compare", "clgrad compare", NULL, argc, argv) != 0) goto out;
    for (int r; (r = clgrad_cli_args_next(&g)) != -1;) {
        const char *a = r == 1 ? g.opt : g.value;
        if (r == -2) goto out_args;
        else if (r == 0) dirs[n++] = a;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--help")) { compare_usage_(stdout); rc = 0; goto out_args; }
        else if (!strcmp(a, "--rtol") || !strcmp(a, "--atol")) {
            if (parse_tol_(a, g.value, a[2] == 'r' ? &rtol : &atol) != 0) goto out_args;
        } else {
            clgrad_cli_unknown_option("compare", g.elem);
            compare_usage_(stderr);
            goto out_args;
        }
    }
    clgrad_cli_args_free(&g);
    if (n < 2) {
        fprintf(stderr, "clgrad compare: give at least two run directories\n");
        compare_usage_(stderr);
        goto out;
    }
    runs = calloc((size_t)n, sizeof *runs);
    if (!runs) { fprintf(stderr, "clgrad compare: out of memory\n"); goto out; }
    char why[1536];
    for (int i = 0; i < n; i++) {
        if (clgrad_rundata_read(dirs[i], CLGRAD_RUN_NEED_SUMMARY, &runs[i], why, sizeof why) != CLGRAD_OK) {
            fprintf(stderr, "clgrad compare: %s\n", why);
            goto out;
        }
        clgrad_rundata_print_warnings(stderr, "clgrad compare", &runs[i]);
    }
    clgrad_compare_result res;
    if (clgrad_runs_compare(runs, n, rtol, atol, &res, why, sizeof why) != CLGRAD_OK) {
        fprintf(stderr, "clgrad compare: %s\n", why);
        goto out;
    }
    if (json) clgrad_compare_print_json(stdout, runs, &res);
    else clgrad_compare_print_text(stdout, runs, &res);
    fflush(stdout);
    rc = res.agree ? 0 : 1;
    clgrad_compare_result_free(&res);
    goto out;
out_args:
    clgrad_cli_args_free(&g);
out:
    for (int i = 0; runs && i < n; i++) clgrad_rundata_free(&runs[i]);
    free(runs);
    free(dirs);
    return rc;
}
