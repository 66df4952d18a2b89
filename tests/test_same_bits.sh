#!/usr/bin/env bash
# test_same_bits.sh (device suite): the "same bits" guarantee (README,
# Reproducibility) checked between the configurations a machine without a GPU
# has.  Every shipped experiment, shortened to STEPS steps with every step
# logged and log-magnitude histograms at every logged step, must give
# bit-identical metrics.csv, layers.csv, timesteps.csv (time columns aside),
# histograms.csv, status and weights/ (init and final .npy, byte for byte) in
#   - the statistics' totals and the gradient state by one work-item or not (CLGRAD_REDUCE_ONE=0);
#   - work-group sizes 16 (the reference), 64 and 256 (CLGRAD_WG) (the LARS/LAMB cases:
#     large_batch_lars, large_batch_lamb, whose per-tensor norms are fixed-order reductions);
#   - PoCL's pthread and basic devices (when POCL_DEVICES gives both);
#   - every own GEMM variant (CLGRAD_GEMM_VARIANT), on the experiments whose
#     models use the GEMM in all its shapes (MLP, RNN, LSTM, GRU; the
#     residual + layer norm and the batch norm MLP: preln_deep,
#     sigmoid_deep_batchnorm, which the quick matrix keeps too);
# the sharpness estimate (eos_tanh_gd, which logs it; and the same under Adam,
# where the preconditioned sharpness is measured too) likewise, its columns
# included in the comparison;
# and `clgrad selfcheck` must print the same numerics fingerprint for every
# configuration (GEMM tuning parameter sets, CLGRAD_TUNE, among them), and with division and sqrt through double (CLGRAD_DIVSQRT_FP64=1,
# the path of devices without correctly rounded float32 division).  `clgrad compare --json` decides bit identity; the text
# report of each failing pair is shown.
# usage: test_same_bits.sh /path/to/clgrad   (CLGRAD_SAME_BITS_STEPS, default 20;
# CLGRAD_TEST_QUICK=1: 8 experiments (LARS and LAMB among them), 5 steps, GEMM variants on 2)
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
STEPS=${CLGRAD_SAME_BITS_STEPS:-20}
T=$(mktemp -d /tmp/clgrad-test-same-bits-XXXXXX)
trap 'rm -rf "$T"' EXIT
export POCL_DEVICES="pthread basic"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME OUT [env assignments...]: the shortened experiment on the pthread device unless DEV is set
run() {
  local exp=$1 out=$2; shift 2
  # shellcheck disable=SC2086 # EXTRA: more --set options, word-split on purpose
  env "$@" "$CLGRAD" run "$ROOT/experiments/$exp.ini" --device "${DEV:-pthread}" --set run.steps="$STEPS" \
    --set run.log_every=1 --set metrics.histogram_every=1 ${EXTRA:-} --quiet --out "$out" >>"$T/log" 2>&1 || { fail "clgrad run $exp ($*)"; tail -5 "$T/log"; }
}

# same REF OTHER WHAT: bit-identical (and the same events.csv, byte for byte) or a failure naming the first difference
same() {
  if [ ! -s "$1/histograms.csv" ] || ! cmp -s "$1/histograms.csv" "$2/histograms.csv"; then
    fail "$3: histograms.csv missing or not byte-identical"
  elif [ -f "$1/events.csv" ] && ! cmp -s "$1/events.csv" "$2/events.csv"; then
    fail "$3: events.csv differs"
    diff "$1/events.csv" "$2/events.csv" | head -4
  elif "$CLGRAD" compare --json "$1" "$2" 2>>"$T/log" | grep -q '^  "bit_identical": true'; then
    echo "ok: $3"
  else
    fail "$3: not bit-identical"
    "$CLGRAD" compare --rtol 0 --atol 0 "$1" "$2" 2>&1 | grep -E "first difference|DIFFER|present" | head -3
  fi
}

