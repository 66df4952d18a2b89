/*
** test_log_update.c: a log step's update through clgrad_step_log_update (the update with its statistics in
** one pass, the activation gradients' statistics in the same launches) against the separate calls it
** replaces (clgrad_step_snapshot, clgrad_step_update, clgrad_step_stats), bit for bit: parameters,
** optimizer state, prev and the whole metrics block after three log steps, for an MLP and an RNN, every
** elementwise optimizer kind and LARS (which takes the separate calls), with global-norm clipping.
*/
#include "fixture.h"

#include <stdlib.h>

typedef struct {
    float *p, *s, *prev, *mb;
    size_t np, ns, nm;
} result_;

static void result_free_(result_ *r) { free(r->p), free(r->s), free(r->prev), free(r->mb); }

static clgrad_model *model_(clgrad_ctx *ctx, int rnn, size_t B)
{
    static const long hidden[2] = {33, 5};
    static const clgrad_act acts[2] = {CLGRAD_ACT_TANH, CLGRAD_ACT_RELU};
    clgrad_model_spec ms = {0};
    ms.kind = rnn ? CLGRAD_MODEL_RNN : CLGRAD_MODEL_MLP, ms.in = 3, ms.seq_len = rnn ? 7 : 1, ms.out = 4;
    ms.nhidden = rnn ? 1 : 2, ms.hidden = hidden, ms.acts = acts, ms.bias = 1, ms.max_batch = B;
    ms.forget_bias = NAN;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &ms, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed()));
    return m;
}

