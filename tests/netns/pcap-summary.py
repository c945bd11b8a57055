#!/usr/bin/env python3
"""Factual per-capture summary for the fedscope netns captures (uses tshark).

usage: pcap-summary.py [--ifmap 2=outside,3=inside] [--count] FILE...
  --ifmap   names for the LINUX_SLL2 interface indexes of a `tcpdump -i any` file
  --count   print only the packet count of each FILE (no tshark needed)

For each file: packet count, link type and snaplen, then one line per TCP
conversation (per interface for -i any captures: a forwarded packet is seen once
on each interface, NAT applied on one copy), one line per DNS question, the ICMP
messages and the IPv4 fragments.
"""
import os
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict

LINKTYPES = {1: "EN10MB (Ethernet)", 113: "LINUX_SLL", 276: "LINUX_SLL2"}
QTYPES = {1: "A", 28: "AAAA", 33: "SRV", 16: "TXT", 5: "CNAME", 2: "NS", 6: "SOA"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
FIELDS = ["frame.time_epoch", "frame.len", "frame.cap_len", "sll.ifindex",
          "ip.src", "ip.dst", "ip.flags.mf", "ip.frag_offset", "ip.proto",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.len", "tcp.analysis.retransmission",
          "udp.srcport", "udp.dstport",
          "dns.flags.response", "dns.flags.rcode", "dns.qry.name", "dns.qry.type",
          "dns.count.answers", "dns.srv.port", "dns.srv.target", "dns.a",
          "icmp.type", "icmp.code"]


def pcap_header(path):
    """(packets, linktype, snaplen) read directly from a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return 0, None, None
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    snaplen, linktype = struct.unpack(end + "II", data[16:24])
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    return n, linktype, snaplen


def split_by_ifindex(path):
    """A `tcpdump -i any` file holds each forwarded packet once per interface, often
    with the same addresses and sequence numbers (no NAT between inside and dmz):
    tshark would take the second copy for a retransmission. Split the file per
    LINUX_SLL2 interface index (bytes 4-7 of the SLL2 header) and analyse each part."""
    with open(path, "rb") as f:
        data = f.read()
    end = "<" if struct.unpack("<I", data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, per = 24, OrderedDict()
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        rec = data[off:off + 16 + incl]
        idx = str(struct.unpack(">I", rec[20:24])[0]) if incl >= 8 else "0"
        per.setdefault(idx, []).append(rec)
        off += 16 + incl
    parts = []
    for idx, recs in per.items():
        fd, sub = tempfile.mkstemp(suffix=".pcap")
        with os.fdopen(fd, "wb") as f:
            f.write(data[:24] + b"".join(recs))
        parts.append((idx, sub))
    return parts


def tshark_rows(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise SystemExit("tshark failed on %s: %s" % (path, res.stderr.strip()))
    return [dict(zip(FIELDS, line.split("\t"))) for line in res.stdout.splitlines()]


def first(v):
    return v.split("|")[0] if v else ""


def fmt_times(ts):
    return ",".join("%.2f" % t for t in ts)


def summarize(path, ifmap):
    n, linktype, snaplen = pcap_header(path)
    name = os.path.basename(path)
    out = ["%s: %d packets, %s, snaplen %s" % (name, n, LINKTYPES.get(linktype, linktype), snaplen)]
    if n == 0:
        out.append("  (no packets)")
        return out
    parts = split_by_ifindex(path) if linktype == 276 else [(None, path)]
    rows = []
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda p: (p[0], tshark_rows(p[1])), parts))
        for idx, part_rows in results:
            for r in part_rows:
                r["sll.ifindex"] = idx or ""
                rows.append(r)
    finally:
        for idx, sub in parts:
            if idx is not None:
                os.unlink(sub)
    rows.sort(key=lambda r: float(r["frame.time_epoch"]))
    t_first = float(rows[0]["frame.time_epoch"]) if rows else 0.0
    for r in rows:
        r["t"] = float(r["frame.time_epoch"]) - t_first
    t_end = rows[-1]["t"] if rows else 0.0
    out[0] += ", %.2f s" % t_end
    trunc = sum(1 for r in rows if r["frame.cap_len"] != r["frame.len"])
    if trunc:
        out.append("  truncated by snaplen: %d of %d packets" % (trunc, len(rows)))

    def where(r):
        idx = r["sll.ifindex"]
        if not idx:
            return ""
        return "[%s] " % ifmap.get(idx, "if" + idx)

    convs = OrderedDict()
    dns = OrderedDict()
    icmp = OrderedDict()
    frags = OrderedDict()
    for r in rows:
        t = r["t"]
        src, dst = first(r["ip.src"]), first(r["ip.dst"])
        wh = where(r)
        if r["ip.flags.mf"].split("|")[0] in ("1", "True") or first(r["ip.frag_offset"]) not in ("", "0"):
            frags[wh] = frags.get(wh, 0) + 1
        if r["icmp.type"]:
            k = (wh, src, dst, first(r["icmp.type"]), first(r["icmp.code"]))
            icmp[k] = icmp.get(k, 0) + 1
            continue
        if r["dns.qry.name"]:
            transport = "tcp" if r["tcp.srcport"] else "udp"
            resp = first(r["dns.flags.response"]) in ("1", "True")
            client = dst if resp else src
            server = src if resp else dst
            qt = int(first(r["dns.qry.type"]) or 0)
            k = (wh, transport, client, server, QTYPES.get(qt, str(qt)), first(r["dns.qry.name"]))
            e = dns.setdefault(k, {"q": [], "r": []})
            if resp:
                rc = int(first(r["dns.flags.rcode"]) or 0)
                ans = int(first(r["dns.count.answers"]) or 0)
                detail = []
                if r["dns.srv.target"]:
                    ports = r["dns.srv.port"].split("|")
                    tg = r["dns.srv.target"].split("|")
                    detail = ["%s:%s" % (a or ".", b) for a, b in zip(tg, ports)]
                    if len(detail) > 3:
                        detail = detail[:3] + ["+%d more" % (len(tg) - 3)]
                elif r["dns.a"]:
                    detail = r["dns.a"].split("|")[:3]
                rcs = RCODES.get(rc, str(rc))
                if rc == 0 and ans == 0:
                    rcs = "NOERROR/NODATA"
                e["r"].append((t, rcs, ans, " ".join(detail)))
            else:
                e["q"].append(t)
            if transport == "udp":
                continue
        if r["tcp.srcport"]:
            sp, dp = r["tcp.srcport"], r["tcp.dstport"]
            a, b = "%s:%s" % (src, sp), "%s:%s" % (dst, dp)
            key = (wh,) + tuple(sorted((a, b)))
            c = convs.setdefault(key, {"pkts": 0, "syn": [], "synack": [], "rst": [], "fin": [],
                                       "data": {}, "retrans": 0, "client": None})
            fl = int(first(r["tcp.flags"]) or "0", 16)
            c["pkts"] += 1
            if fl & 0x02 and not fl & 0x10:
                c["syn"].append(t)
                c["client"] = c["client"] or a
            if fl & 0x02 and fl & 0x10:
                c["synack"].append(t)
                c["client"] = c["client"] or b
            if fl & 0x04:
                c["rst"].append((t, a))
            if fl & 0x01:
                c["fin"].append((t, a))
            ln = int(first(r["tcp.len"]) or 0)
            if ln:
                c["data"][a] = c["data"].get(a, 0) + ln
            if r["tcp.analysis.retransmission"]:
                c["retrans"] += 1

    for (wh, x, y), c in convs.items():
        cl = c["client"] or x
        sv = y if cl == x else x
        parts = ["%d pkts" % c["pkts"]]
        if c["syn"]:
            parts.append("SYN x%d @%s" % (len(c["syn"]), fmt_times(c["syn"])))
        if c["synack"]:
            parts.append("SYN-ACK x%d @%s" % (len(c["synack"]), fmt_times(c["synack"])))
        if c["data"]:
            parts.append("data %dB c->s, %dB s->c" % (c["data"].get(cl, 0), c["data"].get(sv, 0)))
        if c["retrans"]:
            parts.append("%d retransmissions (tshark)" % c["retrans"])
        for lbl, ev in (("FIN", c["fin"]), ("RST", c["rst"])):
            if ev:
                parts.append("%s from %s @%s" % (
                    lbl, "+".join(sorted({"client" if s == cl else "server" for _, s in ev})),
                    fmt_times([t for t, _ in ev])))
        out.append("  %stcp %s > %s: %s" % (wh, cl, sv, "; ".join(parts)))
    for (wh, tr, client, server, qt, qn), e in dns.items():
        resp = ", ".join("%s%s%s" % (rc, " %d ans" % ans if ans else "", " [%s]" % d if d else "")
                         for _, rc, ans, d in e["r"]) or "no response"
        out.append("  %sdns/%s %s > %s %s %s: %d queries @%s -> %s" % (
            wh, tr, client, server, qt, qn, len(e["q"]), fmt_times(e["q"]), resp))
    for (wh, src, dst, ty, co), cnt in icmp.items():
        out.append("  %sicmp %s > %s type %s code %s x%d" % (wh, src, dst, ty, co, cnt))
    for wh, cnt in frags.items():
        out.append("  %sIPv4 fragments (MF set or offset > 0): %d packets" % (wh, cnt))
    return out


def main(argv):
    ifmap, count_only, files = {}, False, []
    i = 0
    while i < len(argv):
        if argv[i] == "--ifmap":
            for kv in argv[i + 1].split(","):
                if kv:
                    k, v = kv.split("=", 1)
                    ifmap[k] = v
            i += 2
            continue
        if argv[i] == "--count":
            count_only = True
        else:
            files.append(argv[i])
        i += 1
    if not files:
        sys.stderr.write(__doc__)
        return 2
    if count_only:
        for f in files:
            print(pcap_header(f)[0])
        return 0
    # files in parallel (each tshark run is mostly start-up time)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for lines in pool.map(lambda f: summarize(f, ifmap), files):
            print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
