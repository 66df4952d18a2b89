/*
** test_loss.c: MSE, BCE-with-logits and softmax cross-entropy (gradient,
** value, accuracy) against the float64 host references.
**
** - the references: the worked numbers of semantics.md (to 1e-13), and the
**   gradient against central finite differences of the reference loss;
** - the kernels on the same worked numbers, and on fresh random batches at
**   rows 1, 7, 63, 64, 65, 257 x cols (classes) 1, 7, 10, at offsets into
**   larger buffers whose other elements must stay untouched, and a large
**   batch of 60000 rows (many terms per work-item: the compensated sums);
** - logits of ±1e4 and ±Inf (no NaN/Inf where the loss is finite), invalid CE
**   targets (NaN rows), accuracy with ties and NaN logits, bitwise
**   determinism (two runs, memcmp), argument errors.
**
** Tolerances.  Device vs reference uses clgrad_loss_ref_value_bound and
** clgrad_loss_ref_grad_bound: first-order rounding-error bounds built from
** the OpenCL 1.2 ulp limits (exp 3 ulp, log 3, log1p 2, division 2.5, + - *
** 0.5) for the operations each kernel performs, and for the value the
** compensated per-item sums plus the 8-level tree; the derivation is in
** src/ops/loss.c.  They hold on any conforming device and are tight (an error in
** a formula, index or count exceeds them by orders of magnitude).  The
** accuracy is an integer count: exact.  Finite differences: see fd_tol_.
**
** Bit for bit (test `bitwise_host`): loss_grad of every loss, and loss_value
** of BCE and CE, against the host build of the same per-element source
** (cl/math.cl + cl/loss_fn.cl, the functions the kernels call), the values
** summed by clgrad_loss_sum_replica (the device's fixed order in float32).
*/
#include "fixture.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host scalar build of the kernels' own formulas: the device must give
** exactly these bits (test `bitwise_host`). */
#include "../cl/math.cl"
#include "../cl/loss_fn.cl"

#define SENTINEL 7777.0f

static size_t check_sentinels_(const char *what, const float *buf, size_t total, size_t off, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < total; i++)
        if ((i < off || i >= off + n) && buf[i] != SENTINEL && bad++ < 3)
            fprintf(stderr, "  %s: element %zu outside the range was overwritten (%g)\n", what, i, (double)buf[i]);
    return bad;
}

static double *to_double_(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert(d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* ---------------------------------------------------------------- names */

START_TEST(names)
{
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++)
        ck_assert_int_eq(clgrad_loss_parse(clgrad_loss_name((clgrad_loss)l)), l);
    ck_assert_str_eq(clgrad_loss_name(CLGRAD_LOSS_BCE), "bce");
    ck_assert_int_eq(clgrad_loss_parse("ce"), CLGRAD_LOSS_CE);
    ck_assert_int_eq(clgrad_loss_parse("hinge"), -1);
    ck_assert_int_eq(clgrad_loss_parse(NULL), -1);
    ck_assert_str_eq(clgrad_loss_name((clgrad_loss)7), "?");
    ck_assert_uint_eq(clgrad_loss_target_count(CLGRAD_LOSS_CE, 5, 3), 5);
    ck_assert_uint_eq(clgrad_loss_target_count(CLGRAD_LOSS_MSE, 5, 3), 15);
}
END_TEST

/* ------------------------------------------------ one device evaluation */

typedef struct {
    float *grad;          /* (rows, cols) */
    float value, accuracy; /* accuracy NaN for MSE */
} dev_result_;

#define POFF 3
#define TOFF 2
#define GOFF 4
#define OSLOT 3

/* Upload at offsets, run grad, value (slot OSLOT) and accuracy (slot OSLOT+2);
** check sentinels.  Returns the number of sentinel violations. */
static size_t run_device_(clgrad_loss loss, const float *pred, const float *target, size_t rows, size_t cols,
                          dev_result_ *res)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t n = rows * cols, nt = clgrad_loss_target_count(loss, rows, cols), bad = 0;
    float *pb = malloc((n + POFF + 1) * sizeof *pb), *tb = malloc((nt + TOFF + 1) * sizeof *tb);
    float *gb = malloc((n + GOFF + 3) * sizeof *gb), ob[8];
    ck_assert(pb && tb && gb);
    for (size_t i = 0; i < n + POFF + 1; i++) pb[i] = i < POFF || i >= POFF + n ? NAN : pred[i - POFF];
    for (size_t i = 0; i < nt + TOFF + 1; i++) tb[i] = i < TOFF || i >= TOFF + nt ? NAN : target[i - TOFF];
    for (size_t i = 0; i < n + GOFF + 3; i++) gb[i] = SENTINEL;
    for (int i = 0; i < 8; i++) ob[i] = SENTINEL;
    cl_mem dp = fixture_upload(pb, n + POFF + 1, "pred"), dt = fixture_upload(tb, nt + TOFF + 1, "target");
    cl_mem dg = fixture_upload(gb, n + GOFF + 3, "grad"), dout = fixture_upload(ob, 8, "out");
    FX_OK(clgrad_loss_grad(ctx, loss, dp, POFF, dt, TOFF, dg, GOFF, rows, cols));
    FX_OK(clgrad_loss_value(ctx, loss, dp, POFF, dt, TOFF, rows, cols, dout, OSLOT));
    if (loss != CLGRAD_LOSS_MSE)
        FX_OK(clgrad_loss_accuracy(ctx, loss, dp, POFF, dt, TOFF, rows, cols, dout, OSLOT + 2));
    fixture_download(dg, gb, n + GOFF + 3);
    fixture_download(dout, ob, 8);
    bad += check_sentinels_("grad", gb, n + GOFF + 3, GOFF, n);
    res->grad = malloc((n ? n : 1) * sizeof *res->grad);
    ck_assert(res->grad);
    memcpy(res->grad, gb + GOFF, n * sizeof *gb);
    res->value = ob[OSLOT];
    res->accuracy = loss == CLGRAD_LOSS_MSE ? NAN : ob[OSLOT + 2];
    ob[OSLOT] = SENTINEL;
    if (loss != CLGRAD_LOSS_MSE) ob[OSLOT + 2] = SENTINEL; /* MSE: the accuracy slot must be untouched */
    bad += check_sentinels_("value/accuracy slots", ob, 8, 0, 0);
    clgrad_buf_free(&dp), clgrad_buf_free(&dt), clgrad_buf_free(&dg), clgrad_buf_free(&dout);
    free(pb), free(tb), free(gb);
    return bad;
}

