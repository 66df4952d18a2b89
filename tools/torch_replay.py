#!/usr/bin/env python3
"""torch_replay.py: replay a clgrad run in PyTorch (CPU, float32) and compare.

usage: python3 tools/torch_replay.py RUN_DIR [--rtol R] [--atol A] [--steps N]
                                     [--max-steps S] [--rnn nn|loop] [--float64] [--json]

Rebuilds the run from RUN_DIR alone -- config.ini (the resolved experiment),
data/{train,test}_{x,y}.npy (written by `clgrad run --save-data`) and
weights/init/*.npy -- and trains the same model with torch.nn / torch.optim,
step for step as src/run/train.c does:

  per step: batch (clgrad_data_epoch_order, reimplemented bit-exactly) ->
  forward -> loss (mse | BCEWithLogits | CrossEntropy, mean) -> backward ->
  global gradient norm (pre-clip, 2 or inf) -> clipping (value | per-tensor
  norm | clip_grad_norm_ | AGC | none) -> optimizer step with the scheduled lr
  (skipped when the norm is non-finite under [clip] nonfinite = skip|stop) ->
  divergence watch (stop at the first log step at/after it when clgrad would).
  [optim] l1 adds l1*sign(theta) to the gradients before the norm, then
  [noise] grad_eta adds the gradient noise; [noise] input_std adds noise to
  the training batch before the forward pass.  Both noises are clgrad's own
  draws (cl/init.cl rng_noise_normal: Philox-4x32-10 keyed by the seed,
  counter (element, step, stream), Box-Muller), reimplemented here with
  numpy: the same words, the normal computed in float64 and rounded to float
  (clgrad's own log/cos are a few ulp off libm's, far below the tolerance).

Then it compares with the run's own files, with `clgrad compare`'s rule
|a - b| <= atol + rtol*|b| (b = the clgrad run; NaN == NaN; Inf == Inf of one
sign), defaults rtol 1e-4, atol 1e-6:
  metrics.csv  loss, grad_norm, clip_coef, lr, train_acc, weight_norm, test_loss
  layers.csv   weight_grad_norm, bias_grad_norm, out_grad_norm, weight_norm per layer
  timesteps.csv  (RNN with --rnn loop) ||dL/dh_t||
  weights/final/*.npy
For each metric it reports the max abs/rel difference, the max rel difference
over the first 10 logged steps and the first step beyond tolerance (two
float32 implementations drift apart slowly; the first steps show whether
they compute the same thing).

Exit status: 0 when loss and grad_norm agree over the first N logged steps
(--steps N, default min(20, all)) and the final weights agree (skipped with a
note when the run diverged); 1 when they disagree; 2 on a usage error or
missing files (or no python3 torch/numpy).

Semantics that differ from PyTorch's defaults and are reproduced here as
clgrad does them: softplus is the exact log1p(exp) form (no linear switch at
20); the RNN has no recurrent bias (bias_hh = 0, not trained) and predicts from
its last step; an MLP on sequence data sees the flattened (B, T*F) input; a
single activation_param is shared by all layers (auto: the default of the
first layer's activation); gradient 2-norms do not overflow (clgrad's norm is
a scaled sum of squares; PyTorch's float32 norm overflows above ~1.8e19: the
replay then uses a float64 norm and says so).

Recurrent models: rnn, lstm, gru, with [model] layers = L stacked layers,
each layer a one-layer torch.nn.RNN / LSTM / GRU (batch_first) so that the
gradient at every layer's last output can be hooked (layers.csv names them
rnn_l0 .. rnn_l{L-1}; "rnn" for L = 1), clgrad's tensor rnn.weight_ih_l<k>
being the k-th module's weight_ih_l0; then fc on the top layer's last step.
timesteps.csv (||dL/dh_t||, summed in squares over the layers as clgrad
does) is compared with --rnn loop, which exists for the vanilla RNN only.

MLPs with [model] norm = layernorm | rmsnorm | batchnorm, residual = none |
pre | post and final_norm (README "Normalisation layers and residual blocks",
include/clgrad/model.h): the blocks exactly as clgrad's (none: act(Norm(W h +
b)); post: the stem act(W x + b), then Norm(h + act(W h + b)); pre: the stem,
then h + act(W Norm(h) + b), and the final Norm before the output Linear),
each module at clgrad's nn.Sequential index so that the state_dict names are
clgrad's tensor names.  The norms are PyTorch's modules: nn.LayerNorm,
nn.RMSNorm (written out as its forward where torch < 2.4 lacks it),
nn.BatchNorm1d(momentum 0.1), eps = [model] norm_eps as a float (auto:
PyTorch's defaults); batch norm runs in train mode for the steps and in eval
mode for the test-set evaluation, and its running_mean, running_var and
num_batches_tracked are compared with weights/final/ like the parameters.
layers.csv: a norm layer "<norm>_<i>" (its weight, bias and out_grad_norm,
the gradient at its output); a hidden Linear's out_grad_norm is the gradient
at its block's output.  LARS/LAMB exclude (exclude = bias) every bias,
a norm's bias included, and not a norm's weight, as clgrad's is_bias.
"""
import argparse
import json
import math
import os
import signal
import sys

M64 = (1 << 64) - 1
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-6
EXIT_OK, EXIT_DIFFER, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- minibatch order
# src/run/data_rng.c: xoshiro256** seeded by splitmix64, Fisher-Yates shuffle;
# src/run/data.c clgrad_data_epoch_order with stream CLGRAD_STREAM_EPOCH = 3.

STREAM_EPOCH = 3


def _splitmix64(state):
    """state: one-element list (the counter); returns the next output."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & M64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Drng:
    """clgrad_drng: the integer part (init, u64, below, shuffle)."""

    def __init__(self, seed, stream, index):
        x = [seed & M64]
        h = _splitmix64(x)
        x = [h ^ ((stream * 0xD1B54A32D192ED03) & M64)]
        h = _splitmix64(x)
        x = [h ^ ((index * 0x8CB92BA72F3D8DD7) & M64)]
        self.s = [_splitmix64(x) for _ in range(4)]

    def u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        if n <= 1:
            return 0
        threshold = ((1 << 64) - n) % n  # 2^64 mod n
        while True:
            x = self.u64()
            if x >= threshold:
                return x % n

    def shuffle(self, idx):
        for i in range(len(idx), 1, -1):
            j = self.below(i)
            idx[i - 1], idx[j] = idx[j], idx[i - 1]


def epoch_order(n, seed, epoch, shuffle):
    """clgrad_data_epoch_order(n, seed, epoch, shuffle)."""
    idx = list(range(n))
    if shuffle:
        Drng(seed, STREAM_EPOCH, epoch).shuffle(idx)
    return idx


# ---------------------------------------------------------------- noise
# cl/init.cl rng_noise_normal: element i of (stream, step) under seed s is the
# Philox-4x32-10 block with key (s mod 2^32, s / 2^32) and counter
# (i mod 2^32, i / 2^32, step, stream); z = sqrt(-2 ln u1) cos(2 pi (j + 1/2) / 2^24),
# u1 = ((w0 >> 9) * 2 + 1) 2^-24, j = w1 >> 8.

NOISE_STREAM_GRAD, NOISE_STREAM_INPUT = 1, 2


def philox_words(seed, stream, step, n):
    """The first two words of the Philox-4x32-10 blocks of elements 0..n-1."""
    import numpy as np
    u = np.uint64
    mask = u(0xFFFFFFFF)
    idx = np.arange(n, dtype=np.uint64)
    c0, c1 = idx & mask, idx >> u(32)
    c2 = np.full(n, step & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(n, stream & 0xFFFFFFFF, dtype=np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = u(0xD2511F53) * c0, u(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (p1 >> u(32)) ^ c1 ^ u(k0), p1 & mask, (p0 >> u(32)) ^ c3 ^ u(k1), p0 & mask
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c0, c1


def noise_normal(seed, stream, step, n):
    """clgrad's standard normal draws z_0..z_{n-1} of (seed, stream, step), float32."""
    import numpy as np
    w0, w1 = philox_words(seed, stream, step, n)
    u1 = (((w0 >> np.uint64(9)) << np.uint64(1)) | np.uint64(1)).astype(np.float64) * 2.0 ** -24
    j = (w1 >> np.uint64(8)).astype(np.float64)
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * (j + 0.5) * 2.0 ** -24)).astype(np.float32)


