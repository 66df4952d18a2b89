/*
** clip.c: launchers of the clipping kernels of cl/clip.cl (global norm, value,
** per-tensor norm, AGC) and of the gradient-state block, their float64 host
** references, and the "clip" self-check.  Norms come from clgrad_reduce_stats
** (cl/reduce.cl).
*/
#include "core/internal.h"

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

/* Statistics, then the block from the global record. */
static clgrad_status gradstate_(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                size_t stats_off, clgrad_norm_type type, int do_clip, float max_norm,
                                clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off, const char *what)
{
    clgrad_status st = CLGRAD_OK;
    if (type != CLGRAD_NORM_L2 && type != CLGRAD_NORM_INF)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown norm type %d", what, (int)type);
    if (policy != CLGRAD_NONFINITE_PROPAGATE && policy != CLGRAD_NONFINITE_SKIP && policy != CLGRAD_NONFINITE_STOP)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: unknown non-finite policy %d", what, (int)policy);
    if (do_clip && !(max_norm > 0 && isfinite(max_norm)))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "%s: max_norm must be finite and > 0 (got %g)", what, (double)max_norm);
    CLGRAD_TRY(gs_size_(ctx, gs, gs_off, what));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, g, goff, segs, stats, stats_off));
    cl_kernel k = clgrad_kernel(ctx, "clip_gradstate");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong so = stats_off + CLGRAD_RS_SIZE * clgrad_segs_count(segs), go = gs_off;
    cl_int inf = type == CLGRAD_NORM_INF, clip = do_clip != 0, pol = (cl_int)policy;
    CLGRAD_ARG(ctx, k, 0, stats);
    CLGRAD_ARG(ctx, k, 1, so);
    CLGRAD_ARG(ctx, k, 2, inf);
    CLGRAD_ARG(ctx, k, 3, clip);
    CLGRAD_ARG(ctx, k, 4, max_norm);
    CLGRAD_ARG(ctx, k, 5, pol);
    CLGRAD_ARG(ctx, k, 6, gs);
    CLGRAD_ARG(ctx, k, 7, go);
    CLGRAD_TRY(one_(ctx, k, "clip_gradstate"));
fail:
    return st;
}

clgrad_status clgrad_clip_global_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, float max_norm,
                                      clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off, int apply)
{
    clgrad_status st = CLGRAD_OK;
    CLGRAD_TRY(gradstate_(ctx, g, goff, segs, stats, stats_off, type, 1, max_norm, policy, gs, gs_off,
                          "clip_global_norm"));
    if (apply) CLGRAD_TRY(clgrad_clip_scale(ctx, g, goff, segs, gs, gs_off));
fail:
    return st;
}

clgrad_status clgrad_clip_record_norm(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs, cl_mem stats,
                                      size_t stats_off, clgrad_norm_type type, clgrad_nonfinite_policy policy,
                                      cl_mem gs, size_t gs_off)
{
    return gradstate_(ctx, g, goff, segs, stats, stats_off, type, 0, 1.0f, policy, gs, gs_off, "clip_record_norm");
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

static double nanmin_(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : fmin(a, b); }
static double nanmax_(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : fmax(a, b); }

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

/* ---- float64 host references ---- */

void clgrad_clip_zscore_ref(const double *norms, size_t n, const clgrad_zclip_params *p, double *coef, int *clipped,
                            double *z)
{
    double mean = 0, var = 0, *buf = malloc((size_t)(p->warmup_steps > 0 ? p->warmup_steps : 1) * sizeof *buf);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        double total = norms[i];
        clipped[i] = 0;
        if (z) z[i] = NAN;
        if (count < p->warmup_steps) { /* zclip.py: collect, clip by max_grad_norm (torch's clip_grad_norm_) */
            if (isfinite(total) && buf) {
                buf[count++] = total;
                if (count == p->warmup_steps) {
                    double s = 0, ss = 0;
                    for (long j = 0; j < count; j++) s += buf[j];
                    mean = s / (double)count;
                    for (long j = 0; j < count; j++) ss += (buf[j] - mean) * (buf[j] - mean);
                    var = ss / (double)count;
                }
            }
            coef[i] = isinf(p->max_norm) ? 1.0 : nanmin_(1.0, p->max_norm / (total + 1e-6));
            continue;
        }
        double sd = sqrt(var), zz = (total - mean) / (sd + 1e-6), thr = NAN;
        int spike = zz > p->z_thresh;
        if (z) z[i] = zz;
        if (spike) thr = p->option_mean ? mean : (mean + (p->z_thresh * sd) / (zz / p->z_thresh)) * p->clip_factor;
        double adaptive = spike ? thr : total, eff = isinf(p->max_norm) ? adaptive : fmin(adaptive, p->max_norm);
        coef[i] = total > eff ? eff / (total + 1e-6) : 1.0;
        clipped[i] = spike;
        double x = spike ? thr : total;
        if (!(spike && p->skip_update_on_spike) && isfinite(x)) {
            mean = p->alpha * mean + (1 - p->alpha) * x;
            var = p->alpha * var + (1 - p->alpha) * (x - mean) * (x - mean);
        }
    }
    free(buf);
}



