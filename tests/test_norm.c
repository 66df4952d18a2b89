/*
** test_norm.c (device suite): the normalisation layers (cl/norm.cl,
** src/ops/norm.c) and the MLP's norm and residual blocks (src/nn/model.c).
**
** Kernels: layer norm, RMS norm and batch norm forward against a float64
** host model written from PyTorch's definitions (include/clgrad/norm.h),
** the input and parameter gradients against the host model's analytic
** gradients, and those against central finite differences of the host
** forward; batch 1 for the row norms, awkward widths; batch norm's running
** estimates after two training passes (momentum 0.1, unbiased variance) and
** the evaluation forward with them; the accumulate mode.  And bit for bit
** against a float32 host replica of the kernels' fixed order under every
** work-group size (the result depends on the shape alone).
**
** Models: every combination of norm (none, layernorm, rmsnorm, batchnorm),
** residual (none, pre, post) and final_norm on small MLPs: the logits against
** a float64 host model of the blocks in include/clgrad/model.h (written here,
** finding the tensors by their documented names), and every parameter
** gradient against central finite differences of that host model (step
** 1e-5 in float64: truncation ~1e-10).  Tolerances: float32 forward through
** a norm divides by a standard deviation, so the error scales with
** 2^-24 * N / std; the rows are O(1) here and we allow 2e-4 (1 + |ref|) for
** values and 2e-4 (1 + max |ref|) per tensor for gradients (measured ~1e-6).
** The scalar objective is L = <G, logits> (test_model.c's).
*/
#include "fixture.h"
#include "clgrad/model.h"
#include "clgrad/norm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 host norm ---- */

/* y = norm(x) (B, N); training batch norm updates rm, rv (may be NULL otherwise) */
static void norm_ref_(clgrad_normlayer k, size_t B, size_t N, const double *x, const double *w, const double *b,
                      double eps, int training, double *rm, double *rv, double *y)
{
    if (k == CLGRAD_NL_BATCH) {
        for (size_t c = 0; c < N; c++) {
            double mean = 0, q = 0;
            if (training) {
                for (size_t r = 0; r < B; r++) mean += x[r * N + c];
                mean /= (double)B;
                for (size_t r = 0; r < B; r++) q += (x[r * N + c] - mean) * (x[r * N + c] - mean);
                rm[c] = 0.9 * rm[c] + 0.1 * mean;
                rv[c] = 0.9 * rv[c] + 0.1 * q / (double)(B - 1);
                q /= (double)B;
            } else {
                mean = rm[c], q = rv[c];
            }
            for (size_t r = 0; r < B; r++) y[r * N + c] = (x[r * N + c] - mean) / sqrt(q + eps) * w[c] + (b ? b[c] : 0);
        }
        return;
    }
    for (size_t r = 0; r < B; r++) {
        const double *xr = x + r * N;
        double mean = 0, q = 0;
        if (k == CLGRAD_NL_LAYER) {
            for (size_t j = 0; j < N; j++) mean += xr[j];
            mean /= (double)N;
        }
        for (size_t j = 0; j < N; j++) q += (xr[j] - mean) * (xr[j] - mean);
        double rstd = 1 / sqrt(q / (double)N + eps);
        for (size_t j = 0; j < N; j++) y[r * N + j] = (xr[j] - mean) * rstd * w[j] + (b ? b[j] : 0);
    }
}

/* analytic backward (training statistics): dx, dw, db from dy */
static void norm_ref_back_(clgrad_normlayer k, size_t B, size_t N, const double *x, const double *w, double eps,
                           const double *dy, double *dx, double *dw, double *db)
{
    int batch = k == CLGRAD_NL_BATCH;
    size_t groups = batch ? N : B, len = batch ? B : N;
    for (size_t c = 0; c < N; c++) dw[c] = db[c] = 0;
    for (size_t gi = 0; gi < groups; gi++) {
#define IX(i) (batch ? (i) * N + gi : gi * N + (i))
        double mean = 0, q = 0, sg = 0, sgx = 0;
        if (k != CLGRAD_NL_RMS) {
            for (size_t i = 0; i < len; i++) mean += x[IX(i)];
            mean /= (double)len;
        }
        for (size_t i = 0; i < len; i++) q += (x[IX(i)] - mean) * (x[IX(i)] - mean);
        double rstd = 1 / sqrt(q / (double)len + eps);
        for (size_t i = 0; i < len; i++) {
            size_t j = IX(i), c = j % N;
            double xh = (x[j] - mean) * rstd, g = dy[j] * w[c];
            sg += g, sgx += g * xh;
            dw[c] += dy[j] * xh, db[c] += dy[j];
        }
        double mg = k == CLGRAD_NL_RMS ? 0 : sg / (double)len, mgx = sgx / (double)len;
        for (size_t i = 0; i < len; i++) {
            size_t j = IX(i), c = j % N;
            double xh = (x[j] - mean) * rstd, g = dy[j] * w[c];
            dx[j] = rstd * (g - mg - xh * mgx);
        }
#undef IX
    }
}

