/*
** test_optim_layers.c: the layer-wise optimizers LARS and LAMB
** (clgrad_optim_step_layers, include/clgrad/optim.h).
**
**   reference    6 steps with a scheduled lr on 7 tensors of awkward sizes
**                (1, 13 (a bias), 33 zeros, an empty one, 91, 130, 16385:
**                one past a reduction chunk), each with its own weight and
**                gradient scale, so the trust ratios differ; six configs:
**                LARS / LAMB with weight decay on and off, biases excluded
**                or not, trust clipping active (asserted: some ratio is
**                clipped, some is not).  Device parameters and trust ratios
**                vs the float64 reference (clgrad_optim_ref_step_layers, the
**                papers' rules in double).
**   bitwise_host the same runs against a host float32 replica: the
**                per-element code of cl/optim_fn.cl compiled here, the norms
**                from clgrad_reduce_stats_replica (the fixed reduction
**                order of cl/reduce.cl): bit for bit.
**   wg           every work-group size of fixture_wgs: bit-identical
**                parameters, state and ratios.
**   gradstate    COEF gives the bits of pre-scaled gradients; SKIP changes
**                no parameter, state or ratio.
**   edge         zero weights -> ratio 1 (and the paper's step g * lr);
**                zero gradient -> ratio 1; an excluded tensor -> ratio 1
**                and no weight decay.
**   args         argument and configuration errors; a bad trust
**                coefficient in a file gives file:line: [optim] key.
**
** Tolerance (u = 2^-24) of device vs float64: absolute
** (64 + 4T) u * S * T after T steps, S = max(1, max |theta| of the tensor
** over the steps).  Per step the
** device rounds ~16 operations on quantities <= S (the update is at most
** ~S/2 here; S per tensor), and the trust ratio carries the relative error of two float32
** norms (a fixed tree: <= ~log2(n) + 8 roundings, n <= 16385) and its own
** 3 roundings: <= ~30u relative, on an update <= S: ~30u S more; state
** errors (momentum buffer, m, v) can be re-counted in the <= T later steps
** (the 4T).  A formula error (eta missing, decay outside the ratio, no bias
** correction, ratio not clipped, bias not excluded) moves theta by >= 1e-4 S,
** above the bound (3.1e-5 S at T = 6; the trust ratios themselves are checked
** to 64u relative, which catches a 1e-4 relative change).  Observed errors stay far
** below: < 1/100 of it (printed per config).
*/
#include "fixture.h"

/* The host scalar build of the kernels' per-element code. */
#include "../cl/optim_fn.cl"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_ 0x1.0p-24
#define NT_ 7
#define STEPS_ 6

static const size_t lens_[NT_] = {91, 13, 1, 33, 0, 16385, 130};
static const int bias_[NT_] = {0, 1, 0, 0, 0, 0, 0};
static const float wscale_[NT_] = {1.0f, 0.5f, 2.0f, 0.0f, 1.0f, 0.7f, 3.0f};
static const float gscale_[NT_] = {1.0f, 0.3f, 5.0f, 1.0f, 1.0f, 0.05f, 0.4f};

typedef struct {
    size_t off[NT_], n;
    unsigned char mask[NT_];
} layout_;

static void layout_init_(layout_ *L, int exclude)
{
    L->n = 0;
    for (int t = 0; t < NT_; t++) L->off[t] = L->n, L->n += lens_[t], L->mask[t] = exclude && bias_[t];
}

#define NCFG_ 6
static clgrad_optim_cfg cfg_(int k, int *exclude)
{
    clgrad_optim_cfg c = clgrad_optim_defaults(k < 3 ? CLGRAD_OPTIM_LARS : CLGRAD_OPTIM_LAMB);
    *exclude = 1;
    switch (k) {
    case 0: c.lr = 40; break;                                                  /* LARS, the paper's defaults */
    case 1: c.lr = 40, c.weight_decay = 0, c.momentum = 0, *exclude = 0; break; /* no decay, no momentum */
    case 2: c.lr = 40, c.weight_decay = 0.01, c.trust_clip = 2e-3; break;      /* clipping active */
    case 3: c.lr = 0.02; break;                                                /* LAMB, the paper's defaults */
    case 4: c.lr = 0.02, c.weight_decay = 0, *exclude = 0; break;
    default: c.lr = 0.02, c.weight_decay = 0.1, c.trust_clip = 1.0, c.beta1 = 0.8, c.beta2 = 0.95; break;
    }
    return c;
}

