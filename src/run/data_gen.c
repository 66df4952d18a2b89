/*
** data_gen.c: the synthetic datasets (linreg, moons, circles, xor, blobs,
** spirals, adding, temporal_order), each deterministic from (seed, config)
** through the data random generator (data_rng.c).  What each one produces is
** documented in include/clgrad/data.h; the order in which random numbers are
** drawn is part of that definition and is written next to each generator.
*/
#include "run/data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI_ 3.14159265358979323846

typedef int (*gen_fn)(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr);

/* numpy.linspace(start, stop, m)[i] (endpoint included; the last is stop). */
static double linspace_(double start, double stop, size_t m, size_t i)
{
    if (m <= 1) return start;
    if (i == m - 1) return stop;
    return (double)i * ((stop - start) / (double)(m - 1)) + start;
}

/* Swap rows in a random order (Fisher-Yates on rows of x and y). */
static int shuffle_rows_(clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    size_t row = d->seq_len * d->features;
    float *tmp = malloc((row ? row : 1) * sizeof *tmp);
    if (!tmp) return clgrad_data_err(err, nerr, "out of memory");
    for (size_t i = d->n; i > 1; i--) {
        size_t j = (size_t)clgrad_drng_below(r, (uint64_t)i);
        if (j == i - 1) continue;
        float *a = d->x + (i - 1) * row, *b = d->x + j * row;
        memcpy(tmp, a, row * sizeof *tmp);
        memcpy(a, b, row * sizeof *tmp);
        memcpy(b, tmp, row * sizeof *tmp);
        float t = d->y[i - 1];
        d->y[i - 1] = d->y[j];
        d->y[j] = t;
    }
    free(tmp);
    return 0;
}

/* Add noise * N(0,1) to every x value, row-major order. */
static void add_noise_(clgrad_drng *r, clgrad_dataset *d, double noise)
{
    size_t nx = d->n * d->seq_len * d->features;
    for (size_t i = 0; i < nx; i++) d->x[i] = (float)((double)d->x[i] + noise * clgrad_drng_normal(r));
}

/* Samples of class j when n is dealt to k classes: n/k, the first n%k one more. */
static size_t share_(size_t n, size_t k, size_t j) { return n / k + (j < n % k ? 1 : 0); }

static int need_classes_(const clgrad_data_section *cfg, char *err, size_t nerr)
{
    if (cfg->classes < 2 || cfg->classes > CLGRAD_DATA_MAX_CLASSES)
        return clgrad_data_err(err, nerr, "[data] classes: %ld is not in 2..%d (kind %s)", cfg->classes,
                               CLGRAD_DATA_MAX_CLASSES, cfg->kind);
    return 0;
}

/* ---- linreg ---- */

/* Modified Gram-Schmidt on the columns of a (rows, cols), column-major:
** the columns become orthonormal.  -1 when a column is (numerically) in the
** span of the previous ones. */
static int mgs_(double *a, size_t rows, size_t cols)
{
    for (size_t j = 0; j < cols; j++) {
        double *v = a + j * rows;
        for (size_t i = 0; i < j; i++) {
            const double *q = a + i * rows;
            double dot = 0.0;
            for (size_t k = 0; k < rows; k++) dot += q[k] * v[k];
            for (size_t k = 0; k < rows; k++) v[k] -= dot * q[k];
        }
        double nrm = 0.0;
        for (size_t k = 0; k < rows; k++) nrm += v[k] * v[k];
        nrm = sqrt(nrm);
        if (!(nrm > 1e-300) || !isfinite(nrm)) return -1;
        for (size_t k = 0; k < rows; k++) v[k] /= nrm;
    }
    return 0;
}

