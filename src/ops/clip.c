/*
** clip.c: launchers of the clipping kernels of cl/clip.cl (global norm, value,
** per-tensor norm, AGC) and of the gradient-state block.  Norms come from
** clgrad_reduce_stats (cl/reduce.cl).  The float64 host references and the
** "clip" self-check: src/check/clip_check.c.
*/
#include "core/internal.h"
#include "clgrad/clip.h"
#include "clgrad/reduce.h"
#include "clgrad/gradstate.h"
#include "ops/clip_watch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Launch a one-work-item kernel. */
static clgrad_status one_(clgrad_ctx *ctx, cl_kernel k, const char *name)
{
    size_t one = 1;
    return clgrad_launch(ctx, k, name, 1, &one, &one);
}

static clgrad_status gs_size_(clgrad_ctx *ctx, cl_mem gs, size_t gs_off, const char *what)
{
    clgrad_status st = CLGRAD_OK;
    size_t bytes = 0;
    if (!gs) return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: the gradient-state buffer is required", what);
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(gs, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (gs_off + CLGRAD_GS_SIZE > bytes / sizeof(float))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: gradient-state block at %zu does not fit the buffer (%zu floats)",
                           what, gs_off, bytes / sizeof(float));
fail:
    return st;
}

clgrad_status clgrad_gradstate_reset(clgrad_ctx *ctx, cl_mem gs, size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "gradstate_reset"));
    cl_kernel k = clgrad_kernel(ctx, "clip_gradstate_reset");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong go = gs_off;
    CLGRAD_ARG(ctx, k, 0, gs);
    CLGRAD_ARG(ctx, k, 1, go);
    CLGRAD_TRY(one_(ctx, k, "clip_gradstate_reset"));
fail:
    return st;
}

/* The arguments the block's kernels share, from index i on: norm_inf, do_clip, max_norm, policy, gs, gs_off,
** then the watch's (watch: 0 none, 1, 2 with stop_here; step, loss, loss_off, loss_limit, grad_limit, rec,
** rec_off; gs where there is none). */
static clgrad_status block_args_(clgrad_ctx *ctx, cl_kernel k, cl_uint i, clgrad_norm_type type, int do_clip,
                                 float max_norm, clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off,
                                 const clgrad_clip_watch *w)
{
    clgrad_status st = CLGRAD_OK;
    const clgrad_clip_watch none = {0.0f, gs, 0, 0.0f, 0.0f, gs, 0, 0};
    const clgrad_clip_watch *v = w ? w : &none;
    const clgrad_karg a[] = {CLGRAD_KI(type == CLGRAD_NORM_INF), CLGRAD_KI(do_clip != 0), CLGRAD_KF(max_norm),
                             CLGRAD_KI(policy),         CLGRAD_KM(gs),        CLGRAD_KU(gs_off),
                             CLGRAD_KI(w ? (w->stop_here ? 2 : 1) : 0), CLGRAD_KF(v->step), CLGRAD_KM(v->loss),
                             CLGRAD_KU(v->loss_off),    CLGRAD_KF(v->loss_limit), CLGRAD_KF(v->grad_limit),
                             CLGRAD_KM(v->rec),         CLGRAD_KU(v->rec_off)};
    for (cl_uint j = 0; j < sizeof a / sizeof *a; j++) CLGRAD_CL_TRY(ctx, clSetKernelArg(k, i + j, a[j].size, a[j].p));
fail:
    return st;
}