static double dot_(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* The conditioning of the normalisation of x: the largest max|x| / sqrt(var + eps) over its groups
** (columns for batch norm, rows for layer and RMS norm; RMS: the mean square, no centring).  float32's
** variance of nearly equal values (batch norm of 2 rows) loses about kappa^2 ulps: the tolerances below
** grow with it (4 ulps of float32 per kappa^2, seen 0.4, above the base tolerances). */
static double kappa_(clgrad_normlayer k, size_t B, size_t N, const double *x, double eps)
{
    int cols = k == CLGRAD_NL_BATCH;
    size_t ng = cols ? N : B, len = cols ? B : N, st = cols ? N : 1, gs = cols ? 1 : N;
    double kap = 0;
    for (size_t g = 0; g < ng; g++) {
        double m = 0, v = 0, am = 0;
        for (size_t i = 0; i < len; i++) m += x[g * gs + i * st];
        m = k == CLGRAD_NL_RMS ? 0 : m / (double)len;
        for (size_t i = 0; i < len; i++) {
            double d = x[g * gs + i * st] - m;
            v += d * d, am = fmax(am, fabs(x[g * gs + i * st]));
        }
        kap = fmax(kap, am / sqrt(v / (double)len + eps));
    }
    return kap;
}

static const size_t shapes_[][2] = {{1, 1}, {1, 7}, {2, 1}, {2, 5}, {3, 33}, {9, 64}, {17, 300}, {64, 3}, {257, 17}};
#define NSHAPES ((int)(sizeof shapes_ / sizeof shapes_[0]))

static void kernel_case_(clgrad_normlayer k, size_t B, size_t N, uint64_t salt)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_testrng rng = fixture_rng(salt);
    size_t n = B * N;
    int has_b = k != CLGRAD_NL_RMS;
    double eps = clgrad_normlayer_default_eps(k);
    float *xf = malloc(n * sizeof *xf), *dyf = malloc(n * sizeof *dyf), *pf = malloc(2 * N * sizeof *pf),
          *yf = malloc(n * sizeof *yf), *dxf = malloc(n * sizeof *dxf), *gf = malloc(2 * N * sizeof *gf),
          *runf = malloc(2 * N * sizeof *runf);
    double *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy), *w = malloc(N * sizeof *w),
           *b = malloc(N * sizeof *b), *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx),
           *dw = malloc(N * sizeof *dw), *db = malloc(N * sizeof *db), *rm = malloc(N * sizeof *rm),
           *rv = malloc(N * sizeof *rv), *tmp = malloc(n * sizeof *tmp);
    double shift = clgrad_testrng_uniform(&rng, -2, 2);
    for (size_t i = 0; i < n; i++) xf[i] = (float)(shift + clgrad_testrng_uniform(&rng, -1, 1)), x[i] = xf[i];
    for (size_t i = 0; i < n; i++) dyf[i] = clgrad_testrng_uniform(&rng, -1, 1), dy[i] = dyf[i];
    for (size_t c = 0; c < N; c++) {
        pf[c] = clgrad_testrng_uniform(&rng, 0.5, 1.5), w[c] = pf[c];
        pf[N + c] = clgrad_testrng_uniform(&rng, -0.5, 0.5), b[c] = pf[N + c];
        runf[c] = clgrad_testrng_uniform(&rng, -0.2, 0.2), rm[c] = runf[c];
        runf[N + c] = clgrad_testrng_uniform(&rng, 0.5, 2), rv[c] = runf[N + c];
    }
    cl_mem X = fixture_upload(xf, n, "x"), DY = fixture_upload(dyf, n, "dy"), P = fixture_upload(pf, 2 * N, "p"),
           RUN = fixture_upload(runf, 2 * N, "run"), Y = NULL, DX = NULL, G = NULL, ST = NULL;
    FX_OK(clgrad_buf_new(ctx, n, "y", &Y));
    FX_OK(clgrad_buf_new(ctx, n, "dx", &DX));
    FX_OK(clgrad_buf_new(ctx, 2 * N, "g", &G));
    FX_OK(clgrad_buf_new(ctx, clgrad_norm_stats_floats(k, B, N), "st", &ST));
    clgrad_norm_args a = {0};
    a.kind = k, a.B = B, a.N = N, a.eps = (float)eps, a.p = P, a.woff = 0, a.boff = N, a.has_bias = has_b;
    a.st = ST, a.soff = 0, a.training = 1, a.momentum = 0.1f, a.run = RUN, a.rmoff = 0, a.rvoff = N;
    if (k == CLGRAD_NL_BATCH && B < 2) {
        ck_assert(clgrad_norm_forward(ctx, &a, X, 0, Y, 0) == CLGRAD_E_ARG);
        goto done;
    }
    /* forward (training) */
    FX_OK(clgrad_norm_forward(ctx, &a, X, 0, Y, 0));
    fixture_download(Y, yf, n);
    norm_ref_(k, B, N, x, w, has_b ? b : NULL, eps, 1, rm, rv, y);
    const double kap = kappa_(k, B, N, x, eps), ftol = fmax(2e-5, 2.4e-7 * kap * kap); /* see kappa_ */
    ck_assert_msg(fixture_check("norm forward", yf, y, n, ftol, 2e-5) == 0, "%s forward %zux%zu (kappa %g)",
                  clgrad_normlayer_name(k), B, N, kap);
    /* backward: dx, dw, db against the analytic float64 gradient */
    FX_OK(clgrad_norm_backward(ctx, &a, X, 0, DY, 0, DX, 0, 0, G, 0, N));
    fixture_download(DX, dxf, n);
    fixture_download(G, gf, 2 * N);
    norm_ref_back_(k, B, N, x, w, eps, dy, dx, dw, db);
    double mx = 0, cond = fmax(1e-4, 2.4e-7 * kap * kap);
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(dx[i]));
    ck_assert_msg(fixture_check("norm dx", dxf, dx, n, cond * (1 + mx), 0) == 0, "%s dx %zux%zu (kappa %g)",
                  clgrad_normlayer_name(k), B, N, kap);
    ck_assert(fixture_check("norm dw", gf, dw, N, cond * (double)(B + 1), 1e-5) == 0);
    if (has_b) ck_assert(fixture_check("norm db", gf + N, db, N, 1e-5 * (double)(B + 1), 1e-5) == 0);
    /* the analytic gradient against central differences of the host forward (L = <dy, y>) */
    {
        double h = 1e-6, r1[1] = {0}, r2[1] = {0}; /* h^2 f''' stays below the bound (1e-5: 2.4e-5 for one seed) */
        double *xx = malloc(n * sizeof *xx), *ww = malloc(N * sizeof *ww);
        memcpy(xx, x, n * sizeof *xx), memcpy(ww, w, N * sizeof *ww);
        double *rmc = calloc(N, sizeof *rmc), *rvc = calloc(N, sizeof *rvc);
        for (size_t i = 0; i < n; i += 1 + n / 41) {
            xx[i] = x[i] + h;
            norm_ref_(k, B, N, xx, w, has_b ? b : NULL, eps, 1, rmc, rvc, tmp);
            r1[0] = dot_(tmp, dy, n);
            xx[i] = x[i] - h;
            norm_ref_(k, B, N, xx, w, has_b ? b : NULL, eps, 1, rmc, rvc, tmp);
            r2[0] = dot_(tmp, dy, n);
            xx[i] = x[i];
            double fd = (r1[0] - r2[0]) / (2 * h);
            ck_assert_msg(fabs(fd - dx[i]) <= 1e-5 * (1 + fabs(fd)), "%s fd dx[%zu] %.10g vs %.10g",
                          clgrad_normlayer_name(k), i, fd, dx[i]);
        }
        for (size_t c = 0; c < N; c += 1 + N / 13) {
            ww[c] = w[c] + h;
            norm_ref_(k, B, N, x, ww, has_b ? b : NULL, eps, 1, rmc, rvc, tmp);
            r1[0] = dot_(tmp, dy, n);
            ww[c] = w[c] - h;
            norm_ref_(k, B, N, x, ww, has_b ? b : NULL, eps, 1, rmc, rvc, tmp);
            r2[0] = dot_(tmp, dy, n);
            ww[c] = w[c];
            double fd = (r1[0] - r2[0]) / (2 * h);
            ck_assert_msg(fabs(fd - dw[c]) <= 1e-5 * (1 + fabs(fd)), "fd dw[%zu]", c);
        }
        free(xx), free(ww), free(rmc), free(rvc);
    }
    /* accumulate mode: dx += the same gradient */
    FX_OK(clgrad_norm_backward(ctx, &a, X, 0, DY, 0, DX, 0, 1, G, 0, N));
    {
        float *d2 = malloc(n * sizeof *d2);
        fixture_download(DX, d2, n);
        for (size_t i = 0; i < n; i++) ck_assert_msg(d2[i] == dxf[i] + dxf[i], "accumulate at %zu", i);
        free(d2);
    }
    if (k == CLGRAD_NL_BATCH) {
        /* a second training pass, then the running estimates and the evaluation forward */
        FX_OK(clgrad_norm_forward(ctx, &a, X, 0, Y, 0));
        norm_ref_(k, B, N, x, w, b, eps, 1, rm, rv, y);
        fixture_download(RUN, runf, 2 * N);
        ck_assert(fixture_check("running_mean", runf, rm, N, 1e-6, 1e-5) == 0);
        ck_assert(fixture_check("running_var", runf + N, rv, N, 1e-6, 1e-5) == 0);
        a.training = 0;
        FX_OK(clgrad_norm_forward(ctx, &a, X, 0, Y, 0));
        fixture_download(Y, yf, n);
        norm_ref_(k, B, N, x, w, b, eps, 0, rm, rv, y);
        ck_assert(fixture_check("batchnorm eval forward", yf, y, n, 2e-5, 2e-5) == 0);
        /* evaluation leaves the running estimates alone */
        float *r2 = malloc(2 * N * sizeof *r2);
        fixture_download(RUN, r2, 2 * N);
        ck_assert(memcmp(r2, runf, 2 * N * sizeof *r2) == 0);
        free(r2);
    }
