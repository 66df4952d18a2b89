/*
** clgrad/hist.h: log-magnitude histograms of tensors on the device.
**
** Fixed bins of |x|, decided from the float's bit pattern alone (integer
** operations; the same bin on every device and on the host, denormals
** included), one bin per power of two over [2^CLGRAD_HIST_EMIN, 2^CLGRAD_HIST_EMAX):
**   bin 0                      x = +0 or -0
**   bin 1                      0 < |x| < 2^-40 (denormals included)
**   bin 2 + k, k = 0 .. 47     2^(k - 40) <= |x| < 2^(k - 39)
**   bin 50                     2^8 <= |x| < Inf
**   bin 51                     +-Inf and NaN
** CLGRAD_HIST_NBINS = 52.  clgrad_hist_counts counts the elements of every
** segment of a segment table (include/clgrad/reduce.h) per bin, in two
** launches (cl/reduce.cl: hist_chunks, hist_final; launcher in src/ops/reduce.c), writing NBINS uint32 per
** segment into a device buffer at a 32-bit word offset (the metrics block is
** a float buffer: the words are uint bit patterns there, read back with
** memcpy).  Counts are exact integers: the same on every device, run and
** work-group size.  A segment must have fewer than 2^32 elements.
*/
#ifndef CLGRAD_HIST_H
#define CLGRAD_HIST_H

#include "clgrad/core.h"
#include "clgrad/reduce.h"

#include <stddef.h>
#include <stdint.h>

#define CLGRAD_HIST_EMIN (-40)
#define CLGRAD_HIST_EMAX 8
#define CLGRAD_HIST_NBINS (CLGRAD_HIST_EMAX - CLGRAD_HIST_EMIN + 4) /* 52 */

/* The bin of x (the definition above, on the host). */
int clgrad_hist_bin(float x);
/* The CSV column name of bin b: "zero", "lt_2^-40", "2^-40" .. "2^7", "ge_2^8", "nonfinite". */
void clgrad_hist_bin_name(int b, char *out, size_t n);
/* Counts of x[0 .. n) per bin on the host (adds into counts[CLGRAD_HIST_NBINS]). */
void clgrad_hist_host(const float *x, size_t n, uint32_t *counts);

/* uint32 words of scratch clgrad_hist_counts needs for segs (>= 1). */
size_t clgrad_hist_scratch_words(const clgrad_segs *segs);
/* out[out_off + NBINS*s + b] (uint32 words) = count of segment s of x (at
** element offset xoff) in bin b; scratch holds clgrad_hist_scratch_words(segs)
** words.  Enqueued only: nothing waits. */
clgrad_status clgrad_hist_counts(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem scratch,
                                 cl_mem out, size_t out_off);

#endif
