/*
** test_model.c (device suite): the MLP and the recurrent models (vanilla
** RNN, LSTM, GRU; stacked layers), forward and backward on the device against
** a float64 host model (written here from the PyTorch equations,
** independently of src/nn/model.c), the host model's gradients against central
** finite differences, and the per-time-step metrics (||dL/dh_t||,
** ||dL/dc_t||) against the host model's.  Also: the L1 subgradient kernel and
** the noise generator (gradient and input noise).
**
** The scalar objective is L = <G, logits> for a random G (B, K): its gradient
** with respect to the logits is G, so backward(G) must equal dL/dtheta.
**
** Tolerances: the device computes in float32; the forward logits are sums of
** O(width) products of O(1) terms passed through 1-Lipschitz activations, so
** the relative error is a small multiple of width * 2^-24; we allow
** 1e-4 * (1 + |ref|) for depth <= 4 and widths <= 65, (measured errors are
** ~1e-6).  Gradients: the same bound scaled by the largest |ref| of the
** tensor (gradients of different elements have very different sizes, so an
** element-wise relative bound on tiny entries would only test cancellation
** noise).  Finite differences: step 1e-5 in float64, truncation error
** O(h^2 f''') ~ 1e-10, rounding ~1e-16/h ~ 1e-11; we allow 1e-6 relative.
*/
#include "fixture.h"
#include "clgrad/model.h"
#include "core/internal.h"

/* the host build of the cells' arithmetic, the kernels' own source */
#include "../cl/math.cl"
#include "../cl/cell_fn.cl"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    clgrad_model_kind kind;
    size_t F, T, K, B;
    int nh;
    long hidden[4];
    clgrad_act acts[4];
    int bias;
    int L;           /* recurrent: stacked layers (0 = 1) */
    int set_fb;      /* LSTM: set the forget-gate bias to fb */
    double fb;
} net_;

static double rec_ref_(const net_ *n, const clgrad_model *m, const double *p, const float *x, const double *G,
                       double *grad, double *dlogits_out, double *dh_out, double *dc_out);

/* ---- float64 host model ---- */

/* tensor layout identical to the device's table (names and offsets come from there) */
static double ref_loss_(const net_ *n, const clgrad_model *m, const double *p, const float *x, const double *G,
                        double *grad /* may be NULL */, double *dlogits_out)
{
    size_t B = n->B;
    int nt = clgrad_model_ntensors(m);
    const clgrad_tensor *t[16];
    for (int i = 0; i < nt; i++) t[i] = clgrad_model_tensor(m, i);
    double L = 0;
    if (grad) memset(grad, 0, clgrad_model_nparams(m) * sizeof *grad);
    if (n->kind == CLGRAD_MODEL_MLP) {
        int nl = n->nh + 1, per = n->bias ? 2 : 1;
        size_t w[6];
        w[0] = n->F * n->T;
        for (int l = 0; l < n->nh; l++) w[l + 1] = (size_t)n->hidden[l];
        w[nl] = n->K;
        double *A[6], *Z[6];
        A[0] = malloc(B * w[0] * sizeof(double));
        for (size_t i = 0; i < B * w[0]; i++) A[0][i] = x[i];
        for (int l = 0; l < nl; l++) {
            const clgrad_tensor *W = t[l * per], *b = n->bias ? t[l * per + 1] : NULL;
            Z[l] = malloc(B * w[l + 1] * sizeof(double));
            A[l + 1] = malloc(B * w[l + 1] * sizeof(double));
            for (size_t r = 0; r < B; r++)
                for (size_t o = 0; o < w[l + 1]; o++) {
                    double s = b ? p[b->off + o] : 0;
                    for (size_t i = 0; i < w[l]; i++) s += A[l][r * w[l] + i] * p[W->off + o * w[l] + i];
                    Z[l][r * w[l + 1] + o] = s;
                    A[l + 1][r * w[l + 1] + o] =
                        l < nl - 1 ? clgrad_activation_ref_forward(n->acts[l], 0.01, s) : s;
                }
        }
        for (size_t i = 0; i < B * n->K; i++) L += G[i] * A[nl][i];
        if (dlogits_out) memcpy(dlogits_out, A[nl], B * n->K * sizeof(double));
        if (grad) {
            double *dZ = malloc(B * n->K * sizeof(double));
            memcpy(dZ, G, B * n->K * sizeof(double));
            for (int l = nl - 1; l >= 0; l--) {
                const clgrad_tensor *W = t[l * per], *b = n->bias ? t[l * per + 1] : NULL;
                for (size_t o = 0; o < w[l + 1]; o++)
                    for (size_t r = 0; r < B; r++) {
                        double d = dZ[r * w[l + 1] + o];
                        if (b) grad[b->off + o] += d;
                        for (size_t i = 0; i < w[l]; i++) grad[W->off + o * w[l] + i] += d * A[l][r * w[l] + i];
                    }
                if (l == 0) break;
                double *dprev = calloc(B * w[l], sizeof(double));
                for (size_t r = 0; r < B; r++)
                    for (size_t i = 0; i < w[l]; i++) {
                        double s = 0;
                        for (size_t o = 0; o < w[l + 1]; o++) s += dZ[r * w[l + 1] + o] * p[W->off + o * w[l] + i];
                        dprev[r * w[l] + i] = s * clgrad_activation_ref_derivative(n->acts[l - 1], 0.01, Z[l - 1][r * w[l] + i]);
                    }
                free(dZ);
                dZ = dprev;
            }
            free(dZ);
        }
        for (int l = 0; l <= nl; l++) free(A[l]);
        for (int l = 0; l < nl; l++) free(Z[l]);
        return L;
    }
    return rec_ref_(n, m, p, x, G, grad, dlogits_out, NULL, NULL);
}

static const clgrad_tensor *find_(const clgrad_model *m, const char *name)
{
    for (int i = 0; i < clgrad_model_ntensors(m); i++)
        if (!strcmp(clgrad_model_tensor(m, i)->name, name)) return clgrad_model_tensor(m, i);
    return NULL;
}

static double sig_(double z) { return 1.0 / (1.0 + exp(-z)); }

