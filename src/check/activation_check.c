/*
** activation_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "activation" self-check of src/ops/activation.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float64 references ---- */

#define SELU_ALPHA 1.6732632423543772
#define SELU_LAMBDA 1.0507009873554805
#define GELU_BETA 0.79788456080286536 /* sqrt(2/pi) */
#define GELU_KAPPA 0.044715
#define INV_SQRT2PI 0.39894228040143268

static double sigmoid_(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static double dsigmoid_(double z) /* sigmoid(z) sigmoid(-z) */
{
    double e = exp(-fabs(z));
    return e / ((1.0 + e) * (1.0 + e));
}

static double Phi_(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }
static double phi_(double z) { return INV_SQRT2PI * exp(-0.5 * z * z); }
static double gelu_2y_(double z) { return 2.0 * GELU_BETA * (z + GELU_KAPPA * z * z * z); }

double clgrad_activation_ref_forward(clgrad_act act, double p, double z)
{
    if (isnan(z)) return z;
    switch (act) {
    case CLGRAD_ACT_IDENTITY: return z;
    case CLGRAD_ACT_SIGMOID: return sigmoid_(z);
    case CLGRAD_ACT_TANH: return tanh(z);
    case CLGRAD_ACT_RELU: return z > 0 ? z : 0.0;
    case CLGRAD_ACT_LEAKY_RELU: return z > 0 ? z : (p == 0 ? 0.0 : p * z);
    case CLGRAD_ACT_ELU: return z > 0 ? z : p * expm1(z);
    case CLGRAD_ACT_SELU: return SELU_LAMBDA * (z > 0 ? z : SELU_ALPHA * expm1(z));
    case CLGRAD_ACT_SOFTSIGN: return isinf(z) ? copysign(1.0, z) : z / (1.0 + fabs(z));
    case CLGRAD_ACT_SOFTPLUS: return fmax(z, 0.0) + log1p(exp(-fabs(z)));
    case CLGRAD_ACT_GELU: { double P = Phi_(z); return P == 0 ? 0.0 : z * P; }
    case CLGRAD_ACT_GELU_TANH: { double s = sigmoid_(gelu_2y_(z)); return s == 0 ? 0.0 : z * s; }
    default: return NAN;
    }
}

double clgrad_activation_ref_derivative(clgrad_act act, double p, double z)
{
    if (act == CLGRAD_ACT_IDENTITY) return 1.0;
    if (isnan(z)) return z;
    switch (act) {
    case CLGRAD_ACT_SIGMOID: return dsigmoid_(z);
    case CLGRAD_ACT_TANH: { double e = exp(-2.0 * fabs(z)); return 4.0 * e / ((1.0 + e) * (1.0 + e)); }
    case CLGRAD_ACT_RELU: return z > 0 ? 1.0 : 0.0;
    case CLGRAD_ACT_LEAKY_RELU: return z > 0 ? 1.0 : p;
    case CLGRAD_ACT_ELU: return z > 0 ? 1.0 : p * exp(z);
    case CLGRAD_ACT_SELU: return z > 0 ? SELU_LAMBDA : SELU_LAMBDA * SELU_ALPHA * exp(z);
    case CLGRAD_ACT_SOFTSIGN: { double t = 1.0 / (1.0 + fabs(z)); return t * t; }
    case CLGRAD_ACT_SOFTPLUS: return sigmoid_(z);
    case CLGRAD_ACT_GELU: { double ph = phi_(z); return ph == 0 ? Phi_(z) : Phi_(z) + z * ph; }
    case CLGRAD_ACT_GELU_TANH: {
        double t = gelu_2y_(z), ds = dsigmoid_(t);
        return ds == 0 ? sigmoid_(t) : sigmoid_(t) + 2.0 * z * ds * GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * z * z);
    }
    default: return NAN;
    }
}

double clgrad_activation_ref_backward(clgrad_act act, double p, double z, double dh)
{
    return act == CLGRAD_ACT_IDENTITY ? dh : dh * clgrad_activation_ref_derivative(act, p, z);
}

