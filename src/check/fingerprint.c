/*
** fingerprint.c: the numerics fingerprint (clgrad/fingerprint.h): every
** kernel family of the own backend on fixed inputs, every output bit hashed.
**
** The inputs come from a splitmix64 stream seeded per case, so they are the
** same on every machine.  "Awkward" inputs mix ordinary values with ±0,
** denormals, values near exp's overflow, huge values, ±Inf and NaN; GEMM and
** model inputs stay finite (one NaN would make every output NaN and hide the
** rest).  Sizes include 1, odd and just-past-a-power-of-two lengths.
** Floats are hashed as little-endian 32-bit words, whatever the host; every
** NaN as the one quiet NaN 0x7fc00000 (IEEE 754 does not specify the sign
** and payload of a NaN an operation makes, and devices differ there).
*/
#include "core/internal.h"
#include "clgrad/fingerprint.h"
#include "clgrad/hash.h"
#include "clgrad/gemm.h"
#include "clgrad/activation.h"
#include "clgrad/loss.h"
#include "clgrad/reduce.h"
#include "clgrad/clip.h"
#include "clgrad/gradstate.h"
#include "clgrad/optim.h"
#include "clgrad/init.h"
#include "clgrad/model.h"
#include "clgrad/norm.h"
#include "clgrad/selfcheck.h"
#include "check/check.h"

#include "clgrad/fingerprint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    clgrad_ctx *ctx;
    clgrad_sha256 fam, all;
    unsigned long long count;
} fp_state_;

typedef struct { uint64_t s; } fp_rng_;

static uint64_t rng_next_(fp_rng_ *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A float: sign * (1 + m/2^23) * 2^e, e in [lo, hi] (exact: built from bits). */
static float rng_float_(fp_rng_ *r, int lo, int hi)
{
    uint64_t u = rng_next_(r);
    uint32_t e = (uint32_t)(lo + (int)(u % (uint64_t)(hi - lo + 1)) + 127);
    uint32_t bits = ((uint32_t)(u >> 32) & 0x807fffffu) | (e << 23);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static const float specials_[] = {0.0f, -0.0f, 1e-40f, -3e-42f, 1e-38f, 1e-8f, -1e-8f, 0.5f, -1.0f, 20.0f, -20.0f,
                                  88.5f, -88.5f, 89.5f, -104.0f, 1e30f, -1e30f, 3.4e38f, INFINITY, -INFINITY, NAN};

/* n values: 1 in 8 from the specials (awkward = 1), else |x| in [2^-6, 2^3) */
static void fill_(float *x, size_t n, uint64_t seed, int awkward)
{
    fp_rng_ r = {seed * 0x2545f4914f6cdd1dull + 12345};
    const size_t ns = sizeof specials_ / sizeof specials_[0];
    for (size_t i = 0; i < n; i++) {
        uint64_t u = rng_next_(&r);
        if (awkward && (u & 7) == 0) x[i] = specials_[(u >> 3) % ns];
        else x[i] = rng_float_(&r, -6, 2);
    }
}

static void hash_floats_(fp_state_ *s, const float *x, size_t n)
{
    unsigned char b[4 * 256];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < 256 && i < n; k++, i++) {
            uint32_t w;
            memcpy(&w, &x[i], sizeof w);
            if ((w & 0x7fffffffu) > 0x7f800000u) w = 0x7fc00000u; /* any NaN: IEEE leaves sign and payload open */
            b[4 * k] = (unsigned char)w, b[4 * k + 1] = (unsigned char)(w >> 8);
            b[4 * k + 2] = (unsigned char)(w >> 16), b[4 * k + 3] = (unsigned char)(w >> 24);
        }
        clgrad_sha256_update(&s->fam, b, 4 * k);
        clgrad_sha256_update(&s->all, b, 4 * k);
    }
    s->count += n;
}

