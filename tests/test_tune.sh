#!/usr/bin/env bash
# test_tune.sh (device suite): `clgrad tune` end to end on the test device, in
# a cache directory of its own (a copy of the suite's kernel cache, so nothing
# is recompiled but the candidates' matmul.cl, and the shared cache never gets
# a tune file):
#   - `tune --quick` writes tune-<fingerprint>.ini; `tune --show` and a run's
#     manifest (gemm_variant) then say the parameters come from the file;
#   - two tuning configurations, and the tune file, give bit-identical training
#     runs (an MLP and an RNN experiment, 20 steps; `clgrad compare --json`);
#   - a bad $CLGRAD_TUNE fails the run with a message; CLGRAD_TUNE=off is the built-in set;
#   - `tune --reset` removes the tune file and nothing else in the directory.
# usage: test_tune.sh /path/to/clgrad
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
SHARED=${CLGRAD_CACHE_DIR:-}
T=$(mktemp -d /tmp/clgrad-test-tune-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CLGRAD_CACHE_DIR=$T/cache
mkdir -m 0755 "$CLGRAD_CACHE_DIR"
[ -n "$SHARED" ] && cp -p "$SHARED"/*.bin "$CLGRAD_CACHE_DIR"/ 2>/dev/null
unset CLGRAD_TUNE
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$CLGRAD" tune --quick >"$T/tune.out" 2>&1 || { fail "clgrad tune --quick"; cat "$T/tune.out"; }
grep -q "same bits" "$T/tune.out" || fail "tune --quick printed no checked candidate"
! grep -q "BITS DIFFER" "$T/tune.out" || fail "a candidate's bits differ from the defaults'"
files=$(ls "$CLGRAD_CACHE_DIR"/tune-*.ini 2>/dev/null | wc -l)
[ "$files" = 1 ] && echo "ok: tune --quick wrote $(basename "$CLGRAD_CACHE_DIR"/tune-*.ini)" || fail "$files tune files"
grep -q "^cpu_mr = " "$CLGRAD_CACHE_DIR"/tune-*.ini || fail "the tune file has no cpu_mr"
"$CLGRAD" tune --show | grep -q "(from file)" && echo "ok: tune --show: from file" || fail "tune --show does not use the file"

# run EXP OUT [env...]: the experiment shortened to 20 steps
run() {
  local exp=$1 out=$2; shift 2
  env "$@" "$CLGRAD" run "$ROOT/experiments/$exp.ini" --set run.steps=20 --set run.log_every=1 --quiet --out "$out" \
    >>"$T/log" 2>&1 || { fail "clgrad run $exp ($*)"; tail -5 "$T/log"; }
}
same() {
  if "$CLGRAD" compare --json "$1" "$2" 2>>"$T/log" | grep -q '^  "bit_identical": true'; then
    echo "ok: $3: bit-identical"
  else
    fail "$3: not bit-identical"
    "$CLGRAD" compare --rtol 0 --atol 0 "$1" "$2" 2>&1 | grep -E "first difference|DIFFER" | head -3
  fi
}
for e in relu30_he rnn_adding_clip; do
  run "$e" "$T/$e.off" CLGRAD_TUNE=off
  run "$e" "$T/$e.b" CLGRAD_TUNE=cpu_mr=12,cpu_nw=2,cpu_direct_max=0,cpu_pack_a_min=0
  run "$e" "$T/$e.file"
  same "$T/$e.off" "$T/$e.b" "$e: tuning off vs cpu_mr=12,cpu_nw=2, always packed"
  same "$T/$e.off" "$T/$e.file" "$e: tuning off vs the tune file"
  grep -q '"gemm_variant": ".*tuning file: cpu_mr=' "$T/$e.file/manifest.json" && echo "ok: $e: manifest names the tune file" ||
    fail "$e: the manifest does not name the tune file"
  grep -q '"gemm_variant": ".*tuning builtin: cpu_mr=6,cpu_nw=1,' "$T/$e.off/manifest.json" || fail "$e: CLGRAD_TUNE=off is not the built-in set"
done

if CLGRAD_TUNE=bogus=1 "$CLGRAD" run "$ROOT/experiments/relu30_he.ini" --set run.steps=1 --quiet --out "$T/bad" >"$T/bad.out" 2>&1; then
  fail "CLGRAD_TUNE=bogus=1 was accepted"
else
  grep -q "unknown GEMM tuning key 'bogus'" "$T/bad.out" && echo "ok: a bad CLGRAD_TUNE fails with a message" || { fail "no message for a bad CLGRAD_TUNE"; cat "$T/bad.out"; }
fi

nbin=$(ls "$CLGRAD_CACHE_DIR" | grep -vc '^tune-')
echo keep >"$CLGRAD_CACHE_DIR/tune-notes.txt"
"$CLGRAD" tune --reset | grep -q "^removed " || fail "tune --reset did not say it removed the file"
[ -z "$(ls "$CLGRAD_CACHE_DIR"/tune-*.ini 2>/dev/null)" ] || fail "tune --reset left the tune file"
[ -f "$CLGRAD_CACHE_DIR/tune-notes.txt" ] && [ "$(ls "$CLGRAD_CACHE_DIR" | grep -vc '^tune-')" = "$nbin" ] &&
  echo "ok: tune --reset removed only the tune file" || fail "tune --reset removed other files"
"$CLGRAD" tune --reset | grep -q "^no tune file at " || fail "a second tune --reset"
"$CLGRAD" tune --show | grep -q "(from table)" || fail "after --reset the shipped table is not in use"

# a bad tune file is ignored (the shipped table instead), with a warning, never a failure
path=$("$CLGRAD" tune --show | sed -n 's/^tune file: //p')
printf 'cpu_mr = 99\n' >"$path"
"$CLGRAD" tune --show 2>"$T/warn" | grep -q "(from table)" && grep -q "tune file .* ignored: cpu_mr = 99 is outside 1..16" "$T/warn" &&
  echo "ok: a bad tune file is ignored with a warning" || { fail "a bad tune file"; cat "$T/warn"; }
rm -f "$path"

[ $fails = 0 ] && echo "test_tune: all checks passed"
exit $((fails > 0))
