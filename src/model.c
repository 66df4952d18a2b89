/*
** model.c: the MLP and the vanilla RNN: parameter layout, initialisation,
** forward, backward (BPTT for the RNN) and the per-layer metrics.
** Shapes: B batch, T time steps, F features per step, H width, K outputs.
*/
#include "internal.h"
#include "clgrad/model.h"

#include <stdlib.h>
#include <string.h>

#define MAXL (CLGRAD_MAX_LAYERS + 2)

struct clgrad_model {
    clgrad_model_kind kind;
    size_t F, T, K, max_batch;
    int nhidden, bias;
    long hidden[MAXL];
    clgrad_act acts[MAXL];
    float act_param;

    /* MLP: nlin = nhidden + 1 linear layers; width[0] = T*F, width[l+1] = out of layer l */
    int nlin;
    size_t width[MAXL + 1];

    clgrad_tensor tensors[CLGRAD_MODEL_MAX_TENSORS];
    int ntensors;
    size_t nparams;
    int nlayers;
    char layer_names[MAXL][32];

    cl_mem params, grads; /* owned: nparams floats each */
    cl_mem fwd;           /* owned: MLP Z_l and H_l regions; RNN Z_t (T,B,H) and H_t (T+1,B,H) */
    cl_mem bwd;           /* owned: gradient activations (see metrics layout) */
    cl_mem logits;        /* owned: (max_batch, K) */
    size_t z_off[MAXL], h_off[MAXL];   /* in fwd, per batch row count max_batch */
    size_t dz_off[MAXL], dh_off[MAXL]; /* in bwd */
    clgrad_segs *param_segs;           /* owned: one segment per tensor */
    clgrad_segs *gact_segs;            /* owned: for the batch size gact_B */
    size_t gact_B;
    cl_mem x;    /* borrowed: the input of the last forward pass, read by backward */
    size_t xoff;
};

size_t clgrad_model_nparams(const clgrad_model *m) { return m->nparams; }
int clgrad_model_ntensors(const clgrad_model *m) { return m->ntensors; }
const clgrad_tensor *clgrad_model_tensor(const clgrad_model *m, int i) { return &m->tensors[i]; }
int clgrad_model_nlayers(const clgrad_model *m) { return m->nlayers; }
const char *clgrad_model_layer_name(const clgrad_model *m, int l) { return m->layer_names[l]; }
cl_mem clgrad_model_params(const clgrad_model *m) { return m->params; }
cl_mem clgrad_model_grads(const clgrad_model *m) { return m->grads; }
cl_mem clgrad_model_logits(const clgrad_model *m) { return m->logits; }
const clgrad_segs *clgrad_model_param_segs(const clgrad_model *m) { return m->param_segs; }
size_t clgrad_model_seq_len(const clgrad_model *m) { return m->kind == CLGRAD_MODEL_RNN ? m->T : 1; }

static void add_tensor_(clgrad_model *m, const char *name, size_t rows, size_t cols, int layer, int is_bias)
{
    clgrad_tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = m->nparams;
    t->rows = rows, t->cols = cols, t->layer = layer, t->is_bias = is_bias;
    m->nparams += rows * cols;
}

void clgrad_model_free(clgrad_model *m)
{
    if (!m) return;
    clgrad_buf_free(&m->params);
    clgrad_buf_free(&m->grads);
    clgrad_buf_free(&m->fwd);
    clgrad_buf_free(&m->bwd);
    clgrad_buf_free(&m->logits);
    clgrad_segs_free(&m->param_segs);
    clgrad_segs_free(&m->gact_segs);
    free(m);
}