/* Draw order: w* (d normals), G (d x d normals, row-major) for Q, z (n x d
** normals, row-major), then the n noise normals. */
static int gen_linreg_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    if (cfg->features < 1)
        return clgrad_data_err(err, nerr, "[data] features: %ld must be at least 1 (kind linreg)", cfg->features);
    if (!(cfg->condition >= 1.0) || !isfinite(cfg->condition))
        return clgrad_data_err(err, nerr, "[data] condition: %g must be a finite number >= 1 (kind linreg)",
                               cfg->condition);
    size_t n = (size_t)cfg->samples, p = (size_t)cfg->features, np_, pp;
    if (clgrad_dataset_alloc(d, n, 1, p, "linreg", err, nerr)) return -1;
    d->task = CLGRAD_TASK_REGRESSION;
    if (clgrad_mul_size(n, p, &np_) || clgrad_mul_size(p, p, &pp) || pp > SIZE_MAX / 16 ||
        np_ > SIZE_MAX / sizeof(double) - pp - 2 * p) {
        clgrad_dataset_free(d);
        return clgrad_data_err(err, nerr, "linreg: %zu samples x %zu features is too large", n, p);
    }
    double *buf = malloc((np_ + pp + 2 * p) * sizeof *buf);
    if (!buf) {
        clgrad_dataset_free(d);
        return clgrad_data_err(err, nerr, "linreg: out of memory");
    }
    double *w = buf, *s = w + p, *q = s + p, *z = q + p * p; /* q, z column-major */
    for (size_t j = 0; j < p; j++) w[j] = clgrad_drng_normal(r);
    for (size_t k = 0; k < p; k++)
        for (size_t j = 0; j < p; j++) q[j * p + k] = clgrad_drng_normal(r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) z[j * n + i] = clgrad_drng_normal(r);
    int bad = mgs_(q, p, p) || mgs_(q, p, p);
    if (!bad && n > p) { /* centre and whiten: z^T z / n = I */
        for (size_t j = 0; j < p; j++) {
            double m = 0.0;
            for (size_t i = 0; i < n; i++) m += z[j * n + i];
            m /= (double)n;
            for (size_t i = 0; i < n; i++) z[j * n + i] -= m;
        }
        bad = mgs_(z, n, p) || mgs_(z, n, p);
        double sq = sqrt((double)n);
        for (size_t i = 0; i < n * p; i++) z[i] *= sq;
    }
    if (bad) {
        free(buf);
        clgrad_dataset_free(d);
        return clgrad_data_err(err, nerr, "linreg: degenerate random matrix (cannot happen with a working generator)");
    }
    double lc = clgrad_det_log(cfg->condition);
    for (size_t j = 0; j < p; j++)
        s[j] = j == 0 ? 1.0 : j == p - 1 ? 1.0 / sqrt(cfg->condition)
                                         : clgrad_det_exp(-(double)j / (2.0 * (double)(p - 1)) * lc);
    for (size_t i = 0; i < n; i++) {
        float *x = d->x + i * p;
        for (size_t k = 0; k < p; k++) {
            double acc = 0.0; /* x_ik = sum_j z_ij s_j Q_kj */
            for (size_t j = 0; j < p; j++) acc += z[j * n + i] * s[j] * q[j * p + k];
            x[k] = (float)acc;
        }
        double t = 0.0;
        for (size_t k = 0; k < p; k++) t += (double)x[k] * w[k];
        d->y[i] = (float)(t + cfg->noise * clgrad_drng_normal(r));
    }
    free(buf);
    return 0;
}

/* ---- 2-D classification sets ---- */

/* Draw order (moons, circles, xor): noise row-major, then the shuffle. */
static int gen_moons_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    size_t n = (size_t)cfg->samples, nout = n / 2, nin = n - nout;
    if (clgrad_dataset_alloc(d, n, 1, 2, "moons", err, nerr)) return -1;
    d->task = CLGRAD_TASK_BINARY;
    d->classes = 2;
    for (size_t i = 0; i < n; i++) {
        int inner = i >= nout;
        size_t m = inner ? nin : nout, k = inner ? i - nout : i;
        double s, c;
        clgrad_det_sincos(linspace_(0.0, PI_, m, k), &s, &c);
        d->x[2 * i] = (float)(inner ? 1.0 - c : c);
        d->x[2 * i + 1] = (float)(inner ? 1.0 - s - 0.5 : s);
        d->y[i] = (float)inner;
    }
    add_noise_(r, d, cfg->noise);
    return shuffle_rows_(r, d, err, nerr);
}

