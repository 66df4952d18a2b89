/*
** test_reduce.c: the deterministic statistics of cl/reduce.cl (sum, 2-norm,
** max |x|, non-finite count), per segment and global, against the float64
** host reference: single tensors at sizes 1, 7, 63, 64, 65, 257, 1e5, 1e6+1;
** segment tables of awkward sizes (empty ones, any order, gaps poisoned with
** NaN so an out-of-range read shows); magnitudes that overflow or underflow a
** plain float sum of squares (1e25, 1e-25, denormals, near FLT_MAX); NaN and
** Inf counts; bitwise determinism; argument checks; bitwise independence of
** the work-group size (CLGRAD_WG = 1 .. 256) and equality with the float32
** host replica of the fixed order (clgrad_reduce_stats_replica).
**
** Tolerances (u = 2^-24; D = clgrad_reduce_depth(), the most additions any
** term passes through in the device's fixed tree):
**   sum:   |d - r| <= gamma(D) * sum |x| + D * 2^-149  (Higham 2002, eq. 4.4,
**          for any summation order of depth D; the second term covers the
**          absolute error of denormal additions)
**   norm:  |d - r| <= (gamma(D + 1) / 2 + 4u) * r + 2^-149: the squares of the
**          exactly scaled terms (1 rounding each) summed with depth D (all
**          terms positive: relative error gamma(D + 1)), sqrt halves it and
**          adds <= 3 ulp (OpenCL's sqrt bound without correctly rounded sqrt),
**          the power-of-two rescale is exact except for a denormal result
**          (absolute 2^-149); terms 2^126 below a chunk's maximum may
**          underflow, < 2^-252 relative.
**   max |x| and the count: exact.
** Where sum |x| > FLT_MAX / 2 the float sum may overflow legitimately; the sum
** is then not compared.
*/
#include "fixture.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check device statistics `dev` (4*(nseg + global) floats) against the reference. */
static size_t check_stats_(const char *what, const float *x, size_t nseg, const size_t *off, const size_t *len,
                           const float *dev, int global)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t nrec = nseg + (global ? 1 : 0), nchunks = 0, chunk = CLGRAD_REDUCE_CHUNK;
    for (size_t s = 0; s < nseg; s++) nchunks += (len[s] + chunk - 1) / chunk;
    double *ref = malloc(4 * (nseg + 1) * sizeof *ref), *tol = malloc(4 * nrec * sizeof *tol);
    float *d = malloc(4 * nrec * sizeof *d);
    ck_assert(ref && tol && d);
    clgrad_reduce_stats_ref(x, nseg, off, len, ref);
    double u = 0x1.0p-24, D = (double)clgrad_reduce_depth(ctx, nchunks);
    double gs = D * u / (1 - D * u), gn = (D + 1) * u / (1 - (D + 1) * u);
    double all_abs = 0;
    for (size_t r = 0; r < nrec; r++) {
        double sabs = 0;
        if (r < nseg) {
            for (size_t i = off[r]; i < off[r] + len[r]; i++) sabs += fabs(x[i]);
            all_abs += sabs;
        } else sabs = all_abs;
        memcpy(d + 4 * r, dev + 4 * r, 4 * sizeof *d);
        if (isfinite(sabs) && sabs > FLT_MAX / 2) d[4 * r] = (float)ref[4 * r]; /* sum may overflow: not compared */
        tol[4 * r + 0] = gs * sabs + D * 0x1.0p-149;
        tol[4 * r + 1] = (gn / 2 + 4 * u) * ref[4 * r + 1] + 0x1.0p-149;
        tol[4 * r + 2] = 0;
        tol[4 * r + 3] = 0;
    }
    size_t bad = fixture_check_tol(what, d, ref, tol, 4 * nrec);
    free(ref), free(tol), free(d);
    return bad;
}

