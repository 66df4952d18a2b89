/*
** model.c: the MLP and the recurrent models (vanilla RNN, LSTM, GRU; L
** stacked layers): parameter layout, initialisation, forward, backward (full
** BPTT) and the per-layer and per-time-step metrics (the host replica of
** model_act_stats: src/check/model_check.c).  The recurrent cells are
** GEMMs (cl/matmul.cl), bias adds and activations (cl/activation.cl) plus the
** elementwise gate kernels of cl/model.cl (model_lstm_*, model_gru_*).
** Shapes: B batch, T time steps, F features per step, H width, K outputs,
** G gates (RNN 1, LSTM 4, GRU 3).
*/
#include "core/internal.h"
#include "clgrad/activation.h"
#include "clgrad/gemm.h"
#include "clgrad/init.h"
#include "clgrad/norm.h"
#include "clgrad/reduce.h"
#include "clgrad/model.h"
#include "nn/mlp_fused.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXL (CLGRAD_MAX_LAYERS + 2)
#define MAXR CLGRAD_MODEL_MAX_RLAYERS

/* The tensors of one recurrent layer (bih, bhh NULL when absent). */
typedef struct {
    const clgrad_tensor *wih, *whh, *bih, *bhh;
} rtensors_;

struct clgrad_model {
    clgrad_model_kind kind;
    size_t F, T, K, max_batch;
    int nhidden, bias;
    long hidden[MAXL];
    clgrad_act acts[MAXL];
    float act_param;
    double forget_bias;

    /* MLP: nlin = nhidden + 1 linear layers; width[0] = T*F, width[l+1] = out of layer l */
    int nlin;
    size_t width[MAXL + 1];

    /* recurrent: L layers of width H with G gates */
    int L, G;
    size_t H;
    rtensors_ rt[MAXR];
    int fcw, fcb; /* tensor indices of fc.weight and fc.bias (-1: none) */

    /* MLP with norms or residual blocks (ext): the generic path; see model.h.
    ** Per hidden layer l (width w[l+1]): fwd z_off Z = W h_in + b, n_off the
    ** norm's output (none: Norm(Z); pre: Norm(h_{l-1})), a_off the activation
    ** output (residual blocks), u_off (post) h_{l-1} + A, h_off the block
    ** output; bwd dz_off, dn_off, du_off (post: dU; pre: the norm's input
    ** gradient), dh_off.  Final norm: fn_off / dfn_off. */
    int ext, residual, final_norm, training, freeze;
    clgrad_normlayer normk;
    float eps;
    int nnorm;
    struct {
        int wt, bt, layer;
        size_t N, st_off, rm_off, rv_off;
        char prefix[16];
    } norms[MAXL + 1];
    int norm_of[MAXL], fnorm, lin_layer[MAXL], res[MAXL];
    size_t ma_off[MAXL], n_off[MAXL], u_off[MAXL], dn_off[MAXL], du_off[MAXL], fn_off, dfn_off;
    /* metric layer i: the gradient at its output (bwd out_off, out_n per row) and input (in_n 0: none) */
    size_t mo_off[MAXL * 2 + 2], mo_n[MAXL * 2 + 2], mi_off[MAXL * 2 + 2], mi_n[MAXL * 2 + 2];
    size_t mact_off[MAXL * 2 + 2];
    int mact_kind[MAXL * 2 + 2]; /* activation of the stats, -1: none (output layer) */
    cl_mem run;                  /* owned: batch norm running estimates */
    cl_mem halt;                 /* not owned: clgrad_model_set_halt's flag (NULL: none) */
    size_t halt_off;
    size_t nrun;
    long tracked;

    clgrad_tensor tensors[CLGRAD_MODEL_MAX_TENSORS];
    int ntensors;
    size_t nparams;
    int nlayers;
    char layer_names[MAXL * 2 + 2][32];

    cl_mem params, grads; /* owned: nparams floats each */
    cl_mem fwd;           /* owned: forward activations (see create) */
    cl_mem bwd;           /* owned: gradient activations (see the metrics layout) */
    cl_mem logits;        /* owned: (max_batch, K) */
    /* MLP: Z_l and H_l in fwd, dZ_l and dH_l in bwd, per batch row count max_batch */
    size_t z_off[MAXL], h_off[MAXL];
    size_t dz_off[MAXL], dh_off[MAXL];
    /* recurrent: everything is time-major, so the input-side GEMMs of a layer
    ** (x W_ih^T for all t, and in backward dW_ih, dW_hh, the bias gradients
    ** and the gradient to the layer below) are one GEMM over T*B rows each;
    ** only h W_hh^T and the cell run step by step.  Per layer l (regions
    ** sized for max_batch, indexed with the batch B in use):
    **   fwd: a_off[l]  RNN Z_t (T, B, H) pre-activations; LSTM the activated gates
    **                  [i f g o] (T, B, 4H); GRU [r z n hn] (T, B, 4H), hn = h W_hn^T + b_hn
    **        h_off[l]  H_t (T+1, B, H), H_0 = 0;  c_off[l] (LSTM) C_t (T+1, B, H), C_0 = 0
    **   shared: xt_off  the input x (B, T, F) made time-major (T, B, F)
    **        xw_off (GRU) x W_ih^T + b_ih for all t (T, B, 3H);  gh_off (GRU) h W_hh^T (B, 3H)
    **   bwd: dh_off[l] dH_t (T, B, H), t = 1..T;  dc_off[l] (LSTM) dC_t (T, B, H)
    **        dl_off dL/dlogits (B, K);  shared: dg_off dZ / dG for all t (T, B, GH),
    **        dgh_off (GRU) dGh for all t (T, B, 3H)
    **   fwd: rw_off  W_hh (and a folded layer's W_ih^T) made 32-column padded for the
    **                one-launch kernels (rec_pad_);  after it tc_off[l] (LSTM) tanh(C_t)
    **                (T, B, H), t = 1..T, the one-launch forward's for its backward */
    size_t a_off[MAXR], c_off[MAXR], dc_off[MAXR], tc_off[MAXR], xt_off, xw_off, gh_off, dl_off, dg_off, dgh_off, rw_off;
    clgrad_segs *param_segs;           /* owned: one segment per tensor */
    clgrad_segs *gact_segs;            /* owned: for the batch size gact_B */
    size_t gact_B;
    clgrad_segs *hid_segs;             /* owned: the hidden layers' outputs for the batch size hid_B */
    size_t hid_B;
    cl_mem act_tab;  /* owned: model_act_stats_all's table for the batch size act_B (NULL: none yet) */
    size_t act_B;
    cl_mem mlp_tab, mlp_terms; /* owned: the fused pass's layer table and loss terms (src/nn/mlp_fused.c), or NULL */
    cl_mem x;    /* borrowed: the input of the last forward pass, read by backward */
    size_t xoff;
};

static const char *const kind_names_[] = {"mlp", "rnn", "lstm", "gru"};

int clgrad_model_kind_parse(const char *name)
{
    for (int k = 0; name && k < 4; k++)
        if (strcmp(name, kind_names_[k]) == 0) return k;
    return -1;
}

const char *clgrad_model_kind_name(clgrad_model_kind kind) { return (unsigned)kind < 4 ? kind_names_[kind] : "?"; }

static int recurrent_(const clgrad_model *m) { return m->kind != CLGRAD_MODEL_MLP; }

static const char *const residual_names_[] = {"none", "pre", "post"};

int clgrad_residual_parse(const char *name)
{
    for (int k = 0; name && k < 3; k++)
        if (strcmp(name, residual_names_[k]) == 0) return k;
    return -1;
}

const char *clgrad_residual_name(int residual) { return (unsigned)residual < 3 ? residual_names_[residual] : "?"; }

int clgrad_model_nbuffers(const clgrad_model *m) { return m->nrun ? m->nnorm : 0; }
cl_mem clgrad_model_running(const clgrad_model *m) { return m->run; }
void clgrad_model_buffer(const clgrad_model *m, int i, const char **prefix, size_t *n, size_t *mean_off,
                         size_t *var_off)
{
    *prefix = m->norms[i].prefix, *n = m->norms[i].N, *mean_off = m->norms[i].rm_off, *var_off = m->norms[i].rv_off;
}
long clgrad_model_batches_tracked(const clgrad_model *m) { return m->tracked; }
void clgrad_model_set_batches_tracked(clgrad_model *m, long n) { m->tracked = n; }
void clgrad_model_set_training(clgrad_model *m, int training) { m->training = training != 0; }
void clgrad_model_freeze_running(clgrad_model *m, int freeze) { m->freeze = freeze != 0; }
void clgrad_model_set_halt(clgrad_model *m, cl_mem flag, size_t off) { m->halt = flag, m->halt_off = off; }

clgrad_model_kind clgrad_model_get_kind(const clgrad_model *m) { return m->kind; }
size_t clgrad_model_nparams(const clgrad_model *m) { return m->nparams; }
int clgrad_model_ntensors(const clgrad_model *m) { return m->ntensors; }
const clgrad_tensor *clgrad_model_tensor(const clgrad_model *m, int i) { return &m->tensors[i]; }
int clgrad_model_nlayers(const clgrad_model *m) { return m->nlayers; }
const char *clgrad_model_layer_name(const clgrad_model *m, int l) { return m->layer_names[l]; }
cl_mem clgrad_model_params(const clgrad_model *m) { return m->params; }
cl_mem clgrad_model_grads(const clgrad_model *m) { return m->grads; }
cl_mem clgrad_model_logits(const clgrad_model *m) { return m->logits; }
const clgrad_segs *clgrad_model_param_segs(const clgrad_model *m) { return m->param_segs; }
size_t clgrad_model_seq_len(const clgrad_model *m) { return recurrent_(m) ? m->T : 1; }
int clgrad_model_rlayers(const clgrad_model *m) { return recurrent_(m) ? m->L : 0; }
int clgrad_model_has_cell(const clgrad_model *m) { return m->kind == CLGRAD_MODEL_LSTM; }

static int add_tensor_(clgrad_model *m, const char *name, size_t rows, size_t cols, int layer, int is_bias)
{
    clgrad_tensor *t = &m->tensors[m->ntensors];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = m->nparams;
    t->rows = rows, t->cols = cols, t->layer = layer, t->is_bias = is_bias, t->norm = 0;
    m->nparams += rows * cols;
    return m->ntensors++;
}

