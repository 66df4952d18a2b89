/*
** mlp_fused.c: the plain MLP's training pass in two launches (nn/mlp_fused.h,
** cl/mlp.cl).
*/
#include "core/internal.h"
#include "clgrad/init.h"
#include "nn/mlp_fused.h"

#include <stdlib.h>
#include <string.h>

#define MLP_R 16 /* cl/mlp.cl: rows per work-group */
#define MLP_C 8  /* cl/mlp.cl: outputs per task */
#define MLP_LF 12
#define MLP_LOSS_CHUNK 8192 /* cl/loss_fn.cl: LOSS_CHUNK */
#define MLP_AUTO_MAX_PARAMS (256u * 1024u) /* floats: 1 MiB of weights */

/* The layer table (cl/mlp.cl's header) into t, and the count of mlp_wgrad tasks. */
static size_t table_(const clgrad_model *m, const clgrad_mlp_view_ *v, cl_ulong *t)
{
    size_t task = 0;
    int per = v->bias ? 2 : 1, L = v->nlin - 1;
    for (int l = 0; l <= L; l++) {
        cl_ulong *r = t + (size_t)l * MLP_LF;
        size_t N = v->width[l + 1], K = v->width[l];
        r[0] = N, r[1] = K, r[2] = clgrad_model_tensor(m, l * per)->off;
        r[3] = v->bias ? clgrad_model_tensor(m, l * per + 1)->off : 0, r[4] = (cl_ulong)v->bias;
        r[5] = l < L ? (cl_ulong)v->acts[l] : 0, r[6] = l < L ? v->z_off[l] : 0, r[7] = l < L ? v->h_off[l] : 0;
        r[8] = v->dz_off[l], r[9] = l < L ? v->dh_off[l] : 0;
        r[10] = task, task += (N + MLP_C - 1) / MLP_C * ((K + 15) / 16);
        r[11] = task, task += v->bias ? (N + 7) / 8 : 0;
    }
    return task;
}

/* Whether the pass applies (see the header); *ls the work-group size of mlp_rows. */
static int applies_(clgrad_ctx *ctx, const clgrad_step_plan *p, const clgrad_mlp_view_ *v, size_t *ls)
{
    /* CLGRAD_MLP_FUSED=0: never, =1: wherever it can; else for models whose
    ** parameters stay in a CPU's cache (each slice of rows reads all the
    ** weights twice: for larger ones the layer-by-layer GEMMs, which read
    ** each weight panel once per layer, are faster) */
    const char *e = getenv("CLGRAD_MLP_FUSED");
    if (e && strcmp(e, "0") == 0) return 0;
    if (!(e && strcmp(e, "1") == 0) && clgrad_model_nparams(p->m) > MLP_AUTO_MAX_PARAMS) return 0;
    if (p->loss != CLGRAD_LOSS_CE && p->K != 1) return 0;
    int built = 0; /* a context opened with a list of programs may lack mlp.cl */
    for (int i = 0; i < clgrad_program_count(ctx) && !built; i++) built = strcmp(clgrad_program_name(ctx, i), "mlp.cl") == 0;
    if (!built) return 0;
    size_t maxw = 0;
    for (int l = 0; l <= v->nlin; l++) maxw = v->width[l] > maxw ? v->width[l] : maxw;
    const clgrad_device_info *d = clgrad_device(ctx);
    if (maxw > UINT32_MAX / MLP_R || 2 * maxw * MLP_R * sizeof(float) > d->local_mem) return 0;
    *ls = clgrad_wg(ctx);
    return 1;
}

static clgrad_status upload_table_(clgrad_ctx *ctx, clgrad_model *m, const clgrad_mlp_view_ *v, size_t *ntask)
{
    cl_ulong *t = malloc((size_t)v->nlin * MLP_LF * sizeof *t);
    if (!t) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "mlp_fused: out of memory");
    *ntask = table_(m, v, t);
    if (*v->tab) {
        free(t);
        return CLGRAD_OK;
    }
    cl_int err;
    *v->tab = clCreateBuffer(clgrad_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (size_t)v->nlin * MLP_LF * sizeof *t, t, &err);
    free(t);
    if (err != CL_SUCCESS) {
        *v->tab = NULL;
        return clgrad_fail(ctx, CLGRAD_E_CL, "clCreateBuffer(mlp layer table): %s", clgrad_cl_error_name(err));
    }
    return CLGRAD_OK;
}

