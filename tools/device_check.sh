#!/usr/bin/env bash
# device_check.sh: the same-bits checks on a device other than this machine's
# PoCL, as one script (for a machine lent for a few minutes, e.g. a GPU):
#   1. `clgrad selfcheck` on DEVICE and on REF (fingerprints, every family);
#   2. tools/cross_device.sh DEVICE REF: every shipped experiment, STEPS steps,
#      bit for bit;
#   3. the kernel test programs on DEVICE (reduce, activation, loss, model,
#      clip, optim, init, gemm: float64 references and work-group sizes).
# Logs go to OUT (default ./device-check), one summary on stdout.
# usage: tools/device_check.sh [--build DIR] [--steps N] [--out DIR] DEVICE REF
set -u
cd "$(dirname "$0")/.."
BUILD=build STEPS=100 OUT=device-check
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# = 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
DEV=$1 REF=$2
mkdir -p "$OUT"
export CLGRAD_CACHE_DIR=${CLGRAD_CACHE_DIR:-/tmp/clgrad-device-check-cache}
"$BUILD/clgrad" devices | tee "$OUT/devices.txt"
echo "== cross-device: $DEV vs $REF, $STEPS steps"
tools/cross_device.sh --clgrad "$BUILD/clgrad" --steps "$STEPS" --out "$OUT/cross" "$DEV" "$REF" | tee "$OUT/cross.txt"
echo "== kernel tests on $DEV"
for t in reduce activation loss model clip optim init gemm; do
  s=$(date +%s)
  CLGRAD_TEST_DEVICE=$DEV CLGRAD_SOURCE_ROOT=$PWD CLGRAD_BUILD_ROOT=$PWD/$BUILD CK_TIMEOUT_MULTIPLIER=10 \
    timeout "${CLGRAD_TEST_TIMEOUT:-300}" "$BUILD/tests/test_$t" >"$OUT/test_$t.log" 2>&1
  rc=$?
  echo "test_$t rc=$rc $(( $(date +%s) - s ))s $(grep -E '^[0-9]+%' "$OUT/test_$t.log" | tail -1)"
done
