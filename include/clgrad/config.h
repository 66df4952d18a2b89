/*
** clgrad/config.h: an experiment file (INI) as a struct.
**
** Sections and keys are fixed so experiment files stay portable:
**   [run] [data] [model] [loss] [optim] [clip] [diverge]
** (see README "Experiment files" for every key, its type, range and default).
** clgrad_config_load parses a file, applies `--set section.key=value`
** overrides, validates everything and fills a clgrad_config; any error names
** the file, the line, the key and what is allowed, and nothing runs on a
** config with errors.  clgrad_config_write prints the fully resolved config
** (every key, defaults included) as INI: a run directory's config.ini, which
** loads back to the same struct.
**
** Choice-valued keys (activation, init, optimizer kind, ...) are validated
** against their allowed names and stored as those names (lower case); the
** driver maps them to the kernel families' enums.
*/
#ifndef CLGRAD_CONFIG_H
#define CLGRAD_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLGRAD_MAX_LAYERS 256
#define CLGRAD_NAME_LEN 32

typedef struct clgrad_run_section {
    char name[128];     /* default: the file's base name without .ini */
    uint64_t seed;      /* default 0 */
    long steps;         /* optimizer steps; 0 = use epochs */
    long epochs;        /* used when steps = 0; default steps = 1000 when neither is given */
    long eval_every;    /* steps between test evaluations (0 = only at the end); default 100 */
    long log_every;     /* steps between metric rows; default 1 */
} clgrad_run_section;

typedef struct clgrad_data_section {
    char kind[CLGRAD_NAME_LEN]; /* linreg|moons|circles|xor|blobs|spirals|adding|temporal_order|csv|idx */
    char path[1024];            /* csv: the file; idx: the images file */
    char labels[1024];          /* idx: the labels file */
    char target[128];           /* csv: name of the target column */
    char task[CLGRAD_NAME_LEN]; /* csv: regression|binary|multiclass (default regression) */
    long batch_size;            /* 0 = full batch; default 32 */
    int shuffle;                /* default 1: reshuffle every epoch from the seed */
    double test_fraction;       /* [0, 1), default 0.2 */
    int standardize;            /* default 0: z-score features with train statistics */
    long samples;               /* generators: default 1000 */
    long features;              /* linreg: default 10 */
    double noise;               /* generators: default 0.1 (linreg: std of y noise) */
    double condition;           /* linreg: condition number of the feature covariance, default 1 */
    long classes;               /* blobs, spirals: default 3 */
    long seq_len;               /* adding, temporal_order: default 50 */
} clgrad_data_section;

typedef struct clgrad_model_section {
    char kind[CLGRAD_NAME_LEN];      /* mlp|rnn */
    int nhidden;                     /* number of hidden layers (rnn: 1 = one recurrent layer) */
    long hidden[CLGRAD_MAX_LAYERS];  /* widths: "64,64,64" or "256x16"; "" = no hidden layer */
    int nactivation;                 /* 1 = one activation for all, or one per hidden layer */
    char activation[CLGRAD_MAX_LAYERS][CLGRAD_NAME_LEN]; /* identity|sigmoid|tanh|relu|leaky_relu|elu|selu|softsign|softplus|gelu|gelu_tanh */
    double activation_param;         /* leaky_relu slope (0.01) / elu alpha (1.0) */
    int bias;                        /* default 1 */
    char init[CLGRAD_NAME_LEN];      /* default|zeros|constant|uniform|normal|xavier_uniform|xavier_normal|kaiming_uniform|kaiming_normal|lecun_normal|orthogonal */
    double init_gain;                /* NAN = the activation's recommended gain */
    double init_std;                 /* normal: std (default 1) */
    char init_mode[CLGRAD_NAME_LEN]; /* fan_in|fan_out */
} clgrad_model_section;

typedef struct clgrad_loss_section {
    char kind[CLGRAD_NAME_LEN]; /* mse|bce|ce; "" = follow the data (regression: mse, binary: bce, multiclass: ce) */
} clgrad_loss_section;

typedef struct clgrad_optim_section {
    char kind[CLGRAD_NAME_LEN]; /* sgd|rmsprop|adam|adamw */
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps, alpha;
    int nesterov, centered, amsgrad;
    char schedule[CLGRAD_NAME_LEN]; /* constant|step|cosine|warmup */
    long step_size;     /* step: decay every step_size steps */
    double gamma;       /* step: multiply by gamma */
    long warmup_steps;  /* warmup: linear from 0 to lr over warmup_steps, then constant; cosine: optional warmup */
    double min_lr;      /* cosine: floor */
} clgrad_optim_section;

typedef struct clgrad_clip_section {
    char kind[CLGRAD_NAME_LEN];      /* none|value|norm|global_norm|agc */
    double max_norm;                 /* norm, global_norm: default 1 */
    double norm_type;                /* 2 or inf (INFINITY): default 2 */
    double value;                    /* value: default 1 */
    double clipping;                 /* agc: default 0.01 */
    char nonfinite[CLGRAD_NAME_LEN]; /* propagate|skip|stop (default propagate) */
} clgrad_clip_section;

typedef struct clgrad_diverge_section {
    double grad_norm_limit;     /* default 1e6; <= 0 disables */
    double loss_limit;          /* default 1e6; <= 0 disables */
    char action[CLGRAD_NAME_LEN]; /* stop|continue (default stop) */
} clgrad_diverge_section;

typedef struct clgrad_config {
    char path[1024]; /* the file it was loaded from */
    clgrad_run_section run;
    clgrad_data_section data;
    clgrad_model_section model;
    clgrad_loss_section loss;
    clgrad_optim_section optim;
    clgrad_clip_section clip;
    clgrad_diverge_section diverge;
} clgrad_config;

/* Defaults for every key. */
void clgrad_config_defaults(clgrad_config *cfg);

/* Parse `path`, then apply nsets overrides "section.key=value" in order.
** Returns 0 on success; on error returns -1 with every problem found (one per
** line, "FILE:LINE: [section] key: message; allowed: ...") in err. */
int clgrad_config_load(const char *path, const char *const *sets, int nsets, clgrad_config *cfg, char *err,
                       size_t nerr);
/* Parse INI text already in memory (name is used in messages). */
int clgrad_config_parse(const char *name, const char *text, const char *const *sets, int nsets,
                        clgrad_config *cfg, char *err, size_t nerr);

/* Write the resolved config as INI (every key). Returns 0, or -1 on a write error. */
int clgrad_config_write(const clgrad_config *cfg, FILE *f);
#endif
