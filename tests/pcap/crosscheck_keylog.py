#!/usr/bin/env python3
"""Cross-check fedscope's decrypted XMPP facts against tshark's decryption of the same
captures, so the key-log decryptor does not confirm itself. For every pcaps/xmpp/*/ with a
sslkeylog.txt: tshark decrypts with `-o tls.keylog_file:sslkeylog.txt` (STARTTLS on 5269 through
`-d tcp.port==5269,xmpp`, XEP-0368 direct TLS on 5270 through `-d tcp.port==5270,tls`) and
hands each TCP connection's bytes over with `-z follow,tcp,raw,N` (the plaintext before the
STARTTLS point) and `-z follow,tls,raw,N` (the decrypted application data); this script parses
that XML itself and compares, per connection and direction, with `fedscope report FILE
--tls-keylog sslkeylog.txt --format json` (flows[].xmpp):
 - the stream header's from and to, the number of headers (restarts), the header id;
 - the number of message, presence and iq stanzas;
 - the stream error condition;
 - the dialback elements (db:result / db:verify, who sent them, their type);
and that every TLS flow whose handshake completed says tls.xmpp_inside == "decrypted" and
xmpp.inside_tls == "yes". Prints 'N passed, N failed'; exits non-zero on a failure."""

import argparse
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from checks import check, finish  # noqa: E402

NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_DB = "jabber:server:dialback"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
WRAP = ("<w xmlns='jabber:server' xmlns:stream='%s' xmlns:db='%s'>" % (NS_STREAM, NS_DB)).encode()
DECODE = ["-d", "tcp.port==5269,xmpp", "-d", "tcp.port==5270,tls"]
TAG = re.compile(rb"""<(?:[^>'"]|'[^']*'|"[^"]*")*>""")
ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:'([^']*)'|"([^"]*)")""")
TLS_RECORD = re.compile(rb"\x16\x03[\x00-\x04]")   # a TLS handshake record: the end of plaintext


def tshark(pcap, keylog, args):
    cmd = ["tshark", "-n", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}", *DECODE, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


def connections(pcap, keylog):
    """{tcp.stream: (client "addr:port", server "addr:port")} from the SYNs."""
    out = tshark(pcap, keylog, ["-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                                "-E", "separator=\t", "-e", "tcp.stream", "-e", "ip.src",
                                "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport"])
    conns = {}
    for line in out.splitlines():
        s, src, sp, dst, dp = line.split("\t")
        conns.setdefault(int(s), (f"{src}:{sp}", f"{dst}:{dp}"))
    return conns


def follow(pcap, keylog, streams):
    """{(kind, stream): (node 0 "addr:port", bytes from node 0, bytes from node 1)} for kind
    tcp and tls, from one tshark run. tshark indents node 1's lines with a tab. For tcp node 0
    is the client (it sent the SYN); for tls it may be either side (tshark 4.0 names it, and
    prints "Node 1: :0"), so the caller goes by node 0's address."""
    args = ["-q"]
    for s in streams:
        args += ["-z", f"follow,tcp,raw,{s}", "-z", f"follow,tls,raw,{s}"]
    out = tshark(pcap, keylog, args)
    res, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Follow: (\w+),raw", line)
        if m:
            cur = [m.group(1), None, None, bytearray(), bytearray()]
            continue
        if cur is None:
            continue
        m = re.match(r"Filter: tcp\.stream eq (\d+)", line)
        if m:
            cur[1] = int(m.group(1))
        elif line.startswith("Node 0: "):
            cur[2] = line[8:].strip()
        elif line.startswith("Node 1: "):
            pass
        elif line.startswith("====="):
            if cur[1] is not None:
                res[(cur[0], cur[1])] = (cur[2], bytes(cur[3]), bytes(cur[4]))
                cur = None
        elif line.strip():
            (cur[4] if line.startswith("\t") else cur[3]).extend(bytes.fromhex(line.strip()))
    return res


def plaintext_part(data, receiver):
    """The bytes of one direction before TLS starts: up to the first TLS handshake record, and
    at most up to <starttls/> (originator) or <proceed/> (receiver): what follows the STARTTLS
    point in clear belongs to no stream (pcaps/xmpp/starttls-injection)."""
    m = TLS_RECORD.search(data)
    data = data[:m.start()] if m else data
    m = re.search(rb"<proceed\b[^>]*>" if receiver else rb"<starttls\b[^>]*?/>|</starttls>", data)
    return data[:m.end()] if m else data