void clgrad_model_free(clgrad_model *m)
{
    if (!m) return;
    clgrad_buf_free(&m->params);
    clgrad_buf_free(&m->grads);
    clgrad_buf_free(&m->fwd);
    clgrad_buf_free(&m->bwd);
    clgrad_buf_free(&m->logits);
    clgrad_buf_free(&m->run);
    if (m->mlp_tab) clReleaseMemObject(m->mlp_tab);
    if (m->act_tab) clReleaseMemObject(m->act_tab);
    clgrad_buf_free(&m->mlp_terms);
    clgrad_segs_free(&m->param_segs);
    clgrad_segs_free(&m->gact_segs);
    clgrad_segs_free(&m->hid_segs);
    free(m);
}

/* A norm layer of width N at Sequential index idx, metric layer `layer`. */
static int add_norm_(clgrad_model *m, int idx, size_t N, int layer, size_t Bm, size_t *nf)
{
    char name[48];
    int i = m->nnorm++;
    snprintf(m->norms[i].prefix, sizeof m->norms[i].prefix, "%d", idx);
    snprintf(name, sizeof name, "%d.weight", idx);
    m->norms[i].wt = add_tensor_(m, name, 1, N, layer, 0);
    m->tensors[m->norms[i].wt].norm = 1;
    m->norms[i].bt = -1;
    if (m->normk != CLGRAD_NL_RMS) {
        snprintf(name, sizeof name, "%d.bias", idx);
        m->norms[i].bt = add_tensor_(m, name, 1, N, layer, 1);
        m->tensors[m->norms[i].bt].norm = 2;
    }
    m->norms[i].N = N, m->norms[i].layer = layer;
    m->norms[i].st_off = *nf, *nf += 2 * (Bm > N ? Bm : N);
    if (m->normk == CLGRAD_NL_BATCH) m->norms[i].rm_off = m->nrun, m->norms[i].rv_off = m->nrun + N, m->nrun += 2 * N;
    snprintf(m->layer_names[layer], sizeof m->layer_names[layer], "%s_%d", clgrad_normlayer_name(m->normk), idx);
    return i;
}

/* The final norm before the output Linear (input K): its tensors, buffers and metric layer. */
static void mlp_final_norm_(clgrad_model *m, int l, size_t K, int *idx, int *pml, size_t Bm, size_t *nf, size_t *nb)
{
    int ml = (*pml)++;
    m->fnorm = add_norm_(m, (*idx)++, K, ml, Bm, nf);
    m->mo_off[ml] = *nb, m->mo_n[ml] = K, m->mi_off[ml] = m->dh_off[l - 1], m->mi_n[ml] = K;
    m->fn_off = *nf, *nf += Bm * K;
    m->dfn_off = *nb, *nb += Bm * K;
    m->mact_off[ml] = m->fn_off, m->mact_kind[ml] = CLGRAD_ACT_IDENTITY;
}

/* The pre-LN norm of residual block l (on its input, width K): tensors, buffers, metric layer. */
static void mlp_pre_norm_(clgrad_model *m, int l, size_t K, int *idx, int *pml, size_t Bm, size_t *nf, size_t *nb)
{
    int ml = (*pml)++;
    m->norm_of[l] = add_norm_(m, (*idx)++, K, ml, Bm, nf);
    m->n_off[l] = *nf, *nf += Bm * K;
    m->dn_off[l] = *nb, *nb += Bm * K;
    m->du_off[l] = *nb, *nb += Bm * K;
    m->mo_off[ml] = m->dn_off[l], m->mo_n[ml] = K, m->mi_off[ml] = m->du_off[l], m->mi_n[ml] = K;
    m->mact_off[ml] = m->n_off[l], m->mact_kind[ml] = CLGRAD_ACT_IDENTITY;
}

/* The norm of hidden layer l (width N) without residual (before the activation) or post-LN (after the add). */
static void mlp_post_norm_(clgrad_model *m, int l, size_t N, int *idx, int *pml, size_t Bm, size_t *nf, size_t *nb)
{
    int ml = (*pml)++;
    /* none: Norm after the Linear (before the activation); post: after the add */
    int none = m->residual == CLGRAD_RES_NONE;
    m->norm_of[l] = add_norm_(m, none ? *idx - 1 : *idx, N, ml, Bm, nf);
    if (none) {
        /* the norm sits between the Linear and the activation: Sequential index 3l+1 */
        m->n_off[l] = *nf, *nf += Bm * N;
        m->dn_off[l] = *nb, *nb += Bm * N;
        m->mo_off[ml] = m->dn_off[l], m->mi_off[ml] = m->dz_off[l];
        m->mact_off[ml] = m->n_off[l];
    } else {
        m->u_off[l] = *nf, *nf += Bm * N;
        m->du_off[l] = *nb, *nb += Bm * N;
        m->mo_off[ml] = m->dh_off[l], m->mi_off[ml] = m->du_off[l];
        m->mact_off[ml] = m->h_off[l];
    }
    m->mo_n[ml] = m->mi_n[ml] = N;
    m->mact_kind[ml] = CLGRAD_ACT_IDENTITY;
    (*idx)++;
}

/* The MLP with norm layers and/or residual blocks: tensors, buffer regions and metric layers. */
static void mlp_ext_layout_(clgrad_model *m, size_t Bm, size_t *nf, size_t *nb)
{
    char name[48];
    int idx = 0, ml = 0, L = m->nlin - 1;
    for (int l = 0; l <= L; l++) {
        size_t N = m->width[l + 1], K = m->width[l];
        int last = l == L;
        m->res[l] = !last && l >= 1 && m->residual != CLGRAD_RES_NONE;
        m->norm_of[l] = -1;
        int has_norm = !last && m->normk != CLGRAD_NL_NONE && (m->residual == CLGRAD_RES_NONE || m->res[l]);
        int pre = m->res[l] && m->residual == CLGRAD_RES_PRE;
        if (last && m->final_norm) mlp_final_norm_(m, l, K, &idx, &ml, Bm, nf, nb);
        if (has_norm && pre) mlp_pre_norm_(m, l, K, &idx, &ml, Bm, nf, nb);
        snprintf(name, sizeof name, "%d.weight", idx);
        add_tensor_(m, name, N, K, ml, 0);
        if (m->bias) {
            snprintf(name, sizeof name, "%d.bias", idx);
            add_tensor_(m, name, 1, N, ml, 1);
        }
        snprintf(m->layer_names[ml], sizeof m->layer_names[ml], "linear_%d", idx);
        m->lin_layer[l] = ml;
        int lml = ml++;
        idx++;
        m->z_off[l] = *nf, *nf += Bm * N;
        m->dz_off[l] = *nb, *nb += Bm * N;
        if (last) {
            m->mo_off[lml] = m->dz_off[l], m->mo_n[lml] = N;
            m->mi_off[lml] = m->fnorm >= 0 ? m->dfn_off : m->dh_off[l - 1], m->mi_n[lml] = l > 0 ? K : 0;
            m->mact_kind[lml] = -1;
            break;
        }
        idx++; /* the activation */
        m->h_off[l] = *nf, *nf += Bm * N;
        m->dh_off[l] = *nb, *nb += Bm * N;
        m->mo_off[lml] = m->dh_off[l], m->mo_n[lml] = N;
        m->mi_off[lml] = l > 0 ? m->dh_off[l - 1] : 0, m->mi_n[lml] = l > 0 ? K : 0;
        m->mact_off[lml] = m->h_off[l], m->mact_kind[lml] = (int)m->acts[l];
        if (m->res[l]) m->ma_off[l] = *nf, *nf += Bm * N;
        if (has_norm && !pre) mlp_post_norm_(m, l, N, &idx, &ml, Bm, nf, nb);
    }
    m->nlayers = ml;
}

/* The plain MLP (Linear, activation, ...): tensors, buffer regions and metric layers. */
static void mlp_plain_layout_(clgrad_model *m, size_t Bm, size_t *nf, size_t *nb)
{
    char name[48];
    for (int l = 0; l < m->nlin; l++) {
        snprintf(name, sizeof name, "%d.weight", 2 * l);
        add_tensor_(m, name, m->width[l + 1], m->width[l], l, 0);
        if (m->bias) {
            snprintf(name, sizeof name, "%d.bias", 2 * l);
            add_tensor_(m, name, 1, m->width[l + 1], l, 1);
        }
        snprintf(m->layer_names[l], sizeof m->layer_names[l], "linear_%d", 2 * l); /* never a bare number: layers.csv's layer column is text for every model */
        /* forward: Z_l (B, w[l+1]) and, for hidden layers, H_l (B, w[l+1]) */
        m->z_off[l] = *nf, *nf += Bm * m->width[l + 1];
        if (l < m->nlin - 1) m->h_off[l] = *nf, *nf += Bm * m->width[l + 1];
        /* backward: dZ_l and dH_l (gradient at hidden layer l's output) */
        m->dz_off[l] = *nb, *nb += Bm * m->width[l + 1];
        if (l < m->nlin - 1) m->dh_off[l] = *nb, *nb += Bm * m->width[l + 1];
        m->lin_layer[l] = l;
    }
    m->nlayers = m->nlin;
    for (int l = 0; l < m->nlin; l++) {
        int last = l == m->nlin - 1;
        m->mo_off[l] = last ? m->dz_off[l] : m->dh_off[l], m->mo_n[l] = m->width[l + 1];
        m->mi_off[l] = l > 0 ? m->dh_off[l - 1] : 0, m->mi_n[l] = l > 0 ? m->width[l] : 0;
        m->mact_off[l] = last ? 0 : m->h_off[l], m->mact_kind[l] = last ? -1 : (int)m->acts[l];
    }
}

/* Tensors and buffer regions of the MLP; returns the fwd and bwd sizes. */
static void mlp_layout_(clgrad_model *m, const clgrad_model_spec *s, size_t *nf, size_t *nb)
{
    m->nlin = s->nhidden + 1;
    m->width[0] = m->T * m->F;
    for (int l = 0; l < s->nhidden; l++) m->width[l + 1] = (size_t)s->hidden[l];
    m->width[m->nlin] = m->K;
    m->fnorm = -1;
    if (m->ext)
        mlp_ext_layout_(m, s->max_batch, nf, nb);
    else
        mlp_plain_layout_(m, s->max_batch, nf, nb);
}

