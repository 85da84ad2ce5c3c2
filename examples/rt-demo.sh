#!/bin/bash
# Run promptly inside Request Tracker 5, on a fresh Debian 12, as root:
# install the build dependencies, build and install promptly and its RT
# binding under /usr/local, then install RT 5 with SQLite (if missing),
# start it on 127.0.0.1 with rt-promptly, and print the URL and login;
# then make it a help desk to try (rt-promptly-setup demo).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tests/install-deps.sh" build
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p _build/rt
cd _build/rt
[ -f Makefile ] || "$top/configure" -q --prefix=/usr/local
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
make -s install-rt >/dev/null
ldconfig
setup=/usr/local/share/promptly/rt/rt-promptly-setup
# RT 5 up with promptly; the shipped business calendar takes RT's
# $Timezone (or PROMPTLY_TZ=Europe/Berlin bash examples/rt-demo.sh).
"$setup" all
# A help desk to try: requestors reply by mail, and one person in each
# group the shipped escalation rules notify (teamlead, manager).
"$setup" demo
"$setup" status