static double lr_at_(const clgrad_optim_cfg *c, int t) { return c->lr * (1.0 - 0.1 * (t - 1)); }

/* The random inputs of config k: theta0 and STEPS_ gradient vectors. */
static void inputs_(int k, const layout_ *L, float *p, float *g)
{
    clgrad_testrng rng = fixture_rng(0x1a25 + 31 * (uint64_t)k);
    for (int t = 0; t < NT_; t++)
        for (size_t i = 0; i < lens_[t]; i++) p[L->off[t] + i] = wscale_[t] * clgrad_testrng_uniform(&rng, -1, 1);
    for (int s = 0; s < STEPS_; s++)
        for (int t = 0; t < NT_; t++)
            for (size_t i = 0; i < lens_[t]; i++)
                g[s * L->n + L->off[t] + i] = gscale_[t] * clgrad_testrng_uniform(&rng, -1, 1);
}

/* The device run: STEPS_ steps; returns params, state, ratios of every step
** (ratios: STEPS_ * NT_). */
typedef struct {
    float *p, *s, ratio[STEPS_][NT_];
} devout_;

static void dev_run_(clgrad_ctx *ctx, const clgrad_optim_cfg *c, const layout_ *L, const float *p0, const float *g,
                     devout_ *o, float gcoef, int skip_step)
{
    size_t n = L->n, ns = clgrad_optim_state_floats(c), W = CLGRAD_OPTIM_LAYERS_WORK(NT_) + 3;
    clgrad_segs *segs = NULL;
    cl_mem mp = NULL, mg = NULL, ms = NULL, mw = NULL, mgs = NULL;
    FX_OK(clgrad_segs_new(ctx, NT_, L->off, lens_, &segs));
    FX_OK(clgrad_buf_new(ctx, n, "params", &mp));
    FX_OK(clgrad_buf_new(ctx, n, "grads", &mg));
    FX_OK(clgrad_buf_new(ctx, ns * n, "state", &ms));
    FX_OK(clgrad_buf_new(ctx, W, "work", &mw));
    FX_OK(clgrad_buf_write(ctx, mp, 0, n, p0));
    FX_OK(clgrad_buf_fill(ctx, ms, 0, ns * n, 0.0f));
    FX_OK(clgrad_buf_fill(ctx, mw, 0, W, 0.0f));
    float mask[NT_];
    for (int t = 0; t < NT_; t++) mask[t] = L->mask[t] ? 1.0f : 0.0f;
    FX_OK(clgrad_buf_write(ctx, mw, 3, NT_, mask)); /* work area at offset 3 */
    float gsb[CLGRAD_GS_SIZE + 2] = {0};
    int use_gs = gcoef != 1.0f || skip_step > 0;
    if (use_gs) FX_OK(clgrad_buf_new(ctx, CLGRAD_GS_SIZE + 2, "gradstate", &mgs));
    for (int s = 0, t = 1; s < STEPS_; s++) {
        FX_OK(clgrad_buf_write(ctx, mg, 0, n, g + s * n));
        if (use_gs) {
            gsb[2 + CLGRAD_GS_COEF] = gcoef;
            gsb[2 + CLGRAD_GS_SKIP] = s + 1 == skip_step ? 1.0f : 0.0f;
            FX_OK(clgrad_buf_write(ctx, mgs, 0, CLGRAD_GS_SIZE + 2, gsb));
        }
        FX_OK(clgrad_optim_step_layers(ctx, c, t, lr_at_(c, t), mp, mg, ms, n, mgs, 2, segs, mw, 3));
        FX_OK(clgrad_buf_read(ctx, mw, 3 + NT_, NT_, o->ratio[s]));
        if (s + 1 != skip_step) t++;
    }
    FX_OK(clgrad_buf_read(ctx, mp, 0, n, o->p));
    FX_OK(clgrad_buf_read(ctx, ms, 0, ns * n, o->s));
    clgrad_buf_free(&mp), clgrad_buf_free(&mg), clgrad_buf_free(&ms), clgrad_buf_free(&mw), clgrad_buf_free(&mgs);
    clgrad_segs_free(&segs);
}

static void devout_new_(devout_ *o, const clgrad_optim_cfg *c, size_t n)
{
    o->p = malloc(n * sizeof *o->p);
    o->s = malloc((clgrad_optim_state_floats(c) * n + 1) * sizeof *o->s);
    ck_assert(o->p && o->s);
}

