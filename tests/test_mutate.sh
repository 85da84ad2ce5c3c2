#!/bin/bash
# test_mutate.sh - bad input, made by machine: seeded mutants of the sample
# events, of calendar lines for "promptly due" and of the default rules,
# run through the built CLI and module.
#
#  - events: random bytes, cut or repeated spans, values swapped for odd
#    ones (NUL, lone surrogates, 1e308, year 9999, 100,000 characters,
#    nesting).  The run exits 0 or 2; every message names its input line;
#    and a line that was refused changes nothing: the same file without the
#    refused lines writes exactly the same output.
#  - calendars: the same mutations of "promptly due --batch" lines (zones,
#    hours, holidays, an .ics).  Exit 0 or 2; each line is answered or
#    refused once, with a message naming the line and the field.
#  - rules: one rule file damaged (bytes, or Lua values swapped for endless
#    loops, 1 GB strings, pattern bombs, __gc, absurd targets, bad hours).
#    "promptly check" exits 0 or 1 and every problem reads file:line:
#    message; rules it refuses are refused by "promptly run" too.
#
# Under the sanitizer and valgrind builds a crash, a leak or a memory error
# fails the exit status checks.  PROMPTLY_MUTANTS sets how many of each
# (default 40, 8 under PROMPTLY_WRAP); a failing mutant is kept in
# $PROMPTLY_MUTANTS_KEEP if set.  Perl (in every Debian) does the mutating.
set -u
# Mutants hold any bytes: grep and sed read them as bytes, in any locale.
export LC_ALL=C
: "${PROMPTLY_BIN:?PROMPTLY_BIN is not set}"
: "${PROMPTLY_MODULE:?PROMPTLY_MODULE is not set}"
src=${PROMPTLY_SRCDIR:?PROMPTLY_SRCDIR is not set}
. "$src/tests/tap.sh"

if [ -n "${PROMPTLY_WRAP:-}" ]; then n=${PROMPTLY_MUTANTS:-8}; else
  n=${PROMPTLY_MUTANTS:-40}; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
until=2799-12-31T23:59:59Z  # events after 2800 are refused

keep() {  # keep WHAT: save a failing mutant for a look
  if [ -n "${PROMPTLY_MUTANTS_KEEP:-}" ]; then
    mkdir -p "$PROMPTLY_MUTANTS_KEEP" && cp -r "$@" "$PROMPTLY_MUTANTS_KEEP/"
  fi
}

