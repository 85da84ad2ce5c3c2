#!/bin/bash
# test_man.sh - the man pages say what the programs do, and format cleanly.
#   1. every man page formats without a groff warning (groff -man -ww);
#   2. rt-promptly(8): every option rt-promptly's GetOptions accepts has
#      an entry under OPTIONS, and every option named anywhere in the page
#      is one it accepts;
#   3. rt-promptly-setup(8): every command of its main() has an entry
#      under COMMANDS and every entry is a command; every environment
#      variable it reads (${NAME:-...}) has an entry under ENVIRONMENT;
#   4. the example command lines of both pages use only options and
#      commands the programs accept; rt-promptly's --check example runs
#      here on the shipped rules (and on a broken file), its
#      --export-records one against a real RT in tests/e2e/run-rt-e2e.sh.
# Needs groff (Debian's groff-base) and FFI::Platypus (libffi-platypus-perl),
# both from tests/install-deps.sh test.
set -u
. "$(dirname "$0")/tap.sh"
SRC=${srcdir:-$(dirname "$0")/..}
RT=$SRC/module/hosts/rt
MANS=("$SRC/module/hosts/cli/promptly.1" "$SRC/rules/promptly-rules.5"
      "$RT/rt-promptly.8" "$RT/rt-promptly-setup.8")

if ! command -v groff >/dev/null; then
  not_ok "groff is not installed (Debian package groff-base): the man pages cannot be checked"
  echo "1..$count"; exit 1
fi

# 1. groff warnings.
for m in "${MANS[@]}"; do
  w=$(groff -man -ww -z "$m" 2>&1)
  if [[ -z "$w" ]]; then ok "$(basename "$m") formats without warnings"
  else not_ok "$(basename "$m"): $(head -3 <<<"$w" | tr '\n' ' ')"; fi
done

# A section of a man page, from ".SH NAME" to the next .SH.
section() { awk -v s="$2" '/^\.SH /{on = ($0 == ".SH " s)} on' "$1"; }
# Long options named in troff text: \-\-name -> name.
options_in() { grep -o '\\-\\-[a-z][a-z\\-]*' | sed 's/\\-/-/g; s/^--//; s/-$//' | sort -u; }

# 2. rt-promptly's options.
accepted=$(perl -0ne 'print "$1\n" while /GetOptions\(\\%OPT,(.*?)\)/sg' "$RT/rt-promptly" |
           grep -o "'[a-z-]*[=:]*[a-z]*'" | tr -d "'" | sed 's/[=:].*//' | sort -u)
[[ $(wc -l <<<"$accepted") -ge 10 ]] || not_ok "could not read rt-promptly's GetOptions ($accepted)"
described=$(section "$RT/rt-promptly.8" OPTIONS | grep -A1 '^\.TP' |
            grep '^\.BI\? ' | options_in)
named=$(grep -v 'promptly report' "$RT/rt-promptly.8" | options_in)
missing=$(comm -23 <(echo "$accepted") <(echo "$described"))
unknown=$(comm -13 <(echo "$accepted") <(echo "$named"))
if [[ -z "$missing" ]]; then ok "rt-promptly(8) describes all $(wc -l <<<"$accepted") options of rt-promptly"
else not_ok "rt-promptly(8) lacks an entry for: $(tr '\n' ' ' <<<"$missing")"; fi
if [[ -z "$unknown" ]]; then ok "rt-promptly(8) names no option rt-promptly refuses"
else not_ok "rt-promptly(8) names options rt-promptly does not accept: $(tr '\n' ' ' <<<"$unknown")"; fi

# 3. rt-promptly-setup's commands and environment.
cmds=$(sed -n '/^main() {/,/^}/p' "$RT/rt-promptly-setup" |
       grep -oE '^    [a-z]+\)' | tr -d ' )' | sort -u)
entries=$(section "$RT/rt-promptly-setup.8" COMMANDS | grep -A1 '^\.TP' |
          grep -oE '^\.BI? "?[a-z]+' | sed 's/^\.BI\? "\?//' | sort -u)
if [[ -n "$cmds" && "$cmds" == "$entries" ]]; then
  ok "rt-promptly-setup(8) has an entry for each command: $(tr '\n' ' ' <<<"$cmds")"
else
  not_ok "rt-promptly-setup commands '$(tr '\n' ' ' <<<"$cmds")', man page entries '$(tr '\n' ' ' <<<"$entries")'"