static void devout_free_(devout_ *o) { free(o->p), free(o->s); }

/* ---- device vs float64 reference ---- */

START_TEST(reference)
{
    int excl;
    const clgrad_optim_cfg c = cfg_(_i, &excl);
    layout_ L;
    layout_init_(&L, excl);
    size_t n = L.n, ns = clgrad_optim_state_floats(&c);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(STEPS_ * n * sizeof *g);
    double *rp = malloc(n * sizeof *rp), *rg = malloc(n * sizeof *rg), *rs = calloc(ns * n, sizeof *rs);
    ck_assert(p0 && g && rp && rg && rs);
    inputs_(_i, &L, p0, g);
    devout_ o;
    devout_new_(&o, &c, n);
    dev_run_(fixture_ctx(), &c, &L, p0, g, &o, 1.0f, 0);
    /* S per tensor: max(1, max |theta| of the tensor over the steps) (the zero tensor's first step, with
    ** ratio 1 at LARS's large lr, makes it far larger than the others') */
    double Sk[NT_], rratio[STEPS_][NT_];
    for (int k = 0; k < NT_; k++) Sk[k] = 1;
    for (size_t i = 0; i < n; i++) rp[i] = p0[i];
    for (int s = 0; s < STEPS_; s++) {
        for (size_t i = 0; i < n; i++) rg[i] = g[s * n + i];
        clgrad_optim_ref_step_layers(&c, s + 1, lr_at_(&c, s + 1), rp, rg, rs, n, NULL, NT_, L.off, lens_, L.mask,
                                     rratio[s]);
        for (int k = 0; k < NT_; k++)
            for (size_t i = L.off[k]; i < L.off[k] + lens_[k]; i++) Sk[k] = fmax(Sk[k], fmax(fabs(rp[i]), fabs(p0[i])));
    }
    char what[128];
    snprintf(what, sizeof what, "%s cfg %d params after %d steps", clgrad_optim_name(c.kind), _i, STEPS_);
    double *tol = malloc(n * sizeof *tol), worst = 0;
    ck_assert(tol);
    for (int k = 0; k < NT_; k++)
        for (size_t i = L.off[k]; i < L.off[k] + lens_[k]; i++) {
            tol[i] = (64.0 + 4.0 * STEPS_) * STEPS_ * U_ * Sk[k];
            worst = fmax(worst, fabs(o.p[i] - rp[i]) / tol[i]);
        }
    size_t bad = fixture_check_tol(what, o.p, rp, tol, n);
    fprintf(stderr, "  %s: max |error| / tolerance %.3g\n", what, worst);
    free(tol);
    /* the ratios: 64u relative per step taken (two norms and three roundings
    ** of this step, on parameters and moments that already carry the earlier
    ** steps' float32 error, which the parameter bound above also lets grow with
    ** the steps: a flat 64u failed at step 4 by 4.1e-6 relative for
    ** CLGRAD_TEST_SEED=1796449637053599, LAMB cfg 3) */
    int clipped = 0, unclipped = 0;
    for (int s = 0; s < STEPS_; s++) {
        double rr[NT_];
        for (int t = 0; t < NT_; t++) {
            rr[t] = rratio[s][t];
            if (isfinite(c.trust_clip) && !L.mask[t] && lens_[t]) {
                if (rr[t] == c.trust_clip) clipped++;
                else if (rr[t] < c.trust_clip && rr[t] != 1.0) unclipped++;
            }
        }
        snprintf(what, sizeof what, "%s cfg %d trust ratios step %d", clgrad_optim_name(c.kind), _i, s + 1);
        bad += fixture_check(what, o.ratio[s], rr, NT_, 0, (64.0 + 4.0 * STEPS_) * (s + 1) * U_);
        /* the exact fallbacks: excluded, empty and (step 1) zero tensors have ratio 1 */
        for (int t = 0; t < NT_; t++)
            if (L.mask[t] || lens_[t] == 0 || (t == 3 && s == 0)) ck_assert(o.ratio[s][t] == 1.0f);
    }
    if (isfinite(c.trust_clip))
        ck_assert_msg(clipped > 0 && unclipped > 0, "cfg %d: trust clipping must be active for some tensors and not "
                      "others (clipped %d, unclipped %d)", _i, clipped, unclipped);
    ck_assert_msg(bad == 0, "%s cfg %d: %zu values off the float64 reference", clgrad_optim_name(c.kind), _i, bad);
    devout_free_(&o);
    free(p0), free(g), free(rp), free(rg), free(rs);
}
END_TEST