static int gen_circles_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    size_t n = (size_t)cfg->samples, nout = n / 2, nin = n - nout;
    if (clgrad_dataset_alloc(d, n, 1, 2, "circles", err, nerr)) return -1;
    d->task = CLGRAD_TASK_BINARY;
    d->classes = 2;
    for (size_t i = 0; i < n; i++) {
        int inner = i >= nout;
        size_t m = inner ? nin : nout, k = inner ? i - nout : i;
        double s, c, rad = inner ? 0.5 : 1.0;
        clgrad_det_sincos((double)k * (2.0 * PI_ / (double)m), &s, &c);
        d->x[2 * i] = (float)(rad * c);
        d->x[2 * i + 1] = (float)(rad * s);
        d->y[i] = (float)inner;
    }
    add_noise_(r, d, cfg->noise);
    return shuffle_rows_(r, d, err, nerr);
}

static int gen_xor_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    size_t n = (size_t)cfg->samples;
    if (clgrad_dataset_alloc(d, n, 1, 2, "xor", err, nerr)) return -1;
    d->task = CLGRAD_TASK_BINARY;
    d->classes = 2;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 4);
        float sx = (c & 1) ? 1.0f : -1.0f, sy = (c & 2) ? 1.0f : -1.0f;
        d->x[2 * i] = sx;
        d->x[2 * i + 1] = sy;
        d->y[i] = sx != sy ? 1.0f : 0.0f;
    }
    add_noise_(r, d, cfg->noise);
    return shuffle_rows_(r, d, err, nerr);
}

/* Draw order: the K x d centres (row-major uniforms), the noise row-major, the shuffle. */
static int gen_blobs_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    if (need_classes_(cfg, err, nerr)) return -1;
    if (cfg->features < 1)
        return clgrad_data_err(err, nerr, "[data] features: %ld must be at least 1 (kind blobs)", cfg->features);
    size_t n = (size_t)cfg->samples, k = (size_t)cfg->classes, p = (size_t)cfg->features, kp;
    if (clgrad_dataset_alloc(d, n, 1, p, "blobs", err, nerr)) return -1;
    d->task = CLGRAD_TASK_MULTICLASS;
    d->classes = k;
    double *centre = clgrad_mul_size(k, p, &kp) ? NULL : malloc(kp * sizeof *centre);
    if (!centre) {
        clgrad_dataset_free(d);
        return clgrad_data_err(err, nerr, "blobs: out of memory for %zu x %zu centres", k, p);
    }
    for (size_t i = 0; i < kp; i++) centre[i] = -10.0 + 20.0 * clgrad_drng_uniform(r);
    for (size_t j = 0, i = 0; j < k; j++)
        for (size_t m = share_(n, k, j); m > 0; m--, i++) {
            for (size_t f = 0; f < p; f++) d->x[i * p + f] = (float)centre[j * p + f];
            d->y[i] = (float)j;
        }
    free(centre);
    add_noise_(r, d, cfg->noise);
    return shuffle_rows_(r, d, err, nerr);
}

/* Draw order: one theta normal per point (arm by arm), then the shuffle. */
static int gen_spirals_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    if (need_classes_(cfg, err, nerr)) return -1;
    size_t n = (size_t)cfg->samples, k = (size_t)cfg->classes;
    if (clgrad_dataset_alloc(d, n, 1, 2, "spirals", err, nerr)) return -1;
    d->task = CLGRAD_TASK_MULTICLASS;
    d->classes = k;
    for (size_t j = 0, i = 0; j < k; j++) {
        size_t m = share_(n, k, j);
        for (size_t t = 0; t < m; t++, i++) {
            double rad = linspace_(0.0, 1.0, m, t);
            double th = linspace_(4.0 * (double)j, 4.0 * (double)(j + 1), m, t) + cfg->noise * clgrad_drng_normal(r);
            double s, c;
            clgrad_det_sincos(th, &s, &c);
            d->x[2 * i] = (float)(rad * s);
            d->x[2 * i + 1] = (float)(rad * c);
            d->y[i] = (float)j;
        }
    }
    return shuffle_rows_(r, d, err, nerr);
}

/* ---- sequence tasks ---- */

static int need_seq_(const clgrad_data_section *cfg, char *err, size_t nerr)
{
    if (cfg->seq_len < 2)
        return clgrad_data_err(err, nerr, "[data] seq_len: %ld must be at least 2 (kind %s)", cfg->seq_len, cfg->kind);
    return 0;
}

