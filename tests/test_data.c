/*
** test_data.c (unit suite, no device): the data layer.  The host random
** generator against an independent Python model of it (golden bits), its
** bounded integers and normals (statistics), the deterministic log/exp/sincos
** against libm; every generator's shapes, labels, determinism and the
** property that defines it (linreg's covariance condition number and noise,
** circle radii, spiral angles, adding-problem markers, temporal-order
** classes); CSV good files and every error kind with FILE:LINE: column; IDX
** good and hostile files; split, standardisation, epoch order, gather,
** clgrad_data_load; .npy bytes, round trips and malformed files.
**
** Self-contained (no OpenCL, no fixture.c).  CLGRAD_SOURCE_ROOT (set by
** meson) locates tests/data/; scratch files go to a mkdtemp directory.
*/
#define _POSIX_C_SOURCE 200809L
#include "clgrad/data.h"
#include "run/data_internal.h"

#include <check.h>
#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static char dir_[256];
static char err_[1024];

static void setup_(void)
{
    snprintf(dir_, sizeof dir_, "/tmp/clgrad-test-data-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir_));
    err_[0] = '\0';
}

static void teardown_(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    ck_assert_int_eq(system(cmd), 0);
}

/* dir_/name, in one of 8 rotating buffers: copy a path that must live longer */
static const char *tmp_(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir_, name);
    return p[k];
}

static const char *write_(const char *name, const void *bytes, size_t n)
{
    const char *p = tmp_(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

static const char *src_(const char *rel)
{
    static char p[1024];
    const char *root = getenv("CLGRAD_SOURCE_ROOT");
    snprintf(p, sizeof p, "%s/tests/data/%s", root && *root ? root : ".", rel);
    return p;
}

/* The [data] defaults (as the config engineer documents them). */
static clgrad_data_section cfg_(const char *kind)
{
    clgrad_data_section c;
    memset(&c, 0, sizeof c);
    snprintf(c.kind, sizeof c.kind, "%s", kind);
    snprintf(c.task, sizeof c.task, "regression");
    c.batch_size = 32;
    c.shuffle = 1;
    c.test_fraction = 0.2;
    c.samples = 1000;
    c.features = 10;
    c.noise = 0.1;
    c.condition = 1;
    c.classes = 3;
    c.seq_len = 50;
    return c;
}

#define ck_assert_err_(rc, needle)                                                                              \
    do {                                                                                                       \
        ck_assert_int_eq((rc), CLGRAD_E_IO);                                                                            \
        ck_assert_msg(strstr(err_, (needle)) != NULL, "error '%s' does not contain '%s'", err_, (needle));     \
    } while (0)

static int is_zeroed_(const clgrad_dataset *d)
{
    return d->n == 0 && d->x == NULL && d->y == NULL && d->features == 0 && d->classes == 0;
}

/* FNV-1a over the dataset's x and y bytes. */
static uint64_t hash_(const clgrad_dataset *d)
{
    uint64_t h = 0xcbf29ce484222325u;
    const unsigned char *p = (const unsigned char *)d->x;
    size_t nx = d->n * d->seq_len * d->features * sizeof(float);
    for (size_t i = 0; i < nx; i++) h = (h ^ p[i]) * 0x100000001b3u;
    p = (const unsigned char *)d->y;
    for (size_t i = 0; i < d->n * sizeof(float); i++) h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* ulps between two doubles of the same sign */
static double ulps_(double a, double b)
{
    if (a == b) return 0;
    double u = nextafter(fabs(b), INFINITY) - fabs(b);
    return fabs(a - b) / u;
}

/* ---- random generator ---- */

/* Golden values from an independent Python model of clgrad_drng (the same
** splitmix64/xoshiro256** definitions and polar method, written separately):
** a mismatch means the C integer core or the normal path differs. */
START_TEST(rng_golden)
{
    static const uint64_t u[4] = {0x3a3c0206b99d7eaeu, 0xfcf889b2fe26e197u, 0x39d40a0c0e33fcd0u,
                                  0x2acb0b7117b9cf8au};
    static const double z[6] = {-0x1.f500820faed40p-2, -0x1.302c80de602eep-1, 0x1.cd08fce2fa1dcp-1,
                                -0x1.3ccc90d03eb94p+0, 0x1.20d17bdfc64a0p-2,  0x1.21c095ad98c93p+0};
    clgrad_drng r;
    clgrad_drng_init(&r, 42, 1, 0);
    for (int i = 0; i < 4; i++) ck_assert_msg(clgrad_drng_u64(&r) == u[i], "u64 #%d", i);
    clgrad_drng_init(&r, 42, 1, 0);
    for (int i = 0; i < 6; i++) {
        double v = clgrad_drng_normal(&r);
        ck_assert_msg(v == z[i], "normal #%d: %a != %a", i, v, z[i]);
    }
    clgrad_drng_init(&r, 0, 0, 0);
    ck_assert(clgrad_drng_u64(&r) == 0x8c4986f3f0e565d5u);
    /* streams and indices give different sequences */
    clgrad_drng a, b;
    clgrad_drng_init(&a, 42, 1, 0);
    clgrad_drng_init(&b, 42, 2, 0);
    ck_assert(clgrad_drng_u64(&a) != clgrad_drng_u64(&b));
    clgrad_drng_init(&a, 42, 1, 0);
    clgrad_drng_init(&b, 42, 1, 1);
    ck_assert(clgrad_drng_u64(&a) != clgrad_drng_u64(&b));
}
END_TEST

/* FNV-1a over doubles, each as its 8 little-endian bytes (host-independent). */
static uint64_t fnv_doubles_(uint64_t h, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof u);
        for (int b = 0; b < 8; b++) h = (h ^ ((u >> (8 * b)) & 0xff)) * 0x100000001b3u;
    }
    return h;
}

/* Bulk golden bits from the same independent Python model (Python floats
** are IEEE doubles and Python never contracts to fma): 10000 normals, and
** det_log / det_exp / det_sincos on 10000 random arguments each.  This is
** what fails on a host or build that evaluates the data arithmetic
** differently (fma contraction, x87 excess precision). */
START_TEST(rng_golden_bulk)
{
    clgrad_drng r;
    clgrad_drng_init(&r, 42, 1, 0);
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < 10000; i++) {
        double z = clgrad_drng_normal(&r);
        h = fnv_doubles_(h, &z, 1);
    }
    ck_assert_msg(h == 0x5df04b38c1fd38ceu, "normals: 0x%016llx", (unsigned long long)h);
    clgrad_drng_init(&r, 7, 7, 7);
    h = 0xcbf29ce484222325u;
    for (int i = 0; i < 10000; i++) {
        double u = clgrad_drng_uniform(&r), v[4];
        v[0] = clgrad_det_log(ldexp(1.0 + u, i % 2000 - 1000));
        v[1] = clgrad_det_exp((u - 0.5) * 1400);
        clgrad_det_sincos((u - 0.5) * 2000, &v[2], &v[3]);
        h = fnv_doubles_(h, v, 4);
    }
    ck_assert_msg(h == 0x63d41baf642341b5u, "log/exp/sincos: 0x%016llx", (unsigned long long)h);
}
END_TEST

/* below(n) is in range and unbiased: chi-square over n = 7 with 70000 draws
** (6 dof: P(chi2 > 30) < 5e-5); below(2^63 + 1) stays below n. */
START_TEST(rng_below)
{
    clgrad_drng r;
    clgrad_drng_init(&r, 7, 9, 0);
    long cnt[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = clgrad_drng_below(&r, 7);
        ck_assert(v < 7);
        cnt[v]++;
    }
    double chi2 = 0;
    for (int k = 0; k < 7; k++) chi2 += (cnt[k] - 10000.0) * (cnt[k] - 10000.0) / 10000.0;
    ck_assert_msg(chi2 < 30, "chi2 %g", chi2);
    uint64_t big = (1ull << 63) + 1, hi = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = clgrad_drng_below(&r, big);
        ck_assert(v < big);
        hi |= v >> 62;
    }
    ck_assert(hi != 0); /* the top of the range is reached */
    ck_assert(clgrad_drng_below(&r, 1) == 0);
    ck_assert(clgrad_drng_below(&r, 0) == 0);
}
END_TEST

/* uniform in [0,1) with mean 1/2, var 1/12; normal mean 0, var 1, kurtosis 3.
** N = 400000: standard errors 4.6e-4 (u mean), 1.6e-3 (z mean), 2.2e-3
** (z var), 6e-3 (kurtosis); tolerances are about 5 sigma. */
START_TEST(rng_moments)
{
    clgrad_drng r;
    clgrad_drng_init(&r, 123, 5, 0);
    const int N = 400000;
    double su = 0, su2 = 0, s1 = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < N; i++) {
        double u = clgrad_drng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        su += u, su2 += u * u;
        double z = clgrad_drng_normal(&r);
        ck_assert(isfinite(z));
        s1 += z, s2 += z * z, s4 += z * z * z * z;
    }
    ck_assert_double_eq_tol(su / N, 0.5, 2.5e-3);
    ck_assert_double_eq_tol(su2 / N - (su / N) * (su / N), 1.0 / 12, 2e-3);
    ck_assert_double_eq_tol(s1 / N, 0.0, 8e-3);
    ck_assert_double_eq_tol(s2 / N, 1.0, 1.1e-2);
    ck_assert_double_eq_tol(s4 / N, 3.0, 4e-2);
}
END_TEST

