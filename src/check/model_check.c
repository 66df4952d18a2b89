/*
** model_check.c: the float64 host references, float32 host replicas of the
** fixed device orders and the "model" self-check of src/nn/model.c
** (moved out of the launcher file: the launchers never call them).
*/
#include "core/internal.h"
#include "check/check.h"
#include "clgrad/model.h"
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Float32 host replica of model_act_stats's fixed order (cl/model.cl). */
static float act_tree_(const float *col, size_t H, size_t lo, size_t w)
{
    if (lo >= H) return 0.0f;
    if (w == 1) return col[lo];
    return act_tree_(col, H, lo, w / 2) + act_tree_(col, H, lo + w / 2, w / 2);
}

void clgrad_model_act_stats_replica(clgrad_act kind, size_t rows, size_t cols, const float *h, float *out)
{
    float *col = malloc((cols ? cols : 1) * sizeof *col);
    size_t sat = 0, dead = 0, P = 1;
    if (!col) {
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    for (size_t j = 0; j < cols; j++) {
        float c = 0.0f;
        int nonzero = 0;
        for (size_t b = 0; b < rows; b++) {
            float v = h[b * cols + j];
            c += fabsf(v);
            nonzero |= v != 0.0f;
            if (kind == CLGRAD_ACT_SIGMOID) sat += (v < 0.01f || v > 0.99f);
            else if (kind == CLGRAD_ACT_TANH || kind == CLGRAD_ACT_SOFTSIGN) sat += fabsf(v) > 0.99f;
        }
        col[j] = c;
        dead += !nonzero;
    }
    while (P < cols) P *= 2;
    float n = (float)rows * (float)cols;
    out[0] = act_tree_(col, cols, 0, P) / n;
    out[1] = (float)(uint32_t)sat / n;
    out[2] = (float)(uint32_t)dead / (float)cols;
    free(col);
}
