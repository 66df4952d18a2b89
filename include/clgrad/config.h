/*
** clgrad/config.h: an experiment file (INI) as a struct.
**
** Sections and keys are fixed so experiment files stay portable:
**   [run] [data] [model] [loss] [optim] [clip] [diverge] [noise] [metrics]
** Each field below says its type, range and default; clgrad_config_help()
** prints the same table (type, allowed values, default) for every key.
** clgrad_config_load parses a file, applies `--set section.key=value`
** overrides, validates everything and fills a clgrad_config; any error names
** the file, the line, the key and what is allowed, and nothing runs on a
** config with errors.  clgrad_config_write prints the fully resolved config
** (every key, defaults included) as INI: a run directory's config.ini, which
** loads back to the same struct (parse(write(cfg)) == cfg, bit for bit).
**
** File syntax
**   [section]            a header; each section may appear once
**   key = value          keys are lower case, exactly as listed below
**   # comment, ; comment full-line, or inline after whitespace (`lr = 0.1  # big`);
**                        a '#' or ';' inside a word is part of the value (`a#b`)
**   "value" or 'value'   optional quotes keep spaces, '#' and ';' (no escapes)
** Blank lines, surrounding spaces/tabs, CRLF (or CR) line ends and a UTF-8 BOM
** are accepted.  A key may be given once per file (twice is an error); a
** --set override may replace any key.  Overrides take "section.key=value"; the
** value is trimmed and may be quoted; there are no comments in overrides.
**
** Value types
**   integer  decimal (`100`, `-3`), or a number with an integral value (`1e5`);
**            `1.5`, `0x10`, overflow and trailing junk are errors
**   seed     unsigned 64-bit: decimal or 0x-hex
**   number   strtod syntax in the C locale (`0.1`, `1e-3`); NaN and hex floats
**            are errors; `inf` only where allowed; `auto` only where allowed
**   boolean  true|false|yes|no|on|off|1|0 (any case)
**   choice   one of the listed names, any case, stored lower case
**
** Resolution (after the file and all overrides):
**   run.name      unset: the file's base name without ".ini"
**   run.steps     neither steps nor epochs set: steps 1000; only epochs set: steps 0
**   optim.lr      unset: by kind: sgd 0.01, rmsprop 0.01, adam 0.001, adamw 0.001,
**                 lars 0.01, lamb 0.001
**                 (PyTorch's for rmsprop/adam/adamw; PyTorch >= 2 uses 1e-3 for SGD)
**   optim.weight_decay  unset and kind = adamw: 0.01 (PyTorch AdamW), lamb: 0.01,
**                 lars: 0.0005 (the papers'), else 0
**   optim.momentum  unset and kind = lars: 0.9 (You et al. 2017), else 0
**   optim.eps     unset and kind = lamb: 1e-6 (You et al. 2020), else 1e-8
**   data.task     every kind but csv has a fixed task: linreg, adding: regression;
**                 moons, circles, xor: binary; blobs, spirals, temporal_order,
**                 idx, cifar10: multiclass.  csv: the task key (default regression).
**   loss.kind     "" (default): regression -> mse, binary -> bce, multiclass -> ce
**   model.init_gain  unset: the initialiser's own gain, PyTorch's default: xavier_*,
**                 orthogonal, lecun_normal 1; kaiming_* sqrt(2) (a = 0); the other
**                 kinds use no gain and it stays auto (NAN); auto (set) = the
**                 activation's gain
**   model.activation_param  auto: leaky_relu 0.01 or elu 1.0 when only one of
**                 them is used; stays auto (NAN) otherwise (each its own default)
**   data.path, data.labels  relative paths from a file are relative to that
**                 file's directory, those from --set to the current directory;
**                 clgrad_config_load stores them absolute (so a run's config.ini
**                 loads from anywhere).  clgrad_config_parse leaves them as given.
**
** Cross-key rules (errors, except the unused keys, which are warnings):
**   run      steps and epochs not both > 0, not both 0; optim.warmup_steps <= steps (steps > 0)
**   data     csv needs path and target; idx needs path and labels; cifar10 needs
**            path (one file or a comma list, no empty item); task other than
**            the kind's own task only for csv
**   model    rnn, lstm, gru need sequence data (data.kind adding|temporal_order)
**            and exactly one width in hidden (stacking is layers = N); lstm
**            and gru take no activation (their gates are sigmoid/tanh): it
**            resolves to tanh, and any other name is an error; forget_bias
**            (lstm) needs bias = true; activation: 1 name, or one per hidden
**            layer; activation_param (a number) needs a leaky_relu or elu layer
**   loss     ce needs multiclass data, bce binary, mse regression or binary
**   optim    nesterov needs momentum > 0 and dampening = 0 (PyTorch); a key a kind
**            does not use, set to anything but its default, is ignored with a
**            warning (clgrad_config.warnings; PyTorch would reject it):
**            momentum: sgd, rmsprop, lars; dampening, nesterov: sgd; alpha, centered:
**            rmsprop; eps: rmsprop, adam(w), lamb; beta1, beta2: adam(w), lamb;
**            amsgrad: adam(w); trust_coefficient: lars; trust_clip, exclude: lars, lamb.
**            Schedule keys likewise: step_size, gamma: step; warmup_steps:
**            warmup, cosine; min_lr: cosine.  warmup needs warmup_steps >= 1;
**            cosine needs min_lr <= lr.
**   clip     max_norm, norm_type: norm, global_norm; value: value; clipping: agc
**            (a warning under other kinds)
**   data     path, labels, target and model.layers, model.forget_bias: a warning
**            under the kinds that do not read them
**   noise    grad_gamma only with grad_eta > 0 (a warning)
**   metrics  sharpness_every a multiple of run.log_every; sharpness_iters, _tol,
**            _eps only with sharpness_every > 0 (a warning)
**
** Choice-valued keys (activation, init, optimizer kind, ...) are validated
** against their allowed names and stored as those names (lower case); the
** driver maps them to the kernel families' enums.  Numbers are parsed and
** printed in the C locale: do not setlocale(LC_NUMERIC, ...) in the driver.
*/
#ifndef CLGRAD_CONFIG_H
#define CLGRAD_CONFIG_H
#include "clgrad/activation.h"
#include "clgrad/gradstate.h"
#include "clgrad/init.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"
#include "clgrad/step.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLGRAD_NAME_LEN 32
#define CLGRAD_MAX_WIDTH (1L << 24) /* largest hidden width */
#define CLGRAD_MAX_RLAYERS 64       /* most stacked recurrent layers ([model] layers) */
#define CLGRAD_MAX_WARNINGS 32      /* more than there are keys a kind can leave unused */

