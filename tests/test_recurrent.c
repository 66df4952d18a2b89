/*
** test_recurrent.c (device suite): a recurrent layer in one launch
** (model_rec_forward / model_rec_backward) against the step-by-step path
** ($CLGRAD_RECURRENT=steps), bit for bit: the logits, every gradient, and
** every stored activation and activation gradient (the whole forward and
** backward work buffers: Z_t / gates, h_t, c_t, dH_t, dC_t, dG_t), for the
** RNN (tanh, relu, identity), the LSTM and the GRU, 1 and 2 layers, at
** awkward sizes (B 1, 2, 3, 5, 64; H 1, 5, 16, 20, 33, 128; T 1, 2, 3, 17; F 1, 3, 8, 9), under
** several rows per work-group and work-group sizes ($CLGRAD_REC_ROWS,
** $CLGRAD_REC_WG), and the step-by-step reference under every GEMM variant
** (they all round the same; the one-launch kernels round as they do).
** Correctness against float64 references is test_model.c's (the default
** path there is the one-launch one).
*/
#include "fixture.h"
#include "clgrad/model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    clgrad_model_kind kind;
    size_t B, H, T, F;
    int L;
    clgrad_act act;
} rcase_;

/* one run's outputs: logits, gradients, fwd (up to the scratch), bwd */
typedef struct {
    float *v[4];
    size_t n[4];
} rout_;

static const char *const names_[4] = {"logits", "gradients", "forward buffer", "backward buffer"};

/* Forward and backward with the work buffers pre-filled with a sentinel (so
** that anything one path writes and the other does not shows up). */
static void run_once_(clgrad_model *m, const clgrad_model_sizes *sz, size_t B, size_t K, cl_mem dx, cl_mem dG,
                      rout_ *o)
{
    clgrad_ctx *ctx = fixture_ctx();
    cl_mem fwd, bwd;
    size_t scratch;
    clgrad_model_work(m, &fwd, &bwd, &scratch);
    FX_OK(clgrad_buf_fill(ctx, fwd, 0, sz->fwd, -1234.5f));
    FX_OK(clgrad_buf_fill(ctx, bwd, 0, sz->bwd, -1234.5f));
    FX_OK(clgrad_buf_fill(ctx, clgrad_model_grads(m), 0, sz->params, -1234.5f));
    FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
    FX_OK(clgrad_model_backward(ctx, m, dG, 0, B));
    o->n[0] = B * K, o->n[1] = sz->params, o->n[2] = scratch, o->n[3] = sz->bwd;
    cl_mem src[4] = {clgrad_model_logits(m), clgrad_model_grads(m), fwd, bwd};
    for (int i = 0; i < 4; i++) {
        o->v[i] = malloc((o->n[i] ? o->n[i] : 1) * sizeof(float));
        ck_assert(o->v[i]);
        FX_OK(clgrad_buf_read(ctx, src[i], 0, o->n[i], o->v[i]));
    }
}

static void free_out_(rout_ *o)
{
    for (int i = 0; i < 4; i++) free(o->v[i]);
}

static size_t diff_(const rout_ *ref, const rout_ *o, const char *how)
{
    size_t bad = 0;
    for (int i = 0; i < 4; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s (%s)", names_[i], how);
        bad += fixture_check_bits(what, o->v[i], ref->v[i], ref->n[i]);
    }
    return bad;
}

static void set_env_(const char *path, const char *rows, const char *wg)
{
    setenv("CLGRAD_RECURRENT", path, 1);
    if (rows) setenv("CLGRAD_REC_ROWS", rows, 1);
    else unsetenv("CLGRAD_REC_ROWS");
    if (wg) setenv("CLGRAD_REC_WG", wg, 1);
    else unsetenv("CLGRAD_REC_WG");
}