/* ---- bit for bit against the host float32 replica ---- */

static void host_step_(const clgrad_optim_cfg *c, int t, const layout_ *L, float *p, const float *g, float *st,
                       float gcoef, float *ratio)
{
    size_t n = L->n;
    int lamb = c->kind == CLGRAD_OPTIM_LAMB;
    const float wd = (float)c->weight_decay, b1 = (float)c->beta1, omb1 = (float)(1.0 - c->beta1);
    const float b2 = (float)c->beta2, omb2 = (float)(1.0 - c->beta2);
    const float bc1 = (float)(1.0 - pow(c->beta1, t)), bc2s = (float)sqrt(1.0 - pow(c->beta2, t));
    const float eps = (float)c->eps, lr = (float)lr_at_(c, t), mu = (float)c->momentum, clip = (float)c->trust_clip;
    const float coef = lamb ? 1.0f : (float)c->trust_coefficient, rwd = lamb ? 0.0f : wd;
    float *dir = st + (lamb ? 2 : 1) * n;
    for (int k = 0; k < NT_; k++)
        for (size_t i = L->off[k]; i < L->off[k] + lens_[k]; i++) {
            float d = g[i];
            if (gcoef != 1.0f) d = d * gcoef;
            if (!lamb) dir[i] = d;
            else dir[i] = optim_lamb_dir_(p[i], d, &st[i], &st[n + i], L->mask[k] ? 0.0f : wd, b1, omb1, b2, omb2, bc1,
                                          bc2s, eps);
        }
    float rw[CLGRAD_RS_SIZE * (NT_ + 1)], ru[CLGRAD_RS_SIZE * (NT_ + 1)];
    clgrad_reduce_stats_replica(p, NT_, L->off, lens_, rw);
    clgrad_reduce_stats_replica(dir, NT_, L->off, lens_, ru);
    for (int k = 0; k < NT_; k++)
        ratio[k] = L->mask[k] ? 1.0f
                              : optim_trust_ratio_(rw[CLGRAD_RS_SIZE * k + CLGRAD_RS_NORM2],
                                                   ru[CLGRAD_RS_SIZE * k + CLGRAD_RS_NORM2], coef, rwd, clip);
    for (int k = 0; k < NT_; k++) {
        const float lr_t = lr * ratio[k];
        for (size_t i = L->off[k]; i < L->off[k] + lens_[k]; i++) {
            if (lamb) p[i] = p[i] - lr_t * dir[i];
            else p[i] = optim_lars_upd_(p[i], dir[i], &st[i], lr_t, L->mask[k] ? 0.0f : wd, mu);
        }
    }
}

START_TEST(bitwise_host)
{
    int excl;
    const clgrad_optim_cfg c = cfg_(_i, &excl);
    layout_ L;
    layout_init_(&L, excl);
    size_t n = L.n, ns = clgrad_optim_state_floats(&c);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(STEPS_ * n * sizeof *g), *hs = calloc(ns * n, sizeof *hs);
    float hr[STEPS_][NT_];
    ck_assert(p0 && g && hs);
    inputs_(100 + _i, &L, p0, g);
    devout_ o;
    devout_new_(&o, &c, n);
    const float gcoef = _i % 2 ? 0.8125f : 1.0f; /* the clipping COEF in half of the configs */
    dev_run_(fixture_ctx(), &c, &L, p0, g, &o, gcoef, 0);
    float *hp = malloc(n * sizeof *hp);
    ck_assert(hp);
    memcpy(hp, p0, n * sizeof *hp);
    for (int s = 0; s < STEPS_; s++) host_step_(&c, s + 1, &L, hp, g + s * n, hs, gcoef, hr[s]);
    char what[96];
    snprintf(what, sizeof what, "%s cfg %d params", clgrad_optim_name(c.kind), _i);
    size_t bad = fixture_check_bits(what, o.p, hp, n);
    snprintf(what, sizeof what, "%s cfg %d state", clgrad_optim_name(c.kind), _i);
    bad += fixture_check_bits(what, o.s, hs, ns * n);
    snprintf(what, sizeof what, "%s cfg %d ratios", clgrad_optim_name(c.kind), _i);
    bad += fixture_check_bits(what, &o.ratio[0][0], &hr[0][0], STEPS_ * NT_);
    ck_assert_msg(bad == 0, "%s cfg %d: %zu values differ from the host float32 replica", clgrad_optim_name(c.kind), _i,
                  bad);
    devout_free_(&o);
    free(p0), free(g), free(hs), free(hp);
}
END_TEST

