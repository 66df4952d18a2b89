/*
** math.cl: clgrad's own transcendental functions, a function library (no
** kernels) included after common.cl by every program that needs them, and
** compiled on the host as C (tools/ulp.c and the tests `#include` this file),
** so host and every device give the same bits.
**
**   clgm_exp, clgm_expm1, clgm_log, clgm_log1p, clgm_tanh, clgm_erfc   (float)
**   clgm_exp8, ..., clgm_erfc8                                          (float8)
**   clgm_exp16, ..., clgm_erfc16                                        (float16)
**
** Vendor math libraries differ in the last bits (OpenCL allows exp 3 ulp,
** tanh 5, erfc 16), so a result would depend on the device.  These use only
** correctly rounded IEEE operations: + - * and fma (contraction is off:
** common.cl on the device, the pragma below on the host), one correctly
** rounded division in tanh and erfc (common.cl's clg_div: correctly rounded
** on every device; on the host the C operator), exact conversions,
** comparisons, bit operations and exact power-of-two scaling.  Denormal
** arguments and results are handled (the device must not flush them: PoCL,
** NVIDIA and Oclgrind do not), ±0 keeps its sign where the function is odd,
** ±Inf gives the limit and NaN comes back as the argument itself.
**
** Each algorithm is written once, as a macro over the suffix S ("" for float,
** 8 for float8, 16 for float16), the float type F and the int type I of the
** same width; the vector versions are branch-free (every path computed,
** select picks), so every lane gives the scalar version's bits
** (tests/test_activation.c: vector_lanes).
**
** Errors over all 2^32 float arguments (build/ulp: tools/ulp.c against
** glibc's double functions; ulp of the float rounding of the exact value,
** 2^-149 for denormal results; NaN/Inf mismatches: NaN where the reference is
** not or the other way round, Inf where the rounded reference is finite or
** the other way round):
**
**   function  max ulp  at x                        > 1 ulp  NaN/Inf mismatches
**   exp       0.8150   -82.82056   (0xc2a5a420)    0        0 / 0
**   expm1     0.9812   0.3494708   (0x3eb2edd7)    0        0 / 0
**   log       0.8264   0.7061486   (0x3f34c627)    0        0 / 0
**   log1p     0.9005   -0.2986023  (0xbe98e265)    0        0 / 0
**   tanh      0.7978   0.5317761   (0x3f08227b)    0        0 / 0
**   erfc      0.9160   9.195887    (0x4113225a)    0        0 / 0
**
** Cost: PoCL emulates rint and convert_int slowly, so k = rint(x / ln2) comes
** from adding 1.5 2^23; polynomials use Estrin's scheme (shorter dependency
** chains).  On PoCL (tools/bench_kernels, 2^24 floats, medians of A/B runs
** against the vendor math) tanh, sigmoid, softplus and elu' run at 1.0-1.2x
** its time, gelu and elu at about 0.5x.
*/