/* Statistics, then the block from the global record (and the watch): in the statistics' second launch for a
** table of few segments, else in one more. */
static clgrad_status gradstate_(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                size_t stats_off, clgrad_norm_type type, int do_clip, float max_norm,
                                clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off, const clgrad_clip_watch *w,
                                const char *what)
{
    clgrad_status st = CLGRAD_OK;
    if (type != CLGRAD_NORM_L2 && type != CLGRAD_NORM_INF)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown norm type %d", what, (int)type);
    if (policy != CLGRAD_NONFINITE_PROPAGATE && policy != CLGRAD_NONFINITE_SKIP && policy != CLGRAD_NONFINITE_STOP)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown non-finite policy %d", what, (int)policy);
    if (do_clip && !(max_norm > 0 && isfinite(max_norm)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: max_norm must be finite and > 0 (got %g)", what, (double)max_norm);
    CLGRAD_TRY(gs_size_(ctx, gs, gs_off, what));
    if (w && (!w->loss || !w->rec)) return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: the watch needs its buffers", what);
    cl_uint nseg = (cl_uint)clgrad_segs_count(segs);
    cl_ulong so = stats_off;
    if (clgrad_reduce_final_by_one(segs)) {
        CLGRAD_TRY(clgrad_reduce_stats_chunks(ctx, g, goff, segs, stats, stats_off, 1));
        cl_kernel k = clgrad_kernel(ctx, "reduce_stats_final_gradstate");
        if (!k) return CLGRAD_E_ARG;
        cl_mem tab = clgrad_segs_table(segs), part = clgrad_segs_part(segs);
        CLGRAD_ARG(ctx, k, 0, tab);
        CLGRAD_ARG(ctx, k, 1, nseg);
        CLGRAD_ARG(ctx, k, 2, part);
        CLGRAD_ARG(ctx, k, 3, stats);
        CLGRAD_ARG(ctx, k, 4, so);
        CLGRAD_TRY(block_args_(ctx, k, 5, type, do_clip, max_norm, policy, gs, gs_off, w));
        return one_(ctx, k, "reduce_stats_final_gradstate");
    }
    CLGRAD_TRY(clgrad_reduce_stats(ctx, g, goff, segs, stats, stats_off));
    cl_kernel k = clgrad_kernel(ctx, "clip_gradstate");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, stats);
    CLGRAD_ARG(ctx, k, 1, so);
    CLGRAD_ARG(ctx, k, 2, nseg);
    CLGRAD_TRY(block_args_(ctx, k, 3, type, do_clip, max_norm, policy, gs, gs_off, w));
    CLGRAD_TRY(one_(ctx, k, "clip_gradstate"));
fail:
    return st;
}

clgrad_status clgrad_clip_gradstate_watch(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs,
                                          cl_mem stats, size_t stats_off, clgrad_norm_type type, int do_clip,
                                          float max_norm, clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off,
                                          const clgrad_clip_watch *w)
{
    return gradstate_(ctx, g, goff, segs, stats, stats_off, type, do_clip, max_norm, policy, gs, gs_off, w,
                      do_clip ? "clip_global_norm" : "clip_record_norm");
}

clgrad_status clgrad_clip_global_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, float max_norm,
                                      clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off, int apply)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gradstate_(ctx, g, goff, segs, stats, stats_off, type, 1, max_norm, policy, gs, gs_off, NULL,
                          "clip_global_norm"));
    if (apply) CLGRAD_TRY(clgrad_clip_scale(ctx, g, goff, segs, gs, gs_off));
fail:
    return st;
}

clgrad_status clgrad_clip_record_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, clgrad_nonfinite_policy policy,
                                      cl_mem gs, size_t gs_off)
{
    return gradstate_(ctx, g, goff, segs, stats, stats_off, type, 0, 1.0f, policy, gs, gs_off, NULL,
                      "clip_record_norm");
}

/* Set the common arguments g, goff, tab, nseg, chunk (0..4) of a chunk kernel. */
static clgrad_status chunk_args_(clgrad_ctx *ctx, cl_kernel k, cl_mem g, size_t goff, const clgrad_segs *segs)
{
    clgrad_status st = CLGRAD_OK;
    cl_ulong go = goff, chunk = clgrad_segs_chunk(segs);
    cl_uint nseg = (cl_uint)clgrad_segs_count(segs);
    cl_mem tab = clgrad_segs_table(segs);
    CLGRAD_ARG(ctx, k, 0, g);
    CLGRAD_ARG(ctx, k, 1, go);
    CLGRAD_ARG(ctx, k, 2, tab);
    CLGRAD_ARG(ctx, k, 3, nseg);
    CLGRAD_ARG(ctx, k, 4, chunk);
fail:
    return st;
}

