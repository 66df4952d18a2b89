/*
** test_optim.c: the optimizers (SGD, RMSprop, Adam, AdamW) on the device and
** in the float64 host reference.
**
**   worked_*     every worked number of semantics.md (theta0 = 1, loss
**                theta^2/2 so g = theta, or zero loss so g = 0; three steps),
**                in the float64 reference and on the device;
**   random_*     20 steps of random gradients and a varying (scheduled) lr,
**                every optimizer option combination, n in fixture_sizes plus
**                4099 and 100003, device vs float64 reference;
**   gradstate_*  the fused clip + update: coef != 1 is bit-identical to
**                pre-scaled gradients; skip = 1 leaves params and state
**                bit-identical (and a skipped step changes nothing later);
**                NaN/Inf gradients propagate as in PyTorch; grads are never
**                written;
**   bounds       nothing past n parameters / S*n state floats is written;
**   determinism  the same run twice gives the same bits;
**   config       defaults, names, validation, state sizes, argument errors.
**
** Tolerances (u = 2^-24, the float32 unit roundoff):
**   - float64 reference vs the worked numbers: 1e-12 relative.  The numbers
**     are printed with 12 significant digits (or are exact), so their own
**     rounding is <= 5e-13 relative; the double computation adds ~1e-15.
**   - device vs the worked numbers: 32u (~1.9e-6) relative.  One step does
**     at most ~12 float operations (each <= u, sqrt and / <= 3 ulp where the
**     device lacks correctly rounded divide/sqrt) plus the rounding of each
**     hyper-parameter to float; the update is lr * O(1) against theta ~ 1,
**     so a step adds at most ~(1 + 12 lr|upd|/|theta|) u + a few u; three
**     steps stay below ~20u.  The closest pair of worked sequences differs by
**     ~5e-4, so the test still separates every variant.
**   - device vs reference after T random steps: absolute
**     (16 + 2T) u * S * T, S = max(1, max |theta| over elements and steps)
**     (the parameter scale; |lr * update| <= S here).  Each step adds ~16
**     roundings of quantities <= S; a rounding error in a state variable
**     (momentum buffer, m, v, grad_avg) is carried into later steps with a
**     factor <= 1 per step (mu, beta, alpha < 1) but can be re-counted in
**     each of the <= T following updates, hence the 2T.  Formula errors
**     (dampening, bias correction off by a step, eps placement with eps
**     1e-3, centered, nesterov) move theta by >= ~1e-3, far above it.
**     Runs with L2 decay and a normalised update keep g + wd*theta from
**     cancelling (see l2_align_): that cancellation is ill-conditioned in
**     any float32 implementation and no such bound can cover it.
**   Observed errors stay below 1/20 of these bounds over many seeds.
**
** Bit for bit (test `bitwise_host`): several steps of every kind and its
** state options against the host build of the same update source
** (cl/optim_fn.cl), with the launcher's float scalars, scheduled learning
** rates, the gradient-state COEF and SKIP, and zero, denormal, huge and
** non-finite gradients.
*/
#include "fixture.h"

/* The host scalar build of the kernels' per-parameter updates: the device
** must give exactly these bits (test `bitwise_host`). */
#include "../cl/optim_fn.cl"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_ 0x1.0p-24

/* ---- worked numbers (semantics.md) ---- */

typedef struct {
    const char *what;
    clgrad_optim_kind kind;
    double lr, wd, momentum, dampening;
    int nesterov, centered, zero_loss;
    double expect[3];
} worked_;

static const worked_ worked_cases_[] = {
    {"sgd lr .1", CLGRAD_OPTIM_SGD, 0.1, 0, 0, 0, 0, 0, 0, {0.9, 0.81, 0.729}},
    {"sgd momentum .9", CLGRAD_OPTIM_SGD, 0.1, 0, 0.9, 0, 0, 0, 0, {0.9, 0.72, 0.486}},
    {"sgd nesterov", CLGRAD_OPTIM_SGD, 0.1, 0, 0.9, 0, 1, 0, 0, {0.81, 0.5751, 0.327321}},
    {"sgd momentum .9 dampening .1", CLGRAD_OPTIM_SGD, 0.1, 0, 0.9, 0.1, 0, 0, 0, {0.9, 0.729, 0.50949}},
    {"sgd weight decay .1 zero loss", CLGRAD_OPTIM_SGD, 0.1, 0.1, 0, 0, 0, 0, 1, {0.99, 0.9801, 0.970299}},
    {"rmsprop defaults", CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0, 0, 0, 0, 0,
     {0.90000001, 0.832917975265, 0.779982281982}},
    {"rmsprop centered", CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0, 0, 0, 1, 0,
     {0.899496228575, 0.831759387103, 0.778068419631}},
    {"rmsprop momentum .9", CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0.9, 0, 0, 0, 0,
     {0.90000001, 0.742917984265, 0.552914953234}},
    {"adam defaults", CLGRAD_OPTIM_ADAM, 1e-3, 0, 0, 0, 0, 0, 0, {0.99900000001, 0.998000026224, 0.99700009608}},
    {"adam L2 .01 zero loss", CLGRAD_OPTIM_ADAM, 1e-3, 0.01, 0, 0, 0, 0, 1,
     {0.999000001, 0.998000028204, 0.997000099051}},
    {"adamw lr 1e-3 wd .01 zero loss", CLGRAD_OPTIM_ADAMW, 1e-3, 0.01, 0, 0, 0, 0, 1,
     {0.99999, 0.9999800001, 0.9999700003}},
    {"adamw lr .1 wd .1", CLGRAD_OPTIM_ADAMW, 0.1, 0.1, 0, 0, 0, 0, 0,
     {0.890000001, 0.781571856954, 0.675101223189}},
};
#define NWORKED_ ((int)(sizeof worked_cases_ / sizeof worked_cases_[0]))

static clgrad_optim_cfg worked_cfg_(const worked_ *w)
{
    clgrad_optim_cfg c = clgrad_optim_defaults(w->kind);
    c.lr = w->lr;
    c.weight_decay = w->wd;
    c.momentum = w->momentum;
    c.dampening = w->dampening;
    c.nesterov = w->nesterov;
    c.centered = w->centered;
    ck_assert_msg(clgrad_optim_invalid(&c) == NULL, "%s: %s", w->what, clgrad_optim_invalid(&c));
    return c;
}

START_TEST(worked_reference)
{
    const worked_ *w = &worked_cases_[_i];
    clgrad_optim_cfg c = worked_cfg_(w);
    double p = 1.0, g, s[3] = {0, 0, 0};
    ck_assert(clgrad_optim_state_floats(&c) <= 3);
    for (int t = 1; t <= 3; t++) {
        g = w->zero_loss ? 0.0 : p;
        clgrad_optim_ref_step(&c, t, c.lr, &p, &g, s, 1, NULL);
        double err = fabs(p - w->expect[t - 1]);
        ck_assert_msg(err <= 1e-12 * fabs(w->expect[t - 1]), "reference %s step %d: %.15g, expected %.15g (err %.3g)",
                      w->what, t, p, w->expect[t - 1], err);
    }
}
END_TEST

