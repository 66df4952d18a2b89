#!/usr/bin/env bash
# tools/bench_vs_table.py (the table of tools/bench_vs.sh) on hand-made records:
# ratios, "n/a" without launches per step, "-" without PyTorch, issue 13's PoCL
# targets met / NOT met at the right bounds, the GPU targets against PyTorch CUDA.
# Usage: test_bench_vs.sh [CLGRAD] (the executable is not used: no device needed)
set -u
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-bench-vs-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# has FILE REGEX WHAT
has() { if grep -Eq "$2" "$1"; then echo "ok: $3"; else fail "$3 (no line matches '$2')"; shown=$1; fi; }
shown=

# clgrad record: type $1, launches of tiny $2 ("" = none)
clgrad_json() {
    python3 - "$1" "$2" <<'PY'
import json, sys
kind, lp = sys.argv[1], sys.argv[2]
g = lambda n, be, gf: {"shape": "square", "n": n, "backend": be, "gflops": gf}
rec = {"device": {"name": "Fake", "platform": "FakeCL", "type": kind, "compute_units": 2},
       "limits": {"fp32_peak_gflops": 500.0, "peak_variant": "float16_c12"},
       "gemm": [g(256, "own", 50), g(256, "clblast", 40), g(512, "own", 200), g(512, "clblast", 40),
                g(1024, "own", 400), g(1024, "clblast", 50)]
       + ([g(4096, "own", 9000), g(8192, "own", 20000)] if kind == "gpu" else []),
       "train": [{"model": m, "backend": "own", "median_step_ms": ms} for m, ms in
                 (("tiny", 0.1), ("medium", 2.0), ("rnn", 10.0), ("large", 30.0), ("xl", 115.0))],
       "startup": {"warm": {"total_s": 0.2, "process_s": 0.3}}}
if lp:
    rec["train"][0]["launches_per_step"] = float(lp)
    for r, px, lx in zip(rec["train"], (0.05, 1.9, 9.0, 29.0, 110.0), (5.0, 4.0, 2.5, 1.0, 0.5)):
        r["pipelined_step_ms"], r["log_step_extra_pct"], r["log_step_blocking_extra_pct"] = px, lx, 3 * lx
print(json.dumps(rec))
PY
}
# torch record on device $1
torch_json() {
    python3 - "$1" <<'PY'
import json, sys
print(json.dumps({"torch": "9.9", "threads": 2, "device": sys.argv[1], "device_name": "FakeGPU",
                  "gemm": [{"n": 256, "gflops": 100}, {"n": 512, "gflops": 250}, {"n": 1024, "gflops": 500},
                           {"n": 4096, "gflops": 10000}, {"n": 8192, "gflops": 30000}],
                  "train": [{"model": m, "median_step_ms": ms} for m, ms in
                            (("tiny", 0.6), ("medium", 1.9), ("rnn", 25.0), ("large", 30.0), ("xl", 100.0))]}))
PY
}
table() { python3 "$ROOT/tools/bench_vs_table.py" "$@" > "$T/out" 2>&1 || fail "bench_vs_table.py $* exited $?"; }

clgrad_json cpu 6 > "$T/c.json"; torch_json cpu > "$T/t.json"
table "$T/c.json" "$T/t.json"
has "$T/out" '^ +512 +200\.0 +40\.0 +250\.0 +5\.00 +0\.80' "GEMM row: own, CLBlast, torch and both ratios"
has "$T/out" '^ +tiny +0\.100 +- +0\.600 +0\.17 +6\.00 +6$' "model row: ratios and launches per step"
has "$T/out" 'at every n >= 512 \(512,1024\): +5\.00x met$' "GEMM >= 4x CLBlast: the worst n >= 512 counts"
has "$T/out" 'PyTorch CPU at every n >= 1024: +0\.80x met' "GEMM >= 0.8x PyTorch at the bound: met"
has "$T/out" 'rnn step >= 2x faster than PyTorch: +2\.50x met' "rnn target"
has "$T/out" 'tiny step >= 5x faster than PyTorch: +6\.00x met' "tiny target"
has "$T/out" 'medium step no slower than PyTorch: +0\.95x NOT met' "medium target NOT met"
has "$T/out" 'launches per step of tiny <= 8: +6 met$' "launches target"
has "$T/out" 'best variant float16_c12' "the peak's variant"
has "$T/out" '^ +tiny +0\.050 +0\.600 +12\.00 +5\.0 +15\.0$' "back-to-back steps: ms, torch, ratio, log+%, wait+%"
has "$T/out" 'log-step extra <= 5 % of a step \(every model\): +5\.0 % met$' "log-step target at the bound: met"
sed -i 's/"log_step_extra_pct": 5.0/"log_step_extra_pct": 5.01/' "$T/c.json"
table "$T/c.json" "$T/t.json"
has "$T/out" 'log-step extra <= 5 % of a step \(every model\): +5\.0 % NOT met$' "log-step target above the bound"

clgrad_json cpu "" > "$T/c.json"
table "$T/c.json" "$T/missing.json"
has "$T/out" '^ +tiny +0\.100 +- +- +- +- +n/a$' "no PyTorch, no launches: - and n/a"
has "$T/out" 'launches per step of tiny <= 8: +n/a -$' "launches target without the figure"
has "$T/out" 'tiny step >= 5x faster than PyTorch: +- -$' "no PyTorch: no verdict"
has "$T/out" 'log-step extra <= 5 % of a step \(every model\): +n/a -$' "log-step target without the figures"
if grep -q 'piped ms' "$T/out"; then fail "back-to-back table without the figures"; fi

clgrad_json gpu "" > "$T/c.json"; torch_json cuda > "$T/t.json"
table "$T/c.json" "$T/t.json"
has "$T/out" 'targets \(GPU, NVIDIA; vs PyTorch CUDA\) ==' "GPU targets on a GPU"
has "$T/out" 'cuBLAS at n=4096: +0\.90x met' "cuBLAS 4096"
has "$T/out" 'cuBLAS at n=8192: +0\.67x NOT met' "cuBLAS 8192"
has "$T/out" 'large step <= 1x PyTorch.s time: +1\.00x met' "large <= 1.0x"
has "$T/out" 'xl step <= 1.15x PyTorch.s time: +1\.15x met' "xl <= 1.15x"
has "$T/out" 'tiny step >= 10x faster than PyTorch: +6\.00x NOT met' "tiny >= 10x on a GPU"
if grep -q 'PoCL' "$T/out"; then fail "PoCL targets on a GPU"; fi
torch_json cpu > "$T/t.json"
table "$T/c.json" "$T/t.json"
has "$T/out" 'PyTorch did not run on CUDA' "GPU vs PyTorch CPU: said"
has "$T/out" 'cuBLAS at n=4096: +- -$' "GPU vs PyTorch CPU: no verdict"

[ -n "$shown" ] && sed 's/^/    /' "$shown"
[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
