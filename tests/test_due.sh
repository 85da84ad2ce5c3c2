#!/bin/bash
# test_due.sh - "promptly due" end to end through the built module: the
# Friday example, between, the one-off form, .ics, and bad lines.
#
# Needs PROMPTLY_BIN, PROMPTLY_MODULE and PROMPTLY_SRCDIR (make check sets
# them); PROMPTLY_WRAP, if set, is a command to run the CLI under
# (valgrind).  Every expected instant is worked out by hand in a comment.
set -u

bin=${PROMPTLY_BIN:?PROMPTLY_BIN is not set}
export PROMPTLY_MODULE=${PROMPTLY_MODULE:?PROMPTLY_MODULE is not set}
src=${PROMPTLY_SRCDIR:?PROMPTLY_SRCDIR is not set}

# The CLI, under $PROMPTLY_WRAP if given (split into words on purpose).
promptly() {
  ${PROMPTLY_WRAP:-} "$bin" "$@"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() {
  passed=$((passed + 1))
  echo "ok - $1"
}

not_ok() {
  failed=$((failed + 1))
  echo "not ok - $1"
  shift
  printf '    %s\n' "$@"
}

# same NAME GOT WANT
same() {
  if [ "$2" == "$3" ]; then
    ok "$1"
  else
    not_ok "$1" "got:  $2" "want: $3"
  fi
}

office_utc='{"tz": "UTC", "hours": {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]], "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]}}'
office_berlin='{"tz": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]], "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]}}'

# --- Batch: answers are the input line with "due" or "elapsed_seconds" -----
{
  # 1. SPEC's example in UTC: Fri 17:00 + 4 business hours = Mon 13:00.
  echo "{\"calendar\": $office_utc, \"start\": \"2026-11-20T17:00:00Z\", \"minutes\": 240}"
  # 2. In Berlin (CET, +1): Fri 17:00 local is 16:00Z; due Mon 13:00 CET =
  #    12:00Z.  The same target given in seconds.
  echo "{\"calendar\": $office_berlin, \"start\": \"2026-11-20T16:00:00Z\", \"seconds\": 14400}"
  # 3. Between Fri 16:00Z and Mon 12:00Z in Berlin: only Mon 09:00-13:00
  #    CET counts, 14400 s.
  echo "{\"calendar\": $office_berlin, \"start\": \"2026-11-20T16:00:00Z\", \"end\": \"2026-11-23T12:00:00Z\"}"
  # 4. The issue's own line.  Fri 2026-11-20 17:00Z is 18:00 CET; Friday
  #    has no hours, so the next opening is the Saturday shift 22:00-06:00
  #    (Sat 22:00 CET = 21:00Z); 240 minutes later is Sun 02:00 CET =
  #    2026-11-22T01:00Z.
  echo '{"calendar": {"tz": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]], "tue": [["08:30", "12:00"], ["13:00", "17:30"]], "sat": [["22:00", "06:00"]]}, "holidays": ["2026-12-24..2026-12-26", "01-01"]}, "start": "2026-11-20T17:00:00Z", "minutes": 240}'
  # 5. The holiday range: Wed 2026-12-23 16:00 UTC + 2h = 1h Wednesday,
  #    Thu-Sat off, Mon 28 09:00 + 1h = 10:00Z.  Keys in another order,
  #    module-style pairs.
  echo '{"start": "2026-12-23T16:00:00Z", "minutes": 120, "calendar": {"holiday": "2026-12-24..2026-12-26", "mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": ["09:00-12:00", "13:00-17:00"]}}'
  # 6. holidays.ics: Christmas and Boxing Day 2029 (Tue, Wed).  Mon 24
  #    16:00Z + 2h = 1h Monday, Thu 27 09:00 + 1h = 10:00Z.
  echo "{\"calendar\": {\"ics\": \"$src/tests/fixtures/ics/holidays.ics\", \"hours\": {\"mon\": [[\"09:00\", \"17:00\"]], \"tue\": [[\"09:00\", \"17:00\"]], \"wed\": [[\"09:00\", \"17:00\"]], \"thu\": [[\"09:00\", \"17:00\"]], \"fri\": [[\"09:00\", \"17:00\"]]}}, \"start\": \"2029-12-24T16:00:00Z\", \"minutes\": 120}"
  # 7. 24x7: 90 minutes are 90 minutes.
  echo '{"calendar": {"tz": "America/New_York", "hours": "24x7"}, "start": "2026-03-08T06:30:00Z", "minutes": 90}'
} >"$tmp/good.jsonl"

promptly due --batch "$tmp/good.jsonl" >"$tmp/good.out" 2>"$tmp/good.err"
same "batch: exit status 0" "$?" 0
same "batch: nothing on stderr" "$(cat "$tmp/good.err")" ""
same "batch: one answer per line" "$(wc -l <"$tmp/good.out")" 7

line() { sed -n "${1}p" "$tmp/good.out"; }
same "friday 17:00 + 4h (UTC)" "$(line 1)" \
  "{\"calendar\": $office_utc, \"start\": \"2026-11-20T17:00:00Z\", \"minutes\": 240, \"due\": \"2026-11-23T13:00:00Z\"}"
same "friday 17:00 + 14400 s (Berlin)" "$(line 2)" \
  "{\"calendar\": $office_berlin, \"start\": \"2026-11-20T16:00:00Z\", \"seconds\": 14400, \"due\": \"2026-11-23T12:00:00Z\"}"
same "between friday and monday" "$(line 3)" \
  "{\"calendar\": $office_berlin, \"start\": \"2026-11-20T16:00:00Z\", \"end\": \"2026-11-23T12:00:00Z\", \"elapsed_seconds\": 14400}"
same "overnight saturday shift" "$(line 4 | sed 's/.*"due": //')" '"2026-11-22T01:00:00Z"}'
same "holiday range, pairs style" "$(line 5 | sed 's/.*"due": //')" '"2026-12-28T10:00:00Z"}'
same "ics holidays" "$(line 6 | sed 's/.*"due": //')" '"2029-12-27T10:00:00Z"}'
same "24x7 across spring-forward" "$(line 7 | sed 's/.*"due": //')" '"2026-03-08T08:00:00Z"}'

# The same from standard input.
promptly due --batch <"$tmp/good.jsonl" >"$tmp/stdin.out" 2>&1
same "batch from stdin" "$(cat "$tmp/stdin.out")" "$(cat "$tmp/good.out")"

# --- Bad lines: a message naming the line, no output for it, exit 2 --------
{
  echo "{\"calendar\": $office_utc, \"start\": \"2026-11-20T17:00:00Z\", \"minutes\": 240}"
  echo '{"calendar": {"tue": [["25:00", "26:00"]]}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo '{"calendar": {"tz": "Mars/Base"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo 'this is not json'
  echo "{\"calendar\": $office_utc, \"minutes\": 60}"
  echo "{\"calendar\": $office_utc, \"start\": \"2026-11-20T17:00:00Z\", \"minutes\": -5}"
  echo '{"calendar": {"tz": "UTC"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo '{"calendar": {"holidays": ["2026-02-30"], "mon": "09:00-17:00"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo "{\"calendar\": $office_utc, \"start\": \"2026-11-23T12:00:00Z\", \"end\": \"2026-11-23T11:00:00Z\"}"
  echo ''
  # An .ics calendar refused before any holiday is expanded: libical's own
  # state must survive the module's unload (valgrind and LSan would report
  # it lost and fail the exit status below).
  echo "{\"calendar\": {\"ics\": \"$src/tests/fixtures/ics/holidays.ics\", \"mon\": \"09:00-17:00\"}, \"start\": \"1700-01-01T00:00:00Z\", \"end\": \"2026-11-23T09:30:00Z\"}"
  echo "{\"calendar\": $office_utc, \"start\": \"2026-11-23T09:00:00Z\", \"end\": \"2026-11-23T09:30:00Z\"}"
} >"$tmp/bad.jsonl"
promptly due --batch "$tmp/bad.jsonl" >"$tmp/bad.out" 2>"$tmp/bad.err"
same "bad lines: exit status 2" "$?" 2
same "bad lines: the good ones are answered" "$(wc -l <"$tmp/bad.out")" 2
same "bad lines: last good line" "$(sed -n 2p "$tmp/bad.out" | sed 's/.*"elapsed_seconds": //')" '1800}'
err() { sed -n "${1}p" "$tmp/bad.err"; }
same "bad hours named" "$(err 1)" \
  "line 2: calendar: tue: '25:00-26:00': hour out of range"
same "unknown zone named" "$(err 2)" \
  "line 3: calendar: tz: unknown time zone 'Mars/Base'"
same "not json" "$(err 3 | cut -d: -f1-2)" "line 4: json"
same "missing start" "$(err 4)" "line 5: start: missing"
same "negative minutes" "$(err 5)" "line 6: minutes: must not be negative"
same "never due" "$(err 6)" \
  "line 7: minutes: never due (no opening within 100 years of start, or outside the years 1800..2900)"
same "invalid holiday date" "$(err 7)" \
  "line 8: calendar: holiday: '2026-02-30': no such date"
same "end before start" "$(err 8)" "line 9: end: before start"
same "span outside the calendar years" "$(err 9)" \
  "line 11: start..end: outside the years 1800..2900"
same "one message per bad line" "$(wc -l <"$tmp/bad.err")" 9

# --- One-off form -----------------------------------------------------------
cat >"$tmp/office.json" <<'EOF'
{"tz": "Europe/Berlin",
 "mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00",
 "thu": "09:00-17:00", "fri": "09:00-17:00",
 "holiday": ["2026-12-24..2026-12-26", "01-01"]}
EOF
# Fri 17:00 CET (16:00Z) + 240 minutes = Mon 13:00 CET = 12:00Z.
same "one-off friday example" \
  "$(promptly due "$tmp/office.json" 2026-11-20T16:00:00Z 240 2>&1)" \
  "2026-11-23T12:00:00Z"
# Thu 09:00 CET + 16 business hours = Mon 09:00 CET (a target used up at a
# close is due at the next opening).
same "one-off 16h from thursday" \
  "$(promptly due "$tmp/office.json" 2026-11-19T08:00:00Z 960 2>&1)" \
  "2026-11-23T08:00:00Z"
# An offset in START: 2026-11-20T17:00:00+01:00 is 16:00Z.
same "one-off start with an offset" \
  "$(promptly due "$tmp/office.json" 2026-11-20T17:00:00+01:00 240 2>&1)" \
  "2026-11-23T12:00:00Z"
promptly due "$tmp/office.json" yesterday 240 >/dev/null 2>"$tmp/once.err"
same "one-off bad start: exit 2" "$?" 2
same "one-off bad start: message" "$(cat "$tmp/once.err")" \
  "promptly due: START 'yesterday': expected an ISO 8601 instant"
echo '{"tz": "UTC"}' >"$tmp/closed.json"
promptly due "$tmp/closed.json" 2026-11-20T16:00:00Z 60 >/dev/null \
  2>"$tmp/never.err"
same "one-off never due: exit 2" "$?" 2
same "one-off never due: message" "$(cut -c1-27 "$tmp/never.err")" \
  "promptly due: never due (no"
promptly due "$tmp/office.json" 2026-11-20T16:00:00Z >/dev/null 2>&1
same "one-off missing argument: exit 2" "$?" 2

# --- Many lines, one calendar: compiled once (a loose speed check) ----------
for i in $(seq 1 2000); do
  echo "{\"calendar\": $office_berlin, \"start\": \"2026-11-20T16:00:00Z\", \"minutes\": $i}"
done >"$tmp/many.jsonl"
promptly due --batch "$tmp/many.jsonl" >"$tmp/many.out" 2>&1
same "many lines: exit 0" "$?" 0
# 2000 minutes = 33h20 of business: Mon-Thu 32h, then Fri 09:00 + 1h20.
same "many lines: last answer" "$(tail -n 1 "$tmp/many.out" | sed 's/.*"due": //')" \
  '"2026-11-27T09:20:00Z"}'

# --- Yearly .ics holidays to 2900, past libical's own horizon (2582) --------
# 24x7 in UTC, so a day is 86400 s unless it is a holiday of holidays.ics.
ics24() {  # START END: the business seconds between, on that calendar
  echo "{\"calendar\": {\"ics\": \"$src/tests/fixtures/ics/holidays.ics\", \"24x7\": true}, \"start\": \"$1\", \"end\": \"$2\"}" |
    promptly due --batch - | sed 's/.*"elapsed_seconds": //; s/}$//'
}
# Christmas and Boxing Day (FREQ=YEARLY from 2000-12-25, two days): of
# Dec 24-28, only the 24th and 27th count, in every year up to 2899.
for y in 2581 2583 2700 2899; do
  same "yearly .ics in $y: Dec 24-28 counts two days" \
    "$(ics24 "$y-12-24T00:00:00Z" "$y-12-28T00:00:00Z")" 172800
done
# New Year (BYMONTH=1;BYMONTHDAY=1, EXDATE 2027 only): off in 2899.
same "yearly .ics in 2899: New Year is off" \
  "$(ics24 2899-01-01T00:00:00Z 2899-01-02T00:00:00Z)" 0
# Memorial Day (last Monday of May).  2850 = 2050 + 2 x 400 years, the same
# calendar.  2026-05-25 is a Monday; 2026-05-25 to 2050-05-25 is 24 years
# with 6 leap days, 8766 days = 1252 weeks + 2 days: a Wednesday, so the
# last Monday of May 2050 (and 2850) is the 30th.
same "yearly .ics in 2850: Memorial Day May 30 is off" \
  "$(ics24 2850-05-30T00:00:00Z 2850-05-31T00:00:00Z)" 0
same "yearly .ics in 2850: the Sunday before counts" \
  "$(ics24 2850-05-29T00:00:00Z 2850-05-30T00:00:00Z)" 86400

# Monthly (monthly.ics: the first Monday of each month, from 2000-01-03).
# 2050-05-30 is a Monday (above), so 2050-06-06 is the first Monday of June,
# and so is 2850-06-06.
mon24() {
  echo "{\"calendar\": {\"ics\": \"$src/tests/fixtures/ics/monthly.ics\", \"24x7\": true}, \"start\": \"$1\", \"end\": \"$2\"}" |
    promptly due --batch - | sed 's/.*"elapsed_seconds": //; s/}$//'
}
same "monthly .ics in 2850: June 6 is off" \
  "$(mon24 2850-06-06T00:00:00Z 2850-06-07T00:00:00Z)" 0
same "monthly .ics in 2850: June 5 counts" \
  "$(mon24 2850-06-05T00:00:00Z 2850-06-06T00:00:00Z)" 86400

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
