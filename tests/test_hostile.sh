#!/usr/bin/env bash
# test_hostile.sh (device suite): hostile values reach clgrad and it neither
# crashes nor trains on garbage silently.
#   - data files: NaN / Inf / out-of-float32-range numbers in a CSV and NaN in
#     a float32 IDX file are errors naming the file, line/column or value
#     (exit 1, summary.json says failed); finite but huge values (3e38) train
#     into a non-finite loss that is reported as a divergence (exit 0,
#     summary.json says diverged); NaN weights given to --init-from likewise;
#   - zero and negative sizes in the config (samples, features, hidden widths
#     and layer counts, batch size, steps, log_every, seq_len, classes) are
#     config errors naming the key (exit 2, nothing run, no run directory);
#     sizes too large for the host are errors, not crashes;
#   - a batch larger than the data is clamped to the data (the run equals the
#     full-batch run, bit for bit, in metrics.csv);
#   - widths whose buffers exceed the device's largest allocation give an
#     error naming the buffer and its size (exit 1, summary says failed);
#     buffers that fit one by one but not together in the device's memory
#     are refused up front, naming the total and the device's memory, and a
#     run under a small ulimit -v ends failed with a summary;
#   - --init-from tensors of the wrong shape: both shapes in the message.
# usage: test_hostile.sh /path/to/clgrad
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-hostile-XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { # run STATUS PATTERN OUTDIR -- args...: exit status and a pattern in the output
  local want=$1 pat=$2 out=$3; shift 4
  rm -rf "$out" # each check is a fresh run (clgrad never overwrites a run without --force)
  "$CLGRAD" run "$@" --out "$out" --quiet >"$T/log" 2>&1; local got=$?
  [ "$got" = "$want" ] || { fail "exit $got (wanted $want): $*"; sed 's/^/    /' "$T/log" | tail -8; }
  grep -qE -- "$pat" "$T/log" || { fail "output lacks /$pat/: $*"; sed 's/^/    /' "$T/log" | tail -8; }
  grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/log" && fail "sanitizer report: $*"
  return 0
}
summary_is() { grep -q "\"status\": \"$2\"" "$1/summary.json" 2>/dev/null || fail "$1/summary.json does not say $2"; }
csv_ini() { # csv_ini NAME TASK: an experiment reading $T/NAME.csv
  cat > "$T/$1.ini" <<INI
[run]
steps = 3
[data]
kind = csv
path = $1.csv
target = y
task = $2
test_fraction = 0
batch_size = 0
[model]
hidden = 4
INI
}