/* Device vs reference on float inputs: gradient, value, accuracy. */
static int compare_(const char *tag, clgrad_loss loss, const float *pred, const float *target, size_t rows,
                    size_t cols)
{
    size_t n = rows * cols, nt = clgrad_loss_target_count(loss, rows, cols);
    double *pd = to_double_(pred, n), *td = to_double_(target, nt);
    double *ref = malloc(n * sizeof *ref), *tol = malloc(n * sizeof *tol);
    ck_assert(ref && tol);
    dev_result_ r;
    size_t bad = run_device_(loss, pred, target, rows, cols, &r);
    char what[128];
    snprintf(what, sizeof what, "%s %s %zux%zu gradient", tag, clgrad_loss_name(loss), rows, cols);
    clgrad_loss_ref_grad(loss, pd, td, rows, cols, ref);
    clgrad_loss_ref_grad_bound(loss, pd, td, rows, cols, tol);
    bad += fixture_check_tol(what, r.grad, ref, tol, n);
    double v = clgrad_loss_ref_value(loss, pd, td, rows, cols);
    double vt = clgrad_loss_ref_value_bound(loss, pd, td, rows, cols);
    snprintf(what, sizeof what, "%s %s %zux%zu value", tag, clgrad_loss_name(loss), rows, cols);
    bad += fixture_check_tol(what, &r.value, &v, &vt, 1);
    if (loss != CLGRAD_LOSS_MSE) {
        double a = clgrad_loss_ref_accuracy(loss, pd, td, rows, cols);
        if (r.accuracy != a) bad++, fprintf(stderr, "  %s %s %zux%zu accuracy: device %g reference %g\n", tag,
                                            clgrad_loss_name(loss), rows, cols, (double)r.accuracy, a);
    }
    free(r.grad), free(pd), free(td), free(ref), free(tol);
    return bad == 0;
}

/* ------------------------------------------------- semantics.md numbers */

static const struct {
    clgrad_loss loss;
    size_t rows, cols;
    double pred[6], target[4], value, grad[6];
} worked_[] = {
    {CLGRAD_LOSS_MSE, 1, 2, {0.5, -2}, {1, 1}, 4.625, {-0.5, -3.0}},
    {CLGRAD_LOSS_BCE, 1, 4, {0.3, -2, 40, -40}, {1, 0, 0, 1}, 20.170320813877876,
     {-0.10638937079708524, 0.029800730505529387, 0.25, -0.25}},
    {CLGRAD_LOSS_CE, 2, 3, {0.2, -1, 3, 1.5, 0.5, -0.5}, {2, 0}, 0.24187857104717847,
     {0.02817561593607905, 0.008486332437008207, -0.03666194837308723, -0.1673795221125891, 0.12236423552739882,
      0.04501528658519022}},
};

