/*
** init.cl: the counter-based random generator and the weight-initialisation
** kernels.
**
** This one file is compiled twice: as the device program common.cl + init.cl,
** and on the host, where src/ops/init.c does `#include "../../cl/init.cl"` and gets
** everything above the kernels section (the kernels are inside
** #ifdef __OPENCL_VERSION__).  One source for both sides is what makes one
** seed give bit-identical numbers on every device and on the host.  (A
** program is common.cl plus one file, so the generator cannot live in a file
** of its own that init.cl includes on the device.)
**
** Generator: Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy
** as 1, 2, 3", SC11; the Random123 reference).  Element i of tensor t under
** seed s is one Philox block with
**     key     = (s mod 2^32, s / 2^32)
**     counter = (i mod 2^32, i / 2^32, t, RNG_STREAM_INIT)
** so any element can be drawn on its own, in any order, on any device.
**
** Only IEEE-exact operations are used on floats: +, -, * (contraction off:
** FP_CONTRACT OFF in common.cl on the device, the pragmas below on the host),
** comparisons, exact int<->float conversions and bit operations.  No
** division and no library function (log, sin, cos, sqrt differ in the last
** bit between math libraries): rng_log, rng_sqrt and rng_sincos_turn below
** are our own, a few ulp accurate (tests/test_init.c measures them against
** double libm) and bit-identical everywhere.  Subnormal numbers are never
** produced on the way (devices may flush them): every intermediate of a
** draw stays >= 2^-60 in magnitude or is exactly zero.
**
** Numbers drawn from one 32-bit word w:
**   rng_u01(w)  = (2k + 1) 2^-24,       k = w >> 9  (23 bits): in (0, 1), exact,
**                 symmetric about 1/2 (mean exactly 1/2)
**   rng_sym(w)  = (2k + 1 - 2^23) 2^-23, k = w >> 9: in (-1, 1), exact, mean 0
** A normal draw uses two words (Box-Muller, cosine branch):
**   z = sqrt(-2 ln u1) cos(2 pi (j + 1/2) / 2^24),  u1 = rng_u01(w0), j = w1 >> 8.
** u1 >= 2^-24 cuts the tails at |z| <= sqrt(48 ln 2) = 5.77: a mass of
** 8e-9, which changes the variance by about 5e-7 (relative).
*/

/* ------------------------------------------------------------------------ */
/* Host / device portability layer                                          */
/* ------------------------------------------------------------------------ */
#ifndef __OPENCL_VERSION__
#include <float.h>
#include <stdint.h>
#include <string.h>
/* float expressions must be evaluated in float (not x87 extended precision),
** or the host would round differently from every device */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "clgrad's generator needs FLT_EVAL_METHOD == 0 (SSE on x86; use -mfpmath=sse on 32-bit x86)"
#endif
/* no fused multiply-add on the host either (GCC ignores the STDC pragma) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
typedef uint32_t rng_u32;
typedef uint64_t rng_u64;
typedef int32_t rng_i32;
#define RNG_FN static inline
RNG_FN float rng_as_float(rng_u32 u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
RNG_FN rng_u32 rng_as_u32(float f)
{
    rng_u32 u;
    memcpy(&u, &f, sizeof u);
    return u;
}
#else
typedef uint rng_u32;
typedef ulong rng_u64;
typedef int rng_i32;
#define RNG_FN
#define rng_as_float(u) as_float(u)
#define rng_as_u32(f) as_uint(f)
#endif

/* Distribution codes shared by the kernel and src/ops/init.c. */
#define RNG_DIST_CONSTANT 0  /* p0 */
#define RNG_DIST_UNIFORM 1   /* p0 + p1 * rng_u01(w0): U(a, b) with p0 = a, p1 = b - a */
#define RNG_DIST_SYMMETRIC 2 /* p1 * rng_sym(w0): U(-p1, p1) */
#define RNG_DIST_NORMAL 3    /* p0 + p1 * z: N(p0, p1^2) */

/* counter word 3: which consumer draws (only initialisation so far) */
#define RNG_STREAM_INIT 0u

/* ------------------------------------------------------------------------ */
/* Philox-4x32-10                                                           */
/* ------------------------------------------------------------------------ */
#define RNG_PHILOX_M0 0xD2511F53u
#define RNG_PHILOX_M1 0xCD9E8D57u
#define RNG_PHILOX_W0 0x9E3779B9u
#define RNG_PHILOX_W1 0xBB67AE85u

