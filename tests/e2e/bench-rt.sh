#!/bin/bash
# bench-rt.sh - how fast the RT 5 binding is, measured on a real RT 5
# (rt-server with 2 workers) with the real promptly.so, on SQLite or, with
# E2E_DB=pg|mysql, on a PostgreSQL / MariaDB server the run starts on
# 127.0.0.1 (rt-e2e-lib.sh).  Printed, never asserted.  Run by "make
# bench-rt" (root; every backend in BENCH_BACKENDS [sqlite pg mysql]), or
# directly with PROMPTLY_SO set.  Takes about 3 minutes a backend.
#
#   1. field latency: 200 tickets created one after another through REST 2;
#      for each, the time from the create call's return to promptly's
#      fields being committed in RT's database (its History row "SLA
#      applied", written in the same database transaction as Priority and
#      the SLA fields; polled every 5 ms): p50, p90, p99, max
#   2. RT ticket-creation throughput (two REST 2 clients in parallel, 100
#      tickets each) without rt-promptly and with it running: tickets/s
#      and the ratio
#   3. CPU time of rt-promptly (user + system, from /proc) per 1,000
#      events handled during 1 and 2, and while idle (polling) per minute
#   5. the visibility delay: how far the module's clock (the instant up to
#      which every transaction is known visible, so thresholds may fire)
#      stayed behind the wall clock, p50/p99/max over the polls of 1-3
#   6. startup replay: BENCH_REPLAY [300] more open tickets made through
#      RT's Perl API, then rt-promptly started: the time its replay of all
#      open tickets took (RT itself made 50 tickets in 75 s through its Perl
#      API on this 2-core machine under load: 10,000 would take hours; set
#      BENCH_REPLAY=10000 where that fits)
#   4. RT's own SLA due (RT::SLA->Due over Business::Hours) next to
#      promptly's (promptly_calendar_add) on the same tickets, the targets
#      of the shipped corporate policy: time per due, the ratio, and on how
#      many dues they agree (bench-rt-due.pl)
#
# Environment: BENCH_TICKETS [200], BENCH_THROUGHPUT [100 per client],
# E2E_PORT [8094], PROMPTLY_SO, PROMPTLY_BUILDDIR, E2E_LOG_LEVEL [info],
# E2E_PROFILE (a Devel::NYTProf profile of rt-promptly; see rt-e2e-lib.sh),
# BENCH_PERF (a perf record of rt-promptly over 1 and 2, below).
set -euo pipefail

E2E_PORT=${E2E_PORT:-8094}
E2E_BUSY_MS=${E2E_BUSY_MS:-30000}   # the daemon's default: measure as shipped
E2E_LOG_LEVEL=${E2E_LOG_LEVEL:-info}  # likewise (debug asks the module for explanations)
N_LAT=${BENCH_TICKETS:-200}
N_TP=${BENCH_THROUGHPUT:-100}
N_REPLAY=${BENCH_REPLAY:-300}

# shellcheck source=rt-e2e-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/rt-e2e-lib.sh"

