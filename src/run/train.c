/*
** train.c: `clgrad run`: the gradient-descent loop and its outputs.
**
** Data flows one way: config -> data (host, then uploaded once) -> model ->
** per step [gather batch (+ input noise) -> forward -> loss -> backward ->
** L1 subgradient -> gradient noise -> gradient norms / clipping -> optimizer
** -> divergence watch] -> every log_every steps one
** read-back of a metrics block -> CSV rows.  At the histogram steps ([metrics]
** histogram_every) the log-magnitude histograms (histograms_, before clipping)
** are counted on the device into the same block: no extra read-back.  Between log steps nothing waits
** for the device (except one index upload per epoch, and the per-step flag
** read under the non-finite policy "skip", which keeps Adam's step count exact).
** With clgrad_run_opts.metrics_lag the log step's read-back does not block
** either (a ring of host blocks; defer_/consume_): its rows are written in
** step order once its block arrives, where nothing needs the values at once;
** a [diverge] stop found there ends the run at its step, which the device
** has already applied (clgrad_step_plan.halt_on_divergence: the steps queued
** after it changed nothing).
*/
#include "core/internal.h"
#include "run/rundir.h"
#include "core/cache.h"
#include "util/fsutil.h"
#include "clgrad/clip.h"
#include "clgrad/data.h"
#include "clgrad/hist.h"
#include "clgrad/init.h"
#include "clgrad/loss.h"
#include "clgrad/model.h"
#include "clgrad/optim.h"
#include "clgrad/spike.h"
#include "clgrad/sharpness.h"
#include "clgrad/step.h"
#include "clgrad/train.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const char *clgrad_run_status_name(clgrad_run_status s)
{
    static const char *n[] = {"completed", "diverged", "interrupted", "failed"};
    return (unsigned)s < 4 ? n[s] : "unknown";
}

static const char *diverge_kinds_[] = {"", "nonfinite_loss", "loss_limit", "nonfinite_grad", "grad_norm_limit"};

typedef struct run_ {
    clgrad_ctx *ctx;
    const clgrad_config *cfg;
    const clgrad_run_opts *opts;
    clgrad_dataset train, test;
    clgrad_model *m;
    clgrad_loss loss;
    clgrad_config_kinds kinds; /* the config's choices as enums */
    clgrad_optim_cfg optim;
    clgrad_nonfinite_policy policy;
    clgrad_norm_type norm_type;
    size_t B, nbatch_per_epoch, T, K, row; /* row: floats per sample (T*F) */
    long steps;
    /* device buffers (owned) */
    cl_mem xtrain, ytrain, xtest, ytest, idx, xb, yb, dlogits, state, prev, mbuf, evalbuf;
    clgrad_segs *units; /* AGC: one segment per row of each weight, a bias as one unit */
    cl_mem zstate;      /* [clip] kind = zscore: ZClip's statistics (clgrad_clip_zscore), on the device */
    clgrad_zclip_params zclip;
    clgrad_spike *spikes; /* the spike detectors: loss, grad_norm, then each layer's update_norm */
    int nspikes;
    clgrad_step_plan plan; /* the step's view of the buffers above and the settings */
    float *mhost;
    uint32_t *idx_host;
    cl_event idx_ev;    /* the pending write of idx_host to idx (NULL: none): idx_host is reused after it */
    size_t *order;
    clgrad_csv_out cmetrics, clayers, ctime, chist, cevents;
    FILE *fmetrics, *flayers, *ftime, *fevents; /* their rows streams (ftime: NULL without timesteps.csv) */
    FILE *fhist;                      /* histograms.csv's rows (NULL: [metrics] histogram_every = 0) */
    cl_mem hscratch;                  /* clgrad_hist_counts' scratch (NULL without histograms) */
    int lock_fd;                      /* the run-directory lock (clgrad_rundir_lock) */
    clgrad_run_result *res;
    double t_start;
    char start_time[32];
    double noise_std; /* this step's gradient-noise std (float-rounded when used) */
    double *ivl_ms;   /* ms per step of each logged interval after step 1 (evaluation excluded) */
    long *ivl_n;      /* steps in each interval */
    size_t nivl, capivl;
    long last_logged; /* the last step whose metrics were read back (0: none) */
    clgrad_sharp *sharp;          /* [metrics] sharpness_every > 0: the estimator's scratch */
    int sharp_pre;                /* the optimizer has a preconditioner: precond_* columns too */
    int sharp_have, sharp_phave;  /* this step measured the sharpness / the preconditioned one */
    double sharp_val, sharp_pval; /* their values */
    /* clgrad_run_opts.metrics_lag: the logged steps whose metrics blocks are still being read back, oldest
    ** first at pend[rhead], rn of them; their blocks at mring + slot * L.size */
    struct pending_ *pend;
    float *mring;
    int ring, rhead, rn;
    long halted_at; /* a pending step's divergence ended the run there (the device halted: later steps changed
                    ** nothing); the steps pending behind it are not recorded.  0: not */
    long last_step; /* the latest step enqueued */
} run_;

/* A logged step whose metrics block is read back without blocking, and what its rows need besides. */
typedef struct pending_ {
    long step, e, nsteps; /* nsteps: the steps its time per step (ms) covers */
    size_t B;
    double lr, ms, noise_std;
    int hist;
    cl_event ev;
} pending_;

/* ---- set-up ---- */

static clgrad_status mem_(run_ *r, size_t bytes, const char *what, cl_mem *out)
{
    cl_int err;
    *out = clCreateBuffer(clgrad_cl_context(r->ctx), CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return clgrad_fail(r->ctx, CLGRAD_E_CL, "clCreateBuffer: %s for %s (%zu bytes)", clgrad_cl_error_name(err), what,
                           bytes);
    }
    return CLGRAD_OK;
}

static clgrad_status upload_set_(run_ *r, const clgrad_dataset *d, cl_mem *x, cl_mem *y, const char *what)
{
    clgrad_status st = CLGRAD_OK;
    char nm[64];
    snprintf(nm, sizeof nm, "%s features", what);
    CLGRAD_TRY(clgrad_buf_new(r->ctx, d->n * r->row, nm, x));
    snprintf(nm, sizeof nm, "%s targets", what);
    CLGRAD_TRY(clgrad_buf_new(r->ctx, d->n, nm, y));
    CLGRAD_TRY(clgrad_buf_write(r->ctx, *x, 0, d->n * r->row, d->x));
    CLGRAD_TRY(clgrad_buf_write(r->ctx, *y, 0, d->n, d->y));
fail:
    return st;
}

/* Test-set batches: the training batch size, at least 1024 rows, at most the test set. */
static size_t eval_batch_(const run_ *r)
{
    size_t mb = r->B > 1024 ? r->B : 1024;
    return mb < r->test.n ? mb : r->test.n;
}

/* A CPU device's buffers are this process's memory: a limit on its address space (ulimit -v) binds them
** too (PoCL aborts when it cannot map a buffer it has promised); total bytes must fit what is left of it. */
static clgrad_status fits_address_space_(clgrad_ctx *ctx, const clgrad_device_info *d, unsigned long long total)
{
    struct rlimit rl;
    FILE *statm = strcmp(d->type, "cpu") == 0 && getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                      ? fopen("/proc/self/statm", "r")
                      : NULL;
    if (statm) {
        unsigned long long pages = 0;
        long psz = sysconf(_SC_PAGESIZE);
        int got = fscanf(statm, "%llu", &pages) == 1 && psz > 0;
        fclose(statm);
        unsigned long long used = pages * (unsigned long long)psz;
        unsigned long long room = (unsigned long long)rl.rlim_cur > used ? (unsigned long long)rl.rlim_cur - used : 0;
        if (got && total > room)
            return clgrad_fail(ctx, CLGRAD_E_NOMEM,
                               "the run's device buffers need %llu bytes (%.1f MiB) in total, more than the %.1f MiB "
                               "this process may still map (its address space is limited to %.1f MiB: ulimit -v) "
                               "on the CPU device %s",
                               total, total / 1048576.0, room / 1048576.0, (double)rl.rlim_cur / 1048576.0, d->name);
    }
    return CLGRAD_OK;
}

/* The device memory the run will allocate, from the sizes alone: each buffer
** must fit the device's largest allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE) and
** all of them together its memory (CL_DEVICE_GLOBAL_MEM_SIZE); a run that
** cannot fit is refused here, before anything is allocated. */
static clgrad_status plan_memory_(run_ *r, const clgrad_model_spec *ms)
{
    clgrad_ctx *ctx = r->ctx;
    const clgrad_device_info *d = clgrad_device(ctx);
    clgrad_model_sizes z;
    clgrad_status st = clgrad_model_sizes_of(ctx, ms, &z);
    if (st != CLGRAD_OK) return st;
    const unsigned long long f = sizeof(float);
    size_t nidx = r->train.n > r->test.n ? r->train.n : r->test.n;
    size_t ntb = r->test.n ? (r->test.n + ms->max_batch - 1) / ms->max_batch : 1;
    size_t nunits = r->kinds.clip == CLGRAD_CLIP_AGC ? z.rows : 0;
    clgrad_metrics_layout L;
    clgrad_metrics_layout_init(&L, (size_t)z.ntensors, z.metrics, nunits);
    if (clgrad_optim_is_layerwise(r->optim.kind)) clgrad_metrics_layout_add_layerwise(&L, (size_t)z.ntensors);
    size_t nhidden = ms->kind == CLGRAD_MODEL_MLP ? (size_t)ms->nhidden : (size_t)(ms->layers > 0 ? ms->layers : 1);
    size_t nhist = r->cfg->metrics.histogram_every > 0 ? 2 * (size_t)z.ntensors + nhidden : 0;
    clgrad_metrics_layout_add_hist(&L, nhist);
    /* histogram scratch: NBINS words per chunk of the parameters or of the forward activations */
    unsigned long long hwords = nhist ? CLGRAD_HIST_NBINS * ((z.params > z.fwd ? z.params : z.fwd) / CLGRAD_REDUCE_CHUNK +
                                                             (size_t)z.ntensors + nhidden + 1)
                                      : 0;
    enum { MODEL, OPTIM, DATA, SCRATCH };
    const int sharp = r->cfg->metrics.sharpness_every > 0;
    struct { const char *what; unsigned long long bytes; int part; } b[] = {
        {"parameters", f * z.params, MODEL},
        {"gradients", f * z.params, MODEL},
        {"forward activations", f * z.fwd, MODEL},
        {"backward activations", f * z.bwd, MODEL},
        {"logits", f * z.logits, MODEL},
        {"segment tables", z.table_bytes + (nunits ? (3 * (unsigned long long)nunits + 1) * 8 : 0), MODEL},
        {"optimizer state", f * clgrad_optim_state_floats(&r->optim) * z.params, OPTIM},
        {"previous parameters", f * z.params, OPTIM},
        {"training features", f * r->train.n * r->row, DATA},
        {"training targets", f * r->train.n, DATA},
        {"test features", f * r->test.n * r->row, DATA},
        {"test targets", f * r->test.n, DATA},
        {"batch indices", sizeof(uint32_t) * (unsigned long long)nidx, SCRATCH},
        {"batch features", f * ms->max_batch * r->row, SCRATCH},
        {"batch targets", f * ms->max_batch, SCRATCH},
        {"logit gradients", f * ms->max_batch * r->K, SCRATCH},
        {"metrics block", f * L.size, SCRATCH},
        {"histogram scratch", 4 * hwords, SCRATCH},
        {"ZClip state", r->kinds.clip == CLGRAD_CLIP_ZSCORE ? f * (CLGRAD_ZCLIP_STATE + (unsigned long long)r->cfg->clip.warmup_steps) : 0, SCRATCH},
        {"evaluation results", f * 2 * ntb, SCRATCH},
        /* the sharpness estimate: clgrad_sharp_floats(nparams) floats in buffers of at most nparams each */
        {"sharpness vector", sharp ? f * z.params : 0, SCRATCH},
    };
    unsigned long long total = sharp ? f * (clgrad_sharp_floats(z.params) - z.params) : 0, part[4] = {0, 0, 0, 0};
    part[SCRATCH] = total;
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        if (b[i].bytes > d->max_alloc)
            return clgrad_fail(ctx, CLGRAD_E_UNSUPPORTED,
                               "buffer %s needs %llu bytes (%.1f MiB), more than the device's largest allocation "
                               "(%.1f MiB) on %s",
                               b[i].what, b[i].bytes, b[i].bytes / 1048576.0, d->max_alloc / 1048576.0, d->name);
        total += b[i].bytes, part[b[i].part] += b[i].bytes;
    }
    if (total > d->global_mem)
        return clgrad_fail(ctx, CLGRAD_E_UNSUPPORTED,
                           "the run's device buffers need %llu bytes (%.1f MiB) in total (model %.1f MiB, optimizer "
                           "%.1f MiB, data %.1f MiB, batch and metrics %.1f MiB), more than the device's memory "
                           "(%llu bytes, %.1f MiB) on %s",
                           total, total / 1048576.0, part[MODEL] / 1048576.0, part[OPTIM] / 1048576.0,
                           part[DATA] / 1048576.0, part[SCRATCH] / 1048576.0, d->global_mem, d->global_mem / 1048576.0,
                           d->name);
    return fits_address_space_(ctx, d, total);
}