def grad_noise_std(eta, gamma, step):
    """src/ops/init.c clgrad_grad_noise_std (double), used as a float."""
    if not eta > 0.0:
        return 0.0
    return math.sqrt(eta / math.pow(1.0 + float(step), gamma))


def lr_at(o, step, total):
    """src/run/train.c lr_at_ (double precision, as there)."""
    lr = o["lr"]
    sched = o["schedule"]
    if sched == "step" and o["step_size"] > 0:
        return lr * math.pow(o["gamma"], float((step - 1) // o["step_size"]))
    if sched == "warmup" and o["warmup_steps"] > 0:
        return lr * float(step) / float(o["warmup_steps"]) if step <= o["warmup_steps"] else lr
    if sched == "cosine":
        w = o["warmup_steps"] if o["warmup_steps"] > 0 else 0
        if step <= w:
            return lr * float(step) / float(w)
        span, pos = float(total - w), float(step - w - 1)
        return o["min_lr"] + (lr - o["min_lr"]) * 0.5 * (1.0 + math.cos(math.pi * (pos / (span - 1) if span > 1 else 1.0)))
    return lr


# ---------------------------------------------------------------- config.ini

def _strip_value(v):
    v = v.strip()
    if v[:1] in ('"', "'"):
        q = v[0]
        end = v.find(q, 1)
        if end < 0:
            raise UsageError("config.ini: missing closing quote in %r" % v)
        return v[1:end]
    for i, ch in enumerate(v):  # a comment starts at '#' or ';' after a blank
        if ch in "#;" and (i == 0 or v[i - 1] in " \t"):
            return v[:i].strip()
    return v


def read_ini(path):
    cfg, sec = {}, None
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.startswith("["):
                sec = s[1:s.index("]")].strip()
                cfg.setdefault(sec, {})
                continue
            if "=" not in s or sec is None:
                raise UsageError("%s:%d: cannot parse %r" % (path, ln, s))
            k, v = s.split("=", 1)
            cfg[sec][k.strip()] = _strip_value(v)
    return cfg


def _num(v):
    v = v.strip().lower()
    if v == "auto":
        return float("nan")
    if v in ("inf", "+inf", "infinity"):
        return float("inf")
    if v in ("-inf", "-infinity"):
        return float("-inf")
    return float(v)


def _bool(v):
    return v.strip().lower() in ("1", "true", "yes", "on")


def resolve(cfg):
    """The keys the replay needs, typed."""
    try:
        r, d, m, lo, o, c, dv = (cfg[s] for s in ("run", "data", "model", "loss", "optim", "clip", "diverge"))
    except KeyError as e:
        raise UsageError("config.ini has no [%s] section (is this a clgrad run directory?)" % e.args[0])
    acts = [a.strip() for a in m["activation"].split(",") if a.strip()]
    # what the replay does not cover: refuse clearly rather than compare something else
    nz = cfg.get("noise", {})
    unsupported = []
    if m["kind"] not in ("mlp", "rnn", "lstm", "gru"):
        unsupported.append("[model] kind = %s (the replay covers mlp, rnn, lstm and gru)" % m["kind"])
    norm = m.get("norm", "none")
    residual = m.get("residual", "none")
    final_norm = _bool(m.get("final_norm", "false"))
    if norm not in ("none", "layernorm", "rmsnorm", "batchnorm") or residual not in ("none", "pre", "post"):
        unsupported.append("[model] norm = %s, residual = %s (the replay covers norm = none | layernorm | rmsnorm | "
                           "batchnorm and residual = none | pre | post)" % (norm, residual))
    if m["kind"] != "mlp" and (norm != "none" or residual != "none" or final_norm):
        unsupported.append("[model] norm/residual/final_norm with kind = %s (MLP only)" % m["kind"])
    if unsupported:
        raise UsageError("config.ini uses what this replay does not reproduce: " + "; ".join(unsupported))
    out = {
        "seed": int(r["seed"]), "steps": int(r["steps"]), "epochs": int(r["epochs"]),
        "log_every": max(1, int(r["log_every"])), "eval_every": int(r["eval_every"]),
        "batch_size": int(d["batch_size"]), "shuffle": _bool(d["shuffle"]), "data_kind": d["kind"],
        "model": m["kind"], "acts": acts, "act_param": _num(m["activation_param"]), "bias": _bool(m["bias"]),
        "hidden": m["hidden"], "layers": int(m.get("layers", "1")),
        "norm": norm, "residual": residual, "final_norm": final_norm,
        "norm_eps": _num(m.get("norm_eps", "nan")),
        "loss": lo["kind"],
        "noise": {
            "grad_eta": _num(nz.get("grad_eta", "0")), "grad_gamma": _num(nz.get("grad_gamma", "0.55")),
            "input_std": _num(nz.get("input_std", "0")),
        },
        "optim": {
            "kind": o["kind"], "lr": _num(o["lr"]), "momentum": _num(o["momentum"]),
            "dampening": _num(o["dampening"]), "weight_decay": _num(o["weight_decay"]),
            "beta1": _num(o["beta1"]), "beta2": _num(o["beta2"]), "eps": _num(o["eps"]),
            "alpha": _num(o["alpha"]), "nesterov": _bool(o["nesterov"]), "centered": _bool(o["centered"]),
            "amsgrad": _bool(o["amsgrad"]), "schedule": o["schedule"], "step_size": int(o["step_size"]),
            "gamma": _num(o["gamma"]), "warmup_steps": int(o["warmup_steps"]), "min_lr": _num(o["min_lr"]),
            "l1": _num(o.get("l1", "0")),
            "trust_coefficient": _num(o.get("trust_coefficient", "0.001")),
            "trust_clip": _num(o.get("trust_clip", "inf")), "exclude": o.get("exclude", "bias_and_norm"),
        },
        "clip": {
            "kind": c["kind"], "max_norm": _num(c["max_norm"]), "norm_type": _num(c["norm_type"]),
            "value": _num(c["value"]), "clipping": _num(c["clipping"]), "nonfinite": c["nonfinite"],
        },
        "diverge": {
            "grad_norm_limit": _num(dv["grad_norm_limit"]), "loss_limit": _num(dv["loss_limit"]),
            "action": dv["action"],
        },
    }
    return out


def layerwise_optimizer(torch):
    """LARS (You, Gitman, Ginsburg 2017, Algorithm 1) and LAMB (You et al. 2020,
    Algorithm 2), written out by hand from the papers' rules (PyTorch has
    neither), as README.md states them and clgrad implements them, per tensor:
      LARS  ratio = eta*||w|| / (||g|| + beta*||w||); v = m*v + lr*ratio*(g + beta*w); w -= v
      LAMB  m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
            u = (m/(1-b1^t)) / (sqrt(v)/sqrt(1-b2^t) + eps) + wd*w
            ratio = ||w|| / ||u||; w -= lr*ratio*u
    ratio = 1 when ||w|| = 0 or ||g|| (LARS) / ||u|| (LAMB) = 0, then min(ratio,
    trust_clip) (NaN propagates); an excluded tensor (a bias, exclude = bias)
    has ratio 1 and no weight decay.  The norms are summed in float64 (clgrad's
    are a scaled float32 sum of squares: no overflow)."""
    class Layerwise(torch.optim.Optimizer):
        def __init__(self, params, excluded, kind, o):
            super().__init__(params, {"lr": o["lr"]})
            self.excluded, self.lamb, self.o = list(excluded), kind == "lamb", o

        @torch.no_grad()
        def step(self):
            o = self.o
            b1, b2, eps, mom = o["beta1"], o["beta2"], o["eps"], o["momentum"]
            eta = 1.0 if self.lamb else o["trust_coefficient"]
            for group in self.param_groups:
                lr = group["lr"]
                for p, ex in zip(group["params"], self.excluded):
                    g, st = p.grad, self.state[p]
                    wd = 0.0 if ex else o["weight_decay"]
                    if self.lamb:
                        if not st:
                            st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                        st["t"] += 1
                        t = st["t"]
                        st["m"].mul_(b1).add_(g, alpha=1 - b1)
                        st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                        d = (st["m"] / (1 - b1 ** t)) / (st["v"].sqrt() / math.sqrt(1 - b2 ** t) + eps)
                        if wd != 0:
                            d = d + wd * p
                    else:
                        d = g
                    wn = float(torch.linalg.vector_norm(p.double()))
                    un = float(torch.linalg.vector_norm(d.double()))
                    ratio = 1.0
                    if not ex and wn != 0 and un != 0:
                        ratio = eta * wn / (un + (0.0 if self.lamb else wd) * wn)
                        if ratio > o["trust_clip"]:
                            ratio = o["trust_clip"]
                    if self.lamb:
                        p.add_(d, alpha=-lr * ratio)
                    else:
                        if not st:
                            st["buf"] = torch.zeros_like(p)
                        x = g + wd * p if wd != 0 else g
                        st["buf"].mul_(mom).add_(x, alpha=lr * ratio)
                        p.sub_(st["buf"])
    return Layerwise


# ---------------------------------------------------------------- run files

def read_csv(path):
    """Rows of a clgrad CSV as dicts of strings; None when the file is absent."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text and not text.endswith("\n"):  # a writer killed mid-row: never read a cut number as a whole one
        sys.stderr.write("warning: %s: ignored a cut last line (no newline)\n" % path)
        text = text[:text.rfind("\n") + 1]
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()]
    if not lines:
        return []
    head = lines[0].split(",")
    return [dict(zip(head, ln.split(","))) for ln in lines[1:]]


def csv_val(s):
    """A CSV field as a float, None when empty (not measured)."""
    if s is None or s == "":
        return None
    return float(s)  # float() reads nan, inf, -inf


# ---------------------------------------------------------------- the model

def build_torch():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Softplus(torch.autograd.Function):
        """clgrad's exact softplus: max(z,0) + log1p(exp(-|z|)), derivative sigmoid(z)."""

        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return torch.clamp_min(z, 0) + torch.log1p(torch.exp(-z.abs()))

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * torch.sigmoid(z)

    class Act(nn.Module):
        def __init__(self, name, p):
            super().__init__()
            self.name, self.p = name, p

        def extra_repr(self):
            return "%s, p=%g" % (self.name, self.p)

        def forward(self, z):
            n, p = self.name, self.p
            if n == "identity":
                return z
            if n == "sigmoid":
                return torch.sigmoid(z)
            if n == "tanh":
                return torch.tanh(z)
            if n == "relu":
                return F.relu(z)
            if n == "leaky_relu":
                return F.leaky_relu(z, p)
            if n == "elu":
                return F.elu(z, alpha=p)
            if n == "selu":
                return F.selu(z)
            if n == "softsign":
                return F.softsign(z)
            if n == "softplus":
                return Softplus.apply(z)
            if n == "gelu":
                return F.gelu(z)
            if n == "gelu_tanh":
                return F.gelu(z, approximate="tanh")
            raise UsageError("unknown activation %r" % n)

    class LoopRNN(nn.Module):
        """One vanilla RNN layer written out: h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T)."""

        def __init__(self, F_, H, act, bias):
            super().__init__()
            self.weight_ih_l0 = nn.Parameter(torch.zeros(H, F_))
            self.weight_hh_l0 = nn.Parameter(torch.zeros(H, H))
            self.bias_ih_l0 = nn.Parameter(torch.zeros(H)) if bias else None
            self.act = act
            self.H = H

        def forward(self, x, hooks=None):
            B, T, _ = x.shape
            h = x.new_zeros(B, self.H)
            outs = []
            for t in range(T):
                z = x[:, t, :] @ self.weight_ih_l0.t()
                if self.bias_ih_l0 is not None:
                    z = z + self.bias_ih_l0
                z = z + h @ self.weight_hh_l0.t()
                h = self.act(z)
                if hooks is not None:
                    hooks(t + 1, h)
                outs.append(h)
            return torch.stack(outs, dim=1)

    class RNNModel(nn.Module):
        """L stacked recurrent layers (one module each), then fc on the top layer's last step.
        hooks(l, t, h): the loop calls it with each h_t of layer l (t 1-based); torch.nn's
        modules with t = None and the layer's whole output sequence."""

        def __init__(self, kind, F_, H, K, L, act_name, p, bias, impl):
            super().__init__()
            self.impl = impl
            mods = []
            for l in range(L):
                fin = F_ if l == 0 else H
                if impl == "loop":
                    mods.append(LoopRNN(fin, H, Act(act_name, p), bias))
                elif kind == "rnn":
                    r = nn.RNN(fin, H, nonlinearity=act_name, bias=bias, batch_first=True)
                    if bias:  # clgrad's RNN has one bias; the recurrent one is 0 and not trained
                        with torch.no_grad():
                            r.bias_hh_l0.zero_()
                        r.bias_hh_l0.requires_grad_(False)
                    mods.append(r)
                elif kind == "lstm":
                    mods.append(nn.LSTM(fin, H, bias=bias, batch_first=True))
                else:
                    mods.append(nn.GRU(fin, H, bias=bias, batch_first=True))
            self.rnn = nn.ModuleList(mods)
            self.fc = nn.Linear(H, K, bias=bias)

        def forward(self, x, hooks=None):
            h = x
            for l, mod in enumerate(self.rnn):
                if self.impl == "loop":
                    h = mod(h, None if hooks is None else (lambda t, ht, l=l: hooks(l, t, ht)))
                else:
                    h, _ = mod(h)
                    if hooks is not None:
                        hooks(l, None, h)
            return self.fc(h[:, -1, :])

    class RMSNorm(nn.Module):
        """nn.RMSNorm(N, eps) (PyTorch >= 2.4) written out for older versions, as its forward:
        y = x * rsqrt(mean(x^2 over the features) + eps) * weight (no bias)."""

        def __init__(self, N, eps):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(N))

        def extra_repr(self):
            return "%d, eps=%g (by hand)" % (self.weight.numel(), self.eps)

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def make_norm(kind, N, eps, bias):
        """PyTorch's own modules: nn.LayerNorm, nn.RMSNorm (by hand before 2.4), nn.BatchNorm1d(momentum 0.1)."""
        if kind == "layernorm":
            return nn.LayerNorm(N, eps=eps)
        if kind == "rmsnorm":
            return nn.RMSNorm(N, eps=eps) if hasattr(nn, "RMSNorm") else RMSNorm(N, eps)
        if kind == "batchnorm":
            return nn.BatchNorm1d(N, eps=eps, momentum=0.1)
        raise UsageError("unknown norm %r" % kind)

    class BlockMLP(nn.Sequential):
        """An MLP with norm layers / residual blocks, clgrad's blocks exactly (include/clgrad/model.h):
        the modules sit at clgrad's nn.Sequential indices (so the state_dict names are clgrad's tensor
        names), the forward is the plan's:
          ("plain", lin, norm|None, act):  h = act(Norm(W h + b))
          ("post", lin, act, norm|None):   h = Norm(h + act(W h + b))
          ("pre", norm|None, lin, act):    h = h + act(W Norm(h) + b)
          ("final", norm):                 h = Norm(h)
          ("out", lin):                    logits = W h + b
        hook(i, t) is called with the tensor whose gradient clgrad reports as module i's out_grad_norm."""

        def __init__(self, mods, plan):
            super().__init__(*mods)
            self.plan = plan

        def forward(self, x, hook=None):
            hk = hook if hook is not None else (lambda i, t: None)
            h = x
            for blk in self.plan:
                k = blk[0]
                if k == "plain":
                    _, li, ni, ai = blk
                    z = self[li](h)
                    if ni is not None:
                        z = self[ni](z)
                        hk(ni, z)
                    h = self[ai](z)
                    hk(li, h)
                elif k == "post":
                    _, li, ai, ni = blk
                    h = h + self[ai](self[li](h))
                    if ni is not None:
                        h = self[ni](h)
                        hk(ni, h)
                    hk(li, h)
                elif k == "pre":
                    _, ni, li, ai = blk
                    u = h
                    if ni is not None:
                        u = self[ni](h)
                        hk(ni, u)
                    h = h + self[ai](self[li](u))
                    hk(li, h)
                elif k == "final":
                    h = self[blk[1]](h)
                    hk(blk[1], h)
                else:
                    h = self[blk[1]](h)
            return h

    def block_mlp(widths, acts, p, bias, norm, residual, final_norm, eps):
        """clgrad's mlp_layout_ (src/nn/model.c): module indices and the plan.  widths = [in, h1.., K].
        Returns (model, [(layer name, module index, is_norm)] in clgrad's metric-layer order)."""
        nlin = len(widths) - 1
        mods, plan, lays = {}, [], []
        idx = 0
        for l in range(nlin):
            K, N = widths[l], widths[l + 1]
            last = l == nlin - 1
            res = (not last) and l >= 1 and residual != "none"
            has_norm = (not last) and norm != "none" and (residual == "none" or res)
            pre = res and residual == "pre"
            if last and final_norm:
                mods[idx] = make_norm(norm, K, eps, bias)
                lays.append(("%s_%d" % (norm, idx), idx, True))
                plan.append(("final", idx))
                idx += 1
            ni = None
            if has_norm and pre:
                ni = idx
                mods[ni] = make_norm(norm, K, eps, bias)
                lays.append(("%s_%d" % (norm, ni), ni, True))
                idx += 1
            li = idx
            mods[li] = nn.Linear(K, N, bias=bias)
            lays.append(("linear_%d" % li, li, False))
            idx += 1
            if last:
                plan.append(("out", li))
                break
            act = Act(acts[0] if len(acts) == 1 else acts[l], p)
            if has_norm and not pre:
                if residual == "none":  # Linear, Norm, activation
                    ni, ai = li + 1, li + 2
                else:  # post: Linear, activation, Norm
                    ai, ni = li + 1, li + 2
                mods[ni] = make_norm(norm, N, eps, bias)
                lays.append(("%s_%d" % (norm, ni), ni, True))
                idx += 2
            else:
                ai = idx
                idx += 1
            mods[ai] = act
            if not res:
                plan.append(("plain", li, ni, ai))
            elif pre:
                plan.append(("pre", ni, li, ai))
            else:
                plan.append(("post", li, ai, ni))
        assert sorted(mods) == list(range(idx))
        return BlockMLP([mods[i] for i in range(idx)], plan), lays

    return torch, nn, F, Act, RNNModel, block_mlp


# ---------------------------------------------------------------- replay

def npy(path):
    import numpy as np
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    a = np.load(path, allow_pickle=False)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    return a


def replay(run_dir, cfg, opts):
    import numpy as np
    torch, nn, F, Act, RNNModel, block_mlp = build_torch()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    dt = torch.float64 if opts.float64 else torch.float32
    torch.set_default_dtype(dt)
    notes = []

    ddir = os.path.join(run_dir, "data")
    need = [os.path.join(ddir, n + ".npy") for n in ("train_x", "train_y")]
    missing = [p for p in need if not os.path.exists(p)]
    if missing:
        raise UsageError("%s: no saved data (%s missing). The replay needs the exact data set: re-run the "
                         "experiment with `clgrad run ... --save-data` (same config and seed)"
                         % (run_dir, ", ".join(os.path.relpath(p, run_dir) for p in missing)))
    xtr, ytr = npy(need[0]), npy(need[1])
    xte = yte = None
    if os.path.exists(os.path.join(ddir, "test_x.npy")) and os.path.exists(os.path.join(ddir, "test_y.npy")):
        xte, yte = npy(os.path.join(ddir, "test_x.npy")), npy(os.path.join(ddir, "test_y.npy"))
    n = xtr.shape[0]
    if n == 0:
        raise UsageError("%s: the saved training set is empty" % run_dir)

    idir = os.path.join(run_dir, "weights", "init")
    if not os.path.isdir(idir):
        raise UsageError("%s: no weights/init/ directory" % run_dir)
    init = {f[:-4]: npy(os.path.join(idir, f)) for f in sorted(os.listdir(idir)) if f.endswith(".npy")}

    # ---- model (shapes from the initial weights, checked against the config)
    acts = cfg["acts"]
    p = cfg["act_param"]
    if math.isnan(p):  # src/run/train.c: auto -> the default of the first layer's activation
        p = {"leaky_relu": 0.01, "elu": 1.0}.get(acts[0], 0.0) if acts else 0.0
        if "leaky_relu" in acts and "elu" in acts:
            notes.append("activation_param is auto with both leaky_relu and elu: clgrad uses %g (the first "
                         "layer's default) for every layer, and so does this replay (PyTorch's own defaults "
                         "would be 0.01 and 1.0)" % p)
    def f32(v):  # clgrad passes hyper-parameters to its kernels as floats
        return float(np.float32(v))

    p = float(np.float32(p))  # clgrad passes the parameter to the kernels as a float
    bias = cfg["bias"]
    rec = cfg["model"] in ("rnn", "lstm", "gru")
    L = cfg["layers"] if rec else 1
    # norm layers / residual blocks / a final norm: clgrad's extended MLP (BlockMLP)
    ext = not rec and (cfg["norm"] != "none" or cfg["residual"] != "none" or cfg["final_norm"])
    mlp_layers = None
    if rec:
        if xtr.ndim != 3:
            raise UsageError("%s run but train_x.npy is not (n, T, F)" % cfg["model"])
        for key in ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l%d" % (L - 1), "fc.weight"):
            if key not in init:
                raise UsageError("weights/init/ lacks %s.npy ([model] kind = %s, layers = %d)" % (key, cfg["model"], L))
        Fin = init["rnn.weight_ih_l0"].shape[1]
        H = init["rnn.weight_hh_l0"].shape[1]
        K = init["fc.weight"].shape[0]
        act = acts[0]
        impl = opts.rnn
        if cfg["model"] != "rnn":
            if impl == "loop":
                notes.append("--rnn loop exists for the vanilla RNN only: the %s is torch.nn.%s (timesteps.csv "
                             "not compared)" % (cfg["model"], cfg["model"].upper()))
            impl = "nn"
        elif impl == "nn" and act not in ("tanh", "relu"):
            impl = "loop"
            notes.append("nn.RNN has no %s nonlinearity: the RNN is written out as a loop" % act)
        model = RNNModel(cfg["model"], Fin, H, K, L, act, p, bias, impl)
        x_all = torch.from_numpy(np.ascontiguousarray(xtr)).to(dt)
        T = xtr.shape[1]
    elif ext:
        impl = None
        # the Linears: the 2-D weights, in index order (a norm's weight is 1-D)
        lw = sorted((int(k.split(".")[0]), v.shape) for k, v in init.items() if k.endswith(".weight") and v.ndim == 2)
        if not lw:
            raise UsageError("weights/init/ has no Linear weights")
        widths = [lw[0][1][1]] + [shp[0] for _, shp in lw]
        nk = cfg["norm"]
        eps = cfg["norm_eps"]
        if math.isnan(eps) or eps == 0:  # PyTorch's defaults (clgrad_normlayer_default_eps)
            eps = 2.0 ** -23 if nk == "rmsnorm" else 1e-5
        eps = f32(eps)  # clgrad passes eps to the kernels as a float
        model, mlp_layers = block_mlp(widths, acts, p, bias, nk, cfg["residual"], cfg["final_norm"], eps)
        K = widths[-1]
        x_all = torch.from_numpy(np.ascontiguousarray(xtr.reshape(n, -1))).to(dt)
        T = 1
    else:
        impl = None
        nlin = len([k for k in init if k.endswith(".weight")])
        layers = []
        for l in range(nlin):
            w = init["%d.weight" % (2 * l)]
            layers.append(nn.Linear(w.shape[1], w.shape[0], bias=bias))
            if l < nlin - 1:
                layers.append(Act(acts[0] if len(acts) == 1 else acts[l], p))
        model = nn.Sequential(*layers)
        K = init["%d.weight" % (2 * (nlin - 1))].shape[0]
        x_all = torch.from_numpy(np.ascontiguousarray(xtr.reshape(n, -1))).to(dt)
        T = 1
    y_all = torch.from_numpy(np.ascontiguousarray(ytr.reshape(n))).to(dt)
    sd = model.state_dict()

    def cname(tn):  # torch's rnn.<k>.weight_ih_l0 is clgrad's rnn.weight_ih_l<k>
        parts = tn.split(".")
        if len(parts) == 3 and parts[0] == "rnn" and parts[2].endswith("_l0"):
            return "rnn.%s_l%s" % (parts[2][:-3], parts[1])
        return tn
    c2t = {cname(k): k for k in sd}
    for k, v in init.items():
        if k not in c2t:
            raise UsageError("weights/init/%s.npy does not fit the model from config.ini (tensors: %s)"
                             % (k, ", ".join(sorted(c2t))))
        tk = c2t[k]
        if tuple(sd[tk].shape) != v.shape:
            raise UsageError("weights/init/%s.npy has shape %s, the model wants %s" % (k, v.shape, tuple(sd[tk].shape)))
        sd[tk] = torch.from_numpy(v.copy()).to(dt)
    trainable = [k for k, prm in model.named_parameters() if prm.requires_grad]
    missing_t = [cname(k) for k in trainable if cname(k) not in init]
    if missing_t:
        raise UsageError("weights/init/ lacks %s" % ", ".join(missing_t))
    model.load_state_dict(sd)
    names = [cname(k) for k in trainable]  # clgrad's tensor order: the model's parameter order
    params = [dict(model.named_parameters())[k] for k in trainable]
    nz = cfg["noise"]
    input_std = f32(nz["input_std"])
    seed = cfg["seed"]

    # ---- loss
    loss_kind = cfg["loss"]
    if loss_kind == "mse":
        loss_fn = nn.MSELoss()
    elif loss_kind == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
    elif loss_kind == "ce":
        loss_fn = nn.CrossEntropyLoss()
    else:
        raise UsageError("unknown loss %r" % loss_kind)

    def targets(yb):
        return yb.long() if loss_kind == "ce" else yb.view(-1, 1)

    def accuracy(logits, yb):
        if loss_kind == "ce":
            return float((logits.argmax(dim=1) == yb.long()).float().mean())
        if loss_kind == "bce":
            return float(((logits.view(-1) > 0) == (yb > 0.5)).float().mean())
        return None

    # ---- optimizer
    o = cfg["optim"]
    kind = o["kind"]
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"], dampening=o["dampening"],
                              weight_decay=o["weight_decay"], nesterov=o["nesterov"], foreach=False)
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=o["lr"], alpha=o["alpha"], eps=o["eps"], weight_decay=o["weight_decay"],
                                  momentum=o["momentum"], centered=o["centered"], foreach=False)
    elif kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"],
                  amsgrad=o["amsgrad"], foreach=False)
    elif kind in ("lars", "lamb"):
        # exclude = bias: clgrad's tensors with is_bias (bias, bias_ih, bias_hh, a norm's bias);
        # bias_and_norm (default) also a norm layer's weight: every 1-D tensor of an MLP
        ex = o["exclude"]
        excluded = [(ex != "none" and k.split(".")[-1].startswith("bias")) or
                    (ex == "bias_and_norm" and p.dim() == 1) for k, p in zip(names, params)]
        opt = layerwise_optimizer(torch)(params, excluded, kind, o)
    else:
        raise UsageError("unknown optimizer %r" % kind)

    l1 = f32(o["l1"])

    # ---- clipping
    c = cfg["clip"]
    norm_type = float("inf") if math.isinf(c["norm_type"]) else 2.0
    skip_policy = c["nonfinite"] in ("skip", "stop")
    # foreach= arrived in the clipping functions with PyTorch 2.0 (1.13, Debian 12's, has only the loop)
    import inspect
    no_foreach = {"foreach": False} if "foreach" in inspect.signature(torch.nn.utils.clip_grad_norm_).parameters else {}
    no_foreach_v = {"foreach": False} if "foreach" in inspect.signature(torch.nn.utils.clip_grad_value_).parameters else {}

    overflow_noted = []

    def vnorm(t, dim=None):
        """Norm without overflow: clgrad's 2-norm is a scaled sum of squares (clgrad/reduce.h),
        finite whenever the norm is representable, where PyTorch's float32 vector_norm
        overflows to inf above ~1.8e19.  Summed in float64, rounded to the model's dtype."""
        if norm_type == 2.0:
            return torch.linalg.vector_norm(t.double(), 2.0, dim=dim, keepdim=dim is not None).to(t.dtype)
        return torch.linalg.vector_norm(t, norm_type, dim=dim, keepdim=dim is not None)

    def torch_total():
        """torch.nn.utils.clip_grad_norm_'s total: per-tensor norms, then their norm."""
        per = torch.stack([torch.linalg.vector_norm(prm.grad, norm_type) for prm in params])
        return torch.linalg.vector_norm(per, norm_type)

    def clip(step):
        """Clip the gradients in place; returns (pre-clip norm, clip_coef, nonfinite, skip)."""
        total = torch_total()
        exact = vnorm(torch.cat([prm.grad.reshape(-1) for prm in params]))
        overflow = not math.isfinite(float(total)) and math.isfinite(float(exact))
        if overflow:
            if not overflow_noted:
                notes.append("step %d: PyTorch's float32 gradient norm overflows (inf) where the true norm %.6g "
                             "is finite; clgrad's scaled norm does not overflow, so the replay uses the float64 "
                             "norm from here on (and clips with it)" % (step, float(exact)))
            overflow_noted.append(step)
            total = exact
        nonfinite = not math.isfinite(float(total)) or any(not bool(torch.isfinite(prm.grad).all()) for prm in params)
        coef = 1.0
        kindc = c["kind"]
        skip = nonfinite and skip_policy
        if kindc == "global_norm":
            mx = f32(c["max_norm"])
            coef_t = torch.clamp(mx / (total + 1e-6), max=1.0)
            coef = float(coef_t)
            if skip:
                pass
            elif overflow:  # what clip_grad_norm_ does, with the finite total
                for prm in params:
                    prm.grad.mul_(coef_t)
            else:  # PyTorch's own: returns the same pre-clip total as torch_total()
                total = torch.nn.utils.clip_grad_norm_(params, mx, norm_type=norm_type, **no_foreach)
        elif skip or kindc == "none":
            pass
        elif kindc == "value":
            torch.nn.utils.clip_grad_value_(params, f32(c["value"]), **no_foreach_v)
        elif kindc == "norm":  # Keras clipnorm, per tensor: g *= c / max(||g||, c)
            cc = torch.tensor(f32(c["max_norm"]))
            for prm in params:
                nrm = torch.linalg.vector_norm(prm.grad.double()).to(prm.grad.dtype)  # always the 2-norm
                prm.grad.mul_(cc / torch.maximum(nrm, cc))
        elif kindc == "agc":  # Optax adaptive_grad_clip: per row of a weight, a whole bias
            clipping = torch.tensor(f32(c["clipping"]))
            for prm in params:
                w = prm.detach()
                g = prm.grad
                w2 = w.reshape(1, -1) if w.dim() == 1 else w
                g2 = g.view(1, -1) if g.dim() == 1 else g
                wn = torch.linalg.vector_norm(w2.double(), dim=1, keepdim=True).to(w.dtype)
                gn = torch.linalg.vector_norm(g2.double(), dim=1, keepdim=True).to(g.dtype)
                limit = clipping * torch.clamp_min(wn, 1e-3)
                scale = torch.where(gn > limit, limit / torch.clamp_min(gn, 1e-6), torch.ones_like(gn))
                g2.mul_(scale)
        else:
            raise UsageError("unknown clip kind %r" % kindc)
        return total, coef, nonfinite, skip

    # ---- divergence watch (cl/clip_fn.cl clip_diverge_check_)
    dv = cfg["diverge"]
    loss_limit, grad_limit = f32(dv["loss_limit"]), f32(dv["grad_norm_limit"])

    def diverge_kind(L, norm, nonfinite):
        if not math.isfinite(L):
            return 1
        if loss_limit > 0 and L > loss_limit:
            return 2
        if not math.isfinite(norm) or nonfinite:
            return 3
        if grad_limit > 0 and norm > grad_limit:
            return 4
        return 0

    # ---- schedule of steps and batches
    B = n if cfg["batch_size"] <= 0 or cfg["batch_size"] > n else cfg["batch_size"]
    nb = (n + B - 1) // B
    steps = cfg["steps"] if cfg["steps"] > 0 else cfg["epochs"] * nb
    shuffle = cfg["shuffle"] and B < n
    limit_steps = steps
    if opts.max_steps is not None:
        limit_steps = min(limit_steps, opts.max_steps)
    interrupted_at = getattr(opts, "interrupted_at", None)
    if interrupted_at is not None:  # an interrupted run: replay what it did
        limit_steps = min(limit_steps, interrupted_at)
        notes.append("the clgrad run was interrupted after step %d; the replay stops there too" % interrupted_at)
    log_every = cfg["log_every"]

    def eval_test():
        if xte is None or xte.shape[0] == 0:
            return None, None
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(xte if rec else xte.reshape(xte.shape[0], -1)))
            xt = xt.to(dt)
            yt = torch.from_numpy(np.ascontiguousarray(yte.reshape(-1))).to(dt)
            model.eval()  # batch norm: the running estimates (clgrad_model_set_training(m, 0))
            try:
                lg = model(xt)
            finally:
                model.train()
            return float(loss_fn(lg, targets(yt))), accuracy(lg, yt)

    rows, layer_rows, time_rows = {}, {}, {}
    order, epoch = None, -1
    opt_steps = 0
    div = None
    first_nonfinite = None
    steps_done = 0
    for step in range(1, steps + 1):
        if step > limit_steps:
            break
        e = (step - 1) // nb
        pos = ((step - 1) % nb) * B
        Bc = min(B, n - pos)
        if e != epoch:
            order = torch.tensor(epoch_order(n, cfg["seed"], e, shuffle), dtype=torch.long)
            epoch = e
        log = step % log_every == 0 or step == steps
        lr = lr_at(o, step, steps)
        idx = order[pos:pos + Bc]
        xb, yb = x_all[idx], y_all[idx]
        if input_std > 0:  # input-noise augmentation of the training batch, element i of the (B, T*F) batch
            z = noise_normal(seed, NOISE_STREAM_INPUT, step, xb.numel()).reshape(tuple(xb.shape))
            xb = xb + input_std * torch.from_numpy(z).to(dt)

        grads_out = {}

        def keep(name):
            def hook(g):
                grads_out[name] = float(torch.linalg.vector_norm(g.double()))
            return hook

        opt.zero_grad(set_to_none=True)
        if rec:
            def keep_last(l):
                def hook(g):
                    grads_out[("t", l, T)] = float(torch.linalg.vector_norm(g[:, -1, :].double()))
                return hook

            def thook(l, t, h):
                if log and h.requires_grad:
                    h.register_hook(keep(("t", l, t)) if t is not None else keep_last(l))
            logits = model(xb, thook)
        elif ext:
            def bhook(i, t):
                if log and t.requires_grad:
                    t.register_hook(keep(("layer", str(i))))
            logits = model(xb, bhook)
        else:
            h = xb
            for i, mod in enumerate(model):
                h = mod(h)
                if log and isinstance(mod, Act):
                    h.register_hook(keep(("layer", str(i - 1))))
            logits = h
        if log:
            logits.register_hook(keep(("logits", None)))
        loss = loss_fn(logits, targets(yb))
        loss.backward()
        Lval = float(loss.detach())
        acc = accuracy(logits.detach(), yb) if log else None
        if l1 != 0:  # [optim] l1: grad += l1 * sign(theta) (sign(0) = 0), before the norm and clipping
            with torch.no_grad():
                for prm in params:
                    prm.grad.add_(torch.sign(prm), alpha=l1)
        gstd = f32(grad_noise_std(nz["grad_eta"], nz["grad_gamma"], step))
        if gstd > 0:  # gradient noise, after L1, before the norm and clipping: element i of the flat gradient
            z = torch.from_numpy(noise_normal(seed, NOISE_STREAM_GRAD, step, sum(prm.numel() for prm in params))).to(dt)
            with torch.no_grad():
                o_ = 0
                for prm in params:
                    prm.grad.add_(gstd * z[o_:o_ + prm.numel()].view_as(prm.grad))
                    o_ += prm.numel()
        wgn = {}
        if log:
            for k, prm in zip(names, params):
                wgn[k] = float(torch.linalg.vector_norm(prm.grad.double()))
        total, coef, nonfinite, skip = clip(step)
        for g in opt.param_groups:
            g["lr"] = lr
        if not skip:
            opt.step()
            opt_steps += 1
        if nonfinite and first_nonfinite is None:
            first_nonfinite = step
        steps_done = step
        tn = float(total)
        k = diverge_kind(Lval, tn, nonfinite)
        if div is None and k:
            div = {"step": step, "kind": ["", "nonfinite_loss", "loss_limit", "nonfinite_grad", "grad_norm_limit"][k]}
        if not log:
            continue
        wn = float(torch.sqrt(sum((prm.detach().double() ** 2).sum() for prm in params)))
        row = {"loss": Lval, "train_acc": acc, "lr": lr, "grad_norm": tn, "clip_coef": coef, "weight_norm": wn}
        if (cfg["eval_every"] > 0 and step % cfg["eval_every"] == 0) or step == steps:
            row["test_loss"], row["test_acc"] = eval_test()
        rows[step] = row
        # per layer: weight/bias grad norms (pre-clip), weight norm, out_grad_norm
        lr_rows = {}
        if rec:
            if L == 1:
                groups = {"rnn": [k for k in names if k.startswith("rnn.")]}
                ogn = {"rnn": grads_out.get(("t", 0, T))}
            else:
                groups = {"rnn_l%d" % l: [k for k in names if k.startswith("rnn.") and k.endswith("_l%d" % l)]
                          for l in range(L)}
                ogn = {"rnn_l%d" % l: grads_out.get(("t", l, T)) for l in range(L)}
            groups["fc"] = [k for k in names if k.startswith("fc.")]
            ogn["fc"] = grads_out.get(("logits", None))
        elif ext:
            # metric layers: every Linear "linear_i" and every norm "<norm>_i" (i its Sequential index)
            groups = {ln: [k for k in names if k.split(".")[0] == str(i)] for ln, i, _ in mlp_layers}
            ogn = {ln: grads_out.get(("layer", str(i))) for ln, i, _ in mlp_layers[:-1]}
            ogn[mlp_layers[-1][0]] = grads_out.get(("logits", None))
        else:
            lin = [i for i, mod in enumerate(model) if isinstance(mod, nn.Linear)]
            # layers.csv names an MLP's Linear module i "linear_i" (text for every model)
            groups = {"linear_%d" % i: [k for k in names if k.split(".")[0] == str(i)] for i in lin}
            ogn = {"linear_%d" % i: grads_out.get(("layer", str(i))) for i in lin[:-1]}
            ogn["linear_%d" % lin[-1]] = grads_out.get(("logits", None))
        pd = dict(zip(names, params))
        for lname, ks in groups.items():
            wk = [k for k in ks if "weight" in k]
            bk = [k for k in ks if "bias" in k]
            lr_rows[lname] = {
                "weight_grad_norm": math.sqrt(sum(wgn[k] ** 2 for k in wk)),
                "bias_grad_norm": math.sqrt(sum(wgn[k] ** 2 for k in bk)) if bk else None,
                "weight_norm": math.sqrt(sum(float((pd[k].detach().double() ** 2).sum()) for k in wk)),
                "out_grad_norm": ogn.get(lname),
            }
        layer_rows[step] = lr_rows
        if rec and impl == "loop":  # ||dL/dh_t||: over the layers, as clgrad_model_timestep_norm
            time_rows[step] = {}
            for t in range(1, T + 1):
                g = [grads_out.get(("t", l, t)) for l in range(L)]
                time_rows[step][t] = None if None in g else (g[0] if L == 1 else math.sqrt(sum(v * v for v in g)))
        # [clip] nonfinite = stop ends the run at the first log step at/after a step with a
        # non-finite gradient (README); action = stop at the first log step at/after a divergence
        if c["nonfinite"] == "stop" and first_nonfinite is not None:
            if div is not None and div["kind"] != "nonfinite_grad" and dv["action"] != "stop":
                notes.append("nonfinite = stop: the replay stops at step %d (non-finite gradient at step %d) as "
                             "documented; clgrad's train.c stops on it only when the FIRST divergence recorded "
                             "is nonfinite_grad (here %s at step %d), so it may run on"
                             % (step, first_nonfinite, div["kind"], div["step"]))
            break
        if div is not None and dv["action"] == "stop":
            break
    final = {k: prm.detach().numpy().copy() for k, prm in zip(names, params)}
    # batch norm's buffers, compared with weights/final/<i>.running_mean.npy etc. (num_batches_tracked:
    # PyTorch's int64, clgrad's float32 scalar)
    for k, b in model.named_buffers():
        if k.endswith((".running_mean", ".running_var", ".num_batches_tracked")):
            final[k] = b.detach().to(torch.float64).numpy().astype(np.float32).copy()
    return {
        "rows": rows, "layers": layer_rows, "timesteps": time_rows, "final": final, "steps_done": steps_done,
        "steps_planned": steps, "divergence": div, "notes": notes, "batch": B, "rnn_impl": impl,
        "optimizer_steps": opt_steps,
    }


