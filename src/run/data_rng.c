/*
** data_rng.c: the host random generator for data (xoshiro256** seeded by
** splitmix64; unbiased bounded integers, 53-bit uniforms, polar-method
** normals), Fisher-Yates shuffles, and deterministic log/exp/sin/cos built
** from IEEE-exact operations only.  See data_internal.h for why and how.
*/
#include "run/data_internal.h"

#include <math.h>
#include <stdio.h>

/* ---- integer core ---- */

static uint64_t splitmix64_(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl_(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* State from (seed, stream, index): each input goes through splitmix64's
** mixer in turn, then four splitmix64 outputs fill the state (never all zero:
** splitmix64 is a bijection of distinct counters). */
void clgrad_drng_init(clgrad_drng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed;
    uint64_t h = splitmix64_(&x);
    x = h ^ (stream * 0xd1b54a32d192ed03u);
    h = splitmix64_(&x);
    x = h ^ (index * 0x8cb92ba72f3d8dd7u);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_(&x);
    r->spare = 0;
    r->has_spare = 0;
}

uint64_t clgrad_drng_u64(clgrad_drng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl_(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl_(s[3], 45);
    return result;
}

/* Rejection below 2^64 mod n keeps every residue equally likely. */
uint64_t clgrad_drng_below(clgrad_drng *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = clgrad_drng_u64(r);
        if (x >= threshold) return x % n;
    }
}

double clgrad_drng_uniform(clgrad_drng *r) { return (double)(clgrad_drng_u64(r) >> 11) * 0x1.0p-53; }

/* Marsaglia's polar method; every step is IEEE-exact or clgrad_det_log. */
double clgrad_drng_normal(clgrad_drng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * clgrad_drng_uniform(r) - 1.0;
        v = 2.0 * clgrad_drng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * clgrad_det_log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

void clgrad_drng_shuffle(clgrad_drng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)clgrad_drng_below(r, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* ---- deterministic elementary functions (fdlibm constants) ---- */

static const double ln2_hi = 6.93147180369123816490e-01; /* k * ln2_hi is exact for |k| < 2^11 */
static const double ln2_lo = 1.90821492927058770002e-10;

/* log x = e ln2 + log m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f),
** f = (m - 1)/(m + 1), |f| <= 0.1716: the series 2f (1 + f^2/3 + ... + f^20/21)
** has a remainder below 2^-56. */
double clgrad_det_log(double x)
{
    if (isnan(x) || x < 0) return NAN;
    if (x == 0) return -INFINITY;
    if (isinf(x)) return x;
    int e;
    double m = frexp(x, &e); /* [0.5, 1), exact */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    double f = (m - 1.0) / (m + 1.0);
    double z = f * f;
    double p = 1.0 / 21.0;
    for (int k = 19; k >= 3; k -= 2) p = 1.0 / k + z * p;
    double f2 = 2.0 * f;
    double lm = f2 + f2 * (z * p);
    double de = (double)e;
    return de * ln2_hi + (de * ln2_lo + lm);
}

/* exp x = 2^k exp r, |r| <= ln2/2, fdlibm's rational approximation. */
double clgrad_det_exp(double x)
{
    if (isnan(x)) return x;
    if (x > 709.0) return INFINITY;
    if (x < -745.0) return 0.0;
    static const double P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03,
                        P3 = 6.61375632143793436117e-05, P4 = -1.65339022054652515390e-06,
                        P5 = 4.13813679705723846039e-08, invln2 = 1.44269504088896338700e+00;
    double k = floor(x * invln2 + 0.5);
    double hi = x - k * ln2_hi;
    double lo = k * ln2_lo;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    return ldexp(y, (int)k);
}

/* sin and cos on [-pi/4, pi/4] (FreeBSD k_sin.c / k_cos.c without the tail). */
static double ksin_(double x)
{
    static const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                        S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                        S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    double z = x * x;
    double r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    double v = z * x;
    return x + v * (S1 + z * r);
}

static double kcos_(double x)
{
    static const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                        C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                        C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    double z = x * x;
    double r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    double hz = 0.5 * z;
    double w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + z * r);
}

/* Reduce x by k pi/2 (Cody-Waite, two parts: exact k * pio2_1 for
** |k| < 2^20).  Beyond |x| = 2^19 the argument is first reduced by fmod with
** the double nearest 2 pi (fmod is exact, so this stays deterministic, though
** no longer the true sin of such a huge x; the generators never get there). */
void clgrad_det_sincos(double x, double *s, double *c)
{
    if (!isfinite(x)) {
        *s = *c = NAN;
        return;
    }
    static const double pio2_1 = 1.57079632673412561417e+00, pio2_1t = 6.07710050650619224932e-11,
                        invpio2 = 6.36619772367581382433e-01, twopi = 6.28318530717958647693e+00;
    if (fabs(x) > 524288.0) x = fmod(x, twopi);
    double k = floor(x * invpio2 + 0.5);
    double y = (x - k * pio2_1) - k * pio2_1t;
    double sy = ksin_(y), cy = kcos_(y);
    long q = (long)fmod(k, 4.0);
    if (q < 0) q += 4;
    switch (q) {
    case 0: *s = sy, *c = cy; break;
    case 1: *s = cy, *c = -sy; break;
    case 2: *s = -sy, *c = -cy; break;
    default: *s = -cy, *c = sy; break;
    }
}

/* ---- small shared helpers ---- */

clgrad_status clgrad_data_err(char *err, size_t nerr, const char *fmt, ...)
{
    if (err && nerr) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, nerr, fmt, ap);
        va_end(ap);
    }
    return CLGRAD_E_IO;
}

int clgrad_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