static clgrad_status chunk_launch_(clgrad_ctx *ctx, cl_kernel k, const char *name, const clgrad_segs *segs)
{
    size_t wg = clgrad_wg(ctx);
    return clgrad_launch1d(ctx, k, name, clgrad_segs_chunks(segs) * wg, wg);
}

clgrad_status clgrad_clip_scale(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem gs,
                                size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "clip_scale"));
    cl_kernel k = clgrad_kernel(ctx, "clip_scale");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong go = gs_off;
    CLGRAD_TRY(chunk_args_(ctx, k, g, goff, segs));
    CLGRAD_ARG(ctx, k, 5, gs);
    CLGRAD_ARG(ctx, k, 6, go);
    CLGRAD_TRY(chunk_launch_(ctx, k, "clip_scale", segs));
    k = clgrad_kernel(ctx, "clip_scale_consume");
    if (!k) return CLGRAD_E_ARG;
    CLGRAD_ARG(ctx, k, 0, gs);
    CLGRAD_ARG(ctx, k, 1, go);
    CLGRAD_TRY(one_(ctx, k, "clip_scale_consume"));
fail:
    return st;
}

clgrad_status clgrad_clip_value(clgrad_ctx *ctx, cl_mem g, size_t off, size_t n, float v, cl_mem gs, size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    if (!(v >= 0)) return clgrad_fail(ctx, CLGRAD_E_ARG, "clip_value: v must be >= 0 (got %g)", (double)v);
    if (gs) CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "clip_value"));
    cl_kernel k = clgrad_kernel(ctx, "clip_value");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong o = off, nn = n, go = gs_off;
    cl_int use = gs != NULL;
    CLGRAD_ARG(ctx, k, 0, g);
    CLGRAD_ARG(ctx, k, 1, o);
    CLGRAD_ARG(ctx, k, 2, nn);
    CLGRAD_ARG(ctx, k, 3, v);
    CLGRAD_ARG(ctx, k, 4, gs);
    CLGRAD_ARG(ctx, k, 5, go);
    CLGRAD_ARG(ctx, k, 6, use);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "clip_value", n, clgrad_wg(ctx)));
fail:
    return st;
}

clgrad_status clgrad_clip_tensor_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, float c, cl_mem gs, size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    if (!(c > 0 && isfinite(c)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "clip_tensor_norm: c must be finite and > 0 (got %g)", (double)c);
    if (gs) CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "clip_tensor_norm"));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, g, goff, segs, stats, stats_off));
    cl_kernel k = clgrad_kernel(ctx, "clip_tensor_norm");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong so = stats_off, go = gs_off;
    cl_int use = gs != NULL;
    CLGRAD_TRY(chunk_args_(ctx, k, g, goff, segs));
    CLGRAD_ARG(ctx, k, 5, stats);
    CLGRAD_ARG(ctx, k, 6, so);
    CLGRAD_ARG(ctx, k, 7, c);
    CLGRAD_ARG(ctx, k, 8, gs);
    CLGRAD_ARG(ctx, k, 9, go);
    CLGRAD_ARG(ctx, k, 10, use);
    CLGRAD_TRY(chunk_launch_(ctx, k, "clip_tensor_norm", segs));
fail:
    return st;
}

