/*
** clgrad.h: umbrella header of the clgrad library, a portable OpenCL backend
** for gradient-descent experiments.  Include this one header.
*/
#ifndef CLGRAD_H
#define CLGRAD_H
#include "clgrad/core.h"
#include "clgrad/gemm.h"
#include "clgrad/tune.h"
#include "clgrad/hash.h"
#include "clgrad/selfcheck.h"
#include "clgrad/fingerprint.h"
#include "clgrad/gradstate.h"
#include "clgrad/activation.h"
#include "clgrad/loss.h"
#include "clgrad/reduce.h"
#include "clgrad/hist.h"
#include "clgrad/clip.h"
#include "clgrad/optim.h"
#include "clgrad/init.h"
#include "clgrad/norm.h"
#include "clgrad/model.h"
#include "clgrad/sharpness.h"
#include "clgrad/config.h"
#include "clgrad/data.h"
#include "clgrad/train.h"
#include "clgrad/spike.h"
#include "clgrad/report.h"
#include "clgrad/bench.h"
#endif