exps=$(cd "$ROOT/experiments" && grep -L "^\[sweep\]" *.ini | sed 's/\.ini$//') # sweep files (a [sweep] section) are not runs
gemm_exps="relu30_he tanh_deep_xavier optim_spirals_adam rnn_adding_clip lstm_adding gru_adding preln_deep sigmoid_deep_batchnorm"
if [ "${CLGRAD_TEST_QUICK:-0}" = 1 ]; then # the sanitizer pass of tools/test.sh: a smaller matrix
  STEPS=${CLGRAD_SAME_BITS_STEPS:-5}
  exps="linreg_lr_below relu30_he tanh_deep_xavier rnn_adding_clip lstm_adding gru_adding large_batch_lars large_batch_lamb eos_tanh_gd preln_deep sigmoid_deep_batchnorm"
  gemm_exps="relu30_he lstm_adding preln_deep"
fi

ndev=$("$CLGRAD" devices 2>/dev/null | grep -c -i -E "^[0-9]+:[0-9]+ +Portable")
for e in $exps; do
  run "$e" "$T/$e.wg16" CLGRAD_WG=16
  for wg in 64 256; do
    run "$e" "$T/$e.wg$wg" CLGRAD_WG=$wg
    same "$T/$e.wg16" "$T/$e.wg$wg" "$e: work-group 16 vs $wg"
  done
  if [ "$ndev" -ge 2 ]; then
    DEV=basic run "$e" "$T/$e.basic" CLGRAD_WG=16
    same "$T/$e.wg16" "$T/$e.basic" "$e: PoCL pthread vs basic"
  fi
done
[ "$ndev" -ge 2 ] || echo "note: PoCL gives $ndev device(s) with POCL_DEVICES='pthread basic'; pthread vs basic skipped"

# The gradient state and the divergence watch in the statistics' second launch (the default up to 64
# tensors) and after it (CLGRAD_REDUCE_ONE=0): a diverging run, a clipped one, a plain one
for e in rnn_adding_noclip rnn_adding_clip relu30_he; do
  [ -d "$T/$e.wg16" ] || continue
  run "$e" "$T/$e.unfused" CLGRAD_WG=16 CLGRAD_REDUCE_ONE=0
  same "$T/$e.wg16" "$T/$e.unfused" "$e: gradient state in the statistics' launch vs after it"
done

# LARS and LAMB beyond their shipped files: the bias exclusion, trust clipping and the fused global-norm
# clip (its COEF reaches the optimizer through the gradient state)
for k in lars lamb; do
  x="--set optim.kind=$k --set optim.exclude=bias --set optim.trust_clip=0.01 --set clip.kind=global_norm --set clip.max_norm=0.5"
  EXTRA=$x run large_batch_lars "$T/x$k.wg16" CLGRAD_WG=16
  EXTRA=$x run large_batch_lars "$T/x$k.wg256" CLGRAD_WG=256
  same "$T/x$k.wg16" "$T/x$k.wg256" "$k, excluded biases, trust_clip, global_norm: work-group 16 vs 256"
  if [ "$ndev" -ge 2 ]; then
    EXTRA=$x DEV=basic run large_batch_lars "$T/x$k.basic" CLGRAD_WG=64
    same "$T/x$k.wg16" "$T/x$k.basic" "$k, excluded biases, trust_clip, global_norm: PoCL pthread vs basic"
  fi
done

# The sharpness under Adam: plain and preconditioned (precond_sharpness), measured every step.
adam="--set optim.kind=adam --set optim.lr=0.003 --set metrics.sharpness_every=1"
EXTRA=$adam run eos_tanh_gd "$T/eos_adam.wg16" CLGRAD_WG=16
head -1 "$T/eos_adam.wg16/metrics.csv" | grep -q ',precond_sharpness,precond_limit$' ||
  fail "eos_tanh_gd under adam: no precond_sharpness column"
for wg in 64 256; do
  EXTRA=$adam run eos_tanh_gd "$T/eos_adam.wg$wg" CLGRAD_WG=$wg
  same "$T/eos_adam.wg16" "$T/eos_adam.wg$wg" "eos_tanh_gd under adam (sharpness, precond_sharpness): work-group 16 vs $wg"
