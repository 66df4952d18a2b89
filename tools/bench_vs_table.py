#!/usr/bin/env python3
"""bench_vs_table.py: the side-by-side table of tools/bench_vs.sh.

    python3 tools/bench_vs_table.py CLGRAD.json [TORCH.json]

CLGRAD.json: `clgrad bench --json`; TORCH.json: tools/torch_bench.py --json
(absent or missing: the ratios to PyTorch are "-").  Prints GEMM GFLOP/s of
clgrad's own kernel, CLBlast and PyTorch per square size with their ratios,
ms per training step of every reference model clgrad ran (with PyTorch's and
the launches per step where the record has them, else "n/a"), the warm start,
then issue 13's targets for the device's kind (PoCL / CPU device, or GPU)
with met / NOT met ("-" where a figure is missing).  Only the standard
library: any python3 runs it.
"""
import json
import os
import sys


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def ratio(a, b):
    return a / b if a and b else None


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "NOT met")


def load(c, t):
    """The figures both tables and the targets use."""
    sq = {}
    for g in c.get("gemm", []):
        if g["shape"] == "square" and g.get("gflops"):
            sq.setdefault(g["n"], {})[g["backend"]] = g["gflops"]
    tg = {g["n"]: g["gflops"] for g in t["gemm"]} if t else {}
    ts = {r["model"]: r["median_step_ms"] for r in t["train"]} if t else {}
    steps, launches = {}, {}
    for r in c.get("train", []):
        if r.get("median_step_ms"):
            steps.setdefault(r["model"], {})[r["backend"]] = r["median_step_ms"]
        if r.get("launches_per_step") is not None and r.get("backend", "own") == "own":
            launches[r["model"]] = r["launches_per_step"]
    return sq, tg, ts, steps, launches


def print_tables(c, t, sq, tg, ts, steps, launches):
    tdev = (t or {}).get("device", "cpu")
    tname = "PyTorch %s %s" % (t["torch"], "CUDA (" + t.get("device_name", "?") + ", TF32 off)" if tdev == "cuda"
                               else "CPU, %s thread(s)" % t["threads"]) if t else None
    print()
    print(f"== side by side: {c['device']['name']} ({c['device']['platform']})" + (f" vs {tname}" if t else "")
          + " ==")
    print(f"{'GEMM n':>8} {'own':>9} {'CLBlast':>9} {'torch':>9} {'own/CLBlast':>12} {'own/torch':>10}"
          "   GFLOP/s, medians")
    for n in sorted(sq):
        own, clb, pt = sq[n].get("own"), sq[n].get("clblast"), tg.get(n)
        print(f"{n:>8} {fmt(own, '.1f'):>9} {fmt(clb, '.1f'):>9} {fmt(pt, '.1f'):>9} {fmt(ratio(own, clb)):>12}"
              f" {fmt(ratio(own, pt)):>10}")
    print(f"{'model':>8} {'own ms':>9} {'CLBlast':>9} {'torch ms':>9} {'own/torch':>12} {'torch/own':>10}"
          f" {'launches':>9}   ms per training step, medians; launches per step (own)")
    for m, v in steps.items():
        own, clb, pt = v.get("own"), v.get("clblast"), ts.get(m)
        lp = launches.get(m)
        print(f"{m:>8} {fmt(own, '.3f'):>9} {fmt(clb, '.3f'):>9} {fmt(pt, '.3f'):>9} {fmt(ratio(own, pt)):>12}"
              f" {fmt(ratio(pt, own)):>10} {'n/a' if lp is None else format(lp, 'g'):>9}")
    warm = (c.get("startup") or {}).get("warm") or {}
    print(f"warm-cache start to the first step: {fmt(warm.get('total_s'), '.3f')} s "
          f"(whole process {fmt(warm.get('process_s'), '.3f')} s)")
    lim = c.get("limits") or {}
    if lim.get("fp32_peak_gflops"):
        print(f"measured fp32 peak: {lim['fp32_peak_gflops']:.1f} GFLOP/s (best variant {lim.get('peak_variant', '?')})")