START_TEST(worked_device)
{
    const worked_ *w = &worked_cases_[_i];
    clgrad_optim_cfg c = worked_cfg_(w);
    clgrad_ctx *ctx = fixture_ctx();
    enum { N = 257 }; /* the same scalar problem in every element: also a partial work-group */
    size_t ns = clgrad_optim_state_floats(&c);
    float p[N], g[N];
    for (int i = 0; i < N; i++) p[i] = 1.0f;
    cl_mem dp = fixture_upload(p, N, "params"), dg = NULL, ds = NULL;
    FX_OK(clgrad_buf_new(ctx, N, "grads", &dg));
    if (ns) {
        FX_OK(clgrad_buf_new(ctx, ns * N, "state", &ds));
        FX_OK(clgrad_buf_fill(ctx, ds, 0, ns * N, 0.0f));
    }
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < N; i++) g[i] = w->zero_loss ? 0.0f : p[i];
        FX_OK(clgrad_buf_write(ctx, dg, 0, N, g));
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, dp, dg, ds, N, NULL, 0));
        fixture_download(dp, p, N);
        double e = w->expect[t - 1], tol = 32 * U_ * fabs(e);
        for (int i = 0; i < N; i++)
            ck_assert_msg(fabs(p[i] - e) <= tol, "device %s step %d [%d]: %.9g, expected %.12g (err %.3g, tol %.3g)",
                          w->what, t, i, (double)p[i], e, fabs(p[i] - e), tol);
    }
    clgrad_buf_free(&dp), clgrad_buf_free(&dg), clgrad_buf_free(&ds);
}
END_TEST

/* ---- random multi-step runs ---- */

typedef struct {
    clgrad_optim_kind kind;
    double lr, wd, momentum, dampening, eps;
    int nesterov, centered, amsgrad;
    double gscale; /* gradient magnitudes up to gscale */
} rcase_;

static const rcase_ random_cases_[] = {
    {CLGRAD_OPTIM_SGD, 0.05, 0, 0, 0, 0, 0, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.05, 0.1, 0, 0, 0, 0, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.01, 0, 0.9, 0, 0, 0, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.01, 0, 0.9, 0.3, 0, 0, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.01, 0, 0.9, 0, 0, 1, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.01, 0.05, 0.7, 0, 0, 1, 0, 0, 1},
    {CLGRAD_OPTIM_SGD, 0.01, 0.05, 0.5, 0.5, 0, 0, 0, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0.1, 0, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0, 0, 1e-8, 0, 1, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0.9, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0.05, 0.5, 0, 1e-8, 0, 1, 0, 1},
    {CLGRAD_OPTIM_RMSPROP, 1e-2, 0, 0, 0, 1e-3, 0, 0, 0, 1e-3},
    {CLGRAD_OPTIM_ADAM, 1e-2, 0, 0, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_ADAM, 1e-2, 0.1, 0, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_ADAM, 1e-2, 0, 0, 0, 1e-8, 0, 0, 1, 1},
    {CLGRAD_OPTIM_ADAM, 1e-2, 0.1, 0, 0, 1e-8, 0, 0, 1, 1},
    {CLGRAD_OPTIM_ADAM, 1e-2, 0, 0, 0, 1e-3, 0, 0, 1, 1e-3},
    {CLGRAD_OPTIM_ADAMW, 1e-2, 1e-2, 0, 0, 1e-8, 0, 0, 0, 1},
    {CLGRAD_OPTIM_ADAMW, 1e-2, 0.5, 0, 0, 1e-8, 0, 0, 1, 1},
    {CLGRAD_OPTIM_ADAMW, 1e-2, 0.1, 0, 0, 1e-3, 0, 0, 0, 1e-3},
};
#define NRANDOM_ ((int)(sizeof random_cases_ / sizeof random_cases_[0]))

static clgrad_optim_cfg rcfg_(const rcase_ *r)
{
    clgrad_optim_cfg c = clgrad_optim_defaults(r->kind);
    c.lr = r->lr, c.weight_decay = r->wd, c.momentum = r->momentum, c.dampening = r->dampening;
    c.nesterov = r->nesterov, c.centered = r->centered, c.amsgrad = r->amsgrad;
    if (r->eps > 0) c.eps = r->eps;
    ck_assert_msg(clgrad_optim_invalid(&c) == NULL, "%s", clgrad_optim_invalid(&c));
    return c;
}

static void rdesc_(char *buf, size_t cap, const clgrad_optim_cfg *c, size_t n)
{
    snprintf(buf, cap, "%s lr=%g wd=%g mom=%g damp=%g nesterov=%d centered=%d amsgrad=%d eps=%g n=%zu",
             clgrad_optim_name(c->kind), c->lr, c->weight_decay, c->momentum, c->dampening, c->nesterov, c->centered,
             c->amsgrad, c->eps, n);
}

/* The scheduled learning rate of step t (a linear decay, so the override is exercised). */
static double sched_lr_(double lr, int t) { return lr * (1.0 - 0.02 * (t - 1)); }

/* Device state of one run: params, grads, state buffers and host mirrors. */
typedef struct {
    size_t n, ns;
    cl_mem p, g, s;
    float *hp, *hg, *hs;
    double *rp, *rg, *rs;
} run_;

static void run_init_(run_ *r, const clgrad_optim_cfg *c, size_t n, clgrad_testrng *rng)
{
    clgrad_ctx *ctx = fixture_ctx();
    memset(r, 0, sizeof *r);
    r->n = n, r->ns = clgrad_optim_state_floats(c);
    size_t nst = r->ns * n;
    r->hp = malloc(n * sizeof *r->hp), r->hg = malloc(n * sizeof *r->hg), r->hs = malloc((nst + 1) * sizeof *r->hs);
    r->rp = malloc(n * sizeof *r->rp), r->rg = malloc(n * sizeof *r->rg), r->rs = calloc(nst + 1, sizeof *r->rs);
    ck_assert(r->hp && r->hg && r->hs && r->rp && r->rg && r->rs);
    for (size_t i = 0; i < n; i++) r->hp[i] = clgrad_testrng_uniform(rng, -1, 1), r->rp[i] = r->hp[i];
    r->p = fixture_upload(r->hp, n, "params");
    FX_OK(clgrad_buf_new(ctx, n, "grads", &r->g));
    if (nst) {
        FX_OK(clgrad_buf_new(ctx, nst, "state", &r->s));
        FX_OK(clgrad_buf_fill(ctx, r->s, 0, nst, 0.0f));
    }
}

static void run_free_(run_ *r)
{
    clgrad_buf_free(&r->p), clgrad_buf_free(&r->g), clgrad_buf_free(&r->s);
    free(r->hp), free(r->hg), free(r->hs), free(r->rp), free(r->rg), free(r->rs);
}