done
if [ "$ndev" -ge 2 ]; then
  EXTRA=$adam DEV=basic run eos_tanh_gd "$T/eos_adam.basic" CLGRAD_WG=16
  same "$T/eos_adam.wg16" "$T/eos_adam.basic" "eos_tanh_gd under adam (sharpness, precond_sharpness): PoCL pthread vs basic"
fi

for e in $gemm_exps; do
  for v in tiled simple vec packed direct; do
    run "$e" "$T/$e.$v" CLGRAD_WG=16 CLGRAD_GEMM_VARIANT=$v
    same "$T/$e.wg16" "$T/$e.$v" "$e: GEMM auto vs $v"
  done
done

# ZClip ([clip] kind = zscore, one work-item on the device): warm-up 5 and z_thresh 1 so that its z-score path
# clips within the steps (relu30_he: 4 of 20 steps), without max_grad_norm; work-group sizes, devices, and
# division and sqrt through double (CLGRAD_DIVSQRT_FP64=1).
export EXTRA="--set clip.kind=zscore --set clip.max_norm=inf --set clip.warmup_steps=5 --set clip.z_thresh=1"
ZSTEPS=$STEPS; [ "$ZSTEPS" -ge 20 ] || ZSTEPS=20 # the quick pass's 5 steps would end in the warm-up
STEPS=$ZSTEPS run relu30_he "$T/zclip.wg16" CLGRAD_WG=16
awk -F, 'NR > 1 && $7 < 1 { n++ } END { exit n > 0 ? 0 : 1 }' "$T/zclip.wg16/metrics.csv" ||
  fail "zscore: no step clipped (clip_coef < 1) in relu30_he: the z-score path went untested"
for cfg in CLGRAD_WG=64 CLGRAD_WG=256 CLGRAD_DIVSQRT_FP64=1; do
  STEPS=$ZSTEPS run relu30_he "$T/zclip.$cfg" CLGRAD_WG=16 "$cfg"
  same "$T/zclip.wg16" "$T/zclip.$cfg" "zscore clip (relu30_he): work-group 16 vs $cfg"
done
if [ "$ndev" -ge 2 ]; then
  STEPS=$ZSTEPS DEV=basic run relu30_he "$T/zclip.basic" CLGRAD_WG=16
  same "$T/zclip.wg16" "$T/zclip.basic" "zscore clip (relu30_he): PoCL pthread vs basic"
fi
unset EXTRA

# One fingerprint for every configuration above.
fp() { env "$@" "$CLGRAD" selfcheck --no-timing --device "${DEV:-pthread}" 2>>"$T/log" | sed -n 's/^numerics fingerprint: \([0-9a-f]*\).*/\1/p'; }
ref=$(fp CLGRAD_WG=16)
[ -n "$ref" ] || fail "selfcheck printed no numerics fingerprint"
for cfg in CLGRAD_WG=64 CLGRAD_WG=256 CLGRAD_GEMM_VARIANT=tiled CLGRAD_GEMM_VARIANT=simple CLGRAD_GEMM_VARIANT=vec CLGRAD_GEMM_VARIANT=packed CLGRAD_GEMM_VARIANT=direct \
           CLGRAD_DIVSQRT_FP64=1 CLGRAD_TUNE=off CLGRAD_TUNE=cpu_mr=12,cpu_nw=2,cpu_direct_max=0,cpu_pack_a_min=0; do
  got=$(fp "$cfg")
  [ "$got" = "$ref" ] && echo "ok: fingerprint $ref with $cfg" || fail "fingerprint $got with $cfg, $ref by default"
done
if [ "$ndev" -ge 2 ]; then
  got=$(DEV=basic fp CLGRAD_WG=16)
  [ "$got" = "$ref" ] && echo "ok: fingerprint $ref on basic" || fail "fingerprint $got on basic, $ref on pthread"
fi

[ $fails = 0 ] && echo "test_same_bits: all checks passed"
exit $((fails > 0))
