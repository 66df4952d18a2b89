/*
** clgrad/gradstate.h: the "gradient state" block shared by clipping and the
** optimizers, so that a clip and an update chain on the device without a
** host round trip.
**
** A device buffer of CLGRAD_GS_SIZE floats (one per model), written by the
** norm / clipping kernels and read by the optimizer kernels:
**   [CLGRAD_GS_NORM]      global gradient norm before clipping (the value to log)
**   [CLGRAD_GS_COEF]      multiplier applied to every gradient (1 when not clipped)
**   [CLGRAD_GS_NONFINITE] 1.0 when the norm (or a gradient) is NaN or Inf, else 0.0
**   [CLGRAD_GS_SKIP]      1.0 when the optimizer must leave parameters and state
**                         untouched this step (non-finite policy "skip" or "stop")
** Before a step, the driver (or clgrad_gradstate_reset) sets COEF = 1 and the flags to 0.
*/
#ifndef CLGRAD_GRADSTATE_H
#define CLGRAD_GRADSTATE_H

enum {
    CLGRAD_GS_NORM = 0,
    CLGRAD_GS_COEF = 1,
    CLGRAD_GS_NONFINITE = 2,
    CLGRAD_GS_SKIP = 3,
    CLGRAD_GS_SIZE = 8 /* room for later fields */
};

/* Non-finite norm policy (semantics.md: PyTorch propagates). */
typedef enum {
    CLGRAD_NONFINITE_PROPAGATE = 0, /* multiply anyway, as torch.nn.utils.clip_grad_norm_ does */
    CLGRAD_NONFINITE_SKIP = 1,      /* leave parameters and optimizer state untouched this step */
    CLGRAD_NONFINITE_STOP = 2       /* as skip, and the driver stops the run when it reads the flag */
} clgrad_nonfinite_policy;
#endif