/* Random gradients: uniform in (-1, 1) times a per-step magnitude in
** [gscale/1000, gscale], so elements see both large and small gradients.
** With `align` (the reference parameters) each gradient takes the sign of
** its parameter: see l2_align_. */
static void random_grads_(run_ *r, double gscale, clgrad_testrng *rng, const double *align)
{
    for (size_t i = 0; i < r->n; i++) {
        double mag = gscale * pow(10.0, clgrad_testrng_uniform(rng, -3, 0));
        double x = mag * clgrad_testrng_uniform(rng, -1, 1);
        if (align) x = align[i] < 0 ? -fabs(x) : fabs(x);
        r->hg[i] = (float)x;
        r->rg[i] = r->hg[i];
    }
}

/* With coupled (L2) weight decay, d = g + wd*theta cancels when g ~ -wd*theta,
** and RMSprop / Adam normalise d (d / (sqrt(v) + eps)), so the float32 update
** then carries the relative error u*|wd*theta|/|d| of that sum at full step
** size lr -- an ill-conditioning of the algorithm (PyTorch in float32 has it
** as well), not of the kernel, and no parameter-scale tolerance covers it.
** Those runs therefore draw g with theta's sign, so |d| >= |g| and every
** operation stays well conditioned.  (SGD does not normalise: the same
** cancellation costs only lr*u*|wd*theta| absolute; AdamW's decay is
** decoupled.  Both are left unaligned.) */
static const double *l2_align_(const clgrad_optim_cfg *c, const double *ref_params)
{
    int normalised = c->kind == CLGRAD_OPTIM_RMSPROP || c->kind == CLGRAD_OPTIM_ADAM;
    return normalised && c->weight_decay != 0.0 ? ref_params : NULL;
}

static double max_abs_(const double *x, size_t n, double m)
{
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

/* T steps device vs reference; returns the mismatch count. */
static size_t random_run_(const clgrad_optim_cfg *c, size_t n, int T, double gscale, uint64_t salt)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng rng = fixture_rng(salt);
    run_ r;
    run_init_(&r, c, n, &rng);
    double S = max_abs_(r.rp, n, 1.0), Ss[3] = {0, 0, 0};
    ck_assert(r.ns <= 3);
    for (int t = 1; t <= T; t++) {
        random_grads_(&r, gscale, &rng, l2_align_(c, r.rp));
        FX_OK(clgrad_buf_write(ctx, r.g, 0, n, r.hg));
        double lr = sched_lr_(c->lr, t);
        FX_OK(clgrad_optim_step(ctx, c, t, lr, r.p, r.g, r.s, n, NULL, 0));
        clgrad_optim_ref_step(c, t, lr, r.rp, r.rg, r.rs, n, NULL);
        S = max_abs_(r.rp, n, S);
        for (size_t k = 0; k < r.ns; k++) Ss[k] = max_abs_(r.rs + k * n, n, Ss[k]);
    }
    fixture_download(r.p, r.hp, n);
    double tol = (16.0 + 2.0 * T) * U_ * S * T;
    char what[256];
    rdesc_(what, sizeof what, c, n);
    size_t bad = fixture_check(what, r.hp, r.rp, n, tol, 0.0);
    /* the state too, slot by slot, each at its own scale: the largest value
    ** the slot held over the run (same argument) */
    if (r.ns) {
        FX_OK(clgrad_buf_read(ctx, r.s, 0, r.ns * n, r.hs));
        for (size_t k = 0; k < r.ns; k++) {
            char w2[300];
            snprintf(w2, sizeof w2, "%s (state slot %zu)", what, k);
            bad += fixture_check(w2, r.hs + k * n, r.rs + k * n, n, (16.0 + 2.0 * T) * U_ * Ss[k] * T, 0.0);
        }
    }
    run_free_(&r);
    return bad;
}

START_TEST(random_sizes)
{
    clgrad_optim_cfg c = rcfg_(&random_cases_[_i]);
    static const size_t extra[] = {4099, 100003};
    for (int k = 0; k < fixture_nsizes + 2; k++) {
        size_t n = k < fixture_nsizes ? fixture_sizes[k] : extra[k - fixture_nsizes];
        size_t bad = random_run_(&c, n, 20, random_cases_[_i].gscale, (uint64_t)_i * 131 + n);
        ck_assert_msg(bad == 0, "random case %d n=%zu: %zu mismatches", _i, n, bad);
    }
}
END_TEST

/* ---- gradient-state block ---- */

/* A gradient-state buffer holding a block at offset `off`, with NaN in every
** slot the optimizer must not read. */
static cl_mem gs_new_(size_t off, float coef, float skip)
{
    float b[CLGRAD_GS_SIZE + 16];
    size_t tot = off + CLGRAD_GS_SIZE + 3;
    ck_assert(tot <= sizeof b / sizeof b[0]);
    for (size_t i = 0; i < tot; i++) b[i] = NAN;
    b[off + CLGRAD_GS_COEF] = coef;
    b[off + CLGRAD_GS_SKIP] = skip;
    return fixture_upload(b, tot, "gradstate");
}

/* Every kind with its state-heavy options. */
static clgrad_optim_cfg gs_cfg_(int k)
{
    clgrad_optim_cfg c = clgrad_optim_defaults((clgrad_optim_kind)(k % CLGRAD_OPTIM_ELEMENTWISE));
    c.lr = 0.02;
    switch (c.kind) {
    case CLGRAD_OPTIM_SGD: c.momentum = 0.9, c.nesterov = 1, c.weight_decay = 0.01; break;
    case CLGRAD_OPTIM_RMSPROP: c.momentum = 0.5, c.centered = 1, c.weight_decay = 0.01; break;
    case CLGRAD_OPTIM_ADAM: c.amsgrad = 1, c.weight_decay = 0.01; break;
    default: c.amsgrad = 1; break;
    }
    return c;
}

