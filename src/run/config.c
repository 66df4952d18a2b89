/*
** config.c: experiment files (INI) -> clgrad_config, and back.
**
** One table (keys[]) describes every key: its section, type, field, range and
** which kinds use it.  Parsing runs in three passes over a private copy of the
** config: the file's lines, then the --set overrides (both check type and range
** per key), then the check_*_() functions: defaults that depend on other keys
** (lr by optimizer, loss from the data, ...) and the cross-key rules.  Every problem is recorded with its location
** ("FILE:LINE" or "--set ...") and parsing goes on, so one run reports all of
** them; the caller's struct is written only when there were none.
** Writing uses the same table, so every key is printed and reads back exactly.
** No fixed-size buffers hold user text: messages and printed values go through
** a growing string buffer, and values are copied into the struct's fields only
** after their length was checked.
*/
#include "clgrad/config.h"
#include "clgrad/activation.h"
#include "clgrad/init.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"
#include "clgrad/step.h"
#include "util/fsutil.h"
#include "util/ini.h"
#include "util/sbuf.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len_(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* User text for a message: at most `max` bytes shown, control characters,
** quotes, backslashes and invalid UTF-8 as \xNN; the total length when cut. */
static void sb_text(clgrad_sbuf *b, const char *s, size_t n, size_t max)
{
    size_t shown = n > max ? max : n;
    for (size_t i = 0; i < shown;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t u = utf8_len_((const unsigned char *)s + i, shown - i);
            if (u) {
                clgrad_sb_putn(b, s + i, u);
                i += u;
                continue;
            }
        }
        if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\'' || c == '\\') clgrad_sb_printf(b, "\\x%02x", c);
        else clgrad_sb_putn(b, s + i, 1);
        i++;
    }
    if (n > shown) clgrad_sb_printf(b, "... (%zu bytes)", n);
}

static void sb_quote(clgrad_sbuf *b, const char *s, size_t n)
{
    clgrad_sb_puts(b, "'");
    sb_text(b, s, n, 48);
    clgrad_sb_puts(b, "'");
}

/* ------------------------------------------------------------------ */
/* The key table                                                       */
/* ------------------------------------------------------------------ */

enum { S_RUN, S_DATA, S_MODEL, S_LOSS, S_OPTIM, S_CLIP, S_DIVERGE, S_NOISE, S_METRICS, S_COUNT };
static const char *const sections[S_COUNT] = {"run", "data", "model", "loss", "optim", "clip", "diverge", "noise",
                                              "metrics"};

typedef enum { T_LONG, T_U64, T_DOUBLE, T_BOOL, T_CHOICE, T_STRING, T_WIDTHS, T_ACTS } ktype;

enum {
    F_GT = 1u << 0,    /* lower bound exclusive */
    F_LT = 1u << 1,    /* upper bound exclusive */
    F_NOLO = 1u << 2,  /* no lower bound */
    F_NOHI = 1u << 3,  /* no upper bound */
    F_INF = 1u << 4,   /* +inf allowed */
    F_AUTO = 1u << 5,  /* "auto" allowed (stored as NAN) */
    F_EMPTY = 1u << 6, /* choice: "" allowed */
    F_NONE = 1u << 7,  /* "none" allowed (stored as +inf; written back as inf) */
};

enum {
    K_RUN_NAME, K_RUN_SEED, K_RUN_STEPS, K_RUN_EPOCHS, K_RUN_EVAL_EVERY, K_RUN_LOG_EVERY,
    K_DATA_KIND, K_DATA_PATH, K_DATA_LABELS, K_DATA_TARGET, K_DATA_TASK, K_DATA_BATCH_SIZE, K_DATA_SHUFFLE,
    K_DATA_TEST_FRACTION, K_DATA_STANDARDIZE, K_DATA_SAMPLES, K_DATA_FEATURES, K_DATA_NOISE, K_DATA_CONDITION,
    K_DATA_CLASSES, K_DATA_SEQ_LEN,
    K_MODEL_KIND, K_MODEL_HIDDEN, K_MODEL_LAYERS, K_MODEL_FORGET_BIAS, K_MODEL_ACTIVATION, K_MODEL_ACTIVATION_PARAM, K_MODEL_BIAS, K_MODEL_INIT,
    K_MODEL_INIT_GAIN, K_MODEL_INIT_STD, K_MODEL_INIT_MODE, K_MODEL_NORM, K_MODEL_RESIDUAL, K_MODEL_FINAL_NORM,
    K_MODEL_NORM_EPS,
    K_LOSS_KIND,
    K_OPTIM_KIND, K_OPTIM_LR, K_OPTIM_MOMENTUM, K_OPTIM_DAMPENING, K_OPTIM_WEIGHT_DECAY, K_OPTIM_L1, K_OPTIM_BETA1,
    K_OPTIM_BETA2, K_OPTIM_EPS, K_OPTIM_ALPHA, K_OPTIM_NESTEROV, K_OPTIM_CENTERED, K_OPTIM_AMSGRAD,
    K_OPTIM_TRUST_COEFFICIENT, K_OPTIM_TRUST_CLIP, K_OPTIM_EXCLUDE,
    K_OPTIM_SCHEDULE, K_OPTIM_STEP_SIZE, K_OPTIM_GAMMA, K_OPTIM_WARMUP_STEPS, K_OPTIM_MIN_LR,
    K_CLIP_KIND, K_CLIP_MAX_NORM, K_CLIP_NORM_TYPE, K_CLIP_VALUE, K_CLIP_CLIPPING, K_CLIP_NONFINITE,
    K_CLIP_ALPHA, K_CLIP_Z_THRESH, K_CLIP_WARMUP_STEPS, K_CLIP_CLIP_OPTION, K_CLIP_CLIP_FACTOR, K_CLIP_SKIP_UPDATE,
    K_DIVERGE_GRAD_NORM_LIMIT, K_DIVERGE_LOSS_LIMIT, K_DIVERGE_ACTION,
    K_NOISE_GRAD_ETA, K_NOISE_GRAD_GAMMA, K_NOISE_INPUT_STD,
    K_METRICS_SPIKE_ALPHA, K_METRICS_SPIKE_Z, K_METRICS_SPIKE_WARMUP,
    K_METRICS_SHARPNESS_EVERY, K_METRICS_SHARPNESS_ITERS, K_METRICS_SHARPNESS_TOL, K_METRICS_SHARPNESS_EPS,
    K_METRICS_HISTOGRAM_EVERY,
    K_COUNT
};

typedef struct {
    int sec;
    const char *key;
    ktype type;
    size_t off, size;    /* the field in clgrad_config */
    const char *choices; /* T_CHOICE, T_ACTS: "a|b|c" (a choice of the config alone) */
    const char *(*name_at)(int i); /* or: the i-th name of the enum's one name table, NULL past the end */
    double lo, hi;       /* T_LONG, T_DOUBLE range (see F_*) */
    unsigned flags;
    const char *allowed; /* overrides the generated "allowed:" text */
    int dep;             /* with used_by: the choice key that decides whether this key is used */
    const char *used_by; /* "|a|b|": the values of dep that use this key (others need the default) */
} keydef;

#define KEY(S, NAME, T, SECT, F) \
    .sec = S, .key = NAME, .type = T, .off = offsetof(clgrad_config, SECT.F), .size = sizeof(((clgrad_config *)0)->SECT.F)

/* The choices that are enums of the library read their names from the one
** name table each enum has (src/ops, src/nn): nothing is listed twice. */
static const char *act_at_(int i) { return i < CLGRAD_ACT_COUNT ? clgrad_act_name((clgrad_act)i) : NULL; }
static const char *model_at_(int i) { return i < CLGRAD_MODEL_NKINDS ? clgrad_model_kind_name((clgrad_model_kind)i) : NULL; }
static const char *loss_at_(int i) { return i < CLGRAD_LOSS_COUNT ? clgrad_loss_name((clgrad_loss)i) : NULL; }
static const char *optim_at_(int i) { return i < CLGRAD_OPTIM_COUNT ? clgrad_optim_name((clgrad_optim_kind)i) : NULL; }
static const char *clip_at_(int i) { return i < CLGRAD_CLIP_NKINDS ? clgrad_clip_kind_name((clgrad_clip_kind)i) : NULL; }
static const char *init_mode_at_(int i) { return i < 2 ? clgrad_init_mode_name((clgrad_init_mode)i) : NULL; }
static const char *norm_at_(int i) { return i < 4 ? clgrad_normlayer_name((clgrad_normlayer)i) : NULL; }
static const char *residual_at_(int i) { return i < 3 ? clgrad_residual_name(i) : NULL; }
/* "default" (PyTorch's nn.Linear: the library's linear_default), then the other kinds in their order */
static const char *init_at_(int i)
{
    if (i == 0) return "default";
    for (int k = 0, j = 1; k < CLGRAD_INIT_NKINDS; k++) {
        if (k == CLGRAD_INIT_LINEAR_DEFAULT) continue;
        if (j++ == i) return clgrad_init_name((clgrad_init_kind)k);
    }
    return NULL;
}
static const char bool_names[] = "true|false|yes|no|on|off|1|0";

