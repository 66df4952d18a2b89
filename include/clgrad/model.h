/*
** clgrad/model.h: the models an experiment trains, built from the kernel
** families: an MLP (any depth, including no hidden layer) and recurrent
** networks, many-to-one, with full backpropagation through time: the vanilla
** (Elman) RNN, the LSTM and the GRU, each with L stacked layers of width H.
**
** Parameters and gradients are one flat block each (llm.c layout); the
** tensor table gives every tensor's PyTorch state_dict name, shape and offset:
**   MLP, as nn.Sequential(Linear, act, Linear, act, ..., Linear):
**       "0.weight" (h1, in), "0.bias" (h1), "2.weight" (h2, h1), ... ; layer l is
**       Sequential index 2l
**   recurrent, as self.rnn = nn.RNN / nn.LSTM / nn.GRU(in, H, num_layers=L,
**   batch_first=True) + self.fc = nn.Linear(H, out), per layer l = 0..L-1
**   (F_0 = in, F_l = H above), G gates (RNN 1, LSTM 4, GRU 3):
**       "rnn.weight_ih_l<l>" (G H, F_l), "rnn.weight_hh_l<l>" (G H, H),
**       "rnn.bias_ih_l<l>" (G H), "rnn.bias_hh_l<l>" (G H; LSTM and GRU only:
**       the vanilla RNN trains one bias, PyTorch's bias_hh_l<l> being zero),
**       then "fc.weight" (out, H), "fc.bias" (out).
**   Gate order and equations are PyTorch's (sigma = logistic sigmoid):
**     LSTM  rows [i; f; g; o] of W and b:  i = sigma(.), f = sigma(.), g = tanh(.),
**           o = sigma(.) of x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
**           c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
**     GRU   rows [r; z; n]:  r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr),
**           z likewise, n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),
**           h_t = (1 - z) n + z h_{t-1}  (computed as n + z (h_{t-1} - n))
**     RNN   h_t = act(x W_ih^T + h_{t-1} W_hh^T + b_ih)
**   with h_0 = c_0 = 0; layer l > 0 reads h_t of layer l - 1; fc reads h_T
**   of the top layer.
** Shapes in comments: B batch, T time steps, F input features, H width, K outputs.
*/
#ifndef CLGRAD_MODEL_H
#define CLGRAD_MODEL_H
#include "clgrad/activation.h"
#include "clgrad/core.h"
#include "clgrad/init.h"
#include "clgrad/norm.h"
#include "clgrad/reduce.h"

#define CLGRAD_MODEL_MAX_TENSORS 1024
#define CLGRAD_MODEL_MAX_RLAYERS 64 /* stacked recurrent layers */

#define CLGRAD_MAX_LAYERS 256 /* most hidden layers of a model (and of [model] hidden) */

typedef enum {
    CLGRAD_MODEL_MLP = 0,
    CLGRAD_MODEL_RNN = 1,
    CLGRAD_MODEL_LSTM = 2,
    CLGRAD_MODEL_GRU = 3,
    CLGRAD_MODEL_NKINDS = 4
} clgrad_model_kind;

/* "mlp", "rnn", "lstm", "gru" -> kind; -1 when unknown.  And back ("?" if invalid). */
int clgrad_model_kind_parse(const char *name);
const char *clgrad_model_kind_name(clgrad_model_kind kind);

typedef struct clgrad_model_spec {
    clgrad_model_kind kind;
    size_t in;       /* features per time step */
    size_t seq_len;  /* T (1 for non-sequence data); an MLP sees T*in features */
    size_t out;      /* K: 1 for regression and binary, classes for multiclass */
    int nhidden;     /* MLP: hidden layers (0 = linear/logistic regression); recurrent: 1 (the width H) */
    const long *hidden;          /* widths, nhidden of them */
    const clgrad_act *acts;      /* one per hidden layer (the vanilla RNN's nonlinearity; unused by lstm, gru) */
    float act_param;             /* leaky_relu slope / elu alpha */
    int bias;
    int layers;                  /* recurrent: stacked layers L (0 is taken as 1); MLP: ignored */
    double forget_bias;          /* LSTM: NAN = keep the initialised biases; else clgrad_model_init sets
                                    bias_ih[H:2H] = forget_bias and bias_hh[H:2H] = 0 in every layer, so the
                                    forget gate's effective bias is exactly forget_bias (needs bias) */
    size_t max_batch;            /* buffers are sized for this batch */
    /* MLP only (see "Normalisation and residual blocks" below): */
    clgrad_normlayer norm;       /* none | layernorm | rmsnorm | batchnorm */
    int residual;                /* CLGRAD_RES_NONE | CLGRAD_RES_PRE | CLGRAD_RES_POST */
    int final_norm;              /* a norm before the output layer (needs norm) */
    double norm_eps;             /* NAN or 0: PyTorch's default (clgrad_normlayer_default_eps) */
} clgrad_model_spec;