/* The recurrent models (RNN, LSTM, GRU; L layers), written from the PyTorch
** equations.  dh_out / dc_out, when not NULL, receive dL/dh_t and dL/dc_t of
** every layer: index ((l * T) + t - 1) * B * H. */
static double rec_ref_(const net_ *n, const clgrad_model *m, const double *p, const float *x, const double *G,
                       double *grad, double *dlogits_out, double *dh_out, double *dc_out)
{
    size_t B = n->B, H = (size_t)n->hidden[0], T = n->T, F = n->F, K = n->K, BH = B * H;
    int L = n->L > 0 ? n->L : 1, lstm = n->kind == CLGRAD_MODEL_LSTM, gru = n->kind == CLGRAD_MODEL_GRU;
    size_t Gn = lstm ? 4 : gru ? 3 : 1, GH = Gn * H;
    ck_assert(H <= 64 && F <= 64 && L <= 4); /* the fixed-size scratch below */
    const clgrad_tensor *wih[4], *whh[4], *bih[4], *bhh[4];
    char nm[48];
    for (int l = 0; l < L; l++) {
        snprintf(nm, sizeof nm, "rnn.weight_ih_l%d", l), wih[l] = find_(m, nm);
        snprintf(nm, sizeof nm, "rnn.weight_hh_l%d", l), whh[l] = find_(m, nm);
        snprintf(nm, sizeof nm, "rnn.bias_ih_l%d", l), bih[l] = find_(m, nm);
        snprintf(nm, sizeof nm, "rnn.bias_hh_l%d", l), bhh[l] = find_(m, nm);
        ck_assert(wih[l] && whh[l] && (!n->bias || bih[l]) && (n->kind == CLGRAD_MODEL_RNN || !n->bias || bhh[l]));
    }
    const clgrad_tensor *wfc = find_(m, "fc.weight"), *bfc = find_(m, "fc.bias");
    /* per layer: Hs (T+1, B, H), Cs (T+1, B, H), A (T, B, GA): RNN z; LSTM i f g o; GRU r z n hn */
    size_t GA = lstm || gru ? 4 * H : H;
    double *Hs = calloc((size_t)L * (T + 1) * BH, sizeof(double)), *Cs = calloc((size_t)L * (T + 1) * BH, sizeof(double));
    double *A = calloc((size_t)L * T * B * GA, sizeof(double));
#define HS(l, t) (Hs + ((size_t)(l) * (T + 1) + (t)) * BH)
#define CS(l, t) (Cs + ((size_t)(l) * (T + 1) + (t)) * BH)
#define AA(l, t) (A + ((size_t)(l) * T + (t)) * B * GA)
    for (int l = 0; l < L; l++) {
        size_t Fin = l == 0 ? F : H;
        for (size_t s = 0; s < T; s++)
            for (size_t r = 0; r < B; r++) {
                const double *hp = HS(l, s) + r * H;
                double in[64];
                for (size_t f = 0; f < Fin; f++) in[f] = l == 0 ? x[r * T * F + s * F + f] : HS(l - 1, s + 1)[r * H + f];
                /* pre[g] = x W_ih^T + b_ih (+ h W_hh^T + b_hh, except the GRU's n block) */
                double gi[256], gh[256];
                for (size_t g = 0; g < GH; g++) {
                    double a = bih[l] ? p[bih[l]->off + g] : 0, c = bhh[l] ? p[bhh[l]->off + g] : 0;
                    for (size_t f = 0; f < Fin; f++) a += p[wih[l]->off + g * Fin + f] * in[f];
                    for (size_t i = 0; i < H; i++) c += p[whh[l]->off + g * H + i] * hp[i];
                    gi[g] = a, gh[g] = c;
                }
                double *a = AA(l, s) + r * GA, *h = HS(l, s + 1) + r * H;
                for (size_t j = 0; j < H; j++) {
                    if (n->kind == CLGRAD_MODEL_RNN) {
                        a[j] = gi[j] + gh[j];
                        h[j] = clgrad_activation_ref_forward(n->acts[0], 0.01, a[j]);
                    } else if (lstm) {
                        double ig = sig_(gi[j] + gh[j]), fg = sig_(gi[H + j] + gh[H + j]),
                               gg = tanh(gi[2 * H + j] + gh[2 * H + j]), og = sig_(gi[3 * H + j] + gh[3 * H + j]);
                        a[j] = ig, a[H + j] = fg, a[2 * H + j] = gg, a[3 * H + j] = og;
                        double c = fg * CS(l, s)[r * H + j] + ig * gg;
                        CS(l, s + 1)[r * H + j] = c;
                        h[j] = og * tanh(c);
                    } else {
                        double rg = sig_(gi[j] + gh[j]), zg = sig_(gi[H + j] + gh[H + j]), hn = gh[2 * H + j];
                        double nn = tanh(gi[2 * H + j] + rg * hn);
                        a[j] = rg, a[H + j] = zg, a[2 * H + j] = nn, a[3 * H + j] = hn;
                        h[j] = (1 - zg) * nn + zg * hp[j];
                    }
                }
            }
    }
    double L_ = 0, *lg = malloc(B * K * sizeof(double));
    const double *Htop = HS(L - 1, T);
    for (size_t r = 0; r < B; r++)
        for (size_t k = 0; k < K; k++) {
            double s = bfc ? p[bfc->off + k] : 0;
            for (size_t j = 0; j < H; j++) s += p[wfc->off + k * H + j] * Htop[r * H + j];
            lg[r * K + k] = s;
            L_ += G[r * K + k] * s;
        }
    if (dlogits_out) memcpy(dlogits_out, lg, B * K * sizeof(double));
    if (grad || dh_out || dc_out) {
        double *gr = grad ? grad : calloc(clgrad_model_nparams(m), sizeof(double));
        double *dH = calloc((size_t)L * T * BH, sizeof(double)), *dC = calloc((size_t)L * T * BH, sizeof(double));
        double *dgi = calloc(B * GH, sizeof(double)), *dgh = calloc(B * GH, sizeof(double));
#define DH(l, t) (dH + ((size_t)(l) * T + (t) - 1) * BH)
#define DC(l, t) (dC + ((size_t)(l) * T + (t) - 1) * BH)
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < K; k++) {
                double g = G[r * K + k];
                if (bfc) gr[bfc->off + k] += g;
                for (size_t j = 0; j < H; j++) {
                    gr[wfc->off + k * H + j] += g * Htop[r * H + j];
                    DH(L - 1, T)[r * H + j] += g * p[wfc->off + k * H + j];
                }
            }
        for (int l = L - 1; l >= 0; l--) {
            size_t Fin = l == 0 ? F : H;
            for (size_t t = T; t >= 1; t--) {
                for (size_t r = 0; r < B; r++)
                    for (size_t j = 0; j < H; j++) {
                        size_t e = r * H + j;
                        const double *a = AA(l, t - 1) + r * GA;
                        double dh = DH(l, t)[e], hp = HS(l, t - 1)[e];
                        double *di = dgi + r * GH, *dq = dgh + r * GH;
                        if (n->kind == CLGRAD_MODEL_RNN) {
                            di[j] = dq[j] = dh * clgrad_activation_ref_derivative(n->acts[0], 0.01, a[j]);
                        } else if (lstm) {
                            double ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                            double tc = tanh(CS(l, t)[e]);
                            double dc = dh * og * (1 - tc * tc);
                            if (t < T) dc += DC(l, t + 1)[e] * AA(l, t)[r * GA + H + j];
                            DC(l, t)[e] = dc;
                            di[j] = dc * gg * ig * (1 - ig);
                            di[H + j] = dc * CS(l, t - 1)[e] * fg * (1 - fg);
                            di[2 * H + j] = dc * ig * (1 - gg * gg);
                            di[3 * H + j] = dh * tc * og * (1 - og);
                            for (size_t g = 0; g < 4; g++) dq[g * H + j] = di[g * H + j];
                        } else {
                            double rg = a[j], zg = a[H + j], nn = a[2 * H + j], hn = a[3 * H + j];
                            double dn = dh * (1 - zg) * (1 - nn * nn);
                            double dr = dn * hn * rg * (1 - rg), dz = dh * (hp - nn) * zg * (1 - zg);
                            di[j] = dq[j] = dr;
                            di[H + j] = dq[H + j] = dz;
                            di[2 * H + j] = dn;
                            dq[2 * H + j] = dn * rg;
                            if (t > 1) DH(l, t - 1)[e] += dh * zg;
                        }
                    }
                for (size_t r = 0; r < B; r++)
                    for (size_t g = 0; g < GH; g++) {
                        double d1 = dgi[r * GH + g], d2 = dgh[r * GH + g];
                        if (bih[l]) gr[bih[l]->off + g] += d1;
                        if (bhh[l]) gr[bhh[l]->off + g] += d2;
                        for (size_t f = 0; f < Fin; f++) {
                            double in = l == 0 ? x[r * T * F + (t - 1) * F + f] : HS(l - 1, t)[r * H + f];
                            gr[wih[l]->off + g * Fin + f] += d1 * in;
                            if (l > 0) DH(l - 1, t)[r * H + f] += d1 * p[wih[l]->off + g * Fin + f];
                        }
                        for (size_t i = 0; i < H; i++) {
                            gr[whh[l]->off + g * H + i] += d2 * HS(l, t - 1)[r * H + i];
                            if (t > 1) DH(l, t - 1)[r * H + i] += d2 * p[whh[l]->off + g * H + i];
                        }
                    }
            }
        }
        if (dh_out) memcpy(dh_out, dH, (size_t)L * T * BH * sizeof(double));
        if (dc_out) memcpy(dc_out, dC, (size_t)L * T * BH * sizeof(double));
        if (!grad) free(gr);
        free(dH), free(dC), free(dgi), free(dgh);
#undef DH
#undef DC
    }