/* ------------------------------------------------------------------------ */
/* Host / device portability layer                                          */
/* ------------------------------------------------------------------------ */
#ifndef __OPENCL_VERSION__
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "clgrad's math needs FLT_EVAL_METHOD == 0 (SSE on x86; use -mfpmath=sse on 32-bit x86)"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#define CLGM_FN static inline
/* common.cl's correctly rounded division and square root: the C operators on the host */
#ifndef clg_div
#define clg_div(a, b) ((a) / (b))
#endif
#ifndef clg_sqrt
#define clg_sqrt sqrtf
#endif
static inline float clgm_asf(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}
static inline int32_t clgm_asi(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}
#define clgm_sel(c, a, b) ((c) ? (a) : (b))
#define clgm_shl23(i) ((int32_t)((uint32_t)(i) << 23))
#define clgm_cvtf(i) ((float)(i))
#define clgm_fma fmaf
#define clgm_fabs fabsf
#define clgm_fmin fminf
#define clgm_fmax fmaxf
#define clgm_copysign copysignf
#define clgm_isnan(x) isnan(x)
typedef int32_t clgm_int;
#else
#define CLGM_FN inline
#define clgm_asf(i) as_float(i)
#define clgm_asi(f) as_int(f)
#define clgm_sel(c, a, b) select((b), (a), (c))
#define clgm_cvtf(i) convert_float(i)
#define clgm_fma fma
#define clgm_fabs fabs
#define clgm_fmin fmin
#define clgm_fmax fmax
#define clgm_copysign copysign
#define clgm_isnan isnan
#define clgm_shl23(i) as_int(as_uint(i) << 23)
#define clgm_shl238(i) as_int8(as_uint8(i) << 23)
#define clgm_asf8(i) as_float8(i)
#define clgm_asi8(f) as_int8(f)
#define clgm_sel8(c, a, b) select((b), (a), (c))
#define clgm_cvtf8(i) convert_float8(i)
#define clgm_fma8 fma
#define clgm_fabs8 fabs
#define clgm_fmin8 fmin
#define clgm_fmax8 fmax
#define clgm_copysign8 copysign
#define clgm_isnan8 isnan
#define clgm_shl2316(i) as_int16(as_uint16(i) << 23)
#define clgm_asf16(i) as_float16(i)
#define clgm_asi16(f) as_int16(f)
#define clgm_sel16(c, a, b) select((b), (a), (c))
#define clgm_cvtf16(i) convert_float16(i)
#define clgm_fma16 fma
#define clgm_fabs16 fabs
#define clgm_fmin16 fmin
#define clgm_fmax16 fmax
#define clgm_copysign16 copysign
#define clgm_isnan16 isnan
/* common.cl's correctly rounded division on the float8 halves */
inline float16 clg_div16(const float16 a, const float16 b)
{
    return (float16)(clg_div8(a.lo, b.lo), clg_div8(a.hi, b.hi));
}
typedef int clgm_int;
#endif

/* ------------------------------------------------------------------------ */
/* Constants                                                                */
/* ------------------------------------------------------------------------ */
#define CLGM_L2E 0x1.715476p0f      /* log2(e) */
#define CLGM_LN2H 0x1.62e43p-1f     /* ln 2 rounded to float (24 bits) */
#define CLGM_LN2L -0x1.05c61p-29f   /* ln 2 - CLGM_LN2H */
#define CLGM_LN2H16 0x1.62e4p-1f    /* ln 2 to 16 bits: k * it is exact for |k| < 256 */
#define CLGM_LN2L16 0x1.7f7d1cp-20f /* ln 2 - CLGM_LN2H16 */
#define CLGM_C0H 0x1.20dd76p0f      /* 2/sqrt(pi) */
#define CLGM_C0L -0x1.f7ac92p-25f   /* 2/sqrt(pi) - CLGM_C0H */

/* ------------------------------------------------------------------------ */
/* Building blocks (macros over S, F, I)                                    */
/* ------------------------------------------------------------------------ */
/* fma and select on F with scalar operands broadcast (OpenCL's built-ins want one type) */
#define CLGM_FMA(S, F, a, b, c) clgm_fma##S((F)(a), (F)(b), (F)(c))
#define CLGM_SELF(S, F, c, a, b) clgm_sel##S((c), (F)(a), (F)(b))

/* 2^j as a float, j in [-126, 127] (an int of the same width) */
#define CLGM_POW2(S, j) clgm_asf##S(clgm_shl23##S((j) + 127)) /* unsigned shift: no signed overflow for discarded lanes */

/* y * 2^k for k in [-150, 128], one rounding (also into the denormal range
** and to Inf): two exact-or-final multiplications by normal powers of two */
#define CLGM_SCALE(S, y, k) (((y) * CLGM_POW2(S, (k) >> 1)) * CLGM_POW2(S, (k) - ((k) >> 1)))