/* the one-launch kernels' constants (cl/model.cl: model_rec_*) */
#define REC_MR 8    /* rows per work-item of the kernels' GEMM (REC_MR in cl/model.cl) */
#define REC_XFOLD 8 /* the most inputs of a layer whose input side the forward kernel computes (cl/model.cl) */

/* Tensors and buffer regions of a recurrent model (see the struct). */
static void rec_layout_(clgrad_model *m, const clgrad_model_spec *s, size_t *nf, size_t *nb)
{
    size_t Bm = s->max_batch, H = m->H, T = m->T, GH = (size_t)m->G * H, BH = Bm * H;
    int two_bias = m->kind != CLGRAD_MODEL_RNN;
    char name[48];
    for (int l = 0; l < m->L; l++) {
        size_t Fin = l == 0 ? m->F : H;
        rtensors_ *r = &m->rt[l];
        snprintf(name, sizeof name, "rnn.weight_ih_l%d", l);
        r->wih = &m->tensors[add_tensor_(m, name, GH, Fin, l, 0)];
        snprintf(name, sizeof name, "rnn.weight_hh_l%d", l);
        r->whh = &m->tensors[add_tensor_(m, name, GH, H, l, 0)];
        r->bih = r->bhh = NULL;
        if (m->bias) {
            snprintf(name, sizeof name, "rnn.bias_ih_l%d", l);
            r->bih = &m->tensors[add_tensor_(m, name, 1, GH, l, 1)];
            if (two_bias) {
                snprintf(name, sizeof name, "rnn.bias_hh_l%d", l);
                r->bhh = &m->tensors[add_tensor_(m, name, 1, GH, l, 1)];
            }
        }
        if (m->L == 1) snprintf(m->layer_names[l], sizeof m->layer_names[l], "rnn");
        else snprintf(m->layer_names[l], sizeof m->layer_names[l], "rnn_l%d", l);
        size_t per = m->kind == CLGRAD_MODEL_RNN ? BH : 4 * BH; /* a_off region per step */
        m->a_off[l] = *nf, *nf += T * per;
        m->h_off[l] = *nf, *nf += (T + 1) * BH;
        if (m->kind == CLGRAD_MODEL_LSTM) m->c_off[l] = *nf, *nf += (T + 1) * BH;
        m->dh_off[l] = *nb, *nb += T * BH;
        if (m->kind == CLGRAD_MODEL_LSTM) m->dc_off[l] = *nb, *nb += T * BH;
    }
    m->xt_off = *nf, *nf += T * Bm * m->F;
    m->fcw = add_tensor_(m, "fc.weight", m->K, H, m->L, 0);
    m->fcb = m->bias ? add_tensor_(m, "fc.bias", 1, m->K, m->L, 1) : -1;
    snprintf(m->layer_names[m->L], sizeof m->layer_names[m->L], "fc");
    m->nlayers = m->L + 1;
    if (m->kind == CLGRAD_MODEL_GRU) {
        m->xw_off = *nf, *nf += T * 3 * BH;
        m->gh_off = *nf, *nf += 3 * BH;
    }
    m->dl_off = *nb, *nb += Bm * m->K;
    m->dg_off = *nb, *nb += T * Bm * GH;
    if (m->kind == CLGRAD_MODEL_GRU) m->dgh_off = *nb, *nb += T * 3 * BH;
    /* last in fwd (clgrad_model_work): W_hh^T (H, p32) and a folded layer's W_ih^T
    ** (at most REC_XFOLD rows, p32) or W_hh (GH, h32) */
    size_t p32 = (GH + 31) / 32 * 32, h32 = (H + 31) / 32 * 32;
    m->rw_off = *nf, *nf += (H + REC_XFOLD) * p32 > GH * h32 ? (H + REC_XFOLD) * p32 : GH * h32;
    for (int l = 0; l < m->L && m->kind == CLGRAD_MODEL_LSTM; l++) m->tc_off[l] = *nf, *nf += T * BH;
}

static size_t nsegs_(const clgrad_model *m);

/* The model of spec s with its tensors and buffer regions laid out, nothing
** allocated on the device; *nf and *nb get the fwd and bwd sizes. */
static clgrad_status model_layout_(clgrad_ctx *ctx, const clgrad_model_spec *s, clgrad_model **out, size_t *nf,
                                   size_t *nb)
{
    clgrad_status st = CLGRAD_OK;
    *out = NULL;
    if (s->in == 0 || s->out == 0 || s->max_batch == 0 || s->seq_len == 0 || s->nhidden < 0 ||
        s->nhidden > CLGRAD_MAX_LAYERS || (unsigned)s->kind > CLGRAD_MODEL_GRU)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: invalid spec (kind %d, in %zu, out %zu, batch %zu, hidden layers %d)",
                           (int)s->kind, s->in, s->out, s->max_batch, s->nhidden);
    int L = s->layers > 0 ? s->layers : 1;
    if (s->kind != CLGRAD_MODEL_MLP && (s->nhidden != 1 || L > MAXR))
        return clgrad_fail(ctx, CLGRAD_E_ARG,
                           "model: a recurrent model has one width (hidden = H, got %d widths) and 1..%d layers (got %d)",
                           s->nhidden, MAXR, L);
    if (s->kind == CLGRAD_MODEL_LSTM && !isnan(s->forget_bias) && (!s->bias || !isfinite(s->forget_bias)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: forget_bias %g needs bias and a finite value", s->forget_bias);
    clgrad_model *m = calloc(1, sizeof *m);
    if (!m) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "model: out of memory");
    m->kind = s->kind;
    m->F = s->in, m->T = s->seq_len, m->K = s->out, m->max_batch = s->max_batch;
    m->nhidden = s->nhidden, m->bias = s->bias, m->act_param = s->act_param;
    m->forget_bias = s->kind == CLGRAD_MODEL_LSTM ? s->forget_bias : NAN;
    m->training = 1;
    if (s->kind == CLGRAD_MODEL_MLP) {
        m->normk = s->norm, m->residual = s->residual, m->final_norm = s->final_norm;
        m->eps = (float)(isnan(s->norm_eps) || s->norm_eps == 0 ? clgrad_normlayer_default_eps(s->norm) : s->norm_eps);
        m->ext = s->norm != CLGRAD_NL_NONE || s->residual != CLGRAD_RES_NONE;
        if ((unsigned)s->norm > CLGRAD_NL_BATCH || (unsigned)s->residual > CLGRAD_RES_POST ||
            (s->final_norm && (s->norm == CLGRAD_NL_NONE || s->nhidden < 1)) || !(m->eps > 0.0f) || !isfinite(m->eps)) {
            st = clgrad_fail(ctx, CLGRAD_E_ARG, "model: invalid norm %d / residual %d / final_norm %d / eps %g",
                             (int)s->norm, s->residual, s->final_norm, (double)m->eps);
            goto fail;
        }
        for (int i = 1; s->residual != CLGRAD_RES_NONE && i < s->nhidden; i++)
            if (s->hidden[i] != s->hidden[i - 1]) {
                st = clgrad_fail(ctx, CLGRAD_E_ARG,
                                 "model: residual block %d needs equal input and output widths (hidden layers %d and "
                                 "%d: %ld and %ld)",
                                 i + 1, i, i + 1, s->hidden[i - 1], s->hidden[i]);
                goto fail;
            }
    } else if (s->norm != CLGRAD_NL_NONE || s->residual != CLGRAD_RES_NONE || s->final_norm) {
        st = clgrad_fail(ctx, CLGRAD_E_ARG, "model: norm and residual are MLP options");
        goto fail;
    }
    for (int i = 0; i < s->nhidden; i++) {
        if (s->hidden[i] <= 0) { st = clgrad_fail(ctx, CLGRAD_E_ARG, "model: hidden width %ld", s->hidden[i]); goto fail; }
        m->hidden[i] = s->hidden[i];
        m->acts[i] = s->acts[i];
    }
    *nf = 0, *nb = 0;
    m->fcw = m->fcb = -1;
    if (m->kind == CLGRAD_MODEL_MLP) {
        mlp_layout_(m, s, nf, nb);
    } else {
        m->L = L;
        m->H = (size_t)s->hidden[0];
        m->G = m->kind == CLGRAD_MODEL_LSTM ? 4 : m->kind == CLGRAD_MODEL_GRU ? 3 : 1;
        rec_layout_(m, s, nf, nb);
    }
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_model_free(m);
    return st;
}

clgrad_status clgrad_model_sizes_of(clgrad_ctx *ctx, const clgrad_model_spec *s, clgrad_model_sizes *out)
{
    clgrad_model *m;
    size_t nf, nb;
    memset(out, 0, sizeof *out);
    clgrad_status st = model_layout_(ctx, s, &m, &nf, &nb);
    if (st != CLGRAD_OK) return st;
    out->params = m->nparams, out->fwd = nf + m->nrun, out->bwd = nb, out->logits = s->max_batch * m->K;
    out->ntensors = m->ntensors;
    out->metrics = clgrad_model_metrics_size(m);
    out->nlayers = m->nlayers;
    for (int i = 0; i < m->ntensors; i++) out->rows += m->tensors[i].rows;
    out->table_bytes = (3 * (size_t)m->ntensors + 1) * sizeof(cl_ulong) + (3 * nsegs_(m) + 1) * sizeof(cl_ulong);
    clgrad_model_free(m);
    return CLGRAD_OK;
}

