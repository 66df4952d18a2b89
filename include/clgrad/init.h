/* clgrad/init.h: placeholder, being written. */
#ifndef CLGRAD_INIT_H
#define CLGRAD_INIT_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_init(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
