/*
** fuzz_common.h: helpers shared by the libFuzzer harnesses in tests/fuzz/:
** a per-process scratch directory and writing the fuzz input to a file (the
** readers take paths and check sizes against the real file with fstat).
*/
#ifndef CLGRAD_FUZZ_COMMON_H
#define CLGRAD_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path_[256];
static char fuzz_made_[4][300];

/* Remove the scratch files and directory at exit. */
static void fuzz_cleanup_(void)
{
    for (int i = 0; i < 4; i++)
        if (fuzz_made_[i][0]) unlink(fuzz_made_[i]);
    if (fuzz_dir_path_[0]) rmdir(fuzz_dir_path_);
}

/* A scratch directory made once per process (under $CLGRAD_FUZZ_TMP, else
** /dev/shm when writable, else /tmp: the harnesses write a file per input). */
static const char *fuzz_dir_(void)
{
    char *dir = fuzz_dir_path_;
    if (dir[0]) return dir;
    const char *base = getenv("CLGRAD_FUZZ_TMP");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof fuzz_dir_path_, "%s/clgrad-fuzz-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup_);
    return dir;
}

/* Write data[0..n) to <scratch>/name (slot 0..3 remembers it for clean-up); returns path. */
__attribute__((unused)) static const char *fuzz_file_(int slot, const char *name, const uint8_t *data, size_t n, char *path, size_t npath)
{
    snprintf(path, npath, "%s/%s", fuzz_dir_(), name);
    snprintf(fuzz_made_[slot], sizeof fuzz_made_[slot], "%s", path);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Abort with a message: a property the harness checks does not hold. */
#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)
#endif