/* ---- histograms ([metrics] histogram_every; include/clgrad/hist.h) ----
** Segments, in the metrics block at L.hist, CLGRAD_HIST_NBINS uint32 counts
** each: the parameters (one per model tensor, tensor order), their gradients
** (the same), the hidden layers' outputs (clgrad_model_hidden_segs). */
static size_t hist_segs_(const run_ *r)
{
    if (r->cfg->metrics.histogram_every <= 0) return 0;
    return 2 * (size_t)clgrad_model_ntensors(r->m) + (size_t)clgrad_model_hidden_layers(r->m);
}

/* The scratch of clgrad_hist_counts, for the largest table it will see (the
** hidden outputs at the training batch size: a shorter last batch has no
** more chunks). */
static clgrad_status hist_setup_(run_ *r)
{
    const clgrad_segs *hs;
    cl_mem fwd;
    clgrad_status st = clgrad_model_hidden_segs(r->ctx, r->m, r->B, &hs, &fwd);
    if (st != CLGRAD_OK) return st;
    size_t a = clgrad_hist_scratch_words(clgrad_model_param_segs(r->m)), b = clgrad_hist_scratch_words(hs);
    return mem_(r, 4 * (a > b ? a : b), "histogram scratch", &r->hscratch);
}

/* Whether the logged step gets histograms: every histogram_every-th logged
** multiple of log_every, and the last step. */
static int hist_step_(const run_ *r, long step, long log_every)
{
    long n = r->cfg->metrics.histogram_every;
    if (n <= 0 || !r->fhist) return 0;
    return step == r->steps || (step % log_every == 0 && (step / log_every) % n == 0);
}

/* histograms.csv's header: step,layer,tensor,param,n,zero,lt_2^-40,2^-40,...,2^7,ge_2^8,nonfinite */
static void hist_header_(char *h, size_t n)
{
    size_t len = (size_t)snprintf(h, n, "step,layer,tensor,param,n");
    for (int b = 0; b < CLGRAD_HIST_NBINS && len < n; b++) {
        char nm[32];
        clgrad_hist_bin_name(b, nm, sizeof nm);
        len += (size_t)snprintf(h + len, n - len, ",%s", nm);
    }
    if (len < n) snprintf(h + len, n - len, "\n");
}

/* One row; the counts formatted by hand (a logged step writes hundreds of rows of 57 fields). */
static void hist_row_(run_ *r, long step, int layer, const char *tensor, const char *param, size_t seg)
{
    uint32_t c[CLGRAD_HIST_NBINS];
    memcpy(c, r->mhost + r->plan.L.hist + CLGRAD_HIST_NBINS * seg, sizeof c);
    unsigned long long n = 0;
    for (int b = 0; b < CLGRAD_HIST_NBINS; b++) n += c[b];
    fprintf(r->fhist, "%ld,%s,%s,%s,%llu", step, clgrad_model_layer_name(r->m, layer), tensor, param, n);
    char buf[CLGRAD_HIST_NBINS * 11 + 2], *e = buf + sizeof buf - 1;
    *e = 0;
    *--e = '\n';
    for (int b = CLGRAD_HIST_NBINS; b-- > 0;) {
        uint32_t v = c[b];
        do *--e = (char)('0' + v % 10), v /= 10;
        while (v);
        *--e = ',';
    }
    fputs(e, r->fhist);
}

/* The histogram rows of a logged step (from the metrics block read back):
** per layer, its tensors' weight rows, their grad rows, then its act row. */
static int write_hist_rows_(run_ *r, long step)
{
    int nt = clgrad_model_ntensors(r->m), nl = clgrad_model_nlayers(r->m), nh = clgrad_model_hidden_layers(r->m);
    for (int l = 0; l < nl; l++) {
        for (int k = 0; k < 2; k++)
            for (int t = 0; t < nt; t++) {
                const clgrad_tensor *tt = clgrad_model_tensor(r->m, t);
                if (tt->layer == l) hist_row_(r, step, l, k ? "grad" : "weight", tt->name, (size_t)(k * nt + t));
            }
        if (l < nh) hist_row_(r, step, l, "act", "out", (size_t)(2 * nt + l));
    }
    return clgrad_csv_commit(&r->chist);
}

/* [clip] kind = zscore: ZClip's settings and its zeroed state buffer on the device. */
static clgrad_status zclip_setup_(run_ *r)
{
    const clgrad_clip_section *c = &r->cfg->clip;
    if (r->kinds.clip != CLGRAD_CLIP_ZSCORE) return CLGRAD_OK;
    clgrad_status st = CLGRAD_OK;
    clgrad_zclip_params *z = &r->zclip;
    z->alpha = c->alpha, z->z_thresh = c->z_thresh, z->warmup_steps = c->warmup_steps;
    z->option_mean = strcmp(c->clip_option, "mean") == 0;
    z->clip_factor = c->clip_factor, z->max_norm = c->max_norm, z->skip_update_on_spike = c->skip_update_on_spike;
    size_t n = clgrad_zclip_state_floats(z);
    CLGRAD_TRY(clgrad_buf_new(r->ctx, n, "ZClip state", &r->zstate));
    CLGRAD_TRY(clgrad_buf_fill(r->ctx, r->zstate, 0, n, 0.0f));
fail:
    return st;
}

/* The spike detectors ([metrics] spike_*): loss, grad_norm, one per layer's update_norm. */
static clgrad_status spikes_setup_(run_ *r)
{
    const clgrad_metrics_section *m = &r->cfg->metrics;
    r->nspikes = 2 + clgrad_model_nlayers(r->m);
    r->spikes = calloc((size_t)r->nspikes, sizeof *r->spikes);
    if (!r->spikes) return clgrad_fail(r->ctx, CLGRAD_E_NOMEM, "out of memory");
    for (int i = 0; i < r->nspikes; i++) clgrad_spike_init(&r->spikes[i], m->spike_alpha, m->spike_z, m->spike_warmup);
    return CLGRAD_OK;
}

/* The step's view of the run: its buffers (owned here) and settings. */
static void plan_step_(run_ *r)
{
    const clgrad_config *c = r->cfg;
    clgrad_step_plan *p = &r->plan;
    p->m = r->m, p->loss = r->loss, p->optim = &r->optim;
    p->row = r->row, p->K = r->K;
    p->x = r->xtrain, p->y = r->ytrain, p->idx = r->idx, p->xb = r->xb, p->yb = r->yb, p->dlogits = r->dlogits;
    p->state = r->state, p->prev = r->prev, p->mbuf = r->mbuf;
    p->seed = c->run.seed;
    p->input_std = (float)c->noise.input_std;
    p->l1 = (float)c->optim.l1;
    p->clip = r->kinds.clip;
    p->max_norm = (float)c->clip.max_norm, p->clip_value = (float)c->clip.value, p->agc_clipping = (float)c->clip.clipping;
    p->norm_type = r->norm_type, p->policy = r->policy, p->units = r->units;
    p->loss_limit = (float)c->diverge.loss_limit, p->grad_norm_limit = (float)c->diverge.grad_norm_limit;
    p->hscratch = r->hscratch;
    p->zclip = &r->zclip, p->zstate = r->zstate;
    p->halt_on_divergence = r->kinds.diverge_stop;
    /* batch norm's running estimates halt with the updates (the count of batches: consume_) */
    clgrad_model_set_halt(r->m, r->kinds.diverge_stop ? r->mbuf : NULL, p->L.rec + CLGRAD_REC_HALT);
}

/* The data sets, loaded on the host, and the sizes they give: T, row, K, B, batches per epoch, steps. */
static clgrad_status load_data_(run_ *r)
{
    const clgrad_config *c = r->cfg;
    clgrad_ctx *ctx = r->ctx;
    char why[2048];
    if (clgrad_data_load(&c->data, c->run.seed, &r->train, &r->test, why, sizeof why) != 0)
        return clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
    if (r->train.n == 0) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "the training set is empty");
    r->T = r->train.seq_len ? r->train.seq_len : 1;
    r->row = r->T * r->train.features;
    r->K = r->train.task == CLGRAD_TASK_MULTICLASS ? r->train.classes : 1;
    r->B = c->data.batch_size <= 0 || (size_t)c->data.batch_size > r->train.n ? r->train.n : (size_t)c->data.batch_size;
    r->nbatch_per_epoch = (r->train.n + r->B - 1) / r->B;
    r->steps = c->run.steps > 0 ? c->run.steps : c->run.epochs * (long)r->nbatch_per_epoch;
    return CLGRAD_OK;
}

