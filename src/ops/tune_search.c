/*
** tune_search.c: `clgrad tune`'s search (clgrad/tune.h).  Each candidate
** parameter set gets a context of its own (only matmul.cl, built with the
** candidate's -D options), computes every shape once, is checked bit for bit
** against the built-in defaults' results (a SHA-256 of each output), and is
** then timed (best of a few calls per shape).  The score is the mean over the
** shapes of time / default time: each shape counts the same.  CLBlast's
** parameters are searched the same way, without the bit check (CLBlast's
** order of operations is its parameters' choice), timed against CLBlast's
** own defaults, which are measured first: CLBlastOverrideParameters lasts for
** the process.
*/
#define _POSIX_C_SOURCE 200809L
#include "core/internal.h"
#include "clgrad/gemm.h"
#include "clgrad/hash.h"
#include "util/sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ta, tb;
    size_t M, N, K;
    int timed; /* 0: checked only (awkward shapes, with a bias) */
} shape_;

#define MAX_SHAPES 32

/* The timed shapes (squares, then the bench models' forward NT, weight-gradient
** TN and input-gradient NN products) and the awkward checked ones. */
static int shapes_(const clgrad_tune_opts *o, shape_ *s)
{
    static const size_t full[] = {256, 512, 1024, 2048}, quick[] = {64, 128};
    static const size_t models[][2] = {{128, 256}, {512, 1024}, {64, 128}}, quick_models[][2] = {{32, 64}};
    static const size_t awkward[][3] = {{1, 3, 17}, {17, 33, 100}, {100, 17, 33}, {33, 100, 3}};
    const size_t *sz = o->sizes ? o->sizes : o->quick ? quick : full;
    int nsz = o->sizes ? o->nsizes : o->quick ? 2 : 4, n = 0;
    for (int i = 0; i < nsz && n < MAX_SHAPES - 12; i++) s[n++] = (shape_){0, 0, sz[i], sz[i], sz[i], 1};
    int nm = o->quick ? 1 : 3;
    for (int m = 0; m < nm; m++) {
        size_t B = o->quick ? quick_models[m][0] : models[m][0], W = o->quick ? quick_models[m][1] : models[m][1];
        s[n++] = (shape_){0, 1, B, W, W, 1};
        s[n++] = (shape_){1, 0, W, W, B, 1};
        s[n++] = (shape_){0, 0, B, W, W, 1};
    }
    if (o->clblast) return n;
    for (int a = 0; a < 4 && n < MAX_SHAPES; a++)
        for (int t = 0; t < 4 && n < MAX_SHAPES; t += 3) /* NN and TT here; NT, TN among the timed */
            s[n++] = (shape_){t >> 1, t & 1, awkward[a][0], awkward[a][1], awkward[a][2], 0};
    return n;
}

static void fill_(float *h, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = (float)((int)(seed >> 9) - (1 << 22)) * 0x1.0p-22f; /* [-1, 1) */
    }
}

/* One shape on context c: compute once (digest of C), then time `reps` calls (best). */
static clgrad_status shape_run_(clgrad_ctx *c, const shape_ *s, int reps, unsigned char dig[32], double *best)
{
    clgrad_status st = CLGRAD_OK;
    size_t na = s->M * s->K, nb = s->K * s->N, nc = s->M * s->N, nmax = na > nb ? na : nb;
    cl_mem A = NULL, B = NULL, C = NULL, bias = NULL;
    float *h = malloc((nmax > nc ? nmax : nc) * sizeof *h);
    if (!h) return clgrad_fail(c, CLGRAD_E_NOMEM, "out of memory");
    CLGRAD_TRY(clgrad_buf_new(c, na, "tune A", &A));
    CLGRAD_TRY(clgrad_buf_new(c, nb, "tune B", &B));
    CLGRAD_TRY(clgrad_buf_new(c, nc, "tune C", &C));
    CLGRAD_TRY(clgrad_buf_new(c, s->N, "tune bias", &bias));
    fill_(h, na, (uint32_t)(s->M * 7 + s->K));
    CLGRAD_TRY(clgrad_buf_write(c, A, 0, na, h));
    fill_(h, nb, (uint32_t)(s->N * 13 + s->K));
    CLGRAD_TRY(clgrad_buf_write(c, B, 0, nb, h));
    fill_(h, s->N, 99u);
    CLGRAD_TRY(clgrad_buf_write(c, bias, 0, s->N, h));
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    *best = INFINITY;
    for (int r = -1; r < reps; r++) {
        double t0 = clgrad_now();
        CLGRAD_TRY(clgrad_gemm_bias(c, s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, 0, lda, B, 0, ldb, 0.0f, C, 0, s->N,
                                    s->timed ? NULL : bias, 0));
        CLGRAD_TRY(clgrad_finish(c));
        double dt = clgrad_now() - t0;
        if (r >= 0 && dt < *best) *best = dt;
        if (r == -1) {
            CLGRAD_TRY(clgrad_buf_read(c, C, 0, nc, h));
            clgrad_sha256 sh;
            clgrad_sha256_init(&sh);
            clgrad_sha256_update(&sh, h, nc * sizeof *h);
            clgrad_sha256_final(&sh, dig);
        }
    }
fail:
    clgrad_buf_free(&A), clgrad_buf_free(&B), clgrad_buf_free(&C), clgrad_buf_free(&bias);
    free(h);
    return st;
}

