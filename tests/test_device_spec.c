/*
** test_device_spec.c (unit suite, no device): device-spec parsing and
** selection against a fabricated device list: P:D, types, name substrings,
** exact names, ambiguity, unknown specs (whose errors list the devices),
** the CLGRAD_DEVICE variable and the default (first GPU, else first CPU).
*/
#include "fixture.h"
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

static void add_(clgrad_ctx *ctx, int p, int d, const char *plat, const char *name, cl_device_type t)
{
    ctx->devices = realloc(ctx->devices, (size_t)(ctx->ndevices + 1) * sizeof *ctx->devices);
    ck_assert_ptr_nonnull(ctx->devices);
    clgrad_device_info *di = &ctx->devices[ctx->ndevices++];
    memset(di, 0, sizeof *di);
    di->platform_index = p, di->device_index = d;
    snprintf(di->platform_name, sizeof di->platform_name, "%s", plat);
    snprintf(di->name, sizeof di->name, "%s", name);
    di->cl_type = t;
    snprintf(di->type, sizeof di->type, "%s", t == CL_DEVICE_TYPE_GPU ? "gpu" : t == CL_DEVICE_TYPE_CPU ? "cpu" : "other");
}

static clgrad_ctx *fake_(int with_gpu)
{
    clgrad_ctx *ctx = clgrad_ctx_new();
    add_(ctx, 0, 0, "Portable Computing Language", "pthread-haswell-AMD EPYC", CL_DEVICE_TYPE_CPU);
    add_(ctx, 0, 1, "Portable Computing Language", "basic-haswell-AMD EPYC", CL_DEVICE_TYPE_CPU);
    if (with_gpu) {
        add_(ctx, 1, 0, "NVIDIA CUDA", "NVIDIA H100 80GB HBM3", CL_DEVICE_TYPE_GPU);
        add_(ctx, 1, 1, "NVIDIA CUDA", "NVIDIA H100", CL_DEVICE_TYPE_GPU);
    }
    return ctx;
}

static int find_(clgrad_ctx *ctx, const char *spec)
{
    int idx = -1;
    return clgrad_device_find(ctx, spec, &idx) == CLGRAD_OK ? idx : -1;
}

START_TEST(good_specs)
{
    unsetenv("CLGRAD_DEVICE");
    clgrad_ctx *ctx = fake_(1);
    ck_assert_int_eq(find_(ctx, NULL), 2);   /* default: first GPU */
    ck_assert_int_eq(find_(ctx, ""), 2);
    ck_assert_int_eq(find_(ctx, "0:1"), 1);
    ck_assert_int_eq(find_(ctx, "1:0"), 2);
    ck_assert_int_eq(find_(ctx, "cpu"), 0);
    ck_assert_int_eq(find_(ctx, "GPU"), 2);
    ck_assert_int_eq(find_(ctx, "BASIC"), 1);         /* case-insensitive substring */
    ck_assert_int_eq(find_(ctx, "pthread"), 0);
    ck_assert_int_eq(find_(ctx, "nvidia h100"), 3);   /* exact name beats substring */
    ck_assert_int_eq(find_(ctx, "80GB"), 2);
    clgrad_ctx_free(ctx);

    ctx = fake_(0);
    ck_assert_int_eq(find_(ctx, NULL), 0);   /* no GPU: first CPU */
    setenv("CLGRAD_DEVICE", "0:1", 1);
    ck_assert_int_eq(find_(ctx, NULL), 1);   /* environment */
    ck_assert_int_eq(find_(ctx, "0:0"), 0);  /* explicit beats environment */
    unsetenv("CLGRAD_DEVICE");
    clgrad_ctx_free(ctx);
}
END_TEST

