#!/usr/bin/env bash
# test_oclgrind.sh (device suite): clgrad on Oclgrind, a second OpenCL
# implementation (a simulator with its own builtin math), exposed through a
# private vendors directory (tools/oclgrind_env.sh; skipped, exit 77, when
# Oclgrind is not installed):
#  1. `clgrad selfcheck --device Oclgrind` passes with Oclgrind's API checks
#     and data-race detection on (its out-of-bounds checks are always on),
#     and Oclgrind reports nothing (any diagnostic fails the test);
#  2. the numerics fingerprint (selfcheck) is the same on Oclgrind and PoCL;
#  3. tiny experiments (MSE, softmax cross-entropy, tanh, ReLU, Adam, LARS,
#     LAMB, clipping, a vanilla RNN, an LSTM and a GRU, a pre-LN residual net,
#     a batch-norm net; the recurrent ones through the one-launch kernels, one
#     of them with several work-groups) on Oclgrind and on PoCL
#     give bit-identical metrics, layers, time steps and weights
#     (`clgrad compare` says BIT-IDENTICAL).  Oclgrind runs with its own math
#     builtins and without correctly rounded float32 division (clgrad divides
#     in double there): the same bits come from clgrad's own math.
#  0. first, a planted bug (an out-of-bounds read and a write-write race in
#     a copy of cl/clip.cl given with --cl-dir) is reported: the checks are on.
# Optional: CLGRAD_OCLGRIND_UNINIT=1 adds Oclgrind's uninitialized-value
# checker to 1. (Oclgrind 21.10's checker crashes on shufflevector masks with
# undefined lanes, which clang emits for the reduction kernels.)
# About a minute on a 2-core machine (Oclgrind interprets every work-item).
# usage: test_oclgrind.sh /path/to/clgrad
set -euo pipefail
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/clgrad-test-oclgrind-XXXXXX)
trap 'rm -rf "$T"' EXIT

rc=0
env_line=$("$ROOT/tools/oclgrind_env.sh" "$T") || rc=$?
if [ $rc = 77 ]; then echo "SKIP: Oclgrind is not installed (Debian package oclgrind)"; exit 77; fi
[ $rc = 0 ] || { echo "FAIL: tools/oclgrind_env.sh exited $rc"; exit 1; }
eval "$env_line"
if ! "$CLGRAD" devices 2>&1 | grep -q "Oclgrind Simulator"; then
  echo "SKIP: the ICD loader does not list Oclgrind (OCL_ICD_VENDORS=$OCL_ICD_VENDORS)"
  exit 77
fi
# a kernel cache of this test's own, beside the shared one
export CLGRAD_CACHE_DIR="${CLGRAD_CACHE_DIR:-$T/cache}-oclgrind"
export CLGRAD_WG=${CLGRAD_WG:-16}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# checked LOG -- command...: run with Oclgrind's checks on, diagnostics in LOG
checked() {
  local log=$1; shift 2
  OCLGRIND_CHECK_API=1 OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=${CLGRAD_OCLGRIND_UNINIT:-0} \
    OCLGRIND_LOG="$log" "$@"
}
diagnostics() { # diagnostics LOG WHAT: fail when Oclgrind wrote anything
  if [ -s "$1" ]; then
    fail "Oclgrind diagnostics during $2:"
    grep -E '^[A-Z]|Kernel:|At line' "$1" | head -20 | sed 's/^/    /'
  fi
}

# 0. the checkers work: a planted bug (clip_value reading far past its buffer
#    and every work-item writing the same element) must be reported
mkdir -p "$T/cl_planted"
sed 's/g\[goff + i\] = clip_value_(x, v);/g[goff] = clip_value_(x + (i == 0 ? g[goff + n + (1ul << 28)] : 0.0f), v);/' \
  "$ROOT/cl/clip.cl" >"$T/cl_planted/clip.cl"
if cmp -s "$ROOT/cl/clip.cl" "$T/cl_planted/clip.cl"; then
  fail "could not plant the bug in cl/clip.cl (clip_value changed?)"
else
  checked "$T/planted.oclgrind" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --device Oclgrind \
    --cl-dir "$T/cl_planted" --set run.steps=1 --set data.samples=96 --set data.batch_size=32 \
    --set clip.kind=value --set clip.value=1 --out "$T/planted" --quiet >"$T/planted.out" 2>&1 || true
  for want in "Invalid read" "Write-write data race"; do
    if grep -q "^$want" "$T/planted.oclgrind" 2>/dev/null; then echo "ok: Oclgrind reports a planted bug: $want"
    else fail "Oclgrind did not report the planted bug ($want): its checks are not on"; fi
  done
fi

# 1. selfcheck, every family, with the checkers
if ! checked "$T/sc.oclgrind" -- "$CLGRAD" selfcheck --device Oclgrind --no-timing >"$T/sc.out" 2>&1; then
  fail "clgrad selfcheck --device Oclgrind"
  grep -E "FAIL|error|OCLGRIND" "$T/sc.out" | head -20
fi
diagnostics "$T/sc.oclgrind" selfcheck

