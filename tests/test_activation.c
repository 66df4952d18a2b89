/*
** test_activation.c: activations (forward, backward) and the bias add / bias
** gradient against the float64 host references, on fresh random inputs.
**
** - names, parsing, default parameters and PyTorch init gains;
** - the references themselves: f' against central finite differences of f,
**   and the ±Inf limits against a table written from the mathematics;
** - the kernels at sizes 1, 7, 63, 64, 65, 257, 10000, 13 and 2053, z uniform in
**   [-8, 8] with extreme values mixed in (0, -0, ±30, ±100, ±1e4, ±1e20,
**   ±1e38, denormals, ±Inf, NaN), at offsets into larger buffers whose other
**   elements must stay untouched, out of place and in place;
** - bitwise: every forward and backward kernel against the host scalar build
**   of the same source (cl/math.cl + cl/act_fn.cl) on 4099 awkward, normal
**   and random-bit-pattern inputs;
** - every non-finite case explicitly: NaN in gives NaN out, ±Inf the limit,
**   and no finite input yields NaN or Inf;
** - bias add / grad at (B, N) in {1, 7, 65, 257}^2, a tall 60000 x 3 and
**   128 x 256, 1000 x 64, 3 x 1000,
**   beta 0 (db full of NaN must not be read), 1 and 0.5, and bitwise
**   determinism (two runs, memcmp).
**
** Tolerances.  Device vs reference uses clgrad_activation_ref_bounds: a
** per-element bound built from the OpenCL 1.2 single-precision ulp limits
** (exp/expm1 3 ulp, log1p 2, tanh 5, erfc 16, division 2.5, + - * 0.5) for
** the exact operations each kernel performs, plus the effect of rounded
** internal arguments and a denormal-flush floor; the derivation is next to it
** in src/ops/activation.c.  It holds on any conforming device and is tight: a
** wrong formula, index or constant exceeds it by orders of magnitude.
** Bias add is one correctly rounded addition (0.5 ulp; checked at 2^-23 |ref|); bias grad
** is a compensated sum per work-item plus a tree of <= 8 levels (16 u sum|terms|,
** derivation in src/ops/activation.c).  Finite differences: see fd_ below.
*/
#include "fixture.h"
#include "util/fsutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ULP 0x1.0p-23

/* The host scalar build of the kernels' own formulas (cl/math.cl, cl/act_fn.cl):
** the device must give exactly these bits (test `bitwise_host`). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "../cl/math.cl"
#include "../cl/act_fn.cl"
#pragma GCC diagnostic pop

/* activation x parameter combinations: every activation at its default, plus
** leaky_relu slopes 0.2 and 0 (relu through the leaky path) and elu alpha 0.5 */
typedef struct { clgrad_act act; float p; } variant_;
static variant_ variants_[CLGRAD_ACT_COUNT + 3];
static int nvariants_;

static void init_variants_(void)
{
    if (nvariants_) return;
    for (int a = 0; a < CLGRAD_ACT_COUNT; a++)
        variants_[nvariants_++] = (variant_){(clgrad_act)a, clgrad_act_default_param((clgrad_act)a)};
    variants_[nvariants_++] = (variant_){CLGRAD_ACT_LEAKY_RELU, 0.2f};
    variants_[nvariants_++] = (variant_){CLGRAD_ACT_LEAKY_RELU, 0.0f};
    variants_[nvariants_++] = (variant_){CLGRAD_ACT_ELU, 0.5f};
}

static const float specials_[] = {0.0f,   -0.0f,  30.0f,    -30.0f,   100.0f,  -100.0f, 1e4f,      -1e4f,
                                  1e20f,  -1e20f, 1e38f,    -1e38f,   1e-40f,  -1e-40f, INFINITY,  -INFINITY,
                                  NAN,    1.0f,   -0.75f,   FLT_MIN};
#define NSPECIALS ((int)(sizeof specials_ / sizeof specials_[0]))

/* the fixture sizes, then 10000 (several work-groups), 13 and 2053 (the
** kernels take 8 elements per work-item: partial last vectors n % 8 = 5) */
static const size_t more_sizes_[] = {10000, 13, 2053};
#define NMORE ((int)(sizeof more_sizes_ / sizeof more_sizes_[0]))
static size_t size_of_(int i) { return i < fixture_nsizes ? fixture_sizes[i] : more_sizes_[i - fixture_nsizes]; }

/* z: uniform [-8, 8], every 7th element (from index 3) an extreme value */
static void fill_z_(float *z, size_t n, uint64_t salt)
{
    clgrad_testrng r = fixture_rng(salt);
    for (size_t i = 0; i < n; i++)
        z[i] = i % 7 == 3 ? specials_[(i / 7) % NSPECIALS] : clgrad_testrng_uniform(&r, -8, 8);
}

/* ---------------------------------------------------------------- names */

START_TEST(names_and_gains)
{
    for (int a = 0; a < CLGRAD_ACT_COUNT; a++) ck_assert_int_eq(clgrad_act_parse(clgrad_act_name((clgrad_act)a)), a);
    ck_assert_int_eq(clgrad_act_parse("linear"), CLGRAD_ACT_IDENTITY);
    ck_assert_int_eq(clgrad_act_parse("gelu_tanh"), CLGRAD_ACT_GELU_TANH);
    ck_assert_int_eq(clgrad_act_parse("swish"), -1);
    ck_assert_int_eq(clgrad_act_parse(""), -1);
    ck_assert_int_eq(clgrad_act_parse(NULL), -1);
    ck_assert_str_eq(clgrad_act_name((clgrad_act)99), "?");
    ck_assert_float_eq(clgrad_act_default_param(CLGRAD_ACT_LEAKY_RELU), 0.01f);
    ck_assert_float_eq(clgrad_act_default_param(CLGRAD_ACT_ELU), 1.0f);
    /* semantics.md: linear/sigmoid 1, tanh 5/3, relu sqrt2, leaky(.01) 1.4141428569978354, selu 3/4 */
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_IDENTITY, 0), 1.0, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_SIGMOID, 0), 1.0, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_TANH, 0), 5.0 / 3.0, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_RELU, 0), 1.4142135623730951, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_LEAKY_RELU, 0.01), 1.4141428569978354, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_SELU, 0), 0.75, 1e-15);
    ck_assert_double_eq_tol(clgrad_act_gain(CLGRAD_ACT_GELU, 0), 1.0, 1e-15);
    ck_assert(isnan(clgrad_act_gain((clgrad_act)-1, 0)));
}
END_TEST

/* ------------------------------------------------------- the references */