clgrad_status clgrad_model_create(clgrad_ctx *ctx, const clgrad_model_spec *s, clgrad_model **out)
{
    clgrad_status st = CLGRAD_OK;
    *out = NULL;
    if (s->in == 0 || s->out == 0 || s->max_batch == 0 || s->seq_len == 0 || s->nhidden < 0 ||
        s->nhidden > CLGRAD_MAX_LAYERS)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: invalid spec (in %zu, out %zu, batch %zu, hidden layers %d)",
                           s->in, s->out, s->max_batch, s->nhidden);
    if (s->kind == CLGRAD_MODEL_RNN && s->nhidden != 1)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: the rnn has exactly one recurrent layer (hidden = H), got %d",
                           s->nhidden);
    clgrad_model *m = calloc(1, sizeof *m);
    if (!m) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "model: out of memory");
    m->kind = s->kind;
    m->F = s->in, m->T = s->seq_len, m->K = s->out, m->max_batch = s->max_batch;
    m->nhidden = s->nhidden, m->bias = s->bias, m->act_param = s->act_param;
    for (int i = 0; i < s->nhidden; i++) {
        if (s->hidden[i] <= 0) { st = clgrad_fail(ctx, CLGRAD_E_ARG, "model: hidden width %ld", s->hidden[i]); goto fail; }
        m->hidden[i] = s->hidden[i];
        m->acts[i] = s->acts[i];
    }
    size_t Bm = s->max_batch, nf = 0, nb = 0;
    char name[48];
    if (m->kind == CLGRAD_MODEL_MLP) {
        m->nlin = s->nhidden + 1;
        m->width[0] = m->T * m->F;
        for (int l = 0; l < s->nhidden; l++) m->width[l + 1] = (size_t)s->hidden[l];
        m->width[m->nlin] = m->K;
        for (int l = 0; l < m->nlin; l++) {
            snprintf(name, sizeof name, "%d.weight", 2 * l);
            add_tensor_(m, name, m->width[l + 1], m->width[l], l, 0);
            if (m->bias) {
                snprintf(name, sizeof name, "%d.bias", 2 * l);
                add_tensor_(m, name, 1, m->width[l + 1], l, 1);
            }
            snprintf(m->layer_names[l], sizeof m->layer_names[l], "%d", 2 * l);
            /* forward: Z_l (B, w[l+1]) and, for hidden layers, H_l (B, w[l+1]) */
            m->z_off[l] = nf, nf += Bm * m->width[l + 1];
            if (l < m->nlin - 1) m->h_off[l] = nf, nf += Bm * m->width[l + 1];
            /* backward: dZ_l and dH_l (gradient at hidden layer l's output) */
            m->dz_off[l] = nb, nb += Bm * m->width[l + 1];
            if (l < m->nlin - 1) m->dh_off[l] = nb, nb += Bm * m->width[l + 1];
        }
        m->nlayers = m->nlin;
    } else {
        size_t H = (size_t)s->hidden[0], T = m->T;
        add_tensor_(m, "rnn.weight_ih_l0", H, m->F, 0, 0);
        add_tensor_(m, "rnn.weight_hh_l0", H, H, 0, 0);
        if (m->bias) add_tensor_(m, "rnn.bias_ih_l0", 1, H, 0, 1);
        add_tensor_(m, "fc.weight", m->K, H, 1, 0);
        if (m->bias) add_tensor_(m, "fc.bias", 1, m->K, 1, 1);
        snprintf(m->layer_names[0], sizeof m->layer_names[0], "rnn");
        snprintf(m->layer_names[1], sizeof m->layer_names[1], "fc");
        m->nlayers = 2;
        m->z_off[0] = 0, nf = T * Bm * H;          /* Z_t, t = 0..T-1 */
        m->h_off[0] = nf, nf += (T + 1) * Bm * H; /* H_t, t = 0..T (H_0 = 0) */
        m->dh_off[0] = 0, nb = T * Bm * H;         /* dH_t, t = 1..T */
        m->dz_off[1] = nb, nb += Bm * m->K;        /* dL/dlogits */
        m->dz_off[0] = nb, nb += Bm * H;           /* dZ scratch */
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, m->nparams, "parameters", &m->params));
    CLGRAD_TRY(clgrad_buf_new(ctx, m->nparams, "gradients", &m->grads));
    CLGRAD_TRY(clgrad_buf_new(ctx, nf, "forward activations", &m->fwd));
    CLGRAD_TRY(clgrad_buf_new(ctx, nb, "backward activations", &m->bwd));
    CLGRAD_TRY(clgrad_buf_new(ctx, Bm * m->K, "logits", &m->logits));
    {
        size_t off[CLGRAD_MODEL_MAX_TENSORS], len[CLGRAD_MODEL_MAX_TENSORS];
        for (int i = 0; i < m->ntensors; i++) off[i] = m->tensors[i].off, len[i] = m->tensors[i].rows * m->tensors[i].cols;
        CLGRAD_TRY(clgrad_segs_new(ctx, (size_t)m->ntensors, off, len, &m->param_segs));
    }
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_model_free(m);
    return st;
}

