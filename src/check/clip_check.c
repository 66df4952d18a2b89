/*
** clip_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "clip" self-check of src/ops/clip.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 host references ---- */

static double nanmin_(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : fmin(a, b); }
static double nanmax_(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : fmax(a, b); }

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

/* zclip.py in float64, step for step (src/check/ref.h, clgrad_clip_zscore_ref). */
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