/* Cody-Waite reduction for exp(xh): k = rint(xh / ln2), rounded to nearest
** even by adding and subtracting 1.5 2^23 (exact for |xh / ln2| < 2^22; k is
** then the low bits of the sum: no rint/convert built-ins, which some devices
** emulate slowly); t = xh - k ln2hi is exact (fma; |k| < 2^8 and t a multiple
** of 2^-25 below 0.35); rl = -k ln2lo + xl is the rest. */
#define CLGM_EXPRED(S, F, I, xh, xl, k, t, rl)                                                     \
    do {                                                                                           \
        const F km_ = (xh) * CLGM_L2E + 0x1.8p23f;                                                 \
        const F kf_ = km_ - 0x1.8p23f;                                                             \
        k = clgm_asi##S(km_) - 0x4b400000;                                                         \
        t = CLGM_FMA(S, F, -kf_, CLGM_LN2H, (xh));                                                 \
        rl = CLGM_FMA(S, F, -kf_, CLGM_LN2L, (xl));                                                \
    } while (0)

/* q(r) = (exp(r) - 1 - r) / r^2 on |r| <= 0.3467 (r2 = r^2): a degree-5
** minimax polynomial (error 1.4e-9), by Estrin's scheme (half Horner's
** dependency chain) */
#define CLGM_EXPQ(S, F, r, r2)                                                                     \
    CLGM_FMA(S, F, (r2),                                                                           \
             CLGM_FMA(S, F, (r2), CLGM_FMA(S, F, (r), 0x1.a12516p-13f, 0x1.6d434ep-10f),           \
                      CLGM_FMA(S, F, (r), 0x1.1110ep-7f, 0x1.5554e8p-5f)),                         \
             CLGM_FMA(S, F, (r), 0x1.555556p-3f, 0x1p-1f))

/* exp(r) + c = h + l (not normalised: |l| < 0.07), for |r| <= 0.3467 and a
** small correction c: exp(r) = 1 + r + r^2 q(r) (CLGM_EXPQ);
** h = 1 + r rounded, l its exact error (Fast2Sum) plus the tail r^2 q + c, so
** h + l carries exp(r) + c to about 2^-30 relative. */
#define CLGM_EXPPOLY(S, F, r, c, h, l)                                                             \
    do {                                                                                           \
        const F r2_ = (r) * (r);                                                                   \
        const F T_ = CLGM_FMA(S, F, r2_, CLGM_EXPQ(S, F, (r), r2_), (c));                          \
        h = 1.0f + (r);                                                                            \
        l = ((1.0f - h) + (r)) + T_;                                                               \
    } while (0)

/* exp(xh + xl) = 2^k (H + L), |L| <= ulp(H)/2, for xh in [-104, 89], |xl| <= 2^-17:
** CLGM_EXPRED, then r = t + rl rounded with its exact error dr (Fast2Sum),
** exp(t + rl) = exp(r) (1 + dr) ~ exp(r) + dr (1 + r) by CLGM_EXPPOLY, and
** h + l renormalised (Fast2Sum). */
#define CLGM_EXPCORE(S, F, I, xh, xl, k, H, L)                                                     \
    do {                                                                                           \
        F t_, rl_;                                                                                 \
        CLGM_EXPRED(S, F, I, (xh), (xl), k, t_, rl_);                                              \
        const F r_ = t_ + rl_;                                                                     \
        const F dr_ = (t_ - r_) + rl_;                                                             \
        F h_, l_;                                                                                  \
        CLGM_EXPPOLY(S, F, r_, CLGM_FMA(S, F, r_, dr_, dr_), h_, l_);                              \
        H = h_ + l_;                                                                               \
        L = (h_ - H) + l_;                                                                         \
    } while (0)

/* (s, e) = TwoSum(a, b): s + e == a + b exactly */
#define CLGM_TWOSUM(F, a, b, s, e)                                                                 \
    do {                                                                                           \
        s = (a) + (b);                                                                             \
        const F bb_ = s - (a);                                                                     \
        e = ((a) - (s - bb_)) + ((b) - bb_);                                                       \
    } while (0)