static clgrad_status rows_(clgrad_ctx *ctx, const clgrad_step_plan *p, const clgrad_mlp_view_ *v, size_t pos,
                           size_t B, int gather, size_t ls)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "mlp_rows");
    if (!k) return CLGRAD_E_ARG;
    size_t maxw = 0;
    for (int l = 0; l <= v->nlin; l++) maxw = v->width[l] > maxw ? v->width[l] : maxw;
    cl_mem dl = p->dlogits;
    clgrad_karg a[] = {CLGRAD_KM(p->x), CLGRAD_KM(p->y), CLGRAD_KM(p->idx), CLGRAD_KU(pos), CLGRAD_KI(gather),
                       {&(cl_uint){(cl_uint)B}, sizeof(cl_uint)}, CLGRAD_KU(p->row), CLGRAD_KM(p->xb),
                       CLGRAD_KM(p->yb), CLGRAD_KM(v->params), CLGRAD_KM(v->fwd), CLGRAD_KM(v->bwd),
                       CLGRAD_KM(v->logits), CLGRAD_KM(dl), CLGRAD_KM(*v->tab), CLGRAD_KI(v->nlin),
                       CLGRAD_KF(v->act_param), CLGRAD_KI(p->loss), CLGRAD_KM(*v->terms)};
    int na = (int)(sizeof a / sizeof a[0]);
    for (int i = 0; i < na; i++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)i, a[i].size, a[i].p));
    size_t lbytes = maxw * MLP_R * sizeof(float);
    CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)na, lbytes, NULL));
    CLGRAD_CL_TRY(ctx, clSetKernelArg(k, (cl_uint)na + 1, lbytes, NULL));
    size_t global = (B + MLP_R - 1) / MLP_R * ls;
    CLGRAD_TRY(clgrad_launch(ctx, k, "mlp_rows", 1, &global, &ls));
fail:
    return st;
}

/* nterms: the loss terms to sum into L.loss (0: none). */
static clgrad_status wgrad_(clgrad_ctx *ctx, const clgrad_step_plan *p, const clgrad_mlp_view_ *v, size_t B,
                            size_t ntask, size_t nterms)
{
    clgrad_karg a[] = {CLGRAD_KM(p->xb), CLGRAD_KU(p->row), CLGRAD_KM(v->fwd), CLGRAD_KM(v->bwd),
                       CLGRAD_KM(v->grads), CLGRAD_KM(*v->tab), CLGRAD_KI(v->nlin),
                       {&(cl_uint){(cl_uint)B}, sizeof(cl_uint)}, CLGRAD_KU(ntask), CLGRAD_KM(p->mbuf),
                       CLGRAD_KU(p->L.gs), CLGRAD_KM(*v->terms), {&(cl_uint){(cl_uint)nterms}, sizeof(cl_uint)},
                       CLGRAD_KU(p->L.loss)};
    return clgrad_launch_args(ctx, "mlp_wgrad", ntask + 1, a, (int)(sizeof a / sizeof a[0]));
}

clgrad_status clgrad_mlp_fused_grads(clgrad_ctx *ctx, const clgrad_step_plan *p, size_t pos, size_t B, int gather,
                                     int *done)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_mlp_view_ v;
    size_t ls = 0, ntask = 0;
    *done = 0;
    if (!clgrad_model_mlp_view_(p->m, &v) || !applies_(ctx, p, &v, &ls)) return CLGRAD_OK;
    if (B == 0 || B > v.max_batch) return clgrad_fail(ctx, CLGRAD_E_ARG, "model: batch %zu outside 1..%zu", B, v.max_batch);
    CLGRAD_TRY(upload_table_(ctx, p->m, &v, &ntask));
    if (!*v.terms) CLGRAD_TRY(clgrad_buf_new(ctx, v.max_batch * p->K, "mlp loss terms", v.terms));
    size_t nterms = p->loss == CLGRAD_LOSS_CE ? B : B * p->K;
    if (nterms > MLP_LOSS_CHUNK) nterms = 0; /* more than one chunk of loss_value: its own launch */
    CLGRAD_TRY(rows_(ctx, p, &v, pos, B, gather, ls));
    CLGRAD_TRY(wgrad_(ctx, p, &v, B, ntask, nterms));
    clgrad_model_set_input_(p->m, p->xb, 0);
    *done = CLGRAD_MLP_FUSED_GRADS | (nterms ? CLGRAD_MLP_FUSED_LOSS : 0);
fail:
    return st;
}