done:
    clgrad_buf_free(&X), clgrad_buf_free(&DY), clgrad_buf_free(&P), clgrad_buf_free(&RUN), clgrad_buf_free(&Y);
    clgrad_buf_free(&DX), clgrad_buf_free(&G), clgrad_buf_free(&ST);
    free(xf), free(dyf), free(pf), free(yf), free(dxf), free(gf), free(runf);
    free(x), free(dy), free(w), free(b), free(y), free(dx), free(dw), free(db), free(rm), free(rv), free(tmp);
}

START_TEST(kernels)
{
    for (int s = 0; s < NSHAPES; s++)
        kernel_case_((clgrad_normlayer)(_i + 1), shapes_[s][0], shapes_[s][1], 100 * (uint64_t)_i + (uint64_t)s);
}
END_TEST

/* ---- float32 replica of cl/norm.cl's fixed order, for the bitwise checks ---- */

static void rep_forward_(clgrad_normlayer k, size_t B, size_t N, float eps, const float *x, const float *w,
                         const float *b, float *y, float *st)
{
    if (k == CLGRAD_NL_BATCH) {
        for (size_t c = 0; c < N; c++) {
            float s = 0.0f, q = 0.0f;
            for (size_t r = 0; r < B; r++) s = s + x[r * N + c];
            float mean = s / (float)B;
            for (size_t r = 0; r < B; r++) {
                float d = x[r * N + c] - mean;
                q = q + d * d;
            }
            float rstd = 1.0f / sqrtf(q / (float)B + eps);
            for (size_t r = 0; r < B; r++) {
                float v = (x[r * N + c] - mean) * rstd;
                v = v * w[c];
                v = v + b[c];
                y[r * N + c] = v;
            }
            st[2 * c] = mean, st[2 * c + 1] = rstd;
        }
        return;
    }
    for (size_t r = 0; r < B; r++) {
        const float *xr = x + r * N;
        float mean = 0.0f, q = 0.0f;
        if (k == CLGRAD_NL_LAYER) {
            float s = 0.0f;
            for (size_t j = 0; j < N; j++) s = s + xr[j];
            mean = s / (float)N;
        }
        for (size_t j = 0; j < N; j++) {
            float d = xr[j] - mean;
            q = q + d * d;
        }
        float rstd = 1.0f / sqrtf(q / (float)N + eps);
        for (size_t j = 0; j < N; j++) {
            float v = (xr[j] - mean) * rstd;
            v = v * w[j];
            if (b) v = v + b[j];
            y[r * N + j] = v;
        }
        st[2 * r] = mean, st[2 * r + 1] = rstd;
    }
}