/* The deterministic functions agree with libm to a few ulp (libm itself is
** within 1 ulp; ours within ~2), over wide random ranges. */
START_TEST(det_functions)
{
    clgrad_drng r;
    clgrad_drng_init(&r, 1, 1, 1);
    double worst_log = 0, worst_exp = 0, worst_sc = 0;
    for (int i = 0; i < 200000; i++) {
        double x = ldexp(1.0 + clgrad_drng_uniform(&r), (int)clgrad_drng_below(&r, 2000) - 1000);
        worst_log = fmax(worst_log, ulps_(clgrad_det_log(x), log(x)));
        double y = 1.0 + (clgrad_drng_uniform(&r) - 0.5) * 1e-6; /* near 1: log is tiny */
        worst_log = fmax(worst_log, ulps_(clgrad_det_log(y), log(y)));
        double e = (clgrad_drng_uniform(&r) - 0.5) * 1400;
        worst_exp = fmax(worst_exp, ulps_(clgrad_det_exp(e), exp(e)));
        double t = (clgrad_drng_uniform(&r) - 0.5) * 2000, s, c;
        clgrad_det_sincos(t, &s, &c);
        worst_sc = fmax(worst_sc, fmax(ulps_(s, sin(t)), ulps_(c, cos(t))));
    }
    ck_assert_msg(worst_log <= 4, "log: %g ulp", worst_log);
    ck_assert_msg(worst_exp <= 4, "exp: %g ulp", worst_exp);
    ck_assert_msg(worst_sc <= 4, "sincos: %g ulp", worst_sc);
    ck_assert(clgrad_det_log(1.0) == 0.0);
    ck_assert(clgrad_det_exp(0.0) == 1.0);
    ck_assert(isinf(clgrad_det_log(0.0)) && clgrad_det_log(0.0) < 0);
    ck_assert(isnan(clgrad_det_log(-1.0)));
    double s, c;
    clgrad_det_sincos(0.0, &s, &c);
    ck_assert(s == 0.0 && c == 1.0);
}
END_TEST

/* ---- generators: common properties ---- */

static const char *const kinds_[] = {"linreg", "moons", "circles", "xor", "blobs", "spirals", "adding",
                                     "temporal_order"};

/* Shapes, task, classes, label ranges, finiteness, determinism, seed dependence. */
START_TEST(gen_common)
{
    const char *kind = kinds_[_i];
    clgrad_data_section c = cfg_(kind);
    c.samples = 203; /* odd and not a multiple of 3 or 4 */
    c.features = 7;
    c.seq_len = 23;
    c.classes = 5;
    c.condition = 50;
    clgrad_dataset a, b, d;
    ck_assert_msg(clgrad_data_generate(&c, 11, &a, err_, sizeof err_) == 0, "%s: %s", kind, err_);
    ck_assert_int_eq(clgrad_data_generate(&c, 11, &b, err_, sizeof err_), 0);
    ck_assert_int_eq(clgrad_data_generate(&c, 12, &d, err_, sizeof err_), 0);
    ck_assert_uint_eq(a.n, 203);
    size_t feat = 2, seq = 1, classes = 0;
    clgrad_task task = CLGRAD_TASK_BINARY;
    if (!strcmp(kind, "linreg")) feat = 7, task = CLGRAD_TASK_REGRESSION;
    if (!strcmp(kind, "moons") || !strcmp(kind, "circles") || !strcmp(kind, "xor")) classes = 2;
    if (!strcmp(kind, "blobs")) feat = 7, classes = 5, task = CLGRAD_TASK_MULTICLASS;
    if (!strcmp(kind, "spirals")) classes = 5, task = CLGRAD_TASK_MULTICLASS;
    if (!strcmp(kind, "adding")) seq = 23, task = CLGRAD_TASK_REGRESSION;
    if (!strcmp(kind, "temporal_order")) feat = 6, seq = 23, classes = 4, task = CLGRAD_TASK_MULTICLASS;
    ck_assert_uint_eq(a.features, feat);
    ck_assert_uint_eq(a.seq_len, seq);
    ck_assert_int_eq(a.task, task);
    ck_assert_uint_eq(a.classes, classes);
    for (size_t i = 0; i < a.n * a.seq_len * a.features; i++) ck_assert(isfinite(a.x[i]));
    size_t seen[8] = {0};
    for (size_t i = 0; i < a.n; i++) {
        ck_assert(isfinite(a.y[i]));
        if (task != CLGRAD_TASK_REGRESSION) {
            ck_assert_msg(a.y[i] == floor(a.y[i]) && a.y[i] >= 0 && a.y[i] < (float)classes, "%s label %g", kind,
                          a.y[i]);
            seen[(size_t)a.y[i]]++;
        }
    }
    for (size_t k = 0; k < classes; k++) ck_assert_msg(seen[k] > 0, "%s: class %zu never appears", kind, k);
    ck_assert_msg(hash_(&a) == hash_(&b), "%s: same seed, different bytes", kind);
    ck_assert_msg(hash_(&a) != hash_(&d), "%s: different seeds, same bytes", kind);
    clgrad_dataset_free(&a);
    clgrad_dataset_free(&b);
    clgrad_dataset_free(&d);
    ck_assert(is_zeroed_(&a));
    clgrad_dataset_free(NULL);
}
END_TEST

/* Portability pins: hashes of each generator's bytes for one config, as this
** implementation produces them (recorded on x86-64 Linux, glibc, gcc).  Every
** step is integer or IEEE-exact, so any other IEEE-754 host must give the same
** hashes; a mismatch there means the data is host-dependent (e.g. FMA
** contraction or x87 excess precision) -- or that a generator changed, in
** which case update the pins deliberately. */
START_TEST(gen_pins)
{
    static const uint64_t pins[] = {
        0xd2512e87a76ffff0u, 0xbe688913f46b9a5bu, 0x8c27656cdf4f0013u, 0x71312a5f79a1e0a1u,
        0x53c4f8e29530d7cdu, 0xf15e1dd003963ad3u, 0xc20139813075330au, 0x410e8047d17ba9e5u,
    };
    clgrad_data_section c = cfg_(kinds_[_i]);
    c.samples = 64;
    c.features = 4;
    c.seq_len = 12;
    c.condition = 1000;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 2024, &d, err_, sizeof err_), 0);
    uint64_t h = hash_(&d);
    clgrad_dataset_free(&d);
    ck_assert_msg(h == pins[_i], "%s: hash 0x%016llxu, pinned 0x%016llxu", kinds_[_i], (unsigned long long)h,
                  (unsigned long long)pins[_i]);
}
END_TEST

START_TEST(gen_errors)
{
    clgrad_dataset d;
    clgrad_data_section c = cfg_("nope");
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] kind: unknown 'nope'");
    ck_assert(is_zeroed_(&d));
    c = cfg_("moons");
    c.samples = 0;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] samples: 0");
    c = cfg_("moons");
    c.noise = -1;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] noise");
    c.noise = NAN;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] noise");
    c = cfg_("blobs");
    c.classes = 1;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] classes: 1");
    c = cfg_("spirals");
    c.classes = 0;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] classes: 0");
    c = cfg_("linreg");
    c.condition = 0.5;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] condition");
    c.condition = INFINITY;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] condition");
    c = cfg_("linreg");
    c.features = 0;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] features: 0");
    c = cfg_("adding");
    c.seq_len = 1;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] seq_len: 1");
    c = cfg_("temporal_order");
    c.seq_len = 0;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "[data] seq_len: 0");
    c = cfg_("blobs");
    c.samples = LONG_MAX; /* the size overflows: refused before any allocation */
    c.features = LONG_MAX;
    ck_assert_err_(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), "too large");
    ck_assert(is_zeroed_(&d));
}
END_TEST

/* ---- linreg ---- */

/* Eigenvalues of a symmetric p x p matrix (cyclic Jacobi), into ev. */
static void jacobi_(double *a, size_t p, double *ev)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i + 1; j < p; j++) off += a[i * p + j] * a[i * p + j];
        if (off < 1e-30) break;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i + 1; j < p; j++) {
                double aij = a[i * p + j];
                if (fabs(aij) < 1e-300) continue;
                double th = (a[j * p + j] - a[i * p + i]) / (2 * aij);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double cs = 1 / sqrt(t * t + 1), sn = t * cs;
                for (size_t k = 0; k < p; k++) { /* columns i, j */
                    double ki = a[k * p + i], kj = a[k * p + j];
                    a[k * p + i] = cs * ki - sn * kj;
                    a[k * p + j] = sn * ki + cs * kj;
                }
                for (size_t k = 0; k < p; k++) { /* rows i, j */
                    double ik = a[i * p + k], jk = a[j * p + k];
                    a[i * p + k] = cs * ik - sn * jk;
                    a[j * p + k] = sn * ik + cs * jk;
                }
            }
    }
    for (size_t i = 0; i < p; i++) ev[i] = a[i * p + i];
}

/* Condition number of X^T X / n and the largest |column mean|. */
static double cond_(const clgrad_dataset *d, double *maxmean)
{
    size_t p = d->features, n = d->n;
    double *a = calloc(p * p, sizeof *a), *ev = calloc(p, sizeof *ev);
    *maxmean = 0;
    for (size_t j = 0; j < p; j++) {
        double m = 0;
        for (size_t i = 0; i < n; i++) m += d->x[i * p + j];
        *maxmean = fmax(*maxmean, fabs(m / (double)n));
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            for (size_t k = 0; k < p; k++) a[j * p + k] += (double)d->x[i * p + j] * d->x[i * p + k] / (double)n;
    jacobi_(a, p, ev);
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < p; i++) lo = fmin(lo, ev[i]), hi = fmax(hi, ev[i]);
    free(a);
    free(ev);
    return hi / lo;
}

