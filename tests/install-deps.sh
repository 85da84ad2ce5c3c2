#!/bin/bash
# Install, from Debian 12's packages, what promptly needs to build and to
# run its tests.  Idempotent: apt is asked only for what is missing.
#   tests/install-deps.sh build   # build the module and the CLI
#   tests/install-deps.sh test    # also compilers, checkers, benchmarks
set -euo pipefail
what=${1:-build}

pkgs=(build-essential autoconf automake libtool pkg-config
      libuv1-dev liblua5.4-dev libglib2.0-dev libical-dev libjansson-dev
      libcmocka-dev tzdata)
if [ "$what" = test ]; then
  # libclang-rt-14-dev: libFuzzer and the sanitizer runtimes for make fuzz.
  pkgs+=(clang libclang-rt-14-dev valgrind binutils libbusiness-hours-perl
         perl systemd python3 jq groff-base libffi-platypus-perl
         postgresql libdbd-pg-perl mariadb-server mariadb-client libdbd-mysql-perl)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
