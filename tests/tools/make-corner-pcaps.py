#!/usr/bin/env python3
"""Write fedscope's corner-case captures and their MANIFEST.tsv.

usage: make-corner-pcaps.py OUTDIR        (normally pcaps/corner)

Every file is small (< 20 KB), deterministic (same bytes on every run: fixed ISNs, IDs,
timestamps from 2026-11-25T10:00:00Z) and uses documentation addresses only
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; 2001:db8::/32 in ipv6-healthy.pcap only).
MANIFEST.tsv has one line per file: file, what it contains, what a careful reader must do
with it (for the deliberately bad files also what tshark 4.0 says).
"""

from __future__ import annotations

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pcapgen import (  # noqa: E402
    ACK, AAAA, A, CNAME, DNS_A, DNS_AAAA, DNS_SRV, IPPROTO_DSTOPTS, IPPROTO_ICMP,
    IPPROTO_TCP, IPPROTO_UDP, LINKTYPE_ETHERNET, LINKTYPE_USER0, MS, NS, PACKET_HOST,
    PACKET_OUTGOING, PSH, RR, SOA, SRV, SYN, T0_NS, US, DnsBuffer, EthernetLink, Link,
    NullLink, PcapngWriter, PcapWriter, Pkt, RawLink, Sll2Link, SllLink, TcpFlow,
    dns_query, dns_response, dns_tcp, frames, icmpv4_dest_unreachable,
    icmpv4_time_exceeded, ip_packet, ipv4, ipv4_fragments, ipv4_option_record_route,
    ipv6_options_header, tcp, tcp_options, udp, write_pcap, xmpp_dialback_session)

# Addresses used throughout: an inbound federation connection from chat.example.org
# (203.0.113.10) to example.net's server (192.0.2.10), resolver 192.0.2.53.
REMOTE, LOCAL, RESOLVER = "203.0.113.10", "192.0.2.10", "192.0.2.53"
ORIGIN_DOMAIN, LOCAL_DOMAIN = "chat.example.org", "example.net"

MANIFEST: list[tuple[str, str, str]] = []


def manifest(name: str, what: str, expected: str) -> None:
    MANIFEST.append((name, what, expected))


def dialback(stream_id="a7f3c2d1e9", key="5e0f0d1c8a9b7e6d4c3b2a19", extra=(),
             origin=ORIGIN_DOMAIN, receiving=LOCAL_DOMAIN):
    return xmpp_dialback_session(origin, receiving, stream_id, key, extra)


def healthy_flow(client=REMOTE, sport=40000, server=LOCAL, start=T0_NS, close=True,
                 extra=(), origin=ORIGIN_DOMAIN, receiving=LOCAL_DOMAIN, **kw) -> TcpFlow:
    """Handshake, dialback s2s exchange (~300-450 bytes each way), FIN close.  Inbound
    connections (to 192.0.2.10) are captured next to the server, others next to the client."""
    kw.setdefault("capture_at_server", server in (LOCAL, "203.0.113.100"))
    f = TcpFlow(client, sport, server, start=start, **kw)
    f.handshake()
    f.exchange(dialback(extra=extra, origin=origin, receiving=receiving))
    if close:
        f.now += 5 * MS
        f.close()
    return f


def dns_udp(client: str, cport: int, resolver: str, query: bytes, response: bytes, at: int,
            rtt: int = 2 * MS, ident: int = 0x1100, q_kw=None) -> list[Pkt]:
    """A UDP query at ``at`` and its response ``rtt`` later."""
    q = ip_packet(client, resolver, IPPROTO_UDP, udp(client, resolver, cport, 53, query),
                  ident=ident, **(q_kw or {}))
    r = ip_packet(resolver, client, IPPROTO_UDP, udp(resolver, client, 53, cport, response),
                  ident=ident + 0x400, ttl=63, df=False)
    return [Pkt(at, q), Pkt(at + rtt, r, True)]


def srv_lookup(client=LOCAL, resolver=RESOLVER, domain="example.com",
               target="xmpp.example.com", target_addr="203.0.113.20", at=T0_NS, cport=53001,
               qid=0x4A21) -> list[Pkt]:
    """SRV query/answer for _xmpp-server._tcp.DOMAIN, then A query/answer for the target."""
    name = f"_xmpp-server._tcp.{domain}"
    srv_q = dns_query(qid, name, DNS_SRV)
    srv_r = dns_response(qid, name, DNS_SRV, [RR(name, DNS_SRV, SRV(5, 0, 5269, target), 3600)])
    a_q = dns_query(qid + 1, target, DNS_A)
    a_r = dns_response(qid + 1, target, DNS_A, [RR(target, DNS_A, A(target_addr), 3600)])
    return (dns_udp(client, cport, resolver, srv_q, srv_r, at)
            + dns_udp(client, cport + 1, resolver, a_q, a_r, at + 3 * MS, ident=0x1102))


def write(outdir: str, name: str, link: Link, packets, **kw) -> None:
    write_pcap(os.path.join(outdir, name), link.linktype, frames(link, packets), **kw)


def eth() -> EthernetLink:
    return EthernetLink(src="02:00:5e:00:01:0a", dst="02:00:5e:00:02:0a")


# --------------------------------------------------------------------------------------
# Healthy flows on every link type
# --------------------------------------------------------------------------------------