static void run_(clgrad_ctx *ctx, int rnn, const clgrad_optim_cfg *oc, int fused, result_ *out)
{
    const size_t B = 9, n = 20;
    clgrad_model *m = model_(ctx, rnn, B);
    const size_t row = rnn ? 21 : 3, K = 4, np = clgrad_model_nparams(m), ns = clgrad_optim_state_floats(oc) * np;
    float *x = malloc(n * row * sizeof *x), *y = malloc(n * sizeof *y);
    uint32_t *idx = malloc(n * sizeof *idx);
    ck_assert(x && y && idx);
    clgrad_testrng rng = fixture_rng(17 + (uint64_t)rnn);
    for (size_t i = 0; i < n * row; i++) x[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < n; i++) y[i] = (float)(clgrad_testrng_next(&rng) % K), idx[i] = (uint32_t)((i * 7 + 1) % n);
    clgrad_step_plan p = {0};
    clgrad_metrics_layout_init(&p.L, (size_t)clgrad_model_ntensors(m), clgrad_model_metrics_size(m), 0);
    if (clgrad_optim_is_layerwise(oc->kind)) clgrad_metrics_layout_add_layerwise(&p.L, (size_t)clgrad_model_ntensors(m));
    p.m = m, p.loss = CLGRAD_LOSS_CE, p.optim = oc, p.row = row, p.K = K;
    FX_OK(clgrad_buf_new(ctx, n * row, "x", &p.x));
    FX_OK(clgrad_buf_write(ctx, p.x, 0, n * row, x));
    FX_OK(clgrad_buf_new(ctx, n, "y", &p.y));
    FX_OK(clgrad_buf_write(ctx, p.y, 0, n, y));
    FX_OK(clgrad_buf_new(ctx, n, "idx", &p.idx));
    FX_OK(clgrad_buf_write(ctx, p.idx, 0, n, (const float *)idx));
    FX_OK(clgrad_buf_new(ctx, B * row, "xb", &p.xb));
    FX_OK(clgrad_buf_new(ctx, B, "yb", &p.yb));
    FX_OK(clgrad_buf_new(ctx, B * K, "dlogits", &p.dlogits));
    FX_OK(clgrad_buf_new(ctx, ns ? ns : 1, "state", &p.state));
    FX_OK(clgrad_buf_fill(ctx, p.state, 0, ns ? ns : 1, 0.0f));
    FX_OK(clgrad_buf_new(ctx, np, "prev", &p.prev));
    FX_OK(clgrad_buf_new(ctx, p.L.size, "metrics", &p.mbuf));
    FX_OK(clgrad_buf_fill(ctx, p.mbuf, 0, p.L.size, 0.0f));
    p.seed = 7, p.clip = CLGRAD_CLIP_GLOBAL_NORM, p.max_norm = 0.5f;
    p.norm_type = CLGRAD_NORM_L2, p.policy = CLGRAD_NONFINITE_PROPAGATE;
    if (p.L.lw) FX_OK(clgrad_step_layerwise_init(ctx, &p));
    for (long step = 1; step <= 3; step++) {
        size_t pos = (size_t)(step - 1) * 5;
        FX_OK(clgrad_step_grads(ctx, &p, step, pos, B, 0.0f, CLGRAD_STEP_LOG));
        if (fused) FX_OK(clgrad_step_log_update(ctx, &p, B, step, 0.05));
        else {
            FX_OK(clgrad_step_snapshot(ctx, &p, B));
            FX_OK(clgrad_step_update(ctx, &p, step, 0.05));
            FX_OK(clgrad_step_stats(ctx, &p));
        }
    }
    out->np = np, out->ns = ns, out->nm = p.L.size;
    out->p = malloc(np * sizeof(float)), out->prev = malloc(np * sizeof(float));
    out->s = malloc((ns ? ns : 1) * sizeof(float)), out->mb = malloc(p.L.size * sizeof(float));
    FX_OK(clgrad_buf_read(ctx, clgrad_model_params(m), 0, np, out->p));
    FX_OK(clgrad_buf_read(ctx, p.prev, 0, np, out->prev));
    if (ns) FX_OK(clgrad_buf_read(ctx, p.state, 0, ns, out->s));
    FX_OK(clgrad_buf_read(ctx, p.mbuf, 0, p.L.size, out->mb));
    cl_mem bufs[] = {p.x, p.y, p.idx, p.xb, p.yb, p.dlogits, p.state, p.prev, p.mbuf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clReleaseMemObject(bufs[i]);
    clgrad_model_free(m);
    free(x), free(y), free(idx);
}

static clgrad_optim_cfg cfg_(int k)
{
    static const clgrad_optim_kind kinds[] = {CLGRAD_OPTIM_SGD, CLGRAD_OPTIM_RMSPROP, CLGRAD_OPTIM_ADAM,
                                              CLGRAD_OPTIM_ADAMW, CLGRAD_OPTIM_LARS, CLGRAD_OPTIM_SGD};
    clgrad_optim_cfg c = clgrad_optim_defaults(kinds[k]);
    if (k == 0) c.momentum = 0.9, c.nesterov = 1, c.weight_decay = 1e-3;
    if (k == 1) c.centered = 1, c.momentum = 0.5;
    if (k == 3) c.amsgrad = 1;
    return c;
}
#define NCFG 6

START_TEST(same_bits)
{
    const clgrad_optim_cfg c = cfg_(_i % NCFG);
    const int rnn = _i >= NCFG;
    result_ a, b;
    run_(fixture_ctx(), rnn, &c, 0, &a);
    run_(fixture_ctx(), rnn, &c, 1, &b);
    size_t bad = fixture_check_bits("params", b.p, a.p, a.np) + fixture_check_bits("prev", b.prev, a.prev, a.np) +
                 fixture_check_bits("state", b.s, a.s, a.ns) + fixture_check_bits("metrics block", b.mb, a.mb, a.nm);
    ck_assert_msg(bad == 0, "%s (%s): the log update differs from the separate calls", clgrad_optim_name(c.kind),
                  rnn ? "rnn" : "mlp");
    result_free_(&a), result_free_(&b);
}
END_TEST

int main(void)
{
    fixture_open(NULL);
    Suite *s = suite_create("log_update");
    TCase *tc = tcase_create("log_update");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, same_bits, 0, 2 * NCFG);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