def print_extras(c, ts):
    """Own steps enqueued back to back (clgrad bench's pipelined_step_ms) and the log-step extra, where measured."""
    rows = [r for r in c.get("train", []) if r.get("backend", "own") == "own"
            and (r.get("pipelined_step_ms") is not None or r.get("log_step_extra_pct") is not None)]
    if not rows:
        return
    print(f"{'model':>8} {'piped ms':>9} {'torch ms':>9} {'torch/piped':>12} {'log+%':>7} {'wait+%':>7}"
          "   own steps back to back with one wait at the end (as clgrad run between log steps);"
          " a log step's extra time, back to back with its metrics read back late (as clgrad run),"
          " and ending with a blocking read-back")
    for r in rows:
        pm, pt, lx = r.get("pipelined_step_ms"), ts.get(r["model"]), r.get("log_step_extra_pct")
        lb = r.get("log_step_blocking_extra_pct")
        print(f"{r['model']:>8} {fmt(pm, '.3f'):>9} {fmt(pt, '.3f'):>9} {fmt(ratio(pt, pm)):>12} {fmt(lx, '.1f'):>7}"
              f" {fmt(lb, '.1f'):>7}")


def worst(pairs):
    """min of the ratios, None when there are none or one is missing."""
    rs = [ratio(a, b) for a, b in pairs]
    return None if not rs or any(r is None for r in rs) else min(rs)


def line(what, value, unit, ok):
    shown = value if value in ("-", "n/a") else value + unit
    print(f"{what:<58} {shown:>8} {verdict(ok)}")


def targets_pocl(c, t, sq, tg, ts, steps, launches):
    cpu_torch = t is not None and t.get("device", "cpu") == "cpu"
    print("\n== issue 13 targets (PoCL) ==")
    big = [n for n in sorted(sq) if n >= 512]
    r = worst([(sq[n].get("own"), sq[n].get("clblast")) for n in big])
    line(f"own GEMM >= 4x CLBlast at every n >= 512 ({','.join(map(str, big)) or 'none'}):", fmt(r), "x",
         None if r is None else r >= 4)
    big = [n for n in sorted(sq) if n >= 1024]
    r = worst([(sq[n].get("own"), tg.get(n)) for n in big]) if cpu_torch else None
    line(f"own GEMM >= 0.8x PyTorch CPU at every n >= 1024:", fmt(r), "x", None if r is None else r >= 0.8)
    own = lambda m: steps.get(m, {}).get("own")
    for m, want in (("rnn", 2.0), ("tiny", 5.0), ("medium", 1.0)):
        r = ratio(ts.get(m), own(m)) if cpu_torch else None
        what = f"{m} step >= {want:g}x faster than PyTorch:" if want > 1 else f"{m} step no slower than PyTorch:"
        line(what, fmt(r), "x", None if r is None else r >= want)
    lp = launches.get("tiny")
    line("launches per step of tiny <= 8:", "n/a" if lp is None else format(lp, "g"), "", None if lp is None else lp <= 8)
    lx = [r.get("log_step_extra_pct") for r in c.get("train", []) if r.get("backend", "own") == "own"]
    mx = None if not lx or any(x is None for x in lx) else max(lx)
    line("log-step extra <= 5 % of a step (every model):", "n/a" if mx is None else fmt(mx, ".1f"), " %",
         None if mx is None else mx <= 5)


def targets_gpu(t, sq, tg, ts, steps):
    cuda = t is not None and t.get("device") == "cuda"
    print("\n== issue 13 targets (GPU, NVIDIA; vs PyTorch CUDA)" + ("" if cuda else ": PyTorch did not run on CUDA")
          + " ==")
    for n in (4096, 8192):
        r = ratio(sq.get(n, {}).get("own"), tg.get(n)) if cuda else None
        line(f"own GEMM >= 0.8x cuBLAS at n={n}:", fmt(r), "x", None if r is None else r >= 0.8)
    own = lambda m: steps.get(m, {}).get("own")
    for m, lim in (("large", 1.0), ("xl", 1.15)):
        r = ratio(own(m), ts.get(m)) if cuda else None
        line(f"{m} step <= {lim:g}x PyTorch's time:", fmt(r), "x", None if r is None else r <= lim)
    for m, want in (("tiny", 10.0), ("rnn", 2.0)):
        r = ratio(ts.get(m), own(m)) if cuda else None
        line(f"{m} step >= {want:g}x faster than PyTorch:", fmt(r), "x", None if r is None else r >= want)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    c = json.load(open(argv[1]))
    t = json.load(open(argv[2])) if len(argv) > 2 and os.path.exists(argv[2]) else None
    sq, tg, ts, steps, launches = load(c, t)
    print_tables(c, t, sq, tg, ts, steps, launches)
    print_extras(c, ts)
    if c["device"].get("type") == "gpu":
        targets_gpu(t, sq, tg, ts, steps)
    else:
        targets_pocl(c, t, sq, tg, ts, steps, launches)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
