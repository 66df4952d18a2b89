/*
** test_init.c: the counter-based generator and weight initialisation.
**
** - Philox-4x32-10 known answers (Random123 kat_vectors) on host and device,
**   and device == host (memcmp) on random counters and keys.
** - The exact-operation math against float64 libm, exhaustively where the
**   generator's inputs are a finite grid: log over all 2^23 values rng_u01
**   can take, sin/cos over all 2^24 angles, plus random inputs over the whole
**   domain (log, sqrt) and the Box-Muller normal on random words.  The max
**   ulp errors are printed; the bounds are the measured worst cases rounded
**   up (log 1, sqrt 1, sin/cos 2, normal 4 ulp).  For log and sin/cos they
**   cover every input the generator can produce, not a sample.
** - The same functions on the device == host bit for bit (memcmp, 1e6 inputs).
** - Every kind at sizes 1, 7, 63, 64, 65, 257 and 1e6, written at an offset
**   into a guarded buffer: device == host bit for bit, guards untouched, and
**   each element against a float64 reference computed from the Philox words
**   with a rounding-error tolerance (see ref_tol_).
** - Statistics over 1e6 draws for every random kind: the sample mean within
**   1% of the formula's std of the formula's mean, and the sample variance
**   within 1% of the formula's variance.  With N = 1e6 draws the standard
**   error of the mean is std/1000, so 1% of std is 10 standard errors; the
**   standard error of the sample variance is var*sqrt(2/N) = 1.4e-3 var for a
**   normal (var*sqrt(0.8/N) = 0.9e-3 var for a uniform), so 1% is more than 7
**   standard errors: a correct generator fails with probability < 1e-12,
**   while a wrong bound or std (e.g. a missing sqrt(3) or gain) fails for
**   sure.  Uniform draws stay in their bounds and reach both ends; normal
**   draws put 68.27% / 95.45% within 1 / 2 std (+-0.3%, 6 standard errors).
** - Different seeds, tensor ids, high seed words and high index words give
**   different streams (sample correlation within 5 standard errors of 0).
** - Orthogonal: W W^T (or W^T W) = gain^2 I, Q^T G upper triangular with a
**   positive diagonal (the sign convention), device == host.
** - The PyTorch constants of semantics.md; names; invalid configurations.
** The seed of every random input is fixture_seed() (printed), so each run
** checks fresh streams and any failure can be replayed.
*/
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U24 0x1p-24 /* float's unit roundoff */

static double ulp_err_(float f, double ref)
{
    int e;
    frexp(ref, &e);
    return fabs((double)f - ref) / ldexp(1.0, e - 24);
}

/* A positive normal float with exponent in [lo, hi] (unbiased) and random mantissa. */
static float rand_float_(clgrad_testrng *r, int lo, int hi)
{
    uint64_t b = clgrad_testrng_next(r);
    uint32_t ex = (uint32_t)(lo + 127 + (int)(b % (uint64_t)(hi - lo + 1)));
    uint32_t bits = (ex << 23) | (uint32_t)((b >> 32) & 0x7FFFFFu);
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static cl_mem upload_u32_(const uint32_t *w, size_t n, const char *what)
{
    return fixture_upload((const float *)(const void *)w, n, what);
}

/* ------------------------------------------------------------------------ */
/* Philox                                                                   */
/* ------------------------------------------------------------------------ */
static const uint32_t kat_[3][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
    {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
     0xa20bc7c6u, 0x6d5451fdu},
    {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
     0x5001e420u, 0x24126ea1u},
};

START_TEST(philox_kat)
{
    uint32_t in[18], out[12];
    for (int v = 0; v < 3; v++) {
        uint32_t h[4];
        clgrad_philox4x32_10(kat_[v], kat_[v] + 4, h);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(h[k] == kat_[v][6 + k], "host KAT %d word %d: %08x, expected %08x", v, k, h[k],
                          kat_[v][6 + k]);
        memcpy(in + 6 * v, kat_[v], 6 * sizeof *in);
    }
    cl_mem din = upload_u32_(in, 18, "kat in"), dout = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), 12, "kat out", &dout));
    FX_OK(clgrad_init_philox(fixture_ctx(), 3, din, dout));
    fixture_download(dout, (float *)(void *)out, 12);
    for (int v = 0; v < 3; v++)
        for (int k = 0; k < 4; k++)
            ck_assert_msg(out[4 * v + k] == kat_[v][6 + k], "device KAT %d word %d: %08x, expected %08x", v, k,
                          out[4 * v + k], kat_[v][6 + k]);
    clgrad_buf_free(&din), clgrad_buf_free(&dout);
}
END_TEST

