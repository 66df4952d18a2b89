/*
** gemm.c: the GEMM routine: argument checks, backend and variant choice,
** launch of cl/matmul.cl or CLBlast (float64 host reference:
** src/check/gemm_check.c).
*/
#include "core/internal.h"
#include "clgrad/gemm.h"
#include "clgrad/activation.h"

#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Must match the defaults in cl/matmul.cl (the vec variant is not tuned). */
#define VEC_RM 4
#define VEC_NT_R 4
/* The tiled kernel's and the CPU micro-kernel's parameters are the context's
** (ctx->tune, clgrad/tune.h; matmul.cl is built with them as -D options).
** The packed variant reads a B operand (tb = 0) in place when it is at most
** cpu_direct_max floats: small enough to stay in cache whatever its row
** stride; it packs a transposed A operand of more than cpu_pack_a_min floats
** (see matmul_cpu_pack_a). */

static int tiled_ok_(const clgrad_ctx *ctx)
{
    const clgrad_device_info *d = &ctx->dev;
    const clgrad_gemm_tune *t = &ctx->tune;
    size_t need_local = (size_t)t->tk * (size_t)(t->wgm * t->rm + t->wgn * t->rn + 2 * t->lpad) * sizeof(float);
    return d->max_wg_size >= (size_t)(t->wgm * t->wgn) && d->max_wi_sizes[0] >= (size_t)t->wgn &&
           d->max_wi_sizes[1] >= (size_t)t->wgm && d->local_mem >= need_local;
}

/* The own-kernel variant for an op combination and size: the forced one where
** it applies, else on CPUs the micro-kernel (B read in place when it is small
** and not transposed, else packed), else tiled where the device allows, else simple. */
static clgrad_gemm_variant_t pick_size_(const clgrad_ctx *ctx, int ta, int tb, size_t N, size_t K)
{
    clgrad_gemm_variant_t v = ctx->gemm_variant;
    if (v == CLGRAD_GEMM_AUTO && (ctx->dev.cl_type & CL_DEVICE_TYPE_CPU))
        v = !tb && K * N <= (size_t)ctx->tune.cpu_direct_max ? CLGRAD_GEMM_DIRECT : CLGRAD_GEMM_PACKED;
    if (v == CLGRAD_GEMM_AUTO) v = CLGRAD_GEMM_TILED;
    if (v == CLGRAD_GEMM_DIRECT && tb) v = CLGRAD_GEMM_PACKED;
    if (v == CLGRAD_GEMM_VEC && ta && tb) v = CLGRAD_GEMM_TILED;
    if (v == CLGRAD_GEMM_TILED && !tiled_ok_(ctx)) v = CLGRAD_GEMM_SIMPLE;
    return v;
}

/* The variant for large operands (what `clgrad_gemm_variant` reports). */
static clgrad_gemm_variant_t pick_(const clgrad_ctx *ctx, int ta, int tb) { return pick_size_(ctx, ta, tb, 4096, 4096); }

const char *clgrad_gemm_variant(const clgrad_ctx *ctx)
{
    static _Thread_local char buf[640];
    char params[512];
    clgrad_gemm_tune_format(&ctx->tune, params, sizeof params);
    snprintf(buf, sizeof buf, "%s (NN %s, NT %s, TN %s, TT %s; tuning %s: %s)", clgrad_gemm_variant_name_(ctx->gemm_variant),
             clgrad_gemm_variant_name_(pick_(ctx, 0, 0)), clgrad_gemm_variant_name_(pick_(ctx, 0, 1)),
             clgrad_gemm_variant_name_(pick_(ctx, 1, 0)), clgrad_gemm_variant_name_(pick_(ctx, 1, 1)), ctx->tune.source,
             params);
    return buf;
}

static const char *clblast_error_(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    default: break;
    }
    return clgrad_cl_error_name((cl_int)s); /* CLBlast reuses OpenCL's codes for the rest */
}