START_TEST(worked_reference)
{
    for (int w = 0; w < 3; w++) {
        double g[6];
        clgrad_loss l = worked_[w].loss;
        double v = clgrad_loss_ref_value(l, worked_[w].pred, worked_[w].target, worked_[w].rows, worked_[w].cols);
        ck_assert_msg(fabs(v - worked_[w].value) <= 1e-13 * worked_[w].value, "%s value %.17g", clgrad_loss_name(l), v);
        clgrad_loss_ref_grad(l, worked_[w].pred, worked_[w].target, worked_[w].rows, worked_[w].cols, g);
        for (size_t i = 0; i < worked_[w].rows * worked_[w].cols; i++)
            ck_assert_msg(fabs(g[i] - worked_[w].grad[i]) <= 1e-13 * fabs(worked_[w].grad[i]) + 1e-16,
                          "%s grad[%zu] %.17g", clgrad_loss_name(l), i, g[i]);
    }
}
END_TEST

/*
** Device on the worked examples.  The inputs are rounded to float first
** (0.3 is not a float), which moves the exact loss by at most
** sum_i |dL/dx_i| |x_i - fl(x_i)| and each gradient element by at most
** (2/n) sum_j |x_j - fl(x_j)| (every Hessian row of these losses has
** absolute sum <= 2/n: MSE 2/n, BCE sigmoid' <= 1/4n, CE 2 p_i(1-p_i)/B).
** The tolerance is that plus the kernels' rounding bound.
*/
START_TEST(worked_device)
{
    int ok = 1;
    for (int w = 0; w < 3; w++) {
        clgrad_loss l = worked_[w].loss;
        size_t rows = worked_[w].rows, cols = worked_[w].cols, n = rows * cols;
        size_t nt = clgrad_loss_target_count(l, rows, cols), cnt = l == CLGRAD_LOSS_CE ? rows : n;
        float p[6], t[4];
        double pd[6], td[4], tol[6], shift = 0.0, vshift = 0.0;
        for (size_t i = 0; i < n; i++) p[i] = (float)worked_[w].pred[i], pd[i] = p[i];
        for (size_t i = 0; i < nt; i++) t[i] = (float)worked_[w].target[i], td[i] = t[i];
        for (size_t i = 0; i < n; i++) {
            shift += fabs(pd[i] - worked_[w].pred[i]);
            vshift += fabs(worked_[w].grad[i]) * fabs(pd[i] - worked_[w].pred[i]) * 2; /* x2: first order */
        }
        for (size_t i = 0; i < nt; i++) shift += fabs(td[i] - worked_[w].target[i]);
        dev_result_ r;
        ok &= run_device_(l, p, t, rows, cols, &r) == 0;
        clgrad_loss_ref_grad_bound(l, pd, td, rows, cols, tol);
        for (size_t i = 0; i < n; i++) tol[i] += 2.0 / (double)cnt * shift;
        char what[64];
        snprintf(what, sizeof what, "worked %s gradient", clgrad_loss_name(l));
        ok &= fixture_check_tol(what, r.grad, worked_[w].grad, tol, n) == 0;
        double vt = clgrad_loss_ref_value_bound(l, pd, td, rows, cols) + vshift;
        snprintf(what, sizeof what, "worked %s value", clgrad_loss_name(l));
        ok &= fixture_check_tol(what, &r.value, &worked_[w].value, &vt, 1) == 0;
        fprintf(stderr, "worked %s: device %.9g, semantics.md %.17g\n", clgrad_loss_name(l), (double)r.value,
                worked_[w].value);
        free(r.grad);
    }
    ck_assert(ok);
}
END_TEST

/* ----------------------------------------- reference: finite differences */

/*
** Central differences of the reference loss, h = 1e-4 max(1, |x|) on inputs
** in [-6, 6] (n terms in the mean).  Truncation h^2 |L'''| / 6 with
** |d^3 L / dx^3| <= 0.1 / n (sigmoid'' and the third derivative of
** log-sum-exp are below 0.1; MSE's is 0): <= 6e-9 / n.  Rounding: the double
** loss of n terms is off by <= n 2^-53 (1 + |L|) scale, divided by 2h:
** <= 1e-11 n (1 + |L|) with margin.  Tolerance: 1e-8 / n + 1e-11 n (1 + |L|)
** + 1e-9 |g|, about 1e-6 of the typical |g| ~ 1/n: any wrong gradient fails.
*/
static double fd_tol_(double g, double L, size_t n)
{
    return 1e-8 / (double)n + 1e-11 * (double)n * (1 + fabs(L)) + 1e-9 * fabs(g);
}