/*
** f' of the reference against central differences of the reference f:
**   (f(z+h) - f(z-h)) / 2h = f'(z) + h^2 f'''(xi) / 6 + rounding.
** Step h = 1e-5 max(1, |z|) (about eps^(1/3) relative).  Truncation: for
** these functions |f'''| <= 2 on [-8, 8], and max(1,|z|)^2 |f'''(z)| stays
** below 6 for large |z| (saturating or linear tails), so h^2 |f'''| / 6 <=
** 1e-10.  Rounding: |f| <= 2 max(1, |z|) gives 2 * 2^-53 * |f| / (2h) <= 3e-11.
** Tolerance 1e-8 (1 + |f'|): 100x above both, far below any wrong formula.
** Points within 1e-3 of the kinks of relu, leaky_relu, elu, selu (z = 0)
** are skipped (there f' is a convention, checked in the limits table).
*/
static int fd_ok_(variant_ v, double z)
{
    double h = 1e-5 * fmax(1.0, fabs(z));
    double fd = (clgrad_activation_ref_forward(v.act, v.p, z + h) - clgrad_activation_ref_forward(v.act, v.p, z - h)) /
                (2 * h);
    double d = clgrad_activation_ref_derivative(v.act, v.p, z);
    double tol = 1e-8 * (1 + fabs(d));
    if (fabs(fd - d) > tol) {
        fprintf(stderr, "  fd %s(p=%g) z=%.17g: f' %.17g, finite difference %.17g\n", clgrad_act_name(v.act),
                (double)v.p, z, d, fd);
        return 0;
    }
    return 1;
}

