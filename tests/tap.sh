# tap.sh - the TAP helpers of the CLI test scripts (sourced by
# test_cli.sh, test_scenarios.sh and test_restart.sh, never run), and
# readers of what "promptly run" prints.  Needs PROMPTLY_BIN;
# PROMPTLY_WRAP, if set, is a command that runs the CLI
# ("valgrind -q --error-exitcode=9").  $count and $failed are the tallies.

failed=0
count=0

# The CLI, under $PROMPTLY_WRAP if given (split into words on purpose).
cli() {
  ${PROMPTLY_WRAP:-} "$PROMPTLY_BIN" "$@"
}

ok() {
  count=$((count + 1))
  echo "ok $count - $1"
}

not_ok() {
  count=$((count + 1))
  failed=$((failed + 1))
  echo "not ok $count - $1"
}

# check NAME COMMAND...: pass if the command succeeds.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# same EXPECTED ACTUAL: diff them, showing the difference on failure.
same() {
  diff -u "$1" "$2" >&2
}

# run_cli OUT ERR ARGS...: run the tool; its status goes to $rc.
run_cli() {
  local out=$1 err=$2
  shift 2
  rc=0
  cli "$@" >"$out" 2>"$err" || rc=$?
}

# actions FILE...: the action lines of outputs, in order.
actions() {
  cat "$@" | grep '"action": ' || true
}

# keys FILE...: the idempotency keys of the action lines, in order.
keys() {
  actions "$@" | sed -E 's/.*"key": "([^"]*)"\}$/\1/'
}

# writes FILE...: the write lines, in order.
writes() {
  cat "$@" | grep '"write": ' || true
}

# fields FILE...: what a host that applied every write of the outputs, in
# order, shows in the end: "ticket field value" lines, sorted.  (No value
# in the test inputs holds a double quote.)
fields() {
  writes "$@" |
    sed -E 's/^\{"at": "[^"]*", "ticket": ([0-9]+), "write": \{(.*)\}\}$/\1	\2/' |
    awk -F '\t' '{
      s = $2
      while (match(s, /"[^"]*": "[^"]*"/)) {
        kv = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        n = index(kv, "\": \"")
        last[$1 " " substr(kv, 2, n - 2)] = substr(kv, n + 4, length(kv) - n - 4)
      }
    }
    END { for (k in last) print k, last[k] }' | LC_ALL=C sort
}