/* Upload x (n floats), compute the statistics of the table on the device, check. */
static size_t run_table_(const char *what, const float *x, size_t n, size_t nseg, const size_t *off,
                         const size_t *len, float *out /* 4*(nseg+1), may be NULL */)
{
    clgrad_ctx *ctx = fixture_ctx();
    /* a leading pad so the buffer offset is exercised */
    const size_t xoff = 3;
    float *buf = malloc((n + xoff) * sizeof *buf), *o = malloc(4 * (nseg + 1) * sizeof *o);
    ck_assert(buf && o);
    for (size_t i = 0; i < xoff; i++) buf[i] = NAN;
    memcpy(buf + xoff, x, n * sizeof *x);
    cl_mem dx = fixture_upload(buf, n + xoff, "x"), dout = NULL;
    FX_OK(clgrad_buf_new(ctx, 4 * (nseg + 1) + 2, "stats", &dout));
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, nseg, off, len, &segs));
    FX_OK(clgrad_reduce_stats(ctx, dx, xoff, segs, dout, 2));
    FX_OK(clgrad_buf_read(ctx, dout, 2, 4 * (nseg + 1), o));
    size_t bad = check_stats_(what, x, nseg, off, len, o, 1);
    if (out) memcpy(out, o, 4 * (nseg + 1) * sizeof *o);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
    free(buf), free(o);
    return bad;
}

/* Random value: uniform(-1, 1) times 10^(uniform(-e, e)). */
static float rnd_(clgrad_testrng *r, float e)
{
    float m = clgrad_testrng_uniform(r, -1, 1);
    return e > 0 ? m * (float)pow(10.0, clgrad_testrng_uniform(r, -e, e)) : m;
}

static const size_t big_sizes_[] = {100000, 1000001};

/* One tensor through clgrad_reduce_stats1, NaN around it. */
static void single_(size_t n)
{
    clgrad_ctx *ctx = fixture_ctx();
    const size_t off = 5;
    size_t tot = n + 2 * off;
    float *x = malloc(tot * sizeof *x), o[4];
    ck_assert(x);
    clgrad_testrng r = fixture_rng(n);
    for (size_t i = 0; i < tot; i++) x[i] = (i < off || i >= off + n) ? NAN : rnd_(&r, 3);
    cl_mem dx = fixture_upload(x, tot, "x"), dout = NULL;
    FX_OK(clgrad_buf_new(ctx, 4, "stats", &dout));
    FX_OK(clgrad_reduce_stats1(ctx, dx, off, n, dout, 0));
    fixture_download(dout, o, 4);
    char what[64];
    snprintf(what, sizeof what, "single n=%zu", n);
    ck_assert_msg(check_stats_(what, x, 1, &off, &n, o, 0) == 0, "%s", what);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
    free(x);
}

START_TEST(single_sizes) { single_(fixture_sizes[_i]); }
END_TEST

START_TEST(single_big) { single_(big_sizes_[_i]); }
END_TEST

/* Segments of awkward sizes, two empty, laid out in reverse order with NaN gaps. */
START_TEST(segmented)
{
    static const size_t len[] = {1, 7, 0, 63, 64, 65, 257, 0, 2048, 2049, 100000, 1000001, 3};
    enum { NS = sizeof len / sizeof len[0] };
    size_t off[NS], n = 0;
    for (size_t k = NS; k-- > 0;) off[k] = n + 2, n += len[k] + 2;
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    clgrad_testrng r = fixture_rng(77);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    for (size_t s = 0; s < NS; s++)
        for (size_t i = 0; i < len[s]; i++) x[off[s] + i] = rnd_(&r, s % 3 == 0 ? 6.0f : 1.0f);
    ck_assert(run_table_("segmented", x, n, NS, off, len, NULL) == 0);
    free(x);
}
END_TEST

