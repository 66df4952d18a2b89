#!/usr/bin/env bash
# bench_vs.sh: clgrad's own kernels vs CLBlast vs PyTorch CPU, side by side in
# one run on this machine, with the ratios issue 6 sets as targets.
#
#   bash tools/bench_vs.sh [--device SPEC] [--quick] [--out DIR] [--threads N]
#
# 1. `clgrad bench --budget 20 --json DIR/clgrad.json` on the device (default: the
#    default device): limits, GEMM of both backends, training steps, start-up.
# 2. tools/torch_bench.py with N threads (default: the device's compute units,
#    which is the thread count PoCL uses) -> DIR/torch.json, when PyTorch is
#    installed (skipped otherwise: the ratios to PyTorch are then left out).
# 3. The ratio table: own GEMM / CLBlast and own / PyTorch matmul per size,
#    clgrad's step time vs PyTorch's per reference model, warm start.
# The two benchmarks run one after the other, not interleaved: on a shared
# machine, repeat the run and compare (the JSON files keep every number).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
clgrad="${CLGRAD:-$root/build/clgrad}"
device="" quick="" out="bench-vs" threads=""
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --quick) quick="--quick"; shift ;;
        --out) out="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "bench_vs.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$clgrad" ] || { echo "bench_vs.sh: $clgrad not built (run: meson setup build && ninja -C build)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_vs.sh: python3 is needed for the ratio table" >&2; exit 1; }
mkdir -p "$out"
dev_args=()
[ -n "$device" ] && dev_args=(--device "$device")

sizes="256,512,1024,2048"
[ -n "$quick" ] && sizes="256,512"
echo "== clgrad bench (${device:-default device}) =="
"$clgrad" bench "${dev_args[@]}" $quick --sizes "$sizes" --budget 20 --json "$out/clgrad.json"

if [ -z "$threads" ]; then
    threads=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['device'].get('compute_units', 1))" "$out/clgrad.json")
fi
echo "== PyTorch CPU, $threads thread(s) =="
models="tiny,medium,large,rnn"
[ -n "$quick" ] && models="tiny,medium,rnn"
rc=0
python3 "$here/torch_bench.py" --threads "$threads" --sizes "$sizes" --models "$models" \
    --reps "$([ -n "$quick" ] && echo 5 || echo 20)" --json "$out/torch.json" || rc=$?
if [ "$rc" -eq 77 ]; then
    echo "(PyTorch not installed: ratios to PyTorch left out)"
    rm -f "$out/torch.json"
elif [ "$rc" -ne 0 ]; then
    exit "$rc"
fi

python3 - "$out/clgrad.json" "$out/torch.json" <<'EOF'
import json, os, sys
c = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else None

def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)

def ratio(a, b):
    return a / b if a and b else None

print()
print(f"== side by side: {c['device']['name']} ({c['device']['platform']})"
      + (f" vs PyTorch {t['torch']} CPU, {t['threads']} thread(s)" if t else "") + " ==")
sq = {}
for g in c["gemm"]:
    if g["shape"] == "square" and g.get("gflops"):
        sq.setdefault(g["n"], {})[g["backend"]] = g["gflops"]
tg = {g["n"]: g["gflops"] for g in t["gemm"]} if t else {}
print(f"{'GEMM n':>8} {'own':>9} {'CLBlast':>9} {'torch':>9} {'own/CLBlast':>12} {'own/torch':>10}   GFLOP/s, medians")
for n in sorted(sq):
    own, clb, pt = sq[n].get("own"), sq[n].get("clblast"), tg.get(n)
    print(f"{n:>8} {fmt(own, '.1f'):>9} {fmt(clb, '.1f'):>9} {fmt(pt, '.1f'):>9} {fmt(ratio(own, clb)):>12} {fmt(ratio(own, pt)):>10}")
ts = {r["model"]: r["median_step_ms"] for r in t["train"]} if t else {}
print(f"{'model':>8} {'own ms':>9} {'CLBlast':>9} {'torch ms':>9} {'own/torch':>12} {'torch/own':>10}   ms per training step, medians")
steps = {}
for r in c["train"]:
    if r.get("median_step_ms"):
        steps.setdefault(r["model"], {})[r["backend"]] = r["median_step_ms"]
for m, v in steps.items():
    own, clb, pt = v.get("own"), v.get("clblast"), ts.get(m)
    print(f"{m:>8} {fmt(own, '.3f'):>9} {fmt(clb, '.3f'):>9} {fmt(pt, '.3f'):>9} {fmt(ratio(own, pt)):>12} {fmt(ratio(pt, own)):>10}")
warm = (c.get("startup") or {}).get("warm") or {}
print(f"warm-cache start to the first step: {fmt(warm.get('total_s'), '.3f')} s "
      f"(whole process {fmt(warm.get('process_s'), '.3f')} s)")

print("\n== issue 6 targets (PoCL) ==")
def verdict(ok):
    return "-" if ok is None else ("met" if ok else "NOT met")
own1k, clb1k, pt1k = sq.get(1024, {}).get("own"), sq.get(1024, {}).get("clblast"), tg.get(1024)
r = ratio(own1k, clb1k)
print(f"own GEMM >= 4x CLBlast at n=1024:        {fmt(r)}x   {verdict(None if r is None else r >= 4)}")
r = ratio(own1k, pt1k)
print(f"own GEMM >= 40% of PyTorch at n=1024:    {fmt(None if r is None else 100 * r, '.0f')}%   {verdict(None if r is None else r >= 0.4)}")
r = ratio(steps.get("large", {}).get("own"), ts.get("large"))
print(f"large MLP step <= 1.5x PyTorch:          {fmt(r)}x   {verdict(None if r is None else r <= 1.5)}")
r = ratio(ts.get("tiny"), steps.get("tiny", {}).get("own"))
print(f"tiny MLP step >= 5x faster than PyTorch: {fmt(r)}x   {verdict(None if r is None else r >= 5)}")
w = warm.get("total_s")
print(f"warm start to first step <= 0.3 s:       {fmt(w, '.3f')} s   {verdict(None if w is None else w <= 0.3)}")
EOF