#undef HS
#undef CS
#undef AA
    free(Hs), free(Cs), free(A), free(lg);
    return L_;
}

/* The recurrent metrics: every per-layer, per-step ||dL/dh_t|| (and LSTM
** ||dL/dc_t||) segment against the float64 model, the combined time-step norm
** and each layer's out-grad segment (its dL/dh_T).  Tolerance: the gradients'
** bound above (1e-4 relative to the largest norm of the series): the norms
** are of the same float32 gradients, and the reduction adds ~n u. */
static void check_time_metrics_(const net_ *n, const clgrad_model *m, const double *p, const float *x,
                                const double *G, const float *mv)
{
    size_t B = n->B, H = (size_t)n->hidden[0], T = n->T, BH = B * H;
    int L = n->L > 0 ? n->L : 1, lstm = n->kind == CLGRAD_MODEL_LSTM;
    double *dh = malloc((size_t)L * T * BH * sizeof(double)), *dc = malloc((size_t)L * T * BH * sizeof(double));
    rec_ref_(n, m, p, x, G, NULL, NULL, dh, dc);
    ck_assert_int_eq(clgrad_model_rlayers(m), L);
    ck_assert_int_eq(clgrad_model_has_cell(m), lstm);
    for (int cell = 0; cell <= lstm; cell++) {
        const double *src = cell ? dc : dh;
        double *ref = malloc((size_t)L * T * sizeof(double)), mx = 0;
        for (size_t lt = 0; lt < (size_t)L * T; lt++) {
            double s2 = 0;
            for (size_t i = 0; i < BH; i++) s2 += src[lt * BH + i] * src[lt * BH + i];
            ref[lt] = sqrt(s2);
            mx = fmax(mx, ref[lt]);
        }
        size_t base = cell ? (size_t)L * T + 1 : 0;
        for (size_t lt = 0; lt < (size_t)L * T; lt++) {
            double dev = mv[CLGRAD_RS_SIZE * (base + lt) + CLGRAD_RS_NORM2];
            ck_assert_msg(fabs(dev - ref[lt]) <= 1e-4 * (1 + mx), "%s norm, layer %zu step %zu: device %g, ref %g",
                          cell ? "cell" : "hidden", lt / T, lt % T + 1, dev, ref[lt]);
        }
        for (size_t t = 1; t <= T; t++) {
            double s2 = 0;
            for (int l = 0; l < L; l++) s2 += ref[(size_t)l * T + t - 1] * ref[(size_t)l * T + t - 1];
            double got = clgrad_model_timestep_norm(m, mv, t, cell);
            ck_assert_msg(fabs(got - sqrt(s2)) <= 1e-4 * (1 + mx) * L, "timestep norm t=%zu cell=%d: %g vs %g", t, cell,
                          got, sqrt(s2));
        }
        if (!cell)
            for (int l = 0; l < L; l++)
                ck_assert_int_eq(clgrad_model_out_grad_seg(m, l), (int)((size_t)l * T + T - 1));
        free(ref);
    }
    ck_assert(isnan(clgrad_model_timestep_norm(m, mv, 0, 0)) && isnan(clgrad_model_timestep_norm(m, mv, T + 1, 0)));
    if (!lstm) ck_assert(isnan(clgrad_model_timestep_norm(m, mv, 1, 1)));
    free(dh), free(dc);
}