/* The config's choices as enums, and the loss: the config's, else what the data's task calls for. */
static clgrad_status choose_loss_(run_ *r)
{
    const clgrad_config *c = r->cfg;
    clgrad_ctx *ctx = r->ctx;
    char why[2048];
    clgrad_config_kinds *k = &r->kinds;
    if (clgrad_config_kinds_of(c, k, why, sizeof why) != 0) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "%s", why);
    if (k->loss >= 0) r->loss = (clgrad_loss)k->loss;
    else r->loss = r->train.task == CLGRAD_TASK_MULTICLASS ? CLGRAD_LOSS_CE
                 : r->train.task == CLGRAD_TASK_BINARY   ? CLGRAD_LOSS_BCE
                                                          : CLGRAD_LOSS_MSE;
    r->res->has_accuracy = r->loss != CLGRAD_LOSS_MSE;
    if (r->loss == CLGRAD_LOSS_CE && r->train.task != CLGRAD_TASK_MULTICLASS)
        return clgrad_fail(ctx, CLGRAD_E_CONFIG, "%s: [loss] kind = ce needs class labels (a multiclass data set)",
                           c->path);
    return CLGRAD_OK;
}

/* The model's spec from [model] and the data's sizes (its activations in acts, the caller's); batch norm on a
** batch of one sample is refused. */
static clgrad_status model_spec_(run_ *r, clgrad_act *acts, clgrad_model_spec *out)
{
    const clgrad_config *c = r->cfg;
    const clgrad_config_kinds *k = &r->kinds;
    for (int i = 0; i < c->model.nhidden; i++) acts[i] = k->act[i];
    clgrad_model_spec ms = {0};
    ms.kind = k->model;
    ms.layers = (int)c->model.layers;
    ms.forget_bias = c->model.forget_bias;
    ms.in = r->train.features;
    ms.seq_len = r->T;
    ms.out = r->K;
    ms.nhidden = c->model.nhidden;
    ms.hidden = c->model.hidden;
    ms.acts = acts;
    ms.act_param = (float)(isnan(c->model.activation_param) ? clgrad_act_default_param(acts[0]) : c->model.activation_param);
    ms.bias = c->model.bias;
    if (ms.kind == CLGRAD_MODEL_MLP) {
        ms.norm = k->norm;
        ms.residual = k->residual;
        ms.final_norm = c->model.final_norm;
        ms.norm_eps = c->model.norm_eps;
        /* batch norm cannot train on one sample (PyTorch raises): refuse before any step */
        if (ms.norm == CLGRAD_NL_BATCH && (r->B < 2 || r->train.n % r->B == 1))
            return clgrad_fail(r->ctx, CLGRAD_E_CONFIG,
                               "%s: [model] norm = batchnorm cannot train on a batch of 1 sample (as PyTorch's "
                               "BatchNorm1d), but [data] batch_size = %zu with %zu training samples leaves one in %s; "
                               "choose another batch_size",
                               c->path, r->B, r->train.n, r->B < 2 ? "every batch" : "the last batch of every epoch");
    }
    ms.max_batch = r->B > eval_batch_(r) ? r->B : eval_batch_(r);
    *out = ms;
    return CLGRAD_OK;
}

/* The optimizer's settings from [optim], checked. */
static clgrad_status optim_settings_(run_ *r)
{
    const clgrad_config *c = r->cfg;
    r->optim = clgrad_optim_defaults(r->kinds.optim);
    r->optim.lr = c->optim.lr;
    r->optim.momentum = c->optim.momentum;
    r->optim.dampening = c->optim.dampening;
    r->optim.weight_decay = c->optim.weight_decay;
    r->optim.nesterov = c->optim.nesterov;
    r->optim.alpha = c->optim.alpha;
    r->optim.centered = c->optim.centered;
    r->optim.eps = c->optim.eps;
    r->optim.beta1 = c->optim.beta1;
    r->optim.beta2 = c->optim.beta2;
    r->optim.amsgrad = c->optim.amsgrad;
    r->optim.trust_coefficient = r->optim.kind == CLGRAD_OPTIM_LARS ? c->optim.trust_coefficient : 1.0;
    r->optim.trust_clip = c->optim.trust_clip;
    r->optim.exclude_bias = strcmp(c->optim.exclude, "none") != 0;
    r->optim.exclude_norm = strcmp(c->optim.exclude, "bias_and_norm") == 0;
    const char *bad = clgrad_optim_invalid(&r->optim);
    if (bad) return clgrad_fail(r->ctx, CLGRAD_E_CONFIG, "%s: [optim] %s", c->path, bad);
    return CLGRAD_OK;
}

/* The model's first weights: [model] init (or PyTorch's Linear default), then --init-from's tensors if given. */
static clgrad_status init_model_(run_ *r, const clgrad_act *acts, const clgrad_model_spec *ms)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_config *c = r->cfg;
    const clgrad_config_kinds *k = &r->kinds;
    clgrad_init_cfg w = {0}, b = {0};
    if (k->init == CLGRAD_INIT_LINEAR_DEFAULT) {
        w = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
        b = w;
    } else {
        w = clgrad_init_default(k->init);
        b = clgrad_init_default(CLGRAD_INIT_ZEROS);
        double gain = isnan(c->model.init_gain) ? clgrad_act_gain(acts[0], ms->act_param) : c->model.init_gain;
        if (c->model.nhidden == 0 && isnan(c->model.init_gain)) gain = 1.0;
        w.gain = gain;
        w.std = c->model.init_std;
        w.mode = k->init_mode;
    }
    CLGRAD_TRY(clgrad_model_init(r->ctx, r->m, &w, &b, c->run.seed));
    if (r->opts->init_from) CLGRAD_TRY(clgrad_load_tensors(r->ctx, r->m, r->opts->init_from));
fail:
    return st;
}

/* [clip]'s settings the step needs: the non-finite policy, the norm type and AGC's units (a row each). */
static clgrad_status clip_settings_(run_ *r)
{
    clgrad_status st = CLGRAD_OK;
    r->policy = r->kinds.nonfinite;
    r->norm_type = isinf(r->cfg->clip.norm_type) ? CLGRAD_NORM_INF : CLGRAD_NORM_L2;
    if (r->kinds.clip == CLGRAD_CLIP_AGC) {
        int nt = clgrad_model_ntensors(r->m);
        size_t off[CLGRAD_MODEL_MAX_TENSORS], rows[CLGRAD_MODEL_MAX_TENSORS], cols[CLGRAD_MODEL_MAX_TENSORS];
        for (int i = 0; i < nt; i++) {
            const clgrad_tensor *t = clgrad_model_tensor(r->m, i);
            off[i] = t->off, rows[i] = t->rows, cols[i] = t->cols;
        }
        CLGRAD_TRY(clgrad_segs_new_rows(r->ctx, (size_t)nt, off, rows, cols, &r->units));
    }
fail:
    return st;
}

/* The device buffers: data once, then fixed-size scratch (no allocation per step); the host copies and the
** step's plan. */
static clgrad_status device_buffers_(run_ *r, const clgrad_model_spec *ms)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_config *c = r->cfg;
    clgrad_ctx *ctx = r->ctx;
    size_t np = clgrad_model_nparams(r->m);
    CLGRAD_TRY(upload_set_(r, &r->train, &r->xtrain, &r->ytrain, "training"));
    if (r->test.n) CLGRAD_TRY(upload_set_(r, &r->test, &r->xtest, &r->ytest, "test"));
    size_t nidx = r->train.n > r->test.n ? r->train.n : r->test.n;
    CLGRAD_TRY(mem_(r, nidx * sizeof(uint32_t), "batch indices", &r->idx));
    CLGRAD_TRY(clgrad_buf_new(ctx, ms->max_batch * r->row, "batch features", &r->xb));
    CLGRAD_TRY(clgrad_buf_new(ctx, ms->max_batch, "batch targets", &r->yb));
    CLGRAD_TRY(clgrad_buf_new(ctx, ms->max_batch * r->K, "logit gradients", &r->dlogits));
    size_t ns = clgrad_optim_state_floats(&r->optim) * np;
    CLGRAD_TRY(clgrad_buf_new(ctx, ns, "optimizer state", &r->state));
    CLGRAD_TRY(clgrad_buf_fill(ctx, r->state, 0, ns, 0.0f));
    CLGRAD_TRY(clgrad_buf_new(ctx, np, "previous parameters", &r->prev));
    clgrad_metrics_layout_init(&r->plan.L, (size_t)clgrad_model_ntensors(r->m), clgrad_model_metrics_size(r->m),
                               r->units ? clgrad_segs_count(r->units) : 0);
    if (clgrad_optim_is_layerwise(r->optim.kind))
        clgrad_metrics_layout_add_layerwise(&r->plan.L, (size_t)clgrad_model_ntensors(r->m));
    clgrad_metrics_layout_add_hist(&r->plan.L, hist_segs_(r));
    if (hist_segs_(r)) CLGRAD_TRY(hist_setup_(r));
    CLGRAD_TRY(clgrad_buf_new(ctx, r->plan.L.size, "metrics block", &r->mbuf));
    CLGRAD_TRY(clgrad_buf_fill(ctx, r->mbuf, 0, r->plan.L.size, 0.0f));
    size_t ntb = r->test.n ? (r->test.n + ms->max_batch - 1) / ms->max_batch : 1;
    CLGRAD_TRY(clgrad_buf_new(ctx, 2 * ntb, "evaluation results", &r->evalbuf));
    CLGRAD_TRY(zclip_setup_(r));
    CLGRAD_TRY(spikes_setup_(r));
    if (c->metrics.sharpness_every > 0) {
        clgrad_sharp_cfg sc = {(int)c->metrics.sharpness_iters, c->metrics.sharpness_tol, c->metrics.sharpness_eps,
                               c->run.seed};
        CLGRAD_TRY(clgrad_sharp_new(ctx, np, &sc, &r->sharp));
        r->sharp_pre = clgrad_sharp_has_precond(&r->optim);
    }
    r->mhost = calloc(r->plan.L.size, sizeof *r->mhost);
    r->idx_host = malloc(nidx * sizeof *r->idx_host);
    r->order = malloc(nidx * sizeof *r->order);
    if (!r->mhost || !r->idx_host || !r->order) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    r->ring = r->opts->metrics_lag > 0 ? r->opts->metrics_lag : 0;
    if (r->ring) {
        r->mring = malloc((size_t)r->ring * r->plan.L.size * sizeof *r->mring);
        r->pend = calloc((size_t)r->ring, sizeof *r->pend);
        if (!r->mring || !r->pend) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    }
    plan_step_(r);
    if (clgrad_optim_is_layerwise(r->optim.kind)) CLGRAD_TRY(clgrad_step_layerwise_init(ctx, &r->plan));
fail:
    return st;
}

/* The run's set-up: data, loss, model, optimizer, the memory check, initialisation, clipping, device buffers. */
static clgrad_status setup_(run_ *r)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_act acts[CLGRAD_MAX_LAYERS];
    clgrad_model_spec ms;
    CLGRAD_TRY(load_data_(r));
    CLGRAD_TRY(choose_loss_(r));
    CLGRAD_TRY(model_spec_(r, acts, &ms));
    CLGRAD_TRY(optim_settings_(r));
    /* every device buffer of the run, counted before the first is allocated */
    CLGRAD_TRY(plan_memory_(r, &ms));
    CLGRAD_TRY(clgrad_model_create(r->ctx, &ms, &r->m));
    CLGRAD_TRY(init_model_(r, acts, &ms));
    CLGRAD_TRY(clip_settings_(r));
    CLGRAD_TRY(device_buffers_(r, &ms));
