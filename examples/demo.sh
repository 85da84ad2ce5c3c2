#!/bin/bash
# Command one of the README: install what is needed, build, and run the
# promptly CLI on the bundled rules and the sample events.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tests/install-deps.sh" build
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p _build/demo
cd _build/demo
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc)" >/dev/null
echo "== promptly run --rules rules --events examples/events.jsonl"
./promptly run --module module/.libs/promptly.so --rules "$top/rules" \
  --events "$top/examples/events.jsonl"