clgrad_status clgrad_model_create(clgrad_ctx *ctx, const clgrad_model_spec *s, clgrad_model **out)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_model *m = NULL;
    size_t nf, nb;
    *out = NULL;
    CLGRAD_TRY(model_layout_(ctx, s, &m, &nf, &nb));
    CLGRAD_TRY(clgrad_buf_new(ctx, m->nparams, "parameters", &m->params));
    CLGRAD_TRY(clgrad_buf_new(ctx, m->nparams, "gradients", &m->grads));
    CLGRAD_TRY(clgrad_buf_new(ctx, nf, "forward activations", &m->fwd));
    CLGRAD_TRY(clgrad_buf_new(ctx, nb, "backward activations", &m->bwd));
    CLGRAD_TRY(clgrad_buf_new(ctx, s->max_batch * m->K, "logits", &m->logits));
    if (m->nrun) {
        CLGRAD_TRY(clgrad_buf_new(ctx, m->nrun, "batch norm running estimates", &m->run));
        for (int i = 0; i < m->nnorm; i++) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->run, m->norms[i].rm_off, m->norms[i].N, 0.0f));
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->run, m->norms[i].rv_off, m->norms[i].N, 1.0f));
        }
    }
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
        if (t->norm) { /* nn.LayerNorm / RMSNorm / BatchNorm1d reset_parameters: weight 1, bias 0 */
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->params, t->off, t->cols, t->norm == 1 ? 1.0f : 0.0f));
            continue;
        }
        /* fans of the weight the tensor belongs to (a bias uses its layer's weight fan_in) */
        size_t fan_in = t->cols, fan_out = t->rows;
        if (t->is_bias) fan_in = m->tensors[i - 1].cols, fan_out = m->tensors[i - 1].rows;
        /* PyTorch's nn.RNN/LSTM/GRU default draws every recurrent tensor from U(+-1/sqrt(H)) */
        if (recurrent_(m) && t->layer < m->L && w->kind == CLGRAD_INIT_LINEAR_DEFAULT) fan_in = m->H;
        const clgrad_init_cfg *c = t->is_bias ? b : w;
        if (!c) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->params, t->off, t->rows * t->cols, 0.0f));
            continue;
        }
        CLGRAD_TRY(clgrad_init_tensor(ctx, c, seed, (uint32_t)i, fan_in, fan_out, t->rows, t->cols, m->params, t->off));
    }
    m->tracked = 0;
    for (int i = 0; m->nrun && i < m->nnorm; i++) {
        CLGRAD_TRY(clgrad_buf_fill(ctx, m->run, m->norms[i].rm_off, m->norms[i].N, 0.0f));
        CLGRAD_TRY(clgrad_buf_fill(ctx, m->run, m->norms[i].rv_off, m->norms[i].N, 1.0f));
    }
    if (m->kind == CLGRAD_MODEL_LSTM && !isnan(m->forget_bias) && m->bias)
        for (int l = 0; l < m->L; l++) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->params, m->rt[l].bih->off + m->H, m->H, (float)m->forget_bias));
            CLGRAD_TRY(clgrad_buf_fill(ctx, m->params, m->rt[l].bhh->off + m->H, m->H, 0.0f));
        }
fail:
    return st;
}

/* Y (B, N) = X (B, K) W^T + b, W (N, K) at woff; b at boff (or none). */
static clgrad_status linear_(clgrad_ctx *ctx, cl_mem X, size_t xoff, size_t ldx, size_t B, size_t K, cl_mem P,
                             size_t woff, int has_bias, size_t boff, size_t N, cl_mem Y, size_t yoff, float beta)
{
    return clgrad_gemm_bias(ctx, 0, 1, B, N, K, 1.0f, X, xoff, ldx, P, woff, K, beta, Y, yoff, N, has_bias ? P : NULL,
                            boff);
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
        if (last) {
            CLGRAD_TRY(linear_(ctx, in, inoff, K, B, K, m->params, W->off, b != NULL, b ? b->off : 0, N, zbuf, zoff, 0.0f));
            continue;
        }
        /* Z = X W^T + b and H = f(Z) in one GEMM (its epilogue) */
        clgrad_gemm_epilogue e = {0};
        e.bias = b ? m->params : NULL, e.bias_off = b ? b->off : 0;
        e.kind = CLGRAD_EPI_ACT, e.act = m->acts[l], e.act_param = m->act_param;
        e.e = m->fwd, e.e_off = m->h_off[l], e.lde = N;
        CLGRAD_TRY(clgrad_gemm_fused(ctx, 0, 1, B, N, K, 1.0f, in, inoff, K, m->params, W->off, K, 0.0f, zbuf, zoff, N, &e));
    }
fail:
    return st;
}

/* The norm arguments of norm instance i at batch B. */
static clgrad_norm_args nargs_(const clgrad_model *m, int i, size_t B)
{
    clgrad_norm_args a = {0};
    a.kind = m->normk, a.B = B, a.N = m->norms[i].N, a.eps = m->eps;
    a.p = m->params, a.woff = m->tensors[m->norms[i].wt].off;
    a.has_bias = m->norms[i].bt >= 0, a.boff = a.has_bias ? m->tensors[m->norms[i].bt].off : 0;
    a.st = m->fwd, a.soff = m->norms[i].st_off;
    a.training = m->training, a.momentum = 0.1f, a.freeze = m->freeze;
    a.run = m->run ? m->run : m->fwd, a.rmoff = m->norms[i].rm_off, a.rvoff = m->norms[i].rv_off;
    a.halt = m->halt, a.halt_off = m->halt_off;
    return a;
}

static clgrad_status norm_fwd_(clgrad_ctx *ctx, clgrad_model *m, int i, size_t B, size_t xoff, size_t yoff)
{
    clgrad_norm_args a = nargs_(m, i, B);
    return clgrad_norm_forward(ctx, &a, m->fwd, xoff, m->fwd, yoff);
}

/* the norm's backward: dx (+)= from dy, and its parameter gradients */
static clgrad_status norm_bwd_(clgrad_ctx *ctx, clgrad_model *m, int i, size_t B, size_t xoff, size_t dyoff,
                               size_t dxoff, int acc)
{
    clgrad_norm_args a = nargs_(m, i, B);
    const clgrad_tensor *w = &m->tensors[m->norms[i].wt], *b = m->norms[i].bt >= 0 ? &m->tensors[m->norms[i].bt] : NULL;
    return clgrad_norm_backward(ctx, &a, m->fwd, xoff, m->bwd, dyoff, m->bwd, dxoff, acc, m->grads, w->off,
                                b ? b->off : 0);
}

/* The weight and bias tensors of Linear l (the table order: see mlp_layout_). */
static void lin_tensors_(const clgrad_model *m, int l, const clgrad_tensor **W, const clgrad_tensor **b)
{
    int ml = m->lin_layer[l];
    *W = *b = NULL;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].layer == ml && !m->tensors[i].norm) {
            if (m->tensors[i].is_bias) *b = &m->tensors[i];
            else *W = &m->tensors[i];
        }
}

/* The input of Linear l: x, h_{l-1}, Norm(h_{l-1}) (pre), or the final norm's output. */
static size_t lin_in_(const clgrad_model *m, int l, int *is_x)
{
    *is_x = l == 0;
    if (l == 0) return 0;
    if (l == m->nlin - 1 && m->fnorm >= 0) return m->fn_off;
    if (m->res[l] && m->residual == CLGRAD_RES_PRE && m->norm_of[l] >= 0) return m->n_off[l];
    return m->h_off[l - 1];
}

static clgrad_status mlp_ext_forward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    int L = m->nlin - 1;
    if (m->nrun && m->training) {
        if (B < 2)
            return clgrad_fail(ctx, CLGRAD_E_ARG,
                               "batchnorm: training needs more than 1 value per feature (batch of %zu), as PyTorch's "
                               "BatchNorm1d",
                               B);
        if (!m->freeze) m->tracked++;
    }
    for (int l = 0; l <= L; l++) {
        const clgrad_tensor *W, *b;
        lin_tensors_(m, l, &W, &b);
        size_t N = m->width[l + 1], K = m->width[l];
        int isx, ni = m->norm_of[l], last = l == L;
        if (last && m->fnorm >= 0) CLGRAD_TRY(norm_fwd_(ctx, m, m->fnorm, B, m->h_off[l - 1], m->fn_off));
        if (m->res[l] && m->residual == CLGRAD_RES_PRE && ni >= 0)
            CLGRAD_TRY(norm_fwd_(ctx, m, ni, B, m->h_off[l - 1], m->n_off[l]));
        size_t inoff = lin_in_(m, l, &isx);
        cl_mem in = isx ? x : m->fwd;
        if (isx) inoff = xoff;
        if (last) {
            CLGRAD_TRY(linear_(ctx, in, inoff, K, B, K, m->params, W->off, b != NULL, b ? b->off : 0, N, m->logits, 0,
                               0.0f));
            break;
        }
        if (!m->res[l] && ni >= 0) {
            /* none: Z = W h + b, N = Norm(Z), H = f(N) */
            CLGRAD_TRY(linear_(ctx, in, inoff, K, B, K, m->params, W->off, b != NULL, b ? b->off : 0, N, m->fwd,
                               m->z_off[l], 0.0f));
            CLGRAD_TRY(norm_fwd_(ctx, m, ni, B, m->z_off[l], m->n_off[l]));
            CLGRAD_TRY(clgrad_activation_forward(ctx, m->acts[l], m->act_param, m->fwd, m->n_off[l], m->fwd, m->h_off[l],
                                                 B * N));
            continue;
        }
        /* Z = W in + b and A = f(Z) in one GEMM: A is H (plain) or the residual branch */
        clgrad_gemm_epilogue e = {0};
        e.bias = b ? m->params : NULL, e.bias_off = b ? b->off : 0;
        e.kind = CLGRAD_EPI_ACT, e.act = m->acts[l], e.act_param = m->act_param;
        e.e = m->fwd, e.e_off = m->res[l] ? m->ma_off[l] : m->h_off[l], e.lde = N;
        CLGRAD_TRY(clgrad_gemm_fused(ctx, 0, 1, B, N, K, 1.0f, in, inoff, K, m->params, W->off, K, 0.0f, m->fwd,
                                     m->z_off[l], N, &e));
        if (!m->res[l]) continue;
        if (m->residual == CLGRAD_RES_POST && ni >= 0) {
            CLGRAD_TRY(clgrad_norm_add(ctx, B * N, m->fwd, m->h_off[l - 1], m->fwd, m->ma_off[l], m->fwd, m->u_off[l]));
            CLGRAD_TRY(norm_fwd_(ctx, m, ni, B, m->u_off[l], m->h_off[l]));
        } else {
            CLGRAD_TRY(clgrad_norm_add(ctx, B * N, m->fwd, m->h_off[l - 1], m->fwd, m->ma_off[l], m->fwd, m->h_off[l]));
        }
    }
fail:
    return st;
}