clgrad_status clgrad_model_init(clgrad_ctx *ctx, clgrad_model *m, const clgrad_init_cfg *w, const clgrad_init_cfg *b,
                                uint64_t seed)
{
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < m->ntensors; i++) {
        const clgrad_tensor *t = &m->tensors[i];
        /* fans of the weight the tensor belongs to (a bias uses its layer's weight fan_in) */
        size_t fan_in = t->cols, fan_out = t->rows;
        if (t->is_bias) fan_in = m->tensors[i - 1].cols, fan_out = m->tensors[i - 1].rows;
        /* PyTorch's nn.RNN default draws every recurrent tensor from U(+-1/sqrt(H)) */
        if (m->kind == CLGRAD_MODEL_RNN && t->layer == 0 && w->kind == CLGRAD_INIT_LINEAR_DEFAULT)
            fan_in = (size_t)m->hidden[0];
        const clgrad_init_cfg *c = t->is_bias ? b : w;
        if (!c) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->params, t->off, t->rows * t->cols, 0.0f));
            continue;
        }
        CLGRAD_TRY(clgrad_init_tensor(ctx, c, seed, (uint32_t)i, fan_in, fan_out, t->rows, t->cols, m->params, t->off));
    }
fail:
    return st;
}

/* Y (B, N) = X (B, K) W^T + b, W (N, K) at woff; b at boff (or none). */
static clgrad_status linear_(clgrad_ctx *ctx, cl_mem X, size_t xoff, size_t ldx, size_t B, size_t K, cl_mem P,
                             size_t woff, int has_bias, size_t boff, size_t N, cl_mem Y, size_t yoff, float beta)
{
    clgrad_status st = clgrad_gemm(ctx, 0, 1, B, N, K, 1.0f, X, xoff, ldx, P, woff, K, beta, Y, yoff, N);
    if (st == CLGRAD_OK && has_bias) st = clgrad_activation_bias_add(ctx, Y, yoff, B, N, P, boff);
    return st;
}

static clgrad_status mlp_forward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    int ti = 0;
    for (int l = 0; l < m->nlin; l++) {
        const clgrad_tensor *W = &m->tensors[ti++];
        const clgrad_tensor *b = m->bias ? &m->tensors[ti++] : NULL;
        cl_mem in = l == 0 ? x : m->fwd;
        size_t inoff = l == 0 ? xoff : m->h_off[l - 1];
        size_t N = m->width[l + 1], K = m->width[l];
        int last = l == m->nlin - 1;
        cl_mem zbuf = last ? m->logits : m->fwd;
        size_t zoff = last ? 0 : m->z_off[l];
        CLGRAD_TRY(linear_(ctx, in, inoff, K, B, K, m->params, W->off, b != NULL, b ? b->off : 0, N, zbuf, zoff, 0.0f));
        if (!last)
            CLGRAD_TRY(clgrad_activation_forward(ctx, m->acts[l], m->act_param, m->fwd, m->z_off[l], m->fwd,
                                                 m->h_off[l], B * N));
    }
fail:
    return st;
}

static clgrad_status mlp_backward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, cl_mem dlogits,
                                   size_t dloff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    int L = m->nlin - 1;
    /* keep dL/dlogits in the backward block: the last layer's dZ */
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), dlogits, m->bwd, dloff * sizeof(float),
                                           m->dz_off[L] * sizeof(float), B * m->K * sizeof(float), 0, NULL, NULL));
    for (int l = L; l >= 0; l--) {
        int per = m->bias ? 2 : 1;
        const clgrad_tensor *W = &m->tensors[l * per];
        const clgrad_tensor *b = m->bias ? &m->tensors[l * per + 1] : NULL;
        size_t N = m->width[l + 1], K = m->width[l];
        cl_mem in = l == 0 ? x : m->fwd;
        size_t inoff = l == 0 ? xoff : m->h_off[l - 1];
        /* dW (N, K) = dZ^T (N, B) . A_in (B, K) */
        CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, N, K, B, 1.0f, m->bwd, m->dz_off[l], N, in, inoff, K, 0.0f, m->grads, W->off, K));
        if (b) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, m->bwd, m->dz_off[l], B, N, 0.0f, m->grads, b->off));
        if (l == 0) break;
        /* dH_{l-1} (B, K) = dZ_l (B, N) . W (N, K); dZ_{l-1} = dH_{l-1} * f'(Z_{l-1}) */
        CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 0.0f, m->bwd,
                               m->dh_off[l - 1], K));
        CLGRAD_TRY(clgrad_activation_backward(ctx, m->acts[l - 1], m->act_param, m->fwd, m->z_off[l - 1], m->bwd,
                                              m->dh_off[l - 1], m->bwd, m->dz_off[l - 1], B * K));
    }
fail:
    return st;
}