static const keydef keys[K_COUNT] = {
    [K_RUN_NAME] = {KEY(S_RUN, "name", T_STRING, run, name), .allowed = "a name without '/' or '\\', not '.' or '..'"},
    [K_RUN_SEED] = {KEY(S_RUN, "seed", T_U64, run, seed)},
    [K_RUN_STEPS] = {KEY(S_RUN, "steps", T_LONG, run, steps), .lo = 0, .flags = F_NOHI},
    [K_RUN_EPOCHS] = {KEY(S_RUN, "epochs", T_LONG, run, epochs), .lo = 0, .flags = F_NOHI},
    [K_RUN_EVAL_EVERY] = {KEY(S_RUN, "eval_every", T_LONG, run, eval_every), .lo = 0, .flags = F_NOHI},
    [K_RUN_LOG_EVERY] = {KEY(S_RUN, "log_every", T_LONG, run, log_every), .lo = 1, .flags = F_NOHI},

    [K_DATA_KIND] = {KEY(S_DATA, "kind", T_CHOICE, data, kind),
                     .choices = "linreg|moons|circles|xor|blobs|spirals|adding|temporal_order|csv|idx|cifar10"},
    [K_DATA_PATH] = {KEY(S_DATA, "path", T_STRING, data, path), .dep = K_DATA_KIND, .used_by = "|csv|idx|cifar10|"},
    [K_DATA_LABELS] = {KEY(S_DATA, "labels", T_STRING, data, labels), .dep = K_DATA_KIND, .used_by = "|idx|"},
    [K_DATA_TARGET] = {KEY(S_DATA, "target", T_STRING, data, target), .dep = K_DATA_KIND, .used_by = "|csv|"},
    [K_DATA_TASK] = {KEY(S_DATA, "task", T_CHOICE, data, task), .choices = "regression|binary|multiclass"},
    [K_DATA_BATCH_SIZE] = {KEY(S_DATA, "batch_size", T_LONG, data, batch_size), .lo = 0, .flags = F_NOHI,
                           .allowed = "an integer >= 0 (0 = full batch)"},
    [K_DATA_SHUFFLE] = {KEY(S_DATA, "shuffle", T_BOOL, data, shuffle)},
    [K_DATA_TEST_FRACTION] = {KEY(S_DATA, "test_fraction", T_DOUBLE, data, test_fraction), .lo = 0, .hi = 1,
                              .flags = F_LT},
    [K_DATA_STANDARDIZE] = {KEY(S_DATA, "standardize", T_BOOL, data, standardize)},
    [K_DATA_SAMPLES] = {KEY(S_DATA, "samples", T_LONG, data, samples), .lo = 1, .flags = F_NOHI},
    [K_DATA_FEATURES] = {KEY(S_DATA, "features", T_LONG, data, features), .lo = 1, .flags = F_NOHI},
    [K_DATA_NOISE] = {KEY(S_DATA, "noise", T_DOUBLE, data, noise), .lo = 0, .flags = F_NOHI},
    [K_DATA_CONDITION] = {KEY(S_DATA, "condition", T_DOUBLE, data, condition), .lo = 1, .flags = F_NOHI},
    [K_DATA_CLASSES] = {KEY(S_DATA, "classes", T_LONG, data, classes), .lo = 2, .flags = F_NOHI},
    [K_DATA_SEQ_LEN] = {KEY(S_DATA, "seq_len", T_LONG, data, seq_len), .lo = 1, .flags = F_NOHI},

    [K_MODEL_KIND] = {KEY(S_MODEL, "kind", T_CHOICE, model, kind), .name_at = model_at_},
    [K_MODEL_HIDDEN] = {KEY(S_MODEL, "hidden", T_WIDTHS, model, hidden)},
    [K_MODEL_LAYERS] = {KEY(S_MODEL, "layers", T_LONG, model, layers), .lo = 1, .hi = CLGRAD_MAX_RLAYERS,
                        .dep = K_MODEL_KIND, .used_by = "|rnn|lstm|gru|"},
    [K_MODEL_FORGET_BIAS] = {KEY(S_MODEL, "forget_bias", T_DOUBLE, model, forget_bias),
                             .flags = F_NOLO | F_NOHI | F_AUTO,
                             .allowed = "a finite number, or auto (keep the initialised biases)", .dep = K_MODEL_KIND,
                             .used_by = "|lstm|"},
    [K_MODEL_ACTIVATION] = {KEY(S_MODEL, "activation", T_ACTS, model, activation), .name_at = act_at_},
    [K_MODEL_ACTIVATION_PARAM] = {KEY(S_MODEL, "activation_param", T_DOUBLE, model, activation_param),
                                  .flags = F_NOLO | F_NOHI | F_AUTO},
    [K_MODEL_BIAS] = {KEY(S_MODEL, "bias", T_BOOL, model, bias)},
    [K_MODEL_INIT] = {KEY(S_MODEL, "init", T_CHOICE, model, init),
                      .name_at = init_at_},
    [K_MODEL_INIT_GAIN] = {KEY(S_MODEL, "init_gain", T_DOUBLE, model, init_gain), .lo = 0,
                           .flags = F_GT | F_NOHI | F_AUTO},
    [K_MODEL_INIT_STD] = {KEY(S_MODEL, "init_std", T_DOUBLE, model, init_std), .lo = 0, .flags = F_NOHI},
    [K_MODEL_INIT_MODE] = {KEY(S_MODEL, "init_mode", T_CHOICE, model, init_mode), .name_at = init_mode_at_},
    [K_MODEL_NORM] = {KEY(S_MODEL, "norm", T_CHOICE, model, norm), .name_at = norm_at_,
                      .allowed = "none|layernorm|rmsnorm|batchnorm (nn.LayerNorm, nn.RMSNorm, nn.BatchNorm1d in every "
                                 "hidden layer: Linear, Norm, activation; with residual, in each block)",
                      .dep = K_MODEL_KIND, .used_by = "|mlp|"},
    [K_MODEL_RESIDUAL] = {KEY(S_MODEL, "residual", T_CHOICE, model, residual), .name_at = residual_at_,
                          .allowed = "none|pre|post (hidden layers 2..n as residual blocks; pre: h + f(W Norm(h) + b), "
                                     "post: Norm(h + f(W h + b)); equal widths)",
                          .dep = K_MODEL_KIND, .used_by = "|mlp|"},
    [K_MODEL_FINAL_NORM] = {KEY(S_MODEL, "final_norm", T_BOOL, model, final_norm),
                            .allowed = "true|false (a norm before the output layer, as Pre-LN nets; needs norm)",
                            .dep = K_MODEL_KIND, .used_by = "|mlp|"},
    [K_MODEL_NORM_EPS] = {KEY(S_MODEL, "norm_eps", T_DOUBLE, model, norm_eps), .lo = 0,
                          .flags = F_GT | F_NOHI | F_AUTO,
                          .allowed = "a number > 0, or auto (PyTorch's: 1e-5 for layernorm and batchnorm, "
                                     "torch.finfo(float32).eps = 2^-23 for rmsnorm)",
                          .dep = K_MODEL_KIND, .used_by = "|mlp|"},

    [K_LOSS_KIND] = {KEY(S_LOSS, "kind", T_CHOICE, loss, kind), .name_at = loss_at_, .flags = F_EMPTY},

    [K_OPTIM_KIND] = {KEY(S_OPTIM, "kind", T_CHOICE, optim, kind), .name_at = optim_at_},
    [K_OPTIM_LR] = {KEY(S_OPTIM, "lr", T_DOUBLE, optim, lr), .lo = 0, .flags = F_NOHI}, /* 0: gradients without updates */
    [K_OPTIM_MOMENTUM] = {KEY(S_OPTIM, "momentum", T_DOUBLE, optim, momentum), .lo = 0, .hi = 1, .flags = F_LT,
                          .dep = K_OPTIM_KIND, .used_by = "|sgd|rmsprop|lars|"},
    [K_OPTIM_DAMPENING] = {KEY(S_OPTIM, "dampening", T_DOUBLE, optim, dampening), .lo = 0, .hi = 1,
                           .dep = K_OPTIM_KIND, .used_by = "|sgd|"},
    [K_OPTIM_WEIGHT_DECAY] = {KEY(S_OPTIM, "weight_decay", T_DOUBLE, optim, weight_decay), .lo = 0, .flags = F_NOHI},
    [K_OPTIM_L1] = {KEY(S_OPTIM, "l1", T_DOUBLE, optim, l1), .lo = 0, .flags = F_NOHI},
    [K_OPTIM_BETA1] = {KEY(S_OPTIM, "beta1", T_DOUBLE, optim, beta1), .lo = 0, .hi = 1, .flags = F_LT,
                       .dep = K_OPTIM_KIND, .used_by = "|adam|adamw|lamb|"},
    [K_OPTIM_BETA2] = {KEY(S_OPTIM, "beta2", T_DOUBLE, optim, beta2), .lo = 0, .hi = 1, .flags = F_LT,
                       .dep = K_OPTIM_KIND, .used_by = "|adam|adamw|lamb|"},
    [K_OPTIM_EPS] = {KEY(S_OPTIM, "eps", T_DOUBLE, optim, eps), .lo = 0, .flags = F_GT | F_NOHI,
                     .dep = K_OPTIM_KIND, .used_by = "|rmsprop|adam|adamw|lamb|"},
    [K_OPTIM_ALPHA] = {KEY(S_OPTIM, "alpha", T_DOUBLE, optim, alpha), .lo = 0, .hi = 1, .flags = F_LT,
                       .dep = K_OPTIM_KIND, .used_by = "|rmsprop|"},
    [K_OPTIM_NESTEROV] = {KEY(S_OPTIM, "nesterov", T_BOOL, optim, nesterov), .dep = K_OPTIM_KIND,
                          .used_by = "|sgd|"},
    [K_OPTIM_CENTERED] = {KEY(S_OPTIM, "centered", T_BOOL, optim, centered), .dep = K_OPTIM_KIND,
                          .used_by = "|rmsprop|"},
    [K_OPTIM_AMSGRAD] = {KEY(S_OPTIM, "amsgrad", T_BOOL, optim, amsgrad), .dep = K_OPTIM_KIND,
                         .used_by = "|adam|adamw|"},
    [K_OPTIM_TRUST_COEFFICIENT] = {KEY(S_OPTIM, "trust_coefficient", T_DOUBLE, optim, trust_coefficient), .lo = 0,
                                   .flags = F_GT | F_NOHI, .dep = K_OPTIM_KIND, .used_by = "|lars|"},
    [K_OPTIM_TRUST_CLIP] = {KEY(S_OPTIM, "trust_clip", T_DOUBLE, optim, trust_clip), .lo = 0,
                            .flags = F_GT | F_NOHI | F_INF | F_NONE,
                            .allowed = "a number > 0 (the largest trust ratio), or none (= inf: no clipping)",
                            .dep = K_OPTIM_KIND, .used_by = "|lars|lamb|"},
    [K_OPTIM_EXCLUDE] = {KEY(S_OPTIM, "exclude", T_CHOICE, optim, exclude), .choices = "bias_and_norm|bias|none",
                         .allowed = "bias (biases get trust ratio 1 and no weight decay) or none",
                         .dep = K_OPTIM_KIND, .used_by = "|lars|lamb|"},
    [K_OPTIM_SCHEDULE] = {KEY(S_OPTIM, "schedule", T_CHOICE, optim, schedule), .choices = "constant|step|cosine|warmup"},
    [K_OPTIM_STEP_SIZE] = {KEY(S_OPTIM, "step_size", T_LONG, optim, step_size), .lo = 1, .flags = F_NOHI,
                           .dep = K_OPTIM_SCHEDULE, .used_by = "|step|"},
    [K_OPTIM_GAMMA] = {KEY(S_OPTIM, "gamma", T_DOUBLE, optim, gamma), .lo = 0, .flags = F_GT | F_NOHI,
                       .dep = K_OPTIM_SCHEDULE, .used_by = "|step|"},
    [K_OPTIM_WARMUP_STEPS] = {KEY(S_OPTIM, "warmup_steps", T_LONG, optim, warmup_steps), .lo = 0, .flags = F_NOHI,
                              .dep = K_OPTIM_SCHEDULE, .used_by = "|warmup|cosine|"},
    [K_OPTIM_MIN_LR] = {KEY(S_OPTIM, "min_lr", T_DOUBLE, optim, min_lr), .lo = 0, .flags = F_NOHI,
                        .dep = K_OPTIM_SCHEDULE, .used_by = "|cosine|"},

    [K_CLIP_KIND] = {KEY(S_CLIP, "kind", T_CHOICE, clip, kind), .name_at = clip_at_},
    [K_CLIP_MAX_NORM] = {KEY(S_CLIP, "max_norm", T_DOUBLE, clip, max_norm), .lo = 0, .flags = F_GT | F_NOHI | F_INF,
                         .allowed = "a number > 0 (inf: zscore's max_grad_norm = None; norm and global_norm need a "
                                    "finite one)",
                         .dep = K_CLIP_KIND, .used_by = "|norm|global_norm|zscore|"},
    [K_CLIP_NORM_TYPE] = {KEY(S_CLIP, "norm_type", T_DOUBLE, clip, norm_type), .lo = 2, .hi = 2, .flags = F_INF,
                          .allowed = "2 or inf", .dep = K_CLIP_KIND, .used_by = "|norm|global_norm|"},
    [K_CLIP_VALUE] = {KEY(S_CLIP, "value", T_DOUBLE, clip, value), .lo = 0, .flags = F_GT | F_NOHI,
                      .dep = K_CLIP_KIND, .used_by = "|value|"},
    [K_CLIP_CLIPPING] = {KEY(S_CLIP, "clipping", T_DOUBLE, clip, clipping), .lo = 0, .flags = F_GT | F_NOHI,
                         .dep = K_CLIP_KIND, .used_by = "|agc|"},
    [K_CLIP_NONFINITE] = {KEY(S_CLIP, "nonfinite", T_CHOICE, clip, nonfinite), .choices = "propagate|skip|stop"},
    [K_CLIP_ALPHA] = {KEY(S_CLIP, "alpha", T_DOUBLE, clip, alpha), .lo = 0, .hi = 1, .flags = F_GT | F_LT,
                      .dep = K_CLIP_KIND, .used_by = "|zscore|"},
    [K_CLIP_Z_THRESH] = {KEY(S_CLIP, "z_thresh", T_DOUBLE, clip, z_thresh), .lo = 0, .flags = F_GT | F_NOHI,
                         .dep = K_CLIP_KIND, .used_by = "|zscore|"},
    [K_CLIP_WARMUP_STEPS] = {KEY(S_CLIP, "warmup_steps", T_LONG, clip, warmup_steps), .lo = 1, .hi = 100000,
                             .dep = K_CLIP_KIND, .used_by = "|zscore|"},
    [K_CLIP_CLIP_OPTION] = {KEY(S_CLIP, "clip_option", T_CHOICE, clip, clip_option), .choices = "adaptive_scaling|mean",
                            .dep = K_CLIP_KIND, .used_by = "|zscore|"},
    [K_CLIP_CLIP_FACTOR] = {KEY(S_CLIP, "clip_factor", T_DOUBLE, clip, clip_factor), .lo = 0, .flags = F_GT | F_NOHI,
                            .dep = K_CLIP_KIND, .used_by = "|zscore|"},
    [K_CLIP_SKIP_UPDATE] = {KEY(S_CLIP, "skip_update_on_spike", T_BOOL, clip, skip_update_on_spike),
                            .dep = K_CLIP_KIND, .used_by = "|zscore|"},

    [K_DIVERGE_GRAD_NORM_LIMIT] = {KEY(S_DIVERGE, "grad_norm_limit", T_DOUBLE, diverge, grad_norm_limit),
                                   .flags = F_NOLO | F_NOHI | F_INF, .allowed = "a number (<= 0 disables) or inf"},
    [K_DIVERGE_LOSS_LIMIT] = {KEY(S_DIVERGE, "loss_limit", T_DOUBLE, diverge, loss_limit),
                              .flags = F_NOLO | F_NOHI | F_INF, .allowed = "a number (<= 0 disables) or inf"},
    [K_DIVERGE_ACTION] = {KEY(S_DIVERGE, "action", T_CHOICE, diverge, action), .choices = "stop|continue"},

    [K_NOISE_GRAD_ETA] = {KEY(S_NOISE, "grad_eta", T_DOUBLE, noise, grad_eta), .lo = 0, .flags = F_NOHI,
                          .allowed = "a number >= 0 (0 = no gradient noise)"},
    [K_NOISE_GRAD_GAMMA] = {KEY(S_NOISE, "grad_gamma", T_DOUBLE, noise, grad_gamma), .lo = 0, .flags = F_NOHI},
    [K_NOISE_INPUT_STD] = {KEY(S_NOISE, "input_std", T_DOUBLE, noise, input_std), .lo = 0, .flags = F_NOHI,
                           .allowed = "a number >= 0 (0 = no input noise)"},

    [K_METRICS_SPIKE_ALPHA] = {KEY(S_METRICS, "spike_alpha", T_DOUBLE, metrics, spike_alpha), .lo = 0, .hi = 1,
                               .flags = F_GT | F_LT},
    [K_METRICS_SPIKE_Z] = {KEY(S_METRICS, "spike_z", T_DOUBLE, metrics, spike_z), .lo = 0, .flags = F_NOHI,
                           .allowed = "a number >= 0 (0 = no spike detection)"},
    [K_METRICS_SPIKE_WARMUP] = {KEY(S_METRICS, "spike_warmup", T_LONG, metrics, spike_warmup), .lo = 1, .hi = 100000000},
    [K_METRICS_SHARPNESS_EVERY] = {KEY(S_METRICS, "sharpness_every", T_LONG, metrics, sharpness_every), .lo = 0,
                                   .flags = F_NOHI,
                                   .allowed = "an integer >= 0 (0 = off), a multiple of [run] log_every: the "
                                              "sharpness (lambda_max of the loss Hessian) every N steps"},
    [K_METRICS_SHARPNESS_ITERS] = {KEY(S_METRICS, "sharpness_iters", T_LONG, metrics, sharpness_iters), .lo = 1,
                                   .hi = 100000, .allowed = "an integer in [1, 100000]: the most Hessian-vector "
                                                            "products (power iterations) per estimate"},
    [K_METRICS_SHARPNESS_TOL] = {KEY(S_METRICS, "sharpness_tol", T_DOUBLE, metrics, sharpness_tol), .lo = 0,
                                 .flags = F_NOHI, .allowed = "a number >= 0: stop when the estimate changes by at "
                                                             "most this, relative (0: only when it repeats exactly)"},
    [K_METRICS_SHARPNESS_EPS] = {KEY(S_METRICS, "sharpness_eps", T_DOUBLE, metrics, sharpness_eps), .lo = 0,
                                 .hi = 1, .flags = F_GT, .allowed = "a number in (0, 1]: the finite-difference "
                                                                   "step relative to max(1, ||w||)"},
    [K_METRICS_HISTOGRAM_EVERY] = {KEY(S_METRICS, "histogram_every", T_LONG, metrics, histogram_every), .lo = 0,
                                   .flags = F_NOHI,
                                   .allowed = "an integer >= 0: log-magnitude histograms of weights, gradients and "
                                              "activations (histograms.csv) at every N-th logged step "
                                              "(steps that are multiples of N * log_every, and the last step); 0 = off"},
};