def scan(data, facts):
    """Adds the XML of one direction (the stream's bytes in order) to @p facts."""
    depth, start = 0, None
    for m in TAG.finditer(data):
        tag = m.group(0)
        if tag.startswith(b"<?") or tag.startswith(b"<!"):
            continue
        closing, empty = tag.startswith(b"</"), tag.endswith(b"/>")
        name = re.match(rb"</?\s*([\w:.-]+)", tag).group(1)
        if depth == 0:
            if not closing and name.split(b":")[-1] == b"stream":
                text = tag.decode("utf-8", "replace")
                attrs = {k: a if a or not b else b for k, a, b in ATTR.findall(text)}
                facts["headers"].append(attrs)
                depth = 1
            continue
        if depth == 1:
            if closing:                      # </stream:stream>
                facts["closed"] = True
                depth = 0
                continue
            start = m.start()
            if empty:
                element(data[start:m.end()], facts)
            else:
                depth = 2
            continue
        depth += -1 if closing else 0 if empty else 1
        if depth == 1:
            element(data[start:m.end()], facts)


def element(raw, facts):
    try:
        el = ET.fromstring(WRAP + raw + b"</w>")[0]
    except ET.ParseError as e:
        facts["unparsed"].append(f"{raw[:60]!r}: {e}")
        return
    ns, _, local = el.tag[1:].partition("}") if el.tag.startswith("{") else ("", "", el.tag)
    if ns == "jabber:server" and local in ("message", "presence", "iq"):
        facts["stanzas"][local] += 1
    elif ns == NS_STREAM and local == "error":
        cond = [c.tag.partition("}")[2] for c in el
                if c.tag.startswith("{%s}" % NS_STREAMS) and not c.tag.endswith("}text")]
        facts["errors"].append(cond[0] if cond else None)
    elif ns == NS_DB and local in ("result", "verify"):
        facts["dialback"].append(("db:" + local, el.get("type") or "request"))


def new_facts():
    return {"headers": [], "stanzas": Counter(), "errors": [], "dialback": [], "closed": False,
            "unparsed": []}


def by_side(fol, kind, s, client, server):
    """(client's bytes, server's bytes, ok) of one follow block."""
    node0, a, b = fol.get((kind, s), (None, b"", b""))
    if node0 is None or node0 == client or not (a or b):   # nothing followed: no node to name
        return a, b, True
    if node0 == server:
        return b, a, True
    return a, b, False


def side_facts(tcp_bytes, tls_bytes, receiver):
    f = new_facts()
    scan(plaintext_part(tcp_bytes, receiver), f)
    scan(tls_bytes, f)
    return f


