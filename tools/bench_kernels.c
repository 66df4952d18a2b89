/*
** bench_kernels.c: throughput of the elementwise and reduction kernel
** families on one device, and the launch rate.
**
**   build/bench_kernels [--device SPEC] [--n N] [--reps R] [--only K,K..]   (default N = 2^24 floats)
**
** --only builds just the programs these kernels need and runs the rows whose
** numbers (0-based, in the order printed) are listed, e.g. --only 0,1,9,10.
**
** For each kernel: one warm-up launch, then R launches each ended by clFinish;
** prints the median time, the effective bandwidth (bytes the kernel must
** read and write / time, in GB/s) and, for tiny launches, launches per second
** (n = 1, R launches enqueued back to back, one clFinish at the end).
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

typedef struct {
    clgrad_ctx *ctx;
    cl_mem a, b, c, state, gs;
    clgrad_segs *segs;
    size_t n;
    clgrad_optim_cfg adam;
} bench_;

/* bias rows: n floats as a (n / BIAS_COLS, BIAS_COLS) matrix (a dense layer's batch x width) */
#define BIAS_COLS 256
static size_t rows_(size_t n) { return n / BIAS_COLS ? n / BIAS_COLS : 1; }

static clgrad_status op_(bench_ *B, int which, size_t n)
{
    switch (which) {
    case 0: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_TANH, 0, B->a, 0, B->b, 0, n);
    case 1: return clgrad_activation_backward(B->ctx, CLGRAD_ACT_TANH, 0, B->a, 0, B->b, 0, B->c, 0, n);
    case 2: return clgrad_reduce_stats1(B->ctx, B->a, 0, n, B->gs, 0);
    case 3: return clgrad_reduce_stats(B->ctx, B->a, 0, B->segs, B->c, 0);
    case 4: return clgrad_clip_value(B->ctx, B->b, 0, n, 1.0f, NULL, 0);
    case 5: return clgrad_optim_step(B->ctx, &B->adam, 1, 1e-3, B->b, B->a, B->state, n, B->gs, 0);
    case 6: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_RELU, 0, B->a, 0, B->b, 0, n);
    case 7: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_GELU, 0, B->a, 0, B->b, 0, n);
    case 8: return clgrad_activation_backward(B->ctx, CLGRAD_ACT_GELU, 0, B->a, 0, B->b, 0, B->c, 0, n);
    case 9: return clgrad_activation_bias_add(B->ctx, B->b, 0, rows_(n), n < BIAS_COLS ? n : BIAS_COLS, B->a, 0);
    case 10: return clgrad_activation_bias_grad(B->ctx, B->a, 0, rows_(n), n < BIAS_COLS ? n : BIAS_COLS, 0.0f, B->c, 0);
    case 11: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_SIGMOID, 0, B->a, 0, B->b, 0, n);
    case 12: return clgrad_activation_backward(B->ctx, CLGRAD_ACT_SIGMOID, 0, B->a, 0, B->b, 0, B->c, 0, n);
    case 13: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_ELU, 1.0f, B->a, 0, B->b, 0, n);
    case 14: return clgrad_activation_backward(B->ctx, CLGRAD_ACT_ELU, 1.0f, B->a, 0, B->b, 0, B->c, 0, n);
    case 15: return clgrad_activation_forward(B->ctx, CLGRAD_ACT_SOFTPLUS, 0, B->a, 0, B->b, 0, n);
    case 16: return clgrad_activation_backward(B->ctx, CLGRAD_ACT_SOFTPLUS, 0, B->a, 0, B->b, 0, B->c, 0, n);
    }
    return CLGRAD_E_ARG;
}

/* bytes moved per element: tanh fwd r+w, bwd 2r+w, stats r, segmented stats r, clip r+w, adam 4r+3w (p,g,m,v) + gs,
** relu / gelu fwd r+w, gelu bwd 2r+w, bias add r+w, bias grad r, then sigmoid / elu / softplus fwd r+w, bwd 2r+w */
static const double bytes_[] = {8, 12, 4, 4, 8, 28, 8, 8, 12, 8, 4, 8, 12, 8, 12, 8, 12};
static const char *names_[] = {"activation_forward (tanh)", "activation_backward (tanh)", "reduce_stats (1 tensor)",
                               "reduce_stats (16 segments)", "clip_value", "optim_step (adam)",
                               "activation_forward (relu)", "activation_forward (gelu)", "activation_backward (gelu)",
                               "bias_add (n/256 x 256)", "bias_grad (n/256 x 256)", "activation_forward (sigmoid)",
                               "activation_backward (sigmoid)", "activation_forward (elu)", "activation_backward (elu)",
                               "activation_forward (softplus)", "activation_backward (softplus)"};