/* g * coef through the block is bit-identical to pre-scaled gradients
** (clip_grad_norm_ stores fl(g * coef), and so does the kernel), and agrees
** with the reference given the same block. */
START_TEST(gradstate_coef)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_optim_cfg c = gs_cfg_(_i);
    size_t n = 257;
    clgrad_testrng rng = fixture_rng(7000 + (uint64_t)_i), rng2 = rng;
    run_ a, b;
    run_init_(&a, &c, n, &rng);
    run_init_(&b, &c, n, &rng2);
    double S = max_abs_(a.rp, n, 1.0);
    const int T = 6;
    for (int t = 1; t <= T; t++) {
        float coef = clgrad_testrng_uniform(&rng, 0.05f, 1.0f);
        (void)clgrad_testrng_uniform(&rng2, 0.05f, 1.0f);
        random_grads_(&a, 1.0, &rng, l2_align_(&c, a.rp));
        random_grads_(&b, 1.0, &rng2, l2_align_(&c, a.rp)); /* the same gradients */
        for (size_t i = 0; i < n; i++) b.hg[i] = b.hg[i] * coef; /* the clipped gradient, in float */
        FX_OK(clgrad_buf_write(ctx, a.g, 0, n, a.hg));
        FX_OK(clgrad_buf_write(ctx, b.g, 0, n, b.hg));
        cl_mem gs = gs_new_(5, coef, 0.0f);
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, a.p, a.g, a.s, n, gs, 5));
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, b.p, b.g, b.s, n, NULL, 0));
        clgrad_buf_free(&gs);
        double rgs[CLGRAD_GS_SIZE] = {0};
        rgs[CLGRAD_GS_COEF] = coef;
        clgrad_optim_ref_step(&c, t, c.lr, a.rp, a.rg, a.rs, n, rgs);
        S = max_abs_(a.rp, n, S);
    }
    fixture_download(a.p, a.hp, n);
    fixture_download(b.p, b.hp, n);
    ck_assert_msg(memcmp(a.hp, b.hp, n * sizeof(float)) == 0, "%s: coef via block != pre-scaled grads (params)",
                  clgrad_optim_name(c.kind));
    size_t nst = a.ns * n;
    FX_OK(clgrad_buf_read(ctx, a.s, 0, nst, a.hs));
    FX_OK(clgrad_buf_read(ctx, b.s, 0, nst, b.hs));
    ck_assert_msg(memcmp(a.hs, b.hs, nst * sizeof(float)) == 0, "%s: coef via block != pre-scaled grads (state)",
                  clgrad_optim_name(c.kind));
    /* the gradients themselves were never written */
    float *g = malloc(n * sizeof *g);
    ck_assert(g);
    fixture_download(a.g, g, n);
    ck_assert_msg(memcmp(g, a.hg, n * sizeof(float)) == 0, "gradients modified by the update");
    free(g);
    ck_assert(fixture_check("coef vs reference", a.hp, a.rp, n, (16.0 + 2.0 * T) * U_ * S * T, 0.0) == 0);
    run_free_(&a), run_free_(&b);
}
END_TEST

/* skip = 1: params and state keep their bits; a run with a skipped step (not
** counted in step_t) equals the run without it, bit for bit. */
START_TEST(gradstate_skip)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_optim_cfg c = gs_cfg_(_i);
    size_t n = 65;
    clgrad_testrng rng = fixture_rng(8000 + (uint64_t)_i), rng2 = rng;
    run_ a, b;
    run_init_(&a, &c, n, &rng);
    run_init_(&b, &c, n, &rng2);
    size_t nst = a.ns * n;
    float *p0 = malloc(n * sizeof *p0), *s0 = malloc((nst + 1) * sizeof *s0);
    ck_assert(p0 && s0);
    cl_mem go = gs_new_(0, 1.0f, 0.0f), skip = gs_new_(0, 0.5f, 1.0f);
    int t = 0;
    for (int k = 0; k < 5; k++) {
        random_grads_(&a, 1.0, &rng, l2_align_(&c, a.rp));
        random_grads_(&b, 1.0, &rng2, l2_align_(&c, a.rp)); /* the same gradients */
        FX_OK(clgrad_buf_write(ctx, a.g, 0, n, a.hg));
        FX_OK(clgrad_buf_write(ctx, b.g, 0, n, b.hg));
        if (k == 0 || k == 2) {
            /* skipped in run a (first step too: the momentum buffer must not be initialised) */
            fixture_download(a.p, p0, n);
            if (nst) FX_OK(clgrad_buf_read(ctx, a.s, 0, nst, s0));
            FX_OK(clgrad_optim_step(ctx, &c, t + 1, c.lr, a.p, a.g, a.s, n, skip, 0));
            fixture_download(a.p, a.hp, n);
            ck_assert_msg(memcmp(p0, a.hp, n * sizeof(float)) == 0, "%s: skip changed params",
                          clgrad_optim_name(c.kind));
            if (nst) {
                FX_OK(clgrad_buf_read(ctx, a.s, 0, nst, a.hs));
                ck_assert_msg(memcmp(s0, a.hs, nst * sizeof(float)) == 0, "%s: skip changed state",
                              clgrad_optim_name(c.kind));
            }
            /* the reference skips too */
            double rgs[CLGRAD_GS_SIZE] = {0};
            rgs[CLGRAD_GS_COEF] = 0.5, rgs[CLGRAD_GS_SKIP] = 1;
            double before = a.rp[0];
            clgrad_optim_ref_step(&c, t + 1, c.lr, a.rp, a.rg, a.rs, n, rgs);
            ck_assert(a.rp[0] == before);
            continue; /* not counted; run b never sees this gradient */
        }
        t++;
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, a.p, a.g, a.s, n, go, 0));
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, b.p, b.g, b.s, n, NULL, 0));
    }
    fixture_download(a.p, a.hp, n);
    fixture_download(b.p, b.hp, n);
    ck_assert_msg(memcmp(a.hp, b.hp, n * sizeof(float)) == 0, "%s: run with skipped steps differs",
                  clgrad_optim_name(c.kind));
    clgrad_buf_free(&go), clgrad_buf_free(&skip);
    free(p0), free(s0);
    run_free_(&a), run_free_(&b);
}
END_TEST

/* Non-finite gradients under "propagate": IEEE arithmetic as in PyTorch.
** Element 0: +Inf, 1: -Inf, 2: NaN, the rest finite; with coef 1, and with
** coef 0 (clip_grad_norm_ of an infinite total norm: finite grads -> 0,
** infinite ones -> NaN).  Device and reference must agree on every
** NaN / Inf, and a few outcomes are checked by hand:
**   sgd (plain)  +Inf -> theta = -Inf; -Inf -> +Inf; NaN -> NaN;
**                coef 0: finite grads leave theta unchanged, Inf -> NaN
**   rmsprop, adam(w)  Inf -> NaN (Inf/Inf), and the state is non-finite. */
START_TEST(gradstate_nonfinite)
{
    clgrad_ctx *ctx = fixture_ctx();
    int k = _i % CLGRAD_OPTIM_ELEMENTWISE, zero_coef = _i >= CLGRAD_OPTIM_ELEMENTWISE;
    clgrad_optim_cfg c = k == CLGRAD_OPTIM_SGD ? clgrad_optim_defaults(CLGRAD_OPTIM_SGD) : gs_cfg_(k);
    c.lr = 0.05;
    size_t n = 7;
    clgrad_testrng rng = fixture_rng(9000 + (uint64_t)_i);
    run_ r;
    run_init_(&r, &c, n, &rng);
    float p0[7];
    memcpy(p0, r.hp, sizeof p0);
    cl_mem gs = gs_new_(2, zero_coef ? 0.0f : 1.0f, 0.0f);
    double rgs[CLGRAD_GS_SIZE] = {0};
    rgs[CLGRAD_GS_COEF] = zero_coef ? 0.0 : 1.0;
    for (int t = 1; t <= 2; t++) {
        random_grads_(&r, 1.0, &rng, l2_align_(&c, r.rp));
        if (t == 1) r.hg[0] = INFINITY, r.hg[1] = -INFINITY, r.hg[2] = NAN;
        for (size_t i = 0; i < 3; i++) r.rg[i] = r.hg[i];
        FX_OK(clgrad_buf_write(ctx, r.g, 0, n, r.hg));
        FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, r.p, r.g, r.s, n, gs, 2));
        clgrad_optim_ref_step(&c, t, c.lr, r.rp, r.rg, r.rs, n, rgs);
    }
    fixture_download(r.p, r.hp, n);
    char what[64];
    snprintf(what, sizeof what, "%s non-finite coef=%d", clgrad_optim_name(c.kind), zero_coef ? 0 : 1);
    /* finite elements: two steps of the random-run bound, (16 + 4) * 2 u * S ~ 2.4e-6 S, S ~ 1 */
    ck_assert(fixture_check(what, r.hp, r.rp, n, 1e-5, 1e-5) == 0);
    for (size_t i = 3; i < n; i++) ck_assert(isfinite(r.hp[i]));
    if (c.kind == CLGRAD_OPTIM_SGD && !zero_coef) {
        ck_assert(isinf(r.hp[0]) && r.hp[0] < 0);
        ck_assert(isinf(r.hp[1]) && r.hp[1] > 0);
        ck_assert(isnan(r.hp[2]));
    } else if (c.kind == CLGRAD_OPTIM_SGD) {
        ck_assert(isnan(r.hp[0]) && isnan(r.hp[1]) && isnan(r.hp[2]));
        ck_assert(r.hp[3] == p0[3] && r.hp[6] == p0[6]); /* g * 0 = 0: theta unchanged */
    } else {
        ck_assert(isnan(r.hp[0]) && isnan(r.hp[1]) && isnan(r.hp[2]));
        FX_OK(clgrad_buf_read(ctx, r.s, 0, r.ns * n, r.hs));
        ck_assert(!isfinite(r.hs[0]) && isfinite(r.hs[3]));
    }
    clgrad_buf_free(&gs);
    run_free_(&r);
}
END_TEST