static clgrad_status mlp_ext_backward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, cl_mem dlogits,
                                       size_t dloff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    int L = m->nlin - 1;
    if (m->nrun && !m->training)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: backward after an evaluation-mode forward (batch norm)");
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), dlogits, m->bwd, dloff * sizeof(float),
                                           m->dz_off[L] * sizeof(float), B * m->K * sizeof(float), 0, NULL, NULL));
    for (int l = L; l >= 0; l--) {
        const clgrad_tensor *W, *b;
        lin_tensors_(m, l, &W, &b);
        size_t N = m->width[l + 1], K = m->width[l];
        int isx, ni = m->norm_of[l], last = l == L;
        int pre = m->res[l] && m->residual == CLGRAD_RES_PRE, post = m->res[l] && m->residual == CLGRAD_RES_POST;
        if (!last) {
            /* dZ from dH_l */
            if (!m->res[l] && ni >= 0) {
                CLGRAD_TRY(clgrad_activation_backward(ctx, m->acts[l], m->act_param, m->fwd, m->n_off[l], m->bwd,
                                                      m->dh_off[l], m->bwd, m->dn_off[l], B * N));
                CLGRAD_TRY(norm_bwd_(ctx, m, ni, B, m->z_off[l], m->dn_off[l], m->dz_off[l], 0));
            } else {
                size_t du = m->dh_off[l];
                if (post && ni >= 0) {
                    CLGRAD_TRY(norm_bwd_(ctx, m, ni, B, m->u_off[l], m->dh_off[l], m->du_off[l], 0));
                    du = m->du_off[l];
                }
                CLGRAD_TRY(clgrad_activation_backward(ctx, m->acts[l], m->act_param, m->fwd, m->z_off[l], m->bwd, du,
                                                      m->bwd, m->dz_off[l], B * N));
            }
        }
        size_t inoff = lin_in_(m, l, &isx);
        cl_mem in = isx ? x : m->fwd;
        if (isx) inoff = xoff;
        /* dW (N, K) = dZ^T A_in; db = column sums of dZ */
        CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, N, K, B, 1.0f, m->bwd, m->dz_off[l], N, in, inoff, K, 0.0f, m->grads, W->off, K));
        if (b) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, m->bwd, m->dz_off[l], B, N, 0.0f, m->grads, b->off));
        if (l == 0) break;
        size_t dh = m->dh_off[l - 1];
        if (last && m->fnorm >= 0) {
            /* dVf = dZ W; dH_{L-1} = the final norm's backward */
            CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 0.0f, m->bwd,
                                   m->dfn_off, K));
            CLGRAD_TRY(norm_bwd_(ctx, m, m->fnorm, B, m->h_off[l - 1], m->dfn_off, dh, 0));
        } else if (pre && ni >= 0) {
            /* dV = dZ W; dH_{l-1} = dH_l + Norm'(dV) */
            CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 0.0f, m->bwd,
                                   m->dn_off[l], K));
            CLGRAD_TRY(norm_bwd_(ctx, m, ni, B, m->h_off[l - 1], m->dn_off[l], m->du_off[l], 0));
            CLGRAD_TRY(clgrad_norm_add(ctx, B * K, m->bwd, m->dh_off[l], m->bwd, m->du_off[l], m->bwd, dh));
        } else if (m->res[l]) {
            /* dH_{l-1} = dU + dZ W (dU: dH_l, or the post norm's input gradient) */
            size_t du = post && ni >= 0 ? m->du_off[l] : m->dh_off[l];
            CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), m->bwd, m->bwd, du * sizeof(float), dh * sizeof(float),
                                                   B * K * sizeof(float), 0, NULL, NULL));
            CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 1.0f, m->bwd,
                                   dh, K));
        } else {
            CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 0.0f, m->bwd,
                                   dh, K));
        }
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
    CLGRAD_TRY(clgrad_buf_copy(ctx, dlogits, dloff, m->bwd, m->dz_off[L], B * m->K));
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
        clgrad_gemm_epilogue e = {0};
        e.kind = CLGRAD_EPI_DACT, e.act = m->acts[l - 1], e.act_param = m->act_param;
        e.e = m->bwd, e.e_off = m->dz_off[l - 1], e.lde = K;
        e.z = m->fwd, e.z_off = m->z_off[l - 1], e.ldz = K;
        CLGRAD_TRY(clgrad_gemm_fused(ctx, 0, 0, B, K, N, 1.0f, m->bwd, m->dz_off[l], N, m->params, W->off, K, 0.0f, m->bwd,
                                     m->dh_off[l - 1], K, &e));
    }
fail:
    return st;
}

/* The plain MLP's layout for the fused training pass (src/nn/mlp_fused.c);
** 0 for any other model. */
int clgrad_model_mlp_view_(clgrad_model *m, clgrad_mlp_view_ *v)
{
    if (m->kind != CLGRAD_MODEL_MLP || m->ext) return 0;
    v->nlin = m->nlin, v->bias = m->bias, v->act_param = m->act_param, v->max_batch = m->max_batch;
    v->width = m->width, v->z_off = m->z_off, v->h_off = m->h_off, v->dz_off = m->dz_off, v->dh_off = m->dh_off;
    v->acts = m->acts;
    v->params = m->params, v->grads = m->grads, v->fwd = m->fwd, v->bwd = m->bwd, v->logits = m->logits;
    v->tab = &m->mlp_tab, v->terms = &m->mlp_terms;
    return 1;
}

/* The input of the last forward pass (what clgrad_model_forward records). */
void clgrad_model_set_input_(clgrad_model *m, cl_mem x, size_t xoff) { m->x = x, m->xoff = xoff; }

/* ---- recurrent models ---- */

/* Layer l's input for all steps, time-major (T*B, Fin): the transposed x,
** or H_1..H_T of the layer below. */
static size_t rec_input_(const clgrad_model *m, int l, size_t B, size_t *Fin)
{
    *Fin = l == 0 ? m->F : m->H;
    return l == 0 ? m->xt_off : m->h_off[l - 1] + B * m->H;
}

/* ---- one layer in one launch (cl/model.cl: model_rec_forward / _backward) ---- */

/* The one-launch kernels, unless $CLGRAD_RECURRENT=steps (the step-by-step
** reference: the same bits) or the GEMMs are CLBlast's (the kernels round as
** the own GEMM does). */
static int rec_one_launch_(clgrad_ctx *ctx)
{
    const char *e = getenv("CLGRAD_RECURRENT");
    return !(e && strcmp(e, "steps") == 0) && clgrad_get_gemm_backend(ctx) == CLGRAD_GEMM_OWN;
}

static size_t rec_env_(const char *name, size_t dflt)
{
    const char *e = getenv(name);
    char *end;
    unsigned long v = e && *e ? strtoul(e, &end, 10) : 0;
    return v > 0 && *end == '\0' ? (size_t)v : dflt;
}

/* Rows per work-group (whole REC_MR-row blocks, about three groups per
** compute unit: a device that shares its cores with other work balances them,
** measured on PoCL with 2 cores) and the work-group size: one work-item per
** block x 32 columns (RNN 16) of N outputs, or for the LSTM and GRU (whose cells run over the group's
** rows, a chunk of work-items at a time) up to 256 elements of a chunk;
** within the device's limits.  $CLGRAD_REC_ROWS and $CLGRAD_REC_WG override
** them (tests: the bits do not depend on either). */
static void rec_geometry_(clgrad_ctx *ctx, const clgrad_model *m, size_t B, size_t N, size_t *R, size_t *wg)
{
    const clgrad_device_info *d = clgrad_device(ctx);
    size_t cu = d->compute_units ? d->compute_units : 1, blocks = (B + REC_MR - 1) / REC_MR;
    *R = rec_env_("CLGRAD_REC_ROWS", (blocks + 3 * cu - 1) / (3 * cu) * REC_MR);
    size_t pw = m->kind == CLGRAD_MODEL_RNN ? 16 : 32; /* the kernels' columns per item */
    size_t items = (*R + REC_MR - 1) / REC_MR * ((N + pw - 1) / pw), cells = m->kind == CLGRAD_MODEL_RNN ? 0 : *R * m->H;
    if (cells > 256) cells = 256;
    *wg = rec_env_("CLGRAD_REC_WG", items > cells ? items : cells);
    size_t max = d->max_wg_size < d->max_wi_sizes[0] ? d->max_wg_size : d->max_wi_sizes[0];
    if (*wg > max) *wg = max;
    if (*wg == 0) *wg = 1;
}

/* fwd doff = the (GH, cols) weight at param offset woff zero-padded to a
** multiple of 32 columns: transposed (cols, ldp) for the forward, as is
** (GH, ldp) for the backward. */
static clgrad_status rec_pad_(clgrad_ctx *ctx, clgrad_model *m, size_t woff, size_t cols, int trans, size_t doff,
                              size_t *ldp)
{
    size_t GH = (size_t)m->G * m->H, dcols = trans ? GH : cols;
    *ldp = (dcols + 31) / 32 * 32;
    clgrad_karg args[] = {CLGRAD_KM(m->params), CLGRAD_KU(woff), CLGRAD_KU(GH), CLGRAD_KU(cols),
                          CLGRAD_KI(trans), CLGRAD_KM(m->fwd), CLGRAD_KU(doff), CLGRAD_KU(*ldp)};
    return clgrad_launch_args(ctx, "model_rec_pad", (trans ? cols : GH) * (*ldp / 16), args, 8);
}

/* Launch kernel `name` with args over B rows: ceil(B / R) groups of wg
** work-items, fewer where the compiled kernel allows fewer (its registers). */
static clgrad_status rec_launch_(clgrad_ctx *ctx, const char *name, const clgrad_karg *args, int nargs, size_t B,
                                 size_t R, size_t wg)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, name);
    if (!k) return CLGRAD_E_ARG;
    size_t kmax = 0;
    CLGRAD_CL_TRY(ctx, clGetKernelWorkGroupInfo(k, clgrad_device(ctx)->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax,
                                                &kmax, NULL));
    if (kmax > 0 && wg > kmax) wg = kmax;
    for (int i = 0; i < nargs; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    size_t global = (B + R - 1) / R * wg;
    CLGRAD_TRY(clgrad_launch(ctx, k, name, 1, &global, &wg));
fail:
    return st;
}

void clgrad_model_work(const clgrad_model *m, cl_mem *fwd, cl_mem *bwd, size_t *scratch)
{
    *fwd = m->fwd, *bwd = m->bwd;
    *scratch = recurrent_(m) ? m->rw_off : SIZE_MAX;
}

