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
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402



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
        # One tshark pass per file (tshark's start-up dominates on small files).
        rows = tshark(f, ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
                          "tcp.dstport", "icmp.type", "icmpv6.type", "dns.flags.response", "dns.id",
                          "dns.qry.name", "dns.count.answers", "tcp.analysis.retransmission"])
        check(rep["capture"]["packets"] == len(rows),
              f"{rel}: frames {rep['capture']['packets']} vs tshark {len(rows)}")
        pairs, answers, retrans = set(), {}, 0
        for r in rows:
            r += [""] * (14 - len(r))
            icmp = r[7] or r[8]
            # Fields of the packet quoted inside an ICMP error come out too: skip those packets.
            if r[3] and not icmp:
                src = (r[1] or r[2]).split(",")[0]
                dst = (r[4] or r[5]).split(",")[0]
                pairs.add(frozenset([endpoint(src, r[3]), endpoint(dst, r[6])]))
            if r[9] in ("1", "True") and not icmp:
                txid = int(r[10], 16) if r[10].startswith("0x") else int(r[10])
                answers[(txid, r[11].lower())] = int(r[12] or 0)
            if r[13]:
                retrans += 1
        ours = {frozenset([leg["client"], leg["server"]]) for fl in rep["flows"] for leg in fl["legs"]}
        check(ours == pairs, f"{rel}: TCP address/port pairs differ: ours-only {ours - pairs}, "
                             f"tshark-only {pairs - ours}")
        mine = {(d["txid"], d["query"]): len(d["answers"]) for d in rep["dns"] if d["answered"]}
        check(mine == answers, f"{rel}: answered DNS questions/answer counts differ: {mine} vs {answers}")
        single = len(rep["capture"]["files"]) == 1 and rep["capture"]["files"][0]["linktype"] != "LINUX_SLL2"
        if single:
            n = sum(fl["retransmissions"] for fl in rep["flows"])
            check(n == retrans, f"{rel}: retransmissions {n} vs tshark {retrans}")
    finish()


if __name__ == "__main__":
    main()
