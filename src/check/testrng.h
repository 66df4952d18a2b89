/*
** check/testrng.h (private, not installed): deterministic host random numbers
** for checks, tests and benchmark inputs (splitmix64).  Inline, so that the
** library, the clgrad executable and the tests each have their own copy and
** no symbol of it is exported.
*/
#ifndef CLGRAD_CHECK_TESTRNG_H
#define CLGRAD_CHECK_TESTRNG_H
#include <stdint.h>

typedef struct { uint64_t s; } clgrad_testrng;

static inline uint64_t clgrad_testrng_next(clgrad_testrng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi) */
static inline float clgrad_testrng_uniform(clgrad_testrng *r, float lo, float hi)
{
    double u = (double)(clgrad_testrng_next(r) >> 11) * 0x1.0p-53;
    return (float)(lo + (hi - lo) * u);
}
#endif
