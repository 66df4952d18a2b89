/*
** loss_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "loss" self-check of src/ops/loss.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float32 host replica of loss_value's fixed summation order ----
** cl/loss.cl specifies it; here the literal recursive balanced trees over
** the 256 leaves of each chunk (leaf j: terms j, j + 256, ... of the chunk)
** and over the chunks padded with identities. */

typedef struct {
    float s, c;
} lrec_;

static lrec_ lmerge_(lrec_ a, lrec_ b)
{
    lrec_ r;
    r.s = a.s + b.s;
    r.c = (a.c + b.c) + (fabsf(a.s) >= fabsf(b.s) ? (a.s - r.s) + b.s : (b.s - r.s) + a.s);
    return r;
}

/* Leaves lo .. lo + w - 1 of the chunk at t holding m terms. */
static lrec_ lleaves_(const float *t, size_t m, size_t lo, size_t w)
{
    if (w > 1) return lmerge_(lleaves_(t, m, lo, w / 2), lleaves_(t, m, lo + w / 2, w / 2));
    lrec_ r = {-0.0f, 0.0f};
    for (size_t u = lo; u < m; u += 256) {
        float x = t[u], v = r.s + x;
        r.c = r.c + (fabsf(r.s) >= fabsf(x) ? (r.s - v) + x : (x - v) + r.s);
        r.s = v;
    }
    return r;
}

/* Chunks lo .. lo + w - 1 of 8192 terms, identities from the end of the terms on. */
static lrec_ lchunks_(const float *t, size_t n, size_t lo, size_t w)
{
    lrec_ r = {-0.0f, 0.0f};
    if (lo * 8192 >= n) return r;
    if (w > 1) return lmerge_(lchunks_(t, n, lo, w / 2), lchunks_(t, n, lo + w / 2, w / 2));
    return lleaves_(t + lo * 8192, n - lo * 8192 < 8192 ? n - lo * 8192 : 8192, 0, 256);
}

float clgrad_loss_sum_replica(const float *terms, size_t n)
{
    size_t nch = (n + 8191) / 8192, P = 1;
    while (P < nch) P *= 2;
    lrec_ r = lchunks_(terms, n, 0, P);
    return (isfinite(r.s) ? r.s + r.c : r.s) / (float)n;
}

/* ---- float64 references ---- */