static void rep_backward_(clgrad_normlayer k, size_t B, size_t N, const float *x, const float *w, const float *st,
                          const float *dy, float *dx, float *dw, float *db)
{
    int batch = k == CLGRAD_NL_BATCH;
    size_t groups = batch ? N : B, len = batch ? B : N;
    for (size_t gi = 0; gi < groups; gi++) {
#define IX(i) (batch ? (i) * N + gi : gi * N + (i))
        float mean = st[2 * gi], rstd = st[2 * gi + 1], sg = 0.0f, sgx = 0.0f;
        for (size_t i = 0; i < len; i++) {
            size_t j = IX(i);
            float xh = (x[j] - mean) * rstd, g = dy[j] * w[j % N];
            sg = sg + g;
            sgx = sgx + g * xh;
        }
        float mg = k == CLGRAD_NL_RMS ? 0.0f : sg / (float)len, mgx = sgx / (float)len;
        for (size_t i = 0; i < len; i++) {
            size_t j = IX(i);
            float xh = (x[j] - mean) * rstd, g = dy[j] * w[j % N];
            dx[j] = rstd * ((g - mg) - xh * mgx);
        }
#undef IX
    }
    for (size_t c = 0; c < N; c++) {
        float sw = 0.0f, sb = 0.0f;
        for (size_t r = 0; r < B; r++) {
            size_t i = r * N + c, si = batch ? 2 * c : 2 * r;
            float xh = (x[i] - st[si]) * st[si + 1], d = dy[i];
            sw = sw + d * xh;
            sb = sb + d;
        }
        dw[c] = sw, db[c] = sb;
    }
}

