#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from the committed captures: DNS payloads (UDP/53) for
fuzz_dns, and whole captures re-encoded in fuzz_packet's input format (link type byte, then
[len_hi len_lo time_step bytes] per frame). Reads classic pcap only (stdlib)."""
import hashlib
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
