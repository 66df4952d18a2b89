#!/usr/bin/env bash
# test_cli.sh (device suite): the clgrad command line as a user meets it:
# a bad experiment file (file:line:key in the message, nothing run, exit 2),
# a bad --set, a missing data file, a malformed CSV, an unknown device (the
# device list in the message), an unwritable output directory (fails before
# any compute), an interrupted run (SIGINT: exit 130, status interrupted,
# every file written), --init-from and --save-data.
# usage: test_cli.sh /path/to/clgrad
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/clgrad-test-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() { # expect STATUS PATTERN -- command...
  local want=$1 pat=$2; shift 3
  "$@" >"$T/out" 2>&1; local got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $*"
  grep -qE -- "$pat" "$T/out" || { fail "output lacks /$pat/: $*"; sed 's/^/    /' "$T/out" | head -20; }
}

# a bad experiment file: every error with file, line and key; nothing runs
cat > "$T/bad.ini" <<'INI'
[run]
steps = 10
[optim]
kind = sgd
lr = fast
momemtum = 0.9
[nosuch]
INI
expect 2 "bad.ini:5: \[optim\] lr" -- "$CLGRAD" run "$T/bad.ini" --out "$T/bad"
grep -q "bad.ini:6: \[optim\] .*momemtum.*did you mean 'momentum'" "$T/out" || fail "no did-you-mean for momemtum"
grep -q "bad.ini:7: .*nosuch" "$T/out" || fail "unknown section not named"
[ ! -e "$T/bad" ] || fail "a run directory was created for a bad config"

# a bad --set
expect 2 "\-\-set optim.lr=-1" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set optim.lr=-1 --out "$T/x"

# a missing data file and a malformed CSV: clear errors naming the file
cat > "$T/csv.ini" <<INI
[run]
steps = 5
[data]
kind = csv
path = $T/nosuch.csv
target = y
INI
expect 1 "nosuch.csv" -- "$CLGRAD" run "$T/csv.ini" --out "$T/csvrun"
printf 'a,b,y\n1,2,3\n4,oops,6\n' > "$T/bad.csv"
sed -i "s|nosuch.csv|bad.csv|" "$T/csv.ini"
expect 1 "bad.csv:3" -- "$CLGRAD" run "$T/csv.ini" --out "$T/csvrun2"
grep -q '"status": "failed"' "$T/csvrun2/summary.json" || fail "failed run has no summary with status failed"

# an unknown device lists the devices
expect 1 "available devices" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --device no-such-device --out "$T/y"

# an unwritable output directory fails before any compute
touch "$T/file"
expect 1 "cannot create the run directory" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --out "$T/file/run"

# a normal run, then --init-from its final weights and --save-data
expect 0 "status: completed" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=20 --out "$T/ok" --save-data --quiet
for f in config.ini manifest.json metrics.csv layers.csv summary.json weights/init/0.weight.npy weights/final/0.bias.npy data/train_x.npy data/test_y.npy; do
  [ -s "$T/ok/$f" ] || fail "run directory lacks $f"
done
[ "$(wc -l < "$T/ok/metrics.csv")" = 21 ] || fail "metrics.csv should have 20 rows"
expect 0 "status: completed" -- "$CLGRAD" run "$T/ok/config.ini" --set run.steps=1 --init-from "$T/ok/weights/final" --out "$T/ok2" --quiet
cmp -s "$T/ok/weights/final/0.weight.npy" "$T/ok2/weights/init/0.weight.npy" || fail "--init-from did not start from the given weights"

# SIGINT stops at a step boundary, writes everything, exit 130
"$CLGRAD" run "$ROOT/experiments/rnn_adding_clip.ini" --set run.steps=100000 --out "$T/int" --quiet >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$T/int/metrics.csv" ] && [ "$(wc -l < "$T/int/metrics.csv")" -gt 3 ] && break; sleep 0.2; done
kill -INT $pid
wait $pid; st=$?
[ $st = 130 ] || fail "interrupted run exited $st, wanted 130"
grep -q '"status": "interrupted"' "$T/int/summary.json" || fail "summary does not say interrupted"
grep -q '"status": "interrupted"' "$T/int/manifest.json" || fail "manifest does not say interrupted"
[ -s "$T/int/weights/final/fc.weight.npy" ] || fail "no final weights after an interrupt"
rows=$(($(wc -l < "$T/int/metrics.csv") - 1))
done_steps=$(sed -n 's/.*"steps_done": \([0-9]*\).*/\1/p' "$T/int/summary.json")
[ "$rows" = "$done_steps" ] || fail "metrics.csv has $rows rows but summary says $done_steps steps"