typedef struct rng_u32x4 {
    rng_u32 v[4];
} rng_u32x4;

RNG_FN rng_u32x4 rng_philox_round(rng_u32x4 c, rng_u32 k0, rng_u32 k1)
{
    rng_u64 p0 = (rng_u64)RNG_PHILOX_M0 * (rng_u64)c.v[0];
    rng_u64 p1 = (rng_u64)RNG_PHILOX_M1 * (rng_u64)c.v[2];
    rng_u32x4 r;
    r.v[0] = (rng_u32)(p1 >> 32) ^ c.v[1] ^ k0;
    r.v[1] = (rng_u32)p1;
    r.v[2] = (rng_u32)(p0 >> 32) ^ c.v[3] ^ k1;
    r.v[3] = (rng_u32)p0;
    return r;
}

/* One block: 10 rounds, the key bumped by the Weyl constants between rounds. */
RNG_FN rng_u32x4 rng_philox4x32_10(rng_u32x4 c, rng_u32 k0, rng_u32 k1)
{
    for (int i = 0; i < 9; i++) {
        c = rng_philox_round(c, k0, k1);
        k0 += RNG_PHILOX_W0;
        k1 += RNG_PHILOX_W1;
    }
    return rng_philox_round(c, k0, k1);
}

/* The block of element `index` of tensor `tensor` under seed (seed_hi:seed_lo). */
RNG_FN rng_u32x4 rng_block(rng_u32 seed_lo, rng_u32 seed_hi, rng_u32 tensor, rng_u64 index)
{
    rng_u32x4 c;
    c.v[0] = (rng_u32)index;
    c.v[1] = (rng_u32)(index >> 32);
    c.v[2] = tensor;
    c.v[3] = RNG_STREAM_INIT;
    return rng_philox4x32_10(c, seed_lo, seed_hi);
}

/* ------------------------------------------------------------------------ */
/* Uniform floats (exact)                                                   */
/* ------------------------------------------------------------------------ */
/* (2k + 1) 2^-24 with k the top 23 bits: odd multiples of 2^-24 in (0, 1). */
RNG_FN float rng_u01(rng_u32 w) { return (float)(((w >> 9) << 1) | 1u) * 0x1p-24f; }

/* (2k + 1 - 2^23) 2^-23: odd multiples of 2^-23 in (-1, 1). */
RNG_FN float rng_sym(rng_u32 w) { return (float)((rng_i32)(((w >> 9) << 1) | 1u) - 0x800000) * 0x1p-23f; }

/* ------------------------------------------------------------------------ */
/* Math from exact operations only                                          */
/* ------------------------------------------------------------------------ */
/* ln(1 + t) = t + t^2 L(t) on t in [sqrt(1/2) - 1, sqrt(2) - 1]; L is the
** Chebyshev fit of degree 10 to (ln(1 + t) - t) / t^2 (fit error 8e-10),
** coefficients rounded to float. */
#define RNG_L0 -0x1p-1f
#define RNG_L1 0x1.555554p-2f
#define RNG_L2 -0x1.ffffdap-3f
#define RNG_L3 0x1.9999e8p-3f
#define RNG_L4 -0x1.5561bp-3f
#define RNG_L5 0x1.2491d4p-3f
#define RNG_L6 -0x1.fd3646p-4f
#define RNG_L7 0x1.c416dep-4f
#define RNG_L8 -0x1.b934aep-4f
#define RNG_L9 0x1.b1e80cp-4f
#define RNG_L10 -0x1.ed371ep-5f
/* ln 2 = HI + LO with HI of 15 significant bits, so e * HI is exact for |e| < 256 */
#define RNG_LN2_HI 0x1.62e4p-1f
#define RNG_LN2_LO 0x1.7f7d1cp-20f