fail:
    return st;
}

static void teardown_(run_ *r)
{
    if (r->idx_ev) { /* idx_host is freed below: the write must be done */
        clWaitForEvents(1, &r->idx_ev);
        clReleaseEvent(r->idx_ev);
        r->idx_ev = NULL;
    }
    for (; r->rn > 0; r->rn--, r->rhead = (r->rhead + 1) % r->ring) { /* mring is freed below */
        clWaitForEvents(1, &r->pend[r->rhead].ev);
        clReleaseEvent(r->pend[r->rhead].ev);
    }
    free(r->pend), free(r->mring);
    r->pend = NULL, r->mring = NULL;
    cl_mem *bufs[] = {&r->xtrain, &r->ytrain, &r->xtest, &r->ytest, &r->idx, &r->xb, &r->yb,
                      &r->dlogits, &r->state, &r->prev, &r->mbuf, &r->evalbuf, &r->hscratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clgrad_buf_free(bufs[i]);
    clgrad_segs_free(&r->units);
    clgrad_buf_free(&r->zstate);
    free(r->spikes);
    r->spikes = NULL;
    clgrad_sharp_free(&r->sharp);
    clgrad_model_free(r->m);
    r->m = NULL;
    clgrad_dataset_free(&r->train);
    clgrad_dataset_free(&r->test);
    free(r->mhost), free(r->idx_host), free(r->order);
    free(r->ivl_ms), free(r->ivl_n);
    r->ivl_ms = NULL, r->ivl_n = NULL, r->nivl = r->capivl = 0;
    r->mhost = NULL, r->idx_host = NULL, r->order = NULL;
    clgrad_csv_close(&r->cmetrics);
    clgrad_csv_close(&r->clayers);
    clgrad_csv_close(&r->ctime);
    clgrad_csv_close(&r->chist);
    clgrad_csv_close(&r->cevents);
    r->fmetrics = r->flayers = r->ftime = r->fhist = r->fevents = NULL;
}

/* ---- one step ---- */

static double lr_at_(const clgrad_optim_section *o, clgrad_schedule sched, long step, long total)
{
    double lr = o->lr;
    if (sched == CLGRAD_SCHEDULE_STEP && o->step_size > 0) return lr * pow(o->gamma, (double)((step - 1) / o->step_size));
    if (sched == CLGRAD_SCHEDULE_WARMUP && o->warmup_steps > 0)
        return step <= o->warmup_steps ? lr * (double)step / (double)o->warmup_steps : lr;
    if (sched == CLGRAD_SCHEDULE_COSINE) {
        long w = o->warmup_steps > 0 ? o->warmup_steps : 0;
        if (step <= w) return lr * (double)step / (double)w;
        double span = (double)(total - w), pos = (double)(step - w - 1);
        double pi = 3.14159265358979323846;
        return o->min_lr + (lr - o->min_lr) * 0.5 * (1.0 + cos(pi * (span > 1 ? pos / (span - 1) : 1.0)));
    }
    return lr;
}

/* idx_host may be written: the last upload from it is done (by the time of the next epoch it
** normally is: this waits for nothing else in the queue). */
static clgrad_status idx_host_free_(run_ *r)
{
    clgrad_status st = CLGRAD_OK;
    if (!r->idx_ev) return CLGRAD_OK;
    cl_event ev = r->idx_ev;
    r->idx_ev = NULL;
    CLGRAD_CL_TRY(r->ctx, clWaitForEvents(1, &ev));
fail:
    clReleaseEvent(ev);
    return st;
}

/* The epoch's order to the device, without waiting for the queue (no synchronisation between log steps). */
static clgrad_status upload_order_(run_ *r, long epoch)
{
    size_t n = r->train.n;
    int shuffle = r->cfg->data.shuffle && r->B < n; /* a full batch is the same set in any order */
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(idx_host_free_(r));
    clgrad_data_epoch_order(n, r->cfg->run.seed, epoch, shuffle, r->order);
    for (size_t i = 0; i < n; i++) r->idx_host[i] = (uint32_t)r->order[i];
    CLGRAD_CL_TRY(r->ctx, clEnqueueWriteBuffer(clgrad_queue(r->ctx), r->idx, CL_FALSE, 0, n * sizeof(uint32_t),
                                               r->idx_host, 0, NULL, &r->idx_ev));
fail:
    return st;
}

/* Evaluate on the test set: mean loss and accuracy (NaN when not a classification). */
static clgrad_status evaluate_(run_ *r, double *loss, double *acc)
{
    clgrad_status st = CLGRAD_OK;
    *loss = NAN, *acc = NAN;
    if (r->test.n == 0) return CLGRAD_OK;
    size_t n = r->test.n, mb = eval_batch_(r), nb;
    CLGRAD_TRY(idx_host_free_(r));
    for (size_t i = 0; i < n; i++) r->idx_host[i] = (uint32_t)i;
    CLGRAD_CL_TRY(r->ctx, clEnqueueWriteBuffer(clgrad_queue(r->ctx), r->idx, CL_TRUE, 0, n * sizeof(uint32_t), r->idx_host,
                                               0, NULL, NULL));
    nb = (n + mb - 1) / mb;
    clgrad_model_set_training(r->m, 0); /* batch norm: the running estimates (nn.Module.eval) */
    for (size_t b = 0; b < nb; b++) {
        size_t start = b * mb, cnt = n - start < mb ? n - start : mb;
        CLGRAD_TRY(clgrad_step_gather(r->ctx, &r->plan, r->xtest, r->ytest, start, cnt));
        CLGRAD_TRY(clgrad_model_forward(r->ctx, r->m, r->xb, 0, cnt));
        cl_mem lg = clgrad_model_logits(r->m);
        CLGRAD_TRY(clgrad_loss_value(r->ctx, r->loss, lg, 0, r->yb, 0, cnt, r->K, r->evalbuf, 2 * b));
        if (r->loss != CLGRAD_LOSS_MSE)
            CLGRAD_TRY(clgrad_loss_accuracy(r->ctx, r->loss, lg, 0, r->yb, 0, cnt, r->K, r->evalbuf, 2 * b + 1));
    }
    clgrad_model_set_training(r->m, 1);
    float *res = malloc(2 * nb * sizeof *res);
    if (!res) return clgrad_fail(r->ctx, CLGRAD_E_NOMEM, "out of memory");
    st = clgrad_buf_read(r->ctx, r->evalbuf, 0, 2 * nb, res);
    if (st == CLGRAD_OK) {
        double L = 0, A = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t cnt = n - b * mb < mb ? n - b * mb : mb;
            L += (double)res[2 * b] * (double)cnt;
            A += res[2 * b + 1];
        }
        *loss = L / (double)n;
        if (r->loss != CLGRAD_LOSS_MSE) *acc = A / (double)(r->loss == CLGRAD_LOSS_BCE ? n * r->K : n);
    }
    free(res);
    /* the training order lives in the same index buffer: restore it */
    return st;
fail:
    clgrad_model_set_training(r->m, 1);
    return st;
}

/* ---- output ---- */

static double norm_of_(const float *stats, const int *idx, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        double v = stats[CLGRAD_RS_SIZE * idx[i] + CLGRAD_RS_NORM2];
        s += v * v;
    }
    return sqrt(s);
}

static void csv_num_(FILE *f, double v)
{
    if (isnan(v)) fputs("nan", f);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    else fprintf(f, "%.9g", v);
}

/* metrics.csv's row of a logged step (see write_rows_). */
static int write_metrics_row_(run_ *r, long step, long epoch, size_t B, double lr, double ms, int evaluated, double tl,
                              double ta)
{
    const float *M = r->mhost;
    const clgrad_metrics_layout *L = &r->plan.L;
    int nt = clgrad_model_ntensors(r->m);
    double gnorm = M[L->gs + CLGRAD_GS_NORM], coef = M[L->gs + CLGRAD_GS_CLIPCOEF];
    fprintf(r->fmetrics, "%ld,%ld,", step, epoch);
    csv_num_(r->fmetrics, M[L->loss]);
    fputc(',', r->fmetrics);
    if (r->loss == CLGRAD_LOSS_MSE) fputs("", r->fmetrics);
    else csv_num_(r->fmetrics, M[L->acc] / (double)(r->loss == CLGRAD_LOSS_BCE ? B * r->K : B));
    fprintf(r->fmetrics, ",%.9g,", lr);
    csv_num_(r->fmetrics, gnorm);
    fputc(',', r->fmetrics);
    csv_num_(r->fmetrics, coef);
    fputc(',', r->fmetrics);
    csv_num_(r->fmetrics, gnorm * coef);
    fputc(',', r->fmetrics);
    csv_num_(r->fmetrics, M[L->pstats + CLGRAD_RS_SIZE * (size_t)nt + CLGRAD_RS_NORM2]);
    fprintf(r->fmetrics, ",%.0f,%.6g,", M[L->gstats + CLGRAD_RS_SIZE * (size_t)nt + CLGRAD_RS_NONFINITE], ms);
    if (evaluated) csv_num_(r->fmetrics, tl);
    fputc(',', r->fmetrics);
    if (evaluated && r->loss != CLGRAD_LOSS_MSE) csv_num_(r->fmetrics, ta);
    fputc(',', r->fmetrics);
    csv_num_(r->fmetrics, (float)r->noise_std);
    if (r->sharp) { /* measured steps only; an empty field elsewhere (as test_loss) */
        fputc(',', r->fmetrics);
        if (r->sharp_have) csv_num_(r->fmetrics, r->sharp_val);
        fputc(',', r->fmetrics);
        if (r->sharp_have) csv_num_(r->fmetrics, clgrad_sharp_limit(lr));
        if (r->sharp_pre) {
            fputc(',', r->fmetrics);
            if (r->sharp_phave) csv_num_(r->fmetrics, r->sharp_pval);
            fputc(',', r->fmetrics);
            if (r->sharp_phave) csv_num_(r->fmetrics, clgrad_sharp_precond_limit(&r->optim, lr));
        }
    }
    fputc('\n', r->fmetrics);
    return clgrad_csv_commit(&r->cmetrics) != 0 ? -1 : 0;
}

