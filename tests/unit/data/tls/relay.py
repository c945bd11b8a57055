#!/usr/bin/env python3
"""Recording TCP relay for the TLS test vectors (tests/unit/data/tls/README.md).

    relay.py LISTEN_PORT UPSTREAM_PORT OUT.seg

Accepts one connection on 127.0.0.1:LISTEN_PORT, connects to 127.0.0.1:UPSTREAM_PORT and
copies bytes both ways until both directions are closed. Every chunk it reads is appended to
OUT.seg as one segment, in the order the relay read them:

    side   1 byte   'C' (from the client, the side that connected) or 'S' (from the server)
    length 4 bytes  big-endian
    bytes  length bytes

A FIN is passed on as a shutdown(SHUT_WR) of the other socket; a reset ends the relay. The
relay prints "ready" on stdout once it listens and exits after 20 s at the latest.
"""
import select
import socket
import struct
import sys
import time


def main(listen_port, upstream_port, out_path):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(1)
    print("ready", flush=True)
    srv.settimeout(20)
    client, _ = srv.accept()
    srv.close()
    upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=20)
    peers = {client: (upstream, b"C"), upstream: (client, b"S")}
    open_ = {client, upstream}
    deadline = time.monotonic() + 20
    with open(out_path, "wb") as out:
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_), [], [], 0.5)
            for s in readable:
                other, side = peers[s]
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    open_.clear()
                    break
                if not data:
                    open_.discard(s)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                out.write(side + struct.pack(">I", len(data)) + data)
                try:
                    other.sendall(data)
                except OSError:
                    open_.clear()
                    break
    client.close()
    upstream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