/* Natural logarithm of a positive normal float x (x in [2^-126, 2^128)).
** x = 2^e m with m in [sqrt(1/2), sqrt(2)), t = m - 1 exact (Sterbenz). */
RNG_FN float rng_log(float x)
{
    rng_u32 b = rng_as_u32(x);
    rng_i32 e = (rng_i32)(b >> 23) - 127;
    rng_u32 mb = (b & 0x007FFFFFu) | 0x3F800000u; /* m in [1, 2) */
    if (mb > 0x3FB504F3u) {                       /* m > sqrt(2): m /= 2 */
        mb -= 0x00800000u;
        e += 1;
    }
    float t = rng_as_float(mb) - 1.0f;
    float q = RNG_L10;
    q = q * t + RNG_L9;
    q = q * t + RNG_L8;
    q = q * t + RNG_L7;
    q = q * t + RNG_L6;
    q = q * t + RNG_L5;
    q = q * t + RNG_L4;
    q = q * t + RNG_L3;
    q = q * t + RNG_L2;
    q = q * t + RNG_L1;
    q = q * t + RNG_L0;
    float ef = (float)e;
    return ef * RNG_LN2_HI + (t + (t * t * q + ef * RNG_LN2_LO));
}

/* Square root of x in [2^-60, 2^126]: reciprocal square root from the bit
** trick and three Newton steps (relative error ~1e-7), r = x y, then one
** correction r += (y/2)(x - r^2) with the residual x - r^2 computed exactly
** (Dekker's product: r^2 = p + e exactly, x - p exact by Sterbenz). */
RNG_FN float rng_sqrt(float x)
{
    float y = rng_as_float(0x5F3759DFu - (rng_as_u32(x) >> 1));
    float h = 0.5f * x;
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    float r = x * y;
    float c = r * 4097.0f; /* Veltkamp split of r into 12 + 12 bits */
    float rh = c - (c - r);
    float rl = r - rh;
    float p = r * r;
    float e = ((rh * rh - p) + 2.0f * rh * rl) + rl * rl;
    float d = (x - p) - e;
    return r + (0.5f * y) * d;
}

/* sin(pi g / 2) and cos(pi g / 2) for g in (0, 1/2]: Taylor polynomials in g
** (truncation error < 3e-9 relative), coefficients rounded to float. */
#define RNG_S1 0x1.921fb6p+0f
#define RNG_S3 -0x1.4abbcep-1f
#define RNG_S5 0x1.466bc6p-4f
#define RNG_S7 -0x1.32d2ccp-8f
#define RNG_S9 0x1.507834p-13f
#define RNG_C2 -0x1.3bd3ccp+0f
#define RNG_C4 0x1.03c1fp-2f
#define RNG_C6 -0x1.55d3c8p-6f
#define RNG_C8 0x1.e1f506p-11f
#define RNG_C10 -0x1.a6d1f2p-16f

typedef struct rng_sincos {
    float s, c;
} rng_sincos;

/* sin and cos of the angle 2 pi (j + 1/2) / 2^24, j < 2^24.  The quadrant is
** the top two bits of j; within it the angle is (pi/2) f with f = (2m + 1)
** 2^-23, and f > 1/2 is folded to 1 - f (exact) by sin/cos symmetry. */
RNG_FN rng_sincos rng_sincos_turn(rng_u32 j)
{
    rng_u32 q = (j >> 22) & 3u;
    float f = (float)(((j & 0x3FFFFFu) << 1) | 1u) * 0x1p-23f;
    int fold = f > 0.5f;
    float g = fold ? 1.0f - f : f;
    float g2 = g * g;
    float s = g * (RNG_S1 + g2 * (RNG_S3 + g2 * (RNG_S5 + g2 * (RNG_S7 + g2 * RNG_S9))));
    float c = 1.0f + g2 * (RNG_C2 + g2 * (RNG_C4 + g2 * (RNG_C6 + g2 * (RNG_C8 + g2 * RNG_C10))));
    float sp = fold ? c : s; /* sin of the angle within the quadrant */
    float cp = fold ? s : c; /* cos of it */
    rng_sincos r;
    if (q == 0u) {
        r.s = sp;
        r.c = cp;
    } else if (q == 1u) {
        r.s = cp;
        r.c = -sp;
    } else if (q == 2u) {
        r.s = -sp;
        r.c = -cp;
    } else {
        r.s = -cp;
        r.c = sp;
    }
    return r;
}

/* A standard normal draw from two words (Box-Muller, cosine branch). */
RNG_FN float rng_normal(rng_u32 w0, rng_u32 w1)
{
    float r = rng_sqrt(-2.0f * rng_log(rng_u01(w0)));
    return r * rng_sincos_turn(w1 >> 8).c;
}