/* ln(u) for u > 0 finite (normal or denormal), u = 2^k m, m in [sqrt(1/2), sqrt(2)):
** k ln2 + log1p(f) + corr, f = m - 1 (exact) unless fx is used (see log1p).
** log1p(f) = f + f^2 Q(f), Q a degree-10 minimax polynomial on
** [sqrt(1/2) - 1, sqrt(2) - 1] (error 7.9e-10); f^2 is split with fma, and
** k ln2hi + f is summed exactly (Fast2Sum: |k ln2hi| >= |f| or k = 0), so
** only the last addition rounds at the result's scale. */
#define CLGM_LOGCORE(S, F, I, u, usefx, fx, corr, y)                                               \
    do {                                                                                           \
        const I den_ = (u) < 0x1p-126f;                                                            \
        const I ix_ = clgm_asi##S(CLGM_SELF(S, F, den_, (u) * 0x1p23f, (u))) + (0x3f800000 - 0x3f3504f3); \
        const I k_ = (ix_ >> 23) - clgm_sel##S(den_, (I)(127 + 23), (I)127);                       \
        const F m_ = clgm_asf##S((ix_ & 0x007fffff) + 0x3f3504f3);                                 \
        const F f_ = CLGM_SELF(S, F, usefx, (fx), m_ - 1.0f);                                      \
        const F f2_ = f_ * f_;                                                                     \
        const F f2l_ = CLGM_FMA(S, F, f_, f_, -f2_);                                               \
        F Q_ = CLGM_FMA(S, F, f_, -0x1.ed3ea4p-5f, 0x1.b1c4bcp-4f);                                \
        Q_ = CLGM_FMA(S, F, Q_, f_, -0x1.b91ea6p-4f);                                              \
        Q_ = CLGM_FMA(S, F, Q_, f_, 0x1.c41a54p-4f);                                               \
        Q_ = CLGM_FMA(S, F, Q_, f_, -0x1.fd39aep-4f);                                              \
        Q_ = CLGM_FMA(S, F, Q_, f_, 0x1.2491d2p-3f);                                               \
        Q_ = CLGM_FMA(S, F, Q_, f_, -0x1.55619ap-3f);                                              \
        Q_ = CLGM_FMA(S, F, Q_, f_, 0x1.9999e6p-3f);                                               \
        Q_ = CLGM_FMA(S, F, Q_, f_, -0x1.ffffdap-3f);                                              \
        Q_ = CLGM_FMA(S, F, Q_, f_, 0x1.555554p-2f);                                               \
        Q_ = CLGM_FMA(S, F, Q_, f_, -0x1p-1f);                                                     \
        const F g_ = CLGM_FMA(S, F, f2_, Q_, f2l_ * Q_);                                           \
        const F kf_ = clgm_cvtf##S(k_);                                                            \
        const F A_ = kf_ * CLGM_LN2H16;                                                            \
        const F s_ = A_ + f_;                                                                      \
        const F e_ = (A_ - s_) + f_;                                                               \
        y = s_ + (e_ + (g_ + CLGM_FMA(S, F, kf_, CLGM_LN2L16, (corr))));                           \
    } while (0)

/* ------------------------------------------------------------------------ */
/* The functions                                                            */
/* ------------------------------------------------------------------------ */

