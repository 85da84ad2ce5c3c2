#!/bin/bash
# test_ruletest.sh - "promptly test DIR": the shipped rules pass their own
# tests; a wrong expectation, a wrong action and each kind of bad test
# file are reported as file:line with exit 1.  Expected lines are written
# here by hand from the shipped rules (rules/10-priority.lua,
# 20-policies.lua, 30-escalation.lua), never copied from a run.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}" \
  "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_ruletest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

# A copy of the shipped rules with one test file replaced: fresh DIR TEXT.
fresh() {
  rm -rf "$tmp/$1"
  mkdir "$tmp/$1"
  cp "$PROMPTLY_RULES"/*.lua "$tmp/$1/"
  rm -f "$tmp/$1"/*.test.lua
  printf '%s\n' "$2" >"$tmp/$1/50-case.test.lua"
}

# --- The shipped rules and their tests ---------------------------------------

run_cli "$tmp/ship.out" "$tmp/ship.err" test "$PROMPTLY_RULES"
check "shipped rules: their tests pass (exit 0)" test "$rc" -eq 0
check "shipped rules: nothing on stdout" same /dev/null "$tmp/ship.out"
check "shipped rules: every case ran" grep -qx \
  'promptly test: 7 cases passed' "$tmp/ship.err"
run_cli "$tmp/shipv.out" "$tmp/shipv.err" -v test "$PROMPTLY_RULES"
check "-v: one ok line per case" test "$(grep -c \
  "^[0-9]*-[a-z]*.test.lua:[0-9]*: test '.*': ok$" "$tmp/shipv.out")" -eq 7
# The test file is no rule file: check still sees a clean folder.
run_cli "$tmp/chk.out" "$tmp/chk.err" check "$PROMPTLY_RULES"
check "check skips *.test.lua (exit 0)" test "$rc" -eq 0

# --- Failing expectations ------------------------------------------------------

# An outage at 07:42 on Monday: P1 by the first keyword rule (line 26),
# corporate-p1 (30m round the clock): due 08:12; at 75% (08:04:30) the
# team lead is notified; an agent replies at 08:10.
fresh fail '-- line 1
test "outage" {
  create { at = "2026-11-16T07:42:00Z", subject = "The site is down" },
  expect { priority = "P2", rule = "10-priority.lua:30" },
  expect { due = { first_response = "2026-11-16T08:42:00Z" },
           policy = { first_response = "corporate" } },
  action { at = "2026-11-16T08:04:30Z", "notify", to = "manager" },
  action { at = "2026-11-16T08:09:00Z", "note", text = "late" },
  reply_agent { at = "2026-11-16T08:10:00Z" },
  expect { state = { first_response = "met" } },
}
test "this one passes" {
  create { at = "2026-11-16T07:42:00Z", subject = "The site is down" },
  expect { priority = "P1", rule = "10-priority.lua:26", status = "on_track" },
}'
run_cli "$tmp/fail.out" "$tmp/fail.err" test "$tmp/fail"
check "failing case: exit 1" test "$rc" -eq 1
cat >"$tmp/fail.expected" <<'EOF'
50-case.test.lua:4: test 'outage': expected rule 10-priority.lua:30, got 10-priority.lua:26
50-case.test.lua:4: test 'outage': expected priority P2, got P1
50-case.test.lua:5: test 'outage': expected first_response policy corporate, got corporate-p1
50-case.test.lua:5: test 'outage': expected sla.first_response.due 2026-11-16T08:42:00Z, got 2026-11-16T08:12:00Z
50-case.test.lua:7: test 'outage': expected action 'notify to=manager' at 2026-11-16T08:04:30Z (ticket 1), got 'notify to=team-lead'
50-case.test.lua:8: test 'outage': expected action 'note text=late' at 2026-11-16T08:09:00Z (ticket 1), got none
EOF
check "failing case: each failed check as file:line: expected X, got Y" \
  same "$tmp/fail.expected" <(grep -v '^50-case.test.lua:2: ' "$tmp/fail.out")
check "failing case: the timeline follows, with the action diff" grep -qx \
  "50-case.test.lua:2:   - 2026-11-16T08:04:30Z ticket 1: notify to=manager" \
  "$tmp/fail.out"
check "failing case: ... the fired action marked +" grep -qx \
  "50-case.test.lua:2:   + 2026-11-16T08:04:30Z ticket 1: notify to=team-lead" \
  "$tmp/fail.out"
check "failing case: ... and the writes" grep -q \
  "^50-case.test.lua:2:   2026-11-16T08:10:00Z ticket 1:   .*sla.first_response.state = met" \
  "$tmp/fail.out"
check "failing case: the passing one is not reported" \
  test "$(grep -c "this one passes" "$tmp/fail.out" || true)" -eq 0
check "failing case: the summary counts" grep -qx \
  'promptly test: rule tests: 1 of 2 failed' "$tmp/fail.err"

# An action fired that the case does not list is a failure too: a P1 left
# unanswered to 08:12 breaches (notify manager, raise_priority by 1).
fresh extra 'test "breach" {
  create { at = "2026-11-16T07:42:00Z", subject = "The site is down" },
  action { at = "2026-11-16T08:04:30Z", "notify", to = "team-lead" },
  expect { at = "2026-11-16T08:12:00Z", status = "breached", escalation = 2 },
}'
run_cli "$tmp/extra.out" "$tmp/extra.err" test "$tmp/extra"
check "unlisted action: exit 1" test "$rc" -eq 1
cat >"$tmp/extra.expected" <<'EOF'
50-case.test.lua:1: test 'breach': expected no action 'notify to=manager' at 2026-11-16T08:12:00Z (ticket 1), got it
50-case.test.lua:1: test 'breach': expected no action 'raise_priority by=1' at 2026-11-16T08:12:00Z (ticket 1), got it
EOF
check "unlisted action: named, at the case's line" same "$tmp/extra.expected" \
  <(grep ": expected" "$tmp/extra.out")

# --- Bad test files: file:line, nothing run as if it were fine -----------------

bad() {  # bad NAME EXPECTED-LINE TEXT
  fresh "$1" "$3"
  run_cli "$tmp/$1.out" "$tmp/$1.err" test "$tmp/$1"
  check "bad test file ($1): exit 1" test "$rc" -eq 1
  check "bad test file ($1): reported" same <(printf '%s\n' "$2") \
    "$tmp/$1.out"
}
bad syntax "50-case.test.lua:2: '}' expected (to close '{' at line 1) near 'expect'" \
'test "x" { create { at = "2026-11-16T07:42:00Z" }
  expect { priority = "P1" }'
bad metric "50-case.test.lua:3: expect: due: unknown metric 'frist_response' (known: first_response, next_response, periodic_update, resolution)" \
'test "x" {
  create { at = "2026-11-16T07:42:00Z", subject = "x" },
  expect { due = { frist_response = "none" } },
}'
bad key "50-case.test.lua:3: expect: unknown key 'prio' (known: at, ticket, priority, rule, policy, status, due, state, escalation, customer_wait, fields)" \
'test "x" {
  create { at = "2026-11-16T07:42:00Z", subject = "x" },
  expect { prio = "P1" },
}'
bad level "50-case.test.lua:3: expect: priority: unknown level 'P9'" \
'test "x" {
  create { at = "2026-11-16T07:42:00Z", subject = "x" },
  expect { priority = "P9" },
}'
bad policy "50-case.test.lua:3: expect: policy: unknown policy 'gold'" \
'test "x" {
  create { at = "2026-11-16T07:42:00Z", subject = "x" },
  expect { policy = "gold" },
}'
bad instant "50-case.test.lua:2: at: 'Monday 9am' is not an instant (write \"2026-11-16T07:42:00Z\", UTC)" \
'test "x" {
  create { at = "Monday 9am", subject = "x" },
  expect { priority = "P3" },
}'
bad order "50-case.test.lua:3: at: before the step at 50-case.test.lua:2; steps go in time order" \
'test "x" {
  create { at = "2026-11-16T09:00:00Z", subject = "x" },
  note { at = "2026-11-16T08:00:00Z" },
}'
bad twice "50-case.test.lua:2: test 'x': already declared at 50-case.test.lua:1" \
'test "x" { create { at = "2026-11-16T09:00:00Z" } }
test "x" { create { at = "2026-11-16T09:00:00Z" } }'
bad noevent "50-case.test.lua:1: test 'x': no event (create {...}, ...)" \
'test "x" { expect { priority = "P3" } }'
bad notstep "50-case.test.lua:1: test 'x': step 1 is not a step (create {...}, expect {...}, action {...}, ...)" \
'test "x" { "create", create { at = "2026-11-16T09:00:00Z" } }'
bad reload "50-case.test.lua:1: on_reload: 'sometimes' (write \"refuse\", \"warn\" or \"off\")" \
'on_reload "sometimes"'
bad sandbox "50-case.test.lua:1: attempt to index a nil value (global 'io')" \
'io.open("/etc/passwd")'

# A test file over the rule files' budget is stopped, as a rule file is:
# by the instruction budget or by the CPU time budget of a call (50 ms),
# whichever this machine reaches first.
fresh budget 'while true do end'
run_cli "$tmp/budget.out" "$tmp/budget.err" test "$tmp/budget"
check "bad test file (budget): exit 1" test "$rc" -eq 1
check "bad test file (budget): reported once, with file:line" \
  test "$(grep -cE '^50-case.test.lua:1: (instruction budget exceeded \(10000000 instructions\)|time budget exceeded \(50 ms of CPU time\))$' "$tmp/budget.out")" -eq 1 -a \
  "$(wc -l <"$tmp/budget.out")" -eq 1

# Rules that do not load: their problems, no case run.
fresh broken 'test "x" { create { at = "2026-11-16T09:00:00Z" } }'
echo 'priority { "P9", words = { "x" } }' >"$tmp/broken/15-bad.lua"
run_cli "$tmp/broken.out" "$tmp/broken.err" test "$tmp/broken"
check "broken rules: exit 1" test "$rc" -eq 1
check "broken rules: their problem" grep -q "^15-bad.lua:1: " "$tmp/broken.out"

# No test file: nothing to fail.
mkdir "$tmp/none"
cp "$PROMPTLY_RULES"/[0-9]*[a-z].lua "$tmp/none/"
rm -f "$tmp/none"/*.test.lua
run_cli "$tmp/none.out" "$tmp/none.err" test "$tmp/none"
check "no test file: exit 0" test "$rc" -eq 0
check "no test file: 0 cases" grep -qx 'promptly test: 0 cases passed' \
  "$tmp/none.err"

run_cli "$tmp/miss.out" "$tmp/miss.err" test "$tmp/missing"
check "missing folder: exit 1" test "$rc" -eq 1
run_cli "$tmp/use.out" "$tmp/use.err" test
check "no folder given: exit 2" test "$rc" -eq 2

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count rule test tests failed" >&2
  exit 1
fi
