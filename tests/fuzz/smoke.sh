#!/bin/bash
# smoke.sh - a few seconds of each libFuzzer harness (make fuzz-smoke).
#
# Seeds: the hand-made event sequences of tests/fuzz/seeds/events, the
# rule files of rules/ and tests/fixtures/rules, the lines of
# tests/fixtures/due/batch.jsonl and the .ics fixtures.  Each harness runs
# FUZZ_SECONDS (default 5) seconds; any crash, leak, UB report or timeout
# fails.  Needs FUZZ_BIN (the folder of the harnesses) and PROMPTLY_SRCDIR.
# For the long run, see README ("Fuzzing").
set -eu
bin=${FUZZ_BIN:?FUZZ_BIN is not set}
src=${PROMPTLY_SRCDIR:?PROMPTLY_SRCDIR is not set}
secs=${FUZZ_SECONDS:-5}
export PROMPTLY_RULES=${PROMPTLY_RULES:-$src/rules}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/events" "$tmp/rules" "$tmp/due" "$tmp/ics"
cp "$src"/tests/fuzz/seeds/events/* "$tmp/events/"
i=0
for f in "$src"/rules/*.lua "$src"/tests/fixtures/rules/*/*.lua; do
  i=$((i + 1))
  cp "$f" "$tmp/rules/$i.lua"
done
i=0
while IFS= read -r line; do
  i=$((i + 1))
  printf '%s\n' "$line" >"$tmp/due/$i.json"
done <"$src/tests/fixtures/due/batch.jsonl"
cp "$src"/tests/fixtures/ics/*.ics "$tmp/ics/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t in events rules due ics; do
  # -timeout: one input may take the sandbox's 2 s load budget, no more.
  if "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 "$tmp/$t" \
       >"$tmp/$t.log" 2>&1; then
    echo "ok - fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$tmp/$t.log" | awk '{print $2}') runs in ${secs} s"
  else
    echo "not ok - fuzz_$t"
    tail -40 "$tmp/$t.log"
    status=1
  fi
done
exit $status
