/*
** init.c: weight initialisation: configurations and their names, the
** distribution each kind resolves to (bounds, stds and fans for the logs),
** the device launcher of cl/init.cl, the bit-identical host version, the
** float64 Householder QR behind orthogonal initialisation (the self-check:
** src/check/init_check.c).  The generator itself is the host half of cl/init.cl, included
** below, so host and device run the same source.
*/
#include "core/internal.h"
#include "clgrad/init.h"
#include "clgrad/activation.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The generator: the very text the device compiles (kernels excluded). */
#include "../../cl/init.cl"

/* ------------------------------------------------------------------------ */
/* Names and defaults                                                       */
/* ------------------------------------------------------------------------ */
static const char *const kind_names_[CLGRAD_INIT_NKINDS] = {
    "zeros",          "constant",        "uniform",        "normal",       "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "lecun_normal", "linear_default", "orthogonal",
};

static const struct {
    const char *name;
    clgrad_init_kind kind;
} aliases_[] = {
    {"glorot_uniform", CLGRAD_INIT_XAVIER_UNIFORM}, {"glorot_normal", CLGRAD_INIT_XAVIER_NORMAL},
    {"he_uniform", CLGRAD_INIT_KAIMING_UNIFORM},    {"he_normal", CLGRAD_INIT_KAIMING_NORMAL},
    {"linear", CLGRAD_INIT_LINEAR_DEFAULT},
};

const char *clgrad_init_name(clgrad_init_kind kind)
{
    return (int)kind >= 0 && kind < CLGRAD_INIT_NKINDS ? kind_names_[kind] : "?";
}

int clgrad_init_parse(const char *s)
{
    if (!s) return -1;
    for (int k = 0; k < CLGRAD_INIT_NKINDS; k++)
        if (strcmp(s, kind_names_[k]) == 0) return k;
    for (size_t i = 0; i < sizeof aliases_ / sizeof aliases_[0]; i++)
        if (strcmp(s, aliases_[i].name) == 0) return (int)aliases_[i].kind;
    return -1;
}

const char *clgrad_init_mode_name(clgrad_init_mode mode)
{
    return mode == CLGRAD_INIT_FAN_IN ? "fan_in" : mode == CLGRAD_INIT_FAN_OUT ? "fan_out" : "?";
}

int clgrad_init_mode_parse(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "fan_in") == 0) return CLGRAD_INIT_FAN_IN;
    if (strcmp(s, "fan_out") == 0) return CLGRAD_INIT_FAN_OUT;
    return -1;
}

clgrad_init_cfg clgrad_init_default(clgrad_init_kind kind)
{
    clgrad_init_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.gain = (kind == CLGRAD_INIT_KAIMING_UNIFORM || kind == CLGRAD_INIT_KAIMING_NORMAL) ? sqrt(2.0) : 1.0;
    c.std = 1.0;
    c.mean = 0.0;
    c.a = 0.0;
    c.b = 1.0;
    c.mode = CLGRAD_INIT_FAN_IN;
    c.value = 0.0;
    return c;
}

/* ------------------------------------------------------------------------ */
/* Resolving a configuration                                                */
/* ------------------------------------------------------------------------ */
/* Float parameters must survive rounding to float as finite numbers. */
static int finite_float_(double x) { return isfinite(x) && fabs(x) <= FLT_MAX; }

static void set_uniform_(clgrad_init_dist *d, double lo, double hi)
{
    d->family = CLGRAD_INIT_DIST_UNIFORM;
    d->lo = lo, d->hi = hi;
    d->mean = 0.5 * (lo + hi);
    d->bound = 0.5 * (hi - lo);
    d->std = (hi - lo) / sqrt(12.0);
}

static void set_normal_(clgrad_init_dist *d, double mean, double std)
{
    d->family = CLGRAD_INIT_DIST_NORMAL;
    d->mean = d->lo = d->hi = mean;
    d->std = std;
}

