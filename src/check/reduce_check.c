/*
** reduce_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "reduce" self-check of src/ops/reduce.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 host reference ---- */

static void stats_ref_(const float *x, size_t n, double *o /* 4 */)
{
    double sum = 0, ssq = 0, mx = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i], a = fabs(v);
        sum += v;
        ssq += v * v; /* float inputs: v*v in double cannot overflow or underflow */
        mx = (isnan(a) || isnan(mx)) ? NAN : fmax(mx, a);
        if (!isfinite(v)) cnt++;
    }
    o[0] = sum, o[1] = sqrt(ssq), o[2] = mx, o[3] = cnt;
    if (isinf((float)o[1])) o[1] = INFINITY; /* not representable in float32 */
}

void clgrad_reduce_stats_ref(const float *x, size_t nseg, const size_t *off, const size_t *len, double *out)
{
    double *g = out + CLGRAD_RS_SIZE * nseg, gssq = 0;
    g[0] = g[1] = g[2] = g[3] = 0;
    for (size_t s = 0; s < nseg; s++) {
        double *o = out + CLGRAD_RS_SIZE * s;
        stats_ref_(x + off[s], len[s], o);
        g[0] += o[0];
        gssq += o[1] * o[1];
        g[2] = (isnan(o[2]) || isnan(g[2])) ? NAN : fmax(g[2], o[2]);
        g[3] += o[3];
    }
    g[1] = sqrt(gssq);
    if (isinf((float)g[1])) g[1] = INFINITY;
}

/* ---- float32 host replica of the device's fixed order ----
** The definition of cl/reduce.cl written literally: every leaf of a chunk is
** computed (those past the end read -0.0 and come out as the identity), the
** trees are the recursive balanced trees over identity-padded power-of-two
** counts.  The device skips identities and shares the trees among work-items;
** equal bits here show that this changes nothing. */

#define RR_NOEXP (-1000000) /* REDUCE_NOEXP */

typedef struct {
    float s, q;
    int e;
    uint32_t m, n;
} rrec_;