/* Huge, tiny and denormal magnitudes: a plain float sum of squares gives Inf or 0. */
START_TEST(magnitudes)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_device_fp_config fc = 0;
    clGetDeviceInfo(clgrad_device(ctx)->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fc, &fc, NULL);
    const int denorm = (fc & CL_FP_DENORM) != 0;
    if (!denorm) fprintf(stderr, "  device has no single-precision denormals: denormal cases skipped\n");
    /* segment k: length, magnitude */
    static const size_t len[] = {1000, 100000, 1000, 100000, 2, 5000, 70000, 3000, 1, 1};
    static const float mag[] = {1e25f, 1e25f, 1e-25f, 1e-25f, 2e38f, 1e-40f, 1e-44f, 1e-30f, 1e30f, 1e-45f};
    enum { NS = sizeof len / sizeof len[0] };
    size_t off[NS], n = 0;
    for (size_t k = 0; k < NS; k++) off[k] = n, n += len[k];
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    clgrad_testrng r = fixture_rng(25);
    for (size_t s = 0; s < NS; s++)
        for (size_t i = 0; i < len[s]; i++) {
            float v = mag[s] * clgrad_testrng_uniform(&r, 0.5f, 1.0f) * (i % 2 ? 1 : -1);
            if (mag[s] == 2e38f) v = i ? -2e38f : 2e38f; /* norm 2.83e38 < FLT_MAX, squares overflow */
            if (mag[s] < FLT_MIN && !denorm) v = 0;
            x[off[s] + i] = v;
        }
    float o[4 * (NS + 1)];
    ck_assert(run_table_("magnitudes", x, n, NS, off, len, o) == 0);
    /* spelled out: finite, non-zero where the plain scheme fails */
    ck_assert_msg(isfinite(o[4 * 1 + 1]) && o[4 * 1 + 1] > 1e27f, "1e25 norm %g", (double)o[4 * 1 + 1]);
    ck_assert_msg(o[4 * 3 + 1] > 1e-24f, "1e-25 norm %g", (double)o[4 * 3 + 1]);
    ck_assert_msg(isfinite(o[4 * 4 + 1]) && o[4 * 4 + 1] > 2.8e38f, "2e38 norm %g", (double)o[4 * 4 + 1]);
    if (denorm) ck_assert_msg(o[4 * 6 + 1] > 0, "denormal norm %g", (double)o[4 * 6 + 1]);
    free(x);
}
END_TEST

/* One huge element among many tiny ones in one chunk, and the reverse; widely spread magnitudes. */
START_TEST(mixed_chunk)
{
    static const size_t len[] = {3000, 3000, 1, 20000};
    size_t off[4] = {0, 3000, 6000, 6001}, n = 26001;
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    clgrad_testrng r = fixture_rng(5);
    for (size_t i = 0; i < n; i++) x[i] = clgrad_testrng_uniform(&r, -1e-20f, 1e-20f);
    x[1234] = 3e30f;                     /* tiny terms vanish next to it */
    for (size_t i = 3000; i < 6000; i++) x[i] *= 1e30f; /* ~1e10 */
    x[6000] = 1e-38f;
    /* magnitudes 1e-15 .. 1e15 mixed: work-items of a chunk have maxima far
    ** apart, so their scaled sums of squares merge across exponents */
    for (size_t i = 6001; i < n; i++) x[i] = rnd_(&r, 15);
    ck_assert(run_table_("mixed", x, n, 4, off, len, NULL) == 0);
    free(x);
}
END_TEST

/* NaN and Inf: counts, NaN-propagating max, norm NaN > Inf > finite. */
START_TEST(nonfinite)
{
    static const size_t len[] = {10, 10, 10, 100000, 5000, 65, 0};
    enum { NS = sizeof len / sizeof len[0] };
    size_t off[NS], n = 0;
    for (size_t k = 0; k < NS; k++) off[k] = n, n += len[k];
    float *x = malloc(n * sizeof *x), o[4 * (NS + 1)];
    ck_assert(x);
    clgrad_testrng r = fixture_rng(99);
    for (size_t i = 0; i < n; i++) x[i] = rnd_(&r, 2);
    x[off[0] + 3] = INFINITY;                                /* Inf only */
    x[off[1] + 9] = NAN;                                     /* NaN only, last element */
    x[off[2] + 0] = -INFINITY, x[off[2] + 5] = NAN;          /* both */
    for (size_t i = 0; i < 4000; i++) x[off[3] + i * 25] = i % 2 ? NAN : INFINITY; /* many */
    x[off[4] + 100] = INFINITY, x[off[4] + 4000] = -INFINITY; /* Inf - Inf: sum NaN, norm Inf */
    ck_assert(run_table_("nonfinite", x, n, NS, off, len, o) == 0);
    ck_assert(isinf(o[4 * 0 + 1]) && o[4 * 0 + 3] == 1);
    ck_assert(isnan(o[4 * 1 + 1]) && isnan(o[4 * 1 + 2]) && o[4 * 1 + 3] == 1);
    ck_assert(isnan(o[4 * 2 + 1]) && o[4 * 2 + 3] == 2);
    ck_assert(o[4 * 3 + 3] == 4000);
    ck_assert(isinf(o[4 * 4 + 1]) && isinf(o[4 * 4 + 2]) && isnan(o[4 * 4 + 0]));
    ck_assert(isfinite(o[4 * 5 + 1]) && o[4 * 5 + 3] == 0);
    ck_assert(isnan(o[4 * NS + 1]) && o[4 * NS + 3] == 4006);
    free(x);
}
END_TEST