START_TEST(reference_finite_differences)
{
    init_variants_();
    clgrad_testrng r = fixture_rng(0xfd);
    static const double extra[] = {0.5, -0.5, 3, -3, 12, -12, 30, -30, 100, -100, 1e4, -1e4};
    int bad = 0;
    for (int vi = 0; vi < nvariants_; vi++) {
        variant_ v = variants_[vi];
        int kink = v.act == CLGRAD_ACT_RELU || v.act == CLGRAD_ACT_LEAKY_RELU || v.act == CLGRAD_ACT_ELU ||
                   v.act == CLGRAD_ACT_SELU;
        for (int i = 0; i < 500; i++) {
            double z = clgrad_testrng_uniform(&r, -8, 8);
            if (kink && fabs(z) < 1e-3) continue;
            bad += !fd_ok_(v, z);
        }
        for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) bad += !fd_ok_(v, extra[i]);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* The stable forms of the reference equal the textbook definitions
** (semantics.md, PyTorch's formulas) where those are themselves accurate
** (|z| <= 8: no overflow, no cancellation worse than 1e3 eps): 1e-13. */
START_TEST(reference_textbook)
{
    const double pi = 3.14159265358979323846, b = sqrt(2.0 / pi), k = 0.044715;
    const double sl = 1.0507009873554805, sa = 1.6732632423543772, ls = (double)0.01f; /* leaky default */
    int bad = 0;
    for (double z = -8; z <= 8; z += 1.0 / 64) {
        double y = b * (z + k * z * z * z), th = tanh(y), sg = 1 / (1 + exp(-z));
        double f[CLGRAD_ACT_COUNT] = {z, sg, tanh(z), fmax(z, 0), z > 0 ? z : ls * z, z > 0 ? z : exp(z) - 1,
                                      sl * (z > 0 ? z : sa * (exp(z) - 1)), z / (1 + fabs(z)), log(1 + exp(z)),
                                      0.5 * z * (1 + erf(z / sqrt(2.0))), 0.5 * z * (1 + th)};
        double d[CLGRAD_ACT_COUNT] = {1, sg * (1 - sg), 1 - tanh(z) * tanh(z), z > 0, z > 0 ? 1 : ls,
                                      z > 0 ? 1 : exp(z), z > 0 ? sl : sl * sa * exp(z),
                                      1 / ((1 + fabs(z)) * (1 + fabs(z))), sg,
                                      0.5 * (1 + erf(z / sqrt(2.0))) + z * exp(-z * z / 2) / sqrt(2 * pi),
                                      0.5 * (1 + th) + 0.5 * z * (1 - th * th) * b * (1 + 3 * k * z * z)};
        for (int a = 0; a < CLGRAD_ACT_COUNT; a++) {
            double p = clgrad_act_default_param((clgrad_act)a);
            double rf = clgrad_activation_ref_forward((clgrad_act)a, p, z);
            double rd = clgrad_activation_ref_derivative((clgrad_act)a, p, z);
            if (fabs(rf - f[a]) > 1e-13 * (1 + fabs(f[a])) || fabs(rd - d[a]) > 1e-13 * (1 + fabs(d[a]))) {
                if (bad++ < 5)
                    fprintf(stderr, "  %s z=%g: f %.17g vs %.17g, f' %.17g vs %.17g\n", clgrad_act_name((clgrad_act)a),
                            z, rf, f[a], rd, d[a]);
            }
        }
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* The limits at ±Inf and the conventions at 0, from the mathematics (not
** from the reference): {act, p, f(+Inf), f(-Inf), f'(+Inf), f'(-Inf), f'(0)}. */
#define SL 1.0507009873554805
#define SA 1.6732632423543772
static const struct { clgrad_act act; float p; double fpinf, fninf, dpinf, dninf, d0; } limits_[] = {
    {CLGRAD_ACT_IDENTITY, 0, INFINITY, -INFINITY, 1, 1, 1},
    {CLGRAD_ACT_SIGMOID, 0, 1, 0, 0, 0, 0.25},
    {CLGRAD_ACT_TANH, 0, 1, -1, 0, 0, 1},
    {CLGRAD_ACT_RELU, 0, INFINITY, 0, 1, 0, 0},
    {CLGRAD_ACT_LEAKY_RELU, 0.01f, INFINITY, -INFINITY, 1, 0.01f, 0.01f},
    {CLGRAD_ACT_LEAKY_RELU, 0.0f, INFINITY, 0, 1, 0, 0},
    {CLGRAD_ACT_ELU, 1.0f, INFINITY, -1, 1, 0, 1},
    {CLGRAD_ACT_ELU, 0.5f, INFINITY, -0.5, 1, 0, 0.5},
    {CLGRAD_ACT_SELU, 0, INFINITY, -SL * SA, SL, 0, SL * SA},
    {CLGRAD_ACT_SOFTSIGN, 0, 1, -1, 0, 0, 1},
    {CLGRAD_ACT_SOFTPLUS, 0, INFINITY, 0, 1, 0, 0.5},
    {CLGRAD_ACT_GELU, 0, INFINITY, 0, 1, 0, 0.5},
    {CLGRAD_ACT_GELU_TANH, 0, INFINITY, 0, 1, 0, 0.5},
};
#define NLIMITS ((int)(sizeof limits_ / sizeof limits_[0]))

/* a == b, or both within 8 ulp (float constants) */
static int same_(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= 8 * ULP * fabs(b);
}

START_TEST(reference_limits)
{
    for (int i = 0; i < NLIMITS; i++) {
        clgrad_act a = limits_[i].act;
        double p = limits_[i].p;
        const char *nm = clgrad_act_name(a);
        ck_assert_msg(same_(clgrad_activation_ref_forward(a, p, INFINITY), limits_[i].fpinf), "%s f(+inf)", nm);
        ck_assert_msg(same_(clgrad_activation_ref_forward(a, p, -INFINITY), limits_[i].fninf), "%s f(-inf)", nm);
        ck_assert_msg(same_(clgrad_activation_ref_derivative(a, p, INFINITY), limits_[i].dpinf), "%s f'(+inf)", nm);
        ck_assert_msg(same_(clgrad_activation_ref_derivative(a, p, -INFINITY), limits_[i].dninf), "%s f'(-inf)", nm);
        ck_assert_msg(same_(clgrad_activation_ref_derivative(a, p, 0.0), limits_[i].d0), "%s f'(0)", nm);
        ck_assert_msg(isnan(clgrad_activation_ref_forward(a, p, NAN)), "%s f(NaN)", clgrad_act_name(a));
        ck_assert_msg(isnan(clgrad_activation_ref_backward(a, p, 0.5, NAN)), "%s dh NaN", clgrad_act_name(a));
        if (a != CLGRAD_ACT_IDENTITY)
            ck_assert_msg(isnan(clgrad_activation_ref_derivative(a, p, NAN)), "%s f'(NaN)", clgrad_act_name(a));
    }
}
END_TEST

/* ------------------------------------------------------ device kernels */

#define OFF_Z 5
#define OFF_H 3
#define PAD 10
#define SENTINEL 7777.0f

/* Sentinels outside [off, off + n) must survive. */
static size_t check_sentinels_(const char *what, const float *buf, size_t total, size_t off, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < total; i++)
        if ((i < off || i >= off + n) && buf[i] != SENTINEL && bad++ < 3)
            fprintf(stderr, "  %s: element %zu outside the range was overwritten (%g)\n", what, i, (double)buf[i]);
    return bad;
}

/* Finite input (and finite dh) must give a finite output, unless the true
** value itself overflows float (never for |z| <= 1e38 with these functions). */
static size_t check_finite_(const char *what, const float *z, const float *dh, const float *out, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(z[i]) && (!dh || isfinite(dh[i])) && !isfinite(out[i]) && bad++ < 3)
            fprintf(stderr, "  %s: finite input z=%g gave %g\n", what, (double)z[i], (double)out[i]);
    return bad;
}

static int forward_case_(variant_ v, size_t n, int in_place)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t total = n + PAD + OFF_Z;
    float *z = malloc(n * sizeof *z), *buf = malloc(total * sizeof *buf), *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref), *tol = malloc(n * sizeof *tol);
    ck_assert(z && buf && out && ref && tol);
    fill_z_(z, n, n * 131u + (uint64_t)v.act * 7u + (uint64_t)(v.p * 100));
    for (size_t i = 0; i < n; i++) {
        ref[i] = clgrad_activation_ref_forward(v.act, v.p, z[i]);
        clgrad_activation_ref_bounds(v.act, v.p, z[i], 0.0, &tol[i], NULL);
    }
    for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
    for (size_t i = 0; i < n; i++) buf[OFF_Z + i] = z[i];
    cl_mem dz = fixture_upload(buf, total, "z"), dh = NULL;
    size_t hoff = OFF_Z;
    if (in_place) dh = dz;
    else {
        for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
        dh = fixture_upload(buf, total, "h");
        hoff = OFF_H;
    }
    FX_OK(clgrad_activation_forward(ctx, v.act, v.p, dz, OFF_Z, dh, hoff, n));
    fixture_download(dh, buf, total);
    memcpy(out, buf + hoff, n * sizeof *out);
    char what[96];
    snprintf(what, sizeof what, "%s(p=%g) forward n=%zu%s", clgrad_act_name(v.act), (double)v.p, n,
             in_place ? " in place" : "");
    size_t bad = fixture_check_tol(what, out, ref, tol, n);
    bad += check_finite_(what, z, NULL, out, n);
    if (!in_place) bad += check_sentinels_(what, buf, total, hoff, n);
    else {
        for (size_t i = 0; i < OFF_Z; i++) bad += buf[i] != SENTINEL;
        for (size_t i = OFF_Z + n; i < total; i++) bad += buf[i] != SENTINEL;
    }
    clgrad_buf_free(&dz);
    if (!in_place) clgrad_buf_free(&dh);
    free(z), free(buf), free(out), free(ref), free(tol);
    return bad == 0;
}

/* in_place: dz written over dh (same buffer and offset) */
static int backward_case_(variant_ v, size_t n, int in_place)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t total = n + PAD + OFF_Z;
    float *z = malloc(n * sizeof *z), *g = malloc(n * sizeof *g), *buf = malloc(total * sizeof *buf);
    float *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref), *tol = malloc(n * sizeof *tol);
    ck_assert(z && g && buf && out && ref && tol);
    uint64_t salt = n * 977u + (uint64_t)v.act * 13u + (uint64_t)(v.p * 100);
    fill_z_(z, n, salt);
    clgrad_testrng r = fixture_rng(salt + 1);
    for (size_t i = 0; i < n; i++) g[i] = clgrad_testrng_uniform(&r, -2, 2);
    for (size_t i = 0; i < n; i++) {
        ref[i] = clgrad_activation_ref_backward(v.act, v.p, z[i], g[i]);
        clgrad_activation_ref_bounds(v.act, v.p, z[i], g[i], NULL, &tol[i]);
    }
    for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
    for (size_t i = 0; i < n; i++) buf[OFF_Z + i] = z[i];
    cl_mem dz = fixture_upload(buf, total, "z");
    for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
    for (size_t i = 0; i < n; i++) buf[OFF_H + i] = g[i];
    cl_mem ddh = fixture_upload(buf, total, "dh"), dout = ddh;
    size_t ooff = OFF_H;
    if (!in_place) {
        for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
        dout = fixture_upload(buf, total, "dz");
        ooff = 0;
    }
    FX_OK(clgrad_activation_backward(ctx, v.act, v.p, dz, OFF_Z, ddh, OFF_H, dout, ooff, n));
    fixture_download(dout, buf, total);
    memcpy(out, buf + ooff, n * sizeof *out);
    char what[96];
    snprintf(what, sizeof what, "%s(p=%g) backward n=%zu%s", clgrad_act_name(v.act), (double)v.p, n,
             in_place ? " in place" : "");
    size_t bad = fixture_check_tol(what, out, ref, tol, n);
    bad += check_finite_(what, z, g, out, n);
    bad += check_sentinels_(what, buf, total, ooff, n);
    clgrad_buf_free(&dz);
    clgrad_buf_free(&ddh);
    if (!in_place) clgrad_buf_free(&dout);
    free(z), free(g), free(buf), free(out), free(ref), free(tol);
    return bad == 0;
}

START_TEST(forward)
{
    init_variants_();
    size_t n = size_of_(_i);
    int ok = 1;
    for (int v = 0; v < nvariants_; v++) ok &= forward_case_(variants_[v], n, 0) & forward_case_(variants_[v], n, 1);
    ck_assert_msg(ok, "forward n=%zu", n);
}
END_TEST