#define CLGRAD_RES_NONE 0
#define CLGRAD_RES_PRE 1
#define CLGRAD_RES_POST 2
/* "none", "pre", "post" -> CLGRAD_RES_*; -1 when unknown.  And back ("?" if invalid). */
int clgrad_residual_parse(const char *name);
const char *clgrad_residual_name(int residual);

/* Normalisation and residual blocks of the MLP (x the input, h_0 = x,
** h_l the output of hidden layer l = 1..n, f_l its activation, Norm the
** chosen norm, W_l, b_l its Linear):
**   residual = none:  h_l = f_l(Norm(W_l h_{l-1} + b_l))   (Norm omitted when norm = none)
**   residual = post:  h_1 = f_1(W_1 x + b_1) (the stem), then for l >= 2:
**                     h_l = Norm(h_{l-1} + f_l(W_l h_{l-1} + b_l))
**   residual = pre:   h_1 = f_1(W_1 x + b_1) (the stem), then for l >= 2:
**                     h_l = h_{l-1} + f_l(W_l Norm(h_{l-1}) + b_l)
**   logits = W_out Norm(h_n) + b_out with final_norm, else W_out h_n + b_out.
** The residual blocks (l >= 2) need equal widths (config.c reports others).
** Tensor names: every module in forward order gets the next index, as
** nn.Sequential numbers them (activations count, the residual add is not a
** module): none: Linear 3l, Norm 3l+1, act 3l+2 (0-based l; without norm
** the usual Linear 2l, act 2l+1); post: stem Linear 0, act 1, then per block
** Linear k, act k+1, Norm k+2; pre: per block Norm k, Linear k+1, act k+2;
** then the final Norm, then the output Linear.  A Norm's tensors are
** "<i>.weight" (N, ones) and "<i>.bias" (N, zeros; not for rmsnorm); batch
** norm's buffers "<i>.running_mean" (zeros), "<i>.running_var" (ones) and
** "<i>.num_batches_tracked" live outside the parameter block (no gradient,
** no optimizer): clgrad_model_buffers. */

typedef struct clgrad_tensor {
    char name[48];
    size_t off, rows, cols; /* (rows, cols) row-major at off in the flat block; a vector has rows = 1 */
    int layer;              /* metric layer it belongs to */
    int is_bias;
    int norm;               /* 0; a norm layer's weight 1, its bias 2 (both vectors: rows = 1) */
} clgrad_tensor;

typedef struct clgrad_model clgrad_model;

clgrad_status clgrad_model_create(clgrad_ctx *ctx, const clgrad_model_spec *spec, clgrad_model **out);
/* What clgrad_model_create(spec) would allocate on the device, without
** allocating: the buffers in floats (parameters; gradients are as many),
** the segment tables in bytes, and what sizing the run's own buffers needs.
** Fails as clgrad_model_create does on an invalid spec. */
typedef struct clgrad_model_sizes {
    size_t params, fwd, bwd, logits; /* floats each (gradients: params) */
    size_t table_bytes;              /* segment tables (parameter and activation-gradient segments) */
    size_t metrics;                  /* clgrad_model_metrics_size */
    size_t rows;                     /* rows over all tensors (a bias is one row): AGC's unit count */
    int ntensors, nlayers;
} clgrad_model_sizes;
clgrad_status clgrad_model_sizes_of(clgrad_ctx *ctx, const clgrad_model_spec *spec, clgrad_model_sizes *out);
void clgrad_model_free(clgrad_model *m); /* NULL-safe */