def gen_link_types(out: str) -> None:
    expect = ("1 TCP connection 203.0.113.10:40000 -> 192.0.2.10:5269, complete handshake, "
              "dialback exchange (%s), FIN close: healthy, no faults")
    f = healthy_flow()
    sizes = (sum(len(d) for c, d in dialback() if c), sum(len(d) for c, d in dialback() if not c))
    xchg = f"{sizes[0]} bytes in, {sizes[1]} out"
    link = SllLink(addr="02:00:5e:00:01:01", peer_addr="02:00:5e:00:02:0a",
                   pkttype=PACKET_HOST, reverse_pkttype=PACKET_OUTGOING)
    write(out, "sll1-healthy.pcap", link, f.packets)
    manifest("sll1-healthy.pcap",
             f"DLT_LINUX_SLL (113); inbound federation TCP, {len(f.packets)} packets; "
             "pkttype 0 (host) inbound, 4 (outgoing) outbound",
             expect % xchg)

    # SLL2 DNAT: the same connection on if 2 (public, to 203.0.113.100) and on if 3
    # (internal, to 192.0.2.10), every packet twice; the forwarded copy has TTL-1.
    pub = healthy_flow(server="203.0.113.100", ttl_c=57, ttl_s=63)
    inner = healthy_flow(server=LOCAL, ttl_c=56, ttl_s=64)
    if2 = Sll2Link(if_index=2, addr="02:00:5e:00:01:01", peer_addr="02:00:5e:00:02:02",
                   pkttype=PACKET_HOST, reverse_pkttype=PACKET_OUTGOING)
    if3 = Sll2Link(if_index=3, addr="02:00:5e:00:02:03", peer_addr="02:00:5e:00:03:0a",
                   pkttype=PACKET_OUTGOING, reverse_pkttype=PACKET_HOST)
    recs = []
    for p, q in zip(pub.packets, inner.packets):
        first, second = ((p, if2), (q, if3)) if not p.reverse else ((q, if3), (p, if2))
        recs.append((p.ts, first[1].frame(first[0].ip, first[0].reverse)))
        recs.append((p.ts + 18 * US, second[1].frame(second[0].ip, second[0].reverse)))
    write_pcap(os.path.join(out, "sll2-healthy.pcap"), if2.linktype, recs)
    manifest("sll2-healthy.pcap",
             f"LINKTYPE_LINUX_SLL2 (276) on a DNAT router; {len(recs)} records = "
             f"{len(pub.packets)} packets each seen twice: if_index 2 as 203.0.113.10:40000 -> "
             "203.0.113.100:5269 (client->server pkttype 0 host, replies pkttype 4 outgoing) "
             "and 18 us later/earlier on if_index 3 as 203.0.113.10:40000 -> 192.0.2.10:5269 "
             "(client->server pkttype 4 outgoing, replies pkttype 0); same ISNs and IP IDs, "
             "TTL one lower on the forwarded copy",
             "decode both copies; 2 healthy TCP connections (one per if_index, different "
             "server address), each with handshake, dialback exchange and FIN close; never "
             "treat the second copy as a retransmission or duplicate within one flow; a "
             "reader that correlates NAT (same client addr/port, ISNs, timing) may report one "
             "DNAT'ed session 203.0.113.100 -> 192.0.2.10")

    for name, link, what in (
        ("raw-ip.pcap", RawLink(), "LINKTYPE_RAW (101): frames start with the IPv4 header"),
        ("null-loopback.pcap", NullLink(), "DLT_NULL (0) BSD loopback: 4-byte little-endian "
         "(host order) address family 2 before each IPv4 packet"),
        ("vlan.pcap", EthernetLink(src="02:00:5e:00:01:0a", dst="02:00:5e:00:02:0a",
                                   vlans=[(0x8100, 100)]),
         "Ethernet with one 802.1Q tag (TPID 0x8100, VID 100)"),
        ("qinq.pcap", EthernetLink(src="02:00:5e:00:01:0a", dst="02:00:5e:00:02:0a",
                                   vlans=[(0x88A8, 200, 3), (0x8100, 100)]),
         "Ethernet QinQ: outer 802.1ad tag (TPID 0x88a8, VID 200, PCP 3), inner 802.1Q "
         "(0x8100, VID 100)"),
    ):
        ff = healthy_flow(rtt=80 * US, local_delay=20 * US) if name.startswith("null") \
            else healthy_flow()
        write(out, name, link, ff.packets)
        manifest(name, f"{what}; same inbound federation connection, {len(ff.packets)} packets",
                 expect % xchg)


def gen_ipv6(out: str) -> None:
    client, resolver, server = "2001:db8:10::10", "2001:db8:53::53", "2001:db8:20::5269"
    srv_name, target = "_xmpp-server._tcp.example.net", "xmpp.example.net"
    srv_q = dns_query(0x6B01, srv_name, DNS_SRV)
    srv_r = dns_response(0x6B01, srv_name, DNS_SRV,
                         [RR(srv_name, DNS_SRV, SRV(5, 0, 5269, target), 3600)],
                         authority=[RR("example.net", 2, NS("ns1.example.net"), 86400)])
    aaaa_q = dns_query(0x6B02, target, DNS_AAAA)
    aaaa_r = dns_response(0x6B02, target, DNS_AAAA, [RR(target, DNS_AAAA, AAAA(server), 3600)])
    dst_opts = [(IPPROTO_DSTOPTS, ipv6_options_header())]
    pk = dns_udp(client, 51000, resolver, srv_q, srv_r, T0_NS, q_kw={"ext_headers": dst_opts})
    pk += dns_udp(client, 51001, resolver, aaaa_q, aaaa_r, T0_NS + 4 * MS)
    f = TcpFlow(client, 40010, server, start=T0_NS + 10 * MS, mss=1440)
    f.handshake()
    f.exchange(xmpp_dialback_session("example.org", "example.net", "v6s2s01", "d1e2a3d4b5e6e7f8"))
    f.now += 5 * MS
    f.close()
    write(out, "ipv6-healthy.pcap", eth(), pk + f.packets)
    manifest("ipv6-healthy.pcap",
             "Ethernet, IPv6 only (2001:db8::/32): UDP DNS from [2001:db8:10::10]:51000 to "
             "[2001:db8:53::53]:53 SRV _xmpp-server._tcp.example.net -> 5 0 5269 "
             "xmpp.example.net (the query carries an empty Destination Options extension "
             "header before UDP; answer has an NS record in authority), AAAA xmpp.example.net "
             "-> 2001:db8:20::5269, then TCP [2001:db8:10::10]:40010 -> [2001:db8:20::5269]:5269 "
             f"(MSS 1440) with dialback exchange and FIN close; {len(pk) + len(f.packets)} packets",
             "walk the IPv6 extension-header chain to UDP; resolve example.net -> "
             "xmpp.example.net:5269 -> 2001:db8:20::5269 and match the TCP connection to that "
             "SRV target; one healthy connection, no faults")