START_TEST(philox_device_vs_host)
{
    const size_t n = 65537;
    uint32_t *in = malloc(6 * n * sizeof *in), *out = malloc(4 * n * sizeof *out), *ref = malloc(4 * n * sizeof *ref);
    ck_assert(in && out && ref);
    clgrad_testrng r = fixture_rng(1);
    for (size_t i = 0; i < 6 * n; i++) in[i] = (uint32_t)clgrad_testrng_next(&r);
    for (size_t i = 0; i < n; i++) clgrad_philox4x32_10(in + 6 * i, in + 6 * i + 4, ref + 4 * i);
    cl_mem din = upload_u32_(in, 6 * n, "philox in"), dout = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), 4 * n, "philox out", &dout));
    FX_OK(clgrad_init_philox(fixture_ctx(), n, din, dout));
    fixture_download(dout, (float *)(void *)out, 4 * n);
    ck_assert_msg(memcmp(out, ref, 4 * n * sizeof *out) == 0, "device Philox blocks differ from the host's");
    clgrad_buf_free(&din), clgrad_buf_free(&dout);
    free(in), free(out), free(ref);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Math accuracy against float64 libm (host)                                */
/* ------------------------------------------------------------------------ */
START_TEST(math_accuracy)
{
    double wl = 0, wlr = 0, wq = 0, ws = 0, wc = 0, wz = 0;
    /* log: every value rng_u01 can produce, (2k + 1) 2^-24 */
    for (uint32_t k = 0; k < (1u << 23); k++) {
        float u = clgrad_rng_u01(k << 9);
        ck_assert_msg((double)u == (2.0 * k + 1) * U24, "rng_u01 is not exact at k=%u", k);
        double e = ulp_err_(clgrad_rng_log(u), log((double)u));
        if (e > wl) wl = e;
    }
    /* log and sqrt on random floats over their whole domain */
    clgrad_testrng r = fixture_rng(2);
    for (int i = 0; i < 2000000; i++) {
        float x = rand_float_(&r, -126, 127);
        if (x != 1.0f) {
            double e = ulp_err_(clgrad_rng_log(x), log((double)x));
            if (e > wlr) wlr = e;
        }
        x = rand_float_(&r, -60, 126);
        double e = ulp_err_(clgrad_rng_sqrt(x), sqrt((double)x));
        if (e > wq) wq = e;
    }
    /* sin/cos: every angle 2 pi (j + 1/2) / 2^24 */
    for (uint32_t j = 0; j < (1u << 24); j++) {
        float s, c;
        clgrad_rng_sincos_turn(j, &s, &c);
        double t = 2.0 * 3.14159265358979323846 * (((double)j + 0.5) * U24);
        double es = ulp_err_(s, sin(t)), ec = ulp_err_(c, cos(t));
        if (es > ws) ws = es;
        if (ec > wc) wc = ec;
    }
    /* the normal transform on random words, against the float64 formula */
    for (int i = 0; i < 2000000; i++) {
        uint32_t w0 = (uint32_t)clgrad_testrng_next(&r), w1 = (uint32_t)clgrad_testrng_next(&r);
        double u = (2.0 * (w0 >> 9) + 1) * U24, t = ((double)(w1 >> 8) + 0.5) * U24;
        double ref = sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * t);
        double e = ulp_err_(clgrad_rng_normal(w0, w1), ref);
        if (e > wz) wz = e;
    }
    fprintf(stderr,
            "max ulp error vs float64 libm: log %.3f (u01 grid, exhaustive), log %.3f (random floats), "
            "sqrt %.3f (random in [2^-60, 2^126]), sin %.3f, cos %.3f (all 2^24 angles), normal %.3f\n",
            wl, wlr, wq, ws, wc, wz);
    ck_assert_msg(wl <= 1.0 && wlr <= 1.0, "log: %.3f / %.3f ulp", wl, wlr);
    ck_assert_msg(wq <= 1.0, "sqrt: %.3f ulp", wq);
    ck_assert_msg(ws <= 2.0 && wc <= 2.0, "sin/cos: %.3f / %.3f ulp", ws, wc);
    ck_assert_msg(wz <= 4.0, "normal: %.3f ulp", wz);
}
END_TEST