START_TEST(bad_specs_list_devices)
{
    static const char *bad[] = {"9:9", "accelerator", "gpu", "radeon", "Portable", "haswell", "0:0:0x"};
    clgrad_ctx *ctx = fake_(0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int idx = -1;
        ck_assert_int_eq(clgrad_device_find(ctx, bad[i], &idx), CLGRAD_E_NODEVICE);
        const char *m = clgrad_errmsg(ctx);
        ck_assert_msg(strstr(m, bad[i]) && strstr(m, "available devices") && strstr(m, "pthread-haswell-AMD EPYC") &&
                          strstr(m, "basic-haswell-AMD EPYC") && strstr(m, "0:1"),
                      "spec %s: %s", bad[i], m);
    }
    int idx;
    ck_assert_int_eq(clgrad_device_find(ctx, "Portable", &idx), CLGRAD_E_NODEVICE);
    ck_assert_ptr_nonnull(strstr(clgrad_errmsg(ctx), "ambiguous"));
    ck_assert_int_eq(clgrad_device_find(ctx, "radeon", &idx), CLGRAD_E_NODEVICE);
    ck_assert_ptr_nonnull(strstr(clgrad_errmsg(ctx), "matches no device"));
    clgrad_ctx_free(ctx);
}
END_TEST

START_TEST(error_names)
{
    ck_assert_str_eq(clgrad_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(clgrad_cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
    ck_assert_str_eq(clgrad_cl_error_name(-9999), "CL_UNKNOWN_ERROR(-9999)");
    clgrad_ctx *ctx = clgrad_ctx_new();
    ck_assert_int_eq(clgrad_fail_cl(ctx, CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel(q, k, 1)", "x.c", 7), CLGRAD_E_CL);
    ck_assert_msg(strncmp(clgrad_errmsg(ctx), "clEnqueueNDRangeKernel: CL_OUT_OF_RESOURCES", 43) == 0, "%s",
                  clgrad_errmsg(ctx));
    clgrad_ctx_free(ctx);
    clgrad_ctx_free(NULL); /* no-op */
}
END_TEST

START_TEST(same_bits_conditions)
{
    clgrad_device_info d;
    memset(&d, 0, sizeof d);
    char why[256], fl[160];
    const cl_device_fp_config full = CL_FP_DENORM | CL_FP_INF_NAN | CL_FP_ROUND_TO_NEAREST | CL_FP_FMA |
                                     CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT;
    d.single_fp = full;
    ck_assert_int_eq(clgrad_device_same_bits(&d, why, sizeof why), 1);
    ck_assert_str_eq(why, "");
    clgrad_fp_config_str(full, fl, sizeof fl);
    ck_assert_str_eq(fl, "denorm,inf_nan,rte,fma,cr_divsqrt");
    /* flushes denormals: outside, and says why */
    d.single_fp = full & ~(cl_device_fp_config)CL_FP_DENORM;
    ck_assert_int_eq(clgrad_device_same_bits(&d, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "denormals"));
    /* no correctly rounded division: inside only with fp64 (division in double) */
    d.single_fp = full & ~(cl_device_fp_config)CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT;
    d.has_fp64 = 0;
    ck_assert_int_eq(clgrad_device_same_bits(&d, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "division"));
    d.has_fp64 = 1;
    ck_assert_int_eq(clgrad_device_same_bits(&d, why, sizeof why), 1);
    /* round toward zero only, and an unknown config */
    d.single_fp = CL_FP_DENORM | CL_FP_INF_NAN | CL_FP_ROUND_TO_ZERO;
    ck_assert_int_eq(clgrad_device_same_bits(&d, why, sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(why, "round-to-nearest"));
    d.single_fp = 0;
    ck_assert_int_eq(clgrad_device_same_bits(&d, NULL, 0), 0);
    clgrad_fp_config_str(0, fl, sizeof fl);
    ck_assert_str_eq(fl, "none");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device_spec");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, good_specs);
    tcase_add_test(tc, bad_specs_list_devices);
    tcase_add_test(tc, error_names);
    tcase_add_test(tc, same_bits_conditions);
    suite_add_tcase(s, tc);
    return fixture_run(s, 0);
}
