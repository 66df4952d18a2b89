#!/usr/bin/env bash
# main.sh: the main job, from a fresh Debian machine.
# Installs missing dependencies, builds clgrad into build/, lists the OpenCL
# devices, runs `clgrad selfcheck` and then the shipped experiment
# experiments/rnn_adding_noclip.ini (a vanilla RNN whose gradients explode
# through time) on the default device ($CLGRAD_DEVICE, or pass --device SPEC),
# writing its run directory under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
build/clgrad devices
build/clgrad selfcheck --no-timing "$@"
out="runs/rnn_adding_noclip-$(date +%Y%m%d-%H%M%S)"
build/clgrad run experiments/rnn_adding_noclip.ini --out "$out" --quiet "$@"
echo
echo "The run directory is $out/: metrics.csv (loss, gradient norm per step),"
echo "layers.csv (per-layer gradient norms), timesteps.csv (||dL/dh_t|| through time),"
echo "summary.json (status, divergence step and layer), weights/."
echo "Compare with clipping: build/clgrad run experiments/rnn_adding_clip.ini"