/* The context's CLBlast Xgemm parameters (clgrad/tune.h), if any, handed to
** CLBlast before its first call on this context. */
static void clblast_tuned_(clgrad_ctx *ctx)
{
    if (ctx->clblast_tuned) return;
    ctx->clblast_tuned = 1;
    const clgrad_gemm_tune *t = &ctx->tune;
    if (t->n_clblast == 0) return;
    const char *names[CLGRAD_TUNE_CLBLAST_MAX];
    for (int i = 0; i < t->n_clblast; i++) names[i] = t->clblast_name[i];
    /* process-wide in CLBlast, per device: the next Xgemm call recompiles with them */
    CLBlastStatusCode s = CLBlastOverrideParameters(ctx->dev.device, "Xgemm", CLBlastPrecisionSingle,
                                                    (size_t)t->n_clblast, names, t->clblast_value);
    if (s != CLBlastSuccess)
        clgrad_warn(ctx, "CLBlast refused the tuned Xgemm parameters (%s); using its defaults", clblast_error_(s));
}


static clgrad_status gemm_clblast_(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                                   cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta,
                                   cl_mem C, size_t offC, size_t ldc)
{
    clgrad_status st = CLGRAD_OK;
    if (beta == 0.0f) {
        /* BLAS: beta == 0 must not read C.  Zero it so NaN/Inf in C cannot leak. */
        if (ldc == N) {
            CLGRAD_TRY(clgrad_buf_fill(ctx, C, offC, M * N, 0.0f));
        } else {
            for (size_t m = 0; m < M; m++) CLGRAD_TRY(clgrad_buf_fill(ctx, C, offC + m * ldc, N, 0.0f));
        }
    }
    clblast_tuned_(ctx);
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       tb ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha, A, offA, lda,
                                       B, offB, ldb, beta, C, offC, ldc, &ctx->queue, ctx->prof ? &ev : NULL);
    if (ev) {
        if (s == CLBlastSuccess) clgrad_profile_add_(ctx, "CLBlastSgemm", ev);
        clReleaseEvent(ev);
    }
    if (s != CLBlastSuccess)
        return clgrad_fail(ctx, CLGRAD_E_CL, "CLBlastSgemm(%c%c, M=%zu N=%zu K=%zu): %s", ta ? 'T' : 'N',
                           tb ? 'T' : 'N', M, N, K, clblast_error_(s));
fail:
    return st;
}

/* The epilogue as separate launches, for the kernels without one: the bias,
** then the activation or its derivative (row by row where a leading
** dimension is padded). */
static clgrad_status epilogue_after_(clgrad_ctx *ctx, size_t M, size_t N, cl_mem C, size_t offC, size_t ldc,
                                     const clgrad_gemm_epilogue *e)
{
    clgrad_status st = CLGRAD_OK;
    int flat = ldc == N && (e->kind == CLGRAD_EPI_NONE || e->lde == N) && (e->kind != CLGRAD_EPI_DACT || e->ldz == N);
    size_t rows = flat ? 1 : M, n = flat ? M * N : N;
    for (size_t m = 0; m < rows; m++) {
        size_t c = offC + m * ldc;
        if (e->bias) CLGRAD_TRY(clgrad_activation_bias_add(ctx, C, c, flat ? M : 1, N, e->bias, e->bias_off));
        if (e->kind == CLGRAD_EPI_ACT)
            CLGRAD_TRY(clgrad_activation_forward(ctx, e->act, e->act_param, C, c, e->e, e->e_off + m * e->lde, n));
        else if (e->kind == CLGRAD_EPI_DACT)
            CLGRAD_TRY(clgrad_activation_backward(ctx, e->act, e->act_param, e->z, e->z_off + m * e->ldz, C, c, e->e,
                                                  e->e_off + m * e->lde, n));
    }
fail:
    return st;
}