static cl_int rec_kind_(const clgrad_model *m)
{
    return m->kind == CLGRAD_MODEL_LSTM ? 1 : m->kind == CLGRAD_MODEL_GRU ? 2 : 0;
}

/* All T forward steps of layer l in one launch, after the input-side GEMM,
** or with it when `fold` (Fin <= REC_XFOLD inputs at fwd offset in: W_ih^T
** padded next to W_hh^T in the scratch, see rec_layout_). */
static clgrad_status rec_layer_forward_one_(clgrad_ctx *ctx, clgrad_model *m, int l, size_t B, int fold, size_t in,
                                            size_t Fin)
{
    clgrad_status st = CLGRAD_OK;
    const rtensors_ *r = &m->rt[l];
    size_t ldp, R, wg, wi = m->rw_off + m->H * ((m->G * m->H + 31) / 32 * 32);
    CLGRAD_TRY(rec_pad_(ctx, m, r->whh->off, m->H, 1, m->rw_off, &ldp));
    if (fold) CLGRAD_TRY(rec_pad_(ctx, m, r->wih->off, Fin, 1, wi, &ldp));
    rec_geometry_(ctx, m, B, (size_t)m->G * m->H, &R, &wg);
    cl_ulong coff = m->kind == CLGRAD_MODEL_LSTM ? m->c_off[l] : 0;
    clgrad_karg args[] = {CLGRAD_KI(rec_kind_(m)), CLGRAD_KI(B), CLGRAD_KI(m->H), CLGRAD_KI(m->T), CLGRAD_KI(R),
                          CLGRAD_KM(m->fwd), CLGRAD_KU(m->a_off[l]), CLGRAD_KU(m->h_off[l]), CLGRAD_KU(coff),
                          CLGRAD_KU(m->xw_off), CLGRAD_KU(m->gh_off), CLGRAD_KM(m->fwd), CLGRAD_KU(m->rw_off),
                          CLGRAD_KI(ldp), CLGRAD_KM(m->params), CLGRAD_KU(r->bhh ? r->bhh->off : 0),
                          CLGRAD_KI(r->bhh != NULL), CLGRAD_KI(m->acts[0]), CLGRAD_KF(m->act_param),
                          CLGRAD_KI(fold ? Fin : 0), CLGRAD_KU(in), CLGRAD_KU(wi),
                          CLGRAD_KU(r->bih ? r->bih->off : 0), CLGRAD_KI(r->bih != NULL),
                          CLGRAD_KU(m->kind == CLGRAD_MODEL_LSTM ? m->tc_off[l] : 0)};
    CLGRAD_TRY(rec_launch_(ctx, "model_rec_forward", args, 25, B, R, wg));
fail:
    return st;
}

/* BPTT through layer l (t = T .. 1) in one launch: dG_t, dH_{t-1} (and dC_t). */
static clgrad_status rec_layer_bptt_one_(clgrad_ctx *ctx, clgrad_model *m, int l, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    size_t ldp = m->H, R, wg;
    /* W_hh (GH, H) is its own padded copy when H is a multiple of 32 */
    int own = m->H % 32 == 0;
    cl_mem W = own ? m->params : m->fwd;
    size_t woff = own ? m->rt[l].whh->off : m->rw_off;
    if (!own) CLGRAD_TRY(rec_pad_(ctx, m, m->rt[l].whh->off, m->H, 0, m->rw_off, &ldp));
    rec_geometry_(ctx, m, B, m->H, &R, &wg);
    int lstm = m->kind == CLGRAD_MODEL_LSTM;
    clgrad_karg args[] = {CLGRAD_KI(rec_kind_(m)), CLGRAD_KI(B), CLGRAD_KI(m->H), CLGRAD_KI(m->T), CLGRAD_KI(R),
                          CLGRAD_KM(m->fwd), CLGRAD_KU(m->a_off[l]), CLGRAD_KU(m->h_off[l]),
                          CLGRAD_KU(lstm ? m->c_off[l] : 0), CLGRAD_KM(m->bwd), CLGRAD_KU(m->dh_off[l]),
                          CLGRAD_KU(lstm ? m->dc_off[l] : 0), CLGRAD_KU(m->dg_off), CLGRAD_KU(m->dgh_off),
                          CLGRAD_KM(W), CLGRAD_KU(woff), CLGRAD_KI(ldp), CLGRAD_KI(l == m->L - 1),
                          CLGRAD_KI(m->acts[0]), CLGRAD_KF(m->act_param), CLGRAD_KU(lstm ? m->tc_off[l] : 0)};
    CLGRAD_TRY(rec_launch_(ctx, "model_rec_backward", args, 21, B, R, wg));
fail:
    return st;
}

/* One forward step of layer l: h_{t+1} from the input part and h_t (t 0-based). */
static clgrad_status rec_step_forward_(clgrad_ctx *ctx, clgrad_model *m, int l, size_t t, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    const rtensors_ *r = &m->rt[l];
    size_t H = m->H, BH = B * H, GH = (size_t)m->G * H;
    cl_mem P = m->params, f = m->fwd;
    size_t hp = m->h_off[l] + t * BH, hn = hp + BH;
    cl_int has_b = r->bhh != NULL;
    cl_ulong boff = r->bhh ? r->bhh->off : 0;
    if (m->kind == CLGRAD_MODEL_RNN) {
        /* Z_t (B, H) += H_t W_hh^T; H_{t+1} = act(Z_t) */
        size_t z = m->a_off[l] + t * BH;
        clgrad_gemm_epilogue e = {0};
        e.kind = CLGRAD_EPI_ACT, e.act = m->acts[0], e.act_param = m->act_param;
        e.e = f, e.e_off = hn, e.lde = H;
        CLGRAD_TRY(clgrad_gemm_fused(ctx, 0, 1, B, H, H, 1.0f, f, hp, H, P, r->whh->off, H, 1.0f, f, z, H, &e));
    } else if (m->kind == CLGRAD_MODEL_LSTM) {
        /* A_t (B, 4H) += H_t W_hh^T; the cell adds b_hh and activates the gates in place */
        size_t a = m->a_off[l] + t * 4 * BH, cp = m->c_off[l] + t * BH;
        CLGRAD_TRY(clgrad_gemm(ctx, 0, 1, B, GH, H, 1.0f, f, hp, H, P, r->whh->off, H, 1.0f, f, a, GH));
        clgrad_karg args[] = {CLGRAD_KU(BH), CLGRAD_KU(H), CLGRAD_KM(f), CLGRAD_KU(a), CLGRAD_KU(cp), CLGRAD_KU(cp + BH), CLGRAD_KU(hn), CLGRAD_KM(P), CLGRAD_KU(boff), CLGRAD_KI(has_b)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "model_lstm_forward", BH, args, 10));
    } else {
        /* Gh (B, 3H) = H_t W_hh^T; the cell adds b_hh, combines with XW_t into A_t and H_{t+1} */
        size_t a = m->a_off[l] + t * 4 * BH, xw = m->xw_off + t * 3 * BH;
        CLGRAD_TRY(clgrad_gemm(ctx, 0, 1, B, GH, H, 1.0f, f, hp, H, P, r->whh->off, H, 0.0f, f, m->gh_off, GH));
        clgrad_karg args[] = {CLGRAD_KU(BH), CLGRAD_KU(H), CLGRAD_KM(f), CLGRAD_KU(xw), CLGRAD_KU(m->gh_off), CLGRAD_KU(hp), CLGRAD_KU(a), CLGRAD_KU(hn), CLGRAD_KM(P), CLGRAD_KU(boff), CLGRAD_KI(has_b)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "model_gru_forward", BH, args, 11));
    }
fail:
    return st;
}

static clgrad_status rec_forward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    size_t H = m->H, T = m->T, BH = B * H, GH = (size_t)m->G * H, TB = T * B, Fin;
    cl_mem f = m->fwd, P = m->params;
    /* x (B, T, F) -> time-major (T, B, F) */
    clgrad_karg ta[] = {CLGRAD_KM(x), CLGRAD_KU(xoff), CLGRAD_KU(B), CLGRAD_KU(T), CLGRAD_KU(m->F), CLGRAD_KM(f), CLGRAD_KU(m->xt_off)};
    CLGRAD_TRY(clgrad_launch_args(ctx, "model_time_major", TB * m->F, ta, 7));
    for (int l = 0; l < m->L; l++) {
        const rtensors_ *r = &m->rt[l];
        size_t in = rec_input_(m, l, B, &Fin);
        int one = rec_one_launch_(ctx), fold = one && Fin <= REC_XFOLD;
        /* the input side for all steps: (T*B, GH) = X W_ih^T + b_ih (the RNN's only bias),
        ** in the one-launch kernel's steps when `fold` */
        size_t xw = m->kind == CLGRAD_MODEL_GRU ? m->xw_off : m->a_off[l];
        if (!fold)
            CLGRAD_TRY(linear_(ctx, f, in, Fin, TB, Fin, P, r->wih->off, r->bih != NULL, r->bih ? r->bih->off : 0, GH,
                               f, xw, 0.0f));
        CLGRAD_TRY(clgrad_buf_fill(ctx, f, m->h_off[l], BH, 0.0f)); /* h_0 = 0 */
        if (m->kind == CLGRAD_MODEL_LSTM) CLGRAD_TRY(clgrad_buf_fill(ctx, f, m->c_off[l], BH, 0.0f));
        if (one)
            CLGRAD_TRY(rec_layer_forward_one_(ctx, m, l, B, fold, in, Fin));
        else
            for (size_t t = 0; t < T; t++) CLGRAD_TRY(rec_step_forward_(ctx, m, l, t, B));
    }
    const clgrad_tensor *wfc = &m->tensors[m->fcw], *bfc = m->fcb >= 0 ? &m->tensors[m->fcb] : NULL;
    CLGRAD_TRY(linear_(ctx, f, m->h_off[m->L - 1] + T * BH, H, B, H, P, wfc->off, bfc != NULL, bfc ? bfc->off : 0, m->K,
                       m->logits, 0, 0.0f));
fail:
    return st;
}