/* Every kernel, bit for bit against the float32 replica of its fixed order,
** under every work-group size the device allows: the result depends on the
** shape alone. */
START_TEST(bitwise_wg)
{
    if (!fixture_denorms()) return; /* a device that flushes denormals cannot match a host replica */
    clgrad_ctx *ctxs[9] = {NULL};
    ctxs[0] = fixture_ctx();
    for (int w = 0; w < fixture_nwgs && w < 8; w++) ctxs[w + 1] = fixture_open_wg("norm.cl", fixture_wgs[w]);
    size_t bad = 0;
    for (int kk = 1; kk <= 3; kk++)
        for (int si = 0; si < NSHAPES; si++) {
            clgrad_normlayer k = (clgrad_normlayer)kk;
            size_t B = shapes_[si][0], N = shapes_[si][1], n = B * N, ns = 2 * (B > N ? B : N);
            if (k == CLGRAD_NL_BATCH && B < 2) continue;
            float eps = (float)clgrad_normlayer_default_eps(k);
            float *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy), *p = malloc(2 * N * sizeof *p),
                  *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *g = malloc(2 * N * sizeof *g),
                  *st = malloc(ns * sizeof *st), *o = malloc(n * sizeof *o), *og = malloc(2 * N * sizeof *og);
            clgrad_testrng r = fixture_rng(500 + 10 * (uint64_t)kk + (uint64_t)si);
            for (size_t i = 0; i < n; i++) x[i] = clgrad_testrng_uniform(&r, -3, 3), dy[i] = clgrad_testrng_uniform(&r, -1, 1);
            for (size_t i = 0; i < 2 * N; i++) p[i] = clgrad_testrng_uniform(&r, -1.5, 1.5);
            rep_forward_(k, B, N, eps, x, p, k == CLGRAD_NL_RMS ? NULL : p + N, y, st);
            rep_backward_(k, B, N, x, p, st, dy, dx, g, g + N);
            for (int w = 0; w < 9; w++) {
                clgrad_ctx *c = ctxs[w];
                if (!c) continue;
                cl_mem X = NULL, DY = NULL, P = NULL, Y = NULL, DX = NULL, G = NULL, ST = NULL, RUN = NULL;
                ck_assert(clgrad_buf_new(c, n, "x", &X) == CLGRAD_OK && clgrad_buf_write(c, X, 0, n, x) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, n, "dy", &DY) == CLGRAD_OK && clgrad_buf_write(c, DY, 0, n, dy) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, 2 * N, "p", &P) == CLGRAD_OK && clgrad_buf_write(c, P, 0, 2 * N, p) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, n, "y", &Y) == CLGRAD_OK && clgrad_buf_new(c, n, "dx", &DX) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, 2 * N, "g", &G) == CLGRAD_OK && clgrad_buf_new(c, ns, "st", &ST) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, 2 * N, "run", &RUN) == CLGRAD_OK && clgrad_buf_fill(c, RUN, 0, 2 * N, 0.5f) == CLGRAD_OK);
                clgrad_norm_args a = {0};
                a.kind = k, a.B = B, a.N = N, a.eps = eps, a.p = P, a.woff = 0, a.boff = N, a.has_bias = k != CLGRAD_NL_RMS;
                a.st = ST, a.training = 1, a.momentum = 0.1f, a.run = RUN, a.rmoff = 0, a.rvoff = N;
                ck_assert_msg(clgrad_norm_forward(c, &a, X, 0, Y, 0) == CLGRAD_OK, "%s", clgrad_errmsg(c));
                ck_assert(clgrad_norm_backward(c, &a, X, 0, DY, 0, DX, 0, 0, G, 0, N) == CLGRAD_OK);
                ck_assert(clgrad_buf_read(c, Y, 0, n, o) == CLGRAD_OK);
                size_t e = fixture_check_bits("norm forward", o, y, n);
                ck_assert(clgrad_buf_read(c, DX, 0, n, o) == CLGRAD_OK);
                e += fixture_check_bits("norm dx", o, dx, n);
                ck_assert(clgrad_buf_read(c, G, 0, 2 * N, og) == CLGRAD_OK);
                e += fixture_check_bits("norm dw", og, g, N);
                if (k != CLGRAD_NL_RMS) e += fixture_check_bits("norm db", og + N, g + N, N);
                if (e) bad++, fprintf(stderr, "  %s %zu x %zu WG %zu differs from the replica\n", clgrad_normlayer_name(k), B, N, clgrad_wg(c));
                clgrad_buf_free(&X), clgrad_buf_free(&DY), clgrad_buf_free(&P), clgrad_buf_free(&Y);
                clgrad_buf_free(&DX), clgrad_buf_free(&G), clgrad_buf_free(&ST), clgrad_buf_free(&RUN);
            }
            free(x), free(dy), free(p), free(y), free(dx), free(g), free(st), free(o), free(og);
        }
    for (int w = 1; w < 9; w++) clgrad_ctx_free(ctxs[w]);
    ck_assert_msg(bad == 0, "%zu norm results differ from the fixed order", bad);
}
END_TEST

/* ---- models ---- */

typedef struct {
    clgrad_normlayer norm;
    int residual, final_norm;
    size_t F, K, B;
    int nh;
    long hidden[4];
    clgrad_act acts[4];
    int bias;
} net_;

static const clgrad_tensor *find_(const clgrad_model *m, const char *name)
{
    for (int i = 0; i < clgrad_model_ntensors(m); i++)
        if (!strcmp(clgrad_model_tensor(m, i)->name, name)) return clgrad_model_tensor(m, i);
    return NULL;
}

/* Linear: y (B, N) = x W^T + b from tensors "<idx>.weight", "<idx>.bias" */
static void lin_ref_(const clgrad_model *m, const double *p, int idx, size_t B, size_t K, size_t N, const double *x,
                     double *y)
{
    char nm[48];
    snprintf(nm, sizeof nm, "%d.weight", idx);
    const clgrad_tensor *W = find_(m, nm);
    snprintf(nm, sizeof nm, "%d.bias", idx);
    const clgrad_tensor *b = find_(m, nm);
    ck_assert_msg(W && W->rows == N && W->cols == K, "tensor %d.weight", idx);
    for (size_t r = 0; r < B; r++)
        for (size_t o = 0; o < N; o++) {
            double s = b ? p[b->off + o] : 0;
            for (size_t i = 0; i < K; i++) s += x[r * K + i] * p[W->off + o * K + i];
            y[r * N + o] = s;
        }
}

