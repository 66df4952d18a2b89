#!/usr/bin/env bash
# test_torch_replay.sh (device suite): clgrad against PyTorch.  Runs short
# shipped experiments with --save-data and replays each with
# tools/torch_replay.py (PyTorch on the CPU, float32), which must agree
# (exit 0: loss and grad_norm within rtol 1e-4 / atol 1e-6 over the first
# logged steps, and the final weights):
#  1. optim_spirals_adam: MLP, tanh, softmax CE, Adam, shuffled minibatches
#     across an epoch boundary and the last partial batch;
#  2. linreg_lr_below: linear regression, MSE, full-batch SGD near the edge;
#  3. rnn_adding_clip: vanilla RNN (nn.RNN, tanh, BPTT) with global-norm
#     clipping active on every step.  seq_len 20, not 100: at T = 100 the run
#     is chaotic (1 ulp in W_hh moves step 1's gradient norm by 2e-4, see the
#     README), so two float32 implementations cannot agree to 1e-4;
#  4. moons with softplus (clgrad's exact form), RMSprop, cosine schedule
#     with warm-up, AGC, no bias;
#  5. lstm_adding with 2 stacked layers (forget_bias = 1, Adam, step
#     schedule, global-norm clipping), seq_len 10;
#  6. gru_adding, seq_len 10;
#  7. rnn_adding_clip with 3 stacked layers, replayed with --rnn loop, so
#     timesteps.csv (||dL/dh_t|| over the layers) is compared too;
#  8. optim_spirals_sgd with gradient noise (grad_eta 0.3) and 9.
#     optim_spirals_adam with input noise (input_std 0.5): the replay draws
#     clgrad's noise itself (Philox-4x32-10 + Box-Muller in numpy);
# 10. large_batch_lars and large_batch_lamb (LARS, LAMB: written by hand in
#     the replay from the papers' rules, PyTorch has neither), and LARS with
#     excluded biases, trust clipping active and global-norm clipping; a
#     LARS run whose trust_coefficient is altered afterwards must disagree.
# 11. norm layers and residual blocks (README "Normalisation layers and residual
#     blocks"): preln_deep (layernorm, residual = pre, final_norm), postln_deep
#     (residual = post), sigmoid_deep_batchnorm (nn.BatchNorm1d: train mode in
#     the steps, eval mode for the test set, running_mean/running_var/
#     num_batches_tracked compared at the end; at full depth over 2 steps,
#     at hidden = 32x3 over 20), deep50_residual (residual = pre, no norm),
#     rmsnorm (preln_deep with norm = rmsnorm) and layernorm with residual =
#     none (SGD), LARS with layernorm and exclude = bias (a norm's bias is
#     excluded, its weight is not: a replay that also excludes the norms'
#     weights disagrees from step 2) and with the default exclude =
#     bias_and_norm (both excluded); a layernorm and a
#     batchnorm run whose norm_eps is altered afterwards must disagree.  Kept
#     short: past these steps the deep nets part by more than 1e-4 for
#     reasons of conditioning, not semantics (Adam's update of gradient
#     elements ~eps, a ReLU kink crossed, batch norm at a collapsed feature).
# And it must be able to fail: a run whose config.ini is altered after the
# fact (another learning rate) must disagree (exit 1), and a run without
# --save-data must be refused (exit 2).
# Skipped (77) when python3 with torch and numpy is not available.
# usage: test_torch_replay.sh /path/to/clgrad
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
REPLAY="$ROOT/tools/torch_replay.py"
# the first python3 that imports torch and numpy: the one on PATH (a venv,
# pyenv), else the system's (Debian's python3-torch, python3-numpy)
PY=
for p in python3 /usr/bin/python3; do
  command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, numpy' >/dev/null 2>&1 && { PY=$p; break; }
done
if [ -z "$PY" ]; then
  echo "SKIP: no python3 that can import torch and numpy (pip install torch numpy, or apt-get install python3-torch)"
  exit 77