/* Common names from other tools, to point users at ours. */
static const struct {
    const char *alias;
    int key;
} key_aliases[] = {
    {"learning_rate", K_OPTIM_LR},       {"learningrate", K_OPTIM_LR},     {"betas", K_OPTIM_BETA1},
    {"epsilon", K_OPTIM_EPS},            {"optimizer", K_OPTIM_KIND},      {"decay", K_OPTIM_WEIGHT_DECAY},
    {"max_grad_norm", K_CLIP_MAX_NORM},  {"grad_clip", K_CLIP_MAX_NORM},   {"clip_value", K_CLIP_VALUE},
    {"hidden_sizes", K_MODEL_HIDDEN},    {"hidden_size", K_MODEL_HIDDEN},  {"hidden_layers", K_MODEL_HIDDEN},
    {"num_layers", K_MODEL_LAYERS},      {"widths", K_MODEL_HIDDEN},       {"width", K_MODEL_HIDDEN},
    {"nonlinearity", K_MODEL_ACTIVATION}, {"activations", K_MODEL_ACTIVATION},
    {"random_seed", K_RUN_SEED},         {"iterations", K_RUN_STEPS},      {"iters", K_RUN_STEPS},
    {"max_steps", K_RUN_STEPS},          {"num_steps", K_RUN_STEPS},       {"num_epochs", K_RUN_EPOCHS},
    {"max_epochs", K_RUN_EPOCHS},        {"batch", K_DATA_BATCH_SIZE},     {"bs", K_DATA_BATCH_SIZE},
    {"dataset", K_DATA_KIND},            {"loss", K_LOSS_KIND},            {"criterion", K_LOSS_KIND},
    {"n_samples", K_DATA_SAMPLES},       {"num_samples", K_DATA_SAMPLES},  {"num_classes", K_DATA_CLASSES},
    {"n_features", K_DATA_FEATURES},     {"num_features", K_DATA_FEATURES}, {"file", K_DATA_PATH},
    {"sequence_length", K_DATA_SEQ_LEN}, {"seq_length", K_DATA_SEQ_LEN},   {"scheduler", K_OPTIM_SCHEDULE},
    {"lr_schedule", K_OPTIM_SCHEDULE},   {"warmup", K_OPTIM_WARMUP_STEPS}, {"eta_min", K_OPTIM_MIN_LR},
    {"l1_lambda", K_OPTIM_L1},           {"gradient_noise", K_NOISE_GRAD_ETA}, {"noise_eta", K_NOISE_GRAD_ETA},
    {"eta", K_NOISE_GRAD_ETA},           {"input_noise", K_NOISE_INPUT_STD},
};
static const struct {
    const char *alias;
    int sec;
} sec_aliases[] = {
    {"optimizer", S_OPTIM}, {"optimiser", S_OPTIM}, {"training", S_RUN},  {"train", S_RUN},
    {"dataset", S_DATA},    {"network", S_MODEL},   {"net", S_MODEL},     {"clipping", S_CLIP},
    {"divergence", S_DIVERGE}, {"criterion", S_LOSS}, {"scheduler", S_OPTIM}, {"regularization", S_OPTIM},
};

static void *field_(clgrad_config *c, int k) { return (char *)c + keys[k].off; }
static const void *cfield_(const clgrad_config *c, int k) { return (const char *)c + keys[k].off; }

/* ------------------------------------------------------------------ */
/* Defaults                                                            */
/* ------------------------------------------------------------------ */

static void copy_str_(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    memset(dst + len, 0, n - len);
}

static double default_lr_(const char *kind)
{
    if (!strcmp(kind, "adam") || !strcmp(kind, "adamw") || !strcmp(kind, "lamb")) return 1e-3;
    return 1e-2; /* sgd, rmsprop, lars */
}

/* The [run] section's defaults. */
static void defaults_run_(clgrad_config *cfg)
{
    copy_str_(cfg->run.name, sizeof cfg->run.name, "run");
    cfg->run.seed = 0;
    cfg->run.steps = 1000;
    cfg->run.epochs = 0;
    cfg->run.eval_every = 100;
    cfg->run.log_every = 1;
}

/* The [data] section's defaults. */
static void defaults_data_(clgrad_data_section *d)
{
    copy_str_(d->kind, sizeof d->kind, "linreg");
    copy_str_(d->task, sizeof d->task, "regression");
    d->batch_size = 32;
    d->shuffle = 1;
    d->test_fraction = 0.2;
    d->standardize = 0;
    d->samples = 1000;
    d->features = 10;
    d->noise = 0.1;
    d->condition = 1;
    d->classes = 3;
    d->seq_len = 50;
}

/* The [model] section's defaults. */
static void defaults_model_(clgrad_model_section *m)
{
    copy_str_(m->kind, sizeof m->kind, "mlp");
    m->nhidden = 2;
    m->hidden[0] = m->hidden[1] = 64;
    m->nactivation = 1;
    copy_str_(m->activation[0], sizeof m->activation[0], "relu");
    m->layers = 1;
    m->forget_bias = NAN;
    m->activation_param = NAN;
    m->bias = 1;
    copy_str_(m->init, sizeof m->init, "default");
    m->init_gain = NAN;
    m->init_std = 1;
    copy_str_(m->init_mode, sizeof m->init_mode, "fan_in");
    copy_str_(m->norm, sizeof m->norm, "none");
    copy_str_(m->residual, sizeof m->residual, "none");
    m->final_norm = 0;
    m->norm_eps = NAN;
}

/* The [optim] section's defaults. */
static void defaults_optim_(clgrad_optim_section *o)
{
    copy_str_(o->kind, sizeof o->kind, "sgd");
    o->lr = default_lr_("sgd");
    o->momentum = 0;
    o->dampening = 0;
    o->weight_decay = 0;
    o->l1 = 0;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->alpha = 0.99;
    o->trust_coefficient = 1e-3;
    o->trust_clip = INFINITY;
    copy_str_(o->exclude, sizeof o->exclude, "bias_and_norm");
    copy_str_(o->schedule, sizeof o->schedule, "constant");
    o->step_size = 100;
    o->gamma = 0.1;
    o->warmup_steps = 0;
    o->min_lr = 0;
}

/* The [clip] section's defaults. */
static void defaults_clip_(clgrad_clip_section *c)
{
    copy_str_(c->kind, sizeof c->kind, "none");
    c->max_norm = 1;
    c->norm_type = 2;
    c->value = 1;
    c->clipping = 0.01;
    copy_str_(c->nonfinite, sizeof c->nonfinite, "propagate");
    c->alpha = 0.97; /* ZClip's defaults (github.com/bluorion-com/ZClip, zclip.py) */
    c->z_thresh = 2.5;
    c->warmup_steps = 25;
    copy_str_(c->clip_option, sizeof c->clip_option, "adaptive_scaling");
    c->clip_factor = 1;
    c->skip_update_on_spike = 0;
}

/* The [metrics] section's defaults. */
static void defaults_metrics_(clgrad_config *cfg)
{
    cfg->metrics.spike_alpha = 0.97;
    cfg->metrics.spike_z = 4;
    cfg->metrics.spike_warmup = 25;
    cfg->metrics.sharpness_every = 0;
    cfg->metrics.sharpness_iters = 20;
    cfg->metrics.sharpness_tol = 1e-3;
    cfg->metrics.sharpness_eps = 1e-3;
    cfg->metrics.histogram_every = 10;
}

void clgrad_config_defaults(clgrad_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    defaults_run_(cfg);
    defaults_data_(&cfg->data);
    defaults_model_(&cfg->model);
    copy_str_(cfg->loss.kind, sizeof cfg->loss.kind, "mse");
    defaults_optim_(&cfg->optim);
    defaults_clip_(&cfg->clip);

    cfg->diverge.grad_norm_limit = 1e6;
    cfg->diverge.loss_limit = 1e6;
    copy_str_(cfg->diverge.action, sizeof cfg->diverge.action, "stop");

    cfg->noise.grad_eta = 0;
    cfg->noise.grad_gamma = 0.55;
    cfg->noise.input_std = 0;

    defaults_metrics_(cfg);
}

/* ------------------------------------------------------------------ */
/* Parser state and error reporting                                    */
/* ------------------------------------------------------------------ */

#define MAX_STORED_ERRORS 100

typedef struct {
    long long order; /* file lines first, then overrides, then file-level; ties by arrival */
    char *text;      /* one line with its '\n' */
} message;

typedef struct {
    const char *name;          /* file name for messages */
    clgrad_config cfg;         /* being built */
    clgrad_config def;         /* the defaults, for "keep the default" rules */
    int where[K_COUNT];        /* 0 unset; > 0 line in the file; < 0 -(1 + override index) */
    unsigned char bad[K_COUNT];
    const char *const *sets;
    int nsets;
    int sec_line[S_COUNT];     /* line of each section's header (0 = not seen) */
    message msgs[MAX_STORED_ERRORS];
    int nmsgs;
    long nerrors;              /* all errors, stored or not */
} parser;

static void loc_(parser *p, clgrad_sbuf *b, int where)
{
    if (where > 0) {
        sb_text(b, p->name, strlen(p->name), 256);
        clgrad_sb_printf(b, ":%d", where);
    } else if (where < 0) {
        const char *s = p->sets[-where - 1];
        clgrad_sb_puts(b, "--set ");
        if (s) sb_text(b, s, strlen(s), 96);
    } else {
        sb_text(b, p->name, strlen(p->name), 256);
    }
}

/* Record one message: "LOC: " + text.  Messages are sorted by location at the end. */
static void emit_(parser *p, int where, const clgrad_sbuf *text)
{
    p->nerrors++;
    if (p->nmsgs == MAX_STORED_ERRORS) return;
    clgrad_sbuf b = {0};
    loc_(p, &b, where);
    clgrad_sb_puts(&b, ": ");
    if (text->s) clgrad_sb_puts(&b, text->s);
    clgrad_sb_puts(&b, "\n");
    if (b.oom) {
        free(b.s);
        return;
    }
    long long order = where > 0 ? where : where < 0 ? (long long)INT_MAX - where : 2LL * INT_MAX + 2;
    p->msgs[p->nmsgs].order = order * MAX_STORED_ERRORS + p->nmsgs;
    p->msgs[p->nmsgs].text = b.s;
    p->nmsgs++;
}

/* Past MAX_STORED_ERRORS only the count matters: skip building the message
** (suggestions cost an edit distance per key). */
static int quiet_(parser *p)
{
    if (p->nmsgs < MAX_STORED_ERRORS) return 0;
    p->nerrors++;
    return 1;
}

static void errf_(parser *p, int where, const char *fmt, ...)
{
    if (quiet_(p)) return;
    clgrad_sbuf t = {0};
    va_list ap;
    va_start(ap, fmt);
    clgrad_sb_vprintf(&t, fmt, ap);
    va_end(ap);
    emit_(p, where, &t);
    free(t.s);
}

/* "[section] key: " + message, at `where`. */
static void key_errf_(parser *p, int k, int where, const char *fmt, ...)
{
    if (quiet_(p)) return;
    clgrad_sbuf t = {0};
    clgrad_sb_printf(&t, "[%s] %s: ", sections[keys[k].sec], keys[k].key);
    va_list ap;
    va_start(ap, fmt);
    clgrad_sb_vprintf(&t, fmt, ap);
    va_end(ap);
    emit_(p, where, &t);
    free(t.s);
}

/* ------------------------------------------------------------------ */
/* Suggestions                                                         */
/* ------------------------------------------------------------------ */

/* Case-insensitive edit distance counting a swap of neighbours as one edit
** (optimal string alignment); strings longer than 64 bytes count as far. */
static int distance_(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b);
    if (na > 64 || nb > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + (ai != bj);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[na][nb];
}

static int close_enough_(int d, const char *cand)
{
    size_t n = strlen(cand);
    int limit = n <= 4 ? 1 : n <= 8 ? 2 : 3;
    return d <= limit && (size_t)d < n;
}

static int ieq_(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b);
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

/* The key most likely meant by (s, n) in section sec, or -1. */
static int guess_key_(int sec, const char *s, size_t n)
{
    for (int k = 0; k < K_COUNT; k++)
        if (keys[k].sec == sec && ieq_(s, n, keys[k].key)) return k;
    for (size_t i = 0; i < sizeof key_aliases / sizeof key_aliases[0]; i++)
        if (ieq_(s, n, key_aliases[i].alias)) return key_aliases[i].key;
    for (int k = 0; k < K_COUNT; k++)
        if (ieq_(s, n, keys[k].key)) return k;
    if (sec >= 0 && (ieq_(s, n, "type") || ieq_(s, n, "method") || ieq_(s, n, "algorithm")))
        for (int k = 0; k < K_COUNT; k++)
            if (keys[k].sec == sec && !strcmp(keys[k].key, "kind")) return k;
    int best = -1, bestd = 1000;
    for (int pass = 0; pass < 2 && best < 0; pass++) { /* this section first */
        for (int k = 0; k < K_COUNT; k++) {
            if ((keys[k].sec == sec) != (pass == 0)) continue;
            int d = distance_(s, n, keys[k].key);
            if (close_enough_(d, keys[k].key) && (pass == 0 || d <= 1) && d < bestd) best = k, bestd = d;
        }
    }
    return best;
}