/* Norm "<idx>" in training mode (rm, rv: scratch) or evaluation mode (rm, rv: the running estimates) */
static void nrm_ref_(const net_ *n, const clgrad_model *m, const double *p, int idx, size_t B, size_t N,
                     const double *x, double *y, int training, double *rm, double *rv)
{
    char nm[48];
    snprintf(nm, sizeof nm, "%d.weight", idx);
    const clgrad_tensor *w = find_(m, nm);
    snprintf(nm, sizeof nm, "%d.bias", idx);
    const clgrad_tensor *b = find_(m, nm);
    ck_assert_msg(w && w->norm == 1 && w->cols == N, "norm tensor %d.weight", idx);
    ck_assert_msg((b != NULL) == (n->norm != CLGRAD_NL_RMS), "norm tensor %d.bias", idx);
    norm_ref_(n->norm, B, N, x, p + w->off, b ? p + b->off : NULL, clgrad_normlayer_default_eps(n->norm), training, rm,
              rv, y);
}

/* The blocks of include/clgrad/model.h in float64.  run: when not NULL, batch
** norm's running estimates (2 * max width per norm, in order) used in
** evaluation mode (training = 0) or updated (training = 1). */
static double model_ref_(const net_ *n, const clgrad_model *m, const double *p, const float *x, const double *G,
                         double *logits, int training, double *run)
{
    size_t B = n->B, W = 64;
    double *h = calloc(B * W, sizeof *h), *t1 = calloc(B * W, sizeof *t1), *t2 = calloc(B * W, sizeof *t2);
    double scratch[2 * 64];
    size_t K = n->F;
    for (size_t i = 0; i < B * K; i++) h[i] = x[i];
    int idx = 0, ni = 0;
#define RUNP(i) (run ? run + 2 * 64 * (size_t)(i) : scratch), (run ? run + 2 * 64 * (size_t)(i) + 64 : scratch + 64)
    for (int l = 0; l < n->nh; l++) {
        size_t N = (size_t)n->hidden[l];
        int res = n->residual != CLGRAD_RES_NONE && l >= 1;
        if (!res) {
            lin_ref_(m, p, idx, B, K, N, h, t1);
            if (n->residual == CLGRAD_RES_NONE && n->norm != CLGRAD_NL_NONE) {
                nrm_ref_(n, m, p, idx + 1, B, N, t1, t2, training, RUNP(ni)), ni++;
                memcpy(t1, t2, B * N * sizeof *t1);
                idx += 3;
            } else {
                idx += 2;
            }
            for (size_t i = 0; i < B * N; i++) h[i] = clgrad_activation_ref_forward(n->acts[l], 0.01, t1[i]);
        } else if (n->residual == CLGRAD_RES_POST) {
            lin_ref_(m, p, idx, B, K, N, h, t1);
            for (size_t i = 0; i < B * N; i++) t1[i] = h[i] + clgrad_activation_ref_forward(n->acts[l], 0.01, t1[i]);
            if (n->norm != CLGRAD_NL_NONE) {
                nrm_ref_(n, m, p, idx + 2, B, N, t1, h, training, RUNP(ni)), ni++;
                idx += 3;
            } else {
                memcpy(h, t1, B * N * sizeof *h);
                idx += 2;
            }
        } else {
            const double *in = h;
            if (n->norm != CLGRAD_NL_NONE) {
                nrm_ref_(n, m, p, idx, B, K, h, t2, training, RUNP(ni)), ni++;
                in = t2;
                idx++;
            }
            lin_ref_(m, p, idx, B, K, N, in, t1);
            for (size_t i = 0; i < B * N; i++) h[i] += clgrad_activation_ref_forward(n->acts[l], 0.01, t1[i]);
            idx += 2;
        }
        K = N;
    }
    if (n->final_norm) {
        nrm_ref_(n, m, p, idx, B, K, h, t2, training, RUNP(ni)), ni++;
        memcpy(h, t2, B * K * sizeof *h);
        idx++;
    }
#undef RUNP
    lin_ref_(m, p, idx, B, K, n->K, h, logits);
    double L = dot_(logits, G, B * n->K);
    free(h), free(t1), free(t2);
    return L;
}