START_TEST(reference_finite_differences)
{
    static const size_t shapes[][2] = {{1, 1}, {7, 5}, {3, 10}, {13, 2}};
    int bad = 0;
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++)
        for (int s = 0; s < 4; s++) {
            size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
            size_t nt = clgrad_loss_target_count((clgrad_loss)l, rows, cols);
            size_t cnt = l == CLGRAD_LOSS_CE ? rows : n;
            double *x = malloc(n * sizeof *x), *t = malloc(nt * sizeof *t), *g = malloc(n * sizeof *g);
            ck_assert(x && t && g);
            clgrad_testrng r = fixture_rng(0xfd00u + (uint64_t)l * 16 + (uint64_t)s);
            for (size_t i = 0; i < n; i++) x[i] = clgrad_testrng_uniform(&r, -6, 6);
            for (size_t i = 0; i < nt; i++) {
                double u = clgrad_testrng_uniform(&r, 0, 1);
                t[i] = l == CLGRAD_LOSS_CE ? floor(u * (double)cols) : l == CLGRAD_LOSS_BCE ? u : 6 * u - 3;
            }
            clgrad_loss_ref_grad((clgrad_loss)l, x, t, rows, cols, g);
            double L = clgrad_loss_ref_value((clgrad_loss)l, x, t, rows, cols);
            for (size_t i = 0; i < n; i++) {
                double x0 = x[i], h = 1e-4 * fmax(1.0, fabs(x0));
                x[i] = x0 + h;
                double lp = clgrad_loss_ref_value((clgrad_loss)l, x, t, rows, cols);
                x[i] = x0 - h;
                double lm = clgrad_loss_ref_value((clgrad_loss)l, x, t, rows, cols);
                x[i] = x0;
                double fd = (lp - lm) / (2 * h);
                if (fabs(fd - g[i]) > fd_tol_(g[i], L, cnt) && bad++ < 5)
                    fprintf(stderr, "  fd %s %zux%zu [%zu]: grad %.17g, finite difference %.17g\n",
                            clgrad_loss_name((clgrad_loss)l), rows, cols, i, g[i], fd);
            }
            free(x), free(t), free(g);
        }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* ----------------------------------------------------- random batches */

static const size_t cols_[] = {1, 7, 10};

/* pred uniform [-6, 6]; targets: MSE uniform [-3, 3], BCE half {0, 1} and
** half uniform [0, 1], CE uniform class ids */
static void fill_(clgrad_loss l, float *pred, float *target, size_t rows, size_t cols, uint64_t salt, float scale)
{
    clgrad_testrng r = fixture_rng(salt);
    size_t n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols);
    for (size_t i = 0; i < n; i++) pred[i] = scale * clgrad_testrng_uniform(&r, -6, 6) / 6.0f;
    for (size_t i = 0; i < nt; i++) {
        float u = clgrad_testrng_uniform(&r, 0, 1);
        if (l == CLGRAD_LOSS_CE) target[i] = floorf(u * (float)cols);
        else if (l == CLGRAD_LOSS_BCE) target[i] = i % 2 ? (u < 0.5f ? 0.0f : 1.0f) : u;
        else target[i] = 6 * u - 3;
    }
}

static int random_case_(clgrad_loss l, size_t rows, size_t cols, float scale, const char *tag)
{
    size_t n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols);
    float *p = malloc(n * sizeof *p), *t = malloc(nt * sizeof *t);
    ck_assert(p && t);
    fill_(l, p, t, rows, cols, rows * 1009u + cols * 17u + (uint64_t)l + (uint64_t)scale, scale);
    int ok = compare_(tag, l, p, t, rows, cols);
    free(p), free(t);
    return ok;
}

START_TEST(random_batches)
{
    size_t rows = fixture_sizes[_i];
    int ok = 1;
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++)
        for (int c = 0; c < 3; c++) ok &= random_case_((clgrad_loss)l, rows, cols_[c], 6.0f, "random");
    ck_assert_msg(ok, "rows=%zu", rows);
}
END_TEST

