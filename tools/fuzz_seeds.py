#!/usr/bin/env python3
"""fuzz_seeds.py: (re)generate the seed corpora tests/fuzz/corpus/{config,csv,idx,npy,cifar}/
with small valid files and edge cases.  Crash reproducers found by
tools/fuzz.sh are added to the same directories by hand (named regress-*)
and are never overwritten here.  Standard library only."""
import os, struct, glob, shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
C = os.path.join(ROOT, "tests", "fuzz", "corpus")

def put(kind, name, data):
    d = os.path.join(C, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- config ----
for p in glob.glob(os.path.join(ROOT, "experiments", "*.ini")):
    put("config", "exp-" + os.path.basename(p), open(p, "rb").read())
for p in glob.glob(os.path.join(ROOT, "tests", "configs", "*.ini")):
    put("config", "cfg-" + os.path.basename(p), open(p, "rb").read())
put("config", "empty", "")
put("config", "bom-crlf", "\ufeff[run]\r\nsteps = 5\r\n[model]\r\nhidden = 4x3\r\n")
put("config", "quotes", "[run]\nname = 'a # b'\n[data]\nkind=csv\npath=\"x;y.csv\"\ntarget = y\n")
put("config", "sets", "[run]\nsteps=3\n\0optim.lr=0.5\0model.hidden=none\0run.name=\"q\"")
put("config", "dup", "[run]\nsteps=1\nsteps=2\n[run]\n")
put("config", "edge-numbers", "[optim]\nlr = 1e-320\n[diverge]\nloss_limit = inf\ngrad_norm_limit = -inf\n"
    "[run]\nseed = 0xffffffffffffffff\nsteps = 1e18\n[model]\nhidden = 16777216x256\n")
put("config", "rnn", "[data]\nkind = adding\nseq_len = 3\n[model]\nkind = rnn\nhidden = 8\nactivation = tanh\n")

# ---- csv ----
for p in glob.glob(os.path.join(ROOT, "tests", "data", "*.csv")):
    put("csv", os.path.basename(p), open(p, "rb").read())
put("csv", "simple.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,2\n")
put("csv", "quoted.csv", '"a,1","b""x",y\r\n"1","2\n3",1\r\n 4 , 5 ,0\r\n')
put("csv", "bom.csv", "\ufeffx,y\n1,0\n\n\n2,1\n")
put("csv", "nan.csv", "x,y\nnan,1\n")
put("csv", "inf.csv", "x,y\n-Infinity,1\n")
put("csv", "huge.csv", "x,y\n1e39,1\n3.4028235e38,0\n1e-46,1\n")
put("csv", "ragged.csv", "x,z,y\n1,2\n")
put("csv", "header-only.csv", "x,y\n")
put("csv", "cr.csv", "x,y\r1,0\r2,1\r")
put("csv", "multi.csv", "x,y\n0.5,65535\n0.25,0\n")

# ---- idx: 4-byte big-endian length of the images file, images, labels ----
def idx(magic_type, dims, payload):
    return bytes([0, 0, magic_type, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
def pair(img, lab):
    return struct.pack(">I", len(img)) + img + lab
img_u8 = idx(0x08, [3, 2, 2], bytes(range(12)))
lab = idx(0x08, [3], bytes([0, 1, 2]))
put("idx", "u8", pair(img_u8, lab))
img_f = idx(0x0D, [2, 3], b"".join(struct.pack(">f", v) for v in [0.5, -1, 2, 1e30, -0.0, 3]))
put("idx", "f32", pair(img_f, idx(0x08, [2], bytes([1, 0]))))
put("idx", "f32-nan", pair(idx(0x0D, [1, 1], struct.pack(">f", float("nan"))), idx(0x08, [1], b"\x01")))
put("idx", "huge-dims", pair(idx(0x08, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""), idx(0x08, [0xFFFFFFFF], b"")))
put("idx", "zero-n", pair(idx(0x08, [0, 5], b""), idx(0x08, [0], b"")))
put("idx", "gzip", pair(b"\x1f\x8b\x08\x00rest", lab))
put("idx", "mismatch", pair(img_u8, idx(0x08, [2], b"\x00\x01")))
put("idx", "sixteen-dims", pair(idx(0x08, [1] * 16, b"\x07"), idx(0x08, [1], b"\x03")))

# ---- npy ----
def npy(shape, data=b"", descr="<f4", fortran=False, ver=1):
    sh = "(" + "".join(f"{s}, " if len(shape) == 1 else f"{s}, " for s in shape).rstrip(", ") + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", sh)
    pre = 10 if ver == 1 else 12
    pad = 64 - (pre + len(d) + 1) % 64
    h = (d + " " * pad + "\n").encode()
    ln = struct.pack("<H", len(h)) if ver == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([ver, 0]) + ln + h + data
f4 = lambda vals: b"".join(struct.pack("<f", v) for v in vals)
put("npy", "2x3", npy([2, 3], f4(range(6))))
put("npy", "vec", npy([4], f4([1, -2, float("inf"), float("nan")])))
put("npy", "scalar", npy([], f4([7])))
put("npy", "empty", npy([0, 5]))
put("npy", "v2", npy([1, 1], f4([1]), ver=2))
put("npy", "v3", npy([3], f4([1, 2, 3]), ver=3))
put("npy", "fortran-vec", npy([2], f4([1, 2]), fortran=True))
put("npy", "f8", npy([1], struct.pack("<d", 1.0), descr="<f8"))
put("npy", "huge-shape", npy([2**40, 2**40]))
put("npy", "many-dims", npy([1] * 33, f4([1])))
put("npy", "truncated", npy([10], f4([1, 2])))
put("npy", "dquote", b"\x93NUMPY\x01\x00" + struct.pack("<H", 54) + b'{"descr":"<f4","shape":(1,),"fortran_order":False}  \n' + f4([3]))

# ---- cifar: CIFAR-10 binary batch records (1 label byte + 3072 pixel bytes) ----
rec = lambda label, px=0: bytes([label]) + bytes([px % 256]) * 3072
put("cifar", "one", rec(3, 200))
put("cifar", "two", rec(0, 0) + rec(9, 255))
put("cifar", "bad-label", rec(10))
put("cifar", "cifar100", bytes([1, 2]) + bytes(3072))
put("cifar", "truncated", rec(1)[:1000])
put("cifar", "gzip", b"\x1f\x8b\x08\x00" + bytes(3069))
put("cifar", "empty", b"")
