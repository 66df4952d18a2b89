/*
** bench_gemm.c: GEMM throughput, clgrad's own kernel vs CLBlast, side by side
** in one run on one device.
**
**   build/bench_gemm [--device SPEC] [--reps R] [N ...]     (default N: 256 512 1024)
**
** For each square size N: C = A*B (NN, beta 0), one warm-up call per backend
** (which also compiles CLBlast's kernels), then R timed calls each ended by
** clFinish; prints the median and the best in GFLOP/s (2*N^3 flops per call)
** and the ratio own/CLBlast of the medians.  Backends are interleaved call by
** call so that load from other processes hits both alike.
*/
#include "clgrad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *spec = NULL;
    int reps = 7;
    size_t sizes[32];
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) spec = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (ns < 32) sizes[ns++] = (size_t)strtoull(argv[i], NULL, 10);
    }
    if (ns == 0) sizes[ns++] = 256, sizes[ns++] = 512, sizes[ns++] = 1024;
    if (reps < 1) reps = 1;

    clgrad_ctx *ctx = clgrad_ctx_new();
    clgrad_open_opts o = {0};
    o.only = "matmul.cl";
    if (!ctx || clgrad_open(ctx, spec, &o) != CLGRAD_OK) {
        fprintf(stderr, "bench_gemm: %s\n", ctx ? clgrad_errmsg(ctx) : "out of memory");
        return 1;
    }
    const clgrad_device_info *d = clgrad_device(ctx);
    printf("device: %s (%s, driver %s); own variant %s; %d reps, median (best)\n", d->name, d->platform_name,
           d->driver_version, clgrad_gemm_variant(ctx), reps);
    printf("%6s %22s %22s %10s\n", "N", "own GFLOP/s", "CLBlast GFLOP/s", "own/CLBlast");
    int rc = 0;
    for (int s = 0; s < ns && rc == 0; s++) {
        size_t n = sizes[s], nn = n * n;
        float *h = malloc(nn * sizeof *h);
        for (size_t i = 0; i < nn; i++) h[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        cl_mem A = NULL, B = NULL, C = NULL;
        double t[2][64];
        int r = reps > 64 ? 64 : reps;
        if (clgrad_buf_new(ctx, nn, "A", &A) || clgrad_buf_new(ctx, nn, "B", &B) || clgrad_buf_new(ctx, nn, "C", &C) ||
            clgrad_buf_write(ctx, A, 0, nn, h) || clgrad_buf_write(ctx, B, 0, nn, h)) {
            fprintf(stderr, "bench_gemm: %s\n", clgrad_errmsg(ctx));
            rc = 1;
        }
        for (int k = -1; k < r && rc == 0; k++)
            for (int b = 0; b < 2 && rc == 0; b++) {
                clgrad_set_gemm_backend(ctx, b ? CLGRAD_GEMM_CLBLAST : CLGRAD_GEMM_OWN);
                double t0 = now_();
                if (clgrad_gemm(ctx, 0, 0, n, n, n, 1.0f, A, 0, n, B, 0, n, 0.0f, C, 0, n) || clgrad_finish(ctx)) {
                    fprintf(stderr, "bench_gemm: %s\n", clgrad_errmsg(ctx));
                    rc = 1;
                }
                if (k >= 0) t[b][k] = now_() - t0;
            }
        if (rc == 0) {
            double med[2], best[2];
            for (int b = 0; b < 2; b++) {
                qsort(t[b], (size_t)r, sizeof(double), cmp_);
                med[b] = 2.0 * n * n * n / t[b][r / 2] * 1e-9;
                best[b] = 2.0 * n * n * n / t[b][0] * 1e-9;
            }
            printf("%6zu %12.1f (%7.1f) %12.1f (%7.1f) %10.2f\n", n, med[0], best[0], med[1], best[1], med[0] / med[1]);
            fflush(stdout);
        }
        clgrad_buf_free(&A), clgrad_buf_free(&B), clgrad_buf_free(&C);
        free(h);
    }
    clgrad_ctx_free(ctx);
    return rc;
}
