#!/usr/bin/env bash
# bench_vs.sh: clgrad's own kernels vs CLBlast vs PyTorch (CPU, or CUDA on a
# GPU), side by side in one run on this machine, with issue 13's targets.
#
#   bash tools/bench_vs.sh [--device SPEC] [--quick] [--out DIR] [--threads N]
#   TORCH_PYTHON=/path/to/venv/bin/python bash tools/bench_vs.sh ...
#
# 1. `clgrad bench --budget 20 --json DIR/clgrad.json` on the device (default: the
#    default device): limits, GEMM of both backends (square sizes up to 2048;
#    up to 8192 on a GPU), training steps of the reference models bench runs
#    by default (tiny, medium, large, rnn, lstm, gru; xl on GPUs; --quick: no
#    large, no xl), start-up.
# 2. tools/torch_bench.py, run by $TORCH_PYTHON (default python3), on the same
#    models and sizes -> DIR/torch.json: on CUDA (TF32 off) when the clgrad
#    device is a GPU and torch sees one, else on the CPU with N threads
#    (default: the device's compute units, the thread count PoCL uses).
#    Skipped when PyTorch is not installed (the ratios to PyTorch are then "-").
# 3. The ratio table (tools/bench_vs_table.py): own GEMM / CLBlast and own /
#    PyTorch matmul per size, step times per model with the launches per step,
#    warm start, and issue 13's targets for the device's kind, met or not.
# The two benchmarks run one after the other, not interleaved: on a shared
# machine, repeat the run and compare (the JSON files keep every number).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
clgrad="${CLGRAD:-$root/build/clgrad}"
torch_py="${TORCH_PYTHON:-python3}"
device="" quick="" out="bench-vs" threads=""
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --quick) quick="--quick"; shift ;;
        --out) out="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "bench_vs.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$clgrad" ] || { echo "bench_vs.sh: $clgrad not built (run: meson setup build && ninja -C build)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_vs.sh: python3 is needed for the ratio table" >&2; exit 1; }
mkdir -p "$out"
dev_args=()
[ -n "$device" ] && dev_args=(--device "$device")

# the device's kind (the selected entry of `clgrad devices --json`)
kind=$("$clgrad" devices --json "${dev_args[@]}" | python3 -c \
    "import json,sys; print(next((d['type'] for d in json.load(sys.stdin) if d.get('selected')), 'cpu'))")
if [ "$kind" = gpu ]; then
    sizes="256,512,1024,2048,4096,8192"
    [ -n "$quick" ] && sizes="256,1024,4096"
else
    sizes="256,512,1024,2048"
    [ -n "$quick" ] && sizes="256,512"
fi
echo "== clgrad bench (${device:-default device}, $kind) =="
"$clgrad" bench "${dev_args[@]}" $quick --sizes "$sizes" --budget 20 --json "$out/clgrad.json"

# the same models as clgrad ran, on CUDA when both sides have a GPU
models=$(python3 -c "import json,sys; print(','.join(dict.fromkeys(r['model'] for r in json.load(open(sys.argv[1]))['train'])))" \
    "$out/clgrad.json")
tdev=cpu
if [ "$kind" = gpu ] && "$torch_py" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    tdev=cuda
fi
if [ -z "$threads" ]; then
    threads=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['device'].get('compute_units', 1))" "$out/clgrad.json")
fi
echo "== PyTorch ($torch_py) on $tdev$([ "$tdev" = cpu ] && echo ", $threads thread(s)") =="
rc=0
"$torch_py" "$here/torch_bench.py" --device "$tdev" --threads "$threads" --sizes "$sizes" --models "$models" \
    --reps "$([ -n "$quick" ] && echo 5 || echo 20)" --json "$out/torch.json" || rc=$?
if [ "$rc" -eq 77 ] || { [ "$rc" -eq 127 ] && ! command -v "$torch_py" >/dev/null; }; then
    echo "(PyTorch not installed for $torch_py: ratios to PyTorch left out)"
    rm -f "$out/torch.json"
elif [ "$rc" -ne 0 ]; then
    exit "$rc"
fi

python3 "$here/bench_vs_table.py" "$out/clgrad.json" "$out/torch.json"