typedef struct clgrad_run_section {
    char name[128];     /* default: the file's base name without .ini; no '/' or '\', not "." or ".." */
    uint64_t seed;      /* default 0 */
    long steps;         /* >= 0; optimizer steps; 0 = use epochs */
    long epochs;        /* >= 0; used when steps = 0; default steps = 1000 when neither is given */
    long eval_every;    /* >= 0; steps between test evaluations (0 = only at the end); default 100 */
    long log_every;     /* >= 1; steps between metric rows; default 1 */
} clgrad_run_section;

typedef struct clgrad_data_section {
    char kind[CLGRAD_NAME_LEN]; /* linreg|moons|circles|xor|blobs|spirals|adding|temporal_order|csv|idx|cifar10; default linreg */
    char path[1024];            /* csv: the file; idx: the images file; cifar10: a batch file or a comma list of them */
    char labels[1024];          /* idx: the labels file */
    char target[128];           /* csv: name of the target column */
    char task[CLGRAD_NAME_LEN]; /* regression|binary|multiclass: csv's choice (default regression), the kind's task otherwise */
    long batch_size;            /* >= 0; 0 = full batch; default 32 */
    int shuffle;                /* default 1: reshuffle every epoch from the seed */
    double test_fraction;       /* [0, 1), default 0.2 */
    int standardize;            /* default 0: z-score features with train statistics */
    long samples;               /* >= 1; generators: default 1000 */
    long features;              /* >= 1; linreg: default 10 */
    double noise;               /* >= 0; generators: default 0.1 (linreg: std of y noise) */
    double condition;           /* >= 1; linreg: condition number of the feature covariance, default 1 */
    long classes;               /* >= 2; blobs, spirals: default 3 */
    long seq_len;               /* >= 1; adding, temporal_order: default 50 */
} clgrad_data_section;