/* The CPU micro-kernel: op(B) packed into 16-column panels (matmul_cpu_pack_b)
** unless `direct` (then tb == 0 and B is read in place), then matmul_cpu. */
static clgrad_status gemm_cpu_(clgrad_ctx *ctx, int direct, int ta, int tb, int M, int N, int K, float alpha, cl_mem A,
                                  cl_ulong offA, int lda, cl_mem B, cl_ulong offB, int ldb, float beta, cl_mem C,
                                  cl_ulong offC, int ldc, const clgrad_gemm_epilogue *epi)
{
    clgrad_status st = CLGRAD_OK;
    const size_t mr = (size_t)ctx->tune.cpu_mr, nbw = 16 * (size_t)ctx->tune.cpu_nw;
    size_t panels = ((size_t)N + nbw - 1) / nbw, blocks = ((size_t)M + mr - 1) / mr;
    cl_int packed = !direct && K > 0, packed_a = ta && K > 0 && (size_t)M * (size_t)K > (size_t)ctx->tune.cpu_pack_a_min;
    size_t nb = packed ? panels * nbw * (size_t)K : 0, na = packed_a ? blocks * mr * (size_t)K : 0;
    cl_mem a = A, b = B;
    cl_ulong oa = offA, ob = offB;
    if (nb + na > ctx->gemm_scratch_floats) {
        clgrad_buf_free(&ctx->gemm_scratch);
        ctx->gemm_scratch_floats = 0;
        CLGRAD_TRY(clgrad_buf_new(ctx, nb + na, "GEMM packing scratch", &ctx->gemm_scratch));
        ctx->gemm_scratch_floats = nb + na;
    }
    if (packed) {
        cl_kernel pk = clgrad_kernel(ctx, "matmul_cpu_pack_b");
        if (!pk) return CLGRAD_E_ARG;
        cl_int itb = tb;
        CLGRAD_ARG(ctx, pk, 0, itb); CLGRAD_ARG(ctx, pk, 1, N); CLGRAD_ARG(ctx, pk, 2, K);
        CLGRAD_ARG(ctx, pk, 3, B); CLGRAD_ARG(ctx, pk, 4, offB); CLGRAD_ARG(ctx, pk, 5, ldb);
        CLGRAD_ARG(ctx, pk, 6, ctx->gemm_scratch);
        size_t g[2] = {(size_t)K, panels};
        CLGRAD_TRY(clgrad_launch(ctx, pk, "matmul_cpu_pack_b", 2, g, NULL));
        b = ctx->gemm_scratch, ob = 0;
    }
    if (packed_a) {
        /* the A blocks sit after the B panels in the scratch buffer: a sub-buffer
        ** would need an aligned origin, so the kernel gets the offset instead */
        cl_kernel pk = clgrad_kernel(ctx, "matmul_cpu_pack_a");
        if (!pk) return CLGRAD_E_ARG;
        cl_int ita = ta;
        cl_ulong dst_off = nb;
        CLGRAD_ARG(ctx, pk, 0, ita); CLGRAD_ARG(ctx, pk, 1, M); CLGRAD_ARG(ctx, pk, 2, K);
        CLGRAD_ARG(ctx, pk, 3, A); CLGRAD_ARG(ctx, pk, 4, offA); CLGRAD_ARG(ctx, pk, 5, lda);
        CLGRAD_ARG(ctx, pk, 6, ctx->gemm_scratch); CLGRAD_ARG(ctx, pk, 7, dst_off);
        size_t g[2] = {(size_t)K, blocks};
        CLGRAD_TRY(clgrad_launch(ctx, pk, "matmul_cpu_pack_a", 2, g, NULL));
        a = ctx->gemm_scratch, oa = nb;
    }
    cl_kernel k = clgrad_kernel(ctx, "matmul_cpu");
    if (!k) return CLGRAD_E_ARG;
    cl_int ita = ta;
    cl_uint i = 0;
    CLGRAD_ARG(ctx, k, i++, ita); CLGRAD_ARG(ctx, k, i++, packed_a); CLGRAD_ARG(ctx, k, i++, packed);
    CLGRAD_ARG(ctx, k, i++, M); CLGRAD_ARG(ctx, k, i++, N); CLGRAD_ARG(ctx, k, i++, K);
    CLGRAD_ARG(ctx, k, i++, alpha);
    CLGRAD_ARG(ctx, k, i++, a); CLGRAD_ARG(ctx, k, i++, oa); CLGRAD_ARG(ctx, k, i++, lda);
    CLGRAD_ARG(ctx, k, i++, b); CLGRAD_ARG(ctx, k, i++, ob); CLGRAD_ARG(ctx, k, i++, ldb);
    CLGRAD_ARG(ctx, k, i++, beta);
    CLGRAD_ARG(ctx, k, i++, C); CLGRAD_ARG(ctx, k, i++, offC); CLGRAD_ARG(ctx, k, i++, ldc);
    /* unused buffer arguments get C: any valid buffer will do */
    cl_int has_bias = epi->bias != NULL, kind = epi->kind, act = (cl_int)epi->act;
    cl_mem bias_mem = has_bias ? epi->bias : C, e_mem = kind ? epi->e : C, z_mem = kind == CLGRAD_EPI_DACT ? epi->z : C;
    cl_ulong bias_off = epi->bias_off, e_off = epi->e_off, z_off = epi->z_off;
    cl_int lde = kind ? (cl_int)epi->lde : 0, ldz = kind == CLGRAD_EPI_DACT ? (cl_int)epi->ldz : 0;
    float act_p = epi->act_param;
    CLGRAD_ARG(ctx, k, i++, bias_mem); CLGRAD_ARG(ctx, k, i++, bias_off); CLGRAD_ARG(ctx, k, i++, has_bias);
    CLGRAD_ARG(ctx, k, i++, kind); CLGRAD_ARG(ctx, k, i++, act); CLGRAD_ARG(ctx, k, i++, act_p);
    CLGRAD_ARG(ctx, k, i++, e_mem); CLGRAD_ARG(ctx, k, i++, e_off); CLGRAD_ARG(ctx, k, i++, lde);
    CLGRAD_ARG(ctx, k, i++, z_mem); CLGRAD_ARG(ctx, k, i++, z_off); CLGRAD_ARG(ctx, k, i++, ldz);
    size_t g[2] = {blocks, panels};
    CLGRAD_TRY(clgrad_launch(ctx, k, "matmul_cpu", 2, g, NULL));
fail:
    return st;
}

