#!/bin/bash
# test_restart.sh - restart without loss, as a property over random
# histories.  For each seed a random stream of events (creates with
# keywords, tiers, types and channels; replies both ways, notes, status
# changes into and out of "pending customer", "stalled" and "resolved",
# manual priorities, queue and tier changes, reopens, merges, deletes,
# gaps from seconds to days, several events in the same second) runs
# through the shipped rules three ways:
#   A   all of it in one run, to the --until instant;
#   B1  its first k lines only (k random), recording the keys it carried out;
#   B2  all of it again, as a restarted host does: the done keys given.
# The property: B1's actions then B2's are exactly A's, in order, no key
# twice; B2 writes exactly what A writes (rebuilding a ticket's state from
# its events gives the same fields); the record lists every key once; and
# B2 hands over exactly the outcome records A does (none lost, none added).
# A second restart (B3, all done) carries out nothing at all.
#
# PROMPTLY_RESTARTS sets the number of seeds (default 60, 6 under
# PROMPTLY_WRAP).  test_restart_quiet.sh runs it on rules with quiet
# hours (PROMPTLY_RULES, PROMPTLY_RESTART_HELD).  A failing history is kept in $PROMPTLY_RESTARTS_KEEP if
# set.  Perl (in every Debian) generates the histories.
set -u
: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}"
: "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE
rules=$PROMPTLY_RULES
. "$PROMPTLY_SRCDIR/tests/tap.sh"

if [ -n "${PROMPTLY_WRAP:-}" ]; then n=${PROMPTLY_RESTARTS:-6}; else
  n=${PROMPTLY_RESTARTS:-60}; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
until=2027-03-01T00:00:00Z

# history SEED OUT: a random event stream, in time order, from 2026-11-16.
history() {
  perl -e '
    use strict; use warnings; use POSIX qw(strftime);
    my ($seed, $out) = @ARGV;
    srand($seed);
    sub pick { $_[int(rand(@_))] }
    my @subjects = ("Production is down", "Security: leaked token",
      "Data loss after the update", "Cannot log in", "Export failed",
      "Sync not working since Monday", "Feature request: dark mode",
      "Suggestion: shortcuts", "Question about the invoice", "urgent!!",
      "Payment failed twice", "Broken link on the start page");
    my @status = ("open", "pending customer", "pending customer", "stalled",
      "resolved", "open");
    my $t = 1794819600 + int(rand(7 * 86400));   # Mon 2026-11-16 09:00Z + 0..7d
    my (@open, @lines, %merged);
    my $next_id = 1;
    my $events = 10 + int(rand(50));
    for (1 .. $events) {
      my $r = rand();
      $t += $r < 0.15 ? 0 : $r < 0.5 ? int(rand(3600)) : $r < 0.85
            ? int(rand(8 * 3600)) : int(rand(3 * 86400));
      my $at = strftime("%Y-%m-%dT%H:%M:%SZ", gmtime $t);
      my $k = rand();
      if (!@open || $k < 0.18) {
        my $id = $next_id++;
        push @open, $id;
        push @lines, sprintf(q({"ticket": %d, "at": "%s", "type": "create", "attrs": {"subject": "%s", "body": "%s", "channel": "%s", "tier": "%s", "type": "%s", "queue": "%s", "status": "new"}}),
          $id, $at, pick(@subjects), pick("", "It is down for everyone.", "No hurry."),
          pick("email", "phone", "chat", "web", "social"),
          pick("enterprise", "professional", "starter", "standard"),
          pick("incident", "question", "problem", "security", "payment"),
          pick("General", "Billing", "Operations"));
        next;
      }
      my $id = pick(@open);
      my $e;
      if    ($k < 0.36) { $e = q("type": "reply_agent", "attrs": {"body": "On it."}) }
      elsif ($k < 0.52) { $e = q("type": "reply_customer", "attrs": {"body": "Any news?"}) }
      elsif ($k < 0.57) { $e = q("type": "note", "attrs": {"body": "internal"}) }
      elsif ($k < 0.78) { $e = sprintf(q("type": "status", "attrs": {"status": "%s"}), pick(@status)) }
      elsif ($k < 0.84) { $e = sprintf(q("type": "priority", "attrs": {"priority": "P%d"}), 1 + int(rand(4))) }
      elsif ($k < 0.90) { $e = sprintf(q("type": "update", "attrs": {"%s": "%s"}),
                            pick(["tier", pick("enterprise", "starter")], ["queue", "Billing"],
                                 ["type", "security"], ["channel", "chat"])->@*) }
      elsif ($k < 0.95) { $e = q("type": "reopen") }
      elsif ($k < 0.98 && @open > 1) {
        my $into = pick(grep { $_ != $id } @open);
        $e = sprintf(q("type": "merge", "attrs": {"into": "%d"}), $into);
        @open = grep { $_ != $id } @open;
      } else {
        $e = q("type": "delete");
        @open = grep { $_ != $id } @open;
      }
      push @lines, sprintf(q({"ticket": %d, "at": "%s", %s}), $id, $at, $e);
    }
    open(my $o, ">", $out) or die "$out: $!";
    print $o "$_\n" for @lines;
  ' "$@"
}