static int guess_section_(const char *s, size_t n)
{
    for (int i = 0; i < S_COUNT; i++)
        if (ieq_(s, n, sections[i])) return i;
    for (size_t i = 0; i < sizeof sec_aliases / sizeof sec_aliases[0]; i++)
        if (ieq_(s, n, sec_aliases[i].alias)) return sec_aliases[i].sec;
    int best = -1, bestd = 1000;
    for (int i = 0; i < S_COUNT; i++) {
        int d = distance_(s, n, sections[i]);
        if (close_enough_(d, sections[i]) && d < bestd) best = i, bestd = d;
    }
    return best;
}

static char name_choices_[K_COUNT][512];
static pthread_once_t name_choices_once_ = PTHREAD_ONCE_INIT;

static void name_choices_build_(void)
{
    for (int k = 0; k < K_COUNT; k++) {
        if (!keys[k].name_at) continue;
        size_t len = 0;
        for (int i = 0; keys[k].name_at(i); i++)
            len += (size_t)snprintf(name_choices_[k] + len, len < sizeof name_choices_[k] ? sizeof name_choices_[k] - len : 0,
                                    "%s%s", i ? "|" : "", keys[k].name_at(i));
    }
}

/* Key k's choices as "a|b|c". */
static const char *choices_(int k)
{
    if (!keys[k].name_at) return keys[k].choices;
    pthread_once(&name_choices_once_, name_choices_build_);
    return name_choices_[k];
}

/* The choice in "a|b|c" closest to (s, n), copied to out, or 0 if none is close. */
static int guess_choice_(const char *choices, const char *s, size_t n, char *out, size_t nout)
{
    int bestd = 1000;
    for (const char *c = choices; *c;) {
        size_t len = strcspn(c, "|");
        char cand[64];
        if (len < sizeof cand) {
            memcpy(cand, c, len);
            cand[len] = '\0';
            int d = distance_(s, n, cand);
            if (close_enough_(d, cand) && d < bestd) bestd = d, copy_str_(out, nout, cand);
        }
        c += len + (c[len] == '|');
    }
    return bestd < 1000;
}

int clgrad_config_suggest(const char *word, const char *choices, char *out, size_t nout)
{
    return guess_choice_(choices, word, strlen(word), out, nout);
}

static void section_list_(clgrad_sbuf *b)
{
    for (int i = 0; i < S_COUNT; i++) clgrad_sb_printf(b, "%s[%s]", i ? ", " : "", sections[i]);
}

static void key_list_(clgrad_sbuf *b, int sec)
{
    int first = 1;
    for (int k = 0; k < K_COUNT; k++) {
        if (keys[k].sec != sec) continue;
        clgrad_sb_printf(b, "%s%s", first ? "" : ", ", keys[k].key);
        first = 0;
    }
}

/* ------------------------------------------------------------------ */
/* "allowed: ..." text                                                  */
/* ------------------------------------------------------------------ */

static void allowed_(clgrad_sbuf *b, int k)
{
    const keydef *d = &keys[k];
    if (d->allowed) {
        clgrad_sb_puts(b, d->allowed);
        return;
    }
    switch (d->type) {
    case T_LONG:
        if (d->flags & F_NOHI) clgrad_sb_printf(b, "an integer >= %.0f", d->lo);
        else clgrad_sb_printf(b, "an integer in [%.0f, %.0f]", d->lo, d->hi);
        break;
    case T_U64:
        clgrad_sb_puts(b, "an integer in [0, 18446744073709551615] (decimal or 0x-hex)");
        break;
    case T_DOUBLE: {
        unsigned f = d->flags;
        if ((f & F_NOLO) && (f & F_NOHI)) clgrad_sb_puts(b, "a finite number");
        else if (f & F_NOHI) clgrad_sb_printf(b, "a number %s %g", (f & F_GT) ? ">" : ">=", d->lo);
        else if (f & F_NOLO) clgrad_sb_printf(b, "a number %s %g", (f & F_LT) ? "<" : "<=", d->hi);
        else clgrad_sb_printf(b, "a number in %c%g, %g%c", (f & F_GT) ? '(' : '[', d->lo, d->hi, (f & F_LT) ? ')' : ']');
        if (f & F_INF) clgrad_sb_puts(b, " or inf");
        if (f & F_AUTO) clgrad_sb_puts(b, " or auto");
        break;
    }
    case T_BOOL:
        clgrad_sb_puts(b, bool_names);
        break;
    case T_CHOICE:
        if (d->flags & F_EMPTY) clgrad_sb_puts(b, "\"\" (follow the data)|");
        clgrad_sb_puts(b, choices_(k));
        break;
    case T_STRING:
        clgrad_sb_printf(b, "text of at most %zu bytes", d->size - 1);
        break;
    case T_WIDTHS:
        clgrad_sb_printf(b, "widths in [1, %ld] as 64,64,64 or 256x16 (WxN = N layers of W; mixed: 128,64x3), or none; "
                     "at most %d layers",
                  CLGRAD_MAX_WIDTH, CLGRAD_MAX_LAYERS);
        break;
    case T_ACTS:
        clgrad_sb_printf(b, "one of %s, or a comma list with one per hidden layer", choices_(k));
        break;
    }
}

/* "[sec] key: <what>; allowed: <allowed>" where what = prefix + quoted value + suffix. */
static void value_err_(parser *p, int k, int where, const char *v, size_t n, const char *what)
{
    if (quiet_(p)) return;
    clgrad_sbuf t = {0};
    if (n == 0) {
        clgrad_sb_puts(&t, "empty value");
    } else {
        sb_quote(&t, v, n);
        clgrad_sb_printf(&t, " %s", what);
    }
    clgrad_sb_puts(&t, "; allowed: ");
    allowed_(&t, k);
    key_errf_(p, k, where, "%s", t.s ? t.s : "");
    free(t.s);
}

/* ------------------------------------------------------------------ */
/* Value parsers                                                       */
/* ------------------------------------------------------------------ */

enum { P_OK = 0, P_SYNTAX, P_RANGE, P_NAN, P_INF };

static int all_of_(const char *s, const char *set)
{
    for (; *s; s++)
        if (!strchr(set, *s)) return 0;
    return 1;
}

/* Decimal integer, or a number with an exact integral value (1e5). */
static int parse_long_(const char *s, long *out)
{
    if (!*s || !all_of_(s, "+-0123456789.eE")) return P_SYNTAX;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end != s && *end == '\0') {
        if (errno == ERANGE) return P_RANGE;
        *out = v;
        return P_OK;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return P_SYNTAX;
    if (errno == ERANGE) return fabs(d) > 1 ? P_RANGE : P_SYNTAX; /* overflow / underflow (1e-400) */
    if (d != floor(d)) return P_SYNTAX;
    if (d < -9007199254740992.0 || d > 9007199254740992.0) return P_RANGE; /* beyond exact doubles */
    if (d < (double)LONG_MIN || d >= -(double)LONG_MIN) return P_RANGE;   /* 32-bit long */
    *out = (long)d;
    return P_OK;
}

static int parse_u64_(const char *s, uint64_t *out)
{
    const char *q = s;
    if (*q == '+') q++;
    int base = 10;
    if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) base = 16, q += 2;
    if (!*q) return P_SYNTAX;
    for (const char *c = q; *c; c++)
        if (base == 10 ? !isdigit((unsigned char)*c) : !isxdigit((unsigned char)*c)) return P_SYNTAX;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(q, &end, base);
    if (*end) return P_SYNTAX;
    if (errno == ERANGE || v > UINT64_MAX) return P_RANGE;
    *out = (uint64_t)v;
    return P_OK;
}

static int parse_double_(const char *s, double *out)
{
    size_t n = strlen(s);
    static const char *const pinf[] = {"inf", "+inf", "infinity", "+infinity"};
    for (size_t i = 0; i < 4; i++)
        if (ieq_(s, n, pinf[i])) return *out = INFINITY, P_OK;
    if (ieq_(s, n, "-inf") || ieq_(s, n, "-infinity")) return *out = -INFINITY, P_OK;
    for (const char *c = s; *c; c++)
        if (tolower((unsigned char)c[0]) == 'n' && tolower((unsigned char)c[1]) == 'a' &&
            tolower((unsigned char)c[2]) == 'n')
            return P_NAN;
    if (!*s || !all_of_(s, "+-0123456789.eE")) return P_SYNTAX;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return P_SYNTAX;
    if (errno == ERANGE && fabs(d) > 1) return P_RANGE; /* overflow; underflow keeps the tiny value */
    *out = d;
    return P_OK;
}

static int in_range_(const keydef *d, double v)
{
    if (isinf(v)) return (d->flags & F_INF) && v > 0;
    if (!(d->flags & F_NOLO) && ((d->flags & F_GT) ? !(v > d->lo) : !(v >= d->lo))) return 0;
    if (!(d->flags & F_NOHI) && ((d->flags & F_LT) ? !(v < d->hi) : !(v <= d->hi))) return 0;
    return 1;
}

/* Index of (s, n) in "a|b|c" (case-insensitive), the canonical name to out; -1 if absent. */
static int choice_find_(const char *choices, const char *s, size_t n, char *out, size_t nout)
{
    int i = 0;
    for (const char *c = choices; *c; i++) {
        size_t len = strcspn(c, "|");
        if (len == n) {
            size_t j = 0;
            while (j < n && tolower((unsigned char)s[j]) == c[j]) j++;
            if (j == n) {
                if (out) {
                    size_t m = len < nout ? len : nout - 1;
                    memcpy(out, c, m);
                    memset(out + m, 0, nout - m);
                }
                return i;
            }
        }
        c += len + (c[len] == '|');
    }
    return -1;
}

static void trim_(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* An unknown choice: "'reul' is not a known value (did you mean 'relu'?)". */
static void choice_err_(parser *p, int k, int where, const char *v, size_t n, const char *item_note)
{
    if (quiet_(p)) return;
    char guess[64];
    clgrad_sbuf w = {0};
    clgrad_sb_printf(&w, "is not a known value%s", item_note ? item_note : "");
    if (guess_choice_(choices_(k), v, n, guess, sizeof guess)) clgrad_sb_printf(&w, " (did you mean '%s'?)", guess);
    value_err_(p, k, where, v, n, w.s ? w.s : "");
    free(w.s);
}

/* hidden: "64,64", "256x16", "128,64x3", "" or "none". */
static void set_widths_(parser *p, int k, int where, const char *s, size_t n)
{
    long w[CLGRAD_MAX_LAYERS];
    int nw = 0;
    trim_(&s, &n);
    if (n == 0 || ieq_(s, n, "none")) goto store;
    for (size_t i = 0; i <= n;) {
        size_t len = 0;
        while (i + len < n && s[i + len] != ',') len++;
        const char *item = s + i;
        size_t ni = len;
        trim_(&item, &ni);
        size_t x = 0;
        while (x < ni && item[x] != 'x' && item[x] != 'X') x++;
        const char *ws = item, *cs = NULL;
        size_t nws = x, ncs = 0;
        if (x < ni) cs = item + x + 1, ncs = ni - x - 1;
        trim_(&ws, &nws);
        if (cs) trim_(&cs, &ncs);
        long width = 0, count = 1;
        char buf[32];
        int bad = ni == 0 || nws == 0 || nws >= sizeof buf || (cs && (ncs == 0 || ncs >= sizeof buf));
        if (!bad) {
            memcpy(buf, ws, nws), buf[nws] = '\0';
            bad = parse_long_(buf, &width) != P_OK;
        }
        if (!bad && cs) {
            memcpy(buf, cs, ncs), buf[ncs] = '\0';
            bad = parse_long_(buf, &count) != P_OK;
        }
        clgrad_sbuf m = {0};
        if (bad) {
            clgrad_sb_puts(&m, "has a bad item ");
            sb_quote(&m, item, ni);
        } else if (width < 1 || width > CLGRAD_MAX_WIDTH) {
            clgrad_sb_printf(&m, "has width %ld out of range", width);
        } else if (count < 1) {
            clgrad_sb_printf(&m, "has a layer count %ld < 1", count);
        } else if (count > CLGRAD_MAX_LAYERS - nw) {
            clgrad_sb_printf(&m, "has more than %d layers", CLGRAD_MAX_LAYERS);
        }
        if (m.s) {
            value_err_(p, k, where, s, n, m.s);
            free(m.s);
            p->bad[k] = 1;
            return;
        }
        for (long c = 0; c < count; c++) w[nw++] = width;
        i += len + 1;
    }
store:
    p->cfg.model.nhidden = nw;
    memset(p->cfg.model.hidden, 0, sizeof p->cfg.model.hidden);
    if (nw) memcpy(p->cfg.model.hidden, w, (size_t)nw * sizeof w[0]);
}

/* activation: one name, or a comma list. */
static void set_acts_(parser *p, int k, int where, const char *s, size_t n)
{
    char(*a)[CLGRAD_NAME_LEN] = calloc(CLGRAD_MAX_LAYERS, sizeof *a);
    if (!a) {
        key_errf_(p, k, where, "out of memory");
        p->bad[k] = 1;
        return;
    }
    int na = 0;
    for (size_t i = 0; i <= n;) {
        size_t len = 0;
        while (i + len < n && s[i + len] != ',') len++;
        const char *item = s + i;
        size_t ni = len;
        trim_(&item, &ni);
        if (na == CLGRAD_MAX_LAYERS) {
            clgrad_sbuf m = {0};
            clgrad_sb_printf(&m, "has more than %d names", CLGRAD_MAX_LAYERS);
            value_err_(p, k, where, s, n, m.s ? m.s : "");
            free(m.s);
            goto bad;
        }
        if (choice_find_(choices_(k), item, ni, a[na], sizeof a[na]) < 0) {
            if (ni == 0 && n != 0) value_err_(p, k, where, s, n, "has an empty item");
            else choice_err_(p, k, where, item, ni, NULL);
            goto bad;
        }
        na++;
        i += len + 1;
    }
    p->cfg.model.nactivation = na;
    memset(p->cfg.model.activation, 0, sizeof p->cfg.model.activation);
    memcpy(p->cfg.model.activation, a, (size_t)na * sizeof a[0]);
    free(a);
    return;
bad:
    p->bad[k] = 1;
    free(a);
}

/* A value that needs quotes to read back: empty, surrounding blanks, a leading
** quote or comment character, or a blank followed by '#' or ';'. */
static int needs_quotes_(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t') return 1;
    if (s[0] == '"' || s[0] == '\'' || s[0] == '#' || s[0] == ';') return 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) return 1;
    return 0;
}