/* ---- the same bits at every work-group size ---- */

START_TEST(wg)
{
    int excl;
    const clgrad_optim_cfg c = cfg_(_i, &excl);
    layout_ L;
    layout_init_(&L, excl);
    size_t n = L.n, ns = clgrad_optim_state_floats(&c);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(STEPS_ * n * sizeof *g);
    ck_assert(p0 && g);
    inputs_(200 + _i, &L, p0, g);
    devout_ a, b;
    devout_new_(&a, &c, n);
    devout_new_(&b, &c, n);
    dev_run_(fixture_ctx(), &c, &L, p0, g, &a, 1.0f, 0);
    size_t bad = 0;
    int tried = 0;
    for (int w = 0; w < fixture_nwgs; w++) {
        clgrad_ctx *x = fixture_open_wg("optim.cl,reduce.cl", fixture_wgs[w]);
        if (!x) continue;
        tried++;
        dev_run_(x, &c, &L, p0, g, &b, 1.0f, 0);
        char what[96];
        snprintf(what, sizeof what, "%s cfg %d WG %zu", clgrad_optim_name(c.kind), _i, fixture_wgs[w]);
        bad += fixture_check_bits(what, b.p, a.p, n);
        bad += fixture_check_bits(what, b.s, a.s, ns * n);
        bad += fixture_check_bits(what, &b.ratio[0][0], &a.ratio[0][0], STEPS_ * NT_);
        clgrad_ctx_free(x);
    }
    ck_assert(tried > 0);
    ck_assert_msg(bad == 0, "%zu values depend on the work-group size", bad);
    devout_free_(&a), devout_free_(&b);
    free(p0), free(g);
}
END_TEST

/* ---- gradient state ---- */

START_TEST(gradstate)
{
    int excl;
    const clgrad_optim_cfg c = cfg_(_i, &excl);
    layout_ L;
    layout_init_(&L, excl);
    size_t n = L.n, ns = clgrad_optim_state_floats(&c);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(STEPS_ * n * sizeof *g), *g2 = malloc(STEPS_ * n * sizeof *g2);
    ck_assert(p0 && g && g2);
    inputs_(300 + _i, &L, p0, g);
    const float coef = 0.3712f;
    for (size_t i = 0; i < STEPS_ * n; i++) g2[i] = g[i] * coef;
    devout_ a, b;
    devout_new_(&a, &c, n);
    devout_new_(&b, &c, n);
    /* COEF through the block == pre-scaled gradients, bit for bit */
    dev_run_(fixture_ctx(), &c, &L, p0, g, &a, coef, 0);
    dev_run_(fixture_ctx(), &c, &L, p0, g2, &b, 1.0f, 0);
    size_t bad = fixture_check_bits("coef params", a.p, b.p, n) + fixture_check_bits("coef state", a.s, b.s, ns * n);
    bad += fixture_check_bits("coef ratios", &a.ratio[0][0], &b.ratio[0][0], STEPS_ * NT_);
    /* SKIP at step 3: the ratios of step 3 are those of step 2, and the run
    ** equals one without step 3's gradient (steps 1, 2, 4, 5, 6) */
    dev_run_(fixture_ctx(), &c, &L, p0, g, &a, 1.0f, 3);
    for (int t = 0; t < NT_; t++) ck_assert(memcmp(&a.ratio[2][t], &a.ratio[1][t], sizeof(float)) == 0);
    float *g3 = malloc(STEPS_ * n * sizeof *g3);
    ck_assert(g3);
    memcpy(g3, g, 2 * n * sizeof *g3);
    memcpy(g3 + 2 * n, g + 3 * n, 3 * n * sizeof *g3);
    memcpy(g3 + 5 * n, g + 5 * n, n * sizeof *g3); /* a sixth step the skip run does not have: drop it below */
    /* the skipped run took 5 steps (t = 1..5) with gradients g[0], g[1], g[3], g[4], g[5] */
    devout_ r;
    devout_new_(&r, &c, n);
    {
        /* replay with 5 steps by reusing dev_run_ on STEPS_ steps would take 6: run by hand */
        clgrad_ctx *ctx = fixture_ctx();
        clgrad_segs *segs = NULL;
        cl_mem mp = NULL, mg = NULL, ms = NULL, mw = NULL;
        size_t W = CLGRAD_OPTIM_LAYERS_WORK(NT_);
        FX_OK(clgrad_segs_new(ctx, NT_, L.off, lens_, &segs));
        FX_OK(clgrad_buf_new(ctx, n, "params", &mp));
        FX_OK(clgrad_buf_new(ctx, n, "grads", &mg));
        FX_OK(clgrad_buf_new(ctx, ns * n, "state", &ms));
        FX_OK(clgrad_buf_new(ctx, W, "work", &mw));
        FX_OK(clgrad_buf_write(ctx, mp, 0, n, p0));
        FX_OK(clgrad_buf_fill(ctx, ms, 0, ns * n, 0.0f));
        FX_OK(clgrad_buf_fill(ctx, mw, 0, W, 0.0f));
        float mask[NT_];
        for (int t = 0; t < NT_; t++) mask[t] = L.mask[t] ? 1.0f : 0.0f;
        FX_OK(clgrad_buf_write(ctx, mw, 0, NT_, mask));
        for (int t = 1; t <= 5; t++) {
            FX_OK(clgrad_buf_write(ctx, mg, 0, n, g3 + (t - 1) * n));
            FX_OK(clgrad_optim_step_layers(ctx, &c, t, lr_at_(&c, t), mp, mg, ms, n, NULL, 0, segs, mw, 0));
        }
        FX_OK(clgrad_buf_read(ctx, mp, 0, n, r.p));
        FX_OK(clgrad_buf_read(ctx, ms, 0, ns * n, r.s));
        clgrad_buf_free(&mp), clgrad_buf_free(&mg), clgrad_buf_free(&ms), clgrad_buf_free(&mw);
        clgrad_segs_free(&segs);
    }
    /* dev_run_ with skip_step 3 used lr_at_(t) with t counting taken steps: the same schedule */
    bad += fixture_check_bits("skip params", a.p, r.p, n) + fixture_check_bits("skip state", a.s, r.s, ns * n);
    ck_assert_msg(bad == 0, "%zu values differ", bad);
    devout_free_(&a), devout_free_(&b), devout_free_(&r);
    free(p0), free(g), free(g2), free(g3);
}
END_TEST