def gen_pcapng(out: str) -> None:
    # Single interface: DNS (one response without name compression) + inbound flow.
    dns = srv_lookup(at=T0_NS)
    f = healthy_flow(client=LOCAL, sport=40100, server="203.0.113.20", start=T0_NS + 10 * MS,
                     origin=LOCAL_DOMAIN, receiving="example.com")
    path = os.path.join(out, "pcapng-single.pcapng")
    with open(path, "wb") as fh:
        w = PcapngWriter(fh, os_name="Linux 6.1", userappl="fedscope make-corner-pcaps.py")
        i = w.add_interface(LINKTYPE_ETHERNET, snaplen=262144, tsresol=6, name="eth0")
        link = eth()
        # Replace the A answer by an uncompressed one to cover both encodings.
        a_r = dns_response(0x4A22, "xmpp.example.com", DNS_A,
                           [RR("xmpp.example.com", DNS_A, A("203.0.113.20"), 3600)],
                           compress=False)
        dns[3] = Pkt(dns[3].ts, ip_packet(RESOLVER, LOCAL, IPPROTO_UDP,
                                          udp(RESOLVER, LOCAL, 53, 53002, a_r), ttl=63,
                                          df=False, ident=0x1502), True)
        pk = dns + f.packets
        for n, p in enumerate(pk):
            w.write(i, p.ts, link.frame(p.ip, p.reverse),
                    comment="first packet: SRV query" if n == 0 else None)
    manifest("pcapng-single.pcapng",
             "pcapng: SHB (shb_os, shb_userappl), one Ethernet IDB (if_name eth0, "
             "if_tsresol 6), EPBs (the first with an opt_comment); 192.0.2.10 (example.net) "
             "looks up _xmpp-server._tcp.example.com SRV -> xmpp.example.com:5269, A -> "
             "203.0.113.20 (that answer written without name compression), then TCP "
             f"192.0.2.10:40100 -> 203.0.113.20:5269 healthy dialback; {len(pk)} packets",
             "skip block options; decode both DNS encodings; match the connection to the SRV "
             "target; one healthy connection")

    # Two interfaces, same snaplen, different if_tsresol (µs and ns).
    f0 = healthy_flow(start=T0_NS + 1 * MS)
    dns1 = srv_lookup(client="198.51.100.10", resolver="198.51.100.53", domain="example.com",
                      target="xmpp.example.com", target_addr="203.0.113.30",
                      at=T0_NS + 2 * MS + 123, qid=0x7C01)
    f1 = healthy_flow(client="198.51.100.10", sport=41000, server="203.0.113.30",
                      start=T0_NS + 12 * MS + 457, rtt=31 * MS + 789, origin=LOCAL_DOMAIN,
                      receiving="example.com")
    recs = [(p.ts, 0, p) for p in f0.packets] + [(p.ts, 1, p) for p in dns1 + f1.packets]
    recs.sort(key=lambda r: r[0])
    path = os.path.join(out, "pcapng-two-if.pcapng")
    with open(path, "wb") as fh:
        w = PcapngWriter(fh, os_name="Linux 6.1", userappl="fedscope make-corner-pcaps.py")
        w.add_interface(LINKTYPE_ETHERNET, snaplen=262144, tsresol=6, name="eth0",
                        description="public")
        w.add_interface(LINKTYPE_ETHERNET, snaplen=262144, tsresol=9, name="eth1",
                        description="uplink")
        links = [eth(), EthernetLink(src="02:00:5e:00:01:0b", dst="02:00:5e:00:02:0b")]
        for ts, i, p in recs:
            w.write(i, ts, links[i].frame(p.ip, p.reverse))
    manifest("pcapng-two-if.pcapng",
             "pcapng with two Ethernet IDBs, both snaplen 262144: if 0 eth0 if_tsresol 6 (µs) "
             "carries inbound 203.0.113.10:40000 -> 192.0.2.10:5269; if 1 eth1 if_tsresol 9 "
             "(ns, timestamps with sub-µs digits) carries DNS 198.51.100.10 -> 198.51.100.53 "
             "(SRV _xmpp-server._tcp.example.com -> xmpp.example.com:5269, A 203.0.113.30) and "
             "outbound 198.51.100.10:41000 -> 203.0.113.30:5269; EPBs interleaved in time order; "
             f"{len(recs)} packets",
             "use each interface's own if_tsresol (interface 1 timestamps are in ns: first if-1 "
             "packet at 10:00:00.002000123); timestamps must come out in non-decreasing order; "
             "2 healthy connections")


def gen_nanosecond(out: str) -> None:
    f = healthy_flow(start=T0_NS + 123_456_789, rtt=20 * MS + 987_654, local_delay=60_123,
                     seg_gap=15_321, capture_at_server=False)
    write(out, "nanosecond.pcap", eth(), f.packets, nanosecond=True)
    manifest("nanosecond.pcap",
             "classic pcap, nanosecond magic 0xa1b23c4d; inbound healthy federation connection; "
             "first packet at 2026-11-25T10:00:00.123456789Z, fraction fields up to 999999999 "
             f"(SYN-ACK at .144444443); {len(f.packets)} packets",
             "read ts fractions as nanoseconds (as µs they would be >= 1 s, invalid); keep "
             "sub-µs digits; RTT from SYN to SYN-ACK = 20.987654 ms; healthy")


# --------------------------------------------------------------------------------------
# Broken files
# --------------------------------------------------------------------------------------


def gen_file_level(out: str) -> None:
    with open(os.path.join(out, "empty.pcap"), "wb") as fh:
        PcapWriter(fh, LINKTYPE_ETHERNET)
    manifest("empty.pcap", "valid classic pcap global header (µs, Ethernet), zero records",
             "valid input: report 0 packets, 0 connections, no error, and exit status 3 "
             "'nothing to judge' (no federation traffic; 0 would read as healthy) "
             "[tshark 4.0: no output, exit 0; capinfos: 0 packets]")

    f = healthy_flow(close=False)
    link = eth()
    path = os.path.join(out, "truncated-last-record.pcap")
    with open(path, "wb") as fh:
        w = PcapWriter(fh, LINKTYPE_ETHERNET)
        for ts, fr in frames(link, f.packets):
            w.write(ts, fr)
        pres = b"<presence type='unavailable'/>"
        f.now += 3 * MS
        pkt = f.segment(False, flags=ACK | PSH, payload=pres + b"\n" * (100 - 66 - len(pres)))
        fr = link.frame(pkt.ip)
        assert len(fr) == 100
        w.write_record(pkt.ts, fr[:30], 100, 100)
    manifest("truncated-last-record.pcap",
             f"{len(f.packets)} complete records (inbound connection, handshake and dialback, "
             "no FIN) then a last record whose header says incl_len 100 / orig_len 100 while "
             "the file ends 30 bytes into its data (a capture killed mid-write)",
             "process every complete record; report the truncated last record as a warning "
             "(not a fatal error, no crash, no read past EOF); the connection is still open at "
             "end of capture [tshark 4.0: prints the complete packets, then 'tshark: The "
             "file \"...\" appears to have been cut short in the middle of a packet.' exit 2]")

    with open(os.path.join(out, "header-only-cut.pcap"), "wb") as fh:
        hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET)
        fh.write(hdr[:12])
    manifest("header-only-cut.pcap",
             "first 12 of the 24 bytes of a classic pcap global header (magic, version 2.4, "
             "thiszone, sigfigs; snaplen and linktype missing)",
             "fail cleanly: 'truncated pcap header' style error, non-zero exit, no crash "
             "[tshark 4.0: 'The file \"...\" appears to have been cut short in the middle of a "
             "packet or other data.' exit 2]")

    with open(os.path.join(out, "not-a-capture.pcap"), "w") as fh:
        fh.write("This is not a packet capture.\n"
                 "It is a text file named .pcap to check that readers look at the magic "
                 "number, not the file name.\n")
    manifest("not-a-capture.pcap", "a short ASCII text file with a .pcap name",
             "reject by magic number with a clear message, non-zero exit, no crash "
             "[tshark 4.0: 'The file \"...\" isn't a capture file in a format TShark "
             "understands.' exit 2]")

    f = healthy_flow()
    recs = frames(eth(), f.packets[:3])
    write_pcap(os.path.join(out, "unknown-linktype.pcap"), LINKTYPE_USER0, recs)
    manifest("unknown-linktype.pcap",
             "classic pcap, network = 147 (LINKTYPE_USER0), 3 records (their bytes happen to "
             "be Ethernet frames of a TCP handshake)",
             "report the unsupported link type (147) clearly and decode nothing from it (no "
             "guessing Ethernet); no crash; exit status per policy for unsupported input "
             "[tshark 4.0: reads 3 frames, 'Encapsulation type: USER 0', 'User encapsulation "
             "not handled: DLT=147, check your Preferences->Protocols->DLT_USER', no "
             "Malformed]")


