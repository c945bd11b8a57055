#!/usr/bin/env python3
"""Synthetic XMPP federation capture for benchmarks (Ethernet, microsecond classic pcap).

usage: gen_federation.py OUT.pcap --sessions N [--target-bytes B] [--seed S]
                         [--concurrency C] [--summary FILE]

Each session is one outbound server-to-server connection as seen by a tap at the border
of 192.0.2.0/24:
  * UDP DNS: SRV query/answer for _xmpp-server._tcp.domN.example (resolver 192.0.2.53 or
    192.0.2.54), then A query/answer for its target xmpp.domN.example;
  * TCP 192.0.2.x:eph -> (203.0.113.x | 198.51.100.x):5269: handshake (MSS, SACK-perm,
    timestamps, window scale), plaintext XMPP s2s (stream headers with jabber:server and
    jabber:server:dialback, stream:features, bidi, db:result / db:verify), then many
    <message> and <presence> stanzas of varied sizes in both directions, cut into
    MSS-sized segments sent in slow-start flights with ACKs every second segment, and a
    FIN close;
  * some sessions fail: SYN retransmitted 3 times with no answer (~3%), SYN answered by
    RST (~3%), RST in the middle of the stanza traffic (~2%).
About --concurrency sessions (default 50) are open at any time: when one ends, the next
starts, so the packets of many flows interleave.  Every checksum is correct (computed
incrementally from precomputed per-direction sums; payload sums once per segment).

--target-bytes B (suffixes K, M, G, T = powers of 1000) spreads stanza traffic over the
sessions until the file is about B bytes.  Files over 4 GB work (the format is only a
stream of records; TCP sequence numbers simply wrap); they are not tested by default.

The JSON summary (stdout, and --summary FILE) gives the counts to check a reader against:
tcp_connections (one per session), dns_exchanges, packets, bytes, and per-outcome counts.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "tools"))
import pcapgen as pg  # noqa: E402

T0_US = pg.T0_NS // 1000
REC = struct.Struct("<IIII")
# IPv4 (20 bytes, no options) + TCP (32 bytes: NOP NOP TS) in one pack.
HDR = struct.Struct("!BBHHHBBH4s4sHHIIBBHHHIII")
HDR_SYN = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")
TS_OPT_WORDS = 0x0101 + 0x080A  # NOP NOP, kind 8 len 10
M32 = 0xFFFFFFFF

OUTCOME_OK, OUTCOME_SYN_TIMEOUT, OUTCOME_REFUSED, OUTCOME_RESET = (
    "ok", "syn_timeout", "refused", "reset_midstream")

SHOW = (b"away", b"chat", b"dnd", b"xa")
WORDS = ("federation server message presence roster stanza domain dialback stream "
         "hello meeting tomorrow coffee release build deploy review patch upload photo "
         "weekend train delayed thanks sure later lunch call note update ticket queue "
         "network latency window packet capture resolver record answer cache lorem ipsum "
         "dolor sit amet consectetur adipiscing elit sed do eiusmod tempor").split()


def parse_size(text: str) -> int:
    mult = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    t = text.strip().upper().rstrip("B")
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(t)


def _words(rng: random.Random, n: int) -> str:
    out, size = [], 0
    while size < n:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


class Bodies:
    """Pool of message bodies with a long-tailed size distribution."""

    def __init__(self, rng: random.Random):
        self.short = [_words(rng, rng.randint(8, 150)).encode() for _ in range(200)]
        self.medium = [_words(rng, rng.randint(150, 1200)).encode() for _ in range(60)]
        self.large = [_words(rng, rng.randint(1200, 8000)).encode() for _ in range(20)]
        self.status = [_words(rng, rng.randint(4, 60)).encode() for _ in range(40)]


def fold(s: int) -> int:
    r = s % 0xFFFF
    return 0xFFFF - r if r else 0


def words32(x: bytes) -> int:
    return int.from_bytes(x, "big") % 0xFFFF


class Direction:
    """Precomputed per-direction header fields and partial checksums."""

    __slots__ = ("eth", "src", "dst", "sport", "dport", "ttl", "ident", "ip_sum", "tcp_sum",
                 "tsbase", "win")

    def __init__(self, src_mac, dst_mac, src, dst, sport, dport, ttl, ident, tsbase, win):
        self.eth = pg.mac_bytes(dst_mac) + pg.mac_bytes(src_mac) + b"\x08\x00"
        self.src, self.dst = pg.ip_bytes(src), pg.ip_bytes(dst)
        self.sport, self.dport, self.ttl, self.ident = sport, dport, ttl, ident
        self.tsbase, self.win = tsbase, win
        # IP: version/IHL/TOS, flags (DF), TTL/proto, addresses (+ total length, id).
        self.ip_sum = 0x4500 + 0x4000 + (ttl << 8 | 6) + words32(self.src) + words32(self.dst)
        # TCP: pseudo-header (addresses, proto; + length), ports, window, TS option kinds.
        self.tcp_sum = (words32(self.src) + words32(self.dst) + 6 + sport + dport + win
                        + TS_OPT_WORDS)


class Session:
    """Builds the records of one session, burst by burst (each burst time-sorted)."""

    def __init__(self, gen: "Generator", n: int, start_us: int, outcome: str, budget: int):
        rng = gen.rng
        self.gen, self.n, self.outcome, self.budget = gen, n, outcome, budget
        self.rng = random.Random(rng.getrandbits(64))
        r = self.rng
        self.now = start_us
        self.bytes = 0
        self.packets = 0
        ci = gen.client_hosts[n % len(gen.client_hosts)]
        self.client = f"192.0.2.{ci}"
        self.client_mac = f"02:00:c0:00:02:{ci:02x}"
        self.router_mac = "02:00:5e:00:00:01"
        self.resolver = "192.0.2.53" if ci % 3 else "192.0.2.54"
        self.server = gen.server_for(n)
        self.origin = f"origin{ci}.example"
        self.domain = f"dom{n}.example"
        self.target = f"xmpp.dom{n}.example"
        self.sport = gen.alloc_port(self.client, self.server, r)
        self.rtt = r.choice((4, 9, 18, 35, 60, 95, 140)) * 1000 + r.randint(0, 900)
        self.local = r.randint(150, 450)  # capture -> client -> capture
        self.mss = r.choice((1460, 1460, 1460, 1440, 1400, 1380))
        self.pmss = self.mss - 12  # payload per segment with the TS option
        self.gap = {False: r.choice((12, 12, 25, 120)), True: r.choice((12, 30, 60, 120))}
        win = 2048  # scaled by 128: 256 KiB
        self.isn = {False: r.getrandbits(32), True: r.getrandbits(32)}
        self.d = {
            False: Direction(self.client_mac, self.router_mac, self.client, self.server,
                             self.sport, 5269, 64, r.getrandbits(16), r.getrandbits(31), win),
            True: Direction(self.router_mac, self.client_mac, self.server, self.client, 5269,
                            self.sport, r.choice((46, 49, 52, 55, 57)), r.getrandbits(16),
                            r.getrandbits(31), win),
        }
        self.nxt = {False: self.isn[False], True: self.isn[True]}
        self.cwnd = {False: 10, True: 10}
        self.last_rx_tsval = {False: 0, True: 0}
        self.users = [f"user{k}".encode() for k in r.sample(range(1, 5000), 12)]
        self.peers = [f"contact{k}".encode() for k in r.sample(range(1, 5000), 12)]
        self.ids = 0
        self.tmpl: dict = {}

    # -- packets -------------------------------------------------------------------------
    def tsval(self, rev: bool, t: int) -> int:
        return (self.d[rev].tsbase + t // 1000) & M32

    def pkt(self, out: list, rev: bool, t: int, flags: int, payload: bytes = b"",
            psum: int = 0, tsecr: int | None = None) -> int:
        """Append (t, record) for a TCP segment with the TS option (fast path): seq/ack
        from the connection state, TSecr = the last TSval received unless given.
        Returns the segment's TSval."""
        d = self.d[rev]
        seq = self.nxt[rev]
        ack = self.nxt[not rev]
        tsval = (d.tsbase + t // 1000) & M32
        if tsecr is None:
            tsecr = self.last_rx_tsval[rev]
        self.last_rx_tsval[not rev] = tsval
        tcp_len = 32 + len(payload)
        tot = 20 + tcp_len
        ident = d.ident
        d.ident = (ident + 1) & 0xFFFF
        ipck = fold(d.ip_sum + tot + ident)
        offfl = 0x8000 | flags
        s = (d.tcp_sum + tcp_len + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
             + offfl + (tsval >> 16) + (tsval & 0xFFFF) + (tsecr >> 16) + (tsecr & 0xFFFF)
             + psum)
        hdr = HDR.pack(0x45, 0, tot, ident, 0x4000, d.ttl, 6, ipck, d.src, d.dst, d.sport,
                       d.dport, seq, ack, 0x80, flags, d.win, fold(s), 0, 0x0101080A, tsval,
                       tsecr)
        flen = 14 + tot
        rec = REC.pack(t // 1_000_000, t % 1_000_000, flen, flen) + d.eth + hdr + payload
        self.bytes += len(rec)
        self.packets += 1
        out.append((t, rec))
        return tsval

    def slow_pkt(self, out: list, t: int, ip: bytes, rev: bool) -> None:
        """Append a packet built with pcapgen (DNS, SYNs: rare, so speed does not matter)."""
        d = self.d[rev]
        frame = d.eth + ip
        rec = REC.pack(t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame
        self.bytes += len(rec)
        self.packets += 1
        out.append((t, rec))

    def syn(self, out: list, rev: bool, t: int, flags: int) -> None:
        d = self.d[rev]
        opts = pg.tcp_options(mss=self.mss if not rev else min(self.mss, 1460), sack_perm=True,
                              ts=(self.tsval(rev, t), self.last_rx_tsval[rev]), wscale=7)
        src, dst = (self.server, self.client) if rev else (self.client, self.server)
        seg = pg.tcp(src, dst, d.sport, d.dport, seq=self.isn[rev],
                     ack=self.nxt[not rev] if flags & pg.ACK else 0, flags=flags,
                     window=64240 if not rev else 65160, options=opts)
        self.last_rx_tsval[not rev] = self.tsval(rev, t)
        self.slow_pkt(out, t, pg.ipv4(src, dst, pg.IPPROTO_TCP, seg, ttl=d.ttl, ident=d.ident),
                      rev)
        d.ident = (d.ident + 1) & 0xFFFF

    # -- phases --------------------------------------------------------------------------
    def dns(self, out: list) -> None:
        r, g = self.rng, self.gen
        name = f"_xmpp-server._tcp.{self.domain}"
        qid = r.getrandbits(16)
        srv_q = pg.dns_query(qid, name, pg.DNS_SRV)
        srv_r = pg.dns_response(qid, name, pg.DNS_SRV,
                                [pg.RR(name, pg.DNS_SRV, pg.SRV(0, 5, 5269, self.target), 3600)])
        a_q = pg.dns_query(qid ^ 0x5A5A, self.target, pg.DNS_A)
        a_r = pg.dns_response(qid ^ 0x5A5A, self.target, pg.DNS_A,
                              [pg.RR(self.target, pg.DNS_A, pg.A(self.server), 300)])
        t = self.now
        for q, resp in ((srv_q, srv_r), (a_q, a_r)):
            port = g.alloc_port(self.client, self.resolver, r)
            delay = r.choice((250, 400, 900)) if r.random() < 0.7 else r.randint(3000, 40000)
            qi = pg.ipv4(self.client, self.resolver, pg.IPPROTO_UDP,
                         pg.udp(self.client, self.resolver, port, 53, q),
                         ident=r.getrandbits(16), df=False)
            ri = pg.ipv4(self.resolver, self.client, pg.IPPROTO_UDP,
                         pg.udp(self.resolver, self.client, 53, port, resp),
                         ident=r.getrandbits(16), df=False)
            self.slow_pkt(out, t, qi, False)
            self.slow_pkt(out, t + delay, ri, True)
            t += delay + r.randint(50, 300)
        self.now = t + r.randint(100, 500)

    def handshake(self, out: list) -> bool:
        t = self.now
        if self.outcome == OUTCOME_SYN_TIMEOUT:
            for k, back in enumerate((0, 1_000_000, 3_000_000, 7_000_000)):
                self.syn(out, False, t + back, pg.SYN)
            self.now = t + 7_000_000
            return False
        self.syn(out, False, t, pg.SYN)
        self.nxt[False] = (self.isn[False] + 1) & M32
        t += self.rtt
        if self.outcome == OUTCOME_REFUSED:
            src, dst = self.server, self.client
            seg = pg.tcp(src, dst, 5269, self.sport, seq=0, ack=self.nxt[False],
                         flags=pg.RST | pg.ACK, window=0)
            self.slow_pkt(out, t, pg.ipv4(src, dst, pg.IPPROTO_TCP, seg, ttl=self.d[True].ttl,
                                          ident=0, df=True), True)
            self.now = t
            return False
        self.syn(out, True, t, pg.SYN | pg.ACK)
        self.nxt[True] = (self.isn[True] + 1) & M32
        t += self.local
        self.pkt(out, False, t, pg.ACK)
        self.now = t
        return True

    def send(self, out: list, rev: bool, data: bytes, think: int) -> None:
        """Send ``data`` from one side in slow-start flights; ACK every 2nd segment."""
        t = self.now + think
        n, pmss = len(data), self.pmss
        gap = self.gap[rev]
        d_ack = self.rtt if not rev else self.local  # capture sees data -> sees its ACK
        d_next = self.local if not rev else self.rtt  # capture sees ACK -> sees next flight
        off = 0
        echo = self.last_rx_tsval[rev]  # TSecr of this flight's segments
        t_end = t
        while off < n:
            flight = self.cwnd[rev]
            first_ack = None  # (time, tsval) of the flight's first ACK
            k = 0
            while off < n and k < flight:
                chunk = data[off:off + pmss]
                off += len(chunk)
                last = off >= n
                psum = int.from_bytes(chunk, "big")
                if len(chunk) & 1:
                    psum <<= 8
                self.pkt(out, rev, t, pg.ACK | (pg.PSH if last else 0), chunk, psum % 0xFFFF,
                         tsecr=echo)
                self.nxt[rev] = (self.nxt[rev] + len(chunk)) & M32
                k += 1
                if k % 2 == 0 or last or k == flight:
                    at = t + d_ack
                    tv = self.pkt(out, not rev, at, pg.ACK)
                    t_end = at
                    if first_ack is None:
                        first_ack = (at, tv)
                t += gap
            self.cwnd[rev] = min(self.cwnd[rev] * 2, 90)
            if off < n:  # next flight, clocked by this flight's first ACK
                t = max(t, first_ack[0] + d_next)
                echo = first_ack[1]
        self.now = max(t, t_end)

    def _templates(self, rev: bool):
        """Per-direction stanza pieces with this session's addresses baked in."""
        frm_dom = (self.domain if rev else self.origin).encode()
        to_dom = (self.origin if rev else self.domain).encode()
        mine, theirs = (self.peers, self.users) if rev else (self.users, self.peers)
        return (
            [b"<message from='%s@%s/mobile' to='" % (u, frm_dom) for u in mine],
            [b"<message from='%s@%s/desktop' to='" % (u, frm_dom) for u in mine],
            [b"<presence from='%s@%s/mobile' to='" % (u, frm_dom) for u in mine],
            [b"%s@%s'" % (u, to_dom) for u in theirs],
        )

    def stanzas(self, rev: bool, nbytes: int) -> bytes:
        """Roughly ``nbytes`` of <message>/<presence> stanzas from one side."""
        r = self.rng
        rnd = r.random
        getbits = r.getrandbits
        bodies = self.gen.bodies
        short, medium, large = bodies.short, bodies.medium, bodies.large
        status, caps = bodies.status, self.gen.caps
        if rev not in self.tmpl:
            self.tmpl[rev] = self._templates(rev)
        msg, rcpt, pres, to = self.tmpl[rev]
        nu, nt = len(msg), len(to)
        parts: list[bytes] = []
        size = 0
        ids = self.ids
        while size < nbytes:
            ids += 1
            x = rnd()
            u = int(rnd() * nu)
            dst = to[int(rnd() * nt)]
            if x < 0.72:
                y = rnd()
                body = (short[int(rnd() * len(short))] if y < 0.62 else
                        medium[int(rnd() * len(medium))] if y < 0.93 else
                        large[int(rnd() * len(large))])
                st = b"".join((
                    msg[u], dst, b" type='chat' id='m%x' xml:lang='en'><body>" % ids, body,
                    b"</body><active xmlns='http://jabber.org/protocol/chatstates'/>"
                    b"<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' "
                    b"id='%016x'/></message>" % getbits(64)))
            elif x < 0.80:
                st = b"".join((
                    rcpt[u], dst, b" id='r%x'><received xmlns='urn:xmpp:receipts' id='m%x'/>"
                    b"</message>" % (ids, ids // 2)))
            elif x < 0.97:
                st = b"".join((
                    pres[u], dst, b"><show>", SHOW[int(rnd() * 4)], b"</show><status>",
                    status[int(rnd() * len(status))], b"</status><priority>5</priority>"
                    b"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
                    b"node='https://client.example/caps' ver='", caps[int(rnd() * len(caps))],
                    b"'/></presence>"))
            else:
                st = b"".join((pres[u], dst, b" type='unavailable'/>"))
            parts.append(st)
            size += len(st)
        self.ids = ids
        return b"".join(parts)

    def run(self):
        """Generator of time-sorted burst lists [(t_us, record), ...]."""
        out: list = []
        self.dns(out)
        ok = self.handshake(out)
        yield out
        if not ok:
            return
        r = self.rng
        sid = b"%016x" % r.getrandbits(64)
        key = "%040x" % r.getrandbits(160)
        chunks = pg.xmpp_dialback_session(self.origin, self.domain, sid.decode(), key)
        for from_client, data in chunks[:-2]:
            out = []
            self.send(out, not from_client, data, think=r.randint(200, 3000))
            out.sort(key=lambda p: p[0])
            yield out
        reset = self.outcome == OUTCOME_RESET
        budget = self.budget // 2 if reset else self.budget
        # File bytes per payload byte: segment headers (82 incl. the record header) and
        # an ACK (82) every second segment.
        ratio = self.pmss / (self.pmss + 82 + 41)
        while self.bytes < budget:
            rev = r.random() < 0.3  # 30% of stanza traffic comes back over bidi
            want = int(min((budget - self.bytes) * ratio,
                           r.choice((600, 2000, 6000, 20000, 60000)) * r.uniform(0.3, 1.0)))
            out = []
            self.send(out, rev, self.stanzas(rev, max(want, 100)), think=r.randint(500, 80000))
            out.sort(key=lambda p: p[0])
            yield out
        if reset:
            # The server aborts the connection (e.g. it restarted).
            out = []
            self.now += r.randint(1000, 30000)
            self.pkt(out, True, self.now, pg.RST | pg.ACK)
            yield out
            return
        out = []
        for from_client, data in chunks[-2:]:
            self.send(out, not from_client, data, think=r.randint(1000, 20000))
        # FIN from the originating (client) side, FIN from the server, last ACK.
        t = self.now + r.randint(1000, 5000)
        self.pkt(out, False, t, pg.FIN | pg.ACK)
        self.nxt[False] = (self.nxt[False] + 1) & M32
        t += self.rtt
        self.pkt(out, True, t, pg.FIN | pg.ACK)
        self.nxt[True] = (self.nxt[True] + 1) & M32
        t += self.local
        self.pkt(out, False, t, pg.ACK)
        out.sort(key=lambda p: p[0])
        yield out


class Generator:
    def __init__(self, sessions: int, target: int | None, seed: int, concurrency: int):
        self.rng = random.Random(seed)
        self.sessions = sessions
        self.concurrency = max(1, min(concurrency, sessions))
        self.bodies = Bodies(self.rng)
        self.caps = [("%040x" % self.rng.getrandbits(160)).encode()[:28] for _ in range(8)]
        self.client_hosts = [i for i in range(1, 251) if i not in (53, 54)]
        self.server_pool = ([f"203.0.113.{i}" for i in range(1, 255)]
                            + [f"198.51.100.{i}" for i in range(1, 255)])
        self.used_ports: set = set()
        r = self.rng
        self.outcomes = []
        for _ in range(sessions):
            x = r.random()
            self.outcomes.append(OUTCOME_SYN_TIMEOUT if x < 0.03 else OUTCOME_REFUSED
                                 if x < 0.06 else OUTCOME_RESET if x < 0.08 else OUTCOME_OK)
        # Byte budget per session (file bytes, all packets of the session): long-tailed
        # weights normalised so the budgets add up to the target.
        if target is None:
            self.budgets = [r.randint(2_000, 60_000) for _ in range(sessions)]
        else:
            failed = 700  # DNS + SYN(s) (+ RST) of a session that never connects
            weights = [r.paretovariate(2.5) if o in (OUTCOME_OK, OUTCOME_RESET) else 0.0
                       for o in self.outcomes]
            # A reset session stops at half its budget.
            total_w = sum(w / 2 if o == OUTCOME_RESET else w
                          for w, o in zip(weights, self.outcomes)) or 1.0
            # Beyond its budget a session adds its close and the overshoot of its last
            # burst (one stanza and its headers), about 1.8 KB on average.
            avail = max(0, target - 24 - failed * weights.count(0.0)
                        - 1_800 * (sessions - weights.count(0.0)))
            self.budgets = [int(avail * w / total_w) for w in weights]

    def server_for(self, n: int) -> str:
        return self.server_pool[(n * 2654435761) % len(self.server_pool)]

    def alloc_port(self, a: str, b: str, r: random.Random) -> int:
        while True:
            p = r.randint(32768, 60999)
            if (a, p, b) not in self.used_ports:
                self.used_ports.add((a, p, b))
                return p

    def write(self, path: str, progress: bool = True) -> dict:
        t_start = time.perf_counter()
        counts = {OUTCOME_OK: 0, OUTCOME_SYN_TIMEOUT: 0, OUTCOME_REFUSED: 0, OUTCOME_RESET: 0}
        heap: list = []
        seqno = 0
        next_session = 0
        packets = 0
        written = 24
        first_ts = last_ts = None

        def start(at: int):
            nonlocal next_session, seqno
            n = next_session
            next_session += 1
            counts[self.outcomes[n]] += 1
            s = Session(self, n, at, self.outcomes[n], self.budgets[n])
            it = s.run()
            burst = next(it)
            seqno += 1
            heapq.heappush(heap, (burst[0][0], seqno, 0, burst, it))

        for i in range(self.concurrency):
            start(T0_US + i * 2_000_000 // self.concurrency + self.rng.randint(0, 20_000))
        with open(path, "wb", buffering=1 << 22) as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                                pg.LINKTYPE_ETHERNET))
            buf: list = []
            pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
            next_report = 1 << 28
            while heap:
                ts, _, i, burst, it = heap[0]
                rec = burst[i][1]
                buf.append(rec)
                written += len(rec)
                packets += 1
                if len(buf) >= 8192:
                    f.write(b"".join(buf))
                    buf.clear()
                    if progress and written >= next_report:
                        el = time.perf_counter() - t_start
                        print(f"  {written / 1e6:,.0f} MB, {packets:,} packets, "
                              f"{written / 1e6 / el:.0f} MB/s", file=sys.stderr)
                        next_report += 1 << 28
                last_ts = ts
                if first_ts is None:
                    first_ts = ts
                i += 1
                if i < len(burst):
                    seqno += 1
                    replace(heap, (burst[i][0], seqno, i, burst, it))
                    continue
                nb = next(it, None)
                while nb is not None and not nb:
                    nb = next(it, None)
                if nb is not None:
                    # A session's bursts never start before its previous burst ends.
                    assert nb[0][0] >= ts, "session timeline went backwards"
                    seqno += 1
                    replace(heap, (nb[0][0], seqno, 0, nb, it))
                    continue
                pop(heap)
                if next_session < self.sessions:
                    start(ts + self.rng.randint(0, 10_000))
            f.write(b"".join(buf))
        el = time.perf_counter() - t_start
        return {
            "file": path,
            "bytes": os.path.getsize(path),
            "packets": packets,
            "sessions": self.sessions,
            "tcp_connections": self.sessions,
            "dns_exchanges": 2 * self.sessions,
            "outcomes": counts,
            "capture_seconds": round((last_ts - first_ts) / 1e6, 3) if packets else 0,
            "generation_seconds": round(el, 2),
            "generation_mb_per_s": round(os.path.getsize(path) / 1e6 / el, 1),
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("out")
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--target-bytes", type=parse_size, default=None,
                    help="approximate file size (K/M/G/T = 10^3..10^12); > 4G is fine")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=50, help="sessions open at once")
    ap.add_argument("--summary", help="also write the JSON summary to this file")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.sessions < 1:
        ap.error("--sessions must be >= 1")
    g = Generator(a.sessions, a.target_bytes, a.seed, a.concurrency)
    summary = g.write(a.out, progress=not a.quiet)
    text = json.dumps(summary)
    print(text)
    if a.summary:
        with open(a.summary, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
