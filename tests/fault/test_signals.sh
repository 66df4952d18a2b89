#!/usr/bin/env bash
# test_signals.sh CLGRAD_EXE: SIGTERM (and SIGINT twice in a row) during a run
# stop it at the next step boundary: exit 130, summary.json and manifest.json
# say interrupted, metrics.csv has exactly steps_done whole rows, the final
# weights are valid .npy files, and no temporary or reserve file is left in
# the run directory.  (test_cli.sh covers a single SIGINT.)
set -u
CLGRAD=$(readlink -f "$1")
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-signals-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

interrupt() { # interrupt NAME SIGNAL...: start a long run, signal it after a few rows, check the run directory
  local name=$1; shift
  local out=$T/$name
  "$CLGRAD" run "$ROOT/experiments/rnn_adding_clip.ini" --set run.steps=100000 --out "$out" --quiet >"$T/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do [ -s "$out/metrics.csv" ] && [ "$(wc -l < "$out/metrics.csv")" -gt 3 ] && break; sleep 0.1; done
  for sig in "$@"; do kill -s "$sig" $pid; done
  wait $pid; local st=$?
  [ $st = 130 ] || { fail "$name: exit $st, wanted 130"; tail -5 "$T/$name.log"; }
  grep -q '"status": "interrupted"' "$out/summary.json" 2>/dev/null || fail "$name: summary.json does not say interrupted"
  grep -q '"status": "interrupted"' "$out/manifest.json" 2>/dev/null || fail "$name: manifest.json does not say interrupted"
  local rows done_steps
  rows=$(($(wc -l < "$out/metrics.csv") - 1))
  done_steps=$(sed -n 's/.*"steps_done": \([0-9]*\).*/\1/p' "$out/summary.json")
  [ "$rows" = "$done_steps" ] || fail "$name: metrics.csv has $rows rows, summary says $done_steps steps"
  awk -F, 'NR == 1 { n = NF; next } NF != n { exit 1 }' "$out/metrics.csv" || fail "$name: metrics.csv has a partial row"
  for f in "$out"/weights/final/*.npy; do
    [ "$(head -c 6 "$f" | od -An -tx1 | tr -d ' \n')" = 934e554d5059 ] || fail "$name: $f is not a .npy"
  done
  [ -s "$out/weights/final/fc.weight.npy" ] || fail "$name: no final weights"
  local left
  left=$(find "$out" -name '*.tmp.*' -o -name '.clgrad-reserve')
  [ -z "$left" ] || fail "$name: left behind: $left"
}

interrupt term TERM
interrupt int-twice INT INT

[ $fails = 0 ] && echo "test_signals: all checks passed"
exit $((fails > 0))