/* 60000 rows: 8 chunks of 256 leaves of 32 terms in the compensated trees; value within the bound,
** and the same bits on a second run. */
START_TEST(large_batch)
{
    int ok = 1;
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++) {
        size_t rows = 60000, cols = l == CLGRAD_LOSS_CE ? 10 : 1;
        ok &= random_case_((clgrad_loss)l, rows, cols, 6.0f, "large");
        size_t n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols);
        float *p = malloc(n * sizeof *p), *t = malloc(nt * sizeof *t);
        ck_assert(p && t);
        fill_(l, p, t, rows, cols, 0x1a46e + (uint64_t)l, 6.0f);
        dev_result_ a, b;
        ok &= run_device_(l, p, t, rows, cols, &a) == 0;
        ok &= run_device_(l, p, t, rows, cols, &b) == 0;
        if (memcmp(a.grad, b.grad, n * sizeof *a.grad) || memcmp(&a.value, &b.value, sizeof a.value) ||
            (l != CLGRAD_LOSS_MSE && memcmp(&a.accuracy, &b.accuracy, sizeof a.accuracy)))
            ok = 0, fprintf(stderr, "  %s: two runs differ\n", clgrad_loss_name(l));
        double *pd = to_double_(p, n), *td = to_double_(t, nt);
        double v = clgrad_loss_ref_value(l, pd, td, rows, cols);
        fprintf(stderr, "large %s 60000 rows: value %.9g, reference %.17g, relative error %.2g (bound %.2g)\n",
                clgrad_loss_name(l), (double)a.value, v, fabs(a.value - v) / v,
                clgrad_loss_ref_value_bound(l, pd, td, rows, cols) / v);
        free(a.grad), free(b.grad), free(p), free(t), free(pd), free(td);
    }
    ck_assert(ok);
}
END_TEST

/* ------------------------------------------------------------ stability */

START_TEST(extreme_logits)
{
    int ok = 1;
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++) {
        /* uniform in [-1e4, 1e4] */
        ok &= random_case_((clgrad_loss)l, 65, 7, 1e4f, "1e4");
        /* exactly ±1e4 */
        size_t rows = 33, cols = 4, n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols);
        float p[33 * 4], t[33 * 4];
        clgrad_testrng r = fixture_rng(0xe4u + (uint64_t)l);
        for (size_t i = 0; i < n; i++) p[i] = clgrad_testrng_next(&r) & 1 ? 1e4f : -1e4f;
        for (size_t i = 0; i < nt; i++)
            t[i] = l == CLGRAD_LOSS_CE ? (float)(clgrad_testrng_next(&r) % cols)
                                       : (float)(clgrad_testrng_next(&r) & 1);
        ok &= compare_("±1e4", (clgrad_loss)l, p, t, rows, cols);
        dev_result_ d;
        ok &= run_device_((clgrad_loss)l, p, t, rows, cols, &d) == 0;
        int fin = isfinite(d.value);
        for (size_t i = 0; i < n; i++) fin &= isfinite(d.grad[i]);
        if (!fin) ok = 0, fprintf(stderr, "  %s ±1e4: non-finite value or gradient\n", clgrad_loss_name(l));
        free(d.grad);
    }
    /* CE rows whose target is one of the maxima at 1e4 (the others -1e4 or
    ** tied): the loss is log(ties) per row, small next to the logits, so
    ** lse - z[t] computed as (m + log S) - z[t] would lose it to cancellation */
    {
        size_t rows = 40, cols = 5;
        float p[40 * 5], t[40];
        clgrad_testrng r = fixture_rng(0xe5u);
        for (size_t i = 0; i < rows; i++) {
            for (size_t k = 0; k < cols; k++) p[i * cols + k] = clgrad_testrng_next(&r) % 3 ? -1e4f : 1e4f;
            t[i] = (float)(clgrad_testrng_next(&r) % cols);
            p[i * cols + (size_t)t[i]] = 1e4f;
        }
        ok &= compare_("max 1e4", CLGRAD_LOSS_CE, p, t, rows, cols);
    }
    ck_assert(ok);
}
END_TEST

/*
** A sum that needs the compensation: one term 1e4 followed, in the same
** work-item, by ~234 terms of 1e-4 each, below half an ulp of 1e4 (4.9e-4):
** a plain running sum drops them all (0.023 absolute), 3x more than the
** bound allows (14 u * 1e4 = 8e-3); the compensated sum keeps them.
*/
START_TEST(compensated_sum)
{
    size_t n = 60000;
    float *p = malloc(n * sizeof *p), *y = calloc(n, sizeof *y);
    ck_assert(p && y);
    for (size_t i = 0; i < n; i++) p[i] = i == 0 ? 100.0f : 0.01f;
    ck_assert(compare_("compensated", CLGRAD_LOSS_MSE, p, y, n, 1));
    free(p), free(y);
}
END_TEST