typedef struct clgrad_model_section {
    char kind[CLGRAD_NAME_LEN];      /* mlp|rnn|lstm|gru; default mlp */
    int nhidden;                     /* number of hidden layers (rnn, lstm, gru: 1, the state's width) */
    long hidden[CLGRAD_MAX_LAYERS];  /* widths in [1, CLGRAD_MAX_WIDTH]: "64,64,64", "256x16" (16 layers of
                                        256), mixed "128,64x3", or "" / "none" = no hidden layer;
                                        default 64,64 */
    long layers;                     /* rnn, lstm, gru: stacked recurrent layers in [1, CLGRAD_MAX_RLAYERS]; default 1 */
    double forget_bias;              /* lstm: the forget gate's bias (bias_ih[H:2H] = value, bias_hh[H:2H] = 0
                                        in every layer) or auto (NAN) = as initialised; default auto */
    int nactivation;                 /* 1 = one activation for all, or one per hidden layer */
    char activation[CLGRAD_MAX_LAYERS][CLGRAD_NAME_LEN]; /* identity|sigmoid|tanh|relu|leaky_relu|elu|selu|softsign|softplus|gelu|gelu_tanh; default relu */
    double activation_param;         /* leaky_relu slope (0.01) / elu alpha (1.0); finite or auto (NAN) */
    int bias;                        /* default 1 */
    char init[CLGRAD_NAME_LEN];      /* default|zeros|constant|uniform|normal|xavier_uniform|xavier_normal|kaiming_uniform|kaiming_normal|lecun_normal|orthogonal; default "default" (PyTorch nn.Linear) */
    double init_gain;                /* > 0, or auto (NAN) = the activation's recommended gain; default: see Resolution */
    double init_std;                 /* >= 0; normal: std (default 1) */
    char init_mode[CLGRAD_NAME_LEN]; /* fan_in|fan_out; default fan_in */
    char norm[CLGRAD_NAME_LEN];      /* mlp: none|layernorm|rmsnorm|batchnorm; default none */
    char residual[CLGRAD_NAME_LEN];  /* mlp: none|pre|post; default none (blocks: include/clgrad/model.h) */
    int final_norm;                  /* mlp: a norm before the output layer (needs norm); default 0 */
    double norm_eps;                 /* > 0, or auto (NAN): 1e-5 (layernorm, batchnorm), 2^-23 (rmsnorm) */
} clgrad_model_section;

typedef struct clgrad_loss_section {
    char kind[CLGRAD_NAME_LEN]; /* mse|bce|ce; "" = follow the data (regression: mse, binary: bce, multiclass: ce); always resolved */
} clgrad_loss_section;

typedef struct clgrad_optim_section {
    char kind[CLGRAD_NAME_LEN]; /* sgd|rmsprop|adam|adamw|lars|lamb; default sgd */
    double lr;           /* >= 0, finite (0: gradients measured, weights kept, as PyTorch allows); default by kind (see above) */
    double momentum;     /* [0, 1); default 0 (lars: 0.9) */
    double dampening;    /* [0, 1]; default 0 */
    double weight_decay; /* >= 0, finite; default 0 (adamw, lamb: 0.01; lars: 0.0005) */
    double l1;           /* >= 0, finite; L1 penalty: grad += l1 * sign(theta), sign(0) = 0, every parameter; default 0 */
    double beta1, beta2; /* [0, 1); default 0.9, 0.999 */
    double eps;          /* > 0, finite; default 1e-8 (lamb: 1e-6) */
    double alpha;        /* [0, 1); default 0.99 */
    int nesterov, centered, amsgrad; /* default 0 */
    double trust_coefficient;       /* lars: > 0, finite; eta of the trust ratio; default 0.001 */
    double trust_clip;              /* lars, lamb: > 0 or inf (none): the largest trust ratio; default inf */
    char exclude[CLGRAD_NAME_LEN];  /* lars, lamb: bias_and_norm|bias|none: tensors with trust ratio 1 and no weight decay; default bias_and_norm */
    char schedule[CLGRAD_NAME_LEN]; /* constant|step|cosine|warmup; default constant */
    long step_size;     /* >= 1; step: decay every step_size steps; default 100 */
    double gamma;       /* > 0, finite; step: multiply by gamma; default 0.1 */
    long warmup_steps;  /* >= 0; warmup: linear from 0 to lr over warmup_steps, then constant; cosine: optional warmup; default 0 */
    double min_lr;      /* >= 0, finite; cosine: floor; default 0 */
} clgrad_optim_section;