/* The formulas follow torch.nn.init operation for operation, so the doubles
** are the ones PyTorch computes (semantics.md's constants). */
clgrad_status clgrad_init_resolve(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out, clgrad_init_dist *out)
{
    clgrad_init_dist d;
    memset(&d, 0, sizeof d);
    if (!cfg || !out) return CLGRAD_E_ARG;
    double gain = cfg->gain, fan;
    switch (cfg->kind) {
    case CLGRAD_INIT_ZEROS:
        d.family = CLGRAD_INIT_DIST_CONSTANT;
        break;
    case CLGRAD_INIT_CONSTANT:
        if (!finite_float_(cfg->value)) return CLGRAD_E_ARG;
        d.family = CLGRAD_INIT_DIST_CONSTANT;
        d.mean = d.lo = d.hi = cfg->value;
        break;
    case CLGRAD_INIT_UNIFORM:
        if (!finite_float_(cfg->a) || !finite_float_(cfg->b) || !finite_float_(cfg->b - cfg->a) || cfg->a > cfg->b)
            return CLGRAD_E_ARG;
        set_uniform_(&d, cfg->a, cfg->b);
        break;
    case CLGRAD_INIT_NORMAL:
        if (!finite_float_(cfg->mean) || !finite_float_(cfg->std) || cfg->std < 0) return CLGRAD_E_ARG;
        set_normal_(&d, cfg->mean, cfg->std);
        break;
    case CLGRAD_INIT_XAVIER_UNIFORM:
    case CLGRAD_INIT_XAVIER_NORMAL: {
        if (!finite_float_(gain) || gain < 0 || fan_in + fan_out == 0) return CLGRAD_E_ARG;
        fan = (double)fan_in + (double)fan_out;
        double std = gain * sqrt(2.0 / fan);
        if (cfg->kind == CLGRAD_INIT_XAVIER_NORMAL) set_normal_(&d, 0.0, std);
        else {
            double a = sqrt(3.0) * std;
            set_uniform_(&d, -a, a);
        }
        d.fan = fan;
        break;
    }
    case CLGRAD_INIT_KAIMING_UNIFORM:
    case CLGRAD_INIT_KAIMING_NORMAL: {
        if (cfg->mode != CLGRAD_INIT_FAN_IN && cfg->mode != CLGRAD_INIT_FAN_OUT) return CLGRAD_E_ARG;
        fan = (double)(cfg->mode == CLGRAD_INIT_FAN_IN ? fan_in : fan_out);
        if (!finite_float_(gain) || gain < 0 || fan == 0) return CLGRAD_E_ARG;
        double std = gain / sqrt(fan);
        if (cfg->kind == CLGRAD_INIT_KAIMING_NORMAL) set_normal_(&d, 0.0, std);
        else {
            double a = sqrt(3.0) * std;
            set_uniform_(&d, -a, a);
        }
        d.fan = fan;
        break;
    }
    case CLGRAD_INIT_LECUN_NORMAL:
        if (!finite_float_(gain) || gain < 0 || fan_in == 0) return CLGRAD_E_ARG;
        d.fan = (double)fan_in;
        set_normal_(&d, 0.0, gain / sqrt(d.fan));
        break;
    case CLGRAD_INIT_LINEAR_DEFAULT: {
        if (fan_in == 0) return CLGRAD_E_ARG;
        d.fan = (double)fan_in;
        double a = 1.0 / sqrt(d.fan); /* nn.Linear's bias formula; the weight's (kaiming a=sqrt 5) is the same */
        set_uniform_(&d, -a, a);
        break;
    }
    case CLGRAD_INIT_ORTHOGONAL: {
        if (!finite_float_(gain) || gain < 0) return CLGRAD_E_ARG;
        size_t m = fan_in > fan_out ? fan_in : fan_out;
        d.family = CLGRAD_INIT_DIST_ORTHOGONAL;
        d.std = m ? gain / sqrt((double)m) : 0.0;
        break;
    }
    default:
        return CLGRAD_E_ARG;
    }
    /* the drawn parameters are floats: they must stay finite */
    if (!finite_float_(d.std) || !finite_float_(d.bound)) return CLGRAD_E_ARG;
    *out = d;
    return CLGRAD_OK;
}