START_TEST(math_device_vs_host)
{
    const size_t n = 1000000;
    uint32_t *in = malloc(2 * n * sizeof *in);
    float *out = malloc(5 * n * sizeof *out), *ref = malloc(5 * n * sizeof *ref);
    ck_assert(in && out && ref);
    clgrad_testrng r = fixture_rng(3);
    for (size_t i = 0; i < n; i++) {
        float x = i % 2 ? rand_float_(&r, -60, 126) : clgrad_rng_u01((uint32_t)clgrad_testrng_next(&r));
        memcpy(&in[2 * i], &x, sizeof x);
        in[2 * i + 1] = (uint32_t)clgrad_testrng_next(&r);
        ref[5 * i + 0] = clgrad_rng_log(x);
        ref[5 * i + 1] = clgrad_rng_sqrt(x);
        clgrad_rng_sincos_turn(in[2 * i + 1] >> 8, &ref[5 * i + 2], &ref[5 * i + 3]);
        ref[5 * i + 4] = clgrad_rng_normal(in[2 * i], in[2 * i + 1]);
    }
    cl_mem din = upload_u32_(in, 2 * n, "math in"), dout = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), 5 * n, "math out", &dout));
    FX_OK(clgrad_init_math(fixture_ctx(), n, din, dout));
    fixture_download(dout, out, 5 * n);
    size_t bad[5] = {0};
    for (size_t i = 0; i < 5 * n; i++)
        if (memcmp(&out[i], &ref[i], sizeof *out) != 0 && bad[i % 5]++ == 0)
            fprintf(stderr, "  math %zu of input %zu: device %a host %a\n", i % 5, i / 5, out[i], ref[i]);
    ck_assert_msg(!bad[0] && !bad[1] && !bad[2] && !bad[3] && !bad[4],
                  "device != host bits: log %zu, sqrt %zu, sin %zu, cos %zu, normal %zu of %zu", bad[0], bad[1],
                  bad[2], bad[3], bad[4], n);
    clgrad_buf_free(&din), clgrad_buf_free(&dout);
    free(in), free(out), free(ref);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Every kind: device == host, and a float64 reference                      */
/* ------------------------------------------------------------------------ */
/* A configuration of each kind with non-default parameters. */
static clgrad_init_cfg cfg_of_(clgrad_init_kind kind)
{
    clgrad_init_cfg c = clgrad_init_default(kind);
    switch (kind) {
    case CLGRAD_INIT_CONSTANT: c.value = -0.375; break;
    case CLGRAD_INIT_UNIFORM: c.a = -0.5, c.b = 2.0; break;
    case CLGRAD_INIT_NORMAL: c.mean = 0.75, c.std = 0.2; break;
    case CLGRAD_INIT_XAVIER_UNIFORM:
    case CLGRAD_INIT_ORTHOGONAL: c.gain = 5.0 / 3.0; break; /* tanh */
    case CLGRAD_INIT_XAVIER_NORMAL: c.gain = 1.0; break;
    case CLGRAD_INIT_KAIMING_UNIFORM: c.gain = sqrt(2.0); break; /* relu */
    case CLGRAD_INIT_KAIMING_NORMAL: c.gain = 1.4141428569978354, c.mode = CLGRAD_INIT_FAN_OUT; break;
    default: break;
    }
    return c;
}

