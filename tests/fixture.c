/*
** fixture.c: the shared test context, seeds, comparisons (see fixture.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const size_t fixture_sizes[] = {1, 7, 63, 64, 65, 257};
const int fixture_nsizes = 6;
const size_t fixture_wgs[] = {1, 2, 16, 64, 256, 1024}; /* 1024: above the 256-item caps */
const int fixture_nwgs = 6;

static clgrad_ctx *ctx_;
static char spec_[64]; /* the device of the shared context, for fixture_open_wg */

clgrad_ctx *fixture_ctx(void) { return ctx_; }

static int ci_(void)
{
    const char *c = getenv("CI");
    return c && (strcmp(c, "true") == 0 || strcmp(c, "1") == 0);
}

clgrad_ctx *fixture_open(const char *only)
{
    if (ctx_) return ctx_;
    ctx_ = clgrad_ctx_new();
    if (!ctx_) { fprintf(stderr, "out of memory\n"); exit(1); }
    const char *spec = getenv("CLGRAD_TEST_DEVICE");
    const clgrad_device_info *list;
    int n;
    if (clgrad_devices(ctx_, &list, &n) != CLGRAD_OK) {
        fprintf(stderr, "no OpenCL device: %s\n", clgrad_errmsg(ctx_));
        if (ci_()) { fprintf(stderr, "CI=true: a device test without a device is a failure\n"); exit(1); }
        exit(77);
    }
    if (!spec || !*spec) {
        for (int i = 0; i < n; i++)
            if (strstr(list[i].platform_name, "Portable Computing Language")) {
                static char pd[32];
                snprintf(pd, sizeof pd, "%d:%d", list[i].platform_index, list[i].device_index);
                spec = pd;
                break;
            }
    }
    clgrad_open_opts o = {0};
    o.only = only;
    if (clgrad_open(ctx_, spec, &o) != CLGRAD_OK) {
        fprintf(stderr, "cannot open the test device: %s\n", clgrad_errmsg(ctx_));
        exit(ci_() || clgrad_devices(ctx_, NULL, NULL) == CLGRAD_OK ? 1 : 77);
    }
    const clgrad_device_info *d = clgrad_device(ctx_);
    fprintf(stderr, "test device: %d:%d %s (%s)\n", d->platform_index, d->device_index, d->name, d->platform_name);
    snprintf(spec_, sizeof spec_, "%d:%d", d->platform_index, d->device_index);
    return ctx_;
}

int fixture_denorms(void)
{
    cl_device_fp_config fc = 0;
    if (!ctx_ || clGetDeviceInfo(clgrad_device(ctx_)->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fc, &fc, NULL) !=
                     CL_SUCCESS)
        return 0;
    return (fc & CL_FP_DENORM) != 0;
}

clgrad_ctx *fixture_open_with(const clgrad_open_opts *o)
{
    ck_assert_msg(ctx_ != NULL, "fixture_open_with before fixture_open");
    clgrad_ctx *c = clgrad_ctx_new();
    ck_assert(c != NULL);
    clgrad_status st = clgrad_open(c, spec_, o);
    ck_assert_msg(st == CLGRAD_OK, "second context on %s: %s", spec_, clgrad_errmsg(c));
    return c;
}

clgrad_ctx *fixture_open_wg(const char *only, size_t wg)
{
    ck_assert_msg(ctx_ != NULL, "fixture_open_wg before fixture_open");
    const char *old = getenv("CLGRAD_WG");
    char *keep = old ? strdup(old) : NULL, v[32];
    snprintf(v, sizeof v, "%zu", wg);
    setenv("CLGRAD_WG", v, 1);
    clgrad_ctx *c = clgrad_ctx_new();
    ck_assert(c != NULL);
    clgrad_open_opts o = {0};
    o.only = only;
    clgrad_status st = clgrad_open(c, spec_, &o);
    if (keep) setenv("CLGRAD_WG", keep, 1), free(keep);
    else unsetenv("CLGRAD_WG");
    ck_assert_msg(st == CLGRAD_OK, "open with CLGRAD_WG=%zu: %s", wg, clgrad_errmsg(c));
    if (clgrad_wg(c) != wg) {
        clgrad_ctx_free(c);
        return NULL;
    }
    return c;
}

void fixture_close(void)
{
    clgrad_ctx_free(ctx_);
    ctx_ = NULL;
}

uint64_t fixture_seed(void)
{
    static uint64_t seed;
    static int have;
    if (!have) {
        const char *s = getenv("CLGRAD_TEST_SEED");
        if (s && *s) seed = strtoull(s, NULL, 0);
        else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
        }
        have = 1;
        fprintf(stderr, "random inputs: CLGRAD_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    return seed;
}

clgrad_testrng fixture_rng(uint64_t salt)
{
    clgrad_testrng r = {fixture_seed() ^ (salt * 0x9e3779b97f4a7c15ull)};
    clgrad_testrng_next(&r);
    return r;
}

int fixture_run(Suite *s, int device)
{
    SRunner *sr = srunner_create(s);
    if (device) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fixture_close();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static size_t check_(const char *what, const float *dev, const double *ref, const double *tolv, size_t n,
                     double atol, double rtol)
{
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = dev[i], r = ref[i], tol = tolv ? tolv[i] : atol + rtol * fabs(r);
        int ok;
        if (isnan(r) || isnan(d)) ok = isnan(r) && isnan(d);
        else if (isinf(r) || isinf(d)) ok = d == r;
        else {
            double e = fabs(d - r);
            if (e > worst) worst = e;
            ok = e <= tol;
        }
        if (!ok && bad++ < 5)
            fprintf(stderr, "  %s: [%zu] device %.9g reference %.17g (|diff| %.3g, tol %.3g)\n", what, i, d, r,
                    fabs(d - r), tol);
    }
    if (bad) fprintf(stderr, "  %s: %zu of %zu mismatches, max |diff| %.3g\n", what, bad, n, worst);
    return bad;
}

size_t fixture_check(const char *what, const float *dev, const double *ref, size_t n, double atol, double rtol)
{
    return check_(what, dev, ref, NULL, n, atol, rtol);
}

size_t fixture_check_tol(const char *what, const float *dev, const double *ref, const double *tol, size_t n)
{
    return check_(what, dev, ref, tol, n, 0, 0);
}

cl_mem fixture_upload(const float *host, size_t n, const char *what)
{
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx_, n, what, &m));
    FX_OK(clgrad_buf_write(ctx_, m, 0, n, host));
    return m;
}

void fixture_download(cl_mem mem, float *host, size_t n) { FX_OK(clgrad_buf_read(ctx_, mem, 0, n, host)); }

size_t fixture_check_bits(const char *what, const float *dev, const float *host, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(dev[i]) && isnan(host[i])) continue; /* NaN payloads may differ between devices */
        if (memcmp(&dev[i], &host[i], sizeof(float)) != 0 && bad++ < 3)
            fprintf(stderr, "  %s: [%zu] device %a host %a\n", what, i, (double)dev[i], (double)host[i]);
    }
    return bad;
}