/* Open a context for candidate `params` and run every shape: the digests into
** dig (or compared with it when check), the best times into t.  *same = 0 when
** a digest differs.  Failures (a candidate the device cannot build or run)
** are returned with the message in ctx. */
static clgrad_status candidate_(clgrad_ctx *ctx, const clgrad_tune_opts *o, const char *params, const shape_ *s, int ns,
                                unsigned char (*dig)[32], int check, double *t, int *same)
{
    clgrad_status st = CLGRAD_OK;
    clgrad_open_opts oo = {0};
    if (o->open) oo = *o->open;
    oo.only = "matmul.cl,activation.cl", oo.gemm_tune = params, oo.on_build = NULL;
    clgrad_ctx *c = clgrad_ctx_new();
    if (!c) return clgrad_fail(ctx, CLGRAD_E_NOMEM, "out of memory");
    *same = 1;
    st = clgrad_open(c, o->device_spec, &oo);
    if (o->clblast) clgrad_set_gemm_backend(c, CLGRAD_GEMM_CLBLAST);
    for (int i = 0; st == CLGRAD_OK && i < ns; i++) {
        unsigned char d[32];
        int reps = !s[i].timed ? 0 : o->quick ? 2 : 3;
        st = shape_run_(c, &s[i], reps, d, &t[i]);
        if (st != CLGRAD_OK) break;
        if (check && !o->clblast && memcmp(d, dig[i], 32) != 0) *same = 0;
        if (!check) memcpy(dig[i], d, 32);
    }
    if (st != CLGRAD_OK) clgrad_fail(ctx, st, "candidate %s: %s", params, clgrad_errmsg(c));
    clgrad_ctx_free(c);
    return st;
}