static int writable_(const char *s)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return 0;
    return !needs_quotes_(s) || !strchr(s, '"') || !strchr(s, '\'');
}

/* Report a control character in value v for key k (and mark k bad); 1 if there is one. */
static int value_has_ctrl_(parser *p, int k, int where, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) {
            char what[64];
            snprintf(what, sizeof what, "contains a control character (byte 0x%02x)", c);
            value_err_(p, k, where, v, n, what);
            p->bad[k] = 1;
            return 1;
        }
    }
    return 0;
}

/* Store a T_STRING value: it must fit, be writable back, and (run.name) name a directory. */
static void set_string_(parser *p, int k, int where, const char *v, size_t n)
{
    const keydef *d = &keys[k];
    if (n >= d->size) {
        char what[96];
        snprintf(what, sizeof what, "is too long (%zu bytes; at most %zu)", n, d->size - 1);
        value_err_(p, k, where, v, n, what);
        p->bad[k] = 1;
        return;
    }
    char *dst = field_(&p->cfg, k);
    memset(dst, 0, d->size);
    memcpy(dst, v, n);
    const char *why = NULL;
    if (!writable_(dst)) why = "contains both quote characters and needs quotes; it cannot be written back";
    if (k == K_RUN_NAME &&
        (n == 0 || strchr(dst, '/') || strchr(dst, '\\') || !strcmp(dst, ".") || !strcmp(dst, "..")))
        why = "is not a usable run name";
    if (why) {
        value_err_(p, k, where, v, n, why);
        p->bad[k] = 1;
    }
}

/* Store a T_CHOICE value: one of the key's names, or empty where F_EMPTY allows it. */
static void set_choice_(parser *p, int k, int where, const char *v, size_t n)
{
    const keydef *d = &keys[k];
    if (n == 0 && (d->flags & F_EMPTY)) {
        memset(field_(&p->cfg, k), 0, d->size);
        return;
    }
    if (choice_find_(choices_(k), v, n, field_(&p->cfg, k), d->size) < 0) {
        choice_err_(p, k, where, v, n, NULL);
        p->bad[k] = 1;
    }
}

/* Store a T_BOOL value (true/false, yes/no, on/off, 1/0). */
static void set_bool_(parser *p, int k, int where, const char *v, size_t n)
{
    int i = choice_find_(bool_names, v, n, NULL, 0);
    if (i < 0) {
        value_err_(p, k, where, v, n, "is not a boolean");
        p->bad[k] = 1;
    } else {
        *(int *)field_(&p->cfg, k) = i % 2 == 0; /* true, yes, on, 1 */
    }
}

/* Parse a T_DOUBLE value (s: v as a C string) into *x, with "auto" and "none" where allowed; a P_ code. */
static int parse_double_value_(const keydef *d, const char *v, size_t n, const char *s, double *x)
{
    if ((d->flags & F_AUTO) && ieq_(v, n, "auto")) {
        *x = NAN;
        return P_OK;
    }
    if ((d->flags & F_NONE) && ieq_(v, n, "none")) {
        *x = INFINITY;
        return P_OK;
    }
    int rc = parse_double_(s, x);
    if (rc == P_OK && isinf(*x) && !((d->flags & F_INF) && *x > 0)) rc = P_INF;
    else if (rc == P_OK && !in_range_(d, *x)) rc = P_RANGE;
    return rc;
}

/* Parse and store a number (T_LONG, T_U64 or T_DOUBLE), checking its range. */
static void set_number_(parser *p, int k, int where, const char *v, size_t n)
{
    const keydef *d = &keys[k];
    /* numbers: a NUL-terminated copy (values can be any length) */
    if (n > 400) {
        value_err_(p, k, where, v, n, "is too long to be a number");
        p->bad[k] = 1;
        return;
    }
    char s[401];
    memcpy(s, v, n);
    s[n] = '\0';
    int rc;
    if (d->type == T_LONG) {
        long x = 0;
        rc = parse_long_(s, &x);
        if (rc == P_OK && !in_range_(d, (double)x)) rc = P_RANGE;
        if (rc == P_OK) *(long *)field_(&p->cfg, k) = x;
        else value_err_(p, k, where, v, n, rc == P_SYNTAX ? "is not an integer" : "is out of range");
    } else if (d->type == T_U64) {
        uint64_t x = 0;
        rc = parse_u64_(s, &x);
        if (rc == P_OK) *(uint64_t *)field_(&p->cfg, k) = x;
        else value_err_(p, k, where, v, n, rc == P_SYNTAX ? "is not an unsigned integer" : "is out of range");
    } else { /* T_DOUBLE */
        double x = 0;
        rc = parse_double_value_(d, v, n, s, &x);
        if (rc == P_OK) *(double *)field_(&p->cfg, k) = x;
        else
            value_err_(p, k, where, v, n,
                       rc == P_SYNTAX ? "is not a number"
                       : rc == P_NAN  ? "is not allowed (NaN)"
                       : rc == P_INF  ? "is not allowed (infinite)"
                                      : "is out of range");
    }
    if (rc != P_OK) p->bad[k] = 1;
}

/* Parse and store one value (already unquoted) for key k. */
static void set_value_(parser *p, int k, int where, const char *v, size_t n)
{
    p->where[k] = where;
    p->bad[k] = 0;
    if (value_has_ctrl_(p, k, where, v, n)) return;
    switch (keys[k].type) {
    case T_WIDTHS: set_widths_(p, k, where, v, n); break;
    case T_ACTS: set_acts_(p, k, where, v, n); break;
    case T_STRING: set_string_(p, k, where, v, n); break;
    case T_CHOICE: set_choice_(p, k, where, v, n); break;
    case T_BOOL: set_bool_(p, k, where, v, n); break;
    case T_LONG:
    case T_U64:
    case T_DOUBLE: set_number_(p, k, where, v, n); break;
    }
}

/* ------------------------------------------------------------------ */
/* Lines                                                                */
/* ------------------------------------------------------------------ */

/* The value part of "key = value...": unquote / strip the comment.
** Returns 0 and (v, n), or -1 after reporting a syntax error. */
static int line_value_(parser *p, int k, int line, const char *s, size_t n, const char **v, size_t *vn)
{
    const char *rest = NULL;
    size_t nr = 0;
    int rc = clgrad_ini_value(s, n, v, vn, &rest, &nr);
    if (rc == CLGRAD_INI_NO_CLOSE) {
        key_errf_(p, k, line, "missing closing %c quote", **v);
        return -1;
    }
    if (rc == CLGRAD_INI_AFTER_QUOTE) {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "text after the closing quote: ");
        sb_quote(&t, rest, nr);
        key_errf_(p, k, line, "%s", t.s ? t.s : "");
        free(t.s);
        return -1;
    }
    return 0;
}

/* "unknown key" with a suggestion and the section's keys. */
static void unknown_key_(parser *p, int sec, int where, const char *key, size_t n)
{
    if (quiet_(p)) return;
    clgrad_sbuf t = {0};
    clgrad_sb_printf(&t, "[%s] ", sections[sec]);
    sb_text(&t, key, n, 48);
    clgrad_sb_puts(&t, ": unknown key");
    int g = guess_key_(sec, key, n);
    if (g >= 0 && keys[g].sec == sec) clgrad_sb_printf(&t, " (did you mean '%s'?)", keys[g].key);
    else if (g >= 0) clgrad_sb_printf(&t, " (did you mean [%s] %s?)", sections[keys[g].sec], keys[g].key);
    clgrad_sb_puts(&t, "; allowed: ");
    key_list_(&t, sec);
    emit_(p, where, &t);
    free(t.s);
}

static void unknown_section_(parser *p, int where, const char *s, size_t n)
{
    if (quiet_(p)) return;
    clgrad_sbuf t = {0};
    clgrad_sb_puts(&t, "[");
    sb_text(&t, s, n, 48);
    clgrad_sb_puts(&t, "]: unknown section");
    if (n == 5 && memcmp(s, "sweep", 5) == 0) {
        /* a sweep file: its runs are the grid's points */
        clgrad_sb_puts(&t, " of an experiment: this is a sweep file; run its grid with `clgrad sweep FILE`");
        emit_(p, where, &t);
        free(t.s);
        return;
    }
    int g = guess_section_(s, n);
    if (g >= 0) clgrad_sb_printf(&t, " (did you mean [%s]?)", sections[g]);
    clgrad_sb_puts(&t, "; allowed: ");
    section_list_(&t);
    emit_(p, where, &t);
    free(t.s);
}

static int find_key_(int sec, const char *s, size_t n)
{
    for (int k = 0; k < K_COUNT; k++)
        if (keys[k].sec == sec && strlen(keys[k].key) == n && !memcmp(keys[k].key, s, n)) return k;
    return -1;
}

static int find_section_(const char *s, size_t n)
{
    for (int i = 0; i < S_COUNT; i++)
        if (strlen(sections[i]) == n && !memcmp(sections[i], s, n)) return i;
    return -1;
}

enum { SEC_NONE = -1, SEC_UNKNOWN = -2 };

/* Report a control character (a tab is fine) in line s; 1 if there is one. */
static int line_has_ctrl_(parser *p, int line, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            errf_(p, line, "control character (byte 0x%02x) at column %zu; is this a text file?", c, i + 1);
            return 1;
        }
    }
    return 0;
}

/* A "[section]" line (or one without its ']'): check it and make it the current section. */
static void do_header_(parser *p, const clgrad_ini_line *l, int *cur)
{
    int line = l->line;
    if (l->kind == CLGRAD_INI_BAD_HEADER) {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "section header without ']': ");
        sb_quote(&t, l->s, l->n);
        emit_(p, line, &t);
        free(t.s);
        *cur = SEC_UNKNOWN;
        return;
    }
    const char *name = l->section, *rest = l->rest;
    size_t nn = l->nsection, nr = l->nrest;
    if (nr && *rest != '#' && *rest != ';') {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "text after the section header: ");
        sb_quote(&t, rest, nr);
        emit_(p, line, &t);
        free(t.s);
    }
    int sec = find_section_(name, nn);
    if (sec < 0) {
        unknown_section_(p, line, name, nn);
        *cur = SEC_UNKNOWN;
        return;
    }
    if (p->sec_line[sec])
        errf_(p, line, "[%s]: section appears twice (first at line %d); merge them", sections[sec],
              p->sec_line[sec]);
    else
        p->sec_line[sec] = line;
    *cur = sec;
}

/* "key before any [section] header", with a guess at the section it belongs under. */
static void key_before_section_(parser *p, int line, const char *key, size_t nk)
{
    clgrad_sbuf t = {0};
    clgrad_sb_puts(&t, "key ");
    sb_quote(&t, key, nk);
    clgrad_sb_puts(&t, " before any [section] header");
    if (p->nmsgs == MAX_STORED_ERRORS) { /* emit_ only counts it: skip the guess */
        emit_(p, line, &t);
        free(t.s);
        return;
    }
    int g = guess_key_(-1, key, nk);
    if (g >= 0) clgrad_sb_printf(&t, " (did you mean it under [%s]?)", sections[keys[g].sec]);
    clgrad_sb_puts(&t, "; sections: ");
    section_list_(&t);
    emit_(p, line, &t);
    free(t.s);
}

/* A "key = value" line in section cur: find the key and store its value. */
static void do_key_(parser *p, const clgrad_ini_line *l, int cur)
{
    int line = l->line;
    const char *key = l->key;
    size_t nk = l->nkey;
    if (nk == 0) {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "missing key before '=': ");
        sb_quote(&t, l->s, l->n);
        emit_(p, line, &t);
        free(t.s);
        return;
    }
    if (cur == SEC_UNKNOWN) return; /* reported at the header */
    if (cur == SEC_NONE) {
        key_before_section_(p, line, key, nk);
        return;
    }
    int k = find_key_(cur, key, nk);
    if (k < 0) {
        unknown_key_(p, cur, line, key, nk);
        return;
    }
    if (p->where[k] > 0) {
        key_errf_(p, k, line, "set twice (first at line %d)", p->where[k]);
        p->bad[k] = 1;
        return;
    }
    const char *v;
    size_t nv;
    if (line_value_(p, k, line, l->value, l->nvalue, &v, &nv) < 0) {
        p->where[k] = line;
        p->bad[k] = 1;
        return;
    }
    set_value_(p, k, line, v, nv);
}

static void do_line_(parser *p, const clgrad_ini_line *l, int *cur)
{
    int line = l->line;
    const char *s = l->s;
    size_t n = l->n;
    if (l->kind == CLGRAD_INI_BLANK) return;
    if (line_has_ctrl_(p, line, s, n)) return;
    if (l->kind == CLGRAD_INI_SECTION || l->kind == CLGRAD_INI_BAD_HEADER) {
        do_header_(p, l, cur);
        return;
    }
    if (l->kind == CLGRAD_INI_NO_EQ) {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "expected 'key = value' or '[section]', got ");
        sb_quote(&t, s, n);
        clgrad_sb_puts(&t, " (no '=')");
        emit_(p, line, &t);
        free(t.s);
        return;
    }
    do_key_(p, l, *cur);
}