def gen_snaplen(out: str) -> None:
    f = healthy_flow(timestamps=False)
    write(out, "snaplen64.pcap", eth(), f.packets, snaplen=64)
    manifest("snaplen64.pcap",
             "Ethernet, snaplen 64; inbound federation connection without TCP timestamps: SYN "
             "and SYN-ACK are 66 bytes (MSS, NOP, NOP, SACK-perm, NOP, WS) cut at 64, i.e. "
             "inside the window-scale option; every data segment keeps only 10 payload bytes "
             f"(orig_len up to {max(len(p.ip) for p in f.packets) + 14}); {len(f.packets)} packets",
             "decode IP/TCP headers and take lengths from IP total length / orig_len; track "
             "seq/ack normally (handshake, data lengths, FIN close: healthy connection); do not "
             "flag truncated options or payload as malformed, but report that payload was not "
             "captured (snaplen), so the XMPP content cannot be analysed "
             "[tshark 4.0: no Malformed; SYN and SYN-ACK list MSS, SACK_PERM then '[Packet "
             "size limited during capture: TCP truncated]'; data segments show the full Len "
             "from the IP length and 'Data (10 bytes)'; TCP checksums not verifiable]")


def _dns_pair(out_pk: list, at: int, cport: int, qid: int, qname: str, qtype: int,
              response: bytes) -> None:
    out_pk.extend(dns_udp(LOCAL, cport, RESOLVER, dns_query(qid, qname, qtype), response, at,
                          ident=qid & 0xFFFF))


def _hdr(qid: int, qd: int, an: int, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x8180, qd, an, ns, ar)


def _qname(name: str) -> bytes:
    m = DnsBuffer(False)
    m.name(name)
    return bytes(m.buf)


def gen_dns_bad(out: str) -> None:
    pk: list[Pkt] = []
    srv_rdata = struct.pack("!HHH", 5, 0, 5269) + _qname("xmpp.loop.example")
    # 1) answer name is a pointer to itself.
    q1 = "_xmpp-server._tcp.loop1.example"
    m = _hdr(0x5101, 1, 1) + _qname(q1) + struct.pack("!HH", DNS_SRV, 1)
    m += struct.pack("!H", 0xC000 | len(m)) + struct.pack("!HHIH", DNS_SRV, 1, 300,
                                                          len(srv_rdata)) + srv_rdata
    _dns_pair(pk, T0_NS, 54001, 0x5101, q1, DNS_SRV, m)
    # 2) two answers whose names point at each other.
    q2 = "_xmpp-server._tcp.loop2.example"
    m = _hdr(0x5102, 1, 2) + _qname(q2) + struct.pack("!HH", DNS_SRV, 1)
    rr_len = 2 + 10 + len(srv_rdata)
    first, second = len(m), len(m) + rr_len
    m += struct.pack("!H", 0xC000 | second) + struct.pack("!HHIH", DNS_SRV, 1, 300,
                                                          len(srv_rdata)) + srv_rdata
    m += struct.pack("!H", 0xC000 | first) + struct.pack("!HHIH", DNS_SRV, 1, 300,
                                                         len(srv_rdata)) + srv_rdata
    _dns_pair(pk, T0_NS + 100 * MS, 54002, 0x5102, q2, DNS_SRV, m)
    # 3) a forward pointer: the answer name points at the (valid, uncompressed) SRV target
    #    that follows it in the rdata.
    q3 = "_xmpp-server._tcp.loop3.example"
    m = _hdr(0x5103, 1, 1) + _qname(q3) + struct.pack("!HH", DNS_SRV, 1)
    target_at = len(m) + 2 + 10 + 6
    m += struct.pack("!H", 0xC000 | target_at) + struct.pack("!HHIH", DNS_SRV, 1, 300,
                                                             len(srv_rdata)) + srv_rdata
    _dns_pair(pk, T0_NS + 200 * MS, 54003, 0x5103, q3, DNS_SRV, m)
    write(out, "dns-compression-loop.pcap", eth(), pk)
    manifest("dns-compression-loop.pcap",
             "3 UDP DNS query/response pairs 192.0.2.10 <-> 192.0.2.53:53 (SRV "
             "_xmpp-server._tcp.loopN.example): response 0x5101's answer name is a "
             "compression pointer to itself; response 0x5102 has two answers whose names "
             "point at each other; response 0x5103's answer name is a forward pointer to the "
             "uncompressed SRV target 'xmpp.loop.example' later in the same record",
             "never loop or recurse without bound (limit pointer hops / require strictly "
             "backward pointers); report 0x5101 and 0x5102 as malformed DNS and do not use "
             "their answers; 0x5103 may be rejected (RFC 1035 pointers refer to prior "
             "occurrences) or decoded leniently as owner 'xmpp.loop.example', but must not "
             "crash; the 3 queries decode normally "
             "[tshark 4.0: 0x5101 and both 0x5102 answers show owner '<Name contains a "
             "pointer that loops>' and then decode the SRV rdata; 0x5103's owner decodes as "
             "xmpp.loop.example; no expert error, no Malformed]")

    pk = []
    # 1) ancount 3, one answer present.
    q = "_xmpp-server._tcp.short1.example"
    m = _hdr(0x5201, 1, 3) + _qname(q) + struct.pack("!HH", DNS_SRV, 1)
    m += b"\xc0\x0c" + struct.pack("!HHIH", DNS_SRV, 1, 300, len(srv_rdata)) + srv_rdata
    _dns_pair(pk, T0_NS, 54101, 0x5201, q, DNS_SRV, m)
    # 2) A record with rdlength 3.
    q = "xmpp.short2.example"
    m = _hdr(0x5202, 1, 1) + _qname(q) + struct.pack("!HH", DNS_A, 1)
    m += b"\xc0\x0c" + struct.pack("!HHIH", DNS_A, 1, 300, 3) + bytes([203, 0, 113])
    _dns_pair(pk, T0_NS + 100 * MS, 54102, 0x5202, q, DNS_A, m)
    # 3) SRV rdata cut: rdlength covers the full rdata, the message ends 10 bytes into it.
    q = "_xmpp-server._tcp.short3.example"
    m = _hdr(0x5203, 1, 1) + _qname(q) + struct.pack("!HH", DNS_SRV, 1)
    m += b"\xc0\x0c" + struct.pack("!HHIH", DNS_SRV, 1, 300, len(srv_rdata)) + srv_rdata[:10]
    _dns_pair(pk, T0_NS + 200 * MS, 54103, 0x5203, q, DNS_SRV, m)
    write(out, "dns-bad-lengths.pcap", eth(), pk)
    manifest("dns-bad-lengths.pcap",
             "3 UDP DNS query/response pairs 192.0.2.10 <-> 192.0.2.53:53 (UDP lengths and "
             "checksums correct; the DNS payload is wrong): 0x5201 SRV response with ancount 3 "
             "but 1 answer; 0x5202 A response whose record has rdlength 3; 0x5203 SRV response "
             f"with rdlength {len(srv_rdata)} but the message ends after 10 rdata bytes",
             "never read past the UDP payload; 0x5201: use or discard the one complete answer "
             "but report the count mismatch; 0x5202: reject the A record (rdlength must be 4), "
             "no address learnt; 0x5203: report truncated rdata, no SRV target learnt; all "
             "3 queries decode normally "
             "[tshark 4.0: each of the 3 responses ends in '[Malformed Packet: DNS]' (expert "
             "error 'Malformed Packet (Exception occurred)'): 0x5201 after its one answer, "
             "0x5202 after 'Data length: 3', 0x5203 right at its answer]")


