/*
** spike.c: the z-score spike detector against an EMA baseline
** (include/clgrad/spike.h has the definition).  train.c runs one detector per
** metric (loss, grad_norm, each layer's update_norm) on the values read back
** at log steps and writes the spikes to events.csv.
*/
#include "clgrad/spike.h"

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

void clgrad_spike_init(clgrad_spike *s, double alpha, double z_thresh, long warmup)
{
    s->alpha = alpha, s->z_thresh = z_thresh, s->warmup = warmup > 0 ? warmup : 1;
    s->mu = 0, s->var = 0, s->n = 0;
}

int clgrad_spike_push(clgrad_spike *s, double x, double *z)
{
    if (z) *z = NAN;
    if (!isfinite(x)) return 0;
    if (s->n < s->warmup) { /* Welford: running mean and population variance */
        s->n++;
        double d = x - s->mu;
        s->mu += d / (double)s->n;
        double m2 = s->var * (double)(s->n - 1) + d * (x - s->mu);
        s->var = m2 / (double)s->n;
        return 0;
    }
    double sd = sqrt(s->var), zz = (x - s->mu) / sd;
    int spike = s->z_thresh > 0 && zz > s->z_thresh;
    if (z) *z = zz;
    double xv = spike ? s->mu + s->z_thresh * sd : x;
    s->mu = s->alpha * s->mu + (1 - s->alpha) * xv;
    s->var = s->alpha * s->var + (1 - s->alpha) * (xv - s->mu) * (xv - s->mu);
    s->n++;
    return spike;
}