/* Tensor indices of the RNN: W_ih, W_hh, [b], W_fc, [b_fc]. */
static void rnn_tensors_(const clgrad_model *m, const clgrad_tensor **wih, const clgrad_tensor **whh,
                         const clgrad_tensor **b, const clgrad_tensor **wfc, const clgrad_tensor **bfc)
{
    int i = 0;
    *wih = &m->tensors[i++];
    *whh = &m->tensors[i++];
    *b = m->bias ? &m->tensors[i++] : NULL;
    *wfc = &m->tensors[i++];
    *bfc = m->bias ? &m->tensors[i++] : NULL;
}

static clgrad_status rnn_forward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_tensor *wih, *whh, *b, *wfc, *bfc;
    rnn_tensors_(m, &wih, &whh, &b, &wfc, &bfc);
    size_t H = (size_t)m->hidden[0], T = m->T, F = m->F, BH = B * H;
    size_t hoff = m->h_off[0]; /* H_t at hoff + t*B*H */
    CLGRAD_TRY(clgrad_buf_fill(ctx, m->fwd, hoff, BH, 0.0f));
    for (size_t t = 0; t < T; t++) {
        size_t z = m->z_off[0] + t * BH;
        /* Z_t = X_t W_ih^T + H_t W_hh^T + b; X_t is column block t of x (B, T*F) */
        CLGRAD_TRY(clgrad_gemm(ctx, 0, 1, B, H, F, 1.0f, x, xoff + t * F, T * F, m->params, wih->off, F, 0.0f, m->fwd, z, H));
        CLGRAD_TRY(linear_(ctx, m->fwd, hoff + t * BH, H, B, H, m->params, whh->off, b != NULL, b ? b->off : 0, H, m->fwd,
                           z, 1.0f));
        CLGRAD_TRY(clgrad_activation_forward(ctx, m->acts[0], m->act_param, m->fwd, z, m->fwd, hoff + (t + 1) * BH, BH));
    }
    CLGRAD_TRY(linear_(ctx, m->fwd, hoff + T * BH, H, B, H, m->params, wfc->off, bfc != NULL, bfc ? bfc->off : 0, m->K,
                       m->logits, 0, 0.0f));
fail:
    return st;
}

static clgrad_status rnn_backward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, cl_mem dlogits,
                                   size_t dloff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_tensor *wih, *whh, *b, *wfc, *bfc;
    rnn_tensors_(m, &wih, &whh, &b, &wfc, &bfc);
    size_t H = (size_t)m->hidden[0], T = m->T, F = m->F, K = m->K, BH = B * H;
    size_t hoff = m->h_off[0], dl = m->dz_off[1], dz = m->dz_off[0];
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), dlogits, m->bwd, dloff * sizeof(float), dl * sizeof(float),
                                           B * K * sizeof(float), 0, NULL, NULL));
    /* output layer: dW_fc = dlogits^T H_T, db_fc = colsum, dH_T = dlogits W_fc */
    CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, K, H, B, 1.0f, m->bwd, dl, K, m->fwd, hoff + T * BH, H, 0.0f, m->grads, wfc->off, H));
    if (bfc) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, m->bwd, dl, B, K, 0.0f, m->grads, bfc->off));
    /* dH_t lives at dh_off + (t-1)*B*H */
    CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, H, K, 1.0f, m->bwd, dl, K, m->params, wfc->off, H, 0.0f, m->bwd,
                           m->dh_off[0] + (T - 1) * BH, H));
    for (size_t t = T; t >= 1; t--) {
        float beta = t == T ? 0.0f : 1.0f; /* first contribution overwrites, the rest accumulate */
        size_t dht = m->dh_off[0] + (t - 1) * BH;
        /* dZ_{t-1} = dH_t * f'(Z_{t-1}) */
        CLGRAD_TRY(clgrad_activation_backward(ctx, m->acts[0], m->act_param, m->fwd, m->z_off[0] + (t - 1) * BH, m->bwd,
                                              dht, m->bwd, dz, BH));
        /* dW_ih += dZ^T X_{t-1}; dW_hh += dZ^T H_{t-1}; db += colsum(dZ) */
        CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, H, F, B, 1.0f, m->bwd, dz, H, x, xoff + (t - 1) * F, T * F, beta, m->grads,
                               wih->off, F));
        CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, H, H, B, 1.0f, m->bwd, dz, H, m->fwd, hoff + (t - 1) * BH, H, beta, m->grads,
                               whh->off, H));
        if (b) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, m->bwd, dz, B, H, beta, m->grads, b->off));
        /* dH_{t-1} = dZ W_hh */
        if (t > 1)
            CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, H, H, 1.0f, m->bwd, dz, H, m->params, whh->off, H, 0.0f, m->bwd,
                                   dht - BH, H));
    }
fail:
    return st;
}

