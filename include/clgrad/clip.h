/* clgrad/clip.h: placeholder, being written. */
#ifndef CLGRAD_CLIP_H
#define CLGRAD_CLIP_H
#include "clgrad/core.h"
clgrad_status clgrad_selfcheck_clip(clgrad_ctx *ctx, clgrad_check_fn report, void *user);
#endif
