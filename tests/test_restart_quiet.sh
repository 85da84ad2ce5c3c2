#!/bin/bash
# test_restart_quiet.sh - restart without loss (test_restart.sh) on the
# rules of examples/policies/quiet-hours: actions held for quiet hours
# across a restart are carried out once, at their calendar's opening,
# never twice and never lost, whatever the instant of the restart.
# Fewer seeds than test_restart.sh (default 20, 4 under PROMPTLY_WRAP).
set -u
: "${PROMPTLY_SRCDIR:?}"
if [ -n "${PROMPTLY_WRAP:-}" ]; then
  PROMPTLY_RESTARTS=${PROMPTLY_RESTARTS:-4}
else
  PROMPTLY_RESTARTS=${PROMPTLY_RESTARTS:-20}
fi
PROMPTLY_RULES="$PROMPTLY_SRCDIR/examples/policies/quiet-hours"
PROMPTLY_RESTART_HELD=1
export PROMPTLY_RESTARTS PROMPTLY_RULES PROMPTLY_RESTART_HELD
exec bash "$PROMPTLY_SRCDIR/tests/test_restart.sh"
