#!/usr/bin/env bash
# test_report_wellformed.sh CLGRAD: every SVG and report.html that `clgrad plot`
# writes is well-formed for hostile runs: real runs with
# intermittently skipped non-finite steps (gaps with single points between
# them: once a <circle> written inside an open d="..." attribute), a diverged
# run (both with the sharpness logged), Adam's preconditioned sharpness, a run whose every gradient is exactly 0, an LSTM whose run directory and
# run.name hold < & " ' characters, a run whose name and directory hold raw
# bytes that are not UTF-8 (0xff 0xfe: U+FFFD in the files); plotted one by one, all together, with
# --smooth, and a sweep.  Each file must parse as XML (python3 xml.etree) and
# report.html also as HTML with balanced tags (tests/report/wellformed.py).
# Skipped (77) without python3.
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not found"; exit 77; }
T=$(mktemp -d /tmp/clgrad-test-wf-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run_() { "$CLGRAD" run "$@" --quiet >"$T/log" 2>&1 || { cat "$T/log"; fail "clgrad run $*"; }; }
plot_() { "$CLGRAD" plot "$@" >"$T/log" 2>&1 || { cat "$T/log"; fail "clgrad plot $*"; }; }

# 1. one data row in 7 is huge: the batches holding one overflow and are skipped (nonfinite = skip)
{ echo 'a,b,y'; for i in $(seq 1 30); do
    if [ $((i % 7)) = 0 ]; then echo "3e38,-3e38,1"; else echo "0.$i,0.$((i * 3 % 10)),0.5"; fi
  done; } >"$T/mixed.csv"
cat >"$T/mixed.ini" <<INI
[run]
steps = 40
[data]
kind = csv
path = mixed.csv
target = y
test_fraction = 0
batch_size = 4
[model]
hidden = 4
[clip]
nonfinite = skip
[diverge]
action = continue
[metrics]
sharpness_every = 2
INI
run_ "$T/mixed.ini" --out "$T/skip"
g=$(awk -F, 'NR > 1 { print $6 }' "$T/skip/metrics.csv")
echo "$g" | grep -qx inf || fail "no skipped non-finite step in $T/skip/metrics.csv"
[ "$(echo "$g" | grep -cvx inf)" -ge 5 ] || fail "too few finite steps between the skipped ones"
# 2. diverged (with the sharpness logged: NaN after the divergence)
run_ "$ROOT/experiments/rnn_adding_noclip.ini" --set run.steps=20 --set run.log_every=1 \
    --set metrics.sharpness_every=1 --out "$T/diverged"
grep -q '"diverged"' "$T/diverged/summary.json" || fail "rnn_adding_noclip did not diverge"
head -1 "$T/diverged/metrics.csv" | grep -q ',sharpness,sharpness_limit$' ||
    fail "no sharpness columns in $T/diverged/metrics.csv"
# 3. every gradient exactly 0 (zero weights, no bias: ReLU outputs 0, nothing flows back)
run_ "$ROOT/experiments/relu30_he.ini" --set run.steps=10 --set model.hidden=8,8 --set model.init=zeros \
    --set model.bias=false --out "$T/zero"
[ "$(awk -F, 'NR > 1 && $6 != 0' "$T/zero/metrics.csv" | wc -l)" = 0 ] || fail "gradients not all zero"
# 4. an LSTM (cell_grad_norm too) in a directory and under a name with < & " ' characters
odd="$T/odd <&\"'> run"
run_ "$ROOT/experiments/lstm_adding.ini" --set run.steps=6 --set 'run.name=x<&"y' --out "$odd"
# 5. raw bytes that are not UTF-8 (0xff 0xfe) in the run's name and its directory
raw="$T/raw$(printf '\377')dir"
run_ "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=5 --set "run.name=bad$(printf '\377\376')name" --out "$raw"
# 6. the sharpness and the preconditioned sharpness (adam) at a large lr
run_ "$ROOT/experiments/eos_tanh_gd.ini" --set run.steps=30 --set optim.kind=adam --set optim.lr=0.5 \
    --set diverge.action=continue --out "$T/adam"
head -1 "$T/adam/metrics.csv" | grep -q ',precond_sharpness,precond_limit$' || fail "no precond_sharpness column"

plot_ "$T/skip" --out "$T/p-skip"
plot_ "$T/adam" --out "$T/p-adam"
plot_ "$T/diverged" --out "$T/p-diverged"
plot_ "$T/zero" --out "$T/p-zero"
plot_ "$odd" --out "$T/p-odd"
plot_ "$raw" --out "$T/p-raw"
plot_ "$T/skip" "$T/diverged" "$T/zero" "$odd" "$raw" "$T/adam" --out "$T/p-all" --smooth 0.9
"$CLGRAD" sweep "$T/mixed.ini" --grid optim.lr=0.01,0.1 --grid 'clip.nonfinite=skip,propagate' --out "$T/sw" \
    --quiet >"$T/log" 2>&1 || { cat "$T/log"; fail "sweep"; }
plot_ --sweep "$T/sw" --x optim.lr --y clip.nonfinite --out "$T/p-sweep"

grep -q 'class="zero"' "$T/p-zero/grad_norm.svg" || fail "all-zero run: no underflow marks in grad_norm.svg"
for f in "$T/p-diverged/sharpness.svg" "$T/p-adam/precond_sharpness.svg" "$T/p-skip/sharpness.svg" \
    "$T/p-all/sharpness.svg" "$T/p-all/precond_sharpness.svg"; do
    [ -s "$f" ] || fail "$f was not written"
done
[ -s "$T/p-odd/cell_timesteps.svg" ] && [ -s "$T/p-odd/timesteps_heatmap.svg" ] || fail "LSTM figures missing"
n=0
for d in p-skip p-diverged p-zero p-odd p-raw p-all p-sweep; do
    for f in "$T/$d"/*.svg "$T/$d/report.html"; do [ -s "$f" ] || fail "$f missing"; n=$((n + 1)); done
done
python3 "$ROOT/tests/report/wellformed.py" "$T"/p-*/*.svg "$T"/p-*/report.html >"$T/wf.txt" 2>&1
rc=$?
cat "$T/wf.txt"
[ "$rc" = 0 ] || fail "some file is not well-formed"
echo "PASS: $n files well-formed"