static void model_case_(const net_ *n, uint64_t salt)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_model_spec s = {0};
    s.kind = CLGRAD_MODEL_MLP, s.in = n->F, s.seq_len = 1, s.out = n->K, s.nhidden = n->nh, s.hidden = n->hidden;
    s.acts = n->acts, s.act_param = 0.01f, s.bias = n->bias, s.max_batch = n->B + 2, s.forget_bias = NAN;
    s.norm = n->norm, s.residual = n->residual, s.final_norm = n->final_norm, s.norm_eps = NAN;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &s, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed() + salt));
    size_t np = clgrad_model_nparams(m), B = n->B, nx = B * n->F, nl = B * n->K;
    float *pf = malloc(np * sizeof *pf), *gf = malloc(np * sizeof *gf), *x = malloc(nx * sizeof *x),
          *lf = malloc(nl * sizeof *lf), *Gf = malloc(nl * sizeof *Gf);
    double *p = malloc(np * sizeof *p), *G = malloc(nl * sizeof *G), *lr = malloc(nl * sizeof *lr),
           *fd = malloc(np * sizeof *fd), *tol = malloc(np * sizeof *tol);
    double *run = calloc(2 * 64 * 8, sizeof *run);
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 64; c++) run[2 * 64 * i + 64 + c] = 1.0;
    clgrad_testrng rng = fixture_rng(salt);
    for (size_t i = 0; i < nx; i++) x[i] = clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nl; i++) Gf[i] = clgrad_testrng_uniform(&rng, -1, 1), G[i] = Gf[i];
    /* perturb the norms' weights and biases away from 1 and 0, so their gradients take part fully */
    fixture_download(clgrad_model_params(m), pf, np);
    for (int ti = 0; ti < clgrad_model_ntensors(m); ti++) {
        const clgrad_tensor *t = clgrad_model_tensor(m, ti);
        for (size_t i = 0; t->norm && i < t->cols; i++) pf[t->off + i] += clgrad_testrng_uniform(&rng, -0.3, 0.3);
    }
    FX_OK(clgrad_buf_write(ctx, clgrad_model_params(m), 0, np, pf));
    for (size_t i = 0; i < np; i++) p[i] = pf[i];

    cl_mem dx = fixture_upload(x, nx, "x"), dG = fixture_upload(Gf, nl, "G");
    FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
    FX_OK(clgrad_model_backward(ctx, m, dG, 0, B));
    FX_OK(clgrad_buf_read(ctx, clgrad_model_logits(m), 0, nl, lf));
    fixture_download(clgrad_model_grads(m), gf, np);
    model_ref_(n, m, p, x, G, lr, 1, run);
    ck_assert_msg(fixture_check("logits", lf, lr, nl, 2e-4, 2e-4) == 0, "forward (norm %d residual %d final %d)",
                  (int)n->norm, n->residual, n->final_norm);
    /* every gradient against central differences of the float64 model */
    double h = 1e-5;
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = model_ref_(n, m, p, x, G, lr, 1, NULL);
        p[i] = keep - h;
        double lm = model_ref_(n, m, p, x, G, lr, 1, NULL);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    for (int ti = 0; ti < clgrad_model_ntensors(m); ti++) {
        const clgrad_tensor *t = clgrad_model_tensor(m, ti);
        double mx = 0;
        for (size_t i = 0; i < t->rows * t->cols; i++) mx = fmax(mx, fabs(fd[t->off + i]));
        /* 1e-3 of the tensor's largest gradient: float32 through batch
        ** statistics of a few rows amplifies rounding (CLGRAD_TEST_SEED=
        ** 1796454893006750, batch norm: 3.2e-4 relative off the float64
        ** model, 2e-4 failed); a wrong formula is off by O(1), and the
        ** float32 replicas check the kernels' bits */
        for (size_t i = 0; i < t->rows * t->cols; i++) tol[t->off + i] = 1e-3 * (1 + mx);
        ck_assert_msg(fixture_check_tol(t->name, gf + t->off, fd + t->off, tol + t->off, t->rows * t->cols) == 0,
                      "gradient of %s (norm %d residual %d final %d)", t->name, (int)n->norm, n->residual,
                      n->final_norm);
    }
    if (n->norm == CLGRAD_NL_BATCH) {
        /* running estimates after one training forward, then the evaluation forward */
        ck_assert_int_eq(clgrad_model_batches_tracked(m), 1);
        ck_assert(clgrad_model_nbuffers(m) > 0);
        float rf[128];
        for (int i = 0; i < clgrad_model_nbuffers(m); i++) {
            const char *pre;
            size_t nn, mo, vo;
            clgrad_model_buffer(m, i, &pre, &nn, &mo, &vo);
            FX_OK(clgrad_buf_read(ctx, clgrad_model_running(m), mo, nn, rf));
            FX_OK(clgrad_buf_read(ctx, clgrad_model_running(m), vo, nn, rf + 64));
            ck_assert(fixture_check("running_mean", rf, run + 2 * 64 * (size_t)i, nn, 1e-5, 1e-4) == 0);
            ck_assert(fixture_check("running_var", rf + 64, run + 2 * 64 * (size_t)i + 64, nn, 1e-5, 1e-4) == 0);
        }
        /* a frozen training pass (the sharpness's extra passes) leaves the running estimates and the count alone */
        {
            float before[128], after[128];
            const char *pre;
            size_t nn, mo, vo;
            clgrad_model_buffer(m, 0, &pre, &nn, &mo, &vo);
            FX_OK(clgrad_buf_read(ctx, clgrad_model_running(m), mo, nn, before));
            clgrad_model_freeze_running(m, 1);
            FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
            clgrad_model_freeze_running(m, 0);
            FX_OK(clgrad_buf_read(ctx, clgrad_model_running(m), mo, nn, after));
            ck_assert(memcmp(before, after, nn * sizeof *before) == 0);
            ck_assert_int_eq(clgrad_model_batches_tracked(m), 1);
        }
        clgrad_model_set_training(m, 0);
        FX_OK(clgrad_model_forward(ctx, m, dx, 0, 1)); /* batch 1 is fine in evaluation */
        FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
        FX_OK(clgrad_buf_read(ctx, clgrad_model_logits(m), 0, nl, lf));
        model_ref_(n, m, p, x, G, lr, 0, run);
        ck_assert(fixture_check("eval logits", lf, lr, nl, 2e-4, 2e-4) == 0);
        ck_assert_int_eq(clgrad_model_batches_tracked(m), 1);
        clgrad_model_set_training(m, 1);
        ck_assert(clgrad_model_forward(ctx, m, dx, 0, 1) == CLGRAD_E_ARG); /* training batch 1: PyTorch's error */
    }
    /* metrics: finite gradient norms at every metric layer's output, and its input where there is one */
    cl_mem met = NULL;
    size_t nm = clgrad_model_metrics_size(m);
    FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
    FX_OK(clgrad_model_backward(ctx, m, dG, 0, B));
    FX_OK(clgrad_buf_new(ctx, nm, "metrics", &met));
    FX_OK(clgrad_model_metrics(ctx, m, B, met, 0));
    float *mv = malloc(nm * sizeof *mv);
    fixture_download(met, mv, nm);
    for (int l = 0; l < clgrad_model_nlayers(m); l++) {
        float ng = mv[CLGRAD_RS_SIZE * clgrad_model_out_grad_seg(m, l) + CLGRAD_RS_NORM2];
        /* (a layer norm of width 1 has a constant output: zero gradient below it) */
        ck_assert_msg(isfinite(ng) && ng >= 0, "out grad norm of layer %s: %g", clgrad_model_layer_name(m, l), ng);
        ck_assert(l < clgrad_model_nlayers(m) - 1 || ng > 0);
        int is = clgrad_model_in_grad_seg(m, l);
        ck_assert_msg(is >= 0 || l == 0, "layer %s has no input gradient", clgrad_model_layer_name(m, l));
        if (is >= 0) ck_assert(isfinite(mv[CLGRAD_RS_SIZE * is + CLGRAD_RS_NORM2]));
    }
    free(mv);
    clgrad_buf_free(&met), clgrad_buf_free(&dx), clgrad_buf_free(&dG);
    clgrad_model_free(m);
    free(pf), free(gf), free(x), free(lf), free(Gf), free(p), free(G), free(lr), free(fd), free(tol), free(run);
}

