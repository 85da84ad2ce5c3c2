#!/bin/bash
# test_report.sh - "promptly report" over hand-written outcome records in
# tests/fixtures/report/.  Every expected number below is derived by hand
# from the fixture (the derivation is in the comments), never copied from
# the tool's output.
#
# basic.jsonl (business calendar Mon-Fri 09-17 UTC for P3, 24x7 for P1):
#   first_response P1: 101 met 20m, 102 met 30m (tie at the 30m target),
#     103 breached 45m (over by 15m)
#   first_response P3 (target 4h): 104 met 4h (Mon 15:00 -> Tue 11:00, a
#     tie at the target, 16h outside hours), 105 breached 5h (Wed 12:00 ->
#     Thu 09:00, 16h outside, raised to P1 by the breach: counted under
#     P3), 106 met 2h (paused 1h waiting on the customer), 107 active,
#     108 paused, 109 cancelled
#   resolution P1 (4h): 101 met 3h, 103 breached 6h (breached at 02:00,
#     resolved at 04:00: a breach then met is breached; exception outage)
#   resolution P3 (24h): 105 met 13h, 106 stopped (merged)
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_SRCDIR,
# PROMPTLY_MODULE and PROMPTLY_RULES (for the replays);
# PROMPTLY_WRAP, if set, runs the CLI ("valgrind -q --error-exitcode=9");
# PROMPTLY_TEST_SCALE=N makes the random cases N times smaller.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_SRCDIR:?}"
fx="$PROMPTLY_SRCDIR/tests/fixtures/report"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

M=60000
H=3600000

# jqeq NAME FILE FILTER EXPECTED: the jq filter's compact output is EXPECTED.
jqeq() {
  local got
  got=$(jq -c "$3" "$2" 2>&1) || true
  if [ "$got" = "$4" ]; then
    ok "$1"
  else
    echo "# $3: expected $4, got $got" >&2
    not_ok "$1"
  fi
}

# --- Groups: compliance, percentiles, overruns ------------------------------

# Nearest rank: p of n values is the value at rank ceil(p n / 100).
#  FR P1 [20m 30m 45m]: p50 rank 2 = 30m, p80/p90/p95 rank 3 = 45m
#  FR P3 [2h 4h 5h]: p50 4h, p80.. 5h; overrun 1h; compliance 2/3
#  RES P1 [3h 6h]: p50 rank 1 = 3h, p80 rank 2 = 6h; overrun 2h; 1/2
#  RES P3 [13h]; the stopped cycle is counted apart; compliance 1/1
cat >"$tmp/groups.expected" <<EOF
metric,priority,count,met,breached,cancelled,stopped,active,paused,compliance,p50_ms,p80_ms,p90_ms,p95_ms,overrun_median_ms,overrun_max_ms
first_response,P1,3,2,1,0,0,0,0,0.666667,$((30 * M)),$((45 * M)),$((45 * M)),$((45 * M)),$((15 * M)),$((15 * M))
first_response,P3,6,2,1,1,0,1,1,0.666667,$((4 * H)),$((5 * H)),$((5 * H)),$((5 * H)),$H,$H
resolution,P1,2,1,1,0,0,0,0,0.500000,$((3 * H)),$((6 * H)),$((6 * H)),$((6 * H)),$((2 * H)),$((2 * H))
resolution,P3,2,1,0,0,1,0,0,1.000000,$((13 * H)),$((13 * H)),$((13 * H)),$((13 * H)),,
EOF
run_cli "$tmp/groups.csv" "$tmp/groups.err" report \
  --records "$fx/basic.jsonl" --by metric,priority --format csv
check "csv by metric,priority exits 0" test "$rc" -eq 0
tr -d '\r' <"$tmp/groups.csv" >"$tmp/groups.out"
check "csv: hand-derived groups" same "$tmp/groups.expected" \
  "$tmp/groups.out"
check "csv: rows end in CRLF" grep -q $'\r$' "$tmp/groups.csv"

# The total over all 13 cycles: 6 met, 3 breached; durations
# [20m 30m 45m 2h 3h 4h 5h 6h 13h]: p50 rank 5 = 3h, p80 rank 8 = 6h,
# p90 and p95 rank 9 = 13h; overruns [15m 1h 2h]: median 1h, max 2h.
run_cli "$tmp/basic.json" "$tmp/basic.err" report \
  --records "$fx/basic.jsonl" --format json --breaches
check "json exits 0" test "$rc" -eq 0
jqeq "json: total counts" "$tmp/basic.json" \
  '.total | [.count, .met, .breached, .cancelled, .stopped, .active, .paused]' \
  '[13,6,3,1,1,1,1]'
jqeq "json: total percentiles and overruns" "$tmp/basic.json" \
  '.total | [.p50_ms, .p80_ms, .p90_ms, .p95_ms, .overrun_median_ms, .overrun_max_ms]' \
  "[$((3 * H)),$((6 * H)),$((13 * H)),$((13 * H)),$H,$((2 * H))]"
