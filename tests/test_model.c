/*
** test_model.c (device suite): the MLP and the RNN, forward and backward on
** the device against a float64 host model (written here from the definitions,
** independently of src/model.c), and the host model's gradients against
** central finite differences.
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
} net_;

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
    /* RNN */
    size_t H = (size_t)n->hidden[0], T = n->T, F = n->F, K = n->K;
    const clgrad_tensor *wih = t[0], *whh = t[1], *b = n->bias ? t[2] : NULL, *wfc = t[n->bias ? 3 : 2],
                        *bfc = n->bias ? t[4] : NULL;
    double *Hs = calloc((T + 1) * B * H, sizeof(double)), *Zs = calloc(T * B * H, sizeof(double));
    for (size_t s = 0; s < T; s++)
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < H; j++) {
                double z = b ? p[b->off + j] : 0;
                for (size_t f = 0; f < F; f++) z += p[wih->off + j * F + f] * x[r * T * F + s * F + f];
                for (size_t i = 0; i < H; i++) z += p[whh->off + j * H + i] * Hs[s * B * H + r * H + i];
                Zs[s * B * H + r * H + j] = z;
                Hs[(s + 1) * B * H + r * H + j] = clgrad_activation_ref_forward(n->acts[0], 0.01, z);
            }
    double *lg = malloc(B * K * sizeof(double));
    for (size_t r = 0; r < B; r++)
        for (size_t k = 0; k < K; k++) {
            double s = bfc ? p[bfc->off + k] : 0;
            for (size_t j = 0; j < H; j++) s += p[wfc->off + k * H + j] * Hs[T * B * H + r * H + j];
            lg[r * K + k] = s;
            L += G[r * K + k] * s;
        }
    if (dlogits_out) memcpy(dlogits_out, lg, B * K * sizeof(double));
    if (grad) {
        double *dH = calloc(B * H, sizeof(double)), *dZ = calloc(B * H, sizeof(double));
        for (size_t r = 0; r < B; r++)
            for (size_t k = 0; k < K; k++) {
                double g = G[r * K + k];
                if (bfc) grad[bfc->off + k] += g;
                for (size_t j = 0; j < H; j++) {
                    grad[wfc->off + k * H + j] += g * Hs[T * B * H + r * H + j];
                    dH[r * H + j] += g * p[wfc->off + k * H + j];
                }
            }
        for (size_t s = T; s >= 1; s--) {
            for (size_t i = 0; i < B * H; i++)
                dZ[i] = dH[i] * clgrad_activation_ref_derivative(n->acts[0], 0.01, Zs[(s - 1) * B * H + i]);
            memset(dH, 0, B * H * sizeof(double));
            for (size_t r = 0; r < B; r++)
                for (size_t j = 0; j < H; j++) {
                    double d = dZ[r * H + j];
                    if (b) grad[b->off + j] += d;
                    for (size_t f = 0; f < F; f++) grad[wih->off + j * F + f] += d * x[r * T * F + (s - 1) * F + f];
                    for (size_t i = 0; i < H; i++) {
                        grad[whh->off + j * H + i] += d * Hs[(s - 1) * B * H + r * H + i];
                        dH[r * H + i] += d * p[whh->off + j * H + i];
                    }
                }
        }
        free(dH), free(dZ);
    }
    free(Hs), free(Zs), free(lg);
    return L;
}

static void run_(const net_ *n, int check_fd)
{
    clgrad_ctx *ctx = fixture_ctx();
    clgrad_model_spec s = {0};
    s.kind = n->kind, s.in = n->F, s.seq_len = n->T, s.out = n->K, s.nhidden = n->nh, s.hidden = n->hidden;
    s.acts = n->acts, s.act_param = 0.01f, s.bias = n->bias, s.max_batch = n->B + 3;
    clgrad_model *m = NULL;
    FX_OK(clgrad_model_create(ctx, &s, &m));
    clgrad_init_cfg ic = clgrad_init_default(CLGRAD_INIT_LINEAR_DEFAULT);
    FX_OK(clgrad_model_init(ctx, m, &ic, &ic, fixture_seed()));
    size_t np = clgrad_model_nparams(m), B = n->B, nx = B * n->T * n->F, nl = B * n->K;
    float *pf = malloc(np * sizeof *pf), *gf = malloc(np * sizeof *gf), *x = malloc(nx * sizeof *x),
          *lf = malloc(nl * sizeof *lf), *Gf = malloc(nl * sizeof *Gf);
    double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *G = malloc(nl * sizeof *G),
           *lr = malloc(nl * sizeof *lr), *tol = malloc(np * sizeof *tol);
    clgrad_testrng rng = fixture_rng((uint64_t)n->kind * 1000 + n->nh * 10 + B);
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
        /* central differences on the float64 model, on a sample of parameters */
        double h = 1e-5;
        for (size_t i = 0; i < np; i += 1 + np / 97) {
            double keep = p[i];
            p[i] = keep + h;
            double lp = ref_loss_(n, m, p, x, G, NULL, NULL);
            p[i] = keep - h;
            double lm = ref_loss_(n, m, p, x, G, NULL, NULL);
            p[i] = keep;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - g[i]) <= 1e-6 * (1 + fabs(g[i])), "finite difference at %zu: fd %.12g analytic %.12g", i,
                          fd, g[i]);
        }
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
        {CLGRAD_MODEL_MLP, 5, 1, 1, 7, 0, {0}, {0}, 1},                     /* linear regression */
        {CLGRAD_MODEL_MLP, 3, 1, 4, 1, 1, {7}, {CLGRAD_ACT_TANH}, 1},
        {CLGRAD_MODEL_MLP, 6, 1, 3, 9, 3, {65, 7, 33}, {CLGRAD_ACT_RELU, CLGRAD_ACT_SIGMOID, CLGRAD_ACT_GELU}, 1},
        {CLGRAD_MODEL_MLP, 4, 2, 2, 5, 2, {17, 9}, {CLGRAD_ACT_LEAKY_RELU, CLGRAD_ACT_ELU}, 0},
    };
    run_(&nets[_i], 1);
}
END_TEST

START_TEST(rnn)
{
    static const net_ nets[] = {
        {CLGRAD_MODEL_RNN, 2, 1, 1, 3, 1, {5}, {CLGRAD_ACT_TANH}, 1},
        {CLGRAD_MODEL_RNN, 2, 9, 1, 7, 1, {16}, {CLGRAD_ACT_TANH}, 1},
        {CLGRAD_MODEL_RNN, 3, 6, 4, 5, 1, {11}, {CLGRAD_ACT_RELU}, 0},
    };
    run_(&nets[_i], 1);
}
END_TEST

int main(void)
{
    fixture_open("matmul.cl,activation.cl,reduce.cl,init.cl,model.cl");
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, mlp, 0, 4);
    tcase_add_loop_test(tc, rnn, 0, 3);
    suite_add_tcase(s, tc);
    return fixture_run(s, 1);
}