static void run_(const net_ *n, int check_fd)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_model_spec s = {0};
    s.kind = n->kind, s.in = n->F, s.seq_len = n->T, s.out = n->K, s.nhidden = n->nh, s.hidden = n->hidden;
    s.acts = n->acts, s.act_param = 0.01f, s.bias = n->bias, s.max_batch = n->B + 3;
    s.layers = n->L, s.forget_bias = n->set_fb ? n->fb : NAN;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &s, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed()));
    size_t np = clgrad_model_nparams(m), B = n->B, nx = B * n->T * n->F, nl = B * n->K;
    float *pf = malloc(np * sizeof *pf), *gf = malloc(np * sizeof *gf), *x = malloc(nx * sizeof *x),
          *lf = malloc(nl * sizeof *lf), *Gf = malloc(nl * sizeof *Gf);
    double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *G = malloc(nl * sizeof *G),
           *lr = malloc(nl * sizeof *lr), *tol = malloc(np * sizeof *tol);
    clgrad_testrng rng = fixture_rng((uint64_t)n->kind * 1000 + (uint64_t)n->L * 100 + n->nh * 10 + B);
    for (size_t i = 0; i < nx; i++) x[i] = clgrad_testrng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < nl; i++) Gf[i] = clgrad_testrng_uniform(&rng, -1, 1), G[i] = Gf[i];
    fixture_download(clgrad_model_params(m), pf, np);
    for (size_t i = 0; i < np; i++) p[i] = pf[i];

    cl_mem dx = fixture_upload(x, nx, "x"), dG = fixture_upload(Gf, nl, "G");
    FX_OK(clgrad_model_forward(ctx, m, dx, 0, B));
    FX_OK(clgrad_model_backward(ctx, m, dG, 0, B));
    FX_OK(clgrad_buf_read(ctx, clgrad_model_logits(m), 0, nl, lf));
    fixture_download(clgrad_model_grads(m), gf, np);

    ref_loss_(n, m, p, x, G, g, lr);
    ck_assert_msg(fixture_check("logits", lf, lr, nl, 1e-4, 1e-4) == 0, "forward");
    for (int ti = 0; ti < clgrad_model_ntensors(m); ti++) {
        const clgrad_tensor *t = clgrad_model_tensor(m, ti);
        double mx = 0;
        for (size_t i = 0; i < t->rows * t->cols; i++) mx = fmax(mx, fabs(g[t->off + i]));
        for (size_t i = 0; i < t->rows * t->cols; i++) tol[t->off + i] = 1e-4 * (1 + mx);
        ck_assert_msg(fixture_check_tol(t->name, gf + t->off, g + t->off, tol + t->off, t->rows * t->cols) == 0,
                      "gradient of %s", t->name);
    }
    if (check_fd) {
        /* central differences on the float64 model, on a sample of parameters.
        ** A ReLU whose pre-activation lies within h of 0 puts a kink inside the
        ** difference (random inputs make that happen now and then): there the
        ** differences at h and h/4 disagree, and that parameter is skipped;
        ** at most a few may be. */
        double h = 1e-5;
        int checked = 0, kinks = 0;
        for (size_t i = 0; i < np; i += 1 + np / 97) {
            double keep = p[i], fd[2];
            for (int k = 0; k < 2; k++) {
                double hk = k ? h / 4 : h;
                p[i] = keep + hk;
                double lp = ref_loss_(n, m, p, x, G, NULL, NULL);
                p[i] = keep - hk;
                double lm = ref_loss_(n, m, p, x, G, NULL, NULL);
                p[i] = keep;
                fd[k] = (lp - lm) / (2 * hk);
            }
            if (fabs(fd[0] - fd[1]) > 1e-6 * (1 + fabs(fd[0]))) {
                kinks++;
                continue;
            }
            checked++;
            ck_assert_msg(fabs(fd[0] - g[i]) <= 1e-6 * (1 + fabs(g[i])), "finite difference at %zu: fd %.12g analytic %.12g",
                          i, fd[0], g[i]);
        }
        ck_assert_msg(kinks <= 2 && checked > 0, "%d parameters at a kink, %d checked", kinks, checked);
    }
    /* metrics run and give finite, plausible numbers */
    cl_mem met = NULL;
    size_t nm = clgrad_model_metrics_size(m);
    FX_OK(clgrad_buf_new(ctx, nm, "metrics", &met));
    FX_OK(clgrad_model_metrics(ctx, m, B, met, 0));
    float *mv = malloc(nm * sizeof *mv);
    fixture_download(met, mv, nm);
    for (int l = 0; l < clgrad_model_nlayers(m); l++) {
        float ng = mv[CLGRAD_RS_SIZE * clgrad_model_out_grad_seg(m, l) + CLGRAD_RS_NORM2];
        ck_assert_msg(isfinite(ng) && ng > 0, "out grad norm of layer %d: %g", l, ng);
    }
    if (n->kind != CLGRAD_MODEL_MLP) check_time_metrics_(n, m, p, x, G, mv);
    /* the last layer's out-grad norm is ||G|| */
    double gn = 0;
    for (size_t i = 0; i < nl; i++) gn += G[i] * G[i];
    int last = clgrad_model_nlayers(m) - 1;
    ck_assert(fabs(mv[CLGRAD_RS_SIZE * clgrad_model_out_grad_seg(m, last) + CLGRAD_RS_NORM2] - sqrt(gn)) < 1e-4 * sqrt(gn));
    free(mv);
    clgrad_buf_free(&met), clgrad_buf_free(&dx), clgrad_buf_free(&dG);
    clgrad_model_free(m);
    free(pf), free(gf), free(x), free(lf), free(Gf), free(p), free(g), free(G), free(lr), free(tol);
}

START_TEST(mlp)
{
    static const net_ nets[] = {
        {CLGRAD_MODEL_MLP, 5, 1, 1, 7, 0, {0}, {0}, 1, 0, 0, 0},                   /* linear regression */
        {CLGRAD_MODEL_MLP, 3, 1, 4, 1, 1, {7}, {CLGRAD_ACT_TANH}, 1, 0, 0, 0},
        {CLGRAD_MODEL_MLP, 6, 1, 3, 9, 3, {65, 7, 33}, {CLGRAD_ACT_RELU, CLGRAD_ACT_SIGMOID, CLGRAD_ACT_GELU}, 1, 0, 0, 0},
        {CLGRAD_MODEL_MLP, 4, 2, 2, 5, 2, {17, 9}, {CLGRAD_ACT_LEAKY_RELU, CLGRAD_ACT_ELU}, 0, 0, 0, 0},
    };
    run_(&nets[_i], 1);
}
END_TEST