typedef struct clgrad_clip_section {
    char kind[CLGRAD_NAME_LEN];      /* none|value|norm|global_norm|agc|zscore; default none */
    double max_norm;                 /* > 0; norm, global_norm: finite; zscore: ZClip's max_grad_norm, inf = none; default 1 */
    double norm_type;                /* 2 or inf (INFINITY): default 2 */
    double value;                    /* > 0, finite; value: default 1 */
    double clipping;                 /* > 0, finite; agc: default 0.01 */
    char nonfinite[CLGRAD_NAME_LEN]; /* propagate|skip|stop (default propagate) */
    /* zscore (ZClip, Kumar et al. 2025; README, [clip] kind = zscore) */
    double alpha;                    /* (0, 1): EMA factor of the norm's mean and variance; default 0.97 */
    double z_thresh;                 /* > 0: z-score above which a norm is clipped; default 2.5 */
    long warmup_steps;               /* >= 1: norms collected to initialise the statistics; default 25 */
    char clip_option[CLGRAD_NAME_LEN]; /* adaptive_scaling|mean; default adaptive_scaling */
    double clip_factor;              /* > 0: multiplies the adaptive threshold; default 1 */
    int skip_update_on_spike;        /* do not update the statistics at a clipped step; default false */
} clgrad_clip_section;

typedef struct clgrad_diverge_section {
    double grad_norm_limit;     /* any number or inf; default 1e6; <= 0 disables */
    double loss_limit;          /* any number or inf; default 1e6; <= 0 disables */
    char action[CLGRAD_NAME_LEN]; /* stop|continue (default stop) */
} clgrad_diverge_section;

typedef struct clgrad_noise_section {
    double grad_eta;   /* >= 0, finite; gradient noise N(0, grad_eta / (1 + t)^grad_gamma) at step t; default 0 (off) */
    double grad_gamma; /* >= 0, finite; default 0.55 (Neelakantan et al. 2015) */
    double input_std;  /* >= 0, finite; std of Gaussian noise added to each training batch; default 0 (off) */
} clgrad_noise_section;

typedef struct clgrad_metrics_section {
    double spike_alpha; /* (0, 1): EMA factor of the spike detector's baseline; default 0.97 */
    double spike_z;     /* >= 0: z-score above which a logged value is a spike (0 = no detection); default 4 */
    long spike_warmup;  /* >= 1: logged values that set the baseline before detection starts; default 25 */
    long sharpness_every;  /* >= 0; 0 = off (default); a multiple of run.log_every: log the sharpness every N steps */
    long sharpness_iters;  /* [1, 100000]; most power iterations (Hessian-vector products) per estimate; default 20 */
    double sharpness_tol;  /* >= 0; stop when the estimate's relative change is <= this; default 1e-3 */
    double sharpness_eps;  /* (0, 1]; finite-difference step relative to max(1, ||w||); default 1e-3 */
    long histogram_every; /* >= 0; histograms.csv at steps that are multiples of histogram_every * log_every (and
                             the last step); 0 = off; default 10 */
} clgrad_metrics_section;

typedef struct clgrad_config {
    char path[1024]; /* the file it was loaded from (clgrad_config_parse: its name argument) */
    clgrad_run_section run;
    clgrad_data_section data;
    clgrad_model_section model;
    clgrad_loss_section loss;
    clgrad_optim_section optim;
    clgrad_clip_section clip;
    clgrad_diverge_section diverge;
    clgrad_noise_section noise;
    clgrad_metrics_section metrics;
    /* Keys set (to a value other than the default) that the chosen kind does
    ** not use, e.g. "[optim] momentum = 0.9: not used when [optim] kind = adam
    ** (only by sgd, rmsprop); ignored (the default is 0)": the run ignores
    ** them and records these lines in manifest.json ("warnings").  The text
    ** depends only on the values, so parse(write(cfg)) gives the same list. */
    int nwarnings;
    char warnings[CLGRAD_MAX_WARNINGS][256];
} clgrad_config;