/* layers.csv's row of layer l at a logged step. */
static void write_layer_row_(run_ *r, long step, int l)
{
    const float *M = r->mhost;
    const clgrad_metrics_layout *L = &r->plan.L;
    int nt = clgrad_model_ntensors(r->m);
    int w[8], b[8], nw = 0, nb = 0;
    for (int t = 0; t < nt; t++) {
        const clgrad_tensor *tt = clgrad_model_tensor(r->m, t);
        if (tt->layer != l) continue;
        if (tt->is_bias) b[nb++] = t;
        else w[nw++] = t;
    }
    int all[16], na = 0;
    for (int i = 0; i < nw; i++) all[na++] = w[i];
    for (int i = 0; i < nb; i++) all[na++] = b[i];
    double pn = norm_of_(M + L->pstats, all, na), dn = norm_of_(M + L->dstats, all, na);
    const float *act = M + L->model + clgrad_model_act_offset(r->m) + 3 * (size_t)l;
    fprintf(r->flayers, "%ld,%s,", step, clgrad_model_layer_name(r->m, l));
    csv_num_(r->flayers, norm_of_(M + L->pstats, w, nw));
    fputc(',', r->flayers);
    csv_num_(r->flayers, norm_of_(M + L->gstats, w, nw));
    fputc(',', r->flayers);
    if (nb) csv_num_(r->flayers, norm_of_(M + L->gstats, b, nb));
    fputc(',', r->flayers);
    csv_num_(r->flayers, M[L->model + CLGRAD_RS_SIZE * (size_t)clgrad_model_out_grad_seg(r->m, l) + CLGRAD_RS_NORM2]);
    fprintf(r->flayers, ",%.6g,%.6g,%.6g,", act[0], act[1], act[2]);
    csv_num_(r->flayers, pn > 0 ? dn / pn : NAN);
    /* trust_ratio, trust_ratio_hh: LARS/LAMB's ratio of the layer's first and second weight tensors
    ** (weight or weight_ih; weight_hh); empty for the other optimizers and where there is no such tensor */
    for (int i = 0; i < 2; i++) {
        fputc(',', r->flayers);
        if (L->lw && i < nw) csv_num_(r->flayers, M[L->lw + (size_t)nt + (size_t)w[i]]);
    }
    fputc(',', r->flayers);
    int is = clgrad_model_in_grad_seg(r->m, l);
    if (is >= 0) csv_num_(r->flayers, M[L->model + CLGRAD_RS_SIZE * (size_t)is + CLGRAD_RS_NORM2]);
    fputc(',', r->flayers);
    csv_num_(r->flayers, dn);
    fputc('\n', r->flayers);
}

/* timesteps.csv's rows of a logged step (a recurrent model's): the gradient norm at each time step, last first. */
static int write_timestep_rows_(run_ *r, long step)
{
    const float *M = r->mhost;
    const clgrad_metrics_layout *L = &r->plan.L;
    for (size_t t = r->T; t >= 1; t--) {
        fprintf(r->ftime, "%ld,%zu,", step, t);
        csv_num_(r->ftime, clgrad_model_timestep_norm(r->m, M + L->model, t, 0));
        if (clgrad_model_has_cell(r->m)) {
            fputc(',', r->ftime);
            csv_num_(r->ftime, clgrad_model_timestep_norm(r->m, M + L->model, t, 1));
        }
        fputc('\n', r->ftime);
    }
    if (clgrad_csv_commit(&r->ctime) != 0) return -1;
    return 0;
}

/* One metrics row, the per-layer rows and the RNN time-step rows of a logged
** step; B is the batch actually used (the last batch of an epoch may be
** short); evaluated says whether tl/ta were measured at this step (a NaN test
** loss is written as nan, an unmeasured one as an empty field). */
static int write_rows_(run_ *r, long step, long epoch, size_t B, double lr, double ms, int evaluated, double tl,
                        double ta)
{
    if (write_metrics_row_(r, step, epoch, B, lr, ms, evaluated, tl, ta) != 0) return -1;
    for (int l = 0, nl = clgrad_model_nlayers(r->m); l < nl; l++) write_layer_row_(r, step, l);
    if (clgrad_csv_commit(&r->clayers) != 0) return -1;
    if (r->ftime && write_timestep_rows_(r, step) != 0) return -1;
    return 0;
}

/* ||delta w|| of layer l at this log step: the 2-norm of its parameters' update (weights and biases), from the
** per-tensor statistics of the update params - prev (the fixed-order reduction of cl/reduce.cl, on the device). */
static double layer_update_norm_(const run_ *r, int l)
{
    int all[16], na = 0, nt = clgrad_model_ntensors(r->m);
    for (int bias = 0; bias < 2; bias++) /* weights, then biases: write_rows_'s order, so the same bits as layers.csv */
        for (int t = 0; t < nt && na < 16; t++) {
            const clgrad_tensor *tt = clgrad_model_tensor(r->m, t);
            if (tt->layer == l && (tt->is_bias != 0) == bias) all[na++] = t;
        }
    return norm_of_(r->mhost + r->plan.L.dstats, all, na);
}

/* The spike detectors on this log step's values (clgrad/spike.h: host, double, this fixed order: loss, grad_norm,
** each layer's update_norm in layer order); one events.csv row per spike. */
static int detect_spikes_(run_ *r, long step)
{
    const float *M = r->mhost;
    for (int i = 0; i < r->nspikes; i++) {
        double v = i == 0 ? (double)M[r->plan.L.loss] : i == 1 ? (double)M[r->plan.L.gs + CLGRAD_GS_NORM] : layer_update_norm_(r, i - 2), z;
        if (!clgrad_spike_push(&r->spikes[i], v, &z)) continue;
        fprintf(r->fevents, "%ld,%s,%s,", step, i == 0 ? "loss" : i == 1 ? "grad_norm" : "update_norm",
                i >= 2 ? clgrad_model_layer_name(r->m, i - 2) : "");
        csv_num_(r->fevents, v);
        fputc(',', r->fevents);
        csv_num_(r->fevents, z);
        fputc('\n', r->fevents);
    }
    return clgrad_csv_commit(&r->cevents);
}

static int open_csv_(run_ *r, const char *name, const char *header, clgrad_csv_out *o, FILE **f)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", r->opts->out_dir, name);
    int rc = clgrad_csv_open(o, path, header);
    *f = o->rows;
    return rc;
}

/* Where the run ran, as its launcher saw it: the host, the GPUs it was
** allowed to see (CUDA_VISIBLE_DEVICES, which NVIDIA's OpenCL driver honours,
** e.g. set by Slurm's --gres=gpu:N; null when unset) and the Slurm job, array
** task and step (only the variables that are set; null outside Slurm). */
static void sb_launch_(clgrad_sbuf *b)
{
    static const char *const slurm[][2] = {{"job_id", "SLURM_JOB_ID"},         {"array_job_id", "SLURM_ARRAY_JOB_ID"},
                                           {"array_task_id", "SLURM_ARRAY_TASK_ID"}, {"step_id", "SLURM_STEP_ID"},
                                           {"procid", "SLURM_PROCID"},         {"node", "SLURMD_NODENAME"}};
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    host[sizeof host - 1] = 0;
    clgrad_sb_printf(b, "  \"host\": ");
    clgrad_sb_json_str(b, host);
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    clgrad_sb_printf(b, ",\n  \"cuda_visible_devices\": ");
    if (cvd) clgrad_sb_json_str(b, cvd);
    else clgrad_sb_printf(b, "null");
    clgrad_sb_printf(b, ",\n  \"slurm\": ");
    int n = 0;
    for (size_t i = 0; i < sizeof slurm / sizeof *slurm; i++) {
        const char *v = getenv(slurm[i][1]);
        if (!v) continue;
        clgrad_sb_printf(b, "%s\"%s\": ", n++ ? ", " : "{", slurm[i][0]);
        clgrad_sb_json_str(b, v);
    }
    clgrad_sb_printf(b, "%s,\n", n ? "}" : "null");
}

static int write_manifest_(run_ *r, const char *status, char *why, size_t nwhy)
{
    clgrad_sbuf b = {0};
    char end[32] = "";
    if (strcmp(status, "running") != 0) clgrad_iso_time(end, sizeof end);
    clgrad_sb_printf(&b, "{\n  \"clgrad_version\": \"%s\",\n", CLGRAD_VERSION);
    clgrad_sb_fingerprint(&b, r->ctx);
    clgrad_sb_printf(&b, "  \"gemm_backend\": \"%s\",\n", clgrad_gemm_backend_name(clgrad_get_gemm_backend(r->ctx)));
    clgrad_sb_printf(&b, "  \"seed\": %llu,\n  \"command_line\": ", (unsigned long long)r->cfg->run.seed);
    clgrad_sb_json_str(&b, r->opts->command_line ? r->opts->command_line : "");
    clgrad_sb_printf(&b, ",\n");
    sb_launch_(&b);
    if (r->cfg->metrics.histogram_every > 0)
        clgrad_sb_printf(&b, "  \"histograms\": {\"file\": \"histograms.csv\", \"every\": %ld, \"emin\": %d, \"emax\": %d},\n",
                         r->cfg->metrics.histogram_every, CLGRAD_HIST_EMIN, CLGRAD_HIST_EMAX);
    clgrad_sb_printf(&b, "  \"experiment\": ");
    clgrad_sb_json_str(&b, r->cfg->run.name);
    clgrad_sb_printf(&b, ",\n  \"config\": ");
    clgrad_sb_json_str(&b, r->cfg->path);
    /* keys the chosen kinds do not use: ignored, recorded here */
    clgrad_sb_printf(&b, ",\n  \"warnings\": [");
    for (int i = 0; i < r->cfg->nwarnings; i++) {
        clgrad_sb_printf(&b, "%s", i ? ", " : "");
        clgrad_sb_json_str(&b, r->cfg->warnings[i]);
    }
    clgrad_sb_printf(&b, "]");
    clgrad_sb_printf(&b, ",\n  \"start_time\": \"%s\",\n  \"end_time\": \"%s\",\n  \"status\": \"%s\"\n}\n", r->start_time,
                     end, status);
    int rc = b.oom ? -1 : clgrad_write_atomic(r->opts->out_dir, "manifest.json", b.s, b.len, why, nwhy);
    if (b.oom) snprintf(why, nwhy, "out of memory");
    clgrad_sb_free(&b);
    return rc;
}