/* The generated set's covariance has exactly the requested condition
** number (whitened; only float32 rounding of x perturbs it: relative error
** ~ cond * 1e-7, so 1e-3 for cond <= 1000), zero mean, and is not
** axis-aligned (standardising does not remove the conditioning).  The train
** split of clgrad_data_load is within 20% (a 4/5 subsample of 2000 points in
** 6-D: eigenvalue fluctuations of a few percent). */
START_TEST(linreg_condition)
{
    static const double conds[] = {1, 10, 100, 1000};
    for (size_t t = 0; t < 4; t++) {
        clgrad_data_section c = cfg_("linreg");
        c.samples = 2000;
        c.features = 6;
        c.condition = conds[t];
        clgrad_dataset d, tr, te;
        ck_assert_int_eq(clgrad_data_generate(&c, 5, &d, err_, sizeof err_), 0);
        double mm, k = cond_(&d, &mm);
        ck_assert_msg(fabs(k / conds[t] - 1) < 1e-3, "cond %g: got %g", conds[t], k);
        ck_assert_msg(mm < 1e-6, "mean %g", mm);
        clgrad_dataset_free(&d);
        ck_assert_int_eq(clgrad_data_load(&c, 5, &tr, &te, err_, sizeof err_), 0);
        ck_assert_uint_eq(tr.n, 1600);
        ck_assert_uint_eq(te.n, 400);
        k = cond_(&tr, &mm);
        ck_assert_msg(fabs(k / conds[t] - 1) < 0.2, "train cond %g: got %g", conds[t], k);
        if (conds[t] >= 100) { /* standardising leaves most of the conditioning in place */
            clgrad_data_section s = c;
            s.standardize = 1;
            clgrad_dataset_free(&tr);
            clgrad_dataset_free(&te);
            ck_assert_int_eq(clgrad_data_load(&s, 5, &tr, &te, err_, sizeof err_), 0);
            k = cond_(&tr, &mm);
            ck_assert_msg(k > conds[t] / 20, "standardised cond %g for %g", k, conds[t]);
        }
        clgrad_dataset_free(&tr);
        clgrad_dataset_free(&te);
    }
}
END_TEST

/* Least-squares fit of y on x: with noise 0 the residual is float rounding
** only (y is computed from the float x, then rounded: relative 1e-7); with
** noise s the residual std is s (n = 4000, d = 5: within 5%). */
static double resid_std_(const clgrad_dataset *d)
{
    size_t p = d->features, n = d->n;
    double *a = calloc(p * (p + 1), sizeof *a); /* normal equations [X^T X | X^T y] */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) {
            for (size_t k = 0; k < p; k++) a[j * (p + 1) + k] += (double)d->x[i * p + j] * d->x[i * p + k];
            a[j * (p + 1) + p] += (double)d->x[i * p + j] * d->y[i];
        }
    for (size_t j = 0; j < p; j++) /* Gauss-Jordan, SPD so no pivoting */
        for (size_t r = 0; r < p; r++) {
            if (r == j) continue;
            double f = a[r * (p + 1) + j] / a[j * (p + 1) + j];
            for (size_t k = 0; k <= p; k++) a[r * (p + 1) + k] -= f * a[j * (p + 1) + k];
        }
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double e = d->y[i];
        for (size_t j = 0; j < p; j++) e -= d->x[i * p + j] * a[j * (p + 1) + p] / a[j * (p + 1) + j];
        ss += e * e;
    }
    free(a);
    return sqrt(ss / (double)n);
}

START_TEST(linreg_noise)
{
    clgrad_data_section c = cfg_("linreg");
    c.samples = 4000;
    c.features = 5;
    c.condition = 30;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 9, &d, err_, sizeof err_), 0);
    double ys = 0;
    for (size_t i = 0; i < d.n; i++) ys += d.y[i] * d.y[i];
    ys = sqrt(ys / (double)d.n);
    ck_assert_msg(resid_std_(&d) < 1e-6 * ys, "noise 0: residual %g (y rms %g)", resid_std_(&d), ys);
    clgrad_dataset_free(&d);
    c.noise = 0.5;
    ck_assert_int_eq(clgrad_data_generate(&c, 9, &d, err_, sizeof err_), 0);
    ck_assert_double_eq_tol(resid_std_(&d), 0.5, 0.025);
    clgrad_dataset_free(&d);
    /* fewer samples than features: no whitening, still valid */
    c.samples = 3;
    c.features = 8;
    ck_assert_int_eq(clgrad_data_generate(&c, 9, &d, err_, sizeof err_), 0);
    ck_assert_uint_eq(d.n, 3);
    clgrad_dataset_free(&d);
    c.samples = 1;
    c.features = 1;
    ck_assert_int_eq(clgrad_data_generate(&c, 9, &d, err_, sizeof err_), 0);
    clgrad_dataset_free(&d);
}
END_TEST

/* ---- 2-D sets ---- */

static size_t count_label_(const clgrad_dataset *d, float v)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) k += d->y[i] == v;
    return k;
}

/* Noise 0: outer moon on the unit circle around (0,0) with y >= 0, inner
** on the unit circle around (1, 0.5) with y <= 0.5; both arcs span x from
** their ends (sklearn's linspace endpoints are hit exactly). */
START_TEST(moons_shape)
{
    clgrad_data_section c = cfg_("moons");
    c.samples = 101;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    ck_assert_uint_eq(count_label_(&d, 0), 50);
    ck_assert_uint_eq(count_label_(&d, 1), 51);
    int ends = 0;
    for (size_t i = 0; i < d.n; i++) {
        double x = d.x[2 * i], y = d.x[2 * i + 1];
        if (d.y[i] == 0) {
            ck_assert_double_eq_tol(hypot(x, y), 1.0, 1e-6);
            ck_assert(y >= -1e-7);
            ends += (x == 1.0f && y == 0.0f) || (x == -1.0f && fabs(y) < 1e-7);
        } else {
            ck_assert_double_eq_tol(hypot(x - 1.0, y - 0.5), 1.0, 1e-6);
            ck_assert(y <= 0.5 + 1e-7);
        }
    }
    ck_assert_int_eq(ends, 2);
    clgrad_dataset_free(&d);
    c.noise = 0.3; /* noise moves points off the arcs by about 0.3 */
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    double dev = 0;
    for (size_t i = 0; i < d.n; i++)
        if (d.y[i] == 0) dev += fabs(hypot(d.x[2 * i], d.x[2 * i + 1]) - 1.0);
    ck_assert(dev / 50 > 0.1 && dev / 50 < 0.5);
    clgrad_dataset_free(&d);
}
END_TEST

START_TEST(circles_shape)
{
    clgrad_data_section c = cfg_("circles");
    c.samples = 9;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    ck_assert_uint_eq(count_label_(&d, 0), 4);
    ck_assert_uint_eq(count_label_(&d, 1), 5);
    for (size_t i = 0; i < d.n; i++)
        ck_assert_double_eq_tol(hypot(d.x[2 * i], d.x[2 * i + 1]), d.y[i] == 0 ? 1.0 : 0.5, 1e-6);
    /* outer angles are 0, pi/2, pi, 3pi/2 (endpoint excluded): (1,0) is there, no duplicate */
    int found = 0;
    for (size_t i = 0; i < d.n; i++) found += d.y[i] == 0 && d.x[2 * i] == 1.0f && d.x[2 * i + 1] == 0.0f;
    ck_assert_int_eq(found, 1);
    clgrad_dataset_free(&d);
}
END_TEST

START_TEST(xor_shape)
{
    clgrad_data_section c = cfg_("xor");
    c.samples = 403;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    size_t q[4] = {0};
    for (size_t i = 0; i < d.n; i++) {
        float x = d.x[2 * i], y = d.x[2 * i + 1];
        ck_assert(fabsf(x) == 1.0f && fabsf(y) == 1.0f);
        ck_assert(d.y[i] == (x * y < 0 ? 1.0f : 0.0f));
        q[(x > 0) + 2 * (y > 0)]++;
    }
    ck_assert(q[0] == 101 && q[1] == 101 && q[2] == 101 && q[3] == 100);
    clgrad_dataset_free(&d);
    c.noise = 0.2; /* small noise: quadrant still gives the label */
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    size_t agree = 0;
    for (size_t i = 0; i < d.n; i++) agree += d.y[i] == (d.x[2 * i] * d.x[2 * i + 1] < 0 ? 1.0f : 0.0f);
    ck_assert_uint_ge(agree, 400);
    clgrad_dataset_free(&d);
}
END_TEST

/* Noise 0: every point of class k is class k's centre, in [-10,10]^d,
** centres distinct; counts n/K (+1 for the first n%K). */
START_TEST(blobs_shape)
{
    clgrad_data_section c = cfg_("blobs");
    c.samples = 50;
    c.classes = 4;
    c.features = 3;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    float centre[4][3];
    int have[4] = {0};
    for (size_t i = 0; i < d.n; i++) {
        size_t k = (size_t)d.y[i];
        for (int j = 0; j < 3; j++) {
            ck_assert(d.x[3 * i + j] >= -10 && d.x[3 * i + j] <= 10);
            if (have[k]) ck_assert(d.x[3 * i + j] == centre[k][j]);
            centre[k][j] = d.x[3 * i + j];
        }
        have[k] = 1;
    }
    ck_assert(centre[0][0] != centre[1][0] && centre[2][1] != centre[3][1]);
    ck_assert_uint_eq(count_label_(&d, 0), 13);
    ck_assert_uint_eq(count_label_(&d, 1), 13);
    ck_assert_uint_eq(count_label_(&d, 2), 12);
    ck_assert_uint_eq(count_label_(&d, 3), 12);
    clgrad_dataset_free(&d);
    c.noise = 1.0; /* spread around the centre: per-coordinate std ~ 1 */
    c.samples = 4000;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    double s2 = 0;
    for (size_t i = 0; i < d.n; i++)
        if (d.y[i] == 0) s2 += pow(d.x[3 * i] - centre[0][0], 2);
    ck_assert_double_eq_tol(s2 / 1000, 1.0, 0.15);
    clgrad_dataset_free(&d);
}
END_TEST

/* Noise 0: arm j's radii are i/(m-1) and its angle atan2(x, y) equals
** 4j + 4r (mod 2 pi): theta = linspace(4j, 4j+4, m) and r = linspace(0, 1, m). */
START_TEST(spirals_shape)
{
    clgrad_data_section c = cfg_("spirals");
    c.samples = 300;
    c.classes = 3;
    c.noise = 0;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
    int rmax = 0;
    for (size_t i = 0; i < d.n; i++) {
        double x = d.x[2 * i], y = d.x[2 * i + 1], r = hypot(x, y);
        double ri = r * 99;
        ck_assert_double_eq_tol(ri, round(ri), 1e-4);
        rmax += fabs(r - 1.0) < 1e-6;
        if (r < 0.05) continue;
        double want = 4.0 * d.y[i] + 4.0 * r, got = atan2(x, y);
        double diff = remainder(got - want, 2 * 3.14159265358979323846);
        ck_assert_msg(fabs(diff) < 1e-5, "point %zu: angle %g, want %g", i, got, want);
    }
    ck_assert_int_eq(rmax, 3);
    clgrad_dataset_free(&d);
}
END_TEST

