#!/usr/bin/env python3
"""torch_bench.py: PyTorch figures for the comparisons `clgrad bench` makes.

Measures, on this machine's CPU with a fixed thread count (--device cpu, the
default) or on its first CUDA GPU (--device cuda: TF32 off for matmul and
cuDNN, torch.cuda.synchronize() around every timed call):
  - float32 matmul GFLOP/s at the square sizes given (median of --reps calls),
  - the median time of one training step of clgrad's reference models
    (src/cli/bench.c: tiny MLP 4x64 batch 32, medium 16x256 batch 128, large
    16x1024 batch 512, xl 16x4096 batch 4096, RNN H128 T100 batch 64, LSTM
    and GRU H128 T50 batch 64), each as clgrad's bench runs it: tanh,
    default init (nn.Linear, nn.RNN/LSTM/GRU), loss (cross-entropy; MSE for
    the recurrent models), backward, clip_grad_norm_(1.0), SGD(lr 0.01,
    momentum 0.9) step.

Writes one JSON object (stdout, or --json FILE) that tools/bench_vs.sh reads.
Needs torch; exits with status 77 (skip) when it is not installed.
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
except ImportError:  # not part of the Debian dependencies: the comparison is optional
    print("torch_bench.py: PyTorch is not installed; skipping", file=sys.stderr)
    sys.exit(77)

# name: (kind, depth, width, batch, in, seq_len, out) -- keep in step with src/cli/bench.c
MODELS = {
    "tiny": ("mlp", 4, 64, 32, 64, 1, 10),
    "medium": ("mlp", 16, 256, 128, 256, 1, 10),
    "large": ("mlp", 16, 1024, 512, 1024, 1, 10),
    "rnn": ("rnn", 1, 128, 64, 2, 100, 1),
    "lstm": ("lstm", 1, 128, 64, 2, 50, 1),
    "gru": ("gru", 1, 128, 64, 2, 50, 1),
    "xl": ("mlp", 16, 4096, 4096, 4096, 1, 10),
}
DEVICE = "cpu"


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def median_time(fn, reps, warmup, budget_s):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if budget_s and len(times) >= 3 and t1 - start > budget_s:
            break
    return statistics.median(times), len(times)


def bench_gemm(n, reps, budget_s):
    g = torch.Generator().manual_seed(n)
    a = (torch.rand(n, n, generator=g) * 2 - 1).to(DEVICE)
    b = (torch.rand(n, n, generator=g) * 2 - 1).to(DEVICE)
    c = torch.empty(n, n, device=DEVICE)
    t, k = median_time(lambda: torch.mm(a, b, out=c), reps, 1, budget_s)
    return {"n": n, "median_s": t, "gflops": 2.0 * n * n * n / t / 1e9, "reps": k}


class RNNModel(torch.nn.Module):
    """nn.RNN (tanh) / nn.LSTM / nn.GRU, one layer, then Linear on the last hidden state."""

    def __init__(self, kind, inp, hidden, out):
        super().__init__()
        if kind == "rnn":
            self.rnn = torch.nn.RNN(inp, hidden, nonlinearity="tanh", batch_first=True)
        else:
            self.rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(inp, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, out)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.fc(h[:, -1, :])


def build_model(spec):
    kind, depth, width, batch, inp, seq, out = spec
    torch.manual_seed(20240601)
    if kind == "mlp":
        layers, w = [], inp
        for _ in range(depth):
            layers += [torch.nn.Linear(w, width), torch.nn.Tanh()]
            w = width
        layers.append(torch.nn.Linear(w, out))
        model = torch.nn.Sequential(*layers)
        x = torch.rand(batch, inp) * 2 - 1
        y = torch.randint(0, out, (batch,))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        model = RNNModel(kind, inp, width, out)
        x = torch.rand(batch, seq, inp) * 2 - 1
        y = torch.rand(batch, out) * 2 - 1
        loss_fn = torch.nn.MSELoss()
    model = model.to(DEVICE)
    x, y = x.to(DEVICE), y.to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    nparams = sum(p.numel() for p in model.parameters())

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    return step, nparams


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cpu (default) or cuda (the first GPU; TF32 off)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--sizes", default="256,512,1024,2048", help="square matmul sizes")
    ap.add_argument("--models", default="tiny,medium,large,rnn,lstm,gru", help="known: " + ",".join(MODELS))
    ap.add_argument("--reps", type=int, default=20, help="timed calls/steps (default 20)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--budget", type=float, default=10.0, help="stop a measurement after 3 reps and this many s")
    ap.add_argument("--json", help="write the record here instead of stdout")
    a = ap.parse_args()
    global DEVICE
    DEVICE = a.device
    torch.set_num_threads(a.threads)
    rec = {"tool": "torch_bench.py", "torch": torch.__version__, "threads": torch.get_num_threads(),
           "device": a.device, "device_name": "cpu", "tf32": False, "gemm": [], "train": []}
    if a.device == "cuda":
        if not torch.cuda.is_available():
            print("torch_bench.py: --device cuda, but torch sees no CUDA device", file=sys.stderr)
            sys.exit(2)
        torch.backends.cuda.matmul.allow_tf32 = False  # plain fp32, as clgrad computes
        torch.backends.cudnn.allow_tf32 = False
        rec["device_name"] = torch.cuda.get_device_name(0)
    for s in filter(None, a.sizes.split(",")):
        r = bench_gemm(int(s), a.reps, a.budget)
        print(f"torch matmul n={r['n']:5d}: {r['gflops']:8.1f} GFLOP/s", file=sys.stderr)
        rec["gemm"].append(r)
    for name in filter(None, a.models.split(",")):
        if name not in MODELS:
            ap.error(f"unknown model {name!r}; known: {', '.join(MODELS)}")
        step, nparams = build_model(MODELS[name])
        t, k = median_time(step, a.reps, a.warmup, a.budget)
        print(f"torch step {name:7s}: {t * 1e3:10.3f} ms ({nparams} params, {k} steps)", file=sys.stderr)
        rec["train"].append({"model": name, "params": nparams, "median_step_ms": t * 1e3, "steps": k})
    text = json.dumps(rec, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