/*
** Error bounds of the float32 kernels, first order in ULP = 2^-23 (a k-ulp
** error is at most k * 2^-23 * |x| for a normal x).  OpenCL 1.2 (table 7.1)
** allows, in single precision: + - * and fabs/copysign exact (0.5 ulp
** rounding), x/y and 1/x 2.5 ulp, exp and expm1 3 ulp, log1p 2 ulp, tanh
** 5 ulp, erfc 16 ulp; float constants (sqrt(2/pi), selu's alpha and lambda)
** add 0.5 ulp each.  Each bound below adds the errors of the operations the
** kernel performs on the exact float input z (see cl/activation.cl), rounded
** up to the next whole ulp:
**   - a relative error on a value that feeds a later operation is carried
**     with that operation's sensitivity; where the device computes an
**     internal argument with rounding (z/sqrt2 in erfc, z*z in exp, y of
**     gelu_tanh), the resulting change is bounded by the function's
**     derivative with respect to that argument (the "sensitivity" terms);
**   - ATOL = 1024 * FLT_MIN covers devices that flush denormal single
**     results to zero (allowed by OpenCL 1.2): a flushed intermediate is
**     < FLT_MIN and is multiplied by at most ~170 afterwards (gelu_tanh's
**     2z * (1 + 3 kappa z^2) where sigmoid(2y) is denormal, |z| < 9).
** The backward adds the product dh * f'(z): 0.5 ulp, counted as 1 ulp so
** that the reference's own double rounding cannot tip a correctly rounded
** result over the bound.  NaN z must give NaN; ±Inf z the limit, exactly or,
** where the limit is a float constant (selu, elu), within 8 ulp.
*/
#define ULP 0x1.0p-23
#define ATOL (1024.0 * FLT_MIN)

static double bound_forward_(clgrad_act act, double p, double z)
{
    double f = fabs(clgrad_activation_ref_forward(act, p, z));
    switch (act) {
    case CLGRAD_ACT_IDENTITY: case CLGRAD_ACT_RELU: return 0.0; /* copies */
    case CLGRAD_ACT_LEAKY_RELU: return ULP * f + ATOL;            /* one product */
    case CLGRAD_ACT_SIGMOID: return ULP * 6 * f + ATOL;           /* exp 3, 1+e 0.5, div 2.5 */
    case CLGRAD_ACT_TANH: return ULP * 5 * f + ATOL;              /* tanh 5 */
    case CLGRAD_ACT_ELU: return ULP * 4 * f + ATOL;               /* expm1 3, *alpha 0.5 */
    case CLGRAD_ACT_SELU: return ULP * 5 * f + ATOL;              /* consts 1, expm1 3, products 1 */
    case CLGRAD_ACT_SOFTSIGN: return ULP * 3 * f + ATOL;          /* 1+|z| 0.5, div 2.5 */
    case CLGRAD_ACT_SOFTPLUS: return ULP * 6 * f + ATOL;          /* exp 3 -> log1p 2, sum 0.5 */
    case CLGRAD_ACT_GELU:
        /* erfc 16, product 0.5; z/sqrt2 off by 1 ulp moves z*Phi by z * phi(z) * z */
        return ULP * (17 * f + z * z * phi_(z)) + ATOL;
    case CLGRAD_ACT_GELU_TANH: {
        /* sigmoid 6, product 0.5; 2y off by 3.5 ulp moves z*s by |z| s'(2y) |2y| */
        double t = gelu_2y_(z);
        return ULP * (7 * f + 3.5 * fabs(z) * dsigmoid_(t) * fabs(t)) + ATOL;
    }
    default: return 0.0;
    }
}