def gen_dns_not_utf8(out: str) -> None:
    # DNS names are bytes: a label with 0xff (no UTF-8) in a query and its SRV answer.
    labels = [b"_xmpp-server", b"_tcp", b"b\xff", b"example"]
    raw = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    target = _qname("xmpp.b.example")
    srv_rdata = struct.pack("!HHH", 5, 0, 5369) + target
    query = struct.pack("!HHHHHH", 0x5301, 0x0100, 1, 0, 0, 0) + raw + struct.pack("!HH", DNS_SRV, 1)
    resp = (_hdr(0x5301, 1, 1) + raw + struct.pack("!HH", DNS_SRV, 1) + b"\xc0\x0c"
            + struct.pack("!HHIH", DNS_SRV, 1, 300, len(srv_rdata)) + srv_rdata)
    pk = dns_udp(LOCAL, 54301, RESOLVER, query, resp, T0_NS, ident=0x5301)
    write(out, "dns-name-not-utf8.pcap", eth(), pk)
    manifest("dns-name-not-utf8.pcap",
             "1 UDP DNS query/response pair 192.0.2.10 <-> 192.0.2.53:53: SRV for the name "
             "_xmpp-server._tcp.b<0xff>.example (one label holds the byte 0xff, which is no "
             "UTF-8), answered with target xmpp.b.example port 5369",
             "decode the name with the byte escaped as dig writes it (b\\255), so reports stay "
             "valid UTF-8 and JSON; dns-srv-port-nonstandard for the port "
             "[tshark 4.0: shows the label as 'b\\377']")


def gen_bad_headers(out: str) -> None:
    link = eth()
    pk: list[Pkt] = []
    t = T0_NS
    # TCP data offset 3 (12 bytes, < 20).
    seg = tcp(REMOTE, LOCAL, 40200, 5269, seq=0x11110000, flags=SYN, window=64240,
              data_offset=3)
    pk.append(Pkt(t, ipv4(REMOTE, LOCAL, IPPROTO_TCP, seg, ttl=57, ident=0x2001)))
    # Data offset 15 (60 bytes) in a segment with only 24 TCP bytes (IP total length agrees).
    seg = tcp(REMOTE, LOCAL, 40201, 5269, seq=0x22220000, flags=SYN, window=64240,
              options=tcp_options(mss=1460), data_offset=15)
    pk.append(Pkt(t + 10 * MS, ipv4(REMOTE, LOCAL, IPPROTO_TCP, seg, ttl=57, ident=0x2002)))
    f = healthy_flow(start=t + 100 * MS)
    recs = frames(link, pk)
    # Data offset 15 with 40 bytes of options in the packet, but snaplen-style capture of
    # only the first 34 TCP bytes (incl_len < orig_len).
    seg = tcp(REMOTE, LOCAL, 40202, 5269, seq=0x33330000, flags=SYN, window=64240,
              options=tcp_options(mss=1460, sack_perm=True, ts=(1, 0), wscale=7)
              + b"\x01" * 20, data_offset=15)
    fr = link.frame(ipv4(REMOTE, LOCAL, IPPROTO_TCP, seg, ttl=57, ident=0x2003))
    recs.append((t + 20 * MS, fr[:14 + 20 + 34], len(fr)))
    recs += frames(link, f.packets)
    write_pcap(os.path.join(out, "tcp-bad-header-len.pcap"), LINKTYPE_ETHERNET, recs)
    manifest("tcp-bad-header-len.pcap",
             "Ethernet/IPv4, 3 bad SYNs to 192.0.2.10:5269 then a healthy connection: "
             "(1) sport 40200 TCP data offset 3 (12 bytes); (2) sport 40201 data offset 15 "
             "(60 bytes) but the IP packet holds only 24 TCP bytes; (3) sport 40202 data offset "
             "15 with a 60-byte header on the wire, record cut to 34 TCP bytes (incl_len 68 < "
             f"orig_len {len(fr)}); then sport 40000 healthy ({len(f.packets)} packets)",
             "(1) and (2): malformed TCP header, count and skip, no flow state created from "
             "them; (3): header runs past captured bytes: report truncated/not-analysable, no "
             "read past the record; the healthy connection afterwards is decoded normally "
             "[tshark 4.0: (1) expert error 'Bogus TCP header length (12, must be at least "
             "20)'; (2) warning 'Short segment. Segment/fragment does not contain a full TCP "
             "header' and '[Malformed Packet: TCP]'; (3) '[Packet size limited during "
             "capture: TCP truncated]'; the healthy connection decodes cleanly]")

    # IPv4 with Record Route on every packet of a healthy flow.
    f = healthy_flow(ip_opts_c=ipv4_option_record_route(2, ["198.51.100.1"]),
                     ip_opts_s=ipv4_option_record_route(2))
    write(out, "ip-options.pcap", link, f.packets)
    manifest("ip-options.pcap",
             "inbound federation connection where every IPv4 header carries a Record Route "
             "option (type 7, length 11, 2 slots; client packets have 198.51.100.1 recorded, "
             "pointer 8; server packets pointer 4) padded with EOL: IHL 8 (32-byte header); "
             f"{len(f.packets)} packets",
             "honour IHL: decode TCP at offset 32; one healthy connection, identical results "
             "to sll1-healthy.pcap's flow")

    pk = []
    udp_payload = udp(REMOTE, LOCAL, 40300, 5269, b"x" * 8)
    # IHL 4 (< 5).
    pk.append(Pkt(t, ipv4(REMOTE, LOCAL, IPPROTO_TCP, tcp(REMOTE, LOCAL, 40300, 5269, flags=SYN,
                                                        seq=0x44440000), ihl=4, ident=0x3001)))
    # Total length 16 < IHL*4 (20).
    pk.append(Pkt(t + 10 * MS, ipv4(REMOTE, LOCAL, IPPROTO_TCP,
                                    tcp(REMOTE, LOCAL, 40301, 5269, flags=SYN, seq=0x44450000),
                                    total_length=16, ident=0x3002)))
    # Version 7 under ethertype 0x0800.
    pk.append(Pkt(t + 20 * MS, ipv4(REMOTE, LOCAL, IPPROTO_UDP, udp_payload, version=7,
                                    ident=0x3003)))
    f = healthy_flow(start=t + 100 * MS)
    write(out, "ip-bad-header.pcap", link, pk + f.packets)
    manifest("ip-bad-header.pcap",
             "Ethernet type 0x0800 frames: (1) IPv4 IHL 4 (16-byte header) carrying a SYN; "
             "(2) IHL 5 but total length 16 (< 20); (3) version field 7; header checksums "
             "are computed over the emitted 20 bytes; then a healthy inbound connection "
             f"({len(f.packets)} packets)",
             "count the 3 as malformed IP and skip them (no flow state, no read past the "
             "frame); decode the healthy connection afterwards normally "
             "[tshark 4.0: expert errors (1) 'Bogus IP header length (16, must be at least "
             "20)', (2) 'Bogus IP length (16, less than header length 20)', (3) 'Bogus IPv4 "
             "version (7, must be 4)'; none shown as Malformed; the healthy flow is clean]")