clgrad_status clgrad_gemm(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                          size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                          size_t offC, size_t ldc)
{
    return clgrad_gemm_fused(ctx, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc, NULL);
}

clgrad_status clgrad_gemm_bias(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                               size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                               size_t offC, size_t ldc, cl_mem bias, size_t offBias)
{
    clgrad_gemm_epilogue e = {0};
    e.bias = bias, e.bias_off = offBias;
    return clgrad_gemm_fused(ctx, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc, &e);
}

clgrad_status clgrad_gemm_fused(clgrad_ctx *ctx, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                                size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C,
                                size_t offC, size_t ldc, const clgrad_gemm_epilogue *epi)
{
    clgrad_status st = CLGRAD_OK;
    static const clgrad_gemm_epilogue none = {0};
    if (!epi) epi = &none;
    if (M == 0 || N == 0) return CLGRAD_OK;
    if (epi->kind < CLGRAD_EPI_NONE || epi->kind > CLGRAD_EPI_DACT || (epi->kind != CLGRAD_EPI_NONE &&
        (!epi->e || epi->lde < N || (unsigned)epi->act >= CLGRAD_ACT_COUNT ||
         (epi->kind == CLGRAD_EPI_DACT && (!epi->z || epi->ldz < N)))))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "gemm: invalid epilogue (kind %d, act %d, lde %zu, ldz %zu for N=%zu)",
                           epi->kind, (int)epi->act, epi->lde, epi->ldz, N);
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX ||
        epi->lde > INT_MAX || epi->ldz > INT_MAX)
        return clgrad_fail(ctx, CLGRAD_E_ARG, "gemm: sizes exceed INT_MAX (M=%zu N=%zu K=%zu)", M, N, K);
    if (lda < (ta ? M : K) || ldb < (tb ? K : N) || ldc < N || (K > 0 && lda == 0))
        return clgrad_fail(ctx, CLGRAD_E_ARG, "gemm: leading dimension too small (lda=%zu ldb=%zu ldc=%zu for %c%c M=%zu N=%zu K=%zu)",
                           lda, ldb, ldc, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
    /* CLBlast rejects K == 0 (C = beta * C); the own kernel handles it. */
    if (ctx->gemm_backend == CLGRAD_GEMM_CLBLAST && K > 0) {
        CLGRAD_TRY(gemm_clblast_(ctx, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C, offC, ldc));
        return epilogue_after_(ctx, M, N, C, offC, ldc, epi);
    }

    int m = (int)M, n = (int)N, k = (int)K, la = (int)lda, lb = (int)ldb, lc = (int)ldc;
    cl_ulong oa = offA, ob = offB, oc = offC;
    clgrad_gemm_variant_t v = pick_size_(ctx, ta, tb, N, K);
    if (v == CLGRAD_GEMM_PACKED || v == CLGRAD_GEMM_DIRECT)
        return gemm_cpu_(ctx, v == CLGRAD_GEMM_DIRECT, ta, tb, m, n, k, alpha, A, oa, la, B, ob, lb, beta, C, oc, lc,
                         epi);
    static const char *tiled[4] = {"matmul_nn", "matmul_nt", "matmul_tn", "matmul_tt"};
    static const char *vec[4] = {"matmul_vec_nn", "matmul_vec_nt", "matmul_vec_tn", NULL};
    int op = (ta ? 2 : 0) + (tb ? 1 : 0);
    const char *name = v == CLGRAD_GEMM_TILED ? tiled[op] : v == CLGRAD_GEMM_VEC ? vec[op] : "matmul_simple";
    cl_kernel kern = clgrad_kernel(ctx, name);
    if (!kern) return CLGRAD_E_ARG;
    cl_uint i = 0;
    if (v == CLGRAD_GEMM_SIMPLE) {
        cl_int ita = ta ? 1 : 0, itb = tb ? 1 : 0;
        CLGRAD_ARG(ctx, kern, i++, ita);
        CLGRAD_ARG(ctx, kern, i++, itb);
    }
    CLGRAD_ARG(ctx, kern, i++, m); CLGRAD_ARG(ctx, kern, i++, n); CLGRAD_ARG(ctx, kern, i++, k);
    CLGRAD_ARG(ctx, kern, i++, alpha);
    CLGRAD_ARG(ctx, kern, i++, A); CLGRAD_ARG(ctx, kern, i++, oa); CLGRAD_ARG(ctx, kern, i++, la);
    CLGRAD_ARG(ctx, kern, i++, B); CLGRAD_ARG(ctx, kern, i++, ob); CLGRAD_ARG(ctx, kern, i++, lb);
    CLGRAD_ARG(ctx, kern, i++, beta);
    CLGRAD_ARG(ctx, kern, i++, C); CLGRAD_ARG(ctx, kern, i++, oc); CLGRAD_ARG(ctx, kern, i++, lc);
    if (v == CLGRAD_GEMM_TILED) {
        const size_t wgm = (size_t)ctx->tune.wgm, wgn = (size_t)ctx->tune.wgn;
        const size_t tm = wgm * (size_t)ctx->tune.rm, tn = wgn * (size_t)ctx->tune.rn;
        size_t global[2] = {(N + tn - 1) / tn * wgn, (M + tm - 1) / tm * wgm};
        size_t local[2] = {wgn, wgm};
        CLGRAD_TRY(clgrad_launch(ctx, kern, name, 2, global, local));
    } else if (v == CLGRAD_GEMM_VEC) {
        size_t cols = op == 1 ? VEC_NT_R : 16, rows = op == 1 ? VEC_NT_R : VEC_RM;
        size_t global[2] = {(N + cols - 1) / cols, (M + rows - 1) / rows};
        CLGRAD_TRY(clgrad_launch(ctx, kern, name, 2, global, NULL));
    } else {
        size_t local[2] = {8, 8};
        if (ctx->dev.max_wg_size < 64) local[0] = local[1] = 1;
        size_t global[2] = {(N + local[0] - 1) / local[0] * local[0], (M + local[1] - 1) / local[1] * local[1]};
        CLGRAD_TRY(clgrad_launch(ctx, kern, name, 2, global, local));
    }
    return epilogue_after_(ctx, M, N, C, offC, ldc, epi);
fail:
    return st;
}