double clgrad_init_bound(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out)
{
    clgrad_init_dist d;
    return clgrad_init_resolve(cfg, fan_in, fan_out, &d) == CLGRAD_OK ? d.bound : NAN;
}

double clgrad_init_std(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out)
{
    clgrad_init_dist d;
    return clgrad_init_resolve(cfg, fan_in, fan_out, &d) == CLGRAD_OK ? d.std : NAN;
}

int clgrad_init_describe(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out, char *buf, size_t n)
{
    clgrad_init_dist d;
    if (!cfg || clgrad_init_resolve(cfg, fan_in, fan_out, &d) != CLGRAD_OK)
        return snprintf(buf, n, "%s(invalid configuration)", cfg ? clgrad_init_name(cfg->kind) : "?");
    char head[160];
    const char *name = clgrad_init_name(cfg->kind);
    switch (cfg->kind) {
    case CLGRAD_INIT_XAVIER_UNIFORM:
    case CLGRAD_INIT_XAVIER_NORMAL:
        snprintf(head, sizeof head, "%s(fan_in=%zu, fan_out=%zu, gain=%g)", name, fan_in, fan_out, cfg->gain);
        break;
    case CLGRAD_INIT_KAIMING_UNIFORM:
    case CLGRAD_INIT_KAIMING_NORMAL:
        snprintf(head, sizeof head, "%s(mode=%s, fan=%.0f, gain=%g)", name, clgrad_init_mode_name(cfg->mode), d.fan,
                 cfg->gain);
        break;
    case CLGRAD_INIT_LECUN_NORMAL:
        snprintf(head, sizeof head, "%s(fan_in=%zu, gain=%g)", name, fan_in, cfg->gain);
        break;
    case CLGRAD_INIT_LINEAR_DEFAULT:
        snprintf(head, sizeof head, "%s(fan_in=%zu)", name, fan_in);
        break;
    case CLGRAD_INIT_ORTHOGONAL:
        snprintf(head, sizeof head, "%s(gain=%g)", name, cfg->gain);
        break;
    default:
        snprintf(head, sizeof head, "%s", name);
        break;
    }
    switch (d.family) {
    case CLGRAD_INIT_DIST_CONSTANT: return snprintf(buf, n, "%s = %.9g", head, d.mean);
    case CLGRAD_INIT_DIST_UNIFORM:
        return snprintf(buf, n, "%s = U(%.9g, %.9g), std %.9g", head, d.lo, d.hi, d.std);
    case CLGRAD_INIT_DIST_NORMAL: return snprintf(buf, n, "%s = N(%.9g, %.9g^2)", head, d.mean, d.std);
    default: return snprintf(buf, n, "%s = orthogonal, entry RMS %.9g", head, d.std);
    }
}

/* ------------------------------------------------------------------------ */
/* Elementwise kinds: the kernel's arguments                                 */
/* ------------------------------------------------------------------------ */
typedef struct {
    int dist;
    float p0, p1;
} elem_params_;

static elem_params_ elem_params_of_(const clgrad_init_cfg *cfg, const clgrad_init_dist *d)
{
    elem_params_ e = {RNG_DIST_CONSTANT, 0.0f, 0.0f};
    if (d->family == CLGRAD_INIT_DIST_CONSTANT) {
        e.p0 = (float)d->mean;
    } else if (d->family == CLGRAD_INIT_DIST_NORMAL) {
        e.dist = RNG_DIST_NORMAL;
        e.p0 = (float)d->mean;
        e.p1 = (float)d->std;
    } else if (cfg->kind == CLGRAD_INIT_UNIFORM) {
        e.dist = RNG_DIST_UNIFORM;
        e.p0 = (float)d->lo;
        e.p1 = (float)(d->hi - d->lo);
    } else { /* symmetric uniform kinds */
        e.dist = RNG_DIST_SYMMETRIC;
        e.p1 = (float)d->bound;
    }
    return e;
}