def gen_fragments(out: str) -> None:
    name = "_xmpp-server._tcp.example.net"
    answers = [RR(name, DNS_SRV, SRV(10 + i % 3, 10 * i, 5269, f"xmpp{i:02d}.example.net"), 3600)
               for i in range(1, 26)]
    extra = [RR(f"xmpp{i:02d}.example.net", DNS_A, A(f"203.0.113.{100 + i}"), 3600)
             for i in range(1, 26)]
    pk: list[Pkt] = []
    q = dns_query(0x6F01, name, DNS_SRV, edns=4096)
    r = dns_response(0x6F01, name, DNS_SRV, answers, additional=extra, edns=4096)
    pk.append(Pkt(T0_NS, ipv4(LOCAL, RESOLVER, IPPROTO_UDP, udp(LOCAL, RESOLVER, 55001, 53, q),
                              ident=0x0F01)))
    whole = ipv4(RESOLVER, LOCAL, IPPROTO_UDP, udp(RESOLVER, LOCAL, 53, 55001, r), ttl=63,
                 ident=0xBEE1, df=False)
    frags = ipv4_fragments(whole, 552)
    assert len(frags) == 3, len(whole)
    for n, i in enumerate((2, 0, 1)):  # last, first, middle
        pk.append(Pkt(T0_NS + 2 * MS + n * 20 * US, frags[i], True))
    # A train that never completes: middle fragment missing.
    name2 = "_xmpp-server._tcp.example.com"
    q2 = dns_query(0x6F02, name2, DNS_SRV, edns=4096)
    ans2 = [RR(name2, DNS_SRV, SRV(10, 10 * i, 5269, f"s{i:02d}.example.com"), 3600)
            for i in range(1, 26)]
    ext2 = [RR(f"s{i:02d}.example.com", DNS_A, A(f"198.51.100.{100 + i}"), 3600)
            for i in range(1, 26)]
    r2 = dns_response(0x6F02, name2, DNS_SRV, ans2, additional=ext2, edns=4096)
    pk.append(Pkt(T0_NS + 100 * MS, ipv4(LOCAL, RESOLVER, IPPROTO_UDP,
                                         udp(LOCAL, RESOLVER, 55002, 53, q2), ident=0x0F02)))
    frags2 = ipv4_fragments(ipv4(RESOLVER, LOCAL, IPPROTO_UDP, udp(RESOLVER, LOCAL, 53, 55002, r2),
                                 ttl=63, ident=0xBEE2, df=False), 552)
    assert len(frags2) == 3
    pk.append(Pkt(T0_NS + 102 * MS, frags2[0], True))
    pk.append(Pkt(T0_NS + 102 * MS + 20 * US, frags2[2], True))
    write(out, "ipv4-fragments.pcap", eth(), pk)
    manifest("ipv4-fragments.pcap",
             "UDP DNS over IPv4 192.0.2.10 <-> 192.0.2.53: query 0x6F01 SRV "
             f"{name} (EDNS 4096); its {len(whole) - 20}-byte UDP response (25 SRV "
             "answers xmpp01..25.example.net:5269 + 25 A additionals) in 3 fragments of IP ID "
             "0xBEE1 (552/552/rest payload bytes) captured in the order last, first, middle; "
             "then query 0x6F02 for _xmpp-server._tcp.example.com whose 3-fragment response "
             "(IP ID 0xBEE2) lacks the middle fragment",
             "reassemble 0xBEE1 regardless of order (UDP checksum is over the whole datagram) "
             "and decode the DNS answer: 25 SRV targets; report 0xBEE2 as an incomplete "
             "fragment train (missing 552..1103) at end of capture and never hand a partial "
             "datagram to the DNS decoder; query 0x6F02 unanswered "
             "[tshark 4.0 (ip.defragment on): 0x6F01 reassembled '[3 IPv4 Fragments]', "
             "decoded; 0xBEE2 fragments shown as 'Fragmented IP protocol', not reassembled; "
             "no Malformed]")