/* Read n floats of a device buffer and hash them. */
static clgrad_status feed_(fp_state_ *s, cl_mem m, size_t off, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return clgrad_fail(s->ctx, CLGRAD_E_NOMEM, "fingerprint: out of memory");
    clgrad_status st = clgrad_buf_read(s->ctx, m, off, n, h);
    if (st == CLGRAD_OK) hash_floats_(s, h, n);
    free(h);
    return st;
}

/* A device buffer of n floats filled by fill_ (or zeros when seed is 0). */
static clgrad_status upload_(fp_state_ *s, size_t n, uint64_t seed, int awkward, cl_mem *out)
{
    clgrad_status st = CLGRAD_OK;
    float *h = calloc(n ? n : 1, sizeof *h);
    *out = NULL;
    if (!h) return clgrad_fail(s->ctx, CLGRAD_E_NOMEM, "fingerprint: out of memory");
    if (seed) fill_(h, n, seed, awkward);
    CLGRAD_TRY(clgrad_buf_new(s->ctx, n ? n : 1, "fingerprint input", out));
    if (n) CLGRAD_TRY(clgrad_buf_write(s->ctx, *out, 0, n, h));
fail:
    if (st != CLGRAD_OK) clgrad_buf_free(out);
    free(h);
    return st;
}

/* ---- families ------------------------------------------------------------------- */

static clgrad_status fam_gemm_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    static const size_t shapes[][3] = {{1, 1, 1}, {33, 17, 65}, {70, 9, 130}, {8, 64, 3}};
    cl_mem A = NULL, B = NULL, C = NULL, bias = NULL, E = NULL;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int t = 0; t < 4; t++) {
            const size_t M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
            const int ta = t >> 1, tb = t & 1;
            const size_t lda = ta ? M : K, ldb = tb ? K : N;
            const uint64_t seed = 100 + 10 * c + (uint64_t)t;
            CLGRAD_TRY(upload_(s, M * K, seed, 0, &A));
            CLGRAD_TRY(upload_(s, K * N, seed + 1000, 0, &B));
            CLGRAD_TRY(upload_(s, M * N, seed + 2000, 0, &C));
            CLGRAD_TRY(upload_(s, N, seed + 3000, 0, &bias));
            CLGRAD_TRY(clgrad_buf_new(s->ctx, M * N, "fingerprint E", &E));
            CLGRAD_TRY(clgrad_gemm(s->ctx, ta, tb, M, N, K, 0.75f, A, 0, lda, B, 0, ldb, t ? 0.5f : 0.0f, C, 0, N));
            CLGRAD_TRY(feed_(s, C, 0, M * N));
            /* a dense layer's forward: bias and tanh in the epilogue */
            clgrad_gemm_epilogue epi = {bias, 0, CLGRAD_EPI_ACT, CLGRAD_ACT_TANH, 0.0f, E, 0, N, NULL, 0, 0};
            CLGRAD_TRY(clgrad_gemm_fused(s->ctx, ta, tb, M, N, K, 1.0f, A, 0, lda, B, 0, ldb, 0.0f, C, 0, N, &epi));
            CLGRAD_TRY(feed_(s, C, 0, M * N));
            CLGRAD_TRY(feed_(s, E, 0, M * N));
            clgrad_buf_free(&A), clgrad_buf_free(&B), clgrad_buf_free(&C), clgrad_buf_free(&bias);
            clgrad_buf_free(&E);
        }
fail:
    clgrad_buf_free(&A), clgrad_buf_free(&B), clgrad_buf_free(&C), clgrad_buf_free(&bias), clgrad_buf_free(&E);
    return st;
}

