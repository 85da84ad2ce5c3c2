#!/bin/bash
# Command two of the README, and what CI runs: the whole test suite.
#  1. gcc, -Wall -Wextra -Werror: make check and make distcheck
#  2. clang, -Werror: make check
#  3. AddressSanitizer + UndefinedBehaviorSanitizer: make check
#  4. valgrind (memcheck, leaks) over the gcc build: make check
#  4b. make fuzz-smoke (libFuzzer harnesses, a few seconds each)
#  5. make install; the RT 5 end-to-end tests (tests/e2e) on SQLite,
#     PostgreSQL and MariaDB, and tests/e2e/backends.sh; make install-rt
#     (the daemon checks the installed rules, systemd-analyze verifies the
#     unit); make distcheck
# It installs what it needs (Debian 12, as root) and ends with one line
# "N passed, N failed" over all runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tests/install-deps.sh" test
cd "$top"
autoreconf -fi >/dev/null 2>&1
jobs=$(nproc)
out=$top/_build
mkdir -p "$out"
passed=0
failed=0

tally() {  # sum the automake results of one build dir
  local dir=$1 p f
  p=$(cat "$dir"/tests/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
  f=$(cat "$dir"/tests/*.trs 2>/dev/null | grep -Ec '^:test-result: (FAIL|ERROR|XPASS)' || true)
  passed=$((passed + p))
  failed=$((failed + f))
}

check() {  # check NAME [configure args...] -- [make check args...]
  local name=$1; shift
  local conf=() mk=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do conf+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mk=("$@")
  local dir=$out/$name
  echo "== $name: configure ${conf[*]}"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && "$top/configure" -q --enable-werror "${conf[@]}" &&
     make -s -j"$jobs" && make -s -j"$jobs" check "${mk[@]}") ||
    { cat "$dir"/test-suite.log 2>/dev/null | tail -80; tally "$dir";
      failed=$((failed + 1)); return 1; }
  tally "$dir"
}

status=0
check gcc CC=gcc CFLAGS="-g -O2" || status=1
check clang CC=clang CFLAGS="-g -O2 -gdwarf-4" || status=1
check asan CC=gcc \
  CFLAGS="-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
  LDFLAGS="-fsanitize=address,undefined" \
  -- ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 || status=1
# valgrind: the unit and ABI tests under memcheck, and the CLI tests with
# the CLI under memcheck.  The property test runs fewer random cases here
# (it ran its full count in the builds above).
check valgrind CC=gcc CFLAGS="-g -O1" -- \
  LOG_COMPILER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9" \
  PROMPTLY_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9" \
  PROMPTLY_PROPERTY_CASES=1000 PROMPTLY_TEST_SCALE=10 || status=1

# libFuzzer harnesses (clang, ASan + UBSan): a few seconds each on seeds
# from the fixtures.  The long run is in README ("Fuzzing").
echo "== make fuzz-smoke"
if (cd "$out/clang" && make -s fuzz-smoke >"$out/fuzz.log" 2>&1); then
  passed=$((passed + 1))
  grep -E '^(ok|not ok) ' "$out/fuzz.log" || true
else
  tail -60 "$out/fuzz.log"
  failed=$((failed + 1)); status=1
fi

echo "== make install"
stage=$out/stage
rm -rf "$stage"
if (cd "$out/gcc" && make -s install DESTDIR="$stage" >"$out/install.log" 2>&1) &&
   test -x "$stage/usr/local/lib/promptly/promptly.so" &&
   ! test -e "$stage/usr/local/lib/promptly/promptly.la" &&
   test -x "$stage/usr/local/bin/promptly" &&
   test -f "$stage/usr/local/include/promptly.h" &&
   test -f "$stage/usr/local/lib/pkgconfig/promptly.pc" &&
   test -f "$stage/usr/local/share/promptly/rules/10-priority.lua" &&
   test -f "$stage/usr/local/share/man/man5/promptly-rules.5" &&
   test -f "$stage/usr/local/share/man/man1/promptly.1" &&
   "$stage/usr/local/bin/promptly" --module \
     "$stage/usr/local/lib/promptly/promptly.so" check \
     "$stage/usr/local/share/promptly/rules"; then
  passed=$((passed + 1))
else
  echo "make install: files missing or the installed rules do not check"
  ls -R "$stage" | head -40
  failed=$((failed + 1)); status=1
fi

# End to end against the real host: RT 5 (installed if missing, started on
# 127.0.0.1 with its own SQLite file) with the gcc build's promptly.so.
echo "== RT 5 end to end"
if PROMPTLY_SO="$out/gcc/module/.libs/promptly.so" \
     bash "$top/tests/e2e/run-rt-e2e.sh" >"$out/e2e.log" 2>&1; then e2e=0; else e2e=1; fi
grep -E '^(== e2e:|PASS:|FAIL:|SKIP:)' "$out/e2e.log" || true
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/e2e.log" | tail -1)
if [ -n "$line" ]; then
  passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
  failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
fi
if [ "$e2e" -ne 0 ] || [ -z "$line" ]; then
  tail -40 "$out/e2e.log"
  [ -n "$line" ] || failed=$((failed + 1))
  status=1
fi

# The same on RT with PostgreSQL and MariaDB (servers the tests start on
# 127.0.0.1 with their own data), then what only happens there:
# transactions committing out of id order under load, held open, the
# database stopped, two daemons (tests/e2e/backends.sh).
echo "== RT 5 on PostgreSQL and MariaDB"
for run in "pg run-rt-e2e.sh" "mysql run-rt-e2e.sh" "- backends.sh pg mysql"; do
  db=${run%% *} cmd=${run#* }
  log=$out/e2e-$db-${cmd%%.sh*}.log
  echo "-- ${run#- }"
  # shellcheck disable=SC2086
  if E2E_DB=$([ "$db" = - ] && echo sqlite || echo "$db") \
     PROMPTLY_SO="$out/gcc/module/.libs/promptly.so" \
       bash "$top/tests/e2e/"$cmd >"$log" 2>&1 </dev/null; then rc=0; else rc=1; fi
  grep -E '^(== e2e:|== backend|PASS:|FAIL:|SKIP:)' "$log" || true
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
  fi
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    tail -40 "$log"
    [ -n "$line" ] || failed=$((failed + 1))
    status=1
  fi
done

# The RT binding as "make install-rt" lays it out, after the e2e installed
# RT (rt-promptly needs FFI::Platypus): the installed daemon finds the
# installed module by default and checks the installed rules, and the
# systemd unit verifies (pointed at the staged daemon: no systemd runs here).
echo "== make install-rt"
unit=$stage/usr/local/lib/systemd/system/rt-promptly.service
if (cd "$out/gcc" && make -s install-rt DESTDIR="$stage" >>"$out/install.log" 2>&1) &&
   test -x "$stage/usr/local/sbin/rt-promptly" &&
   test -f "$stage/usr/local/share/promptly/rt/promptly-initialdata" &&
   test -x "$stage/usr/local/share/promptly/rt/rt-promptly-setup" &&
   test -f "$stage/usr/local/share/man/man8/rt-promptly.8" &&
   test -f "$stage/usr/local/share/man/man8/rt-promptly-setup.8" &&
   grep -q "^my \$DEFAULT_MODULE = '/usr/local/lib/promptly/promptly.so';" \
     "$stage/usr/local/sbin/rt-promptly" &&
   grep -q '^ExecStart=/usr/local/sbin/rt-promptly ' "$unit" &&
   perl "$stage/usr/local/sbin/rt-promptly" --check \
     --module "$stage/usr/local/lib/promptly/promptly.so" \
     --rules "$stage/usr/local/share/promptly/rules" >>"$out/install.log" 2>&1 &&
   sed "s|^ExecStart=/usr/local/|ExecStart=$stage/usr/local/|" "$unit" \
     >"$out/rt-promptly.service" &&
   systemd-analyze verify "$out/rt-promptly.service" >>"$out/install.log" 2>&1; then
  passed=$((passed + 1))
else
  echo "make install-rt: files missing, the daemon does not check the rules, or the unit does not verify"
  tail -20 "$out/install.log"
  failed=$((failed + 1)); status=1
fi

echo "== distcheck"
(cd "$out/gcc" && make -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
   >"$out/distcheck.log" 2>&1) && passed=$((passed + 1)) ||
  { tail -60 "$out/distcheck.log"; failed=$((failed + 1)); status=1; }

echo "$passed passed, $failed failed"
exit $status