/* A summary number: ",\n  "key": v"; a non-finite v is null with "key_nonfinite": "nan"|"inf"|"-inf"
** next to it; an unmeasured one (measured = 0) is null alone. */
static void sum_num_(clgrad_sbuf *b, const char *key, double v, int measured)
{
    clgrad_sb_printf(b, ",\n  \"%s\": ", key);
    if (!measured) {
        clgrad_sb_printf(b, "null");
        return;
    }
    clgrad_sb_json_num(b, v);
    if (!isfinite(v)) clgrad_sb_printf(b, ",\n  \"%s_nonfinite\": \"%s\"", key, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static int write_summary_(run_ *r, const char *error, char *why, size_t nwhy)
{
    clgrad_run_result *s = r->res;
    clgrad_sbuf b = {0};
    clgrad_sb_printf(&b, "{\n  \"status\": \"%s\",\n  \"steps_done\": %ld,\n  \"steps_planned\": %ld,\n",
                     clgrad_run_status_name(s->status), s->steps_done, r->steps);
    if (s->diverge_step > 0) {
        clgrad_sb_printf(&b, "  \"divergence\": {\"step\": %ld, \"kind\": \"%s\", \"layer\": ", s->diverge_step, s->diverge_kind);
        if (s->diverge_layer[0]) clgrad_sb_json_str(&b, s->diverge_layer);
        else clgrad_sb_printf(&b, "null");
        double dv = r->mhost ? r->mhost[r->plan.L.rec + CLGRAD_REC_VALUE] : NAN;
        clgrad_sb_printf(&b, ", \"value\": ");
        clgrad_sb_json_num(&b, dv);
        if (!isfinite(dv)) clgrad_sb_printf(&b, ", \"value_nonfinite\": \"%s\"", isnan(dv) ? "nan" : dv > 0 ? "inf" : "-inf");
        clgrad_sb_printf(&b, "},\n");
    } else {
        clgrad_sb_printf(&b, "  \"divergence\": null,\n");
    }
    clgrad_sb_printf(&b, "  \"stopped_by\": ");
    if (s->status != CLGRAD_RUN_INTERRUPTED) clgrad_sb_printf(&b, "null");
    else clgrad_sb_printf(&b, "\"%s\"", s->stopped_by_callback ? "callback" : "signal");
    clgrad_sb_printf(&b, ",\n  \"test_evaluated_step\": ");
    if (s->test_eval_step > 0) clgrad_sb_printf(&b, "%ld", s->test_eval_step);
    else clgrad_sb_printf(&b, "null");
    int logged = r->last_logged > 0;
    sum_num_(&b, "final_train_loss", s->final_train_loss, logged);
    sum_num_(&b, "final_test_loss", s->final_test_loss, s->test_eval_step > 0);
    sum_num_(&b, "final_test_accuracy", s->final_test_acc, s->test_eval_step > 0 && s->has_accuracy);
    sum_num_(&b, "max_grad_norm", s->max_grad_norm, logged);
    sum_num_(&b, "ms_per_step", s->ms_per_step, !isnan(s->ms_per_step));
    sum_num_(&b, "median_ms_per_step", s->median_ms_per_step, !isnan(s->median_ms_per_step));
    sum_num_(&b, "first_step_ms", s->first_step_ms, !isnan(s->first_step_ms));
    if (error) {
        clgrad_sb_printf(&b, ",\n  \"error\": ");
        clgrad_sb_json_str(&b, error);
    }
    clgrad_sb_printf(&b, "\n}\n");
    int rc = b.oom ? -1 : clgrad_write_atomic(r->opts->out_dir, "summary.json", b.s, b.len, why, nwhy);
    clgrad_sb_free(&b);
    return rc;
}

static clgrad_status write_config_(run_ *r)
{
    char *text = NULL, why[1400];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int bad = !f || clgrad_config_write(r->cfg, f) != 0;
    if (f && fclose(f) != 0) bad = 1;
    if (bad || clgrad_write_atomic(r->opts->out_dir, "config.ini", text, len, why, sizeof why) != 0) {
        if (bad) snprintf(why, sizeof why, "cannot write %s/config.ini: %s", r->opts->out_dir, strerror(errno));
        free(text);
        return clgrad_fail(r->ctx, CLGRAD_E_IO, "%s", why);
    }
    free(text);
    return CLGRAD_OK;
}

static clgrad_status save_data_(run_ *r)
{
    char dir[1200], path[1300], why[1400];
    snprintf(dir, sizeof dir, "%s/data", r->opts->out_dir);
    int e = clgrad_mkdirs(dir);
    if (e) return clgrad_fail(r->ctx, CLGRAD_E_IO, "cannot create %s: %s", dir, strerror(e));
    const clgrad_dataset *sets[2] = {&r->train, &r->test};
    const char *names[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        const clgrad_dataset *d = sets[s];
        size_t shx[3] = {d->n, d->seq_len > 1 ? d->seq_len : d->features, d->features}, shy[1] = {d->n};
        snprintf(path, sizeof path, "%s/%s_x.npy", dir, names[s]);
        if (clgrad_npy_write(path, d->x, shx, d->seq_len > 1 ? 3 : 2, why, sizeof why) != 0)
            return clgrad_fail(r->ctx, CLGRAD_E_IO, "%s", why);
        snprintf(path, sizeof path, "%s/%s_y.npy", dir, names[s]);
        if (clgrad_npy_write(path, d->y, shy, 1, why, sizeof why) != 0) return clgrad_fail(r->ctx, CLGRAD_E_IO, "%s", why);
    }
    return CLGRAD_OK;
}

/* Record one timed interval (steps steps at ms each) for the median. */
static void interval_(run_ *r, double ms, long steps)
{
    if (r->nivl == r->capivl) {
        size_t cap = r->capivl ? 2 * r->capivl : 256;
        double *m = realloc(r->ivl_ms, cap * sizeof *m);
        if (m) r->ivl_ms = m;
        long *n = realloc(r->ivl_n, cap * sizeof *n);
        if (n) r->ivl_n = n;
        if (!m || !n) return; /* the median is then over fewer intervals */
        r->capivl = cap;
    }
    r->ivl_ms[r->nivl] = ms, r->ivl_n[r->nivl] = steps, r->nivl++;
}

static int cmp_ivl_(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

/* The median time per step over the recorded intervals, each counted with its steps. */
static double median_ms_(run_ *r)
{
    if (!r->nivl) return NAN;
    double (*pairs)[2] = malloc(r->nivl * sizeof *pairs);
    if (!pairs) return NAN;
    long total = 0;
    for (size_t i = 0; i < r->nivl; i++) pairs[i][0] = r->ivl_ms[i], pairs[i][1] = (double)r->ivl_n[i], total += r->ivl_n[i];
    qsort(pairs, r->nivl, sizeof *pairs, cmp_ivl_);
    double half = (double)total / 2, acc = 0, med = pairs[r->nivl - 1][0];
    for (size_t i = 0; i < r->nivl; i++) {
        acc += pairs[i][1];
        if (acc >= half) {
            med = pairs[i][0];
            break;
        }
    }
    free(pairs);
    return med;
}

/* Tell the caller about a finished step; nonzero when it asks to stop. */
static int notify_(run_ *r, long step, long epoch, int logged, double lr)
{
    if (!r->opts->on_step) return 0;
    clgrad_step_info in;
    memset(&in, 0, sizeof in);
    in.step = step, in.steps_planned = r->steps, in.epoch = epoch, in.logged = logged, in.lr = lr;
    in.loss = logged ? r->mhost[r->plan.L.loss] : NAN;
    in.grad_norm = logged ? r->mhost[r->plan.L.gs + CLGRAD_GS_NORM] : NAN;
    in.seconds = clgrad_now() - r->t_start;
    in.diverged = r->res->status == CLGRAD_RUN_DIVERGED;
    return r->opts->on_step(r->opts->on_step_user, &in);
}

/* ---- the loop ---- */

/* The loop's running state across steps. */
typedef struct loop_state_ {
    long log_every;
    long opt_t;          /* the optimizer's step count (skipped steps do not count) */
    long last_log;       /* the step that ended the last timed interval (0: none yet) */
    long epoch;          /* the epoch whose order is in the index buffer */
    double t_last, t_first;
    int reported;        /* a divergence was recorded */
} loop_state_;

/* The sharpness: this step's batch (input noise included, as the step makes it), the weights before the
** update; the weights come back bit for bit, and the step gathers the batch again and recomputes
** everything the estimate overwrote. */
static clgrad_status sharpness_at_(run_ *r, long step, size_t pos, size_t B, long opt_t)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    r->sharp_have = r->sharp_phave = 0;
    if (r->sharp && step % r->cfg->metrics.sharpness_every == 0) { /* a logged step: config.c's rule */
        clgrad_sharp_result sr;
        CLGRAD_TRY(clgrad_step_batch(ctx, &r->plan, step, pos, B));
        CLGRAD_TRY(clgrad_sharp_estimate(ctx, r->sharp, r->m, r->loss, r->xb, r->yb, B, r->K, r->dlogits, 0, &sr));
        r->sharp_val = sr.value, r->sharp_have = 1;
        if (r->sharp_pre && opt_t >= 1) { /* the preconditioner after opt_t optimizer steps */
            CLGRAD_TRY(clgrad_sharp_precond(ctx, r->sharp, &r->optim, opt_t, r->state));
            CLGRAD_TRY(clgrad_sharp_estimate(ctx, r->sharp, r->m, r->loss, r->xb, r->yb, B, r->K, r->dlogits, 1,
                                             &sr));
            r->sharp_pval = sr.value, r->sharp_phave = 1;
        }
    }
fail:
    return st;
}

/* An unlogged step under the policies skip and stop: read its skip flag (*skipped); under stop a skipped
** step ends the run, so it is logged in full first (*log; the parameters are unchanged). */
static clgrad_status skip_flag_(run_ *r, size_t B, int *log, int *skipped)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    float flag;
    CLGRAD_TRY(clgrad_buf_read(ctx, r->mbuf, r->plan.L.gs + CLGRAD_GS_SKIP, 1, &flag));
    *skipped = flag != 0.0f;
    if (*skipped && r->policy == CLGRAD_NONFINITE_STOP) {
        /* the run ends here: log this step in full first (parameters are unchanged) */
        *log = 1;
        CLGRAD_TRY(clgrad_step_accuracy(ctx, &r->plan, B));
    }
fail:
    return st;
}

/* After an unlogged step: count it, time step 1 alone, tell the caller (*end when it asks to stop). */
static clgrad_status unlogged_step_(run_ *r, loop_state_ *s, long step, long e, double lr, int skipped, int *end)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    clgrad_run_result *res = r->res;
    if (!skipped) s->opt_t++;
    res->steps_done = step;
    if (step == 1) {
        /* step 1 pays for first launches: timed alone, out of the per-step figures */
        CLGRAD_TRY(clgrad_finish(ctx));
        s->t_first = s->t_last = clgrad_now();
        s->last_log = 1;
        res->first_step_ms = 1e3 * (s->t_first - r->t_start);
    }
    if (notify_(r, step, e, 0, lr)) {
        res->status = CLGRAD_RUN_INTERRUPTED;
        res->stopped_by_callback = 1;
        *end = 1;
    }
fail:
    return st;
}

/* A logged step's time per step since the last timed one, over *n steps (0: the first step's figure). */
static double log_ms_(loop_state_ *s, long step, long *n)
{
    if (step == 1) s->t_first = clgrad_now();
    double now = clgrad_now(), ms = 1e3 * (now - s->t_last) / (double)(step - s->last_log);
    *n = s->last_log == 0 ? 0 : step - s->last_log;
    s->t_last = now, s->last_log = step;
    return ms;
}

/* A logged step's time per step since the last timed one (the first step's figure, or one more interval). */
static double log_interval_(run_ *r, loop_state_ *s, long step)
{
    long n = 0;
    double ms = log_ms_(s, step, &n);
    if (n == 0) r->res->first_step_ms = ms;
    else interval_(r, ms, n);
    return ms;
}