static clgrad_status fam_activation_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    const size_t n = 4099;
    cl_mem z = NULL, dh = NULL, out = NULL, X = NULL, b = NULL, db = NULL;
    CLGRAD_TRY(upload_(s, n, 7, 1, &z));
    CLGRAD_TRY(upload_(s, n, 8, 1, &dh));
    CLGRAD_TRY(clgrad_buf_new(s->ctx, n, "fingerprint out", &out));
    for (int a = 0; a < CLGRAD_ACT_COUNT; a++) {
        const float p = clgrad_act_default_param((clgrad_act)a);
        CLGRAD_TRY(clgrad_activation_forward(s->ctx, (clgrad_act)a, p, z, 0, out, 0, n));
        CLGRAD_TRY(feed_(s, out, 0, n));
        CLGRAD_TRY(clgrad_activation_backward(s->ctx, (clgrad_act)a, p, z, 0, dh, 0, out, 0, n));
        CLGRAD_TRY(feed_(s, out, 0, n));
    }
    static const size_t rc[][2] = {{1, 1}, {37, 19}, {301, 9}, {1030, 64}};
    for (size_t c = 0; c < sizeof rc / sizeof rc[0]; c++) {
        const size_t rows = rc[c][0], cols = rc[c][1];
        CLGRAD_TRY(upload_(s, rows * cols, 20 + c, 1, &X));
        CLGRAD_TRY(upload_(s, cols, 30 + c, 0, &b));
        CLGRAD_TRY(upload_(s, cols, 40 + c, 0, &db));
        CLGRAD_TRY(clgrad_activation_bias_add(s->ctx, X, 0, rows, cols, b, 0));
        CLGRAD_TRY(feed_(s, X, 0, rows * cols));
        CLGRAD_TRY(clgrad_activation_bias_grad(s->ctx, X, 0, rows, cols, 0.0f, b, 0));
        CLGRAD_TRY(feed_(s, b, 0, cols));
        /* finite inputs: the sums themselves, not only their NaNs */
        clgrad_buf_free(&X);
        CLGRAD_TRY(upload_(s, rows * cols, 50 + c, 0, &X));
        CLGRAD_TRY(clgrad_activation_bias_grad(s->ctx, X, 0, rows, cols, 0.5f, db, 0));
        CLGRAD_TRY(feed_(s, db, 0, cols));
        clgrad_buf_free(&X), clgrad_buf_free(&b), clgrad_buf_free(&db);
    }
fail:
    clgrad_buf_free(&z), clgrad_buf_free(&dh), clgrad_buf_free(&out);
    clgrad_buf_free(&X), clgrad_buf_free(&b), clgrad_buf_free(&db);
    return st;
}

static clgrad_status fam_loss_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    static const size_t rc[][2] = {{1, 1}, {37, 5}, {513, 10}, {4099, 1}};
    cl_mem pred = NULL, tgt = NULL, grad = NULL, out = NULL;
    float *t = NULL;
    CLGRAD_TRY(clgrad_buf_new(s->ctx, 2, "fingerprint loss out", &out));
    for (int loss = 0; loss < CLGRAD_LOSS_COUNT; loss++)
        for (size_t c = 0; c < sizeof rc / sizeof rc[0]; c++)
            for (int awk = 0; awk < 2; awk++) {
                const size_t rows = rc[c][0], cols = rc[c][1], nt = clgrad_loss_target_count((clgrad_loss)loss, rows, cols);
                CLGRAD_TRY(upload_(s, rows * cols, 60 + 10 * (uint64_t)loss + c, awk, &pred));
                t = malloc(nt * sizeof *t);
                if (!t) { st = clgrad_fail(s->ctx, CLGRAD_E_NOMEM, "fingerprint: out of memory"); goto fail; }
                fp_rng_ r = {900 + c};
                for (size_t i = 0; i < nt; i++) {
                    uint64_t u = rng_next_(&r);
                    if (loss == CLGRAD_LOSS_CE) t[i] = (float)(u % cols);
                    else if (loss == CLGRAD_LOSS_BCE) t[i] = (u & 1) ? 1.0f : (u & 2) ? 0.0f : 0.25f;
                    else t[i] = rng_float_(&r, -3, 1);
                }
                CLGRAD_TRY(clgrad_buf_new(s->ctx, nt, "fingerprint target", &tgt));
                CLGRAD_TRY(clgrad_buf_write(s->ctx, tgt, 0, nt, t));
                CLGRAD_TRY(clgrad_buf_new(s->ctx, rows * cols, "fingerprint grad", &grad));
                CLGRAD_TRY(clgrad_loss_grad(s->ctx, (clgrad_loss)loss, pred, 0, tgt, 0, grad, 0, rows, cols));
                CLGRAD_TRY(clgrad_loss_value(s->ctx, (clgrad_loss)loss, pred, 0, tgt, 0, rows, cols, out, 0));
                if (loss != CLGRAD_LOSS_MSE) CLGRAD_TRY(clgrad_loss_accuracy(s->ctx, (clgrad_loss)loss, pred, 0, tgt, 0, rows, cols, out, 1));
                else CLGRAD_TRY(clgrad_buf_fill(s->ctx, out, 1, 1, 0.0f));
                CLGRAD_TRY(feed_(s, grad, 0, rows * cols));
                CLGRAD_TRY(feed_(s, out, 0, 2));
                free(t), t = NULL;
                clgrad_buf_free(&pred), clgrad_buf_free(&tgt), clgrad_buf_free(&grad);
            }