static float rr_float_(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t rr_bits_(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float rr_scale_(float q, int k) { return k >= -126 ? q * rr_float_((uint32_t)(k + 127) << 23) : ldexpf(q, k); }
static float rr_rescale_(float q, int e, int E) { return e == RR_NOEXP ? 0.0f : rr_scale_(q, 2 * (e - E)); }

static rrec_ rr_identity_(void)
{
    rrec_ r = {-0.0f, 0.0f, RR_NOEXP, 0, 0};
    return r;
}

static rrec_ rr_merge_(rrec_ a, rrec_ b)
{
    rrec_ r;
    r.e = a.e > b.e ? a.e : b.e;
    r.s = a.s + b.s;
    r.q = rr_rescale_(a.q, a.e, r.e) + rr_rescale_(b.q, b.e, r.e);
    r.m = a.m > b.m ? a.m : b.m;
    r.n = a.n + b.n;
    return r;
}

static float rr_hsum8_(const float *v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

/* Leaf j of the chunk at x holding clen valid elements. */
static rrec_ rr_leaf_(const float *x, size_t clen, size_t j)
{
    float v[CLGRAD_REDUCE_LEAF_VECS][8], sum[8], q[8];
    uint32_t amx = 0, fmx = 0, n = 0;
    for (int k = 0; k < CLGRAD_REDUCE_LEAF_VECS; k++)
        for (int l = 0; l < 8; l++) {
            size_t i = (j * CLGRAD_REDUCE_LEAF_VECS + (size_t)k) * 8 + (size_t)l;
            v[k][l] = i < clen ? x[i] : -0.0f;
            uint32_t a = rr_bits_(v[k][l]) & 0x7fffffffu;
            if (a > amx) amx = a;
            if (a >= 0x7f800000u) n++;
            else if (a > fmx) fmx = a;
        }
    for (int l = 0; l < 8; l++) {
        sum[l] = -0.0f;
        for (int k = 0; k < CLGRAD_REDUCE_LEAF_VECS; k++) sum[l] = sum[l] + v[k][l];
    }
    rrec_ r = {rr_hsum8_(sum), 0.0f, RR_NOEXP, amx, n};
    float mx = rr_float_(fmx);
    if (mx > 0.0f) {
        frexpf(mx, &r.e);
        for (int l = 0; l < 8; l++) {
            q[l] = 0.0f;
            for (int k = 0; k < CLGRAD_REDUCE_LEAF_VECS; k++) {
                float t = isfinite(v[k][l]) ? v[k][l] : 0.0f;
                t = (r.e >= -127 && r.e <= 126) ? t * rr_float_((uint32_t)(127 - r.e) << 23) : ldexpf(t, -r.e);
                q[l] = q[l] + t * t;
            }
        }
        r.q = rr_hsum8_(q);
    }
    return r;
}

/* Balanced tree over leaves lo .. lo + w - 1 (w a power of two) of a chunk. */
static rrec_ rr_chunk_tree_(const float *x, size_t clen, size_t lo, size_t w)
{
    if (w == 1) return rr_leaf_(x, clen, lo);
    return rr_merge_(rr_chunk_tree_(x, clen, lo, w / 2), rr_chunk_tree_(x, clen, lo + w / 2, w / 2));
}

/* Balanced tree over records c[lo .. lo + w - 1] (w a power of two), identities from n on. */
static rrec_ rr_tree_(const rrec_ *c, size_t n, size_t lo, size_t w)
{
    if (lo >= n) return rr_identity_();
    if (w == 1) return c[lo];
    return rr_merge_(rr_tree_(c, n, lo, w / 2), rr_tree_(c, n, lo + w / 2, w / 2));
}

static void rr_out_(const rrec_ *c, size_t n, float *o)
{
    size_t P = 1;
    while (P < n) P *= 2;
    rrec_ r = rr_tree_(c, n, 0, P);
    int bad = r.m > 0x7f800000u;
    const float qnan = rr_float_(0x7fc00000u); /* REDUCE_QNAN */
    o[0] = n == 0 ? 0.0f : (isnan(r.s) ? qnan : r.s);
    if (bad) o[1] = qnan;
    else if (r.n > 0) o[1] = INFINITY;
    else if (r.e == RR_NOEXP) o[1] = 0.0f;
    else o[1] = ldexpf(sqrtf(r.q), r.e);
    o[2] = bad ? qnan : rr_float_(r.m);
    o[3] = (float)r.n;
}

void clgrad_reduce_stats_replica(const float *x, size_t nseg, const size_t *off, const size_t *len, float *out)
{
    const size_t C = CLGRAD_REDUCE_CHUNK;
    size_t nch = 0;
    for (size_t s = 0; s < nseg; s++) nch += (len[s] + C - 1) / C;
    rrec_ *ch = malloc((nch ? nch : 1) * sizeof *ch);
    if (!ch) {
        for (size_t i = 0; i < 4 * (nseg + 1); i++) out[i] = NAN;
        return;
    }
    size_t c = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t c0 = c;
        for (size_t b = 0; b < len[s]; b += C, c++)
            ch[c] = rr_chunk_tree_(x + off[s] + b, len[s] - b < C ? len[s] - b : C, 0, CLGRAD_REDUCE_LEAVES);
        rr_out_(ch + c0, c - c0, out + 4 * s);
    }
    rr_out_(ch, nch, out + 4 * nseg);
    free(ch);
}

/* ---- self-check ---- */

/* Segments of awkward sizes (one empty) over a buffer with NaN in the gaps,
** random values with magnitudes from 1e-30 to 1e30, checked against the
** reference: sum within gamma(depth) * sum|x|, norm within
** gamma(depth + 1) / 2 + 4u relative, max |x| and count exactly. */
clgrad_status clgrad_selfcheck_reduce(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    static const size_t len[] = {1, 7, 0, 63, 64, 65, 257, 5000};
    enum { NS = sizeof len / sizeof len[0] };
    clgrad_status st = CLGRAD_OK;
    size_t off[NS], n = 0;
    for (size_t s = 0; s < NS; s++) off[s] = n + 3, n += len[s] + 3;
    float *x = malloc(n * sizeof *x), *o = malloc(4 * (NS + 1) * sizeof *o);
    double *r = malloc(4 * (NS + 1) * sizeof *r);
    cl_mem dx = NULL, dout = NULL;
    clgrad_segs *segs = NULL;
    if (!x || !o || !r) { st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "selfcheck: out of memory"); goto fail; }
    clgrad_testrng rng = {12345};
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    for (size_t s = 0; s < NS; s++)
        for (size_t i = 0; i < len[s]; i++) {
            float e = clgrad_testrng_uniform(&rng, -30, 30);
            x[off[s] + i] = clgrad_testrng_uniform(&rng, -1, 1) * (float)pow(10.0, s == 7 ? e : 0);
        }
    clgrad_reduce_stats_ref(x, NS, off, len, r);
    CLGRAD_TRY(clgrad_buf_new(ctx, n, "selfcheck x", &dx));
    CLGRAD_TRY(clgrad_buf_new(ctx, 4 * (NS + 1), "selfcheck stats", &dout));
    CLGRAD_TRY(clgrad_buf_write(ctx, dx, 0, n, x));
    CLGRAD_TRY(clgrad_segs_new(ctx, NS, off, len, &segs));
    CLGRAD_TRY(clgrad_reduce_stats(ctx, dx, 0, segs, dout, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dout, 0, 4 * (NS + 1), o));
    double u = 0x1.0p-24, d = (double)clgrad_reduce_depth(ctx, clgrad_segs_chunks(segs)) + 1;
    double gam = d * u / (1 - d * u), tol_n = gam / 2 + 4 * u;
    double worst[4] = {0, 0, 0, 0};
    int bad[4] = {0, 0, 0, 0};
    for (size_t s = 0; s <= NS; s++) {
        size_t b = s < NS ? off[s] : 0, e = s < NS ? off[s] + len[s] : 0;
        double sabs = 0;
        if (s < NS) for (size_t i = b; i < e; i++) sabs += fabs(x[i]);
        else for (size_t t = 0; t < NS; t++) for (size_t i = off[t]; i < off[t] + len[t]; i++) sabs += fabs(x[i]);
        const float *ov = o + 4 * s;
        const double *rv = r + 4 * s;
        double err[4] = {fabs(ov[0] - rv[0]) / (gam * sabs + 0x1.0p-149),
                         fabs(ov[1] - rv[1]) / (tol_n * rv[1] + 0x1.0p-149), ov[2] == rv[2] ? 0 : INFINITY,
                         ov[3] == rv[3] ? 0 : INFINITY};
        for (int k = 0; k < 4; k++) {
            if (!(err[k] <= 1)) bad[k] = 1;
            if (err[k] > worst[k]) worst[k] = err[k];
        }
    }
    static const char *what[4] = {"sum (error / bound)", "norm2 1e-30..1e30 (error / bound)", "max |x| (exact)",
                                  "non-finite count (exact)"};
    for (int k = 0; k < 4; k++) report(user, "reduce", what[k], !bad[k], worst[k], 1.0);
fail:
    clgrad_segs_free(&segs);
    clgrad_buf_free(&dx), clgrad_buf_free(&dout);
    free(x), free(o), free(r);
    return st;
}
