#!/bin/bash
# test_hostile.sh - hostile rule folders, zones, .ics files and events
# cannot stall, bloat or fool the host.
#
# Every folder of tests/fixtures/hostile/ is a rules folder with an
# `expect` file: an extended regular expression that one line of
# `promptly check` must match (the error, with its file:line).  For each:
# check ends within a few seconds with status 1 (never killed by timeout),
# prints at most 101 problem lines (100, then "and N more problems") and at
# most 256 KiB in all, every problem line starts with file:line (or
# file: for a whole file, or is the "and N more" line), no line of stdout
# or stderr is forged ("promptly: error: 99-fake.lua..." at the start of a
# line), and GLib prints nothing.  The FIFO and symbolic links the cases
# need are made here, in a copy of the folder.
#
# Then: `promptly due` refuses a zone path and a FIFO .ics at once, and
# `promptly run` logs an attribute value holding a newline as one line.
#
# Needs PROMPTLY_BIN, PROMPTLY_MODULE, PROMPTLY_SRCDIR (make check sets
# them); PROMPTLY_WRAP, if set, runs the CLI under a command (valgrind);
# HOSTILE_SECONDS (default 10) is the bound on each run.
set -u

bin=${PROMPTLY_BIN:?PROMPTLY_BIN is not set}
export PROMPTLY_MODULE=${PROMPTLY_MODULE:?PROMPTLY_MODULE is not set}
src=${PROMPTLY_SRCDIR:?PROMPTLY_SRCDIR is not set}
limit=${HOSTILE_SECONDS:-10}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=0
failed=0

ok() {
  count=$((count + 1))
  echo "ok $count - $1"
}

not_ok() {
  count=$((count + 1))
  failed=$((failed + 1))
  echo "not ok $count - $1"
  shift
  printf '    %s\n' "$@"
}

# run_bounded OUT ERR ARGS...: the CLI under timeout; sets rc and secs.
run_bounded() {
  local out=$1 err=$2
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  rc=0
  # shellcheck disable=SC2086
  timeout -k 2 "$((limit * 3))" ${PROMPTLY_WRAP:-} "$bin" "$@" \
    >"$out" 2>"$err" || rc=$?
  t1=$(date +%s%N)
  secs=$(( (t1 - t0) / 1000000000 ))
}

cp -r "$src/tests/fixtures/hostile" "$tmp/cases"
chmod -R u+w "$tmp/cases"
mkfifo "$tmp/cases/ics-fifo/h.ics"
ln -s /dev/zero "$tmp/cases/ics-devzero/h.ics"
ln -s /etc/passwd "$tmp/cases/ics-outside/h.ics"
printf 'levels { "P9" }\n' >"$tmp/outside.lua"
ln -s "$tmp/outside.lua" "$tmp/cases/lua-outside/20-y.lua"