static void do_text_(parser *p, const char *text, size_t len)
{
    clgrad_ini it;
    clgrad_ini_line l;
    int cur = SEC_NONE;
    clgrad_ini_begin(&it, text, len);
    while (clgrad_ini_next(&it, &l)) do_line_(p, &l, &cur);
}

static void do_set_(parser *p, int idx)
{
    const char *s = p->sets[idx];
    int where = -(idx + 1);
    if (!s) {
        errf_(p, 0, "override %d of %d is NULL", idx + 1, p->nsets);
        return;
    }
    size_t n = strlen(s);
    const char *eq = memchr(s, '=', n);
    const char *dot = eq ? memchr(s, '.', (size_t)(eq - s)) : NULL;
    if (!eq || !dot) {
        clgrad_sbuf t = {0};
        clgrad_sb_puts(&t, "expected section.key=value");
        if (!eq) clgrad_sb_puts(&t, " (no '=')");
        else {
            const char *key = s;
            size_t nk = (size_t)(eq - s);
            trim_(&key, &nk);
            int g = guess_key_(-1, key, nk);
            if (g >= 0) clgrad_sb_printf(&t, " (did you mean %s.%s?)", sections[keys[g].sec], keys[g].key);
        }
        emit_(p, where, &t);
        free(t.s);
        return;
    }
    const char *sec = s, *key = dot + 1, *v = eq + 1;
    size_t ns = (size_t)(dot - s), nk = (size_t)(eq - key), nv = n - (size_t)(v - s);
    trim_(&sec, &ns);
    trim_(&key, &nk);
    trim_(&v, &nv);
    int si = find_section_(sec, ns);
    if (si < 0) {
        unknown_section_(p, where, sec, ns);
        return;
    }
    int k = find_key_(si, key, nk);
    if (k < 0) {
        unknown_key_(p, si, where, key, nk);
        return;
    }
    if (nv >= 2 && (v[0] == '"' || v[0] == '\'') && v[nv - 1] == v[0]) v++, nv -= 2;
    set_value_(p, k, where, v, nv);
}

/* ------------------------------------------------------------------ */
/* Resolution and cross-key rules                                      */
/* ------------------------------------------------------------------ */

static int ok_(const parser *p, int k) { return !p->bad[k]; }
static int is_set_(const parser *p, int k) { return p->where[k] != 0; }

/* Where to report a rule about `k` that `trigger` caused. */
static int where_(const parser *p, int k, int trigger)
{
    return p->where[k] ? p->where[k] : p->where[trigger];
}

static const char *kind_task_(const char *kind)
{
    if (!strcmp(kind, "linreg") || !strcmp(kind, "adding")) return "regression";
    if (!strcmp(kind, "moons") || !strcmp(kind, "circles") || !strcmp(kind, "xor")) return "binary";
    if (!strcmp(kind, "csv")) return NULL;
    return "multiclass"; /* blobs, spirals, temporal_order, idx */
}

static int differs_(const parser *p, int k)
{
    const void *a = cfield_(&p->cfg, k), *b = cfield_(&p->def, k);
    switch (keys[k].type) {
    case T_DOUBLE: {
        double x = *(const double *)a, y = *(const double *)b;
        return isnan(x) != isnan(y) || (!isnan(x) && x != y);
    }
    case T_LONG: return *(const long *)a != *(const long *)b;
    case T_U64: return *(const uint64_t *)a != *(const uint64_t *)b;
    case T_BOOL: return *(const int *)a != *(const int *)b;
    case T_CHOICE:
    case T_STRING: return strcmp(a, b) != 0;
    default: return 0;
    }
}

static void value_str_(const clgrad_config *c, int k, clgrad_sbuf *b);

/* A warning kept in the config (clgrad_config.warnings): the text depends
** only on the resolved values, so a run's config.ini gives the same list. */
static void warnf_(parser *p, const char *fmt, ...)
{
    clgrad_config *c = &p->cfg;
    if (c->nwarnings >= CLGRAD_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings[c->nwarnings++], sizeof c->warnings[0], fmt, ap);
    va_end(ap);
}

/* A key the chosen kind does not use keeps its value but is ignored, with a
** warning (not an error: one base file serves a sweep over optim.kind,
** clip.kind, model.kind, ...). */
static void check_used_(parser *p)
{
    for (int k = 0; k < K_COUNT; k++) {
        const keydef *d = &keys[k];
        if (!d->used_by || !ok_(p, k) || !ok_(p, d->dep) || !differs_(p, k)) continue;
        const char *kind = cfield_(&p->cfg, d->dep);
        char pat[CLGRAD_NAME_LEN + 2];
        snprintf(pat, sizeof pat, "|%s|", kind);
        if (strstr(d->used_by, pat)) continue;
        clgrad_sbuf t = {0}, def = {0}, val = {0};
        value_str_(&p->def, k, &def);
        value_str_(&p->cfg, k, &val);
        clgrad_sb_printf(&t, "[%s] %s = %s: not used when [%s] %s = %s (only by ", sections[d->sec], d->key,
                  val.s ? val.s : "\"\"", sections[keys[d->dep].sec], keys[d->dep].key, kind);
        const char *u = d->used_by + 1;
        for (int first = 1; *u; first = 0) {
            size_t len = strcspn(u, "|");
            clgrad_sb_printf(&t, "%s%.*s", first ? "" : ", ", (int)len, u);
            u += len + 1;
        }
        clgrad_sb_printf(&t, "); ignored (the default is %s)", def.s ? def.s : "\"\"");
        if (t.oom) key_errf_(p, k, where_(p, k, d->dep), "out of memory");
        else warnf_(p, "%s", t.s);
        free(t.s);
        free(def.s);
        free(val.s);
    }
}

static void check_run_(parser *p)
{
    clgrad_run_section *r = &p->cfg.run;
    if (!ok_(p, K_RUN_STEPS) || !ok_(p, K_RUN_EPOCHS)) return;
    if (!is_set_(p, K_RUN_STEPS) && r->epochs > 0) r->steps = 0;
    if (r->steps > 0 && r->epochs > 0)
        key_errf_(p, K_RUN_STEPS, where_(p, K_RUN_STEPS, K_RUN_EPOCHS),
                  "both steps (%ld) and epochs (%ld) are set; set one of them (steps = 0 uses epochs)", r->steps,
                  r->epochs);
    else if (r->steps == 0 && r->epochs == 0)
        key_errf_(p, K_RUN_STEPS, where_(p, K_RUN_STEPS, K_RUN_EPOCHS),
                  "steps and epochs are both 0; set steps or epochs > 0");
}

static void check_data_(parser *p)
{
    clgrad_data_section *d = &p->cfg.data;
    if (!ok_(p, K_DATA_KIND)) return;
    int csv = !strcmp(d->kind, "csv"), idx = !strcmp(d->kind, "idx"), cifar = !strcmp(d->kind, "cifar10");
    if ((csv || idx || cifar) && ok_(p, K_DATA_PATH) && !d->path[0])
        key_errf_(p, K_DATA_PATH, where_(p, K_DATA_PATH, K_DATA_KIND), "missing; kind = %s needs a file; allowed: %s",
                  d->kind, csv ? "a CSV file" : idx ? "an IDX images file" : "a CIFAR-10 binary batch file, or a comma list of them");
    if (cifar && ok_(p, K_DATA_PATH) && d->path[0]) {
        /* a comma list: no empty item */
        const char *c = d->path;
        for (;;) {
            size_t len = strcspn(c, ",");
            const char *q = c;
            size_t nq = len;
            trim_(&q, &nq);
            if (nq == 0) {
                key_errf_(p, K_DATA_PATH, p->where[K_DATA_PATH],
                          "has an empty item; allowed: a file, or a comma list of files (data_batch_1.bin,data_batch_2.bin)");
                break;
            }
            if (!c[len]) break;
            c += len + 1;
        }
    }
    if (csv && ok_(p, K_DATA_TARGET) && !d->target[0])
        key_errf_(p, K_DATA_TARGET, where_(p, K_DATA_TARGET, K_DATA_KIND),
                  "missing; kind = csv needs the name of the target column");
    if (idx && ok_(p, K_DATA_LABELS) && !d->labels[0])
        key_errf_(p, K_DATA_LABELS, where_(p, K_DATA_LABELS, K_DATA_KIND),
                  "missing; kind = idx needs the IDX labels file");
    const char *task = kind_task_(d->kind);
    if (task && ok_(p, K_DATA_TASK)) {
        if (is_set_(p, K_DATA_TASK) && strcmp(d->task, task))
            key_errf_(p, K_DATA_TASK, p->where[K_DATA_TASK],
                      "%s data is %s (task chooses only for kind = csv); allowed: %s or leave it unset", d->kind,
                      task, task);
        else
            copy_str_(d->task, sizeof d->task, task);
    }
}

static int uses_act_(const clgrad_model_section *m, const char *name)
{
    for (int i = 0; i < m->nactivation; i++)
        if (!strcmp(m->activation[i], name)) return 1;
    return 0;
}

/* The gain an initialiser uses when init_gain is unset: the formula its name
** stands for, with PyTorch's default argument (torch.nn.init): xavier_* gain
** 1 (Glorot and Bengio), kaiming_* a = 0 with nonlinearity leaky_relu, so
** sqrt(2) (He et al.), orthogonal gain 1, lecun_normal 1 (Keras).  The
** activation's gain only with init_gain = auto.  NAN: the kind has no gain. */
static double init_default_gain_(const char *init)
{
    if (!strcmp(init, "kaiming_uniform") || !strcmp(init, "kaiming_normal")) return sqrt(2.0);
    if (!strcmp(init, "xavier_uniform") || !strcmp(init, "xavier_normal") || !strcmp(init, "orthogonal") ||
        !strcmp(init, "lecun_normal"))
        return 1.0;
    return NAN;
}

static void check_model_(parser *p)
{
    clgrad_model_section *m = &p->cfg.model;
    int hid_ok = ok_(p, K_MODEL_HIDDEN), act_ok = ok_(p, K_MODEL_ACTIVATION);
    const char *k = m->kind;
    int rec = ok_(p, K_MODEL_KIND) && (!strcmp(k, "rnn") || !strcmp(k, "lstm") || !strcmp(k, "gru"));
    int gated = rec && strcmp(k, "rnn") != 0;
    if (rec) {
        if (ok_(p, K_DATA_KIND) && strcmp(p->cfg.data.kind, "adding") && strcmp(p->cfg.data.kind, "temporal_order"))
            key_errf_(p, K_MODEL_KIND, where_(p, K_MODEL_KIND, K_DATA_KIND),
                      "%s needs sequence data, but [data] kind = %s; allowed with %s: [data] kind = "
                      "adding|temporal_order",
                      k, p->cfg.data.kind, k);
        if (hid_ok && m->nhidden < 1)
            key_errf_(p, K_MODEL_HIDDEN, where_(p, K_MODEL_HIDDEN, K_MODEL_KIND),
                      "%s needs a hidden layer (the recurrent state); allowed: one width", k);
        else if (hid_ok && m->nhidden > 1)
            key_errf_(p, K_MODEL_HIDDEN, where_(p, K_MODEL_HIDDEN, K_MODEL_KIND),
                      "%s takes one width (the state's, as nn.%s's hidden_size), got %d; allowed: one width, with "
                      "[model] layers = N for N stacked layers",
                      k, !strcmp(k, "rnn") ? "RNN" : !strcmp(k, "lstm") ? "LSTM" : "GRU", m->nhidden);
    }
    if (gated && act_ok) {
        if (!is_set_(p, K_MODEL_ACTIVATION)) {
            m->nactivation = 1;
            memset(m->activation, 0, sizeof m->activation);
            copy_str_(m->activation[0], sizeof m->activation[0], "tanh");
        } else if (m->nactivation != 1 || strcmp(m->activation[0], "tanh")) {
            key_errf_(p, K_MODEL_ACTIVATION, where_(p, K_MODEL_ACTIVATION, K_MODEL_KIND),
                      "%s has fixed gate nonlinearities (sigmoid gates, tanh cell); allowed: tanh or leave it unset", k);
            p->bad[K_MODEL_ACTIVATION] = 1;
            act_ok = 0;
        }
    }
    if (gated && !strcmp(k, "lstm") && ok_(p, K_MODEL_FORGET_BIAS) && ok_(p, K_MODEL_BIAS) && !isnan(m->forget_bias) &&
        !m->bias)
        key_errf_(p, K_MODEL_FORGET_BIAS, where_(p, K_MODEL_FORGET_BIAS, K_MODEL_BIAS),
                  "needs bias = true (the forget gate's bias is a bias); remove it or set it to auto");
    if (hid_ok && act_ok && m->nactivation != 1 && m->nactivation != m->nhidden)
        key_errf_(p, K_MODEL_ACTIVATION, where_(p, K_MODEL_ACTIVATION, K_MODEL_HIDDEN),
                  "%d names for %d hidden layers; allowed: one name for all layers or one per hidden layer",
                  m->nactivation, m->nhidden);
    if (ok_(p, K_MODEL_RESIDUAL) && hid_ok && strcmp(m->residual, "none") != 0) {
        /* the residual blocks are hidden layers 2..n: each needs its input width = its output width */
        for (int i = 1; i < m->nhidden; i++)
            if (m->hidden[i] != m->hidden[i - 1]) {
                key_errf_(p, K_MODEL_HIDDEN, where_(p, K_MODEL_HIDDEN, K_MODEL_RESIDUAL),
                          "residual = %s needs equal widths in the residual blocks (hidden layers 2..%d), but hidden "
                          "layer %d has width %ld and hidden layer %d width %ld; allowed: one width for all hidden "
                          "layers, e.g. 64x8 (the first hidden layer maps the input to that width)",
                          m->residual, m->nhidden, i, m->hidden[i - 1], i + 1, m->hidden[i]);
                break;
            }
    }
    if (ok_(p, K_MODEL_FINAL_NORM) && ok_(p, K_MODEL_NORM) && m->final_norm && !strcmp(m->norm, "none"))
        key_errf_(p, K_MODEL_FINAL_NORM, where_(p, K_MODEL_FINAL_NORM, K_MODEL_NORM),
                  "needs a norm ([model] norm = layernorm|rmsnorm|batchnorm); remove it or set a norm");
    if (ok_(p, K_MODEL_FINAL_NORM) && hid_ok && m->final_norm && m->nhidden < 1)
        key_errf_(p, K_MODEL_FINAL_NORM, where_(p, K_MODEL_FINAL_NORM, K_MODEL_HIDDEN),
                  "needs a hidden layer (it normalises the last hidden layer's output)");
    if (ok_(p, K_MODEL_NORM) && ok_(p, K_DATA_BATCH_SIZE) && !strcmp(m->norm, "batchnorm") &&
        p->cfg.data.batch_size == 1)
        key_errf_(p, K_DATA_BATCH_SIZE, where_(p, K_DATA_BATCH_SIZE, K_MODEL_NORM),
                  "1 with norm = batchnorm: batch norm's training statistics need more than 1 value per feature (as "
                  "PyTorch's BatchNorm1d); allowed: 2 or more, or 0 (full batch)");
    if (ok_(p, K_MODEL_INIT) && ok_(p, K_MODEL_INIT_GAIN) && !is_set_(p, K_MODEL_INIT_GAIN))
        m->init_gain = init_default_gain_(m->init);
    if (act_ok && ok_(p, K_MODEL_ACTIVATION_PARAM)) {
        int leaky = uses_act_(m, "leaky_relu"), elu = uses_act_(m, "elu");
        if (isnan(m->activation_param)) {
            if (leaky && !elu) m->activation_param = 0.01; /* torch.nn.LeakyReLU negative_slope */
            else if (elu && !leaky) m->activation_param = 1.0; /* torch.nn.ELU alpha */
        } else if (!leaky && !elu) {
            key_errf_(p, K_MODEL_ACTIVATION_PARAM, where_(p, K_MODEL_ACTIVATION_PARAM, K_MODEL_ACTIVATION),
                      "only used by leaky_relu and elu, which no layer uses; remove it or set it to auto");
        }
    }
}