/* After a logged step's rows: record the first divergence, apply [diverge] stop and [clip] nonfinite = stop,
** tell the caller; whether the run ends here. */
static int log_step_ends_(run_ *r, loop_state_ *s, long step, long e, double lr)
{
    clgrad_run_result *res = r->res;
    int end = 0;
    const float *rec = r->mhost + r->plan.L.rec;
    if (rec[CLGRAD_REC_STEP] > 0 && !s->reported) {
        s->reported = 1;
        res->status = CLGRAD_RUN_DIVERGED;
        res->diverge_step = (long)rec[CLGRAD_REC_STEP];
        int kind = (int)rec[CLGRAD_REC_KIND], tidx = (int)rec[CLGRAD_REC_TENSOR];
        snprintf(res->diverge_kind, sizeof res->diverge_kind, "%s", kind >= 1 && kind <= 4 ? diverge_kinds_[kind] : "?");
        /* a layer only where the check found one (a loss_limit divergence has none) */
        if (tidx >= 0 && tidx < clgrad_model_ntensors(r->m))
            snprintf(res->diverge_layer, sizeof res->diverge_layer, "%s",
                     clgrad_model_layer_name(r->m, clgrad_model_tensor(r->m, tidx)->layer));
        if (r->kinds.diverge_stop) end = 1;
    }
    /* [clip] nonfinite = stop ends the run at a non-finite gradient norm, whatever diverged first */
    if (r->policy == CLGRAD_NONFINITE_STOP && r->mhost[r->plan.L.gs + CLGRAD_GS_SKIP] != 0.0f) {
        if (res->status != CLGRAD_RUN_DIVERGED) res->status = CLGRAD_RUN_DIVERGED;
        end = 1;
    }
    if (notify_(r, step, e, 1, lr) && !end) {
        res->status = CLGRAD_RUN_INTERRUPTED;
        res->stopped_by_callback = 1;
        end = 1;
    }
    return end;
}

/* A logged step's metrics block, in mhost: the CSV rows, the divergence and stop rules (*end when the run
** ends here). */
static clgrad_status record_(run_ *r, loop_state_ *s, long step, long e, size_t B, double lr, double ms, int hist,
                             int evaluated, double tl, double ta, int *end)
{
    clgrad_run_result *res = r->res;
    if (write_rows_(r, step, e, B, lr, ms, evaluated, tl, ta) != 0 || (hist && write_hist_rows_(r, step) != 0) ||
        detect_spikes_(r, step) != 0)
        return clgrad_fail(r->ctx, CLGRAD_E_IO, "cannot write the metrics in %s at step %ld: %s", r->opts->out_dir,
                           step, strerror(errno));
    res->final_train_loss = r->mhost[r->plan.L.loss];
    r->last_logged = step;
    res->max_grad_norm = r->mhost[r->plan.L.rec + CLGRAD_REC_MAX_GRAD_NORM];
    if (log_step_ends_(r, s, step, e, lr)) *end = 1;
    return CLGRAD_OK;
}

/* The oldest pending logged step (metrics_lag): wait for its block, then its rows as record_ writes them (with
** the noise std it had; a pending step is never a sharpness step). */
static clgrad_status consume_(run_ *r, loop_state_ *s, int *end)
{
    clgrad_status st = CLGRAD_OK;
    int slot = r->rhead;
    pending_ p = r->pend[slot];
    r->rhead = (r->rhead + 1) % r->ring, r->rn--;
    st = clgrad_wait(r->ctx, p.ev);
    clReleaseEvent(p.ev);
    if (st != CLGRAD_OK) goto fail;
    memcpy(r->mhost, r->mring + (size_t)slot * r->plan.L.size, r->plan.L.size * sizeof *r->mhost);
    if (p.nsteps > 0) interval_(r, p.ms, p.nsteps);
    double noise = r->noise_std;
    int sh = r->sharp_have, sp = r->sharp_phave;
    r->noise_std = p.noise_std, r->sharp_have = r->sharp_phave = 0;
    st = record_(r, s, p.step, p.e, p.B, p.lr, p.ms, p.hist, 0, NAN, NAN, end);
    r->noise_std = noise, r->sharp_have = sh, r->sharp_phave = sp;
    if (st == CLGRAD_OK && *end && r->kinds.diverge_stop && r->res->status == CLGRAD_RUN_DIVERGED) {
        /* [diverge] stop at this step: the device halted here (clgrad_step_plan.halt_on_divergence), the
        ** steps queued behind it changed nothing; the run ends here (teardown_ releases their read-backs) */
        r->halted_at = p.step;
        r->res->steps_done = p.step;
        /* batch norm's count of batches is the host's: the halted steps' training passes are taken back */
        if (clgrad_model_nbuffers(r->m) > 0)
            clgrad_model_set_batches_tracked(r->m, clgrad_model_batches_tracked(r->m) - (r->last_step - p.step));
    }
fail:
    return st;
}

/* Every pending logged step, oldest first (none after the one where the run halted). */
static clgrad_status drain_(run_ *r, loop_state_ *s, int *end)
{
    clgrad_status st = CLGRAD_OK;
    while (r->rn > 0 && !r->halted_at) CLGRAD_TRY(consume_(r, s, end));
fail:
    return st;
}

/* Whether a logged step's block may be read back without blocking (clgrad_run_opts.metrics_lag): nothing in
** the loop needs its values before the next step (the skip flag, an evaluation, the sharpness), and not step
** 1 (timed alone) nor the last.  A divergence stop may come late: the device halts at the step where it
** applies (clgrad_step_plan.halt_on_divergence, batch norm's running estimates too), so the steps after it
** change nothing there, and consume_ takes their passes back from batch norm's count of batches. */
static int deferrable_(const run_ *r, long step, int evaluated)
{
    long se = r->cfg->metrics.sharpness_every;
    return r->ring > 0 && step > 1 && step < r->steps && !evaluated && r->policy == CLGRAD_NONFINITE_PROPAGATE &&
           !(r->sharp && se > 0 && step % se == 0);
}

/* A deferrable logged step: a read-back into the next ring slot with an event (the oldest pending step's rows
** first when the ring is full), then the rows of every pending step whose block has arrived. */
static clgrad_status defer_(run_ *r, loop_state_ *s, long step, long e, size_t B, double lr, int hist, int *end)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    if (r->rn == r->ring) CLGRAD_TRY(consume_(r, s, end));
    if (r->halted_at) return CLGRAD_OK; /* the run ended at an earlier step: this one changed nothing */
    int slot = (r->rhead + r->rn) % r->ring;
    pending_ *p = &r->pend[slot];
    CLGRAD_CL_TRY(ctx, clEnqueueReadBuffer(clgrad_queue(ctx), r->mbuf, CL_FALSE, 0, r->plan.L.size * sizeof(float),
                                           r->mring + (size_t)slot * r->plan.L.size, 0, NULL, &p->ev));
    r->rn++;
    CLGRAD_CL_TRY(ctx, clFlush(clgrad_queue(ctx)));
    s->opt_t++; /* policy propagate: no step is skipped */
    r->res->steps_done = step;
    p->step = step, p->e = e, p->B = B, p->lr = lr, p->noise_std = r->noise_std, p->hist = hist;
    p->ms = log_ms_(s, step, &p->nsteps); /* counted in the time per step when its rows are written */
    for (;;) {
        cl_int done = CL_QUEUED;
        if (r->rn == 0 || r->halted_at) break;
        CLGRAD_CL_TRY(ctx, clGetEventInfo(r->pend[r->rhead].ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof done, &done,
                                          NULL));
        if (done > CL_COMPLETE) break; /* negative: an error, which consume_ reports */
        CLGRAD_TRY(consume_(r, s, end));
    }
fail:
    return st;
}

/* After a logged step: its statistics; deferred (defer_) or one read-back after every pending step's rows,
** the timing, the test-set evaluation where due, the rows and rules (record_; *end when the run ends here). */
static clgrad_status logged_step_(run_ *r, loop_state_ *s, long step, long e, size_t B, double lr, int hist, int *end)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    const clgrad_config *c = r->cfg;
    clgrad_run_result *res = r->res;
    int evaluated = (c->run.eval_every > 0 && step % c->run.eval_every == 0) || step == r->steps;
    if (deferrable_(r, step, evaluated)) return defer_(r, s, step, e, B, lr, hist, end);
    CLGRAD_TRY(drain_(r, s, end));
    if (r->halted_at) return CLGRAD_OK; /* the run ended at a pending step: this one changed nothing */
    CLGRAD_TRY(clgrad_buf_read(ctx, r->mbuf, 0, r->plan.L.size, r->mhost));
    if (r->mhost[r->plan.L.gs + CLGRAD_GS_SKIP] == 0.0f) s->opt_t++;
    res->steps_done = step;
    double ms = log_interval_(r, s, step);
    double tl = NAN, ta = NAN;
    if (evaluated && r->test.n > 0) {
        CLGRAD_TRY(evaluate_(r, &tl, &ta));
        res->final_test_loss = tl, res->final_test_acc = ta;
        res->test_eval_step = step;
        CLGRAD_TRY(upload_order_(r, s->epoch)); /* evaluation reused the index buffer */
        s->t_last = clgrad_now();
    }
    st = record_(r, s, step, e, B, lr, ms, hist, evaluated && r->test.n > 0, tl, ta, end);
fail:
    return st;
}

/* Time per step: the logged intervals after step 1 (which pays for first
** launches), test-set evaluations excluded; mean and median. */
static void time_summary_(run_ *r)
{
    clgrad_run_result *res = r->res;
    double sum = 0;
    long n = 0;
    for (size_t i = 0; i < r->nivl; i++) sum += r->ivl_ms[i] * (double)r->ivl_n[i], n += r->ivl_n[i];
    res->ms_per_step = n ? sum / (double)n : res->steps_done >= 1 ? res->first_step_ms : NAN;
    res->median_ms_per_step = r->nivl ? median_ms_(r) : res->ms_per_step;
}

/* The steps: per step its batch position, schedule and noise, the sharpness where due, the step itself, then
** the bookkeeping of an unlogged or a logged step; the time summary at the end. */
static clgrad_status loop_(run_ *r)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_ctx *ctx = r->ctx;
    const clgrad_config *c = r->cfg;
    clgrad_run_result *res = r->res;
    loop_state_ s = {c->run.log_every > 0 ? c->run.log_every : 1, 0, 0, -1, 0.0, 0.0, 0};
    s.t_last = clgrad_now(), s.t_first = s.t_last;
    CLGRAD_TRY(clgrad_buf_fill(ctx, r->mbuf, r->plan.L.rec, CLGRAD_REC_SIZE, 0.0f));
    for (long step = 1; step <= r->steps; step++) {
        if (r->opts->stop && *r->opts->stop) {
            res->status = CLGRAD_RUN_INTERRUPTED;
            break;
        }
        long e = (step - 1) / (long)r->nbatch_per_epoch;
        size_t pos = (size_t)((step - 1) % (long)r->nbatch_per_epoch) * r->B;
        size_t B = r->train.n - pos < r->B ? r->train.n - pos : r->B;
        if (e != s.epoch) {
            CLGRAD_TRY(upload_order_(r, e));
            s.epoch = e;
        }
        int log = step % s.log_every == 0 || step == r->steps;
        int hist = log && hist_step_(r, step, s.log_every);
        double lr = lr_at_(&c->optim, r->kinds.schedule, step, r->steps);
        r->noise_std = clgrad_grad_noise_std(c->noise.grad_eta, c->noise.grad_gamma, step);
        CLGRAD_TRY(sharpness_at_(r, step, pos, B, s.opt_t));
        r->last_step = step;
        /* histograms: of the unclipped gradient and the weights before the update */
        CLGRAD_TRY(clgrad_step_grads(ctx, &r->plan, step, pos, B, (float)r->noise_std,
                                     (log ? CLGRAD_STEP_LOG : 0) | (hist ? CLGRAD_STEP_HIST : 0)));
        /* the optimizer's step count follows PyTorch: skipped steps do not count (a
        ** skipped step changes nothing, so the t passed to it does not matter) */
        int skipped = 0, end = 0;
        if (r->policy != CLGRAD_NONFINITE_PROPAGATE && !log) CLGRAD_TRY(skip_flag_(r, B, &log, &skipped));
        /* a log step: the per-layer figures, the update and its statistics (clgrad_step_log_update) */
        if (log) CLGRAD_TRY(clgrad_step_log_update(ctx, &r->plan, B, s.opt_t + 1, lr));
        else CLGRAD_TRY(clgrad_step_update(ctx, &r->plan, s.opt_t + 1, lr));
        if (!log) CLGRAD_TRY(unlogged_step_(r, &s, step, e, lr, skipped, &end));
        else CLGRAD_TRY(logged_step_(r, &s, step, e, B, lr, hist, &end));
        if (end) break;
    }
    int end = 0; /* the pending logged steps' rows (a stop they ask for: the run ends here anyway) */
    CLGRAD_TRY(drain_(r, &s, &end));
    time_summary_(r);
    (void)s.t_first;
