#!/usr/bin/env bash
# lsan_retry.sh PROGRAM [ARGS...]: run a Check test program of the sanitizer
# build; when it fails ONLY because LeakSanitizer's own tracer crashed at exit
# ("LeakSanitizer has encountered a fatal error": the tracer that stops the
# threads to scan for leaks died, typically while PoCL's worker threads were
# being torn down; no leak was reported) after every check passed, run it once
# more and say so.  A leak report ("detected memory leaks"), a failed check
# or any other error is never retried.
set -u
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
for attempt in 1 2; do
  "$@" >"$out" 2>"$err"
  rc=$?
  cat "$out"
  cat "$err" >&2
  [ $rc -eq 0 ] && exit 0
  if [ $attempt = 1 ] && grep -q "LeakSanitizer has encountered a fatal error" "$err" &&
     ! grep -q "detected memory leaks" "$err" &&
     grep -qE '^100%: Checks: [0-9]+, Failures: 0, Errors: 0' "$out"; then
    echo "lsan_retry: every check passed, then LeakSanitizer's tracer crashed at exit (no leak reported): running once more" >&2
    continue
  fi
  exit $rc
done