/* exp(x): x clamped to [-104, 89] (0 and Inf come out of the scaling),
** CLGM_EXPRED, the polynomial on t itself, exp(t + rl) ~ exp(t) + c,
** c = rl (1 + t + t^2/2) (|rl| < 2^-21.7: the neglected rl t^3/6 and rl^2/2
** are below 2^-28.9 relative): 2^k rounded(1 + (t + (t^2 q(t) + c))), the sum
** in parentheses rounded once more (|.| < 0.42: <= 2^-26; cheaper than
** carrying 1 + t as a pair, and still below 1 ulp).
** Max error 0.82 ulp (full sweep). */
#define CLGM_DEF_EXP(S, F, I)                                                                      \
    CLGM_FN F clgm_exp##S(const F x)                                                               \
    {                                                                                              \
        const F xc = clgm_fmin##S(clgm_fmax##S(x, -104.0f), 89.0f);                                \
        I k;                                                                                       \
        F t, rl;                                                                                   \
        CLGM_EXPRED(S, F, I, xc, 0.0f, k, t, rl);                                                  \
        const F t2 = t * t;                                                                        \
        const F c = CLGM_FMA(S, F, CLGM_FMA(S, F, t2, 0.5f, t), rl, rl);                           \
        const F y = 1.0f + (t + CLGM_FMA(S, F, t2, CLGM_EXPQ(S, F, t, t2), c));                    \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, CLGM_SCALE(S, y, k));                          \
    }

/* expm1(x) = (2^k H - 1) + 2^k L: 2^k H - 1 by TwoSum, so the only rounding at
** the result's scale is the last addition (no cancellation left for k = 0 or
** small x).  |x| < 2^-24 gives x (also ±0, denormals); x clamped to
** [-20, 89] (expm1(-20) rounds to -1).  Max error 0.98 ulp (full sweep). */
#define CLGM_DEF_EXPM1(S, F, I)                                                                    \
    CLGM_FN F clgm_expm1##S(const F x)                                                             \
    {                                                                                              \
        const F xc = clgm_fmin##S(clgm_fmax##S(x, -20.0f), 89.0f);                                 \
        I k;                                                                                       \
        F H, L, s, e;                                                                              \
        CLGM_EXPCORE(S, F, I, xc, 0.0f, k, H, L);                                                  \
        const F P = CLGM_SCALE(S, H, k);                                                           \
        const F Pl = CLGM_SCALE(S, L, k);                                                          \
        CLGM_TWOSUM(F, P, -1.0f, s, e);                                                            \
        F y = CLGM_SELF(S, F, P > FLT_MAX, P, s + (e + Pl));                                       \
        y = CLGM_SELF(S, F, clgm_fabs##S(x) < 0x1p-24f, x, y);                                     \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, y);                                            \
    }

/* log(x): CLGM_LOGCORE; -Inf at ±0, NaN below 0, +Inf at +Inf.  Max error 0.83 ulp (full sweep). */
#define CLGM_DEF_LOG(S, F, I)                                                                      \
    CLGM_FN F clgm_log##S(const F x)                                                               \
    {                                                                                              \
        const F u = CLGM_SELF(S, F, (x > 0.0f) & (x <= FLT_MAX), x, 1.0f);                         \
        F y;                                                                                       \
        CLGM_LOGCORE(S, F, I, u, (I)0, 0.0f, 0.0f, y);                                             \
        y = CLGM_SELF(S, F, x == 0.0f, (F)(-INFINITY), y);                                         \
        y = CLGM_SELF(S, F, x < 0.0f, (F)NAN, y);                                                  \
        y = CLGM_SELF(S, F, x > FLT_MAX, x, y);                                                    \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, y);                                            \
    }

