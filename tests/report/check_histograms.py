#!/usr/bin/env python3
"""check_histograms.py RUNDIR KIND: histograms.csv of a clgrad run against the
run's own files, with an independent (float64, math.frexp) definition of the
bins.  KIND is mlp or lstm.  Checks: the header (the documented bins); every
row's counts sum to n and n is the tensor's element count (weights and
gradients: the .npy shape in weights/init; act: batch x width for an MLP
layer, seq_len x batch x hidden for a recurrent one); the weight histograms of
step 1 equal the histograms of weights/init/*.npy exactly; gradients and
activations are not all zero.  Prints what it checked; exits 1 on a failure."""
import csv, math, struct, sys, os, ast

EMIN, EMAX = -40, 8
NB = EMAX - EMIN + 4


def bin_of(v):
    if math.isnan(v) or math.isinf(v):
        return NB - 1
    a = abs(v)
    if a == 0:
        return 0
    m, e = math.frexp(a)
    e -= 1
    if e < EMIN:
        return 1
    if e >= EMAX:
        return NB - 2
    return 2 + e - EMIN


def names():
    out = ["zero", "lt_2^%d" % EMIN]
    out += ["2^%d" % e for e in range(EMIN, EMAX)]
    return out + ["ge_2^%d" % EMAX, "nonfinite"]


def npy(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    major = data[6]
    if major == 1:
        hl = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hl = struct.unpack("<I", data[8:12])[0]
        start = 12
    hdr = ast.literal_eval(data[start:start + hl].decode("latin1"))
    assert hdr["descr"] == "<f4", hdr
    shape = hdr["shape"]
    n = 1
    for s in shape:
        n *= s
    vals = struct.unpack("<%df" % n, data[start + hl:start + hl + 4 * n])
    return shape, vals


def ini(path):
    sec, out = "", {}
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            sec = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[sec + "." + k.strip()] = v.strip()
    return out


def main():
    rundir, kind = sys.argv[1], sys.argv[2]
    cfg = ini(os.path.join(rundir, "config.ini"))
    B = int(cfg["data.batch_size"])
    T = int(cfg["data.seq_len"]) if kind == "lstm" else 1
    rows = list(csv.reader(open(os.path.join(rundir, "histograms.csv"))))
    head, rows = rows[0], rows[1:]
    want = ["step", "layer", "tensor", "param", "n"] + names()
    if head != want:
        print("FAIL: header", head[:8], "...")
        return 1
    wdir = os.path.join(rundir, "weights", "init")
    shapes, init = {}, {}
    for f in os.listdir(wdir):
        if f.endswith(".npy"):
            shapes[f[:-4]], init[f[:-4]] = npy(os.path.join(wdir, f))
    fails, checked, nonzero = 0, 0, {"grad": 0, "act": 0}
    first = min(int(r[0]) for r in rows)
    for r in rows:
        step, layer, tensor, param, n = int(r[0]), r[1], r[2], r[3], int(r[4])
        counts = [int(x) for x in r[5:]]
        if sum(counts) != n:
            print("FAIL: step %d %s %s %s: counts sum to %d, n = %d" % (step, layer, tensor, param, sum(counts), n))
            fails += 1
        if tensor in ("weight", "grad"):
            sz = 1
            for s in shapes[param]:
                sz *= s
            if n != sz:
                print("FAIL: %s %s: n = %d, the tensor has %d" % (tensor, param, n, sz))
                fails += 1
            if tensor == "weight" and step == 1:
                ref = [0] * NB
                for v in init[param]:
                    ref[bin_of(v)] += 1
                if ref != counts:
                    print("FAIL: step 1 weight %s differs from weights/init: %s vs %s" % (param, counts, ref))
                    fails += 1
                checked += 1
        elif tensor == "act":
            if kind == "mlp":
                # the layer's weight "<2i>.weight" (out, in): out units
                wname = [p for p in shapes if p.endswith(".weight") and layer == "linear_" + p.split(".")[0]]
                width = shapes[wname[0]][0]
            else:
                width = shapes["rnn.weight_hh_l0"][1]
            if n != T * B * width:
                print("FAIL: act %s: n = %d, expected %d x %d x %d" % (layer, n, T, B, width))
                fails += 1
        else:
            print("FAIL: unknown tensor", tensor)
            fails += 1
        if tensor in nonzero and counts[0] < n:
            nonzero[tensor] += 1
    if first == 1 and checked == 0:
        print("FAIL: no step-1 weight rows")
        fails += 1
    if not nonzero["grad"] or not nonzero["act"]:
        print("FAIL: gradients or activations all zero", nonzero)
        fails += 1
    print("%d rows, %d step-1 weight histograms equal to weights/init, %d failures" % (len(rows), checked, fails))
    return 1 if fails else 0


sys.exit(main())