clgrad_status clgrad_model_forward(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    if (B == 0 || B > m->max_batch)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: batch %zu outside 1..%zu", B, m->max_batch);
    m->x = x, m->xoff = xoff;
    return m->kind == CLGRAD_MODEL_MLP ? mlp_forward_(ctx, m, x, xoff, B) : rnn_forward_(ctx, m, x, xoff, B);
}

clgrad_status clgrad_model_backward(clgrad_ctx *ctx, clgrad_model *m, cl_mem dlogits, size_t dloff, size_t B)
{
    if (B == 0 || B > m->max_batch || !m->x)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: backward without a forward pass of batch %zu", B);
    return m->kind == CLGRAD_MODEL_MLP ? mlp_backward_(ctx, m, m->x, m->xoff, dlogits, dloff, B)
                                       : rnn_backward_(ctx, m, m->x, m->xoff, dlogits, dloff, B);
}

/* ---- metrics ---- */

static size_t nsegs_(const clgrad_model *m) { return m->kind == CLGRAD_MODEL_MLP ? (size_t)m->nlin : m->T + 1; }

size_t clgrad_model_act_offset(const clgrad_model *m) { return CLGRAD_RS_SIZE * (nsegs_(m) + 1); }
size_t clgrad_model_metrics_size(const clgrad_model *m) { return clgrad_model_act_offset(m) + 3 * (size_t)m->nlayers; }

int clgrad_model_out_grad_seg(const clgrad_model *m, int layer)
{
    if (m->kind == CLGRAD_MODEL_MLP) return layer;
    return layer == 0 ? (int)m->T - 1 : (int)m->T;
}

static clgrad_status gact_segs_(clgrad_ctx *ctx, clgrad_model *m, size_t B)
{
    if (m->gact_segs && m->gact_B == B) return CLGRAD_OK;
    clgrad_segs_free(&m->gact_segs);
    size_t n = nsegs_(m);
    size_t *off = malloc(n * sizeof *off), *len = malloc(n * sizeof *len);
    if (!off || !len) {
        free(off), free(len);
        return clgrad_fail(ctx, CLGRAD_E_NOMEM, "model: out of memory");
    }
    if (m->kind == CLGRAD_MODEL_MLP) {
        for (int l = 0; l < m->nlin; l++) {
            int last = l == m->nlin - 1;
            off[l] = last ? m->dz_off[l] : m->dh_off[l];
            len[l] = B * m->width[l + 1];
        }
    } else {
        size_t BH = B * (size_t)m->hidden[0];
        for (size_t t = 0; t < m->T; t++) off[t] = m->dh_off[0] + t * BH, len[t] = BH;
        off[m->T] = m->dz_off[1], len[m->T] = B * m->K;
    }
    clgrad_status st = clgrad_segs_new(ctx, n, off, len, &m->gact_segs);
    free(off), free(len);
    if (st == CLGRAD_OK) m->gact_B = B;
    return st;
}

clgrad_status clgrad_model_metrics(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gact_segs_(ctx, m, B));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, m->bwd, 0, m->gact_segs, out, out_off));
    cl_kernel k = clgrad_kernel(ctx, "model_act_stats");
    if (!k) return CLGRAD_E_ARG;
    size_t aoff = out_off + clgrad_model_act_offset(m);
    for (int l = 0; l < m->nlayers; l++) {
        size_t o = aoff + 3 * (size_t)l;
        int hidden = m->kind == CLGRAD_MODEL_MLP ? l < m->nlin - 1 : l == 0;
        if (!hidden) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, out, o, 3, 0.0f));
            continue;
        }
        cl_int kind = (cl_int)m->acts[l], rows, cols;
        cl_ulong hoff, oo = o;
        if (m->kind == CLGRAD_MODEL_MLP) rows = (cl_int)B, cols = (cl_int)m->width[l + 1], hoff = m->h_off[l];
        else rows = (cl_int)(B * m->T), cols = (cl_int)m->hidden[0], hoff = m->h_off[0] + B * (size_t)m->hidden[0];
        CLGRAD_ARG(ctx, k, 0, kind);
        CLGRAD_ARG(ctx, k, 1, rows);
        CLGRAD_ARG(ctx, k, 2, cols);
        CLGRAD_ARG(ctx, k, 3, m->fwd);
        CLGRAD_ARG(ctx, k, 4, hoff);
        CLGRAD_ARG(ctx, k, 5, out);
        CLGRAD_ARG(ctx, k, 6, oo);
        size_t wg = clgrad_wg(ctx);
        CLGRAD_TRY(clgrad_launch(ctx, k, "model_act_stats", 1, &wg, &wg));
    }
fail:
    return st;
}