fi
echo "python: $PY, torch $("$PY" -c 'import torch; print(torch.__version__)')"
T=$(mktemp -d /tmp/clgrad-test-replay-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
DEV=()
[ -n "${CLGRAD_TEST_DEVICE:-}" ] && DEV=(--device "$CLGRAD_TEST_DEVICE")
run() { # run NAME EXP [--set ...]
  local name=$1 exp=$2; shift 2
  "$CLGRAD" run "$ROOT/experiments/$exp" "$@" "${DEV[@]}" --save-data --quiet --out "$T/$name" >"$T/$name.log" 2>&1 ||
    { fail "clgrad run $exp $*"; tail -5 "$T/$name.log"; return 1; }
}
replay() { # replay NAME WANT [options]
  local name=$1 want=$2; shift 2
  "$PY" "$REPLAY" "$T/$name" "$@" >"$T/$name.replay" 2>&1
  local got=$?
  echo "== $name (replay exit $got, wanted $want)"
  cat "$T/$name.replay"
  [ "$got" = "$want" ] || fail "$name: torch_replay.py exited $got, wanted $want"
}

run adam optim_spirals_adam.ini --set run.steps=30 --set run.log_every=1 && replay adam 0
run linreg linreg_lr_below.ini --set run.steps=30 && replay linreg 0
run rnn rnn_adding_clip.ini --set run.steps=10 --set data.samples=200 --set data.seq_len=20 && {
  replay rnn 0
  # the clipping must have been exercised: clip_coef < 1 on some step
  awk -F, 'NR > 1 && $7 < 1 { c++ } END { exit !(c > 0) }' "$T/rnn/metrics.csv" || fail "rnn: clipping never active"
}
run moons optim_spirals_rmsprop.ini --set run.steps=30 --set run.log_every=1 --set data.kind=moons \
  --set model.activation=softplus --set model.init=default --set model.bias=false --set clip.kind=agc \
  --set optim.schedule=cosine --set optim.warmup_steps=5 && replay moons 0

run lstm2 lstm_adding.ini --set run.steps=12 --set run.log_every=1 --set data.samples=200 --set data.seq_len=10 \
  --set model.layers=2 && {
  replay lstm2 0
  grep -q "out_grad_norm\[rnn_l1\]" "$T/lstm2.replay" || fail "lstm2: the stacked layers' rows were not compared"
}
run gru gru_adding.ini --set run.steps=12 --set run.log_every=1 --set data.samples=200 --set data.seq_len=10 &&
  replay gru 0
run rnn3 rnn_adding_clip.ini --set run.steps=8 --set data.samples=200 --set data.seq_len=10 --set model.layers=3 \
  --set model.init_gain=1.0 && {
  replay rnn3 0 --rnn loop
  grep -q "timesteps" "$T/rnn3.replay" || fail "rnn3: timesteps.csv was not compared"
}
run gnoise optim_spirals_sgd.ini --set run.steps=20 --set run.log_every=1 --set noise.grad_eta=0.3 && {
  replay gnoise 0
  # without the noise the replay must disagree: the agreement above is the noise's
  cp -r "$T/gnoise" "$T/gnoise0"
  sed -i 's/^grad_eta = .*/grad_eta = 0/' "$T/gnoise0/config.ini"
  replay gnoise0 1
}
run inoise optim_spirals_adam.ini --set run.steps=20 --set run.log_every=1 --set noise.input_std=0.5 && {
  replay inoise 0
  cp -r "$T/inoise" "$T/inoise0"
  sed -i 's/^input_std = .*/input_std = 0/' "$T/inoise0/config.ini"
  replay inoise0 1
}

run lars large_batch_lars.ini --set run.steps=30 --set run.log_every=1 && {
  replay lars 0
  cp -r "$T/lars" "$T/lars_eta"
  sed -i 's/^trust_coefficient = .*/trust_coefficient = 0.0011/' "$T/lars_eta/config.ini"
  grep -q '^trust_coefficient = 0.0011' "$T/lars_eta/config.ini" || fail "could not alter trust_coefficient"
  replay lars_eta 1
}
run lamb large_batch_lamb.ini --set run.steps=30 --set run.log_every=1 && replay lamb 0
run larsx large_batch_lars.ini --set run.steps=25 --set run.log_every=1 --set optim.exclude=bias --set optim.lr=2 \
  --set optim.trust_clip=0.02 --set clip.kind=global_norm --set clip.max_norm=0.5 && {
  replay larsx 0
  # trust clipping and gradient clipping both exercised
  awk -F, 'NR > 1 && $11 == 0.0199999996 { c++ } END { exit !(c > 0) }' "$T/larsx/layers.csv" || fail "larsx: trust_clip never active"
  awk -F, 'NR > 1 && $7 < 1 { c++ } END { exit !(c > 0) }' "$T/larsx/metrics.csv" || fail "larsx: clipping never active"
}

# norm layers and residual blocks
run preln preln_deep.ini --set run.steps=20 --set run.log_every=1 && {
  replay preln 0
  grep -q "layernorm_2\]" "$T/preln.replay" || fail "preln: the norm layers' rows were not compared"
  # the replay must notice another eps
  cp -r "$T/preln" "$T/preln_eps"
  sed -i 's/^norm_eps = .*/norm_eps = 0.001/' "$T/preln_eps/config.ini"
  grep -q '^norm_eps = 0.001' "$T/preln_eps/config.ini" || fail "could not alter norm_eps"
  replay preln_eps 1
}
run postln postln_deep.ini --set run.steps=4 --set run.log_every=1 && replay postln 0
run bndeep sigmoid_deep_batchnorm.ini --set run.steps=2 --set run.log_every=1 --set run.eval_every=1 && {
  replay bndeep 0
  grep -q "28.running_var .*beyond tolerance 0 of 32" "$T/bndeep.replay" || fail "bndeep: running_var not compared"
}
run bn sigmoid_deep_batchnorm.ini --set run.steps=20 --set run.log_every=1 --set run.eval_every=5 --set model.hidden=32x3 && {
  replay bn 0
  grep -q "7.num_batches_tracked .*beyond tolerance 0 of 1" "$T/bn.replay" || fail "bn: num_batches_tracked not compared"
  # the test-set evaluation (eval mode, the running estimates) agrees too
  grep -Eq "^test_loss +4 .* info$" "$T/bn.replay" || fail "bn: test_loss (eval mode) does not agree"
  cp -r "$T/bn" "$T/bn_eps"
  sed -i 's/^norm_eps = .*/norm_eps = 0.001/' "$T/bn_eps/config.ini"
  replay bn_eps 1
}
run deep50 deep50_residual.ini --set run.steps=10 --set run.log_every=1 && replay deep50 0
run rms preln_deep.ini --set run.steps=20 --set run.log_every=1 --set model.norm=rmsnorm && {
  replay rms 0
  grep -q "rmsnorm_2\]" "$T/rms.replay" || fail "rms: the norm layers' rows were not compared"
}
run lnnone preln_deep.ini --set run.steps=20 --set run.log_every=1 --set model.residual=none --set optim.kind=sgd \
  --set optim.lr=0.02 && replay lnnone 0
run larsln large_batch_lars.ini --set run.steps=20 --set run.log_every=1 --set optim.exclude=bias --set optim.lr=2 \
  --set model.norm=layernorm && replay larsln 0
# the default exclusion (bias_and_norm): the norms' weights too get ratio 1 and no weight decay
run larslnd large_batch_lars.ini --set run.steps=20 --set run.log_every=1 --set optim.exclude=bias_and_norm \
  --set optim.lr=2 --set model.norm=layernorm && replay larslnd 0

# the replay must notice a different run: same files, another learning rate in config.ini
if [ -d "$T/adam" ]; then
  cp -r "$T/adam" "$T/altered"
  sed -i 's/^lr = .*/lr = 0.0055/' "$T/altered/config.ini"
  grep -q '^lr = 0.0055' "$T/altered/config.ini" || fail "could not alter config.ini"
  replay altered 1
  grep -q "DISAGREE" "$T/altered.replay" || fail "altered run: no DISAGREE verdict"
  # without --save-data: a clear error and exit 2
  rm -rf "$T/altered/data"
  replay altered 2
  grep -q -- "--save-data" "$T/altered.replay" || fail "missing data: the message does not mention --save-data"
fi

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all torch replay checks passed"