/* float64 reference of element i and its tolerance.  Uniform: a + (b-a) u
** with u exact: the float (b-a), the product and the sum are three roundings,
** 2^-22 (|a| + |b-a|) covers them.  Symmetric: bound v, v exact: the float
** bound and the product, 2^-23 bound.  Normal: mean + std z with z's error
** at most 4 ulp of z (math_accuracy), ulp(z) <= 2^-23 |z|, plus the float
** std, the product and the sum: 2^-23 (6 |std z| + |mean|). */
static void ref_tol_(const clgrad_init_dist *d, clgrad_init_kind kind, uint64_t seed, uint32_t tensor, uint64_t i,
                     double *ref, double *tol)
{
    uint32_t w[4];
    if (d->family == CLGRAD_INIT_DIST_CONSTANT) {
        *ref = d->mean, *tol = 0;
        return;
    }
    clgrad_rng_block(seed, tensor, i, w);
    double u = (2.0 * (w[0] >> 9) + 1) * U24;
    if (d->family == CLGRAD_INIT_DIST_NORMAL) {
        double t = ((double)(w[1] >> 8) + 0.5) * U24;
        double z = sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * t);
        *ref = d->mean + d->std * z;
        *tol = 0x1p-23 * (6 * fabs(d->std * z) + fabs(d->mean));
    } else if (kind == CLGRAD_INIT_UNIFORM) {
        *ref = d->lo + (d->hi - d->lo) * u;
        *tol = 0x1p-22 * (fabs(d->lo) + (d->hi - d->lo));
    } else {
        *ref = d->bound * (2 * u - 1);
        *tol = 0x1p-23 * d->bound;
    }
}

static const size_t big_ = 1000000;

static void shape_of_(clgrad_init_kind kind, size_t n, size_t *rows, size_t *cols)
{
    *rows = n, *cols = 1;
    if (n == big_) *rows = kind == CLGRAD_INIT_ORTHOGONAL ? 250 : 1000, *cols = n / *rows;
}