# ---- data files ----
printf 'a,b,y\n1,2,3\n4,nan,6\n' > "$T/nan.csv"; csv_ini nan regression
run 1 "nan.csv:3: column 'b': 'nan' is not a finite number \(NaN and Inf are not accepted\)" "$T/r-nan" -- "$T/nan.ini"
summary_is "$T/r-nan" failed
printf 'a,b,y\n1,2,3\n4,5,-Inf\n' > "$T/inf.csv"; csv_ini inf regression
run 1 "inf.csv:3: column 'y': '-Inf' is not a finite number" "$T/r-inf" -- "$T/inf.ini"
printf 'a,b,y\n1,2,3\n4,1e39,5\n' > "$T/big.csv"; csv_ini big regression
run 1 "big.csv:3: column 'b': '1e39' is outside the float32 range" "$T/r-big" -- "$T/big.ini"
printf 'a,b,y\n1,2,3\n4,5,1e-50\n' > "$T/tiny.csv"; csv_ini tiny regression   # underflows to 0: fine
run 0 "status: completed" "$T/r-tiny" -- "$T/tiny.ini"
printf 'a,b,y\n1,2,0\n4,5,2.5\n' > "$T/cls.csv"; csv_ini cls multiclass
run 1 "cls.csv:3: column 'y': label '2.5' is not an integer class" "$T/r-cls" -- "$T/cls.ini"
# huge but finite features: the loss overflows; a divergence, reported, not a crash
{ echo 'a,b,y'; for i in 1 2 3 4 5 6 7 8; do echo "3e38,-3e38,$i"; done; } > "$T/huge.csv"; csv_ini huge regression
run 0 "status: diverged" "$T/r-huge" -- "$T/huge.ini"
summary_is "$T/r-huge" diverged
grep -q '"kind": "nonfinite_' "$T/r-huge/summary.json" || fail "huge values: divergence kind is not nonfinite_*"
# zero sizes in data files: no rows, no samples
printf 'a,b,y\n' > "$T/empty.csv"; csv_ini empty regression
run 1 "empty.csv: no data rows" "$T/r-empty" -- "$T/empty.ini"
# a FIFO or a directory as the data file: rejected at once, before anything runs
# (exit 2, no run directory; opening a FIFO must not wait for a writer)
mkfifo "$T/fifo.csv"; csv_ini fifo regression
run 2 "fifo.csv: not a regular file" "$T/r-fifo" -- "$T/fifo.ini"
[ ! -e "$T/r-fifo" ] || fail "a run directory was created for a FIFO as the data file"
rm -f "$T/fifo.csv"; mkdir "$T/fifo.csv"
run 2 "fifo.csv: not a regular file" "$T/r-dir" -- "$T/fifo.ini"
# a float32 IDX file with a NaN
printf '\x00\x00\x0d\x03\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02\x3f\x80\x00\x00\x7f\xc0\x00\x00\x40\x00\x00\x00\x40\x40\x00\x00' > "$T/img.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x00\x01' > "$T/lab.idx"
cat > "$T/idx.ini" <<INI
[run]
steps = 2
[data]
kind = idx
path = img.idx
labels = lab.idx
test_fraction = 0
[model]
hidden = 4
INI
run 1 "img.idx: value 1 is not finite" "$T/r-idx" -- "$T/idx.ini"
# an IDX file with zero samples
printf '\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00\x04' > "$T/img.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x00' > "$T/lab.idx"
run 1 "img.idx: no samples" "$T/r-idx0" -- "$T/idx.ini"
# an IDX header that claims more data than the file has
printf '\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x10\x01' > "$T/img.idx"
run 1 "img.idx: header (says|dimensions)" "$T/r-idx2" -- "$T/idx.ini"
# NaN weights from --init-from: the first loss is NaN, a divergence at step 1
E="$ROOT/experiments/linreg_lr_below.ini"
run 0 "status: completed" "$T/ok" -- "$E" --set run.steps=1
w="$T/ok/weights/init/0.weight.npy"
python3 -c 'import sys' 2>/dev/null && python3 - "$w" <<'PY' || printf '\x00\x00\xc0\x7f' | dd of="$w" bs=1 seek=$(( $(stat -c %s "$w") - 4 )) conv=notrunc 2>/dev/null
import sys, struct
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[-4:] = struct.pack('<f', float('nan')); open(p, 'wb').write(bytes(b))
PY
run 0 "status: diverged after 1 steps" "$T/r-nanw" -- "$E" --set run.steps=5 --init-from "$T/ok/weights/init"
summary_is "$T/r-nanw" diverged
# a truncated .npy for --init-from: an error naming the file
head -c 100 "$T/ok/weights/init/0.weight.npy" > "$T/ok/weights/init/0.weight.npy.cut" && mv "$T/ok/weights/init/0.weight.npy.cut" "$w"
run 1 "--init-from: .*0.weight.npy" "$T/r-cut" -- "$E" --set run.steps=1 --init-from "$T/ok/weights/init"
# --init-from tensors of the wrong shape: both shapes named, as they are
npy_zeros() { # npy_zeros PATH "SHAPE" COUNT: a float32 .npy of zeros
  local dict="{'descr': '<f4', 'fortran_order': False, 'shape': $2, }" pad
  pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#dict} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#dict} + pad + 1) / 256 )))";
    printf '%s%*s\n' "$dict" $pad ''; head -c $(( 4 * $3 )) /dev/zero; } > "$1"
}
run 0 "status: completed" "$T/ok16" -- "$E" --set run.steps=1 --set model.hidden=16
npy_zeros "$T/ok16/weights/init/0.bias.npy" "(16, 1)" 16
run 1 "--init-from: .*/0\.bias\.npy has shape \(16, 1\), expected \(16\)$" "$T/r-shape" -- "$E" --set run.steps=1 --set model.hidden=16 --init-from "$T/ok16/weights/init"
summary_is "$T/r-shape" failed
npy_zeros "$T/ok16/weights/init/0.bias.npy" "(16,)" 16
npy_zeros "$T/ok16/weights/init/0.weight.npy" "(10, 16)" 160
run 1 "--init-from: .*/0\.weight\.npy has shape \(10, 16\), expected \(16, 10\)$" "$T/r-shape" -- "$E" --set run.steps=1 --set model.hidden=16 --init-from "$T/ok16/weights/init"

