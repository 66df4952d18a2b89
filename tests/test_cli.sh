#!/usr/bin/env bash
# test_cli.sh (device suite): the clgrad command line as a user meets it:
# a bad experiment file (file:line:key in the message, nothing run, exit 2),
# a bad --set, a missing data file, a malformed CSV, an unknown device (the
# device list in the message), an unwritable output directory (fails before
# any compute), an interrupted run (SIGINT: exit 130, status interrupted,
# every file written), --init-from and --save-data.
# usage: test_cli.sh /path/to/clgrad
set -u
CLGRAD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: some checks run elsewhere
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
expect 2 "\[data\] path: cannot read .*nosuch.csv" -- "$CLGRAD" run "$T/csv.ini" --out "$T/csvrun"
grep -q "nothing was run" "$T/out" || fail "a missing data file should say nothing was run"
[ ! -e "$T/csvrun" ] || fail "a run directory was created for a missing data file"
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
# optimizer rows (3 steps, the last one logged: 2 optim_adam launches and
# the log step's update with its statistics, reduce_stats_optim_chunks) and the total
CLGRAD_PROFILE=1 expect 0 "kernel profile" -- "$CLGRAD" run "$ROOT/experiments/optim_spirals_adam.ini" --set run.steps=3 --out "$T/prof" --quiet
grep -qE '^matmul_[a-z_]+ +[0-9]+ ' "$T/out" || fail "profile has no matmul row"
grep -qE '^optim_adam +2 ' "$T/out" || fail "profile should count 2 optim_adam launches"
grep -qE '^reduce_stats_optim_chunks +1 ' "$T/out" || fail "profile should count 1 reduce_stats_optim_chunks launch"
grep -qE '^all +[0-9]+ +[0-9.]+' "$T/out" || fail "profile has no total row"

# strict JSON: no NaN/Infinity constants, UTF-8
jsonok() { python3 -c 'import json,sys
def bad(c): raise ValueError("not JSON: " + c)
json.load(open(sys.argv[1], encoding="utf-8"), parse_constant=bad)' "$1" 2>"$T/jsonerr" || { fail "$1 is not valid UTF-8 JSON: $(cat "$T/jsonerr" | tail -1)"; }; }
jget() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1], encoding="utf-8"))
for k in sys.argv[2].split("."): d = d.get(k) if isinstance(d, dict) else None
print(json.dumps(d))' "$1" "$2"; }

# a closed pipe does not kill a run: it finishes, with its summary
"$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=3000 --set run.log_every=1 --out "$T/pipe" 2>&1 | head -1 >/dev/null
st=${PIPESTATUS[0]}
[ "$st" = 0 ] || fail "a run into a closed pipe exited $st"
grep -q '"status": "completed"' "$T/pipe/summary.json" 2>/dev/null || fail "a run into a closed pipe has no completed summary"
grep -q '"status": "completed"' "$T/pipe/manifest.json" || fail "a run into a closed pipe left its manifest running"

