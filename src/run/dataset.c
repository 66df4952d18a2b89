/*
** dataset.c: the data set type: allocation, freeing, task names.  The
** readers (data_file.c), the generators (data_gen.c) and data.c's loading,
** splitting and standardising build on it.
*/
#include "run/data_internal.h"

#include <stdlib.h>
#include <string.h>

const char *clgrad_task_name(clgrad_task t)
{
    switch (t) {
    case CLGRAD_TASK_REGRESSION: return "regression";
    case CLGRAD_TASK_BINARY: return "binary";
    case CLGRAD_TASK_MULTICLASS: return "multiclass";
    }
    return "unknown";
}

void clgrad_dataset_free(clgrad_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

clgrad_status clgrad_dataset_alloc(clgrad_dataset *d, size_t n, size_t seq_len, size_t features, const char *what, char *err,
                         size_t nerr)
{
    memset(d, 0, sizeof *d);
    size_t row, nx, bytes;
    if (clgrad_mul_size(seq_len, features, &row) || clgrad_mul_size(n, row, &nx) ||
        clgrad_mul_size(nx, sizeof(float), &bytes) || clgrad_mul_size(n, sizeof(float), &bytes))
        return clgrad_data_err(err, nerr, "%s: %zu samples x %zu steps x %zu features is too large", what, n, seq_len,
                               features);
    d->n = n;
    d->seq_len = seq_len;
    d->features = features;
    if (n == 0) return 0;
    d->x = calloc(nx ? nx : 1, sizeof(float));
    d->y = calloc(n, sizeof(float));
    if (!d->x || !d->y) {
        clgrad_dataset_free(d);
        return clgrad_data_err(err, nerr, "%s: out of memory for %zu samples x %zu steps x %zu features", what, n,
                               seq_len, features);
    }
    return 0;
}

/* ---- split ---- */

clgrad_status clgrad_status_of_(int rc, clgrad_status fallback)
{
    return rc == 0 ? CLGRAD_OK : rc <= CLGRAD_E_NOMEM && rc >= CLGRAD_E_CONFIG ? (clgrad_status)rc : fallback;
}