START_TEST(infinities)
{
    int ok = 1;
    /* BCE limits: right with certainty 0, wrong +Inf; the gradient stays finite */
    {
        float z[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY}, y[4] = {1, 0, 0, 1};
        dev_result_ d;
        ok &= run_device_(CLGRAD_LOSS_BCE, z, y, 1, 2, &d) == 0;
        ok &= d.value == 0.0f && d.grad[0] == 0.0f && d.grad[1] == 0.0f && d.accuracy == 2.0f;
        free(d.grad);
        ok &= run_device_(CLGRAD_LOSS_BCE, z, y, 1, 4, &d) == 0;
        ok &= d.value == INFINITY && d.grad[2] == 0.25f && d.grad[3] == -0.25f && d.accuracy == 2.0f;
        free(d.grad);
        ok &= compare_("inf", CLGRAD_LOSS_BCE, z, y, 1, 4);
    }
    /* CE: a -Inf logit off target is fine; on target the loss is +Inf */
    {
        float z[6] = {-INFINITY, 1, 2, 0.5f, -INFINITY, 3}, t[2] = {2, 1};
        dev_result_ d;
        ok &= run_device_(CLGRAD_LOSS_CE, z, t, 1, 3, &d) == 0;
        ok &= isfinite(d.value) && d.grad[0] == 0.0f && d.accuracy == 1.0f;
        free(d.grad);
        ok &= run_device_(CLGRAD_LOSS_CE, z, t, 2, 3, &d) == 0;
        ok &= d.value == INFINITY && d.accuracy == 1.0f;
        free(d.grad);
        ok &= compare_("inf", CLGRAD_LOSS_CE, z, t, 2, 3);
    }
    ck_assert(ok);
}
END_TEST

/* Invalid CE targets: NaN loss and NaN gradient row, counted wrong. */
START_TEST(invalid_targets)
{
    float z[5 * 3], t[5] = {1, 3.0f, -1.0f, 0.5f, NAN};
    for (int i = 0; i < 15; i++) z[i] = (float)(i % 4) - 1.5f;
    dev_result_ d;
    int ok = run_device_(CLGRAD_LOSS_CE, z, t, 5, 3, &d) == 0;
    ok &= isnan(d.value);
    for (int k = 0; k < 3; k++) ok &= isfinite(d.grad[k]);
    for (int i = 3; i < 15; i++) ok &= isnan(d.grad[i]);
    ok &= compare_("invalid", CLGRAD_LOSS_CE, z, t, 5, 3);
    float t1[1] = {1};
    ok &= compare_("invalid", CLGRAD_LOSS_CE, z, t1, 1, 3);
    free(d.grad);
    ck_assert(ok);
}
END_TEST

/* Accuracy: ties go to the first max; NaN logits are wrong; BCE z = 0 predicts 0. */
START_TEST(accuracy_rules)
{
    float z[4 * 3] = {2, 2, 1, /* tie, first wins: class 0 */
                      1, 3, 3, /* tie: class 1 */
                      NAN, 5, 1, /* NaN: wrong */
                      0, 0, 0};  /* all equal: class 0 */
    float t[4] = {0, 2, 1, 0};
    dev_result_ d;
    int ok = run_device_(CLGRAD_LOSS_CE, z, t, 4, 3, &d) == 0;
    ok &= d.accuracy == 2.0f;
    free(d.grad);
    ok &= compare_("ties", CLGRAD_LOSS_CE, z, t, 4, 3); /* the NaN row: value NaN on both sides */
    float zb[6] = {0, 0, -0.0f, 1e-30f, NAN, -3}, yb[6] = {0, 1, 0.5f, 0.6f, 0, 0.2f};
    ok &= run_device_(CLGRAD_LOSS_BCE, zb, yb, 2, 3, &d) == 0;
    ok &= d.accuracy == 4.0f; /* z=0,y=0 ok; z=0,y=1 wrong; -0,y=.5 ok; 1e-30,y=.6 ok; NaN wrong; -3,.2 ok */
    free(d.grad);
    ck_assert_msg(ok, "accuracy");
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "m", &m));
    ck_assert_int_eq(clgrad_loss_accuracy(ctx, CLGRAD_LOSS_MSE, m, 0, m, 0, 2, 2, m, 0), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "mse") != NULL, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(clgrad_loss_value(ctx, CLGRAD_LOSS_CE, m, 0, m, 0, 0, 3, m, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_loss_grad(ctx, (clgrad_loss)3, m, 0, m, 0, m, 0, 2, 2), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_loss_grad(ctx, CLGRAD_LOSS_BCE, NULL, 0, m, 0, m, 0, 2, 2), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_loss_grad(ctx, CLGRAD_LOSS_BCE, m, 0, m, 0, m, 0, 0, 2), CLGRAD_OK);
    clgrad_buf_free(&m);
}
END_TEST

/* ---- independence of the work-group size ----
** loss_value sums in a fixed order of n (cl/loss.cl) and loss_accuracy counts
** exactly: contexts built with CLGRAD_WG = 1, 2, 16, 64, 256 give the same
** bits; MSE's value equals the host float32 replica of the order. */