START_TEST(device_equals_host)
{
    clgrad_init_kind kind = (clgrad_init_kind)_i;
    clgrad_init_cfg cfg = cfg_of_(kind);
    clgrad_ctx *ctx = fixture_ctx();
    const size_t pad = 5;
    const float guard = -1234.5f;
    for (int si = 0; si <= fixture_nsizes; si++) {
        size_t n = si < fixture_nsizes ? fixture_sizes[si] : big_, rows, cols;
        shape_of_(kind, n, &rows, &cols);
        size_t fan_in = cols + 3, fan_out = rows + 11; /* any fans: the draw does not depend on them */
        uint64_t seed = fixture_seed() + (uint64_t)si * 0x100000001ull;
        uint32_t tensor = (uint32_t)(kind * 100 + si);
        float *host = malloc(n * sizeof *host), *dev = malloc((n + 2 * pad) * sizeof *dev);
        double *ref = malloc(n * sizeof *ref), *tol = malloc(n * sizeof *tol);
        ck_assert(host && dev && ref && tol);
        FX_OK(clgrad_init_tensor_host(&cfg, seed, tensor, fan_in, fan_out, rows, cols, host));
        for (size_t i = 0; i < n + 2 * pad; i++) dev[i] = guard;
        cl_mem buf = fixture_upload(dev, n + 2 * pad, "init out");
        FX_OK(clgrad_init_tensor(ctx, &cfg, seed, tensor, fan_in, fan_out, rows, cols, buf, pad));
        fixture_download(buf, dev, n + 2 * pad);
        clgrad_buf_free(&buf);
        for (size_t i = 0; i < pad; i++)
            ck_assert_msg(dev[i] == guard && dev[pad + n + i] == guard, "%s n=%zu: guard overwritten",
                          clgrad_init_name(kind), n);
        size_t first = n;
        for (size_t i = 0; i < n && first == n; i++)
            if (memcmp(&dev[pad + i], &host[i], sizeof *host) != 0) first = i;
        ck_assert_msg(first == n, "%s %zux%zu: device %a != host %a at element %zu (seed %llu)",
                      clgrad_init_name(kind), rows, cols, first < n ? dev[pad + first] : 0.0f,
                      first < n ? host[first] : 0.0f, first, (unsigned long long)seed);
        if (kind != CLGRAD_INIT_ORTHOGONAL) {
            clgrad_init_dist d;
            FX_OK(clgrad_init_resolve(&cfg, fan_in, fan_out, &d));
            for (size_t i = 0; i < n; i++) ref_tol_(&d, kind, seed, tensor, i, &ref[i], &tol[i]);
            char what[96];
            snprintf(what, sizeof what, "%s %zux%zu vs float64", clgrad_init_name(kind), rows, cols);
            ck_assert_msg(fixture_check_tol(what, dev + pad, ref, tol, n) == 0, "%s", what);
        }
        free(host), free(dev), free(ref), free(tol);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */
typedef struct {
    clgrad_init_kind kind;
    size_t fan_in, fan_out;
    double mean, std; /* the formula, written out here independently of init.c */
    int uniform;
    double lo, hi;
} stat_case_;

static stat_case_ stat_case_of_(int i)
{
    const size_t fi = 300, fo = 200;
    double s;
    stat_case_ c = {CLGRAD_INIT_UNIFORM, fi, fo, 0, 0, 0, 0, 0};
    switch (i) {
    case 0: c.kind = CLGRAD_INIT_UNIFORM, c.uniform = 1, c.lo = -0.5, c.hi = 2.0; break;
    case 1: c.kind = CLGRAD_INIT_NORMAL, c.mean = 0.75, c.std = 0.2; break;
    case 2: s = 5.0 / 3.0 * sqrt(6.0 / (fi + fo)), c.kind = CLGRAD_INIT_XAVIER_UNIFORM, c.uniform = 1, c.lo = -s, c.hi = s; break;
    case 3: c.kind = CLGRAD_INIT_XAVIER_NORMAL, c.std = sqrt(2.0 / (fi + fo)); break;
    case 4: s = sqrt(3.0) * sqrt(2.0) / sqrt((double)fi), c.kind = CLGRAD_INIT_KAIMING_UNIFORM, c.uniform = 1, c.lo = -s, c.hi = s; break;
    case 5: c.kind = CLGRAD_INIT_KAIMING_NORMAL, c.std = 1.4141428569978354 / sqrt((double)fo); break;
    case 6: c.kind = CLGRAD_INIT_LECUN_NORMAL, c.std = 1.0 / sqrt((double)fi); break;
    default: s = 1.0 / sqrt((double)fi), c.kind = CLGRAD_INIT_LINEAR_DEFAULT, c.uniform = 1, c.lo = -s, c.hi = s; break;
    }
    if (c.uniform) c.mean = 0.5 * (c.lo + c.hi), c.std = (c.hi - c.lo) / sqrt(12.0);
    return c;
}

START_TEST(statistics)
{
    stat_case_ sc = stat_case_of_(_i);
    clgrad_init_cfg cfg = cfg_of_(sc.kind);
    clgrad_init_dist d;
    FX_OK(clgrad_init_resolve(&cfg, sc.fan_in, sc.fan_out, &d));
    ck_assert_msg(fabs(d.std - sc.std) <= 1e-12 * sc.std && fabs(d.mean - sc.mean) <= 1e-12 * sc.std,
                  "%s: resolve gives mean %.17g std %.17g, formula %.17g %.17g", clgrad_init_name(sc.kind), d.mean,
                  d.std, sc.mean, sc.std);
    const size_t n = big_;
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    cl_mem buf = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), n, "stats", &buf));
    FX_OK(clgrad_init_tensor(fixture_ctx(), &cfg, fixture_seed(), 77u + (uint32_t)_i, sc.fan_in, sc.fan_out, 1000,
                             1000, buf, 0));
    fixture_download(buf, x, n);
    clgrad_buf_free(&buf);
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    double mean = sum / n, ss = 0;
    size_t in1 = 0, in2 = 0;
    for (size_t i = 0; i < n; i++) {
        double dev = x[i] - mean;
        ss += dev * dev;
        double z = fabs(x[i] - sc.mean) / sc.std;
        in1 += z < 1.0, in2 += z < 2.0;
    }
    double var = ss / (n - 1), want = sc.std * sc.std;
    fprintf(stderr, "%-16s mean %+.6f (want %+.6f)  var %.6e (want %.6e, ratio %.5f)  range [%.6f, %.6f]\n",
            clgrad_init_name(sc.kind), mean, sc.mean, var, want, var / want, lo, hi);
    ck_assert_msg(fabs(mean - sc.mean) <= 0.01 * sc.std, "%s: mean %.6g, want %.6g +- %.3g", clgrad_init_name(sc.kind),
                  mean, sc.mean, 0.01 * sc.std);
    ck_assert_msg(fabs(var - want) <= 0.01 * want, "%s: variance %.6g, want %.6g +- 1%%", clgrad_init_name(sc.kind),
                  var, want);
    if (sc.uniform) {
        /* float bounds: the draws are roundings of values inside (lo, hi) */
        ck_assert_msg(lo >= (float)sc.lo && hi <= (float)sc.hi, "%s: range [%.9g, %.9g] leaves [%.9g, %.9g]",
                      clgrad_init_name(sc.kind), lo, hi, sc.lo, sc.hi);
        /* P(no draw within 2e-5 (hi - lo) of an end) = (1 - 2e-5)^1e6 = 2e-9 */
        double eps = 2e-5 * (sc.hi - sc.lo);
        ck_assert_msg(lo < sc.lo + eps && hi > sc.hi - eps, "%s: range [%.9g, %.9g] does not reach [%.9g, %.9g]",
                      clgrad_init_name(sc.kind), lo, hi, sc.lo, sc.hi);
    } else {
        double f1 = (double)in1 / n, f2 = (double)in2 / n;
        ck_assert_msg(fabs(f1 - 0.682689492) < 3e-3 && fabs(f2 - 0.954499736) < 3e-3,
                      "%s: %.4f within 1 std, %.4f within 2 (want 0.6827, 0.9545)", clgrad_init_name(sc.kind), f1, f2);
    }
    free(x);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Streams                                                                  */