/* Same inputs, same bits: a large segmented case three times. */
START_TEST(determinism)
{
    clgrad_ctx *ctx = fixture_ctx();
    static const size_t len[] = {1000001, 257, 65, 100000, 0, 7};
    enum { NS = sizeof len / sizeof len[0] };
    size_t off[NS], n = 0;
    for (size_t k = 0; k < NS; k++) off[k] = n, n += len[k];
    float *x = malloc(n * sizeof *x), o[3][4 * (NS + 1)];
    ck_assert(x);
    clgrad_testrng r = fixture_rng(4242);
    for (size_t i = 0; i < n; i++) x[i] = rnd_(&r, 10);
    cl_mem dx = fixture_upload(x, n, "x"), dout = NULL;
    FX_OK(clgrad_buf_new(ctx, 4 * (NS + 1), "stats", &dout));
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, NS, off, len, &segs));
    for (int k = 0; k < 3; k++) {
        FX_OK(clgrad_buf_fill(ctx, dout, 0, 4 * (NS + 1), -1.0f));
        FX_OK(clgrad_reduce_stats(ctx, dx, 0, segs, dout, 0));
        fixture_download(dout, o[k], 4 * (NS + 1));
    }
    ck_assert_msg(memcmp(o[0], o[1], sizeof o[0]) == 0 && memcmp(o[0], o[2], sizeof o[0]) == 0,
                  "statistics differ between identical runs");
    ck_assert(check_stats_("determinism", x, NS, off, len, o[0], 1) == 0);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
    free(x);
}
END_TEST

/* No segments, or only empty ones: zeros. */
START_TEST(empty)
{
    clgrad_ctx *ctx = fixture_ctx();
    float x[4] = {NAN, NAN, NAN, NAN}, o[12];
    cl_mem dx = fixture_upload(x, 4, "x"), dout = NULL;
    FX_OK(clgrad_buf_new(ctx, 12, "stats", &dout));
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 0, NULL, NULL, &segs));
    ck_assert_uint_eq(clgrad_segs_chunks(segs), 0);
    FX_OK(clgrad_buf_fill(ctx, dout, 0, 12, -1.0f));
    FX_OK(clgrad_reduce_stats(ctx, dx, 0, segs, dout, 0));
    fixture_download(dout, o, 12);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(o[i], 0.0f);
    clgrad_segs_free(&segs);
    size_t off[2] = {1, 3}, len[2] = {0, 0};
    FX_OK(clgrad_segs_new(ctx, 2, off, len, &segs));
    FX_OK(clgrad_buf_fill(ctx, dout, 0, 12, -1.0f));
    FX_OK(clgrad_reduce_stats(ctx, dx, 0, segs, dout, 0));
    fixture_download(dout, o, 12);
    for (int i = 0; i < 12; i++) ck_assert_float_eq(o[i], 0.0f);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
}
END_TEST

