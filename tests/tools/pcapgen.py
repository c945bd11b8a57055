#!/usr/bin/env python3
"""pcapgen: a small, stdlib-only packet builder and capture writer for fedscope tests.

Layers (each a plain function returning ``bytes``; every length and checksum field is
computed unless the caller overrides it, which is how malformed packets are made):

  link       Ethernet (+802.1Q / QinQ tags), Linux cooked SLL (DLT 113) and SLL2 (276),
             raw IP (LINKTYPE_RAW 101), BSD loopback (DLT_NULL 0)   -> ``Link`` classes
  network    ``ipv4`` (options, DF/MF/fragment offset, ID, TTL), ``ipv4_fragments``,
             ``ipv6`` (extension headers)
  transport  ``tcp`` (flags, seq/ack, window, options via ``tcp_options``), ``udp``,
             ``icmpv4_dest_unreachable`` / ``icmpv4_time_exceeded``, ``icmpv6_dest_unreachable``
  DNS        ``dns_message`` with ``RR`` records (A, AAAA, CNAME, NS, SOA, SRV, raw),
             with or without name compression; ``dns_tcp`` adds the 2-byte length prefix
  flows      ``TcpFlow``: handshake, data with ACKs, FIN or RST, correct seq/ack numbers
  writers    ``PcapWriter`` (micro/nanosecond magic, snaplen, incl_len/orig_len) and
             ``PcapngWriter`` (SHB, one IDB per interface with if_tsresol, EPB)

Time is an integer number of nanoseconds since the Unix epoch everywhere (``T0_NS`` is
2026-11-25T10:00:00Z), so nanosecond captures keep every digit.

Run this file directly for a self-check (builds one of everything and verifies it).
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Sequence

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

T0_NS = 1795600800 * 1_000_000_000  # 2026-11-25T10:00:00Z
MS = 1_000_000  # nanoseconds per millisecond
US = 1_000  # nanoseconds per microsecond

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_USER0 = 147
LINKTYPE_LINUX_SLL2 = 276

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772

PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4

AF_INET = 2
AF_INET6_BSD = 24  # NetBSD/OpenBSD
AF_INET6_FREEBSD = 28
AF_INET6_DARWIN = 30

IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

DNS_A, DNS_NS, DNS_CNAME, DNS_SOA, DNS_AAAA, DNS_SRV, DNS_OPT = 1, 2, 5, 6, 28, 33, 41
DNS_IN = 1

XMPP_PORT = 5269

# --------------------------------------------------------------------------------------
# Checksums and addresses
# --------------------------------------------------------------------------------------


def ones_sum(data: bytes) -> int:
    """A value congruent (mod 0xFFFF) to the 16-bit one's-complement sum of ``data``.

    Because 2**16 == 1 (mod 0xFFFF), the big-endian integer value of an even-length byte
    string is congruent to the sum of its 16-bit words, so one C-level conversion and one
    modulo replace a Python loop.  Sums of parts may be added before ``fold_checksum``,
    provided every part but the last has even length.
    """
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def fold_checksum(total: int) -> int:
    """Internet checksum from a (non-zero-data) sum built with ``ones_sum``: the
    one's-complement of the sum, exactly what a standard RFC 1071 implementation gives."""
    r = total % 0xFFFF
    return 0xFFFF - r if r else 0  # r == 0 means a sum of 0xFFFF (-0): checksum 0


def inet_checksum(data: bytes) -> int:
    """RFC 1071 checksum of ``data``."""
    if not any(data):
        return 0xFFFF
    return fold_checksum(ones_sum(data))


@functools.lru_cache(maxsize=4096)
def ip_bytes(addr: str | bytes) -> bytes:
    """Packed form of an IPv4/IPv6 address given as text (or already packed)."""
    if isinstance(addr, bytes):
        return addr
    return ipaddress.ip_address(addr).packed


def mac_bytes(mac: str | bytes) -> bytes:
    if isinstance(mac, bytes):
        return mac
    return bytes(int(x, 16) for x in mac.split(":"))


def pseudo_header(src: str | bytes, dst: str | bytes, proto: int, length: int) -> bytes:
    """IPv4 or IPv6 pseudo-header for the TCP/UDP/ICMPv6 checksum."""
    s, d = ip_bytes(src), ip_bytes(dst)
    if len(s) == 4:
        return s + d + struct.pack("!BBH", 0, proto, length)
    return s + d + struct.pack("!I3xB", length, proto)


# --------------------------------------------------------------------------------------
# Link layers
# --------------------------------------------------------------------------------------


def _ethertype_for(packet: bytes) -> int:
    return ETH_P_IPV6 if packet and packet[0] >> 4 == 6 else ETH_P_IP


class Link:
    """Wraps network-layer packets into frames of one link type.

    ``frame(packet, reverse)``: ``reverse`` is False for packets in the "forward" direction
    (the flow's client to its server) and True for the other one; links with per-direction
    fields (MAC addresses, SLL packet types) use it.
    """

    linktype: int

    def frame(self, packet: bytes, reverse: bool = False, ethertype: int | None = None) -> bytes:
        raise NotImplementedError