jqeq "json: total compliance 6/9" "$tmp/basic.json" \
  '.total.compliance | . * 1000000 | round' '666667'
jqeq "json: default grouping is by metric" "$tmp/basic.json" \
  '[.by, [.groups[].key.metric]]' '[["metric"],["first_response","resolution"]]'
jqeq "json: open cycles are never in the ratio" "$tmp/basic.json" \
  '.groups[0] | [.met, .breached, .active, .paused, (.compliance * 1000 | round)]' \
  '[4,2,1,1,667]'

# Priority at the start: 105 ended as P1, its breach counts under P3.
run_cli "$tmp/prio.csv" "$tmp/prio.err" report \
  --records "$fx/basic.jsonl" --by priority --format csv
check "by priority: P1 has the 2 breaches of 103, P3 the one of 105" \
  test "$(tr -d '\r' <"$tmp/prio.csv" | cut -d, -f1,4 | tr '\n' ' ')" = \
  "priority,breached P1,2 P3,1 "

# Attributes: channel web is 102 (met), 106 (met, stopped); a missing
# attribute would be (none).  By tier: enterprise is 102, 106 x2.
run_cli "$tmp/chan.csv" "$tmp/chan.err" report \
  --records "$fx/basic.jsonl" --by channel,tier --format csv
check "by channel,tier" test \
  "$(tr -d '\r' <"$tmp/chan.csv" | cut -d, -f1-5 | tr '\n' ' ')" = \
  "channel,tier,count,met,breached email,professional,10,4,3 web,enterprise,3,2,0 "

# An independent computation (tests/report_oracle.py, written from the
# definitions in promptly(1)) over random records: groups by metric,
# priority and week in Europe/Berlin (across the end of summer time),
# the total, a period: 2026-10-26 in Berlin is 2026-10-25T23:00Z (CET,
# summer time ended on the 25th).  PROMPTLY_TEST_SCALE=N (the valgrind
# build) makes N times fewer records.
nrand=$((2000 / ${PROMPTLY_TEST_SCALE:-1}))
for seed in 1 2 3; do
  python3 "$PROMPTLY_SRCDIR/tests/report_oracle.py" gen "$nrand" "$seed" \
    "$tmp/rand$seed.jsonl"
  python3 "$PROMPTLY_SRCDIR/tests/report_oracle.py" groups \
    "$tmp/rand$seed.jsonl" Europe/Berlin 2026-10-25T23:00:00Z \
    2026-11-23T00:00:00Z | jq -S -c . >"$tmp/rand$seed.expected"
  rc=0
  cli report --records "$tmp/rand$seed.jsonl" --by metric,priority,week \
    --tz Europe/Berlin --from 2026-10-26 --to 2026-11-23T00:00:00Z \
    --format json 2>"$tmp/rand$seed.err" |
    jq -S -c '{groups, total}' >"$tmp/rand$seed.out" || rc=$?
  check "random records (seed $seed): the oracle's groups" \
    same "$tmp/rand$seed.expected" "$tmp/rand$seed.out"
  python3 "$PROMPTLY_SRCDIR/tests/report_oracle.py" calibrate \
    "$tmp/rand$seed.jsonl" 2026-10-25T23:00:00Z 2026-11-23T00:00:00Z 15 |
    jq -S -c . >"$tmp/cal$seed.expected"
  cli report --records "$tmp/rand$seed.jsonl" --calibrate --buffer 15 \
    --tz Europe/Berlin --from 2026-10-26 --to 2026-11-23T00:00:00Z \
    --format json 2>"$tmp/cal$seed.err" |
    jq -S -c '[.calibration[] | del(.buffer_pct, .suggested)]' \
    >"$tmp/cal$seed.out" || true
  check "random records (seed $seed): the oracle's calibration" \
    same "$tmp/cal$seed.expected" "$tmp/cal$seed.out"
done

# A later record of the same ticket, metric and cycle supersedes an earlier
# one (reopened, resolved again): 700's cycle 1 met, then breached; its
# cycle 2 and ticket 701 stay.  3 cycles: 700/1 breached, 700/2 met, 701 met.
r1=$(head -n 1 "$fx/basic.jsonl")
{
  jq -c '.ticket = 700 | .outcome = "met"' <<<"$r1"
  jq -c '.ticket = 701 | .outcome = "met"' <<<"$r1"
  jq -c '.ticket = 700 | .cycle = 2 | .outcome = "met"' <<<"$r1"
  jq -c '.ticket = 700 | .outcome = "breached" | .elapsed_ms = 3600000 |
    .stopped = "2026-11-05T10:00:00Z" | .breached_at = "2026-11-02T10:30:00Z"' <<<"$r1"
} >"$tmp/reopen.jsonl"
run_cli "$tmp/reopen.json" "$tmp/reopen.err" report --records \
  "$tmp/reopen.jsonl" --breaches --format json