START_TEST(models)
{
    /* _i: norm (4) x residual (3); final_norm with a norm on the pre-norm nets */
    clgrad_normlayer nk = (clgrad_normlayer)(_i % 4);
    int res = _i / 4;
    net_ n = {0};
    n.norm = nk, n.residual = res, n.final_norm = nk != CLGRAD_NL_NONE && res == CLGRAD_RES_PRE;
    n.F = 5, n.K = 3, n.B = 6, n.bias = 1;
    n.nh = 3;
    n.hidden[0] = 7, n.hidden[1] = 7, n.hidden[2] = 7;
    n.acts[0] = CLGRAD_ACT_TANH, n.acts[1] = CLGRAD_ACT_GELU, n.acts[2] = CLGRAD_ACT_SIGMOID;
    if (res == CLGRAD_RES_NONE) n.hidden[1] = 11, n.hidden[2] = 1; /* awkward widths (width 1: a norm of one feature) */
    if (nk == CLGRAD_NL_NONE && res == CLGRAD_RES_NONE) n.final_norm = 0;
    model_case_(&n, 1000 + (uint64_t)_i);
    /* batch 1 through the row norms; no bias; a final norm without residual */
    if (nk == CLGRAD_NL_LAYER || nk == CLGRAD_NL_RMS) {
        n.B = 1, n.bias = 0, n.final_norm = 1, n.hidden[2] = 4;
        if (res != CLGRAD_RES_NONE) n.hidden[2] = 7;
        model_case_(&n, 2000 + (uint64_t)_i);
    }
}
END_TEST

START_TEST(config_errors)
{
    clgrad_ctx *ctx = fixture_ctx();
    static const long hid[] = {8, 8, 4};
    static const clgrad_act acts[] = {CLGRAD_ACT_RELU, CLGRAD_ACT_RELU, CLGRAD_ACT_RELU};
    clgrad_model_spec s = {0};
    s.kind = CLGRAD_MODEL_MLP, s.in = 3, s.seq_len = 1, s.out = 2, s.nhidden = 3, s.hidden = hid, s.acts = acts;
    s.bias = 1, s.max_batch = 4, s.forget_bias = NAN, s.norm_eps = NAN, s.residual = CLGRAD_RES_PRE;
    clgrad_model *m = NULL;
    ck_assert(clgrad_model_create(ctx, &s, &m) == CLGRAD_E_ARG && m == NULL);
    ck_assert(strstr(clgrad_errmsg(ctx), "hidden layers 2 and 3") != NULL);
    s.residual = CLGRAD_RES_NONE, s.final_norm = 1; /* final norm without a norm */
    ck_assert(clgrad_model_create(ctx, &s, &m) == CLGRAD_E_ARG && m == NULL);
}
END_TEST

int main(void)
{
    fixture_open("matmul.cl,activation.cl,reduce.cl,init.cl,model.cl,norm.cl");
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, kernels, 0, 3);
    tcase_add_loop_test(tc, models, 0, 12);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, bitwise_wg);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
