/*
** fuzz_csv.c: libFuzzer harness for the CSV reader (clgrad_data_read_csv).
** The input is written to a scratch file and read with target column "y"
** as each task (regression, binary, multiclass).  Checks: no crash/UB/leak;
** on failure the dataset is zeroed and the message names the file; on
** success the shape is sane, every value is finite (NaN/Inf are rejected by
** design) and the targets fit the task.
*/
#include "clgrad/data.h"
#include "fuzz_common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_(const char *path, const char *task, int rc, const clgrad_dataset *d, const char *err)
{
    if (rc != 0) {
        FUZZ_CHECK(rc == CLGRAD_E_IO, "rc %d", rc);
        FUZZ_CHECK(d->x == NULL && d->y == NULL && d->n == 0, "failure left data behind");
        FUZZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        return;
    }
    FUZZ_CHECK(d->n >= 1 && d->features >= 1 && d->seq_len == 1 && d->x && d->y, "bad shape n=%zu f=%zu", d->n,
               d->features);
    for (size_t i = 0; i < d->n * d->features; i++) FUZZ_CHECK(isfinite(d->x[i]), "x[%zu] not finite", i);
    for (size_t i = 0; i < d->n; i++) {
        float y = d->y[i];
        FUZZ_CHECK(isfinite(y), "y[%zu] not finite", i);
        if (!strcmp(task, "binary")) FUZZ_CHECK(y == 0.0f || y == 1.0f, "binary label %g", (double)y);
        if (!strcmp(task, "multiclass"))
            FUZZ_CHECK(y >= 0 && y == floorf(y) && (size_t)y < d->classes && d->classes >= 2 &&
                           d->classes <= CLGRAD_DATA_MAX_CLASSES,
                       "class %g of %zu", (double)y, d->classes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    char path[512], err[2048];
    fuzz_file_(0, "in.csv", data, size, path, sizeof path);
    static const char *const tasks[] = {"regression", "binary", "multiclass"};
    for (int t = 0; t < 3; t++) {
        clgrad_dataset d;
        memset(err, 0, sizeof err);
        int rc = clgrad_data_read_csv(path, "y", tasks[t], &d, err, sizeof err);
        check_(path, tasks[t], rc, &d, err);
        clgrad_dataset_free(&d);
    }
    return 0;
}
