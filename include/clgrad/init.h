/*
** clgrad/init.h: weight initialisation from a counter-based generator.
**
** Every element is drawn from Philox-4x32-10 keyed by (seed, tensor id,
** element index), with math built from IEEE-exact operations only, so one
** seed gives bit-identical tensors on every device and on the host
** (clgrad_init_tensor and clgrad_init_tensor_host agree bit for bit).
** Semantics follow torch.nn.init; a weight is (out, in) row-major, so
** fan_in = in and fan_out = out.  See cl/init.cl for the generator.
*/
#ifndef CLGRAD_INIT_H
#define CLGRAD_INIT_H
#include "clgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CLGRAD_INIT_ZEROS = 0,
    CLGRAD_INIT_CONSTANT,        /* value */
    CLGRAD_INIT_UNIFORM,         /* U(a, b) */
    CLGRAD_INIT_NORMAL,          /* N(mean, std^2) */
    CLGRAD_INIT_XAVIER_UNIFORM,  /* U(+-gain sqrt(3) sqrt(2 / (fan_in + fan_out))) */
    CLGRAD_INIT_XAVIER_NORMAL,   /* N(0, (gain sqrt(2 / (fan_in + fan_out)))^2) */
    CLGRAD_INIT_KAIMING_UNIFORM, /* U(+-sqrt(3) gain / sqrt(fan)), fan by mode */
    CLGRAD_INIT_KAIMING_NORMAL,  /* N(0, (gain / sqrt(fan))^2), fan by mode */
    CLGRAD_INIT_LECUN_NORMAL,    /* N(0, (gain / sqrt(fan_in))^2), gain 1 by default (not truncated) */
    CLGRAD_INIT_LINEAR_DEFAULT,  /* PyTorch nn.Linear weight and bias: U(+-1 / sqrt(fan_in)) */
    CLGRAD_INIT_ORTHOGONAL,      /* gain * Q of the QR of a Gaussian (rows, cols) matrix */
    CLGRAD_INIT_NKINDS
} clgrad_init_kind;

typedef enum { CLGRAD_INIT_FAN_IN = 0, CLGRAD_INIT_FAN_OUT = 1 } clgrad_init_mode;

/* What to draw.  Fields a kind does not use are ignored. */
typedef struct clgrad_init_cfg {
    clgrad_init_kind kind;
    double gain;           /* xavier, kaiming, lecun, orthogonal (>= 0, finite) */
    double std, mean;      /* normal */
    double a, b;           /* uniform, a <= b */
    clgrad_init_mode mode; /* kaiming */
    double value;          /* constant */
} clgrad_init_cfg;

/* Defaults as torch.nn.init's: gain 1 (kaiming: sqrt(2), the default
** nonlinearity leaky_relu with slope 0), std 1, mean 0, a 0, b 1, fan_in,
** value 0.  Gains for other nonlinearities come from the activation module. */
clgrad_init_cfg clgrad_init_default(clgrad_init_kind kind);

/* "xavier_uniform" etc.; "?" for an invalid kind. */
const char *clgrad_init_name(clgrad_init_kind kind);
/* Name -> kind (also accepts glorot_uniform, glorot_normal, he_uniform,
** he_normal, linear); -1 when unknown. */
int clgrad_init_parse(const char *s);
/* "fan_in" / "fan_out"; parse returns -1 when unknown. */
const char *clgrad_init_mode_name(clgrad_init_mode mode);
int clgrad_init_mode_parse(const char *s);

/* The element distribution a configuration resolves to, for logging. */
typedef enum {
    CLGRAD_INIT_DIST_CONSTANT = 0, /* every element = mean */
    CLGRAD_INIT_DIST_UNIFORM,      /* U(lo, hi) */
    CLGRAD_INIT_DIST_NORMAL,       /* N(mean, std^2) */
    CLGRAD_INIT_DIST_ORTHOGONAL    /* std is the RMS of the entries, gain / sqrt(max(fan_in, fan_out)) */
} clgrad_init_family;

typedef struct clgrad_init_dist {
    clgrad_init_family family;
    double mean, std; /* of one element */
    double lo, hi;    /* uniform: the interval; otherwise lo = hi = mean */
    double bound;     /* uniform: the half-width (hi - lo) / 2; otherwise 0 */
    double fan;       /* the fan the formula used (xavier: fan_in + fan_out); 0 if none */
} clgrad_init_dist;

/* Resolve cfg for the given fans.  CLGRAD_E_ARG for an invalid kind or mode,
** a non-finite or negative gain/std, a > b, a non-finite parameter, or a
** zero fan that the kind needs. */
clgrad_status clgrad_init_resolve(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out,
                                  clgrad_init_dist *out);