@dataclass
class EthernetLink(Link):
    """Ethernet II; ``vlans`` lists outer-to-inner tags as (tpid, vid[, pcp])."""

    src: str = "02:00:00:00:00:01"
    dst: str = "02:00:00:00:00:02"
    vlans: Sequence[tuple] = ()
    linktype: int = LINKTYPE_ETHERNET

    def frame(self, packet, reverse=False, ethertype=None):
        s, d = mac_bytes(self.src), mac_bytes(self.dst)
        if reverse:
            s, d = d, s
        return ethernet(packet, ethertype or _ethertype_for(packet), src=s, dst=d, vlans=self.vlans)


@dataclass
class SllLink(Link):
    """Linux cooked capture v1 (DLT_LINUX_SLL, 113)."""

    addr: str = "02:00:00:00:00:02"  # link-layer address of the sender of forward packets
    peer_addr: str = "02:00:00:00:00:01"
    pkttype: int = PACKET_HOST  # forward packets
    reverse_pkttype: int = PACKET_OUTGOING
    arphrd: int = ARPHRD_ETHER
    linktype: int = LINKTYPE_LINUX_SLL

    def frame(self, packet, reverse=False, ethertype=None):
        a = self.peer_addr if reverse else self.addr
        t = self.reverse_pkttype if reverse else self.pkttype
        return sll(packet, ethertype or _ethertype_for(packet), pkttype=t, arphrd=self.arphrd,
                   addr=a)


@dataclass
class Sll2Link(Link):
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276)."""

    if_index: int = 1
    addr: str = "02:00:00:00:00:02"
    peer_addr: str = "02:00:00:00:00:01"
    pkttype: int = PACKET_HOST
    reverse_pkttype: int = PACKET_OUTGOING
    arphrd: int = ARPHRD_ETHER
    linktype: int = LINKTYPE_LINUX_SLL2

    def frame(self, packet, reverse=False, ethertype=None):
        a = self.peer_addr if reverse else self.addr
        t = self.reverse_pkttype if reverse else self.pkttype
        return sll2(packet, ethertype or _ethertype_for(packet), if_index=self.if_index,
                    pkttype=t, arphrd=self.arphrd, addr=a)


@dataclass
class RawLink(Link):
    """LINKTYPE_RAW (101): the frame is the IP packet."""

    linktype: int = LINKTYPE_RAW

    def frame(self, packet, reverse=False, ethertype=None):
        return packet


@dataclass
class NullLink(Link):
    """BSD loopback (DLT_NULL, 0): 4-byte address family in the capturing host's order."""

    af_inet6: int = AF_INET6_DARWIN
    byteorder: str = "little"
    linktype: int = LINKTYPE_NULL

    def frame(self, packet, reverse=False, ethertype=None):
        af = self.af_inet6 if packet and packet[0] >> 4 == 6 else AF_INET
        return null_loopback(packet, af, self.byteorder)


def ethernet(payload: bytes, ethertype: int, *, src="02:00:00:00:00:01",
             dst="02:00:00:00:00:02", vlans: Sequence[tuple] = ()) -> bytes:
    """Ethernet II frame; ``vlans`` = [(tpid, vid[, pcp]), ...] outermost first
    (802.1Q: (0x8100, vid); QinQ: [(0x88a8, outer), (0x8100, inner)])."""
    hdr = mac_bytes(dst) + mac_bytes(src)
    for tag in vlans:
        tpid, vid = tag[0], tag[1]
        pcp = tag[2] if len(tag) > 2 else 0
        hdr += struct.pack("!HH", tpid, (pcp << 13) | (vid & 0x0FFF))
    return hdr + struct.pack("!H", ethertype) + payload


def sll(payload: bytes, protocol: int, *, pkttype=PACKET_HOST, arphrd=ARPHRD_ETHER,
        addr: str | bytes = "02:00:00:00:00:01") -> bytes:
    """Linux SLL v1 header: pkttype, ARPHRD, addr len, addr[8], protocol (16 bytes)."""
    a = mac_bytes(addr)
    return struct.pack("!HHH8sH", pkttype, arphrd, len(a), a, protocol) + payload


def sll2(payload: bytes, protocol: int, *, if_index=1, pkttype=PACKET_HOST,
         arphrd=ARPHRD_ETHER, addr: str | bytes = "02:00:00:00:00:01") -> bytes:
    """Linux SLL2 header: protocol, reserved, if_index u32, ARPHRD, pkttype, addr len,
    addr[8] (20 bytes)."""
    a = mac_bytes(addr)
    return struct.pack("!HHIHBB8s", protocol, 0, if_index, arphrd, pkttype, len(a), a) + payload


def null_loopback(payload: bytes, af: int, byteorder: str = "little") -> bytes:
    return af.to_bytes(4, byteorder) + payload


# --------------------------------------------------------------------------------------
# IPv4 / IPv6
# --------------------------------------------------------------------------------------


