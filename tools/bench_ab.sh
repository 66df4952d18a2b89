#!/usr/bin/env bash
# bench_ab.sh: training-step times of two clgrad builds and PyTorch CPU, side by
# side: rounds that alternate A, B (and PyTorch) so that a shared machine's load
# falls on all of them alike; medians over the rounds.
#
#   bash tools/bench_ab.sh [--rounds R] [--models tiny,medium,rnn,lstm,gru] [--out DIR] A B
#
# A and B are clgrad executables (say, a build of the base commit and this one).
# A model that A's bench does not know is measured with B under
# B_ENV_BEFORE (default: CLGRAD_RECURRENT=steps CLGRAD_MLP_FUSED=0 CLGRAD_TUNE=off,
# the reference paths) and marked so.  PyTorch runs where $TORCH_PYTHON (default
# python3) imports torch, with 2 threads.  Every figure stays in DIR's JSON files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rounds=3 models="tiny,medium,rnn,lstm,gru" out="bench-ab"
while [ $# -gt 2 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --models) models="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "bench_ab.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: bench_ab.sh [--rounds R] [--models LIST] [--out DIR] A B" >&2; exit 2; }
A="$1" B="$2" py="${TORCH_PYTHON:-python3}"
for x in "$A" "$B"; do [ -x "$x" ] || { echo "bench_ab.sh: $x is not an executable" >&2; exit 1; }; done
mkdir -p "$out"
args=(--no-gemm --no-limits --no-startup --gemm own --reps 20)
# the models A knows: its bench rejects an unknown name
a_models=() b_only=()
for m in ${models//,/ }; do
    if "$A" bench --models "$m" "${args[@]}" --reps 1 >/dev/null 2>&1; then a_models+=("$m"); else b_only+=("$m"); fi
done
join_() { local IFS=,; echo "$*"; }
have_torch=0
"$py" -c "import torch" 2>/dev/null && have_torch=1
for r in $(seq 1 "$rounds"); do
    echo "round $r/$rounds" >&2
    [ ${#a_models[@]} -gt 0 ] && "$A" bench --models "$(join_ "${a_models[@]}")" "${args[@]}" --json "$out/a$r.json" >/dev/null
    "$B" bench --models "$models" "${args[@]}" --json "$out/b$r.json" >/dev/null
    if [ ${#b_only[@]} -gt 0 ]; then
        env ${B_ENV_BEFORE:-CLGRAD_RECURRENT=steps CLGRAD_MLP_FUSED=0 CLGRAD_TUNE=off} \
            "$B" bench --models "$(join_ "${b_only[@]}")" "${args[@]}" --json "$out/r$r.json" >/dev/null
    fi
    [ $have_torch = 1 ] && "$py" "$here/torch_bench.py" --threads 2 --models "$models" --sizes 256 --reps 20 \
        --json "$out/t$r.json" >/dev/null 2>&1
done
python3 - "$out" "$rounds" "$models" <<'PY'
import json, statistics, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
def med(prefix, key):
    vals = {}
    for r in range(1, rounds + 1):
        try:
            d = json.load(open(f"{out}/{prefix}{r}.json"))
        except (OSError, ValueError):
            continue
        for x in d.get("train", []):
            if x.get(key) is not None:
                vals.setdefault(x["model"], []).append(x[key])
    return {m: statistics.median(v) for m, v in vals.items()}
a, b, ref, t = (med(p, "median_step_ms") for p in ("a", "b", "r", "t"))
launches, logx = med("b", "launches_per_step"), med("b", "log_step_extra_pct")
f = lambda v: f"{v:10.3f}" if v else "       n/a"
g = lambda x, y: f"{x / y:9.2f}" if x and y else "      n/a"
print(f"{'model':8}{'A ms':>10}{'B ms':>10}{'torch ms':>10}{'A/B':>9}{'torch/B':>9}{'torch/A':>9}{'launches':>9}{'log+%':>7}")
for m in models:
    am, mark = (a[m], " ") if m in a else (ref.get(m), "*")
    print(f"{m:7}{mark}{f(am)}{f(b.get(m))}{f(t.get(m))}{g(am, b.get(m))}{g(t.get(m), b.get(m))}{g(t.get(m), am)}"
          f"{launches.get(m, float('nan')):9.0f}{logx.get(m, float('nan')):7.1f}")
print(f"medians of {rounds} alternating rounds; * = A's figure from B under the reference paths (B_ENV_BEFORE)")
PY