# mutate MODE SEED IN OUT: MODE events (a line at a time) or lua (a file).
mutate() {
  perl -e '
    use strict; use warnings;
    my ($mode, $seed, $in, $out) = @ARGV;
    srand($seed);
    local $/; open(my $f, "<:raw", $in) or die "$in: $!"; my $t = <$f>;
    my @json = (q("\u0000"), q("\ud800"), "1e308", "-1", "0", "null", "[]",
      "{}", "[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]",
      q("9999-12-31T23:59:59Z"), q("0001-01-01T00:00:00Z"),
      q("2026-13-40T25:61:61Z"), q("pending customer"), q("P1"),
      q("St\u00f6rung"), "1.5", "true", "9223372036854775808",
      q(") . ("x" x 100000) . q("));
    my @lua = ("while true do end", q{string.rep("x", 1e9)},
      q{("x"):rep(1e8)}, q{setmetatable({}, {__gc = function() end})},
      q{string.find(string.rep("a", 1e5), ".-.-.-.-.-b")}, "{", "}",
      q{"}, "nil", "0/0", "1e400", "-1", "math.huge",
      q{function() error("boom") end}, q{"25:00"}, q{"Mars/Base"},
      q{"100% + 2h"}, q{"0%"}, q{"999999999d"}, q{"P9"}, q{"09:00-09:00"},
      q{"2026-12-31..2026-01-01"}, q{"12-32"}, q{"24x7"}, "{{{{{{}}}}}}");
    my $val = qr/"[^"\\]*(?:\\.[^"\\]*)*"|-?\b\d+(?:\.\d+)?\b|\{|\}/;
    sub pick { $_[int(rand(@_))] }
    sub bytes {  # one to four random byte-level changes
      my $s = shift;
      for (1 .. 1 + int(rand(4))) {
        last if length($s) == 0;
        my $i = int(rand(length $s)); my $k = rand();
        if ($k < 0.3) { substr($s, $i, 1) = chr(int(rand(256))) }
        elsif ($k < 0.5) { substr($s, $i, 1 + int(rand(20))) = "" }
        elsif ($k < 0.7) { substr($s, $i, 0) = pick(@_) }
        else { substr($s, $i, 0) =
                 substr($s, int(rand(length $s)), 1 + int(rand(40))) }
      }
      return $s;
    }
    sub values_swapped {  # one to three values replaced by odd ones
      my $s = shift;
      for (1 .. 1 + int(rand(3))) {
        my @at; push @at, [$-[0], $+[0] - $-[0]] while $s =~ /$val/g;
        last unless @at;
        my $m = pick(@at); substr($s, $m->[0], $m->[1]) = pick(@_);
      }
      return $s;
    }
    if ($mode eq "events") {
      my @l = split /\n/, $t, -1;
      for (@l) {
        next if /^\s*(#|$)/;
        my $r = rand();
        $_ = bytes($_, @json) if $r < 0.08;
        $_ = values_swapped($_, @json) if $r >= 0.08 && $r < 0.16;
      }
      $t = join("\n", @l);
    } else {
      $t = rand() < 0.5 ? bytes($t, @lua) : values_swapped($t, @lua);
    }
    open(my $o, ">:raw", $out) or die "$out: $!"; print $o $t;
  ' "$@"
}

# --- Events ------------------------------------------------------------------
ev_status=0 ev_named=0 ev_nothing=0 ev_refused=0
for seed in $(seq 1 "$n"); do
  m=$tmp/events-$seed.jsonl
  mutate events "$seed" "$src/examples/events.jsonl" "$m"
  run_cli "$tmp/out" "$tmp/err" run --rules "$src/rules" --events "$m" \
    --until "$until"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    ev_status=$((ev_status + 1)); keep "$m"
    echo "# events seed $seed: exit $rc" >&2; tail -5 "$tmp/err" >&2
    continue
  fi
  # Every message names the input line it is about.
  if grep -aEv '^promptly: (warning: )?line [0-9]+: ' "$tmp/err" >&2; then
    ev_named=$((ev_named + 1)); keep "$m"
    echo "# events seed $seed: a message names no line" >&2
  fi
  # Refused (and ignored) lines changed nothing.
  sed -n 's/^promptly: \(warning: \)\{0,1\}line \([0-9]*\): .*/\2d/p' \
    "$tmp/err" | sort -u >"$tmp/drop.sed"
  ev_refused=$((ev_refused + $(wc -l <"$tmp/drop.sed")))
  sed -f "$tmp/drop.sed" "$m" >"$tmp/clean.jsonl"
  run_cli "$tmp/out2" "$tmp/err2" run --rules "$src/rules" \
    --events "$tmp/clean.jsonl" --until "$until"
  if [ "$rc" -ne 0 ] || ! cmp -s "$tmp/out" "$tmp/out2"; then
    ev_nothing=$((ev_nothing + 1)); keep "$m"
    echo "# events seed $seed: without the refused lines: exit $rc" >&2
    diff "$tmp/out" "$tmp/out2" | head -5 >&2; head -5 "$tmp/err2" >&2
  fi
done
check "events: $n mutants exit 0 or 2 (no crash, leak or memory error)" \
  test "$ev_status" -eq 0
check "events: every message names its input line" test "$ev_named" -eq 0
check "events: refused lines change nothing" test "$ev_nothing" -eq 0
check "events: the mutants are not all harmless ($ev_refused lines refused)" \
  test "$ev_refused" -gt 0

# --- Calendars (promptly due --batch) ---------------------------------------
# Run from the source folder: a line names its .ics by a relative path.
du_status=0 du_named=0 du_count=0 du_refused=0
for seed in $(seq 1 "$n"); do
  m=$tmp/due-$seed.jsonl
  mutate events "$((seed + 1000))" "$src/tests/fixtures/due/batch.jsonl" "$m"
  rc=0
  (cd "$src" && cli due --batch "$m") >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    du_status=$((du_status + 1)); keep "$m"
    echo "# due seed $seed: exit $rc" >&2; tail -5 "$tmp/err" >&2
    continue
  fi
  if grep -aEv '^line [0-9]+: [a-z_]+[.:]' "$tmp/err" >&2; then
    du_named=$((du_named + 1)); keep "$m"
    echo "# due seed $seed: a message names no line and field" >&2
  fi
  # Each line is answered or refused, once.
  lines=$(grep -acv '^[[:space:]]*$' "$m")
  du_refused=$((du_refused + $(wc -l <"$tmp/err")))
  if [ "$(( $(wc -l <"$tmp/out") + $(wc -l <"$tmp/err") ))" -ne "$lines" ]; then
    du_count=$((du_count + 1)); keep "$m"
    echo "# due seed $seed: $lines lines, answers and messages do not add up" >&2
  fi
done
check "due: $n mutants exit 0 or 2 (no crash, leak or memory error)" \
  test "$du_status" -eq 0
check "due: every message names its line and field" test "$du_named" -eq 0
check "due: every line answered or refused, once" test "$du_count" -eq 0
check "due: the mutants are not all harmless ($du_refused lines refused)" \
  test "$du_refused" -gt 0

# --- Rules -------------------------------------------------------------------
ru_status=0 ru_form=0 ru_run=0 ru_live=0 refused=0
files=()
# Rule files only: *.test.lua are no rules (test_ruletest.sh has them).
for f in "$src"/rules/*.lua; do
  case $f in *.test.lua) continue ;; esac
  files+=("${f##*/}")
done
for seed in $(seq 1 "$n"); do
  d=$tmp/rules-$seed
  mkdir -p "$d"
  cp "$src"/rules/*.lua "$d/"
  victim=${files[$(( (seed - 1) % ${#files[@]} ))]}  # each file in turn
  mutate lua "$seed" "$src/rules/$victim" "$d/$victim"
  run_cli "$tmp/out" "$tmp/err" check "$d"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    ru_status=$((ru_status + 1)); keep "$d"
    echo "# rules seed $seed ($victim): check exit $rc" >&2
    tail -5 "$tmp/err" >&2
    continue
  fi
  if cat "$tmp/out" "$tmp/err" |
       grep -aEv '^[0-9]{2}-[a-z]+\.lua:[0-9]+: .' >&2; then
    ru_form=$((ru_form + 1)); keep "$d"
    echo "# rules seed $seed ($victim): a problem is not file:line: message" >&2
  fi
  if [ "$rc" -eq 0 ]; then
    # Rules that load run the events: a rule that fails at run time is
    # reported with its file:line and the run goes on to the end.
    run_cli "$tmp/out" "$tmp/err2" run --rules "$d" \
      --events "$src/examples/events.jsonl" --until "$until"
    if [ "$rc" -ne 0 ] ||
       grep -aEv '^promptly: (warning|error): .*[0-9]{2}-[a-z]+\.lua:[0-9]+: .' \
         "$tmp/err2" >&2; then
      ru_live=$((ru_live + 1)); keep "$d"
      echo "# rules seed $seed ($victim): run with rules check took: exit $rc" >&2
    fi
  else
    refused=$((refused + 1))
    run_cli "$tmp/out" "$tmp/err2" run --rules "$d" \
      --events "$src/examples/events.jsonl"
    if [ "$rc" -eq 0 ] || [ -s "$tmp/out" ]; then
      ru_run=$((ru_run + 1)); keep "$d"
      echo "# rules seed $seed ($victim): check refused them, run did not" >&2
    fi
  fi
done
check "rules: $n mutants, check exits 0 or 1 (no crash, leak or hang)" \
  test "$ru_status" -eq 0
check "rules: every problem reads file:line: message" test "$ru_form" -eq 0
check "rules: those check takes run the events to the end" \
  test "$ru_live" -eq 0
check "rules: what check refuses ($refused), run refuses too" \
  test "$ru_run" -eq 0
check "rules: the mutants are not all harmless" test "$refused" -gt 0

echo "1..$count"
echo "$((count - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