/* The candidates (parameter strings over the built-in defaults) for ctx's device. */
static int candidates_(const clgrad_ctx *ctx, const clgrad_tune_opts *o, const char **out, int cap)
{
    static const char *cpu[] = {"cpu_mr=6,cpu_nw=1", "cpu_mr=8,cpu_nw=2", "cpu_mr=4,cpu_nw=2", "cpu_mr=12,cpu_nw=1",
                                "cpu_mr=6,cpu_nw=2", "cpu_mr=12,cpu_nw=2", "cpu_mr=10,cpu_nw=2", "cpu_mr=4,cpu_nw=4",
                                "cpu_mr=6,cpu_nw=4", "cpu_mr=5,cpu_nw=4", "cpu_mr=14,cpu_nw=2", "cpu_mr=7,cpu_nw=3",
                                "cpu_mr=4,cpu_nw=4,cpu_direct_max=16384", "cpu_mr=4,cpu_nw=4,cpu_direct_max=262144",
                                "cpu_mr=6,cpu_nw=2,cpu_direct_max=262144", "cpu_mr=6,cpu_nw=2,cpu_pack_a_min=16384"};
    static const char *cpu_quick[] = {"cpu_mr=6,cpu_nw=1", "cpu_mr=6,cpu_nw=2", "cpu_mr=4,cpu_nw=4"};
    static const char *gpu[] = {"wgm=16,wgn=16,rm=4,rn=4,tk=16", "wgm=16,wgn=16,rm=8,rn=4,tk=16", "wgm=16,wgn=16,rm=4,rn=8,tk=16",
                                "wgm=16,wgn=16,rm=8,rn=8,tk=16", "wgm=8,wgn=8,rm=8,rn=8,tk=16", "wgm=16,wgn=16,rm=4,rn=4,tk=32",
                                "wgm=8,wgn=16,rm=4,rn=4,tk=16", "wgm=16,wgn=16,rm=8,rn=8,tk=8", "wgm=32,wgn=8,rm=2,rn=8,tk=16",
                                "wgm=16,wgn=16,rm=4,rn=4,tk=16,lpad=1", "wgm=16,wgn=16,rm=8,rn=8,tk=16,lpad=1"};
    static const char *gpu_quick[] = {"wgm=16,wgn=16,rm=4,rn=4,tk=16", "wgm=8,wgn=8,rm=8,rn=8,tk=16"};
    static const char *clb[] = {
        "clblast.GEMMK=0,clblast.KREG=1,clblast.KWG=16,clblast.KWI=2,clblast.MDIMA=8,clblast.MDIMC=8,clblast.MWG=64,"
        "clblast.NDIMB=8,clblast.NDIMC=8,clblast.NWG=64,clblast.SA=0,clblast.SB=0,clblast.STRM=0,clblast.STRN=0,"
        "clblast.VWM=4,clblast.VWN=4",
        "clblast.GEMMK=0,clblast.KREG=1,clblast.KWG=32,clblast.KWI=2,clblast.MDIMA=8,clblast.MDIMC=8,clblast.MWG=32,"
        "clblast.NDIMB=8,clblast.NDIMC=8,clblast.NWG=32,clblast.SA=0,clblast.SB=0,clblast.STRM=0,clblast.STRN=0,"
        "clblast.VWM=4,clblast.VWN=4",
        "clblast.GEMMK=0,clblast.KREG=1,clblast.KWG=16,clblast.KWI=2,clblast.MDIMA=4,clblast.MDIMC=4,clblast.MWG=32,"
        "clblast.NDIMB=8,clblast.NDIMC=8,clblast.NWG=64,clblast.SA=0,clblast.SB=0,clblast.STRM=0,clblast.STRN=0,"
        "clblast.VWM=8,clblast.VWN=8",
        "clblast.GEMMK=0,clblast.KREG=1,clblast.KWG=32,clblast.KWI=2,clblast.MDIMA=16,clblast.MDIMC=16,clblast.MWG=64,"
        "clblast.NDIMB=16,clblast.NDIMC=16,clblast.NWG=64,clblast.SA=1,clblast.SB=1,clblast.STRM=0,clblast.STRN=0,"
        "clblast.VWM=4,clblast.VWN=4",
        "clblast.GEMMK=0,clblast.KREG=1,clblast.KWG=16,clblast.KWI=1,clblast.MDIMA=4,clblast.MDIMC=4,clblast.MWG=64,"
        "clblast.NDIMB=4,clblast.NDIMC=4,clblast.NWG=64,clblast.SA=0,clblast.SB=0,clblast.STRM=0,clblast.STRN=0,"
        "clblast.VWM=16,clblast.VWN=16",
    };
    const char **src;
    int n;
    if (o->clblast) src = clb, n = o->quick ? 1 : (int)(sizeof clb / sizeof *clb);
    else if (ctx->dev.cl_type & CL_DEVICE_TYPE_CPU)
        src = o->quick ? cpu_quick : cpu, n = o->quick ? 3 : (int)(sizeof cpu / sizeof *cpu);
    else src = o->quick ? gpu_quick : gpu, n = o->quick ? 2 : (int)(sizeof gpu / sizeof *gpu);
    if (n > cap) n = cap;
    for (int i = 0; i < n; i++) out[i] = src[i];
    return n;
}

/* One progress line to o->on_line (none without one). */
#define say_(o, ...) clgrad_sb_line((o)->on_line, (o)->user, __VA_ARGS__)

/* Mean over the timed shapes of t / t0. */
static double score_(const shape_ *s, int ns, const double *t, const double *t0)
{
    double score = 0;
    int nt = 0;
    for (int i = 0; i < ns; i++)
        if (s[i].timed) score += t[i] / t0[i], nt++;
    return score / (nt > 0 ? nt : 1);
}

