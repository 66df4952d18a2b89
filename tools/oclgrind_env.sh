#!/usr/bin/env bash
# oclgrind_env.sh: expose Oclgrind (an OpenCL device simulator with its own
# math builtins and memory, data-race and API checkers) to the OpenCL ICD
# loader without touching /etc: DIR/vendors gets copies of the installed
# vendor files (from $OCL_ICD_VENDORS when that is a directory, else
# /etc/OpenCL/vendors) plus oclgrind.icd naming Oclgrind's ICD library.
# Prints the line to evaluate; exits 77 (the meson skip code) with the reason
# on stderr when the library is not installed (Debian package `oclgrind`).
#   eval "$(tools/oclgrind_env.sh DIR)"      # then: clgrad devices
# Oclgrind claims every device type (CPU, GPU, accelerator) and comes first,
# so with it exposed `--device cpu` and the default device pick Oclgrind:
# name devices explicitly (--device Oclgrind, --device Portable for PoCL).
# $OCLGRIND_ICD_LIB overrides the library path.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: eval \"\$($0 DIR)\"" >&2; exit 2; }
lib=${OCLGRIND_ICD_LIB:-/usr/lib/oclgrind/liboclgrind-rt-icd.so}
if [ ! -f "$lib" ]; then
  echo "oclgrind_env.sh: $lib not found (install the Debian package oclgrind)" >&2
  exit 77
fi
src=/etc/OpenCL/vendors
[ -n "${OCL_ICD_VENDORS:-}" ] && [ -d "$OCL_ICD_VENDORS" ] && src=$OCL_ICD_VENDORS
dir=$1/vendors
mkdir -p "$dir"
for f in "$src"/*.icd; do
  [ -e "$f" ] || continue
  [ "$(basename "$f")" = oclgrind.icd ] || cp "$f" "$dir/"
done
echo "$lib" > "$dir/oclgrind.icd"
dir=$(cd "$dir" && pwd)
printf 'export OCL_ICD_VENDORS=%q\n' "$dir"
