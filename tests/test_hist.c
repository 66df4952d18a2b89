/*
** test_hist.c: the log-magnitude histograms (include/clgrad/hist.h,
** cl/reduce.cl hist_chunks / hist_final) against a float64 host reference
** built on frexp (not on the bit tricks under test): the bin definition on
** the host, then the device counts of segment tables with awkward lengths
** (empty, 1, around the 16384-element chunks, over several chunks), garbage
** between segments, a buffer offset, random bit patterns (every exponent:
** denormals, Inf, NaN payloads) and log-uniform magnitudes, with planted
** +-0, denormals, +-Inf, NaN and exact powers of two at every bin edge.
** Exact counts must match, for every work-group size the device allows.
*/
#include "fixture.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference: floor(log2 |v|) from frexp, in float64. */
static int ref_bin_(float x)
{
    double v = fabs((double)x);
    if (isnan(v) || isinf(v)) return CLGRAD_HIST_NBINS - 1;
    if (v == 0) return 0;
    int e;
    frexp(v, &e); /* v = m 2^e, m in [0.5, 1): floor(log2 v) = e - 1 */
    e -= 1;
    if (e < CLGRAD_HIST_EMIN) return 1;
    if (e >= CLGRAD_HIST_EMAX) return CLGRAD_HIST_NBINS - 2;
    return 2 + e - CLGRAD_HIST_EMIN;
}

