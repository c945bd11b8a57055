#!/usr/bin/env python3
"""Cross-check fedscope's counts against tshark on the same captures, so the tests do not
confirm themselves: frames read, distinct TCP connections (address/port pairs), answered DNS
questions and their answer counts, and TCP retransmissions (single-vantage files only: in a
`tcpdump -i any` capture tshark takes the second sighting of a forwarded packet for a
retransmission, which fedscope deliberately does not). Prints 'N passed, N failed'."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def tshark(path, fields, display_filter=None):
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return [line.split("\t") for line in p.stdout.splitlines() if line.strip()]


def endpoint(addr, port):
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedscope", required=True)
    a = ap.parse_args()
    files = sorted(ROOT.glob("pcaps/core/*/*.pcap")) + [
        ROOT / "pcaps/corner" / n for n in
        ["sll1-healthy.pcap", "sll2-healthy.pcap", "vlan.pcap", "qinq.pcap", "raw-ip.pcap",
         "ipv6-healthy.pcap", "pcapng-single.pcapng", "tcp-out-of-order.pcap", "ip-options.pcap",
         "ipv4-fragments.pcap", "dns-tcp-split.pcap", "icmp-unreachable.pcap"]]
    for f in files:
        rel = f.relative_to(ROOT)
        p = subprocess.run([a.fedscope, "report", str(rel), "--format", "json"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        rep = json.loads(p.stdout)
        frames = tshark(f, ["frame.number"])
        check(rep["capture"]["packets"] == len(frames),
              f"{rel}: frames {rep['capture']['packets']} vs tshark {len(frames)}")

        rows = tshark(f, ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"],
                      "tcp && !icmp && !icmpv6")
        theirs = set()
        for r in rows:
            src = r[0] or r[1]
            dst = r[3] or r[4]
            theirs.add(frozenset([endpoint(src, r[2]), endpoint(dst, r[5])]))
        ours = set()
        for fl in rep["flows"]:
            for leg in fl["legs"]:
                ours.add(frozenset([leg["client"], leg["server"]]))
        check(ours == theirs, f"{rel}: TCP address/port pairs differ: ours-only {ours - theirs}, "
                              f"tshark-only {theirs - ours}")

        rows = tshark(f, ["dns.id", "dns.qry.name", "dns.count.answers"],
                      "dns.flags.response == 1 && !icmp")
        theirs = {}
        for r in rows:
            theirs[(int(r[0], 16) if r[0].startswith("0x") else int(r[0]), r[1].lower())] = int(r[2] or 0)
        ours = {(d["txid"], d["query"]): len(d["answers"]) for d in rep["dns"] if d["answered"]}
        check(ours == theirs, f"{rel}: answered DNS questions/answer counts differ: {ours} vs {theirs}")

        single = len(rep["capture"]["files"]) == 1 and rep["capture"]["files"][0]["linktype"] != "LINUX_SLL2"
        if single:
            rt = tshark(f, ["frame.number"], "tcp.analysis.retransmission")
            mine = sum(fl["retransmissions"] for fl in rep["flows"])
            check(mine == len(rt), f"{rel}: retransmissions {mine} vs tshark {len(rt)}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