static void check_loss_(parser *p)
{
    char *loss = p->cfg.loss.kind;
    const char *task = p->cfg.data.task;
    if (!ok_(p, K_LOSS_KIND) || !ok_(p, K_DATA_TASK) || !ok_(p, K_DATA_KIND)) return;
    if (!is_set_(p, K_LOSS_KIND) || !loss[0]) {
        copy_str_(loss, sizeof p->cfg.loss.kind,
                  !strcmp(task, "binary") ? "bce" : !strcmp(task, "multiclass") ? "ce" : "mse");
        return;
    }
    const char *need = !strcmp(loss, "ce") ? "multiclass" : !strcmp(loss, "bce") ? "binary" : NULL;
    int bad = need ? strcmp(task, need) != 0 : !strcmp(task, "multiclass");
    if (bad)
        key_errf_(p, K_LOSS_KIND, where_(p, K_LOSS_KIND, K_DATA_KIND),
                  "%s does not fit %s data ([data] kind = %s); allowed for %s data: %s", loss, task,
                  p->cfg.data.kind, task,
                  !strcmp(task, "multiclass") ? "ce" : !strcmp(task, "binary") ? "bce|mse" : "mse");
}

static void check_noise_(parser *p)
{
    const clgrad_noise_section *n = &p->cfg.noise;
    if (ok_(p, K_NOISE_GRAD_ETA) && ok_(p, K_NOISE_GRAD_GAMMA) && n->grad_eta == 0 && differs_(p, K_NOISE_GRAD_GAMMA)) {
        clgrad_sbuf v = {0};
        value_str_(&p->cfg, K_NOISE_GRAD_GAMMA, &v);
        warnf_(p, "[noise] grad_gamma = %s: not used when grad_eta = 0 (no gradient noise); ignored (the default is 0.55)",
               v.s ? v.s : "?");
        free(v.s);
    }
}

/* max_norm = inf is ZClip's "no max_grad_norm"; the fixed-threshold kinds need a finite one. */
static void check_clip_(parser *p)
{
    const clgrad_clip_section *c = &p->cfg.clip;
    if (!ok_(p, K_CLIP_KIND) || !ok_(p, K_CLIP_MAX_NORM) || !isinf(c->max_norm)) return;
    if (!strcmp(c->kind, "norm") || !strcmp(c->kind, "global_norm"))
        key_errf_(p, K_CLIP_MAX_NORM, where_(p, K_CLIP_MAX_NORM, K_CLIP_KIND),
                  "inf with kind = %s; allowed: a finite number > 0 (inf only with kind = zscore)", c->kind);
}

/* [metrics]: sharpness on logged steps only; its other keys only with sharpness_every > 0 (a warning) */
static void check_metrics_(parser *p)
{
    const clgrad_metrics_section *m = &p->cfg.metrics;
    if (ok_(p, K_METRICS_SHARPNESS_EVERY) && ok_(p, K_RUN_LOG_EVERY) && m->sharpness_every > 0 &&
        m->sharpness_every % p->cfg.run.log_every != 0)
        key_errf_(p, K_METRICS_SHARPNESS_EVERY, where_(p, K_METRICS_SHARPNESS_EVERY, K_RUN_LOG_EVERY),
                  "%ld is not a multiple of [run] log_every = %ld (the sharpness is written on logged steps); "
                  "allowed: 0 or a multiple of log_every",
                  m->sharpness_every, p->cfg.run.log_every);
    static const int k[] = {K_METRICS_SHARPNESS_ITERS, K_METRICS_SHARPNESS_TOL, K_METRICS_SHARPNESS_EPS};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (ok_(p, K_METRICS_SHARPNESS_EVERY) && ok_(p, k[i]) && m->sharpness_every == 0 && differs_(p, k[i])) {
            clgrad_sbuf v = {0}, d = {0};
            value_str_(&p->cfg, k[i], &v);
            value_str_(&p->def, k[i], &d);
            warnf_(p, "[metrics] %s = %s: not used when sharpness_every = 0 (no sharpness); ignored (the default is %s)",
                   keys[k[i]].key, v.s ? v.s : "?", d.s ? d.s : "?");
            clgrad_sb_free(&v), clgrad_sb_free(&d);
        }
}

static void check_optim_(parser *p)
{
    clgrad_optim_section *o = &p->cfg.optim;
    if (!ok_(p, K_OPTIM_KIND)) return;
    if (!is_set_(p, K_OPTIM_LR)) o->lr = default_lr_(o->kind);
    if (!is_set_(p, K_OPTIM_WEIGHT_DECAY))
        o->weight_decay = !strcmp(o->kind, "adamw") || !strcmp(o->kind, "lamb") ? 1e-2 : !strcmp(o->kind, "lars") ? 5e-4 : 0;
    if (!is_set_(p, K_OPTIM_MOMENTUM) && !strcmp(o->kind, "lars")) o->momentum = 0.9; /* You et al. 2017 */
    if (!is_set_(p, K_OPTIM_EPS) && !strcmp(o->kind, "lamb")) o->eps = 1e-6;          /* You et al. 2020 */
    if (!strcmp(o->kind, "sgd") && o->nesterov && ok_(p, K_OPTIM_NESTEROV) && ok_(p, K_OPTIM_MOMENTUM) &&
        ok_(p, K_OPTIM_DAMPENING) && (o->momentum <= 0 || o->dampening != 0))
        key_errf_(p, K_OPTIM_NESTEROV, p->where[K_OPTIM_NESTEROV],
                  "needs momentum > 0 and dampening = 0 (PyTorch); momentum = %.17g, dampening = %.17g",
                  o->momentum, o->dampening);
    if (!ok_(p, K_OPTIM_SCHEDULE)) return;
    if (!strcmp(o->schedule, "warmup") && ok_(p, K_OPTIM_WARMUP_STEPS) && o->warmup_steps < 1)
        key_errf_(p, K_OPTIM_WARMUP_STEPS, where_(p, K_OPTIM_WARMUP_STEPS, K_OPTIM_SCHEDULE),
                  "schedule = warmup needs warmup_steps; allowed: an integer >= 1");
    if (!strcmp(o->schedule, "cosine") && ok_(p, K_OPTIM_MIN_LR) && ok_(p, K_OPTIM_LR) && o->min_lr > o->lr)
        key_errf_(p, K_OPTIM_MIN_LR, where_(p, K_OPTIM_MIN_LR, K_OPTIM_LR),
                  "%.17g is above lr = %.17g; allowed: a number in [0, lr]", o->min_lr, o->lr);
    if ((!strcmp(o->schedule, "cosine") || !strcmp(o->schedule, "warmup")) && ok_(p, K_OPTIM_WARMUP_STEPS) &&
        ok_(p, K_RUN_STEPS) && p->cfg.run.steps > 0 && o->warmup_steps > p->cfg.run.steps)
        key_errf_(p, K_OPTIM_WARMUP_STEPS, where_(p, K_OPTIM_WARMUP_STEPS, K_RUN_STEPS),
                  "%ld is more than [run] steps = %ld; allowed: an integer in [0, steps]", o->warmup_steps,
                  p->cfg.run.steps);
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */
/* ------------------------------------------------------------------ */

static int absolute_(const char *s)
{
    return s[0] == '/' || s[0] == '\\' || (isalpha((unsigned char)s[0]) && s[1] == ':');
}

/* The current directory (malloc'd), or NULL with errno. */
static char *cwd_(void)
{
    for (size_t n = 256; n <= (1u << 20); n *= 2) {
        char *b = malloc(n);
        if (!b) return NULL;
        if (getcwd(b, n)) return b;
        free(b);
        if (errno != ERANGE) return NULL;
    }
    errno = ENAMETOOLONG;
    return NULL;
}

/* Append item (n bytes) to b, made absolute: against the file's directory
** when it came from the file (from_file), else against the current
** directory (*cwd, fetched once).  0, or -1 with errno when the current
** directory is unknown. */
static int absolute_item_(clgrad_sbuf *b, const char *item, size_t n, const char *file, int from_file, char **cwd)
{
    if (n && (item[0] == '/' || item[0] == '\\' || (n > 1 && isalpha((unsigned char)item[0]) && item[1] == ':'))) {
        clgrad_sb_putn(b, item, n);
        return 0;
    }
    const char *slash = from_file ? strrchr(file, '/') : NULL;
    if (!slash || !absolute_(file)) { /* relative to the current directory */
        if (!*cwd && !(*cwd = cwd_())) return -1;
        clgrad_sb_puts(b, *cwd);
        clgrad_sb_puts(b, "/");
    }
    if (slash) clgrad_sb_putn(b, file, (size_t)(slash - file) + 1); /* the file's directory, with its '/' */
    clgrad_sb_putn(b, item, n);
    return 0;
}

/* Make data.path / data.labels absolute: file values against the file's
** directory, overrides against the current directory.  cifar10's path is a
** comma list: each item is made absolute (and trimmed). */
static void resolve_paths_(parser *p, const char *file)
{
    static const int pk[] = {K_DATA_PATH, K_DATA_LABELS};
    char *cwd = NULL;
    int list = ok_(p, K_DATA_KIND) && !strcmp(p->cfg.data.kind, "cifar10");
    for (size_t i = 0; i < 2; i++) {
        int k = pk[i];
        char *v = field_(&p->cfg, k);
        if (!ok_(p, k) || !v[0]) continue;
        clgrad_sbuf b = {0};
        int failed = 0;
        for (const char *c = v;;) {
            size_t len = list && k == K_DATA_PATH ? strcspn(c, ",") : strlen(c);
            const char *item = c;
            size_t n = len;
            if (list && k == K_DATA_PATH) trim_(&item, &n);
            if (c != v) clgrad_sb_puts(&b, ",");
            if (absolute_item_(&b, item, n, file, p->where[k] > 0, &cwd) != 0) {
                key_errf_(p, k, p->where[k], "cannot make the path absolute: current directory: %s", strerror(errno));
                failed = 1;
                break;
            }
            if (!c[len]) break;
            c += len + 1;
        }
        if (failed) {
        } else if (b.oom || b.len >= keys[k].size) {
            key_errf_(p, k, p->where[k], "%zu bytes once made absolute; allowed: at most %zu", b.len, keys[k].size - 1);
        } else {
            copy_str_(v, keys[k].size, b.s ? b.s : "");
        }
        free(b.s);
    }
    free(cwd);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

static void default_name_(const char *name, char *out, size_t n)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t len = strlen(base);
    if (len >= 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
    if (len >= n) len = n - 1;
    memset(out, 0, n);
    memcpy(out, base, len);
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\' || *c == '"') *c = '_';
    if (!out[0] || !strcmp(out, ".") || !strcmp(out, "..")) copy_str_(out, n, "run");
}

static void note_(char *s, size_t n, long more)
{
    snprintf(s, n, "... and %ld more error%s\n", more, more == 1 ? "" : "s");
}

static int msg_cmp_(const void *a, const void *b)
{
    long long x = ((const message *)a)->order, y = ((const message *)b)->order;
    return (x > y) - (x < y);
}

/* Sort the messages by location and copy as many whole lines as fit into
** err, then "... and N more errors". */
static void finish_errors_(parser *p, char *err, size_t nerr)
{
    qsort(p->msgs, (size_t)p->nmsgs, sizeof p->msgs[0], msg_cmp_);
    if (!err || nerr == 0) return;
    err[0] = '\0';
    if (p->nerrors == 0) return;
    size_t used = 0;
    int shown = 0;
    char note[64];
    for (; shown < p->nmsgs; shown++) {
        size_t len = strlen(p->msgs[shown].text);
        long rest = p->nerrors - shown - 1;
        note_(note, sizeof note, rest);
        if (used + len + (rest ? strlen(note) : 0) >= nerr) break;
        memcpy(err + used, p->msgs[shown].text, len + 1);
        used += len;
    }
    long rest = p->nerrors - shown;
    if (rest > 0) {
        note_(note, sizeof note, rest);
        size_t nn = strlen(note);
        if (used + nn >= nerr) nn = nerr - 1 - used; /* tiny buffer: as much of the note as fits */
        memcpy(err + used, note, nn);
        err[used + nn] = '\0';
    }
}

static int parse_impl_(const char *name, const char *text, size_t len, const char *const *sets, int nsets,
                       const char *file_for_paths, clgrad_config *cfg, char *err, size_t nerr)
{
    if (err && nerr) err[0] = '\0';
    parser *p = calloc(1, sizeof *p);
    if (!p) {
        if (err && nerr) snprintf(err, nerr, "%s: out of memory\n", name);
        return -1;
    }
    p->name = name;
    p->sets = sets;
    p->nsets = nsets;
    clgrad_config_defaults(&p->cfg);
    clgrad_config_defaults(&p->def);
    if (strlen(name) >= sizeof p->cfg.path) errf_(p, 0, "file name longer than %zu bytes", sizeof p->cfg.path - 1);
    else copy_str_(p->cfg.path, sizeof p->cfg.path, name);

    if (text) do_text_(p, text, len);
    if (nsets > 0 && !sets) errf_(p, 0, "%d overrides but no list", nsets);
    for (int i = 0; sets && i < nsets; i++) do_set_(p, i);

    if (!is_set_(p, K_RUN_NAME)) default_name_(name, p->cfg.run.name, sizeof p->cfg.run.name);
    check_run_(p);
    check_data_(p);
    check_model_(p);
    check_loss_(p);
    check_optim_(p);
    check_noise_(p);
    check_clip_(p);
    check_metrics_(p);
    check_used_(p);
    if (file_for_paths) resolve_paths_(p, file_for_paths);

    int rc = p->nerrors ? -1 : 0;
    if (rc == 0) *cfg = p->cfg;
    finish_errors_(p, err, nerr);
    for (int i = 0; i < p->nmsgs; i++) free(p->msgs[i].text);
    free(p);
    return rc;
}

clgrad_status clgrad_config_parse(const char *name, const char *text, const char *const *sets, int nsets,
                        clgrad_config *cfg, char *err, size_t nerr)
{
    return parse_impl_(name ? name : "<config>", text, text ? strlen(text) : 0, sets, nsets, NULL, cfg, err, nerr) == 0
               ? CLGRAD_OK
               : CLGRAD_E_CONFIG;
}

#define MAX_FILE_BYTES (64u << 20)

clgrad_status clgrad_config_load(const char *path, const char *const *sets, int nsets, clgrad_config *cfg, char *err,
                       size_t nerr)
{
    if (!path) path = "";
    char *text;
    size_t len;
    int e = clgrad_fs_read_all(path, MAX_FILE_BYTES, 0, &text, &len);
    if (e) {
        if (err && nerr) {
            if (e == EFBIG) snprintf(err, nerr, "%s: larger than %u MiB; not a config file?\n", path, MAX_FILE_BYTES >> 20);
            else if (e == ENOMEM) snprintf(err, nerr, "%s: out of memory reading it\n", path);
            else if (e == EISDIR || e == EINVAL || e == EIO) snprintf(err, nerr, "%s: cannot read: %s\n", path, strerror(e));
            else snprintf(err, nerr, "%s: cannot open: %s\n", path, strerror(e));
        }
        return CLGRAD_E_CONFIG;
    }
    int rc = parse_impl_(path, text, len, sets, nsets, path, cfg, err, nerr);
    free(text);
    return rc == 0 ? CLGRAD_OK : CLGRAD_E_CONFIG;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* The shortest %.{15,16,17}g that reads back exactly. */
static void double_str_(double v, clgrad_sbuf *b)
{
    if (isnan(v)) {
        clgrad_sb_puts(b, "auto");
        return;
    }
    if (isinf(v)) {
        clgrad_sb_puts(b, v > 0 ? "inf" : "-inf");
        return;
    }
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v && (v != 0 || signbit(strtod(s, NULL)) == signbit(v))) break;
    }
    clgrad_sb_puts(b, s);
}

static void string_str_(const char *s, clgrad_sbuf *b)
{
    if (!needs_quotes_(s)) {
        clgrad_sb_puts(b, s);
        return;
    }
    char q = strchr(s, '"') ? '\'' : '"';
    clgrad_sb_putn(b, &q, 1);
    clgrad_sb_puts(b, s);
    clgrad_sb_putn(b, &q, 1);
}

/* The value of key k as the file text that reads back to it. */
static void value_str_(const clgrad_config *c, int k, clgrad_sbuf *b)
{
    const void *f = cfield_(c, k);
    switch (keys[k].type) {
    case T_LONG: clgrad_sb_printf(b, "%ld", *(const long *)f); break;
    case T_U64: clgrad_sb_printf(b, "%" PRIu64, *(const uint64_t *)f); break;
    case T_DOUBLE: double_str_(*(const double *)f, b); break;
    case T_BOOL: clgrad_sb_puts(b, *(const int *)f ? "true" : "false"); break;
    case T_CHOICE:
    case T_STRING: string_str_(f, b); break;
    case T_WIDTHS:
        if (c->model.nhidden <= 0) clgrad_sb_puts(b, "none");
        for (int i = 0; i < c->model.nhidden && i < CLGRAD_MAX_LAYERS; i++)
            clgrad_sb_printf(b, "%s%ld", i ? "," : "", c->model.hidden[i]);
        break;
    case T_ACTS:
        for (int i = 0; i < c->model.nactivation && i < CLGRAD_MAX_LAYERS; i++) {
            if (i) clgrad_sb_puts(b, ",");
            clgrad_sb_putn(b, c->model.activation[i], strnlen(c->model.activation[i], CLGRAD_NAME_LEN));
        }
        break;
    }
}

int clgrad_config_write(const clgrad_config *cfg, FILE *f)
{
    for (int k = 0; k < K_COUNT; k++) {
        if (keys[k].type != T_STRING && keys[k].type != T_CHOICE) continue;
        const char *s = cfield_(cfg, k);
        if (!memchr(s, '\0', keys[k].size) || !writable_(s)) {
            errno = EINVAL;
            return -1;
        }
    }
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, "# clgrad experiment config, fully resolved: every key with the value used\n"
                "# (defaults included). It loads back to exactly the same config.\n");
    if (cfg->path[0]) {
        clgrad_sb_puts(&b, "# from: ");
        sb_text(&b, cfg->path, strnlen(cfg->path, sizeof cfg->path), sizeof cfg->path);
        clgrad_sb_puts(&b, "\n");
    }
    int sec = -1;
    for (int k = 0; k < K_COUNT; k++) {
        if (keys[k].sec != sec) {
            sec = keys[k].sec;
            clgrad_sb_printf(&b, "\n[%s]\n", sections[sec]);
        }
        clgrad_sb_printf(&b, "%s = ", keys[k].key);
        value_str_(cfg, k, &b);
        clgrad_sb_puts(&b, "\n");
    }
    int rc = 0;
    if (b.oom) {
        errno = ENOMEM;
        rc = -1;
    } else if (fwrite(b.s, 1, b.len, f) != b.len || fflush(f) != 0 || ferror(f)) {
        rc = -1;
    }
    free(b.s);
    return rc;
}