clgrad_status clgrad_clip_agc(clgrad_ctx *ctx, cl_mem w, size_t woff, cl_mem g, size_t goff, const clgrad_segs *units,
                              cl_mem stats, size_t stats_off, float clipping, float eps, cl_mem gs, size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    if (!(clipping > 0 && isfinite(clipping)) || !(eps > 0 && isfinite(eps)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "clip_agc: clipping and eps must be finite and > 0 (got %g, %g)",
                           (double)clipping, (double)eps);
    if (gs) CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "clip_agc"));
    size_t rec = CLGRAD_RS_SIZE * (clgrad_segs_count(units) + 1);
    CLGRAD_TRY(clgrad_reduce_stats(ctx, w, woff, units, stats, stats_off));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, g, goff, units, stats, stats_off + rec));
    cl_kernel k = clgrad_kernel(ctx, "clip_agc");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong wso = stats_off, gso = stats_off + rec, go = gs_off;
    cl_int use = gs != NULL;
    CLGRAD_TRY(chunk_args_(ctx, k, g, goff, units));
    CLGRAD_ARG(ctx, k, 5, stats);
    CLGRAD_ARG(ctx, k, 6, wso);
    CLGRAD_ARG(ctx, k, 7, gso);
    CLGRAD_ARG(ctx, k, 8, clipping);
    CLGRAD_ARG(ctx, k, 9, eps);
    CLGRAD_ARG(ctx, k, 10, gs);
    CLGRAD_ARG(ctx, k, 11, go);
    CLGRAD_ARG(ctx, k, 12, use);
    CLGRAD_TRY(chunk_launch_(ctx, k, "clip_agc", units));
fail:
    return st;
}

size_t clgrad_zclip_state_floats(const clgrad_zclip_params *p)
{
    return CLGRAD_ZCLIP_STATE + (size_t)(p->warmup_steps > 0 ? p->warmup_steps : 1);
}

static int zclip_ok_(const clgrad_zclip_params *p)
{
    return p->alpha > 0 && p->alpha < 1 && p->z_thresh > 0 && isfinite(p->z_thresh) && p->warmup_steps >= 1 &&
           p->warmup_steps <= 100000 && p->clip_factor > 0 && isfinite(p->clip_factor) && p->max_norm > 0 &&
           !isnan(p->max_norm);
}

clgrad_status clgrad_clip_zscore(clgrad_ctx *ctx, const clgrad_zclip_params *p, cl_mem zs, cl_mem gs, size_t gs_off)
{
    clgrad_status st = CLGRAD_OK;
    if (!p || !zs) return clgrad_fail(ctx, CLGRAD_E_ARG, "clip_zscore: the settings and the state buffer are required");
    if (!zclip_ok_(p))
        return clgrad_fail(ctx, CLGRAD_E_ARG,
                           "clip_zscore: need 0 < alpha < 1, z_thresh > 0, 1 <= warmup_steps <= 100000, clip_factor > 0, "
                           "max_norm > 0 (got %g, %g, %ld, %g, %g)",
                           p->alpha, p->z_thresh, p->warmup_steps, p->clip_factor, p->max_norm);
    CLGRAD_TRY(gs_size_(ctx, gs, gs_off, "clip_zscore"));
    size_t bytes = 0;
    CLGRAD_CL_TRY(ctx, clGetMemObjectInfo(zs, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (bytes / sizeof(float) < clgrad_zclip_state_floats(p))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "clip_zscore: the state buffer holds %zu floats, %zu needed",
                           bytes / sizeof(float), clgrad_zclip_state_floats(p));
    cl_kernel k = clgrad_kernel(ctx, "clip_zscore");
    if (!k) return CLGRAD_E_ARG;
    cl_float alpha = (cl_float)p->alpha, zt = (cl_float)p->z_thresh, cf = (cl_float)p->clip_factor,
             mx = (cl_float)p->max_norm;
    cl_uint w = (cl_uint)p->warmup_steps;
    cl_int om = p->option_mean != 0, su = p->skip_update_on_spike != 0;
    cl_ulong go = gs_off;
    CLGRAD_ARG(ctx, k, 0, zs);
    CLGRAD_ARG(ctx, k, 1, alpha);
    CLGRAD_ARG(ctx, k, 2, zt);
    CLGRAD_ARG(ctx, k, 3, w);
    CLGRAD_ARG(ctx, k, 4, om);
    CLGRAD_ARG(ctx, k, 5, cf);
    CLGRAD_ARG(ctx, k, 6, mx);
    CLGRAD_ARG(ctx, k, 7, su);
    CLGRAD_ARG(ctx, k, 8, gs);
    CLGRAD_ARG(ctx, k, 9, go);
    CLGRAD_TRY(one_(ctx, k, "clip_zscore"));
fail:
    return st;
}
