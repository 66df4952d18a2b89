#!/usr/bin/env python3
"""rundiff.py: are two run directories the same run, up to what legitimately
changes between two executions (wall-clock times, the command line, the host,
the version, kernel build statistics)?

    tools/rundiff.py DIR_A DIR_B [--ignore KEY]...

Every file present in either directory is compared:
  *.json   parsed; keys listed in VOLATILE_JSON (at any depth) are skipped,
           everything else must be equal (numbers compared as written);
  *.csv    cell by cell; columns listed in VOLATILE_CSV are skipped;
  other    byte for byte (.npy weights and data, config.ini, ...).
Prints one line per difference and a last line "same" or "N differences";
exit status 0 when the same, 1 when not, 2 on a usage error.
Used to check that a restructuring changed no result (issue 14): run a
shipped experiment with the old and the new build and diff the two.
"""
import json
import os
import sys

# times, identity of the invocation and build bookkeeping: not results
VOLATILE_JSON = {
    "start_time", "end_time", "command_line", "host", "clgrad_version",
    "kernel_build", "ms_per_step", "median_ms_per_step", "first_step_ms",
    "config", "kernel_source_sha256", "seconds", "elapsed_s", "created",
}
VOLATILE_CSV = {"ms_per_step", "ms", "elapsed_s", "seconds"}


def files_of(root):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def diff_json(a, b, path, ignore, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in ignore:
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'B' if k not in a else 'A'}")
            else:
                diff_json(a[k], b[k], f"{path}.{k}", ignore, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            diff_json(x, y, f"{path}[{i}]", ignore, out)
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def diff_csv(pa, pb, name, ignore, out):
    la = open(pa, encoding="utf-8", errors="replace").read().splitlines()
    lb = open(pb, encoding="utf-8", errors="replace").read().splitlines()
    if not la or not lb:
        if la != lb:
            out.append(f"{name}: one file is empty")
        return
    ha, hb = la[0].split(","), lb[0].split(",")
    if ha != hb:
        out.append(f"{name}: header differs: {la[0]!r} vs {lb[0]!r}")
        return
    keep = [i for i, h in enumerate(ha) if h not in ignore]
    if len(la) != len(lb):
        out.append(f"{name}: {len(la) - 1} vs {len(lb) - 1} rows")
    shown = 0
    for n, (ra, rb) in enumerate(zip(la[1:], lb[1:]), start=2):
        ca, cb = ra.split(","), rb.split(",")
        bad = [ha[i] for i in keep if i >= len(ca) or i >= len(cb) or ca[i] != cb[i]]
        if bad:
            shown += 1
            if shown <= 5:
                out.append(f"{name}:{n}: differs in {', '.join(bad)}")
    if shown > 5:
        out.append(f"{name}: ... {shown} differing rows in all")


def main(argv):
    args, ignore = [], set()
    it = iter(argv)
    for a in it:
        if a == "--ignore":
            ignore.add(next(it, ""))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            args.append(a)
    if len(args) != 2 or not all(os.path.isdir(d) for d in args):
        print("usage: tools/rundiff.py DIR_A DIR_B [--ignore KEY]...", file=sys.stderr)
        return 2
    A, B = args
    fa, fb = files_of(A), files_of(B)
    out = [f"{f}: only in A" for f in sorted(fa - fb)]
    out += [f"{f}: only in B" for f in sorted(fb - fa)]
    for f in sorted(fa & fb):
        pa, pb = os.path.join(A, f), os.path.join(B, f)
        if f.endswith(".json"):
            try:
                ja = json.load(open(pa, encoding="utf-8"))
                jb = json.load(open(pb, encoding="utf-8"))
            except ValueError as e:
                out.append(f"{f}: not JSON ({e})")
                continue
            diff_json(ja, jb, f, VOLATILE_JSON | ignore, out)
        elif f.endswith(".csv"):
            diff_csv(pa, pb, f, VOLATILE_CSV | ignore, out)
        elif open(pa, "rb").read() != open(pb, "rb").read():
            out.append(f"{f}: bytes differ")
    for line in out:
        print(line)
    print("same" if not out else f"{len(out)} differences")
    return 0 if not out else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
