#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from the committed captures: DNS payloads (UDP/53) for
fuzz_dns, and whole captures re-encoded in fuzz_packet's input format (link type byte, then
[len_hi len_lo time_step bytes] per frame); for fuzz_tls both directions of each 5269/5270
connection from its first TLS record on, plus the unit tests' TLS vectors and a few synthetic
inputs; for fuzz_capture whole capture files (corner cases, plain and to be gzip'd). Reads
classic pcap only (stdlib)."""
import hashlib
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINKTYPES = [1, 113, 276, 12, 101, 0, 108, 228, 229]


def frames(path):
    b = path.read_bytes()
    if len(b) < 24:
        return None, []
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    linktype = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    out, off = [], 24
    while off + 16 <= len(b):
        sec, frac, incl, _ = struct.unpack(e + "IIII", b[off:off + 16])
        data = b[off + 16:off + 16 + incl]
        out.append((sec + frac / 1e6, data))
        off += 16 + incl
    return linktype, out


def write(d, blob):
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(blob).hexdigest()).write_bytes(blob)


def main(out):
    out = Path(out)
    for p in sorted(ROOT.glob("pcaps/**/*.pcap")):
        lt, fr = frames(p)
        if lt is None or lt not in LINKTYPES or not fr:
            continue
        blob = bytearray([LINKTYPES.index(lt)])
        prev = fr[0][0]
        for t, data in fr[:200]:
            data = data[:65535]
            step = max(0, min(255, int((t - prev) / 0.05)))
            prev = t
            blob += struct.pack(">HB", len(data), step) + data
        write(out / "packet", bytes(blob))
        for _, data in fr:
            if lt == 1 and len(data) > 42 and data[12:14] == b"\x08\x00" and data[23] == 17:
                ihl = (data[14] & 15) * 4
                udp = 14 + ihl
                if data[udp:udp + 2] == b"\x00\x35" or data[udp + 2:udp + 4] == b"\x00\x35":
                    write(out / "dns", data[udp + 8:])
    # XMPP: TCP payloads of port 5269 flows, per direction (role byte, cut byte, bytes).
    for p in sorted(ROOT.glob("pcaps/**/*.pcap")):
        lt, fr = frames(p)
        if lt != 1:
            continue
        streams = {}
        for _, data in fr:
            if len(data) < 54 or data[12:14] != b"\x08\x00" or data[23] != 6:
                continue
            ihl = (data[14] & 15) * 4
            tcp = 14 + ihl
            sport, dport = struct.unpack(">HH", data[tcp:tcp + 4])
            if 5269 not in (sport, dport):
                continue
            payload = data[tcp + ((data[tcp + 12] >> 4) * 4):]
            if payload:
                streams.setdefault((sport, dport), bytearray()).extend(payload)
        for (sport, dport), b in streams.items():
            role = 0 if dport == 5269 else 1
            write(out / "xmpp", bytes([role, len(b) % 251]) + bytes(b[:8192]))
            # fuzz_xmpp_fastpath (tests/fuzz/xmpp_differential.hpp): raw mode, the stream's own
            # header (flag 0x20), cut by the generator (mode 0) and byte at a time (mode 2).
            write(out / "xmpp_fastpath", bytes([role | 0x20, 0]) + bytes(b[:8192]))
            write(out / "xmpp_fastpath", bytes([role | 0x20, 2]) + bytes(b[:2048]))
    # Structured fast-path seeds: stanza pieces by index, then cut bytes (fixed seed).
    rng = random.Random(12)
    for n in range(48):
        flags = rng.choice([0, 1, 2, 0x10, 0x11, 0x08, 0x18])
        mode = 1 | (rng.randrange(4) << 1)
        k = rng.randrange(1, 40)
        body = bytes([flags, mode, k - 1]) + bytes(rng.randrange(0, 0xE0) for _ in range(k))
        body += bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        write(out / "xmpp_fastpath", body)
    tls_seeds(out / "tls")
    # Capture files whole for fuzz_capture (flag byte: bit 0 = gzip them first): the small
    # corner files (every format oddity) and a few real captures, plain and compressed.
    for p in sorted(ROOT.glob("pcaps/corner/*")):
        if p.suffix in (".pcap", ".pcapng", ".gz") and p.stat().st_size <= 65536:
            write(out / "capture", b"\x00" + p.read_bytes())
            write(out / "capture", b"\x01" + p.read_bytes())
    for p in sorted(ROOT.glob("pcaps/xmpp/*/s2s.pcap"))[:4]:
        write(out / "capture", b"\x00" + p.read_bytes()[:65000])
    return 0


def tls_input(flags, cut, segments, limit=16384):
    """fuzz_tls's format: flags, cut, then [u16: bit 15 = server, length][bytes] segments."""
    blob = bytearray([flags, cut])
    for server, data in segments:
        for i in range(0, len(data), 0x7FFF):
            part = data[i:i + 0x7FFF]
            blob += struct.pack(">H", (0x8000 if server else 0) | len(part)) + part
        if len(blob) >= limit:
            break
    return bytes(blob[:limit])


def tls_seeds(out):
    # Captures: TCP payloads of 5269/5270 connections (Ethernet, IPv4), per direction from its
    # first 0x16 byte (the TLS ClientHello/ServerHello after STARTTLS), in capture order.
    for p in sorted(ROOT.glob("pcaps/**/*.pcap")):
        lt, fr = frames(p)
        if lt != 1:
            continue
        flows = {}
        for _, data in fr:
            if len(data) < 54 or data[12:14] != b"\x08\x00" or data[23] != 6:
                continue
            ihl = (data[14] & 15) * 4
            tcp = 14 + ihl
            sport, dport = struct.unpack(">HH", data[tcp:tcp + 4])
            if dport in (5269, 5270):
                key, server = (data[26:30], sport, data[30:34], dport), False
            elif sport in (5269, 5270):
                key, server = (data[30:34], dport, data[26:30], sport), True
            else:
                continue
            payload = data[tcp + ((data[tcp + 12] >> 4) * 4):]
            flow = flows.setdefault(key, {"segments": [], "started": [False, False]})
            if payload and not flow["started"][server]:
                at = payload.find(b"\x16")
                if at < 0:
                    continue
                flow["started"][server] = True
                payload = payload[at:]
            if payload:
                flow["segments"].append((server, payload))
        for flow in flows.values():
            if flow["segments"]:
                segs = flow["segments"]
                write(out, tls_input(0, len(segs) % 251, segs))
                write(out, tls_input(4, 7, segs))
    # The unit tests' vectors (openssl s_client/s_server and the lab): 'C'/'S' u32 length bytes.
    for p in sorted(ROOT.glob("tests/unit/data/tls/*.seg")):
        b, segs, i = p.read_bytes(), [], 0
        while i + 5 <= len(b):
            n = struct.unpack(">I", b[i + 1:i + 5])[0]
            segs.append((b[i:i + 1] == b"S", b[i + 5:i + 5 + n]))
            i += 5 + n
        write(out, tls_input(0, 3, segs))
        write(out, tls_input(4, 200, segs))
    # Synthetic: not TLS, empty and odd records, a heartbeat, a too-long record, HRR random.
    hello = bytes([1, 0, 0, 0x29, 3, 3]) + bytes(32) + bytes([0, 0, 2, 0x13, 1, 1, 0])
    synthetic = [
        [(False, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")],
        [(False, bytes([0x80, 0x2e, 0x01, 0x03, 0x01]) + bytes(43))],
        [(True, b"<stream:stream xmlns='jabber:server'>")],
        [(False, bytes([22, 3, 1, 0, 0, 21, 3, 3, 0, 3, 1, 0, 2, 20, 3, 3, 0, 0]))],
        [(False, bytes([24, 3, 3, 0, 3, 1, 0x40, 0, 23, 3, 3, 0x48, 1]))],
        [(False, bytes([22, 3, 1, 0, len(hello)]) + hello),
         (True, bytes([22, 3, 3, 0, 4, 2, 0, 0, 0x50, 22, 3, 3, 0, 0x50, 3, 3]) +
          bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C") +
          bytes([0, 0x13, 1, 0, 0, 6, 0, 43, 0, 2, 3, 4]) + bytes(0x50 - 46))],
    ]
    for segs in synthetic:
        write(out, tls_input(0, 1, segs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
