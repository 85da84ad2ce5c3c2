#!/bin/bash
# test_cli.sh - the promptly tool end to end: the built CLI drives the built
# module over the fixtures in tests/fixtures/cli/.  Outputs are compared
# exactly with diff; live runs compare everything but the real instants.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP, if set, is a command that
# runs the CLI ("valgrind -q --error-exitcode=9").
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}"
export PROMPTLY_MODULE
fx="$PROMPTLY_SRCDIR/tests/fixtures/cli"
rules="$fx/rules"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

# The real instants of a live run: check their form, then hide them.
live_normalise() {
  local d='[0-9]{2}'
  local iso="[0-9]{4}-$d-${d}T$d:$d:$d(\\.[0-9]{3})?Z"
  if grep -Ev "^\{\"at\": \"$iso\", " "$1" >&2; then
    echo "lines above: no ISO 8601 instant first" >&2
    return 1
  fi
  sed -E 's/^\{"at": "[^"]*", /{"at": AT, /' "$1"
}

# wait_for FILE PATTERN: until a line of FILE matches (at most 30 s, so a
# slow run under valgrind still passes, and a broken one fails).
wait_for() {
  local i
  for i in $(seq 300); do
    if grep -Eq "$2" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

# --- Replays in virtual time ------------------------------------------------

# Keyword levels (P1 "down", P4 "feature request", P3 without a keyword,
# P2 "failed", P1 for a Unicode keyword in capitals), each at the instant of
# its create event; no write for replies, notes, status or attribute
# changes; an agent's manual priority is never changed back.
run_cli "$tmp/basic.out" "$tmp/basic.err" run --rules "$rules" \
  --events "$fx/basic.jsonl"
check "basic replay exits 0" test "$rc" -eq 0
check "basic replay: writes as expected" same "$fx/basic.expected" \
  "$tmp/basic.out"
check "basic replay: nothing on stderr" same /dev/null "$tmp/basic.err"

# Replaying the same file again gives the same output, also from stdin.
rc=0
cli run --rules "$rules" --events - <"$fx/basic.jsonl" \
  >"$tmp/basic2.out" 2>"$tmp/basic2.err" || rc=$?
check "second replay (stdin) exits 0" test "$rc" -eq 0
check "second replay: identical output" same "$tmp/basic.out" \
  "$tmp/basic2.out"

# --until after the last event is accepted; before it is bad input.
run_cli "$tmp/until.out" "$tmp/until.err" run --rules "$rules" \
  --events "$fx/basic.jsonl" --until 2026-11-27T00:00:00Z
check "--until after the last event exits 0" test "$rc" -eq 0
check "--until: same writes" same "$fx/basic.expected" "$tmp/until.out"
run_cli "$tmp/until2.out" "$tmp/until2.err" run --rules "$rules" \
  --events "$fx/basic.jsonl" --until 2026-11-20T18:00:00Z
check "--until before the last event exits 2" test "$rc" -eq 2
echo "promptly: --until 2026-11-20T18:00:00Z is before the last event" \
  "(2026-11-20T19:00:00Z)" >"$tmp/until2.expected"
check "--until before the last event: says so" same "$tmp/until2.expected" \
  "$tmp/until2.err"
run_cli "$tmp/until3.out" "$tmp/until3.err" run --rules "$rules" \
  --events "$fx/basic.jsonl" --until tomorrow
check "--until that is no instant exits 2" test "$rc" -eq 2
check "--until that is no instant: nothing run" same /dev/null \
  "$tmp/until3.out"

# Bad lines: one stderr line each, naming the line; the other lines are
# handled; exit 2 at the end.
run_cli "$tmp/bad.out" "$tmp/bad.err" run --rules "$rules" \
  --events "$fx/bad.jsonl"
check "bad lines exit 2" test "$rc" -eq 2
check "bad lines: the good ones still written" same "$fx/bad.expected" \
  "$tmp/bad.out"
check "bad lines: one message per line" same "$fx/bad.stderr.expected" \
  "$tmp/bad.err"

# --strict: exit 2 at the first bad line, nothing after it.
run_cli "$tmp/strict.out" "$tmp/strict.err" run --strict --rules "$rules" \
  --events "$fx/bad.jsonl"
check "--strict exits 2" test "$rc" -eq 2
head -n 1 "$fx/bad.expected" >"$tmp/strict.expected"
check "--strict: only what came before the bad line" same \
  "$tmp/strict.expected" "$tmp/strict.out"
head -n 1 "$fx/bad.stderr.expected" >"$tmp/strict.err.expected"
check "--strict: only the first bad line reported" same \
  "$tmp/strict.err.expected" "$tmp/strict.err"

# An update of a ticket never created: the module reports it, naming the
# line, and it counts as bad input.
run_cli "$tmp/unknown.out" "$tmp/unknown.err" run --rules "$rules" \
  --events "$fx/unknown.jsonl"
check "unknown ticket exits 2" test "$rc" -eq 2
check "unknown ticket: the other tickets written" same \
  "$fx/unknown.expected" "$tmp/unknown.out"
check "unknown ticket: one warning naming line 2 and the ticket" \
  test "$(grep -c . "$tmp/unknown.err")" -eq 1 -a \
  "$(grep -c '^promptly: warning: line 2: .*ticket 99' "$tmp/unknown.err")" \
  -eq 1
run_cli "$tmp/unknown2.out" "$tmp/unknown2.err" run --strict \
  --rules "$rules" --events "$fx/unknown.jsonl"
check "unknown ticket with --strict exits 2" test "$rc" -eq 2
head -n 1 "$fx/unknown.expected" >"$tmp/unknown2.expected"
check "unknown ticket with --strict: stops there" same \
  "$tmp/unknown2.expected" "$tmp/unknown2.out"

# The rules or the module cannot be loaded: exit 1, naming the path.
run_cli "$tmp/norules.out" "$tmp/norules.err" run \
  --rules "$tmp/no-such-rules" --events "$fx/basic.jsonl"
check "missing rules folder exits 1" test "$rc" -eq 1
check "missing rules folder: named" grep -q "$tmp/no-such-rules" \
  "$tmp/norules.err"
check "missing rules folder: no output" same /dev/null "$tmp/norules.out"
run_cli "$tmp/broken.out" "$tmp/broken.err" run \
  --rules "$fx/rules-broken" --events "$fx/basic.jsonl"
check "broken rules exit 1" test "$rc" -eq 1
check "broken rules: file:line named" grep -q "20-broken.lua:3:" \
  "$tmp/broken.err"
run_cli "$tmp/nomod.out" "$tmp/nomod.err" run --module "$tmp/no.so" \
  --rules "$rules" --events "$fx/basic.jsonl"
check "missing module exits 1" test "$rc" -eq 1
check "missing module: named" grep -q "$tmp/no.so" "$tmp/nomod.err"
run_cli "$tmp/usage.out" "$tmp/usage.err" run --events "$fx/basic.jsonl"
check "run without --rules exits 2" test "$rc" -eq 2

# The README's first command: the sample events through the default rules
# run clean, and each sample ticket gets the level its words call for.
# Only the first priority written for each ticket (the one the keyword
# rules chose at creation) is compared: later ones come from escalations,
# which the SLA scenario tests cover.
run_cli "$tmp/ex.out" "$tmp/ex.err" run --rules "${PROMPTLY_RULES:?}" \
  --events "$PROMPTLY_SRCDIR/examples/events.jsonl"
check "examples/events.jsonl through the default rules exits 0" \
  test "$rc" -eq 0
check "examples/events.jsonl: nothing on stderr" same /dev/null "$tmp/ex.err"
levels='s/^\{"at": "[^"]*", "ticket": ([0-9]+), "write": \{.*'
levels="$levels"'"priority": "([^"]*)".*/\1 \2/p'
sed -nE "$levels" "$tmp/ex.out" | awk '!seen[$1]++' >"$tmp/ex.levels"
check "examples/events.jsonl: the levels of the sample tickets" same \
  "$fx/examples.expected" "$tmp/ex.levels"

# --- check ------------------------------------------------------------------

run_cli "$tmp/check.out" "$tmp/check.err" check "$rules"
check "check on a clean folder exits 0" test "$rc" -eq 0
check "check on a clean folder prints nothing" same /dev/null \
  "$tmp/check.out"
run_cli "$tmp/check2.out" "$tmp/check2.err" check "$fx/rules-broken"
check "check on a broken folder exits 1" test "$rc" -eq 1
check "check on a broken folder: file:line: message on stdout" \
  test "$(grep -c . "$tmp/check2.out")" -eq 1 -a \
  "$(grep -Ec '^20-broken\.lua:3: .+' "$tmp/check2.out")" -eq 1
run_cli "$tmp/check3.out" "$tmp/check3.err" check "$tmp/no-such-rules"
check "check on a missing folder exits 1" test "$rc" -eq 1
check "check on a missing folder: named on stderr" grep -q \
  "$tmp/no-such-rules" "$tmp/check3.err"

# --- version ----------------------------------------------------------------

run_cli "$tmp/version.out" "$tmp/version.err" version
check "version exits 0" test "$rc" -eq 0
printf 'promptly %s (ABI %s)\nmodule: %s\n' "X" "Y" "$PROMPTLY_MODULE" \
  >"$tmp/version.expected"
version='1s/^promptly [0-9]+\.[0-9]+\.[0-9]+[^ ]* \(ABI 1\.[0-9]+\)$'
sed -E "$version/promptly X (ABI Y)/" "$tmp/version.out" >"$tmp/version.norm"
check "version: module version, ABI and path" same "$tmp/version.expected" \
  "$tmp/version.norm"
run_cli "$tmp/version2.out" "$tmp/version2.err" --module "$tmp/no.so" version
check "version with a missing module exits 1" test "$rc" -eq 1

# --- Live runs --------------------------------------------------------------

# ev ID SUBJECT: a create event without "at": it happens when it arrives.
ev() {
  printf '{"ticket": %s, "type": "create", "attrs": {"subject": "%s"}}\n' \
    "$1" "$2"
}

# Events fed through a pipe, a pause between them: each is written when it
# arrives (the first line is out while the input is still open).
rc=0
{
  ev 30 "Checkout is down"
  wait_for "$tmp/live.out" '"ticket": 30' || true
  cp "$tmp/live.out" "$tmp/live.mid"
  sleep 0.3
  ev 31 "Suggestion: bigger fonts"
  sleep 0.3
} | cli run --live --rules "$rules" >"$tmp/live.out" \
  2>"$tmp/live.err" || rc=$?
check "live run exits 0" test "$rc" -eq 0
cat >"$tmp/live.expected" <<'EOF'
{"at": AT, "ticket": 30, "write": {"priority": "P1"}}
{"at": AT, "ticket": 31, "write": {"priority": "P4"}}
EOF
check "live run: writes as expected" same "$tmp/live.expected" \
  <(live_normalise "$tmp/live.out")
check "live run: the first write came before the input ended" same \
  <(head -n 1 "$tmp/live.expected") <(live_normalise "$tmp/live.mid")
check "live run: nothing on stderr" same /dev/null "$tmp/live.err"

# Hot reload through the CLI: a rule added between two events applies to
# the later ticket only.  The first ticket is written before the rule is
# added; with -v the module says when it reloaded (after its debounce),
# and a second later the next ticket comes.
cp -R "$rules" "$tmp/hot"
rc=0
{
  ev 40 "Printer on fire"
  wait_for "$tmp/hot.out" '"ticket": 40' || true
  printf '%s\n' '-- Added while running.' \
    'priority { "P1", words = { "fire" } }' >"$tmp/hot/05-fire.lua"
  wait_for "$tmp/hot.err" '^promptly: info: .*reload' || true
  sleep 1
  ev 41 "Kitchen on fire"
  sleep 0.3
} | cli -v run --live --rules "$tmp/hot" >"$tmp/hot.out" \
  2>"$tmp/hot.err" || rc=$?
check "hot reload run exits 0" test "$rc" -eq 0
cat >"$tmp/hot.expected" <<'EOF'
{"at": AT, "ticket": 40, "write": {"priority": "P3"}}
{"at": AT, "ticket": 41, "write": {"priority": "P1"}}
EOF
check "hot reload: the new rule applies to the later ticket" same \
  "$tmp/hot.expected" <(live_normalise "$tmp/hot.out")

# Live, --until in the future: the run lasts until then, past the input.
until=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
rc=0
ev 50 "VPN not working" |
  cli run --live --rules "$rules" --until "$until" \
  >"$tmp/lu.out" 2>"$tmp/lu.err" || rc=$?
check "live --until exits 0" test "$rc" -eq 0
check "live --until: ran until the instant" test "$(date +%s)" -ge \
  "$(date -u -d "$until" +%s)"
check "live --until: written" same \
  <(echo '{"at": AT, "ticket": 50, "write": {"priority": "P2"}}') \
  <(live_normalise "$tmp/lu.out")

# Live: a bad line is reported and counted; the good ones still written.
rc=0
{ ev 60 "Data loss"; echo '{"ticket": 61, "type": "create",'; } |
  cli run --live --rules "$rules" >"$tmp/lb.out" \
  2>"$tmp/lb.err" || rc=$?
check "live bad line exits 2" test "$rc" -eq 2
check "live bad line: reported with its number" grep -q \
  '^promptly: line 2: malformed JSON' "$tmp/lb.err"
check "live bad line: the good one written" same \
  <(echo '{"at": AT, "ticket": 60, "write": {"priority": "P1"}}') \
  <(live_normalise "$tmp/lb.out")

# An exception request naming no declared exception: a warning with the
# ticket, the value and the names declared; nothing applied, exit 0.
rc=0
printf '%s\n' \
  '{"ticket": 70, "at": "2026-11-16T10:00:00Z", "type": "create", "attrs": {"subject": "Export failed", "sla_exception": "outgae"}}' \
  '{"ticket": 70, "at": "2026-11-16T10:05:00Z", "type": "update", "attrs": {"note": "x"}}' \
  '{"ticket": 70, "at": "2026-11-16T10:10:00Z", "type": "update", "attrs": {"sla_exception": "Outage"}}' |
  cli run --rules "$PROMPTLY_SRCDIR/tests/fixtures/rules/sla-decls" \
    --events - --until 2026-11-16T11:00:00Z >"$tmp/xu.out" 2>"$tmp/xu.err" ||
  rc=$?
check "unknown exception: exits 0" test "$rc" -eq 0
check "unknown exception: one warning, with the ticket and the names" same \
  <(echo "promptly: warning: ticket 70: sla_exception 'outgae' names no exception (declared: outage, force majeure); none applied") \
  "$tmp/xu.err"
check "unknown exception: applied once spelt right" grep -q \
  '"sla.exception": "outage: Data centre outage"' "$tmp/xu.out"

# --sla-events FILE: the SLA events of ABI 1.2, one JSON line each; the
# standard output as without it.  Rules abi-sla: the policy on line 3,
# the step notifying the manager at 100% on line 4.  Created at 09:00
# ("server down": P1), a 30 min first response: at risk at 75%
# (09:22:30, no at_risk declared: the policy's line), breached at 09:30
# with the step's notify in the same event.
sla_ev_in='{"ticket": 80, "at": "2026-11-16T09:00:00Z", "type": "create", "attrs": {"subject": "server down"}}'
rc=0
echo "$sla_ev_in" | cli run --rules "$PROMPTLY_SRCDIR/tests/fixtures/rules/abi-sla"   --events - --until 2026-11-16T09:31:00Z --sla-events "$tmp/ev.jsonl"   >"$tmp/ev.out" 2>"$tmp/ev.err" || rc=$?
check "--sla-events: exits 0" test "$rc" -eq 0
rc=0
echo "$sla_ev_in" | cli run --rules "$PROMPTLY_SRCDIR/tests/fixtures/rules/abi-sla"   --events - --until 2026-11-16T09:31:00Z >"$tmp/ev0.out" 2>&1 || rc=$?
check "--sla-events: the standard output as without it" same "$tmp/ev0.out" \
  "$tmp/ev.out"
n='"exception": null, "reason": null, "reached_at": null'
check "--sla-events: applied, at risk, breached with its notify" same \
  <(printf '%s\n' \
    '{"ticket": 80, "event": "applied", "at": "2026-11-16T09:00:00Z", "metric": null, "cycle": null, "site": "10-sla.lua:3", "policy": "fast", "priority": "P1", "due": null, "threshold": null, '"$n"', "actions": []}' \
    '{"ticket": 80, "event": "at_risk", "at": "2026-11-16T09:22:30Z", "metric": "first_response", "cycle": 1, "site": "10-sla.lua:3", "policy": "fast", "priority": "P1", "due": "2026-11-16T09:30:00Z", "threshold": null, '"$n"', "actions": []}' \
    '{"ticket": 80, "event": "breached", "at": "2026-11-16T09:30:00Z", "metric": "first_response", "cycle": 1, "site": "10-sla.lua:4", "policy": "fast", "priority": "P1", "due": "2026-11-16T09:30:00Z", "threshold": "100%", '"$n"', "actions": [{"action": "notify", "args": {"to": "manager"}, "key": "80:first_response:1:100%:notify", "threshold": "100%", "site": "10-sla.lua:4", "held_until": null}]}') \
  "$tmp/ev.jsonl"

# The shipped rules, as the History rows of the README show them: each
# event names the line of its declaration, found here in the rule files.
# A gold-tier "mail is slow" (P3, policy corporate, business hours from
# Monday 09:00): at risk at 75% of the 4 h first response, breached at
# 100%, the step at 100% + 2h after that.
line_of() { grep -n "$1" "$PROMPTLY_SRCDIR/rules/$2" | head -1 | cut -d: -f1; }
rc=0
echo '{"ticket": 5, "at": "2026-11-16T09:00:00Z", "type": "create", "attrs": {"subject": "mail is slow", "tier": "gold"}}' |
  cli run --rules "$PROMPTLY_SRCDIR/rules" --events - \
    --until 2026-11-16T16:00:00Z --sla-events "$tmp/shipped.jsonl" \
    >/dev/null 2>"$tmp/shipped.err" || rc=$?
check "--sla-events on the shipped rules: exits 0" test "$rc" -eq 0
check "--sla-events on the shipped rules: each event names its rule's line" same \
  <(printf '%s\n' "applied 20-policies.lua:$(line_of '^policy "corporate" ' 20-policies.lua)" \
      "at_risk 30-escalation.lua:$(line_of '^at "75%"' 30-escalation.lua)" \
      "breached 30-escalation.lua:$(line_of '^at "100%" ' 30-escalation.lua)" \
      "step 30-escalation.lua:$(line_of '^at "100% + 2h"' 30-escalation.lua)") \
  <(sed -E 's/.*"event": "([a-z_]+)".*"site": "([^"]*)".*/\1 \2/' "$tmp/shipped.jsonl")

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count CLI tests failed" >&2
  exit 1
fi