static double bound_derivative_(clgrad_act act, double p, double z)
{
    double d = fabs(clgrad_activation_ref_derivative(act, p, z));
    switch (act) {
    case CLGRAD_ACT_IDENTITY: case CLGRAD_ACT_RELU: case CLGRAD_ACT_LEAKY_RELU: return 0.0; /* exact */
    case CLGRAD_ACT_SIGMOID: case CLGRAD_ACT_SOFTPLUS: case CLGRAD_ACT_TANH:
        return ULP * 7 * d + ATOL;  /* exp 3, (1+e)^2 1.5, div 2.5 */
    case CLGRAD_ACT_ELU: return ULP * 4 * d + ATOL;      /* exp 3, *alpha 0.5 */
    case CLGRAD_ACT_SELU: return ULP * 5 * d + ATOL;     /* consts 1.5, exp 3, product 0.5 */
    case CLGRAD_ACT_SOFTSIGN: return ULP * 7 * d + ATOL; /* 1/(1+|z|) 3, squared 6.5 */
    case CLGRAD_ACT_GELU: {
        /* Phi: erfc 16 + |z| phi for its 1-ulp argument; z*phi: exp 3 plus
        ** 0.5 z^2 for the rounding of z*z/2, const and products 1.5; sum 0.5.
        ** Phi and z*phi cancel near z = -0.75, hence absolute terms. */
        double az = fabs(z), ph = phi_(z);
        return ULP * (17 * Phi_(z) + az * ph * (8 + 0.5 * z * z)) + ATOL;
    }
    case CLGRAD_ACT_GELU_TANH: {
        /* s: sigmoid 6 + s'(t)|t| * 3.5 for t = 2y; q = 2 z s'(t) (1 + 3 kappa z^2) beta:
        ** s' 7 + |1-2s||t| 3.5 for t, the polynomial 3.5, products 1; sum 0.5 */
        double t = gelu_2y_(z), s = sigmoid_(t), ds = dsigmoid_(t);
        double q = fabs(2.0 * z * ds * GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * z * z));
        return ULP * (6.5 * s + 3.5 * ds * fabs(t) + q * (12.5 + 3.5 * fabs(t))) + ATOL;
    }
    default: return 0.0;
    }
}

void clgrad_activation_ref_bounds(clgrad_act act, double p, double z, double dh, double *tol_h, double *tol_dz)
{
    if (isinf(z)) {
        /* the limits: exact, or a float constant (selu's -lambda alpha, lambda,
        ** elu's -alpha) rounded by at most 3 roundings: 8 ulp is generous */
        double f = clgrad_activation_ref_forward(act, p, z), d = clgrad_activation_ref_backward(act, p, z, dh);
        if (tol_h) *tol_h = isfinite(f) ? 8 * ULP * fabs(f) : 0.0;
        if (tol_dz) *tol_dz = isfinite(d) ? 8 * ULP * fabs(d) : 0.0;
        return;
    }
    int finite = isfinite(z) && isfinite(dh);
    if (tol_h) *tol_h = isfinite(z) ? bound_forward_(act, p, z) : 0.0;
    if (tol_dz) {
        if (!finite || act == CLGRAD_ACT_IDENTITY) *tol_dz = 0.0;
        else {
            double d = fabs(clgrad_activation_ref_derivative(act, p, z));
            *tol_dz = fabs(dh) * (bound_derivative_(act, p, z) + ULP * d) + ATOL;
        }
    }
}

void clgrad_activation_ref_bias_add(const float *X, size_t rows, size_t cols, const float *b, double *out)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) out[i * cols + j] = (double)X[i * cols + j] + (double)b[j];
}

void clgrad_activation_ref_bias_grad(const float *dY, size_t rows, size_t cols, double beta, const float *db_in,
                                     double *db_out)
{
    for (size_t j = 0; j < cols; j++) {
        double s = 0.0;
        for (size_t i = 0; i < rows; i++) s += dY[i * cols + j];
        db_out[j] = beta == 0 ? s : beta * db_in[j] + s;
    }
}

/* ---- float32 host replica of activation_bias_grad's fixed order ----
** cl/activation.cl specifies it; written here as the literal recursive
** balanced tree over identity-padded blocks (the device skips the padding
** and shares the tree among work-items: equal bits show that this is exact). */

#define BG_BLOCK 32 /* ACT_BG_BLOCK */

typedef struct {
    float s, c;
} bg_rec_;

static bg_rec_ bg_merge_(bg_rec_ a, bg_rec_ b)
{
    bg_rec_ r;
    r.s = a.s + b.s;
    r.c = (a.c + b.c) + (fabsf(a.s) >= fabsf(b.s) ? (a.s - r.s) + b.s : (b.s - r.s) + a.s);
    return r;
}