def gen_icmp(out: str) -> None:
    pk: list[Pkt] = []
    f1 = TcpFlow(LOCAL, 41000, "203.0.113.20", start=T0_NS)
    syn = f1.syn()
    pk.append(syn)
    icmp = icmpv4_dest_unreachable(3, syn.ip)
    pk.append(Pkt(T0_NS + 18 * MS, ipv4("203.0.113.1", LOCAL, IPPROTO_ICMP, icmp, ttl=250,
                                        ident=0x9001, df=False), True))
    f2 = TcpFlow(LOCAL, 41001, "198.51.100.20", start=T0_NS + 200 * MS, isn_c=0x0BADF00D)
    for n, at in enumerate((T0_NS + 200 * MS, T0_NS + 1200 * MS)):
        s = f2.syn(at=at)
        # The router quotes the SYN as it received it, with TTL 1.
        ihl = (s.ip[0] & 0xF) * 4
        quoted = ipv4(LOCAL, "198.51.100.20", IPPROTO_TCP, s.ip[ihl:], ttl=1,
                      ident=struct.unpack("!H", s.ip[4:6])[0])
        te = icmpv4_time_exceeded(0, quoted)
        pk.append(s)
        pk.append(Pkt(at + 9 * MS, ipv4("198.51.100.1", LOCAL, IPPROTO_ICMP, te, ttl=254,
                                         ident=0x9100 + n, df=False), True))
    write(out, "icmp-unreachable.pcap", eth(), pk)
    manifest("icmp-unreachable.pcap",
             "(1) SYN 192.0.2.10:41000 -> 203.0.113.20:5269 answered 18 ms later by ICMP "
             "type 3 code 3 (port unreachable) from 203.0.113.1 quoting the SYN's IP header + "
             "8 TCP bytes; (2) SYN 192.0.2.10:41001 -> 198.51.100.20:5269 and its retransmission "
             "1 s later, each answered by ICMP type 11 code 0 (TTL exceeded in transit) from "
             "router 198.51.100.1 quoting the SYN with TTL 1",
             "match each ICMP error to its connection through the quoted 5-tuple; report "
             "41000 as refused/unreachable (port unreachable from 203.0.113.1, not from the "
             "server) and 41001 as a routing fault (TTL exceeded at 198.51.100.1, SYN "
             "retransmitted, never answered); no handshake completes "
             "[tshark 4.0: 'Destination unreachable (Port unreachable)', 'Time-to-live "
             "exceeded (Time to live exceeded in transit)', decodes the quoted IP/TCP headers; "
             "marks the second SYN 'TCP Retransmission'; no Malformed]")


def gen_tcp_ooo(out: str) -> None:
    f = TcpFlow(REMOTE, 40500, LOCAL, start=T0_NS, capture_at_server=True)
    f.handshake()
    f.exchange(dialback()[:6])  # up to the authenticated stream, no close
    stanzas = b"".join(
        f"<message from='user{i}@{ORIGIN_DOMAIN}' to='friend{i}@{LOCAL_DOMAIN}' type='chat' "
        f"id='m{i:03d}'><body>stanza number {i} in the out-of-order test</body></message>"
        .encode() for i in range(12))
    data = stanzas[:1400]
    data = data + b" " * (1400 - len(data))  # whitespace between stanzas is legal XMPP
    base = f.nxt[False]
    t = f.now + 2 * MS

    def c(lo: int, hi: int, at: int, push=False):
        f.segment(False, at=at, seq=base + lo, payload=data[lo:hi],
                  flags=ACK | (PSH if push else 0))

    def s(ack: int, at: int, sack=()):
        f.segment(True, at=at, ack=base + ack, sack=[(base + a, base + b) for a, b in sack])

    rtt, d = f.rtt, f.local_delay  # capture at the server: its ACKs follow quickly
    c(0, 200, t)
    c(400, 600, t + 15 * US)  # out of order (reordered in the network): 200..400 follows
    c(200, 400, t + 30 * US)
    s(200, t + d)
    s(200, t + 15 * US + d, sack=[(400, 600)])
    s(600, t + 30 * US + d)
    t += rtt + 5 * MS
    c(200, 400, t)  # exact retransmission (spurious)
    s(600, t + d, sack=[(200, 400)])  # D-SACK
    t += rtt + 5 * MS
    c(300, 700, t)  # overlapping retransmission, same bytes in the overlap
    s(700, t + d)
    c(600, 800, t + 15 * US)
    c(800, 1000, t + 30 * US)
    s(1000, t + 30 * US + d)
    # 1000..1100 is never captured (capture loss: the server ACKs it)
    c(1100, 1300, t + 60 * US)
    s(1300, t + 60 * US + d)
    c(1300, 1400, t + 75 * US, push=True)
    s(1400, t + 75 * US + d)
    f.nxt[False] = base + 1400
    f.rcv[True] = base + 1400
    f.now = t + 5 * MS
    f.close()
    write(out, "tcp-out-of-order.pcap", eth(), f.packets)
    manifest("tcp-out-of-order.pcap",
             "inbound federation connection 203.0.113.10:40500 -> 192.0.2.10:5269: handshake, "
             "dialback, then 1400 bytes of <message> stanzas from the client, at offsets "
             f"from the first stanza byte (TCP relative seq {base - f.isn_c}): 0-200, 400-600 "
             "(out of order), 200-400, "
             "200-400 again (identical retransmission, server D-SACKs it), 300-700 "
             "(overlapping retransmission, identical bytes in the overlap), 600-800, 800-1000, "
             "[1000-1100 never captured], 1100-1300, 1300-1400; the server ACKs 1000 then 1300 "
             "(the hole was delivered but not captured); FIN close",
             "reassemble offsets 0-1000 in order, each byte exactly once (400-600 arrives "
             "before 200-400; 200-400 is repeated; 300-700 overlaps bytes already received and "
             "600-800 then adds only 700-800); report a 100-byte gap at 1000-1100 "
             "that never fills before FIN (ACKed, so capture loss rather than network loss); "
             "never splice bytes across the gap: the stanza cut by it is lost, parsing resumes "
             "or the stream is marked incomplete; connection closes normally "
             "[tshark 4.0: 'TCP Previous segment not captured' on 400-600 and 1100-1300, "
             "'TCP Out-Of-Order' on 200-400 and 600-800, 'TCP Spurious Retransmission' on "
             "the exact copy, 'TCP Retransmission' on 300-700, 'TCP Dup ACK', 'TCP ACKed "
             "unseen segment' on ACK 1300; no Malformed]")


