/* clgrad/optim.h: placeholder, being written. */
#ifndef CLGRAD_OPTIM_H
#define CLGRAD_OPTIM_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_optim(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