jqeq "a later record of a cycle supersedes the earlier one" \
  "$tmp/reopen.json" \
  '[.total.count, .total.met, .total.breached, (.breaches[] | [.ticket, .cycle, .stopped, .overrun_ms])]' \
  "[3,2,1,[700,1,\"2026-11-05T10:00:00Z\",$((30 * M))]]"

# --- The breach list --------------------------------------------------------

jqeq "breaches: sorted by time by default" "$tmp/basic.json" \
  '[.breaches[] | [.ticket, .metric]]' \
  '[[103,"first_response"],[103,"resolution"],[105,"first_response"]]'
jqeq "breaches: 105 in words" "$tmp/basic.json" \
  '.breaches[2].cause' \
  '"no agent reply within 4h (over by 1h); 16h outside business hours; priority raised from P3 to P1"'
jqeq "breaches: a breach then met, with its exception" "$tmp/basic.json" \
  '.breaches[1] | [.overrun_ms, .exceptions, .cause]' \
  "[$((2 * H)),\"outage (mail relay down)\",\"not resolved within 4h (over by 2h); exception outage (mail relay down)\"]"
jqeq "breaches: cause tags" "$tmp/basic.json" \
  '[.breaches[].causes]' \
  '[["none of these"],["exception"],["priority changed","outside business hours"]]'
run_cli "$tmp/over.json" "$tmp/over.err" report \
  --records "$fx/basic.jsonl" --format json --breaches --sort overrun
jqeq "breaches: --sort overrun (2h, 1h, 15m)" "$tmp/over.json" \
  '[.breaches[] | .overrun_ms]' "[$((2 * H)),$H,$((15 * M))]"
# credits.jsonl's breaches: 300 on 10-05, 310 11-05, 311 11-06 and its
# resolution 11-20, 320 12-02, 403 11-13, 500 11-10.
run_cli "$tmp/tk.json" "$tmp/tk.err" report \
  --records "$fx/credits.jsonl" --format json --breaches --sort ticket
jqeq "breaches: --sort ticket (then metric)" "$tmp/tk.json" \
  '[.breaches[] | [.ticket, .metric[0:1]]]' \
  '[[300,"f"],[310,"f"],[311,"f"],[311,"r"],[320,"f"],[403,"f"],[500,"f"]]'
run_cli "$tmp/tm.json" "$tmp/tm.err" report \
  --records "$fx/credits.jsonl" --format json --breaches
jqeq "breaches: by time" "$tmp/tm.json" \
  '[.breaches[] | [.ticket, .metric[0:1]]]' \
  '[[300,"f"],[310,"f"],[311,"f"],[500,"f"],[403,"f"],[311,"r"],[320,"f"]]'
rc=0
cli report --records - --format json --breaches <"$fx/basic.jsonl" \
  >"$tmp/stdin.json" 2>"$tmp/stdin.err" || rc=$?
check "--records - reads stdin: the same report" test "$rc" -eq 0 -a \
  "$(jq -c 'del(.source)' "$tmp/stdin.json")" = \
  "$(jq -c 'del(.source)' "$tmp/basic.json")"
run_cli "$tmp/br.txt" "$tmp/br.err" report \
  --records "$fx/basic.jsonl" --breaches --sort overrun
check "text breach list: 105 with its cause" grep -Eq \
  '^105 +first_response +1 +corporate +P3 +4h +5h +1h +0s +0s +2026-11-04T16:00:00Z +no agent reply within 4h' \
  "$tmp/br.txt"

# --- Periods and zones ------------------------------------------------------

# periods.jsonl: 1 met 2026-11-29T23:30Z (Sunday in UTC, Monday 00:30 in
# Berlin), 2 breached 2026-11-30T23:30Z (Monday in UTC, 1 December in
# Berlin), 3 met 2026-11-23T08:00Z, 4 met 2026-12-01T00:00Z.
p="$fx/periods.jsonl"
run_cli "$tmp/w.csv" "$tmp/w.err" report --records "$p" --by week \
  --format csv
check "weeks in UTC" test "$(tr -d '\r' <"$tmp/w.csv" | cut -d, -f1-4 |
  tail -n +2 | tr '\n' ' ')" = "2026-11-23,2,2,0 2026-11-30,2,1,1 "
run_cli "$tmp/wb.csv" "$tmp/wb.err" report --records "$p" --by week \
  --tz Europe/Berlin --format csv
check "weeks in Europe/Berlin" test "$(tr -d '\r' <"$tmp/wb.csv" |
  cut -d, -f1-4 | tail -n +2 | tr '\n' ' ')" = \
  "2026-11-23,1,1,0 2026-11-30,3,2,1 "
run_cli "$tmp/mb.csv" "$tmp/mb.err" report --records "$p" --by month \
  --tz Europe/Berlin --format csv
