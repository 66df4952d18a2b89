/* clgrad/activation.h: placeholder, being written. */
#ifndef CLGRAD_ACTIVATION_H
#define CLGRAD_ACTIVATION_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_activation(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