# ---------------------------------------------------------------- comparison

def agree(a, b, rtol, atol):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


class MetricDiff:
    def __init__(self, name, rtol, atol, gate_steps=None):
        self.name, self.rtol, self.atol = name, rtol, atol
        self.compared = 0
        self.max_abs = self.max_rel = 0.0
        self.max_rel10 = 0.0
        self.first = None  # (step, torch, clgrad)
        self.ndiff = 0
        self.gate_steps = gate_steps  # the steps that decide the verdict (None: informative)
        self.gate_fail = None
        self.missing = []

    def add(self, step, a, b, k):
        """a = replay, b = clgrad; k = index of the logged step (0-based)."""
        if a is None and b is None:
            return
        if a is None or b is None:
            self.missing.append((step, "replay" if a is None else "clgrad"))
            if self.gate_steps is not None and step in self.gate_steps and self.gate_fail is None:
                self.gate_fail = step
            return
        self.compared += 1
        if math.isfinite(a) and math.isfinite(b):
            ad = abs(a - b)
            rd = ad / abs(b) if b != 0 else (math.inf if ad != 0 else 0.0)
            self.max_abs = max(self.max_abs, ad)
            self.max_rel = max(self.max_rel, rd)
            if k < 10:
                self.max_rel10 = max(self.max_rel10, rd)
        if not agree(a, b, self.rtol, self.atol):
            self.ndiff += 1
            if self.first is None:
                self.first = (step, a, b)
            if self.gate_steps is not None and step in self.gate_steps and self.gate_fail is None:
                self.gate_fail = step

    def to_json(self):
        return {
            "metric": self.name, "compared": self.compared, "max_abs": jnum(self.max_abs), "max_rel": jnum(self.max_rel),
            "max_rel_first10": jnum(self.max_rel10), "ndiff": self.ndiff,
            "first_diff": None if self.first is None else
            {"step": self.first[0], "replay": jnum(self.first[1]), "clgrad": jnum(self.first[2])},
            "gating": self.gate_steps is not None, "agree": self.gate_fail is None if self.gate_steps is not None else None,
            "missing": [{"step": s, "in": w} for s, w in self.missing[:10]],
        }