/* ---- bounds ---- */

/* Buffers larger than needed: nothing past n parameters (or past S*n state
** floats) is touched, at every awkward size (a work-group is rounded up). */
START_TEST(bounds)
{
    clgrad_ctx *ctx = fixture_ctx();
    enum { PAD = 300 };
    const float sentinel = 12345.0f;
    for (int k = 0; k < CLGRAD_OPTIM_ELEMENTWISE; k++) {
        clgrad_optim_cfg c = gs_cfg_(k);
        size_t n = fixture_sizes[_i], ns = clgrad_optim_state_floats(&c);
        size_t tot = ns * n + PAD; /* >= n + PAD */
        float *h = malloc(tot * sizeof *h);
        ck_assert(h);
        clgrad_testrng rng = fixture_rng(11000 + (uint64_t)_i);
        for (size_t i = 0; i < tot; i++) h[i] = i < n ? clgrad_testrng_uniform(&rng, -1, 1) : sentinel;
        cl_mem p = fixture_upload(h, n + PAD, "params"), g = fixture_upload(h, n + PAD, "grads"), s = NULL;
        for (size_t i = 0; i < tot; i++) h[i] = i < ns * n ? 0.0f : sentinel;
        s = fixture_upload(h, tot, "state");
        for (int t = 1; t <= 2; t++) FX_OK(clgrad_optim_step(ctx, &c, t, c.lr, p, g, s, n, NULL, 0));
        fixture_download(p, h, n + PAD);
        for (size_t i = n; i < n + PAD; i++)
            ck_assert_msg(h[i] == sentinel, "%s n=%zu: params[%zu] written", clgrad_optim_name(c.kind), n, i);
        fixture_download(g, h, n + PAD);
        for (size_t i = n; i < n + PAD; i++)
            ck_assert_msg(h[i] == sentinel, "%s n=%zu: grads[%zu] written", clgrad_optim_name(c.kind), n, i);
        fixture_download(s, h, tot);
        for (size_t i = ns * n; i < tot; i++)
            ck_assert_msg(h[i] == sentinel, "%s n=%zu: state[%zu] written", clgrad_optim_name(c.kind), n, i);
        clgrad_buf_free(&p), clgrad_buf_free(&g), clgrad_buf_free(&s);
        free(h);
    }
}
END_TEST

/* ---- determinism ---- */

START_TEST(determinism)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_optim_cfg c = gs_cfg_(_i);
    size_t n = 4099;
    float *out[2] = {NULL, NULL};
    for (int rep = 0; rep < 2; rep++) {
        clgrad_testrng rng = fixture_rng(10000 + (uint64_t)_i);
        run_ r;
        run_init_(&r, &c, n, &rng);
        for (int t = 1; t <= 8; t++) {
            random_grads_(&r, 1.0, &rng, NULL);
            FX_OK(clgrad_buf_write(ctx, r.g, 0, n, r.hg));
            FX_OK(clgrad_optim_step(ctx, &c, t, sched_lr_(c.lr, t), r.p, r.g, r.s, n, NULL, 0));
        }
        size_t nst = r.ns * n;
        out[rep] = malloc((n + nst) * sizeof(float));
        ck_assert(out[rep]);
        fixture_download(r.p, out[rep], n);
        if (nst) FX_OK(clgrad_buf_read(ctx, r.s, 0, nst, out[rep] + n));
        if (rep == 1)
            ck_assert_msg(memcmp(out[0], out[1], (n + nst) * sizeof(float)) == 0, "%s: two runs differ",
                          clgrad_optim_name(c.kind));
        run_free_(&r);
    }
    free(out[0]), free(out[1]);
}
END_TEST

/* ---- configuration and arguments ---- */