/* ------------------------------------------------------------------------ */
/* Initialisation: the value of one element                                 */
/* ------------------------------------------------------------------------ */
RNG_FN float rng_init_value(int dist, float p0, float p1, rng_u32 seed_lo, rng_u32 seed_hi, rng_u32 tensor,
                            rng_u64 index)
{
    if (dist == RNG_DIST_CONSTANT) return p0;
    rng_u32x4 b = rng_block(seed_lo, seed_hi, tensor, index);
    if (dist == RNG_DIST_UNIFORM) return p0 + p1 * rng_u01(b.v[0]);
    if (dist == RNG_DIST_SYMMETRIC) return p1 * rng_sym(b.v[0]);
    return p0 + p1 * rng_normal(b.v[0], b.v[1]);
}

/* ------------------------------------------------------------------------ */
/* Kernels (device only)                                                    */
/* ------------------------------------------------------------------------ */
#ifdef __OPENCL_VERSION__

/* out[off + i] = element i of tensor `tensor`, i < n.  out: (n) */
kernel void init_tensor(global float *out, ulong off, ulong n, int dist, float p0, float p1, uint seed_lo,
                        uint seed_hi, uint tensor)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    out[off + i] = rng_init_value(dist, p0, p1, seed_lo, seed_hi, tensor, i);
}

/* Raw Philox blocks (known-answer and host-comparison tests).
** in: (n, 6) = counter[4], key[2]; out: (n, 4) */
kernel void init_philox(global const uint *in, global uint *out, ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    rng_u32x4 c;
    for (int k = 0; k < 4; k++) c.v[k] = in[6 * i + k];
    rng_u32x4 r = rng_philox4x32_10(c, in[6 * i + 4], in[6 * i + 5]);
    for (int k = 0; k < 4; k++) out[4 * i + k] = r.v[k];
}

/* The math functions on the device, for bit comparison with the host.
** in: (n, 2) = the bits of a float x in [2^-60, 2^126], a word w;
** out: (n, 5) = log(x), sqrt(x), sin and cos of turn j = w >> 8, normal(x bits, w) */
kernel void init_math(global const uint *in, global float *out, ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    uint xb = in[2 * i], w = in[2 * i + 1];
    float x = as_float(xb);
    rng_sincos sc = rng_sincos_turn(w >> 8);
    out[5 * i + 0] = rng_log(x);
    out[5 * i + 1] = rng_sqrt(x);
    out[5 * i + 2] = sc.s;
    out[5 * i + 3] = sc.c;
    out[5 * i + 4] = rng_normal(xb, w);
}

#endif

/* ------------------------------------------------------------------------ */
/* Noise: Gaussian noise added to gradients and to training batches         */
/* ------------------------------------------------------------------------ */
/* The same generator, on streams of their own (counter word 3), so noise
** never repeats an initialisation draw: element i of (stream, step) under
** seed s is the block with key (s mod 2^32, s / 2^32) and
**     counter = (i mod 2^32, i / 2^32, step, stream)
** and its value is rng_normal(w0, w1).  Identical on every device and on the
** host (clgrad_rng_noise).  step is the run's 1-based step (mod 2^32). */
#define RNG_STREAM_GRAD_NOISE 1u  /* gradient noise (Neelakantan et al. 2015) */
#define RNG_STREAM_INPUT_NOISE 2u /* input-noise augmentation of training batches */

RNG_FN float rng_noise_normal(rng_u32 seed_lo, rng_u32 seed_hi, rng_u32 stream, rng_u32 step, rng_u64 index)
{
    rng_u32x4 c;
    c.v[0] = (rng_u32)index;
    c.v[1] = (rng_u32)(index >> 32);
    c.v[2] = step;
    c.v[3] = stream;
    rng_u32x4 b = rng_philox4x32_10(c, seed_lo, seed_hi);
    return rng_normal(b.v[0], b.v[1]);
}

#ifdef __OPENCL_VERSION__
/* x[off + i] += std * z_i, z_i = rng_noise_normal(seed, stream, step, i), i < n.  x: (n) */
kernel void init_add_noise(global float *x, ulong off, ulong n, float std, uint seed_lo, uint seed_hi, uint stream,
                           uint step)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    x[off + i] = x[off + i] + std * rng_noise_normal(seed_lo, seed_hi, stream, step, i);
}
#endif
