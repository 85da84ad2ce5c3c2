#!/bin/bash
# test_declarations.sh - the declarations of issue 12 end to end: every
# example of rules/README.md marked "<!-- example: DIR/FILE -->" is the
# file examples/policies/DIR/FILE, each of its lines is in
# promptly-rules(5), the folder passes "promptly check", and replaying
# tests/fixtures/more/<case>/events.jsonl through it prints exactly
# expected.jsonl (derived by hand: the reasoning is in the comments of the
# events file).  Bad declarations are reported as file:line, each once.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}"
export PROMPTLY_MODULE
src="$PROMPTLY_SRCDIR"
fx="$src/tests/fixtures/more"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_declarations.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$src/tests/tap.sh"

# --- The examples of the documentation ------------------------------------

# The indented block after each marker, unindented, into $tmp/doc/DIR/FILE
# (blank lines inside a block are dropped).
mkdir -p "$tmp/doc"
while IFS= read -r name; do
  mkdir -p "$tmp/doc/$(dirname "$name")"
done < <(sed -nE 's/^<!-- example: ([^ ]+) -->$/\1/p' "$src/rules/README.md")
awk -v out="$tmp/doc" '
  /^<!-- example: [^ ]+ -->$/ { name = $3; want = 1; inblock = 0; next }
  want && /^    / { inblock = 1; sub(/^    /, ""); print > (out "/" name); next }
  want && inblock && /^$/ { blank[name]++; next }
  want && inblock { want = 0; close(out "/" name) }
' "$src/rules/README.md"
# roff escapes of the man page, undone.
sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$src/rules/promptly-rules.5" >"$tmp/man.txt"
n_examples=0
while IFS= read -r name; do
  n_examples=$((n_examples + 1))
  # The awk above drops blank lines inside a block: compare without them.
  check "README example $name is examples/policies/$name" same \
    <(grep -v '^$' "$src/examples/policies/$name") "$tmp/doc/$name"
  missing=0
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    grep -qF -- "$line" "$tmp/man.txt" || { echo "not in promptly-rules(5): $line" >&2; missing=1; }
  done <"$tmp/doc/$name"
  check "README example $name is in promptly-rules(5)" test "$missing" -eq 0
done < <(sed -nE 's/^<!-- example: ([^ ]+) -->$/\1/p' "$src/rules/README.md")
check "the README has examples to run" test "$n_examples" -ge 1

# --- Scenarios through the example folders --------------------------------

# scenario CASE FOLDER UNTIL: check FOLDER, replay CASE's events up to
# UNTIL: exit 0, nothing on stderr, exactly the expected lines, and a
# second replay byte-identical.
scenario() {
  local name=$1 rules=$2 until=$3
  local d="$fx/$name"
  run_cli "$tmp/$name.check" "$tmp/$name.check.err" check "$rules"
  check "$name: check passes" test "$rc" -eq 0
  run_cli "$tmp/$name.out" "$tmp/$name.err" run --rules "$rules" \
    --events "$d/events.jsonl" --until "$until"
  check "$name: exits 0" test "$rc" -eq 0
  check "$name: nothing on stderr" same /dev/null "$tmp/$name.err"
  check "$name: the expected writes and actions" same "$d/expected.jsonl" \
    "$tmp/$name.out"
  rc=0
  cli run --rules "$rules" --events - --until "$until" \
    <"$d/events.jsonl" >"$tmp/$name.2.out" 2>/dev/null || rc=$?
  check "$name: a second replay gives a byte-identical output" \
    cmp "$tmp/$name.out" "$tmp/$name.2.out"
}

# expect_problems FOLDER: "promptly check" exits 1 and prints exactly the
# lines of FOLDER/expected-problems (one problem each, file:line first).
expect_problems() {
  local dir=$1 name
  name=$(basename "$dir")
  run_cli "$tmp/$name.out" "$tmp/$name.err" check "$dir"
  check "$name: check exits 1" test "$rc" -eq 1
  check "$name: every problem at its file:line, once" same \
    "$dir/expected-problems" "$tmp/$name.out"
}

