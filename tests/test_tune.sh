#!/bin/bash
# test_tune.sh - "promptly tune" on a synthetic history with a confusion
# table derived by hand (tests/fixtures/tune/history.jsonl, the shipped
# rules), a what-if folder (--compare), and bad input.
#
# The ten tickets, the shipped rules' level (P1 outage/down/..., P2
# broken/error/..., P4 suggestion/feature request, else P3) and the
# agents' last manual level ("-": none, they kept the rules' level):
#   1 Site down                 P1 (10-priority.lua:26)  -
#   2 Outage in Paris           P1 (:26)                 P2  lowered
#   3 Invoice wrong             P3 (default)             P1  raised
#   4 Invoice missing           P3 (default)             urgent = P1, raised
#   5 Export broken             P2 (:30)                 P2 (same)
#   6 Suggestion: dark mode     P4 (:34)                 P3  raised
#   7 Question about the invoice P3 (default)            -
#   8 Login error               P2 (:30)                 P3, then P1: raised
#   9 Ünïcode INVOICE problem   P3 (default)             p2 = P2, raised
#  10 Feature request: CSV      P4 (:34)                 -
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}" \
  "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
hist="$PROMPTLY_SRCDIR/tests/fixtures/tune/history.jsonl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_tune.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

run_cli "$tmp/a.out" "$tmp/a.err" tune --rules "$PROMPTLY_RULES" \
  --events "$hist" --top 3