START_TEST(config)
{
    for (int k = 0; k < CLGRAD_OPTIM_COUNT; k++) {
        const char *nm = clgrad_optim_name((clgrad_optim_kind)k);
        ck_assert(nm != NULL);
        ck_assert_int_eq(clgrad_optim_parse(nm), k);
        clgrad_optim_cfg c = clgrad_optim_defaults((clgrad_optim_kind)k);
        ck_assert(clgrad_optim_invalid(&c) == NULL);
    }
    ck_assert_int_eq(clgrad_optim_parse("Adam"), -1);
    ck_assert_int_eq(clgrad_optim_parse("lbfgs"), -1);
    ck_assert_int_eq(clgrad_optim_parse(NULL), -1);
    ck_assert(clgrad_optim_name((clgrad_optim_kind)7) == NULL);

    clgrad_optim_cfg s = clgrad_optim_defaults(CLGRAD_OPTIM_SGD), r = clgrad_optim_defaults(CLGRAD_OPTIM_RMSPROP);
    clgrad_optim_cfg a = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM), w = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW);
    ck_assert(s.lr == 1e-3 && s.momentum == 0 && s.dampening == 0 && s.weight_decay == 0 && !s.nesterov);
    ck_assert(r.lr == 1e-2 && r.alpha == 0.99 && r.eps == 1e-8 && r.momentum == 0 && !r.centered);
    ck_assert(a.lr == 1e-3 && a.beta1 == 0.9 && a.beta2 == 0.999 && a.eps == 1e-8 && a.weight_decay == 0 && !a.amsgrad);
    ck_assert(w.lr == 1e-3 && w.weight_decay == 1e-2 && w.beta1 == 0.9 && w.beta2 == 0.999);

    ck_assert_uint_eq(clgrad_optim_state_floats(&s), 0);
    s.momentum = 0.9;
    ck_assert_uint_eq(clgrad_optim_state_floats(&s), 1);
    ck_assert_uint_eq(clgrad_optim_state_floats(&r), 1);
    r.centered = 1;
    ck_assert_uint_eq(clgrad_optim_state_floats(&r), 2);
    r.momentum = 0.5;
    ck_assert_uint_eq(clgrad_optim_state_floats(&r), 3);
    ck_assert_uint_eq(clgrad_optim_state_floats(&a), 2);
    w.amsgrad = 1;
    ck_assert_uint_eq(clgrad_optim_state_floats(&w), 3);

    clgrad_optim_cfg bad = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    bad.nesterov = 1;
    ck_assert(clgrad_optim_invalid(&bad) != NULL); /* nesterov without momentum */
    bad.momentum = 0.9, bad.dampening = 0.1;
    ck_assert(clgrad_optim_invalid(&bad) != NULL); /* nesterov with dampening */
    bad = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    bad.beta2 = 1.0;
    ck_assert(clgrad_optim_invalid(&bad) != NULL);
    bad = clgrad_optim_defaults(CLGRAD_OPTIM_RMSPROP);
    bad.eps = -1;
    ck_assert(clgrad_optim_invalid(&bad) != NULL);
    bad.eps = 1e-8, bad.lr = NAN;
    ck_assert(clgrad_optim_invalid(&bad) != NULL);
    bad = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW);
    bad.weight_decay = -0.1;
    ck_assert(clgrad_optim_invalid(&bad) != NULL);
    bad.kind = (clgrad_optim_kind)9;
    ck_assert(clgrad_optim_invalid(&bad) != NULL);
}
END_TEST

START_TEST(bad_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem m = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "m", &m));
    clgrad_optim_cfg c = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    ck_assert_int_eq(clgrad_optim_step(ctx, &c, 0, 1e-3, m, m, m, 4, NULL, 0), CLGRAD_E_ARG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "step_t") != NULL, "%s", clgrad_errmsg(ctx));
    ck_assert_int_eq(clgrad_optim_step(ctx, &c, 1, -1.0, m, m, m, 4, NULL, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_optim_step(ctx, &c, 1, 1e-3, m, m, NULL, 4, NULL, 0), CLGRAD_E_ARG);
    c.beta1 = 1.5;
    ck_assert_int_eq(clgrad_optim_step(ctx, &c, 1, 1e-3, m, m, m, 4, NULL, 0), CLGRAD_E_CONFIG);
    ck_assert_msg(strstr(clgrad_errmsg(ctx), "beta1") != NULL, "%s", clgrad_errmsg(ctx));
    /* plain SGD needs no state buffer; n = 0 is a no-op */
    clgrad_optim_cfg s = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    FX_OK(clgrad_optim_step(ctx, &s, 1, 0.1, m, m, NULL, 4, NULL, 0));
    FX_OK(clgrad_optim_step(ctx, &s, 1, 0.1, NULL, NULL, NULL, 0, NULL, 0));
    clgrad_buf_free(&m);
}
END_TEST

/* ---- bit for bit against the host build of cl/optim_fn.cl ---- */

/* The float scalars clgrad_optim_step passes (src/ops/optim.c's launchers:
** derived in double, rounded to float once), then the update of every
** parameter with the gradient g * COEF (the kernel's optim_grad_, one float
** product) and the state slots (S, n) the kernel reads and writes; nothing
** when SKIP != 0. */
static void hb_step_(const clgrad_optim_cfg *c, int64_t t, double lr, float *p, const float *g, float *s, size_t n,
                     int use_gs, float coef, float skip)
{
    if (use_gs && skip != 0.0f) return;
    for (size_t i = 0; i < n; i++) {
        float d = use_gs ? g[i] * coef : g[i], zero = 0.0f;
        switch (c->kind) {
        case CLGRAD_OPTIM_SGD: {
            float *b = c->momentum != 0.0 ? &s[i] : &zero;
            p[i] = optim_sgd_upd_(p[i], d, b, (float)lr, (float)c->weight_decay, (float)c->momentum,
                                  (float)(1.0 - c->dampening), c->nesterov ? 1 : 0, t == 1);
            break;
        }
        case CLGRAD_OPTIM_RMSPROP: {
            int mom = (float)c->momentum > 0.0f;
            float z1 = 0.0f, z2 = 0.0f;
            float *b = mom ? &s[n + i] : &z1, *ga = c->centered ? &s[(mom ? 2 : 1) * n + i] : &z2;
            p[i] = optim_rmsprop_upd_(p[i], d, &s[i], b, ga, (float)lr, (float)c->weight_decay, (float)c->alpha,
                                      (float)(1.0 - c->alpha), (float)c->eps, (float)c->momentum, c->centered ? 1 : 0);
            break;
        }
        default: {
            int dec = c->kind == CLGRAD_OPTIM_ADAMW;
            float *vmax = c->amsgrad ? &s[2 * n + i] : &zero;
            p[i] = optim_adam_upd_(p[i], d, &s[i], &s[n + i], vmax, dec ? 0.0f : (float)c->weight_decay, dec,
                                   dec ? (float)(1.0 - lr * c->weight_decay) : 1.0f, (float)c->beta1,
                                   (float)(1.0 - c->beta1), (float)c->beta2, (float)(1.0 - c->beta2),
                                   (float)(lr / (1.0 - pow(c->beta1, (double)t))),
                                   (float)sqrt(1.0 - pow(c->beta2, (double)t)), (float)c->eps, c->amsgrad ? 1 : 0);
            break;
        }
        }
    }
}

/* Awkward gradients: ±0, denormals, huge (their squares overflow), an
** occasional ±Inf / NaN, mixed magnitudes otherwise. */
static float hb_grad_(clgrad_testrng *r, int nonfinite)
{
    float u = clgrad_testrng_uniform(r, 0, 1), m = clgrad_testrng_uniform(r, -1, 1);
    if (u < 0.05f) return m < 0 ? -0.0f : 0.0f;
    if (u < 0.10f) return m * 0x1.0p-140f;
    if (u < 0.13f) return m * 1e25f;
    if (nonfinite && u < 0.14f) return m < -0.5f ? NAN : m < 0 ? -INFINITY : INFINITY;
    return m * ldexpf(1.0f, (int)clgrad_testrng_uniform(r, -30, 10));
}

