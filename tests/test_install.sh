#!/usr/bin/env bash
# test_install.sh (unit suite): `meson install --destdir` puts the executable,
# the library, the headers, the shipped experiments (DATADIR/clgrad/experiments)
# and the man page (MANDIR/man1/clgrad.1) in place.  The installed library is
# usable from C: every installed header compiles on its own, examples/hello.c
# compiles and links against it with the flags of the installed clgrad.pc
# only (and runs, when an OpenCL device is there);
# the installed headers declare no test scaffolding (float64 references,
# replicas, test RNG, self-check internals) and no CLI entry point, and
# libclgrad.so exports none of them.
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
print(o["prefix"], o["datadir"], o["mandir"], o["bindir"], o["libdir"], o["includedir"])')
read -r P DATA MAN BIN LIB INC <<<"$prefix"
case $DATA in /*) ;; *) DATA=$P/$DATA;; esac
case $MAN in /*) ;; *) MAN=$P/$MAN;; esac
case $BIN in /*) ;; *) BIN=$P/$BIN;; esac
case $LIB in /*) ;; *) LIB=$P/$LIB;; esac
case $INC in /*) ;; *) INC=$P/$INC;; esac
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

# the public API: no test scaffolding or CLI in the installed headers or the library's exports
[ -s "$T/dest$INC/clgrad.h" ] || fail "no $INC/clgrad.h"
for h in sweep.h; do [ ! -e "$T/dest$INC/clgrad/$h" ] || fail "$INC/clgrad/$h is installed (private to the executable)"; done
if grep -nE '\b(clgrad_\w*_ref\w*|clgrad_\w*_replica|clgrad_testrng\w*|clgrad_selfcheck_\w+|clgrad_compare|clgrad_cli_\w+)\s*\(' \
    "$T/dest$INC/clgrad.h" "$T/dest$INC"/clgrad/*.h >"$T/decl"; then
  fail "installed headers declare test scaffolding or CLI functions:"; sed 's/^/    /' "$T/decl"
fi
so=$(ls "$T/dest$LIB"/libclgrad.so* 2>/dev/null | head -1)
if [ -z "$so" ]; then fail "no libclgrad.so under $LIB"
elif command -v nm >/dev/null; then
  nm -D --defined-only "$so" | awk '{print $NF}' >"$T/syms"
  grep -q '^clgrad_run$' "$T/syms" || fail "libclgrad.so does not export clgrad_run (nm broken?)"
  if grep -E '_ref($|_)|_replica$|testrng|^clgrad_selfcheck_|^clgrad_compare$|^clgrad_cli_|^clgrad_(bench_run|bench_json|plot_|runs_compare|compare_|sweep_)' \
      "$T/syms" >"$T/bad"; then
    fail "libclgrad.so exports test scaffolding or CLI code:"; sed 's/^/    /' "$T/bad"
  fi
fi

# examples/hello.c built against the installed library with its pkg-config flags only
pc="$T/dest$LIB/pkgconfig"
[ -s "$pc/clgrad.pc" ] || fail "no $LIB/pkgconfig/clgrad.pc"
if command -v pkg-config >/dev/null && [ -s "$pc/clgrad.pc" ]; then
  flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$T/dest$P" --cflags --libs clgrad) ||
    fail "pkg-config --cflags --libs clgrad failed"
  case " $flags " in *" -I$T/dest"*) ;; *) fail "pkg-config flags do not point into the install: $flags";; esac
  for h in "$T/dest$INC"/clgrad.h "$T/dest$INC"/clgrad/*.h; do # each installed header compiles on its own
    n=${h#"$T/dest$INC"/}
    printf '#include <%s>\nint main(void) { return 0; }\n' "$n" >"$T/h.c"
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -fsyntax-only "$T/h.c" $flags 2>"$T/cc" ||
      { fail "the installed <$n> does not compile on its own"; head -5 "$T/cc"; }
  done
  # a library built with the sanitizers (tools/test.sh's second pass) needs their runtime first in the program
  san=""
  ldd "$T/dest$LIB/libclgrad.so" 2>/dev/null | grep -q libasan && san="-fsanitize=address,undefined"
  ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san "$ROOT/examples/hello.c" $flags -o "$T/hello" 2>"$T/cc" ||
    { fail "examples/hello.c does not build against the installed library: ${CC:-cc} ... $flags"; cat "$T/cc"; }
  if [ -x "$T/hello" ]; then
    if "$B/clgrad" devices 2>/dev/null | grep -q '^default device:'; then
      LD_LIBRARY_PATH="$T/dest$LIB" "$T/hello" "$T/hello-run" >"$T/hello.out" 2>&1 ||
        { fail "the installed hello failed"; cat "$T/hello.out"; }
      grep -qE '^step +30/30 +loss [0-9.]+' "$T/hello.out" || { fail "hello printed no loss"; cat "$T/hello.out"; }
      grep -q 'status completed' "$T/hello.out" || { fail "hello's run did not complete"; cat "$T/hello.out"; }
      LD_LIBRARY_PATH="$T/dest$LIB" ldd "$T/hello" | grep -q "$T/dest$LIB/libclgrad.so" ||
        fail "hello did not load the installed libclgrad.so"
    else
      echo "test_install: no OpenCL device: the installed hello is built, not run"
    fi
  fi
else
  echo "test_install: no pkg-config: the example is not built against the install"
fi
[ $fails = 0 ] && echo "test_install: all checks passed"
exit $((fails > 0))