static size_t check_case_(const rcase_ *c)
{
    clgrad_ctx *ctx = fixture_ctx();
    long hid[1] = {(long)c->H};
    clgrad_act acts[1] = {c->act};
    clgrad_model_spec s = {0};
    s.kind = c->kind, s.in = c->F, s.seq_len = c->T, s.out = 2, s.nhidden = 1, s.hidden = hid, s.acts = acts;
    s.act_param = 0.01f, s.bias = 1, s.max_batch = c->B + 2, s.layers = c->L, s.forget_bias = NAN;
    clgrad_model *m = NULL;
    clgrad_model_sizes sz;
    FX_OK(clgrad_model_sizes_of(ctx, &s, &sz));
    FX_OK(clgrad_model_create(ctx, &s, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed() + c->H));
    size_t nx = c->B * c->T * c->F, nl = c->B * 2;
    float *x = malloc(nx * sizeof *x), *G = malloc(nl * sizeof *G);
    ck_assert(x && G);
    clgrad_testrng rng = fixture_rng(c->B * 1000 + c->H * 10 + c->T);
    for (size_t i = 0; i < nx; i++) x[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < nl; i++) G[i] = clgrad_testrng_uniform(&rng, -1, 1);
    cl_mem dx = fixture_upload(x, nx, "x"), dG = fixture_upload(G, nl, "G");

    char how[200];
    size_t bad = 0;
    rout_ ref, o;
    set_env_("steps", NULL, NULL);
    run_once_(m, &sz, c->B, 2, dx, dG, &ref);
    /* the reference under every GEMM variant */
    static const char *const variants[] = {"tiled", "simple", "vec", "packed", "direct"};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        ck_assert(clgrad_gemm_set_variant(ctx, variants[v]) == 0);
        run_once_(m, &sz, c->B, 2, dx, dG, &o);
        snprintf(how, sizeof how, "steps, GEMM %s", variants[v]);
        bad += diff_(&ref, &o, how);
        free_out_(&o);
    }
    ck_assert(clgrad_gemm_set_variant(ctx, "auto") == 0);
    /* the one-launch path: default geometry, then rows per group x work-group sizes */
    static const char *const rows[] = {NULL, "1", "7", "64"}, *const wgs[] = {NULL, "1", "16", "1024"};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (size_t w = 0; w < sizeof wgs / sizeof wgs[0]; w++) {
            set_env_("one", rows[r], wgs[w]);
            run_once_(m, &sz, c->B, 2, dx, dG, &o);
            snprintf(how, sizeof how, "one launch, rows %s, wg %s", rows[r] ? rows[r] : "auto", wgs[w] ? wgs[w] : "auto");
            bad += diff_(&ref, &o, how);
            free_out_(&o);
        }
    set_env_("one", NULL, NULL);
    if (bad)
        fprintf(stderr, "  case %s B %zu H %zu T %zu F %zu L %d act %d: %zu differences\n",
                clgrad_model_kind_name(c->kind), c->B, c->H, c->T, c->F, c->L, (int)c->act, bad);
    free_out_(&ref);
    clgrad_buf_free(&dx), clgrad_buf_free(&dG);
    clgrad_model_free(m);
    free(x), free(G);
    return bad;
}

/* (B, H, T, F): every awkward value of each, in a few combinations */
/* F <= 8 (REC_XFOLD): the forward kernel computes the input side itself (F 8
** at the bound, and a second layer's F = H when H <= 8); F 9 and a second
** layer's H > 8: the GEMM launch before it.  H 20 and 16: 32-column pairs
** with a partial or no second panel, and W_hh padded for the backward. */
static const size_t shapes_[][4] = {{1, 1, 1, 1},  {3, 5, 2, 3},   {64, 33, 17, 1}, {3, 128, 17, 3}, {1, 33, 2, 1},
                                    {64, 5, 1, 3}, {64, 128, 2, 1}, {3, 1, 17, 3},   {5, 20, 3, 8},  {2, 16, 2, 9},
                                    {3, 24, 3, 2}}; /* H 24: the cell by float8s on CPUs (16s for H % 16 == 0) */
#define NSHAPES ((int)(sizeof shapes_ / sizeof shapes_[0]))

static void run_kind_(clgrad_model_kind kind, int i)
{
    static const clgrad_act rnn_acts[] = {CLGRAD_ACT_TANH, CLGRAD_ACT_RELU, CLGRAD_ACT_IDENTITY};
    const size_t *sh = shapes_[i / 2];
    size_t bad = 0;
    int nacts = kind == CLGRAD_MODEL_RNN ? 3 : 1;
    for (int a = 0; a < nacts; a++) {
        rcase_ c = {kind, sh[0], sh[1], sh[2], sh[3], 1 + i % 2, kind == CLGRAD_MODEL_RNN ? rnn_acts[a] : CLGRAD_ACT_TANH};
        bad += check_case_(&c);
    }
    ck_assert_msg(bad == 0, "%zu values differ between the one-launch and the step-by-step path", bad);
}

START_TEST(rnn) { run_kind_(CLGRAD_MODEL_RNN, _i); }
END_TEST
START_TEST(lstm) { run_kind_(CLGRAD_MODEL_LSTM, _i); }
END_TEST
START_TEST(gru) { run_kind_(CLGRAD_MODEL_GRU, _i); }
END_TEST

int main(void)
{
    fixture_open("matmul.cl,activation.cl,reduce.cl,init.cl,model.cl");
    Suite *s = suite_create("recurrent");
    TCase *tc = tcase_create("recurrent");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, rnn, 0, 2 * NSHAPES);
    tcase_add_loop_test(tc, lstm, 0, 2 * NSHAPES);
    tcase_add_loop_test(tc, gru, 0, 2 * NSHAPES);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