clgrad_model_kind clgrad_model_get_kind(const clgrad_model *m);
size_t clgrad_model_nparams(const clgrad_model *m);
int clgrad_model_ntensors(const clgrad_model *m);
const clgrad_tensor *clgrad_model_tensor(const clgrad_model *m, int i);
/* Metric layers: MLP one per Linear, "linear_<i>" (nhidden + 1), and with a
** norm one per norm layer, "layernorm_<i>" / "rmsnorm_<i>" / "batchnorm_<i>"
** (i the Sequential index, see above), in forward order; recurrent L + 1,
** named "rnn" (L = 1) or "rnn_l0", "rnn_l1", ... (L > 1), then "fc".  A
** tensor's `layer` is its metric layer. */
int clgrad_model_nlayers(const clgrad_model *m);
const char *clgrad_model_layer_name(const clgrad_model *m, int l);
cl_mem clgrad_model_params(const clgrad_model *m);        /* borrowed, nparams floats */
cl_mem clgrad_model_grads(const clgrad_model *m);         /* borrowed */
cl_mem clgrad_model_logits(const clgrad_model *m);        /* borrowed: (max_batch, K) */
const clgrad_segs *clgrad_model_param_segs(const clgrad_model *m); /* one segment per tensor */

/* Initialise every tensor: weights from `w`, biases from `b` (NULL: zeros),
** from (seed, tensor index), identical on every device; then the LSTM's
** forget_bias (spec).  PyTorch's default (w->kind = linear_default) draws every
** recurrent tensor from U(+-1/sqrt(H)), as nn.RNN/LSTM/GRU do. */
clgrad_status clgrad_model_init(clgrad_ctx *ctx, clgrad_model *m, const clgrad_init_cfg *w,
                                const clgrad_init_cfg *b, uint64_t seed);

/* Batch norm's buffers: the running estimates (float32, n each, in the
** returned buffer at the offsets) of norm layer i (0 .. count - 1) and the
** count of training forward passes.  clgrad_model_nbuffers is 0 without batch norm. */
int clgrad_model_nbuffers(const clgrad_model *m);
cl_mem clgrad_model_running(const clgrad_model *m);
void clgrad_model_buffer(const clgrad_model *m, int i, const char **prefix, size_t *n, size_t *mean_off,
                         size_t *var_off);
long clgrad_model_batches_tracked(const clgrad_model *m);
void clgrad_model_set_batches_tracked(clgrad_model *m, long n);
/* Training mode (the default, 1) or evaluation mode (0): batch norm
** normalises with the batch statistics and updates the running estimates,
** or normalises with the running estimates (nn.Module.train / eval). */
void clgrad_model_set_training(clgrad_model *m, int training);
/* Training-mode passes that leave batch norm's running estimates and
** num_batches_tracked alone (freeze = 1): the extra forward passes of a
** measurement (the sharpness's Hessian-vector products) that are no steps. */
void clgrad_model_freeze_running(clgrad_model *m, int freeze);
/* A run's halt flag (flag at off: CLGRAD_REC_HALT of its metrics block, see
** clgrad_step_plan.halt_on_divergence; NULL: none): training passes read it
** on the device and, once it is nonzero, leave batch norm's running estimates
** alone, as the halted steps' updates are skipped.  The host's count of
** batches (clgrad_model_batches_tracked) still counts those passes: the
** caller that ends the run at the halt sets it back. */
void clgrad_model_set_halt(clgrad_model *m, cl_mem flag, size_t off);

/* Forward pass on x (B, T, F) at xoff; logits (B, K) land in clgrad_model_logits. */
clgrad_status clgrad_model_forward(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B);
/* Backward pass from dlogits (B, K): fills the gradient block (overwrites it). */
clgrad_status clgrad_model_backward(clgrad_ctx *ctx, clgrad_model *m, cl_mem dlogits, size_t dloff, size_t B);

/* L1 regularisation's gradient: grads += l1 * sign(params) over every
** parameter (weights and biases, as torch.optim's weight_decay), with
** sign(0) = 0 (torch.sign: the subgradient 0 at 0) and sign(NaN) = NaN.
** One launch of model_l1_grad; l1 = 0 launches nothing. */
clgrad_status clgrad_model_l1_grad(clgrad_ctx *ctx, clgrad_model *m, float l1);