static clgrad_optim_cfg hb_cfg_(int k)
{
    static const clgrad_optim_kind kinds[] = {CLGRAD_OPTIM_SGD, CLGRAD_OPTIM_SGD, CLGRAD_OPTIM_SGD, CLGRAD_OPTIM_SGD,
                                              CLGRAD_OPTIM_RMSPROP, CLGRAD_OPTIM_RMSPROP, CLGRAD_OPTIM_RMSPROP,
                                              CLGRAD_OPTIM_RMSPROP, CLGRAD_OPTIM_ADAM, CLGRAD_OPTIM_ADAM,
                                              CLGRAD_OPTIM_ADAMW, CLGRAD_OPTIM_ADAMW};
    clgrad_optim_cfg c = clgrad_optim_defaults(kinds[k]);
    c.lr = 0.03;
    switch (k) {
    case 0: break;                                                                      /* plain SGD */
    case 1: c.momentum = 0.9, c.dampening = 0.1, c.weight_decay = 0.01; break;          /* dampening */
    case 2: c.momentum = 0.85, c.nesterov = 1, c.weight_decay = 1e-3; break;            /* nesterov */
    case 3: c.momentum = 0.9, c.dampening = -0.5; break;                                /* odd dampening */
    case 4: break;                                                                      /* plain RMSprop */
    case 5: c.centered = 1; break;
    case 6: c.momentum = 0.5, c.weight_decay = 0.01; break;
    case 7: c.momentum = 0.7, c.centered = 1, c.alpha = 0.9, c.eps = 1e-6; break;
    case 8: c.weight_decay = 0.01; break;
    case 9: c.amsgrad = 1, c.beta1 = 0.8, c.beta2 = 0.95; break;
    case 10: break;
    default: c.amsgrad = 1, c.weight_decay = 0.1; break;
    }
    return c;
}
#define HB_NCFG 12

START_TEST(bitwise_host)
{
    clgrad_ctx *ctx = fixture_ctx();
    const clgrad_optim_cfg c = hb_cfg_(_i);
    static const size_t sizes[] = {1, 7, 9, 130, 1027};
    size_t bad = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si], ns = clgrad_optim_state_floats(&c), nst = ns * n;
        clgrad_testrng rng = fixture_rng(0xb17 + 100 * (uint64_t)_i + n);
        float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *st = calloc(nst + 1, sizeof *st);
        float *dp = malloc(n * sizeof *dp), *ds = malloc((nst + 1) * sizeof *ds);
        ck_assert(p && g && st && dp && ds);
        for (size_t i = 0; i < n; i++) p[i] = hb_grad_(&rng, 0);
        cl_mem mp = fixture_upload(p, n, "params"), mg = fixture_upload(p, n, "grads"), ms = fixture_upload(st, nst + 1, "state");
        for (int t = 1, step = 0; step < 7; step++) {
            /* step 2 is skipped (gradient state SKIP), steps 3 and 5 clipped (COEF) */
            const int use_gs = step >= 2, skip = step == 2;
            const float coef = step == 3 ? 0.3712f : step == 5 ? 0x1.fffffep-1f : 1.0f;
            const double lr = c.lr * (1.0 - 0.13 * (t - 1)); /* a decaying schedule */
            for (size_t i = 0; i < n; i++) g[i] = hb_grad_(&rng, step == 6);
            FX_OK(clgrad_buf_write(ctx, mg, 0, n, g));
            cl_mem gs = use_gs ? gs_new_(3, coef, skip ? 1.0f : 0.0f) : NULL;
            FX_OK(clgrad_optim_step(ctx, &c, t, lr, mp, mg, ns ? ms : NULL, n, gs, 3));
            if (gs) clgrad_buf_free(&gs);
            hb_step_(&c, t, lr, p, g, st, n, use_gs, coef, skip ? 1.0f : 0.0f);
            fixture_download(mp, dp, n);
            fixture_download(ms, ds, nst + 1);
            char what[96];
            snprintf(what, sizeof what, "%s cfg %d n=%zu step %d (t=%d) params", clgrad_optim_name(c.kind), _i, n, step, t);
            bad += fixture_check_bits(what, dp, p, n);
            snprintf(what, sizeof what, "%s cfg %d n=%zu step %d (t=%d) state", clgrad_optim_name(c.kind), _i, n, step, t);
            bad += fixture_check_bits(what, ds, st, nst + 1);
            if (!skip) t++;
        }
        clgrad_buf_free(&mp), clgrad_buf_free(&mg), clgrad_buf_free(&ms);
        free(p), free(g), free(st), free(dp), free(ds);
    }
    ck_assert_msg(bad == 0, "%s (cfg %d): %zu values differ from the host build of optim_fn.cl", clgrad_optim_name(c.kind), _i, bad);
}
END_TEST

/* ---- clgrad_optim_step_stats: a log step's update with its statistics in one pass ----
** Against the path it replaces (a copy to prev, clgrad_optim_step, clgrad_reduce_stats_pair): parameters,
** state, prev and both statistics blocks bit for bit, over segments of awkward lengths (empty, 1, a partial
** leaf, a chunk and one more element), through skipped, clipped and non-finite steps; with another
** reduction in the same launches (`also`) on even steps, against clgrad_reduce_stats. */
static const size_t ss_len_[] = {1, 3, 0, 5, 33, 16385, 64, 63, 16384, 200};
#define SS_NSEG (sizeof ss_len_ / sizeof ss_len_[0])