def rel(path):
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def fedscope_report(fedscope, pcap, keylog, options):
    p = subprocess.run([fedscope, "report", rel(pcap), *options, "--tls-keylog", rel(keylog),
                        "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        check(False, f"{rel(pcap)}: no JSON from fedscope (rc={p.returncode}) "
                     f"{p.stderr.strip()[-300:]}")
        return None


def compare(name, flow, orig, resp, tls_bytes):
    x = flow["xmpp"]
    for role, f, side in (("originator", orig, "client"), ("receiver", resp, "server")):
        what = f"{name} {role}"
        check(not f["unparsed"], f"{what}: XML tshark handed over that this script cannot parse: "
                                 f"{f['unparsed']}")
        h = x["streams"][role]
        if not f["headers"]:
            check(h is None, f"{what}: fedscope has a stream header, tshark's bytes none: {h}")
        elif h is None:
            check(False, f"{what}: no stream header in fedscope, tshark's bytes have "
                         f"{len(f['headers'])}: {f['headers'][0]}")
        else:
            first = f["headers"][0]
            check((h["from"], h["to"]) == (first.get("from"), first.get("to")),
                  f"{what}: header from/to {h['from']}/{h['to']}, tshark "
                  f"{first.get('from')}/{first.get('to')}")
            check(h["restarts"] == len(f["headers"]) - 1,
                  f"{what}: restarts {h['restarts']}, tshark's bytes have "
                  f"{len(f['headers'])} headers")
            ids = [a.get("id") for a in f["headers"]]
            check(h["id"] in ids, f"{what}: header id {h['id']!r} is none of tshark's {ids}")
        got = {k: x["stanzas"][side][k] for k in ("message", "presence", "iq")}
        want = {k: f["stanzas"][k] for k in ("message", "presence", "iq")}
        check(got == want, f"{what}: stanzas {got}, tshark {want}")
    # fedscope reports one stream error per connection: the receiver's, else the originator's
    want_err = None
    for by, f in (("receiver", resp), ("originator", orig)):
        if f["errors"]:
            want_err = (by, f["errors"][0])
            break
    err = x["stream_error"]
    got_err = (err["by"], err["condition"]) if err else None
    check(got_err == want_err, f"{name}: stream error {got_err}, tshark {want_err}")
    got_db = Counter((d["element"], d["by"], d["type"]) for d in x["dialback"])
    want_db = Counter([(e, "originator", t) for e, t in orig["dialback"]] +
                      [(e, "receiver", t) for e, t in resp["dialback"]])
    check(got_db == want_db, f"{name}: dialback {sorted(got_db.items())}, "
                             f"tshark {sorted(want_db.items())}")
    t = x["tls"]
    if t is not None and t["complete"]:
        check(tls_bytes > 0, f"{name}: TLS completed but tshark decrypted nothing (key log?)")
        check(t["xmpp_inside"] == "decrypted",
              f"{name}: TLS {t['version']} {t['cipher']}: tls.xmpp_inside {t['xmpp_inside']!r}")
        check(x["inside_tls"] == "yes", f"{name}: xmpp.inside_tls {x['inside_tls']!r}")


def show(d, pcap, keylog):
    conns = connections(pcap, keylog)
    fol = follow(pcap, keylog, sorted(conns))
    for s, (client, server) in sorted(conns.items()):
        c_tcp, s_tcp, _ = by_side(fol, "tcp", s, client, server)
        c_tls, s_tls, _ = by_side(fol, "tls", s, client, server)
        print(f"{d.name} {client} > {server}: decrypted {len(c_tls)} + {len(s_tls)} bytes")
        for role, f in (("originator", side_facts(c_tcp, c_tls, False)),
                        ("receiver", side_facts(s_tcp, s_tls, True))):
            hs = [(h.get("from"), h.get("to"), h.get("id")) for h in f["headers"]]
            print(f"  {role}: headers {hs}; stanzas {dict(f['stanzas'])}; stream errors "
                  f"{f['errors']}; dialback {f['dialback']}; closed {f['closed']}"
                  + (f"; UNPARSED {f['unparsed']}" if f["unparsed"] else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedscope", help="the fedscope binary (needed unless --show)")
    ap.add_argument("--show", action="store_true",
                    help="only print what tshark's decryption gives, per connection and side")
    ap.add_argument("dirs", nargs="*", help="scenario folders (default: every pcaps/xmpp/*/ "
                    "with a sslkeylog.txt)")
    a = ap.parse_args()
    if not a.show and not a.fedscope:
        ap.error("--fedscope is required (or --show)")
    dirs = ([Path(d).resolve() for d in a.dirs] if a.dirs else
            sorted(p.parent for p in (ROOT / "pcaps" / "xmpp").glob("*/sslkeylog.txt")))
    check(bool(dirs), "no capture with a key log")
    for d in dirs:
        pcap, keylog = d / "s2s.pcap", d / "sslkeylog.txt"
        exp_path = d / "expected.json"
        exp = json.loads(exp_path.read_text()) if exp_path.exists() else {}
        if a.show:
            show(d, pcap, keylog)
            continue
        rep = fedscope_report(a.fedscope, pcap, keylog, exp.get("options", []))
        if rep is None:
            continue
        conns = connections(pcap, keylog)
        flows = {}
        for fl in rep["flows"]:
            for leg in fl["legs"]:
                flows[leg["client"]] = fl
        check(len(conns) == len(rep["flows"]),
              f"{d.name}: {len(rep['flows'])} flows, tshark {len(conns)} connections")
        fol = follow(pcap, keylog, sorted(conns))
        for s, (client, server) in sorted(conns.items()):
            name = f"{d.name} {client} > {server}"
            flow = flows.get(client)
            if flow is None or flow.get("xmpp") is None:
                check(False, f"{name}: no XMPP flow in fedscope's report")
                continue
            c_tcp, s_tcp, ok_tcp = by_side(fol, "tcp", s, client, server)
            c_tls, s_tls, ok_tls = by_side(fol, "tls", s, client, server)
            check(ok_tcp and ok_tls, f"{name}: tshark's follow names neither end as node 0")
            orig = side_facts(c_tcp, c_tls, receiver=False)
            resp = side_facts(s_tcp, s_tls, receiver=True)
            compare(name, flow, orig, resp, len(c_tls) + len(s_tls))
    finish("keylog crosscheck")


if __name__ == "__main__":
    main()