# honest numbers: a diverged run (test set never evaluated, loss_limit has no layer), regression (no accuracy)
expect 0 "test set not evaluated" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_above.ini" --out "$T/div" --quiet
grep -q "diverged at step [0-9]*: loss_limit)" "$T/out" || fail "a loss_limit divergence should name no layer: $(grep status "$T/out")"
grep -q "accuracy" "$T/out" && fail "a regression run printed an accuracy"
for f in "$T"/div/*.json; do jsonok "$f"; done
[ "$(jget "$T/div/summary.json" divergence.layer)" = null ] || fail "summary: loss_limit divergence layer should be null"
[ "$(jget "$T/div/summary.json" final_test_loss)" = null ] || fail "summary: unevaluated test loss should be null"
[ "$(jget "$T/div/summary.json" test_evaluated_step)" = null ] || fail "summary: test_evaluated_step should be null"
# a non-finite loss: null with final_train_loss_nonfinite beside it
"$CLGRAD" run "$ROOT/experiments/linreg_lr_above.ini" --set diverge.action=continue --set run.steps=400 --out "$T/inf" --quiet >/dev/null 2>&1
jsonok "$T/inf/summary.json"
case "$(jget "$T/inf/summary.json" final_train_loss_nonfinite)" in '"inf"'|'"nan"') ;; *) fail "summary: a non-finite loss needs final_train_loss_nonfinite: $(cat "$T/inf/summary.json")";; esac
[ "$(jget "$T/inf/summary.json" final_train_loss)" = null ] || fail "summary: a non-finite loss should be null"
expect 1 "final train loss +(inf|nan) " -- "$CLGRAD" compare "$T/inf" "$T/div"
"$CLGRAD" compare --json "$T/inf" "$T/div" > "$T/cmp.json" 2>/dev/null; jsonok "$T/cmp.json"
# layers.csv: the layer column is text for every model (MLP linear_N; RNN rnn, fc)
[ "$(cut -d, -f2 "$T/ok/layers.csv" | sed -n 2p)" = linear_0 ] || fail "MLP layers.csv layer should be linear_0"
cut -d, -f2 "$T/int/layers.csv" | sed 1d | grep -qvE '^(rnn|fc)$' && fail "RNN layers.csv layer names"
python3 -c 'import csv,sys
for p in sys.argv[1:]:
    for r in csv.DictReader(open(p)):
        try: float(r["layer"]); raise SystemExit("numeric layer name in " + p)
        except ValueError: pass' "$T/ok/layers.csv" "$T/int/layers.csv" || fail "a layer name reads as a number"
# progress: median step time in the summary; no escape codes when stderr is not a terminal
expect 0 "step 20/200" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --out "$T/prog"
grep -q $'\e' "$T/out" && fail "escape codes on a non-terminal stderr"
grep -qE '"median_ms_per_step": [0-9.e+-]+,' "$T/prog/summary.json" || fail "summary lacks median_ms_per_step"
grep -qE '"first_step_ms": [0-9.e+-]+' "$T/prog/summary.json" || fail "summary lacks first_step_ms"
script -qec "$CLGRAD run $ROOT/experiments/linreg_lr_below.ini --out $T/tty" /dev/null > "$T/ttyout" 2>&1
grep -q $'\r\e\[K\[' "$T/ttyout" || fail "no \\r\\e[K progress line on a terminal"
# the first run on empty caches says it is building kernels (not with --quiet)
expect 0 "building [0-9]+ kernel programs for .* \(first run only" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=2 --cache-dir "$T/kc1" --out "$T/kc1run"
grep -qE '\[[0-9]+/[0-9]+\] [a-z_]+\.cl' "$T/out" || fail "no per-program build progress"
expect 0 "status: completed" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=2 --cache-dir "$T/kc2" --out "$T/kc2run" --quiet
grep -q "building" "$T/out" && fail "--quiet printed the kernel build"
expect 0 "status: completed" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set run.steps=2 --cache-dir "$T/kc1" --out "$T/kc1run2"
grep -q "building" "$T/out" && fail "a warm cache announced a kernel build"
[ "$(grep -c '' "$T/out")" -le 6 ] || { fail "a quiet-ish short run printed too much"; sed 's/^/    /' "$T/out"; }

# help, per-command options, --opt=value, did-you-mean
expect 0 "usage: clgrad <command>" -- "$CLGRAD" help
expect 0 "--init-from DIR" -- "$CLGRAD" run --help
grep -q "usage: clgrad <command>" "$T/out" && fail "run --help printed the global usage"
expect 0 "usage: clgrad run" -- "$CLGRAD" help run
expect 0 "--rtol" -- "$CLGRAD" help compare
expect 0 "--grid" -- "$CLGRAD" sweep --help
expect 2 "unknown option --quite \(did you mean --quiet\?\)" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --quite
expect 2 "did you mean --rtol" -- "$CLGRAD" compare --rtl 1 "$T/ok" "$T/ok"
expect 2 "did you mean 'sweep'" -- "$CLGRAD" swep
expect 2 "--quiet takes no value" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --quiet=yes
expect 0 "status: completed" -- "$CLGRAD" run "$ROOT/experiments/linreg_lr_below.ini" --set=run.steps=4 --out="$T/eq" --quiet
[ "$(wc -l < "$T/eq/metrics.csv")" = 5 ] || fail "--set=/--out= forms were not applied"
expect 0 '"pass": true' -- "$CLGRAD" selfcheck --json --no-timing --quiet
sed -n '/^{/,$p' "$T/out" > "$T/sc.json"; jsonok "$T/sc.json"
expect 2 "is a sweep directory: plot it with" -- "$CLGRAD" plot "$T/sw"
grep -q -- "clgrad plot --sweep" "$T/out" || fail "plot on a sweep directory does not suggest --sweep"

# run NAME: a shipped experiment by name (the source tree's, for this build's clgrad), else the list
mkdir -p "$T/cwd" && cd "$T/cwd"
expect 0 "status: completed" -- "$CLGRAD" run linreg_lr_below --set run.steps=3 --out "$T/byname" --quiet
grep -q 'linreg_lr_below.ini' "$T/byname/manifest.json" || fail "run by name: manifest does not name the experiment file"
expect 2 "nor a shipped experiment of that name; available" -- "$CLGRAD" run no_such_experiment
grep -q " linreg_lr_below" "$T/out" || fail "the available experiments are not listed"
mkdir -p "$T/exps" && printf '[run]\nsteps = 2\n' > "$T/exps/mine.ini"
CLGRAD_EXPERIMENTS_DIR="$T/exps" expect 0 "status: completed" -- "$CLGRAD" run mine --out "$T/mine" --quiet
cd - >/dev/null

# every JSON file of a run is valid UTF-8 JSON, whatever bytes its name and path hold
bad="$T/"$'p\xff\xfe\x01\x7f\tq'
mkdir -p "$bad"
printf '[run]\nname = n\xff\xfem\nsteps = 3\n' > "$bad/"$'e\xff\xfe\x02\x7f.ini'
(cd "$bad" && "$CLGRAD" run $'e\xff\xfe\x02\x7f.ini' --quiet >/dev/null 2>&1) || fail "the run with raw bytes in its name failed"
n=0
for f in "$bad"/runs/*/*.json; do [ -e "$f" ] && { jsonok "$f"; n=$((n + 1)); }; done
[ $n -ge 2 ] || fail "no JSON files in the run with raw bytes in its name"
grep -q 'u007f' "$bad"/runs/*/manifest.json || fail "0x7f not escaped in the manifest"
# a sweep records its experiment's file name in sweep.json to resume: a name that is not UTF-8 is refused
expect 2 "not valid UTF-8; rename it" -- "$CLGRAD" sweep "$bad/"$'e\xff\xfe\x02\x7f.ini' --grid optim.lr=0.1,0.2 --out "$T/sw8"

[ $fails = 0 ] && echo "test_cli: all checks passed"
exit $((fails > 0))