static int size_ok_(size_t rows, size_t cols, size_t *n)
{
    if (cols && rows > SIZE_MAX / cols) return 0;
    *n = rows * cols;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Orthogonal: float64 Householder QR on the host                           */
/* ------------------------------------------------------------------------ */
/* Householder QR of the column-major (m, n) matrix A, m >= n, in place:
** column k keeps v_k in rows k..m-1 (H_k = I - beta_k v_k v_k^T); rdiag gets
** R's diagonal.  Then Q = H_0 ... H_{n-1} [I; 0] is accumulated into the
** column-major (m, n) Q, each column multiplied by sign(R_kk) (+1 for 0). */
static void householder_q_(double *A, size_t m, size_t n, double *beta, double *rdiag, double *Q)
{
    for (size_t k = 0; k < n; k++) {
        double *x = A + k * m;
        double ss = 0.0;
        for (size_t i = k; i < m; i++) ss += x[i] * x[i];
        double norm = sqrt(ss);
        if (norm == 0.0) {
            beta[k] = 0.0, rdiag[k] = 0.0;
            continue;
        }
        double alpha = x[k] >= 0.0 ? -norm : norm; /* v = x - alpha e_k without cancellation */
        x[k] -= alpha;
        double vtv = 0.0;
        for (size_t i = k; i < m; i++) vtv += x[i] * x[i];
        beta[k] = 2.0 / vtv;
        rdiag[k] = alpha;
        for (size_t j = k + 1; j < n; j++) {
            double *y = A + j * m, s = 0.0;
            for (size_t i = k; i < m; i++) s += x[i] * y[i];
            s *= beta[k];
            for (size_t i = k; i < m; i++) y[i] -= s * x[i];
        }
    }
    memset(Q, 0, m * n * sizeof *Q);
    for (size_t k = 0; k < n; k++) Q[k * m + k] = 1.0;
    for (size_t k = n; k-- > 0;) {
        const double *v = A + k * m;
        if (beta[k] == 0.0) continue;
        for (size_t j = k; j < n; j++) {
            double *y = Q + j * m, s = 0.0;
            for (size_t i = k; i < m; i++) s += v[i] * y[i];
            s *= beta[k];
            for (size_t i = k; i < m; i++) y[i] -= s * v[i];
        }
    }
    for (size_t j = 0; j < n; j++)
        if (rdiag[j] < 0.0)
            for (size_t i = 0; i < m; i++) Q[j * m + i] = -Q[j * m + i];
}

/* torch.nn.init.orthogonal_: G (rows, cols) ~ N(0, 1) from the generator; if
** rows < cols work on G^T; Q of the QR, sign-fixed; transpose back; * gain. */
static clgrad_status orthogonal_host_(double gain, uint64_t seed, uint32_t tensor, size_t rows, size_t cols,
                                      float *out)
{
    size_t tall = rows >= cols, m = tall ? rows : cols, n = tall ? cols : rows;
    double *A = malloc(m * n * sizeof *A), *Q = malloc(m * n * sizeof *Q);
    double *beta = malloc(n * sizeof *beta), *rdiag = malloc(n * sizeof *rdiag);
    if (!A || !Q || !beta || !rdiag) {
        free(A), free(Q), free(beta), free(rdiag);
        return CLGRAD_E_NOMEM;
    }
    rng_u32 slo = (rng_u32)seed, shi = (rng_u32)(seed >> 32);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            size_t i = tall ? r : c, j = tall ? c : r; /* M(i, j), column-major */
            A[j * m + i] = rng_init_value(RNG_DIST_NORMAL, 0.0f, 1.0f, slo, shi, tensor, (rng_u64)(r * cols + c));
        }
    householder_q_(A, m, n, beta, rdiag, Q);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            size_t i = tall ? r : c, j = tall ? c : r;
            out[r * cols + c] = (float)(gain * Q[j * m + i]);
        }
    free(A), free(Q), free(beta), free(rdiag);
    return CLGRAD_OK;
}

