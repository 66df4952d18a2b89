#!/usr/bin/env bash
# test_kill.sh CLGRAD_EXE (device suite): SIGKILL, the signal nothing can catch,
# at seeded moments measured in logged steps (metrics.csv rows polled, never a
# bare sleep), to runs and to sweeps:
#   - a killed run leaves whole CSV rows; a last line cut short (made here by
#     cutting the files) is left out by compare and plot with a warning naming
#     the file, and no cut number is read as a whole one (compare: the cut copy
#     is BIT-IDENTICAL to the copy without that line); the run started again
#     in the same directory (with --force) is BIT-IDENTICAL to an uninterrupted run;
#   - a killed sweep leaves no point running (the points die with it, and
#     their children: the second kill's points run under a shell-script
#     runner), twice, and the sweep run again completes: every point
#     BIT-IDENTICAL to an uninterrupted reference sweep.
# The seed is printed; CLGRAD_KILL_SEED=N replays another.
set -u
CLGRAD=$(readlink -f "$1")
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/clgrad-test-kill-XXXXXX)
SEED=${CLGRAD_KILL_SEED:-1913}
RANDOM=$SEED
echo "test_kill: seed $SEED (CLGRAD_KILL_SEED=$SEED replays it)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
E=$ROOT/experiments/rnn_adding_clip.ini # log_every 1: one metrics row per step
lines() { if [ -e "$1" ]; then grep -c '' "$1"; else echo 0; fi; }

