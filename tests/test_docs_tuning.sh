#!/bin/bash
# test_docs_tuning.sh - the examples of "Rule tests" and "Tuning your
# rules" in rules/README.md, run as written, and the same examples in
# promptly-rules(5).  Each example follows a marker comment:
#   <!-- example case -->        a test case: passes on the shipped rules
#   <!-- example lines -->       each line alone is a clean test file
#   <!-- example file PATH -->   the block is the content of PATH
#   <!-- example line PATH N --> the block replaces line N of PATH
#   <!-- example run -->         "$ command" lines, each followed by lines
#                                its output (stdout and stderr) must have,
#                                in that order
# Commands run in a scratch folder holding rules.d (the shipped rules,
# with their tests) and last-month.jsonl (tests/fixtures/tune).
#
# Environment (set by "make check"): PROMPTLY_BIN, PROMPTLY_MODULE,
# PROMPTLY_RULES, PROMPTLY_SRCDIR; PROMPTLY_WRAP as in tap.sh.
set -eu

: "${PROMPTLY_BIN:?}" "${PROMPTLY_MODULE:?}" "${PROMPTLY_SRCDIR:?}" \
  "${PROMPTLY_RULES:?}"
export PROMPTLY_MODULE PROMPTLY_BIN
readme="$PROMPTLY_SRCDIR/rules/README.md"
man="$PROMPTLY_SRCDIR/rules/promptly-rules.5"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_docs_tuning.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

# shellcheck source=tap.sh
. "$PROMPTLY_SRCDIR/tests/tap.sh"

mkdir "$tmp/work" "$tmp/bin"
cp -R "$PROMPTLY_RULES" "$tmp/work/rules.d"
cp "$PROMPTLY_SRCDIR/tests/fixtures/tune/history.jsonl" \
  "$tmp/work/last-month.jsonl"
printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${PROMPTLY_WRAP:-}" \
  "$PROMPTLY_BIN" >"$tmp/bin/promptly"
chmod +x "$tmp/bin/promptly"

# A folder of the shipped rules without their tests.
bare() {
  rm -rf "$tmp/bare"
  mkdir "$tmp/bare"
  cp "$PROMPTLY_RULES"/*.lua "$tmp/bare/"
  rm -f "$tmp/bare"/*.test.lua
}

# in_order EXPECTED ACTUAL: every line of EXPECTED is in ACTUAL, in order.
in_order() {
  awk 'BEGIN { n = 0; i = 0 }
       NR == FNR { want[n++] = $0; next }
       i < n && $0 == want[i] { i++ }
       END { if (i < n) { print "missing: " want[i] > "/dev/stderr"; exit 1 } }' \
    "$1" "$2"
}

# unroff: the text a man page's example lines stand for.
unroff() {
  sed -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g' \
    -e 's/\\&//g' "$1"
}
unroff "$man" >"$tmp/man.txt"

run_block() {  # the lines of a run block, in $tmp/block
  local cmd="" n=0
  : >"$tmp/want"
  flush() {
    if [ -n "$cmd" ]; then
      n=$((n + 1))
      (cd "$tmp/work" && PATH="$tmp/bin:$PATH" bash -c "$cmd") \
        >"$tmp/got" 2>&1 || true
      check "README: \`$cmd\` prints what the README shows" \
        in_order "$tmp/want" "$tmp/got"
    fi
    : >"$tmp/want"
  }
  while IFS= read -r l; do
    if [ "${l#\$ }" != "$l" ]; then
      flush
      cmd=${l#\$ }
    elif [ -n "$l" ]; then
      printf '%s\n' "$l" >>"$tmp/want"
    fi
  done <"$tmp/block"
  flush
}

examples=0
do_block() {  # KIND ARGS...
  examples=$((examples + 1))
  check "promptly-rules(5) has README example $examples ($1)" \
    in_order <(grep -v '^$' "$tmp/block") "$tmp/man.txt"
  case $1 in
  case)
    bare
    cp "$tmp/block" "$tmp/bare/90-doc.test.lua"
    run_cli "$tmp/o" "$tmp/e" test "$tmp/bare"
    check "README: the example case passes on the shipped rules" \
      grep -qx 'promptly test: 1 case passed' "$tmp/e"
    ;;
  lines)
    while IFS= read -r l; do
      [ -n "$l" ] || continue
      bare
      printf '%s\n' "$l" >"$tmp/bare/90-doc.test.lua"
      run_cli "$tmp/o" "$tmp/e" test "$tmp/bare"
      check "README: '$l' is a clean test file" test "$rc" -eq 0
    done <"$tmp/block"
    ;;
  file) cp "$tmp/block" "$tmp/work/$2" ;;
  line)
    check "README: line $3 of $2 exists" test "$(wc -l <"$tmp/work/$2")" -ge "$3"
    awk -v n="$3" -v f="$tmp/block" \
      'NR == n { while ((getline l < f) > 0) if (l != "") print l; next } { print }' \
      "$tmp/work/$2" >"$tmp/edited"
    cp "$tmp/edited" "$tmp/work/$2"
    ;;
  run) run_block ;;
  esac
}

kind=""
: >"$tmp/block"
while IFS= read -r line || [ -n "$line" ]; do
  if [ -n "$kind" ]; then
    if [ -z "$line" ] || [ "${line:0:4}" = "    " ]; then
      printf '%s\n' "${line#    }" >>"$tmp/block"
      continue
    fi
    # shellcheck disable=SC2086
    do_block $kind
    kind=""
    : >"$tmp/block"
  fi
  if [[ $line =~ ^\<\!--\ example\ (.*)\ --\>$ ]]; then
    kind=${BASH_REMATCH[1]}
  fi
done <"$readme"
if [ -n "$kind" ]; then
  # shellcheck disable=SC2086
  do_block $kind
fi
check "README: the examples were found" test "$examples" -ge 10

# promptly(1)'s example of the three commands, on the folders the walk
# through above left (rules.d with the new test, rules.new), each exit 0.
unroff "$PROMPTLY_SRCDIR/module/hosts/cli/promptly.1" |
  sed -n '/^Run the rule tests, ask why/,/^\.fi/p' | sed '1,4d;$d' |
  sed -e :a -e '/\\$/N; s/\\\n//; ta' |
  sed -e 's|/etc/promptly/rules.d|rules.d|g' >"$tmp/man1"
check "promptly(1): three example commands" test "$(wc -l <"$tmp/man1")" -eq 3
while IFS= read -r cmd; do
  rc=0
  (cd "$tmp/work" && PATH="$tmp/bin:$PATH" bash -c "$cmd") >"$tmp/got" 2>&1 ||
    rc=$?
  check "promptly(1): \`$cmd\` exits 0" test "$rc" -eq 0
done <"$tmp/man1"

echo "1..$count"
if [ "$failed" -ne 0 ]; then
  echo "$failed of $count doc tests failed" >&2
  exit 1
fi