def gen_dns_tcp(out: str) -> None:
    f = TcpFlow(LOCAL, 45000, RESOLVER, dport=53, start=T0_NS, rtt=1 * MS, isn_s=0x2A2B2C2D)
    f.handshake()
    srv_name = "_xmpp-server._tcp.example.net"
    q1 = dns_query(0x7001, srv_name, DNS_SRV)
    r1 = dns_response(0x7001, srv_name, DNS_SRV,
                      [RR(srv_name, DNS_SRV, SRV(5, 0, 5269, "xmpp.example.net"), 3600),
                       RR(srv_name, DNS_SRV, SRV(10, 0, 5269, "xmpp2.example.net"), 3600)],
                      authority=[RR("example.net", 2, NS("ns1.example.net"), 86400),
                                 RR("example.net", 2, NS("ns2.example.net"), 86400)],
                      aa=True)
    q2 = dns_query(0x7002, "xmpp.example.net", DNS_A)
    r2 = dns_response(0x7002, "xmpp.example.net", DNS_A,
                      [RR("xmpp.example.net", 5, CNAME("host1.example.net"), 3600),
                       RR("host1.example.net", DNS_A, A("192.0.2.10"), 3600)])
    q3 = dns_query(0x7003, "xmpp.example.net", DNS_AAAA)
    r3 = dns_response(0x7003, "xmpp.example.net", DNS_AAAA,
                      [RR("xmpp.example.net", 5, CNAME("host1.example.net"), 3600)],
                      authority=[RR("example.net", 6, SOA("ns1.example.net",
                                                           "hostmaster.example.net"), 3600)])
    f1, f2, f3 = dns_tcp(r1), dns_tcp(r2), dns_tcp(r3)
    f.send(False, dns_tcp(q1)[:2], think=1 * MS)  # length prefix alone
    f.send(False, q1, think=50 * US)  # then the message
    f.send(True, f1[:1], think=2 * MS)  # response: first byte of the prefix
    f.send(True, f1[1:40], think=50 * US)  # second prefix byte + start of message
    f.send(True, f1[40:], think=50 * US)  # rest
    f.send(False, dns_tcp(q2) + dns_tcp(q3), think=1 * MS)  # two queries in one segment
    f.send(True, f2 + f3[:10], think=2 * MS)  # a whole response + start of the next
    f.send(True, f3[10:], think=50 * US)
    f.now += 1 * MS
    f.close()
    write(out, "dns-tcp-split.pcap", eth(), f.packets)
    manifest("dns-tcp-split.pcap",
             "DNS over TCP 192.0.2.10:45000 -> 192.0.2.53:53: query 0x7001 (SRV "
             "_xmpp-server._tcp.example.net) sent as a 2-byte segment (length prefix) then the "
             "message; response 0x7001 (2 SRV, 2 NS in authority) split as 1 byte | prefix byte "
             "+ 37 message bytes | rest; queries 0x7002 (A) and 0x7003 (AAAA xmpp.example.net) "
             "together in one segment; responses 0x7002 (CNAME host1.example.net + A "
             "192.0.2.10) and the first 8 bytes of 0x7003 (CNAME + SOA in authority, no AAAA) in "
             "one segment, the rest of 0x7003 in the next; FIN close",
             "reassemble the TCP stream and frame by the length prefix across segment "
             "boundaries: exactly 3 queries and 3 responses, all matched by ID; SRV "
             "example.net -> xmpp.example.net (5), xmpp2.example.net (10); xmpp.example.net -> "
             "CNAME host1.example.net -> 192.0.2.10; no AAAA (NODATA with SOA)")


def _pcap_records(path: str):
    """The global header and the records (header + data) of a classic little-endian pcap."""
    import struct
    with open(path, "rb") as fh:
        data = fh.read()
    head, off, recs = data[:24], 24, []
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        recs.append(data[off:off + 16 + incl])
        off += 16 + incl
    return head, recs


def gen_xmpp_cuts(out: str) -> None:
    # Cut from a real capture (pcaps/xmpp/dialback-valid-plaintext/s2s.pcap, two plaintext
    # s2s connections with dialback and stanzas) so the XMPP parser meets a stream it joins
    # mid-way, and one with a hole.
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pcaps", "xmpp",
                       "dialback-valid-plaintext", "s2s.pcap")
    head, recs = _pcap_records(src)
    with open(os.path.join(out, "xmpp-midstream.pcap"), "wb") as fh:
        fh.write(head + b"".join(recs[7:]))
    manifest("xmpp-midstream.pcap",
             "pcaps/xmpp/dialback-valid-plaintext/s2s.pcap from its frame 8 on: connection 1 "
             "(203.0.113.10 -> 198.51.100.20:5269) joined without its SYN and stream headers, "
             "at a's <db:result>",
             "connection 1 midstream; its XMPP is parsed from the first clear boundary "
             "(xmpp.midstream_resync) in a synthetic stream context; connection 2 whole")
    with open(os.path.join(out, "xmpp-gap.pcap"), "wb") as fh:
        fh.write(head + b"".join(r for i, r in enumerate(recs) if i != 17))
    manifest("xmpp-gap.pcap",
             "the same capture without frame 18 (141 bytes of a.example's stream on "
             "connection 1: its db:verify)",
             "a 141-byte gap on connection 1: the element in hand is dropped, parsing resumes at "
             "the next boundary (xmpp.gap_resync); the dropped request is not invented")


def gen_no_federation(out: str) -> None:
    # Traffic, but none of it federation: an HTTPS connection and its DNS lookup.
    pk = dns_udp(LOCAL, 54411, RESOLVER, dns_query(0x6101, "www.example.org", DNS_A),
                 dns_response(0x6101, "www.example.org", DNS_A,
                              [RR("www.example.org", DNS_A, A("198.51.100.80"), 300)]),
                 T0_NS, ident=0x6101)
    f = TcpFlow(LOCAL, 41000, "198.51.100.80", dport=443, start=T0_NS + 10 * MS)
    f.handshake()
    f.exchange([(False, b"\x16\x03\x01\x00\x05hello"), (True, b"\x16\x03\x03\x00\x05world")])
    f.now += 5 * MS
    f.close()
    write(out, "no-federation.pcap", eth(), pk + f.packets)
    manifest("no-federation.pcap",
             "an A lookup of www.example.org (192.0.2.10 <-> 192.0.2.53:53) and a TCP "
             "connection 192.0.2.10 -> 198.51.100.80:443 with a few bytes each way and a "
             "clean close: traffic, but no federation (no 5269/5270, no XMPP SRV lookup)",
             "say there is nothing to judge (no verdicts, 'no federation traffic') and exit "
             "with status 3, never 0 like a healthy capture; the lookup is listed under "
             "Other DNS")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for gen in (gen_link_types, gen_ipv6, gen_pcapng, gen_nanosecond, gen_file_level,
                gen_snaplen, gen_dns_bad, gen_dns_not_utf8, gen_bad_headers, gen_fragments, gen_icmp, gen_tcp_ooo,
                gen_dns_tcp, gen_xmpp_cuts, gen_no_federation):
        gen(out)
    # Rows of files made by hand beside the generated ones (gzip'd copies) are kept.
    path = os.path.join(out, "MANIFEST.tsv")
    made = {row[0] for row in MANIFEST}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                row = tuple(line.rstrip("\n").split("\t"))
                if line.startswith("#") or len(row) != 3 or row[0] in made:
                    continue
                MANIFEST.append(row)
    with open(path, "w") as fh:
        fh.write("# file\tcontents\texpected behaviour (tshark notes are for tshark 4.0.17)\n")
        for row in sorted(MANIFEST):
            assert all("\t" not in c and "\n" not in c for c in row), row
            fh.write("\t".join(row) + "\n")
    total = 0
    for name, _, _ in MANIFEST:
        if name not in made:
            continue
        size = os.path.getsize(os.path.join(out, name))
        assert size < 20_000, (name, size)
        total += size
    print(f"wrote {len(made)} files ({total} bytes) and MANIFEST.tsv to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