static float from_bits_(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Edge values: +-0, the smallest denormal, the largest denormal, FLT_MIN,
** each power of two from 2^-45 to 2^12 and its neighbours below and above,
** FLT_MAX, +-Inf, NaNs of both signs and two payloads. */
static size_t edges_(float *out)
{
    size_t n = 0;
    out[n++] = 0.0f, out[n++] = -0.0f;
    out[n++] = from_bits_(1u), out[n++] = from_bits_(0x007fffffu), out[n++] = FLT_MIN, out[n++] = -FLT_MIN;
    for (int e = -45; e <= 12; e++) {
        float p = ldexpf(1.0f, e);
        out[n++] = p, out[n++] = -p, out[n++] = nextafterf(p, 0.0f), out[n++] = nextafterf(p, INFINITY);
    }
    out[n++] = FLT_MAX, out[n++] = -FLT_MAX, out[n++] = INFINITY, out[n++] = -INFINITY;
    out[n++] = NAN, out[n++] = -NAN, out[n++] = from_bits_(0x7f800001u), out[n++] = from_bits_(0xffc12345u);
    return n;
}

START_TEST(host_bins)
{
    float e[512];
    size_t n = edges_(e);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(clgrad_hist_bin(e[i]) == ref_bin_(e[i]), "%a: bin %d, reference %d", (double)e[i],
                      clgrad_hist_bin(e[i]), ref_bin_(e[i]));
    /* the edges themselves: 2^-40 opens the first power bin, 2^8 the overflow bin */
    ck_assert_int_eq(clgrad_hist_bin(ldexpf(1.0f, -40)), 2);
    ck_assert_int_eq(clgrad_hist_bin(nextafterf(ldexpf(1.0f, -40), 0.0f)), 1);
    ck_assert_int_eq(clgrad_hist_bin(1.0f), 2 + 40);
    ck_assert_int_eq(clgrad_hist_bin(nextafterf(1.0f, 0.0f)), 2 + 39);
    ck_assert_int_eq(clgrad_hist_bin(ldexpf(1.0f, 8)), CLGRAD_HIST_NBINS - 2);
    ck_assert_int_eq(clgrad_hist_bin(nextafterf(256.0f, 0.0f)), CLGRAD_HIST_NBINS - 3);
    ck_assert_int_eq(clgrad_hist_bin(from_bits_(1u)), 1);
    ck_assert_int_eq(clgrad_hist_bin(-0.0f), 0);
    ck_assert_int_eq(clgrad_hist_bin(-NAN), CLGRAD_HIST_NBINS - 1);
    clgrad_testrng r = fixture_rng(3);
    for (int i = 0; i < 1000000; i++) {
        float x = from_bits_((uint32_t)clgrad_testrng_next(&r));
        ck_assert_msg(clgrad_hist_bin(x) == ref_bin_(x), "%a", (double)x);
    }
    char nm[32];
    clgrad_hist_bin_name(0, nm, sizeof nm); ck_assert_str_eq(nm, "zero");
    clgrad_hist_bin_name(1, nm, sizeof nm); ck_assert_str_eq(nm, "lt_2^-40");
    clgrad_hist_bin_name(2, nm, sizeof nm); ck_assert_str_eq(nm, "2^-40");
    clgrad_hist_bin_name(CLGRAD_HIST_NBINS - 3, nm, sizeof nm); ck_assert_str_eq(nm, "2^7");
    clgrad_hist_bin_name(CLGRAD_HIST_NBINS - 2, nm, sizeof nm); ck_assert_str_eq(nm, "ge_2^8");
    clgrad_hist_bin_name(CLGRAD_HIST_NBINS - 1, nm, sizeof nm); ck_assert_str_eq(nm, "nonfinite");
}
END_TEST

static const size_t lens_[] = {0, 1, 7, 255, 256, 257, 16383, 16384, 16385, 0, 100003, 5, 49153, 230};
enum { NS = sizeof lens_ / sizeof lens_[0], XOFF = 3, OOFF = 5 };

/* Segments in reverse order with a NaN between neighbours (must not be
** counted); values: random bit patterns, log-uniform magnitudes over
** [2^-46, 2^14), and the edge values planted at random places. */
static float *data_(size_t *off, size_t *n_out)
{
    size_t n = 0;
    for (size_t k = NS; k-- > 0;) off[k] = n + 1, n += lens_[k] + 1;
    float *x = malloc(n * sizeof *x), e[512];
    ck_assert(x);
    size_t ne = edges_(e);
    clgrad_testrng r = fixture_rng(11);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    for (size_t s = 0; s < NS; s++)
        for (size_t i = 0; i < lens_[s]; i++) {
            uint64_t u = clgrad_testrng_next(&r);
            float v;
            if ((u & 3) == 0) v = from_bits_((uint32_t)(u >> 32));
            else if ((u & 3) == 1) v = e[(u >> 8) % ne];
            else {
                double t = (double)(u >> 11) / 9007199254740992.0; /* [0, 1) */
                v = (float)ldexp(1.0 + t, (int)((u >> 2) % 60) - 46);
                if (u & 4) v = -v;
            }
            x[off[s] + i] = v;
        }
    *n_out = n;
    return x;
}

static void run_(clgrad_ctx *c, const float *x, size_t n, const size_t *off, uint32_t *out)
{
    cl_mem dx = NULL, dout = NULL, scr = NULL;
    clgrad_segs *segs = NULL;
    size_t nout = OOFF + CLGRAD_HIST_NBINS * NS;
    ck_assert(clgrad_buf_new(c, n + XOFF, "x", &dx) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, nout + 2, "out", &dout) == CLGRAD_OK);
    ck_assert(clgrad_buf_write(c, dx, XOFF, n, x) == CLGRAD_OK);
    ck_assert(clgrad_segs_new(c, NS, off, lens_, &segs) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, clgrad_hist_scratch_words(segs), "scratch", &scr) == CLGRAD_OK);
    ck_assert(clgrad_buf_fill(c, dout, 0, nout + 2, from_bits_(0xdeadbeefu)) == CLGRAD_OK);
    ck_assert_msg(clgrad_hist_counts(c, dx, XOFF, segs, scr, dout, OOFF) == CLGRAD_OK, "%s", clgrad_errmsg(c));
    float *o = malloc((nout + 2) * sizeof *o);
    ck_assert(o);
    ck_assert(clgrad_buf_read(c, dout, 0, nout + 2, o) == CLGRAD_OK);
    /* the words around the output are untouched */
    for (size_t i = 0; i < OOFF; i++) ck_assert(memcmp(o + i, &(uint32_t){0xdeadbeefu}, 4) == 0);
    ck_assert(memcmp(o + nout, &(uint32_t){0xdeadbeefu}, 4) == 0 && memcmp(o + nout + 1, &(uint32_t){0xdeadbeefu}, 4) == 0);
    memcpy(out, o + OOFF, CLGRAD_HIST_NBINS * NS * sizeof *out);
    free(o);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout), clgrad_buf_free(&scr);
}

static size_t compare_(const char *what, const uint32_t *dev, const uint32_t *ref)
{
    size_t bad = 0;
    for (size_t i = 0; i < CLGRAD_HIST_NBINS * NS; i++)
        if (dev[i] != ref[i] && bad++ < 5)
            fprintf(stderr, "  %s: segment %zu (length %zu) bin %zu: %u, reference %u\n", what, i / CLGRAD_HIST_NBINS,
                    lens_[i / CLGRAD_HIST_NBINS], i % CLGRAD_HIST_NBINS, dev[i], ref[i]);
    return bad;
}

