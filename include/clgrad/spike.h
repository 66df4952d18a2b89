/*
** clgrad/spike.h: the spike detector of `clgrad run` (events.csv), host-only.
**
** A z-score test of each new value against an exponential-moving-average
** baseline (mean mu, variance var), in double, one value at a time:
**   warm-up: the first `warmup` finite values only build the baseline: mu and
**     var are their running mean and population variance (Welford's update);
**     no test.
**   after:   sigma = sqrt(var); z = (x - mu) / sigma (IEEE: sigma = 0 gives
**     +Inf for x > mu, NaN for x = mu); a spike iff z > z_thresh (upward only;
**     NaN is no spike).  Then the baseline takes the value, winsorised at the
**     threshold: x' = spike ? mu + z_thresh*sigma : x;
**     mu <- alpha mu + (1 - alpha) x';  var <- alpha var + (1 - alpha) (x' - mu)^2
**     (the new mu: ZClip's update).  A spike thus moves the baseline by at most
**     what a value at the threshold would: one outlier cannot inflate sigma and
**     hide the next one, while a lasting shift of the level is still absorbed.
**   A non-finite x is neither tested nor taken (the divergence watch reports
**   it); z_thresh <= 0 disables the test (nothing is a spike).
** The same inputs in the same order give the same bits on every machine
** (IEEE double, no contraction: the build uses -ffp-contract=off).
*/
#ifndef CLGRAD_SPIKE_H
#define CLGRAD_SPIKE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_spike {
    double alpha, z_thresh; /* settings ([metrics] spike_alpha, spike_z) */
    long warmup;            /* [metrics] spike_warmup (>= 1) */
    double mu, var;         /* the baseline */
    long n;                 /* finite values taken so far */
} clgrad_spike;

/* A fresh detector. */
void clgrad_spike_init(clgrad_spike *s, double alpha, double z_thresh, long warmup);
/* Test x against the baseline, then update it.  Returns 1 for a spike; *z
** (may be NULL) gets the z-score (NaN in warm-up and for a non-finite x). */
int clgrad_spike_push(clgrad_spike *s, double x, double *z);

#ifdef __cplusplus
}
#endif
#endif
