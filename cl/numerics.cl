/*
** numerics.cl: probes of the arithmetic the same-bits guarantee rests on
** (clgrad selfcheck, family "numerics"; src/check/fingerprint.c).
**
** numerics_probe: for each i, out[4i .. 4i+3] =
**   a*b + c    with FP_CONTRACT OFF (common.cl): two roundings.  A compiler
**              that contracts anyway gives fma's single rounding instead,
**              and the host (built with -ffp-contract=off) sees it.
**   fma(a,b,c) correctly rounded on every conforming device
**   a / b      clg_div (common.cl): correctly rounded, natively or through double
**   sqrt(|a|)  clg_sqrt likewise
*/
__kernel void numerics_probe(__global const float *a, __global const float *b, __global const float *c,
                             __global float *out, const ulong n)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    const float x = a[i], y = b[i], z = c[i];
    out[4 * i + 0] = x * y + z;
    out[4 * i + 1] = fma(x, y, z);
    out[4 * i + 2] = clg_div(x, y);
    out[4 * i + 3] = clg_sqrt(fabs(x));
}