/* ---- edge cases, by hand ---- */

/* One step on 2 tensors (w: 4 elements, b: 2, excluded) with given values. */
static void one_step_(const clgrad_optim_cfg *c, const float *p, const float *g, float *pout, float *ratio)
{
    clgrad_ctx *ctx = fixture_ctx();
    const size_t off[2] = {0, 4}, len[2] = {4, 2}, n = 6, ns = clgrad_optim_state_floats(c);
    const size_t W = CLGRAD_OPTIM_LAYERS_WORK(2);
    clgrad_segs *segs = NULL;
    cl_mem mp = fixture_upload(p, n, "p"), mg = fixture_upload(g, n, "g"), ms = NULL, mw = NULL;
    FX_OK(clgrad_segs_new(ctx, 2, off, len, &segs));
    FX_OK(clgrad_buf_new(ctx, ns * n, "state", &ms));
    FX_OK(clgrad_buf_fill(ctx, ms, 0, ns * n, 0.0f));
    FX_OK(clgrad_buf_new(ctx, W, "work", &mw));
    FX_OK(clgrad_buf_fill(ctx, mw, 0, W, 0.0f));
    FX_OK(clgrad_buf_fill(ctx, mw, 1, 1, 1.0f)); /* tensor 1 excluded */
    FX_OK(clgrad_optim_step_layers(ctx, c, 1, c->lr, mp, mg, ms, n, NULL, 0, segs, mw, 0));
    fixture_download(mp, pout, n);
    FX_OK(clgrad_buf_read(ctx, mw, 2, 2, ratio));
    clgrad_buf_free(&mp), clgrad_buf_free(&mg), clgrad_buf_free(&ms), clgrad_buf_free(&mw);
    clgrad_segs_free(&segs);
}