/* Shortcuts for logging: the uniform half-width (0 for non-uniform kinds)
** and the element standard deviation; NaN when cfg is invalid. */
double clgrad_init_bound(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out);
double clgrad_init_std(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out);
/* One log line, e.g. "kaiming_uniform(mode=fan_in, fan=256, gain=1.41421) = U(-0.153093, 0.153093)".
** Returns snprintf's count. */
int clgrad_init_describe(const clgrad_init_cfg *cfg, size_t fan_in, size_t fan_out, char *buf, size_t n);

/* Fill the (rows, cols) row-major tensor at element offset `off` of `buf`:
** element i = r * cols + c is drawn from (seed, tensor_id, i).  Orthogonal
** is computed on the host (float64 Householder QR) and uploaded. */
clgrad_status clgrad_init_tensor(clgrad_ctx *ctx, const clgrad_init_cfg *cfg, uint64_t seed, uint32_t tensor_id,
                                 size_t fan_in, size_t fan_out, size_t rows, size_t cols, cl_mem buf, size_t off);
/* The same on the host, bit-identical to clgrad_init_tensor.  out: (rows, cols).
** CLGRAD_E_ARG as clgrad_init_resolve (or rows * cols overflowing),
** CLGRAD_E_NOMEM (orthogonal workspace). */
clgrad_status clgrad_init_tensor_host(const clgrad_init_cfg *cfg, uint64_t seed, uint32_t tensor_id, size_t fan_in,
                                      size_t fan_out, size_t rows, size_t cols, float *out);

/* ---- the generator's primitives on the host (the same code as on the device) ---- */
/* One Philox-4x32-10 block. */
void clgrad_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* The four words of element `index` of tensor `tensor_id` under `seed`. */
void clgrad_rng_block(uint64_t seed, uint32_t tensor_id, uint64_t index, uint32_t out[4]);
/* (2k + 1) 2^-24, k = w >> 9: in (0, 1), exact. */
float clgrad_rng_u01(uint32_t w);
/* (2k + 1 - 2^23) 2^-23, k = w >> 9: in (-1, 1), exact. */
float clgrad_rng_sym(uint32_t w);
/* Standard normal from two words (Box-Muller; see cl/init.cl). */
float clgrad_rng_normal(uint32_t w0, uint32_t w1);
/* The exact-operation math: ln x (x positive normal), sqrt x (x in
** [2^-60, 2^126]), sin and cos of 2 pi (j + 1/2) / 2^24 (j < 2^24). */
float clgrad_rng_log(float x);
float clgrad_rng_sqrt(float x);
void clgrad_rng_sincos_turn(uint32_t j, float *s, float *c);

/* ---- test kernels: the primitives on the device ---- */
/* in: (n, 6) uint32 = counter[4], key[2]; out: (n, 4) uint32 (buffers of >= 6n, 4n words). */
clgrad_status clgrad_init_philox(clgrad_ctx *ctx, size_t n, cl_mem in, cl_mem out);
/* in: (n, 2) uint32 = bits of x, word w; out: (n, 5) float = log x, sqrt x,
** sin, cos of turn w >> 8, normal(bits of x, w). */
clgrad_status clgrad_init_math(clgrad_ctx *ctx, size_t n, cl_mem in, cl_mem out);

/* ---- noise: Gaussian noise from the same generator (cl/init.cl) ---- */
/* Streams (counter word 3; initialisation is stream 0). */
#define CLGRAD_NOISE_STREAM_GRAD 1u  /* gradient noise */
#define CLGRAD_NOISE_STREAM_INPUT 2u /* input-noise augmentation */
#define CLGRAD_NOISE_STREAM_SHARPNESS 3u /* start vectors of the sharpness estimate (clgrad/sharpness.h) */
/* x[off + i] += std * z_i for i < n, z_i the standard normal drawn from
** (seed, stream, step, i): bit-identical on every device and on the host.
** One launch of init_add_noise; std = 0 launches nothing. */
clgrad_status clgrad_init_add_noise(clgrad_ctx *ctx, cl_mem x, size_t off, size_t n, float std, uint64_t seed,
                                    uint32_t stream, uint32_t step);
/* The host side: z_i, and the same update on a host array (bit-identical). */
float clgrad_rng_noise(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index);
void clgrad_init_add_noise_host(float *x, size_t n, float std, uint64_t seed, uint32_t stream, uint32_t step);
/* Gradient noise's standard deviation at a step (Neelakantan et al. 2015):
** sqrt(eta / (1 + step)^gamma); 0 when eta <= 0. */
double clgrad_grad_noise_std(double eta, double gamma, long step);

#ifdef __cplusplus
}
#endif
#endif
