/*
** clgrad/model.h: the models an experiment trains, built from the kernel
** families: an MLP (any depth, including no hidden layer) and a vanilla
** (Elman) RNN, many-to-one, with full backpropagation through time.
**
** Parameters and gradients are one flat block each (llm.c layout); the
** tensor table gives every tensor's PyTorch state_dict name, shape and offset:
**   MLP, as nn.Sequential(Linear, act, Linear, act, ..., Linear):
**       "0.weight" (h1, in), "0.bias" (h1), "2.weight" (h2, h1), ... ; layer l is
**       Sequential index 2l
**   RNN, as nn.RNN(in, H, nonlinearity) + nn.Linear(H, out):
**       "rnn.weight_ih_l0" (H, in), "rnn.weight_hh_l0" (H, H), "rnn.bias_ih_l0" (H)
**       (PyTorch's second bias, bias_hh_l0, is zero and not trained here),
**       "fc.weight" (out, H), "fc.bias" (out)
** Shapes in comments: B batch, T time steps, F input features, H width, K outputs.
*/
#ifndef CLGRAD_MODEL_H
#define CLGRAD_MODEL_H
#include "clgrad/activation.h"
#include "clgrad/core.h"
#include "clgrad/init.h"
#include "clgrad/reduce.h"

#define CLGRAD_MODEL_MAX_TENSORS 1024

typedef enum { CLGRAD_MODEL_MLP = 0, CLGRAD_MODEL_RNN = 1 } clgrad_model_kind;

typedef struct clgrad_model_spec {
    clgrad_model_kind kind;
    size_t in;       /* features per time step */
    size_t seq_len;  /* T (1 for non-sequence data); an MLP sees T*in features */
    size_t out;      /* K: 1 for regression and binary, classes for multiclass */
    int nhidden;     /* MLP: hidden layers (0 = linear/logistic regression); RNN: 1 */
    const long *hidden;          /* widths, nhidden of them */
    const clgrad_act *acts;      /* one per hidden layer */
    float act_param;             /* leaky_relu slope / elu alpha */
    int bias;
    size_t max_batch;            /* buffers are sized for this batch */
} clgrad_model_spec;

typedef struct clgrad_tensor {
    char name[48];
    size_t off, rows, cols; /* (rows, cols) row-major at off in the flat block; a vector has rows = 1 */
    int layer;              /* metric layer it belongs to */
    int is_bias;
} clgrad_tensor;

typedef struct clgrad_model clgrad_model;

clgrad_status clgrad_model_create(clgrad_ctx *ctx, const clgrad_model_spec *spec, clgrad_model **out);
void clgrad_model_free(clgrad_model *m); /* NULL-safe */

size_t clgrad_model_nparams(const clgrad_model *m);
int clgrad_model_ntensors(const clgrad_model *m);
const clgrad_tensor *clgrad_model_tensor(const clgrad_model *m, int i);
int clgrad_model_nlayers(const clgrad_model *m);           /* metric layers: MLP nhidden + 1; RNN 2 */
const char *clgrad_model_layer_name(const clgrad_model *m, int l);
cl_mem clgrad_model_params(const clgrad_model *m);        /* borrowed, nparams floats */
cl_mem clgrad_model_grads(const clgrad_model *m);         /* borrowed */
cl_mem clgrad_model_logits(const clgrad_model *m);        /* borrowed: (max_batch, K) */
const clgrad_segs *clgrad_model_param_segs(const clgrad_model *m); /* one segment per tensor */

/* Initialise every tensor: weights from `w`, biases from `b` (NULL: zeros),
** from (seed, tensor index), identical on every device. */
clgrad_status clgrad_model_init(clgrad_ctx *ctx, clgrad_model *m, const clgrad_init_cfg *w,
                                const clgrad_init_cfg *b, uint64_t seed);

/* Forward pass on x (B, T, F) at xoff; logits (B, K) land in clgrad_model_logits. */
clgrad_status clgrad_model_forward(clgrad_ctx *ctx, clgrad_model *m, cl_mem x, size_t xoff, size_t B);
/* Backward pass from dlogits (B, K): fills the gradient block (overwrites it). */
clgrad_status clgrad_model_backward(clgrad_ctx *ctx, clgrad_model *m, cl_mem dlogits, size_t dloff, size_t B);

/* Metrics of the last forward/backward, computed on the device into out at
** out_off (clgrad_model_metrics_size floats, no host synchronisation):
**   first a reduce-stats block (include/clgrad/reduce.h layout: 4 floats per
**   segment + 4 global) of the gradients arriving at layer outputs:
**     MLP: segment l = dL/dh_l for hidden layer l, segment L = dL/dlogits
**     RNN: segment t-1 = dL/dh_t for t = 1..T, segment T = dL/dlogits
**   clgrad_model_out_grad_seg(m, l) gives the segment of metric layer l;
**   then, at clgrad_model_act_offset(m), 3 floats per metric layer: mean |h|,
**   fraction saturated, fraction of dead units (0, 0, 0 for the output layer;
**   for the RNN layer, over all time steps). */
size_t clgrad_model_metrics_size(const clgrad_model *m);
int clgrad_model_out_grad_seg(const clgrad_model *m, int layer);
size_t clgrad_model_act_offset(const clgrad_model *m);
size_t clgrad_model_seq_len(const clgrad_model *m); /* T (RNN); 1 for an MLP */
clgrad_status clgrad_model_metrics(clgrad_ctx *ctx, clgrad_model *m, size_t B, cl_mem out, size_t out_off);
#endif
