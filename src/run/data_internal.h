/*
** data_internal.h: helpers shared by the data source files (data.c,
** data_rng.c, data_gen.c, data_file.c, npy.c) and their test: the host
** random generator for data, deterministic elementary functions, error
** formatting and overflow-checked sizes.  Not installed; not public API.
**
** Host random numbers for data
** ----------------------------
** xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64 from
** (seed, stream, index): the integer core is exact, so the bit stream is the
** same on every host.  Derived values:
**   - u64:     the raw 64-bit output;
**   - below(n): an unbiased integer in [0, n) by rejection: draws r until
**               r >= 2^64 mod n, returns r mod n (no modulo bias);
**   - uniform: [0, 1) from the top 53 bits: (r >> 11) * 2^-53 (exact);
**   - normal:  Marsaglia's polar method: u, v = 2*uniform - 1 until
**               0 < s = u*u + v*v < 1, then u*f and v*f with
**               f = sqrt(-2 log(s) / s); the second value is kept for the
**               next call.  sqrt is IEEE correctly rounded and log is
**               clgrad_det_log below, so normals use only IEEE-exact
**               operations (+ - * / sqrt, frexp/ldexp) and are bit-identical
**               on every IEEE-754 host that evaluates double in double
**               (FLT_EVAL_METHOD 0: x86-64 SSE2, AArch64, ...) and does not
**               contract a*b+c into fma (the pragma below turns contraction
**               off for GCC and clang in every data source file).
**               tests/test_data.c checks golden bits from an independent
**               Python model to catch a host or build that differs.
**
** Deterministic elementary functions
** ----------------------------------
** clgrad_det_log / _exp / _sincos are small fdlibm-style implementations
** (argument reduction + fixed polynomial) written with + - * / only, so they
** give the same bits everywhere; they are accurate to a few ulp (the test
** checks <= 4 ulp against libm), which is plenty for data.  libm's own
** functions are not used by the generators because their last bit may differ
** between C libraries.
*/
#ifndef CLGRAD_DATA_INTERNAL_H
#define CLGRAD_DATA_INTERNAL_H
#include "clgrad/data.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* No a*b+c -> fma contraction in the data code, whatever the build's
** -std/-ffp-contract (GCC contracts by default in gnu modes). */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* Streams: independent random sequences derived from one seed. */
enum {
    CLGRAD_STREAM_GEN = 1,   /* generators; index = the generator's kind */
    CLGRAD_STREAM_SPLIT = 2, /* the train/test split shuffle */
    CLGRAD_STREAM_EPOCH = 3  /* minibatch order; index = the epoch */
};

typedef struct clgrad_drng {
    uint64_t s[4];
    double spare; /* the polar method's second normal */
    int has_spare;
} clgrad_drng;

void clgrad_drng_init(clgrad_drng *r, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t clgrad_drng_u64(clgrad_drng *r);
uint64_t clgrad_drng_below(clgrad_drng *r, uint64_t n); /* [0, n); n >= 1 */
double clgrad_drng_uniform(clgrad_drng *r);            /* [0, 1) */
double clgrad_drng_normal(clgrad_drng *r);             /* N(0, 1) */
/* Fisher-Yates: idx becomes a uniformly random permutation of idx. */
void clgrad_drng_shuffle(clgrad_drng *r, size_t *idx, size_t n);

double clgrad_det_log(double x);  /* x > 0 finite; else NaN or -Inf like log */
double clgrad_det_exp(double x);  /* |x| < 700; saturates to 0 / Inf outside */
void clgrad_det_sincos(double x, double *s, double *c);

/* A helper's int result as a status: 0 is CLGRAD_OK, a status stays itself,
** any other failure (-1) is `fallback`. */
clgrad_status clgrad_status_of_(int rc, clgrad_status fallback); /* dataset.c */

/* Error messages: snprintf into err (NULL-safe); always returns CLGRAD_E_IO. */
clgrad_status clgrad_data_err(char *err, size_t nerr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* *out = a * b; 0 on success, -1 on size_t overflow. */
int clgrad_mul_size(size_t a, size_t b, size_t *out);

/* Open path for reading ("rb") and get its size; it must be a regular file.
** NULL + err on failure. */
FILE *clgrad_data_open_sized(const char *path, size_t *size, char *err, size_t nerr);
/* fread exactly n bytes; CLGRAD_E_IO + err naming path otherwise. */
clgrad_status clgrad_data_read_exact(FILE *f, void *dst, size_t n, const char *path, char *err, size_t nerr);

/* Allocate d->x (n, seq_len, features) and d->y (n, 1) zeroed and set the
** shape fields; checks the sizes for overflow.  CLGRAD_OK, or CLGRAD_E_IO + err. */
clgrad_status clgrad_dataset_alloc(clgrad_dataset *d, size_t n, size_t seq_len, size_t features, const char *what, char *err,
                         size_t nerr);
#endif