/* 2-norm of x[0..n) in float64 (squares of floats cannot overflow a double). */
static double norm2_(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    s = sqrt(s);
    return isinf((float)s) ? INFINITY : s; /* a float32 norm beyond FLT_MAX is +Inf */
}

void clgrad_clip_global_norm_ref(const float *g, size_t n, size_t nseg, const size_t *off, const size_t *len,
                                 clgrad_norm_type type, double max_norm, int do_clip, clgrad_nonfinite_policy policy,
                                 int apply, double *out, double *gs_out)
{
    double ssq = 0, mx = 0, cnt = 0;
    for (size_t s = 0; s < nseg; s++)
        for (size_t i = off[s]; i < off[s] + len[s]; i++) {
            double v = g[i];
            ssq += v * v;
            mx = nanmax_(mx, fabs(v));
            if (!isfinite(v)) cnt++;
        }
    double total = type == CLGRAD_NORM_INF ? mx : sqrt(ssq);
    if (isinf((float)total)) total = INFINITY; /* a float32 norm beyond FLT_MAX is +Inf */
    int nonfinite = !isfinite(total) || cnt > 0;
    double coef = do_clip ? nanmin_(1.0, max_norm / (total + 1e-6)) : 1.0;
    int skip = nonfinite && policy != CLGRAD_NONFINITE_PROPAGATE;
    for (size_t i = 0; i < CLGRAD_GS_SIZE; i++) gs_out[i] = 0;
    gs_out[CLGRAD_GS_NORM] = total;
    gs_out[CLGRAD_GS_COEF] = skip ? 1.0 : coef;
    gs_out[CLGRAD_GS_NONFINITE] = nonfinite;
    gs_out[CLGRAD_GS_SKIP] = skip;
    gs_out[CLGRAD_GS_CLIPCOEF] = coef;
    for (size_t i = 0; i < n; i++) out[i] = g[i];
    if (apply && !skip) {
        for (size_t s = 0; s < nseg; s++)
            for (size_t i = off[s]; i < off[s] + len[s]; i++) out[i] = g[i] * coef;
        gs_out[CLGRAD_GS_COEF] = 1.0;
    }
}

void clgrad_clip_value_ref(const float *g, size_t n, double v, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double x = g[i];
        out[i] = x > v ? v : (x < -v ? -v : x); /* NaN stays NaN */
    }
}

void clgrad_clip_tensor_norm_ref(const float *g, size_t n, size_t nseg, const size_t *off, const size_t *len,
                                 double c, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = g[i];
    for (size_t s = 0; s < nseg; s++) {
        double f = c / nanmax_(norm2_(g + off[s], len[s]), c);
        for (size_t i = off[s]; i < off[s] + len[s]; i++) out[i] = g[i] * f;
    }
}

void clgrad_clip_agc_ref(const float *w, const float *g, size_t n, size_t nunit, const size_t *off,
                         const size_t *len, double clipping, double eps, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = g[i];
    for (size_t u = 0; u < nunit; u++) {
        double wn = norm2_(w + off[u], len[u]), gn = norm2_(g + off[u], len[u]);
        double limit = clipping * nanmax_(wn, eps);
        if (gn < limit) continue; /* Optax: where(gnorm < limit, g, clipped); NaN -> clipped */
        double f = limit / nanmax_(gn, 1e-6);
        for (size_t i = off[u]; i < off[u] + len[u]; i++) out[i] = g[i] * f;
    }
}

/* ---- self-check ---- */

typedef struct {
    clgrad_ctx *ctx;
    clgrad_check_fn report;
    void *user;
} sc_;

/* Compare n floats with the reference, relative tolerance rtol (NaN == NaN,
** Inf == the same Inf); reports the largest relative error. */
static void sc_row_(sc_ *c, const char *what, const float *dev, const double *ref, size_t n, double rtol)
{
    size_t bad = clgrad_compare(dev, ref, n, 0x1.0p-149, rtol, NULL);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && ref[i] != 0 && fabs(dev[i] - ref[i]) / fabs(ref[i]) > worst)
            worst = fabs(dev[i] - ref[i]) / fabs(ref[i]);
    c->report(c->user, "clip", what, bad == 0, worst, rtol);
}