fi
vars=$(grep -oE '\$\{[A-Z_]+:?-' "$RT/rt-promptly-setup" | sed 's/^\${//; s/:\?-$//' | sort -u)
envs=$(section "$RT/rt-promptly-setup.8" ENVIRONMENT | grep -oE '^\.B [A-Z_]+' | sed 's/^\.B //' | sort -u)
missing=$(comm -23 <(echo "$vars") <(echo "$envs"))
if [[ -n "$vars" && -z "$missing" ]]; then
  ok "rt-promptly-setup(8) describes all $(wc -l <<<"$vars") environment variables it reads"
else
  not_ok "rt-promptly-setup(8) lacks ENVIRONMENT entries for: $(tr '\n' ' ' <<<"$missing")"
fi

# 4. The examples.
examples() { section "$1" EXAMPLES | sed -n '/^\.EX/,/^\.EE/p' | grep -v '^\.E[XE]'; }
bad=
while read -r line; do
  [[ "$line" == rt-promptly\ * ]] || continue
  for o in $(grep -oE -- '--[a-z-]+' <<<"${line%%|*}" | sed 's/^--//'); do
    grep -qx -- "$o" <<<"$accepted" || bad+=" '$o' in '$line';"
  done
done < <(examples "$RT/rt-promptly.8")
while read -r line; do
  [[ "$line" =~ (^|[[:space:]])rt-promptly-setup([[:space:]]+([a-z]+))? ]] || continue
  c=${BASH_REMATCH[3]:-all}
  grep -qx -- "$c" <<<"$cmds" || bad+=" command '$c' in '$line';"
done < <(examples "$RT/rt-promptly-setup.8")
# rt-promptly(8)'s --check example runs here, on the shipped rules and the
# built module (the --export-records one needs RT: run-rt-e2e.sh runs it).
ex=$(examples "$RT/rt-promptly.8" | grep '^rt-promptly --check')
# A module built with AddressSanitizer needs its runtime first in perl's
# process (perl is not built with it); perl's own leaks are not ours.
san_preload=
if ldd "${PROMPTLY_MODULE:-/nonexistent}" 2>/dev/null | grep -q libasan; then
  san_preload=$(gcc -print-file-name=libasan.so)
fi
run_perl() {
  if [[ -n "$san_preload" ]]; then
    LD_PRELOAD=$san_preload ASAN_OPTIONS=detect_leaks=0 perl "$@"
  else
    perl "$@"
  fi
}
export -f run_perl
export san_preload
if ! perl -MFFI::Platypus -e1 2>/dev/null; then
  not_ok "FFI::Platypus is not installed (Debian package libffi-platypus-perl): rt-promptly cannot run"
elif [[ -z "$ex" ]]; then
  not_ok "rt-promptly(8) has no --check example"
else
  ex=${ex//\/etc\/promptly\/rules.d/${PROMPTLY_RULES:-$SRC/rules}}
  out=$(bash -c "rt-promptly() { run_perl '$RT/rt-promptly' --module '${PROMPTLY_MODULE:-}' \"\$@\"; }; $ex" 2>&1)
  rc=$?
  if [[ $rc -eq 0 && "$out" == *"rules are clean"* ]]; then ok "rt-promptly(8)'s example '$ex' exits 0: the shipped rules are clean"
  else not_ok "rt-promptly(8)'s example '$ex': exit $rc, $(tail -2 <<<"$out" | tr '\n' ' ')"; fi
  # The same command on a broken rules folder says where and exits 1.
  bad_dir=$(mktemp -d); printf 'priority {\n' >"$bad_dir/10-broken.lua"
  out=$(run_perl "$RT/rt-promptly" --module "${PROMPTLY_MODULE:-}" --check --rules "$bad_dir" 2>&1)
  rc=$?; rm -rf "$bad_dir"
  if [[ $rc -eq 1 && "$out" == *"10-broken.lua:"[0-9]* ]]; then ok "rt-promptly --check on a broken file exits 1 and names 10-broken.lua:LINE"
  else not_ok "rt-promptly --check on a broken file: exit $rc, $(tail -2 <<<"$out" | tr '\n' ' ')"; fi
fi

n_ex=$( (examples "$RT/rt-promptly.8"; examples "$RT/rt-promptly-setup.8") | grep -c 'rt-promptly')
if [[ -z "$bad" && $n_ex -ge 4 ]]; then ok "the $n_ex example command lines use only accepted options and commands"
else not_ok "examples:$bad (found $n_ex)"; fi

echo "1..$count"
[[ $failed -eq 0 ]] || { echo "$failed of $count man page checks failed" >&2; exit 1; }
