#!/usr/bin/env bash
# cross_device.sh: is the same-bits guarantee true between two devices?
# Prints both devices' numerics fingerprints (clgrad selfcheck), then runs
# every shipped experiment (or those named) for STEPS steps, every step
# logged, on both devices at once (--device A,B) and asks `clgrad compare`
# whether the two runs are bit-identical (it names the first differing step,
# file and metric when they are not).  Exit 0 when everything is identical.
#
# usage: tools/cross_device.sh [--clgrad PATH] [--steps N] [--out DIR] DEVICE_A DEVICE_B [EXPERIMENT ...]
#   e.g. tools/cross_device.sh NVIDIA cpu
#        POCL_DEVICES="pthread basic" tools/cross_device.sh pthread basic relu30_he
set -u
cd "$(dirname "$0")/.."
CLGRAD=build/clgrad STEPS=100 OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --clgrad) CLGRAD=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
A=$1 B=$2; shift 2
exps=${*:-$(cd experiments && grep -L "^\[sweep\]" *.ini | sed 's/\.ini$//')} # not the sweep files
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/clgrad-cross-XXXXXX)
mkdir -p "$OUT"

fails=0
fa=$("$CLGRAD" selfcheck --no-timing --device "$A" 2>&1 | tee "$OUT/selfcheck_a.txt" | sed -n 's/^numerics fingerprint: \([0-9a-f]*\).*/\1/p')
fb=$("$CLGRAD" selfcheck --no-timing --device "$B" 2>&1 | tee "$OUT/selfcheck_b.txt" | sed -n 's/^numerics fingerprint: \([0-9a-f]*\).*/\1/p')
echo "fingerprint $A: ${fa:-none} ($(grep -E '^(PASS|FAIL)' "$OUT/selfcheck_a.txt"))"
echo "fingerprint $B: ${fb:-none} ($(grep -E '^(PASS|FAIL)' "$OUT/selfcheck_b.txt"))"
if [ -n "$fa" ] && [ "$fa" = "$fb" ]; then echo "fingerprints: EQUAL"; else echo "fingerprints: DIFFER"; fails=$((fails + 1)); fi
if [ "$fa" != "$fb" ]; then
  paste <(grep -A9 '^numerics fingerprint' "$OUT/selfcheck_a.txt") <(grep -A9 '^numerics fingerprint' "$OUT/selfcheck_b.txt") | sed 's/^/  /'
fi

printf '%-28s %s\n' experiment "result ($A vs $B, $STEPS steps)"
for e in $exps; do
  d="$OUT/$e"
  rm -rf "$d"
  if ! "$CLGRAD" run "experiments/$e.ini" --device "$A,$B" --set run.steps="$STEPS" --set run.log_every=1 \
       --quiet --out "$d" >"$OUT/$e.log" 2>&1; then
    printf '%-28s %s\n' "$e" "RUN FAILED (see $OUT/$e.log)"; fails=$((fails + 1)); continue
  fi
  dirs=$(ls -d "$d"/*/ | head -2)
  if "$CLGRAD" compare --rtol 0 --atol 0 $dirs >"$OUT/$e.compare.txt" 2>&1 &&
     grep -q "BIT-IDENTICAL to run 1" "$OUT/$e.compare.txt"; then
    printf '%-28s %s\n' "$e" "bit-identical"
  else
    printf '%-28s %s\n' "$e" "$(grep -m1 'first difference' "$OUT/$e.compare.txt" | sed 's/^ *=> //')"
    fails=$((fails + 1))
  fi
done
echo "outputs: $OUT"
exit $((fails > 0))