/* ------------------------------------------------------------------------ */
static double corr_(const float *a, const float *b, size_t n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

START_TEST(streams_differ)
{
    const size_t n = 100000;
    const double lim = 5.0 / sqrt((double)n); /* 5 standard errors of a correlation of independent draws */
    clgrad_init_cfg cfg = clgrad_init_default(CLGRAD_INIT_NORMAL);
    uint64_t s = fixture_seed();
    struct {
        const char *what;
        uint64_t seed;
        uint32_t tensor;
        size_t shift;
    } v[] = {
        {"seed + 1", s + 1, 5, 0},
        {"seed ^ 2^32 (high key word)", s ^ 0x100000000ull, 5, 0},
        {"tensor + 1", s, 6, 0},
        {"index + 1", s, 5, 1},
    };
    float *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    ck_assert(a && b);
    FX_OK(clgrad_init_tensor_host(&cfg, s, 5, 1, 1, n + 1, 1, a));
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        FX_OK(clgrad_init_tensor_host(&cfg, v[k].seed, v[k].tensor, 1, 1, n + 1, 1, b));
        size_t same = 0;
        for (size_t i = 0; i < n; i++) same += a[i] == b[i + v[k].shift];
        double r = corr_(a, b + v[k].shift, n);
        ck_assert_msg(same < 10 && fabs(r) < lim, "%s: %zu equal draws, correlation %.4f (limit %.4f)", v[k].what,
                      same, r, lim);
    }
    /* the high word of the index is part of the counter */
    size_t same = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        uint32_t w0[4], w1[4];
        clgrad_rng_block(s, 5, i, w0);
        clgrad_rng_block(s, 5, i + (1ull << 32), w1);
        same += memcmp(w0, w1, sizeof w0) == 0;
    }
    ck_assert_msg(same == 0, "index and index + 2^32 give the same block %zu times", same);
    free(a), free(b);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Orthogonal                                                               */
/* ------------------------------------------------------------------------ */
static const size_t ortho_shapes_[][2] = {{1, 1}, {7, 1}, {1, 7}, {63, 64}, {64, 63}, {65, 65}, {257, 7}, {7, 257}, {250, 4000}};

