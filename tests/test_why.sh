#!/bin/bash
# test_why.sh - "promptly why": the rule that matched and at which words
# (character columns from 1, Unicode case folding), near misses and why
# they lost, shadowed rules and keywords that never decide, then the
# policies and dues.  Expected lines are derived by hand from
# tests/fixtures/why/10-why.lua and the shipped rules.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}" \
  "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
fx="$PROMPTLY_SRCDIR/tests/fixtures/why"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_why.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

# The fixture's warnings, the same for every ticket: rule 3 and rule 4
# only have words rule 2 has (rule 2 has no other condition); rule 3 lists
# 'error' twice; rule 6's 'suggestion' is rule 5's, which has nothing else.
# (Sorted by file and line, then by text.)
cat >"$tmp/lint" <<'EOF'
10-why.lua:3: warning: priority: keyword 'error' is listed twice
10-why.lua:3: warning: priority: shadowed, it can never match: 10-why.lua:2 (P2) comes first and matches every ticket it does
10-why.lua:4: warning: priority: shadowed, it can never match: 10-why.lua:2 (P2) comes first and matches every ticket it does
10-why.lua:6: warning: priority: keyword 'suggestion' never decides here: 10-why.lua:5 (P4) comes first and takes every ticket with it
EOF

# "Die STÖRUNG ist down": STÖRUNG is characters 5-11, down starts at 17.
# Rule 1 has 'down' but wants tier enterprise; rule 4 has it but wants a
# queue.
run_cli "$tmp/a.out" "$tmp/a.err" why --rules "$fx" \
  --at 2026-11-16T07:42:00Z "Die STÖRUNG ist down" tier=starter
check "why: exit 0" test "$rc" -eq 0
{
  echo "levels: P1, P2, P3, P4 (default P3)"
  echo "priority P2 by 10-why.lua:2, at 'STÖRUNG' at subject:5, 'down' at subject:17"
  echo "near miss: 10-why.lua:1 (P1): 'down' at subject:17; but tier is 'starter', not 'enterprise'"
  echo "near miss: 10-why.lua:4 (P3): 'down' at subject:17; but the ticket has no queue (the rule wants 'billing')"
  cat "$tmp/lint"
} >"$tmp/a.expected"
check "why: rule, words with columns, near misses, warnings" same \
  "$tmp/a.expected" <(sed '/^if created at/,$d' "$tmp/a.out")
check "why: no SLA in the fixture" grep -qx \
  '  first_response: no target (best effort)' "$tmp/a.out"

# ß folds to ss: 'Straße gesperrt' (from character 10) is the phrase
# "STRASSE gesperrt" of rule 7; the body is a second text.
run_cli "$tmp/b.out" "$tmp/b.err" why --rules "$fx" \
  --at 2026-11-16T07:42:00Z "Achtung: Straße gesperrt" "nothing is down"
# Rule 2 holds too ('down' in the body) and comes before rule 7, so the
# verdict is rule 2's, and rule 7 is a near miss that holds.
{
  echo "levels: P1, P2, P3, P4 (default P3)"
  echo "priority P2 by 10-why.lua:2, at 'down' at body:12"
  echo "near miss: 10-why.lua:1 (P1): 'down' at body:12; but the ticket has no tier (the rule wants 'enterprise')"
  echo "near miss: 10-why.lua:4 (P3): 'down' at body:12; but the ticket has no queue (the rule wants 'billing')"
  echo "near miss: 10-why.lua:7 (P1): 'Straße gesperrt' at subject:10; it holds too, but 10-why.lua:2 comes first"
  cat "$tmp/lint"
} >"$tmp/b.expected"
check "why: first rule in file order wins; later ones that hold are named" \
  same "$tmp/b.expected" <(sed '/^if created at/,$d' "$tmp/b.out")

# No rule: the default, and nothing close.
run_cli "$tmp/c.out" "$tmp/c.err" why --rules "$fx" \
  --at 2026-11-16T07:42:00Z "Invoice question"
{
  echo "levels: P1, P2, P3, P4 (default P3)"
  echo "priority P3: the default, no priority rule matched"
  cat "$tmp/lint"
} >"$tmp/c.expected"
check "why: the default" same "$tmp/c.expected" \
  <(sed '/^if created at/,$d' "$tmp/c.out")

# The shipped rules: an outage at 07:42 Monday is P1; corporate-p1 gives
# 30 minutes round the clock (08:12) and 4 hours to resolve (11:42).
run_cli "$tmp/d.out" "$tmp/d.err" why --rules "$PROMPTLY_RULES" \
  --at 2026-11-16T07:42:00Z "Checkout is down" tier=enterprise
check "why (shipped): exit 0" test "$rc" -eq 0
check "why (shipped): the rule" grep -qx \
  "priority P1 by 10-priority.lua:26, at 'down' at subject:13" "$tmp/d.out"
check "why (shipped): the policies that apply" grep -qx \
  "  policies matched: corporate-p1, corporate, enterprise" "$tmp/d.out"
check "why (shipped): first response due" grep -q \
  "^  first_response: running (.*policy corporate-p1).*due 2026-11-16T08:12:00Z$" \
  "$tmp/d.out"
check "why (shipped): resolution due" grep -q \
  "^  resolution: running (.*policy corporate-p1).*due 2026-11-16T11:42:00Z$" \
  "$tmp/d.out"

# Bad usage: exit 2, nothing on stdout.
run_cli "$tmp/e.out" "$tmp/e.err" why "no rules"
check "why without --rules: exit 2" test "$rc" -eq 2
run_cli "$tmp/e.out" "$tmp/e.err" why --rules "$fx" "s" "b" "not an attr"
check "why, a third text: exit 2" test "$rc" -eq 2
check "why, a third text: says so" grep -q "only attributes as name=value" \
  "$tmp/e.err"
run_cli "$tmp/e.out" "$tmp/e.err" why --rules "$fx" --at never "s"
check "why --at never: exit 2" test "$rc" -eq 2
run_cli "$tmp/e.out" "$tmp/e.err" why --rules "$fx" "s" tier=a tier=b
check "why, an attribute twice: exit 2" test "$rc" -eq 2
run_cli "$tmp/f.out" "$tmp/f.err" why --rules "$PROMPTLY_SRCDIR/tests/fixtures/cli/rules-broken" "s"
check "why, broken rules: exit 1" test "$rc" -eq 1
check "why, broken rules: file:line" grep -q '^20-broken.lua:[0-9]*: ' \
  "$tmp/f.out"

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count why tests failed" >&2
  exit 1
fi