check "tune: exit 0" test "$rc" -eq 0
# Rows: the rules' level; columns: the agents'.  Agreement: tickets 1, 5,
# 7, 10.  Precision of :26 = ticket 1 of 1 and 2; recall = ticket 1 of
# the four agents put at P1 (1, 3, 4, 8); and so on.
cat >"$tmp/a.expected" <<EOF
rules $PROMPTLY_RULES: 10 tickets created, 7 changed by agents
confusion (rows: the rules' level at creation; columns: the agents' last manual level, or the rules' if they kept it):
  rules        P1     P2     P3     P4
  P1            1      1      0      0
  P2            1      1      0      0
  P3            2      1      1      0
  P4            0      0      1      1
agreement: 4/10 (40.0%); agents raised 5, lowered 1
rules (precision: its tickets agents left at its level; recall: of the tickets agents put at that level, the share it chose):
  10-priority.lua:26 (P1): 2 tickets, precision 1/2 (50.0%), recall 1/4 (25.0%)
  10-priority.lua:30 (P2): 2 tickets, precision 1/2 (50.0%), recall 1/3 (33.3%)
  10-priority.lua:34 (P4): 2 tickets, precision 1/2 (50.0%), recall 1/1 (100.0%)
  default (P3): 4 tickets, precision 1/4 (25.0%), recall 1/2 (50.0%)
words in tickets agents raised (5 tickets):
  'invoice': 3 raised, 1 other; e.g. "Invoice wrong", "Invoice missing"
  'dark': 1 raised, 0 others; e.g. "Suggestion: dark mode"
  'error': 1 raised, 0 others; e.g. "Login error"
words in tickets agents lowered (1 ticket):
  'in': 1 lowered, 0 others; e.g. "Outage in Paris"
  'outage': 1 lowered, 0 others; e.g. "Outage in Paris"
  'paris': 1 lowered, 0 others; e.g. "Outage in Paris"
EOF
check "tune: table, per-rule figures and words as derived by hand" same \
  "$tmp/a.expected" "$tmp/a.out"
check "tune: nothing on stderr" same /dev/null "$tmp/a.err"
rc=0
cli tune --rules "$PROMPTLY_RULES" --events - --top 3 <"$hist" \
  >"$tmp/a2.out" 2>"$tmp/a2.err" || rc=$?
check "tune --events - (stdin): the same" same "$tmp/a.out" "$tmp/a2.out"

# Every raised word: 'INVOICE' and 'Ünïcode' are folded like keywords
# ('ünïcode' sorts after the ASCII words: UTF-8 byte order).
run_cli "$tmp/b.out" "$tmp/b.err" tune --rules "$PROMPTLY_RULES" \
  --events "$hist" --top 50
cat >"$tmp/b.expected" <<'EOF'
  'invoice': 3 raised, 1 other; e.g. "Invoice wrong", "Invoice missing"
  'dark': 1 raised, 0 others; e.g. "Suggestion: dark mode"
  'error': 1 raised, 0 others; e.g. "Login error"
  'login': 1 raised, 0 others; e.g. "Login error"
  'missing': 1 raised, 0 others; e.g. "Invoice missing"
  'mode': 1 raised, 0 others; e.g. "Suggestion: dark mode"
  'problem': 1 raised, 0 others; e.g. "Ünïcode INVOICE problem"
  'suggestion': 1 raised, 0 others; e.g. "Suggestion: dark mode"
  'wrong': 1 raised, 0 others; e.g. "Invoice wrong"
  'ünïcode': 1 raised, 0 others; e.g. "Ünïcode INVOICE problem"
EOF
check "tune: words folded like the matcher's keywords" same \
  "$tmp/b.expected" <(sed -n '/^words in tickets agents raised/,/^words in tickets agents lowered/p' "$tmp/b.out" | sed '1d;$d')

# What if "invoice" were a P1 keyword: tickets 3, 4, 7 and 9 move to P1;
# 3 and 4 now agree, 7 (kept at P3 by the agents) no longer does, 9 (P2)
# still does not.
mkdir "$tmp/r2"
cp "$PROMPTLY_RULES"/*.lua "$tmp/r2/"
sed -i 's/"urgent",/"urgent", "invoice",/' "$tmp/r2/10-priority.lua"
run_cli "$tmp/c.out" "$tmp/c.err" tune --rules "$PROMPTLY_RULES" \
  --events "$hist" --top 3 --compare "$tmp/r2"
check "tune --compare: exit 0" test "$rc" -eq 0
cat >"$tmp/c.expected" <<EOF

rules $tmp/r2: 10 tickets created, 7 changed by agents
confusion (rows: the rules' level at creation; columns: the agents' last manual level, or the rules' if they kept it):
  rules        P1     P2     P3     P4
  P1            3      2      1      0
  P2            1      1      0      0
  P3            0      0      0      0
  P4            0      0      1      1
agreement: 5/10 (50.0%); agents raised 2, lowered 3
rules (precision: its tickets agents left at its level; recall: of the tickets agents put at that level, the share it chose):
  10-priority.lua:26 (P1): 6 tickets, precision 3/6 (50.0%), recall 3/4 (75.0%)
  10-priority.lua:30 (P2): 2 tickets, precision 1/2 (50.0%), recall 1/3 (33.3%)
  10-priority.lua:34 (P4): 2 tickets, precision 1/2 (50.0%), recall 1/1 (100.0%)
what if: agreement 4 -> 5; 4 tickets change level, 2 now agree with the agents, 1 no longer do
EOF
check "tune --compare: the candidate's table and the what-if" same \
  "$tmp/c.expected" <(sed -n '/^$/,$p' "$tmp/c.out")
check "tune --compare: the first folder's part unchanged" same \
  "$tmp/a.out" <(sed '/^$/,$d' "$tmp/c.out")

# Bad input: FILE:LINE, nothing printed, exit 2.
{ head -n 4 "$hist"; echo '{"ticket": 11, "at": "2026-11-16T09:30:00Z", "type": "create",'; } >"$tmp/bad.jsonl"
run_cli "$tmp/d.out" "$tmp/d.err" tune --rules "$PROMPTLY_RULES" \
  --events "$tmp/bad.jsonl"
check "tune, malformed line: exit 2" test "$rc" -eq 2
check "tune, malformed line: nothing on stdout" same /dev/null "$tmp/d.out"
check "tune, malformed line: FILE:LINE" grep -q \
  "^promptly tune: $tmp/bad.jsonl:5: malformed JSON" "$tmp/d.err"
{ head -n 4 "$hist"; echo '{"ticket": 11, "at": "2026-11-16T08:00:00Z", "type": "create"}'; } >"$tmp/order.jsonl"
run_cli "$tmp/e.out" "$tmp/e.err" tune --rules "$PROMPTLY_RULES" \
  --events "$tmp/order.jsonl"
check "tune, out of order: exit 2" test "$rc" -eq 2
check "tune, out of order: FILE:LINE" grep -qx \
  "promptly tune: $tmp/order.jsonl:5: at: before the event before it (the history must be in time order)" \
  "$tmp/e.err"
mkdir "$tmp/r3"
echo 'levels { "A", "B" }' >"$tmp/r3/10-levels.lua"
run_cli "$tmp/f.out" "$tmp/f.err" tune --rules "$PROMPTLY_RULES" \
  --events "$hist" --compare "$tmp/r3"
check "tune --compare with other levels: exit 2" test "$rc" -eq 2
check "tune --compare with other levels: says so" grep -q \
  "have different levels" "$tmp/f.err"
run_cli "$tmp/g.out" "$tmp/g.err" tune --rules "$PROMPTLY_RULES"
check "tune without --events: exit 2" test "$rc" -eq 2
run_cli "$tmp/g.out" "$tmp/g.err" tune --rules "$PROMPTLY_RULES" \
  --events "$hist" --top 0
check "tune --top 0: exit 2" test "$rc" -eq 2

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count tune tests failed" >&2
  exit 1
fi