#define NOPS ((int)(sizeof names_ / sizeof names_[0]))

/* Is k in the comma-separated list? */
static int listed_(const char *list, int k)
{
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) return 0;
        if (v == k) return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *spec = NULL;
    size_t n = (size_t)1 << 24;
    int reps = 11;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) spec = argv[++i];
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = (size_t)strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    }
    if (reps < 1 || reps > 1000) reps = 11;
    bench_ B = {0};
    B.n = n;
    B.ctx = clgrad_ctx_new();
    clgrad_open_opts o = {0};
    if (only) o.only = "activation.cl,reduce.cl,clip.cl,optim.cl";
    if (!B.ctx || clgrad_open(B.ctx, spec, &o) != CLGRAD_OK) {
        fprintf(stderr, "bench_kernels: %s\n", B.ctx ? clgrad_errmsg(B.ctx) : "out of memory");
        return 1;
    }
    B.adam = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    float *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    size_t off[16], len[16];
    for (int s = 0; s < 16; s++) off[s] = n / 16 * (size_t)s, len[s] = n / 16;
    if (clgrad_buf_new(B.ctx, n, "a", &B.a) || clgrad_buf_new(B.ctx, n, "b", &B.b) || clgrad_buf_new(B.ctx, n, "c", &B.c) ||
        clgrad_buf_new(B.ctx, 2 * n, "adam state", &B.state) || clgrad_buf_new(B.ctx, 64, "gs", &B.gs) ||
        clgrad_buf_write(B.ctx, B.a, 0, n, h) || clgrad_buf_write(B.ctx, B.b, 0, n, h) ||
        clgrad_buf_fill(B.ctx, B.state, 0, 2 * n, 0.0f) || clgrad_gradstate_reset(B.ctx, B.gs, 0) ||
        clgrad_segs_new(B.ctx, 16, off, len, &B.segs)) {
        fprintf(stderr, "bench_kernels: %s\n", clgrad_errmsg(B.ctx));
        return 1;
    }
    const clgrad_device_info *d = clgrad_device(B.ctx);
    printf("device: %s (%s); n = %zu floats, %d reps, median\n", d->name, d->platform_name, n, reps);
    printf("%-30s %12s %10s %16s\n", "kernel", "ms", "GB/s", "launches/s (n=1)");
    int rc = 0;
    for (int k = 0; k < NOPS && rc == 0; k++) {
        if (only && !listed_(only, k)) continue;
        double t[1000];
        for (int r = -1; r < reps && rc == 0; r++) {
            double t0 = now_();
            if (op_(&B, k, n) || clgrad_finish(B.ctx)) rc = 1;
            if (r >= 0) t[r] = now_() - t0;
        }
        /* launch rate: many tiny launches, one finish */
        int many = 2000;
        double t0 = now_();
        for (int r = 0; r < many && rc == 0; r++)
            if (op_(&B, k, k == 3 ? n : 1)) rc = 1;
        if (clgrad_finish(B.ctx)) rc = 1;
        double rate = many / (now_() - t0);
        if (rc) break;
        qsort(t, (size_t)reps, sizeof(double), cmp_);
        double med = t[reps / 2];
        if (k == 3) printf("%-30s %12.3f %10.1f %16s\n", names_[k], 1e3 * med, bytes_[k] * (double)n / med * 1e-9, "-");
        else printf("%-30s %12.3f %10.1f %16.0f\n", names_[k], 1e3 * med, bytes_[k] * (double)n / med * 1e-9, rate);
        fflush(stdout);
    }
    if (rc) fprintf(stderr, "bench_kernels: %s\n", clgrad_errmsg(B.ctx));
    clgrad_segs_free(&B.segs);
    clgrad_buf_free(&B.a), clgrad_buf_free(&B.b), clgrad_buf_free(&B.c), clgrad_buf_free(&B.state), clgrad_buf_free(&B.gs);
    clgrad_ctx_free(B.ctx);
    free(h);
    return rc;
}
