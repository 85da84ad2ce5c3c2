#!/bin/bash
# test_tzscan.sh - every zone of the system's tz database, 1800-2900: the
# module's openings against Python's zoneinfo (tests/tzscan.py says how).
# PROMPTLY_TEST_SCALE=N (the valgrind build) checks every Nth zone.
set -u
bin=${PROMPTLY_BIN:?PROMPTLY_BIN is not set}
export PROMPTLY_MODULE=${PROMPTLY_MODULE:?PROMPTLY_MODULE is not set}
src=${PROMPTLY_SRCDIR:?PROMPTLY_SRCDIR is not set}
command -v python3 >/dev/null ||
  { echo "not ok - python3 is missing (tests/install-deps.sh test installs it)"; exit 1; }
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Europe/Dublin")' ||
  { echo "not ok - Python's zoneinfo cannot read the system's tz database"; exit 1; }
python3 "$src/tests/tzscan.py" "$bin" "${PROMPTLY_TEST_SCALE:-1}"
