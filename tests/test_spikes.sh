#!/usr/bin/env bash
# test_spikes.sh (device suite): spike detection and ZClip end to end.
#  - a planted spike (tests/configs/spike_lr_jump.ini: the learning rate jumps
#    30x at step 81): events.csv has its header, no event before step 81, an
#    update_norm event at step 81 (the first event), and a loss event later;
#    `clgrad plot` lists the events in report.html and marks them on the loss
#    and gradient-norm figures; a --force re-run replaces events.csv;
#  - [metrics] spike_z = 0: an events.csv with its header only;
#  - [clip] kind = zscore (ZClip's defaults) on the exploding RNN
#    (experiments/rnn_adding_noclip.ini, shortened): completes, where the
#    shipped kind = none diverges;
#  - bad ZClip / detector keys: file:line:key, nothing run, exit 2.
# usage: test_spikes.sh /path/to/clgrad
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/clgrad-test-spikes-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
status() { sed -n 's/^  "status": "\([a-z]*\)".*/\1/p' "$1/summary.json"; }

"$CLGRAD" run "$ROOT/tests/configs/spike_lr_jump.ini" --quiet --out "$T/jump" >"$T/log" 2>&1 || fail "run spike_lr_jump: $(tail -3 "$T/log")"
ev="$T/jump/events.csv"
[ "$(head -1 "$ev")" = "step,metric,layer,value,z" ] || fail "events.csv header: $(head -1 "$ev")"
first=$(sed -n 2p "$ev")
case "$first" in 81,update_norm,linear_*) echo "ok: first event $first" ;; *) fail "first event: '$first' (wanted step 81, update_norm)" ;; esac
awk -F, 'NR > 1 && $1 < 81 { bad = 1 } END { exit bad }' "$ev" || fail "events before the planted spike at step 81"
loss=$(awk -F, 'NR > 1 && $2 == "loss" { print $1; exit }' "$ev")
[ -n "$loss" ] && [ "$loss" -gt 81 ] && echo "ok: first loss event at step $loss, after the update-norm event" ||
  fail "no loss event after step 81 (got '$loss')"
grep -q "update_norm" "$T/jump/layers.csv" || fail "layers.csv has no update_norm column"
# each event's value is the logged value, as written (update_norm: layers.csv's last column; the others metrics.csv's)
awk -F, 'FNR == 1 { f++ } f == 1 && FNR > 1 { u[$1 "," $2] = $NF } f == 2 && FNR > 1 { m["loss," $1] = $3; m["grad_norm," $1] = $6 }
         f == 3 && FNR > 1 { want = $2 == "update_norm" ? u[$1 "," $3] : m[$2 "," $1]
                             if (want != $4) { print "event " $0 ": logged " want; bad = 1 } }
         END { exit bad }' "$T/jump/layers.csv" "$T/jump/metrics.csv" "$ev" || fail "event values differ from the logged ones"
"$CLGRAD" plot "$T/jump" --out "$T/plot" >>"$T/log" 2>&1 || fail "clgrad plot: $(tail -3 "$T/log")"
html="$T/plot/report.html"
grep -q '<table class="events">' "$html" || fail "report.html: no events table"
grep -q '<td>81</td><td>update_norm</td>' "$html" || fail "report.html: the step-81 event is not listed"
grep -q 'class="event"' "$T/plot/loss.svg" || fail "loss.svg: no event marker"
grep -q 'class="event"' "$T/plot/grad_norm.svg" || fail "grad_norm.svg: no event marker"
# a re-run with --force and detection off: events.csv replaced, header only
"$CLGRAD" run "$ROOT/tests/configs/spike_lr_jump.ini" --set metrics.spike_z=0 --quiet --force --out "$T/jump" >>"$T/log" 2>&1 ||
  fail "run spike_z = 0"
[ "$(wc -l <"$ev")" = 1 ] || fail "spike_z = 0: events.csv has $(wc -l <"$ev") lines"

# ZClip on the exploding RNN (120 steps: the shipped run diverges at step 2)
"$CLGRAD" run "$ROOT/experiments/rnn_adding_noclip.ini" --set run.steps=120 --quiet --out "$T/noclip" >>"$T/log" 2>&1
[ "$(status "$T/noclip")" = diverged ] || fail "rnn_adding_noclip did not diverge ($(status "$T/noclip"))"
"$CLGRAD" run "$ROOT/experiments/rnn_adding_noclip.ini" --set run.steps=120 --set clip.kind=zscore --quiet \
  --out "$T/zclip" >>"$T/log" 2>&1 || fail "run zscore: $(tail -3 "$T/log")"
[ "$(status "$T/zclip")" = completed ] && echo "ok: [clip] kind = zscore keeps rnn_adding_noclip from diverging" ||
  fail "zscore: status $(status "$T/zclip")"
awk -F, 'NR > 1 && $7 < 1 { n++ } END { exit n > 0 ? 0 : 1 }' "$T/zclip/metrics.csv" || fail "zscore: no step clipped"

# bad keys: file:line:key, exit 2, nothing run
printf '[run]\nsteps = 5\n[clip]\nkind = zscore\nalpha = 1.5\nz_thresh = -1\nclip_option = median\n[metrics]\nspike_z = -2\n' >"$T/bad.ini"
"$CLGRAD" run "$T/bad.ini" --out "$T/bad" >"$T/out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "bad keys: exit $rc (wanted 2)"
for want in "bad.ini:5: \[clip\] alpha" "bad.ini:6: \[clip\] z_thresh" "bad.ini:7: \[clip\] clip_option" "bad.ini:9: \[metrics\] spike_z"; do
  grep -q "$want" "$T/out" || { fail "bad keys: no '$want' in:"; sed 's/^/    /' "$T/out"; }
done
[ ! -e "$T/bad" ] || fail "bad keys: a run directory was made"

[ "$fails" = 0 ] && echo "test_spikes: all passed" || echo "test_spikes: $fails failure(s)"
[ "$fails" = 0 ]