# item 9: per-account targets, from the table and from a CSV file.
scenario accounts "$src/examples/policies/accounts" 2026-11-19T00:00:00Z
# A custom metric started by an attribute condition (entering a queue).
scenario ola-queue "$src/examples/policies/ola-queue" 2026-11-23T12:00:00Z
expect_problems "$fx/ola-queue-bad"
expect_problems "$fx/accounts-bad"
# item 3: business days.
scenario business-days "$src/examples/policies/business-days" \
  2026-11-26T12:00:00Z
expect_problems "$fx/business-days-bad"
# item 2: relative deadlines ("next business day 16:00").
scenario relative-deadlines "$src/examples/policies/relative-deadlines" \
  2026-11-26T00:00:00Z
expect_problems "$fx/relative-deadlines-bad"
# A target function that fails on a ticket: reported as a failing `when`
# is (file:line, the ticket; the run fails), and the ticket keeps the
# other policy's target (standard: Mon 10:00 + next business day 16:00 =
# Tue 17 16:00).  The function runs when the cycle starts: a later change
# of the attribute does not move the due (ticket 3: 11:00, breached then).
d="$fx/deadline-fn-errors"
for n in 1 2 3; do
  grep "\"ticket\": $n," "$d/events.jsonl" >"$tmp/fn$n.jsonl"
  run_cli "$tmp/fn$n.out" "$tmp/fn$n.err" run --rules "$d" \
    --events "$tmp/fn$n.jsonl" --until 2026-11-16T12:00:00Z
  eval "rc$n=\$rc"
done
check "target function returning no instant: the run fails" test "$rc1" -eq 1
check "target function returning no instant: file:line and ticket" grep -qxF \
  "promptly: error: 20-fn.lua:3: policy 'promised': resolution: the function returned 'soon', not an instant (give \"2026-11-17T16:00:00Z\", milliseconds since 1970, or nil for no target) (ticket 1, resolution)" \
  "$tmp/fn1.err"
check "target function returning no instant: the other policy's due" grep -qF \
  '"sla.policy": "standard", "sla.status": "on_track", "sla.due": "2026-11-17T16:00:00Z"' \
  "$tmp/fn1.out"
check "target function raising: the function's own file:line" grep -qxF \
  "promptly: error: 20-fn.lua:7: attempt to index a nil value (field 'missing') (ticket 2, resolution)" \
  "$tmp/fn2.err"
check "target function raising: the other policy's due" grep -qF \
  '"sla.policy": "standard", "sla.status": "on_track", "sla.due": "2026-11-17T16:00:00Z"' \
  "$tmp/fn2.out"
check "target function: fixed when the cycle starts" test "$rc3" -eq 0
check "target function: its instant is the due" grep -qF \
  '"sla.policy": "promised", "sla.status": "on_track", "sla.due": "2026-11-16T11:00:00Z"' \
  "$tmp/fn3.out"
check "target function: breached at it, whatever the attribute says later" \
  grep -qF '"at": "2026-11-16T11:00:00Z", "ticket": 3, "write": {"sla.status": "breached"' \
  "$tmp/fn3.out"
check "target function: nothing on stderr when it works" same /dev/null \
  "$tmp/fn3.err"
# All three in one run: the errors fail it (exit 1) but do not stop it;
# every ticket is written, each as in its own run.
run_cli "$tmp/fnall.out" "$tmp/fnall.err" run --rules "$d" \
  --events "$d/events.jsonl" --until 2026-11-16T12:00:00Z
check "target function errors: one run goes on to the end, exit 1" \
  test "$rc" -eq 1 -a "$(grep -c '^promptly: error: ' "$tmp/fnall.err")" -eq 2
check "target function errors: one run writes what the three runs wrote" same \
  <(sort "$tmp/fn1.out" "$tmp/fn2.out" "$tmp/fn3.out") <(sort "$tmp/fnall.out")
# item 8: rising priority, escalate_priority { at = { ... } }.
scenario escalation "$src/examples/policies/escalation" 2026-11-20T00:00:00Z
scenario escalation-over-manual "$fx/escalation-over-manual/rules" \
  2026-11-17T00:00:00Z