/* ------------------------------------------------------------------------ */
/* Host and device fills                                                    */
/* ------------------------------------------------------------------------ */
clgrad_status clgrad_init_tensor_host(const clgrad_init_cfg *cfg, uint64_t seed, uint32_t tensor_id, size_t fan_in,
                                      size_t fan_out, size_t rows, size_t cols, float *out)
{
    clgrad_init_dist d;
    size_t n;
    clgrad_status st = clgrad_init_resolve(cfg, fan_in, fan_out, &d);
    if (st != CLGRAD_OK) return st;
    if (!size_ok_(rows, cols, &n)) return CLGRAD_E_ARG;
    if (n == 0) return CLGRAD_OK;
    if (!out) return CLGRAD_E_ARG;
    if (d.family == CLGRAD_INIT_DIST_ORTHOGONAL) return orthogonal_host_(cfg->gain, seed, tensor_id, rows, cols, out);
    elem_params_ e = elem_params_of_(cfg, &d);
    rng_u32 slo = (rng_u32)seed, shi = (rng_u32)(seed >> 32);
    for (size_t i = 0; i < n; i++) out[i] = rng_init_value(e.dist, e.p0, e.p1, slo, shi, tensor_id, (rng_u64)i);
    return CLGRAD_OK;
}

/* Orthogonal on the device: computed on the host, uploaded. */
static clgrad_status orthogonal_upload_(clgrad_ctx *ctx, double gain, uint64_t seed, uint32_t tensor_id, size_t rows,
                                        size_t cols, cl_mem buf, size_t off)
{
    clgrad_status st = CLGRAD_OK;
    float *host = malloc(rows * cols * sizeof *host);
    if (!host || orthogonal_host_(gain, seed, tensor_id, rows, cols, host) != CLGRAD_OK) {
        st = clgrad_fail(ctx, CLGRAD_E_NOMEM, "init orthogonal: out of memory for the QR of %zu x %zu", rows, cols);
        goto fail;
    }
    CLGRAD_TRY(clgrad_buf_write(ctx, buf, off, rows * cols, host));
fail:
    free(host);
    return st;
}

clgrad_status clgrad_init_tensor(clgrad_ctx *ctx, const clgrad_init_cfg *cfg, uint64_t seed, uint32_t tensor_id,
                                 size_t fan_in, size_t fan_out, size_t rows, size_t cols, cl_mem buf, size_t off)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_init_dist d;
    size_t n;
    if (!cfg) return clgrad_fail(ctx, CLGRAD_E_ARG, "init: no configuration");
    if (clgrad_init_resolve(cfg, fan_in, fan_out, &d) != CLGRAD_OK)
        return clgrad_fail(ctx, CLGRAD_E_ARG,
                           "init %s: invalid configuration (gain=%g std=%g mean=%g a=%g b=%g mode=%d value=%g, "
                           "fan_in=%zu fan_out=%zu)",
                           clgrad_init_name(cfg->kind), cfg->gain, cfg->std, cfg->mean, cfg->a, cfg->b,
                           (int)cfg->mode, cfg->value, fan_in, fan_out);
    if (!size_ok_(rows, cols, &n))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "init: %zu x %zu elements overflow size_t", rows, cols);
    if (n == 0) return CLGRAD_OK;
    if (d.family == CLGRAD_INIT_DIST_ORTHOGONAL)
        return orthogonal_upload_(ctx, cfg->gain, seed, tensor_id, rows, cols, buf, off);

    elem_params_ e = elem_params_of_(cfg, &d);
    cl_kernel k = clgrad_kernel(ctx, "init_tensor");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong o = off, nn = n;
    cl_uint slo = (cl_uint)seed, shi = (cl_uint)(seed >> 32), t = tensor_id;
    cl_int dist = e.dist;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, buf);
    CLGRAD_ARG(ctx, k, i++, o);
    CLGRAD_ARG(ctx, k, i++, nn);
    CLGRAD_ARG(ctx, k, i++, dist);
    CLGRAD_ARG(ctx, k, i++, e.p0);
    CLGRAD_ARG(ctx, k, i++, e.p1);
    CLGRAD_ARG(ctx, k, i++, slo);
    CLGRAD_ARG(ctx, k, i++, shi);
    CLGRAD_ARG(ctx, k, i++, t);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "init_tensor", n, clgrad_wg(ctx)));
fail:
    return st;
}