START_TEST(orthogonal)
{
    size_t rows = ortho_shapes_[_i][0], cols = ortho_shapes_[_i][1], n = rows * cols;
    clgrad_init_cfg cfg = clgrad_init_default(CLGRAD_INIT_ORTHOGONAL);
    cfg.gain = _i % 2 ? 5.0 / 3.0 : 1.0;
    uint64_t seed = fixture_seed();
    uint32_t tensor = 900u + (uint32_t)_i;
    float *w = malloc(n * sizeof *w), *dev = malloc(n * sizeof *dev);
    ck_assert(w && dev);
    FX_OK(clgrad_init_tensor_host(&cfg, seed, tensor, cols, rows, rows, cols, w));
    cl_mem buf = NULL;
    FX_OK(clgrad_buf_new(fixture_ctx(), n, "ortho", &buf));
    FX_OK(clgrad_init_tensor(fixture_ctx(), &cfg, seed, tensor, cols, rows, rows, cols, buf, 0));
    fixture_download(buf, dev, n);
    clgrad_buf_free(&buf);
    ck_assert_msg(memcmp(w, dev, n * sizeof *w) == 0, "orthogonal %zux%zu: device != host", rows, cols);

    /* Work on the tall view: Q (m, k) = W / gain (or W^T / gain), G likewise. */
    int tall = rows >= cols;
    size_t m = tall ? rows : cols, k = tall ? cols : rows;
    double g2 = cfg.gain * cfg.gain;
    /* Entries of W carry one float rounding each (relative 2^-24); by
    ** Cauchy-Schwarz a Gram entry moves by at most 2.01 * 2^-24 * gain^2.
    ** The float64 QR is orthogonal to ~m 2^-53 < 1e-12; 1e-9 is ample. */
    double tol_o = g2 * (2.01 * U24 + 1e-9), worst_o = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b <= a; b++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) {
                size_t ia = tall ? i * cols + a : a * cols + i, ib = tall ? i * cols + b : b * cols + i;
                s += (double)w[ia] * w[ib];
            }
            double e = fabs(s - (a == b ? g2 : 0.0));
            if (e > worst_o) worst_o = e;
        }
    ck_assert_msg(worst_o <= tol_o, "orthogonal %zux%zu gain %g: |Q^T Q - gain^2 I| = %.3g > %.3g", rows, cols,
                  cfg.gain, worst_o, tol_o);
    /* R = Q^T G must be upper triangular with a positive diagonal: with an
    ** orthonormal Q this makes Q the unique QR factor of torch's convention.
    ** Error of the float Q: |E^T G|_ab <= 2^-24 |G_b| (Cauchy-Schwarz). */
    double worst_r = 0;
    double *gcol = malloc(m * sizeof *gcol);
    ck_assert(gcol);
    for (size_t b = 0; b < k; b++) {
        double gn = 0;
        for (size_t i = 0; i < m; i++) {
            size_t r = tall ? i : b, c = tall ? b : i;
            uint32_t wd[4];
            clgrad_rng_block(seed, tensor, (uint64_t)(r * cols + c), wd);
            gcol[i] = clgrad_rng_normal(wd[0], wd[1]);
            gn += gcol[i] * gcol[i];
        }
        double tol_r = (1.01 * U24 + 1e-9) * sqrt(gn);
        for (size_t a = 0; a < k; a++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) s += (double)w[tall ? i * cols + a : a * cols + i] / cfg.gain * gcol[i];
            if (a > b && fabs(s) / tol_r > worst_r) worst_r = fabs(s) / tol_r;
            if (a == b) ck_assert_msg(s > tol_r, "orthogonal %zux%zu: R[%zu][%zu] = %.3g not positive", rows, cols, a, a, s);
        }
    }
    ck_assert_msg(worst_r <= 1.0, "orthogonal %zux%zu: Q^T G not upper triangular (%.3g x tolerance)", rows, cols,
                  worst_r);
    free(gcol), free(w), free(dev);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Constants, names, bad arguments                                          */
/* ------------------------------------------------------------------------ */
static void near_(const char *what, double got, double want)
{
    ck_assert_msg(fabs(got - want) <= 2.3e-16 * want, "%s: %.17g, semantics.md says %.17g", what, got, want);
}

START_TEST(pytorch_constants)
{
    clgrad_init_cfg c = clgrad_init_default(CLGRAD_INIT_XAVIER_UNIFORM);
    near_("xavier_uniform bound", clgrad_init_bound(&c, 256, 256), 0.10825317547305482);
    c = clgrad_init_default(CLGRAD_INIT_XAVIER_NORMAL);
    near_("xavier_normal std", clgrad_init_std(&c, 256, 256), 0.0625);
    c = clgrad_init_default(CLGRAD_INIT_KAIMING_UNIFORM);
    c.gain = sqrt(2.0);
    near_("kaiming_uniform(relu) bound", clgrad_init_bound(&c, 256, 256), 0.15309310892394865);
    c = clgrad_init_default(CLGRAD_INIT_KAIMING_NORMAL);
    c.gain = sqrt(2.0);
    near_("kaiming_normal(relu) std", clgrad_init_std(&c, 256, 256), 0.08838834764831845);
    c = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    near_("nn.Linear default bound", clgrad_init_bound(&c, 256, 256), 0.0625);
    /* modes pick the fan; lecun is 1/sqrt(fan_in) */
    c = clgrad_init_default(CLGRAD_INIT_KAIMING_NORMAL);
    c.gain = 1.0, c.mode = CLGRAD_INIT_FAN_OUT;
    near_("kaiming_normal fan_out", clgrad_init_std(&c, 100, 400), 0.05);
    c = clgrad_init_default(CLGRAD_INIT_LECUN_NORMAL);
    near_("lecun_normal std", clgrad_init_std(&c, 64, 7), 0.125);
    char line[256];
    c = clgrad_init_default(CLGRAD_INIT_KAIMING_UNIFORM);
    clgrad_init_describe(&c, 256, 128, line, sizeof line);
    ck_assert_msg(strstr(line, "fan=256") && strstr(line, "U(-0.153093109"), "describe: %s", line);
}
END_TEST