# ---- zero and negative sizes: config errors naming the key, nothing run ----
for kv in data.samples=0 data.samples=-5 data.features=0 data.features=-1 model.hidden=0 model.hidden=-3 \
          model.hidden=4x0 model.hidden=0x4 model.hidden=4x-1 model.hidden=16777217 data.batch_size=-1 \
          run.steps=-1 run.epochs=-2 run.log_every=0 run.eval_every=-1 data.seq_len=0 data.classes=1 \
          data.test_fraction=1 optim.lr=-1 optim.lr=nan optim.lr=inf optim.step_size=0 \
          run.steps=99999999999999999999; do
  key=${kv%%=*}
  run 2 "\[${key%%.*}\] ${key#*.}" "$T/r-cfg" -- "$E" --set "$kv"
  [ ! -e "$T/r-cfg" ] || { fail "--set $kv created a run directory"; rm -rf "$T/r-cfg"; }
done
# sizes too large for the host: an error, not a crash (under ASan, malloc must
# return NULL as libc's does instead of aborting: allocator_may_return_null)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1"
run 1 "out of memory|too large" "$T/r-huge-n" -- "$E" --set data.samples=1000000000000 --set run.steps=1
run 1 "out of memory|too large" "$T/r-huge-f" -- "$E" --set data.features=100000000000 --set run.steps=1

# ---- a batch larger than the data: clamped to the data (= full batch) ----
M="data.kind=moons"
run 0 "status: completed" "$T/b-full" -- "$E" --set $M --set data.samples=40 --set data.batch_size=0 --set run.steps=3 --set model.hidden=8
run 0 "status: completed" "$T/b-big" -- "$E" --set $M --set data.samples=40 --set data.batch_size=100000 --set run.steps=3 --set model.hidden=8
cut -d, -f1-10 "$T/b-full/metrics.csv" > "$T/full.csv"; cut -d, -f1-10 "$T/b-big/metrics.csv" > "$T/big.csv"
cmp -s "$T/full.csv" "$T/big.csv" || { fail "batch_size 100000 > 32 samples differs from the full batch"; diff "$T/full.csv" "$T/big.csv" | head -5; }
acc=$(sed -n 2p "$T/b-big/metrics.csv" | cut -d, -f4)
awk -v a="$acc" 'BEGIN { exit !(a >= 0.2 && a <= 1) }' || fail "train_acc $acc with an oversized batch (not divided by the real batch?)"

# ---- widths whose buffers exceed the device: an error naming the buffer and its size ----
for h in 16777216x2 16777216 65536x2; do
  run 1 "buffer [a-z ]+ needs [0-9]+ bytes \([0-9.]+ MiB\), more than the device's largest allocation" "$T/r-w$h" -- \
    "$E" --set model.hidden=$h --set run.steps=1
  summary_is "$T/r-w$h" failed
done

