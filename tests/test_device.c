/*
** test_device.c (device suite): opening a real device; the binary cache as
** seen through clgrad_open (cold build, warm start that compiles nothing, a
** corrupt entry rejected and rebuilt, an unusable cache directory that only
** warns); a broken kernel file from a test kernel directory failing with the
** build log and the file's name; bad device specs listing the real devices;
** clgrad_finish and clgrad_buf_read returning only once the queue's work is
** done, whether they poll first (clgrad_open_opts.wait_spin_us) or not, and a
** malformed $CLGRAD_WAIT_SPIN_US only warning.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/cache.h"
#include "fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_[256];
static const char *spec_; /* the fixture's device as P:D */
static char specbuf_[32];

static clgrad_ctx *open_(const char *cache_dir, const char *cl_dir, clgrad_status want)
{
    clgrad_ctx *c = clgrad_ctx_new();
    clgrad_open_opts o = {0};
    o.cache_dir = cache_dir;
    o.cl_dir = cl_dir;
    o.only = "matmul.cl";
    clgrad_status st = clgrad_open(c, spec_, &o);
    ck_assert_msg(st == want, "open: %s (wanted %s): %s", clgrad_status_name(st), clgrad_status_name(want),
                  clgrad_errmsg(c));
    return c;
}

START_TEST(warm_cache_compiles_nothing)
{
    char cache[300];
    snprintf(cache, sizeof cache, "%s/warm", dir_);
    clgrad_ctx *c = open_(cache, NULL, CLGRAD_OK);
    const clgrad_build_stats *b = clgrad_build_info(c);
    ck_assert_int_eq(b->programs, 1);
    ck_assert_int_eq(b->compiled, 1);
    ck_assert_int_eq(b->loaded, 0);
    char hash1[65];
    memcpy(hash1, b->source_hash, 65);
    clgrad_ctx_free(c);

    c = open_(cache, NULL, CLGRAD_OK);
    b = clgrad_build_info(c);
    ck_assert_int_eq(b->compiled, 0);
    ck_assert_int_eq(b->loaded, 1);
    ck_assert_str_eq(b->source_hash, hash1);
    ck_assert_int_eq(clgrad_program_from_cache(c, 0), 1);
    ck_assert_str_eq(clgrad_program_origin(c, 0), "embedded");
    ck_assert_ptr_nonnull(clgrad_kernel(c, "matmul_nn"));
    ck_assert_ptr_null(clgrad_kernel(c, "no_such_kernel"));
    ck_assert_ptr_nonnull(strstr(clgrad_errmsg(c), "no_such_kernel"));
    clgrad_ctx_free(c);
}
END_TEST

START_TEST(corrupt_entry_is_rebuilt)
{
    char cache[300];
    snprintf(cache, sizeof cache, "%s/corrupt", dir_);
    clgrad_ctx_free(open_(cache, NULL, CLGRAD_OK));
    /* damage every entry in the middle */
    DIR *d = opendir(cache);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".bin")) continue;
        char p[700];
        snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
        FILE *f = fopen(p, "r+b");
        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, sz / 2, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, sz / 2, SEEK_SET);
        fputc(ch ^ 0xff, f);
        fclose(f);
        n++;
    }
    closedir(d);
    ck_assert_int_eq(n, 1);
    clgrad_ctx *c = open_(cache, NULL, CLGRAD_OK);
    const clgrad_build_stats *b = clgrad_build_info(c);
    ck_assert_int_eq(b->cache_rejects, 1);
    ck_assert_int_eq(b->compiled, 1);
    ck_assert_int_eq(b->loaded, 0);
    ck_assert_msg(strstr(clgrad_warnings(c), "corrupt") != NULL, "%s", clgrad_warnings(c));
    clgrad_ctx_free(c);
    c = open_(cache, NULL, CLGRAD_OK); /* repaired */
    ck_assert_int_eq(clgrad_build_info(c)->loaded, 1);
    clgrad_ctx_free(c);
}
END_TEST

START_TEST(unusable_cache_dir_only_warns)
{
    char file[300], cache[320];
    snprintf(file, sizeof file, "%s/plainfile", dir_);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(cache, sizeof cache, "%s/cache", file);
    clgrad_ctx *c = open_(cache, NULL, CLGRAD_OK);
    /* refused when the context opens (not a directory we own): one warning, no write tried */
    ck_assert_int_eq(clgrad_build_info(c)->cache_write_failures, 0);
    ck_assert_int_eq(clgrad_build_info(c)->loaded, 0);
    ck_assert_msg(strstr(clgrad_warnings(c), "kernel cache: not using") != NULL, "%s", clgrad_warnings(c));
    /* the context works */
    cl_mem m = NULL;
    ck_assert_int_eq(clgrad_buf_new(c, 4, "m", &m), CLGRAD_OK);
    clgrad_buf_free(&m);
    clgrad_ctx_free(c);
}
END_TEST