if ! "$CLGRAD" devices 2>&1 | grep -q "Portable Computing Language"; then
  echo "note: PoCL is not installed; the Oclgrind-vs-PoCL comparisons are skipped"
else
  # 2. one fingerprint
  fp_og=$(sed -n 's/^numerics fingerprint: \([0-9a-f]*\).*/\1/p' "$T/sc.out")
  fp_pocl=$("$CLGRAD" selfcheck --device Portable --no-timing 2>/dev/null | sed -n 's/^numerics fingerprint: \([0-9a-f]*\).*/\1/p')
  if [ -n "$fp_og" ] && [ "$fp_og" = "$fp_pocl" ]; then echo "ok: numerics fingerprint $fp_og on Oclgrind and PoCL"
  else fail "numerics fingerprint '$fp_og' on Oclgrind, '$fp_pocl' on PoCL"; fi

  # 3. compare_exp NAME EXP --set ...: Oclgrind (with its checkers) vs PoCL, bit for bit
  compare_exp() {
    local name=$1 exp=$ROOT/experiments/$2.ini; shift 2
    checked "$T/$name.oclgrind" -- "$CLGRAD" run "$exp" "$@" --device Oclgrind --out "$T/$name-og" --quiet \
      >>"$T/log" 2>&1 || { fail "$name on Oclgrind"; tail -5 "$T/log"; return; }
    diagnostics "$T/$name.oclgrind" "$name"
    "$CLGRAD" run "$exp" "$@" --device Portable --out "$T/$name-pocl" --quiet >>"$T/log" 2>&1 ||
      { fail "$name on PoCL"; tail -5 "$T/log"; return; }
    "$CLGRAD" compare --rtol 0 --atol 0 "$T/$name-og" "$T/$name-pocl" >"$T/$name.cmp" 2>&1
    if grep -q "BIT-IDENTICAL to run 1" "$T/$name.cmp"; then echo "ok: $name bit-identical on Oclgrind and PoCL"
    else fail "$name: Oclgrind and PoCL differ"; grep -E "first difference|DIFFER" "$T/$name.cmp" | head -3; fi
  }
  small=(--set run.steps=4 --set run.log_every=1 --set data.samples=96 --set data.batch_size=32)
  compare_exp linreg linreg_lr_below "${small[@]}"
  compare_exp relu_adam linreg_lr_below "${small[@]}" \
    --set model.hidden=16,16 --set model.activation=relu --set model.init=kaiming_normal --set optim.kind=adam \
    --set optim.lr=0.01 --set clip.kind=global_norm --set clip.max_norm=0.5
  compare_exp spirals_tanh optim_spirals_adam "${small[@]}" --set run.eval_every=4 \
    --set model.hidden=16,16 --set model.activation=tanh
  compare_exp deep_sigmoid sigmoid_deep "${small[@]}" --set model.hidden=8x6
  # the norm layers and residual blocks (cl/norm.cl): pre-LN with a final norm; batch norm with its evaluation mode
  compare_exp preln preln_deep "${small[@]}" --set run.eval_every=4 --set model.hidden=8x4
  compare_exp batchnorm sigmoid_deep_batchnorm "${small[@]}" --set run.eval_every=4 --set model.hidden=8x3
  # ZClip's one-work-item kernel (warm-up 2, low threshold: step 3 clips) and the spike detector's events.csv
  zsmall=(--set run.steps=8 --set run.log_every=1 --set data.samples=96 --set data.batch_size=32)
  compare_exp zclip linreg_lr_below "${zsmall[@]}" --set model.hidden=16,16 --set model.activation=relu \
    --set model.init=kaiming_normal --set clip.kind=zscore --set clip.max_norm=inf --set clip.warmup_steps=2 \
    --set clip.z_thresh=0.5 --set metrics.spike_warmup=2 --set metrics.spike_z=0.5
  # LARS and LAMB: per-tensor norms, the one-work-item ratio kernel, the chunk-walking update kernels
  compare_exp lars large_batch_lars "${small[@]}" --set model.hidden=16,16 --set optim.exclude=bias \
    --set optim.trust_clip=0.01 --set clip.kind=global_norm --set clip.max_norm=0.5
  compare_exp lamb large_batch_lamb "${small[@]}" --set model.hidden=16,16
  models="rnn lstm gru"
  [ "${CLGRAD_TEST_QUICK:-0}" = 1 ] && models=lstm # the sanitizer pass of tools/test.sh
  for m in $models; do
    compare_exp "adding_$m" rnn_adding_clip "${small[@]}" --set model.kind=$m --set model.hidden=8 \
      --set data.seq_len=6 --set model.activation=tanh
  done
  # the one-launch recurrent kernels with several work-groups, each walking its rows with
  # barriers (7 rows a group, 5 work-items: partial row blocks and panels), 2 layers of width 17
  CLGRAD_REC_ROWS=7 CLGRAD_REC_WG=5 compare_exp adding_gru_groups rnn_adding_clip "${small[@]}" \
    --set model.kind=gru --set model.hidden=17 --set model.layers=2 --set data.seq_len=4
fi

[ $fails = 0 ] && echo "test_oclgrind: all checks passed"
exit $((fails > 0))