static const char *type_name_(ktype t)
{
    switch (t) {
    case T_LONG: return "integer";
    case T_U64: return "seed";
    case T_DOUBLE: return "number";
    case T_BOOL: return "boolean";
    case T_CHOICE: return "choice";
    case T_STRING: return "text";
    case T_WIDTHS: return "widths";
    case T_ACTS: return "choice list";
    }
    return "?";
}

int clgrad_config_help(FILE *f)
{
    clgrad_config def;
    clgrad_config_defaults(&def);
    clgrad_sbuf b = {0};
    clgrad_sb_puts(&b, "Experiment file keys (section, key: type; allowed; default):\n");
    int sec = -1;
    for (int k = 0; k < K_COUNT; k++) {
        if (keys[k].sec != sec) {
            sec = keys[k].sec;
            clgrad_sb_printf(&b, "\n[%s]\n", sections[sec]);
        }
        clgrad_sb_printf(&b, "  %-17s %s; ", keys[k].key, type_name_(keys[k].type));
        allowed_(&b, k);
        clgrad_sb_puts(&b, "; default ");
        if (k == K_RUN_NAME) clgrad_sb_puts(&b, "the file's base name without .ini");
        else if (k == K_RUN_STEPS) clgrad_sb_puts(&b, "1000 (0 when only epochs is set)");
        else if (k == K_OPTIM_LR) clgrad_sb_puts(&b, "sgd 0.01, rmsprop 0.01, adam 0.001, adamw 0.001, lars 0.01, lamb 0.001");
        else if (k == K_OPTIM_WEIGHT_DECAY) clgrad_sb_puts(&b, "0 (adamw: 0.01, lars: 0.0005, lamb: 0.01)");
        else if (k == K_OPTIM_MOMENTUM) clgrad_sb_puts(&b, "0 (lars: 0.9)");
        else if (k == K_OPTIM_EPS) clgrad_sb_puts(&b, "1e-08 (lamb: 1e-06)");
        else if (k == K_OPTIM_TRUST_COEFFICIENT) clgrad_sb_puts(&b, "0.001 (LARS's eta)");
        else if (k == K_OPTIM_TRUST_CLIP) clgrad_sb_puts(&b, "none");
        else if (k == K_DATA_TASK) clgrad_sb_puts(&b, "regression (csv); other kinds have their own task");
        else if (k == K_LOSS_KIND) clgrad_sb_puts(&b, "follow the data (mse, bce or ce)");
        else if (k == K_MODEL_INIT_GAIN)
            clgrad_sb_puts(&b, "the initialiser's own (PyTorch's): xavier_uniform, xavier_normal 1 (Glorot); kaiming_uniform, "
                        "kaiming_normal sqrt(2) (He, a = 0); orthogonal 1; lecun_normal 1; auto = the activation's gain "
                        "(tanh 5/3, relu sqrt(2), leaky_relu sqrt(2/(1+slope^2)), selu 3/4, others 1; 1 without hidden "
                        "layers); the other kinds use no gain");
        else value_str_(&def, k, &b);
        if (keys[k].used_by) {
            clgrad_sb_printf(&b, "; used when %s is ", keys[keys[k].dep].key);
            const char *u = keys[k].used_by + 1;
            for (int first = 1; *u; first = 0) {
                size_t len = strcspn(u, "|");
                clgrad_sb_printf(&b, "%s%.*s", first ? "" : "|", (int)len, u);
                u += len + 1;
            }
        }
        clgrad_sb_puts(&b, "\n");
    }
    int rc = b.oom || fwrite(b.s, 1, b.len, f) != b.len || ferror(f) ? -1 : 0;
    free(b.s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* choices -> enums                                                     */
/* ------------------------------------------------------------------ */

/* The index of name among key k's choices, or -1. */
static int choice_index_(int k, const char *name)
{
    const char *c = choices_(k);
    size_t n = strlen(name);
    for (int i = 0; *c; i++) {
        size_t len = strcspn(c, "|");
        if (len == n && memcmp(c, name, n) == 0) return i;
        c += len + (c[len] == '|');
    }
    return -1;
}

clgrad_status clgrad_config_kinds_of(const clgrad_config *c, clgrad_config_kinds *o, char *err, size_t nerr)
{
    struct { int k; const char *name; int *out; } m[] = {
        {K_MODEL_KIND, c->model.kind, (int *)&o->model},        {K_MODEL_INIT_MODE, c->model.init_mode, (int *)&o->init_mode},
        {K_OPTIM_KIND, c->optim.kind, (int *)&o->optim},        {K_OPTIM_SCHEDULE, c->optim.schedule, (int *)&o->schedule},
        {K_CLIP_KIND, c->clip.kind, (int *)&o->clip},           {K_CLIP_NONFINITE, c->clip.nonfinite, (int *)&o->nonfinite},
        {K_DIVERGE_ACTION, c->diverge.action, &o->diverge_stop}, {K_MODEL_INIT, c->model.init, (int *)&o->init},
        {K_LOSS_KIND, c->loss.kind, &o->loss},                  {K_MODEL_NORM, c->model.norm, (int *)&o->norm},
        {K_MODEL_RESIDUAL, c->model.residual, &o->residual},
    };
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        int v = m[i].k == K_LOSS_KIND && !m[i].name[0] ? -1 : choice_index_(m[i].k, m[i].name);
        if (v < 0 && !(m[i].k == K_LOSS_KIND && !m[i].name[0])) {
            snprintf(err, nerr, "%s: [%s] %s: '%s' is not a known value; allowed: %s", c->path, sections[keys[m[i].k].sec],
                     keys[m[i].k].key, m[i].name, choices_(m[i].k));
            return CLGRAD_E_CONFIG;
        }
        *m[i].out = v;
    }
    /* indices -> enums where the list is not the enum's own table */
    o->diverge_stop = o->diverge_stop == 0; /* stop|continue */
    o->init = o->init == 0 ? CLGRAD_INIT_LINEAR_DEFAULT : (clgrad_init_kind)clgrad_init_parse(c->model.init);
    for (int l = 0; l < c->model.nhidden && l < CLGRAD_MAX_LAYERS; l++) {
        const char *a = c->model.activation[c->model.nactivation == 1 ? 0 : l];
        int v = choice_index_(K_MODEL_ACTIVATION, a);
        if (v < 0) {
            snprintf(err, nerr, "%s: [model] activation: '%s' is not a known value; allowed: %s", c->path, a,
                     choices_(K_MODEL_ACTIVATION));
            return CLGRAD_E_CONFIG;
        }
        o->act[l] = (clgrad_act)v;
    }
    return 0;
}