START_TEST(rnn)
{
    static const net_ nets[] = {
        {CLGRAD_MODEL_RNN, 2, 1, 1, 3, 1, {5}, {CLGRAD_ACT_TANH}, 1, 1, 0, 0},
        {CLGRAD_MODEL_RNN, 2, 9, 1, 7, 1, {16}, {CLGRAD_ACT_TANH}, 1, 1, 0, 0},
        {CLGRAD_MODEL_RNN, 3, 6, 4, 5, 1, {11}, {CLGRAD_ACT_RELU}, 0, 1, 0, 0},
        {CLGRAD_MODEL_RNN, 3, 5, 2, 4, 1, {9}, {CLGRAD_ACT_TANH}, 1, 3, 0, 0}, /* stacked */
    };
    run_(&nets[_i], 1);
}
END_TEST

START_TEST(lstm)
{
    static const net_ nets[] = {
        {CLGRAD_MODEL_LSTM, 2, 1, 1, 3, 1, {5}, {CLGRAD_ACT_TANH}, 1, 1, 0, 0},
        {CLGRAD_MODEL_LSTM, 2, 9, 1, 7, 1, {16}, {CLGRAD_ACT_TANH}, 1, 1, 1, 1.0}, /* forget bias 1 */
        {CLGRAD_MODEL_LSTM, 3, 6, 4, 5, 1, {33}, {CLGRAD_ACT_TANH}, 0, 1, 0, 0},   /* no bias */
        {CLGRAD_MODEL_LSTM, 3, 5, 2, 9, 1, {7}, {CLGRAD_ACT_TANH}, 1, 2, 1, -0.5}, /* stacked */
        {CLGRAD_MODEL_LSTM, 1, 4, 3, 1, 1, {63}, {CLGRAD_ACT_TANH}, 1, 3, 0, 0},   /* 3 layers, batch 1 */
    };
    run_(&nets[_i], 1);
}
END_TEST

START_TEST(gru)
{
    static const net_ nets[] = {
        {CLGRAD_MODEL_GRU, 2, 1, 1, 3, 1, {5}, {CLGRAD_ACT_TANH}, 1, 1, 0, 0},
        {CLGRAD_MODEL_GRU, 2, 9, 1, 7, 1, {16}, {CLGRAD_ACT_TANH}, 1, 1, 0, 0},
        {CLGRAD_MODEL_GRU, 3, 6, 4, 5, 1, {33}, {CLGRAD_ACT_TANH}, 0, 1, 0, 0}, /* no bias */
        {CLGRAD_MODEL_GRU, 3, 5, 2, 9, 1, {7}, {CLGRAD_ACT_TANH}, 1, 2, 0, 0},  /* stacked */
        {CLGRAD_MODEL_GRU, 1, 4, 3, 1, 1, {63}, {CLGRAD_ACT_TANH}, 1, 3, 0, 0}, /* 3 layers, batch 1 */
    };
    run_(&nets[_i], 1);
}
END_TEST

/* L1: g += l1 * sign(p) with sign(0) = 0 (torch.sign) and NaN kept, on an
** MLP's flat block at awkward sizes; exact (one rounding of g + l1 * s, the
** same float operations on the host; contraction is off in both). */
START_TEST(l1_subgradient)
{
    clgrad_ctx *ctx = fixture_ctx();
    long hid[1] = {(long)fixture_sizes[_i]};
    clgrad_act acts[1] = {CLGRAD_ACT_RELU};
    clgrad_model_spec s = {0};
    s.kind = CLGRAD_MODEL_MLP, s.in = 3, s.seq_len = 1, s.out = 2, s.nhidden = 1, s.hidden = hid, s.acts = acts;
    s.bias = 1, s.max_batch = 1;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &s, &m));
    size_t np = clgrad_model_nparams(m);
    float *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *out = malloc(np * sizeof *out);
    double *ref = malloc(np * sizeof *ref);
    clgrad_testrng rng = fixture_rng(77 + _i);
    for (size_t i = 0; i < np; i++) {
        unsigned k = (unsigned)(clgrad_testrng_uniform(&rng, 0, 4));
        p[i] = k == 0 ? 0.0f : k == 1 ? -0.0f : clgrad_testrng_uniform(&rng, -1, 1);
        g[i] = clgrad_testrng_uniform(&rng, -1, 1);
    }
    p[0] = NAN;
    if (np > 2) p[1] = 0.0f, p[2] = -0.0f; /* both zeros always present (the draws above may miss them) */
    FX_OK(clgrad_buf_write(ctx, clgrad_model_params(m), 0, np, p));
    FX_OK(clgrad_buf_write(ctx, clgrad_model_grads(m), 0, np, g));
    const float l1 = 0.0625f;
    FX_OK(clgrad_model_l1_grad(ctx, m, l1));
    fixture_download(clgrad_model_grads(m), out, np);
    size_t zeros = 0;
    for (size_t i = 0; i < np; i++) {
        float sg = p[i] > 0 ? 1.0f : p[i] < 0 ? -1.0f : p[i] == 0 ? 0.0f : p[i];
        float want = g[i] + l1 * sg;
        zeros += p[i] == 0;
        if (p[i] == 0) ck_assert_msg(out[i] == g[i], "sign(0) must be 0: g %g -> %g", g[i], out[i]);
        if (isnan(p[i])) ck_assert_msg(isnan(out[i]), "sign(NaN) must be NaN");
        else ck_assert_msg(out[i] == want, "element %zu: p %g g %g -> %g, want %g", i, p[i], g[i], out[i], want);
        ref[i] = want;
    }
    ck_assert(zeros > 0 || np < 8);
    /* l1 = 0 leaves the gradients alone; a negative or non-finite l1 is an error */
    FX_OK(clgrad_model_l1_grad(ctx, m, 0.0f));
    ck_assert_int_eq(clgrad_model_l1_grad(ctx, m, -1.0f), CLGRAD_E_ARG);
    ck_assert_int_eq(clgrad_model_l1_grad(ctx, m, INFINITY), CLGRAD_E_ARG);
    fixture_download(clgrad_model_grads(m), out, np);
    for (size_t i = 1; i < np; i++) ck_assert(out[i] == (float)ref[i]);
    clgrad_model_free(m);
    free(p), free(g), free(out), free(ref);
}
END_TEST