# a real sweep (2 points, 2 jobs), resumed, then plotted; a run plotted into SVG + report.html
expect 0 "2 points" -- "$CLGRAD" sweep "$ROOT/experiments/linreg_lr_below.ini" --grid optim.lr=0.5,1.5 --set run.steps=40 --jobs 2 --out "$T/sw" --quiet
[ "$(grep -c '' "$T/sw/summary.csv")" = 3 ] || fail "sweep summary.csv should have a header and 2 rows"
grep -q ',completed,' "$T/sw/summary.csv" && grep -q ',diverged,' "$T/sw/summary.csv" || fail "sweep: expected one completed and one diverged point"
expect 0 "2 already done, 0 to run" -- "$CLGRAD" sweep "$ROOT/experiments/linreg_lr_below.ini" --grid optim.lr=0.5,1.5 --set run.steps=40 --jobs 2 --out "$T/sw"
expect 0 "." -- "$CLGRAD" plot --sweep "$T/sw" --x optim.lr --out "$T/swplot"
[ -s "$T/swplot/sweep_heatmap.svg" ] || fail "no sweep heat map"
expect 0 "." -- "$CLGRAD" plot "$T/ok" --out "$T/plots"
for f in loss.svg grad_norm.svg layers_grad.svg layers_heatmap.svg report.html; do [ -s "$T/plots/$f" ] || fail "plot did not write $f"; done
expect 0 "AGREE|agree" -- "$CLGRAD" compare "$T/ok" "$T/ok"

# the same-bits guarantee as the user sees it: the devices' fp32 config and
# verdict, the fingerprint in selfcheck and manifest, compare's bit identity
expect 0 "same bits" -- "$CLGRAD" devices
expect 0 '"single_fp_config": "[a-z_,]*denorm' -- "$CLGRAD" devices --json
grep -q '"same_bits": true' "$T/out" || fail "devices --json: no device inside the same-bits guarantee"
grep -q '"numerics_fingerprint": "[0-9a-f]\{16\}"' "$T/ok/manifest.json" || fail "manifest.json lacks the numerics fingerprint"
grep -q '"same_bits": true' "$T/ok/manifest.json" || fail "manifest.json lacks device.same_bits"
expect 0 "BIT-IDENTICAL to run 1" -- "$CLGRAD" compare "$T/ok" "$T/ok"
cp -r "$T/ok" "$T/okb"
sed -i '3s/^\([0-9]*\),\([0-9]*\),\([0-9.e+-]*\)/\1,\2,1234.5/' "$T/okb/metrics.csv"
expect 1 "first difference at step 2, metrics.csv, loss: 1234.5 vs" -- "$CLGRAD" compare --rtol 0 --atol 0 "$T/ok" "$T/okb"
cp "$T/ok/metrics.csv" "$T/okb/metrics.csv"
f=$(cd "$T/okb" && ls weights/final/*.npy | head -1)
printf '\x01' | dd of="$T/okb/$f" bs=1 seek=$(( $(stat -c %s "$T/okb/$f") - 1 )) conv=notrunc 2>/dev/null
expect 0 "first difference at weights/final/.* differs" -- "$CLGRAD" compare "$T/ok" "$T/okb"

# CLGRAD_PROFILE=1: a per-kernel table on stderr at exit, with GEMM and
# optimizer rows (3 steps: 3 optim_adam launches) and the total
CLGRAD_PROFILE=1 expect 0 "kernel profile" -- "$CLGRAD" run "$ROOT/experiments/optim_spirals_adam.ini" --set run.steps=3 --out "$T/prof" --quiet
grep -qE '^matmul_[a-z_]+ +[0-9]+ ' "$T/out" || fail "profile has no matmul row"
grep -qE '^optim_adam +3 ' "$T/out" || fail "profile should count 3 optim_adam launches"
grep -qE '^all +[0-9]+ +[0-9.]+' "$T/out" || fail "profile has no total row"

[ $fails = 0 ] && echo "test_cli: all checks passed"
exit $((fails > 0))
