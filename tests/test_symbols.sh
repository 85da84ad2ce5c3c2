#!/bin/bash
# The module exports exactly the symbols listed in module/promptly.sym.
set -eu
so=${PROMPTLY_SO:?}
sym=${PROMPTLY_SRCDIR:?}/module/promptly.sym
want=$(grep -v '^#' "$sym" | sort)
got=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort)
if [ "$want" != "$got" ]; then
  echo "exported symbols differ from $sym (< listed, > exported):"
  diff <(echo "$want") <(echo "$got") 2>/dev/null ||
    { echo "listed:"; echo "$want"; echo "exported:"; echo "$got"; }
  exit 1
fi
echo "promptly.so exports exactly the $(echo "$want" | wc -l) listed symbols"