expect_problems "$fx/escalation-bad"
scenario escalation-once "$fx/escalation-once/rules" 2026-11-18T00:00:00Z
run_cli "$tmp/once.out" "$tmp/once.err" run \
  --rules "$fx/escalation-once/rules" --events "$fx/escalation-once/events.jsonl" \
  --until 2026-11-18T00:00:00Z --records "$tmp/once.rec"
check "escalation-once: the step fired under both target generations" \
  grep -qF '"keys": ["1:resolution:1:escalate-75%:raise_priority", "1:resolution:1.2:escalate-75%:raise_priority"]' \
  "$tmp/once.rec"
# explain says why a step did nothing (ticket 2: the agent's P4).
run_cli "$tmp/esc.ex" "$tmp/esc.ex.err" explain \
  --rules "$src/examples/policies/escalation" \
  --events "$fx/escalation/events.jsonl" --ticket 2 --at 2026-11-19T00:00:00Z
check "escalation: explain says why the agent's priority stays" grep -qxF \
  "2026-11-18T10:00:00Z  escalate_priority 50% of resolution: the priority stays P4: an agent set it by hand (over_manual is false)" \
  "$tmp/esc.ex"
# A restart that replays the events with the keys carried out (--done):
# the step is not handed out again, and the priority still rises the same.
echo '1:resolution:1:escalate-50%:raise_priority' >"$tmp/esc.done"
run_cli "$tmp/esc.done.out" "$tmp/esc.done.err" run \
  --rules "$src/examples/policies/escalation" \
  --events "$fx/escalation/events.jsonl" --until 2026-11-20T00:00:00Z \
  --done "$tmp/esc.done"
check "escalation --done: exits 0" test "$rc" -eq 0
check "escalation --done: only the step carried out is left out" same \
  <(grep -vF '"key": "1:resolution:1:escalate-50%:raise_priority"' \
    "$fx/escalation/expected.jsonl") "$tmp/esc.done.out"
# item 6: per-metric warnings and at_risk.
scenario warnings "$src/examples/policies/warnings" 2026-11-19T00:00:00Z
expect_problems "$fx/warnings-bad"
# item 4: out-of-hours grace.
scenario out-of-hours "$src/examples/policies/out-of-hours" \
  2026-11-23T10:00:00Z
expect_problems "$fx/out-of-hours-bad"
# item 1: the calendar's zone from the ticket, with a fallback.
scenario customer-zone "$src/examples/policies/customer-zone" \
  2026-11-17T06:00:00Z
d="$fx/customer-zone-unknown"
run_cli "$tmp/unknown.out" "$tmp/unknown.err" run \
  --rules "$src/examples/policies/customer-zone" --events "$d/events.jsonl" \
  --until 2026-11-16T12:30:00Z
check "customer-zone-unknown: exits 0" test "$rc" -eq 0
check "customer-zone-unknown: the fallback zone, and a zone change" same \
  "$d/expected.jsonl" "$tmp/unknown.out"
check "customer-zone-unknown: the unknown zone reported once, with the ticket" \
  test "$(grep -c . "$tmp/unknown.err")" -eq 1 -a \
  "$(grep -c "ticket 5: customer_tz 'Mars/Olympus' is not a known time zone" \
     "$tmp/unknown.err")" -eq 1
expect_problems "$fx/customer-zone-bad"

# item 5: pause on conditions (attributes, when), mixed with statuses.
scenario vendor-wait "$src/examples/policies/vendor-wait" 2026-11-18T12:00:00Z
run_cli "$tmp/vw.out" "$tmp/vw.err" run \
  --rules "$src/examples/policies/vendor-wait" \
  --events "$fx/vendor-wait/events.jsonl" --until 2026-11-18T12:00:00Z \
  --records "$tmp/vw.rec"
# Ticket 1's resolution (see the events' comments): 7h of business time,
# 3h paused (09:30-10:30 vendor, 12:00-14:00 customer), 2h of them
# customer wait; its first response 1h, 1h paused, no customer wait.
check "vendor-wait: the resolution record counts the condition pauses" \
  grep -q '"ticket": 1, "metric": "resolution", .*"outcome": "met", .*"elapsed_ms": 25200000, "paused_ms": 10800000, "customer_wait_ms": 7200000,' "$tmp/vw.rec"
