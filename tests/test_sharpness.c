/*
** test_sharpness.c (device suite): the sharpness estimate (src/nn/sharpness.c,
** cl/sharpness.cl) against float64 host references.
**
**   linreg: a linear model (no hidden layer, with bias) under the MSE loss.
**     The loss is loss_fn.cl's mean over B*K elements of (p - y)^2, so for
**     output k the Hessian block of (W[k,:], b[k]) is 2/(B K) [X 1]^T [X 1]
**     and the Hessian is K copies of it: lambda_max = 2/(B K) lambda_max([X
**     1]^T [X 1]), computed here by cyclic Jacobi in float64.  The estimate
**     (at most 300 products, tol 0) must match to 1e-3 relative, one Hessian-vector
**     product must match H u from the same matrix (1e-3 of max |Hu|), and the
**     weights must come back bit for bit.  Awkward sizes: B = 1, odd F, K > 1.
**   precond: the same model with a made-up Adam state (v > 0, t = 3) and a
**     centered RMSprop state: lambda_max(D H D), D = P^-1/2 with P as
**     include/clgrad/sharpness.h defines it, against Jacobi on the full matrix.
**   wg_bits: a tanh MLP with the cross-entropy loss: the estimate and the
**     restored weights are bit-identical for every work-group size.
**   limits: the stability limits 2/lr, (2 + 2 beta1)/((1 - beta1) lr), (2 +
**     2 momentum)/lr, and argument checks.
*/
#include "fixture.h"
#include "clgrad/sharpness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest eigenvalue of the symmetric n x n matrix a (destroyed): cyclic Jacobi. */
static double jacobi_max_(double *a, size_t n, double *second)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        if (off < 1e-30) break;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    double m1 = -INFINITY, m2 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double d = a[i * n + i];
        if (d > m1) m2 = m1, m1 = d;
        else if (d > m2) m2 = d;
    }
    if (second) *second = m2;
    return m1;
}

typedef struct {
    size_t B, F, K, np;
    clgrad_model *m;
    cl_mem x, y, dl;
    float *xh;
    double *H; /* np x np, the full Hessian (float64) */
} lin_;

static void lin_new_(lin_ *l, size_t B, size_t F, size_t K, uint64_t salt)
{
    clgrad_ctx *ctx = fixture_ctx();
    memset(l, 0, sizeof *l);
    l->B = B, l->F = F, l->K = K;
    clgrad_model_spec s = {0};
    clgrad_act act = CLGRAD_ACT_IDENTITY;
    s.kind = CLGRAD_MODEL_MLP, s.in = F, s.seq_len = 1, s.out = K, s.nhidden = 0, s.acts = &act, s.bias = 1;
    s.max_batch = B;
    FX_OK(clgrad_model_create(ctx, &s, &l->m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, l->m, &ic, &ic, fixture_seed() + salt));
    l->np = clgrad_model_nparams(l->m);
    ck_assert_uint_eq(l->np, K * (F + 1));
    clgrad_testrng r = fixture_rng(salt);
    l->xh = malloc(B * F * sizeof *l->xh);
    float *yh = malloc(B * K * sizeof *yh);
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < F; j++) /* columns of growing scale and an offset: a clear top eigenvalue */
            l->xh[b * F + j] = clgrad_testrng_uniform(&r, -1, 1) * (float)(1 + 2 * j) + 0.25f;
    for (size_t i = 0; i < B * K; i++) yh[i] = clgrad_testrng_uniform(&r, -2, 2);
    l->x = fixture_upload(l->xh, B * F, "x");
    l->y = fixture_upload(yh, B * K, "y");
    FX_OK(clgrad_buf_new(ctx, B * K, "dlogits", &l->dl));
    free(yh);
    /* parameters: 0.weight (K, F) row-major, then 0.bias (K) */
    const clgrad_tensor *w = clgrad_model_tensor(l->m, 0), *bt = clgrad_model_tensor(l->m, 1);
    ck_assert(w->rows == K && w->cols == F && bt->cols == K);
    size_t n = l->np;
    l->H = calloc(n * n, sizeof *l->H);
    double c = 2.0 / ((double)B * (double)K);
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i <= F; i++)
            for (size_t j = 0; j <= F; j++) {
                double s2 = 0;
                for (size_t b = 0; b < B; b++) {
                    double xi = i < F ? l->xh[b * F + i] : 1.0, xj = j < F ? l->xh[b * F + j] : 1.0;
                    s2 += xi * xj;
                }
                size_t pi = i < F ? w->off + k * F + i : bt->off + k, pj = j < F ? w->off + k * F + j : bt->off + k;
                l->H[pi * n + pj] = c * s2;
            }
}