/* Noise (cl/init.cl init_add_noise): the device adds exactly the host's
** draws (bit for bit), the same (seed, stream, step) gives the same bits and
** any other step, stream or seed different ones, and over many elements the
** added noise has mean 0 and the variance std^2 = eta / (1 + t)^gamma.
** Statistical tolerance: n = 2^18 normal draws; the sample variance's
** relative standard error is sqrt(2/n) = 0.28%, the mean's 1/sqrt(n) std =
** 0.2% of std: we allow 2% and 1% (7 and 5 standard errors). */
START_TEST(noise)
{
    clgrad_ctx *ctx = fixture_ctx();
    const size_t sizes[] = {1, 7, 63, 64, 65, 257, 1 << 18};
    uint64_t seed = fixture_seed();
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        float *x = malloc(n * sizeof *x), *h = malloc(n * sizeof *h), *d1 = malloc(n * sizeof *d1),
              *d2 = malloc(n * sizeof *d2);
        clgrad_testrng rng = fixture_rng(900 + si);
        for (size_t i = 0; i < n; i++) x[i] = si == 6 ? 0.0f : clgrad_testrng_uniform(&rng, -2, 2);
        double eta = 0.01, gamma = 0.55;
        long step = (long)(17 + si);
        float sd = (float)clgrad_grad_noise_std(eta, gamma, step);
        ck_assert(fabs(sd - sqrt(eta / pow(1.0 + step, gamma))) < 1e-7);
        cl_mem buf = fixture_upload(x, n, "noise");
        FX_OK(clgrad_init_add_noise(ctx, buf, 0, n, sd, seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step));
        fixture_download(buf, d1, n);
        memcpy(h, x, n * sizeof *h);
        clgrad_init_add_noise_host(h, n, sd, seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step);
        ck_assert_msg(memcmp(d1, h, n * sizeof *h) == 0, "n %zu: device noise differs from the host's", n);
        /* same key -> same bits; another step, stream or seed -> different draws */
        FX_OK(clgrad_buf_write(ctx, buf, 0, n, x));
        FX_OK(clgrad_init_add_noise(ctx, buf, 0, n, sd, seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step));
        fixture_download(buf, d2, n);
        ck_assert(memcmp(d1, d2, n * sizeof *d1) == 0);
        size_t same_step = 0, same_stream = 0, same_seed = 0;
        for (size_t i = 0; i < n; i++) {
            float z = clgrad_rng_noise(seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step, i);
            same_step += z == clgrad_rng_noise(seed, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step + 1, i);
            same_stream += z == clgrad_rng_noise(seed, CLGRAD_NOISE_STREAM_INPUT, (uint32_t)step, i);
            same_seed += z == clgrad_rng_noise(seed + 1, CLGRAD_NOISE_STREAM_GRAD, (uint32_t)step, i);
        }
        ck_assert_msg(same_step * 100 <= n && same_stream * 100 <= n && same_seed * 100 <= n,
                      "n %zu: draws repeat across keys (%zu %zu %zu)", n, same_step, same_stream, same_seed);
        /* an offset view: element i of the view gets draw i */
        if (n > 1) {
            FX_OK(clgrad_buf_write(ctx, buf, 0, n, x));
            FX_OK(clgrad_init_add_noise(ctx, buf, 1, n - 1, sd, seed, CLGRAD_NOISE_STREAM_INPUT, 3));
            fixture_download(buf, d2, n);
            memcpy(h, x, n * sizeof *h);
            clgrad_init_add_noise_host(h + 1, n - 1, sd, seed, CLGRAD_NOISE_STREAM_INPUT, 3);
            ck_assert(memcmp(d2, h, n * sizeof *h) == 0);
        }
        if (n >= (1 << 18)) {
            double s1 = 0, s2 = 0;
            for (size_t i = 0; i < n; i++) s1 += d1[i], s2 += (double)d1[i] * d1[i];
            double mean = s1 / (double)n, var = s2 / (double)n - mean * mean, want = (double)sd * sd;
            fprintf(stderr, "noise: n %zu std %.6g: mean %.3g, variance %.6g (want %.6g)\n", n, sd, mean, var, want);
            ck_assert_msg(fabs(mean) <= 0.01 * sd, "mean %g", mean);
            ck_assert_msg(fabs(var / want - 1) <= 0.02, "variance %g, want %g", var, want);
        }
        /* std 0 changes nothing; a negative std is an error */
        FX_OK(clgrad_buf_write(ctx, buf, 0, n, x));
        FX_OK(clgrad_init_add_noise(ctx, buf, 0, n, 0.0f, seed, CLGRAD_NOISE_STREAM_GRAD, 1));
        fixture_download(buf, d2, n);
        ck_assert(memcmp(d2, x, n * sizeof *x) == 0);
        ck_assert_int_eq(clgrad_init_add_noise(ctx, buf, 0, n, -1.0f, seed, CLGRAD_NOISE_STREAM_GRAD, 1), CLGRAD_E_ARG);
        clgrad_buf_free(&buf);
        free(x), free(h), free(d1), free(d2);
    }
    ck_assert(clgrad_grad_noise_std(0.0, 0.55, 5) == 0.0);
    ck_assert(fabs(clgrad_grad_noise_std(0.01, 0.55, 0) - 0.1) < 1e-15);
}
END_TEST

/* ---- model_act_stats: independence of the work-group size ----
** Fixed order of (B, H) (cl/model.cl): contexts built with CLGRAD_WG = 1, 2,
** 16, 64, 256 give the same bits, equal to the host float32 replica. */
START_TEST(act_stats_wg)
{
    static const size_t shapes[][2] = {{1, 1}, {7, 3}, {32, 255}, {5, 256}, {3, 257}, {64, 1000}, {2, 5000}};
    static const clgrad_act kinds[] = {CLGRAD_ACT_RELU, CLGRAD_ACT_SIGMOID, CLGRAD_ACT_TANH};
    size_t bad = 0;
    clgrad_ctx *ctxs[9] = {NULL};
    ctxs[0] = fixture_ctx();
    for (int w = 0; w < fixture_nwgs && w < 8; w++) ctxs[w + 1] = fixture_open_wg("model.cl", fixture_wgs[w]);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (size_t a = 0; a < sizeof kinds / sizeof kinds[0]; a++) {
            size_t B = shapes[k][0], H = shapes[k][1], n = B * H;
            float *h = malloc(n * sizeof *h), rep[3], o[3];
            ck_assert(h);
            clgrad_testrng r = fixture_rng(k * 10 + a);
            for (size_t i = 0; i < n; i++) {
                float u = clgrad_testrng_uniform(&r, -1, 1);
                h[i] = (i % H) % 7 == 3 ? 0.0f : kinds[a] == CLGRAD_ACT_RELU ? (u > 0 ? u * 1e3f : 0.0f) : u;
            }
            clgrad_model_act_stats_replica(kinds[a], B, H, h, rep);
            for (int w = 0; w < 9; w++) {
                clgrad_ctx *c = ctxs[w];
                if (!c) continue;
                cl_mem dh = NULL, dout = NULL;
                ck_assert(clgrad_buf_new(c, n + 2, "h", &dh) == CLGRAD_OK);
                ck_assert(clgrad_buf_new(c, 4, "out", &dout) == CLGRAD_OK);
                ck_assert(clgrad_buf_write(c, dh, 2, n, h) == CLGRAD_OK);
                ck_assert_msg(clgrad_model_act_stats(c, kinds[a], B, H, dh, 2, dout, 1) == CLGRAD_OK, "%s",
                              clgrad_errmsg(c));
                ck_assert(clgrad_buf_read(c, dout, 1, 3, o) == CLGRAD_OK);
                if (memcmp(o, rep, sizeof o) != 0)
                    bad++, fprintf(stderr, "  act_stats %zu x %zu kind %d WG %zu: %a %a %a vs replica %a %a %a\n", B,
                                   H, (int)kinds[a], clgrad_wg(c), (double)o[0], (double)o[1], (double)o[2],
                                   (double)rep[0], (double)rep[1], (double)rep[2]);
                clgrad_buf_free(&dh), clgrad_buf_free(&dout);
            }
            free(h);
        }
    for (int w = 1; w < 9; w++) clgrad_ctx_free(ctxs[w]);
    ck_assert_msg(bad == 0, "%zu activation statistics differ from the fixed order", bad);
}
END_TEST