START_TEST(backward)
{
    init_variants_();
    size_t n = size_of_(_i);
    int ok = 1;
    for (int v = 0; v < nvariants_; v++) ok &= backward_case_(variants_[v], n, 0) & backward_case_(variants_[v], n, 1);
    ck_assert_msg(ok, "backward n=%zu", n);
}
END_TEST

/* Every special value with dh = 1 and dh = NaN, and the limits table on the device. */
START_TEST(specials)
{
    init_variants_();
    clgrad_ctx *ctx = fixture_ctx();
    const size_t n = 2 * NSPECIALS;
    float z[2 * NSPECIALS], g[2 * NSPECIALS], out[2 * NSPECIALS];
    double ref[2 * NSPECIALS], tol[2 * NSPECIALS];
    for (int i = 0; i < NSPECIALS; i++) z[i] = z[i + NSPECIALS] = specials_[i], g[i] = 1.0f, g[i + NSPECIALS] = NAN;
    cl_mem dz = fixture_upload(z, n, "z"), dg = fixture_upload(g, n, "dh"), dout = fixture_upload(z, n, "out");
    int ok = 1;
    for (int vi = 0; vi < nvariants_; vi++) {
        variant_ v = variants_[vi];
        char what[96];
        FX_OK(clgrad_activation_forward(ctx, v.act, v.p, dz, 0, dout, 0, n));
        fixture_download(dout, out, n);
        for (size_t i = 0; i < n; i++) {
            ref[i] = clgrad_activation_ref_forward(v.act, v.p, z[i]);
            clgrad_activation_ref_bounds(v.act, v.p, z[i], g[i], &tol[i], NULL);
        }
        snprintf(what, sizeof what, "%s(p=%g) forward specials", clgrad_act_name(v.act), (double)v.p);
        ok &= fixture_check_tol(what, out, ref, tol, n) == 0;
        ok &= check_finite_(what, z, NULL, out, n) == 0;
        for (size_t i = 0; i < n; i++)
            if (isnan(z[i]) && !isnan(out[i])) ok = 0, fprintf(stderr, "  %s: NaN in, %g out\n", what, (double)out[i]);

        FX_OK(clgrad_activation_backward(ctx, v.act, v.p, dz, 0, dg, 0, dout, 0, n));
        fixture_download(dout, out, n);
        for (size_t i = 0; i < n; i++) {
            ref[i] = clgrad_activation_ref_backward(v.act, v.p, z[i], g[i]);
            clgrad_activation_ref_bounds(v.act, v.p, z[i], g[i], NULL, &tol[i]);
        }
        snprintf(what, sizeof what, "%s(p=%g) backward specials", clgrad_act_name(v.act), (double)v.p);
        ok &= fixture_check_tol(what, out, ref, tol, n) == 0;
        ok &= check_finite_(what, z, g, out, n) == 0;
        for (size_t i = 0; i < n; i++)
            if ((isnan(g[i]) || (isnan(z[i]) && v.act != CLGRAD_ACT_IDENTITY)) && !isnan(out[i]))
                ok = 0, fprintf(stderr, "  %s: NaN in, %g out (z=%g)\n", what, (double)out[i], (double)z[i]);
    }
    /* the limits table on the device, independent of the reference */
    float zl[3] = {INFINITY, -INFINITY, 0.0f}, one[3] = {1, 1, 1}, o[3];
    cl_mem dzl = fixture_upload(zl, 3, "zl"), d1 = fixture_upload(one, 3, "one"), dol = fixture_upload(one, 3, "ol");
    for (int i = 0; i < NLIMITS; i++) {
        clgrad_act a = limits_[i].act;
        float p = limits_[i].p;
        FX_OK(clgrad_activation_forward(ctx, a, p, dzl, 0, dol, 0, 2));
        fixture_download(dol, o, 2);
        if (!same_(o[0], limits_[i].fpinf) || !same_(o[1], limits_[i].fninf))
            ok = 0, fprintf(stderr, "  %s(p=%g): f(+-inf) = %g, %g\n", clgrad_act_name(a), (double)p, (double)o[0],
                            (double)o[1]);
        FX_OK(clgrad_activation_backward(ctx, a, p, dzl, 0, d1, 0, dol, 0, 3));
        fixture_download(dol, o, 3);
        if (!same_(o[0], limits_[i].dpinf) || !same_(o[1], limits_[i].dninf) || !same_(o[2], limits_[i].d0))
            ok = 0, fprintf(stderr, "  %s(p=%g): f'(+-inf, 0) = %g, %g, %g\n", clgrad_act_name(a), (double)p,
                            (double)o[0], (double)o[1], (double)o[2]);
    }
    clgrad_buf_free(&dz), clgrad_buf_free(&dg), clgrad_buf_free(&dout);
    clgrad_buf_free(&dzl), clgrad_buf_free(&d1), clgrad_buf_free(&dol);
    ck_assert(ok);
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "m", &m));
    ck_assert_int_eq(clgrad_activation_forward(ctx, CLGRAD_ACT_COUNT, 0, m, 0, m, 0, 16), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "unknown activation") != NULL, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(clgrad_activation_backward(ctx, (clgrad_act)-1, 0, m, 0, m, 0, m, 0, 16), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_activation_forward(ctx, CLGRAD_ACT_RELU, 0, NULL, 0, m, 0, 16), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_activation_forward(ctx, CLGRAD_ACT_RELU, 0, m, 0, m, 0, 0), CLGRAD_OK);
    clgrad_buf_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ bias */

static const size_t bias_dims_[] = {1, 7, 65, 257};

static int bias_add_case_(size_t B, size_t N)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t xoff = 3, boff = 2, total = xoff + B * N + PAD;
    float *X = malloc(total * sizeof *X), *b = malloc((N + boff) * sizeof *b), *out = malloc(total * sizeof *out);
    double *ref = malloc(B * N * sizeof *ref), *tol = malloc(B * N * sizeof *tol);
    ck_assert(X && b && out && ref && tol);
    clgrad_testrng r = fixture_rng(B * 1000 + N);
    for (size_t i = 0; i < total; i++)
        X[i] = (i < xoff || i >= xoff + B * N) ? SENTINEL : clgrad_testrng_uniform(&r, -3, 3);
    for (size_t j = 0; j < N + boff; j++) b[j] = clgrad_testrng_uniform(&r, -3, 3);
    clgrad_activation_ref_bias_add(X + xoff, B, N, b + boff, ref);
    /* one correctly rounded add: 0.5 ulp, +0.5 for the reference's own rounding */
    for (size_t i = 0; i < B * N; i++) tol[i] = 0x1.0p-23 * fabs(ref[i]);
    cl_mem dX = fixture_upload(X, total, "X"), db = fixture_upload(b, N + boff, "b");
    FX_OK(clgrad_activation_bias_add(ctx, dX, xoff, B, N, db, boff));
    fixture_download(dX, out, total);
    char what[64];
    snprintf(what, sizeof what, "bias_add B=%zu N=%zu", B, N);
    size_t bad = fixture_check_tol(what, out + xoff, ref, tol, B * N) + check_sentinels_(what, out, total, xoff, B * N);
    clgrad_buf_free(&dX), clgrad_buf_free(&db);
    free(X), free(b), free(out), free(ref), free(tol);
    return bad == 0;
}

