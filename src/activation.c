/* activation.c: placeholder, being written. */
#include "internal.h"
clgrad_status clgrad_selfcheck_activation(clgrad_ctx *ctx, clgrad_check_fn report, void *user)
{
    (void)ctx, (void)report, (void)user;
    return CLGRAD_OK;
}