runs_bad=0 actions_bad=0 writes_bad=0 twice_bad=0 record_bad=0 again_bad=0
records_bad=0 total_records=0
total_actions=0 held=0
for seed in $(seq 1 "$n"); do
  h=$tmp/history-$seed.jsonl
  history "$seed" "$h"
  lines=$(wc -l <"$h")
  cut=$(( (seed * 7919) % lines + 1 ))  # 1..lines, spread over the seeds
  head -n "$cut" "$h" >"$tmp/part"
  rm -f "$tmp/keys"
  bad=0
  run_cli "$tmp/A" "$tmp/A.err" run --rules "$rules" --events "$h" \
    --until "$until" --records "$tmp/A.rec"
  ra=$rc
  run_cli "$tmp/B1" "$tmp/B1.err" run --rules "$rules" --events "$tmp/part" \
    --record "$tmp/keys"
  rb1=$rc
  run_cli "$tmp/B2" "$tmp/B2.err" run --rules "$rules" --events "$h" \
    --until "$until" --done "$tmp/keys" --record "$tmp/keys" \
    --records "$tmp/B2.rec"
  rb2=$rc
  run_cli "$tmp/B3" "$tmp/B3.err" run --rules "$rules" --events "$h" \
    --until "$until" --done "$tmp/keys"
  rb3=$rc
  if [ "$ra$rb1$rb2$rb3" != 0000 ]; then
    runs_bad=$((runs_bad + 1)); bad=1
    echo "# seed $seed: exits A $ra, B1 $rb1, B2 $rb2, B3 $rb3" >&2
    cat "$tmp/A.err" "$tmp/B2.err" | head -5 >&2
  fi
  total_actions=$((total_actions + $(actions "$tmp/A" | wc -l)))
  held=$((held + $(grep -c '"reached_at": ' "$tmp/A" || true)))
  if ! diff <(actions "$tmp/A") <(actions "$tmp/B1" "$tmp/B2") >"$tmp/d"; then
    actions_bad=$((actions_bad + 1)); bad=1
    echo "# seed $seed (cut after line $cut of $lines): actions differ" >&2
    head -6 "$tmp/d" >&2
  fi
  if ! diff <(writes "$tmp/A") <(writes "$tmp/B2") >"$tmp/d"; then
    writes_bad=$((writes_bad + 1)); bad=1
    echo "# seed $seed (cut after line $cut of $lines): B2 writes differ" >&2
    head -6 "$tmp/d" >&2
  fi
  if [ -n "$(keys "$tmp/B1" "$tmp/B2" | sort | uniq -d)" ]; then
    twice_bad=$((twice_bad + 1)); bad=1
    echo "# seed $seed: a key carried out twice" >&2
  fi
  if ! diff <(keys "$tmp/A") "$tmp/keys" >/dev/null 2>&1 &&
     ! { [ ! -e "$tmp/keys" ] && [ -z "$(keys "$tmp/A")" ]; }; then
    record_bad=$((record_bad + 1)); bad=1
    echo "# seed $seed: the record is not A's keys in order" >&2
  fi
  # The outcome records: the restart neither loses nor adds one.
  total_records=$((total_records + $(grep -c . "$tmp/A.rec" || true)))
  if ! cmp -s "$tmp/A.rec" "$tmp/B2.rec"; then
    records_bad=$((records_bad + 1)); bad=1
    echo "# seed $seed (cut after line $cut of $lines): the restarted run's records differ" >&2
    diff "$tmp/A.rec" "$tmp/B2.rec" | head -4 >&2
  fi
  if [ -n "$(actions "$tmp/B3")" ]; then
    again_bad=$((again_bad + 1)); bad=1
    echo "# seed $seed: a second restart carried out actions again" >&2
  fi
  if [ "$bad" -ne 0 ] && [ -n "${PROMPTLY_RESTARTS_KEEP:-}" ]; then
    mkdir -p "$PROMPTLY_RESTARTS_KEEP"
    cp "$h" "$PROMPTLY_RESTARTS_KEEP/history-$seed-cut-$cut.jsonl"
  fi
done
check "$n random histories: every run exits 0" test "$runs_bad" -eq 0
check "the actions before and after a restart are those of one run" \
  test "$actions_bad" -eq 0
check "a restarted run writes what one run writes" test "$writes_bad" -eq 0
check "no key is carried out twice" test "$twice_bad" -eq 0
check "the record lists every key once, in order" test "$record_bad" -eq 0
check "a second restart carries out nothing" test "$again_bad" -eq 0
check "a restarted run gives one run's outcome records ($total_records in all)" \
  test "$records_bad" -eq 0 -a "$total_records" -gt "$n"
check "the histories fire actions ($total_actions in all)" \
  test "$total_actions" -gt "$n"
# With rules that hold actions for quiet hours (test_restart_quiet.sh):
# some were held across a night or a weekend, and survived the restarts.
if [ -n "${PROMPTLY_RESTART_HELD:-}" ]; then
  check "actions held for quiet hours among them ($held)" test "$held" -gt 0
fi

echo "1..$count"
echo "$((count - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
