#!/usr/bin/env bash
# test_report.sh CLGRAD: report.html as a person sees it.  Makes a single-run
# report (the clipped RNN), a two-run report (the RNN with and without
# clipping), a sweep report and the report of the shipped learning-rate
# sensitivity sweep (experiments/lr_sensitivity.ini), loads each in headless
# Chromium and checks (tests/report/check_dom.py) that the DOM after load has
# every figure inline with drawn content, the sections in order (settings,
# outcome, figures), and that the sweep's points table sorts in the page
# (report.html#sort=-KEY);
# then takes a screenshot of each and checks it is not blank (grey-level
# spread, ink, colours: tests/report/pngstat.py; a blank page is checked to
# fail the same test).  CLGRAD_REPORT_SHOTS=DIR keeps the screenshots there.
# Skipped (77) when chromium or python3 is missing or chromium cannot start.
set -u
CLGRAD=$1
ROOT=${CLGRAD_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
CHROME=""
for c in chromium chromium-browser google-chrome; do
    command -v "$c" >/dev/null 2>&1 && { CHROME=$c; break; }
done
[ -n "$CHROME" ] || { echo "SKIP: chromium not found (tools/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not found"; exit 77; }
T=$(mktemp -d /tmp/clgrad-test-report-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HOME="$T/home"   # chromium writes its profile and caches here, not in the user's home
mkdir -p "$HOME"
chrome() { timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$T/profile" --force-device-scale-factor=1 "$@" 2>>"$T/chrome.log"; }
echo '<!DOCTYPE html><html><body><p id="probe">probe-ok</p></body></html>' >"$T/probe.html"
chrome --dump-dom "file://$T/probe.html" | grep -q probe-ok || {
    tail -5 "$T/chrome.log"
    echo "SKIP: chromium cannot start here"
    exit 77
}

run_() { "$CLGRAD" run "$@" --quiet >"$T/log" 2>&1 || { cat "$T/log"; fail "clgrad run $*"; }; }
run_ "$ROOT/experiments/rnn_adding_noclip.ini" --set run.steps=60 --out "$T/noclip"
run_ "$ROOT/experiments/rnn_adding_clip.ini" --set run.steps=60 --out "$T/clip"
"$CLGRAD" sweep "$ROOT/experiments/linreg_lr_below.ini" --grid optim.lr=0.3,0.9,1.5 --grid optim.momentum=0,0.5 \
    --set run.steps=40 --out "$T/sw" --quiet >"$T/log" 2>&1 || { cat "$T/log"; fail "sweep"; }
# the shipped learning-rate sensitivity sweep (16 short points)
"$CLGRAD" sweep "$ROOT/experiments/lr_sensitivity.ini" --jobs 2 --out "$T/lrsw" --quiet >"$T/log" 2>&1 ||
    { cat "$T/log"; fail "lr_sensitivity sweep"; }
"$CLGRAD" plot "$T/clip" --out "$T/single" >/dev/null || fail "plot single"
"$CLGRAD" plot "$T/noclip" "$T/clip" --out "$T/pair" >/dev/null || fail "plot pair"
"$CLGRAD" plot --sweep "$T/sw" --x optim.lr --y optim.momentum --out "$T/sweep" >/dev/null || fail "plot sweep"
"$CLGRAD" plot --sweep "$T/lrsw" --out "$T/lrsens" >"$T/lrsens.out" || fail "plot --sweep lr_sensitivity"
grep -q '^  optim.kind=sgd ' "$T/lrsens.out" && grep -q '^  optim.kind=adam ' "$T/lrsens.out" ||
    { cat "$T/lrsens.out"; fail "plot --sweep: no LR sensitivity line for each optimizer"; }
[ "$(grep -c '<g class="lrcurve"' "$T/lrsens/lr_sensitivity.svg")" = 2 ] || fail "lr_sensitivity.svg: not 2 curves"

# the DOM after load
for r in single pair; do
    chrome --dump-dom "file://$T/$r/report.html" >"$T/$r.dom" || fail "chromium --dump-dom $r"
    python3 "$ROOT/tests/report/check_dom.py" "$T/$r.dom" "$T/$r" || fail "$r report"
done
grep -q 'class="differs">none<' "$T/pair.dom" && grep -q 'class="status-diverged"' "$T/pair.dom" ||
    fail "pair report: clip.kind not highlighted or no diverged status"
chrome --dump-dom "file://$T/sweep/report.html#sort=-final_test_loss" >"$T/sweep.dom" || fail "chromium sweep"
python3 "$ROOT/tests/report/check_dom.py" "$T/sweep.dom" "$T/sweep" --sorted -final_test_loss || fail "sweep report"
chrome --dump-dom "file://$T/lrsens/report.html" >"$T/lrsens.dom" || fail "chromium lrsens"
python3 "$ROOT/tests/report/check_dom.py" "$T/lrsens.dom" "$T/lrsens" || fail "lr sensitivity report"
grep -q 'id="lr-sensitivity"' "$T/lrsens.dom" || fail "lr sensitivity report: no LR sensitivity section"

# screenshots: not blank
shot() { # name url width height
    chrome --screenshot="$T/$1.png" --window-size="$3,$4" "$2" >/dev/null || fail "screenshot $1"
    [ -s "$T/$1.png" ] || fail "no screenshot $1"
    python3 "$ROOT/tests/report/pngstat.py" "$T/$1.png" | tee "$T/$1.stat"
}
not_blank() { # name: grey-level spread, some ink, many colours (the figures' colour maps)
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
         END { exit !(v["grey_sd"] > 15 && v["ink"] > 0.02 && v["colours"] > 200) }' "$T/$1.stat"
}
shot blank "file://$T/probe.html" 800 600
! not_blank blank || fail "the blank-page check passes a blank page"
shot single "file://$T/single/report.html" 1280 2400
shot pair "file://$T/pair/report.html" 1280 2400
shot sweep "file://$T/sweep/report.html#sort=-final_test_loss" 1100 1900
shot lr_sensitivity "file://$T/lrsens/report.html" 1100 900
for s in single pair sweep lr_sensitivity; do
    not_blank "$s" || fail "the $s report's screenshot looks blank: $(cat "$T/$s.stat")"
done
if [ -n "${CLGRAD_REPORT_SHOTS:-}" ]; then
    mkdir -p "$CLGRAD_REPORT_SHOTS" &&
        cp "$T/single.png" "$T/pair.png" "$T/sweep.png" "$T/lr_sensitivity.png" "$CLGRAD_REPORT_SHOTS/"
    echo "screenshots in $CLGRAD_REPORT_SHOTS"
fi
echo "PASS"