static double sigmoid_(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static double bce_term_(double z, double y)
{
    double a = z > 0 ? 1.0 - y : -y;
    return (a == 0 ? 0.0 : z * a) + log1p(exp(-fabs(z)));
}

/* class id of t, or -1 when not an integer in [0, K) */
static long class_(double t, size_t K)
{
    if (!(t >= 0) || !(t < (double)K) || t != floor(t)) return -1;
    return (long)t;
}

/* m = max of the row (NaNs skipped), *sum = sum exp(z_k - m) */
static double lse_(const double *z, size_t K, double *sum)
{
    double m = z[0];
    for (size_t k = 1; k < K; k++)
        if (z[k] > m) m = z[k];
    double s = 0.0;
    for (size_t k = 0; k < K; k++) s += exp(z[k] - m);
    *sum = s;
    return m;
}

static double ce_row_(const double *z, size_t K, double t)
{
    long c = class_(t, K);
    if (c < 0) return NAN;
    double s, m = lse_(z, K, &s);
    return (m - z[c]) + log(s);
}

double clgrad_loss_ref_value(clgrad_loss loss, const double *pred, const double *target, size_t rows, size_t cols)
{
    size_t n = clgrad_loss_target_count(loss, rows, cols);
    double s = 0.0;
    for (size_t u = 0; u < n; u++) {
        if (loss == CLGRAD_LOSS_CE) s += ce_row_(pred + u * cols, cols, target[u]);
        else if (loss == CLGRAD_LOSS_BCE) s += bce_term_(pred[u], target[u]);
        else s += (pred[u] - target[u]) * (pred[u] - target[u]);
    }
    return s / (double)n;
}

void clgrad_loss_ref_grad(clgrad_loss loss, const double *pred, const double *target, size_t rows, size_t cols,
                          double *grad)
{
    if (loss == CLGRAD_LOSS_CE) {
        for (size_t i = 0; i < rows; i++) {
            const double *z = pred + i * cols;
            long c = class_(target[i], cols);
            double s, m = lse_(z, cols, &s);
            for (size_t k = 0; k < cols; k++) {
                double p = exp(z[k] - m) / s;
                grad[i * cols + k] = c < 0 ? NAN : (p - ((long)k == c ? 1.0 : 0.0)) / (double)rows;
            }
        }
        return;
    }
    size_t n = rows * cols;
    for (size_t i = 0; i < n; i++)
        grad[i] = (loss == CLGRAD_LOSS_MSE ? 2.0 * (pred[i] - target[i]) : sigmoid_(pred[i]) - target[i]) / (double)n;
}

double clgrad_loss_ref_accuracy(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                size_t cols)
{
    double count = 0;
    if (loss == CLGRAD_LOSS_MSE) return NAN;
    if (loss == CLGRAD_LOSS_BCE) {
        for (size_t i = 0; i < rows * cols; i++)
            count += !isnan(pred[i]) && ((pred[i] > 0) == (target[i] > 0.5));
        return count;
    }
    for (size_t i = 0; i < rows; i++) {
        const double *z = pred + i * cols;
        size_t arg = 0;
        int bad = isnan(z[0]);
        for (size_t k = 1; k < cols; k++) {
            bad |= isnan(z[k]);
            if (z[k] > z[arg]) arg = k;
        }
        long c = class_(target[i], cols);
        count += !bad && c >= 0 && (long)arg == c;
    }
    return count;
}

/*
** Error bounds of the float32 kernels, first order in u = 2^-24 (the unit
** roundoff: + - * round with relative error <= u; k ulp of OpenCL 1.2's
** table 7.1 is <= 2k u relative): division 2.5 ulp = 5u, exp and log 3 ulp
** = 6u, log1p 2 ulp = 4u.  Per term r_i the kernel's absolute error e_i:
**   MSE  d = p - y (u), d*d: e = 3u r
**   BCE  lin = z (1-y) or -z y: 2u |lin|; L = log1p(exp(-|z|)): exp 6u carried
**        with sensitivity <= 1, log1p 4u: 10u L; the sum: u |r|
**   CE   (m - z_t): u |m - z_t|; S = sum_k exp(z_k - m): each term 6u plus
**        u |z_k - m| for the rounded argument, the plain K-term sum (K-1)u S,
**        so dS/S <= A = sum_k e_k (6u + u|z_k - m|) / S + (K-1)u; log: A + 6u|log S|;
**        the sum: u |r|
** The reduction (cl/loss.cl): Neumaier-compensated sums over leaves of 32
** terms and compensated pairwise trees over the leaves: 2u |S| plus
** second-order terms (depth) u^2 sum|r|, well inside the 11u kept below
** (the bound of the former per-item sums and 8-level plain tree); then / n
** (exact float n < 2^24): 5u.
**   |value - ref| <= (sum e_i + 11u sum |r_i|) / n + 5u |value| + ATOL
** Gradient, per element (all / n or / B, 5u):
**   MSE  2 (p - y) / n: (u + 5u) |g|
**   BCE  (s - y) / n: sigmoid 6 ulp = 12u s, minus y u|s - y|: (12u s + u|s-y|)/n + 5u|g|
**   CE   p_k = e_k / S: P_k = 6u + u|z_k - m| + A + 5u relative; p_k - [k=t]:
**        u |p_k - [k=t]|; (P_k p_k + u|g B|)/B + 5u|g|
** ATOL = 1024 FLT_MIN covers denormal flushing (OpenCL 1.2 allows it) of
** the tiny exp() terms.
*/
#define U 0x1.0p-24
#define ATOL (1024.0 * FLT_MIN)

/* relative error bound A of S = sum_k exp(z_k - m) (see above) */
static double ce_sum_rel_(const double *z, size_t K, double m, double S)
{
    double a = 0.0;
    for (size_t k = 0; k < K; k++) {
        double e = exp(z[k] - m);
        if (e > 0) a += e * (6 * U + U * fabs(z[k] - m)); /* e = 0 (a -Inf logit) adds nothing */
    }
    return a / S + (double)(K - 1) * U;
}

double clgrad_loss_ref_value_bound(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                   size_t cols)
{
    size_t n = clgrad_loss_target_count(loss, rows, cols);
    double esum = 0.0, rsum = 0.0;
    for (size_t u = 0; u < n; u++) {
        double r, e;
        if (loss == CLGRAD_LOSS_CE) {
            const double *z = pred + u * cols;
            long c = class_(target[u], cols);
            if (c < 0) continue; /* NaN row: must match exactly */
            double S, m = lse_(z, cols, &S);
            r = (m - z[c]) + log(S);
            e = U * fabs(m - z[c]) + ce_sum_rel_(z, cols, m, S) + 6 * U * fabs(log(S)) + U * fabs(r);
        } else if (loss == CLGRAD_LOSS_BCE) {
            double z = pred[u], y = target[u];
            double a = z > 0 ? 1.0 - y : -y, lin = a == 0 ? 0.0 : z * a, L = log1p(exp(-fabs(z)));
            r = lin + L;
            e = 2 * U * fabs(lin) + 10 * U * L + U * fabs(r);
        } else {
            double d = pred[u] - target[u];
            r = d * d;
            e = 3 * U * r;
        }
        if (!isfinite(r)) continue;
        esum += e;
        rsum += fabs(r);
    }
    double v = clgrad_loss_ref_value(loss, pred, target, rows, cols);
    return (esum + 11 * U * rsum) / (double)n + (isfinite(v) ? 5 * U * fabs(v) : 0.0) + ATOL;
}

void clgrad_loss_ref_grad_bound(clgrad_loss loss, const double *pred, const double *target, size_t rows,
                                size_t cols, double *tol)
{
    if (loss == CLGRAD_LOSS_CE) {
        double B = (double)rows;
        for (size_t i = 0; i < rows; i++) {
            const double *z = pred + i * cols;
            long c = class_(target[i], cols);
            double S, m = lse_(z, cols, &S);
            double A = ce_sum_rel_(z, cols, m, S);
            for (size_t k = 0; k < cols; k++) {
                double p = exp(z[k] - m) / S, gB = p - ((long)k == c ? 1.0 : 0.0);
                double Pp = p > 0 ? (11 * U + U * fabs(z[k] - m) + A) * p : 0.0;
                double t = (Pp + U * fabs(gB)) / B + 5 * U * fabs(gB / B) + ATOL;
                tol[i * cols + k] = isfinite(t) ? t : 0.0;
            }
        }
        return;
    }
    size_t n = rows * cols;
    for (size_t i = 0; i < n; i++) {
        double t;
        if (loss == CLGRAD_LOSS_MSE) t = 6 * U * fabs(2.0 * (pred[i] - target[i]) / (double)n);
        else {
            double s = sigmoid_(pred[i]), g = s - target[i];
            t = (12 * U * s + U * fabs(g)) / (double)n + 5 * U * fabs(g / (double)n) + ATOL;
        }
        tol[i] = isfinite(t) ? t : 0.0;
    }
}

/* ---- self-check ---- */

#define SC_ROWS 300 /* more than one work-group of 256 */
#define SC_COLS 5
#define SC_N (SC_ROWS * SC_COLS)

static clgrad_status loss_case_(clgrad_ctx *ctx, clgrad_loss loss, cl_mem dp, cl_mem dt, cl_mem dg,
                                clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    float *p = malloc(3 * SC_N * sizeof *p), *t = p ? p + SC_N : NULL, *g = p ? t + SC_N : NULL;
    double *pd = malloc(4 * SC_N * sizeof *pd), *td = pd ? pd + SC_N : NULL, *ref = pd ? td + SC_N : NULL,
           *tol = pd ? ref + SC_N : NULL;
    if (!p || !pd) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    size_t nt = clgrad_loss_target_count(loss, SC_ROWS, SC_COLS);
    clgrad_testrng rng = {0x1055u + (uint64_t)loss};
    for (size_t i = 0; i < SC_N; i++) p[i] = clgrad_testrng_uniform(&rng, -4, 4), pd[i] = p[i];
    for (size_t i = 0; i < nt; i++) {
        float u = clgrad_testrng_uniform(&rng, 0, 1);
        t[i] = loss == CLGRAD_LOSS_CE ? floorf(u * SC_COLS) : loss == CLGRAD_LOSS_BCE ? (u < 0.5f ? 0.0f : 1.0f)
                                                                                       : 4 * u - 2;
        td[i] = t[i];
    }
    CLGRAD_TRY(clgrad_buf_write(ctx, dp, 0, SC_N, p));
    CLGRAD_TRY(clgrad_buf_write(ctx, dt, 0, nt, t));
    CLGRAD_TRY(clgrad_loss_grad(ctx, loss, dp, 0, dt, 0, dg, 0, SC_ROWS, SC_COLS));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, SC_N, g));
    clgrad_loss_ref_grad(loss, pd, td, SC_ROWS, SC_COLS, ref);
    clgrad_loss_ref_grad_bound(loss, pd, td, SC_ROWS, SC_COLS, tol);
    char what[96];
    double w = clgrad_worst_ratio(g, ref, tol, SC_N);
    snprintf(what, sizeof what, "%s gradient %dx%d (error/bound)", clgrad_loss_name(loss), SC_ROWS, SC_COLS);
    report(user, "loss", what, w <= 1.0, w, 1.0);

    /* value into slot 1 and accuracy into slot 2 of the gradient buffer */
    CLGRAD_TRY(clgrad_loss_value(ctx, loss, dp, 0, dt, 0, SC_ROWS, SC_COLS, dg, 1));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 1, 1, g));
    ref[0] = clgrad_loss_ref_value(loss, pd, td, SC_ROWS, SC_COLS);
    tol[0] = clgrad_loss_ref_value_bound(loss, pd, td, SC_ROWS, SC_COLS);
    w = clgrad_worst_ratio(g, ref, tol, 1);
    snprintf(what, sizeof what, "%s value %dx%d (error/bound)", clgrad_loss_name(loss), SC_ROWS, SC_COLS);
    report(user, "loss", what, w <= 1.0, w, 1.0);

    if (loss != CLGRAD_LOSS_MSE) {
        CLGRAD_TRY(clgrad_loss_accuracy(ctx, loss, dp, 0, dt, 0, SC_ROWS, SC_COLS, dg, 2));
        CLGRAD_TRY(clgrad_buf_read(ctx, dg, 2, 1, g));
        double a = clgrad_loss_ref_accuracy(loss, pd, td, SC_ROWS, SC_COLS);
        snprintf(what, sizeof what, "%s accuracy %dx%d (count, exact)", clgrad_loss_name(loss), SC_ROWS, SC_COLS);
        report(user, "loss", what, g[0] == a, fabs(g[0] - a), 0.0);
    }
fail:
    free(p);
    free(pd);
    return st;
}

clgrad_status clgrad_selfcheck_loss(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    cl_mem dp = NULL, dt = NULL, dg = NULL;
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck pred", &dp));
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck target", &dt));
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck grad", &dg));
    for (int l = 0; l < CLGRAD_LOSS_COUNT; l++) CLGRAD_TRY(loss_case_(ctx, (clgrad_loss)l, dp, dt, dg, report, user));
fail:
    clgrad_buf_free(&dp);
    clgrad_buf_free(&dt);
    clgrad_buf_free(&dg);
    return st;
}