static bg_rec_ bg_tree_(const float *dY, size_t rows, size_t cols, size_t j, size_t nb, size_t lo, size_t w)
{
    bg_rec_ r = {-0.0f, 0.0f};
    if (lo >= nb) return r;
    if (w > 1)
        return bg_merge_(bg_tree_(dY, rows, cols, j, nb, lo, w / 2), bg_tree_(dY, rows, cols, j, nb, lo + w / 2, w / 2));
    size_t i1 = (lo + 1) * BG_BLOCK < rows ? (lo + 1) * BG_BLOCK : rows;
    for (size_t i = lo * BG_BLOCK; i < i1; i++) {
        float x = dY[i * cols + j], t = r.s + x;
        r.c = r.c + (fabsf(r.s) >= fabsf(x) ? (r.s - t) + x : (x - t) + r.s);
        r.s = t;
    }
    return r;
}

void clgrad_activation_bias_grad_replica(const float *dY, size_t rows, size_t cols, float beta, const float *db_in,
                                         float *db_out)
{
    size_t nb = (rows + BG_BLOCK - 1) / BG_BLOCK, P = 1;
    while (P < nb) P *= 2;
    for (size_t j = 0; j < cols; j++) {
        bg_rec_ r = bg_tree_(dY, rows, cols, j, nb, 0, P);
        float v = isfinite(r.s) ? r.s + r.c : r.s;
        db_out[j] = beta == 0.0f ? v : beta * db_in[j] + v;
    }
}

/* ---- self-check ---- */

#define SC_N 300 /* more than one work-group of 256 */

static clgrad_status act_case_(clgrad_ctx *ctx, clgrad_act act, cl_mem dz_, cl_mem ddh, cl_mem dout,
                               clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    static const float special[] = {0.0f, 100.0f, -100.0f, 1e4f, -1e4f, INFINITY, -INFINITY, NAN};
    const int nspecial = (int)(sizeof special / sizeof special[0]);
    float z[SC_N], dh[SC_N], out[SC_N];
    double ref[SC_N], tol[SC_N], tol2[SC_N];
    float p = clgrad_act_default_param(act);
    clgrad_testrng rng = {0x5eed0000u + (uint64_t)act};
    for (int i = 0; i < SC_N; i++) {
        z[i] = i < nspecial ? special[i] : clgrad_testrng_uniform(&rng, -8, 8);
        dh[i] = clgrad_testrng_uniform(&rng, -2, 2);
    }
    CLGRAD_TRY(clgrad_buf_write(ctx, dz_, 0, SC_N, z));
    CLGRAD_TRY(clgrad_buf_write(ctx, ddh, 0, SC_N, dh));
    CLGRAD_TRY(clgrad_activation_forward(ctx, act, p, dz_, 0, dout, 0, SC_N));
    CLGRAD_TRY(clgrad_buf_read(ctx, dout, 0, SC_N, out));
    for (int i = 0; i < SC_N; i++) {
        ref[i] = clgrad_activation_ref_forward(act, p, z[i]);
        clgrad_activation_ref_bounds(act, p, z[i], dh[i], &tol[i], &tol2[i]);
    }
    char what[96];
    double w = clgrad_worst_ratio(out, ref, tol, SC_N);
    snprintf(what, sizeof what, "%s forward n=%d (error/bound)", clgrad_act_name(act), SC_N);
    report(user, "activation", what, w <= 1.0, w, 1.0);

    CLGRAD_TRY(clgrad_activation_backward(ctx, act, p, dz_, 0, ddh, 0, dout, 0, SC_N));
    CLGRAD_TRY(clgrad_buf_read(ctx, dout, 0, SC_N, out));
    for (int i = 0; i < SC_N; i++) ref[i] = clgrad_activation_ref_backward(act, p, z[i], dh[i]);
    w = clgrad_worst_ratio(out, ref, tol2, SC_N);
    snprintf(what, sizeof what, "%s backward n=%d (error/bound)", clgrad_act_name(act), SC_N);
    report(user, "activation", what, w <= 1.0, w, 1.0);
fail:
    return st;
}