START_TEST(device_counts)
{
    size_t off[NS], n;
    float *x = data_(off, &n);
    static uint32_t ref[CLGRAD_HIST_NBINS * NS], dev[CLGRAD_HIST_NBINS * NS];
    memset(ref, 0, sizeof ref);
    size_t planted[4] = {0, 0, 0, 0}; /* zeros, denormals, Inf, NaN */
    for (size_t s = 0; s < NS; s++) {
        uint64_t tot = 0;
        for (size_t i = 0; i < lens_[s]; i++) {
            float v = x[off[s] + i];
            ref[CLGRAD_HIST_NBINS * s + (size_t)ref_bin_(v)]++;
            planted[0] += v == 0, planted[1] += v != 0 && fabsf(v) < FLT_MIN, planted[2] += isinf(v) != 0,
                planted[3] += isnan(v) != 0;
        }
        for (int b = 0; b < CLGRAD_HIST_NBINS; b++) tot += ref[CLGRAD_HIST_NBINS * s + (size_t)b];
        ck_assert(tot == lens_[s]);
    }
    ck_assert(planted[0] > 100 && planted[1] > 100 && planted[2] > 100 && planted[3] > 100);
    /* the host definition agrees too */
    static uint32_t host[CLGRAD_HIST_NBINS * NS];
    memset(host, 0, sizeof host);
    for (size_t s = 0; s < NS; s++) clgrad_hist_host(x + off[s], lens_[s], host + CLGRAD_HIST_NBINS * s);
    size_t bad = compare_("clgrad_hist_host", host, ref);
    run_(fixture_ctx(), x, n, off, dev);
    char what[64];
    snprintf(what, sizeof what, "device, WG %zu", clgrad_wg(fixture_ctx()));
    bad += compare_(what, dev, ref);
    for (int w = 0; w < fixture_nwgs; w++) {
        clgrad_ctx *c = fixture_open_wg("reduce.cl", fixture_wgs[w]);
        if (!c) {
            fprintf(stderr, "  WG %zu: not allowed by the device, skipped\n", fixture_wgs[w]);
            continue;
        }
        run_(c, x, n, off, dev);
        snprintf(what, sizeof what, "device, WG %zu", fixture_wgs[w]);
        bad += compare_(what, dev, ref);
        clgrad_ctx_free(c);
    }
    ck_assert_msg(bad == 0, "%zu counts differ from the reference", bad);
    free(x);
}
END_TEST

/* Too little scratch, output or input is an error, not a write out of bounds;
** no segments writes nothing. */
START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t off[2] = {0, 10}, len[2] = {10, 20000};
    cl_mem dx = NULL, dout = NULL, scr = NULL;
    clgrad_segs *segs = NULL, *none = NULL;
    FX_OK(clgrad_buf_new(ctx, 20010, "x", &dx));
    FX_OK(clgrad_buf_new(ctx, 2 * CLGRAD_HIST_NBINS, "out", &dout));
    FX_OK(clgrad_segs_new(ctx, 2, off, len, &segs));
    ck_assert_uint_eq(clgrad_hist_scratch_words(segs), 3 * CLGRAD_HIST_NBINS);
    FX_OK(clgrad_buf_new(ctx, 3 * CLGRAD_HIST_NBINS - 1, "scratch", &scr));
    ck_assert(clgrad_hist_counts(ctx, dx, 0, segs, scr, dout, 0) == CLGRAD_E_ARG);
    clgrad_buf_free(&scr);
    FX_OK(clgrad_buf_new(ctx, 3 * CLGRAD_HIST_NBINS, "scratch", &scr));
    ck_assert(clgrad_hist_counts(ctx, dx, 1, segs, scr, dout, 0) == CLGRAD_E_ARG);
    ck_assert(clgrad_hist_counts(ctx, dx, 0, segs, scr, dout, 1) == CLGRAD_E_ARG);
    FX_OK(clgrad_hist_counts(ctx, dx, 0, segs, scr, dout, 0));
    FX_OK(clgrad_segs_new(ctx, 0, NULL, NULL, &none));
    FX_OK(clgrad_hist_counts(ctx, dx, 0, none, scr, dout, 0));
    clgrad_segs_free(&segs), clgrad_segs_free(&none);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout), clgrad_buf_free(&scr);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("hist");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, host_bins);
    tcase_add_test(tc, device_counts);
    tcase_add_test(tc, bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("reduce.cl");
    return fixture_run(suite_(), 1);
}