def jnum(v):
    if v is None:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def compare(run_dir, cfg, rep, opts):
    import numpy as np
    metrics = read_csv(os.path.join(run_dir, "metrics.csv"))
    if metrics is None:
        raise UsageError("%s: no metrics.csv" % run_dir)
    layers = read_csv(os.path.join(run_dir, "layers.csv")) or []
    timesteps = read_csv(os.path.join(run_dir, "timesteps.csv")) or []
    summary = {}
    sp = os.path.join(run_dir, "summary.json")
    if os.path.exists(sp):
        with open(sp, encoding="utf-8") as f:
            summary = json.load(f)

    crow = {int(r["step"]): r for r in metrics}
    steps_c = sorted(crow)
    steps_r = sorted(rep["rows"])
    common = [s for s in steps_c if s in rep["rows"]]
    gate = set(steps_c[:opts.gate_n if opts.steps is None else opts.steps])
    rtol, atol = opts.rtol, opts.atol

    out = []
    for name in ("loss", "grad_norm", "clip_coef", "lr", "train_acc", "weight_norm", "test_loss"):
        md = MetricDiff(name, rtol, atol, gate if name in ("loss", "grad_norm") else None)
        for k, s in enumerate(steps_c):
            if s not in rep["rows"]:
                if name in ("loss", "grad_norm") and s in gate:
                    md.add(s, None, csv_val(crow[s].get(name)), k)
                continue
            md.add(s, rep["rows"][s].get(name), csv_val(crow[s].get(name)), k)
        out.append(md)

    lay = []
    lnames = []
    for r in layers:
        if r["layer"] not in lnames:
            lnames.append(r["layer"])
    for ln in lnames:
        for col in ("weight_grad_norm", "bias_grad_norm", "out_grad_norm", "weight_norm"):
            md = MetricDiff("%s[%s]" % (col, ln), rtol, atol)
            k = 0
            for r in layers:
                if r["layer"] != ln:
                    continue
                s = int(r["step"])
                if s in rep["layers"] and ln in rep["layers"][s]:
                    md.add(s, rep["layers"][s][ln].get(col), csv_val(r.get(col)), k)
                k += 1
            if md.compared or md.missing:
                lay.append(md)

    tsd = None
    if rep["timesteps"] and timesteps:
        tsd = MetricDiff("timesteps ||dL/dh_t||", rtol, atol)
        k = 0
        for r in timesteps:
            s, t = int(r["step"]), int(r["t"])
            if s in rep["timesteps"]:
                tsd.add(s, rep["timesteps"][s].get(t), csv_val(r.get("grad_norm")), k // max(1, len(rep["timesteps"][s])))
            k += 1

    # final weights
    diverged = summary.get("status") == "diverged"
    wres = {"checked": False, "agree": None, "note": None, "tensors": []}
    fdir = os.path.join(run_dir, "weights", "final")
    steps_done_c = summary.get("steps_done")
    if diverged:
        wres["note"] = "skipped: the run diverged (status diverged at step %s)" % (
            (summary.get("divergence") or {}).get("step"))
    elif not os.path.isdir(fdir):
        wres["note"] = "skipped: no weights/final/"
        wres["agree"] = False
    elif opts.max_steps is not None and opts.max_steps < rep["steps_planned"]:
        wres["note"] = "skipped: --max-steps cut the replay short"
    elif steps_done_c is not None and steps_done_c != rep["steps_done"]:
        wres["note"] = "clgrad did %s steps, the replay %s: final weights not comparable" % (steps_done_c, rep["steps_done"])
        wres["agree"] = False
    else:
        wres["checked"] = True
        ok = True
        for k, a in rep["final"].items():
            p = os.path.join(fdir, k + ".npy")
            if not os.path.exists(p):
                wres["tensors"].append({"tensor": k, "missing": True})
                ok = False
                continue
            b = np.load(p).astype(np.float64)
            a = a.astype(np.float64)
            if a.shape != b.shape:
                wres["tensors"].append({"tensor": k, "shape_replay": list(a.shape), "shape_clgrad": list(b.shape)})
                ok = False
                continue
            both_nan = np.isnan(a) & np.isnan(b)
            fin = np.isfinite(a) & np.isfinite(b)
            with np.errstate(invalid="ignore"):
                close = both_nan | (fin & (np.abs(a - b) <= atol + rtol * np.abs(b))) | (~fin & (a == b))
            ad = np.abs(a - b)[fin]
            rd = (ad / np.maximum(np.abs(b[fin]), 1e-30)) if ad.size else ad
            nbad = int((~close).sum())
            ok = ok and nbad == 0
            wres["tensors"].append({
                "tensor": k, "size": int(a.size), "max_abs": float(ad.max()) if ad.size else 0.0,
                "max_rel": float(rd.max()) if rd.size else 0.0, "beyond_tol": nbad,
                "max_abs_clgrad": float(np.abs(b).max()) if b.size else 0.0,
            })
        wres["agree"] = ok

    div_c = summary.get("divergence")
    div_r = rep["divergence"]
    gating = [m for m in out if m.gate_steps is not None]
    reasons = []
    for m in gating:
        if m.gate_fail is not None:
            reasons.append("%s differs at step %d (within the first %d logged steps)" % (m.name, m.gate_fail, len(gate)))
    if not gate:
        reasons.append("metrics.csv has no rows")
    if wres["agree"] is False:
        nbad = sum(t.get("beyond_tol", 0) for t in wres["tensors"])
        nall = sum(t.get("size", 0) for t in wres["tensors"])
        reasons.append("final weights: %s" % (wres["note"] or "%d of %d elements beyond tolerance" % (nbad, nall)))
    warnings = []
    if div_c or div_r:
        kc = (div_c or {}).get("kind"), (div_c or {}).get("step")
        kr = (div_r or {}).get("kind"), (div_r or {}).get("step")
        if kc != kr:
            warnings.append("divergence verdicts differ: clgrad %s, replay %s" % (
                "%s at step %s" % kc if div_c else "none", "%s at step %s" % kr if div_r else "none"))
    if steps_done_c is not None and steps_done_c != rep["steps_done"]:
        warnings.append("steps done differ: clgrad %s, replay %s" % (steps_done_c, rep["steps_done"]))
    ok = not reasons
    return {
        "run_dir": run_dir, "rtol": rtol, "atol": atol, "gate_steps": len(gate),
        "logged_steps_clgrad": len(steps_c), "logged_steps_replay": len(steps_r), "common_steps": len(common),
        "steps_done": {"clgrad": steps_done_c, "replay": rep["steps_done"]},
        "status_clgrad": summary.get("status"),
        "divergence": {"clgrad": div_c, "replay": div_r},
        "metrics": out, "layers": lay, "timesteps": tsd, "weights": wres, "agree": ok,
        "reasons": reasons, "warnings": warnings,
        "notes": rep["notes"], "batch_size": rep["batch"], "rnn_impl": rep["rnn_impl"],
    }


# ---------------------------------------------------------------- output

def fmt(v, spec="%.3g"):
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return spec % v


def print_report(res, f=sys.stdout):
    w = f.write
    w("torch replay of %s\n" % res["run_dir"])
    w("  batch %d, steps done: clgrad %s, replay %s; logged steps: clgrad %d, replay %d, common %d%s\n" % (
        res["batch_size"], res["steps_done"]["clgrad"], res["steps_done"]["replay"], res["logged_steps_clgrad"],
        res["logged_steps_replay"], res["common_steps"],
        "; recurrent layers: %s" % ("torch.nn modules" if res["rnn_impl"] == "nn" else "explicit loop") if res["rnn_impl"] else ""))
    dc, dr = res["divergence"]["clgrad"], res["divergence"]["replay"]
    if dc or dr:
        w("  divergence: clgrad %s, replay %s\n" % (
            "%s at step %s" % (dc.get("kind"), dc.get("step")) if dc else "none",
            "%s at step %s" % (dr["kind"], dr["step"]) if dr else "none"))
    for n in res["notes"]:
        w("  note: %s\n" % n)
    w("\n%-28s %5s %11s %11s %13s %-28s %s\n" % ("metric", "n", "max abs", "max rel", "max rel 1-10",
                                                 "first beyond tolerance", "verdict"))

    def line(m):
        first = "-" if m.first is None else "step %d (%s vs %s)" % (m.first[0], fmt(m.first[1], "%.6g"),
                                                                     fmt(m.first[2], "%.6g"))
        if m.gate_steps is not None:
            verdict = "ok" if m.gate_fail is None else "DIFFERS (step %d within first %d)" % (m.gate_fail, len(m.gate_steps))
        else:
            verdict = "info" if m.ndiff == 0 else "info: drifts"
        if m.missing:
            verdict += "; missing in %s at step %d" % (m.missing[0][1], m.missing[0][0])
        w("%-28s %5d %11s %11s %13s %-28s %s\n" % (m.name[:28], m.compared, fmt(m.max_abs), fmt(m.max_rel),
                                                   fmt(m.max_rel10), first, verdict))

    for m in res["metrics"]:
        if m.compared or m.missing:
            line(m)
    if res["layers"]:
        w("layers.csv:\n")
        for m in res["layers"]:
            line(m)
    if res["timesteps"] is not None:
        w("timesteps.csv:\n")
        line(res["timesteps"])
    wr = res["weights"]
    w("\nfinal weights:")
    if not wr["checked"]:
        w(" %s\n" % wr["note"])
    else:
        w("\n")
        for t in wr["tensors"]:
            if "missing" in t:
                w("  %-20s missing in weights/final/\n" % t["tensor"])
            elif "shape_clgrad" in t:
                w("  %-20s shape %s (replay) vs %s (clgrad)\n" % (t["tensor"], t["shape_replay"], t["shape_clgrad"]))
            else:
                w("  %-20s max abs %-10s max rel %-10s beyond tolerance %d of %d\n" % (
                    t["tensor"], fmt(t["max_abs"]), fmt(t["max_rel"]), t["beyond_tol"], t["size"]))
    w("\nagreement: |a - b| <= atol + rtol*|b|, rtol %g, atol %g, b = the clgrad run; loss and grad_norm over the "
      "first %d logged steps and the final weights decide.\n" % (res["rtol"], res["atol"], res["gate_steps"]))
    for x in res["warnings"]:
        w("warning: %s\n" % x)
    w("verdict: %s\n" % ("AGREE" if res["agree"] else "DISAGREE: " + "; ".join(res["reasons"])))


def to_json(res):
    d = dict(res)
    d["metrics"] = [m.to_json() for m in res["metrics"]]
    d["layers"] = [m.to_json() for m in res["layers"]]
    d["timesteps"] = res["timesteps"].to_json() if res["timesteps"] is not None else None
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="torch_replay.py",
        description="Replay a clgrad run in PyTorch (CPU, float32) and compare loss, gradient norms and weights.")
    ap.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `clgrad run --save-data`")
    ap.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="relative tolerance (default %(default)g)")
    ap.add_argument("--atol", type=float, default=DEFAULT_ATOL, help="absolute tolerance (default %(default)g)")
    ap.add_argument("--steps", type=int, default=None, metavar="N",
                    help="logged steps on which loss and grad_norm must agree (default min(20, all))")
    ap.add_argument("--max-steps", type=int, default=None, metavar="S",
                    help="replay only the first S training steps (skips the final-weight check)")
    ap.add_argument("--rnn", choices=("nn", "loop"), default="nn",
                    help="RNN as torch.nn.RNN (default) or as an explicit loop (also compares timesteps.csv)")
    ap.add_argument("--float64", action="store_true",
                    help="replay in float64 (a reference for judging which float32 side is closer; "
                         "the hyper-parameters stay as clgrad rounds them)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    opts = ap.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):  # `... | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    opts.gate_n = 20
    for v, n in ((opts.rtol, "--rtol"), (opts.atol, "--atol")):
        if not (v >= 0) or math.isinf(v):
            ap.error("%s must be a finite number >= 0" % n)
    if opts.steps is not None and opts.steps < 1:
        ap.error("--steps must be >= 1")
    if opts.max_steps is not None and opts.max_steps < 1:
        ap.error("--max-steps must be >= 1")
    run_dir = opts.run_dir.rstrip("/") or "/"
    try:
        # the cheap checks first: importing torch takes seconds
        if not os.path.isdir(run_dir):
            raise UsageError("%s: not a directory" % run_dir)
        ini = os.path.join(run_dir, "config.ini")
        if not os.path.exists(ini):
            raise UsageError("%s: no config.ini (is this a clgrad run directory?)" % run_dir)
        missing = [n for n in ("data/train_x.npy", "data/train_y.npy") if not os.path.exists(os.path.join(run_dir, n))]
        if missing:
            raise UsageError("%s: no saved data (%s missing). The replay needs the exact data set: re-run the "
                             "experiment with `clgrad run ... --save-data` (same config and seed)"
                             % (run_dir, ", ".join(missing)))
        try:
            import numpy  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            print("torch_replay.py: needs numpy and PyTorch in this python3 (%s); pip install torch numpy" % e,
                  file=sys.stderr)
            return EXIT_USAGE
        cfg = resolve(read_ini(ini))
        opts.interrupted_at = None
        sp = os.path.join(run_dir, "summary.json")
        if os.path.exists(sp):
            with open(sp, encoding="utf-8") as f:
                sm = json.load(f)
            if sm.get("status") == "interrupted" and isinstance(sm.get("steps_done"), int):
                opts.interrupted_at = sm["steps_done"]
        rep = replay(run_dir, cfg, opts)
        res = compare(run_dir, cfg, rep, opts)
    except UsageError as e:
        print("torch_replay.py: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as e:
        print("torch_replay.py: missing file: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except KeyError as e:
        print("torch_replay.py: %s: weights/init/ lacks %s.npy, or config.ini lacks the key %s"
              % (run_dir, e.args[0], e.args[0]), file=sys.stderr)
        return EXIT_USAGE
    if opts.json:
        json.dump(to_json(res), sys.stdout, indent=2, default=jnum)
        sys.stdout.write("\n")
    else:
        print_report(res)
    return EXIT_OK if res["agree"] else EXIT_DIFFER


if __name__ == "__main__":
    sys.exit(main())