static void lin_free_(lin_ *l)
{
    clgrad_buf_free(&l->x), clgrad_buf_free(&l->y), clgrad_buf_free(&l->dl);
    clgrad_model_free(l->m);
    free(l->xh), free(l->H);
}

static const size_t shapes_[][3] = {{1, 1, 1}, {7, 3, 1}, {50, 10, 3}, {257, 33, 2}, {64, 5, 4}};

START_TEST(linreg)
{
    clgrad_ctx *ctx = fixture_ctx();
    lin_ l;
    const size_t *sh3 = shapes_[_i];
    lin_new_(&l, sh3[0], sh3[1], sh3[2], 100 + (uint64_t)_i);
    size_t n = l.np;
    double *a = malloc(n * n * sizeof *a);
    memcpy(a, l.H, n * n * sizeof *a);
    double second, lmax = jacobi_max_(a, n, &second);
    clgrad_sharp_cfg cfg = {300, 0.0, 1e-3, 7};
    clgrad_sharp *s = NULL;
    FX_OK(clgrad_sharp_new(ctx, n, &cfg, &s));
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    fixture_download(clgrad_model_params(l.m), before, n);
    clgrad_sharp_result res;
    FX_OK(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, 0, &res));
    fixture_download(clgrad_model_params(l.m), after, n);
    fprintf(stderr, "linreg B=%zu F=%zu K=%zu: estimate %.9g, Jacobi %.9g (next %.6g), %d products, eps %g\n", l.B,
            l.F, l.K, res.value, lmax, second, res.iters, res.eps);
    ck_assert_msg(fabs(res.value - lmax) <= 1e-3 * lmax, "sharpness %.9g vs analytic %.9g", res.value, lmax);
    ck_assert_msg(memcmp(before, after, n * sizeof *before) == 0, "the weights were not restored bit for bit");
    ck_assert(res.iters >= 2 && res.iters <= 300); /* tol 0: until the estimate repeats exactly */

    /* one product H u against the float64 matrix */
    clgrad_testrng r = fixture_rng(200 + (uint64_t)_i);
    float *u = malloc(n * sizeof *u), *hu = malloc(n * sizeof *hu);
    double *ref = malloc(n * sizeof *ref), mx = 0;
    double un = 0;
    for (size_t i = 0; i < n; i++) u[i] = clgrad_testrng_uniform(&r, -1, 1), un += (double)u[i] * u[i];
    for (size_t i = 0; i < n; i++) u[i] = (float)(u[i] / sqrt(un)); /* unit, as in the estimate */
    for (size_t i = 0; i < n; i++) {
        ref[i] = 0;
        for (size_t j = 0; j < n; j++) ref[i] += l.H[i * n + j] * u[j];
        mx = fmax(mx, fabs(ref[i]));
    }
    cl_mem du = fixture_upload(u, n, "u"), dhu = NULL;
    FX_OK(clgrad_buf_new(ctx, n, "hu", &dhu));
    FX_OK(clgrad_sharp_hvp(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, du, dhu));
    fixture_download(dhu, hu, n);
    /* the error of the float32 central difference is absolute, about ||H|| ulp(w) / eps, not relative to |Hu| */
    (void)mx;
    ck_assert_msg(fixture_check("H u", hu, ref, n, 1e-3 * lmax, 0) == 0, "Hessian-vector product");
    fixture_download(clgrad_model_params(l.m), after, n);
    ck_assert_msg(memcmp(before, after, n * sizeof *before) == 0, "hvp: the weights were not restored bit for bit");

    /* the warm start: a second estimate on the same batch starts from the first one's last vector, so
    ** once the first has stopped (relative change <= tol) the second stops within a third of the products (or
    ** 3), at a
    ** value at least as close (H is positive semi-definite: power iteration's Rayleigh quotients do not
    ** decrease; 3e-4 allows for the float32 differences, which reach 1e-4 relative when ||w|| < 1 makes eps
    ** 1e-3 absolute: tol must stay above that).  tol bounds the change per product, not the
    ** error (a small eigengap converges slowly), which is why the accuracy check above uses tol 0. */
    clgrad_sharp_free(&s);
    clgrad_sharp_cfg wcfg = {300, 1e-3, 1e-3, 7};
    FX_OK(clgrad_sharp_new(ctx, n, &wcfg, &s));
    FX_OK(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, 0, &res));
    clgrad_sharp_result warm;
    FX_OK(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, 0, &warm));
    fprintf(stderr, "  tol 1e-3: %.9g in %d products; warm start %.9g in %d\n", res.value, res.iters, warm.value,
            warm.iters);
    ck_assert_msg(fabs(warm.value - lmax) <= fabs(res.value - lmax) + 3e-4 * lmax, "warm %.9g, cold %.9g, exact %.9g",
                  warm.value, res.value, lmax);
    ck_assert_msg(warm.iters <= (res.iters / 3 > 3 ? res.iters / 3 : 3), "warm start took %d products (cold %d)",
                  warm.iters, res.iters);
    clgrad_buf_free(&du), clgrad_buf_free(&dhu);
    clgrad_sharp_free(&s);
    free(u), free(hu), free(ref), free(a), free(before), free(after);
    lin_free_(&l);
}
END_TEST