/* log1p(x) = log(u) + c/u, u = 1 + x rounded, c = x - (u - 1) exact (nonzero
** only for x > sqrt(2) - 1; c/u is taken as c 2^-k (1/m), 1/m from 5 terms
** of its series in 1 - m, plenty for a term below 2^-24).  Where u's k is 0
** the polynomial runs on x itself (no rounding of 1 + x at all).  |x| < 2^-24
** gives x; -Inf at -1, NaN below.  Max error 0.90 ulp (full sweep). */
#define CLGM_DEF_LOG1P(S, F, I)                                                                    \
    CLGM_FN F clgm_log1p##S(const F x)                                                             \
    {                                                                                              \
        const F u0 = 1.0f + x;                                                                     \
        const F u = CLGM_SELF(S, F, (x > -1.0f) & (x <= FLT_MAX), u0, 1.0f);                       \
        const F c = x - (u - 1.0f);                                                                \
        const I ku = ((clgm_asi##S(u) + (0x3f800000 - 0x3f3504f3)) >> 23) - 127;                   \
        const F m = clgm_asf##S(clgm_asi##S(u) - ku * 0x800000);                                   \
        const F d = 1.0f - m;                                                                      \
        const F rm = CLGM_FMA(S, F, CLGM_FMA(S, F, CLGM_FMA(S, F, d + 1.0f, d, 1.0f), d, 1.0f), d, 1.0f); \
        const I mk = clgm_sel##S(ku > 126, (I)(-126), -ku);                                        \
        const F corr = CLGM_SELF(S, F, ku == 0, 0.0f, (c * rm) * CLGM_POW2(S, mk));                \
        F y;                                                                                       \
        CLGM_LOGCORE(S, F, I, u, ku == 0, x, corr, y);                                             \
        y = CLGM_SELF(S, F, clgm_fabs##S(x) < 0x1p-24f, x, y);                                     \
        y = CLGM_SELF(S, F, x == -1.0f, (F)(-INFINITY), y);                                        \
        y = CLGM_SELF(S, F, x < -1.0f, (F)NAN, y);                                                 \
        y = CLGM_SELF(S, F, x > FLT_MAX, x, y);                                                    \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, y);                                            \
    }

/* tanh(x), odd: on a = |x|,
**   a < 0.5625:  a + a^3 P(a^2), P a degree-5 minimax polynomial (error
**                4.9e-10, Estrin's scheme);
**   else:        1 - 2/(E + 1), E = exp(2 min(a, 10)) = 2^k (H + L) kept as a
**                pair: CLGM_EXPRED (k in [0, 29]), s = t + t^2 q(t) + rl (1 + t)
**                (CLGM_EXPQ; -k ln2lo = rl entering as a correction: the
**                neglected rl t^2/2 is below 2^-28 of E), H + L = 1 + s exactly
**                (Fast2Sum; s's own rounding, <= 2^-26 of E, and E's other
**                errors reach tanh damped by 2E/(E+1)^2 <= 0.37), scaled by one
**                exact power of two; the quotient q = 2/(E+1) (clg_div)
**                corrected by its exact residual fma(-q, E+1, 2), and 1 - q
**                summed exactly, so one rounding at the result's scale
**                (tanh(10) rounds to 1).  Both paths are computed (a < 0.5625
**                takes the first; the second needs no lower clamp).
** Max error 0.80 ulp (full sweep). */
#define CLGM_DEF_TANH(S, F, I)                                                                     \
    CLGM_FN F clgm_tanh##S(const F x)                                                              \
    {                                                                                              \
        const F a = clgm_fabs##S(x);                                                               \
        const F z = a * a;                                                                         \
        const F z2 = z * z;                                                                        \
        const F p45 = CLGM_FMA(S, F, z, 0x1.460e8p-9f, -0x1.1680dcp-7f);                           \
        const F p23 = CLGM_FMA(S, F, z, 0x1.655dcp-6f, -0x1.ba12d8p-5f);                           \
        const F p01 = CLGM_FMA(S, F, z, 0x1.111102p-3f, -0x1.555556p-2f);                          \
        const F P = CLGM_FMA(S, F, z2, CLGM_FMA(S, F, z2, p45, p23), p01);                         \
        const F ys = CLGM_FMA(S, F, a * z, P, a);                                                  \
        const F a2 = 2.0f * clgm_fmin##S(a, 10.0f);                                                \
        I k;                                                                                       \
        F t0, rl;                                                                                  \
        CLGM_EXPRED(S, F, I, a2, 0.0f, k, t0, rl);                                                 \
        const F t02 = t0 * t0;                                                                     \
        const F s = t0 + CLGM_FMA(S, F, t02, CLGM_EXPQ(S, F, t0, t02), CLGM_FMA(S, F, t0, rl, rl)); \
        const F H = 1.0f + s;                                                                      \
        const F L = (1.0f - H) + s;                                                                \
        const F pk = CLGM_POW2(S, k); /* k in [0, 29] */                                           \
        const F E = H * pk;                                                                        \
        const F d = E + 1.0f;                                                                      \
        const F dl = CLGM_FMA(S, F, L, pk, (E - d) + 1.0f); /* L pk exact */                       \
        const F q = clg_div##S((F)2.0f, d);                                                        \
        const F ql = CLGM_FMA(S, F, -q, dl, CLGM_FMA(S, F, -q, d, 2.0f)) * (0.5f * q);             \
        const F t = 1.0f - q;                                                                      \
        const F yl = t + (((1.0f - t) - q) - ql);                                                  \
        const F y = CLGM_SELF(S, F, a < 0.5625f, ys, yl);                                          \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, clgm_copysign##S(y, x));                       \
    }

/* erfc(x):
**   |x| < 0.5:  1 - x (c0 + z R(z)), z = x^2, R a degree-5 minimax polynomial
**               (error 1.6e-12); 1 - x c0hi summed exactly (TwoProd, Fast2Sum).
**   |x| >= 0.5: a = min(|x|, 10.1), erfc(a) = exp(-a^2) F(a), F(a) = erfc(a) e^(a^2)
**               = t G(s), G a degree-10 minimax polynomial in s = t - 1/2,
**               t = 1/(1 + a/2) (error 2.1e-10, on a in [0.5, 10.1]).  G = c0 + c1 s
**               + K(s): K by Horner (|K| < 0.056), c0 + c1 s exactly (TwoProd, then
**               Fast2Sum: |c1 s| <= 0.23 < c0), K added by Fast2Sum (the sum is
**               >= 0.28), and F = t G formed as a pair Fh + Fl (TwoProd), so the
**               only roundings at F's scale are K's (damped by s^2 and t).  t is
**               rounded; its exact residual eps = t (1 + a/2) - 1 moves F by
**               F'(a) 2 eps (1 + a/2), with F' = 2 a F - c0, added to Fl.  a^2 is
**               split by fma and exp(-a^2) kept as a pair (CLGM_EXPCORE), so one
**               rounding at the result's scale (denormal results included, 0
**               beyond ~10.05); erfc(-a) = 2 - erfc(a).
** Max error 0.92 ulp (full sweep; at x = 9.2, a denormal result). */
#define CLGM_DEF_ERFC(S, F, I)                                                                     \
    CLGM_FN F clgm_erfc##S(const F x)                                                              \
    {                                                                                              \
        const F ax = clgm_fabs##S(x);                                                              \
        /* |x| < 0.5 */                                                                            \
        const F z = x * x;                                                                         \
        F R = CLGM_FMA(S, F, z, 0x1.cd0634p-14f, -0x1.bea2ep-11f);                                 \
        R = CLGM_FMA(S, F, R, z, 0x1.565574p-8f);                                                  \
        R = CLGM_FMA(S, F, R, z, -0x1.b82cccp-6f);                                                 \
        R = CLGM_FMA(S, F, R, z, 0x1.ce2f22p-4f);                                                  \
        R = CLGM_FMA(S, F, R, z, -0x1.812746p-2f);                                                 \
        const F ph = x * CLGM_C0H;                                                                 \
        const F pl = CLGM_FMA(S, F, x, CLGM_C0H, -ph);                                             \
        const F tail = CLGM_FMA(S, F, x * z, R, x * CLGM_C0L);                                     \
        const F sh = 1.0f - ph;                                                                    \
        const F ysmall = sh + ((((1.0f - sh) - ph) - pl) - tail);                                  \
        /* |x| >= 0.5 */                                                                           \
        const F a = clgm_fmin##S(clgm_fmax##S(ax, 0.5f), 10.1f);                                   \
        const F ha = 0.5f * a;                                                                     \
        F d, dl;                                                                                   \
        CLGM_TWOSUM(F, 1.0f, ha, d, dl);                                                           \
        const F t = clg_div##S((F)1.0f, d);                                                        \
        const F sv = t - 0.5f;                                                                     \
        const F tp = sv + 0.5f;                                                                    \
        const F eps = CLGM_FMA(S, F, tp, d, -1.0f) + tp * dl;                                      \
        F K = CLGM_FMA(S, F, sv, 0x1.05fe96p-4f, -0x1.ec94eap-7f);                                 \
        K = CLGM_FMA(S, F, K, sv, -0x1.5899bcp-4f);                                                \
        K = CLGM_FMA(S, F, K, sv, 0x1.baf188p-5f);                                                 \
        K = CLGM_FMA(S, F, K, sv, 0x1.9505p-4f);                                                   \
        K = CLGM_FMA(S, F, K, sv, -0x1.a8b0b6p-4f);                                                \
        K = CLGM_FMA(S, F, K, sv, -0x1.606e5p-3f);                                                 \
        K = CLGM_FMA(S, F, K, sv, 0x1.2a8908p-3f);                                                 \
        K = CLGM_FMA(S, F, K, sv, 0x1.1e2deep-1f);                                                 \
        K = CLGM_FMA(S, F, CLGM_FMA(S, F, K, sv, 0x1.b152ep-27f), sv, -0x1.2bf32ep-27f);           \
        /* F = tp (c0 + sv c1 + K) as a pair Fh + Fl: sv c1 (TwoProd) and c0 summed                \
        ** exactly (Fast2Sum, |c0| > |sv c1|), then K (Fast2Sum, |K| < 0.06 <= the sum) */         \
        const F p1 = sv * 0x1.5fd386p-1f;                                                          \
        const F p1l = CLGM_FMA(S, F, sv, 0x1.5fd386p-1f, -p1);                                     \
        const F s1 = 0x1.058672p-1f + p1;                                                          \
        const F e1 = (0x1.058672p-1f - s1) + p1;                                                   \
        const F Sh = s1 + K;                                                                       \
        const F Sl = ((s1 - Sh) + K) + (e1 + p1l);                                                 \
        const F Fh = tp * Sh;                                                                      \
        const F corr = CLGM_FMA(S, F, 2.0f * a, Fh, -CLGM_C0H) * ((2.0f * eps) * d);               \
        const F Fl = (CLGM_FMA(S, F, tp, Sh, -Fh) + tp * Sl) + corr;                               \
        const F zh = a * a;                                                                        \
        const F zl = CLGM_FMA(S, F, a, a, -zh);                                                    \
        I k;                                                                                       \
        F H, L;                                                                                    \
        CLGM_EXPCORE(S, F, I, -zh, -zl, k, H, L);                                                  \
        const F yt = CLGM_SCALE(S, CLGM_FMA(S, F, H, Fh, CLGM_FMA(S, F, H, Fl, L * Fh)), k);       \
        F y = CLGM_SELF(S, F, x < 0.0f, 2.0f - yt, yt);                                            \
        y = CLGM_SELF(S, F, ax < 0.5f, ysmall, y);                                                 \
        return CLGM_SELF(S, F, clgm_isnan##S(x), x, y);                                            \
    }

/* Every function for one width */
#define CLGM_DEF_ALL(S, F, I)                                                                      \
    CLGM_DEF_EXP(S, F, I)                                                                          \
    CLGM_DEF_EXPM1(S, F, I)                                                                        \
    CLGM_DEF_LOG(S, F, I)                                                                          \
    CLGM_DEF_LOG1P(S, F, I)                                                                        \
    CLGM_DEF_TANH(S, F, I)                                                                         \
    CLGM_DEF_ERFC(S, F, I)

#ifndef __OPENCL_VERSION__
CLGM_DEF_ALL(, float, int32_t)
#else
CLGM_DEF_ALL(, float, int)
CLGM_DEF_ALL(8, float8, int8)
CLGM_DEF_ALL(16, float16, int16)
#endif
