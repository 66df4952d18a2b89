/*
** fuzz_idx.c: libFuzzer harness for the IDX (MNIST) reader
** (clgrad_data_read_idx).  The input is split into the two files it needs:
** a 4-byte big-endian length L, then L bytes of images file, then the labels
** file (the rest; L is clamped to what is there).  Checks: no crash/UB/leak
** and no allocation larger than the file justifies (libFuzzer's
** -malloc_limit_mb / -rss_limit_mb catch that); on failure the dataset is
** zeroed and the message names a file; on success the shape matches the
** files, values are finite, labels are classes.
*/
#include "clgrad/data.h"
#include "fuzz_common.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 1 << 20) return 0;
    size_t L = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    if (L > size - 4) L = size - 4;
    char ip[512], lp[512], err[2048];
    fuzz_file_(0, "images.idx", data + 4, L, ip, sizeof ip);
    fuzz_file_(1, "labels.idx", data + 4 + L, size - 4 - L, lp, sizeof lp);
    clgrad_dataset d;
    memset(err, 0, sizeof err);
    int rc = clgrad_data_read_idx(ip, lp, &d, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == CLGRAD_E_IO, "rc %d", rc);
        FUZZ_CHECK(d.x == NULL && d.y == NULL && d.n == 0, "failure left data behind");
        FUZZ_CHECK(strstr(err, ip) || strstr(err, lp), "message names no file: %s", err);
        return 0;
    }
    FUZZ_CHECK(d.n >= 1 && d.features >= 1 && d.x && d.y && d.task == CLGRAD_TASK_MULTICLASS, "shape");
    FUZZ_CHECK(d.n * d.features <= L, "more values (%zu x %zu) than image bytes (%zu)", d.n, d.features, L);
    FUZZ_CHECK(d.n <= size - 4 - L, "more labels than label bytes");
    FUZZ_CHECK(d.classes >= 2 && d.classes <= 256, "classes %zu", d.classes);
    for (size_t i = 0; i < d.n * d.features; i++) FUZZ_CHECK(isfinite(d.x[i]), "x[%zu] not finite", i);
    for (size_t i = 0; i < d.n; i++) FUZZ_CHECK(d.y[i] >= 0 && (size_t)d.y[i] < d.classes, "label %g", (double)d.y[i]);
    clgrad_dataset_free(&d);
    return 0;
}
