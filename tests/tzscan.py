#!/usr/bin/env python3
"""tzscan.py - the module's openings in every zone of the system's tz
database, 1800-2900, against an independent reader of the same TZif files.

The reference is Python's zoneinfo (CPython's own TZif and POSIX-footer
reader: no GLib, no code of the module).  For every zone, a calendar open
12:00-13:00 local time every day is asked, through `promptly due --batch`,
for the due of 1 business second from instants spread over 1800-2900: mid
January and mid July of years across the range, the years around 2037 (the
end of the explicit transitions in the files), and instants one hour before
and after, and half a day after, each offset change zoneinfo finds in those
years.  The expected due is worked out here from zoneinfo alone: the first
local 12:00-13:00 window (as UTC) not over before the start; the start plus
one second inside it, its opening plus one second before it.

Usage: tzscan.py BIN [STRIDE]   (STRIDE: every Nth zone only; default 1)
Prints TAP-ish lines and exits 1 on any difference."""
import datetime as dt
import json
import os
import subprocess
import sys
import zoneinfo

UTC = dt.timezone.utc
bin_, stride = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
wrap = os.environ.get("PROMPTLY_WRAP", "").split()

zones = sorted(z for z in zoneinfo.available_timezones()
               if not z.startswith(("posix/", "right/")) and z != "Factory")
zones = zones[::stride]
years = sorted(set(list(range(1800, 2900, 61)) +
                   [1970, 2024, 2036, 2037, 2038, 2039, 2050, 2100, 2400,
                    2500, 2899]))


def offset(zi, t):
    return dt.datetime.fromtimestamp(t, UTC).astimezone(zi).utcoffset()


def changes(zi, year):
    """UTC seconds where zi's offset changes within year (daily probes,
    then bisection)."""
    out = []
    t = int(dt.datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(dt.datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    prev = offset(zi, t)
    while t < end:
        n = t + 86400
        o = offset(zi, n)
        if o != prev:
            lo, hi = t, n
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(zi, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            prev = o
        t = n
    return out


def local_noon(zi, day):
    """UTC seconds of 12:00 and 13:00 local on the date day."""
    a = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zi)
    b = dt.datetime(day.year, day.month, day.day, 13, tzinfo=zi)
    return int(a.timestamp()), int(b.timestamp())


def expected(zi, s):
    day = dt.datetime.fromtimestamp(s, UTC).astimezone(zi).date()
    day -= dt.timedelta(days=1)
    for _ in range(5):
        o, c = local_noon(zi, day)
        if o <= s and s + 1 < c:
            return s + 1
        if s < o:
            return o + 1
        day += dt.timedelta(days=1)
    raise RuntimeError("no opening")


def iso(t):
    return dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


lines, want = [], []
hours = {d: [["12:00", "13:00"]] for d in
         ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
for z in zones:
    zi = zoneinfo.ZoneInfo(z)
    starts = set()
    for y in years:
        for m in (1, 7):
            starts.add(int(dt.datetime(y, m, 15, 3, tzinfo=UTC).timestamp()))
        for c in changes(zi, y):
            starts.update((c - 3600, c + 3600, c + 43200))
    for s in sorted(starts):
        if s < int(dt.datetime(1800, 1, 2, tzinfo=UTC).timestamp()) or \
           s > int(dt.datetime(2899, 12, 1, tzinfo=UTC).timestamp()):
            continue
        lines.append(json.dumps({"calendar": {"tz": z, "hours": hours},
                                 "start": iso(s), "seconds": 1}))
        want.append((z, s, expected(zi, s)))

res = subprocess.run(wrap + [bin_, "due", "--batch", "-"],
                     input="\n".join(lines) + "\n", capture_output=True,
                     text=True)
got = res.stdout.splitlines()
if res.returncode != 0 or len(got) != len(want):
    print(f"not ok - promptly due --batch answered {len(got)} of "
          f"{len(want)} lines, exit {res.returncode}: {res.stderr[:400]}")
    sys.exit(1)
bad = {}
for (z, s, e), line in zip(want, got):
    d = json.loads(line).get("due")
    if d != iso(e):
        bad.setdefault(z, []).append(f"start {iso(s)}: due {d}, "
                                     f"zoneinfo says {iso(e)}")
for z in zones:
    if z in bad:
        print(f"not ok - {z}: {len(bad[z])} dues differ")
        for b in bad[z][:3]:
            print(f"    {b}")
print(f"# {len(zones)} zones, {len(want)} dues, {len(bad)} zones differ")
sys.exit(1 if bad else 0)
