#!/usr/bin/env bash
# test_oclgrind.sh (device suite): clgrad on Oclgrind, a second OpenCL
# implementation (a simulator with its own builtin math), exposed through a
# private vendors directory (tools/oclgrind_env.sh; skipped, exit 77, when
# Oclgrind is not installed):
#  1. `clgrad selfcheck --device Oclgrind` passes with Oclgrind's API checks
#     and data-race detection on (its out-of-bounds checks are always on),
#     and Oclgrind reports nothing (any diagnostic fails the test);
#  2. tiny experiments on Oclgrind and on PoCL (same CLGRAD_WG): the ones
#     marked exact must give bitwise identical metrics, layers.csv and final
#     weights (`clgrad compare --rtol 0 --atol 0` and cmp), the ones marked
#     pending (they use exp/log/tanh, which device math libraries round
#     differently) within rtol 1e-4 / atol 1e-6, and bitwise too when
#     CLGRAD_OCLGRIND_BITWISE=1.
# Optional: CLGRAD_OCLGRIND_UNINIT=1 adds Oclgrind's uninitialized-value
# checker to 1. (Oclgrind 21.10's checker crashes on shufflevector masks with
# undefined lanes, which clang emits for the reduction kernels.)
# About 15 s on a 2-core machine (Oclgrind interprets every work-item).
# usage: test_oclgrind.sh /path/to/clgrad
set -euo pipefail
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/clgrad-test-oclgrind-XXXXXX)
trap 'rm -rf "$T"' EXIT
# The default flips to 1 once device-independent math and reductions land.
BITWISE=${CLGRAD_OCLGRIND_BITWISE:-0}

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

# 1. selfcheck, every family, with the checkers
if ! checked "$T/sc.oclgrind" -- "$CLGRAD" selfcheck --device Oclgrind --no-timing >"$T/sc.out" 2>&1; then
  fail "clgrad selfcheck --device Oclgrind"
  grep -E "FAIL|error|OCLGRIND" "$T/sc.out" | head -20
fi
diagnostics "$T/sc.oclgrind" selfcheck

# 2. tiny experiments, Oclgrind vs PoCL
if ! "$CLGRAD" devices 2>&1 | grep -q "Portable Computing Language"; then
  echo "note: PoCL is not installed; the Oclgrind-vs-PoCL comparisons are skipped"
else
  # compare_exp NAME exact|pending EXP --set ...
  compare_exp() {
    local name=$1 kind=$2 exp=$ROOT/experiments/$3.ini; shift 3
    checked "$T/$name.oclgrind" -- "$CLGRAD" run "$exp" "$@" --device Oclgrind --out "$T/$name-og" --quiet \
      >>"$T/log" 2>&1 || { fail "$name on Oclgrind"; tail -5 "$T/log"; return; }
    diagnostics "$T/$name.oclgrind" "$name"
    "$CLGRAD" run "$exp" "$@" --device Portable --out "$T/$name-pocl" --quiet >>"$T/log" 2>&1 ||
      { fail "$name on PoCL"; tail -5 "$T/log"; return; }
    local tol=(--rtol 0 --atol 0) same=1
    if [ "$kind" = pending ] && [ "$BITWISE" != 1 ]; then tol=(--rtol 1e-4 --atol 1e-6) same=0; fi
    "$CLGRAD" compare "${tol[@]}" "$T/$name-og" "$T/$name-pocl" >"$T/$name.cmp" ||
      { fail "$name: Oclgrind and PoCL disagree (${tol[*]})"; grep DIFF "$T/$name.cmp" | head -5; }
    [ $same = 1 ] || { echo "note: $name compared within tolerance (CLGRAD_OCLGRIND_BITWISE=1 for bitwise)"; return; }
    for f in layers.csv $(cd "$T/$name-og" && find weights -name '*.npy' | sort); do
      cmp -s "$T/$name-og/$f" "$T/$name-pocl/$f" || fail "$name: $f differs between Oclgrind and PoCL"
    done
  }
  # MSE on a linear model and a ReLU MLP (Adam, global-norm clipping): no
  # transcendental functions, bitwise identical already
  compare_exp linreg exact linreg_lr_below --set run.steps=5 --set data.samples=200
  compare_exp relu_adam exact linreg_lr_below --set run.steps=5 --set data.samples=200 --set data.batch_size=32 \
    --set model.hidden=16,16 --set model.activation=relu --set model.init=kaiming_normal --set optim.kind=adam \
    --set optim.lr=0.01 --set clip.kind=global_norm --set clip.max_norm=0.5
  # softmax cross-entropy (exp, log) and tanh
  compare_exp spirals_tanh pending optim_spirals_adam --set run.steps=5 --set run.log_every=1 --set run.eval_every=5 \
    --set data.samples=200 --set data.batch_size=32 --set model.hidden=16,16 --set model.activation=tanh
fi

[ $fails = 0 ] && echo "test_oclgrind: all checks passed"
exit $((fails > 0))