START_TEST(rows_table)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t off[2] = {10, 100}, rows[2] = {3, 1}, cols[2] = {5, 7};
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new_rows(ctx, 2, off, rows, cols, &segs));
    ck_assert_uint_eq(clgrad_segs_count(segs), 4);
    const size_t eo[4] = {10, 15, 20, 100}, el[4] = {5, 5, 5, 7};
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(clgrad_segs_off(segs)[i], eo[i]);
        ck_assert_uint_eq(clgrad_segs_len(segs)[i], el[i]);
    }
    ck_assert_uint_eq(clgrad_segs_chunks(segs), 4);
    clgrad_segs_free(&segs);
    clgrad_segs_free(&segs); /* NULL-safe */
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem x = NULL, out = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "x", &x));
    FX_OK(clgrad_buf_new(ctx, 4, "out", &out));
    clgrad_segs *segs = NULL;
    size_t off = 10, len = 7;
    FX_OK(clgrad_segs_new(ctx, 1, &off, &len, &segs));
    ck_assert_int_eq(clgrad_reduce_stats(ctx, x, 0, segs, out, 0), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "segments reach element 17") != NULL, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(clgrad_reduce_stats1(ctx, x, 0, 16, out, 1), CLGRAD_E_ARG); /* output too small */
    clgrad_segs_free(&segs);
    size_t big = SIZE_MAX;
    ck_assert_int_eq(clgrad_segs_new(ctx, 1, &big, &len, &segs), CLGRAD_E_ARG);
    ck_assert_ptr_null(segs);
    clgrad_buf_free(&x), clgrad_buf_free(&out);
}
END_TEST


/* ---- independence of the work-group size ----
** The statistics are a function of the segment lengths and the values alone
** (cl/reduce.cl): contexts built with CLGRAD_WG = 1, 2, 16, 64, 256 must give
** the same bits, equal to the float32 host replica of the fixed order. */

static const size_t wg_lens_[] = {0, 1, 7, 8, 9, 255, 256, 257, 0, 8191, 8192, 8193, 100003, 2500001, 9, 9,
                                   16383, 16384, 16385, 0, 64, 65};
enum { WG_NS = sizeof wg_lens_ / sizeof wg_lens_[0] };

/* A value of mixed magnitude: +-0, denormals, 1e-30 .. 1e30, near FLT_MAX / 2^20. */
static float wg_value_(clgrad_testrng *r)
{
    float u = clgrad_testrng_uniform(r, 0, 1), m = clgrad_testrng_uniform(r, -1, 1);
    if (u < 0.05f) return m < 0 ? -0.0f : 0.0f;
    if (u < 0.10f) return m * 0x1.0p-130f;
    if (u < 0.12f) return m * 0x1.0p+100f;
    return rnd_(r, 30);
}

/* Table data: segments of wg_lens_ with NaN gaps, in reverse order; `special`
** puts Inf in segment 4, NaN in 5, both in 12, -Inf and +Inf in 10; the
** segments 14 and 15 are all -0.0 and all +0.0. */
static float *wg_data_(int special, size_t *off, size_t *n_out)
{
    size_t n = 0;
    for (size_t k = WG_NS; k-- > 0;) off[k] = n + 1, n += wg_lens_[k] + 1;
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    clgrad_testrng r = fixture_rng(4242 + (uint64_t)special);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    for (size_t s = 0; s < WG_NS; s++)
        for (size_t i = 0; i < wg_lens_[s]; i++) x[off[s] + i] = s == 14 ? -0.0f : s == 15 ? 0.0f : wg_value_(&r);
    if (special) {
        x[off[4]] = INFINITY, x[off[5] + 3] = NAN;
        x[off[12] + 50000] = -INFINITY, x[off[12] + 7] = NAN;
        x[off[10] + 8191] = -INFINITY, x[off[10]] = INFINITY;
    }
    *n_out = n;
    return x;
}