check "months in Europe/Berlin" test "$(tr -d '\r' <"$tmp/mb.csv" |
  cut -d, -f1-4 | tail -n +2 | tr '\n' ' ')" = "2026-11,2,2,0 2026-12,2,1,1 "
run_cli "$tmp/d.csv" "$tmp/d.err" report --records "$p" --by day,metric \
  --format csv
check "days in UTC" test "$(tr -d '\r' <"$tmp/d.csv" | cut -d, -f1,3 |
  tail -n +2 | tr '\n' ' ')" = "2026-11-23,1 2026-11-29,1 2026-11-30,1 2026-12-01,1 "
# [from, to): 3 ends at --from (in), 4 at --to (out).
run_cli "$tmp/ft.json" "$tmp/ft.err" report --records "$p" --format json \
  --from 2026-11-23T08:00:00Z --to 2026-12-01T00:00:00Z
jqeq "--from is inclusive, --to exclusive" "$tmp/ft.json" \
  '[.from, .to, .total.count, .total.met]' \
  '["2026-11-23T08:00:00Z","2026-12-01T00:00:00Z",3,2]'
# A date is its midnight in --tz: 2026-11-30 in Berlin is 11-29T23:00Z.
run_cli "$tmp/fd.json" "$tmp/fd.err" report --records "$p" --format json \
  --from 2026-11-30 --tz Europe/Berlin
jqeq "--from a date in the zone" "$tmp/fd.json" \
  '[.from, .total.count]' '["2026-11-29T23:00:00Z",3]'

# --- Calibration ------------------------------------------------------------

# calib.jsonl (last end 2026-11-20, so the default 90 days start on
# 2026-08-23 and leave out the 10h breach of 2026-06-01):
#  FR P2 (1h): met 10m..50m: 100% -> could tighten; p80 rank 4 = 40m,
#    +10% = 44m, rounded up to 5 min: 45m; 4 of 5 at or below it: 80%
#  FR P3 (4h): 1h 2h 3h 4h met, 5h breached: 80% (not unrealistic: < 80
#    is); p80 4h, +10% = 4h24m, rounded up to 30 min: 4h30m, 80%
#  RES P2 (2h): 1h 2h met, 3h 4h 5h breached: 40% -> unrealistic; p80 4h
#    -> 4h30m, 80%
c="$fx/calib.jsonl"
run_cli "$tmp/cal.json" "$tmp/cal.err" report --records "$c" --calibrate \
  --format json
check "--calibrate exits 0" test "$rc" -eq 0
jqeq "calibration: default window of 90 days" "$tmp/cal.json" \
  '[.from, .total.count]' '["2026-08-23T00:00:00Z",15]'
jqeq "calibration lines" "$tmp/cal.json" \
  '[.calibration[] | [.metric, .priority, .target_ms, .p80_ms, .suggested, .suggested_ms, (.suggested_compliance * 100 | round), (.compliance * 100 | round), .flag]]' \
  "[[\"first_response\",\"P2\",$H,$((40 * M)),\"45m\",$((45 * M)),80,100,\"could tighten by 10-15%\"],[\"first_response\",\"P3\",$((4 * H)),$((4 * H)),\"4h30m\",$((270 * M)),80,80,null],[\"resolution\",\"P2\",$((2 * H)),$((4 * H)),\"4h30m\",$((270 * M)),80,40,\"unrealistic\"]]"
# --buffer 25% with the June breach in: FR P2 has 10m..50m and 10h, p80
# rank ceil(4.8) = 5 = 50m, +25% = 62m30s, rounded up to 15 min: 1h15m,
# 5 of 6; FR P3 4h + 1h = 5h exactly, 5 of 5.
run_cli "$tmp/cal2.json" "$tmp/cal2.err" report --records "$c" --calibrate \
  --buffer 25% --from 2026-01-01 --format json
jqeq "calibration: --buffer and --from" "$tmp/cal2.json" \
  '[.calibration[0:2][] | [.cycles, .p80_ms, .suggested, (.suggested_compliance * 1000 | round), .flag]]' \
  "[[6,$((50 * M)),\"1h15m\",833,null],[5,$((4 * H)),\"5h\",1000,null]]"
run_cli "$tmp/cal.txt" "$tmp/cal.err" report --records "$c" --calibrate
check "calibration in text" grep -Eq \
  '^resolution +P2 +corporate +2h +5 +40.0% +4h +4h30m +80.0% +unrealistic$' \
  "$tmp/cal.txt"

# --- Service credits --------------------------------------------------------