START_TEST(names)
{
    for (int k = 0; k < CLGRAD_INIT_NKINDS; k++)
        ck_assert_int_eq(clgrad_init_parse(clgrad_init_name((clgrad_init_kind)k)), k);
    ck_assert_int_eq(clgrad_init_parse("he_normal"), CLGRAD_INIT_KAIMING_NORMAL);
    ck_assert_int_eq(clgrad_init_parse("glorot_uniform"), CLGRAD_INIT_XAVIER_UNIFORM);
    ck_assert_int_eq(clgrad_init_parse("xavier"), -1);
    ck_assert_int_eq(clgrad_init_parse(""), -1);
    ck_assert_int_eq(clgrad_init_parse(NULL), -1);
    ck_assert_str_eq(clgrad_init_name((clgrad_init_kind)99), "?");
    ck_assert_int_eq(clgrad_init_mode_parse(clgrad_init_mode_name(CLGRAD_INIT_FAN_OUT)), CLGRAD_INIT_FAN_OUT);
    ck_assert_int_eq(clgrad_init_mode_parse("fan_avg"), -1);
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    float out[4];
    cl_mem buf = NULL;
    FX_OK(clgrad_buf_new(ctx, 4, "bad", &buf));
    clgrad_init_cfg c = clgrad_init_default(CLGRAD_INIT_UNIFORM);
    c.a = 1, c.b = 0;
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_init_tensor(ctx, &c, 1, 1, 2, 2, 2, 2, buf, 0), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "uniform") != NULL, "%s", clgrad_errmsg(ctx));
    c = clgrad_init_default(CLGRAD_INIT_NORMAL);
    c.std = -1;
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    c.std = NAN;
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    c = clgrad_init_default(CLGRAD_INIT_KAIMING_UNIFORM);
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 0, 2, 2, 2, out), CLGRAD_E_ARG); /* fan_in 0 */
    c.mode = (clgrad_init_mode)7;
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    c = clgrad_init_default(CLGRAD_INIT_XAVIER_NORMAL);
    c.gain = INFINITY;
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    c = clgrad_init_default((clgrad_init_kind)42);
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, 2, 2, out), CLGRAD_E_ARG);
    ck_assert(isnan(clgrad_init_bound(&c, 2, 2)) && isnan(clgrad_init_std(&c, 2, 2)));
    c = clgrad_init_default(CLGRAD_INIT_ZEROS);
    ck_assert_int_eq(clgrad_init_tensor_host(&c, 1, 1, 2, 2, SIZE_MAX, 2, out), CLGRAD_E_ARG); /* overflow */
    /* empty tensors are fine and touch nothing */
    ck_assert_int_eq(clgrad_init_tensor(ctx, &c, 1, 1, 2, 2, 0, 5, buf, 0), CLGRAD_OK);
    clgrad_buf_free(&buf);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("init");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, philox_kat);
    tcase_add_test(tc, philox_device_vs_host);
    tcase_add_test(tc, math_accuracy);
    tcase_add_test(tc, math_device_vs_host);
    tcase_add_loop_test(tc, device_equals_host, 0, CLGRAD_INIT_NKINDS);
    tcase_add_loop_test(tc, statistics, 0, 8);
    tcase_add_test(tc, streams_differ);
    tcase_add_loop_test(tc, orthogonal, 0, (int)(sizeof ortho_shapes_ / sizeof ortho_shapes_[0]));
    tcase_add_test(tc, pytorch_constants);
    tcase_add_test(tc, names);
    tcase_add_test(tc, bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("init.cl");
    return fixture_run(suite_(), 1);
}
