/* clgrad/loss.h: placeholder, being written. */
#ifndef CLGRAD_LOSS_H
#define CLGRAD_LOSS_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_loss(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
