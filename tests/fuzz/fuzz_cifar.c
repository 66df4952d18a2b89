/*
** fuzz_cifar.c: libFuzzer harness for the CIFAR-10 binary batch reader
** (clgrad_data_read_cifar10).  The input is one batch file, read alone and
** as a two-file list ("f, f").  Checks: no crash/UB/leak; on failure the
** dataset is zeroed and the message names the file; on success there are
** size / 3073 records per file, labels are 0..9 and pixels in [0, 1].
*/
#include "clgrad/data.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_(const char *paths, const char *path, size_t size, size_t copies)
{
    clgrad_dataset d;
    char err[2048];
    memset(err, 0, sizeof err);
    int rc = clgrad_data_read_cifar10(paths, &d, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == CLGRAD_E_IO && d.x == NULL && d.y == NULL && d.n == 0, "failure left data behind");
        FUZZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        return;
    }
    FUZZ_CHECK(size % 3073 == 0 && d.n == copies * (size / 3073) && d.features == 3072 && d.classes == 10,
               "n %zu features %zu from %zu bytes", d.n, d.features, size);
    for (size_t i = 0; i < d.n; i++) FUZZ_CHECK(d.y[i] >= 0 && d.y[i] <= 9, "label %g", (double)d.y[i]);
    for (size_t i = 0; i < d.n * d.features; i++) FUZZ_CHECK(d.x[i] >= 0 && d.x[i] <= 1, "pixel %g", (double)d.x[i]);
    clgrad_dataset_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    char path[512], two[1100];
    fuzz_file_(0, "batch.bin", data, size, path, sizeof path);
    one_(path, path, size, 1);
    snprintf(two, sizeof two, "%s, %s", path, path);
    one_(two, path, size, 2);
    return 0;
}
