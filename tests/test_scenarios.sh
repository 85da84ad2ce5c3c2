#!/bin/bash
# test_scenarios.sh - SLA scenarios end to end: the built CLI replays the
# event files of tests/fixtures/scenarios/<case>/ through the shipped rules
# ($PROMPTLY_RULES) in virtual time, and every line it prints is compared
# with expected.jsonl.  The expected lines were worked out by hand from
# the rules and the calendar conventions, not recorded: the reasoning for
# every due, threshold instant and key is in
# tests/fixtures/scenarios/README.md.  Then: replays are byte-identical,
# kill and restart with --record / --done fire nothing twice and lose
# nothing, and "promptly explain" tells the key lines of one scenario.
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP, if set, is a command that
# runs the CLI ("valgrind -q --error-exitcode=9").
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}"
: "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
sc="$PROMPTLY_SRCDIR/tests/fixtures/scenarios"
rules="$PROMPTLY_RULES"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_scenarios.XXXXXX")
killpid=
cleanup() {
  if [ -n "$killpid" ]; then
    kill -9 "$killpid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

# wait_for FILE PATTERN: until a line of FILE matches (at most 60 s, so a
# slow run under valgrind still passes, and a broken one fails).
wait_for() {
  local i
  for i in $(seq 600); do
    if grep -Eq "$2" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}


# scenario CASE UNTIL: replay CASE's events up to UNTIL; exit 0, nothing on
# stderr, exactly the expected lines; a second replay (from stdin) gives a
# byte-identical output.
scenario() {
  local name=$1 until=$2
  local d="$sc/$name"
  local rules="${3:-$rules}"
  # A case may bring its own rules (tests/fixtures/scenarios/<case>/rules)
  # or name a folder (a third argument).
  if [ -d "$d/rules" ]; then
    rules="$d/rules"
  fi
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

# --- The scenarios ----------------------------------------------------------

# Friday 17:00, P3 by default: 4 business hours from Monday 09:00, due
# Monday 13:00; warning 12:00, breach 13:00 (priority raised to P2),
# AdminCcs and managers at 15:00.  The other ticket is answered and resolved in time.
scenario friday-p3 2026-11-23T16:00:00Z

# 4 business hours used up at 17:00 sharp are due at the next opening,
# Tuesday 09:00: a reply at 08:30 is in time; the unanswered ticket
# breaches at 09:00, not at 17:00.
scenario closing-exact 2026-11-24T12:00:00Z

# "Production is down": P1, 30 minutes round the clock; 75%, 100% and
# 100% + 2h each exactly once, also when the replay runs a week longer.
scenario p1-keyword 2026-11-25T06:00:00Z
run_cli "$tmp/p1long.out" "$tmp/p1long.err" run --rules "$rules" \
  --events "$sc/p1-keyword/events.jsonl" --until 2026-12-02T06:00:00Z
check "p1-keyword: a week later still nothing more" same \
  "$sc/p1-keyword/expected.jsonl" "$tmp/p1long.out"
for k in 75% 100% 100%+2h; do
  check "p1-keyword: first_response $k notify exactly once" test \
    "$(keys "$tmp/p1long.out" | grep -cx "30:first_response:1:$k:notify")" \
    -eq 1
done

# An agent sets P4 ten minutes in: first response moves to 24 business
# hours keeping the 10 minutes used, resolution to best effort.
scenario p1-to-p4 2026-11-27T00:00:00Z

# Pending customer for two days and three hours: paused, reminders after
# 24 and 48 hours, customer wait 183600 s; the close after 7 days never
# comes; the resolution clock resumes with its 2 hours.
scenario pending-customer 2026-11-30T11:30:00Z

# Enterprise tier: its 1h / 4h beat P3's 4h / 24h; on a P2 ticket the
# first response ties (declared first wins: corporate) and the enterprise
# resolution is earlier; sla.policy says which.
scenario enterprise-tier 2026-11-23T16:30:00Z

# A security issue on a Saturday: one hour round the clock, while its
# resolution stays on business hours.
scenario security-weekend 2026-11-21T07:00:00Z

# Reopen: resolution resumes in cycle 1 with the 6 hours it had used.
scenario reopen 2026-11-26T14:00:00Z

# Tier changed by an update: enterprise targets from then on, the 30
# minutes already used kept.
scenario tier-change 2026-11-23T13:00:00Z

# Pending customer, never answered: two reminders, close after 7 days.
scenario auto-close 2026-12-07T00:00:00Z

# Issue 11, defect 4: a reply at the due instant itself is in time (events
# before deadlines); a second later it is breached.
scenario tie-reply-at-due 2026-11-23T16:00:00Z

# Issue 11, defect 2: a switch to a round-the-clock policy counts its time
# over the whole cycle (07:00-12:00 less the hold: 4h), and a clock past
# its new target at once is due when that target ran out (08:00).
scenario policy-switch 2026-11-23T15:00:00Z

# Issue 11, defect 3: the earliest due wins at every transition: after the
# hold the round-the-clock policy (Mon 21:00) beats business hours (Tue
# 10:00).
scenario earliest-wins 2026-11-23T22:00:00Z

# Issue 11, defect 1: a breach stays a fact (breached_at) when the target
# moves out, and the next breach, against the new target, notifies again
# under a new target generation (key cycle "1.2").
scenario breach-is-a-fact 2026-11-24T10:00:00Z

# Issue 11, defect 9: ladder steps count per ticket: first response and
# resolution both reach 25% and 50%, the priority goes up two levels.
scenario ladder-per-ticket 2026-11-23T13:30:00Z

# Issue 11, defect 5: the shipped OLA example starts and resumes its metric
# on the same status: the clock starts, pauses for the vendor, resumes.
scenario ola-start-resume 2026-11-23T12:00:00Z \
  "$PROMPTLY_SRCDIR/examples/policies/ola"

# The events of the restart tests below, in one uninterrupted run.
scenario restart 2026-11-26T17:00:00Z

# Issue 11, defect 8: a merge needs a valid "into" (missing, itself, unknown:
# each refused by line, nothing changes); a merged or deleted ticket gets
# its final write (sla.status stopped, no dues), its cycles end stopped,
# and a later event for it is refused by name.
md="$sc/merge-delete"
run_cli "$tmp/md.out" "$tmp/md.err" run --rules "$rules" \
  --events "$md/events.jsonl" --until 2026-11-23T11:30:00Z \
  --records "$tmp/md.rec"
check "merge-delete: refused lines make the exit status 2" test "$rc" -eq 2
check "merge-delete: the expected writes" same "$md/expected.jsonl" \
  "$tmp/md.out"
check "merge-delete: each refusal named by line" same "$md/expected.err" \
  "$tmp/md.err"
check "merge-delete: four cycles ended stopped (tickets 400 and 402)" test \
  "$(grep -cE '"ticket": 40[02], .*"outcome": "stopped"' "$tmp/md.rec")" -eq 4
run_cli "$tmp/md-explain.out" "$tmp/md-explain.err" explain --rules \
  "$rules" --events "$md/events.jsonl" --ticket 400 \
  --at 2026-11-23T11:30:00Z
check "merge-delete: explain tells the merged ticket's story to its end" \
  grep -qxF "2026-11-23T11:30:00Z  as of 2026-11-23T11:30:00Z: merged into \
ticket 401 at 2026-11-23T10:00:00Z; its clocks stopped (sla.status stopped)" \
  "$tmp/md-explain.out"
check "merge-delete: explain shows the merge itself" grep -qF \
  "2026-11-23T10:00:00Z  merged into ticket 401: its clocks stop" \
  "$tmp/md-explain.out"

# Issue 11, defect 7: a failing `when` is reported as file:line with the
# ticket and the event's line; the ticket falls through to the next rule
# (P2 here, not no priority at all), and the run fails (exit 1).
wf="$sc/when-falls-through"
run_cli "$tmp/wf.out" "$tmp/wf.err" run --rules "$wf/rules" \
  --events "$wf/events.jsonl" --until 2026-11-23T10:00:00Z
check "when-falls-through: a rule error fails the run" test "$rc" -eq 1
check "when-falls-through: the next rule decides (P2)" same \
  "$wf/expected.jsonl" "$tmp/wf.out"
check "when-falls-through: reported as file:line, ticket and event line" \
  grep -qF "promptly: error: 10-rules.lua:5: attempt to index a nil value \
(field 'customer') (ticket 700, line 2); the rule does not match" \
  "$tmp/wf.err"

# Issue 11: a reload that changes the ladder (reload-ladder).  The events
# come through a FIFO, the rules folder is a symbolic link: to rules/ until
# the run has loaded it (its first write is out), then to rules-2/, which
# the reload line at 12:30 reads.  Each first-response record lists
# exactly the keys handed out, of every target generation, also those of
# the steps the reload removed or changed.
rl="$sc/reload-ladder"
grep -v '^#' "$rl/events.jsonl" >"$tmp/rl.events"
rl_at=$(grep -n '"reload": true' "$tmp/rl.events" | cut -d: -f1)
rl_wait='"ticket": 700, "write"'  # the run has loaded rules/
# reload_run OUT ERR N ARGS...: run the case $rl on the first N event lines
# of $tmp/rl.events (0: all), the reload line at line $rl_at.
reload_run() {
  local out=$1 err=$2 n=$3 pid
  shift 3
  [ "$n" -gt 0 ] || n=$(wc -l <"$tmp/rl.events")
  ln -sfn "$rl/rules" "$tmp/rl-rules"
  rm -f "$tmp/rl-fifo"
  mkfifo "$tmp/rl-fifo"
  ${PROMPTLY_WRAP:-} "$PROMPTLY_BIN" run --rules "$tmp/rl-rules" \
    --events "$tmp/rl-fifo" "$@" >"$out" 2>"$err" &
  pid=$!
  killpid=$pid
  exec 4>"$tmp/rl-fifo"
  head -n "$((n < rl_at ? n : rl_at - 1))" "$tmp/rl.events" >&4
  if [ "$n" -ge "$rl_at" ]; then
    wait_for "$out" "$rl_wait" || true
    ln -sfn "$rl/rules-2" "$tmp/rl-rules"
    sed -n "${rl_at},${n}p" "$tmp/rl.events" >&4
  fi
  exec 4>&-
  rc=0
  wait "$pid" || rc=$?
  killpid=
}
rl_keys() {  # the first-response records' keys: "ticket metric cycle keys..."
  jq -r 'select(.metric == "first_response") |
         "\(.ticket) \(.metric) \(.cycle) \(.keys | join(" "))"' "$1"
}
rl_until=2026-11-23T14:00:00Z
reload_run "$tmp/rl.out" "$tmp/rl.err" 0 --until "$rl_until" \
  --records "$tmp/rl.rec"
check "reload-ladder: exits 0" test "$rc" -eq 0
check "reload-ladder: nothing on stderr" same /dev/null "$tmp/rl.err"
check "reload-ladder: the expected writes and actions" same \
  "$rl/expected.jsonl" "$tmp/rl.out"
check "reload-ladder: each record lists the keys handed out" same \
  "$rl/record-keys.txt" <(rl_keys "$tmp/rl.rec")
check "reload-ladder: the records' keys are the printed ones, each once" same \
  <(keys "$tmp/rl.out" | sort) <(jq -r '.keys[]' "$tmp/rl.rec" | sort)
reload_run "$tmp/rl2.out" "$tmp/rl2.err" 0 --until "$rl_until" \
  --records "$tmp/rl2.rec"
check "reload-ladder: a second replay gives the same output and records" \
  cmp <(cat "$tmp/rl.out" "$tmp/rl.rec") <(cat "$tmp/rl2.out" "$tmp/rl2.rec")
# A stop just before the reload, then a restart that replays it all
# (--done / --record on one file): nothing twice, nothing lost, and the
# same records as one run.
rlk="$tmp/rl.keys"
: >"$rlk"
reload_run "$tmp/rlA.out" "$tmp/rlA.err" "$((rl_at - 1))" --done "$rlk" \
  --record "$rlk"
check "reload-ladder restart: run A exits 0" test "$rc" -eq 0
reload_run "$tmp/rlB.out" "$tmp/rlB.err" 0 --until "$rl_until" \
  --done "$rlk" --record "$rlk" --records "$tmp/rlB.rec"
check "reload-ladder restart: run B exits 0" test "$rc" -eq 0
check "reload-ladder restart: A and B both printed actions" test \
  "$(keys "$tmp/rlA.out" | wc -l)" -gt 0 -a "$(keys "$tmp/rlB.out" | wc -l)" -gt 0
check "reload-ladder restart: the actions of A and B are those of one run" \
  same <(actions "$rl/expected.jsonl") <(actions "$tmp/rlA.out" "$tmp/rlB.out")
check "reload-ladder restart: the key file lists every key once, in order" \
  same <(keys "$rl/expected.jsonl") "$rlk"
check "reload-ladder restart: run B writes the records of one run" same \
  "$tmp/rl.rec" "$tmp/rlB.rec"
# The reload line: only "at" and "reload": true, only in virtual time.
printf '%s\n' '{"at": "2026-11-23T09:00:00Z", "reload": false}' \
  '{"at": "2026-11-23T09:00:00Z", "reload": true, "ticket": 1}' \
  >"$tmp/rlbad.events"
run_cli "$tmp/rlbad.out" "$tmp/rlbad.err" run --rules "$rl/rules" \
  --events "$tmp/rlbad.events"
check "reload line: bad ones make the exit status 2" test "$rc" -eq 2
printf '%s\n' "promptly: line 1: reload: must be true" \
  "promptly: line 2: unknown key 'ticket' (a reload line has at and reload)" \
  >"$tmp/rlbad.want"
check "reload line: each refusal named" same "$tmp/rlbad.want" "$tmp/rlbad.err"
check "reload line: nothing printed" same /dev/null "$tmp/rlbad.out"
printf '%s\n' '{"at": "2026-11-23T09:00:00Z", "reload": true}' \
  >"$tmp/rllive.events"
run_cli "$tmp/rllive.out" "$tmp/rllive.err" run --live --rules "$rl/rules" \
  --events "$tmp/rllive.events"
check "reload line with --live: refused" grep -qF \
  'reload: only in virtual time' "$tmp/rllive.err"

# Issue 11: the steps that changed the priority are remembered by step, not
# by position in the ladder (reload-raise): a reload that puts a 50% raise
# in front of the 75% one that raised already neither raises again for 75%
# (when the resolution reaches it) nor skips the new 50% step, passed
# before the reload, which fires at the reload.
rl="$sc/reload-raise"
grep -v '^#' "$rl/events.jsonl" >"$tmp/rl.events"
rl_at=$(grep -n '"reload": true' "$tmp/rl.events" | cut -d: -f1)
rl_wait='"ticket": 800, "write"'
reload_run "$tmp/rr.out" "$tmp/rr.err" 0 --until 2026-11-23T15:30:00Z
check "reload-raise: exits 0" test "$rc" -eq 0
check "reload-raise: nothing on stderr" same /dev/null "$tmp/rr.err"
check "reload-raise: the expected writes and actions" same \
  "$rl/expected.jsonl" "$tmp/rr.out"
reload_run "$tmp/rr2.out" "$tmp/rr2.err" 0 --until 2026-11-23T15:30:00Z
check "reload-raise: a second replay gives the same output" \
  cmp "$tmp/rr.out" "$tmp/rr2.out"
# Stopped before the reload, then restarted on it all (--done / --record):
# the priority raised at 12:00 is not raised again, nothing fires twice.
rrk="$tmp/rr.keys"
: >"$rrk"
reload_run "$tmp/rrA.out" "$tmp/rrA.err" "$((rl_at - 1))" --done "$rrk" \
  --record "$rrk" --until 2026-11-23T12:15:00Z
check "reload-raise restart: run A exits 0" test "$rc" -eq 0
reload_run "$tmp/rrB.out" "$tmp/rrB.err" 0 --until 2026-11-23T15:30:00Z \
  --done "$rrk" --record "$rrk"
check "reload-raise restart: run B exits 0" test "$rc" -eq 0
check "reload-raise restart: the actions of A and B are those of one run" \
  same <(actions "$rl/expected.jsonl") <(actions "$tmp/rrA.out" "$tmp/rrB.out")
check "reload-raise restart: the key file lists every key once, in order" \
  same <(keys "$rl/expected.jsonl") "$rrk"
check "reload-raise restart: run B writes the priorities of one run" same \
  <(jq -c 'select(.write.priority) | [.at, .write.priority]' \
    "$rl/expected.jsonl") \
  <(jq -c 'select(.write.priority) | [.at, .write.priority]' "$tmp/rrB.out")

# --- Outcome records (--records) ---------------------------------------------

# records CASE UNTIL: the records file equals <case>/records.jsonl (worked
# out by hand, README "Outcome records"), and a second replay writes the
# same bytes.
records() {
  local name=$1 until=$2
  local d="$sc/$name" rules="$rules"
  if [ -d "$d/rules" ]; then
    rules="$d/rules"
  fi
  run_cli "$tmp/$name.rout" "$tmp/$name.rerr" run --rules "$rules" \
    --events "$d/events.jsonl" --until "$until" --records "$tmp/$name.rec"
  check "$name --records: exits 0" test "$rc" -eq 0
  check "$name --records: the output is that of a plain run" same \
    "$d/expected.jsonl" "$tmp/$name.rout"
  check "$name --records: the expected records" same "$d/records.jsonl" \
    "$tmp/$name.rec"
  run_cli "$tmp/$name.rout2" "$tmp/$name.rerr2" run --rules "$rules" \
    --events "$d/events.jsonl" --until "$until" --records "$tmp/$name.rec2"
  check "$name --records: a replay writes the same records" cmp \
    "$tmp/$name.rec" "$tmp/$name.rec2"
}
records tie-reply-at-due 2026-11-23T16:00:00Z
records policy-switch 2026-11-23T15:00:00Z

# p1-to-p4: the agent's P4 at 10:10 leaves the resolution without a target
# (P4 is best effort): its cycle ends cancelled after 10 minutes of 24x7.
run_cli "$tmp/p14.out" "$tmp/p14.err" run --rules "$rules" \
  --events "$sc/p1-to-p4/events.jsonl" --until 2026-11-27T00:00:00Z \
  --records "$tmp/p14.rec"
check "p1-to-p4 --records: the resolution is cancelled at 10:10" grep -qxF \
  '{"ticket": 40, "metric": "resolution", "cycle": 1, "policy": null, "calendar": null, "priority_start": "P1", "priority_end": "P4", "target_ms": null, "started": "2026-11-23T10:00:00Z", "stopped": "2026-11-23T10:10:00Z", "due": null, "outcome": "cancelled", "breached_at": null, "breach_policy": null, "breach_target_ms": null, "elapsed_ms": 600000, "paused_ms": 0, "customer_wait_ms": 0, "outside_ms": 0, "attrs": {"status": "new"}, "exceptions": [], "keys": []}' \
  "$tmp/p14.rec"

run_cli "$tmp/recbad.out" "$tmp/recbad.err" run --rules "$rules" \
  --events "$sc/friday-p3/events.jsonl" --records "$tmp/no-dir/records"
check "--records in a missing folder exits 1" test "$rc" -eq 1
check "--records in a missing folder: named" grep -q "$tmp/no-dir/records" \
  "$tmp/recbad.err"

# --- The host's dedupe: --done ----------------------------------------------

# A key listed in --done is not printed; everything else is.  The raise of
# priority it stands for still happened (the write at 13:00 says P2).
echo '2:first_response:1:100%:raise_priority' >"$tmp/done1"
run_cli "$tmp/done1.out" "$tmp/done1.err" run --rules "$rules" \
  --events "$sc/friday-p3/events.jsonl" --until 2026-11-23T16:00:00Z \
  --done "$tmp/done1"
check "--done: exits 0" test "$rc" -eq 0
grep -vF '"key": "2:first_response:1:100%:raise_priority"' \
  "$sc/friday-p3/expected.jsonl" >"$tmp/done1.expected"
check "--done: only the listed action left out" same "$tmp/done1.expected" \
  "$tmp/done1.out"
check "--done: the priority still raised" grep -q \
  '"at": "2026-11-23T13:00:00Z", "ticket": 2, "write": {"priority": "P2"' \
  "$tmp/done1.out"

run_cli "$tmp/done2.out" "$tmp/done2.err" run --rules "$rules" \
  --events "$sc/friday-p3/events.jsonl" --done "$tmp/no-such-keys"
check "--done with a missing file exits 1" test "$rc" -eq 1
check "--done with a missing file: named" grep -q "$tmp/no-such-keys" \
  "$tmp/done2.err"
check "--done with a missing file: nothing run" same /dev/null \
  "$tmp/done2.out"

run_cli "$tmp/rec1.out" "$tmp/rec1.err" run --rules "$rules" \
  --events "$sc/friday-p3/events.jsonl" --record "$tmp/no-dir/keys"
check "--record in a missing folder exits 1" test "$rc" -eq 1
check "--record in a missing folder: named" grep -q "$tmp/no-dir/keys" \
  "$tmp/rec1.err"

# A record that cannot be written: no action is carried out after that
# one (the module names each key not done), and the run fails.
if [ -w /dev/full ]; then
  run_cli "$tmp/full.out" "$tmp/full.err" run --rules "$rules" \
    --events "$sc/friday-p3/events.jsonl" --until 2026-11-23T16:00:00Z \
    --record /dev/full
  check "--record on a full disk exits 1" test "$rc" -eq 1
  check "--record on a full disk: says so" grep -q \
    '^promptly: error: --record /dev/full: ' "$tmp/full.err"
  check "--record on a full disk: no action after the first" same \
    <(actions "$sc/friday-p3/expected.jsonl" | head -n 1) \
    <(actions "$tmp/full.out")
  check "--record on a full disk: the 3 actions not done are named" test \
    "$(grep -c "^promptly: warning: ticket 2: .*, key 2:first_response:1:" \
       "$tmp/full.err")" -eq 3
fi

run_cli "$tmp/help.out" "$tmp/help.err" run --help
check "run --help names --done and --record" test \
  "$(grep -cE -- '--done FILE|--record FILE' "$tmp/help.out")" -ge 2

# --- Kill and restart ---------------------------------------------------------

# Run A reads the events from a FIFO with --record and is killed (SIGKILL)
# once it has handled the first three; run B replays the first eight with
# --done and --record on the same file (a stop after an orderly end);
# run C replays them all.  Nothing may be printed twice, nothing lost: the
# actions of A, B and C in a row are those of the uninterrupted run, and a
# host that applied every write of the three shows the same fields.
grep -v '^#' "$sc/restart/events.jsonl" >"$tmp/restart.events"
keysf="$tmp/restart.keys"
mkfifo "$tmp/fifo"
# Read-write, so that opening it does not wait for the reader.
exec 3<>"$tmp/fifo"
${PROMPTLY_WRAP:-} "$PROMPTLY_BIN" run --rules "$rules" \
  --events "$tmp/fifo" --done "$keysf" --record "$keysf" \
  >"$tmp/A.out" 2>"$tmp/A.err" &
killpid=$!
head -n 3 "$tmp/restart.events" >&3
# Its last output line before the fourth event (which never comes).
wait_for "$tmp/A.out" \
  '^\{"at": "2026-11-24T22:30:00Z", "ticket": 200, "write"' || true
kill -9 "$killpid" 2>/dev/null || true
rc=0
wait "$killpid" 2>/dev/null || rc=$?
killpid=
exec 3>&-
check "restart: run A was killed" test "$rc" -eq 137
check "restart: run A printed actions" test "$(keys "$tmp/A.out" | wc -l)" \
  -gt 0
check "restart: run A recorded each key it printed, in order" same \
  <(keys "$tmp/A.out") "$keysf"

head -n 8 "$tmp/restart.events" >"$tmp/restart.part"
run_cli "$tmp/B.out" "$tmp/B.err" run --rules "$rules" \
  --events "$tmp/restart.part" --done "$keysf" --record "$keysf"
check "restart: run B exits 0" test "$rc" -eq 0
check "restart: run B printed new actions" test \
  "$(keys "$tmp/B.out" | wc -l)" -gt 0
run_cli "$tmp/C.out" "$tmp/C.err" run --rules "$rules" \
  --events "$tmp/restart.events" --until 2026-11-26T17:00:00Z \
  --done "$keysf" --record "$keysf" --records "$tmp/C.rec"
check "restart: run C exits 0" test "$rc" -eq 0
check "restart: run C printed new actions" test \
  "$(keys "$tmp/C.out" | wc -l)" -gt 0
check "restart: no key printed twice" same /dev/null \
  <(keys "$tmp/A.out" "$tmp/B.out" "$tmp/C.out" | sort | uniq -d)
check "restart: the actions of A, B, C are those of one run" same \
  <(actions "$sc/restart/expected.jsonl") \
  <(actions "$tmp/A.out" "$tmp/B.out" "$tmp/C.out")
check "restart: the record lists every key once, in order" same \
  <(keys "$sc/restart/expected.jsonl") "$keysf"
check "restart: run C writes what one run writes" same \
  <(writes "$sc/restart/expected.jsonl") <(writes "$tmp/C.out")
check "restart: the host ends with the same fields" same \
  <(fields "$sc/restart/expected.jsonl") \
  <(fields "$tmp/A.out" "$tmp/B.out" "$tmp/C.out")
run_cli "$tmp/one.out" "$tmp/one.err" run --rules "$rules" \
  --events "$tmp/restart.events" --until 2026-11-26T17:00:00Z \
  --records "$tmp/one.rec"
check "restart: run C writes the records of one run (none lost or twice)" \
  same "$tmp/one.rec" "$tmp/C.rec"
check "restart: the records are not empty" test \
  "$(wc -l <"$tmp/one.rec")" -ge 4
check "restart: the fields are not empty" test \
  "$(fields "$sc/restart/expected.jsonl" | wc -l)" -ge 20

# --- promptly explain -----------------------------------------------------------

# p1-to-p4 as of Wednesday 12:10: the agent's P4, both policies matched,
# the 75% warning at 12:00 with its key, and the first response clock:
# 10 minutes + Mon 6h50m + Tue 8h + Wed 3h10m = 18h10m of 24h, due
# Thursday 10:00 (see the README).  The reply at 12:30 has not happened.
run_cli "$tmp/explain.out" "$tmp/explain.err" explain --rules "$rules" \
  --events "$sc/p1-to-p4/events.jsonl" --ticket 40 \
  --at 2026-11-25T12:10:00Z
check "explain: exits 0" test "$rc" -eq 0
check "explain: nothing on stderr" same /dev/null "$tmp/explain.err"
at='2026-11-25T12:10:00Z  '
while IFS= read -r line; do
  check "explain: '${line:0:60}...'" grep -qxF -- "$line" "$tmp/explain.out"
done <<EOF
2026-11-23T10:10:00Z  priority set to P4 by an agent
2026-11-25T12:00:00Z  first_response 75% reached (cycle 1): notify (to=Owner, SLA Team Leads), key 40:first_response:1:75%:notify
${at}as of 2026-11-25T12:10:00Z: priority P4 (set by an agent), status new
${at}policies matched: corporate-p1, corporate
${at}first_response: running (cycle 1, business time, policy corporate): 18h10m of 24h elapsed, 5h50m remaining, due 2026-11-26T10:00:00Z
${at}resolution: no target (best effort)
${at}sla.status = at_risk
${at}sla.escalation = 1
${at}sla.customer_wait = 0
EOF
check "explain: nothing after --at" same /dev/null \
  <(grep -E '^2026-11-25T12:(1[1-9]|[2-5][0-9])|^2026-11-2[6-9]' \
    "$tmp/explain.out")

# tie-reply-at-due ticket 131 as of Monday 14:00: created 09:00, P3 under
# corporate (4 business hours of first response: due 13:00), answered at
# 13:00:01, one second after its breach.  The clock ended; it is not
# "breached ... over" counting on.  Ticket 130, answered at 13:00 sharp,
# was met in time: 4h of 4h.
run_cli "$tmp/explain-late.out" "$tmp/explain-late.err" explain --rules \
  "$rules" --events "$sc/tie-reply-at-due/events.jsonl" --ticket 131 \
  --at 2026-11-23T14:00:00Z
check "explain: a late answer exits 0" test "$rc" -eq 0
check "explain: a late answer says the clock ended late" grep -qxF \
  "2026-11-23T14:00:00Z  first_response: met late at 2026-11-23T13:00:01Z, 1s over its 4h (cycle 1, business time, policy corporate)" \
  "$tmp/explain-late.out"
check "explain: a late answer is not shown as a running breach" same \
  /dev/null <(grep -E '^2026-11-23T14:00:00Z  first_response: breached' \
    "$tmp/explain-late.out")
run_cli "$tmp/explain-ontime.out" "$tmp/explain-ontime.err" explain --rules \
  "$rules" --events "$sc/tie-reply-at-due/events.jsonl" --ticket 130 \
  --at 2026-11-23T14:00:00Z
check "explain: an answer at the due is met in time" grep -qxF \
  "2026-11-23T14:00:00Z  first_response: met after 4h of 4h (business time, policy corporate)" \
  "$tmp/explain-ontime.out"

# A bad --at is named as such (not as run's --until), and nothing runs.
run_cli "$tmp/explain-bad.out" "$tmp/explain-bad.err" explain --rules \
  "$rules" --events "$sc/p1-to-p4/events.jsonl" --ticket 40 --at 'Wednesday'
check "explain: a bad --at exits 2" test "$rc" -eq 2
check "explain: a bad --at is named" grep -qxF \
  "promptly explain: --at: 'Wednesday' is not an ISO 8601 instant" \
  "$tmp/explain-bad.err"
check "explain: a bad --at prints nothing" same /dev/null "$tmp/explain-bad.out"

echo "1..$count"
echo "$((count - failed)) passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  exit 1
fi
