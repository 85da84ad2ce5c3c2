#!/usr/bin/env python3
"""report_oracle.py - an independent computation of "promptly report"'s
groups, for test_report.sh.

  report_oracle.py gen N SEED FILE   write N random outcome records
  report_oracle.py groups FILE TZ FROM TO   print the expected JSON groups
                                            and total (by metric, priority,
                                            week in TZ) for [FROM, TO)
  report_oracle.py calibrate FILE FROM TO BUFFER   the expected calibration

Written from the definitions of promptly(1), not from the C code:
compliance met / (met + breached), nearest rank ceil(p n / 100), weeks
named by their Monday in the zone, open cycles by their start."""
import datetime as dt
import json
import math
import random
import sys
from zoneinfo import ZoneInfo

OUTCOMES = ["met", "breached", "cancelled", "stopped", "active", "paused"]


def iso(ms):
    t = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    return s + (".%03dZ" % (ms % 1000) if ms % 1000 else "Z")


def parse(s):
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
               .timestamp() * 1000)


def gen(n, seed, path):
    rnd = random.Random(seed)
    t0 = parse("2026-10-20T00:00:00Z")
    with open(path, "w") as f:
        for i in range(n):
            metric = rnd.choice(["first_response", "resolution", "custom"])
            prio = rnd.choice(["P1", "P2", "P3", None])
            target = rnd.choice([None, 1800000, 3600000, 14400000])
            outcome = rnd.choice(OUTCOMES + ["met", "met", "breached"])
            started = t0 + rnd.randrange(0, 40 * 86400000)
            elapsed = rnd.randrange(0, 20000000) // rnd.choice([1, 1000]) * \
                rnd.choice([1, 1000])
            open_ = outcome in ("active", "paused")
            stopped = None if open_ else started + elapsed + rnd.randrange(
                0, 86400000)
            btarget = (target if target is not None else 3600000) \
                if outcome == "breached" else None
            if outcome == "breached" and rnd.random() < 0.3:
                btarget = rnd.choice([600000, 7200000])
            rec = {
                "ticket": rnd.randrange(1, 300), "metric": metric,
                "cycle": rnd.randrange(1, 3),
                "policy": rnd.choice(["gold", "silver"]),
                "calendar": "c", "priority_start": prio,
                "priority_end": prio, "target_ms": target,
                "started": iso(started),
                "stopped": None if stopped is None else iso(stopped),
                "due": None, "outcome": outcome,
                "breached_at": iso(started) if outcome == "breached" else None,
                "breach_policy": "p" if outcome == "breached" else None,
                "breach_target_ms": btarget, "elapsed_ms": elapsed,
                "paused_ms": 0, "customer_wait_ms": 0, "outside_ms": 0,
                "attrs": {}, "exceptions": [], "keys": []}
            f.write(json.dumps(rec) + "\n")


def rank(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[max(1, math.ceil(p * len(v) / 100)) - 1]


def numbers(recs):
    out = {"count": len(recs)}
    for o in OUTCOMES:
        out[o] = sum(1 for r in recs if r["outcome"] == o)
    d = out["met"] + out["breached"]
    out["compliance"] = None if d == 0 else round(out["met"] / d, 6)
    el = [r["elapsed_ms"] for r in recs if r["outcome"] in ("met", "breached")]
    for p in (50, 80, 90, 95):
        out["p%d_ms" % p] = rank(el, p)
    ov = []
    for r in recs:
        if r["outcome"] != "breached":
            continue
        t = r["breach_target_ms"] if r["breach_target_ms"] is not None \
            else r["target_ms"]
        ov.append(0 if t is None else max(0, r["elapsed_ms"] - t))
    out["overrun_median_ms"] = rank(ov, 50)
    out["overrun_max_ms"] = max(ov) if ov else None
    return out


def groups(path, tz, frm, to):
    zone = ZoneInfo(tz)
    frm, to = parse(frm), parse(to)
    recs = [json.loads(line) for line in open(path) if line.strip()]
    sel = []
    for r in recs:
        if r["outcome"] in ("active", "paused"):
            if parse(r["started"]) < to:
                sel.append(r)
        elif frm <= parse(r["stopped"]) < to:
            sel.append(r)
    by = {}
    for r in sel:
        at = parse(r["started"] if r["stopped"] is None else r["stopped"])
        local = dt.datetime.fromtimestamp(at // 1000, zone).date()
        week = (local - dt.timedelta(days=local.weekday())).isoformat()
        by.setdefault((r["metric"], r["priority_start"], week), []).append(r)

    def order(k):
        return tuple((1, "") if x is None else (0, x) for x in k)
    out = []
    for k in sorted(by, key=order):
        g = {"key": {"metric": k[0], "priority": k[1], "week": k[2]}}
        g.update(numbers(by[k]))
        out.append(g)
    print(json.dumps({"groups": out, "total": numbers(sel)},
                     sort_keys=True))


def calibrate(path, frm, to, buffer):
    """Per metric, start priority and policy: the most common target (ties:
    the shorter, best effort last), p80, p80 + buffer% rounded up to 5 min
    (to 1h), 15 min (4h), 30 min (12h), 1h (48h), 4h (7 days), else a day;
    the share at or below it; >= 95% could tighten, < 80% unrealistic."""
    frm, to = parse(frm), parse(to)
    by = {}
    for line in open(path):
        r = json.loads(line)
        if r["outcome"] not in ("met", "breached"):
            continue
        if not frm <= parse(r["stopped"]) < to:
            continue
        k = (r["metric"], r["priority_start"], r["policy"])
        by.setdefault(k, []).append(r)
    M, H, D = 60000, 3600000, 86400000

    def up(ms):
        for limit, step in ((H, 5 * M), (4 * H, 15 * M), (12 * H, 30 * M),
                            (48 * H, H), (7 * D, 4 * H)):
            if ms <= limit:
                break
        else:
            step = D
        return step if ms <= 0 else -(-ms // step) * step

    def order(k):
        return tuple((1, "") if x is None else (0, x) for x in k)
    out = []
    for k in sorted(by, key=order):
        rs = by[k]
        counts = {}
        for r in rs:
            counts[r["target_ms"]] = counts.get(r["target_ms"], 0) + 1
        target = sorted(counts, key=lambda t: (-counts[t], t is None,
                                               t or 0))[0]
        el = [r["elapsed_ms"] for r in rs]
        p80 = rank(el, 80)
        sug = up(p80 + math.ceil(p80 * float(buffer) / 100))
        met = sum(1 for r in rs if r["outcome"] == "met")
        comp = met / len(rs)
        flag = None
        if target is not None:
            flag = "could tighten by 10-15%" if comp >= 0.95 else \
                "unrealistic" if comp < 0.80 else None
        out.append({"metric": k[0], "priority": k[1], "policy": k[2],
                    "target_ms": target, "cycles": len(rs),
                    "compliance": round(comp, 6), "p80_ms": p80,
                    "suggested_ms": sug,
                    "suggested_compliance": round(
                        sum(1 for e in el if e <= sug) / len(rs), 6),
                    "flag": flag})
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "calibrate":
        calibrate(*sys.argv[2:6])
    else:
        groups(*sys.argv[2:6])