/* Defaults for every key, resolved (a valid config: sgd lr 0.01, loss mse for
** the default linreg data, run.name "run", path ""). Zeroes unused bytes. */
void clgrad_config_defaults(clgrad_config *cfg);

/* Parse `path`, then apply nsets overrides "section.key=value" in order.
** Returns CLGRAD_OK; on error CLGRAD_E_CONFIG with every problem found in err
** and leaves cfg untouched (it is written only on success).  Messages:
**   "FILE:LINE: [section] key: what is wrong; allowed: ..."   (a key in the file)
**   "--set section.key=value: [section] key: ..."             (an override)
**   "FILE:LINE: ..." / "FILE: ..."                            (syntax, missing file)
** one per line, each ending in '\n'.  When err is too small the list is cut at
** a line boundary and ends with "... and N more errors".  err may be NULL
** when nerr is 0; err is "" on success. */
clgrad_status clgrad_config_load(const char *path, const char *const *sets, int nsets, clgrad_config *cfg, char *err,
                       size_t nerr);
/* Parse INI text already in memory (name is used in messages and for the
** default run name).  Same contract as clgrad_config_load. */
clgrad_status clgrad_config_parse(const char *name, const char *text, const char *const *sets, int nsets,
                        clgrad_config *cfg, char *err, size_t nerr);

/* Write the resolved config as INI: a header comment, then every key of every
** section.  Floats are printed with the fewest of 15..17 significant digits
** that read back exactly (%.17g at most), inf as inf, NAN (auto fields) as
** auto, choices as names, hidden as a comma list ("none" for no layer),
** booleans as true/false, strings quoted when they need it.  Returns 0, or -1
** on a write error or a string that cannot be written so it reads back
** (a control character, or both quote kinds in a value that needs quotes). */
int clgrad_config_write(const clgrad_config *cfg, FILE *f);

/* Print every section and key with its type, allowed values and default
** (for `--help`-style output and the README). Returns 0, or -1 on a write error. */
int clgrad_config_help(FILE *f);
/* The did-you-mean of the experiment keys, for any word: the candidate in
** choices ("a|b|c") closest to word by edit distance (case-insensitive, a swap
** of neighbours is one edit), copied to out; 0 when none is close enough. */
int clgrad_config_suggest(const char *word, const char *choices, char *out, size_t nout);

/* [optim] schedule */
typedef enum {
    CLGRAD_SCHEDULE_CONSTANT = 0,
    CLGRAD_SCHEDULE_STEP,   /* lr * gamma^floor((step - 1) / step_size) */
    CLGRAD_SCHEDULE_COSINE, /* linear warm-up, then cosine from lr to min_lr */
    CLGRAD_SCHEDULE_WARMUP  /* linear warm-up, then constant */
} clgrad_schedule;

/* The config's choices as the library's enums: the one place the names a
** config holds become types (everything downstream of the config reads these). */
typedef struct clgrad_config_kinds {
    clgrad_model_kind model;
    clgrad_act act[CLGRAD_MAX_LAYERS]; /* one per hidden layer */
    clgrad_init_kind init;             /* "default" is CLGRAD_INIT_LINEAR_DEFAULT (PyTorch's nn.Linear) */
    clgrad_init_mode init_mode;
    int loss;                          /* a clgrad_loss, or -1: follow the data */
    clgrad_optim_kind optim;
    clgrad_schedule schedule;
    clgrad_clip_kind clip;
    clgrad_nonfinite_policy nonfinite;
    int diverge_stop;                  /* [diverge] action = stop */
    clgrad_normlayer norm;             /* [model] norm */
    int residual;                      /* [model] residual: CLGRAD_RES_* */
} clgrad_config_kinds;

/* Resolve cfg's choices.  Returns CLGRAD_OK, or CLGRAD_E_CONFIG with a message in err naming the
** key when a name is not one of its choices (a config that
** clgrad_config_parse accepted always resolves). */
clgrad_status clgrad_config_kinds_of(const clgrad_config *cfg, clgrad_config_kinds *out, char *err, size_t nerr);
#endif