/* The cell's backward at step t (1-based) of layer l: the pre-activation
** gradients dG_t (B, GH) into dG's slot t (GRU: dGi, and dGh in its own
** region) from dH_t (and, for the LSTM, dC_{t+1}); the LSTM stores dC_t, the
** GRU writes its direct term dh_t * z into dH_{t-1} (overwriting when
** `over`, else adding). */
static clgrad_status rec_cell_backward_(clgrad_ctx *ctx, clgrad_model *m, int l, size_t t, size_t B, int over)
{
    clgrad_status st = CLGRAD_OK;
    size_t H = m->H, T = m->T, BH = B * H, GH = (size_t)m->G * H;
    cl_mem f = m->fwd, b = m->bwd;
    size_t dht = m->dh_off[l] + (t - 1) * BH, dg = m->dg_off + (t - 1) * B * GH;
    if (m->kind == CLGRAD_MODEL_RNN) {
        /* dZ_t = dH_t * f'(Z_{t-1}) */
        CLGRAD_TRY(clgrad_activation_backward(ctx, m->acts[0], m->act_param, f, m->a_off[l] + (t - 1) * BH, b, dht, b,
                                              dg, BH));
    } else if (m->kind == CLGRAD_MODEL_LSTM) {
        size_t a = m->a_off[l] + (t - 1) * 4 * BH, ct = m->c_off[l] + t * BH, dct = m->dc_off[l] + (t - 1) * BH;
        int next = t < T;
        clgrad_karg args[] = {CLGRAD_KU(BH), CLGRAD_KU(H), CLGRAD_KM(f), CLGRAD_KU(a), CLGRAD_KU(next ? a + 4 * BH : a), CLGRAD_KU(ct), CLGRAD_KU(ct - BH), CLGRAD_KM(b), CLGRAD_KU(dht),
                        CLGRAD_KU(next ? dct + BH : dct), CLGRAD_KI(next), CLGRAD_KU(dg), CLGRAD_KU(dct)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "model_lstm_backward", BH, args, 13));
    } else {
        size_t a = m->a_off[l] + (t - 1) * 4 * BH, hp = m->h_off[l] + (t - 1) * BH;
        int mode = t == 1 ? 0 : over ? 1 : 2;
        clgrad_karg args[] = {CLGRAD_KU(BH), CLGRAD_KU(H), CLGRAD_KM(f), CLGRAD_KU(a), CLGRAD_KU(hp), CLGRAD_KM(b), CLGRAD_KU(dht), CLGRAD_KU(dg), CLGRAD_KU(m->dgh_off + (t - 1) * B * GH),
                        CLGRAD_KU(t > 1 ? dht - BH : dht), CLGRAD_KI(mode)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "model_gru_backward", BH, args, 11));
    }
fail:
    return st;
}

/* C (M, N) at coff = A^T B over K rows (A (K, M), B (K, N)) with
** model_rec_wgrad when `one`, else clgrad_gemm: the same bits. */
static clgrad_status rec_wgrad_(clgrad_ctx *ctx, int one, size_t M, size_t N, size_t K, cl_mem A, size_t aoff,
                                size_t lda, cl_mem B, size_t boff, size_t ldb, cl_mem C, size_t coff, size_t ldc)
{
    if (!one) return clgrad_gemm(ctx, 1, 0, M, N, K, 1.0f, A, aoff, lda, B, boff, ldb, 0.0f, C, coff, ldc);
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "model_rec_wgrad");
    if (!k) return CLGRAD_E_ARG;
    clgrad_karg args[] = {CLGRAD_KI(M), CLGRAD_KI(N), CLGRAD_KI(K), CLGRAD_KM(A), CLGRAD_KU(aoff), CLGRAD_KI(lda),
                          CLGRAD_KM(B), CLGRAD_KU(boff), CLGRAD_KI(ldb), CLGRAD_KM(C), CLGRAD_KU(coff), CLGRAD_KI(ldc)};
    for (int i = 0; i < 12; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    /* a work-group: up to 16 row blocks of one 32-column panel */
    size_t mb = (M + 7) / 8, l0 = mb < 16 ? mb : 16;
    size_t global[2] = {(mb + l0 - 1) / l0 * l0, (N + 31) / 32}, local[2] = {l0, 1};
    CLGRAD_TRY(clgrad_launch(ctx, k, "model_rec_wgrad", 2, global, local));
fail:
    return st;
}

/* BPTT through layer l (t = T .. 1, the cell and dH_{t-1}: in one launch, or
** step by step with $CLGRAD_RECURRENT=steps), then
** for all steps at once: dW_ih, dW_hh, the bias gradients and, for l > 0,
** dH of the layer below (its first contribution). */
static clgrad_status rec_layer_backward_(clgrad_ctx *ctx, clgrad_model *m, int l, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    const rtensors_ *r = &m->rt[l];
    size_t H = m->H, T = m->T, BH = B * H, GH = (size_t)m->G * H, TB = T * B, Fin;
    int top = l == m->L - 1;
    cl_mem P = m->params, g = m->grads, f = m->fwd, b = m->bwd;
    /* dG for the input side; dGh for the recurrent side (the same except for the GRU) */
    size_t dgi = m->dg_off, dgh = m->kind == CLGRAD_MODEL_GRU ? m->dgh_off : m->dg_off;
    int one = rec_one_launch_(ctx);
    if (one) CLGRAD_TRY(rec_layer_bptt_one_(ctx, m, l, B));
    for (size_t t = T; !one && t >= 1; t--) {
        size_t dht = m->dh_off[l] + (t - 1) * BH;
        /* the top layer's dH_{t-1} holds nothing yet; a lower layer's holds the gradient from above */
        int over = top, rnn = m->kind == CLGRAD_MODEL_RNN;
        /* the RNN's dZ_t for t < T came out of the previous iteration's GEMM epilogue */
        if (!rnn || t == T) CLGRAD_TRY(rec_cell_backward_(ctx, m, l, t, B, over));
        /* dH_{t-1} (+)= dGh_t W_hh (the GRU's direct term is already there); for the
        ** RNN, dZ_{t-1} = dH_{t-1} * f'(Z_{t-2}) in the same GEMM */
        if (t > 1) {
            float bh = over && m->kind != CLGRAD_MODEL_GRU ? 0.0f : 1.0f;
            clgrad_gemm_epilogue e = {0};
            if (rnn) {
                e.kind = CLGRAD_EPI_DACT, e.act = m->acts[0], e.act_param = m->act_param;
                e.e = b, e.e_off = m->dg_off + (t - 2) * B * GH, e.lde = H;
                e.z = f, e.z_off = m->a_off[l] + (t - 2) * BH, e.ldz = H;
            }
            CLGRAD_TRY(clgrad_gemm_fused(ctx, 0, 0, B, H, GH, 1.0f, b, dgh + (t - 1) * B * GH, GH, P, r->whh->off, H, bh,
                                         b, dht - BH, H, &e));
        }
    }
    size_t in = rec_input_(m, l, B, &Fin);
    /* dW_ih (GH, Fin) = dGi^T X over all T*B rows; dW_hh = dGh^T H_{0..T-1} (H_0 = 0); biases: column sums */
    if (Fin <= 8 && Fin <= H) {
        /* dW_ih^T (Fin, GH) = X^T dGi into the scratch, then transposed: the same fma chains
        ** (fma(a, b) = fma(b, a)), and op(A) = X^T is a few rows (no packing of dGi^T) */
        CLGRAD_TRY(rec_wgrad_(ctx, one, Fin, GH, TB, f, in, Fin, b, dgi, GH, f, m->rw_off, GH));
        clgrad_karg ta[] = {CLGRAD_KM(f), CLGRAD_KU(m->rw_off), CLGRAD_KU(Fin), CLGRAD_KU(GH), CLGRAD_KI(1),
                            CLGRAD_KM(g), CLGRAD_KU(r->wih->off), CLGRAD_KU(Fin)};
        CLGRAD_TRY(clgrad_launch_args(ctx, "model_rec_pad", GH * ((Fin + 15) / 16), ta, 8));
    } else {
        CLGRAD_TRY(rec_wgrad_(ctx, one, GH, Fin, TB, b, dgi, GH, f, in, Fin, g, r->wih->off, Fin));
    }
    CLGRAD_TRY(rec_wgrad_(ctx, one, GH, H, TB, b, dgh, GH, f, m->h_off[l], H, g, r->whh->off, H));
    if (r->bih) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, b, dgi, TB, GH, 0.0f, g, r->bih->off));
    if (r->bhh && m->kind == CLGRAD_MODEL_GRU) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, b, dgh, TB, GH, 0.0f, g, r->bhh->off));
    /* the LSTM's two biases are always summed: their gradients are equal */
    if (r->bhh && m->kind == CLGRAD_MODEL_LSTM)
        CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), g, g, r->bih->off * sizeof(float),
                                               r->bhh->off * sizeof(float), GH * sizeof(float), 0, NULL, NULL));
    /* the layer below: dH^(l-1) (T*B, H) = dGi W_ih */
    if (l > 0)
        CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, TB, H, GH, 1.0f, b, dgi, GH, P, r->wih->off, H, 0.0f, b, m->dh_off[l - 1], H));
fail:
    return st;
}

static clgrad_status rec_backward_(clgrad_ctx *ctx, clgrad_model *m, cl_mem dlogits, size_t dloff, size_t B)
{
    clgrad_status st = CLGRAD_OK;
    size_t H = m->H, T = m->T, K = m->K, BH = B * H, dl = m->dl_off;
    const clgrad_tensor *wfc = &m->tensors[m->fcw], *bfc = m->fcb >= 0 ? &m->tensors[m->fcb] : NULL;
    int top = m->L - 1;
    CLGRAD_CL_TRY(ctx, clEnqueueCopyBuffer(clgrad_queue(ctx), dlogits, m->bwd, dloff * sizeof(float), dl * sizeof(float),
                                           B * K * sizeof(float), 0, NULL, NULL));
    /* output layer: dW_fc = dlogits^T H_T, db_fc = colsum, dH_T = dlogits W_fc */
    CLGRAD_TRY(clgrad_gemm(ctx, 1, 0, K, H, B, 1.0f, m->bwd, dl, K, m->fwd, m->h_off[top] + T * BH, H, 0.0f, m->grads,
                           wfc->off, H));
    if (bfc) CLGRAD_TRY(clgrad_activation_bias_grad(ctx, m->bwd, dl, B, K, 0.0f, m->grads, bfc->off));
    CLGRAD_TRY(clgrad_gemm(ctx, 0, 0, B, H, K, 1.0f, m->bwd, dl, K, m->params, wfc->off, H, 0.0f, m->bwd,
                           m->dh_off[top] + (T - 1) * BH, H));
    for (int l = top; l >= 0; l--) CLGRAD_TRY(rec_layer_backward_(ctx, m, l, B));
fail:
    return st;
}

