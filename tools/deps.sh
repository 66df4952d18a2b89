#!/usr/bin/env bash
# deps.sh: install clgrad's Debian build and run dependencies when missing.
# Called by tools/main.sh and tools/test.sh; safe to run repeatedly.
set -euo pipefail
pkgs=(
  gcc libc6-dev pkg-config meson ninja-build   # compiler and build system
  ocl-icd-opencl-dev opencl-c-headers          # OpenCL ICD loader and headers
  pocl-opencl-icd                              # an OpenCL CPU device (works without a GPU)
  libclblast-dev                               # CLBlast, the second GEMM backend
  check                                        # unit-test framework
  clinfo                                       # to inspect OpenCL platforms when something is off
  oclgrind                                     # a second OpenCL implementation (simulator with memory/race checkers): tests/test_oclgrind.sh
  clang libclang-rt-14-dev                     # libFuzzer for the bounded fuzz pass (tools/fuzz.sh)
  slurm-wlm munge                              # a real Slurm for tests/test_slurm.sh (daemons started in a temp dir; no system config used)
  parallel                                     # GNU parallel, for tests/test_launchers.sh (the README's cluster recipes)
  chromium                                     # headless browser: tests/test_report.sh renders report.html as a person sees it
  python3-torch python3-numpy                  # PyTorch (CPU) for tests/test_torch_replay.sh: runs replayed in PyTorch (a test tool; clgrad never needs it)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