static void lw_run_(clgrad_ctx *c, clgrad_loss l, const float *p, const float *t, size_t rows, size_t cols,
                    float *v /* value, accuracy */)
{
    size_t n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols);
    cl_mem dp = NULL, dt = NULL, dout = NULL;
    ck_assert(clgrad_buf_new(c, n, "pred", &dp) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, nt, "target", &dt) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(c, 2, "out", &dout) == CLGRAD_OK);
    ck_assert(clgrad_buf_write(c, dp, 0, n, p) == CLGRAD_OK);
    ck_assert(clgrad_buf_write(c, dt, 0, nt, t) == CLGRAD_OK);
    ck_assert(clgrad_buf_fill(c, dout, 0, 2, -1.0f) == CLGRAD_OK);
    ck_assert_msg(clgrad_loss_value(c, l, dp, 0, dt, 0, rows, cols, dout, 0) == CLGRAD_OK, "%s", clgrad_errmsg(c));
    if (l != CLGRAD_LOSS_MSE) ck_assert(clgrad_loss_accuracy(c, l, dp, 0, dt, 0, rows, cols, dout, 1) == CLGRAD_OK);
    ck_assert(clgrad_buf_read(c, dout, 0, 2, v) == CLGRAD_OK);
    clgrad_buf_free(&dp), clgrad_buf_free(&dt), clgrad_buf_free(&dout);
}

START_TEST(wg_independent)
{
    static const size_t rows_[] = {1, 7, 31, 32, 33, 255, 256, 257, 8191, 8192, 8193, 100003};
    size_t bad = 0;
    clgrad_ctx *ctxs[8] = {NULL};
    for (int w = 0; w < fixture_nwgs && w < 8; w++) ctxs[w] = fixture_open_wg("loss.cl", fixture_wgs[w]);
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++)
        for (size_t k = 0; k < sizeof rows_ / sizeof rows_[0]; k++) {
            size_t rows = rows_[k], cols = l == CLGRAD_LOSS_CE ? 10 : (k % 2 ? 3 : 1), n = rows * cols;
            size_t nt = clgrad_loss_target_count(l, rows, cols);
            float *p = malloc(n * sizeof *p), *t = malloc(nt * sizeof *t), *terms = malloc(n * sizeof *terms);
            ck_assert(p && t && terms);
            fill_((clgrad_loss)l, p, t, rows, cols, 0x3c3c + k + 100 * (uint64_t)l, 20.0f);
            float ref[2], v[2];
            lw_run_(fixture_ctx(), (clgrad_loss)l, p, t, rows, cols, ref);
            if (l == CLGRAD_LOSS_MSE) {
                for (size_t i = 0; i < n; i++) {
                    float d = p[i] - t[i];
                    terms[i] = d * d;
                }
                float rep = clgrad_loss_sum_replica(terms, n);
                if (memcmp(&rep, ref, sizeof rep) != 0)
                    bad++, fprintf(stderr, "  mse n=%zu: device %a, replica %a\n", n, (double)ref[0], (double)rep);
            }
            for (int w = 0; w < fixture_nwgs && w < 8; w++) {
                clgrad_ctx *c = ctxs[w];
                if (!c) continue;
                lw_run_(c, (clgrad_loss)l, p, t, rows, cols, v);
                if (memcmp(v, ref, (l == CLGRAD_LOSS_MSE ? 1 : 2) * sizeof *v) != 0)
                    bad++, fprintf(stderr, "  %s %zu x %zu WG %zu: %a %a vs default WG %a %a\n",
                                   clgrad_loss_name((clgrad_loss)l), rows, cols, fixture_wgs[w], (double)v[0],
                                   (double)v[1], (double)ref[0], (double)ref[1]);
            }
            free(p), free(t), free(terms);
        }
    for (int w = 0; w < 8; w++) clgrad_ctx_free(ctxs[w]);
    ck_assert_msg(bad == 0, "%zu results depend on the work-group size", bad);
}
END_TEST

/* ---- bit for bit against the host build of cl/loss_fn.cl ----
** Awkward predictions: ±0, denormals, ±1e4 logits (CE cancellation), ±90
** (exp underflow), ±Inf and NaN, mixed with ordinary values; BCE targets
** soft and hard, CE targets valid, out of range and NaN. */
static float hb_pred_(clgrad_testrng *r, float special_p)
{
    static const float special[] = {0.0f, -0.0f, 0x1.0p-140f, -0x1.8p-130f, 1e4f, -1e4f, 90.0f, -90.0f,
                                    17.3f, -0.5f, INFINITY, -INFINITY, NAN};
    float u = clgrad_testrng_uniform(r, 0, 1);
    if (u < special_p) return special[(size_t)(clgrad_testrng_uniform(r, 0, 1) * 13) % 13];
    return clgrad_testrng_uniform(r, -8, 8) * ldexpf(1.0f, (int)clgrad_testrng_uniform(r, -6, 4));
}