fail:
    free(t);
    clgrad_buf_free(&pred), clgrad_buf_free(&tgt), clgrad_buf_free(&grad), clgrad_buf_free(&out);
    return st;
}

/* Segments used by reduce and clip: empty, 1, odd, around chunk boundaries. */
static const size_t seg_len_[] = {0, 1, 7, 257, 8191, 8193, 3, 20000};
#define NSEG_ (sizeof seg_len_ / sizeof seg_len_[0])

static clgrad_status segs_(fp_state_ *s, clgrad_segs **segs, size_t *total)
{
    size_t off[NSEG_], n = 0;
    for (size_t i = 0; i < NSEG_; i++) off[i] = n, n += seg_len_[i];
    *total = n;
    return clgrad_segs_new(s->ctx, NSEG_, off, seg_len_, segs);
}

static clgrad_status fam_reduce_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_segs *segs = NULL;
    cl_mem x = NULL, out = NULL;
    size_t n;
    CLGRAD_TRY(segs_(s, &segs, &n));
    CLGRAD_TRY(clgrad_buf_new(s->ctx, 4 * (NSEG_ + 1), "fingerprint stats", &out));
    for (int awk = 0; awk < 2; awk++) {
        CLGRAD_TRY(upload_(s, n, 70 + (uint64_t)awk, awk, &x));
        CLGRAD_TRY(clgrad_reduce_stats(s->ctx, x, 0, segs, out, 0));
        CLGRAD_TRY(feed_(s, out, 0, 4 * (NSEG_ + 1)));
        CLGRAD_TRY(clgrad_reduce_stats1(s->ctx, x, 5, n - 5, out, 0));
        CLGRAD_TRY(feed_(s, out, 0, 4));
        clgrad_buf_free(&x);
    }
fail:
    clgrad_buf_free(&x), clgrad_buf_free(&out);
    clgrad_segs_free(&segs);
    return st;
}

