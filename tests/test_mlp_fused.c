/*
** test_mlp_fused.c: the plain MLP's fused training pass (src/nn/mlp_fused.c,
** cl/mlp.cl) against the layer-by-layer path (CLGRAD_MLP_FUSED=0), bit for
** bit: one clgrad_step_grads (a log step, global-norm clipping) and the
** per-layer figures, on awkward shapes (batch 1, 3, 33; widths 1, 5, 33;
** 1 .. 5 linear layers), every activation, CE and MSE, with and without
** bias and input noise, at two work-group sizes.
*/
#include "fixture.h"
#include "nn/mlp_fused.h"

#include <stdlib.h>

typedef struct {
    size_t B, F, K, w;
    int nlin, bias;
    clgrad_act act;
    clgrad_loss loss;
    float input_std;
} shape_;

/* What one step leaves: gradients, logits, dlogits, the batch, the metrics block. */
typedef struct {
    float *g, *lg, *dl, *xb, *yb, *mb;
    size_t np, nm; /* parameters, metrics floats */
} result_;

static void result_free_(result_ *r) { free(r->g), free(r->lg), free(r->dl), free(r->xb), free(r->yb), free(r->mb); }

static void step_(clgrad_ctx *ctx, const shape_ *s, int fused, result_ *out)
{
    long hidden[8];
    clgrad_act acts[8];
    for (int i = 0; i < s->nlin - 1; i++) hidden[i] = (long)(i % 2 ? s->w + 2 : s->w), acts[i] = s->act;
    clgrad_model_spec ms = {0};
    ms.kind = CLGRAD_MODEL_MLP, ms.in = s->F, ms.seq_len = 1, ms.out = s->K, ms.nhidden = s->nlin - 1;
    ms.hidden = hidden, ms.acts = acts, ms.act_param = 0.1f, ms.bias = s->bias, ms.max_batch = s->B + 2;
    ms.forget_bias = NAN;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &ms, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed()));
    size_t n = s->B + 7, np = clgrad_model_nparams(m), B = s->B;
    float *x = malloc(n * s->F * sizeof *x), *y = malloc(n * sizeof *y);
    uint32_t *idx = malloc(n * sizeof *idx);
    clgrad_testrng rng = fixture_rng(s->B * 1000 + s->w * 10 + (size_t)s->nlin);
    for (size_t i = 0; i < n * s->F; i++) x[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < n; i++)
        y[i] = s->loss == CLGRAD_LOSS_CE ? (float)(clgrad_testrng_next(&rng) % s->K) : clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)((i * 5 + 3) % n);
    clgrad_step_plan p = {0};
    clgrad_optim_cfg oc = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    clgrad_metrics_layout_init(&p.L, (size_t)clgrad_model_ntensors(m), clgrad_model_metrics_size(m), 0);
    p.m = m, p.loss = s->loss, p.optim = &oc, p.row = s->F, p.K = s->K;
    FX_OK(clgrad_buf_new(ctx, n * s->F, "x", &p.x));
    FX_OK(clgrad_buf_write(ctx, p.x, 0, n * s->F, x));
    FX_OK(clgrad_buf_new(ctx, n, "y", &p.y));
    FX_OK(clgrad_buf_write(ctx, p.y, 0, n, y));
    cl_int err;
    p.idx = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * sizeof *idx, idx, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    FX_OK(clgrad_buf_new(ctx, ms.max_batch * s->F, "xb", &p.xb));
    FX_OK(clgrad_buf_new(ctx, ms.max_batch, "yb", &p.yb));
    FX_OK(clgrad_buf_new(ctx, ms.max_batch * s->K, "dlogits", &p.dlogits));
    FX_OK(clgrad_buf_new(ctx, p.L.size, "metrics", &p.mbuf));
    FX_OK(clgrad_buf_fill(ctx, p.mbuf, 0, p.L.size, 0.0f));
    p.seed = 7, p.input_std = s->input_std, p.clip = CLGRAD_CLIP_GLOBAL_NORM, p.max_norm = 0.5f;
    p.norm_type = CLGRAD_NORM_L2, p.policy = CLGRAD_NONFINITE_PROPAGATE;
    setenv("CLGRAD_MLP_FUSED", fused ? "1" : "0", 1);
    int done = 0;
    FX_OK(clgrad_mlp_fused_grads(ctx, &p, 2, B, 1, &done)); /* does it apply? (the step does it all again) */
    ck_assert_int_eq(done != 0, fused);
    FX_OK(clgrad_step_grads(ctx, &p, 3, 2, B, 0.0f, CLGRAD_STEP_LOG));
    FX_OK(clgrad_model_metrics(ctx, m, B, p.mbuf, p.L.model));
    unsetenv("CLGRAD_MLP_FUSED");
    out->np = np, out->nm = p.L.size;
    out->g = malloc(np * sizeof(float)), out->lg = malloc(B * s->K * sizeof(float));
    out->dl = malloc(B * s->K * sizeof(float)), out->xb = malloc(B * s->F * sizeof(float));
    out->yb = malloc(B * sizeof(float)), out->mb = malloc(p.L.size * sizeof(float));
    FX_OK(clgrad_buf_read(ctx, clgrad_model_grads(m), 0, np, out->g));
    FX_OK(clgrad_buf_read(ctx, clgrad_model_logits(m), 0, B * s->K, out->lg));
    FX_OK(clgrad_buf_read(ctx, p.dlogits, 0, B * s->K, out->dl));
    FX_OK(clgrad_buf_read(ctx, p.xb, 0, B * s->F, out->xb));
    FX_OK(clgrad_buf_read(ctx, p.yb, 0, B, out->yb));
    FX_OK(clgrad_buf_read(ctx, p.mbuf, 0, p.L.size, out->mb));
    cl_mem bufs[] = {p.x, p.y, p.idx, p.xb, p.yb, p.dlogits, p.mbuf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clReleaseMemObject(bufs[i]);
    clgrad_model_free(m);
    free(x), free(y), free(idx);
}