/*
** bias_grad bound, u = 2^-24, mag_j = sum_i |dY_ij| + |beta db_j|: Neumaier
** sums over 32-row blocks and a compensated pairwise tree over the blocks
** (cl/activation.cl): 2u |sum| plus second-order terms (depth) u^2 (< 1u),
** the beta product and the last addition 2u: |db - ref| <= 16 u mag_j keeps
** the former bound (per-item sums and an 8-level plain tree) with margin.
*/
static int bias_grad_case_(size_t B, size_t N, float beta)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t yoff = 5, dboff = 1, total = yoff + B * N;
    float *Y = malloc(total * sizeof *Y), *db0 = malloc((N + dboff + 2) * sizeof *db0);
    float *out = malloc((N + dboff + 2) * sizeof *out), *out2 = malloc((N + dboff + 2) * sizeof *out2);
    double *ref = malloc(N * sizeof *ref), *tol = malloc(N * sizeof *tol);
    ck_assert(Y && db0 && out && out2 && ref && tol);
    clgrad_testrng r = fixture_rng(B * 7777 + N + (uint64_t)(beta * 8));
    /* a common offset of 1 plus noise: the sums are large and need care */
    for (size_t i = 0; i < total; i++) Y[i] = i < yoff ? NAN : 1.0f + clgrad_testrng_uniform(&r, -0.5f, 0.5f);
    for (size_t j = 0; j < N + dboff + 2; j++) {
        if (j < dboff || j >= dboff + N) db0[j] = SENTINEL;
        else db0[j] = beta == 0 ? NAN : clgrad_testrng_uniform(&r, -1, 1); /* beta 0: db is not read */
    }
    clgrad_activation_ref_bias_grad(Y + yoff, B, N, beta, db0 + dboff, ref);
    for (size_t j = 0; j < N; j++) {
        double mag = beta == 0 ? 0 : fabs((double)beta * db0[dboff + j]);
        for (size_t i = 0; i < B; i++) mag += fabs(Y[yoff + i * N + j]);
        tol[j] = 16 * 0x1.0p-24 * mag;
    }
    cl_mem dY = fixture_upload(Y, total, "dY"), ddb = fixture_upload(db0, N + dboff + 2, "db");
    FX_OK(clgrad_activation_bias_grad(ctx, dY, yoff, B, N, beta, ddb, dboff));
    fixture_download(ddb, out, N + dboff + 2);
    /* determinism: the same inputs again */
    FX_OK(clgrad_buf_write(ctx, ddb, 0, N + dboff + 2, db0));
    FX_OK(clgrad_activation_bias_grad(ctx, dY, yoff, B, N, beta, ddb, dboff));
    fixture_download(ddb, out2, N + dboff + 2);
    char what[64];
    snprintf(what, sizeof what, "bias_grad B=%zu N=%zu beta=%g", B, N, (double)beta);
    size_t bad = fixture_check_tol(what, out + dboff, ref, tol, N);
    bad += check_sentinels_(what, out, N + dboff + 2, dboff, N);
    if (memcmp(out, out2, (N + dboff + 2) * sizeof *out) != 0)
        bad++, fprintf(stderr, "  %s: not bitwise reproducible\n", what);
    clgrad_buf_free(&dY), clgrad_buf_free(&ddb);
    free(Y), free(db0), free(out), free(out2), free(ref), free(tol);
    return bad == 0;
}

START_TEST(bias_add)
{
    size_t B = bias_dims_[_i / 4], N = bias_dims_[_i % 4];
    ck_assert_msg(bias_add_case_(B, N), "bias_add B=%zu N=%zu", B, N);
}
END_TEST

START_TEST(bias_grad)
{
    size_t B = bias_dims_[_i / 4], N = bias_dims_[_i % 4];
    ck_assert_msg(bias_grad_case_(B, N, 0.0f), "beta 0");
    ck_assert_msg(bias_grad_case_(B, N, 1.0f), "beta 1");
    ck_assert_msg(bias_grad_case_(B, N, 0.5f), "beta 0.5");
}
END_TEST

/* One column needs the compensation: 1e4 then, in the same work-item, ~234
** terms of 1e-4, each below half an ulp of 1e4: a plain running sum drops
** 0.023, more than the bound (16 u (1e4 + 6) = 9.5e-3). */
static int bias_compensated_(void)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t B = 60000;
    float *Y = malloc(B * sizeof *Y), o;
    double ref, tol, mag = 0;
    ck_assert(Y != NULL);
    for (size_t i = 0; i < B; i++) Y[i] = i == 0 ? 1e4f : 1e-4f, mag += Y[i];
    clgrad_activation_ref_bias_grad(Y, B, 1, 0.0, NULL, &ref);
    tol = 16 * 0x1.0p-24 * mag;
    cl_mem dY = fixture_upload(Y, B, "dY"), db = fixture_upload(Y, 1, "db");
    FX_OK(clgrad_activation_bias_grad(ctx, dY, 0, B, 1, 0.0f, db, 0));
    fixture_download(db, &o, 1);
    clgrad_buf_free(&dY), clgrad_buf_free(&db);
    free(Y);
    return fixture_check_tol("bias_grad compensated", &o, &ref, &tol, 1) == 0;
}

START_TEST(bias_tall)
{
    ck_assert(bias_compensated_());
    ck_assert(bias_grad_case_(60000, 3, 0.0f));
    ck_assert(bias_grad_case_(60000, 3, 1.0f));
    ck_assert(bias_add_case_(10000, 3));
    /* a dense layer's shape: whole float8 column vectors, a split over rows */
    ck_assert(bias_add_case_(128, 256));
    ck_assert(bias_grad_case_(128, 256, 0.0f));
    ck_assert(bias_grad_case_(128, 256, 0.5f));
    ck_assert(bias_add_case_(1000, 64));
    ck_assert(bias_grad_case_(1000, 64, 1.0f));
    ck_assert(bias_grad_case_(3, 1000, 0.0f));
}
END_TEST