static clgrad_status fam_clip_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_segs *segs = NULL, *units = NULL;
    cl_mem g = NULL, w = NULL, stats = NULL, gs = NULL;
    size_t n;
    CLGRAD_TRY(segs_(s, &segs, &n));
    const size_t ns = 4 * (NSEG_ + 1);
    CLGRAD_TRY(clgrad_buf_new(s->ctx, 512, "fingerprint stats", &stats)); /* AGC: 8 (31 units + 1) */
    CLGRAD_TRY(clgrad_buf_new(s->ctx, CLGRAD_GS_SIZE, "fingerprint gradstate", &gs));
    for (int c = 0; c < 6; c++) {
        /* finite gradients for the scaling cases (an Inf would make every coefficient 0) */
        CLGRAD_TRY(upload_(s, n, 80 + (uint64_t)c, c == 5, &g));
        CLGRAD_TRY(clgrad_gradstate_reset(s->ctx, gs, 0));
        switch (c) {
        case 0: st = clgrad_clip_global_norm(s->ctx, g, 0, segs, stats, 0, CLGRAD_NORM_L2, 1.0f,
                                             CLGRAD_NONFINITE_PROPAGATE, gs, 0, 1); break;
        case 1: st = clgrad_clip_global_norm(s->ctx, g, 0, segs, stats, 0, CLGRAD_NORM_INF, 0.3f,
                                             CLGRAD_NONFINITE_PROPAGATE, gs, 0, 1); break;
        case 2: st = clgrad_clip_value(s->ctx, g, 0, n, 0.25f, gs, 0); break;
        case 3: st = clgrad_clip_tensor_norm(s->ctx, g, 0, segs, stats, 0, 0.7f, gs, 0); break;
        case 4: {
            size_t off[2] = {0, 300}, rows[2] = {30, 1}, cols[2] = {10, 77};
            st = clgrad_segs_new_rows(s->ctx, 2, off, rows, cols, &units);
            if (st == CLGRAD_OK) st = upload_(s, n, 90, 0, &w);
            if (st == CLGRAD_OK) st = clgrad_clip_agc(s->ctx, w, 0, g, 0, units, stats, 0, 0.05f, 1e-3f, gs, 0);
            break;
        }
        default: st = clgrad_clip_global_norm(s->ctx, g, 0, segs, stats, 0, CLGRAD_NORM_L2, 1.0f,
                                              CLGRAD_NONFINITE_SKIP, gs, 0, 1); break;
        }
        if (st != CLGRAD_OK) goto fail;
        CLGRAD_TRY(feed_(s, g, 0, n));
        CLGRAD_TRY(feed_(s, gs, 0, CLGRAD_GS_SIZE));
        if (c != 2) CLGRAD_TRY(feed_(s, stats, 0, c == 4 ? 8 * (31 + 1) : ns));
        clgrad_buf_free(&g), clgrad_buf_free(&w);
        clgrad_segs_free(&units);
    }
fail:
    clgrad_buf_free(&g), clgrad_buf_free(&w), clgrad_buf_free(&stats), clgrad_buf_free(&gs);
    clgrad_segs_free(&segs), clgrad_segs_free(&units);
    return st;
}

static clgrad_status fam_optim_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    const size_t n = 1031;
    cl_mem p = NULL, g = NULL, state = NULL, gs = NULL;
    clgrad_optim_cfg cfgs[6];
    cfgs[0] = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    cfgs[0].momentum = 0.9, cfgs[0].nesterov = 1, cfgs[0].weight_decay = 1e-3;
    cfgs[1] = clgrad_optim_defaults(CLGRAD_OPTIM_SGD);
    cfgs[1].momentum = 0.5, cfgs[1].dampening = 0.1;
    cfgs[2] = clgrad_optim_defaults(CLGRAD_OPTIM_RMSPROP);
    cfgs[2].centered = 1, cfgs[2].momentum = 0.9, cfgs[2].weight_decay = 1e-2;
    cfgs[3] = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    cfgs[3].amsgrad = 1, cfgs[3].weight_decay = 1e-2;
    cfgs[4] = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM);
    cfgs[5] = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW);
    CLGRAD_TRY(clgrad_buf_new(s->ctx, CLGRAD_GS_SIZE, "fingerprint gradstate", &gs));
    CLGRAD_TRY(clgrad_gradstate_reset(s->ctx, gs, 0));
    for (int c = 0; c < 6; c++) {
        const size_t ns = clgrad_optim_state_floats(&cfgs[c]) * n;
        CLGRAD_TRY(upload_(s, n, 110 + (uint64_t)c, 0, &p));
        CLGRAD_TRY(upload_(s, ns, 0, 0, &state));
        for (int t = 1; t <= 3; t++) {
            CLGRAD_TRY(upload_(s, n, 120 + 10 * (uint64_t)c + (uint64_t)t, 0, &g));
            CLGRAD_TRY(clgrad_optim_step(s->ctx, &cfgs[c], t, 0.01 * t, p, g, state, n, gs, 0));
            clgrad_buf_free(&g);
        }
        CLGRAD_TRY(feed_(s, p, 0, n));
        if (ns) CLGRAD_TRY(feed_(s, state, 0, ns));
        clgrad_buf_free(&p), clgrad_buf_free(&state);
    }
