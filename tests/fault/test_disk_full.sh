#!/usr/bin/env bash
# test_disk_full.sh CLGRAD_EXE: a real full disk, on small tmpfs mounts
# (needs root and mount(2); skipped with status 77 when that is not allowed).
#   1. the disk fills during a run: clgrad stops with an error naming the file
#      and "No space left on device" (exit 1); summary.json and manifest.json
#      say failed; metrics.csv and layers.csv end on a whole row (every row has
#      the header's field count; steps are 1..k); the weights written before
#      are valid .npy files; no temporary files are left behind;
#   2. a disk already full when the run starts: fails up front (exit 1, "run
#      directory"), before any compute;
#   3. the kernel cache on a full disk: the run succeeds with a warning, no
#      temporary or partial entry is left, and a second run loads only valid
#      entries (no corrupt-entry warning).
set -u
CLGRAD=$(readlink -f "$1")
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-diskfull-XXXXXX)
M=$T/mnt
mkdir -p "$M"
if ! mount -t tmpfs -o size=256k tmpfs "$M" 2>/dev/null; then
  echo "test_disk_full: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): skipped"
  rm -rf "$T"
  exit 77
fi
cleanup() { umount "$M" 2>/dev/null; umount "$T/cache-mnt" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
E="$ROOT/experiments/linreg_lr_below.ini"

# well-formed CSV: every line has as many fields as the header; steps count 1..k
csv_whole() { # csv_whole FILE
  awk -F, 'NR == 1 { n = NF; next } NF != n { print FILENAME ": line " NR " has " NF " fields, header " n; bad = 1 }
           END { exit bad }' "$1" || fail "$1 does not end on a whole row"
  [ -z "$(tail -c 1 "$1")" ] || fail "$1 does not end with a newline"
}
npy_valid() { # npy_valid FILE: magic, header, and data size = shape
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'PY' || fail "$1 is not a valid .npy"
import sys, ast, struct
b = open(sys.argv[1], 'rb').read()
assert b[:6] == b'\x93NUMPY', 'magic'
hl = struct.unpack('<H', b[8:10])[0]
h = ast.literal_eval(b[10:10 + hl].decode())
n = 1
for s in h['shape']: n *= s
assert len(b) == 10 + hl + 4 * n, 'size'
PY
  else
    [ "$(head -c 6 "$1" | od -An -tx1 | tr -d ' ')" = 934e554d5059 ] || fail "$1 is not a .npy"
  fi
}

# 1. the disk fills during the run
"$CLGRAD" run "$E" --set run.steps=3000 --set run.eval_every=0 --out "$M/run" --quiet >"$T/log" 2>&1
st=$?
[ $st = 1 ] || fail "disk full during the run: exit $st, wanted 1"
grep -q "No space left on device" "$T/log" || { fail "no 'No space left on device' in the error"; tail -5 "$T/log"; }
grep -q '"status": "failed"' "$M/run/summary.json" 2>/dev/null || fail "summary.json missing or does not say failed"
grep -q '"error": ".*No space left' "$M/run/summary.json" 2>/dev/null || fail "summary.json has no error naming the full disk"
grep -q '"status": "failed"' "$M/run/manifest.json" 2>/dev/null || fail "manifest.json does not say failed"
for f in metrics.csv layers.csv; do [ -s "$M/run/$f" ] && csv_whole "$M/run/$f"; done
rows=$(($(wc -l < "$M/run/metrics.csv") - 1))
awk -F, 'NR > 1 && $1 != NR - 1 { exit 1 }' "$M/run/metrics.csv" || fail "metrics.csv steps are not 1..$rows"
[ "$rows" -lt 3000 ] || fail "the disk never filled (metrics.csv has every row): make the tmpfs smaller"
for f in "$M"/run/weights/init/*.npy; do npy_valid "$f"; done
left=$(find "$M" -name '*.tmp.*')
[ -z "$left" ] || fail "temporary files left behind: $left"
echo "disk full during the run: exit $st after $rows metric rows; $(grep -o '"error": "[^"]*' "$M/run/summary.json" | cut -c11-)"

# 2. a disk that is full before the run starts: fails up front
rm -rf "$M/run"
dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null
"$CLGRAD" run "$E" --set run.steps=5 --out "$M/run2" --quiet >"$T/log" 2>&1
st=$?
[ $st = 1 ] || fail "full disk before the run: exit $st, wanted 1"
grep -qE "run directory .*(No space left|not writable)" "$T/log" || { fail "full disk before the run: no clear error"; tail -3 "$T/log"; }
grep -q "running .* -> " "$T/log" && grep -q "^status:" "$T/log" && fail "a run went ahead on a full disk"
rm -f "$M/fill"

# 3. the kernel cache on a full disk
mkdir -p "$T/cache-mnt"
if mount -t tmpfs -o size=300k tmpfs "$T/cache-mnt"; then
  CLGRAD_CACHE_DIR=$T/cache-mnt/c "$CLGRAD" run "$E" --set run.steps=2 --out "$T/run3" --quiet >"$T/log" 2>&1
  st=$?
  [ $st = 0 ] || { fail "cache on a full disk: exit $st, wanted 0"; tail -5 "$T/log"; }
  grep -q "kernel cache: .*No space left on device" "$T/log" || fail "cache on a full disk: no warning"
  left=$(find "$T/cache-mnt" -name '*.tmp.*')
  [ -z "$left" ] || fail "cache: temporary files left behind: $left"
  CLGRAD_CACHE_DIR=$T/cache-mnt/c "$CLGRAD" run "$E" --set run.steps=2 --out "$T/run4" --quiet >"$T/log" 2>&1
  st=$?
  [ $st = 0 ] || fail "second run on the full cache: exit $st"
  grep -q "corrupt" "$T/log" && fail "second run found a corrupt cache entry"
fi

[ $fails = 0 ] && echo "test_disk_full: all checks passed"
exit $((fails > 0))
