/*
** data.c: datasets as a whole (the type itself: dataset.c): clgrad_data_load
** (generate or read, split, standardise), the seeded train/test split,
** z-score standardisation with train statistics, the per-epoch minibatch
** order and row gathering.  Generators live in data_gen.c, CSV/IDX/CIFAR-10 readers in
** data_file.c, the random generator in data_rng.c, .npy in npy.c.
*/
#include "run/data_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copy rows perm[0..m) of src into a fresh dataset dst. */
static int take_rows_(const clgrad_dataset *src, const size_t *perm, size_t m, clgrad_dataset *dst, char *err,
                      size_t nerr)
{
    if (clgrad_dataset_alloc(dst, m, src->seq_len, src->features, "split", err, nerr)) return -1;
    dst->task = src->task;
    dst->classes = src->classes;
    if (m) clgrad_data_gather(src, perm, m, dst->x, dst->y);
    return 0;
}

clgrad_status clgrad_data_split(const clgrad_dataset *all, double test_fraction, uint64_t seed, clgrad_dataset *train,
                      clgrad_dataset *test, char *err, size_t nerr)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!(test_fraction >= 0.0 && test_fraction < 1.0))
        return clgrad_data_err(err, nerr, "[data] test_fraction: %g is not in [0, 1)", test_fraction);
    size_t n = all->n;
    size_t ntest = 0;
    if (test_fraction > 0 && n >= 2) {
        double t = floor(test_fraction * (double)n + 0.5);
        ntest = t < 1.0 ? 1 : t > (double)(n - 1) ? n - 1 : (size_t)t;
    }
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return clgrad_data_err(err, nerr, "split: out of memory");
    for (size_t i = 0; i < n; i++) perm[i] = i;
    if (ntest > 0) {
        clgrad_drng r;
        clgrad_drng_init(&r, seed, CLGRAD_STREAM_SPLIT, 0);
        clgrad_drng_shuffle(&r, perm, n);
    }
    int rc = take_rows_(all, perm, ntest, test, err, nerr);
    if (rc == 0) rc = take_rows_(all, perm + ntest, n - ntest, train, err, nerr);
    free(perm);
    if (rc) {
        clgrad_dataset_free(train);
        clgrad_dataset_free(test);
    }
    return clgrad_status_of_(rc, CLGRAD_E_IO);
}

/* ---- standardisation ---- */

static void apply_(clgrad_dataset *d, const double *mean, const double *scale)
{
    if (!d || d->n == 0) return;
    size_t rows = d->n * d->seq_len, f = d->features;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++) {
            float *v = &d->x[r * f + j];
            *v = (float)(((double)*v - mean[j]) / scale[j]);
        }
}

clgrad_status clgrad_data_standardize(clgrad_dataset *train, clgrad_dataset *test, double *mean, double *scale, char *err,
                            size_t nerr)
{
    size_t f = train->features, rows = train->n * train->seq_len;
    double *buf = malloc(2 * (f ? f : 1) * sizeof *buf);
    if (!buf) return clgrad_data_err(err, nerr, "standardize: out of memory");
    double *mu = buf, *sd = buf + (f ? f : 1);
    for (size_t j = 0; j < f; j++) mu[j] = sd[j] = 0.0;
    /* two passes in double: mean, then the mean squared deviation */
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++) mu[j] += train->x[r * f + j];
    for (size_t j = 0; j < f; j++) mu[j] = rows ? mu[j] / (double)rows : 0.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++) {
            double dv = train->x[r * f + j] - mu[j];
            sd[j] += dv * dv;
        }
    for (size_t j = 0; j < f; j++) {
        sd[j] = rows ? sqrt(sd[j] / (double)rows) : 0.0;
        if (!(sd[j] > 10.0 * DBL_EPSILON * fabs(mu[j]))) sd[j] = 1.0; /* constant: centre only */
    }
    apply_(train, mu, sd);
    apply_(test, mu, sd);
    for (size_t j = 0; j < f; j++) {
        if (mean) mean[j] = mu[j];
        if (scale) scale[j] = sd[j];
    }
    free(buf);
    return 0;
}

/* ---- minibatches ---- */

void clgrad_data_epoch_order(size_t n, uint64_t seed, long epoch, int shuffle, size_t *idx)
{
    for (size_t i = 0; i < n; i++) idx[i] = i;
    if (!shuffle) return;
    clgrad_drng r;
    clgrad_drng_init(&r, seed, CLGRAD_STREAM_EPOCH, (uint64_t)epoch);
    clgrad_drng_shuffle(&r, idx, n);
}

void clgrad_data_gather(const clgrad_dataset *d, const size_t *idx, size_t b, float *x, float *y)
{
    size_t row = d->seq_len * d->features;
    for (size_t i = 0; i < b; i++) {
        memcpy(x + i * row, d->x + idx[i] * row, row * sizeof(float));
        y[i] = d->y[idx[i]];
    }
}

/* ---- the whole pipeline ---- */

clgrad_status clgrad_data_load(const clgrad_data_section *cfg, uint64_t seed, clgrad_dataset *train, clgrad_dataset *test,
                     char *err, size_t nerr)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    clgrad_dataset all;
    int rc;
    if (!strcmp(cfg->kind, "csv"))
        rc = clgrad_data_read_csv(cfg->path, cfg->target, cfg->task, &all, err, nerr);
    else if (!strcmp(cfg->kind, "idx"))
        rc = clgrad_data_read_idx(cfg->path, cfg->labels, &all, err, nerr);
    else if (!strcmp(cfg->kind, "cifar10"))
        rc = clgrad_data_read_cifar10(cfg->path, &all, err, nerr);
    else
        rc = clgrad_data_generate(cfg, seed, &all, err, nerr);
    if (rc) return CLGRAD_E_IO;
    rc = clgrad_data_split(&all, cfg->test_fraction, seed, train, test, err, nerr);
    clgrad_dataset_free(&all);
    if (rc) return CLGRAD_E_IO;
    if (cfg->standardize && clgrad_data_standardize(train, test, NULL, NULL, err, nerr)) {
        clgrad_dataset_free(train);
        clgrad_dataset_free(test);
        return CLGRAD_E_IO;
    }
    return 0;
}