fail:
    clgrad_buf_free(&p), clgrad_buf_free(&g), clgrad_buf_free(&state), clgrad_buf_free(&gs);
    return st;
}

static clgrad_status fam_init_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    const size_t rows = 65, cols = 63;
    cl_mem w = NULL;
    CLGRAD_TRY(clgrad_buf_new(s->ctx, rows * cols, "fingerprint init", &w));
    for (int k = 0; k < CLGRAD_INIT_NKINDS; k++) {
        clgrad_init_cfg cfg = clgrad_init_default((clgrad_init_kind)k);
        CLGRAD_TRY(clgrad_init_tensor(s->ctx, &cfg, 42, (uint32_t)k, cols, rows, rows, cols, w, 0));
        CLGRAD_TRY(feed_(s, w, 0, rows * cols));
    }
fail:
    clgrad_buf_free(&w);
    return st;
}

/* Whole models: forward, backward from fixed dlogits, the metrics block. */
static clgrad_status fam_model_(fp_state_ *s)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_model *m = NULL;
    cl_mem x = NULL, dl = NULL, met = NULL;
    static const long hid[] = {24, 17, 24};
    static const clgrad_act mlp_acts[][3] = {
        {CLGRAD_ACT_TANH, CLGRAD_ACT_GELU, CLGRAD_ACT_SIGMOID},
        {CLGRAD_ACT_RELU, CLGRAD_ACT_ELU, CLGRAD_ACT_SOFTPLUS},
        {CLGRAD_ACT_SELU, CLGRAD_ACT_GELU_TANH, CLGRAD_ACT_SOFTSIGN},
    };
    static const clgrad_act rnn_act[1] = {CLGRAD_ACT_TANH};
    static const long hid_eq[] = {24, 24, 24};
    for (int c = 0; c < 8; c++) {
        clgrad_model_spec sp;
        memset(&sp, 0, sizeof sp);
        sp.bias = 1, sp.forget_bias = NAN, sp.max_batch = 9;
        if (c < 3) {
            sp.kind = CLGRAD_MODEL_MLP, sp.in = 13, sp.seq_len = 1, sp.out = 3, sp.nhidden = 3;
            sp.hidden = hid, sp.acts = mlp_acts[c];
        } else if (c >= 6) {
            /* the norm layers and residual blocks: pre-LN with a final norm; post with batch norm */
            sp.kind = CLGRAD_MODEL_MLP, sp.in = 13, sp.seq_len = 1, sp.out = 3, sp.nhidden = 3;
            sp.hidden = hid_eq, sp.acts = mlp_acts[c - 6], sp.norm_eps = NAN;
            sp.norm = c == 6 ? CLGRAD_NL_LAYER : CLGRAD_NL_BATCH;
            sp.residual = c == 6 ? CLGRAD_RES_PRE : CLGRAD_RES_POST, sp.final_norm = c == 6;
        } else {
            sp.kind = c == 3 ? CLGRAD_MODEL_RNN : c == 4 ? CLGRAD_MODEL_LSTM : CLGRAD_MODEL_GRU;
            sp.in = 3, sp.seq_len = 7, sp.out = 2, sp.nhidden = 1, sp.hidden = hid + 1, sp.acts = rnn_act;
            sp.layers = 2;
        }
        CLGRAD_TRY(clgrad_model_create(s->ctx, &sp, &m));
        clgrad_init_cfg wi = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
        CLGRAD_TRY(clgrad_model_init(s->ctx, m, &wi, &wi, 1000 + (uint64_t)c));
        const size_t B = 9, nx = B * sp.seq_len * sp.in, ms = clgrad_model_metrics_size(m);
        CLGRAD_TRY(upload_(s, nx, 130 + (uint64_t)c, 0, &x));
        CLGRAD_TRY(upload_(s, B * sp.out, 140 + (uint64_t)c, 0, &dl));
        CLGRAD_TRY(clgrad_buf_new(s->ctx, ms, "fingerprint metrics", &met));
        CLGRAD_TRY(clgrad_model_forward(s->ctx, m, x, 0, B));
        CLGRAD_TRY(feed_(s, clgrad_model_logits(m), 0, B * sp.out));
        CLGRAD_TRY(clgrad_model_backward(s->ctx, m, dl, 0, B));
        CLGRAD_TRY(clgrad_model_l1_grad(s->ctx, m, 1e-3f));
        CLGRAD_TRY(feed_(s, clgrad_model_grads(m), 0, clgrad_model_nparams(m)));
        CLGRAD_TRY(clgrad_model_metrics(s->ctx, m, B, met, 0));
        CLGRAD_TRY(feed_(s, met, 0, ms));
        clgrad_model_free(m), m = NULL;
        clgrad_buf_free(&x), clgrad_buf_free(&dl), clgrad_buf_free(&met);
    }
