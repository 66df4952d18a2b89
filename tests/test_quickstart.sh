#!/usr/bin/env bash
# test_quickstart.sh CLGRAD: the README's quick start works as written.  Takes
# the command lines of the sh block after "The point in three steps" in
# README.md and runs them one by one, as a person would, in a directory laid
# out like a fresh clone after tools/main.sh (experiments/, build/clgrad = the
# binary under test, no runs/): the runs, `clgrad compare` (exit status 1:
# the runs differ) and `clgrad plot`; then checks the report is where the
# README says, with the two outcomes.
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-quickstart-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$T/clone/build"
ln -s "$ROOT/experiments" "$T/clone/experiments"
ln -s "$(cd "$(dirname "$CLGRAD")" && pwd)/$(basename "$CLGRAD")" "$T/clone/build/clgrad"
awk '/^The point in three steps/ { on = 1 } on && /^```sh$/ { inb = 1; next } inb && /^```$/ { exit } inb { print }' \
    "$ROOT/README.md" >"$T/lines"
[ "$(grep -c 'build/clgrad' "$T/lines")" = 3 ] || { cat "$T/lines"; fail "the quick start should be three command lines"; }
grep -q '^The report is `runs/report/report.html`' "$ROOT/README.md" || fail "README does not say where the report is"
i=0
while IFS= read -r line; do
    i=$((i + 1))
    (cd "$T/clone" && bash -c "$line") >"$T/out$i" 2>&1
    rc=$?
    want=0
    case "$line" in *" compare "*) want=1 ;; esac
    [ "$rc" = "$want" ] || { cat "$T/out$i"; fail "line $i exited $rc, expected $want: $line"; }
done <"$T/lines"
r="$T/clone/runs/report/report.html"
[ -s "$r" ] || fail "no $r"
grep -q 'class="status-diverged"' "$r" && grep -q 'class="status-completed"' "$r" || fail "report without both outcomes"
grep -q '<th>clip.kind</th><td class="differs">none</td>' "$r" || fail "clip.kind not among the differing settings"
grep -q "DIFFER" "$T/out2" || fail "compare did not say the runs differ"
echo "PASS"
