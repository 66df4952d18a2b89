#!/usr/bin/env bash
# test.sh: the whole test suite, from a fresh Debian machine.
# Installs missing dependencies, builds with warnings as errors, runs every
# suite (unit: host only; device: on PoCL unless CLGRAD_TEST_DEVICE says
# otherwise), then builds again with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs every suite once more, then fuzzes the file parsers (experiment
# files, CSV, IDX, CIFAR-10, .npy) with libFuzzer for a bounded time
# (CLGRAD_FUZZ_SECONDS per target, default 30).  Build directories:
# build-test, build-test-asan, build-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
run_suite() {
  local dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes "${CLGRAD_TEST_JOBS:-2}"
}
run_suite build-test --werror --buildtype=debugoptimized
if [ "${CLGRAD_TEST_NO_ASAN:-0}" != 1 ]; then
  # the cross-configuration suites (same_bits, oclgrind) ran in full above; under
  # the sanitizers they check the host code on a smaller matrix
  CLGRAD_TEST_QUICK=1 run_suite build-test-asan --werror --buildtype=debug -Db_sanitize=address,undefined
fi
if [ "${CLGRAD_TEST_NO_FUZZ:-0}" != 1 ]; then
  FUZZ_JOBS=2 tools/fuzz.sh "${CLGRAD_FUZZ_SECONDS:-30}"
fi
echo "test.sh: all suites passed"