for dir in "$tmp"/cases/*/; do
  name=$(basename "$dir")
  want=$(cat "$dir/expect")
  rm -f "$dir/expect"
  out="$tmp/$name.out"
  err="$tmp/$name.err"
  run_bounded "$out" "$err" check "$dir"
  why=()
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    why+=("killed by timeout after $secs s")
  elif [ "$rc" -ne 1 ]; then
    why+=("exit status $rc, expected 1")
  fi
  [ "$secs" -le "$limit" ] || why+=("took $secs s (limit $limit s)")
  lines=$(wc -l <"$out")
  [ "$lines" -le 101 ] || why+=("$lines lines on stdout")
  bytes=$(cat "$out" "$err" | wc -c)
  [ "$bytes" -le 262144 ] || why+=("$bytes bytes of output")
  LC_ALL=C grep -aEq -- "$want" "$out" ||
    why+=("no line matches: $want" "got: $(head -c 600 "$out")")
  bad=$(LC_ALL=C grep -avE '^([^ :]+\.lua(:[0-9]+)?: |and [0-9]+ more problems?$)' \
    "$out" | head -3)
  [ -z "$bad" ] || why+=("lines without file:line: $bad")
  if LC_ALL=C grep -aEq '^promptly: error: 99-fake|^99-fake' "$out" "$err"; then
    why+=("a forged line got through")
  fi
  if LC_ALL=C grep -aq 'GLib' "$err"; then
    why+=("GLib printed: $(head -c 300 "$err")")
  fi
  if [ ${#why[@]} -eq 0 ]; then
    ok "$name: stopped in $secs s with $(head -c 100 "$out" | head -1)"
  else
    not_ok "$name" "${why[@]}"
  fi
done

# The 100 problem lines are sorted by line and come before the count.
many="$tmp/many-problems.out"
if [ "$(grep -c '^10-x\.lua:2: ' "$many")" -eq 100 ] &&
   [ "$(tail -1 "$many")" = "and 900 more problems" ]; then
  ok "many-problems: 100 lines, then 'and 900 more problems'"
else
  not_ok "many-problems: 100 lines then the count" "$(tail -2 "$many")"
fi

# promptly due: the same zone rule, the same .ics rule, no waiting.
mkfifo "$tmp/h.ics"
{
  echo '{"calendar": {"tz": ":/etc/passwd"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo '{"calendar": {"tz": "../../../../etc/passwd"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
  echo "{\"calendar\": {\"tz\": \"UTC\", \"ics\": \"$tmp/h.ics\"}, \"start\": \"2026-11-20T17:00:00Z\", \"minutes\": 60}"
  echo '{"calendar": {"tz": "UTC", "ics": "/dev/zero"}, "start": "2026-11-20T17:00:00Z", "minutes": 60}'
} >"$tmp/due.jsonl"
run_bounded "$tmp/due.out" "$tmp/due.err" due --batch "$tmp/due.jsonl"
why=()
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || why+=("killed by timeout")
grep -q "line 1: calendar: tz: unknown time zone ':/etc/passwd'" \
  "$tmp/due.err" || why+=("line 1 not refused: $(cat "$tmp/due.err")")
grep -q "line 2: calendar: tz: unknown time zone '../../../../etc/passwd'" \
  "$tmp/due.err" || why+=("line 2 not refused")
grep -q "line 3: .*h.ics': not a regular file" "$tmp/due.err" ||
  why+=("line 3 (FIFO) not refused")
grep -q "line 4: .*'/dev/zero': not a regular file" "$tmp/due.err" ||
  why+=("line 4 (/dev/zero) not refused")
! grep -q GLib "$tmp/due.err" || why+=("GLib printed")
if [ ${#why[@]} -eq 0 ]; then
  ok "due: zone paths, a FIFO and /dev/zero refused in $secs s"
else
  not_ok "due: zone paths and special files refused" "${why[@]}"
fi

# promptly run: an attribute value with a newline, logged by a rule and
# quoted in the module's own messages, stays on one line.
mkdir "$tmp/logrules"
cat >"$tmp/logrules/10-log.lua" <<'EOF'
levels { "P1", "P2" }
priority { "P1", when = function(t) promptly.warn("subject:", t.subject) return false end }
EOF
printf '%s\n' '{"ticket": 1, "at": "2026-11-20T17:00:00Z", "type": "create", "attrs": {"subject": "hi\npromptly: error: 99-fake.lua:1: forged\u001b[2J", "priority": "P9\npromptly: error: 99-fake.lua:2: forged"}}' \
  >"$tmp/log.jsonl"
run_bounded "$tmp/log.out" "$tmp/log.err" run --rules "$tmp/logrules" \
  --events "$tmp/log.jsonl"
why=()
grep -q 'subject: hi\\npromptly: error: 99-fake.lua:1: forged\\x1b\[2J' \
  "$tmp/log.err" || why+=("the warning is not one escaped line: $(cat "$tmp/log.err")")
if LC_ALL=C grep -aEq '^promptly: error: 99-fake|^99-fake' "$tmp/log.out" "$tmp/log.err"; then
  why+=("a forged line got through: $(cat "$tmp/log.err")")
fi
if LC_ALL=C grep -aq $'\x1b' "$tmp/log.err"; then
  why+=("an escape character reached the log")
fi
if [ ${#why[@]} -eq 0 ]; then
  ok "run: attribute values logged as one escaped line"
else
  not_ok "run: attribute values logged as one line" "${why[@]}"
fi

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count hostile tests failed" >&2
  exit 1
fi