clgrad_status clgrad_model_forward(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B)
{
    if (B == 0 || B > m->max_batch)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: batch %zu outside 1..%zu", B, m->max_batch);
    m->x = x, m->xoff = xoff;
    if (m->ext) return mlp_ext_forward_(ctx, m, x, xoff, B);
    return m->kind == CLGRAD_MODEL_MLP ? mlp_forward_(ctx, m, x, xoff, B) : rec_forward_(ctx, m, x, xoff, B);
}

clgrad_status clgrad_model_backward(clgrad_ctx *ctx, clgrad_model *m, cl_mem dlogits, size_t dloff, size_t B)
{
    if (B == 0 || B > m->max_batch || !m->x)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model: backward without a forward pass of batch %zu", B);
    if (m->ext) return mlp_ext_backward_(ctx, m, m->x, m->xoff, dlogits, dloff, B);
    return m->kind == CLGRAD_MODEL_MLP ? mlp_backward_(ctx, m, m->x, m->xoff, dlogits, dloff, B)
                                       : rec_backward_(ctx, m, dlogits, dloff, B);
}

clgrad_status clgrad_model_l1_grad(clgrad_ctx *ctx, clgrad_model *m, float l1)
{
    if (l1 == 0.0f) return CLGRAD_OK;
    if (!(l1 > 0.0f) || !isfinite(l1)) return clgrad_fail(ctx, CLGRAD_E_ARG, "model: l1 = %g must be finite and >= 0", l1);
    clgrad_karg args[] = {CLGRAD_KM(m->params), CLGRAD_KM(m->grads), CLGRAD_KU(m->nparams), {&l1, sizeof l1}};
    return clgrad_launch_args(ctx, "model_l1_grad", m->nparams, args, 4);
}

/* ---- metrics ---- */

static size_t nsegs_(const clgrad_model *m)
{
    if (!recurrent_(m)) return 2 * (size_t)m->nlayers;
    size_t LT = (size_t)m->L * m->T;
    return LT + 1 + (m->kind == CLGRAD_MODEL_LSTM ? LT : 0);
}

size_t clgrad_model_act_offset(const clgrad_model *m) { return CLGRAD_RS_SIZE * (nsegs_(m) + 1); }
size_t clgrad_model_metrics_size(const clgrad_model *m) { return clgrad_model_act_offset(m) + 3 * (size_t)m->nlayers; }

int clgrad_model_out_grad_seg(const clgrad_model *m, int layer)
{
    if (!recurrent_(m)) return layer;
    return layer < m->L ? (int)((size_t)layer * m->T + m->T - 1) : (int)((size_t)m->L * m->T);
}

int clgrad_model_in_grad_seg(const clgrad_model *m, int layer)
{
    if (recurrent_(m) || layer < 0 || layer >= m->nlayers || m->mi_n[layer] == 0) return -1;
    return m->nlayers + layer;
}

double clgrad_model_timestep_norm(const clgrad_model *m, const float *metrics, size_t t, int cell)
{
    if (!recurrent_(m) || t < 1 || t > m->T || (cell && m->kind != CLGRAD_MODEL_LSTM)) return NAN;
    size_t base = cell ? (size_t)m->L * m->T + 1 : 0;
    double s = 0;
    for (int l = 0; l < m->L; l++) {
        double v = metrics[CLGRAD_RS_SIZE * (base + (size_t)l * m->T + t - 1) + CLGRAD_RS_NORM2];
        s += v * v;
    }
    return m->L == 1 ? metrics[CLGRAD_RS_SIZE * (base + t - 1) + CLGRAD_RS_NORM2] : sqrt(s);
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
    if (!recurrent_(m)) {
        for (int l = 0; l < m->nlayers; l++) {
            off[l] = m->mo_off[l], len[l] = B * m->mo_n[l];
            off[m->nlayers + l] = m->mi_off[l], len[m->nlayers + l] = B * m->mi_n[l];
        }
    } else {
        size_t BH = B * m->H, T = m->T, s = 0;
        for (int l = 0; l < m->L; l++)
            for (size_t t = 0; t < T; t++, s++) off[s] = m->dh_off[l] + t * BH, len[s] = BH;
        off[s] = m->dl_off, len[s] = B * m->K, s++;
        if (m->kind == CLGRAD_MODEL_LSTM)
            for (int l = 0; l < m->L; l++)
                for (size_t t = 0; t < T; t++, s++) off[s] = m->dc_off[l] + t * BH, len[s] = BH;
    }
    clgrad_status st = clgrad_segs_new(ctx, n, off, len, &m->gact_segs);
    free(off), free(len);
    if (st == CLGRAD_OK) m->gact_B = B;
    return st;
}

clgrad_status clgrad_model_act_stats(clgrad_ctx *ctx, clgrad_act kind, size_t rows, size_t cols, cl_mem h,
                                     size_t hoff, cl_mem out, size_t out_off)
{
    clgrad_status st = CLGRAD_OK;
    if (rows == 0 || cols == 0 || rows > INT_MAX || cols > INT_MAX)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "model_act_stats: bad shape %zu x %zu", rows, cols);
    size_t wg = clgrad_wg(ctx);
    cl_kernel k = clgrad_kernel(ctx, "model_act_stats");
    if (!k) return CLGRAD_E_ARG;
    clgrad_karg args[] = {CLGRAD_KI(kind), CLGRAD_KI(rows), CLGRAD_KI(cols), CLGRAD_KM(h), CLGRAD_KU(hoff), CLGRAD_KM(out), CLGRAD_KU(out_off)};
    for (int i = 0; i < 7; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    CLGRAD_TRY(clgrad_launch(ctx, k, "model_act_stats", 1, &wg, &wg));
fail:
    return st;
}


int clgrad_model_hidden_layers(const clgrad_model *m) { return recurrent_(m) ? m->L : m->nlin - 1; }

clgrad_status clgrad_model_hidden_segs(clgrad_ctx *ctx, clgrad_model *m, size_t B, const clgrad_segs **segs,
                                       cl_mem *buf)
{
    *buf = m->fwd;
    if (!m->hid_segs || m->hid_B != B) {
        size_t off[MAXL > MAXR ? MAXL : MAXR], len[MAXL > MAXR ? MAXL : MAXR];
        int n = clgrad_model_hidden_layers(m);
        for (int l = 0; l < n; l++) {
            if (!recurrent_(m)) off[l] = m->h_off[l], len[l] = B * m->width[l + 1];
            else off[l] = m->h_off[l] + B * m->H, len[l] = m->T * B * m->H;
        }
        clgrad_segs_free(&m->hid_segs);
        clgrad_status st = clgrad_segs_new(ctx, (size_t)n, off, len, &m->hid_segs);
        if (st != CLGRAD_OK) return st;
        m->hid_B = B;
    }
    *segs = m->hid_segs;
    return CLGRAD_OK;
}

/* model_act_stats_all's table for batch B (cl/model.cl): per metric layer its kind (-1: zeros), rows,
** cols, offset in the forward block, and the offset of its 3 floats after the activation figures' start. */
static clgrad_status act_tab_(clgrad_ctx *ctx, clgrad_model *m, size_t B)
{
    if (m->act_tab && m->act_B == B) return CLGRAD_OK;
    if (m->act_tab) clReleaseMemObject(m->act_tab);
    m->act_tab = NULL;
    cl_ulong *t = calloc(5 * (size_t)m->nlayers, sizeof *t);
    if (!t) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "model: out of memory");
    for (int l = 0; l < m->nlayers; l++) {
        cl_ulong *r = t + 5 * (size_t)l;
        int hidden = recurrent_(m) ? l < m->L : m->mact_kind[l] >= 0;
        r[0] = (cl_ulong)(cl_long)-1, r[4] = 3 * (size_t)l;
        if (!hidden) continue;
        if (!recurrent_(m)) {
            r[0] = (cl_ulong)m->mact_kind[l], r[1] = B, r[2] = m->mo_n[l], r[3] = m->mact_off[l];
        } else {
            r[0] = (cl_ulong)(m->kind == CLGRAD_MODEL_RNN ? m->acts[0] : CLGRAD_ACT_TANH);
            r[1] = B * m->T, r[2] = m->H, r[3] = m->h_off[l] + B * m->H;
        }
    }
    cl_int err;
    m->act_tab = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                5 * (size_t)m->nlayers * sizeof *t, t, &err);
    free(t);
    if (err != CL_SUCCESS) {
        m->act_tab = NULL;
        return clgrad_fail(ctx, CLGRAD_E_CL, "clCreateBuffer(activation statistics table): %s", clgrad_cl_error_name(err));
    }
    m->act_B = B;
    return CLGRAD_OK;
}

clgrad_status clgrad_model_metrics_split(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off,
                                         clgrad_reduce_job *grads)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gact_segs_(ctx, m, B));
    grads->x = m->bwd, grads->xoff = 0, grads->segs = m->gact_segs, grads->out_off = out_off;
    /* every layer's activation figures in one launch (model_act_stats_all, one work-group per layer) */
    CLGRAD_TRY(act_tab_(ctx, m, B));
    size_t wg = clgrad_wg(ctx), global = wg * (size_t)m->nlayers;
    cl_kernel k = clgrad_kernel(ctx, "model_act_stats_all");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong aoff = out_off + clgrad_model_act_offset(m);
    clgrad_karg args[] = {CLGRAD_KM(m->act_tab), CLGRAD_KM(m->fwd), CLGRAD_KM(out), CLGRAD_KU(aoff)};
    for (int i = 0; i < 4; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p));
    CLGRAD_TRY(clgrad_launch(ctx, k, "model_act_stats_all", 1, &global, &wg));
fail:
    return st;
}

clgrad_status clgrad_model_metrics(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_reduce_job g;
    CLGRAD_TRY(clgrad_model_metrics_split(ctx, m, B, out, out_off, &g));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, g.x, g.xoff, g.segs, out, g.out_off));
fail:
    return st;
}