# contracts.lua: acme 1000 EUR, 93%, 10% per point capped at 50%, at least
# 2 tickets, first responses only; enterprise tier 500, 90%, a function
# fee * shortfall / 100.  credits.jsonl:
#  acme 2026-10: 10 tickets, 9 met, 1 breached: 90%, 3 points: 300.00
#  acme 2026-11: 8 met, 2 breached (a resolution breach not covered):
#    80%, 13 points, 130% capped at 50%: 500.00
#  acme 2026-12: 1 ticket: below the minimum, no credit
#  globex (enterprise tier) 2026-11: 3 met, 1 breached: 75%, 15 points,
#    500 * 15 / 100 = 75.00; initech (starter): no contract, no line
run_cli "$tmp/cr.json" "$tmp/cr.err" report \
  --records "$fx/credits.jsonl" --contracts "$fx/contracts.lua" \
  --format json
check "--contracts exits 0" test "$rc" -eq 0
jqeq "credits" "$tmp/cr.json" \
  '[.credits[] | [.customer, .month, .contract, .tickets, .met, .breached, .shortfall_pts, .credit]]' \
  '[["acme","2026-10","acme",10,9,1,3,300],["acme","2026-11","acme",10,8,2,13,500],["acme","2026-12","acme",1,0,1,93,0],["globex","2026-11","enterprise",4,3,1,15,75]]'
jqeq "credits: the breaches behind them, the minimum" "$tmp/cr.json" \
  '[.credits[1].breaches, .credits[2].note, .credits[0].currency, .credits[3].currency]' \
  '[[{"ticket":310,"metric":"first_response","cycle":1},{"ticket":311,"metric":"first_response","cycle":1}],"fewer tickets (1) than the minimum (2)","EUR",null]'

# Bad contracts: FILE:LINE and exit 2, nothing on stdout.
bad_contract() {
  local name=$1 text=$2 want=$3
  printf '%s\n' "$text" >"$tmp/$name.lua"
  run_cli "$tmp/$name.out" "$tmp/$name.err" report \
    --records "$fx/credits.jsonl" --contracts "$tmp/$name.lua"
  if [ "$rc" -eq 2 ] && [ ! -s "$tmp/$name.out" ] &&
    grep -qF "$tmp/$name.lua:$want" "$tmp/$name.err"; then
    ok "bad contract: $name"
  else
    cat "$tmp/$name.err" >&2
    not_ok "bad contract: $name (rc $rc)"
  fi
}
bad_contract nofee $'-- no fee\ncontract "x" {\n  customer = "x", target = 95,\n  credit = { per_point = 10 },\n}' \
  "2: contract 'x': fee is missing"
bad_contract badtarget $'contract "x" { customer = "x", fee = 1, target = "ninety", credit = { per_point = 10 } }' \
  "1: contract 'x': target is not a percentage"
bad_contract typo $'\ncontract "x" { customer = "x", fee = 1, target = 9, credit = { per_point = 10 }, fe = 2 }' \
  "2: contract 'x': unknown key 'fe'"
bad_contract noio $'local f = io.open("/etc/passwd")' \
  "1: attempt to index a nil value (global 'io')"
bad_contract noos $'\n\nos.exit(1)' "3: attempt to index a nil value (global 'os')"
bad_contract syntax $'contract "x" {' "2: unexpected symbol near <eof>"
bad_contract twice $'contract "x" { customer = "a", fee = 1, target = 9, credit = { per_point = 1 } }\ncontract "x" { customer = "b", fee = 1, target = 9, credit = { per_point = 1 } }' \
  "2: contract 'x' is declared twice"
bad_contract loop $'contract "x" {\n  tier = "enterprise", fee = 500, target = 90,\n  credit = function(m) while true do end end,\n}' \
  "1: contract 'x': credit function: "
check "a runaway credit function: the budget says so" grep -q \
  "instruction budget exceeded" "$tmp/loop.err"

# --- HTML -------------------------------------------------------------------

run_cli "$tmp/r.html" "$tmp/html.err" report --records "$fx/basic.jsonl" \
  --format html --calibrate --from 2026-11-01
check "html exits 0" test "$rc" -eq 0
check "html: one document" test "$(grep -c '^<!DOCTYPE html>' "$tmp/r.html")" -eq 1
check "html: self-contained (no script, no URL but the SVG namespace)" \
  test "$(grep -Eo '(https?:|<script|src=|href=)[^"]*' "$tmp/r.html" |
    sort -u)" = "http://www.w3.org/2000/svg"
# Charts: compliance by week, breaches by priority, by cause, histograms
# of first_response and resolution.
check "html: five SVG charts" test "$(grep -c '<svg ' "$tmp/r.html")" -eq 5
# Week of 2026-11-02: all 9 met or breached cycles (6 met, 3 breached).
check "html: the weekly table beside the line chart" grep -q \
  '<tr><td>2026-11-02</td><td>6</td><td>3</td><td>66.7%</td></tr>' \
  "$tmp/r.html"
check "html: breaches by priority table" grep -q \
  '<tr><td>P1</td><td>2</td></tr>' "$tmp/r.html"
check "html: target and p80 marked on the histogram" grep -q \
  '>target 4h</text>' "$tmp/r.html"