/* The semantics.md worked numbers and one random multi-tensor global-norm
** case.  Tolerance 8u relative: the device computes the norm (a few
** roundings for 2-7 terms), total + 1e-6, a division and a product in float32. */
clgrad_status clgrad_selfcheck_clip(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    sc_ c = {ctx, report, user};
    const double u = 0x1.0p-24;
    cl_mem dg = NULL, dw = NULL, ds = NULL, dgs = NULL;
    clgrad_segs *segs = NULL;
    float h[8], gsv[CLGRAD_GS_SIZE];
    CLGRAD_TRY(clgrad_buf_new(ctx, 8, "selfcheck g", &dg));
    CLGRAD_TRY(clgrad_buf_new(ctx, 8, "selfcheck w", &dw));
    CLGRAD_TRY(clgrad_buf_new(ctx, 16, "selfcheck stats", &ds));
    CLGRAD_TRY(clgrad_buf_new(ctx, CLGRAD_GS_SIZE, "selfcheck gradstate", &dgs));
    size_t off0 = 0, len2 = 2;
    CLGRAD_TRY(clgrad_segs_new(ctx, 1, &off0, &len2, &segs));

    /* clip_grad_norm_ 2-norm: [3, 4], max_norm 1 */
    const float g34[2] = {3, 4};
    CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, 2, g34));
    CLGRAD_TRY(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, CLGRAD_NORM_L2, 1.0f, CLGRAD_NONFINITE_PROPAGATE, dgs, 0, 1));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, 2, h));
    CLGRAD_TRY(clgrad_buf_read(ctx, dgs, 0, CLGRAD_GS_SIZE, gsv));
    {
        const double r[3] = {0.599999880000024, 0.799999840000032, 5.0};
        float d[3] = {h[0], h[1], gsv[CLGRAD_GS_NORM]};
        sc_row_(&c, "global 2-norm [3,4] max 1 (semantics.md)", d, r, 3, 8 * u);
    }
    /* inf-norm: [3, -4] */
    const float g3m4[2] = {3, -4};
    CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, 2, g3m4));
    CLGRAD_TRY(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, CLGRAD_NORM_INF, 1.0f, CLGRAD_NONFINITE_PROPAGATE, dgs, 0, 1));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, 2, h));
    CLGRAD_TRY(clgrad_buf_read(ctx, dgs, 0, CLGRAD_GS_SIZE, gsv));
    {
        const double r[3] = {0.7499998125000469, -0.9999997500000625, 4.0};
        float d[3] = {h[0], h[1], gsv[CLGRAD_GS_NORM]};
        sc_row_(&c, "global inf-norm [3,-4] max 1 (semantics.md)", d, r, 3, 8 * u);
    }
    /* value: [0.5, -3, NaN], v = 1 */
    const float gv[3] = {0.5f, -3, NAN};
    CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, 3, gv));
    CLGRAD_TRY(clgrad_clip_value(ctx, dg, 0, 3, 1.0f, NULL, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, 3, h));
    {
        const double r[3] = {0.5, -1, NAN};
        sc_row_(&c, "value [0.5,-3,NaN] v=1 (semantics.md)", h, r, 3, 0);
    }
    /* AGC: W = [3, 4] and W = 0, G = [0.3, 0.4], clipping 0.01 */
    for (int z = 0; z < 2; z++) {
        const float w[2] = {z ? 0.0f : 3.0f, z ? 0.0f : 4.0f}, g[2] = {0.3f, 0.4f};
        CLGRAD_TRY(clgrad_buf_write(ctx, dw, 0, 2, w));
        CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, 2, g));
        CLGRAD_TRY(clgrad_clip_agc(ctx, dw, 0, dg, 0, segs, ds, 0, 0.01f, 1e-3f, NULL, 0));
        CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, 2, h));
        double r[2];
        clgrad_clip_agc_ref(w, g, 2, 1, &off0, &len2, 0.01, 1e-3, r);
        const double ex[2][2] = {{0.03, 0.04}, {6e-6, 8e-6}};
        /* the float inputs 0.3f, 0.01f etc. differ from the decimals by < u relative */
        sc_row_(&c, z ? "AGC W=0 G=[.3,.4] -> [6e-6,8e-6] (semantics.md)" : "AGC W=[3,4] G=[.3,.4] -> [.03,.04] (semantics.md)",
                h, ex[z], 2, 16 * u);
        sc_row_(&c, z ? "AGC W=0 vs float64 reference" : "AGC W=[3,4] vs float64 reference", h, r, 2, 8 * u);
    }
    /* policy skip on an Inf gradient: untouched, SKIP = 1 */
    const float ginf[2] = {1, INFINITY};
    CLGRAD_TRY(clgrad_buf_write(ctx, dg, 0, 2, ginf));
    CLGRAD_TRY(clgrad_clip_global_norm(ctx, dg, 0, segs, ds, 0, CLGRAD_NORM_L2, 1.0f, CLGRAD_NONFINITE_SKIP, dgs, 0, 1));
    CLGRAD_TRY(clgrad_buf_read(ctx, dg, 0, 2, h));
    CLGRAD_TRY(clgrad_buf_read(ctx, dgs, 0, CLGRAD_GS_SIZE, gsv));
    {
        const double r[6] = {1, INFINITY, INFINITY, 1, 1, 1};
        float d[6] = {h[0], h[1], gsv[CLGRAD_GS_NORM], gsv[CLGRAD_GS_COEF], gsv[CLGRAD_GS_NONFINITE], gsv[CLGRAD_GS_SKIP]};
        sc_row_(&c, "Inf gradient, policy skip: untouched, SKIP=1", d, r, 6, 0);
    }
fail:
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dg), clgrad_buf_free(&dw), clgrad_buf_free(&ds), clgrad_buf_free(&dgs);
    return st;
}
