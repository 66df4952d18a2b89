#!/usr/bin/env bash
# File-system classes (issue 19, issue 16.1): clgrad never writes outside its
# run directory (planted symlinks at the reserve file, metrics.csv, config.ini,
# data/ and weights/, run.log, a sweep's lock and point directories), never
# deletes what it did not write (a foreign notes.npy), never overwrites a run
# without --force (of this experiment or another), gives default-named runs
# started in the same second directories of their own, refuses a second run of
# a directory in use (the run-directory lock, also for a sweep's point), and
# does not trust a kernel cache others could write (a warning, then compiling).
# Usage: test_fs.sh CLGRAD
set -u
CLGRAD=${1:?usage: test_fs.sh CLGRAD}
CLGRAD=$(cd "$(dirname "$CLGRAD")" && pwd)/$(basename "$CLGRAD")
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-fs-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
E=$ROOT/experiments/linreg_lr_below.ini
LONG=$ROOT/experiments/rnn_adding_clip.ini
show() { sed 's/^/    /' "$1" | tail -8; }
# wait_for FILE SECONDS: poll until FILE exists
wait_for() { local i; for ((i = 0; i < $2 * 10; i++)); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
# precious FILE: a file outside every run directory, with its checksum recorded
precious() { mkdir -p "$(dirname "$1")"; echo "precious $1" > "$1"; sha256sum "$1" >> "$T/precious.sha"; }
# untouched: every precious file still holds what it held
untouched() { sha256sum --quiet -c "$T/precious.sha" > "$T/sha.out" 2>&1 || { fail "$1: files outside were changed"; show "$T/sha.out"; }; }

mkdir -p "$T/outside"

# ---- 1. symlinks planted in a run directory ----
precious "$T/outside/reserve-target"
precious "$T/outside/metrics-target"
precious "$T/outside/config-target"
D=$T/r-plant
mkdir -p "$D"
ln -s "$T/outside/reserve-target" "$D/.clgrad-reserve"
ln -s "$T/outside/metrics-target" "$D/metrics.csv"
ln -s "$T/outside/config-target" "$D/config.ini"
"$CLGRAD" run "$E" --set run.steps=5 --out "$D" --quiet > "$T/log" 2>&1 || { fail "run with planted symlinks failed"; show "$T/log"; }
untouched "planted symlinks at .clgrad-reserve, metrics.csv, config.ini"
[ -f "$D/metrics.csv" ] && [ ! -L "$D/metrics.csv" ] || fail "metrics.csv is not the run's own file"
[ -e "$D/.clgrad-reserve" ] || [ -L "$D/.clgrad-reserve" ] && fail "the reserve (or its planted link) is left"
[ -z "$(find "$D" -name '*.tmp.*' -o -name .clgrad-lock)" ] || fail "temporary or lock files left in $D"

# data/ and weights/ symlinked to directories of precious .npy files: refused, nothing deleted or written there
mkdir -p "$T/outside/data" "$T/outside/weights/init" "$T/outside/weights/final"
for f in data/train_x.npy data/notes.npy weights/init/0.weight.npy weights/final/0.weight.npy weights/final/x.npy; do
  precious "$T/outside/$f"
done
for sub in data weights; do
  D=$T/r-link-$sub
  mkdir -p "$D"
  ln -s "$T/outside/$sub" "$D/$sub"
  "$CLGRAD" run "$E" --set run.steps=5 --out "$D" --save-data --quiet > "$T/log" 2>&1
  rc=$?
  untouched "$sub/ a symlink"
  [ "$rc" != 0 ] && grep -q "symbolic link" "$T/log" || { fail "$sub/ a symlink: not refused (exit $rc)"; show "$T/log"; }
done
[ -z "$(find "$T/outside" -name '*.npy' -newer "$T/precious.sha")" ] || fail "files written under $T/outside"

# ---- 2. --out on a directory with files clgrad never wrote; reuse needs --force ----
D=$T/r-foreign
mkdir -p "$D/data" "$D/weights/final"
precious "$D/notes.npy"
precious "$D/data/notes.npy"
precious "$D/weights/final/notes.npy"
"$CLGRAD" run "$E" --set run.steps=5 --out "$D" --save-data --quiet > "$T/log" 2>&1 || { fail "run into a directory with foreign files"; show "$T/log"; }
untouched "foreign .npy files (first run)"
m1=$(sha256sum < "$D/metrics.csv")
# the same experiment again: refused, the run kept
"$CLGRAD" run "$E" --set run.steps=7 --out "$D" --quiet > "$T/log" 2>&1
rc=$?
[ "$rc" != 0 ] && grep -q "already holds a run" "$T/log" && grep -q -- "--force" "$T/log" ||
  { fail "rerun into a run directory not refused (exit $rc)"; show "$T/log"; }
[ "$(sha256sum < "$D/metrics.csv")" = "$m1" ] && grep -q '"status": "completed"' "$D/summary.json" ||
  fail "the refused rerun changed the run"
# another experiment: refused, naming it
"$CLGRAD" run "$ROOT/experiments/relu30_he.ini" --set run.steps=2 --out "$D" --quiet > "$T/log" 2>&1
rc=$?
[ "$rc" != 0 ] && grep -q "another experiment" "$T/log" ||
  { fail "a run of another experiment into the directory not refused (exit $rc)"; show "$T/log"; }
[ "$(sha256sum < "$D/metrics.csv")" = "$m1" ] || fail "the refused run of another experiment changed the run"
# --force: replaced; the foreign files stay
"$CLGRAD" run "$E" --set run.steps=7 --out "$D" --force --quiet > "$T/log" 2>&1 || { fail "--force rerun failed"; show "$T/log"; }
grep -q '"steps_done": 7' "$D/summary.json" || fail "--force did not replace the run"
untouched "foreign .npy files (--force)"

# ---- 3. default run-directory names never collide ----
mkdir -p "$T/cwd/runs"
# every name of the next minute is taken already (as if a run had started each second): runs must not reuse one
now=$(date +%s)
for ((i = 0; i < 90; i++)); do
  d=$T/cwd/runs/linreg_lr_below-$(date -d "@$((now + i))" +%Y%m%d-%H%M%S)
  mkdir -p "$d"
  precious "$d/mine.txt"
done
(cd "$T/cwd" && for s in 1 2 3; do "$CLGRAD" run "$E" --quiet --set run.steps=3 --set run.seed=$s > "$T/seq$s.log" 2>&1 || echo "seed $s failed"; done) > "$T/seq.out"
[ -s "$T/seq.out" ] && { fail "back-to-back default-named runs: $(cat "$T/seq.out")"; show "$T/seq1.log"; }
# and four at once
(cd "$T/cwd" && for s in 4 5 6 7; do "$CLGRAD" run "$E" --quiet --set run.steps=3 --set run.seed=$s > "$T/par$s.log" 2>&1 & done; wait)
untouched "taken default names"
n=$(find "$T/cwd/runs" -name manifest.json | wc -l)
seeds=$(cat "$T/cwd"/runs/*/manifest.json 2>/dev/null | grep -o '"seed": [0-9]*' | sort -u | wc -l)
[ "$n" = 7 ] && [ "$seeds" = 7 ] || fail "7 default-named runs gave $n run directories with $seeds distinct seeds"

# ---- 4. the run-directory lock ----
D=$T/r-lock
"$CLGRAD" run "$LONG" --set run.steps=1000000 --out "$D" --quiet > "$T/first.log" 2>&1 &
first=$!
PIDS+=("$first")
if wait_for "$D/metrics.csv" 300; then
  "$CLGRAD" run "$E" --set run.steps=3 --out "$D" --quiet > "$T/second.log" 2>&1
  rc=$?
  [ "$rc" != 0 ] && grep -q "in use by another clgrad run (pid $first" "$T/second.log" ||
    { fail "a second run of a directory in use was not refused (exit $rc)"; show "$T/second.log"; }
  "$CLGRAD" run "$E" --set run.steps=3 --out "$D" --force --quiet > "$T/second.log" 2>&1
  rc=$?
  [ "$rc" != 0 ] && grep -q "in use by another clgrad run" "$T/second.log" ||
    { fail "--force took a directory in use (exit $rc)"; show "$T/second.log"; }
  # a sweep whose point directory is in use does not start that point twice
  SW=$T/sw-lock
  "$CLGRAD" sweep "$LONG" --grid run.seed=1 --set run.steps=1000000 --out "$SW" --emit > "$T/emit" 2>&1 ||
    { fail "sweep --emit"; show "$T/emit"; }
  P=$(grep -o -- '--out [^ ]*' "$T/emit" | head -1 | cut -d' ' -f2)
  [ -n "$P" ] || fail "no point in the emitted commands"
  "$CLGRAD" run "$SW/rnn_adding_clip.ini" --set run.seed=1 --set run.steps=1000000 --out "$P" --quiet > "$T/point.log" 2>&1 &
  point=$!
  PIDS+=("$point")
  if wait_for "$P/metrics.csv" 300; then
    timeout 300 "$CLGRAD" sweep "$LONG" --grid run.seed=1 --set run.steps=1000000 --out "$SW" > "$T/sweep.log" 2>&1
    rc=$?
    [ "$rc" != 0 ] && grep -q "in use by another clgrad run" "$T/sweep.log" ||
      { fail "a sweep started a point whose directory is in use (exit $rc)"; show "$T/sweep.log"; }
    [ -e "$P/run.log" ] && fail "the sweep wrote run.log into a point in use"
    kill -INT "$point"
  else
    fail "the point's run did not start"; show "$T/point.log"
  fi
  wait "$point"
  kill -INT "$first"
  wait "$first"
  rc=$?
  [ "$rc" = 130 ] && grep -q '"status": "interrupted"' "$D/summary.json" && grep -q '"status": "interrupted"' "$D/manifest.json" ||
    { fail "the first run's outputs are not those of an interrupted run (exit $rc)"; show "$T/first.log"; }
  [ -e "$D/.clgrad-lock" ] && fail "the lock file is left after the run"
  "$CLGRAD" compare "$D" "$D" > "$T/cmp.log" 2>&1 || { fail "compare of the locked-then-finished run"; show "$T/cmp.log"; }
else
  fail "the first run did not start"; show "$T/first.log"
fi

# ---- 5. symlinks planted in a sweep directory ----
SW=$T/sw-plant
"$CLGRAD" sweep "$E" --grid optim.lr=0.5,0.6 --set run.steps=3 --out "$SW" --emit > "$T/emit" 2>&1 || { fail "sweep --emit"; show "$T/emit"; }
P0=$(grep -o -- '--out [^ ]*' "$T/emit" | sed -n 1p | cut -d' ' -f2) P1=$(grep -o -- '--out [^ ]*' "$T/emit" | sed -n 2p | cut -d' ' -f2)
P0=${P0##*/} P1=${P1##*/}
[ -n "$P0" ] && [ -n "$P1" ] || fail "no points in the emitted commands"
precious "$T/outside/runlog-target"
mkdir -p "$T/outside/pointdir"
precious "$T/outside/pointdir/keep.txt"
mkdir -p "$SW/$P0"
ln -s "$T/outside/runlog-target" "$SW/$P0/run.log"
ln -s "$T/outside/pointdir" "$SW/$P1"
"$CLGRAD" sweep "$E" --grid optim.lr=0.5,0.6 --set run.steps=3 --out "$SW" --quiet > "$T/sweep.log" 2>&1
untouched "sweep: run.log and a point directory planted as symlinks"
[ -z "$(ls -A "$T/outside/pointdir" | grep -v keep.txt)" ] || fail "the sweep wrote into a symlinked point directory"
grep -q "$P1.*symbolic link" "$T/sweep.log" && grep -q "$P0.*run.log" "$T/sweep.log" ||
  { fail "the sweep did not report the planted symlinks"; show "$T/sweep.log"; }
precious "$T/outside/lock-target"
SW=$T/sw-lockplant
mkdir -p "$SW"
ln -s "$T/outside/lock-target" "$SW/.sweep.lock"
"$CLGRAD" sweep "$E" --grid optim.lr=0.5 --set run.steps=3 --out "$SW" --quiet > "$T/sweep.log" 2>&1
rc=$?
[ "$rc" != 0 ] && grep -q ".sweep.lock" "$T/sweep.log" || { fail "a symlinked .sweep.lock was used (exit $rc)"; show "$T/sweep.log"; }
untouched "sweep: .sweep.lock planted as a symlink"

# ---- 6. the kernel cache: only one no one else can write ----
C=$T/cache
mkdir -p "$C"
chmod 700 "$C"
CLGRAD_CACHE_DIR=$C "$CLGRAD" run "$E" --set run.steps=5 --out "$T/c-ref" --quiet > "$T/log" 2>&1 || { fail "warming the cache"; show "$T/log"; }
grep -q "kernel cache" "$T/log" && { fail "a warning with a sound cache"; show "$T/log"; }
ref=$(grep final_train_loss "$T/c-ref/summary.json")
chk_cache() { # chk_cache NAME PATTERN: a run with $C warns /PATTERN/ and computes the same result
  CLGRAD_CACHE_DIR=$C "$CLGRAD" run "$E" --set run.steps=5 --out "$T/c-$1" --quiet > "$T/log" 2>&1 || { fail "cache $1: run failed"; show "$T/log"; }
  grep -q "warning:.*$2" "$T/log" || { fail "cache $1: no warning /$2/"; show "$T/log"; }
  [ "$(grep final_train_loss "$T/c-$1/summary.json" 2>/dev/null)" = "$ref" ] || fail "cache $1: another result"
}
chmod 777 "$C"
chk_cache dir777 "not using $C (.*writable by group or others)"
chmod 700 "$C"
entry=$(ls "$C"/*.bin | head -1)
chmod 666 "$entry"
chk_cache entry666 "untrusted entry"
precious "$T/outside/evil.bin"
entry=$(ls "$C"/*.bin | head -1)
rm -f "$entry"
ln -s "$T/outside/evil.bin" "$entry"
chk_cache symlink "untrusted entry.*symbolic link"
untouched "cache entry planted as a symlink"
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
  entry=$(ls "$C"/*.bin | head -1)
  chown nobody "$entry"
  chk_cache foreign "untrusted entry.*owned by another user"
fi

if [ "$fails" -gt 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all file-system checks passed"