check "html: the breach list" grep -q \
  '<td>priority raised\|priority raised from P3 to P1' "$tmp/r.html"

# --- A report over a replay, and what-if -----------------------------------

# history.jsonl under the shipped rules (business hours Mon-Fri 09-17 UTC):
#  300 P3 Mon 09:00, pending customer 10:00-12:00, reply 13:00: first
#    response met after 2h (paused 2h, customer wait 2h)
#  301 P3 Mon 09:00, reply 14:00: breached at 13:00 (4h), 5h, over by 1h;
#    the host raises it to P2 at 13:01 (as RT would carry out the
#    breach's raise_priority): counted under P3, its start priority
#  302 P1 "Server down" Mon 10:00 (24x7), reply 10:30: met at the 30m
#    target exactly; resolved 13:00: met in 3h
#  303 P3 Mon 15:00, reply Tue 11:00: 2h Monday + 2h Tuesday = 4h, met at
#    the target; 16h outside business hours
#  304 P1 "Database outage" Tue 10:00, reply 10:10: met in 10m; resolved
#    15:00: breached at 14:00 (4h), then resolved: breached, over by 1h
#  Open at the end (Tue 15:00): the resolutions of 300, 301, 303; the
#  periodic updates (no target) start at the first reply: stopped by the
#  resolutions of 302 and 304, active for 300, 303 (P3) and 301 (P2 by
#  then).
: "${PROMPTLY_MODULE:?}" "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
h="$fx/history.jsonl"
cat >"$tmp/replay.expected" <<END
metric,priority,count,met,breached,cancelled,stopped,active,paused,compliance,p50_ms,p80_ms,p90_ms,p95_ms,overrun_median_ms,overrun_max_ms
first_response,P1,2,2,0,0,0,0,0,1.000000,$((10 * M)),$((30 * M)),$((30 * M)),$((30 * M)),,
first_response,P3,3,2,1,0,0,0,0,0.666667,$((4 * H)),$((5 * H)),$((5 * H)),$((5 * H)),$H,$H
periodic_update,P1,2,0,0,0,2,0,0,,,,,,,
periodic_update,P2,1,0,0,0,0,1,0,,,,,,,
periodic_update,P3,2,0,0,0,0,2,0,,,,,,,
resolution,P1,2,1,1,0,0,0,0,0.500000,$((3 * H)),$((5 * H)),$((5 * H)),$((5 * H)),$H,$H
resolution,P3,3,0,0,0,0,3,0,,,,,,,
END
run_cli "$tmp/replay.csv" "$tmp/replay.err" report --rules "$PROMPTLY_RULES" \
  --events "$h" --by metric,priority --format csv
check "replay: exits 0" test "$rc" -eq 0
tr -d '\r' <"$tmp/replay.csv" >"$tmp/replay.out"
check "replay: the hand-derived groups" same "$tmp/replay.expected" \
  "$tmp/replay.out"
run_cli "$tmp/replay.json" "$tmp/replay.err" report \
  --rules "$PROMPTLY_RULES" --events "$h" --by metric,priority \
  --breaches --format json
jqeq "replay: the breaches, with the raise in words" "$tmp/replay.json" \
  '[.breaches[] | [.ticket, .metric, .priority_start, .target_ms, .overrun_ms, .cause]]' \
  "[[301,\"first_response\",\"P3\",$((4 * H)),$H,\"no agent reply within 4h (over by 1h); priority raised from P3 to P2\"],[304,\"resolution\",\"P1\",$((4 * H)),$H,\"not resolved within 4h (over by 1h)\"]]"
jqeq "replay: the source says which rules" "$tmp/replay.json" '.source' \
  "\"rules $PROMPTLY_RULES\""

# The report over a replay is the report over the records of that replay.
run_cli "$tmp/h.out" "$tmp/h.err" run --rules "$PROMPTLY_RULES" \
  --events "$h" --records "$tmp/h.rec"
run_cli "$tmp/fromrec.json" "$tmp/fromrec.err" report --records "$tmp/h.rec" \
  --by metric,priority --breaches --format json
check "report over the records = report over the replay" test \
  "$(jq -c 'del(.source)' "$tmp/fromrec.json")" = \
  "$(jq -c 'del(.source)' "$tmp/replay.json")"

# What-if of a folder against itself: no change anywhere.
run_cli "$tmp/self.json" "$tmp/self.err" report --rules "$PROMPTLY_RULES" \
  --events "$h" --compare "$PROMPTLY_RULES" --by metric,priority \
  --format json
check "compare with itself: exits 0" test "$rc" -eq 0
jqeq "compare with itself: no flip, no change" "$tmp/self.json" \
  '[.flips, ([.groups[].change, .total.change] | map(.compliance // 0, .breached, .p80_ms // 0) | unique)]' \
  '[[],[0]]'