/* ---- sequence tasks ---- */

START_TEST(adding_markers)
{
    static const long lens[] = {2, 3, 50, 101};
    for (int t = 0; t < 4; t++) {
        clgrad_data_section c = cfg_("adding");
        c.samples = 500;
        c.seq_len = lens[t];
        clgrad_dataset d;
        ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
        size_t T = (size_t)lens[t], h = T / 2;
        double ymean = 0;
        for (size_t i = 0; i < d.n; i++) {
            const float *x = d.x + i * T * 2;
            size_t first = 0, second = 0;
            double sum = 0;
            for (size_t s = 0; s < T; s++) {
                ck_assert(x[2 * s] >= 0.0f && x[2 * s] < 1.0f);
                ck_assert(x[2 * s + 1] == 0.0f || x[2 * s + 1] == 1.0f);
                if (x[2 * s + 1] == 1.0f) {
                    *(s < h ? &first : &second) += 1;
                    sum += x[2 * s];
                }
            }
            ck_assert_msg(first == 1 && second == 1, "T %zu sample %zu: %zu + %zu markers", T, i, first, second);
            ck_assert(d.y[i] == (float)sum);
            ymean += d.y[i];
        }
        ck_assert_double_eq_tol(ymean / (double)d.n, 1.0, 0.06); /* E[y] = 1, std 0.41/sqrt(500) */
        clgrad_dataset_free(&d);
    }
}
END_TEST

START_TEST(temporal_order_classes)
{
    static const long lens[] = {2, 7, 100};
    for (int t = 0; t < 3; t++) {
        clgrad_data_section c = cfg_("temporal_order");
        c.samples = 800;
        c.seq_len = lens[t];
        clgrad_dataset d;
        ck_assert_int_eq(clgrad_data_generate(&c, 3, &d, err_, sizeof err_), 0);
        size_t T = (size_t)lens[t], cls[4] = {0};
        for (size_t i = 0; i < d.n; i++) {
            const float *x = d.x + i * T * 6;
            size_t pos[2], sym[2], nrel = 0;
            for (size_t s = 0; s < T; s++) {
                int ones = 0, which = -1;
                for (int k = 0; k < 6; k++) {
                    ck_assert(x[6 * s + k] == 0.0f || x[6 * s + k] == 1.0f);
                    if (x[6 * s + k] == 1.0f) ones++, which = k;
                }
                ck_assert_int_eq(ones, 1);
                if (which >= 4) {
                    ck_assert_uint_lt(nrel, 2);
                    pos[nrel] = s, sym[nrel] = (size_t)which - 4, nrel++;
                }
            }
            ck_assert_uint_eq(nrel, 2);
            ck_assert(pos[0] >= T / 10 && pos[0] <= 2 * T / 10);
            ck_assert(pos[1] >= 5 * T / 10 && pos[1] <= 6 * T / 10);
            ck_assert(d.y[i] == (float)(2 * sym[0] + sym[1]));
            cls[(size_t)d.y[i]]++;
        }
        for (int k = 0; k < 4; k++) ck_assert_msg(cls[k] > 150, "class %d: %zu of 800", k, cls[k]);
        clgrad_dataset_free(&d);
    }
}
END_TEST

/* ---- CSV ---- */

START_TEST(csv_good)
{
    clgrad_dataset d;
    const char *p = src_("data_good.csv");
    ck_assert_msg(clgrad_data_read_csv(p, "y", "regression", &d, err_, sizeof err_) == 0, "%s", err_);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.features, 3);
    ck_assert_uint_eq(d.seq_len, 1);
    ck_assert_int_eq(d.task, CLGRAD_TASK_REGRESSION);
    static const float x[9] = {1.5f, -2, 300, 4, 5, 0.5f, 7, 0.8f, 9}, y[3] = {0.25f, -1, 2};
    for (int i = 0; i < 9; i++) ck_assert_msg(d.x[i] == x[i], "x[%d] = %g", i, d.x[i]);
    for (int i = 0; i < 3; i++) ck_assert(d.y[i] == y[i]);
    clgrad_dataset_free(&d);
    /* a quoted header name with a space is a target too */
    ck_assert_int_eq(clgrad_data_read_csv(p, "x 2", NULL, &d, err_, sizeof err_), 0);
    ck_assert(d.y[2] == 0.8f && d.x[0] == 1.5f && d.x[1] == 0.25f);
    clgrad_dataset_free(&d);
    /* BOM + CRLF, multiclass with the target in the middle */
    ck_assert_msg(clgrad_data_read_csv(src_("data_crlf_bom.csv"), "label", "multiclass", &d, err_, sizeof err_) == 0,
                  "%s", err_);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.features, 2);
    ck_assert_uint_eq(d.classes, 3);
    ck_assert(d.x[4] == 0.5f && d.x[5] == -0.6f && d.y[0] == 2 && d.y[1] == 0);
    clgrad_dataset_free(&d);
    /* binary; a quoted field with a comma and a line break in the header; no final newline */
    const char bin[] = "\"a,\nb\",y\n1,0\n2,1\n3,1";
    ck_assert_int_eq(clgrad_data_read_csv(write_("b.csv", bin, sizeof bin - 1), "y", "binary", &d, err_, sizeof err_),
                     0);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_int_eq(d.task, CLGRAD_TASK_BINARY);
    ck_assert_uint_eq(d.classes, 2);
    ck_assert(d.x[2] == 3 && d.y[2] == 1);
    clgrad_dataset_free(&d);
    /* lone CR line ends, "" escapes in a header, underflow to 0 is fine */
    const char cr[] = "\"q\"\"t\",y\r1e-50,1\r";
    ck_assert_int_eq(clgrad_data_read_csv(write_("c.csv", cr, sizeof cr - 1), "y", NULL, &d, err_, sizeof err_), 0);
    ck_assert(d.n == 1 && d.x[0] == 0.0f);
    clgrad_dataset_free(&d);
    ck_assert_int_eq(clgrad_data_read_csv(write_("c.csv", cr, sizeof cr - 1), "q\"t", NULL, &d, err_, sizeof err_), 0);
    clgrad_dataset_free(&d);
}
END_TEST

/* Every CSV error kind, with its FILE:LINE and column. */
static const struct {
    const char *text, *target, *task, *want;
} csv_bad_[] = {
    {"a,b,y\n1,2,3\n1,abc,3\n", "y", "", "bad.csv:3: column 'b': 'abc' is not a number"},
    {"a,b,y\n1,2,3\n\n1,0x10,3\n", "y", "", "bad.csv:4: column 'b': '0x10' is not a number"},
    {"a,b,y\n1,1.2.3,3\n", "y", "", "bad.csv:2: column 'b': '1.2.3' is not a number"},
    {"a,b,y\n1,2e,3\n", "y", "", "bad.csv:2: column 'b': '2e' is not a number"},
    {"a,b,y\nnan,2,3\n", "y", "", "bad.csv:2: column 'a': 'nan' is not a finite number"},
    {"a,b,y\n1,2,-Inf\n", "y", "", "bad.csv:2: column 'y': '-Inf' is not a finite number"},
    {"a,b,y\n1,infinity,3\n", "y", "", "column 'b': 'infinity' is not a finite number"},
    {"a,b,y\n1,1e39,3\n", "y", "", "bad.csv:2: column 'b': '1e39' is outside the float32 range"},
    {"a,b,y\n1,2,1e999\n", "y", "", "column 'y': '1e999' is outside the float32 range"},
    {"a,b,y\r\n1,2,3\r\n1,2\r\n", "y", "", "bad.csv:3: 2 fields, but the header has 3 columns"},
    {"a,b,y\n1,2,3,4\n", "y", "", "bad.csv:2: 4 fields, but the header has 3 columns"},
    {"a,b,y\n1,,3\n", "y", "", "bad.csv:2: column 'b': empty value"},
    {"a,b,y\n1,2,3\n", "price", "", "bad.csv:1: no column named 'price' for the target (columns: 'a', 'b', 'y')"},
    {"a,b,y\n1,2,3\n", "", "", "target is not set; name the target column (columns: 'a', 'b', 'y')"},
    {"", "y", "", "bad.csv: the file is empty (expected a header row)"},
    {"\n  \n\r\n", "y", "", "bad.csv: the file is empty"},
    {"a,b,y\n", "y", "", "bad.csv: no data rows after the header"},
    {"a,b,y\n1,\"2,3\n4,5,6\n", "y", "",
     "bad.csv:2: column 'b': unterminated quoted field (the quote opened on line 2)"},
    {"a,b,y\n1,2\"x,3\n", "y", "", "bad.csv:2: column 'b': quote inside an unquoted field"},
    {"a,b,y\n1,\"2\"x,3\n", "y", "", "bad.csv:2: column 'b': unexpected 'x' after the closing quote"},
    {"\"a\nb\",c,y\n1,2,3\n1,x,3\n", "y", "", "bad.csv:4: column 'c': 'x' is not a number"},
    {"a,b,y\n1,2,2\n", "y", "binary", "bad.csv:2: column 'y': label '2' is not 0 or 1 (task binary)"},
    {"a,b,y\n1,2,0.5\n", "y", "binary", "label '0.5' is not 0 or 1"},
    {"a,b,y\n1,2,1.5\n", "y", "multiclass", "bad.csv:2: column 'y': label '1.5' is not an integer class in 0..65535"},
    {"a,b,y\n1,2,-1\n", "y", "multiclass", "label '-1' is not an integer class"},
    {"a,b,y\n1,2,65536\n", "y", "multiclass", "label '65536' is not an integer class"},
    {"a,b,y\n1,2,0\n3,4,0\n", "y", "multiclass", "every label is 0; multiclass needs at least 2 classes"},
    {"a,b,a\n1,2,3\n", "b", "", "bad.csv:1: column 'a' appears twice (columns 1 and 3)"},
    {"y\n1\n", "y", "", "bad.csv:1: only the target column 'y'; there are no feature columns"},
    {"a,y\n1,2\n", "y", "ordinal", "[data] task: unknown 'ordinal'"},
    {"a,,y\n1,x,2\n", "y", "", "bad.csv:2: column 2: 'x' is not a number"},
};