/* docs/semantics.md's worked vector: X = [[1],[3]], K = 1: lambda_max = 6 + sqrt(32) */
START_TEST(semantics_vector)
{
    clgrad_ctx *ctx = fixture_ctx();
    lin_ l;
    lin_new_(&l, 2, 1, 1, 77);
    const float x[2] = {1, 3};
    FX_OK(clgrad_buf_write(ctx, l.x, 0, 2, x));
    clgrad_sharp_cfg cfg = {100, 0.0, 1e-3, 3};
    clgrad_sharp *s = NULL;
    FX_OK(clgrad_sharp_new(ctx, l.np, &cfg, &s));
    clgrad_sharp_result res;
    FX_OK(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, 2, 1, l.dl, 0, &res));
    fprintf(stderr, "semantics.md vector: %.9g (6 + sqrt(32) = 11.65685424949238)\n", res.value);
    ck_assert_msg(fabs(res.value - 11.65685424949238) <= 1e-3 * 11.65685424949238, "%.9g", res.value);
    clgrad_sharp_free(&s);
    lin_free_(&l);
}
END_TEST

/* precond: _i = 0 Adam (amsgrad off), 1 RMSprop centered, 2 AdamW amsgrad */
START_TEST(precond)
{
    clgrad_ctx *ctx = fixture_ctx();
    lin_ l;
    lin_new_(&l, 40, 4, 2, 300 + (uint64_t)_i);
    size_t n = l.np;
    clgrad_optim_cfg o = clgrad_optim_defaults(_i == 1 ? CLGRAD_OPTIM_RMSPROP : _i == 2 ? CLGRAD_OPTIM_ADAMW
                                                                                     : CLGRAD_OPTIM_ADAM);
    o.eps = 1e-3; /* large enough to matter */
    if (_i == 1) o.centered = 1;
    if (_i == 2) o.amsgrad = 1;
    long t = 3;
    size_t ns = clgrad_optim_state_floats(&o);
    float *st = malloc(ns * n * sizeof *st);
    double *d = malloc(n * sizeof *d), *a = malloc(n * n * sizeof *a);
    clgrad_testrng r = fixture_rng(400 + (uint64_t)_i);
    double second = 0, lmax = 0;
    for (int tries = 0; tries < 50; tries++) { /* a made-up state with a clear eigengap (convergence) */
        for (size_t i = 0; i < ns * n; i++) st[i] = clgrad_testrng_uniform(&r, 0.01f, 1.0f);
        if (_i == 1) /* grad_avg (slot 1): ga^2 < v */
            for (size_t i = 0; i < n; i++) st[n + i] = 0.5f * sqrtf(st[i]) * clgrad_testrng_uniform(&r, -1, 1);
        for (size_t i = 0; i < n; i++) {
            double p;
            if (_i == 1) {
                double v = st[i], ga = st[n + i];
                p = sqrt(v - ga * ga) + o.eps;
            } else {
                double v = st[(_i == 2 ? 2 : 1) * n + i];
                p = (1 - pow(o.beta1, (double)t)) * (sqrt(v / (1 - pow(o.beta2, (double)t))) + o.eps);
            }
            d[i] = 1 / sqrt(p);
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) a[i * n + j] = d[i] * l.H[i * n + j] * d[j];
        lmax = jacobi_max_(a, n, &second);
        if (second < 0.9 * lmax) break;
    }
    ck_assert_msg(second < 0.9 * lmax, "no made-up case with a clear gap: %g vs %g", second, lmax);
    cl_mem ds = fixture_upload(st, ns * n, "state");
    clgrad_sharp_cfg cfg = {1500, 0.0, 1e-3, 11};
    clgrad_sharp *s = NULL;
    FX_OK(clgrad_sharp_new(ctx, n, &cfg, &s));
    clgrad_sharp_result res;
    ck_assert(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, 1, &res) ==
              CLGRAD_E_ARG); /* no preconditioner yet */
    FX_OK(clgrad_sharp_precond(ctx, s, &o, t, ds));
    FX_OK(clgrad_sharp_estimate(ctx, s, l.m, CLGRAD_LOSS_MSE, l.x, l.y, l.B, l.K, l.dl, 1, &res));
    fprintf(stderr, "precond %s: estimate %.9g, Jacobi %.9g (next %.6g), %d products\n", clgrad_optim_name(o.kind),
            res.value, lmax, second, res.iters);
    ck_assert_msg(fabs(res.value - lmax) <= 1e-3 * lmax, "preconditioned sharpness %.9g vs %.9g", res.value, lmax);
    clgrad_sharp_free(&s);
    clgrad_buf_free(&ds);
    free(st), free(d), free(a);
    lin_free_(&l);
}
END_TEST

