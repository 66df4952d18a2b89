/* clgrad/reduce.h: placeholder, being written. */
#ifndef CLGRAD_REDUCE_H
#define CLGRAD_REDUCE_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_reduce(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