START_TEST(csv_errors)
{
    clgrad_dataset d;
    const char *p = write_("bad.csv", csv_bad_[_i].text, strlen(csv_bad_[_i].text));
    err_[0] = '\0';
    int rc = clgrad_data_read_csv(p, csv_bad_[_i].target, csv_bad_[_i].task, &d, err_, sizeof err_);
    ck_assert_err_(rc, csv_bad_[_i].want);
    if (strncmp(csv_bad_[_i].want, "[data]", 6)) ck_assert_msg(strstr(err_, dir_) == err_, "no path: %s", err_);
    ck_assert(is_zeroed_(&d));
}
END_TEST

START_TEST(csv_files)
{
    clgrad_dataset d;
    ck_assert_err_(clgrad_data_read_csv(src_("data_nan.csv"), "y", NULL, &d, err_, sizeof err_),
                   "data_nan.csv:3: column 'b': 'NaN' is not a finite number");
    ck_assert_err_(clgrad_data_read_csv(tmp_("missing.csv"), "y", NULL, &d, err_, sizeof err_), "cannot open");
    ck_assert_err_(clgrad_data_read_csv(dir_, "y", NULL, &d, err_, sizeof err_), "not a regular file");
    ck_assert_err_(clgrad_data_read_csv("", "y", NULL, &d, err_, sizeof err_), "[data] path is empty");
    ck_assert_err_(clgrad_data_read_csv(write_("nul.csv", "a,y\n1,2\n3\0,4\n", 13), "y", NULL, &d, err_, sizeof err_),
                   "nul.csv:3: column 'a': a NUL byte");
    ck_assert_err_(clgrad_data_read_csv(write_("nul.csv", "a,y\n1,\"2\0\"\n", 11), "y", NULL, &d, err_, sizeof err_),
                   "nul.csv:2: column 'y': a NUL byte");
    ck_assert(is_zeroed_(&d));
    /* a larger file generated here: 2000 rows, round-trips every value */
    FILE *f = fopen(tmp_("big.csv"), "w");
    fprintf(f, "f0,f1,t\n");
    for (int i = 0; i < 2000; i++) fprintf(f, "%d,%.9g,%d\n", i, i * 0.001 - 1, i % 7);
    fclose(f);
    ck_assert_int_eq(clgrad_data_read_csv(tmp_("big.csv"), "t", "multiclass", &d, err_, sizeof err_), 0);
    ck_assert_uint_eq(d.n, 2000);
    ck_assert_uint_eq(d.classes, 7);
    for (int i = 0; i < 2000; i++) {
        ck_assert(d.x[2 * i] == (float)i && d.y[i] == (float)(i % 7));
        ck_assert(d.x[2 * i + 1] == (float)(i * 0.001 - 1));
    }
    clgrad_dataset_free(&d);
}
END_TEST

/* ---- IDX ---- */

static void be32w_(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* An IDX file: magic (type, ndims), dims, then nbytes of payload. */
static const char *idx_(const char *name, unsigned type, unsigned ndims, const uint32_t *dims, const void *payload,
                        size_t nbytes)
{
    unsigned char buf[4096];
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)ndims;
    for (unsigned i = 0; i < ndims; i++) be32w_(buf + 4 + 4 * i, dims[i]);
    size_t h = 4 + 4 * (size_t)ndims;
    ck_assert_uint_le(h + nbytes, sizeof buf);
    if (nbytes) memcpy(buf + h, payload, nbytes);
    return write_(name, buf, h + nbytes);
}

