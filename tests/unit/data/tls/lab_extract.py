#!/usr/bin/env python3
"""TLS byte streams of the federation lab's captures, as test vectors (README.md).

    lab_extract.py CAPTURE.pcap FLOW_INDEX OUT.seg

Reads a classic pcap with Ethernet framing (the lab's srv.pcap files), takes the
FLOW_INDEX-th (0-based) TCP connection to or from port 5269, in the order of their SYNs, and
writes what each side sent from its first TLS record on (the byte 0x16 after STARTTLS: XML
text never contains it) as segments in capture order, in relay.py's format ('C' = the side
that sent the SYN). Retransmitted bytes are written once; a hole in the sequence space stops
the script (no lab capture has one).
"""
import struct
import sys


def packets(path):
    b = open(path, "rb").read()
    magic = b[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        sys.exit("not a classic microsecond pcap: " + path)
    if struct.unpack(e + "I", b[20:24])[0] != 1:
        sys.exit("not Ethernet: " + path)
    off = 24
    while off + 16 <= len(b):
        incl = struct.unpack(e + "I", b[off + 8:off + 12])[0]
        yield b[off + 16:off + 16 + incl]
        off += 16 + incl


def tcp_segments(path):
    for f in packets(path):
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 15) * 4
        total = struct.unpack(">H", f[16:18])[0]
        t = 14 + ihl
        src, dst = f[26:30], f[30:34]
        sport, dport, seq = struct.unpack(">HHI", f[t:t + 8])
        flags = f[t + 13]
        payload = f[t + (f[t + 12] >> 4) * 4:14 + total]
        yield (src, sport), (dst, dport), seq, flags, payload


def main(path, index, out_path):
    flows = []  # [(client, server)]
    for a, b, seq, flags, _ in tcp_segments(path):
        if flags & 0x12 == 0x02 and 5269 in (a[1], b[1]) and (a, b) not in flows:
            flows.append((a, b))
    client, server = flows[index]
    next_seq, started, out = {}, {"C": False, "S": False}, bytearray()
    for a, b, seq, flags, payload in tcp_segments(path):
        if (a, b) == (client, server):
            side = "C"
        elif (a, b) == (server, client):
            side = "S"
        else:
            continue
        if flags & 0x02:
            next_seq[side] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        delta = (seq - next_seq[side]) & 0xFFFFFFFF
        if delta >= 0x80000000:  # starts before what we have: cut the old part off
            skip = (next_seq[side] - seq) & 0xFFFFFFFF
            if skip >= len(payload):
                continue
            payload, seq = payload[skip:], next_seq[side]
        elif delta:
            sys.exit("hole in the %s stream" % side)
        next_seq[side] = (seq + len(payload)) & 0xFFFFFFFF
        if not started[side]:
            at = payload.find(b"\x16")
            if at < 0:
                continue
            started[side] = True
            payload = payload[at:]
        out += side.encode() + struct.pack(">I", len(payload)) + payload
    open(out_path, "wb").write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