/* Metrics of the last forward/backward, computed on the device into out at
** out_off (clgrad_model_metrics_size floats, no host synchronisation):
**   first a reduce-stats block (include/clgrad/reduce.h layout: 4 floats per
**   segment + 4 global) of the gradients arriving at layer outputs:
**     MLP, n metric layers: segment l = the gradient at metric layer l's
**       output (a hidden Linear: dL/dh_l, its block's output; the output
**       Linear: dL/dlogits; a norm: dL/d(its output)), segment n + l the
**       gradient at its input (clgrad_model_in_grad_seg; empty when none)
**     recurrent, L layers: segment l*T + t-1 = dL/dh_t of layer l (t = 1..T;
**       the total gradient: from above and through time), segment L*T =
**       dL/dlogits, and for the LSTM segment L*T+1 + l*T + t-1 = dL/dc_t of
**       layer l (total: through c_{t+1} and through h_t)
**   clgrad_model_out_grad_seg(m, l) gives the segment of metric layer l (a
**   recurrent layer: its dL/dh_T, the gradient arriving from the layer above
**   or from fc);
**   then, at clgrad_model_act_offset(m), 3 floats per metric layer: mean |h|,
**   fraction saturated, fraction of dead units (0, 0, 0 for the output layer;
**   for a recurrent layer over all time steps; LSTM and GRU h count as tanh:
**   saturated when |h| > 0.99; a norm layer: of its output, as identity). */
size_t clgrad_model_metrics_size(const clgrad_model *m);
int clgrad_model_out_grad_seg(const clgrad_model *m, int layer);
/* The segment of the gradient at metric layer l's input (MLP: a Linear's
** input h_{l-1}, i.e. before its residual block; a norm's input), or -1
** where none is computed (the first Linear, recurrent models). */
int clgrad_model_in_grad_seg(const clgrad_model *m, int layer);
size_t clgrad_model_act_offset(const clgrad_model *m);
size_t clgrad_model_seq_len(const clgrad_model *m); /* T (recurrent); 1 for an MLP */
int clgrad_model_rlayers(const clgrad_model *m);    /* L (recurrent); 0 for an MLP */
int clgrad_model_has_cell(const clgrad_model *m);   /* 1 for the LSTM */
/* From a metrics block read back to the host: ||dL/dh_t|| (cell = 0) or
** ||dL/dc_t|| (cell = 1, LSTM) at time t (1..T), over the whole stacked
** state: sqrt(sum over layers of the per-layer norms squared).  NaN when t
** is out of range or the model has no such state. */
double clgrad_model_timestep_norm(const clgrad_model *m, const float *metrics, size_t t, int cell);
clgrad_status clgrad_model_metrics(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off);
/* clgrad_model_metrics with the statistics of the gradients left to the caller: the activation figures are
** launched, *grads describes the reduction that writes the rest (to run with clgrad_reduce_stats or inside
** another launch: clgrad_optim_step_stats). */
clgrad_status clgrad_model_metrics_split(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off,
                                         clgrad_reduce_job *grads);
/* The activation statistics of one layer output h (rows, cols) at hoff: 3
** floats at out[out_off] (mean |h|, saturated fraction, dead-unit fraction;
** cl/model.cl, model_act_stats), in an order fixed by the shape (a float32 host
** replica, bitwise equal, is in src/check/ref.h). */
clgrad_status clgrad_model_act_stats(clgrad_ctx *ctx, clgrad_act kind, size_t rows, size_t cols, cl_mem h,
                                     size_t hoff, cl_mem out, size_t out_off);
/* The outputs of the hidden layers of the last forward pass with batch B, as
** a segment table over the forward-activation buffer *buf: segment i is
** hidden layer i's output h (B, width) for an MLP, all time steps h_1 .. h_T
** (T*B*H, h_0 excluded) of recurrent layer i; count
** clgrad_model_hidden_layers(m), which are the metric layers 0 .. count-1.
** Owned by the model (valid until the next call with another B). */
int clgrad_model_hidden_layers(const clgrad_model *m);
/* The work buffers (borrowed; sizes: clgrad_model_sizes_of) and where the
** scratch at the end of fwd starts (SIZE_MAX: none): for tests that compare
** every stored activation and gradient between two paths. */
void clgrad_model_work(const clgrad_model *m, cl_mem *fwd, cl_mem *bwd, size_t *scratch);
clgrad_status clgrad_model_hidden_segs(clgrad_ctx *ctx, clgrad_model *m, size_t B, const clgrad_segs **segs,
                                       cl_mem *buf);
#endif