START_TEST(idx_good)
{
    unsigned char px[5 * 3 * 4], lab[5] = {3, 0, 9, 1, 3};
    for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 13);
    px[7] = 255;
    uint32_t di[3] = {5, 3, 4}, dl[1] = {5};
    const char *im = idx_("im", 0x08, 3, di, px, sizeof px), *lb = idx_("lb", 0x08, 1, dl, lab, 5);
    clgrad_dataset d;
    ck_assert_msg(clgrad_data_read_idx(im, lb, &d, err_, sizeof err_) == 0, "%s", err_);
    ck_assert_uint_eq(d.n, 5);
    ck_assert_uint_eq(d.features, 12);
    ck_assert_uint_eq(d.seq_len, 1);
    ck_assert_int_eq(d.task, CLGRAD_TASK_MULTICLASS);
    ck_assert_uint_eq(d.classes, 10);
    for (size_t i = 0; i < sizeof px; i++) {
        ck_assert(d.x[i] == (float)px[i] / 255.0f);
        ck_assert(d.x[i] >= 0.0f && d.x[i] <= 1.0f);
    }
    ck_assert(d.x[7] == 1.0f);
    for (int i = 0; i < 5; i++) ck_assert(d.y[i] == lab[i]);
    clgrad_dataset_free(&d);
    /* float32 images (big-endian) */
    unsigned char fx[2 * 2 * 4];
    float vals[4] = {0.5f, -3.25f, 1e-3f, 100.0f};
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &vals[i], 4);
        be32w_(fx + 4 * i, u);
    }
    uint32_t df[2] = {2, 2}, dl2[1] = {2};
    unsigned char lab2[2] = {1, 0};
    im = idx_("imf", 0x0D, 2, df, fx, sizeof fx);
    lb = idx_("lb2", 0x08, 1, dl2, lab2, 2);
    ck_assert_msg(clgrad_data_read_idx(im, lb, &d, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(d.n == 2 && d.features == 2 && d.classes == 2);
    for (int i = 0; i < 4; i++) ck_assert(d.x[i] == vals[i]);
    clgrad_dataset_free(&d);
}
END_TEST

START_TEST(idx_hostile)
{
    clgrad_dataset d;
    unsigned char pay[100] = {0}, lab[5] = {0, 1, 2, 3, 4};
    uint32_t dl[1] = {5};
    char lb[512], good[512];
    snprintf(lb, sizeof lb, "%s", idx_("lb", 0x08, 1, dl, lab, 5));
    /* 10^12 bytes claimed by a 100-byte file: refused from the header, before
    ** any allocation (an allocation attempt would report "out of memory") */
    uint32_t huge[3] = {1000000, 1000, 1000};
    const char *im = idx_("huge", 0x08, 3, huge, pay, 84);
    ck_assert_err_(clgrad_data_read_idx(im, lb, &d, err_, sizeof err_),
                   "header says 1000000 x 1000 x 1000 x 1 bytes = 1000000000000 bytes of data, but the file has 84");
    ck_assert(strstr(err_, "truncated") && strstr(err_, "huge:"));
    ck_assert(is_zeroed_(&d));
    /* dimensions whose product overflows size_t */
    uint32_t ovf[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    ck_assert_err_(clgrad_data_read_idx(idx_("ovf", 0x0D, 4, ovf, pay, 20), lb, &d, err_, sizeof err_), "overflow");
    /* truncated data, trailing data */
    uint32_t d5[3] = {5, 2, 2};
    ck_assert_err_(clgrad_data_read_idx(idx_("trunc", 0x08, 3, d5, pay, 19), lb, &d, err_, sizeof err_),
                   "20 bytes of data, but the file has 19 bytes after the 16-byte header (truncated");
    ck_assert_err_(clgrad_data_read_idx(idx_("trail", 0x08, 3, d5, pay, 21), lb, &d, err_, sizeof err_),
                   "(trailing data)");
    /* truncated header: 3 dims announced, 1 present; file shorter than the magic */
    ck_assert_err_(clgrad_data_read_idx(write_("th", "\0\0\x08\x03\0\0\0\x05", 8), lb, &d, err_, sizeof err_),
                   "truncated IDX header");
    ck_assert_err_(clgrad_data_read_idx(write_("tiny", "\0\0", 2), lb, &d, err_, sizeof err_), "truncated IDX header");
    ck_assert_err_(clgrad_data_read_idx(write_("empty", "", 0), lb, &d, err_, sizeof err_), "truncated IDX header");
    /* wrong magic: a labels file as images, text, gzip, an unknown type */
    ck_assert_err_(clgrad_data_read_idx(lb, lb, &d, err_, sizeof err_), "not an IDX images file (magic 00 00 08 01");
    ck_assert_err_(clgrad_data_read_idx(write_("txt", "hello world", 11), lb, &d, err_, sizeof err_),
                   "not an IDX images file (magic 68 65 6c 6c");
    ck_assert_err_(clgrad_data_read_idx(write_("gz", "\x1f\x8b\x08\x00\0\0\0\0", 8), lb, &d, err_, sizeof err_),
                   "gzip-compressed");
    ck_assert_err_(clgrad_data_read_idx(idx_("s16", 0x0B, 3, d5, pay, 40), lb, &d, err_, sizeof err_),
                   "not an IDX images file");
    snprintf(good, sizeof good, "%s", idx_("good", 0x08, 3, d5, pay, 20));
    uint32_t d2[2] = {5, 1};
    ck_assert_err_(clgrad_data_read_idx(good, idx_("lb2d", 0x08, 2, d2, lab, 5), &d, err_, sizeof err_),
                   "not an IDX labels file");
    ck_assert_err_(clgrad_data_read_idx(good, good, &d, err_, sizeof err_), "not an IDX labels file");
    /* counts: 5 images, 4 labels */
    uint32_t dl4[1] = {4};
    ck_assert_err_(clgrad_data_read_idx(good, idx_("lb4", 0x08, 1, dl4, lab, 4), &d, err_, sizeof err_),
                   "has 5 images but");
    ck_assert(strstr(err_, "has 4 labels"));
    /* zero samples; labels all 0; no labels file; missing file */
    uint32_t d0[3] = {0, 2, 2}, dl0[1] = {0};
    ck_assert_err_(clgrad_data_read_idx(idx_("zero", 0x08, 3, d0, pay, 0), idx_("lb0", 0x08, 1, dl0, pay, 0), &d,
                                        err_, sizeof err_),
                   "no samples");
    ck_assert_err_(clgrad_data_read_idx(good, idx_("lbz", 0x08, 1, dl, pay, 5), &d, err_, sizeof err_),
                   "every label is 0");
    ck_assert_err_(clgrad_data_read_idx(good, "", &d, err_, sizeof err_), "no labels file given");
    ck_assert_err_(clgrad_data_read_idx(tmp_("nope"), lb, &d, err_, sizeof err_), "cannot open");
    /* float32 NaN pixel */
    unsigned char nanpx[4 * 5] = {0};
    nanpx[8] = 0x7f, nanpx[9] = 0xc0;
    uint32_t d51[2] = {5, 1};
    ck_assert_err_(clgrad_data_read_idx(idx_("nan", 0x0D, 2, d51, nanpx, 20), lb, &d, err_, sizeof err_),
                   "value 2 is not finite");
    ck_assert(is_zeroed_(&d));
}
END_TEST

/* ---- CIFAR-10 binary ---- */

/* A generated batch: nrec records, label of record r = labels[r], pixel i of
** record r = (r * 7 + i * 13) mod 256. */
static unsigned char *cifar_bytes_(size_t nrec, const unsigned char *labels)
{
    unsigned char *b = malloc(nrec * 3073);
    ck_assert_ptr_nonnull(b);
    for (size_t r = 0; r < nrec; r++) {
        b[r * 3073] = labels[r];
        for (size_t i = 0; i < 3072; i++) b[r * 3073 + 1 + i] = (unsigned char)((r * 7 + i * 13) % 256);
    }
    return b;
}

START_TEST(cifar10_good)
{
    unsigned char lab[5] = {3, 0, 9, 1, 3}, lab2[2] = {6, 2};
    unsigned char *b = cifar_bytes_(5, lab), *b2 = cifar_bytes_(2, lab2);
    char one[400], two[400], list[1000];
    snprintf(one, sizeof one, "%s", write_("data_batch_1.bin", b, 5 * 3073));
    snprintf(two, sizeof two, "%s", write_("data_batch_2.bin", b2, 2 * 3073));
    clgrad_dataset d;
    ck_assert_msg(clgrad_data_read_cifar10(one, &d, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(d.n == 5 && d.features == 3072 && d.seq_len == 1 && d.task == CLGRAD_TASK_MULTICLASS && d.classes == 10);
    for (size_t r = 0; r < 5; r++) {
        ck_assert(d.y[r] == lab[r]);
        for (size_t i = 0; i < 3072; i++) {
            float v = d.x[r * 3072 + i];
            ck_assert(v == (float)((r * 7 + i * 13) % 256) / 255.0f && v >= 0.0f && v <= 1.0f);
        }
    }
    clgrad_dataset_free(&d);
    /* a comma list (spaces around items allowed): files concatenated in order; K stays 10 */
    snprintf(list, sizeof list, "%s , %s", two, one);
    ck_assert_msg(clgrad_data_read_cifar10(list, &d, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(d.n == 7 && d.classes == 10 && d.y[0] == 6 && d.y[1] == 2 && d.y[2] == 3 && d.y[6] == 3);
    ck_assert(d.x[2 * 3072 + 5] == (float)((0 * 7 + 5 * 13) % 256) / 255.0f);
    clgrad_dataset_free(&d);
    /* through clgrad_data_load, with the split */
    clgrad_data_section c = cfg_("cifar10");
    snprintf(c.path, sizeof c.path, "%s", list);
    snprintf(c.task, sizeof c.task, "multiclass");
    c.test_fraction = 2.0 / 7;
    clgrad_dataset tr, te;
    ck_assert_msg(clgrad_data_load(&c, 5, &tr, &te, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(tr.n == 5 && te.n == 2 && tr.classes == 10 && te.features == 3072);
    clgrad_dataset_free(&tr);
    clgrad_dataset_free(&te);
    free(b), free(b2);
}
END_TEST

START_TEST(cifar10_hostile)
{
    clgrad_dataset d;
    unsigned char lab[5] = {3, 0, 9, 1, 3};
    unsigned char *b = cifar_bytes_(5, lab);
    char good[512];
    snprintf(good, sizeof good, "%s", write_("good.bin", b, 5 * 3073));
    /* truncated: one byte short; trailing byte */
    ck_assert_err_(clgrad_data_read_cifar10(write_("short.bin", b, 5 * 3073 - 1), &d, err_, sizeof err_),
                   "15364 bytes is not a whole number of CIFAR-10 records (3073 bytes each: 1 label byte + 3072 pixel "
                   "bytes; 4 records and 3072 bytes left over); truncated, or not a CIFAR-10 binary batch");
    ck_assert(strstr(err_, "short.bin:") && is_zeroed_(&d));
    ck_assert_err_(clgrad_data_read_cifar10(write_("long.bin", b, 3074), &d, err_, sizeof err_),
                   "1 records and 1 bytes left over");
    /* CIFAR-100 records (3074 bytes) are named */
    unsigned char *c100 = calloc(2, 3074);
    ck_assert_err_(clgrad_data_read_cifar10(write_("c100.bin", c100, 2 * 3074), &d, err_, sizeof err_), "CIFAR-100");
    free(c100);
    /* empty, gzip, missing, a directory */
    ck_assert_err_(clgrad_data_read_cifar10(write_("empty.bin", "", 0), &d, err_, sizeof err_), "empty file");
    unsigned char gz[3073] = {0x1f, 0x8b, 8};
    ck_assert_err_(clgrad_data_read_cifar10(write_("c.tar.gz", gz, sizeof gz), &d, err_, sizeof err_), "gzip-compressed");
    ck_assert_err_(clgrad_data_read_cifar10(tmp_("nope.bin"), &d, err_, sizeof err_), "cannot open");
    ck_assert_err_(clgrad_data_read_cifar10(dir_, &d, err_, sizeof err_), "not a regular file");
    ck_assert_err_(clgrad_data_read_cifar10("", &d, err_, sizeof err_), "no file given");
    /* a label above 9: file, record and byte offset */
    b[3 * 3073] = 10;
    ck_assert_err_(clgrad_data_read_cifar10(write_("lab.bin", b, 5 * 3073), &d, err_, sizeof err_),
                   "lab.bin: record 3 (byte offset 9219): label 10 is not a CIFAR-10 class (0..9)");
    ck_assert(is_zeroed_(&d));
    /* a list with one bad file fails as a whole, naming the bad file; empty items */
    char list[1200];
    snprintf(list, sizeof list, "%s,%s", good, tmp_("lab.bin"));
    ck_assert_err_(clgrad_data_read_cifar10(list, &d, err_, sizeof err_), "label 10");
    ck_assert(is_zeroed_(&d));
    snprintf(list, sizeof list, "%s,,%s", good, good);
    ck_assert_err_(clgrad_data_read_cifar10(list, &d, err_, sizeof err_), "an empty item");
    snprintf(list, sizeof list, "%s,", good);
    ck_assert_err_(clgrad_data_read_cifar10(list, &d, err_, sizeof err_), "an empty item");
    free(b);
}
END_TEST

/* ---- split, standardise, order, gather, load ---- */

/* A dataset whose y is the row index and x = (i, 2i). */
static void indexed_(clgrad_dataset *d, size_t n)
{
    ck_assert_int_eq(clgrad_dataset_alloc(d, n, 1, 2, "t", err_, sizeof err_), 0);
    for (size_t i = 0; i < n; i++) d->x[2 * i] = (float)i, d->x[2 * i + 1] = (float)(2 * i), d->y[i] = (float)i;
}

START_TEST(split_sizes)
{
    static const struct {
        size_t n;
        double f;
        size_t ntest;
    } v[] = {{1000, 0.2, 200}, {10, 0.7, 7}, {10, 0.25, 3}, {1, 0.5, 0}, {2, 0.01, 1},
             {5, 0.99, 4},     {7, 0.0, 0},  {3, 0.5, 2}};
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        clgrad_dataset all, tr, te;
        indexed_(&all, v[t].n);
        ck_assert_int_eq(clgrad_data_split(&all, v[t].f, 77, &tr, &te, err_, sizeof err_), 0);
        ck_assert_msg(te.n == v[t].ntest, "n %zu f %g: test %zu", v[t].n, v[t].f, te.n);
        ck_assert_uint_eq(tr.n + te.n, v[t].n);
        /* together they hold every row exactly once, rows intact */
        char *seen = calloc(v[t].n, 1);
        for (int s = 0; s < 2; s++) {
            const clgrad_dataset *d = s ? &te : &tr;
            ck_assert(d->features == 2 && d->seq_len == 1);
            for (size_t i = 0; i < d->n; i++) {
                size_t k = (size_t)d->y[i];
                ck_assert(k < v[t].n && !seen[k]);
                seen[k] = 1;
                ck_assert(d->x[2 * i] == (float)k && d->x[2 * i + 1] == (float)(2 * k));
            }
        }
        free(seen);
        if (v[t].f == 0) /* no test set: file order kept */
            for (size_t i = 0; i < tr.n; i++) ck_assert(tr.y[i] == (float)i);
        clgrad_dataset_free(&all);
        clgrad_dataset_free(&tr);
        clgrad_dataset_free(&te);
    }
}
END_TEST

START_TEST(split_deterministic)
{
    clgrad_dataset all, a1, b1, a2, b2, a3, b3;
    indexed_(&all, 500);
    all.task = CLGRAD_TASK_MULTICLASS;
    all.classes = 500;
    ck_assert_int_eq(clgrad_data_split(&all, 0.3, 5, &a1, &b1, err_, sizeof err_), 0);
    ck_assert_int_eq(clgrad_data_split(&all, 0.3, 5, &a2, &b2, err_, sizeof err_), 0);
    ck_assert_int_eq(clgrad_data_split(&all, 0.3, 6, &a3, &b3, err_, sizeof err_), 0);
    ck_assert(a1.task == CLGRAD_TASK_MULTICLASS && b1.classes == 500);
    ck_assert(hash_(&a1) == hash_(&a2) && hash_(&b1) == hash_(&b2));
    ck_assert(hash_(&b1) != hash_(&b3));
    int sorted = 1; /* the test rows are shuffled, not the first 150 */
    for (size_t i = 1; i < b1.n; i++) sorted &= b1.y[i] > b1.y[i - 1];
    ck_assert(!sorted);
    clgrad_dataset tr, te;
    ck_assert_err_(clgrad_data_split(&all, 1.0, 5, &tr, &te, err_, sizeof err_), "[data] test_fraction: 1");
    ck_assert_err_(clgrad_data_split(&all, -0.1, 5, &tr, &te, err_, sizeof err_), "[data] test_fraction");
    ck_assert_err_(clgrad_data_split(&all, NAN, 5, &tr, &te, err_, sizeof err_), "[data] test_fraction");
    ck_assert(is_zeroed_(&tr) && is_zeroed_(&te));
    clgrad_dataset *ds[] = {&all, &a1, &b1, &a2, &b2, &a3, &b3};
    for (int i = 0; i < 7; i++) clgrad_dataset_free(ds[i]);
}
END_TEST

/* Train features get mean 0 and std 1 (float32 rounding: |mean| < 1e-6,
** |std - 1| < 1e-5); test is transformed with the train statistics; a
** constant feature is only centred; sequences pool all time steps. */
START_TEST(standardize)
{
    clgrad_dataset tr, te;
    size_t n = 3000, T = 4, F = 3;
    ck_assert_int_eq(clgrad_dataset_alloc(&tr, n, T, F, "t", err_, sizeof err_), 0);
    ck_assert_int_eq(clgrad_dataset_alloc(&te, 50, T, F, "t", err_, sizeof err_), 0);
    clgrad_drng r;
    clgrad_drng_init(&r, 1, 1, 1);
    for (size_t i = 0; i < n * T; i++) {
        tr.x[i * F] = (float)(100 + 5 * clgrad_drng_normal(&r));
        tr.x[i * F + 1] = (float)(-3 + 1e-3 * clgrad_drng_uniform(&r));
        tr.x[i * F + 2] = 0.1f; /* constant */
    }
    float *orig = malloc(50 * T * F * sizeof *orig);
    for (size_t i = 0; i < 50 * T * F; i++) te.x[i] = orig[i] = (float)(50 * clgrad_drng_uniform(&r));
    double mean[3], scale[3];
    ck_assert_int_eq(clgrad_data_standardize(&tr, &te, mean, scale, err_, sizeof err_), 0);
    for (size_t j = 0; j < 2; j++) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < n * T; i++) s1 += tr.x[i * F + j], s2 += (double)tr.x[i * F + j] * tr.x[i * F + j];
        double m = s1 / (double)(n * T), sd = sqrt(s2 / (double)(n * T) - m * m);
        ck_assert_msg(fabs(m) < 1e-6 && fabs(sd - 1) < 1e-5, "feature %zu: mean %g std %g", j, m, sd);
    }
    ck_assert_double_eq_tol(mean[0], 100, 0.2);
    ck_assert_double_eq_tol(scale[0], 5, 0.1);
    ck_assert_double_eq_tol(scale[1], 1e-3 / sqrt(12.0), 2e-5);
    ck_assert(scale[2] == 1.0);
    for (size_t i = 0; i < n * T; i++) ck_assert(fabsf(tr.x[i * F + 2]) < 1e-8f);
    for (size_t i = 0; i < 50 * T * F; i++)
        ck_assert(te.x[i] == (float)(((double)orig[i] - mean[i % F]) / scale[i % F]));
    free(orig);
    clgrad_dataset_free(&tr);
    clgrad_dataset_free(&te);
}
END_TEST

START_TEST(epoch_order)
{
    size_t n = 257, a[257], b[257], c[257];
    clgrad_data_epoch_order(n, 9, 0, 1, a);
    clgrad_data_epoch_order(n, 9, 0, 1, b);
    clgrad_data_epoch_order(n, 9, 1, 1, c);
    char seen[257] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert(a[i] < n && !seen[a[i]]);
        seen[a[i]] = 1;
    }
    ck_assert(!memcmp(a, b, sizeof a));
    ck_assert(memcmp(a, c, sizeof a) != 0);
    clgrad_data_epoch_order(n, 10, 0, 1, b);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    clgrad_data_epoch_order(n, 9, 3, 0, b);
    for (size_t i = 0; i < n; i++) ck_assert_uint_eq(b[i], i);
    clgrad_data_epoch_order(0, 9, 0, 1, b);
    clgrad_data_epoch_order(1, 9, 0, 1, b);
    ck_assert_uint_eq(b[0], 0);
    /* unbiased: the 6 orders of 3 items over 60000 epochs (chi-square, 5 dof,
    ** P(> 30) < 2e-5) */
    long cnt[6] = {0};
    for (long e = 0; e < 60000; e++) {
        size_t p[3];
        clgrad_data_epoch_order(3, 4, e, 1, p);
        cnt[p[0] * 2 + (p[1] > p[2])]++;
    }
    double chi2 = 0;
    for (int k = 0; k < 6; k++) chi2 += (cnt[k] - 10000.0) * (cnt[k] - 10000.0) / 10000.0;
    ck_assert_msg(chi2 < 30, "chi2 %g", chi2);
}
END_TEST

START_TEST(gather)
{
    clgrad_data_section c = cfg_("adding");
    c.samples = 20;
    c.seq_len = 5;
    clgrad_dataset d;
    ck_assert_int_eq(clgrad_data_generate(&c, 1, &d, err_, sizeof err_), 0);
    size_t idx[4] = {19, 0, 7, 7};
    float x[4 * 5 * 2], y[4];
    clgrad_data_gather(&d, idx, 4, x, y);
    for (int b = 0; b < 4; b++) {
        ck_assert(!memcmp(x + b * 10, d.x + idx[b] * 10, 10 * sizeof(float)));
        ck_assert(y[b] == d.y[idx[b]]);
    }
    clgrad_dataset_free(&d);
}
END_TEST

START_TEST(load_pipeline)
{
    clgrad_dataset tr, te, tr2, te2;
    clgrad_data_section c = cfg_("moons");
    c.samples = 100;
    c.test_fraction = 0.25;
    c.standardize = 1;
    ck_assert_int_eq(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_), 0);
    ck_assert(tr.n == 75 && te.n == 25 && tr.task == CLGRAD_TASK_BINARY && te.classes == 2);
    ck_assert_int_eq(clgrad_data_load(&c, 3, &tr2, &te2, err_, sizeof err_), 0);
    ck_assert(hash_(&tr) == hash_(&tr2) && hash_(&te) == hash_(&te2));
    double m = 0;
    for (size_t i = 0; i < tr.n; i++) m += tr.x[2 * i];
    ck_assert(fabs(m / 75) < 1e-6);
    clgrad_dataset_free(&tr);
    clgrad_dataset_free(&te);
    clgrad_dataset_free(&tr2);
    clgrad_dataset_free(&te2);
    /* csv through the config */
    c = cfg_("csv");
    snprintf(c.path, sizeof c.path, "%s", src_("data_crlf_bom.csv"));
    snprintf(c.target, sizeof c.target, "label");
    snprintf(c.task, sizeof c.task, "multiclass");
    c.test_fraction = 0;
    ck_assert_msg(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(tr.n == 3 && te.n == 0 && te.x == NULL && tr.classes == 3 && tr.y[0] == 2);
    clgrad_dataset_free(&tr);
    clgrad_dataset_free(&te);
    snprintf(c.target, sizeof c.target, "nope");
    ck_assert_err_(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_), "no column named 'nope'");
    ck_assert(is_zeroed_(&tr) && is_zeroed_(&te));
    /* idx through the config */
    unsigned char px[4] = {0, 255, 51, 102}, lab[4] = {0, 1, 1, 0};
    uint32_t di[2] = {4, 1}, dl[1] = {4};
    c = cfg_("idx");
    snprintf(c.path, sizeof c.path, "%s", idx_("im", 0x08, 2, di, px, 4));
    snprintf(c.labels, sizeof c.labels, "%s", idx_("lb", 0x08, 1, dl, lab, 4));
    c.test_fraction = 0.5;
    ck_assert_msg(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_) == 0, "%s", err_);
    ck_assert(tr.n == 2 && te.n == 2 && tr.classes == 2 && tr.features == 1);
    clgrad_dataset_free(&tr);
    clgrad_dataset_free(&te);
    /* errors propagate with nothing allocated */
    c = cfg_("spirals");
    c.classes = 1;
    ck_assert_err_(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_), "[data] classes");
    c = cfg_("moons");
    c.test_fraction = 1.5;
    ck_assert_err_(clgrad_data_load(&c, 3, &tr, &te, err_, sizeof err_), "[data] test_fraction");
    ck_assert(is_zeroed_(&tr) && is_zeroed_(&te));
    ck_assert_int_eq(clgrad_data_load(&c, 3, &tr, &te, NULL, 0), CLGRAD_E_IO); /* NULL err is fine */
}
END_TEST

/* ---- .npy ---- */

static unsigned char *slurp_(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

/* The header numpy writes for np.save(f, np.zeros((2, 3), '<f4')). */
START_TEST(npy_header_bytes)
{
    static const char want_dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    unsigned char want[128];
    memcpy(want, "\x93NUMPY\x01\x00v\x00", 10);
    memcpy(want + 10, want_dict, sizeof want_dict - 1);
    memset(want + 10 + sizeof want_dict - 1, ' ', 128 - 10 - (sizeof want_dict - 1));
    want[127] = '\n';
    float v[6] = {1, 2, 3, 4, 5, -6.5f};
    size_t shape[2] = {2, 3}, n;
    const char *p = tmp_("a.npy");
    ck_assert_int_eq(clgrad_npy_write(p, v, shape, 2, err_, sizeof err_), 0);
    unsigned char *got = slurp_(p, &n);
    ck_assert_uint_eq(n, 128 + 24);
    ck_assert_msg(!memcmp(got, want, 128), "header: %.128s", (const char *)got);
    static const unsigned char le[4] = {0x00, 0x00, 0xd0, 0xc0}; /* -6.5f little-endian */
    ck_assert(!memcmp(got + 128 + 20, le, 4));
    /* Headers from numpy 1.26.4 (np.lib.format._write_array_header, as np.save
    ** writes them): the dict, then spaces, then '\n', `total` bytes in all.
    ** (1,)*15 and (0, 1e6 x5) need 192 bytes only because of numpy's growth
    ** spare; (0, 9999999, ...) lands exactly on 128 and numpy then adds a full
    ** 64 bytes of padding. */
    static const struct {
        int ndim;
        size_t shape[30];
        const char *dict;
        size_t total;
    } np[] = {
        {2, {2, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 128},
        {1, {5}, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 128},
        {0, {0}, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 128},
        {2, {0, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 128},
        {15, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
         "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }", 192},
        {6, {0, 1000000, 1000000, 1000000, 1000000, 1000000},
         "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000, 1000000, 1000000, 1000000, 1000000), }", 192},
        {30, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
         "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
         "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }",
         192},
        {6, {0, 9999999, 999999, 999999, 999999, 999999},
         "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9999999, 999999, 999999, 999999, 999999), }", 192},
    };
    for (size_t t = 0; t < sizeof np / sizeof np[0]; t++) {
        size_t dl = strlen(np[t].dict), cnt = 1;
        for (int i = 0; i < np[t].ndim; i++) cnt *= np[t].shape[i];
        float z[8] = {0};
        ck_assert_int_eq(clgrad_npy_write(p, z, np[t].shape, np[t].ndim, err_, sizeof err_), 0);
        got = slurp_(p, &n);
        ck_assert_msg(n == np[t].total + 4 * cnt, "case %zu: %zu bytes", t, n);
        ck_assert(!memcmp(got, "\x93NUMPY\x01\x00", 8));
        ck_assert(got[8] == (np[t].total - 10) % 256 && got[9] == (np[t].total - 10) / 256);
        ck_assert_msg(!memcmp(got + 10, np[t].dict, dl), "case %zu: %.*s", t, (int)dl, (const char *)got + 10);
        for (size_t i = 10 + dl; i < np[t].total - 1; i++) ck_assert(got[i] == ' ');
        ck_assert(got[np[t].total - 1] == '\n');
    }
}
END_TEST

START_TEST(npy_round_trip)
{
    static const struct {
        int ndim;
        size_t shape[4];
    } v[] = {{0, {0}}, {1, {1}}, {1, {7}}, {2, {2, 3}}, {3, {2, 3, 4}}, {2, {0, 3}}, {4, {3, 1, 5, 2}}, {1, {5000}}};
    clgrad_drng r;
    clgrad_drng_init(&r, 3, 3, 3);
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        size_t cnt = 1;
        for (int i = 0; i < v[t].ndim; i++) cnt *= v[t].shape[i];
        float *a = malloc((cnt ? cnt : 1) * sizeof *a), *b = NULL;
        for (size_t i = 0; i < cnt; i++) a[i] = (float)clgrad_drng_normal(&r);
        if (cnt) a[0] = -0.0f;
        const char *p = tmp_("rt.npy");
        ck_assert_msg(clgrad_npy_write(p, a, v[t].shape, v[t].ndim, err_, sizeof err_) == 0, "%s", err_);
        size_t shape[8];
        int nd = -1;
        ck_assert_msg(clgrad_npy_read(p, &b, shape, &nd, 8, err_, sizeof err_) == 0, "%s", err_);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(nd, v[t].ndim);
        for (int i = 0; i < nd; i++) ck_assert_uint_eq(shape[i], v[t].shape[i]);
        ck_assert(!memcmp(a, b, cnt * sizeof *a));
        free(a);
        free(b);
    }
    /* overwrite is atomic: no temp files remain */
    DIR *dd = opendir(dir_);
    int others = 0;
    for (struct dirent *e; (e = readdir(dd));) others += strstr(e->d_name, ".tmp.") != NULL;
    closedir(dd);
    ck_assert_int_eq(others, 0);
    float one = 1;
    size_t s1 = 1;
    ck_assert_err_(clgrad_npy_write(tmp_("no/such/dir.npy"), &one, &s1, 1, err_, sizeof err_), "cannot write");
    ck_assert_err_(clgrad_npy_write(tmp_("x.npy"), &one, &s1, 33, err_, sizeof err_), "33 dimensions");
    size_t big[2] = {SIZE_MAX / 2, 3};
    ck_assert_err_(clgrad_npy_write(tmp_("x.npy"), &one, big, 2, err_, sizeof err_), "overflows");
}
END_TEST

/* A .npy file from a header dict and nbytes of zero data. */
static const char *npyf_(const char *dict, unsigned char major, size_t nbytes)
{
    static unsigned char buf[1024];
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = ((pre + dl + 1 + 63) / 64) * 64 - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = major, buf[7] = 0;
    buf[8] = (unsigned char)(hl & 255), buf[9] = (unsigned char)(hl >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hl - dl);
    buf[pre + hl - 1] = '\n';
    memset(buf + pre + hl, 0, nbytes);
    return write_("m.npy", buf, pre + hl + nbytes);
}

START_TEST(npy_malformed)
{
    float *d = (float *)1;
    size_t shape[4];
    int nd;
    /* accepted variants: other key order, double quotes, version 2.0, Python 2 longs */
    ck_assert_msg(clgrad_npy_read(npyf_("{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}", 2, 16),
                                  &d, shape, &nd, 4, err_, sizeof err_) == 0,
                  "%s", err_);
    ck_assert(nd == 2 && shape[0] == 2 && shape[1] == 2 && d[3] == 0);
    free(d);
    ck_assert_int_eq(clgrad_npy_read(npyf_("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", 1, 12), &d,
                                     shape, &nd, 4, err_, sizeof err_),
                     0);
    free(d);
    static const struct {
        const char *dict;
        size_t nbytes;
        int maxdim;
        const char *want;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, 4,
         "shape (2, 3) needs 6 x 4 bytes of data but the file has 20"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, 4, "the file has 28"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, 4, "dtype '<f8' is not supported"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12, 4, "dtype '>f4' is not supported"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 4, "fortran_order True is not supported"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }", 4, 2, "3 dimensions, at most 2"},
        {"{'descr': '<f4', 'shape': (3,), }", 12, 4, "missing key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12, 4, "unknown key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12, 4, "repeated key"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", 12, 4, "fortran_order is not True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, x), }", 12, 4, "bad shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 12, 4, "bad shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 12, 4,
         "shape overflows"},
        {"['descr']", 0, 4, "does not start with '{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", 12, 4, "trailing characters"},
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        int rc = clgrad_npy_read(npyf_(bad[t].dict, 1, bad[t].nbytes), &d, shape, &nd, bad[t].maxdim, err_,
                                 sizeof err_);
        ck_assert_msg(rc == CLGRAD_E_IO && strstr(err_, bad[t].want), "case %zu: '%s' lacks '%s'", t, err_, bad[t].want);
        ck_assert(d == NULL);
    }
    ck_assert_err_(clgrad_npy_read(write_("n1", "\x93NUMPX\x01\x00\x10\x00", 10), &d, shape, &nd, 4, err_, sizeof err_),
                   "not a .npy file");
    ck_assert_err_(clgrad_npy_read(write_("n2", "\x93NUM", 4), &d, shape, &nd, 4, err_, sizeof err_),
                   "not a .npy file");
    ck_assert_err_(clgrad_npy_read(write_("n3", "\x93NUMPY\x09\x00\x10\x00", 10), &d, shape, &nd, 4, err_, sizeof err_),
                   "unsupported .npy format version 9.0");
    ck_assert_err_(clgrad_npy_read(write_("n4", "\x93NUMPY\x01\x00\xff\xff{}", 12), &d, shape, &nd, 4, err_,
                                   sizeof err_),
                   "header length 65535 exceeds the file");
    ck_assert_err_(clgrad_npy_read(write_("n5", "\x93NUMPY\x01\x00\x02\x00{}", 12), &d, shape, &nd, 4, err_,
                                   sizeof err_),
                   "not a text line ending in");
    ck_assert_err_(clgrad_npy_read(tmp_("none.npy"), &d, shape, &nd, 4, err_, sizeof err_), "cannot open");
}
END_TEST