static size_t hb_case_(clgrad_loss l, size_t rows, size_t cols, int special, uint64_t salt)
{
    size_t n = rows * cols, nt = clgrad_loss_target_count(l, rows, cols), nterm = l == CLGRAD_LOSS_CE ? rows : n;
    float *p = malloc(n * sizeof *p), *t = malloc(nt * sizeof *t), *g = malloc(n * sizeof *g);
    float *h = malloc(n * sizeof *h), *terms = malloc(nterm * sizeof *terms);
    ck_assert(p && t && g && h && terms);
    clgrad_testrng r = fixture_rng(salt);
    /* CE: about one special logit in 7 rows, so that most rows stay finite */
    const float sp = !special ? 0.0f : l == CLGRAD_LOSS_CE ? 0.15f / (float)cols : 0.15f;
    for (size_t i = 0; i < n; i++) p[i] = hb_pred_(&r, sp);
    for (size_t i = 0; i < nt; i++) {
        float u = clgrad_testrng_uniform(&r, 0, 1);
        if (l == CLGRAD_LOSS_CE)
            t[i] = special && u < 0.05f ? (u < 0.02f ? (float)cols : u < 0.04f ? 0.5f : NAN) : floorf(u * (float)cols);
        else if (l == CLGRAD_LOSS_BCE) t[i] = i % 3 == 0 ? u : (u < 0.5f ? 0.0f : 1.0f);
        else t[i] = hb_pred_(&r, sp);
    }
    cl_mem dp = fixture_upload(p, n, "pred"), dt = fixture_upload(t, nt, "target"), dg = fixture_upload(p, n, "grad");
    FX_OK(clgrad_loss_grad(fixture_ctx(), l, dp, 0, dt, 0, dg, 0, rows, cols));
    fixture_download(dg, g, n);
    /* the host: loss_grad's per-item code */
    if (l == CLGRAD_LOSS_CE)
        for (size_t i = 0; i < rows; i++) loss_ce_grad_row_(p + i * cols, cols, t[i], (float)rows, h + i * cols);
    else
        for (size_t i = 0; i < n; i++) h[i] = loss_grad_elem_((int)l, p[i], t[i], n);
    char what[96];
    snprintf(what, sizeof what, "%s grad %zu x %zu%s", clgrad_loss_name(l), rows, cols, special ? " special" : "");
    size_t bad = fixture_check_bits(what, g, h, n);
    /* loss_value: the host terms in the device's order (the replica) */
    for (size_t u = 0; u < nterm; u++)
        terms[u] = l == CLGRAD_LOSS_CE    ? loss_ce_row_(p + u * cols, cols, t[u])
                   : l == CLGRAD_LOSS_BCE ? loss_bce_term_(p[u], t[u])
                                          : loss_mse_term_(p[u], t[u]);
    float v, rep = clgrad_loss_sum_replica(terms, nterm);
    FX_OK(clgrad_loss_value(fixture_ctx(), l, dp, 0, dt, 0, rows, cols, dg, 0));
    fixture_download(dg, &v, 1);
    snprintf(what, sizeof what, "%s value %zu x %zu%s", clgrad_loss_name(l), rows, cols, special ? " special" : "");
    bad += fixture_check_bits(what, &v, &rep, 1);
    clgrad_buf_free(&dp), clgrad_buf_free(&dt), clgrad_buf_free(&dg);
    free(p), free(t), free(g), free(h), free(terms);
    return bad;
}

START_TEST(bitwise_host)
{
    static const size_t shapes[][2] = {{1, 1}, {7, 3}, {33, 10}, {130, 17}, {1000, 7}, {8193, 2}, {65, 1000}};
    size_t bad = 0;
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            for (int special = 0; special < 2; special++)
                bad += hb_case_((clgrad_loss)l, shapes[k][0], shapes[k][1], special, 0x10f5 + 7 * k + 100 * (uint64_t)l + special);
    ck_assert_msg(bad == 0, "%zu device results differ from the host build of loss_fn.cl", bad);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, names);
    tcase_add_test(tc, worked_reference);
    tcase_add_test(tc, worked_device);
    tcase_add_test(tc, reference_finite_differences);
    tcase_add_loop_test(tc, random_batches, 0, fixture_nsizes);
    tcase_add_test(tc, large_batch);
    tcase_add_test(tc, extreme_logits);
    tcase_add_test(tc, compensated_sum);
    tcase_add_test(tc, infinities);
    tcase_add_test(tc, invalid_targets);
    tcase_add_test(tc, accuracy_rules);
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, wg_independent);
    tcase_add_test(tc, bitwise_host);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("loss.cl");
    return fixture_run(suite_(), 1);
}