/* A tanh MLP under CE: the same bits for every work-group size. */
static void mlp_estimate_(clgrad_ctx *ctx, float *value, float *params_after, size_t *np_out)
{
    const size_t B = 37, F = 5, K = 3;
    long hidden[2] = {16, 9};
    clgrad_act acts[2] = {CLGRAD_ACT_TANH, CLGRAD_ACT_TANH};
    clgrad_model_spec s = {0};
    s.kind = CLGRAD_MODEL_MLP, s.in = F, s.seq_len = 1, s.out = K, s.nhidden = 2, s.hidden = hidden, s.acts = acts;
    s.bias = 1, s.max_batch = B;
    clgrad_model *m = NULL;
    ck_assert(clgrad_model_create(ctx, &s, &m) == CLGRAD_OK);
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    ck_assert(clgrad_model_init(ctx, m, &ic, &ic, 1234) == CLGRAD_OK);
    float x[37 * 5], y[37];
    clgrad_testrng r = {99};
    for (size_t i = 0; i < B * F; i++) x[i] = clgrad_testrng_uniform(&r, -2, 2);
    for (size_t i = 0; i < B; i++) y[i] = (float)(i % K);
    cl_mem dx = NULL, dy = NULL, dl = NULL;
    ck_assert(clgrad_buf_new(ctx, B * F, "x", &dx) == CLGRAD_OK && clgrad_buf_write(ctx, dx, 0, B * F, x) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(ctx, B, "y", &dy) == CLGRAD_OK && clgrad_buf_write(ctx, dy, 0, B, y) == CLGRAD_OK);
    ck_assert(clgrad_buf_new(ctx, B * K, "dl", &dl) == CLGRAD_OK);
    size_t np = clgrad_model_nparams(m);
    clgrad_sharp_cfg cfg = {20, 1e-4, 1e-3, 5};
    clgrad_sharp *sh = NULL;
    ck_assert(clgrad_sharp_new(ctx, np, &cfg, &sh) == CLGRAD_OK);
    clgrad_sharp_result res;
    ck_assert_msg(clgrad_sharp_estimate(ctx, sh, m, CLGRAD_LOSS_CE, dx, dy, B, K, dl, 0, &res) == CLGRAD_OK, "%s",
                  clgrad_errmsg(ctx));
    *value = (float)res.value;
    ck_assert(np <= 512);
    ck_assert(clgrad_buf_read(ctx, clgrad_model_params(m), 0, np, params_after) == CLGRAD_OK);
    *np_out = np;
    clgrad_sharp_free(&sh);
    clgrad_buf_free(&dx), clgrad_buf_free(&dy), clgrad_buf_free(&dl);
    clgrad_model_free(m);
}

