/*
** fuzz_npy.c: libFuzzer harness for the .npy reader (clgrad_npy_read).  The
** input is a .npy file; it is read with maxdim 32 and with maxdim 2.  Checks:
** no crash/UB/leak, no allocation beyond the file's size (the data size is
** checked against the file before allocating); on success the element count
** matches the file's data bytes, and writing the array back
** (clgrad_npy_write) and reading it again gives the same shape and bytes.
*/
#include "clgrad/data.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_(const char *path, size_t size, int maxdim)
{
    float *x = NULL;
    size_t shape[32];
    int nd = -1;
    char err[2048];
    memset(err, 0, sizeof err);
    int rc = clgrad_npy_read(path, &x, shape, &nd, maxdim, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == CLGRAD_E_IO && x == NULL, "failure left data behind");
        FUZZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        return;
    }
    FUZZ_CHECK(x != NULL && nd >= 0 && nd <= maxdim, "nd %d", nd);
    size_t count = 1;
    for (int i = 0; i < nd; i++) count *= shape[i];
    FUZZ_CHECK(count * 4 <= size, "%zu floats from a %zu-byte file", count, size);
    /* write back and read again */
    char out[600];
    snprintf(out, sizeof out, "%s/out.npy", fuzz_dir_());
    snprintf(fuzz_made_[1], sizeof fuzz_made_[1], "%s", out);
    if (clgrad_npy_write(out, x, shape, nd, err, sizeof err) == 0) {
        float *y = NULL;
        size_t s2[32];
        int nd2 = -1;
        FUZZ_CHECK(clgrad_npy_read(out, &y, s2, &nd2, 32, err, sizeof err) == 0, "re-read: %s", err);
        FUZZ_CHECK(nd2 == nd && !memcmp(s2, shape, (size_t)nd * sizeof *shape), "shape changed");
        FUZZ_CHECK(!memcmp(x, y, count * sizeof *x), "data changed");
        free(y);
    }
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    char path[512];
    fuzz_file_(0, "in.npy", data, size, path, sizeof path);
    one_(path, size, 32);
    one_(path, size, 2);
    return 0;
}