# ---- buffers that each fit the device's largest allocation but not, together, its memory: refused up front ----
# (sizes from the device's own figures: two HxH layers, so parameters, gradients and the two
# update buffers are 4 buffers of about 4 H^2 bytes; SGD without momentum keeps no state)
read -r gmem amax < <("$CLGRAD" devices --json 2>/dev/null | python3 -c 'import json,sys
d = [x for x in json.load(sys.stdin) if x.get("selected")] or [None]
print(d[0]["global_mem_bytes"], d[0]["max_alloc_bytes"]) if d[0] else print(0, 0)' 2>/dev/null)
h=$(awk -v g="${gmem:-0}" -v a="${amax:-0}" 'BEGIN { m = a / 4; if (g / 12 < m) m = g / 12; h = int(sqrt(m * 0.99));
  if (g > 0 && 16 * h * h > g && 4 * h * h <= a) print h; else print 0 }')
asan=0 # AddressSanitizer reserves terabytes of shadow address space: no ulimit -v under it
if nm "$CLGRAD" 2>/dev/null | grep -q __asan_init || ldd "$CLGRAD" 2>/dev/null | grep -q libasan; then asan=1; fi
if [ "$h" -gt 0 ]; then
  t0=$SECONDS
  ( fails=0
    # an allocation that slipped through would fail here, not eat the host
    [ $asan = 1 ] || ulimit -v $((4 * 1024 * 1024)) 2>/dev/null
    run 1 "device buffers need [0-9]+ bytes \([0-9.]+ MiB\) in total .*more than the device's memory \($gmem bytes" \
      "$T/r-total" -- "$E" --set model.hidden=${h}x2 --set run.steps=1 --set optim.momentum=0
    summary_is "$T/r-total" failed
    grep -q '"error": "the run.s device buffers need' "$T/r-total/summary.json" 2>/dev/null || fail "r-total: summary.json lacks the error"
    exit $fails ) || fails=$((fails + $?))
  [ $((SECONDS - t0)) -le 60 ] || fail "the refusal of a run too large for the device took $((SECONDS - t0)) s"
else
  echo "SKIP (part): no width fits the device's largest allocation ($amax) per buffer yet exceeds its memory ($gmem) in total"
fi
# ---- a run under a small address-space limit (ulimit -v): refused with a summary, not killed by the driver ----
if [ $asan = 1 ]; then
  echo "SKIP (part): ulimit -v under AddressSanitizer"
else
  ( fails=0; ulimit -v 1000000
    run 1 "run failed: .*(this process may still map|out of memory|CL_MEM_OBJECT_ALLOCATION_FAILURE|CL_OUT_OF_HOST_MEMORY)" \
      "$T/r-ulimit" -- "$E" --set model.hidden=8000x2 --set run.steps=1
    summary_is "$T/r-ulimit" failed
    exit $fails ) || fails=$((fails + $?))
fi

# ---- a hostile kernel cache: a FIFO and a directory planted as entries ----
# (a cache of its own, warmed by one run, so every entry is one the next run loads)
CLGRAD_CACHE_DIR=$T/cache timeout 600 "$CLGRAD" run "$E" --set run.steps=1 --out "$T/r-warm" --quiet >"$T/log" 2>&1
if ls "$T"/cache/*.bin >/dev/null 2>&1; then
  bins=$(ls -S "$T"/cache/*.bin)
  b1=$(echo "$bins" | tail -1); b2=$(echo "$bins" | tail -2 | head -1)
  rm -f "$b1" "$b2"; mkfifo "$b1"; mkdir "$b2"
  CLGRAD_CACHE_DIR=$T/cache timeout 600 "$CLGRAD" run "$E" --set run.steps=1 --out "$T/r-cache" --quiet >"$T/log" 2>&1
  st=$?
  [ $st = 0 ] || { fail "planted cache entries: exit $st"; tail -5 "$T/log"; }
  grep -q "not a regular file" "$T/log" || fail "planted cache entries: no warning"
  [ -p "$b1" ] && fail "the FIFO entry was not replaced by a valid one"
fi

[ $fails = 0 ] && echo "test_hostile: all checks passed"
exit $((fails > 0))