jqeq "compare with itself: both sides are the replay's numbers" \
  "$tmp/self.json" '[.groups[] | .a == .b] | unique' '[true]'

# A tighter folder: P3 first response in 3h instead of 4h.  300 (2h) is
# still met, 301 still breached (due Mon 12:00 instead of 13:00), 303
# (4h) now breached: due Tue 10:00 (2h Monday + 1h) instead of 11:00.
mkdir "$tmp/tight"
cp "$PROMPTLY_RULES"/*.lua "$tmp/tight/"
sed -i 's/P3 = "4h",/P3 = "3h",/' "$tmp/tight/20-policies.lua"
check "the tighter folder differs in one target" test \
  "$(diff "$PROMPTLY_RULES/20-policies.lua" "$tmp/tight/20-policies.lua" |
    grep -c '^>')" -eq 1
run_cli "$tmp/tight.json" "$tmp/tight.err" report --rules "$PROMPTLY_RULES" \
  --events "$h" --compare "$tmp/tight" --by metric,priority --format json
check "compare: exits 0" test "$rc" -eq 0
jqeq "compare: the one flip, with its two dues" "$tmp/tight.json" \
  '[.flips[] | [.ticket, .metric, .cycle, .a.outcome, .a.due, .b.outcome, .b.due]]' \
  '[[303,"first_response",1,"met","2026-11-24T11:00:00Z","breached","2026-11-24T10:00:00Z"]]'
jqeq "compare: first response P3 from 2/3 to 1/3, one more breach" \
  "$tmp/tight.json" \
  '.groups[] | select(.key == {"metric": "first_response", "priority": "P3"}) | [.a.met, .a.breached, .b.met, .b.breached, .change.compliance, .change.breached, .change.p80_ms]' \
  '[2,1,1,2,-0.333333,1,0]'
run_cli "$tmp/tight.txt" "$tmp/tight.err" report --rules "$PROMPTLY_RULES" \
  --events "$h" --compare "$tmp/tight" --by metric,priority
check "compare in text: the group and the flip" test \
  "$(grep -Ec '^(first_response +P3 +66.7% +33.3% +-33.3 pts +1 +2 +\+1 +5h +5h +0|303 +first_response +1 +met +2026-11-24T11:00:00Z +breached +2026-11-24T10:00:00Z)$' \
    "$tmp/tight.txt")" -eq 2
# Deterministic: the same comparison twice is the same.
run_cli "$tmp/tight2.txt" "$tmp/tight2.err" report --rules "$PROMPTLY_RULES" \
  --events "$h" --compare "$tmp/tight" --by metric,priority
check "compare: the same output twice" same "$tmp/tight.txt" "$tmp/tight2.txt"

# The what-if example of promptly(1), as written, in a folder that has
# those files.
mkdir "$tmp/ex3"
cp -r "$PROMPTLY_RULES" "$tmp/ex3/rules"
cp -r "$tmp/tight" "$tmp/ex3/rules-tighter"
cp "$h" "$tmp/ex3/history.jsonl"
rc=0
(cd "$tmp/ex3" && cli report --rules ./rules --events history.jsonl \
    --compare ./rules-tighter --by metric,priority) >"$tmp/ex3.out" || rc=$?
check "doc example: what-if" test "$rc" -eq 0 -a \
  "$(grep -c '^303 ' "$tmp/ex3.out")" -eq 1

# A replay that fails says so and reports nothing.
printf '{"ticket": 1, "at": "yesterday", "type": "create"}\n' \
  >"$tmp/badev.jsonl"
run_cli "$tmp/badev.out" "$tmp/badev.err" report --rules "$PROMPTLY_RULES" \
  --events "$tmp/badev.jsonl"
check "replay of bad events: exit 2, nothing on stdout" test "$rc" -eq 2 -a \
  ! -s "$tmp/badev.out"
check "replay of bad events: says which line, and that nothing is reported" \
  test -n "$(grep 'line 1' "$tmp/badev.err")" -a \
  -n "$(grep 'nothing is reported' "$tmp/badev.err")"

# --- Bad input --------------------------------------------------------------

printf '%s\n' "$(head -n 2 "$fx/basic.jsonl")" '{"ticket": 1, "metric":' \
  >"$tmp/malformed.jsonl"
run_cli "$tmp/m.out" "$tmp/m.err" report --records "$tmp/malformed.jsonl"
check "malformed line: exit 2" test "$rc" -eq 2
check "malformed line: FILE: line 3" grep -q \
  "^promptly: $tmp/malformed.jsonl: line 3: not JSON" "$tmp/m.err"
check "malformed line: nothing on stdout" test ! -s "$tmp/m.out"

bad_record() {
  local name=$1 filter=$2 want=$3
  head -n 1 "$fx/basic.jsonl" | jq -c "$filter" >"$tmp/$name.jsonl"
  run_cli "$tmp/$name.out" "$tmp/$name.err" report \
    --records "$tmp/$name.jsonl"
  if [ "$rc" -eq 2 ] && [ ! -s "$tmp/$name.out" ] &&
    grep -qF "$tmp/$name.jsonl: line 1: $want" "$tmp/$name.err"; then
    ok "bad record: $name"
  else
    cat "$tmp/$name.err" >&2
    not_ok "bad record: $name (rc $rc)"
  fi
}
bad_record outcome '.outcome = "late"' "outcome 'late' is not one of"
bad_record elapsed 'del(.elapsed_ms)' '"elapsed_ms" is missing'
bad_record negative '.paused_ms = -1' '"paused_ms" is negative'
bad_record started '.started = "yesterday"' '"started" is not an ISO 8601'
bad_record open '.outcome = "active"' 'an active cycle has a "stopped"'
bad_record ended '.stopped = null' 'a met cycle needs a "stopped"'
bad_record array '[.]' 'not a JSON object'
bad_record range '.elapsed_ms = 99999999999999' '"elapsed_ms" is out of range'
bad_record before '.stopped = "2026-11-01T00:00:00Z"' '"stopped" is before "started"'

run_cli "$tmp/by.out" "$tmp/by.err" report --records "$fx/basic.jsonl" \
  --by metric,colour
check "unknown --by key: exit 2" test "$rc" -eq 2
check "unknown --by key: says which" grep -q \
  "unknown key 'colour'" "$tmp/by.err"
run_cli "$tmp/by0.out" "$tmp/by0.err" report --records "$fx/basic.jsonl" \
  --by ""
check "empty --by: exit 2" test "$rc" -eq 2
run_cli "$tmp/tz.out" "$tmp/tz.err" report --records "$fx/basic.jsonl" \
  --tz Mars/Olympus
check "unknown zone: exit 2" test "$rc" -eq 2
run_cli "$tmp/fmt.out" "$tmp/fmt.err" report --records "$fx/basic.jsonl" \
  --format pdf
check "unknown format: exit 2" test "$rc" -eq 2
run_cli "$tmp/rep.out" "$tmp/rep.err" report --rules "$tmp"
check "--rules without --events: exit 2" test "$rc" -eq 2 -a \
  -n "$(grep 'go together' "$tmp/rep.err")"
run_cli "$tmp/rep.out" "$tmp/rep.err" report --records "$fx/basic.jsonl" \
  --rules "$tmp" --events "$tmp/x"
check "--records and --rules: exit 2" test "$rc" -eq 2
run_cli "$tmp/rep.out" "$tmp/rep.err" report --rules "$tmp" \
  --events "$tmp/x" --compare "$tmp" --calibrate
check "--compare with --calibrate: exit 2" test "$rc" -eq 2
run_cli "$tmp/nf.out" "$tmp/nf.err" report --records "$tmp/absent.jsonl"
check "missing records file: exit 2" test "$rc" -eq 2

# --label names the source in the text's first line, the JSON and the page.
run_cli "$tmp/lab.txt" "$tmp/lab.err" report --records "$fx/basic.jsonl" \
  --label "RT records, queue General"
check "--label: the text's first line names it" \
  grep -q '^promptly report: RT records, queue General, ' "$tmp/lab.txt"
run_cli "$tmp/lab.json" "$tmp/lab.err" report --records "$fx/basic.jsonl" \
  --label "RT records" --format json
jqeq "--label: the JSON source" "$tmp/lab.json" '.source' '"RT records"'
run_cli "$tmp/lab.html" "$tmp/lab.err" report --records "$fx/basic.jsonl" \
  --label "RT <records>" --format html
check "--label: the page names it, escaped, and not the path" \
  sh -c "grep -q 'RT &lt;records&gt;' '$tmp/lab.html' && ! grep -q basic.jsonl '$tmp/lab.html'"

# The examples of promptly(1) and README.md run as written (from the top
# of the source tree; records.jsonl and contracts.lua being fixtures).
rc=0
(cd "$PROMPTLY_SRCDIR" && cli report --records tests/fixtures/report/basic.jsonl \
    --by metric,priority --breaches --sort overrun) >"$tmp/ex1.out" || rc=$?
check "doc example: breaches by start priority" test "$rc" -eq 0 -a \
  "$(grep -c 'over by' "$tmp/ex1.out")" -eq 3
cp "$fx/calib.jsonl" "$tmp/records.jsonl"
cp "$fx/contracts.lua" "$tmp/contracts.lua"
rc=0
(cd "$tmp" && cli report --records records.jsonl --calibrate &&
  cli report --records records.jsonl --calibrate \
    --contracts contracts.lua --format html >report.html) >"$tmp/ex2.out" ||
  rc=$?
check "doc example: calibration and the html page" test "$rc" -eq 0 -a \
  -s "$tmp/report.html" -a -n "$(grep unrealistic "$tmp/ex2.out")"

echo "1..$count"
[ "$failed" -eq 0 ]