check "vendor-wait: the first response record too" \
  grep -q '"ticket": 1, "metric": "first_response", .*"elapsed_ms": 3600000, "paused_ms": 3600000, "customer_wait_ms": 0,' "$tmp/vw.rec"
expect_problems "$fx/vendor-wait-bad"
d="$fx/vendor-wait-when"
run_cli "$tmp/vww.out" "$tmp/vww.err" run --rules "$d/rules" \
  --events "$d/events.jsonl" --until 2026-11-16T10:30:00Z
check "vendor-wait-when: a failing when fails the run (exit 1)" \
  test "$rc" -eq 1
check "vendor-wait-when: ... after going on: it does not hold" same \
  "$d/expected.jsonl" "$tmp/vww.out"
check "vendor-wait-when: the failure at the when's file:line, with the ticket" \
  test "$(grep -c . "$tmp/vww.err")" -eq 1 -a \
  "$(grep -c "^promptly: error: 20-when.lua:3: attempt to index a nil value (field 'vendor') (ticket 1, line 9); the condition counts as not holding$" \
     "$tmp/vww.err")" -eq 1

# item 7: notifications in business hours (quiet hours).
scenario quiet-hours "$src/examples/policies/quiet-hours" 2026-11-18T18:00:00Z
run_cli "$tmp/qt.out" "$tmp/qt.err" test "$src/examples/policies/quiet-hours"
check "quiet-hours: the folder's rule tests pass (held actions, reached_at)" \
  test "$rc" -eq 0 -a "$(cat "$tmp/qt.out" "$tmp/qt.err" | grep -c 'promptly test: 2 cases passed')" -eq 1
expect_problems "$fx/quiet-hours-bad"
expect_problems "$fx/quiet-hours-true"
# A restart (test_restart.sh style): B1 runs the events up to Mon 23:30,
# after the team lead's 75% was reached (21:30) but before its delivery
# (Tue 09:00), recording the keys it carried out; B2 runs them all with
# those keys done.  B1 then B2 is exactly the full run's actions: the held
# notify goes out once (in B2), not twice, not never.  Cut after the
# delivery (Tue 10:00), B2 carries it out no more.
qh="$src/examples/policies/quiet-hours"
qe="$fx/quiet-hours/events.jsonl"
actions() { grep '"action": ' "$1" || true; }
actions "$fx/quiet-hours/expected.jsonl" >"$tmp/qA"
for cut in 2026-11-16T23:30:00Z:B2 2026-11-17T10:00:00Z:B1; do
  who=${cut##*:}
  cut=${cut%:*}
  n=$(grep -n "\"at\": \"$cut\"" "$qe" | tail -1 | cut -d: -f1)
  head -n "$n" "$qe" >"$tmp/qpart"
  rm -f "$tmp/qkeys"
  run_cli "$tmp/qB1" "$tmp/qB1.err" run --rules "$qh" --events "$tmp/qpart" \
    --record "$tmp/qkeys"
  rb1=$rc
  run_cli "$tmp/qB2" "$tmp/qB2.err" run --rules "$qh" --events "$qe" \
    --until 2026-11-18T18:00:00Z --done "$tmp/qkeys" --record "$tmp/qkeys"
  check "quiet-hours restart at $cut: both runs exit 0" test "$rb1$rc" = 00
  check "quiet-hours restart at $cut: B1 then B2 is the full run's actions" \
    same "$tmp/qA" <(actions "$tmp/qB1"; actions "$tmp/qB2")
  check "quiet-hours restart at $cut: the held notify once" test \
    "$(cat "$tmp/qB1" "$tmp/qB2" | grep -c '"key": "1:first_response:1:75%:notify"')" -eq 1
  # Cut before the opening, B2 delivers it (reached_at 21:30); after, B1.
  check "quiet-hours restart at $cut: $who carries it out" \
    grep -q '"args": {"to": "team-lead", "reached_at": "2026-11-16T21:30:00Z"}, "key": "1:first_response:1:75%:notify"' "$tmp/q$who"
done

echo "1..$count"
echo "$((count - failed)) passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  exit 1
fi
