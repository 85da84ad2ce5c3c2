#!/bin/bash
# backends.sh - rt-promptly on RT 5 with PostgreSQL and MariaDB, where
# transactions commit out of id order (issue 17).
#
# Usage: tests/e2e/backends.sh [pg] [mysql]     (as root; default: both)
#
# Each backend gets a fresh RT on a database server the test starts on
# 127.0.0.1 (rt-e2e-lib.sh, E2E_DB=pg|mysql), rt-server with
# $E2E_RT_WORKERS [4] workers, the real module and daemon.  Checks, per
# backend:
#   - 8 parallel clients create 400 tickets ($E2E_LOAD_TICKETS): every one
#     gets its SLA fields and its priority;
#   - a ticket created in a transaction held open (RT's Perl API) while
#     others are created and committed: the others get theirs meanwhile, it
#     gets its own after its commit;
#   - a reply held open past the first response due, then committed: no
#     breach action, the first response is met; a control ticket without a
#     reply breaches only once the held transaction is known (the clock
#     waited for it);
#   - the database stopped for $E2E_DB_DOWN [30] s under load: nothing
#     lost (every ticket RT has gets its fields), nothing twice (no field
#     rewritten, no action key twice), rt-promptly going on within 2 s of
#     the database's return;
#   - SIGKILL of rt-promptly under load: the same;
#   - SIGKILL after a breach, restarted while a reply is held open (its
#     clock starts behind the breach it wrote): nothing set back;
#   - two daemons: the second waits as a standby while the first holds the
#     database lock, and takes over when the first is killed.
#
# Environment: as run-rt-e2e.sh (E2E_PORT [8093], PROMPTLY_SO, ...), plus
# E2E_DB_PORT [E2E_PORT + 5], E2E_LOAD_TICKETS, E2E_DB_DOWN, E2E_RT_WORKERS.
#
# Output: PASS/FAIL lines, per backend "N passed, N failed", then the
# total "N passed, N failed"; exit 1 on any failure.  Failures name what
# failed outside the daemon (PostgreSQL did not start, RT refused ...).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Several backends: one child run each, then the total.
if [[ -z "${E2E_BACKENDS_CHILD:-}" ]]; then
  [[ $# -gt 0 ]] || set -- pg mysql
  TP=0 TF=0 T0=$SECONDS
  for b in "$@"; do
    case $b in pg|mysql) ;; *) echo "backends.sh: unknown backend '$b' (pg, mysql)" >&2; exit 2 ;; esac
    echo "== backend $b"
    OUT=$(mktemp)
    E2E_BACKENDS_CHILD=1 E2E_DB=$b "$HERE/backends.sh" 2>&1 | tee "$OUT" || true
    LINE=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT" | tail -1)
    if [[ -n "$LINE" ]]; then
      TP=$((TP + ${LINE%% *}))
      F=${LINE#*, }; TF=$((TF + ${F%% *}))
    else
      echo "FAIL: backend $b: the run ended without a summary"
      TF=$((TF + 1))
    fi
    rm -f "$OUT"
  done
  echo "== backends $* in $((SECONDS - T0)) s"
  echo "$TP passed, $TF failed"
  [[ $TF -eq 0 ]]
  exit
fi

PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS: [%s] %s\n' "$E2E_DB" "$*"; }
fail() { FAILED=$((FAILED + 1)); E2E_FAILED=$FAILED; printf 'FAIL: [%s] %s\n' "$E2E_DB" "$*"; }
SUMMARY_DONE=0
e2e_on_exit() {
  [[ $SUMMARY_DONE == 1 ]] && return 0
  fail "aborted with status $1 (see the output above)"
  echo "$PASSED passed, $FAILED failed"
  return 1
}

export RT_WORKERS=${E2E_RT_WORKERS:-4}
E2E_LOG_LEVEL=${E2E_LOG_LEVEL:-info}
LOAD=${E2E_LOAD_TICKETS:-400}
DOWN=${E2E_DB_DOWN:-30}

# shellcheck source=rt-e2e-lib.sh
. "$HERE/rt-e2e-lib.sh"
trap e2e_cleanup EXIT

e2e_prepare
e2e_start_rt
cp "$E2E_DIR"/rules/*.lua "$E2E_DIR"/rules-backends/*.lua "$RULES"/
start_daemon
wait_for 60 replays_at_least 1 || { tail -20 "$DLOG"; die "rt-promptly did not start"; }
note "rt-promptly up (pid $DAEMON_PID), rt-server with $RT_WORKERS workers"

# A change held open in one database transaction through RT's Perl API.
hold() {  # hold OUTFILE create SUBJECT SECONDS GO | hold OUTFILE reply - SECONDS GO
  local out=$1; shift
  PROMPTLY_RT_DB=$DB PROMPTLY_RT_PORT=$E2E_PORT perl -I"$RT_LIB" \
    "$E2E_DIR/rt-hold.pl" "$@" >"$out" 2>>"$WORK/hold.log" &
}

# Clients creating tickets: load_client NAME N COUNT (COUNT 0: until
# $WORK/stop.NAME exists).  The ids RT answered go to $WORK/load.NAME.N.
load_client() {
  local name=$1 n=$2 count=$3 i=0 id
  while :; do
    i=$((i + 1))
    [[ $count -gt 0 && $i -gt $count ]] && break
    [[ $count -eq 0 && -f "$WORK/stop.$name" ]] && break
    id=$(create_ticket "load $name client $n ticket $i" "load test" 2>/dev/null) || id=
    if [[ -n "$id" ]]; then echo "$id" >>"$WORK/load.$name.$n"
    else sleep 0.5; fi
  done
}
load_ids() { cat "$WORK"/load."$1".* 2>/dev/null | sort -n; }
# Of the ids in $WORK/ids.NAME: those RT has, and those with their
# priority written and an SLA Status.
in_list() { paste -sd, "$WORK/ids.$1"; }
count_existing() { sql "SELECT COUNT(*) FROM Tickets WHERE id IN ($(in_list "$1"))"; }
count_done() {
  sql "SELECT COUNT(*) FROM Tickets t WHERE t.id IN ($(in_list "$1"))
         AND t.Priority IN (25, 50, 75, 100)
         AND EXISTS (SELECT 1 FROM ObjectCustomFieldValues v
                       JOIN CustomFields cf ON cf.id = v.CustomField
                      WHERE v.ObjectType = 'RT::Ticket' AND v.ObjectId = t.id
                        AND v.Disabled = 0 AND cf.Name = 'SLA Status')"
}
missing() {
  sql "SELECT t.id FROM Tickets t WHERE t.id IN ($(in_list "$1"))
         AND NOT (t.Priority IN (25, 50, 75, 100)
         AND EXISTS (SELECT 1 FROM ObjectCustomFieldValues v
                       JOIN CustomFields cf ON cf.id = v.CustomField
                      WHERE v.ObjectType = 'RT::Ticket' AND v.ObjectId = t.id
                        AND v.Disabled = 0 AND cf.Name = 'SLA Status'))
        ORDER BY t.id" | head -20 | tr '\n' ' '
}
all_done() { [[ "$(count_done "$1")" == "$EXISTING" ]]; }
keys_of() {
  sql "SELECT Description FROM Attributes WHERE ObjectType = 'RT::Ticket'
       AND ObjectId = $1 AND Name = 'promptly-action' ORDER BY id"
}
# The whole check of a load: every ticket RT has got its fields, nothing
# was done twice since the mark $MARK (write_mark).
check_load() {  # check_load NAME WHAT
  load_ids "$1" >"$WORK/ids.$1"
  local told existing
  told=$(grep -c . "$WORK/ids.$1" || true)
  if [[ $told -eq 0 ]]; then fail "$2: RT created no ticket (see $WORK/rest errors above)"; return; fi
  EXISTING=$(count_existing "$1")
  if wait_for 120 all_done "$1"; then
    pass "$2: all $EXISTING tickets RT has got their SLA fields and priority (${WAITED}s after the last create; RT answered $told creates$([[ $told != "$EXISTING" ]] && echo ", $((told - EXISTING)) of them not in its database: RT's commit failed"))"
  else
    fail "$2: $(count_done "$1") of $EXISTING tickets have their fields and priority after 120 s; missing e.g. $(missing "$1")"
  fi
  local rew dup
  rew=$(rewrites_since "$MARK"); dup=$(duplicate_keys)
  if [[ -z "$rew" && -z "$dup" ]]; then
    pass "$2: nothing done twice (no field rewritten with its value, no action key twice)"
  else
    fail "$2: work done twice: rewrites $(head -5 <<<"$rew" | tr '\n' ' '); duplicate keys $(head -5 <<<"$dup" | tr '\n' ' ')"
  fi
}

# --- 1. 8 parallel clients, $LOAD tickets ------------------------------------

MARK=$(write_mark)
T1=$SECONDS
PIDS=()
for c in 1 2 3 4 5 6 7 8; do
  load_client burst "$c" $(((LOAD + 7) / 8)) &
  PIDS+=($!)
done
wait "${PIDS[@]}"
note "8 clients created $(load_ids burst | grep -c .) tickets in $((SECONDS - T1)) s"
check_load burst "8 parallel clients"

# --- 2. A ticket held open while others commit -------------------------------

# RT's Perl API takes seconds to load on a busy machine: the change starts
# when the file "go" appears, after "ready".
ready() { grep -q '^ready$' "$1" 2>/dev/null; }
hold "$WORK/hold-create.out" create "Production is down (created in a held transaction)" 20 "$WORK/go.create"
HOLD_PID=$!
wait_for 180 ready "$WORK/hold-create.out" || true
echo go >"$WORK/go.create"
held_id() { grep -qE '^[0-9]+$' "$WORK/hold-create.out" 2>/dev/null; }
if wait_for 30 held_id; then
  HID=$(grep -E '^[0-9]+$' "$WORK/hold-create.out" | head -1)
  OK_OTHERS=0
  for i in 1 2 3; do
    O=$(create_ticket "Outage $i while a transaction is held" "created meanwhile") || O=
    [[ -n "$O" ]] && wait_for 5 priority_is "$O" 100 && OK_OTHERS=$((OK_OTHERS + 1))
  done
  still_open=0; grep -q committed "$WORK/hold-create.out" || still_open=1
  wait "$HOLD_PID" || true
  if grep -q committed "$WORK/hold-create.out" && wait_for 5 priority_is "$HID" 100; then
    pass "#$HID created in a transaction held open 20 s: P1 ${WAITED}s after its commit; meanwhile $OK_OTHERS of 3 later tickets got theirs$([[ $still_open == 1 ]] && echo ' before it committed')"
  else
    fail "#$HID held open: Priority '$(priority_of "$HID" 2>/dev/null)' after its commit, want 100 ($(tail -2 "$WORK/hold.log" | tr '\n' ' '))"
  fi
  [[ $OK_OTHERS == 3 && $still_open == 1 ]] ||
    fail "while #$HID was held open, $OK_OTHERS of 3 other tickets got their priority within 5 s"
else
  fail "RT's Perl API did not create a ticket in a held transaction: $(tail -3 "$WORK/hold.log" | tr '\n' ' ')"
fi

# --- 3. A reply held open past the due ------------------------------------------

hold "$WORK/hold-reply.out" reply - 12 "$WORK/go.reply"
HOLD_PID=$!
wait_for 180 ready "$WORK/hold-reply.out" || true
TR=$(create_ticket "shortclock: the reply is held open" "10 s first response")
TC=$(create_ticket "shortclock: control, nobody replies" "10 s first response")
T_CREATED=$(date +%s.%N)
tr_due() { [[ -n "$(cf_of "$TR" "SLA First Response Due")" && -n "$(cf_of "$TC" "SLA First Response Due")" ]]; }
wait_for 10 tr_due || true
sleep 1
echo "$TR" >"$WORK/go.reply"
replied() { grep -q replied "$WORK/hold-reply.out" 2>/dev/null; }
if wait_for 10 replied; then
  # Past the 10 s due, before the commit: the control ticket must wait,
  # since a transaction from before its due is not visible yet.
  sleep "$(echo "$T_CREATED + 12.5 - $(date +%s.%N)" | bc | sed 's/^-.*/0/')"
  EARLY_KEYS=$(keys_of "$TC" | tr '\n' ' ')
  wait "$HOLD_PID" || true
  T_COMMIT=$(date +%s.%N)
  fr_met() { [[ "$(cf_of "$TR" "SLA First Response State")" == met ]]; }
  tc_breached() { keys_of "$TC" | grep -q '100%'; }
  if grep -q committed "$WORK/hold-reply.out" && wait_for 5 fr_met &&
     [[ -z "$(keys_of "$TR")" ]]; then
    pass "#$TR: a reply held open past its 10 s due, then committed: First Response met, no breach action (SLA Status '$(cf_of "$TR" "SLA Status")')"
  else
    fail "#$TR after the held reply: First Response '$(cf_of "$TR" "SLA First Response State")', keys '$(keys_of "$TR" | tr '\n' ' ')', want met and none ($(tail -2 "$WORK/hold.log" | tr '\n' ' '))"
  fi
  if [[ -z "$EARLY_KEYS" ]] && wait_for 5 tc_breached; then
    pass "#$TC (no reply): its breach waited for the held transaction and came $(printf '%.1f' "$(echo "$(date +%s.%N) - $T_COMMIT" | bc)")s after the commit"
  else
    fail "#$TC (no reply): keys before the commit '$EARLY_KEYS' (want none), after '$(keys_of "$TC" | tr '\n' ' ')' (want the 100% keys)"
  fi
else
  fail "RT's Perl API did not reply to #$TR in a held transaction: $(tail -3 "$WORK/hold.log" | tr '\n' ' ')"
fi

# --- 4. The database stopped under load --------------------------------------

MARK=$(write_mark)
BACK0=$(grep -c 'database back after' "$DLOG" || true)
PIDS=()
for c in 1 2; do load_client outage "$c" 0 & PIDS+=($!); done
sleep 4
db_stop
note "$E2E_DB stopped for $DOWN s under load"
sleep "$DOWN"
db_start
wait_for 30 db_up || fail "$E2E_DB did not answer within 30 s of its restart"
back() { [[ $(grep -c 'database back after' "$DLOG" || true) -gt $BACK0 ]]; }
if wait_for 10 back; then
  W=$WAITED
  if [[ $(echo "$W <= 2" | bc) == 1 ]]; then
    pass "database down $DOWN s: rt-promptly went on ${W}s after it answered again ($(grep 'database back after' "$DLOG" | tail -1 | sed 's/.*info: //'))"
  else
    fail "database down $DOWN s: rt-promptly went on ${W}s after it answered again, want <= 2 s"
  fi
else
  fail "database down $DOWN s: rt-promptly did not say it went on within 10 s of the database's return: $(tail -3 "$DLOG" | tr '\n' ' ')"
fi
sleep 6
touch "$WORK/stop.outage"
wait "${PIDS[@]}"
check_load outage "database stopped $DOWN s under load"

# --- 5. SIGKILL under load ---------------------------------------------------------

MARK=$(write_mark)
R0=$(replays)
PIDS=()
for c in 1 2; do load_client kill "$c" 0 & PIDS+=($!); done
sleep 4
stop_daemon KILL
sleep 1
start_daemon
wait_for 60 replays_at_least $((R0 + 1)) || true
sleep 4
touch "$WORK/stop.kill"
wait "${PIDS[@]}"
check_load kill "SIGKILL of rt-promptly under load"

# --- 5b. A restart while a transaction is held open: nothing set back ------
# #TK breached before the restart.  A reply held open across the restart
# takes the newest transaction id: the restarted daemon cannot know its
# Created, so its clock starts at the Created of the newest visible row
# (the breach's History row) minus a second, which may be before the
# breach it wrote.  Its replay must not write the older state (on_track)
# over the breach, nor the breach again once the reply commits.
TK=$(create_ticket "shortclock: breached before a restart" "10 s first response")
hold "$WORK/hold-restart.out" reply - 15 "$WORK/go.restart"
HOLD_PID=$!
wait_for 180 ready "$WORK/hold-restart.out" || true
tk_breached() { [[ "$(cf_of "$TK" "SLA Status")" == breached ]] && keys_of "$TK" | grep -q '100%'; }
if wait_for 40 tk_breached; then
  sleep 2   # its History row and actions are in
  MARK=$(write_mark)
  R0=$(replays)
  HELD0=$(grep -c "ticket $TK: its fields wait for the clock" "$DLOG" || true)
  stop_daemon KILL
  echo "$TR" >"$WORK/go.restart"
  replied_restart() { grep -q replied "$WORK/hold-restart.out" 2>/dev/null; }
  if wait_for 30 replied_restart; then
    start_daemon
    wait_for 60 replays_at_least $((R0 + 1)) || true
    AWAITED=$(grep 'replayed .* events' "$DLOG" | tail -1 | sed -n 's/.*; \([0-9]*\) awaited).*/\1/p')
    wait "$HOLD_PID" || true
    sleep 3   # the reply is read, the clock passes the commit
    HELD=$(( $(grep -c "ticket $TK: its fields wait for the clock" "$DLOG" || true) - HELD0 ))
    REW=$(rewrites_since "$MARK")
    if grep -q committed "$WORK/hold-restart.out" && [[ -z "$REW" ]] &&
       [[ "$(cf_of "$TK" "SLA Status")" == breached ]]; then
      pass "restart with a reply held open ($AWAITED id awaited at the replay): #$TK stays breached, nothing set back or written twice ($([[ $HELD -gt 0 ]] && echo "its fields waited for the clock: $(grep "ticket $TK: its fields wait" "$DLOG" | tail -1 | sed 's/.*info: //')" || echo "the clock started past its breach"))"
    else
      fail "restart with a reply held open ($AWAITED awaited): #$TK SLA Status '$(cf_of "$TK" "SLA Status")', want breached; rewrites: $(tr '\n' ' ' <<<"$REW") ($(tail -2 "$WORK/hold.log" | tr '\n' ' '))"
    fi
  else
    fail "RT's Perl API did not reply to #$TR in a held transaction: $(tail -3 "$WORK/hold.log" | tr '\n' ' ')"
    start_daemon
    wait_for 60 replays_at_least $((R0 + 1)) || true
  fi
else
  fail "#$TK did not breach within 40 s (SLA Status '$(cf_of "$TK" "SLA Status")')"
  echo "$TR" >"$WORK/go.restart"
  wait "$HOLD_PID" || true
fi

# --- 6. Two daemons: one active, one standby -------------------------------------

STATE2=$WORK/state2 DLOG2=$WORK/rt-promptly-2.log
install -d -o www-data -g www-data "$STATE2"
PROMPTLY_RT_DB=$DB PROMPTLY_RT_PORT=$E2E_PORT \
  setsid setpriv --reuid=www-data --regid=www-data --init-groups \
  perl "$RT_HOST_DIR/rt-promptly" --module "$PROMPTLY_SO" --rules "$RULES" \
  --state-dir "$STATE2" --poll-ms 100 --log-level info >>"$DLOG2" 2>&1 </dev/null &
D2=$!
standby() { grep -q 'standby: another rt-promptly holds' "$DLOG2"; }
if wait_for 60 standby && ! grep -q 'active: holding' "$DLOG2"; then
  TA=$(create_ticket "Outage seen by the active daemon" "two daemons")
  wait_for 5 priority_is "$TA" 100 || true
  # Priority is written without a transaction; its History row says it.
  if [[ "$(sql "SELECT COUNT(*) FROM Transactions WHERE ObjectType = 'RT::Ticket'
          AND ObjectId = $TA AND Type = 'SLA' AND NewValue LIKE 'SLA applied: P1%'
          AND Creator = $PROMPTLY_UID")" == 1 ]]; then
    pass "a second rt-promptly waits as a standby ($(grep 'standby:' "$DLOG2" | head -1 | sed 's/.*info: //')); #$TA got one priority write (one 'SLA applied: P1' row)"
  else
    fail "with two daemons #$TA got $(sql "SELECT COUNT(*) FROM Transactions WHERE ObjectType = 'RT::Ticket' AND ObjectId = $TA AND Type = 'SLA' AND Creator = $PROMPTLY_UID") History rows by promptly, want 1 'SLA applied: P1'"
  fi
  stop_daemon KILL
  DAEMON_PID=$D2
  active2() { grep -q 'active: holding' "$DLOG2"; }
  if wait_for 30 active2; then
    TOOK=$WAITED
    TB=$(create_ticket "Outage after the takeover" "two daemons")
    # The new active one replays every open ticket first (minutes for
    # hundreds of tickets on a busy 2-core machine).
    if wait_for 300 priority_is "$TB" 100; then
      pass "the standby took the lock ${TOOK}s after the active one was killed, replayed, and #$TB got P1 from it ${WAITED}s after its creation"
    else
      fail "the standby took over, but #$TB got Priority '$(priority_of "$TB")' within 300 s, want 100 ($(grep -c 'replayed .* events' "$DLOG2") replays done)"
    fi
  else
    fail "the standby did not take over within 30 s of the active daemon's SIGKILL: $(tail -3 "$DLOG2" | tr '\n' ' ')"
  fi
else
  fail "a second rt-promptly did not wait as a standby: $(grep -E 'standby|active' "$DLOG2" | head -3 | tr '\n' ' ')"
  kill -TERM "$D2" 2>/dev/null || true
fi
cp -f "$DLOG2" "$ART/" 2>/dev/null || true

# --- Done -------------------------------------------------------------------

note "rt-promptly: $(grep 'stopped at' "$DLOG" | tail -1 | sed 's/.*info: //')"
note "total $((SECONDS - T_START)) s on $E2E_DB; logs in $ART"
echo "$PASSED passed, $FAILED failed"
SUMMARY_DONE=1
[[ $FAILED -eq 0 ]]