#define SC_R 65
#define SC_C 7

static clgrad_status bias_case_(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    float X[SC_R * SC_C], b[SC_C], db[SC_C], out[SC_R * SC_C];
    double ref[SC_R * SC_C], tol[SC_R * SC_C];
    cl_mem dX = NULL, db_ = NULL;
    clgrad_testrng rng = {0xb1a5u};
    for (int i = 0; i < SC_R * SC_C; i++) X[i] = clgrad_testrng_uniform(&rng, -2, 2);
    for (int j = 0; j < SC_C; j++) {
        b[j] = clgrad_testrng_uniform(&rng, -2, 2);
        db[j] = clgrad_testrng_uniform(&rng, -1, 1);
    }
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_R * SC_C, "selfcheck X", &dX));
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_C, "selfcheck b", &db_));
    CLGRAD_TRY(clgrad_buf_write(ctx, dX, 0, SC_R * SC_C, X));
    CLGRAD_TRY(clgrad_buf_write(ctx, db_, 0, SC_C, b));
    CLGRAD_TRY(clgrad_activation_bias_add(ctx, dX, 0, SC_R, SC_C, db_, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, dX, 0, SC_R * SC_C, out));
    clgrad_activation_ref_bias_add(X, SC_R, SC_C, b, ref);
    /* one correctly rounded add: 0.5 ulp, +0.5 for the reference's own rounding */
    for (int i = 0; i < SC_R * SC_C; i++) tol[i] = 0x1.0p-23 * fabs(ref[i]);
    double w = clgrad_worst_ratio(out, ref, tol, SC_R * SC_C);
    report(user, "activation", "bias_add 65x7 (error/bound)", w <= 1.0, w, 1.0);

    /* db = 0.5 db + column sums of X; bound (u = 2^-24, mag = sum of |terms|):
    ** compensated per-item sums 2u (+ O(n u^2), n < 2^20 rows per item: < 1u),
    ** a tree of log2(S) <= log2(wg) <= 8 levels 8u, beta product and last add 2u: 16u */
    CLGRAD_TRY(clgrad_buf_write(ctx, dX, 0, SC_R * SC_C, X));
    CLGRAD_TRY(clgrad_buf_write(ctx, db_, 0, SC_C, db));
    CLGRAD_TRY(clgrad_activation_bias_grad(ctx, dX, 0, SC_R, SC_C, 0.5f, db_, 0));
    CLGRAD_TRY(clgrad_buf_read(ctx, db_, 0, SC_C, out));
    clgrad_activation_ref_bias_grad(X, SC_R, SC_C, 0.5, db, ref);
    for (int j = 0; j < SC_C; j++) {
        double mag = 0.5 * fabs(db[j]);
        for (int i = 0; i < SC_R; i++) mag += fabs(X[i * SC_C + j]);
        tol[j] = 16 * 0x1.0p-24 * mag;
    }
    w = clgrad_worst_ratio(out, ref, tol, SC_C);
    report(user, "activation", "bias_grad 65x7 beta=0.5 (error/bound)", w <= 1.0, w, 1.0);
fail:
    clgrad_buf_free(&dX);
    clgrad_buf_free(&db_);
    return st;
}

clgrad_status clgrad_selfcheck_activation(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    clgrad_status st = CLGRAD_OK;
    cl_mem dz = NULL, ddh = NULL, dout = NULL;
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck z", &dz));
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck dh", &ddh));
    CLGRAD_TRY(clgrad_buf_new(ctx, SC_N, "selfcheck out", &dout));
    for (int a = 0; a < CLGRAD_ACT_COUNT; a++) CLGRAD_TRY(act_case_(ctx, (clgrad_act)a, dz, ddh, dout, report, user));
    CLGRAD_TRY(bias_case_(ctx, report, user));
fail:
    clgrad_buf_free(&dz);
    clgrad_buf_free(&ddh);
    clgrad_buf_free(&dout);
    return st;
}
