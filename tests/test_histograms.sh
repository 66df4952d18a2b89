#!/usr/bin/env bash
# test_histograms.sh CLGRAD: histograms.csv end to end ([metrics]
# histogram_every).  A shortened sigmoid_deep (MLP) and lstm_adding run with
# histograms at every logged step; tests/report/check_histograms.py checks the
# header, that every row's counts sum to the tensor's element count, and that
# the weight histograms of step 1 (the weights of the first forward pass)
# equal the histograms of weights/init/*.npy computed in Python.  Then: which
# steps get histograms (every N-th multiple of log_every, and the last step),
# the default (10), none with 0, clgrad plot draws one heat map per layer and tensor, and
# --force removes an earlier run's histograms.csv.  Skipped (77) without python3.
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not found"; exit 77; }
T=$(mktemp -d /tmp/clgrad-test-hist-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run() { "$CLGRAD" run "$ROOT/experiments/$1.ini" --quiet --out "$T/$2" "${@:3}" >>"$T/log" 2>&1 || { tail -5 "$T/log"; fail "clgrad run $1 $*"; }; }

run sigmoid_deep mlp --set run.steps=12 --set run.log_every=1 --set metrics.histogram_every=1
python3 "$ROOT/tests/report/check_histograms.py" "$T/mlp" mlp || fail "sigmoid_deep: histograms.csv"
# 11 layers: 2 weight + 2 grad rows each, 10 act rows: 54 rows per step
[ "$(($(wc -l <"$T/mlp/histograms.csv") - 1))" = $((12 * 54)) ] || fail "sigmoid_deep: $(wc -l <"$T/mlp/histograms.csv") lines"
grep -q '"histograms": {"file": "histograms.csv", "every": 1' "$T/mlp/manifest.json" || fail "manifest without histograms"

run lstm_adding lstm --set run.steps=3 --set run.log_every=1 --set metrics.histogram_every=1 --set data.seq_len=7
python3 "$ROOT/tests/report/check_histograms.py" "$T/lstm" lstm || fail "lstm_adding: histograms.csv"

# which steps: log_every 2, histogram_every 3, 13 steps: 6, 12 and the last, 13
run sigmoid_deep every --set run.steps=13 --set run.log_every=2 --set metrics.histogram_every=3
got=$(cut -d, -f1 "$T/every/histograms.csv" | tail -n +2 | uniq | tr '\n' ' ')
[ "$got" = "6 12 13 " ] || fail "histogram steps: $got (expected 6 12 13)"

# the default, 10: every 10th logged step (log_every 2: steps 20, 40) and the last (45)
run sigmoid_deep dflt --set run.steps=45 --set run.log_every=2
got=$(cut -d, -f1 "$T/dflt/histograms.csv" | tail -n +2 | uniq | tr '\n' ' ')
[ "$got" = "20 40 45 " ] || fail "default histogram steps: $got (expected 20 40 45)"
grep -q '^histogram_every = 10$' "$T/dflt/config.ini" || fail "config.ini without [metrics] histogram_every = 10"

# off: no file, no manifest entry
run sigmoid_deep off --set run.steps=3 --set metrics.histogram_every=0
[ ! -e "$T/off/histograms.csv" ] || fail "histograms.csv written with histogram_every = 0"
! grep -q '"histograms"' "$T/off/manifest.json" || fail "manifest lists histograms when off"

# the plot: a heat map per layer and tensor (no act map for the output layer)
"$CLGRAD" plot "$T/mlp" --out "$T/plot" >>"$T/log" 2>&1 || fail "clgrad plot"
[ "$(ls "$T/plot" | grep -c '^hist_.*\.svg$')" = 32 ] || fail "plot: $(ls "$T/plot" | grep -c '^hist_') histogram maps, expected 32"
[ -s "$T/plot/hist_linear_0_grad.svg" ] && [ -s "$T/plot/hist_linear_18_act.svg" ] && [ ! -e "$T/plot/hist_linear_20_act.svg" ] \
    || fail "plot: histogram maps missing"
grep -q "hist_linear_0_grad.svg" "$T/plot/report.html" || fail "report.html without the histogram maps"
grep -q "log10 fraction of entries" "$T/plot/hist_linear_0_grad.svg" || fail "heat map without its colour scale"
# --force reuse removes an earlier run's histograms.csv
run sigmoid_deep mlp --set run.steps=2 --set metrics.histogram_every=0 --force
[ ! -e "$T/mlp/histograms.csv" ] || fail "--force kept the earlier histograms.csv"
echo "ok"