START_TEST(edge)
{
    clgrad_optim_cfg c = clgrad_optim_defaults(CLGRAD_OPTIM_LARS);
    c.lr = 0.5, c.weight_decay = 0.1, c.momentum = 0.9;
    float out[6], r[2];
    /* zero weights: ratio 1, the step is lr * (g + wd * 0) = lr * g; the
    ** excluded bias: ratio 1 and no decay: b - lr * g */
    const float pz[6] = {0, 0, 0, 0, 2, -2}, g[6] = {1, -2, 0.5f, 4, 1, 1};
    one_step_(&c, pz, g, out, r);
    ck_assert(r[0] == 1.0f && r[1] == 1.0f);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], -0.5f * g[i]);
    ck_assert_float_eq(out[4], 1.5f);
    ck_assert_float_eq(out[5], -2.5f);
    /* zero gradient: ratio 1, the step is lr * wd * w */
    const float pw[6] = {3, 4, 0, 0, 1, 1}, g0[6] = {0, 0, 0, 0, 0, 0};
    one_step_(&c, pw, g0, out, r);
    ck_assert(r[0] == 1.0f);
    ck_assert(fabs(out[0] - (3.0 - 0.5 * 0.1 * 3.0)) < 1e-6);
    /* worked: w = [3, 4, 0, 0] (||w|| = 5), g = [0, 0, 1.2, 1.6] (||g|| = 2):
    ** ratio = 1e-3 * 5 / (2 + 0.1 * 5) = 0.002 */
    const float g2[6] = {0, 0, 1.2f, 1.6f, 0, 0};
    one_step_(&c, pw, g2, out, r);
    ck_assert_msg(fabs(r[0] - 0.002) < 4 * U_ * 0.002, "ratio %.9g, expected 0.002", r[0]);
    ck_assert(fabs(out[2] - (-0.5 * 0.002 * 1.2)) < 1e-9);
    /* LAMB, step 1: r = m^/(sqrt(v^)+eps) = sign(g) (to ~eps), u = r + wd*w;
    ** w = [3, 4, 0, 0], g = [1, 1, -1, -1], wd = 0: ||u|| = 2, ratio = 5/2 */
    clgrad_optim_cfg l = clgrad_optim_defaults(CLGRAD_OPTIM_LAMB);
    l.lr = 0.1, l.weight_decay = 0, l.eps = 1e-8;
    const float g3[6] = {1, 1, -1, -1, 1, 1};
    one_step_(&l, pw, g3, out, r);
    ck_assert_msg(fabs(r[0] - 2.5) < 1e-6, "lamb ratio %.9g, expected 2.5", r[0]);
    ck_assert(fabs(out[0] - (3 - 0.1 * 2.5)) < 1e-6 && fabs(out[3] - 0.25) < 1e-6);
    ck_assert(fabs(out[4] - 0.9) < 1e-6); /* excluded: ratio 1 */
    /* the clip: trust_clip 1 bounds the ratio */
    l.trust_clip = 1.0;
    one_step_(&l, pw, g3, out, r);
    ck_assert(r[0] == 1.0f);
}
END_TEST

/* ---- errors ---- */