/* ---- the LSTM and GRU cells, bit for bit against the host build of cell_fn.cl ----
** The four cell kernels on random pre-activations (ordinary, saturating: |z|
** up to 40, exactly 0, tiny and denormal values, and a few non-finite) and
** random states; every output bit equals the host's (any NaN equals any NaN:
** IEEE 754 leaves its sign and payload open). */
static uint64_t cell_rng_ = 88172645463325252ull;
static float cell_val_(void)
{
    cell_rng_ ^= cell_rng_ << 13, cell_rng_ ^= cell_rng_ >> 7, cell_rng_ ^= cell_rng_ << 17;
    const uint64_t u = cell_rng_;
    static const float sp[] = {0.0f, -0.0f, 1e-40f, -1e-42f, 40.0f, -40.0f, 17.0f, -9.5f, INFINITY, NAN};
    if ((u & 15) == 0) return sp[(u >> 4) % (sizeof sp / sizeof sp[0])];
    const double r = (double)(u >> 11) * 0x1.0p-53;
    return (float)((u & 16) ? 12.0 * r - 6.0 : 3.0 * r - 1.5);
}

START_TEST(cells_bitwise_host)
{
    clgrad_ctx *ctx = fixture_ctx();
    const size_t B = 13, H = 37, n = B * H;
    /* one buffer f holds every region the kernels read and write */
    const size_t A = 0, AN = A + 4 * n, CP = AN + 4 * n, C = CP + n, HO = C + n, XW = HO + n, GH = XW + 3 * n,
                 HP = GH + 3 * n, NF = HP + n;
    const size_t DH = 0, DCN = DH + n, DG = DCN + n, DC = DG + 4 * n, DGI = DC + n, DGH = DGI + 3 * n,
                 DHP = DGH + 3 * n, ND = DHP + n;
    float *f = malloc(NF * sizeof *f), *d = malloc(ND * sizeof *d), *bias = malloc(4 * H * sizeof *bias);
    float *fo = malloc(NF * sizeof *fo), *dd = malloc(NF * sizeof *dd); /* NF > ND: room for both */
    ck_assert(f && d && bias && fo && dd);
    for (size_t i = 0; i < NF; i++) f[i] = cell_val_();
    for (size_t i = 0; i < ND; i++) d[i] = cell_val_();
    for (size_t i = 0; i < 4 * H; i++) bias[i] = cell_val_();
    cl_mem df = fixture_upload(f, NF, "f"), dd_ = fixture_upload(d, ND, "d"), db = fixture_upload(bias, 4 * H, "b");
    cl_ulong un = n, uH = H;
    size_t bad = 0;
    for (int has_b = 0; has_b < 2; has_b++) {
        /* LSTM forward: gates at A activated in place, c at C, h at HO */
        FX_OK(clgrad_buf_write(ctx, df, 0, NF, f));
        cl_kernel k = clgrad_kernel(ctx, "model_lstm_forward");
        ck_assert_ptr_nonnull(k);
        cl_ulong a = A, cp = CP, c = C, ho = HO, bo = 0;
        cl_int hb = has_b;
        clSetKernelArg(k, 0, sizeof un, &un), clSetKernelArg(k, 1, sizeof uH, &uH), clSetKernelArg(k, 2, sizeof df, &df);
        clSetKernelArg(k, 3, sizeof a, &a), clSetKernelArg(k, 4, sizeof cp, &cp), clSetKernelArg(k, 5, sizeof c, &c);
        clSetKernelArg(k, 6, sizeof ho, &ho), clSetKernelArg(k, 7, sizeof db, &db), clSetKernelArg(k, 8, sizeof bo, &bo);
        clSetKernelArg(k, 9, sizeof hb, &hb);
        FX_OK(clgrad_launch1d(ctx, k, "model_lstm_forward", n, 0));
        fixture_download(df, fo, NF);
        memcpy(dd, f, NF * sizeof *f);
        for (size_t e = 0; e < n; e++) {
            const size_t b = e / H, j = e - b * H;
            float *g = dd + A + b * 4 * H + j, z[4];
            for (int q = 0; q < 4; q++) z[q] = has_b ? g[q * H] + bias[q * H + j] : g[q * H];
            float o[6];
            cell_lstm_fwd_(z[0], z[1], z[2], z[3], dd[CP + e], o);
            for (int q = 0; q < 4; q++) g[q * H] = o[q];
            dd[C + e] = o[4], dd[HO + e] = o[5];
        }
        bad += fixture_check_bits("cell forward", fo, dd, NF);
        /* GRU forward: [r z n hn] at A, h at HO */
        FX_OK(clgrad_buf_write(ctx, df, 0, NF, f));
        k = clgrad_kernel(ctx, "model_gru_forward");
        ck_assert_ptr_nonnull(k);
        cl_ulong xw = XW, gh = GH, hp = HP;
        clSetKernelArg(k, 0, sizeof un, &un), clSetKernelArg(k, 1, sizeof uH, &uH), clSetKernelArg(k, 2, sizeof df, &df);
        clSetKernelArg(k, 3, sizeof xw, &xw), clSetKernelArg(k, 4, sizeof gh, &gh), clSetKernelArg(k, 5, sizeof hp, &hp);
        clSetKernelArg(k, 6, sizeof a, &a), clSetKernelArg(k, 7, sizeof ho, &ho), clSetKernelArg(k, 8, sizeof db, &db);
        clSetKernelArg(k, 9, sizeof bo, &bo), clSetKernelArg(k, 10, sizeof hb, &hb);
        FX_OK(clgrad_launch1d(ctx, k, "model_gru_forward", n, 0));
        fixture_download(df, fo, NF);
        memcpy(dd, f, NF * sizeof *f);
        for (size_t e = 0; e < n; e++) {
            const size_t b = e / H, j = e - b * H, g3 = b * 3 * H + j;
            float h3[3];
            for (int q = 0; q < 3; q++) h3[q] = has_b ? f[GH + g3 + q * H] + bias[q * H + j] : f[GH + g3 + q * H];
            float o[4];
            cell_gru_fwd_(f[XW + g3], f[XW + g3 + H], f[XW + g3 + 2 * H], h3[0], h3[1], h3[2], f[HP + e], o);
            float *g = dd + A + b * 4 * H + j;
            g[0] = o[0], g[H] = o[1], g[2 * H] = o[2], g[3 * H] = h3[2];
            dd[HO + e] = o[3];
        }
        bad += fixture_check_bits("cell forward", fo, dd, NF);
    }
    /* LSTM backward (with and without the next step) and GRU backward (modes 0, 1, 2) */
    FX_OK(clgrad_buf_write(ctx, df, 0, NF, f));
    for (int next = 0; next < 2; next++) {
        FX_OK(clgrad_buf_write(ctx, dd_, 0, ND, d));
        cl_kernel k = clgrad_kernel(ctx, "model_lstm_backward");
        ck_assert_ptr_nonnull(k);
        cl_ulong a = A, an = AN, c = C, cp = CP, dh = DH, dcn = DCN, dg = DG, dc = DC;
        cl_int nx = next;
        clSetKernelArg(k, 0, sizeof un, &un), clSetKernelArg(k, 1, sizeof uH, &uH), clSetKernelArg(k, 2, sizeof df, &df);
        clSetKernelArg(k, 3, sizeof a, &a), clSetKernelArg(k, 4, sizeof an, &an), clSetKernelArg(k, 5, sizeof c, &c);
        clSetKernelArg(k, 6, sizeof cp, &cp), clSetKernelArg(k, 7, sizeof dd_, &dd_), clSetKernelArg(k, 8, sizeof dh, &dh);
        clSetKernelArg(k, 9, sizeof dcn, &dcn), clSetKernelArg(k, 10, sizeof nx, &nx), clSetKernelArg(k, 11, sizeof dg, &dg);
        clSetKernelArg(k, 12, sizeof dc, &dc);
        FX_OK(clgrad_launch1d(ctx, k, "model_lstm_backward", n, 0));
        fixture_download(dd_, fo, ND);
        memcpy(dd, d, ND * sizeof *d);
        for (size_t e = 0; e < n; e++) {
            const size_t b = e / H, j = e - b * H, g4 = b * 4 * H + j;
            const float *ga = f + A + g4;
            float o[5];
            cell_lstm_bwd_(ga[0], ga[H], ga[2 * H], ga[3 * H], f[C + e], f[CP + e], d[DH + e], next,
                           next ? d[DCN + e] : 0.0f, next ? f[AN + g4 + H] : 0.0f, o);
            dd[DC + e] = o[4];
            for (int q = 0; q < 4; q++) dd[DG + g4 + q * H] = o[q];
        }
        bad += fixture_check_bits("cell backward", fo, dd, ND);
    }
    for (int mode = 0; mode < 3; mode++) {
        FX_OK(clgrad_buf_write(ctx, dd_, 0, ND, d));
        cl_kernel k = clgrad_kernel(ctx, "model_gru_backward");
        ck_assert_ptr_nonnull(k);
        cl_ulong a = A, hp = HP, dh = DH, dgi = DGI, dgh = DGH, dhp = DHP;
        cl_int md = mode;
        clSetKernelArg(k, 0, sizeof un, &un), clSetKernelArg(k, 1, sizeof uH, &uH), clSetKernelArg(k, 2, sizeof df, &df);
        clSetKernelArg(k, 3, sizeof a, &a), clSetKernelArg(k, 4, sizeof hp, &hp), clSetKernelArg(k, 5, sizeof dd_, &dd_);
        clSetKernelArg(k, 6, sizeof dh, &dh), clSetKernelArg(k, 7, sizeof dgi, &dgi), clSetKernelArg(k, 8, sizeof dgh, &dgh);
        clSetKernelArg(k, 9, sizeof dhp, &dhp), clSetKernelArg(k, 10, sizeof md, &md);
        FX_OK(clgrad_launch1d(ctx, k, "model_gru_backward", n, 0));
        fixture_download(dd_, fo, ND);
        memcpy(dd, d, ND * sizeof *d);
        for (size_t e = 0; e < n; e++) {
            const size_t b = e / H, j = e - b * H, g3 = b * 3 * H + j;
            const float *ga = f + A + b * 4 * H + j;
            float o[5];
            cell_gru_bwd_(ga[0], ga[H], ga[2 * H], ga[3 * H], d[DH + e], f[HP + e], o);
            dd[DGI + g3] = o[0], dd[DGI + g3 + H] = o[1], dd[DGI + g3 + 2 * H] = o[2];
            dd[DGH + g3] = o[0], dd[DGH + g3 + H] = o[1], dd[DGH + g3 + 2 * H] = o[3];
            if (mode == 1) dd[DHP + e] = o[4];
            else if (mode == 2) dd[DHP + e] = d[DHP + e] + o[4];
        }
        bad += fixture_check_bits("cell backward", fo, dd, ND);
    }
    clgrad_buf_free(&df), clgrad_buf_free(&dd_), clgrad_buf_free(&db);
    free(f), free(d), free(bias), free(fo), free(dd);
    ck_assert_msg(bad == 0, "%zu cell outputs differ from the host build of cell_fn.cl", bad);
}
END_TEST

int main(void)
{
    fixture_open("matmul.cl,activation.cl,reduce.cl,init.cl,model.cl");
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, mlp, 0, 4);
    tcase_add_loop_test(tc, rnn, 0, 4);
    tcase_add_loop_test(tc, lstm, 0, 5);
    tcase_add_loop_test(tc, gru, 0, 5);
    tcase_add_loop_test(tc, l1_subgradient, 0, fixture_nsizes);
    tcase_add_test(tc, noise);
    tcase_add_test(tc, act_stats_wg);
    tcase_add_test(tc, cells_bitwise_host);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