static void wg_run_(clgrad_ctx *c, const float *x, size_t n, const size_t *off, float *o)
{
    cl_mem dx = NULL, dout = NULL;
    clgrad_segs *segs = NULL;
    ck_assert(clgrad_buf_new(c, n + 3, "x", &dx) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, 4 * (WG_NS + 1), "stats", &dout) == CLGRAD_OK);
    ck_assert(clgrad_buf_write(c, dx, 3, n, x) == CLGRAD_OK);
    ck_assert(clgrad_segs_new(c, WG_NS, off, wg_lens_, &segs) == CLGRAD_OK);
    ck_assert(clgrad_buf_fill(c, dout, 0, 4 * (WG_NS + 1), -7.0f) == CLGRAD_OK);
    ck_assert_msg(clgrad_reduce_stats(c, dx, 3, segs, dout, 0) == CLGRAD_OK, "%s", clgrad_errmsg(c));
    ck_assert(clgrad_buf_read(c, dout, 0, 4 * (WG_NS + 1), o) == CLGRAD_OK);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
}

static size_t wg_compare_(const char *what, const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof *a) != 0 && bad++ < 5)
            fprintf(stderr, "  %s: record %zu field %zu: %a vs %a\n", what, i / 4, i % 4, (double)a[i],
                    (double)b[i]);
    return bad;
}

START_TEST(wg_independent)
{
    size_t off[WG_NS], n;
    float *x = wg_data_(_i, off, &n), rep[4 * (WG_NS + 1)], o[4 * (WG_NS + 1)];
    clgrad_reduce_stats_replica(x, WG_NS, off, wg_lens_, rep);
    /* the replica itself against the float64 reference (tolerances as above) */
    if (!_i) ck_assert(check_stats_("replica", x, WG_NS, off, wg_lens_, rep, 1) == 0);
    size_t bad = 0;
    char what[64];
    wg_run_(fixture_ctx(), x, n, off, o);
    if (fixture_denorms()) {
        snprintf(what, sizeof what, "default WG %zu vs replica", clgrad_wg(fixture_ctx()));
        bad += wg_compare_(what, o, rep, 4 * (WG_NS + 1));
    } else {
        fprintf(stderr, "  no denormals on the device: WG sizes compared with the default run, not the replica\n");
        memcpy(rep, o, sizeof rep);
    }
    if (!_i) bad += check_stats_("device", x, WG_NS, off, wg_lens_, o, 1);
    /* the totals by one work-item (reduce_stats_final_one) and by work-groups: the same trees */
    for (int one = 0; one < 2; one++) {
        ck_assert(setenv("CLGRAD_REDUCE_ONE", one ? "1" : "0", 1) == 0);
        wg_run_(fixture_ctx(), x, n, off, o);
        unsetenv("CLGRAD_REDUCE_ONE");
        snprintf(what, sizeof what, "CLGRAD_REDUCE_ONE=%d vs replica", one);
        bad += wg_compare_(what, o, rep, 4 * (WG_NS + 1));
    }
    for (int w = 0; w < fixture_nwgs; w++) {
        clgrad_ctx *c = fixture_open_wg("reduce.cl", fixture_wgs[w]);
        if (!c) {
            fprintf(stderr, "  WG %zu: not allowed by the device, skipped\n", fixture_wgs[w]);
            continue;
        }
        wg_run_(c, x, n, off, o);
        snprintf(what, sizeof what, "WG %zu vs replica", fixture_wgs[w]);
        bad += wg_compare_(what, o, rep, 4 * (WG_NS + 1));
        clgrad_ctx_free(c);
    }
    ck_assert_msg(bad == 0, "%zu statistics differ from the fixed order", bad);
    free(x);
}
END_TEST