/* ---- runner ---- */

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *t = tcase_create("rng");
    tcase_add_test(t, rng_golden);
    tcase_add_test(t, rng_golden_bulk);
    tcase_add_test(t, rng_below);
    tcase_add_test(t, rng_moments);
    tcase_add_test(t, det_functions);
    suite_add_tcase(s, t);

    int nk = (int)(sizeof kinds_ / sizeof kinds_[0]);
    t = tcase_create("generators");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, gen_common, 0, nk);
    tcase_add_loop_test(t, gen_pins, 0, nk);
    tcase_add_test(t, gen_errors);
    tcase_add_test(t, linreg_condition);
    tcase_add_test(t, linreg_noise);
    tcase_add_test(t, moons_shape);
    tcase_add_test(t, circles_shape);
    tcase_add_test(t, xor_shape);
    tcase_add_test(t, blobs_shape);
    tcase_add_test(t, spirals_shape);
    tcase_add_test(t, adding_markers);
    tcase_add_test(t, temporal_order_classes);
    suite_add_tcase(s, t);

    t = tcase_create("files");
    tcase_add_checked_fixture(t, setup_, teardown_);
    tcase_add_test(t, csv_good);
    tcase_add_loop_test(t, csv_errors, 0, (int)(sizeof csv_bad_ / sizeof csv_bad_[0]));
    tcase_add_test(t, csv_files);
    tcase_add_test(t, idx_good);
    tcase_add_test(t, idx_hostile);
    tcase_add_test(t, cifar10_good);
    tcase_add_test(t, cifar10_hostile);
    tcase_add_test(t, npy_header_bytes);
    tcase_add_test(t, npy_round_trip);
    tcase_add_test(t, npy_malformed);
    tcase_add_test(t, load_pipeline);
    suite_add_tcase(s, t);

    t = tcase_create("pipeline");
    tcase_add_test(t, split_sizes);
    tcase_add_test(t, split_deterministic);
    tcase_add_test(t, standardize);
    tcase_add_test(t, epoch_order);
    tcase_add_test(t, gather);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
