#!/usr/bin/env bash
# test_launchers.sh (device suite): `clgrad sweep --emit` run by other engines,
# exactly as the README's "Running on a cluster" recipes do it:
#   GNU parallel with --joblog, stopped half way and finished with --resume
#   (no point runs twice), and xargs -P;
# then `clgrad sweep --merge`: summary.csv the same as a plain local sweep's
# (but the timing column) and every point bit-identical to it
# (`clgrad compare --rtol 0 --atol 0`).  GNU parallel missing: that part is
# skipped outside CI (tools/deps.sh installs it).
# usage: test_launchers.sh /path/to/clgrad
set -u
CLGRAD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=${CLGRAD_SOURCE_ROOT:?}
EXP=$ROOT/experiments/linreg_lr_below.ini
ARGS=(--grid optim.lr=0.3,0.8,1.5 --grid run.seed=1,2 --set run.steps=5 --device pthread)
T=$(mktemp -d /tmp/clgrad-test-launchers-XXXXXX)
trap 'rm -rf "$T"' EXIT
unset SLURM_ARRAY_TASK_ID SLURM_PROCID SLURM_NTASKS SLURM_STEP_ID OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE PMI_RANK PMI_SIZE
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cd "$T" || exit 1

"$CLGRAD" sweep "$EXP" "${ARGS[@]}" --out local --quiet > local.out 2>&1 || { fail "local sweep failed"; cat local.out; }

no_timing() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ms_per_step") c = i }
           { out = ""; for (i = 1; i <= NF; i++) if (i != c) out = out (out == "" && i == 1 ? "" : ",") $i; print out }' "$1"
}
check() { # check DIR LABEL
  local d=$1 what=$2
  "$CLGRAD" sweep --merge "$d" > merge.out 2>&1 || { fail "$what: merge failed"; cat merge.out; }
  cat merge.out
  diff <(no_timing local/summary.csv) <(no_timing "$d/summary.csv") > diff.out ||
    { fail "$what: summary.csv differs from the local sweep's:"; cat diff.out; }
  for p in local/[0-9][0-9][0-9]-*/; do
    p=$(basename "$p")
    "$CLGRAD" compare "local/$p" "$d/$p" --rtol 0 --atol 0 > cmp.out 2>&1 ||
      { fail "$what: $p is not bit-identical to the local run"; head -30 cmp.out; }
  done
}

# --emit: one command per point, absolute paths, runnable from anywhere
"$CLGRAD" sweep "$EXP" "${ARGS[@]}" --out par --emit > cmds.txt 2> emit.err || { fail "--emit failed"; cat emit.err; }
[ "$(grep -c '' cmds.txt)" = 6 ] || { fail "--emit printed $(grep -c '' cmds.txt) lines, wanted 6"; cat cmds.txt; }
grep -q "^$CLGRAD run $T/par/linreg_lr_below.ini --set optim.lr=0.8 --set run.seed=2 --set run.steps=5 --out $T/par/003-optim.lr=0.8-run.seed=2 --quiet --force --device pthread\$" cmds.txt ||
  { fail "--emit: unexpected command for point 3"; cat cmds.txt; }

# GNU parallel: half, then --resume (the README recipe)
if command -v parallel > /dev/null; then
  head -n 3 cmds.txt | parallel --will-cite --joblog par.joblog -j 2 > par1.out 2>&1 || { fail "parallel failed"; cat par1.out; }
  parallel --will-cite --joblog par.joblog --resume -j 2 < cmds.txt > par2.out 2>&1 || { fail "parallel --resume failed"; cat par2.out; }
  [ "$(grep -c '' par.joblog)" = 7 ] || { fail "the joblog should hold 6 jobs (each once)"; cat par.joblog; }
  awk -F'\t' 'NR > 1 && $7 != 0 { bad = 1 } END { exit bad }' par.joblog || { fail "a job exited non-zero"; cat par.joblog; }
  check par "GNU parallel"
elif [ "${CI:-}" = true ]; then
  fail "GNU parallel is not installed (tools/deps.sh installs it)"
else
  echo "SKIP (part): GNU parallel is not installed"
fi

# xargs -P (no GNU parallel needed)
"$CLGRAD" sweep "$EXP" "${ARGS[@]}" --out xa --emit | tr '\n' '\0' | xargs -0 -n 1 -P 2 sh -c > xa.out 2>&1 ||
  { fail "xargs failed"; cat xa.out; }
check xa "xargs -P"

[ $fails = 0 ] && echo "test_launchers: all checks passed"
exit $((fails > 0))