START_TEST(args)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_optim_cfg c = clgrad_optim_defaults(CLGRAD_OPTIM_LARS);
    const float p[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cl_mem mp = fixture_upload(p, 8, "p"), mg = fixture_upload(p, 8, "g"), ms = fixture_upload(p, 8, "s"),
           mw = fixture_upload(p, 4, "w"), big = NULL;
    FX_OK(clgrad_buf_new(ctx, 64, "big", &big));
    const size_t off[2] = {0, 3}, len[2] = {3, 1};
    clgrad_segs *segs = NULL;
    FX_OK(clgrad_segs_new(ctx, 2, off, len, &segs));
    /* the element-wise entry point refuses a layer-wise kind */
    ck_assert_int_eq(clgrad_optim_step(ctx, &c, 1, 0.1, mp, mg, ms, 4, NULL, 0), CLGRAD_E_ARG);
    /* the segments must cover n exactly */
    ck_assert_int_eq(clgrad_optim_step_layers(ctx, &c, 1, 0.1, mp, mg, ms, 5, NULL, 0, segs, big, 0), CLGRAD_E_ARG);
    /* a work area too small */
    ck_assert_int_eq(clgrad_optim_step_layers(ctx, &c, 1, 0.1, mp, mg, ms, 4, NULL, 0, segs, mw, 0), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_optim_step_layers(ctx, &c, 0, 0.1, mp, mg, ms, 4, NULL, 0, segs, big, 0), CLGRAD_E_ARG);
    /* an element-wise kind through the layer-wise entry point */
    clgrad_optim_cfg s = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    ck_assert_int_eq(clgrad_optim_step_layers(ctx, &s, 1, 0.1, mp, mg, ms, 4, NULL, 0, segs, big, 0), CLGRAD_E_ARG);
    /* invalid hyper-parameters */
    c.trust_coefficient = 0;
    ck_assert(clgrad_optim_invalid(&c) != NULL);
    ck_assert_int_eq(clgrad_optim_step_layers(ctx, &c, 1, 0.1, mp, mg, ms, 4, NULL, 0, segs, big, 0), CLGRAD_E_CONFIG);
    c = clgrad_optim_defaults(CLGRAD_OPTIM_LARS), c.trust_clip = 0;
    ck_assert(clgrad_optim_invalid(&c) != NULL);
    c = clgrad_optim_defaults(CLGRAD_OPTIM_LAMB), c.beta2 = 1;
    ck_assert(clgrad_optim_invalid(&c) != NULL);
    c = clgrad_optim_defaults(CLGRAD_OPTIM_LARS);
    FX_OK(clgrad_optim_step_layers(ctx, &c, 1, 0.1, mp, mg, ms, 4, NULL, 0, segs, big, 0));
    clgrad_segs_free(&segs);
    clgrad_buf_free(&mp), clgrad_buf_free(&mg), clgrad_buf_free(&ms), clgrad_buf_free(&mw), clgrad_buf_free(&big);

    /* defaults (the papers') and names */
    clgrad_optim_cfg d = clgrad_optim_defaults(CLGRAD_OPTIM_LARS), e = clgrad_optim_defaults(CLGRAD_OPTIM_LAMB);
    ck_assert(d.trust_coefficient == 1e-3 && d.momentum == 0.9 && d.weight_decay == 5e-4 && isinf(d.trust_clip));
    ck_assert(e.eps == 1e-6 && e.weight_decay == 1e-2 && e.beta1 == 0.9 && e.beta2 == 0.999 && isinf(e.trust_clip));
    ck_assert_int_eq(clgrad_optim_parse("lars"), CLGRAD_OPTIM_LARS);
    ck_assert_int_eq(clgrad_optim_parse("lamb"), CLGRAD_OPTIM_LAMB);
    ck_assert_uint_eq(clgrad_optim_state_floats(&d), 2);
    ck_assert_uint_eq(clgrad_optim_state_floats(&e), 3);

    /* the experiment file: file:line: [optim] key */
    clgrad_config cfg;
    char err[4096];
    ck_assert(clgrad_config_parse("t.ini", "[optim]\nkind = lars\ntrust_coefficient = -1\n", NULL, 0, &cfg, err,
                                  sizeof err) != 0);
    ck_assert_msg(strstr(err, "t.ini:3: [optim] trust_coefficient") != NULL, "%s", err);
    ck_assert(clgrad_config_parse("t.ini", "[optim]\nkind = lamb\n\ntrust_clip = 0\n", NULL, 0, &cfg, err,
                                  sizeof err) != 0);
    ck_assert_msg(strstr(err, "t.ini:4: [optim] trust_clip") != NULL, "%s", err);
    ck_assert(clgrad_config_parse("t.ini", "[optim]\nkind = lars\nexclude = norms\n", NULL, 0, &cfg, err,
                                  sizeof err) != 0);
    ck_assert_msg(strstr(err, "t.ini:3: [optim] exclude") != NULL, "%s", err);
    /* none, the per-kind defaults */
    ck_assert_int_eq(clgrad_config_parse("t.ini", "[optim]\nkind = lamb\ntrust_clip = none\n", NULL, 0, &cfg, err,
                                         sizeof err), 0);
    ck_assert(isinf(cfg.optim.trust_clip) && cfg.optim.eps == 1e-6 && cfg.optim.weight_decay == 1e-2);
    ck_assert_int_eq(clgrad_config_parse("t.ini", "[optim]\nkind = lars\n", NULL, 0, &cfg, err, sizeof err), 0);
    ck_assert(cfg.optim.momentum == 0.9 && cfg.optim.weight_decay == 5e-4 && cfg.optim.trust_coefficient == 1e-3 &&
              !strcmp(cfg.optim.exclude, "bias_and_norm"));
}
END_TEST

static Suite *suite_(void)
{
    Suite *s = suite_create("optim_layers");
    TCase *tc = tcase_create("optim_layers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, args);
    tcase_add_test(tc, edge);
    tcase_add_loop_test(tc, reference, 0, NCFG_);
    tcase_add_loop_test(tc, bitwise_host, 0, NCFG_);
    tcase_add_loop_test(tc, wg, 0, NCFG_);
    tcase_add_loop_test(tc, gradstate, 0, NCFG_);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixture_open("optim.cl,reduce.cl");
    return fixture_run(suite_(), 1);
}
