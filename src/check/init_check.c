/*
** init_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "init" self-check of src/ops/init.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../cl/init.cl"

/* ------------------------------------------------------------------------ */
/* Self-check                                                               */
/* ------------------------------------------------------------------------ */
/* Philox known answers (Random123 kat_vectors, philox4x32_10). */
static const uint32_t kat_[3][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
    {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
     0xa20bc7c6u, 0x6d5451fdu},
    {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
     0x5001e420u, 0x24126ea1u},
};

static clgrad_status check_kat_(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    cl_mem in = NULL, out = NULL;
    float fin[18], fout[12];
    uint32_t win[18], wout[12];
    int host_ok = 1, dev_ok;
    for (int v = 0; v < 3; v++) {
        uint32_t h[4];
        clgrad_philox4x32_10(kat_[v], kat_[v] + 4, h);
        for (int k = 0; k < 6; k++) win[6 * v + k] = kat_[v][k];
        for (int k = 0; k < 4; k++) host_ok &= h[k] == kat_[v][6 + k];
    }
    memcpy(fin, win, sizeof fin);
    CLGRAD_TRY(clgrad_buf_new(ctx, 18, "philox in", &in));
    CLGRAD_TRY(clgrad_buf_new(ctx, 12, "philox out", &out));
    CLGRAD_TRY(clgrad_buf_write(ctx, in, 0, 18, fin));
    CLGRAD_TRY(clgrad_init_philox(ctx, 3, in, out));
    CLGRAD_TRY(clgrad_buf_read(ctx, out, 0, 12, fout));
    memcpy(wout, fout, sizeof wout);
    dev_ok = 1;
    for (int v = 0; v < 3; v++)
        for (int k = 0; k < 4; k++) dev_ok &= wout[4 * v + k] == kat_[v][6 + k];
    report(user, "init", "philox4x32-10 known answers (host)", host_ok, host_ok ? 0.0 : 1.0, 0.0);
    report(user, "init", "philox4x32-10 known answers (device)", dev_ok, dev_ok ? 0.0 : 1.0, 0.0);
fail:
    clgrad_buf_free(&in);
    clgrad_buf_free(&out);
    return st;
}

/* Host normal draws against float64 libm on the same words: 4 ulp of |z|
** (measured worst case 2 ulp; see tests/test_init.c). */
static void check_normal_accuracy_(clgrad_check_fn report, void *user)
{
    double worst = 0.0;
    for (uint32_t i = 0; i < 4096; i++) {
        uint32_t w[4];
        clgrad_rng_block(12345u, 7u, i, w);
        float z = clgrad_rng_normal(w[0], w[1]);
        double u = ((double)(w[0] >> 9) * 2 + 1) * 0x1p-24, t = ((double)(w[1] >> 8) + 0.5) * 0x1p-24;
        double ref = sqrt(-2.0 * log(u)) * cos(6.283185307179586 * t);
        int e;
        frexp(ref, &e);
        double ulp = ldexp(1.0, e - 24);
        double err = fabs(z - ref) / ulp;
        if (err > worst) worst = err;
    }
    report(user, "init", "normal draw vs float64 libm (ulp)", worst <= 4.0, worst, 4.0);
}

clgrad_status clgrad_selfcheck_init(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    const size_t rows = 65, cols = 63, n = rows * cols;
    cl_mem buf = NULL;
    float *host = malloc(n * sizeof *host), *dev = malloc(n * sizeof *dev);
    if (!host || !dev) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "init selfcheck: out of memory");
        goto fail;
    }
    CLGRAD_TRY(check_kat_(ctx, report, user));
    check_normal_accuracy_(report, user);
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "init selfcheck", &buf));
    for (int kind = 0; kind < CLGRAD_INIT_NKINDS; kind++) {
        clgrad_init_cfg cfg = clgrad_init_default((clgrad_init_kind)kind);
        cfg.value = 0.5, cfg.a = -1.5, cfg.b = 0.5, cfg.mean = 0.25, cfg.std = 2.0;
        if (clgrad_init_tensor_host(&cfg, 2024u, (uint32_t)kind, cols, rows, rows, cols, host) != CLGRAD_OK) {
            st = clgrad_fail(ctx, CLGRAD_E_ARG, "init selfcheck: host %s failed", clgrad_init_name(cfg.kind));
            goto fail;
        }
        CLGRAD_TRY(clgrad_init_tensor(ctx, &cfg, 2024u, (uint32_t)kind, cols, rows, rows, cols, buf, 0));
        CLGRAD_TRY(clgrad_buf_read(ctx, buf, 0, n, dev));
        double worst = 0.0;
        for (size_t i = 0; i < n; i++) {
            double e = fabs((double)dev[i] - (double)host[i]);
            if (!(e <= worst)) worst = e; /* NaN propagates */
        }
        char what[96];
        snprintf(what, sizeof what, "%s %zux%zu device == host (bits)", clgrad_init_name(cfg.kind), rows, cols);
        report(user, "init", what, memcmp(dev, host, n * sizeof *dev) == 0, worst, 0.0);
    }
fail:
    clgrad_buf_free(&buf);
    free(host), free(dev);
    return st;
}
