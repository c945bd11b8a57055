#!/usr/bin/env python3
"""Scaling shapes of fedscope on hostile captures (issue #12): ctest `perf_shapes`.

For every generator of bench/hostile.py, runs `fedscope report FILE --format json -o OUT` at
N and at 10N and measures the child's own CPU time (user + sys) and peak RSS (os.wait4).
Fails when

  * fedscope crashed (killed by a signal) or exited with a status other than 0, 1 or 3, or
    the JSON does not parse;
  * CPU(10N) / CPU(N) > 20 — ten times the input may cost about ten times the CPU. What a
    linear program shows here is 8x-15x, not 10x: sorted maps and growing hash tables are
    n log n (10 * log(10N) / log(N) = 12.7x at N = 5000), and N fits in the caches while 10N
    (hundreds of MB) does not; on this 2-core machine the same binary gave one shape x7.6 and
    x15.3 in two runs. A quadratic step is ~100x and n^1.5 ~32x, so 20 fails them and never a
    linear one; a ratio over 12 is printed as "watch". Each size is measured up to three times
    (the smallest CPU time counts) before a ratio over 20 fails. Ignored when CPU(10N) < 0.3 s
    (too small to tell from noise); CPU(N) counts as at least 0.05 s;
  * the peak RSS grows beyond the shape's bound: for shapes whose state must stay bounded
    ("flat"), RSS(10N) <= RSS(N) + FLAT_SLACK_MB; for the others, what the 9N extra units cost,
    (RSS(10N) - RSS(N)) / 9N, must stay under the shape's KiB-per-unit bound (today's cost
    of the records the report keeps, with headroom; item 2 of #12 makes it smaller);
  * a shape-specific check of the report fails (e.g. time-jump: one far-future packet must
    not keep every flow alive).

Absolute times are never asserted: the machine is shared and noisy. Options: --fedscope PATH,
--scale F (multiplies every N), --only SHAPE[,SHAPE], --keep DIR (keep captures and reports),
--strict (KNOWN_CPU waivers fail too).

KNOWN_CPU names the shapes whose CPU ratio is still over the bound because of work owned
elsewhere in issue #12; their ratio is printed and marked "known", every other check still
applies. Remove an entry when its cause is fixed (the table says whether it would pass).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import hostile  # noqa: E402

CPU_RATIO_MAX = 20.0
CPU_RATIO_WATCH = 12.0
CPU_FLOOR_S = 0.3
CPU_MIN_DENOMINATOR_S = 0.05
FLAT_SLACK_MB = 16.0


def anomaly(report: dict, name: str) -> int:
    a = report.get("anomalies", {})
    if isinstance(a, dict):
        return int(a.get(name, 0))
    for e in a:
        if e.get("name") == name:
            return int(e.get("count", 0))
    return 0


def check_time_jump(n: int, report: dict) -> str:
    # The clock must keep running after the far-future packet: unanswered SYNs close by the
    # attempt timeout (60 s of packet time), so only the last minute's (about 60) are still
    # open at the end; with a frozen clock 18 % of all flows are.
    flows = report.get("flows", [])
    ended = sum(1 for f in flows if f.get("capture_ended"))
    if ended > max(100, n // 20):
        return f"{ended} of {len(flows)} flows still open at the end (clock frozen?)"
    if anomaly(report, "capture.time_outlier") < 1:
        return "capture.time_outlier not counted"
    return ""


def check_ooo(n: int, report: dict) -> str:
    # 10N = 300k pieces on 8 connections: over the per-direction piece limit.
    if n >= 100000 and anomaly(report, "tcp.reassembly_segment_limit") < 1:
        return "tcp.reassembly_segment_limit not counted"
    return ""


def check_dns_txid(n: int, report: dict) -> str:
    if anomaly(report, "dns.duplicate_query_limit") < 1:
        return "dns.duplicate_query_limit not counted"
    return ""


# NAT pairing is indexed now (it kept five shapes quadratic, x46-x136); none is waived.
KNOWN_CPU: dict[str, str] = {}

# shape -> (N, RSS rule, extra check); RSS rule: "flat" or KiB per unit of N (today's cost of
# the records and the JSON DOM the report keeps, with headroom; #12 item 2 lowers it).
# N is large enough that CPU(N) is well above process start-up and timer noise (a ratio over
# a 0.04 s base is mostly noise).
SHAPES = {
    "dns-same-txid": (20000, 4.0, check_dns_txid),
    "icmp-vs-dns": (20000, 4.0, None),
    "syn-flood": (5000, 10.0, None),
    "time-jump": (5000, 12.0, check_time_jump),
    "sll2-ifindex": (10000, 18.0, None),
    "ooo-segments": (30000, "flat", check_ooo),
    "bare-syn": (10000, 18.0, None),
    "xmpp-conns": (2000, 36.0, None),
}


def run_one(fedscope: str, tmp: str, shape: str, n: int) -> tuple[dict, str]:
    cap = os.path.join(tmp, f"{shape}-{n}.pcap")
    out = os.path.join(tmp, f"{shape}-{n}.json")
    packets = hostile.generate(shape, n, cap)
    r = hostile.run_measured([fedscope, "report", cap, "--format", "json", "-o", out])
    r["packets"] = packets
    if r["timed_out"]:
        return r, "timed out"
    if r["status"] < 0:
        return r, f"killed by signal {-r['status']}: {r['stderr'][-500:]}"
    if r["status"] not in (0, 1, 3):
        return r, f"exit status {r['status']}: {r['stderr'][-500:]}"
    try:
        with open(out, encoding="utf-8") as f:
            r["report"] = json.load(f)
    except (OSError, ValueError) as e:
        return r, f"JSON does not parse: {e}"
    return r, ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedscope", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default="")
    ap.add_argument("--strict", action="store_true")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    tmp = a.keep or tempfile.mkdtemp(prefix="fedscope-shapes.")
    os.makedirs(tmp, exist_ok=True)
    failures = []
    known = []
    print(f"{'shape':<14} {'N':>7} {'cpu(N) s':>9} {'cpu(10N) s':>10} {'ratio':>6} "
          f"{'RSS(N) MB':>9} {'RSS(10N) MB':>11} {'KiB/unit':>8}  verdict")
    try:
        for shape, (n0, rss_rule, extra) in SHAPES.items():
            if only and shape not in only:
                continue
            n = max(8, int(n0 * a.scale))
            problems = []
            small, err1 = run_one(a.fedscope, tmp, shape, n)
            big, err2 = run_one(a.fedscope, tmp, shape, 10 * n)
            # A machine shared with other jobs: over the bound, measure both sizes again (up to
            # twice) and keep each size's smallest CPU time (a real shape fails every time).
            for _ in range(2):
                if (err1 or err2 or big["cpu"] < CPU_FLOOR_S or
                        big["cpu"] / max(small["cpu"], CPU_MIN_DENOMINATOR_S) <= CPU_RATIO_MAX):
                    break
                s2, e1 = run_one(a.fedscope, tmp, shape, n)
                b2, e2 = run_one(a.fedscope, tmp, shape, 10 * n)
                if not e1 and not e2:
                    small["cpu"] = min(small["cpu"], s2["cpu"])
                    big["cpu"] = min(big["cpu"], b2["cpu"])
            for size, err in ((n, err1), (10 * n, err2)):
                if err:
                    problems.append(f"N={size}: {err}")
            ratio = big["cpu"] / max(small["cpu"], CPU_MIN_DENOMINATOR_S)
            waived = ""
            if big["cpu"] >= CPU_FLOOR_S and ratio > CPU_RATIO_MAX:
                msg = f"CPU x{ratio:.1f} for x10 input (> {CPU_RATIO_MAX:g})"
                if shape in KNOWN_CPU and not a.strict:
                    waived = f"{msg}: known, {KNOWN_CPU[shape]}"
                else:
                    problems.append(msg)
            rss1, rss10 = small["rss_kib"] / 1024, big["rss_kib"] / 1024
            per_unit = (big["rss_kib"] - small["rss_kib"]) / (9 * n)
            if rss_rule == "flat":
                if rss10 > rss1 + FLAT_SLACK_MB:
                    problems.append(f"RSS grew {rss1:.1f} -> {rss10:.1f} MB (bounded state "
                                    f"may grow {FLAT_SLACK_MB:g} MB at most)")
            elif per_unit > rss_rule:
                problems.append(f"RSS {per_unit:.1f} KiB per unit (bound {rss_rule:g})")
            if extra and not err1 and not err2:
                for size, r in ((n, small), (10 * n, big)):
                    msg = extra(size, r["report"])
                    if msg:
                        problems.append(f"N={size}: {msg}")
            verdict = ("FAIL" if problems else "known" if waived else
                       "watch" if big["cpu"] >= CPU_FLOOR_S and ratio > CPU_RATIO_WATCH else "ok")
            print(f"{shape:<14} {n:>7} {small['cpu']:>9.2f} {big['cpu']:>10.2f} {ratio:>6.1f} "
                  f"{rss1:>9.1f} {rss10:>11.1f} {per_unit:>8.2f}  {verdict}", flush=True)
            for p in problems:
                print(f"    {shape}: {p}", flush=True)
                failures.append(f"{shape}: {p}")
            if waived:
                print(f"    {shape}: {waived}", flush=True)
                known.append(shape)
            for size in (n, 10 * n):
                if not a.keep:
                    for ext in ("pcap", "json"):
                        path = os.path.join(tmp, f"{shape}-{size}.{ext}")
                        if os.path.exists(path):
                            os.unlink(path)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} problem(s)")
        return 1
    if known:
        print(f"all shapes pass; CPU ratio waived for {', '.join(known)} (KNOWN_CPU)")
    else:
        print("all shapes scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
