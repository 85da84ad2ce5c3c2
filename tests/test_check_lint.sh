#!/bin/bash
# test_check_lint.sh - "promptly check" sees everything: every problem of a
# policy even when its calendar is unknown or broken (no masking), then
# warnings for what can never happen (tests/fixtures/lint: a calendar never
# open in the coming year and its policy, a policy without targets, `when`
# functions that fail on a ticket without attributes or with empty ones,
# a *.LUA file; tests/fixtures/lint-upper: a folder where nothing loads),
# and --format json.  Expected lines are written by hand from the fixtures.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}" \
  "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
fx="$PROMPTLY_SRCDIR/tests/fixtures"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_check_lint.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

run_cli "$tmp/ship.out" "$tmp/ship.err" check "$PROMPTLY_RULES"
check "shipped rules: clean, no warning" same /dev/null "$tmp/ship.out"
check "shipped rules: exit 0" test "$rc" -eq 0

# No masking: the unknown calendar 'office' (line 4) and the broken one
# 'c' (line 3) do not hide the policies' other problems.  (Compared as a
# set: order and repeats are the problem list's business.)
run_cli "$tmp/mask.out" "$tmp/mask.err" check "$fx/mask"
check "masking: exit 1" test "$rc" -eq 1
cat >"$tmp/mask.expected" <<'EOF'
20-policies.lua:10: policy 'broken-calendar': resolution: '1.5h' is not a duration (write "30m", "1h30m", "90s", "7d" or "2w")
20-policies.lua:3: calendar 'c': hours: '25:00-26:00': hour out of range
20-policies.lua:4: policy 'corporate': first_response P2: '-1h' is not a duration (write "30m", "1h30m", "90s", "7d" or "2w")
20-policies.lua:4: policy 'corporate': first_response: unknown level 'P9'
20-policies.lua:4: policy 'corporate': resolution: '99999d' is out of range (at most 10 years)
20-policies.lua:4: policy 'corporate': unknown calendar 'office' (declared: 'c')
20-policies.lua:4: policy 'corporate': unknown key 'colour' (known: calendar, first_response, next_response, periodic_update, resolution, words, tier, type, channel, queue, status, attrs, when, out_of_hours, or the name of a metric)
EOF
check "masking: every problem of every declaration" same \
  "$tmp/mask.expected" <(grep -v ': warning: ' "$tmp/mask.out" | LC_ALL=C sort -u)
check "masking: sorted by file and line, each once" same \
  <(sort -t: -k1,1 -k2,2n -s "$tmp/mask.out" | uniq) "$tmp/mask.out"
# Warnings come with the errors, in the same order: calendar 'c' has no
# valid opening (line 3), and policy 'broken-calendar' uses it (line 10).
check "masking: warnings among the errors" same \
  <(printf '%s\n' "20-policies.lua:3: warning: calendar 'c': never open in the year from now: clocks in it never come due" \
    "20-policies.lua:10: warning: policy 'broken-calendar': its calendar 'c' is never open in the year from now: its tickets get no due") \
  <(grep ': warning: ' "$tmp/mask.out")

# Warnings, sorted by file and line (then in the order found), each once;
# exit 0.
run_cli "$tmp/lint.out" "$tmp/lint.err" check "$fx/lint"
check "lint: warnings alone exit 0" test "$rc" -eq 0
cat >"$tmp/lint.expected" <<'EOF'
10-lint.lua:2: warning: calendar 'frozen': never open in the year from now: clocks in it never come due
10-lint.lua:4: warning: policy 'thaw': its calendar 'frozen' is never open in the year from now: its tickets get no due
10-lint.lua:5: warning: policy 'hope': no target for any level (all best effort): it never supplies one
10-lint.lua:7: warning: priority: when fails on a ticket without attributes: attempt to index a nil value (field 'customer')
10-lint.lua:7: warning: priority: when fails on a ticket whose attributes are all "": attempt to index a nil value (field 'customer')
10-lint.lua:9: warning: priority: when fails on a ticket without attributes: attempt to index a nil value (field 'subject')
10-lint.lua:10: warning: policy 'vip': when fails on a ticket without attributes: attempt to get length of a nil value (field 'tier')
20-extra.LUA: warning: not loaded: rule files end in .lua, in lower case
EOF
check "lint: each warning with its file:line" same "$tmp/lint.expected" \
  "$tmp/lint.out"