fail:
    clgrad_model_free(m);
    clgrad_buf_free(&x), clgrad_buf_free(&dl), clgrad_buf_free(&met);
    return st;
}

static const struct {
    const char *name;
    clgrad_status (*run)(fp_state_ *);
} fams_[] = {
    {"gemm", fam_gemm_}, {"activation", fam_activation_}, {"loss", fam_loss_}, {"reduce", fam_reduce_},
    {"clip", fam_clip_}, {"optim", fam_optim_},           {"init", fam_init_}, {"model", fam_model_},
};

clgrad_status clgrad_numerics_fingerprint(clgrad_ctx *ctx, clgrad_fingerprint *fp)
{
    clgrad_status st = CLGRAD_OK;
    fp_state_ s;
    unsigned char d[32];
    char hex[65];
    memset(fp, 0, sizeof *fp);
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    clgrad_sha256_init(&s.all);
    const clgrad_gemm_backend saved = ctx->gemm_backend;
    ctx->gemm_backend = CLGRAD_GEMM_OWN;
    for (size_t f = 0; f < sizeof fams_ / sizeof fams_[0] && f < CLGRAD_FP_MAXFAM; f++) {
        clgrad_sha256_init(&s.fam);
        s.count = 0;
        CLGRAD_TRY(fams_[f].run(&s));
        clgrad_sha256_final(&s.fam, d);
        clgrad_sha256_hex(d, hex);
        fp->family[fp->nfam] = fams_[f].name;
        memcpy(fp->hex[fp->nfam], hex, CLGRAD_FP_HEX);
        fp->values[fp->nfam] = s.count;
        fp->nfam++;
    }
    clgrad_sha256_final(&s.all, d);
    clgrad_sha256_hex(d, hex);
    memcpy(fp->all, hex, CLGRAD_FP_HEX);
fail:
    ctx->gemm_backend = saved;
    if (st != CLGRAD_OK) fp->all[0] = '\0';
    return st;
}

/* ---- the "numerics" selfcheck family ---------------------------------------------- */

static int same_bits_(float x, float y) { return memcmp(&x, &y, sizeof x) == 0; }