/* clgrad_reduce_stats_pair: the statistics of x and of x - y (host float subtractions) in one pair of
** launches, bit for bit those of two clgrad_reduce_stats calls; also on an empty table. */
static void pair_run_(clgrad_ctx *c, const float *x, const float *y, size_t n, size_t nseg, const size_t *off,
                      const size_t *len)
{
    size_t R = 4 * (nseg + 1), m = n ? n : 1;
    float *d = malloc(m * sizeof *d), *two = malloc(2 * R * sizeof *two), *pr = malloc((2 * R + 4) * sizeof *pr);
    ck_assert(d && two && pr);
    for (size_t i = 0; i < n; i++) d[i] = x[i] - y[i];
    cl_mem dx = NULL, dy = NULL, dd = NULL, out = NULL;
    clgrad_segs *segs = NULL;
    ck_assert(clgrad_buf_new(c, m, "x", &dx) == CLGRAD_OK && clgrad_buf_new(c, m, "y", &dy) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, m, "d", &dd) == CLGRAD_OK && clgrad_buf_new(c, 2 * R + 4, "o", &out) == CLGRAD_OK);
    if (n) {
        ck_assert(clgrad_buf_write(c, dx, 0, n, x) == CLGRAD_OK && clgrad_buf_write(c, dy, 0, n, y) == CLGRAD_OK);
        ck_assert(clgrad_buf_write(c, dd, 0, n, d) == CLGRAD_OK);
    }
    ck_assert(clgrad_segs_new(c, nseg, off, len, &segs) == CLGRAD_OK);
    ck_assert(clgrad_buf_fill(c, out, 0, 2 * R + 4, -7.0f) == CLGRAD_OK);
    ck_assert(clgrad_reduce_stats(c, dx, 0, segs, out, 0) == CLGRAD_OK);
    ck_assert(clgrad_reduce_stats(c, dd, 0, segs, out, R) == CLGRAD_OK);
    ck_assert(clgrad_buf_read(c, out, 0, 2 * R, two) == CLGRAD_OK);
    ck_assert(clgrad_buf_fill(c, out, 0, 2 * R + 4, -7.0f) == CLGRAD_OK);
    /* the update's records first, a gap of one record, then x's */
    ck_assert_msg(clgrad_reduce_stats_pair(c, dx, dy, segs, out, R + 4, 0) == CLGRAD_OK, "%s", clgrad_errmsg(c));
    ck_assert(clgrad_buf_read(c, out, 0, 2 * R + 4, pr) == CLGRAD_OK);
    size_t bad = wg_compare_("pair: x", pr + R + 4, two, R) + wg_compare_("pair: x - y", pr, two + R, R);
    for (size_t i = R; i < R + 4; i++) bad += pr[i] != -7.0f;
    ck_assert_msg(bad == 0, "%zu statistics of the pair differ", bad);
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dy), clgrad_buf_free(&dd), clgrad_buf_free(&out);
    free(d), free(two), free(pr);
}

START_TEST(pair)
{
    size_t off[WG_NS], n;
    float *x = wg_data_(_i, off, &n), *y = malloc(n * sizeof *y);
    ck_assert(y);
    /* y: x's values shuffled, and exactly x in segment 7 (an update of +0.0) */
    for (size_t i = 0; i < n; i++) y[i] = x[(i * 7919 + 3) % n];
    for (size_t i = 0; i < wg_lens_[7]; i++) y[off[7] + i] = x[off[7] + i];
    pair_run_(fixture_ctx(), x, y, n, WG_NS, off, wg_lens_);
    if (!_i) pair_run_(fixture_ctx(), NULL, NULL, 0, 0, NULL, NULL);
    for (int one = 0; one < 2; one++) { /* both ways of the totals (reduce_stats_final_one or not) */
        ck_assert(setenv("CLGRAD_REDUCE_ONE", one ? "1" : "0", 1) == 0);
        pair_run_(fixture_ctx(), x, y, n, WG_NS, off, wg_lens_);
        unsetenv("CLGRAD_REDUCE_ONE");
    }
    free(x), free(y);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, single_sizes, 0, fixture_nsizes);
    tcase_add_loop_test(tc, single_big, 0, 2);
    tcase_add_test(tc, segmented);
    tcase_add_test(tc, magnitudes);
    tcase_add_test(tc, mixed_chunk);
    tcase_add_test(tc, nonfinite);
    tcase_add_test(tc, determinism);
    tcase_add_test(tc, empty);
    tcase_add_test(tc, rows_table);
    tcase_add_test(tc, bad_args);
    tcase_add_loop_test(tc, wg_independent, 0, 2);
    tcase_add_loop_test(tc, pair, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("reduce.cl");
    return fixture_run(suite_(), 1);
}
