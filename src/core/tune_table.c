/*
** tune_table.c: the shipped starting points of the own GEMM's parameters by
** device class (clgrad/tune.h), for devices `clgrad tune` has not measured.
** A CPU's vector width is read from its name (PoCL names the LLVM CPU, e.g.
** "cpu-skylake-avx512-...") and its extensions.  Any row gives the same bits
** as any other: they differ only in speed.
*/
#include "core/internal.h"

#include <string.h>

static int has_(const char *s, const char *word) { return s && strstr(s, word) != NULL; }

void clgrad_gemm_tune_table(const clgrad_device_info *d, clgrad_gemm_tune *t)
{
    clgrad_gemm_tune_defaults(t);
    snprintf(t->source, sizeof t->source, "table");
    if (d->cl_type & CL_DEVICE_TYPE_CPU) {
        /* AVX-512: 32 zmm registers, one float16 each; 6 rows x 32 columns
        ** keeps 12 accumulators + 2 B vectors + a broadcast in registers
        ** (measured on PoCL, skylake-avx512, 2 cores: about 2x the AVX2
        ** layout 6 x 16 at n = 2048) */
        if (has_(d->name, "avx512") || has_(d->name, "AVX-512") || has_(d->name, "sapphirerapids") ||
            has_(d->name, "icelake") || has_(d->name, "znver4") || has_(d->name, "cascadelake")) {
            t->cpu_mr = 6, t->cpu_nw = 2;
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