/* Draw order per sample: T values (24-bit uniforms: k / 2^24, exact in
** float), the first marker below(T/2), the second T/2 + below(T - T/2). */
static int gen_adding_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    if (need_seq_(cfg, err, nerr)) return -1;
    size_t n = (size_t)cfg->samples, T = (size_t)cfg->seq_len, h = T / 2;
    if (clgrad_dataset_alloc(d, n, T, 2, "adding", err, nerr)) return -1;
    d->task = CLGRAD_TASK_REGRESSION;
    for (size_t i = 0; i < n; i++) {
        float *x = d->x + i * T * 2;
        for (size_t t = 0; t < T; t++) x[2 * t] = (float)(clgrad_drng_u64(r) >> 40) * 0x1.0p-24f;
        size_t a = (size_t)clgrad_drng_below(r, h), b = h + (size_t)clgrad_drng_below(r, T - h);
        x[2 * a + 1] = 1.0f;
        x[2 * b + 1] = 1.0f;
        d->y[i] = (float)((double)x[2 * a] + (double)x[2 * b]);
    }
    return 0;
}

/* Draw order per sample: T distractors below(4), t1, t2, then s1, s2 below(2). */
static int gen_temporal_(const clgrad_data_section *cfg, clgrad_drng *r, clgrad_dataset *d, char *err, size_t nerr)
{
    if (need_seq_(cfg, err, nerr)) return -1;
    size_t n = (size_t)cfg->samples, T = (size_t)cfg->seq_len;
    if (clgrad_dataset_alloc(d, n, T, 6, "temporal_order", err, nerr)) return -1;
    d->task = CLGRAD_TASK_MULTICLASS;
    d->classes = 4;
    size_t lo1 = T / 10, hi1 = 2 * T / 10, lo2 = 5 * T / 10, hi2 = 6 * T / 10;
    for (size_t i = 0; i < n; i++) {
        float *x = d->x + i * T * 6;
        size_t sym[2], pos[2];
        for (size_t t = 0; t < T; t++) x[6 * t + clgrad_drng_below(r, 4)] = 1.0f;
        pos[0] = lo1 + (size_t)clgrad_drng_below(r, hi1 - lo1 + 1);
        pos[1] = lo2 + (size_t)clgrad_drng_below(r, hi2 - lo2 + 1);
        for (int k = 0; k < 2; k++) {
            sym[k] = (size_t)clgrad_drng_below(r, 2); /* 0 = X, 1 = Y */
            memset(x + 6 * pos[k], 0, 6 * sizeof *x);
            x[6 * pos[k] + 4 + sym[k]] = 1.0f;
        }
        d->y[i] = (float)(2 * sym[0] + sym[1]);
    }
    return 0;
}

/* ---- dispatch ---- */

static const struct {
    const char *name;
    gen_fn fn;
} gens_[] = {
    {"linreg", gen_linreg_},   {"moons", gen_moons_},   {"circles", gen_circles_}, {"xor", gen_xor_},
    {"blobs", gen_blobs_},     {"spirals", gen_spirals_}, {"adding", gen_adding_},
    {"temporal_order", gen_temporal_},
};

clgrad_status clgrad_data_generate(const clgrad_data_section *cfg, uint64_t seed, clgrad_dataset *out, char *err, size_t nerr)
{
    memset(out, 0, sizeof *out);
    size_t g = 0, ng = sizeof gens_ / sizeof gens_[0];
    while (g < ng && strcmp(cfg->kind, gens_[g].name)) g++;
    if (g == ng)
        return clgrad_data_err(err, nerr,
                               "[data] kind: unknown '%s'; allowed: linreg, moons, circles, xor, blobs, spirals, "
                               "adding, temporal_order, csv, idx",
                               cfg->kind);
    if (cfg->samples < 1)
        return clgrad_data_err(err, nerr, "[data] samples: %ld must be at least 1 (kind %s)", cfg->samples, cfg->kind);
    if (!(cfg->noise >= 0.0) || !isfinite(cfg->noise))
        return clgrad_data_err(err, nerr, "[data] noise: %g must be a finite number >= 0 (kind %s)", cfg->noise,
                               cfg->kind);
    clgrad_drng r;
    clgrad_drng_init(&r, seed, CLGRAD_STREAM_GEN, (uint64_t)g + 1);
    if (gens_[g].fn(cfg, &r, out, err, nerr)) {
        clgrad_dataset_free(out);
        return CLGRAD_E_IO;
    }
    return 0;
}