fail:
    return st;
}

/* Whether s is digits only (at least one). */
static int digits_(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Whether f is the name of a tensor file some clgrad run writes (model.c's
** state_dict names): N.weight.npy, N.bias.npy, fc.weight.npy, fc.bias.npy,
** rnn.{weight,bias}_{ih,hh}_lN.npy. */
static int tensor_file_(const char *f)
{
    size_t n = strlen(f);
    if (n < 5 || strcmp(f + n - 4, ".npy") != 0) return 0;
    n -= 4;
    if ((n == 9 && !strncmp(f, "fc.weight", 9)) || (n == 7 && !strncmp(f, "fc.bias", 7))) return 1;
    const char *rnn[] = {"rnn.weight_ih_l", "rnn.weight_hh_l", "rnn.bias_ih_l", "rnn.bias_hh_l"};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(rnn[i]);
        if (n > l && !strncmp(f, rnn[i], l) && digits_(f + l, n - l)) return 1;
    }
    const char *dot = memchr(f, '.', n);
    if (!dot || !digits_(f, (size_t)(dot - f))) return 0;
    size_t rest = n - (size_t)(dot - f);
    return (rest == 7 && !strncmp(dot, ".weight", 7)) || (rest == 5 && !strncmp(dot, ".bias", 5));
}

/* A run directory reused with --out --force must not keep an earlier run's
** files: remove the files a run writes, by their exact names, and only those;
** never through a symlink (a symlink at one of those names is removed itself,
** a symlinked subdirectory is left alone). */
static void clear_outputs_(const char *dir)
{
    static const char *files[] = {"config.ini", "manifest.json", "metrics.csv", "layers.csv", "timesteps.csv",
                                  "histograms.csv", "events.csv", "summary.json"};
    static const char *subdirs[] = {"weights/init", "weights/final", "data"};
    static const char *data[] = {"train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"};
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* as named (--out may be a link); below it no link is followed */
    if (dfd < 0) return;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlinkat(dfd, files[i], 0);
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        int sfd = dfd;
        char part[64];
        const char *s = subdirs[i];
        while (sfd >= 0 && *s) { /* one component at a time, none a symlink */
            size_t l = strcspn(s, "/");
            snprintf(part, sizeof part, "%.*s", (int)l, s);
            int nfd = openat(sfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd != dfd) close(sfd);
            sfd = nfd;
            s += l + (s[l] == '/');
        }
        if (sfd < 0) continue;
        if (strcmp(subdirs[i], "data") == 0) {
            for (size_t k = 0; k < sizeof data / sizeof data[0]; k++) unlinkat(sfd, data[k], 0);
            close(sfd);
            continue;
        }
        DIR *d = fdopendir(sfd);
        if (!d) {
            close(sfd);
            continue;
        }
        for (struct dirent *e; (e = readdir(d));)
            if (tensor_file_(e->d_name)) unlinkat(sfd, e->d_name, 0);
        closedir(d);
    }
    close(dfd);
}

/* One data file the run will read: it must be a readable regular file. */
static clgrad_status data_file_(clgrad_ctx *ctx, const clgrad_config *c, const char *key, const char *path)
{
    struct stat st;
    if (!*path) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "%s: [data] %s is empty (kind = %s reads a file)", c->path, key, c->data.kind);
    if (stat(path, &st) != 0 || access(path, R_OK) != 0)
        return clgrad_fail(ctx, CLGRAD_E_CONFIG, "%s: [data] %s: cannot read %s: %s", c->path, key, path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return clgrad_fail(ctx, CLGRAD_E_CONFIG, "%s: [data] %s: %s: not a regular file", c->path, key, path);
    return CLGRAD_OK;
}

/* The data files (csv, idx, cifar10) exist and are readable: checked before
** the run directory is made, so a typo in a path costs nothing. */
clgrad_status clgrad_run_check_files(clgrad_ctx *ctx, const clgrad_config *c)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_data_section *d = &c->data;
    if (strcmp(d->kind, "csv") == 0) return data_file_(ctx, c, "path", d->path);
    if (strcmp(d->kind, "idx") == 0) {
        CLGRAD_TRY(data_file_(ctx, c, "path", d->path));
        return data_file_(ctx, c, "labels", d->labels);
    }
    if (strcmp(d->kind, "cifar10") == 0) { /* a comma-separated list */
        char item[1024];
        for (const char *p = d->path; *p;) {
            size_t n = strcspn(p, ",");
            while (n && (*p == ' ' || *p == '\t')) p++, n--;
            size_t m = n;
            while (m && (p[m - 1] == ' ' || p[m - 1] == '\t')) m--;
            if (m && m < sizeof item) {
                memcpy(item, p, m);
                item[m] = 0;
                CLGRAD_TRY(data_file_(ctx, c, "path", item));
            }
            p += n + (p[n] == ',');
        }
    }
fail:
    return st;
}

/* The CSV files of the run, created with their headers (metrics.csv's sharpness columns where measured,
** timesteps.csv for a recurrent model, histograms.csv where counted). */
static clgrad_status open_csvs_(run_ *r)
{
    char hhead[1024];
    hist_header_(hhead, sizeof hhead);
    char mheader[512];
    snprintf(mheader, sizeof mheader, "%s%s%s\n",
             "step,epoch,loss,train_acc,lr,grad_norm,clip_coef,grad_norm_clipped,weight_norm,nonfinite_grads,"
             "ms_per_step,test_loss,test_acc,grad_noise_std",
             r->sharp ? ",sharpness,sharpness_limit" : "", r->sharp && r->sharp_pre ? ",precond_sharpness,precond_limit" : "");
    if (open_csv_(r, "metrics.csv", mheader, &r->cmetrics, &r->fmetrics) ||
        open_csv_(r, "layers.csv",
                  "step,layer,weight_norm,weight_grad_norm,bias_grad_norm,out_grad_norm,act_mean_abs,act_saturated,"
                  "act_dead,update_ratio,trust_ratio,trust_ratio_hh,in_grad_norm,update_norm\n",
                  &r->clayers, &r->flayers) ||
        (clgrad_model_seq_len(r->m) > 1 &&
         open_csv_(r, "timesteps.csv", clgrad_model_has_cell(r->m) ? "step,t,grad_norm,cell_grad_norm\n" : "step,t,grad_norm\n",
                   &r->ctime, &r->ftime)) ||
        (hist_segs_(r) && open_csv_(r, "histograms.csv", hhead, &r->chist, &r->fhist)) ||
        open_csv_(r, "events.csv", "step,metric,layer,value,z\n", &r->cevents, &r->fevents))
        return clgrad_fail(r->ctx, CLGRAD_E_IO, "cannot create the CSV files in %s: %s", r->opts->out_dir,
                           strerror(errno));
    return CLGRAD_OK;
}

/* The model's tensors saved in weights/<which> of the run directory. */
static clgrad_status save_weights_(run_ *r, const char *which)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/weights/%s", r->opts->out_dir, which);
    return clgrad_save_tensors(r->ctx, r->m, dir);
}

clgrad_status clgrad_run(clgrad_ctx *ctx, const clgrad_config *cfg, const clgrad_run_opts *opts, clgrad_run_result *res)
{
    clgrad_status st = CLGRAD_OK;
    run_ r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    res->final_train_loss = res->final_test_loss = res->final_test_acc = res->max_grad_norm = res->ms_per_step = NAN;
    res->median_ms_per_step = res->first_step_ms = NAN;
    r.ctx = ctx, r.cfg = cfg, r.opts = opts, r.res = res;
    char why[1400];
    clgrad_iso_time(r.start_time, sizeof r.start_time);
    /* the data files must be there before anything is written */
    if ((st = clgrad_run_check_files(ctx, cfg)) != CLGRAD_OK) {
        res->status = CLGRAD_RUN_FAILED;
        return st;
    }
    /* the output directory must be usable (and ours: locked, holding no
    ** other run unless --force) before any compute */
    if (clgrad_rundir_prepare(opts->out_dir, cfg->run.name, opts->force, &r.lock_fd, why, sizeof why) != 0)
        return clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
    clear_outputs_(opts->out_dir);
    /* the manifest records the device's numerics fingerprint: an OpenCL failure there fails the run */
    if (!clgrad_numerics_fingerprint_cached(ctx)) {
        snprintf(why, sizeof why, "%s", clgrad_errmsg(ctx));
        st = clgrad_fail(ctx, CLGRAD_E_CL, "numerics fingerprint: %s", why);
        goto fail;
    }
    if (write_manifest_(&r, "running", why, sizeof why) != 0) {
        st = clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
        clgrad_rundir_unlock(opts->out_dir, r.lock_fd);
        return st;
    }
    CLGRAD_TRY(write_config_(&r));
    CLGRAD_TRY(setup_(&r));
    if (opts->save_data) CLGRAD_TRY(save_data_(&r));
    CLGRAD_TRY(save_weights_(&r, "init"));
    CLGRAD_TRY(open_csvs_(&r));
    r.t_start = clgrad_now();
    CLGRAD_TRY(loop_(&r));
    CLGRAD_TRY(save_weights_(&r, "final"));
    if (write_summary_(&r, NULL, why, sizeof why) != 0 ||
        write_manifest_(&r, clgrad_run_status_name(res->status), why, sizeof why) != 0) {
        st = clgrad_fail(ctx, CLGRAD_E_IO, "%s", why);
        goto fail;
    }
    teardown_(&r);
    clgrad_rundir_finish(opts->out_dir);
    clgrad_rundir_unlock(opts->out_dir, r.lock_fd);
    return CLGRAD_OK;
fail:
    res->status = CLGRAD_RUN_FAILED;
    {
        char *msg = strdup(clgrad_errmsg(ctx));
        write_summary_(&r, msg ? msg : "out of memory", why, sizeof why);
        write_manifest_(&r, "failed", why, sizeof why);
        free(msg);
    }
    teardown_(&r);
    clgrad_rundir_finish(opts->out_dir);
    clgrad_rundir_unlock(opts->out_dir, r.lock_fd);
    return st;
}