def ipv4_option_record_route(slots: int, recorded: Sequence[str] = ()) -> bytes:
    """Record Route option (type 7) with room for ``slots`` addresses, the first ones
    already filled with ``recorded`` (pointer after the last recorded address)."""
    body = b"".join(ip_bytes(a) for a in recorded) + b"\0" * 4 * (slots - len(recorded))
    return struct.pack("!BBB", 7, 3 + 4 * slots, 4 + 4 * len(recorded)) + body


def ipv4(src, dst, proto: int, payload: bytes, *, ttl=64, ident=0, tos=0, df=True, mf=False,
         frag_offset=0, options=b"", version=4, ihl: int | None = None,
         total_length: int | None = None, checksum: int | None = None) -> bytes:
    """IPv4 packet.  ``frag_offset`` is in bytes (a multiple of 8); ``options`` are padded
    with EOL to a 4-byte boundary.  ``ihl``/``total_length``/``checksum``/``version``
    override the computed fields (the checksum is always computed over the header bytes
    actually emitted)."""
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    hlen = 20 + len(options)
    if ihl is None:
        ihl = hlen // 4
    if total_length is None:
        total_length = hlen + len(payload)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | ((frag_offset // 8) & 0x1FFF)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 0xF), tos, total_length & 0xFFFF,
                      ident & 0xFFFF, flags, ttl, proto, 0, ip_bytes(src), ip_bytes(dst)) + options
    if checksum is None:
        checksum = inet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", checksum) + hdr[12:] + payload


def ipv4_fragments(packet: bytes, fragment_payload: int) -> list[bytes]:
    """Split an IPv4 packet (built with ``ipv4``; DF is cleared) into fragments carrying
    at most ``fragment_payload`` bytes each (rounded down to a multiple of 8).  Options are
    copied to every fragment (fine for the copy-flagged ones; tests don't mind)."""
    ihl = (packet[0] & 0xF) * 4
    hdr, data = packet[:ihl], packet[ihl:]
    per = fragment_payload // 8 * 8
    v_ihl, tos, _tl, ident, _ff, ttl, proto, _ck = struct.unpack("!BBHHHBBH", hdr[:12])
    src, dst, opts = hdr[12:16], hdr[16:20], hdr[20:]
    frags = []
    for off in range(0, len(data), per):
        chunk = data[off:off + per]
        frags.append(ipv4(src, dst, proto, chunk, ttl=ttl, ident=ident, tos=tos, df=False,
                          mf=off + per < len(data), frag_offset=off, options=opts))
    return frags


def ipv6_options_header(options: bytes = b"") -> bytes:
    """Body (after next-header/length) of a Hop-by-Hop or Destination Options header,
    padded with Pad1/PadN so the whole header is a multiple of 8 bytes."""
    pad = (8 - (2 + len(options)) % 8) % 8
    if pad == 1:
        options += b"\0"
    elif pad > 1:
        options += bytes([1, pad - 2]) + b"\0" * (pad - 2)
    return options


def ipv6_fragment_header(offset: int, more: bool, ident: int) -> bytes:
    """Body of a Fragment header (after next-header/reserved): offset in bytes."""
    return struct.pack("!HI", (offset // 8) << 3 | (1 if more else 0), ident)


def ipv6(src, dst, next_header: int, payload: bytes, *, hop_limit=64, traffic_class=0,
         flow_label=0, ext_headers: Sequence[tuple[int, bytes]] = (),
         payload_length: int | None = None) -> bytes:
    """IPv6 packet.  ``ext_headers`` = [(header type, body), ...] in order; the chain of
    next-header values and each header's length byte are filled in (body for HBH/DST/
    Routing: everything after the 2-byte prefix, a multiple of 8 minus 2 bytes; for the
    Fragment header: the 6 bytes after next-header/reserved)."""
    ext = b""
    types = [t for t, _ in ext_headers] + [next_header]
    for i, (t, body) in enumerate(ext_headers):
        nxt = types[i + 1]
        if t == IPPROTO_FRAGMENT:
            ext += struct.pack("!BB", nxt, 0) + body
        else:
            ext += struct.pack("!BB", nxt, (2 + len(body)) // 8 - 1) + body
    first = types[0]
    if payload_length is None:
        payload_length = len(ext) + len(payload)
    vtf = (6 << 28) | (traffic_class << 20) | (flow_label & 0xFFFFF)
    return struct.pack("!IHBB16s16s", vtf, payload_length, first, hop_limit,
                       ip_bytes(src), ip_bytes(dst)) + ext + payload


def ip_packet(src, dst, proto: int, payload: bytes, **kw) -> bytes:
    """IPv4 or IPv6 packet depending on the address family of ``src``; keyword arguments
    that the other family does not know are dropped (ttl <-> hop_limit is mapped)."""
    if len(ip_bytes(src)) == 4:
        kw = {k: v for k, v in kw.items() if k not in ("hop_limit", "flow_label", "ext_headers")}
        return ipv4(src, dst, proto, payload, **kw)
    if "ttl" in kw:
        kw.setdefault("hop_limit", kw["ttl"])
    kw = {k: v for k, v in kw.items() if k in ("hop_limit", "traffic_class", "flow_label",
                                                "ext_headers", "payload_length")}
    return ipv6(src, dst, proto, payload, **kw)


# --------------------------------------------------------------------------------------
# TCP / UDP / ICMP
# --------------------------------------------------------------------------------------


def tcp_options(*, mss: int | None = None, sack_perm=False, wscale: int | None = None,
                ts: tuple[int, int] | None = None,
                sack: Sequence[tuple[int, int]] = ()) -> bytes:
    """TCP options laid out the way Linux does (SYN: MSS, SACK-perm, TS, NOP, WS;
    others: NOP NOP TS, NOP NOP SACK blocks), padded to a 4-byte boundary."""
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if ts is not None:
        o += (b"\x04\x02" if sack_perm else b"\x01\x01") + struct.pack("!BBII", 8, 10, *ts)
    elif sack_perm:
        o += b"\x01\x01\x04\x02"
    if wscale is not None:
        o += struct.pack("!BBBB", 1, 3, 3, wscale)
    if sack:
        o += b"\x01\x01" + struct.pack("!BB", 5, 2 + 8 * len(sack))
        o += b"".join(struct.pack("!II", l & 0xFFFFFFFF, r & 0xFFFFFFFF) for l, r in sack)
    if len(o) % 4:
        o += b"\0" * (4 - len(o) % 4)
    return o


def tcp(src, dst, sport: int, dport: int, *, seq=0, ack=0, flags=ACK, window=65535,
        options=b"", payload=b"", urg=0, data_offset: int | None = None,
        checksum: int | None = None) -> bytes:
    """TCP segment with the checksum over the IPv4/IPv6 pseudo-header.  ``data_offset``
    (in 32-bit words) overrides the header length field only."""
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    if data_offset is None:
        data_offset = 5 + len(options) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (data_offset & 0xF) << 4, flags, window, 0, urg) + options
    seg = hdr + payload
    if checksum is None:
        checksum = fold_checksum(ones_sum(pseudo_header(src, dst, IPPROTO_TCP, len(seg)))
                                 + ones_sum(seg))
    return seg[:16] + struct.pack("!H", checksum) + seg[18:]


def udp(src, dst, sport: int, dport: int, payload: bytes, *, length: int | None = None,
        checksum: int | None = None) -> bytes:
    """UDP datagram with its checksum (0 is sent as 0xFFFF)."""
    if length is None:
        length = 8 + len(payload)
    dgram = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if checksum is None:
        checksum = fold_checksum(ones_sum(pseudo_header(src, dst, IPPROTO_UDP, len(dgram)))
                                 + ones_sum(dgram)) or 0xFFFF
    return dgram[:6] + struct.pack("!H", checksum) + dgram[8:]


def icmpv4(icmp_type: int, code: int, rest: bytes = b"\0\0\0\0", body: bytes = b"") -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + body
    return msg[:2] + struct.pack("!H", inet_checksum(msg)) + msg[4:]


def _icmp_quote(original: bytes) -> bytes:
    """Original IP header + first 8 bytes of its payload (RFC 792)."""
    ihl = (original[0] & 0xF) * 4
    return original[:ihl + 8]


def icmpv4_dest_unreachable(code: int, original: bytes, next_hop_mtu: int = 0) -> bytes:
    """Type 3; code 3 = port unreachable, 1 = host, 13 = administratively prohibited,
    4 = fragmentation needed (then ``next_hop_mtu``)."""
    return icmpv4(3, code, struct.pack("!HH", 0, next_hop_mtu), _icmp_quote(original))


def icmpv4_time_exceeded(code: int, original: bytes) -> bytes:
    """Type 11; code 0 = TTL exceeded in transit, 1 = fragment reassembly time exceeded."""
    return icmpv4(11, code, b"\0\0\0\0", _icmp_quote(original))


def icmpv6_dest_unreachable(src, dst, code: int, original: bytes) -> bytes:
    """ICMPv6 type 1 (code 4 = port unreachable, 1 = administratively prohibited), quoting
    as much of the invoking packet as fits in the minimum MTU."""
    body = struct.pack("!BBHI", 1, code, 0, 0) + original[:1280 - 40 - 8]
    ck = fold_checksum(ones_sum(pseudo_header(src, dst, IPPROTO_ICMPV6, len(body)))
                       + ones_sum(body))
    return body[:2] + struct.pack("!H", ck) + body[4:]


# --------------------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------------------


class DnsBuffer:
    """Message being built; remembers name suffixes for compression pointers."""

    def __init__(self, compress: bool = True):
        self.buf = bytearray()
        self.compress = compress
        self.suffixes: dict[str, int] = {}

    def name(self, name: str, compress: bool | None = None) -> None:
        compress = self.compress if compress is None else compress
        labels = [l for l in name.rstrip(".").split(".") if l] if name not in ("", ".") else []
        for i in range(len(labels)):
            key = ".".join(labels[i:]).lower()
            if compress and key in self.suffixes:
                self.buf += struct.pack("!H", 0xC000 | self.suffixes[key])
                return
            if compress and len(self.buf) < 0x3FFF:
                self.suffixes.setdefault(key, len(self.buf))
            lab = labels[i].encode()
            self.buf += bytes([len(lab)]) + lab
        self.buf += b"\0"


class Rdata:
    def write(self, m: DnsBuffer) -> None:
        raise NotImplementedError


@dataclass
class A(Rdata):
    addr: str

    def write(self, m):
        m.buf += ip_bytes(self.addr)


@dataclass
class AAAA(A):
    pass


@dataclass
class CNAME(Rdata):
    target: str

    def write(self, m):
        m.name(self.target)


@dataclass
class NS(CNAME):
    pass


@dataclass
class SOA(Rdata):
    mname: str
    rname: str
    serial: int = 2026112501
    refresh: int = 7200
    retry: int = 3600
    expire: int = 1209600
    minimum: int = 3600

    def write(self, m):
        m.name(self.mname)
        m.name(self.rname)
        m.buf += struct.pack("!IIIII", self.serial, self.refresh, self.retry, self.expire,
                             self.minimum)


@dataclass
class SRV(Rdata):
    priority: int
    weight: int
    port: int
    target: str

    def write(self, m):
        m.buf += struct.pack("!HHH", self.priority, self.weight, self.port)
        m.name(self.target, compress=False)  # RFC 2782: no compression for the target


@dataclass
class RawRdata(Rdata):
    data: bytes

    def write(self, m):
        m.buf += self.data


@dataclass
class RR:
    """A resource record; ``rdlength`` overrides the computed RDLENGTH."""

    name: str
    rtype: int
    rdata: Rdata
    ttl: int = 300
    rclass: int = DNS_IN
    rdlength: int | None = None


def opt_rr(udp_size: int = 1232) -> RR:
    """EDNS(0) OPT pseudo-record for the additional section."""
    return RR("", DNS_OPT, RawRdata(b""), ttl=0, rclass=udp_size)


def dns_message(ident: int, *, qr=False, opcode=0, aa=False, tc=False, rd=True, ra=False,
                ad=False, rcode=0, questions: Sequence[tuple] = (), answers: Sequence[RR] = (),
                authority: Sequence[RR] = (), additional: Sequence[RR] = (), compress=True,
                counts: tuple[int, int, int, int] | None = None) -> bytes:
    """DNS message.  ``questions`` = [(name, qtype[, qclass])]; ``counts`` overrides the
    four section counts in the header."""
    m = DnsBuffer(compress)
    flags = ((qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9) | (rd << 8) | (ra << 7)
             | (ad << 5) | rcode)
    if counts is None:
        counts = (len(questions), len(answers), len(authority), len(additional))
    m.buf += struct.pack("!HHHHHH", ident, flags, *counts)
    for q in questions:
        m.name(q[0])
        m.buf += struct.pack("!HH", q[1], q[2] if len(q) > 2 else DNS_IN)
    for rr in (*answers, *authority, *additional):
        m.name(rr.name)
        m.buf += struct.pack("!HHI", rr.rtype, rr.rclass, rr.ttl & 0xFFFFFFFF)
        at = len(m.buf)
        m.buf += b"\0\0"
        rr.rdata.write(m)
        rdlen = len(m.buf) - at - 2 if rr.rdlength is None else rr.rdlength
        m.buf[at:at + 2] = struct.pack("!H", rdlen)
    return bytes(m.buf)


def dns_query(ident: int, name: str, qtype: int, *, edns: int | None = 1232, **kw) -> bytes:
    return dns_message(ident, questions=[(name, qtype)],
                       additional=[opt_rr(edns)] if edns else [], **kw)


def dns_response(ident: int, name: str, qtype: int, answers: Sequence[RR] = (), *,
                 edns: int | None = 1232, **kw) -> bytes:
    kw.setdefault("ra", True)
    return dns_message(ident, qr=True, questions=[(name, qtype)], answers=answers,
                       additional=[*kw.pop("additional", ()), *([opt_rr(edns)] if edns else [])],
                       **kw)


def dns_tcp(message: bytes) -> bytes:
    """DNS-over-TCP framing: 2-byte length prefix."""
    return struct.pack("!H", len(message)) + message


# --------------------------------------------------------------------------------------
# XMPP server-to-server payloads (plaintext, dialback)
# --------------------------------------------------------------------------------------

STREAM_NS = ("xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
             "xmlns:db='jabber:server:dialback'")


def xmpp_stream_header(frm: str, to: str, stream_id: str | None = None) -> bytes:
    sid = f" id='{stream_id}'" if stream_id else ""
    return (f"<?xml version='1.0'?><stream:stream {STREAM_NS} from='{frm}' to='{to}'{sid}"
            f" version='1.0'>").encode()


def xmpp_dialback_session(origin: str, receiving: str, stream_id: str, key: str,
                          stanzas: Sequence[bytes] = ()) -> list[tuple[bool, bytes]]:
    """Plaintext s2s exchange as (from_originating_server, bytes) chunks: stream headers,
    features, bidi (XEP-0288, so the db:verify can travel on the same connection),
    db:result, db:verify, results, optional stanzas from the originating server, then the
    closing tags."""
    return [
        (True, xmpp_stream_header(origin, receiving)),
        (False, xmpp_stream_header(receiving, origin, stream_id)
         + b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/>"
           b"</dialback><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>"),
        (True, f"<bidi xmlns='urn:xmpp:bidi'/><db:result from='{origin}' to='{receiving}'>"
               f"{key}</db:result>".encode()),
        (False, f"<db:verify from='{receiving}' to='{origin}' id='{stream_id}'>{key}"
                f"</db:verify>".encode()),
        (True, f"<db:verify from='{origin}' to='{receiving}' id='{stream_id}' type='valid'/>"
         .encode()),
        (False, f"<db:result from='{receiving}' to='{origin}' type='valid'/>".encode()),
        *[(True, s) for s in stanzas],
        (True, b"</stream:stream>"),
        (False, b"</stream:stream>"),
    ]


# --------------------------------------------------------------------------------------
# TCP connection helper
# --------------------------------------------------------------------------------------


@dataclass
class Pkt:
    """One captured network-layer packet; ``reverse`` is True for server-to-client."""

    ts: int
    ip: bytes
    reverse: bool = False


@dataclass
class TcpFlow:
    """One TCP connection as seen from a capture point next to one of its ends.

    With the capture next to the client (default), the server's answer to a client packet
    shows up ``rtt`` later and the client answers server packets after ``local_delay``;
    with ``capture_at_server`` it is the other way round.  Data is
    cut into MSS-sized segments sent ``seg_gap`` apart; the receiver ACKs every
    ``ack_every`` segments (and the last one).  All methods append to ``self.packets``
    (kept in time order) and advance ``self.now``.
    """

    client: str
    sport: int
    server: str
    dport: int = XMPP_PORT
    start: int = T0_NS
    isn_c: int = 0x1A2B3C4D
    isn_s: int = 0x5E6F7081
    rtt: int = 20 * MS
    local_delay: int = 60 * US
    capture_at_server: bool = False
    seg_gap: int = 15 * US
    mss: int = 1460
    timestamps: bool = True
    wscale: int = 7
    window: int = 64240
    ttl_c: int = 64
    ttl_s: int = 52
    ip_id_c: int = 0x3A10
    ip_id_s: int = 0x7B20
    ip_opts_c: bytes = b""
    ip_opts_s: bytes = b""
    ack_every: int = 2
    packets: list[Pkt] = field(default_factory=list)

    def __post_init__(self):
        self.now = self.start
        self.nxt = {False: self.isn_c, True: self.isn_s}  # next seq to send, per side
        self.rcv = {False: 0, True: 0}  # what each side acknowledges
        self.tsval = {False: 1_000_000, True: 7_000_000}
        self.ts_recent = {False: 0, True: 0}
        self.ident = {False: self.ip_id_c, True: self.ip_id_s}
        self.v6 = len(ip_bytes(self.client)) == 16

    # -- low level -------------------------------------------------------------------
    @property
    def payload_mss(self) -> int:
        return self.mss - (12 if self.timestamps else 0)

    def _ts_opt(self, reverse: bool, at: int) -> tuple[int, int]:
        base = self.tsval[reverse]
        val = (base + (at - self.start) // MS) & 0xFFFFFFFF
        return val, self.ts_recent[reverse]

    def segment(self, reverse: bool, *, at: int | None = None, seq: int | None = None,
                ack: int | None = None, flags: int = ACK, payload: bytes = b"",
                options: bytes | None = None, window: int | None = None,
                sack: Sequence[tuple[int, int]] = (), ip_kw: dict | None = None) -> Pkt:
        """Append one segment from the client (``reverse`` False) or server.  Does not
        change the sequence state (the high-level methods do)."""
        at = self.now if at is None else at
        if seq is None:
            seq = self.nxt[reverse]
        if ack is None:
            ack = self.rcv[reverse] if flags & ACK else 0
        if options is None:
            ts = self._ts_opt(reverse, at) if self.timestamps else None
            options = tcp_options(ts=ts, sack=sack)
        if window is None:
            window = self.window >> self.wscale if self.wscale is not None else self.window
        src, dst = (self.server, self.client) if reverse else (self.client, self.server)
        sp, dp = (self.dport, self.sport) if reverse else (self.sport, self.dport)
        seg = tcp(src, dst, sp, dp, seq=seq, ack=ack, flags=flags, window=window,
                  options=options, payload=payload)
        kw = dict(ttl=self.ttl_s if reverse else self.ttl_c, ident=self.ident[reverse],
                  options=self.ip_opts_s if reverse else self.ip_opts_c,
                  flow_label=0x2D3E1 if reverse else 0x91A4C)
        kw.update(ip_kw or {})
        self.ident[reverse] = (self.ident[reverse] + 1) & 0xFFFF
        pkt = Pkt(at, ip_packet(src, dst, IPPROTO_TCP, seg, **kw), reverse)
        self._insert(pkt)
        if self.timestamps:
            self.ts_recent[not reverse] = self._ts_opt(reverse, at)[0]
        return pkt

    def _insert(self, pkt: Pkt) -> None:
        i = len(self.packets)
        while i and self.packets[i - 1].ts > pkt.ts:
            i -= 1
        self.packets.insert(i, pkt)

    def _answer_delay(self, reverse: bool) -> int:
        """Delay between a packet from side ``reverse`` and the peer's answer."""
        return self.local_delay if reverse != self.capture_at_server else self.rtt

    # -- high level ------------------------------------------------------------------
    def syn(self, at: int | None = None) -> Pkt:
        """(Re)transmit the client's SYN (at ``at`` or now)."""
        ts = self._ts_opt(False, self.now if at is None else at) if self.timestamps else None
        opts = tcp_options(mss=self.mss, sack_perm=True, ts=ts, wscale=self.wscale)
        return self.segment(False, at=at, seq=self.isn_c, flags=SYN, options=opts,
                            window=self.window)

    def handshake(self) -> None:
        self.syn()
        self.nxt[False] = self.isn_c + 1
        self.rcv[True] = self.isn_c + 1
        self.now += self._answer_delay(False)
        ts = self._ts_opt(True, self.now) if self.timestamps else None
        opts = tcp_options(mss=self.mss, sack_perm=True, ts=ts, wscale=self.wscale)
        self.segment(True, seq=self.isn_s, flags=SYN | ACK, options=opts, window=65160)
        self.nxt[True] = self.isn_s + 1
        self.rcv[False] = self.isn_s + 1
        self.now += self._answer_delay(True)
        self.segment(False)

    def send(self, reverse: bool, data: bytes, *, push=True, think: int = 0) -> None:
        """Send ``data`` from one side as MSS-sized segments; the other side ACKs every
        ``ack_every`` segments and the last one, one answer-delay after each."""
        self.now += think
        n = self.payload_mss
        chunks = [data[i:i + n] for i in range(0, len(data), n)] or [b""]
        acks = []  # (time, ack number) of the receiver's ACKs
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            self.segment(reverse, payload=chunk, flags=ACK | (PSH if push and last else 0))
            self.nxt[reverse] = (self.nxt[reverse] + len(chunk)) & 0xFFFFFFFF
            if last or (i + 1) % self.ack_every == 0:
                acks.append((self.now + self._answer_delay(reverse), self.nxt[reverse]))
            if not last:
                self.now += self.seg_gap
        for at, ack in acks:
            self.rcv[not reverse] = ack
            self.segment(not reverse, at=at)
        self.now = acks[-1][0]

    def close(self, reverse: bool = False) -> None:
        """FIN from one side, FIN from the other, final ACK."""
        self.segment(reverse, flags=FIN | ACK)
        self.nxt[reverse] = (self.nxt[reverse] + 1) & 0xFFFFFFFF
        self.now += self._answer_delay(reverse)
        self.rcv[not reverse] = self.nxt[reverse]
        self.segment(not reverse, flags=FIN | ACK)
        self.nxt[not reverse] = (self.nxt[not reverse] + 1) & 0xFFFFFFFF
        self.now += self._answer_delay(not reverse)
        self.rcv[reverse] = self.nxt[not reverse]
        self.segment(reverse)

    def reset(self, reverse: bool = False, with_ack: bool = True) -> None:
        self.segment(reverse, flags=RST | (ACK if with_ack else 0), window=0)

    def exchange(self, chunks: Iterable[tuple[bool, bytes]], think: int = 2 * MS) -> None:
        """Send (from_client, data) chunks in turn (``True`` = from the client)."""
        for from_client, data in chunks:
            self.send(not from_client, data, think=think)


# --------------------------------------------------------------------------------------
# Capture writers
# --------------------------------------------------------------------------------------


class PcapWriter:
    """Classic libpcap file: microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d) magic,
    little-endian by default.  Frames longer than ``snaplen`` are cut (incl_len) and keep
    their real length in orig_len."""

    def __init__(self, f: BinaryIO, linktype: int, *, snaplen: int = 262144,
                 nanosecond: bool = False, big_endian: bool = False):
        self.f, self.snaplen, self.nanosecond = f, snaplen, nanosecond
        self.e = ">" if big_endian else "<"
        self.rec = struct.Struct(self.e + "IIII")
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        f.write(struct.pack(self.e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def ts_fields(self, ts_ns: int) -> tuple[int, int]:
        sec, ns = divmod(ts_ns, 1_000_000_000)
        return sec, ns if self.nanosecond else ns // 1000

    def write(self, ts_ns: int, frame: bytes, orig_len: int | None = None) -> None:
        data = frame[:self.snaplen]
        self.write_record(ts_ns, data, len(data), len(frame) if orig_len is None else orig_len)

    def write_record(self, ts_ns: int, data: bytes, incl_len: int, orig_len: int) -> None:
        """Raw record: ``incl_len`` is written as given (corrupt files)."""
        self.f.write(self.rec.pack(*self.ts_fields(ts_ns), incl_len, orig_len) + data)


def _pcapng_options(opts: Sequence[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    out = b""
    for code, val in opts:
        out += struct.pack("<HH", code, len(val)) + val + b"\0" * (-len(val) % 4)
    return out + b"\0\0\0\0"  # opt_endofopt


def _pcapng_block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


class PcapngWriter:
    """pcapng (little-endian): one Section Header Block, Interface Description Blocks
    added with ``add_interface`` (each with its own if_tsresol: 6 = µs, 9 = ns) and
    Enhanced Packet Blocks."""

    def __init__(self, f: BinaryIO, *, userappl: str = "fedscope pcapgen.py",
                 hardware: str | None = None, os_name: str | None = None):
        self.f = f
        self.ifaces: list[tuple[int, int]] = []  # (snaplen, tsresol)
        opts = []
        if hardware:
            opts.append((2, hardware.encode()))
        if os_name:
            opts.append((3, os_name.encode()))
        opts.append((4, userappl.encode()))
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _pcapng_options(opts)
        f.write(_pcapng_block(0x0A0D0D0A, body))

    def add_interface(self, linktype: int, *, snaplen: int = 262144, tsresol: int = 6,
                      name: str | None = None, description: str | None = None) -> int:
        opts = []
        if name:
            opts.append((2, name.encode()))
        if description:
            opts.append((3, description.encode()))
        opts.append((9, bytes([tsresol])))
        body = struct.pack("<HHI", linktype, 0, snaplen) + _pcapng_options(opts)
        self.f.write(_pcapng_block(1, body))
        self.ifaces.append((snaplen, tsresol))
        return len(self.ifaces) - 1

    def write(self, if_id: int, ts_ns: int, frame: bytes, orig_len: int | None = None,
              comment: str | None = None) -> None:
        snaplen, tsresol = self.ifaces[if_id]
        data = frame[:snaplen] if snaplen else frame
        ts = ts_ns // 10 ** (9 - tsresol)
        body = struct.pack("<IIIII", if_id, ts >> 32, ts & 0xFFFFFFFF, len(data),
                           len(frame) if orig_len is None else orig_len)
        body += data + b"\0" * (-len(data) % 4)
        body += _pcapng_options([(1, comment.encode())] if comment else [])
        self.f.write(_pcapng_block(6, body))


def write_pcap(path: str, linktype: int, records: Iterable[tuple], *, snaplen: int = 262144,
               nanosecond: bool = False) -> None:
    """Write ``records`` = (ts_ns, frame[, orig_len]) to a classic pcap file."""
    with open(path, "wb") as f:
        w = PcapWriter(f, linktype, snaplen=snaplen, nanosecond=nanosecond)
        for r in records:
            w.write(*r)


def frames(link: Link, packets: Iterable[Pkt]) -> list[tuple[int, bytes]]:
    """(ts, frame) records for ``packets`` sent over ``link``."""
    return [(p.ts, link.frame(p.ip, p.reverse)) for p in packets]


# --------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------


def _selfcheck() -> None:
    v4 = ipv4("192.0.2.1", "203.0.113.1", IPPROTO_TCP, b"", options=ipv4_option_record_route(2))
    assert ones_sum(v4[:32]) % 0xFFFF == 0, "IPv4 header checksum"
    for src, dst in (("192.0.2.1", "203.0.113.1"), ("2001:db8::1", "2001:db8::2")):
        seg = tcp(src, dst, 40000, 5269, seq=1, ack=2, flags=SYN,
                  options=tcp_options(mss=1460, sack_perm=True, ts=(1, 0), wscale=7),
                  payload=b"odd")
        assert (ones_sum(pseudo_header(src, dst, IPPROTO_TCP, len(seg))) + ones_sum(seg)) \
            % 0xFFFF == 0, "TCP checksum"
        dg = udp(src, dst, 5353, 53, dns_query(1, "_xmpp-server._tcp.example.net", DNS_SRV))
        assert (ones_sum(pseudo_header(src, dst, IPPROTO_UDP, len(dg))) + ones_sum(dg)) \
            % 0xFFFF == 0, "UDP checksum"
    msg = dns_response(7, "example.net", DNS_NS, [RR("example.net", DNS_NS, NS("ns1.example.net"))])
    assert b"\xc0\x0c" in msg, "compression pointer to the question name"
    frags = ipv4_fragments(ipv4("192.0.2.1", "192.0.2.2", IPPROTO_UDP, bytes(1000)), 400)
    assert len(frags) == 3 and sum(len(f) - 20 for f in frags) == 1000
    i6 = icmpv6_dest_unreachable("2001:db8::1", "2001:db8::2", 4, bytes(40))
    assert (ones_sum(pseudo_header("2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, len(i6)))
            + ones_sum(i6)) % 0xFFFF == 0
    f = TcpFlow("192.0.2.1", 40000, "203.0.113.1")
    f.handshake()
    f.send(False, bytes(5000))
    f.close()
    assert [p.ts for p in f.packets] == sorted(p.ts for p in f.packets)
    print("pcapgen self-check OK:", len(f.packets), "packets in a sample flow")


if __name__ == "__main__":
    _selfcheck()