/* ------------------------------------------------------------------------ */
/* Primitives on the host, and their test kernels                           */
/* ------------------------------------------------------------------------ */
void clgrad_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    rng_u32x4 c;
    for (int k = 0; k < 4; k++) c.v[k] = ctr[k];
    c = rng_philox4x32_10(c, key[0], key[1]);
    for (int k = 0; k < 4; k++) out[k] = c.v[k];
}

void clgrad_rng_block(uint64_t seed, uint32_t tensor_id, uint64_t index, uint32_t out[4])
{
    rng_u32x4 c = rng_block((rng_u32)seed, (rng_u32)(seed >> 32), tensor_id, index);
    for (int k = 0; k < 4; k++) out[k] = c.v[k];
}

float clgrad_rng_u01(uint32_t w) { return rng_u01(w); }
float clgrad_rng_sym(uint32_t w) { return rng_sym(w); }
float clgrad_rng_normal(uint32_t w0, uint32_t w1) { return rng_normal(w0, w1); }
float clgrad_rng_log(float x) { return rng_log(x); }
float clgrad_rng_sqrt(float x) { return rng_sqrt(x); }

void clgrad_rng_sincos_turn(uint32_t j, float *s, float *c)
{
    rng_sincos r = rng_sincos_turn(j);
    *s = r.s;
    *c = r.c;
}

static clgrad_status launch_io_(clgrad_ctx *ctx, const char *name, size_t n, cl_mem in, cl_mem out)
{
    clgrad_status st = CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, name);
    if (!k) return CLGRAD_E_ARG;
    cl_ulong nn = n;
    CLGRAD_ARG(ctx, k, 0, in);
    CLGRAD_ARG(ctx, k, 1, out);
    CLGRAD_ARG(ctx, k, 2, nn);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, name, n, clgrad_wg(ctx)));
fail:
    return st;
}

clgrad_status clgrad_init_philox(clgrad_ctx *ctx, size_t n, cl_mem in, cl_mem out)
{
    return launch_io_(ctx, "init_philox", n, in, out);
}

clgrad_status clgrad_init_math(clgrad_ctx *ctx, size_t n, cl_mem in, cl_mem out)
{
    return launch_io_(ctx, "init_math", n, in, out);
}

/* ------------------------------------------------------------------------ */
/* Noise (gradient noise, input noise)                                      */
/* ------------------------------------------------------------------------ */
float clgrad_rng_noise(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index)
{
    return rng_noise_normal((rng_u32)seed, (rng_u32)(seed >> 32), stream, step, index);
}

void clgrad_init_add_noise_host(float *x, size_t n, float std, uint64_t seed, uint32_t stream, uint32_t step)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] + std * clgrad_rng_noise(seed, stream, step, i);
}

double clgrad_grad_noise_std(double eta, double gamma, long step)
{
    if (!(eta > 0.0)) return 0.0;
    return sqrt(eta / pow(1.0 + (double)step, gamma));
}

clgrad_status clgrad_init_add_noise(clgrad_ctx *ctx, cl_mem x, size_t off, size_t n, float std, uint64_t seed,
                                    uint32_t stream, uint32_t step)
{
    clgrad_status st = CLGRAD_OK;
    if (!(std >= 0.0f) || !isfinite(std))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "init_add_noise: std %g must be finite and >= 0", (double)std);
    if (n == 0 || std == 0.0f) return CLGRAD_OK;
    cl_kernel k = clgrad_kernel(ctx, "init_add_noise");
    if (!k) return CLGRAD_E_ARG;
    cl_ulong o = off, nn = n;
    cl_uint slo = (cl_uint)seed, shi = (cl_uint)(seed >> 32), s = stream, t = step;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, x);
    CLGRAD_ARG(ctx, k, i++, o);
    CLGRAD_ARG(ctx, k, i++, nn);
    CLGRAD_ARG(ctx, k, i++, std);
    CLGRAD_ARG(ctx, k, i++, slo);
    CLGRAD_ARG(ctx, k, i++, shi);
    CLGRAD_ARG(ctx, k, i++, s);
    CLGRAD_ARG(ctx, k, i++, t);
    CLGRAD_TRY(clgrad_launch1d(ctx, k, "init_add_noise", n, 0));
fail:
    return st;
}
