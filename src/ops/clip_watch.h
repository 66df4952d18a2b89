/*
** clip_watch.h (private): the gradient-state block computed in the launches
** of the gradient's statistics, with the training step's divergence watch
** (src/ops/clip.c; used by src/nn/step.c), and the pieces of the statistics'
** launcher (src/ops/reduce.c) it builds on.
*/
#ifndef CLGRAD_OPS_CLIP_WATCH_H
#define CLGRAD_OPS_CLIP_WATCH_H

#include "clgrad/clip.h"
#include "clgrad/reduce.h"

/* The divergence watch of one step (clip_diverge_check_, cl/clip_fn.cl): the
** step's loss at loss + loss_off, the record at rec + rec_off (CLGRAD_REC_SIZE),
** limits <= 0 off; the per-tensor records are the statistics' segments. */
typedef struct {
    float step;
    cl_mem loss;
    size_t loss_off;
    float loss_limit, grad_limit;
    cl_mem rec;
    size_t rec_off;
    int stop_here; /* a divergence on record after this step's check halts the run (clip_watch_) */
} clgrad_clip_watch;

/* The statistics of g into stats + stats_off (clgrad_reduce_stats), then the
** gradient-state block at gs + gs_off (clgrad_clip_record_norm's, or
** clgrad_clip_global_norm's without applying COEF when do_clip), then, when
** w is not NULL, the divergence watch.  Where clgrad_reduce_final_by_one:
** two launches (reduce_stats_chunks, then reduce_stats_final_gradstate: one
** work-item merging ~2 records per chunk), else three (the statistics' two,
** clip_gradstate); the same bits. */
clgrad_status clgrad_clip_gradstate_watch(clgrad_ctx *ctx, cl_mem g, size_t goff, const clgrad_segs *segs,
                                          cl_mem stats, size_t stats_off, clgrad_norm_type type, int do_clip,
                                          float max_norm, clgrad_nonfinite_policy policy, cl_mem gs, size_t gs_off,
                                          const clgrad_clip_watch *w);

/* reduce.c: REDUCE_WG of cl/reduce.cl; the table's chunk records (launch 1's
** output); launch 1 alone after the size checks of both (with_global: the
** output holds the global record too); whether launch 2 is one work-item's
** (reduce_stats_final_one, reduce_stats_final_gradstate: the same trees) for
** this table: at most CLGRAD_REDUCE_ONE_SEGS segments and
** CLGRAD_REDUCE_ONE_CHUNKS chunks, or as $CLGRAD_REDUCE_ONE=0 / 1 forces (test
** hooks: tests/test_reduce.c, test_clip.c, test_same_bits.sh). */
#define CLGRAD_REDUCE_ONE_SEGS 64
#define CLGRAD_REDUCE_ONE_CHUNKS 256
size_t clgrad_reduce_wg(const clgrad_ctx *ctx);
cl_mem clgrad_segs_part(const clgrad_segs *segs);
clgrad_status clgrad_reduce_stats_chunks(clgrad_ctx *ctx, cl_mem x, size_t xoff, const clgrad_segs *segs, cl_mem out,
                                         size_t out_off, int with_global);
int clgrad_reduce_final_by_one(const clgrad_segs *segs);

#endif