START_TEST(bias_inf)
{
    /* an Inf in a column gives Inf, not NaN from the compensation term */
    clgrad_ctx *ctx = fixture_ctx();
    float Y[6] = {1, INFINITY, 2, 3, 4, -5}, o[3];
    cl_mem dY = fixture_upload(Y, 6, "dY"), db = fixture_upload(Y, 3, "db");
    FX_OK(clgrad_activation_bias_grad(ctx, dY, 0, 3, 2, 0.0f, db, 0)); /* columns {1,2,4}, {Inf,3,-5} */
    fixture_download(db, o, 2);
    ck_assert_msg(o[0] == 7.0f && o[1] == INFINITY, "%g %g", (double)o[0], (double)o[1]);
    Y[1] = -INFINITY;
    FX_OK(clgrad_buf_write(ctx, dY, 0, 6, Y));
    FX_OK(clgrad_activation_bias_grad(ctx, dY, 0, 2, 3, 0.0f, db, 0)); /* columns {1,3}, {-Inf,4}, {2,-5} */
    fixture_download(db, o, 3);
    ck_assert_msg(o[0] == 4.0f && o[1] == -INFINITY && o[2] == -3.0f, "%g %g %g", (double)o[0], (double)o[1],
                  (double)o[2]);
    clgrad_buf_free(&dY), clgrad_buf_free(&db);
}
END_TEST

/* ---------------------------------------------------------------- bitwise vs host */

/* Awkward values, then random normals (scaled) and random bit patterns. */
/* The inputs of bitwise_host, ±z for each fixed z, then NaN and random ones.
** They are also the direct bitwise test of cl/math.cl's functions, float8
** (kernels) against the host scalar build: the fixed z reach every branch
** of every function the activations use, on the arguments they use:
**   exp(-|z|) (sigmoid, softplus, tanh', elu', selu', gelu', gelu_tanh):
**     the polynomial near 0, normal results, denormal results (|z| in
**     (87.34, 103.97): 88 .. 100), 0 and the clamp (104, 1e4, Inf), NaN;
**     exp of a positive argument is computed only where a select discards it
**     (elu', selu' for z > 0), and clgrad uses it nowhere else;
**   expm1(z <= 0) (elu, selu): |z| < 2^-24 returns z (denormals, 1e-8,
**     2.9e-8), k = 0 (|z| < 0.35: 1e-4, 0.25, 0.3), k < 0, the clamp at -20 (30 ..);
**   log1p(exp(-|z|)) (softplus): u = 1 + x in [1, sqrt 2) with the polynomial
**     on x (|z| > 0.8814: 0.88 is on the other side, 1, 2 ..) and k = 1 with the
**     correction c/u (0.25, 0.5, 0.75, 0.88), x < 2^-24 (|z| > 16.64: 16.7,
**     17, 20), x = 0 (|z| >= 104), x = 1 (z = 0);
**   tanh (tanh): |z| < 0.5625 polynomial (denormals .. 0.5), >= 0.5625
**     (0.5625 .. 9.5), the clamp at 10 (10.1, 15 ..), ±0, ±Inf, NaN;
**   erfc(-z / sqrt 2) (gelu, gelu'): |x| < 0.5 (|z| < 0.7071: 0.7), |x| >= 0.5
**     (0.71 ..), x < 0 via 2 - erfc(|x|) (z > 0), denormal results (x in
**     [9.2, 10.05]: z = -13 .. -14.2), 0 beyond (z = -14.3: x = 10.11 past the
**     clamp at 10.1), ±Inf, NaN.
** math.cl's log is not used by any activation (only by loss.cl's
** log-sum-exp, on [1, classes]); its core is log1p's (LOGCORE). */
static size_t fill_bitwise_(float *z, size_t n)
{
    static const float fixed[] = {0.0f,  1e-40f, 1e-45f, 0x1p-127f, FLT_MIN, 1e-8f,  2.9e-8f, 1e-4f,  0.25f, 0.3f,
                                  0.5f,  0.5625f, 0.7f,  0.71f,     0.75f,   0.88f,  1.0f,    2.0f,   3.0f,  5.0f,
                                  8.0f,  9.0f,   9.5f,  10.0f,     10.1f,   13.0f,  13.5f,   14.0f,  14.2f, 14.3f,
                                  15.0f, 16.7f,  17.0f, 20.0f,     30.0f,   87.0f,  88.0f,   88.72f, 89.0f, 100.0f,
                                  104.0f, 1e4f,  1e20f, 1e30f,     FLT_MAX, INFINITY};
    size_t k = 0;
    const int nf = (int)(sizeof fixed / sizeof fixed[0]);
    for (int i = 0; i < nf && k + 2 <= n; i++) {
        z[k++] = fixed[i];
        z[k++] = -fixed[i];
    }
    if (k < n) z[k++] = NAN;
    clgrad_testrng r = fixture_rng(4242);
    for (; k < n; k++) {
        uint64_t w = clgrad_testrng_next(&r);
        if (k % 3 == 0) { /* a random bit pattern */
            uint32_t u = (uint32_t)(w >> 32);
            memcpy(&z[k], &u, sizeof u);
        } else if (k % 3 == 1) { /* ~N(0, 1) (sum of uniforms) times a scale */
            float g = 0.0f;
            for (int j = 0; j < 12; j++) g += clgrad_testrng_uniform(&r, 0.0f, 1.0f);
            z[k] = (g - 6.0f) * (k % 5 == 1 ? 10.0f : 1.0f);
        } else {
            z[k] = clgrad_testrng_uniform(&r, -12.0f, 12.0f);
        }
    }
    return k;
}

static size_t bitwise_cmp_(const char *what, const float *z, const float *dev, const float *host, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(dev[i]) && isnan(host[i])) continue; /* NaN payloads may differ between devices */
        if (memcmp(&dev[i], &host[i], sizeof(float)) == 0) continue;
        if (bad++ < 5)
            fprintf(stderr, "%s: z = %a (%.9g): device %a, host %a\n", what, (double)z[i], (double)z[i],
                    (double)dev[i], (double)host[i]);
    }
    return bad;
}

/* Every activation's forward and backward kernel (dh = 1, so dz = f'(z) exactly)
** against the host scalar build of the same source, bit for bit. */
START_TEST(bitwise_host)
{
    init_variants_();
    const size_t n = 4099;
    float *z = malloc(n * sizeof *z), *dev = malloc(n * sizeof *dev), *host = malloc(n * sizeof *host);
    float *ones = malloc(n * sizeof *ones);
    ck_assert(z && dev && host && ones);
    fill_bitwise_(z, n);
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    cl_mem dz = fixture_upload(z, n, "z"), dout = fixture_upload(z, n, "out"), done = fixture_upload(ones, n, "dh");
    size_t bad = 0;
    for (int v = 0; v < nvariants_; v++) {
        const variant_ va = variants_[v];
        char what[96];
        FX_OK(clgrad_activation_forward(fixture_ctx(), va.act, va.p, dz, 0, dout, 0, n));
        fixture_download(dout, dev, n);
        for (size_t i = 0; i < n; i++) host[i] = act_f1_((int)va.act, va.p, z[i]);
        snprintf(what, sizeof what, "%s(p=%g) forward", clgrad_act_name(va.act), (double)va.p);
        bad += bitwise_cmp_(what, z, dev, host, n);
        FX_OK(clgrad_activation_backward(fixture_ctx(), va.act, va.p, dz, 0, done, 0, dout, 0, n));
        fixture_download(dout, dev, n);
        for (size_t i = 0; i < n; i++) host[i] = act_d1_((int)va.act, va.p, z[i]);
        snprintf(what, sizeof what, "%s(p=%g) backward", clgrad_act_name(va.act), (double)va.p);
        bad += bitwise_cmp_(what, z, dev, host, n);
    }
    clgrad_buf_free(&dz);
    clgrad_buf_free(&dout);
    clgrad_buf_free(&done);
    free(z), free(dev), free(host), free(ones);
    ck_assert_msg(bad == 0, "%zu device results differ from the host build of act_fn.cl", bad);
}
END_TEST

