/*
** ulp.c: the accuracy of clgrad's own math (cl/math.cl, compiled here as C:
** the same source and bits as on every device) over all 2^32 float arguments,
** against glibc's double functions.
**
**   build/ulp [--func NAME] [--step K] [--threads T]
**
** NAME: exp, expm1, log, log1p, tanh or erfc (default: all).  --step K tests
** every K-th bit pattern (a quick subsample); --threads defaults to 2.
** Error of one result y for the exact value r (the double reference):
** |y - r| / ulp, ulp = 2^(e - 23) for the float rounding of r in [2^e, 2^(e+1)),
** 2^-149 in the denormal range.  Prints per function: the max error and its
** argument, how many results are more than 1 ulp off, and NaN / Inf
** mismatches (NaN where the reference is not, or not where it is; Inf where the
** rounded reference is finite or the other way round), which must be 0.
*/
#include "../cl/math.cl"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    float (*f)(float);
    double (*ref)(double);
} fn_;

static const fn_ fns_[] = {
    {"exp", clgm_exp, exp},     {"expm1", clgm_expm1, expm1}, {"log", clgm_log, log},
    {"log1p", clgm_log1p, log1p}, {"tanh", clgm_tanh, tanh},    {"erfc", clgm_erfc, erfc},
};
#define NFNS ((int)(sizeof fns_ / sizeof fns_[0]))

typedef struct {
    const fn_ *fn;
    uint64_t first, step, stride;
    double max_err;
    uint32_t max_arg;
    uint64_t over1, nan_bad, inf_bad, tested;
} job_;

static double ulp_of_(double r)
{
    float rf = (float)r;
    if (isinf(rf)) return ldexp(1.0, 128 - 23);
    int e;
    if (rf == 0.0f || fabsf(rf) < FLT_MIN) return ldexp(1.0, -149);
    frexp((double)rf, &e); /* rf = m 2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 1 - 23);
}

static void *run_(void *arg)
{
    job_ *j = arg;
    for (uint64_t i = j->first; i < (1ull << 32); i += j->stride) {
        uint32_t u = (uint32_t)i;
        float x;
        memcpy(&x, &u, sizeof x);
        float y = j->fn->f(x);
        double r = j->fn->ref((double)x);
        float rf = (float)r;
        j->tested++;
        if (isnan(y) || isnan(r)) {
            if (isnan(y) != isnan(r)) j->nan_bad++;
            continue;
        }
        if (isinf(y) || isinf(rf)) {
            if (y != rf) j->inf_bad++;
            continue;
        }
        double err = fabs((double)y - r) / ulp_of_(r);
        if (err > 1.0) j->over1++;
        if (err > j->max_err) {
            j->max_err = err;
            j->max_arg = u;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    uint64_t step = 1;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--func") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--step") == 0 && i + 1 < argc) step = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--func NAME] [--step K] [--threads T]\n", argv[0]);
            return 2;
        }
    }
    if (step < 1) step = 1;
    if (threads < 1 || threads > 256) threads = 2;
    printf("%-6s %10s %14s %12s %12s %8s %8s %12s\n", "func", "max ulp", "at x", "(bits)", ">1 ulp", "NaN bad",
           "Inf bad", "tested");
    int bad = 0, found = 0;
    for (int f = 0; f < NFNS; f++) {
        if (only && strcmp(only, fns_[f].name) != 0) continue;
        found = 1;
        job_ *jobs = calloc((size_t)threads, sizeof *jobs);
        pthread_t *tid = calloc((size_t)threads, sizeof *tid);
        if (!jobs || !tid) return 1;
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job_){.fn = &fns_[f], .first = (uint64_t)t * step, .step = step, .stride = step * (uint64_t)threads};
            pthread_create(&tid[t], NULL, run_, &jobs[t]);
        }
        job_ all = {0};
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            if (jobs[t].max_err > all.max_err || t == 0) {
                all.max_err = jobs[t].max_err;
                all.max_arg = jobs[t].max_arg;
            }
            all.over1 += jobs[t].over1;
            all.nan_bad += jobs[t].nan_bad;
            all.inf_bad += jobs[t].inf_bad;
            all.tested += jobs[t].tested;
        }
        float mx;
        memcpy(&mx, &all.max_arg, sizeof mx);
        printf("%-6s %10.4f %14.7g %#12x %12llu %8llu %8llu %12llu\n", fns_[f].name, all.max_err, (double)mx,
               all.max_arg, (unsigned long long)all.over1, (unsigned long long)all.nan_bad,
               (unsigned long long)all.inf_bad, (unsigned long long)all.tested);
        fflush(stdout);
        if (all.nan_bad || all.inf_bad) bad = 1;
        free(jobs);
        free(tid);
    }
    if (!found) {
        fprintf(stderr, "unknown function %s\n", only);
        return 2;
    }
    return bad;
}
