/*
** clgrad/fingerprint.h: the numerics fingerprint of a device.
**
** Every kernel family of the own backend runs on fixed inputs (awkward
** sizes; ±0, denormals, huge values, ±Inf and NaN among ordinary ones) and
** every output bit is hashed (SHA-256), per family and over all families.
** Two devices with the same fingerprint computed the same bits on all of
** it, so they compute the same runs; a differing family hash names the
** family to look at.  The inputs are a function of nothing but this file's
** code; CLBlast is never used (it is outside the same-bits guarantee).
*/
#ifndef CLGRAD_FINGERPRINT_H
#define CLGRAD_FINGERPRINT_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLGRAD_FP_MAXFAM 12
#define CLGRAD_FP_HEX 16 /* hex digits shown: the first 64 bits of each SHA-256 */

typedef struct clgrad_fingerprint {
    char all[CLGRAD_FP_HEX + 1];       /* over every family's outputs, in family order */
    int nfam;
    const char *family[CLGRAD_FP_MAXFAM];   /* "gemm", "activation", ... (static strings) */
    char hex[CLGRAD_FP_MAXFAM][CLGRAD_FP_HEX + 1];
    unsigned long long values[CLGRAD_FP_MAXFAM]; /* output floats hashed per family */
} clgrad_fingerprint;

/* Run the fingerprint workload on ctx's device (a few hundred small
** launches).  The GEMM backend is the own one for the duration. */
clgrad_status clgrad_numerics_fingerprint(clgrad_ctx *ctx, clgrad_fingerprint *fp);

#ifdef __cplusplus
}
#endif
#endif
