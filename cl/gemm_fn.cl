/*
** gemm_fn.cl: the GEMM epilogue of cl/matmul.cl's CPU micro-kernel, a function
** library (no kernels) included after common.cl, math.cl and act_fn.cl by
** matmul.cl (matmul_cpu) and model.cl (the one-launch recurrent kernels,
** whose recurrent GEMMs must round exactly as clgrad_gemm does).
**
**   matmul_cpu_store_(acc, nv, alpha, beta, has_bias, bv, epi, act, p, c, e, zin)
*/

/* The epilogue of one row of the block, the first `nv` columns:
**   r = alpha * acc (+ beta * C) (+ bias), then C = r, and
**   epi 1 (forward):  E = f(r)            (C = Z, E = H of a dense layer)
**   epi 2 (backward): E = r * f'(zin)     (C = dH, E = dZ; identity: E = r)
** with f = activation `act` (act_fn.cl).  The same operations in the same
** order, on the float16 functions (lane for lane the float8 ones: test_activation
** vector_lanes), as a GEMM followed by
** activation_bias_add and the activation kernels: the same bits. */
inline void matmul_cpu_store_(float16 acc, const int nv, const float alpha, const float beta, const int has_bias,
                              const float16 bv, const int epi, const int act, const float p, __global float *c,
                              __global float *e, __global const float *zin)
{
    float16 r = alpha * acc;
    if (nv == 16) {
        if (beta != 0.0f) r = r + beta * vload16(0, c);
        if (has_bias) r = r + bv;
        vstore16(r, 0, c);
        if (epi == 1) {
            vstore16(act_f16_(act, p, r), 0, e);
        } else if (epi == 2) {
            if (act != ACT_IDENTITY) {
                r = r * act_d16_(act, p, vload16(0, zin));
            }
            vstore16(r, 0, e);
        }
        return;
    }
    float v[16], w[16];
    vstore16(r, 0, v);
    vstore16(bv, 0, w);
    for (int j = 0; j < 16; j++) {
        float x = 0.0f;
        if (j < nv) {
            x = beta == 0.0f ? v[j] : v[j] + beta * c[j];
            x = has_bias ? x + w[j] : x;
            c[j] = x;
        }
        v[j] = x;
    }
    if (epi == 0) return;
    r = vload16(0, v);
    if (epi == 1) {
        r = act_f16_(act, p, r);
    } else if (act != ACT_IDENTITY) {
        for (int j = 0; j < 16; j++) w[j] = j < nv ? zin[j] : 0.0f;
        r = r * act_d16_(act, p, vload16(0, w));
    }
    vstore16(r, 0, v);
    for (int j = 0; j < nv; j++) e[j] = v[j];
}
