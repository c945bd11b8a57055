#!/usr/bin/env python3
"""Hostile capture shapes for fedscope's scaling tests (issue #12, "hostile shapes").

Each generator writes a classic pcap (microsecond timestamps) of one shape, sized by N. The
files are deterministic (fixed seed), use only documentation addresses (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24) and need nothing beyond the Python 3 standard library.

  hostile.py SHAPE N OUT.pcap [--seed S]     one capture
  hostile.py --list                          the shapes and what they stress
  hostile.py --scaling [--sizes 1000,10000,100000] [--big] [--fedscope PATH]
                                             time and peak RSS of bare and XMPP connections
                                             per size, with the per-connection cost
                                             (bench/scaling.sh runs this)

Shapes (N is the size the shape test multiplies by 10):

  dns-same-txid  N DNS queries (UDP 53, N client ports) reusing one transaction id and one
                 question; every fourth is answered
  icmp-vs-dns    N pending DNS queries, then N ICMP port-unreachable errors quoting them
  syn-flood      N SYNs to port 5269 (a flood: 100k new SYNs per second), each sent 3 times
  time-jump      N connections 200 ms apart (every fifth an unanswered SYN); one packet
                 stamped 2038 after the first tenth, then normal times again
  sll2-ifindex   SLL2 (linktype 276) SYN/SYN-ACK/RST connections over N interface indexes,
                 every tenth followed by an ICMP error quoting an unknown flow
  ooo-segments   8 connections to 5269 with N 1-byte segments in all, out of order behind a
                 first byte that only comes at the end
  bare-syn       N SYN / SYN-ACK / RST connections to 5269 (a port scan answered by a server)
  xmpp-conns     N short plaintext XMPP S2S connections: handshake, stream headers both ways,
                 </stream:stream> both ways, FIN both ways
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from typing import Callable, Iterable, Iterator

T0_US = 1795600800 * 1_000_000  # 2026-11-25T10:00:00Z, microseconds
FAR_FUTURE_US = 2145916800 * 1_000_000  # 2038-01-01T00:00:00Z

LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL2 = 276

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

CLIENT_NETS = ("192.0.2.", "198.51.100.")
SERVER = "203.0.113.10"
RESOLVER = "203.0.113.53"


# ---- packets -----------------------------------------------------------------------------


def _ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def _csum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    r = int.from_bytes(data, "big") % 0xFFFF
    return 0xFFFF - r if r else 0


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 0) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64,
                    proto, 0, _ip(src), _ip(dst))
    return h[:10] + struct.pack("!H", _csum(h)) + h[12:] + payload


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    return _ip(src) + _ip(dst) + struct.pack("!BBH", 0, proto, length)


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
        payload: bytes = b"", ident: int = 0) -> bytes:
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                    flags, 65535, 0, 0)
    c = _csum(_pseudo(src, dst, 6, len(h) + len(payload)) + h + payload)
    return ipv4(src, dst, 6, h[:16] + struct.pack("!H", c) + h[18:] + payload, ident)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    c = _csum(_pseudo(src, dst, 17, len(h) + len(payload)) + h + payload) or 0xFFFF
    return ipv4(src, dst, 17, h[:6] + struct.pack("!H", c) + payload)


def icmp_port_unreachable(reporter: str, dst: str, original: bytes) -> bytes:
    body = struct.pack("!BBHI", 3, 3, 0, 0) + original[:28]
    body = body[:2] + struct.pack("!H", _csum(body)) + body[4:]
    return ipv4(reporter, dst, 1, body)


def _qname(name: str) -> bytes:
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def dns_query(txid: int, name: str, qtype: int) -> bytes:
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + _qname(name) + struct.pack(
        "!HH", qtype, 1)


def dns_answer_a(txid: int, name: str, qtype: int, addr: str) -> bytes:
    return (struct.pack("!HHHHHH", txid, 0x8180, 1, 1, 0, 0) + _qname(name) +
            struct.pack("!HH", qtype, 1) + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) +
            _ip(addr))


def sll2(packet: bytes, ifindex: int, pkttype: int = 0) -> bytes:
    return struct.pack("!HHiHBB8s", 0x0800, 0, ifindex, 1, pkttype, 6,
                       b"\x02\0\0\0\0\x01\0\0") + packet


def client(i: int) -> tuple[str, int]:
    """A distinct (address, port) for every i < 500 * 50000."""
    host = i % 500
    net = CLIENT_NETS[host // 250]
    return f"{net}{host % 250 + 1}", 10000 + (i // 500) % 50000


# ---- writer ------------------------------------------------------------------------------

Record = tuple[int, bytes]  # (time in microseconds, frame)


def write_pcap(path: str, linktype: int, records: Iterable[Record]) -> int:
    n = 0
    with open(path, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for t, frame in records:
            f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
            f.write(frame)
            n += 1
    return n


def merge(*streams: Iterator[Record]) -> Iterator[Record]:
    return heapq.merge(*streams, key=lambda r: r[0])


# ---- shapes ------------------------------------------------------------------------------


def gen_dns_same_txid(n: int, rng: random.Random) -> Iterator[Record]:
    name = "_xmpp-server._tcp.example.org"
    for i in range(n):
        t = T0_US + i * 10  # 100k queries per second: all within the DNS timeout
        addr, port = client(i)
        yield t, udp(addr, RESOLVER, port, 53, dns_query(0x4242, name, 33))
        if i % 4 == 0:
            yield t + 5, udp(RESOLVER, addr, 53, port, dns_answer_a(0x4242, name, 33, SERVER))


def gen_icmp_vs_dns(n: int, rng: random.Random) -> Iterator[Record]:
    queries = []
    for i in range(n):
        addr, port = client(i)
        q = udp(addr, RESOLVER, port, 53, dns_query(rng.randrange(65536), f"d{i}.example.org", 1))
        queries.append((addr, q))
        yield T0_US + i * 10, q
    base = T0_US + n * 10
    for k, i in enumerate(rng.sample(range(n), n)):
        addr, q = queries[i]
        yield base + k * 10, icmp_port_unreachable(RESOLVER, addr, q)


def gen_syn_flood(n: int, rng: random.Random) -> Iterator[Record]:
    isns = [rng.getrandbits(32) for _ in range(n)]

    def wave(delay_us: int) -> Iterator[Record]:
        for i in range(n):
            addr, port = client(i)
            yield T0_US + i * 10 + delay_us, tcp(addr, SERVER, port, 5269, isns[i], 0, SYN,
                                                 ident=i & 0xFFFF)

    return merge(wave(0), wave(1_000_000), wave(3_000_000))


def _short_conn(t: int, i: int, isn: int, step: int = 20) -> list[Record]:
    """SYN, SYN-ACK, ACK, FIN/ACK both ways, last ACK: a clean SF connection to 5269."""
    addr, port = client(i)
    s = 77_000_000
    return [
        (t, tcp(addr, SERVER, port, 5269, isn, 0, SYN)),
        (t + step, tcp(SERVER, addr, 5269, port, s, isn + 1, SYN | ACK)),
        (t + 2 * step, tcp(addr, SERVER, port, 5269, isn + 1, s + 1, ACK)),
        (t + 3 * step, tcp(addr, SERVER, port, 5269, isn + 1, s + 1, FIN | ACK)),
        (t + 4 * step, tcp(SERVER, addr, 5269, port, s + 1, isn + 2, FIN | ACK)),
        (t + 5 * step, tcp(addr, SERVER, port, 5269, isn + 2, s + 2, ACK)),
    ]


def gen_time_jump(n: int, rng: random.Random) -> Iterator[Record]:
    # One connection every 200 ms, every fifth a SYN nobody answers (closed by the 60 s
    # attempt timeout), the others clean SF connections (closed legs linger 5 s): with a
    # running clock few are live at a time, and at the end only the last minute's attempts
    # are still open.
    for i in range(n):
        t = T0_US + i * 200_000
        if i == n // 10:
            addr, port = client(n + 1)
            yield FAR_FUTURE_US, tcp(addr, SERVER, port, 5269, 1, 0, SYN)
        if i % 5 == 4:
            addr, port = client(i)
            yield t, tcp(addr, SERVER, port, 5269, rng.getrandbits(32), 0, SYN)
        else:
            yield from _short_conn(t, i, rng.getrandbits(32))


def gen_sll2_ifindex(n: int, rng: random.Random) -> Iterator[Record]:
    for i in range(n):
        t = T0_US + i * 10
        ifx = 2 + i
        addr, port = client(i)
        isn = rng.getrandbits(32)
        yield t, sll2(tcp(addr, SERVER, port, 5269, isn, 0, SYN), ifx, 0)
        yield t + 2, sll2(tcp(SERVER, addr, 5269, port, 5, isn + 1, SYN | ACK), ifx, 4)
        yield t + 4, sll2(tcp(addr, SERVER, port, 5269, isn + 1, 0, RST), ifx, 0)
        if i % 10 == 0:
            ghost = tcp(addr, SERVER, port + 1, 5270, 1, 0, SYN)
            yield t + 6, sll2(icmp_port_unreachable(SERVER, addr, ghost), ifx, 4)


def gen_ooo_segments(n: int, rng: random.Random) -> Iterator[Record]:
    conns = 8
    per = max(1, n // conns)
    out: list[Record] = []
    t = T0_US
    for c in range(conns):
        addr, port = client(c)
        isn = rng.getrandbits(32)
        s = rng.getrandbits(32)
        out.append((t, tcp(addr, SERVER, port, 5269, isn, 0, SYN)))
        out.append((t + 1, tcp(SERVER, addr, 5269, port, s, isn + 1, SYN | ACK)))
        out.append((t + 2, tcp(addr, SERVER, port, 5269, isn + 1, s + 1, ACK)))
        t += 3
    # Bytes 1..per of each connection in a shuffled order (every other byte, so nothing
    # coalesces), byte 0 last: everything is held out of order until the end.
    order = [(c, k) for c in range(conns) for k in range(2, 2 * per + 1, 2)]
    rng.shuffle(order)
    return _ooo_stream(out, order, t, conns, per)


def _ooo_stream(head: list[Record], order: list[tuple[int, int]], t: int, conns: int,
                per: int) -> Iterator[Record]:
    # ISNs/ports are recovered from the handshake records' TCP headers.
    yield from head
    info = []
    for k in range(0, len(head), 3):
        syn = head[k][1]
        synack = head[k + 1][1]
        src = ".".join(str(b) for b in syn[12:16])
        sport, _, isn = struct.unpack("!HHI", syn[20:28])
        srv_seq = struct.unpack("!I", synack[24:28])[0]
        info.append((src, sport, isn, srv_seq))
    for c, k in order:
        src, sport, isn, s = info[c]
        t += 1
        yield t, tcp(src, SERVER, sport, 5269, isn + 1 + k, s + 1, ACK | PSH, b" ")
    for c in range(conns):
        src, sport, isn, s = info[c]
        t += 1
        yield t, tcp(src, SERVER, sport, 5269, isn + 1, s + 1, ACK | PSH, b"<")
        t += 1
        yield t, tcp(src, SERVER, sport, 5269, isn + 2 + 2 * per, s + 1, FIN | ACK)


def gen_bare_syn(n: int, rng: random.Random) -> Iterator[Record]:
    for i in range(n):
        t = T0_US + i * 100  # 10k new connections per second
        addr, port = client(i)
        isn = rng.getrandbits(32)
        s = rng.getrandbits(32)
        yield t, tcp(addr, SERVER, port, 5269, isn, 0, SYN)
        yield t + 20, tcp(SERVER, addr, 5269, port, s, isn + 1, SYN | ACK)
        yield t + 40, tcp(addr, SERVER, port, 5269, isn + 1, 0, RST)


def gen_xmpp_conns(n: int, rng: random.Random) -> Iterator[Record]:
    for i in range(n):
        t = T0_US + i * 100
        addr, port = client(i)
        origin, receiving = f"c{i}.example.org", "example.net"
        a = rng.getrandbits(32)
        b = rng.getrandbits(32)
        ch = (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
              f"xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
              f"from='{origin}' to='{receiving}' version='1.0'>").encode()
        sh = (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
              f"xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
              f"from='{receiving}' to='{origin}' id='s{i}' version='1.0'>").encode()
        end = b"</stream:stream>"
        a1, b1 = a + 1, b + 1
        pk = [
            (addr, SERVER, port, 5269, a, 0, SYN, b""),
            (SERVER, addr, 5269, port, b, a1, SYN | ACK, b""),
            (addr, SERVER, port, 5269, a1, b1, ACK, b""),
            (addr, SERVER, port, 5269, a1, b1, ACK | PSH, ch),
            (SERVER, addr, 5269, port, b1, a1 + len(ch), ACK | PSH, sh),
            (addr, SERVER, port, 5269, a1 + len(ch), b1 + len(sh), ACK | PSH, end),
            (SERVER, addr, 5269, port, b1 + len(sh), a1 + len(ch) + len(end), ACK | PSH, end),
            (addr, SERVER, port, 5269, a1 + len(ch) + len(end), b1 + len(sh) + len(end),
             FIN | ACK, b""),
            (SERVER, addr, 5269, port, b1 + len(sh) + len(end), a1 + len(ch) + len(end) + 1,
             FIN | ACK, b""),
            (addr, SERVER, port, 5269, a1 + len(ch) + len(end) + 1, b1 + len(sh) + len(end) + 1,
             ACK, b""),
        ]
        for k, (s, d, sp, dp, seq, ack, fl, pl) in enumerate(pk):
            yield t + 5 * k, tcp(s, d, sp, dp, seq, ack, fl, pl)


SHAPES: dict[str, tuple[Callable[[int, random.Random], Iterator[Record]], int, str]] = {
    "dns-same-txid": (gen_dns_same_txid, LINKTYPE_RAW, "one DNS txid and question, N clients"),
    "icmp-vs-dns": (gen_icmp_vs_dns, LINKTYPE_RAW, "N pending DNS queries, N ICMP errors"),
    "syn-flood": (gen_syn_flood, LINKTYPE_RAW, "N SYNs to 5269, each sent 3 times"),
    "time-jump": (gen_time_jump, LINKTYPE_RAW, "N connections, one 2038 timestamp"),
    "sll2-ifindex": (gen_sll2_ifindex, LINKTYPE_LINUX_SLL2, "SLL2 over N interface indexes"),
    "ooo-segments": (gen_ooo_segments, LINKTYPE_RAW, "8 connections, N 1-byte OOO segments"),
    "bare-syn": (gen_bare_syn, LINKTYPE_RAW, "N SYN/SYN-ACK/RST connections"),
    "xmpp-conns": (gen_xmpp_conns, LINKTYPE_RAW, "N short plaintext XMPP S2S connections"),
}


def generate(shape: str, n: int, path: str, seed: int = 1) -> int:
    """Writes SHAPE at size N to PATH; returns the number of packets."""
    gen, linktype, _ = SHAPES[shape]
    return write_pcap(path, linktype, gen(n, random.Random(f"{shape}/{seed}")))


# ---- measuring ---------------------------------------------------------------------------


def run_measured(argv: list[str], timeout: float = 900.0) -> dict:
    """Runs argv under /usr/bin/time; returns its exit status, wall time, CPU time (user + sys)
    and peak RSS (KiB) of that one run. (The rusage of a child Python spawns directly would
    carry Python's own peak RSS across the exec.)"""
    with tempfile.NamedTemporaryFile("r", prefix="fedscope-time.", delete=False) as tf:
        tpath = tf.name
    t0 = time.monotonic()
    timed_out = False
    try:
        p = subprocess.run(["/usr/bin/time", "-f", "%x %U %S %M", "-o", tpath] + argv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        err = p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        timed_out = True
        err = (e.stderr or b"").decode(errors="replace")
    wall = time.monotonic() - t0
    status, cpu, rss, signal = -1, 0.0, 0, 0
    try:
        with open(tpath) as f:
            for line in f:
                parts = line.split()
                if line.startswith("Command terminated by signal"):
                    signal = int(parts[-1])
                elif len(parts) == 4:
                    status = -signal if signal else int(parts[0])
                    cpu = float(parts[1]) + float(parts[2])
                    rss = int(parts[3])
    finally:
        os.unlink(tpath)
    return {"status": status, "wall": wall, "cpu": cpu, "rss_kib": rss, "stderr": err,
            "timed_out": timed_out}


def scaling(fedscope: str, sizes: list[int], shapes: list[str]) -> int:
    print(f"{'shape':<12} {'connections':>11} {'packets':>9} {'cpu s':>8} {'wall s':>8} "
          f"{'peak RSS MB':>11} {'us/conn':>8} {'KB/conn':>8}  status")
    bad = 0
    with tempfile.TemporaryDirectory(prefix="fedscope-scaling.") as tmp:
        for shape in shapes:
            base_rss = None
            for n in sizes:
                path = os.path.join(tmp, f"{shape}-{n}.pcap")
                packets = generate(shape, n, path)
                r = run_measured([fedscope, "report", path, "--format", "json", "-o", "/dev/null"])
                os.unlink(path)
                rss_mb = r["rss_kib"] / 1024
                if base_rss is None:
                    base_rss = rss_mb
                per_conn_kb = (r["rss_kib"] / n) if n else 0
                ok = r["status"] in (0, 1, 3)
                bad += not ok
                print(f"{shape:<12} {n:>11} {packets:>9} {r['cpu']:>8.2f} {r['wall']:>8.2f} "
                      f"{rss_mb:>11.1f} {1e6 * r['cpu'] / n:>8.1f} {per_conn_kb:>8.2f}  "
                      f"{'ok' if ok else 'exit ' + str(r['status'])}", flush=True)
    print("us/conn = CPU microseconds per connection; KB/conn = peak RSS / connections "
          "(KiB, the fixed base included)")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    ap.add_argument("n", nargs="?", type=int)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--big", action="store_true", help="add 500000 to --sizes")
    ap.add_argument("--fedscope", default=os.environ.get(
        "FEDSCOPE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                 "app", "fedscope")))
    a = ap.parse_args()
    if a.list:
        for k, (_, lt, what) in SHAPES.items():
            print(f"{k:<14} linktype {lt:<3}  {what}")
        return 0
    if a.scaling:
        sizes = [int(x) for x in a.sizes.split(",") if x]
        if a.big:
            sizes.append(500000)
        return scaling(a.fedscope, sizes, ["bare-syn", "xmpp-conns"])
    if not (a.shape and a.n is not None and a.out):
        ap.error("SHAPE N OUT.pcap, --list or --scaling")
    packets = generate(a.shape, a.n, a.out, a.seed)
    print(f"{a.out}: {a.shape} N={a.n}, {packets} packets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