START_TEST(broken_kernel_prints_build_log)
{
    char cl_dir[1024];
    const char *root = getenv("CLGRAD_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    snprintf(cl_dir, sizeof cl_dir, "%s/tests/cl_broken", root);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/broken", dir_);
    clgrad_ctx *c = open_(cache, cl_dir, CLGRAD_E_BUILD);
    const char *m = clgrad_errmsg(c);
    ck_assert_msg(strstr(m, "matmul.cl") && strstr(m, "cl_broken") && strstr(m, "build log") &&
                      strstr(m, "this_is_not_declared"),
                  "message: %s", m);
    clgrad_ctx_free(c);
}
END_TEST

/* A context whose waits poll for spin_us (negative: never) before they block. */
static clgrad_ctx *open_spin_(int spin_us)
{
    clgrad_ctx *c = clgrad_ctx_new();
    clgrad_open_opts o = {0};
    o.only = "matmul.cl";
    o.wait_spin_us = spin_us;
    ck_assert_msg(clgrad_open(c, spec_, &o) == CLGRAD_OK, "open: %s", clgrad_errmsg(c));
    return c;
}

START_TEST(waits_see_finished_work)
{
    const int spins[] = {-1, 1, 1000000}; /* sleep at once; poll 1 us; poll up to 1 s */
    const size_t n = (size_t)8 << 20;    /* 32 MiB: a fill and a read that take a while on any device */
    float *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (int i = 0; i < 3; i++) {
        clgrad_ctx *c = open_spin_(spins[i]);
        cl_mem m = NULL;
        ck_assert_int_eq(clgrad_buf_new(c, n, "m", &m), CLGRAD_OK);
        for (int r = 0; r < 3; r++) {
            float v = (float)(10 * i + r + 1);
            ck_assert_int_eq(clgrad_buf_fill(c, m, 0, n, v), CLGRAD_OK);
            cl_event e = NULL;
            ck_assert_int_eq(clEnqueueMarkerWithWaitList(clgrad_queue(c), 0, NULL, &e), CL_SUCCESS);
            ck_assert_int_eq(clgrad_finish(c), CLGRAD_OK);
            cl_int es = CL_QUEUED;
            ck_assert_int_eq(clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof es, &es, NULL), CL_SUCCESS);
            ck_assert_msg(es == CL_COMPLETE, "spin %d: clgrad_finish returned before the queue was done", spins[i]);
            clReleaseEvent(e);
            /* a fill then a read in one go: the read waits for both */
            ck_assert_int_eq(clgrad_buf_fill(c, m, n / 2, n / 2, -v), CLGRAD_OK);
            memset(h, 0, n * sizeof *h);
            ck_assert_int_eq(clgrad_buf_read(c, m, 0, n, h), CLGRAD_OK);
            size_t bad = 0;
            for (size_t k = 0; k < n; k++) bad += h[k] != (k < n / 2 ? v : -v);
            ck_assert_msg(bad == 0, "spin %d: %zu of %zu floats read back wrong", spins[i], bad, n);
        }
        clgrad_buf_free(&m);
        clgrad_ctx_free(c);
    }
    free(h);
    /* the environment's value when the options leave it open; a malformed one only warns */
    setenv("CLGRAD_WAIT_SPIN_US", "12x", 1);
    clgrad_ctx *c = open_spin_(0);
    ck_assert_msg(strstr(clgrad_warnings(c), "CLGRAD_WAIT_SPIN_US=12x") != NULL, "%s", clgrad_warnings(c));
    ck_assert_int_eq(clgrad_finish(c), CLGRAD_OK);
    clgrad_ctx_free(c);
    unsetenv("CLGRAD_WAIT_SPIN_US");
}
END_TEST

START_TEST(bad_spec_lists_real_devices)
{
    clgrad_ctx *c = clgrad_ctx_new();
    clgrad_open_opts o = {0};
    ck_assert_int_eq(clgrad_open(c, "no-such-device-xyz", &o), CLGRAD_E_NODEVICE);
    const clgrad_device_info *d = clgrad_device(fixture_ctx());
    ck_assert_msg(strstr(clgrad_errmsg(c), d->name) != NULL, "%s", clgrad_errmsg(c));
    clgrad_ctx_free(c);
}
END_TEST

int main(void)
{
    const clgrad_device_info *d = clgrad_device(fixture_open("matmul.cl"));
    snprintf(specbuf_, sizeof specbuf_, "%d:%d", d->platform_index, d->device_index);
    spec_ = specbuf_;
    snprintf(dir_, sizeof dir_, "/tmp/clgrad-test-device-XXXXXX");
    if (!mkdtemp(dir_)) return 1;
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("device");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, warm_cache_compiles_nothing);
    tcase_add_test(tc, corrupt_entry_is_rebuilt);
    tcase_add_test(tc, unusable_cache_dir_only_warns);
    tcase_add_test(tc, broken_kernel_prints_build_log);
    tcase_add_test(tc, bad_spec_lists_real_devices);
    tcase_add_test(tc, waits_see_finished_work);
    suite_add_tcase(s, tc);
    int r = fixture_run(s, 1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    if (system(cmd) != 0) r = 1;
    return r;
}
