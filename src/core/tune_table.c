/*
** tune_table.c: the shipped starting points of the own GEMM's parameters by
** device class (clgrad/tune.h), for devices `clgrad tune` has not measured,
** and the built-in defaults every row starts from.
** A CPU's vector width is read from its name (PoCL names the LLVM CPU, e.g.
** "cpu-skylake-avx512-...") and its extensions.  Any row gives the same bits
** as any other: they differ only in speed.
*/
#include "core/internal.h"

#include <string.h>

void clgrad_gemm_tune_defaults(clgrad_gemm_tune *t)
{
    memset(t, 0, sizeof *t);
    t->cpu_mr = 6, t->cpu_nw = 1, t->cpu_direct_max = 64 * 1024, t->cpu_pack_a_min = 64 * 1024;
    t->wgm = 16, t->wgn = 16, t->rm = 4, t->rn = 4, t->tk = 16;
    snprintf(t->source, sizeof t->source, "builtin");
}

static int has_(const char *s, const char *word) { return s && strstr(s, word) != NULL; }

void clgrad_gemm_tune_table(const clgrad_device_info *d, clgrad_gemm_tune *t)
{
    clgrad_gemm_tune_defaults(t);
    snprintf(t->source, sizeof t->source, "table");
    if (d->cl_type & CL_DEVICE_TYPE_CPU) {
        /* AVX-512: 32 zmm registers, one float16 each; 4 rows x 64 columns
        ** keeps 16 accumulators + 4 B vectors + a broadcast in registers.
        ** Measured on PoCL, skylake-avx512 (AMD EPYC), 2 cores, one
        ** `clgrad bench` each: n = 1024 425 GFLOP/s against 205 (6 x 16)
        ** and 285 (6 x 32); the medium MLP step 5.0-5.5 ms against 5.8-6.2
        ** (6 x 16) and 8.2-8.8 (6 x 32) */
        if (has_(d->name, "avx512") || has_(d->name, "AVX-512") || has_(d->name, "sapphirerapids") ||
            has_(d->name, "icelake") || has_(d->name, "znver4") || has_(d->name, "cascadelake")) {
            t->cpu_mr = 4, t->cpu_nw = 4;
        }
        return; /* AVX2 and the rest: 6 x 16, the built-in default */
    }
    if (has_(d->vendor, "NVIDIA")) {
        t->wgm = 16, t->wgn = 16, t->rm = 8, t->rn = 4, t->tk = 16;
    } else if (has_(d->vendor, "Advanced Micro Devices") || has_(d->vendor, "AMD")) {
        t->wgm = 16, t->wgn = 16, t->rm = 4, t->rn = 4, t->tk = 16;
    } else if (has_(d->vendor, "Intel")) {
        t->wgm = 8, t->wgn = 16, t->rm = 4, t->rn = 4, t->tk = 16;
    }
}
