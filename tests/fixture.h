/*
** fixture.h: shared helpers of the Check test programs.
**
** Device tests open one context per test program (Check's no-fork mode: the
** OpenCL state does not survive fork) on $CLGRAD_TEST_DEVICE, else the PoCL
** platform if present, else the default device.  With no OpenCL device the
** program exits 77 (meson: SKIP), except when CI=true, where that is a failure.
** Random inputs are fresh on every run: the seed is taken from
** $CLGRAD_TEST_SEED or the clock, and printed, so any failure can be replayed.
*/
#ifndef CLGRAD_TEST_FIXTURE_H
#define CLGRAD_TEST_FIXTURE_H
#include "clgrad.h"
#include "check/check.h" /* the references, test random numbers (private) */
#include "core/internal.h" /* kernels by name, launches (private) */
#include <check.h>
#include <stddef.h>

/* Open the shared test context, building only the listed programs
** ("matmul.cl,reduce.cl"; NULL = all).  Exits 77 / fails as described above. */
clgrad_ctx *fixture_open(const char *only);
clgrad_ctx *fixture_ctx(void);
/* A second context on the same device opened with o (caller frees it). */
clgrad_ctx *fixture_open_with(const clgrad_open_opts *o);
/* A second context on the same device built with CLGRAD_WG = wg (caller
** frees it), or NULL where the device does not allow that work-group size.
** For the checks that results do not depend on the work-group size. */
clgrad_ctx *fixture_open_wg(const char *only, size_t wg);
/* 1 when the test device keeps single-precision denormals (CL_FP_DENORM);
** a device that flushes them cannot match a host float32 replica bit for
** bit, so replica comparisons fall back to the device's own default run. */
int fixture_denorms(void);
/* The work-group sizes those checks use. */
extern const size_t fixture_wgs[];
extern const int fixture_nwgs;
void fixture_close(void);

/* The run's random seed (printed once) and a generator seeded from it + salt. */
uint64_t fixture_seed(void);
clgrad_testrng fixture_rng(uint64_t salt);

/* Run a suite; device suites run without fork.  Returns main's exit status. */
int fixture_run(Suite *s, int device);

/* Compare device results with a float64 reference, element-wise tolerance
** atol + rtol*|ref| (NaN must match NaN, Inf the same Inf).  Prints the max
** error and the first five mismatches with `what`.  Returns the mismatch count. */
size_t fixture_check(const char *what, const float *dev, const double *ref, size_t n, double atol, double rtol);
/* The same with a per-element absolute tolerance tol[i]. */
size_t fixture_check_tol(const char *what, const float *dev, const double *ref, const double *tol, size_t n);
/* Bit for bit: the count of elements whose bits differ (any NaN equals any
** NaN: IEEE 754 leaves sign and payload open); the first 3 go to stderr. */
size_t fixture_check_bits(const char *what, const float *dev, const float *host, size_t n);

/* Upload n floats into a new buffer (ck_abort on failure). */
cl_mem fixture_upload(const float *host, size_t n, const char *what);
void fixture_download(cl_mem mem, float *host, size_t n);

/* Assert a clgrad call succeeded, printing the context's message if not. */
#define FX_OK(call)                                                                                \
    do {                                                                                           \
        clgrad_status st_ = (call);                                                                \
        ck_assert_msg(st_ == CLGRAD_OK, "%s -> %s: %s", #call, clgrad_status_name(st_),             \
                      clgrad_errmsg(fixture_ctx()));                                               \
    } while (0)

/* The awkward sizes every kernel is checked at. */
extern const size_t fixture_sizes[];
extern const int fixture_nsizes;
#endif
