/*
** cell_fn.cl: the LSTM and GRU cell arithmetic of one (row, unit) element, a
** function library (no kernels) included after common.cl and math.cl by
** model.cl, whose model_lstm_* / model_gru_* kernels load the gate values,
** call these and store the results (the layouts are in model.cl).
**
**   model_sigmoid_(z)                             the stable sigmoid
**   cell_lstm_fwd_(zi, zf, zg, zo, cp, ...)       gates, c_t, h_t (_tc_: and tanh(c_t))
**   cell_lstm_bwd_(i, f, g, o, c, cp, dh, ...)    dc_t and the 4 gate gradients
**   cell_lstm_bwd_tc_(i, f, g, o, tanh(c), ...)   the same from the forward's tanh(c_t)
**   cell_gru_fwd_(xr, xz, xn, hr, hz, hn, hp, ...) r, z, n, h_t
**   cell_gru_bwd_(r, z, n, hn, dh, hp, ...)       dr, dz, dn, dn r, dh z
**   (and on devices their float8 and float16 twins, model_sigmoid8_, cell_lstm_fwd8_,
**   cell_lstm_fwd16_, ...)
**
** One source for device and host (tests/test_model.c includes cl/math.cl
** then this file): scalar float code, one rounding per operation in the
** order written (contraction off on both), math.cl's clgm_exp / clgm_tanh,
** so the host build gives the kernels' bits.
*/

#ifdef __OPENCL_VERSION__
#define CELL_FN inline
#define cell_fabs_ fabs
#else
#define CELL_FN static inline
#ifndef clg_div /* the host's division and sqrt are IEEE's: correctly rounded (cl/common.cl on devices) */
#define clg_div(a, b) ((a) / (b))
#define clg_sqrt sqrtf
#endif
#define cell_fabs_ fabsf
#endif

/* CELL_DEF(S, F): the functions on F (float: S empty, the names below; float8:
** S 8, model_sigmoid8_, cell_lstm_fwd8_, ..., devices only, 8 elements in
** lanes with each lane's operations those of the float version: the same bits). */
#define CELL_DEF(S, F)                                                                                          \
    CELL_FN F model_sigmoid##S##_(F z)                                                                          \
    {                                                                                                           \
        F e = clgm_exp##S(-cell_fabs_(z));                                                                      \
        return z >= 0.0f ? clg_div##S(1.0f, 1.0f + e) : clg_div##S(e, 1.0f + e);                                \
    }                                                                                                           \
                                                                                                                \
    /* LSTM forward from the pre-activations (b_hh already added): gates                                      \
    ** i = sigmoid, f = sigmoid, g = tanh, o = sigmoid (out[0..3]),                                           \
    ** c_t = f c_{t-1} + i g (out[4]), h_t = o tanh(c_t) (out[5]); tanh(c_t) (*tc). */                        \
    CELL_FN void cell_lstm_fwd_tc##S##_(const F zi, const F zf, const F zg, const F zo, const F cp, F *out,     \
                                        F *tc)                                                                  \
    {                                                                                                           \
        F ig = model_sigmoid##S##_(zi), fg = model_sigmoid##S##_(zf), gg = clgm_tanh##S(zg);                    \
        F og = model_sigmoid##S##_(zo);                                                                         \
        out[0] = ig, out[1] = fg, out[2] = gg, out[3] = og;                                                     \
        F c = fg * cp + ig * gg;                                                                                \
        out[4] = c;                                                                                             \
        *tc = clgm_tanh##S(c);                                                                                  \
        out[5] = og * *tc;                                                                                      \
    }                                                                                                           \
    CELL_FN void cell_lstm_fwd##S##_(const F zi, const F zf, const F zg, const F zo, const F cp, F *out)        \
    {                                                                                                           \
        F tc;                                                                                                   \
        cell_lstm_fwd_tc##S##_(zi, zf, zg, zo, cp, out, &tc);                                                   \
    }                                                                                                           \
                                                                                                                \
    /* LSTM backward from tc = tanh(c_t): dc = dh o (1 - tc^2) [+ dcn fn when next] (out[4]);                 \
    ** di = dc g i(1-i), df = dc c_{t-1} f(1-f), dg = dc i (1-g^2),                                           \
    ** do = dh tc o(1-o) (out[0..3]); cell_lstm_bwd_ from c_t itself. */                                      \
    CELL_FN void cell_lstm_bwd_tc##S##_(const F ig, const F fg, const F gg, const F og, const F tc, const F cp, \
                                        const F dh, const int next, const F dcn, const F fn, F *out)            \
    {                                                                                                           \
        F dc = dh * og * (1.0f - tc * tc);                                                                      \
        if (next) dc = dc + dcn * fn;                                                                           \
        out[4] = dc;                                                                                            \
        out[0] = dc * gg * (ig * (1.0f - ig));                                                                  \
        out[1] = dc * cp * (fg * (1.0f - fg));                                                                  \
        out[2] = dc * ig * (1.0f - gg * gg);                                                                    \
        out[3] = dh * tc * (og * (1.0f - og));                                                                  \
    }                                                                                                           \
    CELL_FN void cell_lstm_bwd##S##_(const F ig, const F fg, const F gg, const F og, const F cval, const F cp,  \
                                     const F dh, const int next, const F dcn, const F fn, F *out)               \
    {                                                                                                           \
        cell_lstm_bwd_tc##S##_(ig, fg, gg, og, clgm_tanh##S(cval), cp, dh, next, dcn, fn, out);                 \
    }                                                                                                           \
                                                                                                                \
    /* GRU forward: r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn)                           \
    ** (out[0..2]), h_t = n + z (h_{t-1} - n) (out[3]). */                                                    \
    CELL_FN void cell_gru_fwd##S##_(const F xr, const F xz, const F xn, const F hr, const F hz, const F hn,     \
                                    const F hp, F *out)                                                         \
    {                                                                                                           \
        F r = model_sigmoid##S##_(xr + hr), z = model_sigmoid##S##_(xz + hz);                                   \
        F nn = clgm_tanh##S(xn + r * hn);                                                                       \
        out[0] = r, out[1] = z, out[2] = nn;                                                                    \
        out[3] = nn + z * (hp - nn);                                                                            \
    }                                                                                                           \
                                                                                                                \
    /* GRU backward: dn = dh (1-z) (1-n^2), dr = dn hn r(1-r), dz = dh (h_{t-1} - n)                          \
    ** z(1-z) (out[0..2]), dn r (out[3]), dh z (out[4]). */                                                   \
    CELL_FN void cell_gru_bwd##S##_(const F r, const F z, const F nn, const F hn, const F dh, const F hp,       \
                                    F *out)                                                                     \
    {                                                                                                           \
        F dn = dh * (1.0f - z) * (1.0f - nn * nn);                                                              \
        F dr = dn * hn * (r * (1.0f - r));                                                                      \
        F dz = dh * (hp - nn) * (z * (1.0f - z));                                                               \
        out[0] = dr, out[1] = dz, out[2] = dn;                                                                  \
        out[3] = dn * r;                                                                                        \
        out[4] = dh * z;                                                                                        \
    }

CELL_DEF(, float)
#ifdef __OPENCL_VERSION__
CELL_DEF(8, float8)
CELL_DEF(16, float16)
#endif