/* Candidate c once more, its times the best of both per shape; its new score (INFINITY when it fails now). */
static double again_(clgrad_ctx *ctx, const clgrad_tune_opts *o, const char *params, const shape_ *s, int ns,
                     unsigned char (*dig)[32], double *tc, const double *t0)
{
    double t[MAX_SHAPES];
    int same;
    if (candidate_(ctx, o, params, s, ns, dig, 1, t, &same) != CLGRAD_OK || !same) return INFINITY;
    for (int i = 0; i < ns; i++) tc[i] = t[i] < tc[i] ? t[i] : tc[i];
    return score_(s, ns, tc, t0);
}

#define MAX_CANDIDATES 32

clgrad_status clgrad_tune_search(clgrad_ctx *ctx, const clgrad_tune_opts *o, clgrad_gemm_tune *best, double *speedup)
{
    clgrad_status st = CLGRAD_OK;
    shape_ s[MAX_SHAPES];
    const char *cand[MAX_CANDIDATES];
    int ns = shapes_(o, s), nc = candidates_(ctx, o, cand, MAX_CANDIDATES), same, tried = 0;
    unsigned char dig[MAX_SHAPES][32];
    static double t[MAX_CANDIDATES][MAX_SHAPES];
    double t0[MAX_SHAPES], score[MAX_CANDIDATES], start = clgrad_now();
    /* the reference: the built-in defaults (own GEMM), CLBlast's defaults (--clblast) */
    const char *ref = o->clblast ? "" : "off";
    CLGRAD_TRY(candidate_(ctx, o, ref, s, ns, dig, 0, t0, &same));
    say_(o, "reference (%s): done", o->clblast ? "CLBlast's defaults" : "built-in defaults");
    for (int c = 0; c < nc; c++, tried++) {
        score[c] = INFINITY;
        if (o->budget_s > 0 && clgrad_now() - start > o->budget_s) {
            say_(o, "budget of %.0f s spent: %d of %d candidates tried", o->budget_s, c, nc);
            break;
        }
        if (candidate_(ctx, o, cand[c], s, ns, dig, 1, t[c], &same) != CLGRAD_OK) {
            say_(o, "%-40s skipped: %s", cand[c][0] ? cand[c] : "(defaults)", clgrad_errmsg(ctx));
            continue;
        }
        double sc = score_(s, ns, t[c], t0);
        say_(o, "%-40s %s  time / reference %.3f", cand[c][0] ? cand[c] : "(defaults)",
             o->clblast ? "(CLBlast: bits not compared)" : same ? "same bits" : "BITS DIFFER: rejected", sc);
        if (same) score[c] = sc;
    }
    /* round 2 against noise: the reference and the best three again, best of both per shape */
    double t1[MAX_SHAPES];
    /* (not CLBlast's: its parameter overrides last for the process, there is no going back to its defaults) */
    if (!o->quick && !o->clblast && candidate_(ctx, o, ref, s, ns, dig, 1, t1, &same) == CLGRAD_OK)
        for (int i = 0; i < ns; i++) t0[i] = t1[i] < t0[i] ? t1[i] : t0[i];
    int best_i = -1;
    for (int round = 0; round < (o->quick ? 0 : 3); round++) {
        int b = -1;
        for (int c = 0; c < tried; c++)
            if (score[c] < INFINITY && score[c] > 0 && (b < 0 || score[c] < score[b])) b = c;
        if (b < 0) break;
        score[b] = -again_(ctx, o, cand[b], s, ns, dig, t[b], t0); /* negative: done */
        say_(o, "again: %-33s time / reference %.3f", cand[b][0] ? cand[b] : "(defaults)", -score[b]);
    }
    double best_score = 1.0;
    for (int c = 0; c < tried; c++) {
        double sc = score[c] < 0 ? -score[c] : score_(s, ns, t[c], t0);
        if (score[c] != INFINITY && sc < best_score) best_score = sc, best_i = c;
    }
    clgrad_gemm_tune_defaults(best);
    if (best_i >= 0) {
        char why[256];
        if (clgrad_gemm_tune_parse(cand[best_i], best, why, sizeof why) != 0)
            return clgrad_fail(ctx, CLGRAD_E_ARG, "tune: candidate %s: %s", cand[best_i], why);
    }
    *speedup = 1.0 / best_score;
fail:
    return st;
}