/* ---- vector_lanes: math.cl's and act_fn.cl's float8 and float16 versions ----
** A test program (common.cl, math.cl, act_fn.cl from $CLGRAD_SOURCE_ROOT/cl,
** the context's build options, two kernels below) applies each of math.cl's
** functions and each activation's f and f' to bitwise_host's inputs (±0,
** denormals, ±Inf, NaN, large |z|, random values and bit patterns) as float8
** halves and as float16s: both must give the host scalar build's bits in
** every lane (NaN: NaN), and each other's exactly. */
static const char *lanes_src_ =
    "__kernel void lanes_math(__global const float *z, const int f, __global float *o8, __global float *o16)\n"
    "{\n"
    "    const size_t i = get_global_id(0);\n"
    "    const float16 v = vload16(i, z);\n"
    "    float16 a, b;\n"
    "#define LANES_F(k, name) \\\n"
    "    case k: a = (float16)(clgm_##name##8(v.lo), clgm_##name##8(v.hi)), b = clgm_##name##16(v); break;\n"
    "    switch (f) {\n"
    "    LANES_F(0, exp) LANES_F(1, expm1) LANES_F(2, log) LANES_F(3, log1p) LANES_F(4, tanh)\n"
    "    default: LANES_F(5, erfc)\n"
    "    }\n"
    "    vstore16(a, i, o8), vstore16(b, i, o16);\n"
    "}\n"
    "__kernel void lanes_act(__global const float *z, const int act, const float p, const int d, __global float *o8,\n"
    "                        __global float *o16)\n"
    "{\n"
    "    const size_t i = get_global_id(0);\n"
    "    const float16 v = vload16(i, z);\n"
    "    const float16 a = (float16)(act_f8_(act, p, v.lo), act_f8_(act, p, v.hi));\n"
    "    const float16 b = (float16)(act_d8_(act, p, v.lo), act_d8_(act, p, v.hi));\n"
    "    vstore16(d ? b : a, i, o8);\n"
    "    vstore16(d ? act_d16_(act, p, v) : act_f16_(act, p, v), i, o16);\n"
    "}\n";

#define LANES_CL(call) ck_assert_int_eq((call), CL_SUCCESS)

static cl_program lanes_program_(void)
{
    const char *root = getenv("CLGRAD_SOURCE_ROOT"), *files[] = {"common.cl", "math.cl", "act_fn.cl"};
    char *text[4] = {NULL, NULL, NULL, (char *)lanes_src_};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof path, "%s/cl/%s", root ? root : ".", files[i]);
        ck_assert_msg(clgrad_fs_read_all(path, 0, 0, &text[i], &len) == 0, "cannot read %s", path);
    }
    cl_int err;
    cl_program prog = clCreateProgramWithSource(clgrad_cl_context(fixture_ctx()), 4, (const char **)text, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_device_id dev = clgrad_device(fixture_ctx())->device;
    err = clBuildProgram(prog, 1, &dev, clgrad_build_options(fixture_ctx()), NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[8192] = "";
        clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        fprintf(stderr, "%s\n", log);
    }
    ck_assert_int_eq(err, CL_SUCCESS);
    for (int i = 0; i < 3; i++) free(text[i]);
    return prog;
}

/* Runs kernel k (its arguments from 1 on set) on z (n, a multiple of 16); o8, o16 its outputs. */
static size_t lanes_run_(cl_kernel k, int nargs, cl_mem dz, size_t n, const char *what, const float *z,
                         const float *host, float *o8, float *o16, cl_mem d8, cl_mem d16)
{
    LANES_CL(clSetKernelArg(k, 0, sizeof dz, &dz));
    LANES_CL(clSetKernelArg(k, (cl_uint)nargs, sizeof d8, &d8));
    LANES_CL(clSetKernelArg(k, (cl_uint)nargs + 1, sizeof d16, &d16));
    size_t g = n / 16;
    LANES_CL(clEnqueueNDRangeKernel(clgrad_queue(fixture_ctx()), k, 1, NULL, &g, NULL, 0, NULL, NULL));
    fixture_download(d8, o8, n);
    fixture_download(d16, o16, n);
    char w[128];
    snprintf(w, sizeof w, "%s float8", what);
    size_t bad = bitwise_cmp_(w, z, o8, host, n);
    snprintf(w, sizeof w, "%s float16", what);
    bad += bitwise_cmp_(w, z, o16, host, n);
    if (memcmp(o8, o16, n * sizeof *o8) != 0) bad++, fprintf(stderr, "%s: float8 and float16 bits differ\n", what);
    return bad;
}