/* The device's a*b+c (not contracted), fma, division and square root against
** the host's (IEEE: correctly rounded), bit for bit, on cases built to tell a
** fused from an unfused a*b+c, and on random operands over the whole range
** (denormal results included). */
clgrad_status clgrad_selfcheck_numerics(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    enum { N = 4096 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    float *o = malloc(4 * N * sizeof *o);
    cl_mem da = NULL, db = NULL, dc = NULL, dout = NULL;
    if (!a || !b || !c || !o) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    fp_rng_ r = {2024};
    for (size_t i = 0; i < N; i++) {
        if (i < N / 2) {
            /* (1 + u)(1 + v) = 1 + u + v + uv: uv is lost by the rounded product, kept by fma */
            const float u = ldexpf(1.0f + (float)(rng_next_(&r) & 0xff), -20 - (int)(i % 3));
            const float v = ldexpf(1.0f + (float)(rng_next_(&r) & 0xff), -21);
            a[i] = 1.0f + u, b[i] = 1.0f + v, c[i] = -(a[i] * b[i]);
        } else {
            a[i] = rng_float_(&r, -140, 120), b[i] = rng_float_(&r, -100, 100), c[i] = rng_float_(&r, -100, 100);
        }
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, N, "numerics a", &da));
    CLGRAD_TRY(clgrad_buf_new(ctx, N, "numerics b", &db));
    CLGRAD_TRY(clgrad_buf_new(ctx, N, "numerics c", &dc));
    CLGRAD_TRY(clgrad_buf_new(ctx, 4 * N, "numerics out", &dout));
    CLGRAD_TRY(clgrad_buf_write(ctx, da, 0, N, a));
    CLGRAD_TRY(clgrad_buf_write(ctx, db, 0, N, b));
    CLGRAD_TRY(clgrad_buf_write(ctx, dc, 0, N, c));
    cl_kernel k = clgrad_kernel(ctx, "numerics_probe");
    if (!k) { st = CLGRAD_E_ARG; goto fail; }
    cl_ulong n = N;
    CLGRAD_ARG(ctx, k, 0, da);
    CLGRAD_ARG(ctx, k, 1, db);
    CLGRAD_ARG(ctx, k, 2, dc);
    CLGRAD_ARG(ctx, k, 3, dout);
    CLGRAD_ARG(ctx, k, 4, n);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "numerics_probe", N, clgrad_wg(ctx)));
    CLGRAD_TRY(clgrad_buf_read(ctx, dout, 0, 4 * N, o));
    size_t bad[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < N; i++) {
        volatile float p = a[i] * b[i]; /* two roundings on the host too */
        bad[0] += !same_bits_(o[4 * i + 0], p + c[i]);
        bad[1] += !same_bits_(o[4 * i + 1], fmaf(a[i], b[i], c[i]));
        bad[2] += !same_bits_(o[4 * i + 2], a[i] / b[i]);
        bad[3] += !same_bits_(o[4 * i + 3], sqrtf(fabsf(a[i])));
    }
    static const char *what[4] = {"a*b+c not contracted (FP_CONTRACT OFF), bits", "fma correctly rounded, bits",
                                  "division correctly rounded, bits", "sqrt correctly rounded, bits"};
    for (int j = 0; j < 4; j++) report(user, "numerics", what[j], bad[j] == 0, (double)bad[j], 0.0);
fail:
    clgrad_buf_free(&da), clgrad_buf_free(&db), clgrad_buf_free(&dc), clgrad_buf_free(&dout);
    free(a), free(b), free(c), free(o);
    return st;
}

_Static_assert(sizeof ((clgrad_ctx *)0)->numerics_fp == CLGRAD_FP_HEX + 1, "core/internal.h: numerics_fp holds CLGRAD_FP_HEX digits");

const char *clgrad_numerics_fingerprint_cached(clgrad_ctx *ctx)
{
    if (!ctx->numerics_fp_tried) {
        ctx->numerics_fp_tried = 1;
        struct clgrad_prof_row *prof = ctx->prof; /* keep the fingerprint's launches out of the profile */
        ctx->prof = NULL;
        clgrad_fingerprint fp;
        if (clgrad_numerics_fingerprint(ctx, &fp) == CLGRAD_OK) memcpy(ctx->numerics_fp, fp.all, sizeof fp.all);
        else clgrad_warn(ctx, "numerics fingerprint: %s", clgrad_errmsg(ctx));
        ctx->prof = prof;
    }
    return ctx->numerics_fp[0] ? ctx->numerics_fp : NULL;
}
