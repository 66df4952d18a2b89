#!/usr/bin/env bash
# fuzz.sh [SECONDS]: build the libFuzzer harnesses in tests/fuzz/ (config, csv,
# idx, npy, cifar, runread) with clang
# (-fsanitize=fuzzer,address,undefined; no meson needed) and run each for
# SECONDS (default 60) on a copy of its seed corpus tests/fuzz/corpus/<name>/,
# with -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10.  Fails on any crash, leak,
# UB report, timeout or out-of-memory; the reproducer is left in
# build-fuzz/<name>/ (crash-*, leak-*, timeout-*, oom-*): add it to the seed
# corpus as a regression once fixed.  Needs clang and libclang-rt-dev (Debian
# 12: clang-14 + libclang-rt-14-dev).
# Environment: FUZZ_TARGETS="config csv" to run a subset; FUZZ_JOBS (parallel
# targets, default 1); CLGRAD_FUZZ_TMP (scratch dir for the input files).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
CC=${CC_FUZZ:-clang}
OUT=build-fuzz
mkdir -p "$OUT"
TARGETS=${FUZZ_TARGETS:-"config csv idx npy cifar runread"}
CFLAGS=(-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        -Wall -Wextra -Iinclude -Isrc)
# config.c reads its choices' names from the library's name tables (src/ops,
# src/nn), which sit beside the kernel launchers: the config harness links
# the library itself (a meson build: CLGRAD_FUZZ_LIBDIR, default build-test,
# else one is built in build-fuzz/lib); its own config.c, instrumented, comes first.
LIBDIR=${CLGRAD_FUZZ_LIBDIR:-build-test}
case " $TARGETS " in
  *" config "*)
    if [ ! -e "$LIBDIR/libclgrad.so" ]; then
      LIBDIR=$OUT/lib
      [ -f "$LIBDIR/build.ninja" ] || meson setup "$LIBDIR" -Dtests=false >/dev/null
      ninja -C "$LIBDIR" >/dev/null
    fi ;;
esac
LIBDIR=$(cd "$LIBDIR" && pwd)
DATA_SRC=(src/run/dataset.c src/run/data.c src/run/data_file.c src/run/data_gen.c src/run/data_rng.c src/run/npy.c src/util/fsutil.c src/util/csv.c)
declare -A SRC=(
  [config]="tests/fuzz/fuzz_config.c src/run/config.c src/util/sbuf.c src/util/fsutil.c src/util/ini.c -L$LIBDIR -lclgrad -Wl,-rpath,$LIBDIR"
  [csv]="tests/fuzz/fuzz_csv.c ${DATA_SRC[*]}"
  [idx]="tests/fuzz/fuzz_idx.c ${DATA_SRC[*]}"
  [npy]="tests/fuzz/fuzz_npy.c ${DATA_SRC[*]}"
  [cifar]="tests/fuzz/fuzz_cifar.c ${DATA_SRC[*]}"
  [runread]="tests/fuzz/fuzz_runread.c src/run/runread.c src/util/csv.c src/util/fsutil.c src/core/status.c"
)
for t in $TARGETS; do
  # shellcheck disable=SC2086
  "$CC" "${CFLAGS[@]}" ${SRC[$t]} -lm -o "$OUT/fuzz_$t"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
run_one() {
  local t=$1 work="$OUT/$1"
  rm -rf "$work" && mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
  local dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="$PWD/tests/fuzz/$t.dict")
  if (cd "$work" && ../fuzz_"$t" corpus "${dict[@]}" -max_total_time="$SECS" -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 >log 2>&1); then
    echo "fuzz $t: ok, $(grep -E '^stat::number_of_executed_units' "$work/log" | awk '{print $2}') executions in ${SECS}s"
  else
    echo "fuzz $t: FAILED (see $work/log; reproducer in $work/)"
    tail -40 "$work/log"
    return 1
  fi
}
# at most FUZZ_JOBS targets at a time
running=0
for t in $TARGETS; do
  if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then wait -n || status=1; running=$((running - 1)); fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
[ $status = 0 ] && echo "fuzz.sh: all targets passed" || echo "fuzz.sh: FAILED"
exit $status