# wait_rows PID DIR N: until a metrics.csv under DIR (a run directory, or a
# sweep's points that have no summary.json yet), written since $T/start,
# has N lines (0), or PID is gone or 120 s have passed (1)
wait_rows() {
  local pid=$1 dir=$2 n=$3 f m end=$((SECONDS + 120))
  while [ $SECONDS -lt $end ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    for f in "$dir"/metrics.csv "$dir"/*/metrics.csv; do
      [ -e "$f" ] && [ ! -e "$(dirname "$f")/summary.json" ] && [ "$f" -nt "$T/start" ] || continue
      m=$(lines "$f")
      [ "$m" -ge "$n" ] && return 0
    done
    sleep 0.05
  done
  return 1
}

# ---- runs ----
"$CLGRAD" run "$E" --set run.steps=300 --out "$T/ref" --quiet > "$T/ref.log" 2>&1 || { fail "reference run"; tail -5 "$T/ref.log"; }
for k in 1 2 3; do
  n=$((3 + RANDOM % 150))
  out=$T/run$k
  touch "$T/start"
  "$CLGRAD" run "$E" --set run.steps=100000 --out "$out" --quiet > "$T/run$k.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_rows "$pid" "$out" "$n" || fail "run $k: never reached $n rows"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  echo "run $k: SIGKILL at $(lines "$out/metrics.csv") metrics.csv lines (target $n)"
  [ -e "$out/summary.json" ] && fail "run $k: a killed run has a summary.json"
  # what the kill left: whole rows, or a cut last line that plot reports
  "$CLGRAD" plot "$out" --out "$T/plot$k" > "$T/plot$k.log" 2>&1 || { fail "run $k: plot of the killed run"; cat "$T/plot$k.log"; }
  for f in metrics layers timesteps; do
    if [ -s "$out/$f.csv" ] && [ "$(tail -c 1 "$out/$f.csv" | od -An -c | tr -d ' ')" != '\n' ]; then
      grep -q "warning: $out/$f.csv: ignored a cut last line" "$T/plot$k.log" || fail "run $k: $f.csv is cut, plot says nothing"
    fi
  done
  # cut rows, made: a copy without the last whole row of each CSV (trim) and
  # one with that row cut 3 characters and its newline short (cut)
  mkdir "$T/cut$k" "$T/trim$k"
  cp -r "$out/manifest.json" "$out/weights" "$T/cut$k/"
  cp -r "$out/manifest.json" "$out/weights" "$T/trim$k/"
  for f in metrics layers timesteps; do
    nl=$(tr -dc '\n' < "$out/$f.csv" | wc -c) # whole lines (a cut the kill made is dropped)
    head -n $((nl - 1)) "$out/$f.csv" > "$T/trim$k/$f.csv"
    cp "$T/trim$k/$f.csv" "$T/cut$k/$f.csv"
    sed -n "${nl}p" "$out/$f.csv" | head -c -4 >> "$T/cut$k/$f.csv"
  done
  for d in cut trim; do cp "$T/ref/summary.json" "$T/$d$k/summary.json"; done
  "$CLGRAD" compare "$T/trim$k" "$T/cut$k" > "$T/cmp$k.log" 2> "$T/cmp$k.err"
  st=$?
  [ $st = 0 ] && grep -q "BIT-IDENTICAL to run 1" "$T/cmp$k.log" ||
    { fail "run $k: the cut copy differs from the whole rows (exit $st)"; grep -m3 -E "first difference|DIFFER" "$T/cmp$k.log"; }
  for f in metrics layers timesteps; do
    grep -q "warning: $T/cut$k/$f.csv: ignored a cut last line" "$T/cmp$k.err" || { fail "run $k: compare did not report the cut $f.csv"; cat "$T/cmp$k.err"; }
  done
  "$CLGRAD" plot "$T/cut$k" --out "$T/cutplot$k" > "$T/cutplot$k.log" 2>&1 || fail "run $k: plot of the cut copy"
  grep -q "warning: $T/cut$k/metrics.csv: ignored a cut last line" "$T/cutplot$k.log" || fail "run $k: plot did not report the cut metrics.csv"
done
# a killed run started again in its directory: the same as never killed
"$CLGRAD" run "$E" --set run.steps=300 --out "$T/run1" --force --quiet > "$T/again.log" 2>&1 || { fail "run 1 started again"; tail -5 "$T/again.log"; }
"$CLGRAD" compare "$T/ref" "$T/run1" > "$T/again.cmp" 2>&1 && grep -q "BIT-IDENTICAL to run 1" "$T/again.cmp" ||
  { fail "run 1 started again is not BIT-IDENTICAL to the uninterrupted run"; grep -m3 -E "first difference|DIFFER|warning" "$T/again.cmp"; }

# ---- sweeps ----
SW=(sweep "$E" --grid run.seed=1,2,3 --set run.steps=300 --jobs 2 --quiet)
"$CLGRAD" "${SW[@]}" --out "$T/swref" > "$T/swref.log" 2>&1 || { fail "reference sweep"; tail -5 "$T/swref.log"; }
# the second attempt runs every point through a runner that is not clgrad
# but its parent (a shell script): the point's children die with the sweep too
printf '#!/bin/sh\n"%s" "$@"\nexit $?\n' "$CLGRAD" > "$T/runner.sh"
chmod +x "$T/runner.sh"
for k in 1 2; do
  n=$((3 + RANDOM % 250))
  touch "$T/start" # metrics.csv files an earlier attempt left are older
  if [ $k = 2 ]; then
    CLGRAD_SWEEP_RUNNER=$T/runner.sh "$CLGRAD" "${SW[@]}" --out "$T/sw" > "$T/sw$k.log" 2>&1 &
  else
    "$CLGRAD" "${SW[@]}" --out "$T/sw" > "$T/sw$k.log" 2>&1 &
  fi
  pid=$!
  pids+=("$pid")
  if wait_rows "$pid" "$T/sw" "$n"; then
    # the running points are frozen first (SIGSTOP): an orphan would stay,
    # stopped, for any deadline; a point that dies with the sweep goes (SIGKILL
    # ends a stopped process too)
    pts=$(pgrep -f -- "--out $T/sw/")
    [ -n "$pts" ] || echo "sweep kill $k: no point running at that instant"
    kill -STOP $pts 2>/dev/null
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    echo "sweep kill $k: SIGKILL at $n rows of a running point ($(echo $pts | wc -w) running)"
    left=
    for _ in $(seq 1 300); do
      left=$(pgrep -f -- "--out $T/sw/")
      [ -z "$left" ] && break
      sleep 0.1
    done
    if [ -n "$left" ]; then
      fail "sweep kill $k: points still there 30 s after the sweep was killed: $(ps -o pid=,stat=,args= -p "$(echo $left | tr ' ' ,)")"
      kill -9 $left 2>/dev/null
    fi
    # a killed point that no longer shows in pgrep (its leader a zombie) may
    # still be tearing down its threads, holding its directory's lock: the
    # sweep run again would then rightly refuse it ("in use"); wait for the locks
    busy=
    for _ in $(seq 1 300); do
      busy=
      for f in "$T"/sw/*/.clgrad-lock; do
        [ -e "$f" ] && ! flock -n "$f" true 2>/dev/null && busy="$busy $f"
      done
      [ -z "$busy" ] && break
      sleep 0.1
    done
    [ -z "$busy" ] || fail "sweep kill $k: point locks still held 30 s after the points were gone:$busy"
  else
    wait "$pid" 2>/dev/null # it ended first: a kill later than the sweep
    echo "sweep kill $k: the sweep finished before $n rows"
  fi
done
"$CLGRAD" "${SW[@]}" --out "$T/sw" > "$T/swlast.log" 2>&1 || { fail "the sweep run again after the kills"; tail -5 "$T/swlast.log"; }
for p in "$T"/swref/[0-9][0-9][0-9]-*/; do
  p=$(basename "$p")
  "$CLGRAD" compare "$T/swref/$p" "$T/sw/$p" > "$T/swcmp.log" 2>&1 && grep -q "BIT-IDENTICAL to run 1" "$T/swcmp.log" ||
    { fail "sweep point $p after the kills is not BIT-IDENTICAL to the reference"; grep -m3 -E "first difference|DIFFER|warning|clgrad" "$T/swcmp.log"; }
done

[ $fails = 0 ] && echo "test_kill: all checks passed"
exit $((fails > 0))