START_TEST(wg_bits)
{
    float ref, v, pref[512], p[512];
    size_t np, np2;
    mlp_estimate_(fixture_ctx(), &ref, pref, &np);
    fprintf(stderr, "tanh MLP CE sharpness %.9g (WG %zu)\n", (double)ref, clgrad_wg(fixture_ctx()));
    ck_assert(isfinite(ref) && ref > 0);
    int compared = 0;
    for (int w = 0; w < fixture_nwgs; w++) {
        clgrad_ctx *c = fixture_open_wg("matmul.cl,activation.cl,loss.cl,reduce.cl,init.cl,model.cl,sharpness.cl",
                                        fixture_wgs[w]);
        if (!c) continue;
        mlp_estimate_(c, &v, p, &np2);
        ck_assert_msg(memcmp(&v, &ref, sizeof v) == 0, "WG %zu: %a vs %a", fixture_wgs[w], (double)v, (double)ref);
        ck_assert(np2 == np && memcmp(p, pref, np * sizeof *p) == 0);
        compared++;
        clgrad_ctx_free(c);
    }
    fprintf(stderr, "  bit-identical on %d other work-group sizes\n", compared);
}
END_TEST

START_TEST(limits)
{
    clgrad_optim_cfg sgd = clgrad_optim_defaults(CLGRAD_OPTIM_SGD), adam = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM),
                     rms = clgrad_optim_defaults(CLGRAD_OPTIM_RMSPROP);
    ck_assert(clgrad_sharp_limit(0.01) == 200.0);
    ck_assert(fabs(clgrad_sharp_precond_limit(&adam, 0.01) - 3800.0) < 1e-9); /* 38/lr at beta1 = 0.9 */
    ck_assert(fabs(clgrad_sharp_precond_limit(&rms, 0.01) - 200.0) < 1e-12);
    rms.momentum = 0.5;
    ck_assert(fabs(clgrad_sharp_precond_limit(&rms, 0.01) - 300.0) < 1e-12);
    ck_assert(isnan(clgrad_sharp_precond_limit(&sgd, 0.01)));
    ck_assert(!clgrad_sharp_has_precond(&sgd) && clgrad_sharp_has_precond(&adam) && clgrad_sharp_has_precond(&rms));
    clgrad_sharp *s = NULL;
    clgrad_sharp_cfg bad[] = {{0, 0, 1e-3, 1}, {5, -1, 1e-3, 1}, {5, 0, 0, 1}, {5, 0, NAN, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert(clgrad_sharp_new(fixture_ctx(), 10, &bad[i], &s) == CLGRAD_E_ARG);
        ck_assert(s == NULL);
    }
    clgrad_sharp_cfg ok = {5, 0, 1e-3, 1};
    FX_OK(clgrad_sharp_new(fixture_ctx(), 10, &ok, &s));
    ck_assert(clgrad_sharp_precond(fixture_ctx(), s, &sgd, 1, NULL) == CLGRAD_E_ARG);
    clgrad_sharp_free(&s);
    clgrad_sharp_free(&s); /* NULL-safe */
}
END_TEST

int main(void)
{
    fixture_open("matmul.cl,activation.cl,loss.cl,reduce.cl,init.cl,model.cl,sharpness.cl");
    Suite *s = suite_create("sharpness");
    TCase *tc = tcase_create("sharpness");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, linreg, 0, (int)(sizeof shapes_ / sizeof shapes_[0]));
    tcase_add_test(tc, semantics_vector);
    tcase_add_loop_test(tc, precond, 0, 3);
    tcase_add_test(tc, wg_bits);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
