#!/usr/bin/env bash
# test_install.sh (unit suite): `meson install --destdir` puts the executable,
# the library, the headers, the shipped experiments (DATADIR/clgrad/experiments)
# and the man page (MANDIR/man1/clgrad.1) in place.
# usage: test_install.sh (CLGRAD_BUILD_ROOT, CLGRAD_SOURCE_ROOT set by meson)
set -u
B=${CLGRAD_BUILD_ROOT:?}
ROOT=${CLGRAD_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/clgrad-test-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
meson install -C "$B" --destdir "$T/dest" --no-rebuild --quiet >"$T/log" 2>&1 || { fail "meson install failed"; cat "$T/log"; }
prefix=$(meson introspect "$B" --buildoptions | python3 -c 'import json,sys
o={x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["datadir"], o["mandir"], o["bindir"])')
read -r P DATA MAN BIN <<<"$prefix"
case $DATA in /*) ;; *) DATA=$P/$DATA;; esac
case $MAN in /*) ;; *) MAN=$P/$MAN;; esac
case $BIN in /*) ;; *) BIN=$P/$BIN;; esac
[ -x "$T/dest$BIN/clgrad" ] || fail "no $BIN/clgrad"
[ -s "$T/dest$MAN/man1/clgrad.1" ] || fail "no man page under $MAN/man1"
n=0
for f in "$ROOT"/experiments/*.ini; do
  [ -s "$T/dest$DATA/clgrad/experiments/$(basename "$f")" ] || fail "experiment $(basename "$f") not installed"
  n=$((n + 1))
done
[ $n -gt 0 ] || fail "no experiments in the source tree?"
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww "$T/dest$MAN/man1/clgrad.1" 2>"$T/warn" >"$T/man.txt" || fail "groff failed on the man page"
  [ ! -s "$T/warn" ] || { fail "groff warnings on the man page"; cat "$T/warn"; }
  grep -q "selfcheck" "$T/man.txt" || fail "the man page does not cover selfcheck"
fi
[ $fails = 0 ] && echo "test_install: all checks passed"
exit $((fails > 0))