check "lint: nothing on stderr" same /dev/null "$tmp/lint.err"
check "lint: the README's example is one of them" grep -qxF \
  "    $(sed -n 6p "$tmp/lint.expected")" "$PROMPTLY_SRCDIR/rules/README.md"
check "json: a warning without a file" bash -c "cli() { ${PROMPTLY_WRAP:-} \"\$PROMPTLY_BIN\" \"\$@\"; }; cli check --format json '$fx/lint-upper' | grep -qxF '{\"file\":null,\"line\":null,\"severity\":\"warning\",\"message\":\"no *.lua file in $fx/lint-upper: no rule loads (the default levels only)\"}'"

# The `when` of a pause condition is exercised too (issue 12 item 5).
run_cli "$tmp/pc.out" "$tmp/pc.err" check "$PROMPTLY_SRCDIR/tests/fixtures/rules/pause-conds"
check "lint: a pause condition's when, at its file:line" same \
  <(printf '%s\n' "20-pauses.lua:6: warning: customer_wait: when fails on a ticket without attributes: attempt to index a nil value (field 'waiting_on')" \
    "20-pauses.lua:6: warning: customer_wait: when fails on a ticket whose attributes are all \"\": attempt to index a nil value (field 'waiting_on')") \
  "$tmp/pc.out"

# Target functions are called too, with (t, c), and what they return must
# be an instant or nil (tests/fixtures/lint-target): a failure inside at
# the function's own line, a wrong result at the policy's.
run_cli "$tmp/tg.out" "$tmp/tg.err" check "$fx/lint-target"
check "lint, target functions: warnings alone exit 0" test "$rc" -eq 0
cat >"$tmp/tg.expected" <<'EOF'
20-target.lua:2: warning: policy 'p': resolution: the target function fails on a ticket whose attributes are all "": it returns '', not an instant ("2026-01-05T17:00:00Z", milliseconds since 1970, or nil)
20-target.lua:4: warning: policy 'p': resolution: the target function fails on a ticket without attributes: attempt to index a nil value (field 'subject')
20-target.lua:7: warning: policy 'q': resolution: the target function fails on a ticket without attributes: it returns a table, not an instant
20-target.lua:7: warning: policy 'q': resolution: the target function fails on a ticket whose attributes are all "": it returns a table, not an instant
EOF
check "lint, target functions: each at its file:line" same "$tmp/tg.expected" \
  "$tmp/tg.out"

run_cli "$tmp/up.out" "$tmp/up.err" check "$fx/lint-upper"
check "only a .LUA file: exit 0 (it is a warning)" test "$rc" -eq 0
cat >"$tmp/up.expected" <<EOF
warning: no *.lua file in $fx/lint-upper: no rule loads (the default levels only)
10-prio.LUA: warning: not loaded: rule files end in .lua, in lower case
EOF
check "only a .LUA file: named, and the folder loads nothing" same \
  "$tmp/up.expected" "$tmp/up.out"

# --format json: one object a line, the same findings.
run_cli "$tmp/j.out" "$tmp/j.err" check --format json "$fx/lint"
check "json: exit 0" test "$rc" -eq 0
check "json: one line per finding" test "$(wc -l <"$tmp/j.out")" -eq 8
check "json: a warning with its line" grep -qxF \
  '{"file":"10-lint.lua","line":5,"severity":"warning","message":"policy '"'"'hope'"'"': no target for any level (all best effort): it never supplies one"}' \
  "$tmp/j.out"
check "json: a warning without a line" grep -qxF \
  '{"file":"20-extra.LUA","line":null,"severity":"warning","message":"not loaded: rule files end in .lua, in lower case"}' \
  "$tmp/j.out"
run_cli "$tmp/k.out" "$tmp/k.err" check --format json "$fx/cli/rules-broken"
check "json, broken rules: exit 1" test "$rc" -eq 1
check "json, broken rules: an error with file and line" grep -qE \
  '^\{"file":"20-broken.lua","line":[0-9]+,"severity":"error","message":".+"\}$' \
  "$tmp/k.out"
run_cli "$tmp/m.out" "$tmp/m.err" check --format json "$tmp/missing"
check "json, missing folder: exit 1" test "$rc" -eq 1
check "json, missing folder: an error without a file" grep -qE \
  '^\{"file":null,"line":null,"severity":"error","message":"rules folder .*missing: .+"\}$' \
  "$tmp/m.out"
run_cli "$tmp/n.out" "$tmp/n.err" check --format yaml "$fx/lint"
check "--format yaml: exit 2" test "$rc" -eq 2

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count check tests failed" >&2
  exit 1
fi