START_TEST(vector_lanes)
{
    init_variants_();
    const size_t n = 4112; /* bitwise_host's 4099 inputs and 13 more, a multiple of 16 */
    float *z = malloc(n * sizeof *z), *host = malloc(n * sizeof *host), *o8 = malloc(n * sizeof *o8);
    float *o16 = malloc(n * sizeof *o16);
    ck_assert(z && host && o8 && o16);
    fill_bitwise_(z, n);
    cl_mem dz = fixture_upload(z, n, "z"), d8 = fixture_upload(z, n, "o8"), d16 = fixture_upload(z, n, "o16");
    cl_program prog = lanes_program_();
    cl_int err;
    cl_kernel km = clCreateKernel(prog, "lanes_math", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_kernel ka = clCreateKernel(prog, "lanes_act", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    static const char *fnames[] = {"exp", "expm1", "log", "log1p", "tanh", "erfc"};
    float (*const fns[])(float) = {clgm_exp, clgm_expm1, clgm_log, clgm_log1p, clgm_tanh, clgm_erfc};
    size_t bad = 0;
    for (cl_int f = 0; f < 6; f++) {
        for (size_t i = 0; i < n; i++) host[i] = fns[f](z[i]);
        LANES_CL(clSetKernelArg(km, 1, sizeof f, &f));
        bad += lanes_run_(km, 2, dz, n, fnames[f], z, host, o8, o16, d8, d16);
    }
    for (int v = 0; v < nvariants_; v++)
        for (cl_int d = 0; d < 2; d++) {
            const cl_int act = (cl_int)variants_[v].act;
            const cl_float p = variants_[v].p;
            for (size_t i = 0; i < n; i++) host[i] = d ? act_d1_(act, p, z[i]) : act_f1_(act, p, z[i]);
            LANES_CL(clSetKernelArg(ka, 1, sizeof act, &act));
            LANES_CL(clSetKernelArg(ka, 2, sizeof p, &p));
            LANES_CL(clSetKernelArg(ka, 3, sizeof d, &d));
            char what[96];
            snprintf(what, sizeof what, "%s(p=%g) %s", clgrad_act_name(variants_[v].act), (double)p, d ? "f'" : "f");
            bad += lanes_run_(ka, 4, dz, n, what, z, host, o8, o16, d8, d16);
        }
    clReleaseKernel(km), clReleaseKernel(ka), clReleaseProgram(prog);
    clgrad_buf_free(&dz), clgrad_buf_free(&d8), clgrad_buf_free(&d16);
    free(z), free(host), free(o8), free(o16);
    ck_assert_msg(bad == 0, "%zu vector results differ from the host scalar build", bad);
}
END_TEST

/* ---- bias_grad: independence of the work-group size ----
** The column sums follow a fixed order of (rows, cols) (cl/activation.cl):
** contexts built with CLGRAD_WG = 1, 2, 16, 64, 256 give the same bits,
** equal to the host float32 replica. */

static const size_t bgw_shapes_[][2] = {{0, 5},   {1, 1},    {7, 3},     {31, 9},  {32, 8},  {33, 17},
                                        {255, 1}, {257, 300}, {1000, 7}, {8193, 5}, {60001, 3}, {64, 1024}};
enum { BGW_N = sizeof bgw_shapes_ / sizeof bgw_shapes_[0] };

static float bgw_value_(clgrad_testrng *r)
{
    float u = clgrad_testrng_uniform(r, 0, 1), m = clgrad_testrng_uniform(r, -1, 1);
    if (u < 0.05f) return m < 0 ? -0.0f : 0.0f;
    if (u < 0.10f) return m * 0x1.0p-130f;
    return m * (float)pow(10.0, clgrad_testrng_uniform(r, -20, 20));
}

static size_t bgw_case_(clgrad_ctx *c, size_t rows, size_t cols, float beta, int special, size_t *nbad)
{
    size_t n = rows * cols, dboff = 2;
    float *Y = malloc((n + 1) * sizeof *Y), *db0 = malloc((cols + dboff) * sizeof *db0);
    float *rep = malloc(cols * sizeof *rep), *out = malloc((cols + dboff) * sizeof *out);
    ck_assert(Y && db0 && rep && out);
    clgrad_testrng r = fixture_rng(rows * 131 + cols + (size_t)special);
    for (size_t i = 0; i < n; i++) Y[i] = bgw_value_(&r);
    for (size_t j = 0; j < cols + dboff; j++) db0[j] = clgrad_testrng_uniform(&r, -1, 1);
    if (special && n > 2 * cols) {
        Y[0] = INFINITY, Y[cols] = -INFINITY; /* column 0: NaN */
        if (cols > 1) Y[n - 1] = NAN, Y[1] = -INFINITY;
        if (cols > 2) Y[cols + 2] = 1e38f, Y[2 * cols + 2] = 1e38f, Y[2] = 3e38f; /* overflows to Inf */
    }
    clgrad_activation_bias_grad_replica(Y, rows, cols, beta, db0 + dboff, rep);
    if (!fixture_denorms() && c != fixture_ctx()) {
        /* a device that flushes denormals: compare with its default run instead */
        float *d = malloc((cols + dboff) * sizeof *d);
        ck_assert(d);
        cl_mem y1 = fixture_upload(n ? Y : db0, n ? n : 1, "dY"), b1 = fixture_upload(db0, cols + dboff, "db");
        FX_OK(clgrad_activation_bias_grad(fixture_ctx(), y1, 0, rows, cols, beta, b1, dboff));
        fixture_download(b1, d, cols + dboff);
        memcpy(rep, d + dboff, cols * sizeof *rep);
        clgrad_buf_free(&y1), clgrad_buf_free(&b1);
        free(d);
    }
    cl_mem dY = NULL, ddb = NULL;
    ck_assert(clgrad_buf_new(c, n + 1, "dY", &dY) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, cols + dboff, "db", &ddb) == CLGRAD_OK);
    if (n) ck_assert(clgrad_buf_write(c, dY, 1, n, Y) == CLGRAD_OK);
    ck_assert(clgrad_buf_write(c, ddb, 0, cols + dboff, db0) == CLGRAD_OK);
    ck_assert_msg(clgrad_activation_bias_grad(c, dY, 1, rows, cols, beta, ddb, dboff) == CLGRAD_OK, "%s",
                  clgrad_errmsg(c));
    ck_assert(clgrad_buf_read(c, ddb, 0, cols + dboff, out) == CLGRAD_OK);
    size_t bad = 0;
    for (size_t j = 0; j < cols; j++)
        if (memcmp(out + dboff + j, rep + j, sizeof *rep) != 0 && !(isnan(out[dboff + j]) && isnan(rep[j])) &&
            bad++ < 3)
            fprintf(stderr, "  bias_grad WG %zu (%zu x %zu) beta %g col %zu: %a vs replica %a\n", clgrad_wg(c), rows,
                    cols, (double)beta, j, (double)out[dboff + j], (double)rep[j]);
    clgrad_buf_free(&dY), clgrad_buf_free(&ddb);
    free(Y), free(db0), free(rep), free(out);
    *nbad += bad;
    return bad;
}

START_TEST(bias_grad_wg)
{
    size_t bad = 0;
    for (int w = -1; w < fixture_nwgs; w++) {
        clgrad_ctx *c = w < 0 ? fixture_ctx() : fixture_open_wg("activation.cl", fixture_wgs[w]);
        if (!c || (w < 0 && !fixture_denorms())) continue;
        for (int k = 0; k < BGW_N; k++) {
            bgw_case_(c, bgw_shapes_[k][0], bgw_shapes_[k][1], 0.0f, 0, &bad);
            bgw_case_(c, bgw_shapes_[k][0], bgw_shapes_[k][1], 0.5f, 1, &bad);
        }
        if (w >= 0) clgrad_ctx_free(c);
    }
    ck_assert_msg(bad == 0, "%zu bias gradients differ from the fixed order", bad);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("activation");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, names_and_gains);
    tcase_add_test(tc, reference_finite_differences);
    tcase_add_test(tc, reference_textbook);
    tcase_add_test(tc, reference_limits);
    tcase_add_loop_test(tc, forward, 0, fixture_nsizes + NMORE);
    tcase_add_loop_test(tc, backward, 0, fixture_nsizes + NMORE);
    tcase_add_test(tc, specials);
    tcase_add_test(tc, bitwise_host);
    tcase_add_test(tc, vector_lanes);
    tcase_add_test(tc, bad_args);
    tcase_add_loop_test(tc, bias_add, 0, 16);
    tcase_add_loop_test(tc, bias_grad, 0, 16);
    tcase_add_test(tc, bias_tall);
    tcase_add_test(tc, bias_inf);
    tcase_add_test(tc, bias_grad_wg);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("activation.cl");
    return fixture_run(suite_(), 1);
}