static void same_(clgrad_ctx *ctx, const shape_ *s)
{
    result_ a, b;
    step_(ctx, s, 0, &a);
    step_(ctx, s, 1, &b);
    size_t B = s->B, np = a.np, L = a.nm;
    ck_assert_uint_eq(b.np, np);
    size_t bad = fixture_check_bits("gradients", b.g, a.g, np) + fixture_check_bits("logits", b.lg, a.lg, B * s->K) +
                 fixture_check_bits("dlogits", b.dl, a.dl, B * s->K) +
                 fixture_check_bits("batch x", b.xb, a.xb, B * s->F) + fixture_check_bits("batch y", b.yb, a.yb, B) +
                 fixture_check_bits("metrics block", b.mb, a.mb, L);
    ck_assert_msg(bad == 0, "fused != layer-by-layer: B %zu F %zu K %zu w %zu layers %d act %d loss %d bias %d", s->B,
                  s->F, s->K, s->w, s->nlin, (int)s->act, (int)s->loss, s->bias);
    result_free_(&a), result_free_(&b);
}

static const size_t batches_[] = {1, 3, 33}, widths_[] = {1, 5, 33};

/* Every shape: batch x width x depth, activations and losses in turn. */
START_TEST(shapes)
{
    clgrad_ctx *ctx = fixture_ctx();
    int nlin = _i + 1, c = 0;
    for (int bi = 0; bi < 3; bi++)
        for (int wi = 0; wi < 3; wi++, c++) {
            shape_ s = {0};
            s.B = batches_[bi], s.w = widths_[wi], s.F = widths_[(wi + 1) % 3] + 2, s.nlin = nlin;
            s.loss = (c + _i) % 2 ? CLGRAD_LOSS_MSE : CLGRAD_LOSS_CE;
            s.K = s.loss == CLGRAD_LOSS_CE ? widths_[(wi + bi) % 3] + 1 : 1;
            s.act = (clgrad_act)((c + 3 * _i) % (CLGRAD_ACT_GELU_TANH + 1)), s.bias = (c + _i) % 4 != 3;
            s.input_std = c == 4 ? 0.25f : 0.0f;
            same_(ctx, &s);
        }
}
END_TEST

/* Every activation, with both losses, at one awkward shape. */
START_TEST(activations)
{
    clgrad_ctx *ctx = fixture_ctx();
    for (int lo = 0; lo < 2; lo++) {
        shape_ s = {0};
        s.B = 33, s.F = 17, s.w = 33, s.nlin = 3, s.bias = 1, s.act = (clgrad_act)_i;
        s.loss = lo ? CLGRAD_LOSS_MSE : CLGRAD_LOSS_CE, s.K = lo ? 1 : 3;
        same_(ctx, &s);
    }
}
END_TEST

/* The fused pass at another work-group size gives the same bits. */
START_TEST(work_group_sizes)
{
    shape_ s = {0};
    s.B = 33, s.F = 9, s.w = 33, s.nlin = 4, s.bias = 1, s.act = CLGRAD_ACT_TANH, s.loss = CLGRAD_LOSS_CE, s.K = 5;
    result_ a, b;
    step_(fixture_ctx(), &s, 1, &a);
    for (int i = 0; i < fixture_nwgs; i++) {
        clgrad_ctx *c2 = fixture_open_wg("matmul.cl,activation.cl,loss.cl,reduce.cl,clip.cl,init.cl,model.cl,mlp.cl", fixture_wgs[i]);
        if (!c2) continue;
        step_(c2, &s, 1, &b);
        ck_assert_uint_eq(fixture_check_bits("gradients (wg)", b.g, a.g, a.np), 0);
        ck_assert_uint_eq(fixture_check_bits("metrics (wg)", b.mb, a.mb, a.nm), 0);
        result_free_(&b);
        clgrad_ctx_free(c2);
    }
    result_free_(&a);
}
END_TEST

int main(void)
{
    fixture_open(NULL);
    Suite *s = suite_create("mlp_fused");
    TCase *tc = tcase_create("mlp_fused");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, shapes, 0, 5);
    tcase_add_loop_test(tc, activations, 0, (CLGRAD_ACT_GELU_TANH + 1));
    tcase_add_test(tc, work_group_sizes);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
