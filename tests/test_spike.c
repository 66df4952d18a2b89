/*
** test_spike.c: the spike detector of events.csv (clgrad/spike.h) against an
** independent float64 computation of its definition on hand-made series: a
** noisy baseline with one planted spike (found, and nothing else), a dip (not
** a spike: upward only), non-finite values (neither tested nor taken), a
** constant series (sigma = 0: any rise is z = +Inf), spike_z = 0 (off), and
** the winsorised update (a spike moves the baseline as a value at the
** threshold would).
*/
#include "clgrad/spike.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

/* The definition, written out again: warm-up mean and population variance by
** two passes over the first W finite values, then the EMA with the
** winsorised value.  z[i] NaN where no test happens; returns the spike count. */
static int ref_(const double *x, int n, double alpha, double zt, long W, double *z, int *spike)
{
    double mu = 0, var = 0;
    long taken = 0;
    int ns = 0;
    double *buf = malloc((size_t)W * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < n; i++) {
        z[i] = NAN, spike[i] = 0;
        if (!isfinite(x[i])) continue;
        if (taken < W) {
            buf[taken++] = x[i];
            if (taken == W) {
                double s = 0, ss = 0;
                for (long j = 0; j < W; j++) s += buf[j];
                mu = s / (double)W;
                for (long j = 0; j < W; j++) ss += (buf[j] - mu) * (buf[j] - mu);
                var = ss / (double)W;
            } else { /* not used before the warm-up ends */
            }
            continue;
        }
        double sd = sqrt(var);
        z[i] = (x[i] - mu) / sd;
        spike[i] = zt > 0 && z[i] > zt;
        ns += spike[i];
        double v = spike[i] ? mu + zt * sd : x[i];
        mu = alpha * mu + (1 - alpha) * v;
        var = alpha * var + (1 - alpha) * (v - mu) * (v - mu);
    }
    free(buf);
    return ns;
}

/* Run the detector and compare with ref_: the same spikes, z to 1e-9 relative
** (Welford's warm-up vs two passes differ in the last bits only). */
static int check_(const double *x, int n, double alpha, double zt, long W, int *spike_out)
{
    double zr[256], zd;
    int sr[256];
    ck_assert_int_le(n, 256);
    int ns = ref_(x, n, alpha, zt, W, zr, sr);
    clgrad_spike s;
    clgrad_spike_init(&s, alpha, zt, W);
    for (int i = 0; i < n; i++) {
        int got = clgrad_spike_push(&s, x[i], &zd);
        ck_assert_msg(got == sr[i], "value %d (%g): detector %d, reference %d (z %g vs %g)", i, x[i], got, sr[i], zd,
                      zr[i]);
        if (isnan(zr[i])) ck_assert_msg(isnan(zd), "value %d: z %g where no test happens", i, zd);
        else if (isinf(zr[i])) ck_assert(zd == zr[i]);
        else ck_assert_msg(fabs(zd - zr[i]) <= 1e-9 * fmax(1, fabs(zr[i])), "value %d: z %.17g vs %.17g", i, zd, zr[i]);
        if (spike_out) spike_out[i] = got;
    }
    return ns;
}

static void series_(double *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = 10 + 0.3 * sin(1.3 * i) + 0.2 * cos(0.7 * i * i);
}

START_TEST(planted_spike)
{
    double x[100];
    int sp[100];
    series_(x, 100);
    x[60] = 14; /* about 13 sigma above */
    ck_assert_int_eq(check_(x, 100, 0.97, 4, 25, sp), 1);
    ck_assert(sp[60]);
    x[60] = 6; /* a dip: upward only */
    ck_assert_int_eq(check_(x, 100, 0.97, 4, 25, NULL), 0);
    x[60] = 14;
    x[61] = 14; /* a second one right after: still a spike (the first did not inflate sigma much) */
    ck_assert_int_eq(check_(x, 100, 0.97, 4, 25, sp), 2);
    ck_assert(sp[60] && sp[61]);
}
END_TEST

START_TEST(nonfinite_and_warmup)
{
    double x[80];
    series_(x, 80);
    x[3] = NAN, x[10] = INFINITY, x[40] = NAN, x[41] = -INFINITY; /* not taken: warm-up ends one value later */
    x[26] = 14;  /* 24 finite values so far: still warm-up, not tested */
    x[50] = 16;
    int sp[80];
    ck_assert_int_eq(check_(x, 80, 0.97, 4, 25, sp), 1);
    ck_assert(!sp[26] && sp[50]);
    clgrad_spike s;
    double z;
    clgrad_spike_init(&s, 0.97, 4, 2);
    ck_assert_int_eq(clgrad_spike_push(&s, 1, &z), 0);
    ck_assert(isnan(z));
    ck_assert_int_eq(clgrad_spike_push(&s, INFINITY, &z), 0);
    ck_assert(isnan(z) && s.n == 1);
}
END_TEST

START_TEST(constant_series_and_off)
{
    double x[40];
    for (int i = 0; i < 40; i++) x[i] = 2.5;
    x[30] = 2.5000001; /* sigma = 0: z = +Inf */
    int sp[40];
    ck_assert_int_eq(check_(x, 40, 0.9, 3, 10, sp), 1);
    ck_assert(sp[30]);
    clgrad_spike s;
    double z;
    clgrad_spike_init(&s, 0.9, 3, 10);
    for (int i = 0; i < 30; i++) clgrad_spike_push(&s, 2.5, &z);
    ck_assert(isnan(z)); /* x = mu with sigma = 0: 0/0 */
    double y[100];
    series_(y, 100);
    y[60] = 1e6;
    ck_assert_int_eq(check_(y, 100, 0.97, 0, 25, NULL), 0); /* spike_z = 0: off */
}
END_TEST

START_TEST(winsorised_update)
{
    clgrad_spike a, b;
    double z;
    clgrad_spike_init(&a, 0.97, 4, 5);
    double x[5] = {1, 2, 1, 2, 1};
    for (int i = 0; i < 5; i++) clgrad_spike_push(&a, x[i], &z);
    b = a;
    double thr = a.mu + 4 * sqrt(a.var);
    ck_assert_int_eq(clgrad_spike_push(&a, 1e9, &z), 1);
    ck_assert_int_eq(clgrad_spike_push(&b, thr, &z), 0); /* at the threshold: not a spike (z > threshold) */
    ck_assert(fabs(a.mu - b.mu) <= 1e-15 * b.mu && fabs(a.var - b.var) <= 1e-12 * b.var);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spike");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, planted_spike);
    tcase_add_test(tc, nonfinite_and_warmup);
    tcase_add_test(tc, constant_series_and_off);
    tcase_add_test(tc, winsorised_update);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
