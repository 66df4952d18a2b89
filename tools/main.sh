#!/usr/bin/env bash
# main.sh: the main job, from a fresh Debian machine.
# Installs missing dependencies, builds clgrad into build/, lists the OpenCL
# devices and runs `clgrad selfcheck` on the default device (or
# $CLGRAD_DEVICE).  Extra arguments go to selfcheck (e.g. --device 0:0).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
build/clgrad devices
build/clgrad selfcheck "$@"