e2e_prepare
e2e_start_rt
# The shipped rules (a policy applies at creation, so each ticket gets its
# "SLA applied" row, which the latency below waits for; no threshold of
# theirs falls within the run).
cp "$SRCDIR"/rules/*.lua "$RULES"/
SESSION=$(awk '$6 ~ /RT_SID/ { print $6 "=" $7 }' "$COOKIE" | tail -1)
[[ -n "$SESSION" ]] || die "no RT session cookie"

# CPU seconds (user + system) of a process, from /proc/PID/stat.
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' \
    "/proc/$1/stat"
}
# The system part alone (the kernel's work for it: file I/O, sockets).
sys_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", $15 / hz }' "/proc/$1/stat"
}
# Events the daemon submitted so far: it logs none per event, so count the
# ticket transactions it has read (cursor) that are not its own writes.
events_upto() {
  sql "SELECT COUNT(*) FROM Transactions WHERE ObjectType = 'RT::Ticket'
       AND id <= $1 AND Creator != $PROMPTLY_UID
       AND Type IN ('Create', 'Correspond', 'Comment', 'Status', 'Set',
                    'CustomField', 'AddLink')"
}

# The REST 2 client: creates tickets and (optionally) waits for promptly's
# writes on each (its History row, committed with them); prints one
# latency in ms per line, or the rate.
bench_client() {  # MODE N [LABEL]
  perl -MHTTP::Tiny -MDBI -MTime::HiRes=time,sleep -e '
    use strict; use warnings; no warnings "redundant";
    my ($mode, $n, $label, $base, $cookie, $dsn, $dbuser, $dbpass, $uid) = @ARGV;
    my $http = HTTP::Tiny->new(timeout => 60,
      default_headers => { Cookie => $cookie, Referer => "$base/",
                          "Content-Type" => "application/json" });
    my $dbh = DBI->connect($dsn, $dbuser, $dbpass, { RaiseError => 1, AutoCommit => 1 });
    $dbh->sqlite_busy_timeout(5000) if $dsn =~ /^dbi:SQLite/;
    my $q = $dbh->prepare("SELECT 1 FROM Transactions WHERE ObjectType = ?
      AND ObjectId = ? AND Type = ? AND Creator = ? LIMIT 1");
    my @subjects = ("Production is down", "Feature request: %s",
                    "Printer on floor %d jams", "Outage of the VPN gateway");
    my $t_all = time;
    for my $i (1 .. $n) {
      my $s = sprintf($subjects[$i % @subjects], $i);
      my $r = $http->post("$base/REST/2.0/ticket", { content =>
        qq({"Queue":"General","Subject":"$s $label $i","Requestor":"c$i\@example.com","Content":"bench"}) });
      die "create failed: $r->{status} $r->{content}\n" unless $r->{status} == 201;
      my ($id) = $r->{content} =~ /"id"\s*:\s*"?(\d+)/;
      next unless $mode eq "latency";
      my $t0 = time;
      while (1) {
        $q->execute("RT::Ticket", $id, "SLA", $uid);
        my $hit = $q->fetchrow_arrayref; $q->finish;
        last if $hit;
        die "ticket $id: no fields after 30 s\n" if time - $t0 > 30;
        sleep 0.005;
      }
      printf "%.1f\n", (time - $t0) * 1000;
    }
    printf "rate %.2f\n", $n / (time - $t_all) if $mode eq "rate";
  ' "$1" "$2" "${3:-}" "$B" "$SESSION" "$DSN" "${PROMPTLY_RT_DBUSER:-}" \
    "${PROMPTLY_RT_DBPASS:-}" "$PROMPTLY_UID"
}

percentiles() {  # stdin: one number per line
  sort -n | awk '{ v[NR] = $1 } END {
    n = NR; if (n == 0) { print "no data"; exit }
    p50 = v[int(n * 0.50 + 0.5) > 0 ? int(n * 0.50 + 0.5) : 1]
    p90 = v[int(n * 0.90 + 0.5)]; p99 = v[int(n * 0.99 + 0.5)]
    printf "n=%d  p50=%.0f ms  p90=%.0f ms  p99=%.0f ms  max=%.0f ms\n", n, p50, p90, p99, v[n] }'
}

throughput() {  # LABEL -> tickets/s over two parallel clients
  local t0 t1 before after
  before=$(sql "SELECT COUNT(*) FROM Tickets")
  t0=$(date +%s.%N)
  bench_client rate "$N_TP" "$1-a" >/dev/null &
  local c1=$!
  bench_client rate "$N_TP" "$1-b" >/dev/null &
  local c2=$!
  wait "$c1" || die "a benchmark client failed"
  wait "$c2" || die "a benchmark client failed"
  t1=$(date +%s.%N)
  after=$(sql "SELECT COUNT(*) FROM Tickets")
  echo "scale=2; ($after - $before) / ($t1 - $t0)" | bc
}

case $E2E_DB in
  pg)    DSN="dbi:Pg:dbname=$DB;host=127.0.0.1;port=$E2E_DB_PORT" ;;
  mysql) DSN="dbi:mysql:database=$DB;host=127.0.0.1;port=$E2E_DB_PORT" ;;
  *)     DSN="dbi:SQLite:dbname=$DB" ;;
esac
echo "== bench-rt: RT $RT_VERSION on $E2E_DB, module $PROMPTLY_SO"

# 2a. Throughput without rt-promptly (before it ever ran: nothing to catch up).
TP_OFF=$(throughput off)
echo "RT ticket creation without rt-promptly: $TP_OFF tickets/s (2 clients x $N_TP)"

start_daemon
wait_for 60 replays_at_least 1 || die "rt-promptly did not start"
wait_for 60 cursor_at_least "$(max_txn)" || true
PID=$DAEMON_PID
CPU0=$(cpu_of "$PID")
EV0=$(events_upto "$(cursor)")
note "rt-promptly caught up with $EV0 events (the tickets above)"

# 3a. Idle cost: polling only.
sleep 10
CPU_IDLE=$(echo "$(cpu_of "$PID") - $CPU0" | bc)
echo "rt-promptly idle (polling every ${E2E_POLL_MS:-100} ms): $(echo "scale=2; $CPU_IDLE * 6" | bc) CPU s per minute"

# 1. Latency.
CPU1=$(cpu_of "$PID")
SYS1=$(sys_of "$PID")
W1=$(date +%s.%N)
# BENCH_PERF=FILE: perf record (call graphs) of rt-promptly over 1 and 2,
# down to the C of perl, DBD, SQLite and the kernel (NYTProf's own cost
# per Perl statement hides what those take).
PERF_PID=
if [[ -n "${BENCH_PERF:-}" ]]; then
  perf record -q -g -o "$BENCH_PERF" -p "$PID" >/dev/null 2>&1 &
  PERF_PID=$!
fi
bench_client latency "$N_LAT" lat >"$WORK/latency.txt"
echo "field latency, create -> fields written ($N_LAT tickets, one at a time): $(percentiles <"$WORK/latency.txt")"

# 2b. Throughput with rt-promptly.
TP_ON=$(throughput on)
echo "RT ticket creation with rt-promptly:    $TP_ON tickets/s (2 clients x $N_TP)"
echo "throughput ratio with/without: $(echo "scale=3; $TP_ON / $TP_OFF" | bc)"

# 3b. CPU per 1,000 events over the latency and throughput runs.
wait_for 60 cursor_at_least "$(max_txn)" || true
CPU2=$(cpu_of "$PID")
SYS2=$(sys_of "$PID")
W2=$(date +%s.%N)
if [[ -n "$PERF_PID" ]]; then
  kill -INT "$PERF_PID"; wait "$PERF_PID" || true
  note "perf profile of rt-promptly: $BENCH_PERF (perf report -i $BENCH_PERF)"
fi
EV2=$(events_upto "$(cursor)")
EVN=$((EV2 - EV0))
SECS=$(echo "$CPU2 - $CPU1" | bc)
NET=$(echo "$SECS - $CPU_IDLE / 10 * ($W2 - $W1)" | bc -l)
echo "rt-promptly CPU: $SECS s for $EVN events in $(printf '%.0f' "$(echo "$W2 - $W1" | bc)") s:" \
  "$(printf '%.2f' "$(echo "$SECS * 1000 / $EVN" | bc -l)") s per 1,000 events" \
  "($(printf '%.2f' "$(echo "$NET * 1000 / $EVN" | bc -l)") s without the idle polling; both incl. RT field writes;" \
  "$(printf '%.2f' "$(echo "($SYS2 - $SYS1) * 1000 / $EVN" | bc -l)") s of it in the kernel)"
stop_daemon TERM
grep 'stopped at' "$DLOG" | tail -1 | sed 's/^.*info: /rt-promptly: /'
echo "visibility delay (module clock behind the wall clock, $E2E_DB): $(grep 'stopped at' "$DLOG" | tail -1 | sed -n 's/.*clock delay \(.*\))$/\1/p')"

# 6. Startup replay of the open tickets.
BULK=$(PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" "$E2E_DIR/bench-rt-bulk.pl" "$N_REPLAY" 2>"$WORK/bulk.err") ||
  { echo "bulk ticket creation failed:"; tail -5 "$WORK/bulk.err"; }
OPEN=$(sql "SELECT COUNT(*) FROM Tickets WHERE Status IN ('new', 'open')")
R0=$(replays)
start_daemon
wait_for 1800 replays_at_least $((R0 + 1)) || true
echo "startup replay ($E2E_DB): $OPEN open tickets ($BULK by RT's Perl API): $(grep 'replayed .* events' "$DLOG" | tail -1 | sed 's/.*info: replayed //; s/ (cursor.*//')"
stop_daemon TERM

# 4. RT's SLA due computation and promptly's, on the tickets made above.
if ! PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" "$E2E_DIR/bench-rt-due.pl" \
       "$PROMPTLY_SO" 2>"$WORK/due.err"; then
  echo "SLA due comparison failed:"; tail -5 "$WORK/due.err"
fi