static size_t ss_run_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, int cfg)
{
    size_t off[SS_NSEG], n = 0, bad = 0;
    for (size_t k = 0; k < SS_NSEG; k++) off[k] = n, n += ss_len_[k];
    const size_t ns = clgrad_optim_state_floats(c), nst = ns * n + 1, R = 4 * (SS_NSEG + 1), nb = 2 * R + 8 + 20;
    clgrad_testrng rng = fixture_rng(0x55 + (uint64_t)cfg);
    float *h = malloc((nst > n ? nst : n) * sizeof *h), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    float *oa = malloc(nb * sizeof *oa), *ob = malloc(nb * sizeof *ob), *sa = malloc(nst * sizeof *sa),
          *sb = malloc(nst * sizeof *sb);
    ck_assert(h && a && b && oa && ob && sa && sb);
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, SS_NSEG, off, ss_len_, &segs));
    /* `also`: the statistics of the gradients at offset 2 over another table (4 segments), on even steps */
    static const size_t aoff[4] = {0, 7, 20007, 20007}, alen[4] = {7, 20000, 0, 129};
    clgrad_segs *segs2 = NULL;
    FX_OK(clgrad_segs_new(ctx, 4, aoff, alen, &segs2));
    cl_mem p[2], st[2], prev[2], out[2], g = NULL, gs = NULL;
    for (size_t i = 0; i < n; i++) h[i] = hb_grad_(&rng, 0);
    for (int k = 0; k < 2; k++) {
        FX_OK(clgrad_buf_new(ctx, n, "params", &p[k]));
        FX_OK(clgrad_buf_write(ctx, p[k], 0, n, h));
        FX_OK(clgrad_buf_new(ctx, nst, "state", &st[k]));
        FX_OK(clgrad_buf_fill(ctx, st[k], 0, nst, 0.0f));
        FX_OK(clgrad_buf_new(ctx, n, "prev", &prev[k]));
        FX_OK(clgrad_buf_new(ctx, nb, "out", &out[k]));
        FX_OK(clgrad_buf_fill(ctx, out[k], 0, nb, -7.0f));
    }
    FX_OK(clgrad_buf_new(ctx, n, "grads", &g));
    FX_OK(clgrad_buf_new(ctx, CLGRAD_GS_SIZE + 3, "gradstate", &gs));
    for (int t = 1, step = 0; step < 7; step++) {
        const int use_gs = step >= 2, skip = step == 2; /* as bitwise_host */
        const float coef = step == 3 ? 0.3712f : step == 5 ? 0x1.fffffep-1f : 1.0f, gsv[2] = {coef, skip ? 1.0f : 0.0f};
        const double lr = c->lr * (1.0 - 0.13 * (t - 1));
        for (size_t i = 0; i < n; i++) h[i] = hb_grad_(&rng, step == 6);
        FX_OK(clgrad_buf_write(ctx, g, 0, n, h));
        FX_OK(clgrad_buf_write(ctx, gs, 3 + CLGRAD_GS_COEF, 1, &gsv[0]));
        FX_OK(clgrad_buf_write(ctx, gs, 3 + CLGRAD_GS_SKIP, 1, &gsv[1]));
        cl_mem gsb = use_gs ? gs : NULL, s0 = ns ? st[0] : NULL, s1 = ns ? st[1] : NULL;
        FX_OK(clgrad_buf_copy(ctx, p[0], 0, prev[0], 0, n));
        FX_OK(clgrad_optim_step(ctx, c, t, lr, p[0], g, s0, n, gsb, 3));
        FX_OK(clgrad_reduce_stats_pair(ctx, p[0], prev[0], segs, out[0], R + 8, 0));
        const clgrad_reduce_job job = {g, 2, segs2, 2 * R + 8};
        if (step % 2 == 0) FX_OK(clgrad_reduce_stats(ctx, g, 2, segs2, out[0], 2 * R + 8));
        FX_OK(clgrad_optim_step_stats(ctx, c, t, lr, p[1], g, s1, n, gsb, 3, prev[1], segs, out[1], R + 8, 0,
                                      step % 2 == 0 ? &job : NULL));
        char what[96];
        const char *nm[] = {"params", "prev", "state", "statistics"};
        cl_mem *bufs[] = {p, prev, st, out};
        const size_t cnt[] = {n, n, nst, nb};
        for (int k = 0; k < 4; k++) {
            float *x = k == 2 ? sa : k == 3 ? oa : a, *y = k == 2 ? sb : k == 3 ? ob : b;
            FX_OK(clgrad_buf_read(ctx, bufs[k][0], 0, cnt[k], x));
            FX_OK(clgrad_buf_read(ctx, bufs[k][1], 0, cnt[k], y));
            snprintf(what, sizeof what, "%s cfg %d WG %zu step %d %s", clgrad_optim_name(c->kind), cfg,
                     clgrad_wg(ctx), step, nm[k]);
            bad += fixture_check_bits(what, y, x, cnt[k]);
        }
        if (!skip) t++;
    }
    for (int k = 0; k < 2; k++)
        clgrad_buf_free(&p[k]), clgrad_buf_free(&st[k]), clgrad_buf_free(&prev[k]), clgrad_buf_free(&out[k]);
    clgrad_buf_free(&g), clgrad_buf_free(&gs);
    clgrad_segs_free(&segs), clgrad_segs_free(&segs2);
    free(h), free(a), free(b), free(oa), free(ob), free(sa), free(sb);
    return bad;
}

START_TEST(step_stats)
{
    const clgrad_optim_cfg c = hb_cfg_(_i);
    size_t bad = ss_run_(fixture_ctx(), &c, _i);
    ck_assert_msg(bad == 0, "%s (cfg %d): %zu values of optim_step_stats differ", clgrad_optim_name(c.kind), _i, bad);
}
END_TEST

/* The same on contexts of other work-group sizes (a plain SGD with momentum, Adam with amsgrad). */
START_TEST(step_stats_wg)
{
    size_t bad = 0;
    for (int w = 0; w < fixture_nwgs; w++) {
        clgrad_ctx *ctx = fixture_open_wg("reduce.cl,optim.cl", fixture_wgs[w]);
        if (!ctx) continue;
        const int cfgs[] = {1, 9};
        for (int k = 0; k < 2; k++) {
            const clgrad_optim_cfg c = hb_cfg_(cfgs[k]);
            bad += ss_run_(ctx, &c, cfgs[k]);
        }
        clgrad_ctx_free(ctx);
    }
    ck_assert_msg(bad == 0, "%zu values of optim_step_stats differ", bad);
}
END_TEST

/* Its refusals: LARS and LAMB, segments that do not cover the parameters. */
START_TEST(step_stats_args)
{
    clgrad_ctx *ctx = fixture_ctx();
    size_t off[2] = {0, 10}, len[2] = {10, 5};
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 2, off, len, &segs));
    cl_mem p = NULL, o = NULL;
    FX_OK(clgrad_buf_new(ctx, 16, "p", &p));
    FX_OK(clgrad_buf_new(ctx, 64, "o", &o));
    clgrad_optim_cfg c = clgrad_optim_defaults(CLGRAD_OPTIM_LAMB);
    ck_assert(clgrad_optim_step_stats(ctx, &c, 1, 0.1, p, p, p, 15, NULL, 0, p, segs, o, 0, 12, NULL) == CLGRAD_E_ARG);
    c = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    ck_assert(clgrad_optim_step_stats(ctx, &c, 1, 0.1, p, p, NULL, 16, NULL, 0, p, segs, o, 0, 12, NULL) == CLGRAD_E_ARG);
    FX_OK(clgrad_optim_step_stats(ctx, &c, 1, 0.1, p, p, NULL, 15, NULL, 0, o, segs, o, 16, 28, NULL));
    clgrad_segs_free(&segs);
    clgrad_buf_free(&p), clgrad_buf_free(&o);
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, config);
    tcase_add_test(tc, bad_args);
    tcase_add_loop_test(tc, worked_reference, 0, NWORKED_);
    tcase_add_loop_test(tc, worked_device, 0, NWORKED_);
    tcase_add_loop_test(tc, random_sizes, 0, NRANDOM_);
    tcase_add_loop_test(tc, gradstate_coef, 0, CLGRAD_OPTIM_ELEMENTWISE);
    tcase_add_loop_test(tc, gradstate_skip, 0, CLGRAD_OPTIM_ELEMENTWISE);
    tcase_add_loop_test(tc, gradstate_nonfinite, 0, 2 * CLGRAD_OPTIM_ELEMENTWISE);
    tcase_add_loop_test(tc, bounds, 0, fixture_nsizes);
    tcase_add_loop_test(tc, determinism, 0, CLGRAD_OPTIM_ELEMENTWISE);
    tcase_add_loop_test(tc, bitwise_host, 0, HB_NCFG);
    tcase_add_loop_test(tc, step_stats, 0, HB_NCFG);
    tcase_add_test(tc, step_stats_wg);
    tcase_add_test(tc, step_stats_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("optim.cl,reduce.cl");
    return fixture_run(suite_(), 1);
}
