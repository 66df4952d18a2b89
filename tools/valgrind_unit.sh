#!/usr/bin/env bash
# valgrind_unit.sh [BUILD_DIR]: the host-only (unit) test suite under
# valgrind memcheck: any invalid access, use of uninitialised memory or leak
# (definite, indirect or possible) fails the test.  Builds BUILD_DIR (default
# build-valgrind, a plain debug build: no sanitizers, which do not mix with
# valgrind) and runs `meson test --suite unit` through valgrind.  Check runs
# each test in-process (CK_FORK=no) so every leak is reported against the
# test program.  Needs the Debian package valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build-valgrind}
command -v valgrind >/dev/null || { echo "valgrind_unit.sh: valgrind is not installed (apt-get install valgrind)"; exit 1; }
if [ ! -d "$DIR" ]; then meson setup "$DIR" --buildtype=debug >/dev/null; fi
ninja -C "$DIR" >/dev/null
VG="valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible"
VG="$VG --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes --num-callers=30"
[ -f tests/valgrind.supp ] && VG="$VG --suppressions=$PWD/tests/valgrind.supp"
CK_FORK=no meson test -C "$DIR" --suite unit --wrap="$VG" --timeout-multiplier=20 --print-errorlogs \
  --num-processes "${CLGRAD_TEST_JOBS:-2}"
echo "valgrind_unit.sh: the unit suite is clean under memcheck"
