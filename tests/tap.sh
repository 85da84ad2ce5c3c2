# tap.sh - the TAP helpers of the CLI test scripts (sourced by
# test_cli.sh and test_scenarios.sh, never run).  Needs PROMPTLY_BIN;
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
