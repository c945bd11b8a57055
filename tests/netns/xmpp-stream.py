#!/usr/bin/env python3
"""Tiny XMPP server-to-server stream endpoint for the fedscope netns captures.

socat runs it with `EXEC:...,nofork`, so fd 0 *is* the TCP socket (no pipe or
socketpair in between): closing it sends FIN, SO_LINGER 0 makes close send RST.

usage: xmpp-stream.py ROLE OWN_DOMAIN PEER_DOMAIN [DEADLINE_SECONDS]
(a responder answers to the from= of the header it receives, PEER_DOMAIN otherwise)
  initiator        send header, wait for <stream:features/>, send </stream:stream>,
                   wait for the peer's </stream:stream>, close (FIN)
  initiator-reset  like initiator, but after the features sends a dialback
                   <db:result/> and waits for the responder to reset the stream
  responder        wait for the header, answer header + <stream:features/>,
                   wait for </stream:stream>, answer </stream:stream>, close (FIN)
  responder-reset  like responder, but waits for </db:result>, then closes with
                   SO_LINGER 0 (kernel sends RST on the established connection)
Every wait is bounded by DEADLINE_SECONDS (default 3) in total.
"""
import os
import re
import socket
import struct
import sys
import time

NS = ("xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback'")


def header(own, peer, with_id):
    sid = " id='fsc-%08x'" % (os.getpid() * 2654435761 % (1 << 32)) if with_id else ""
    return ("<?xml version='1.0'?><stream:stream %s from='%s' to='%s'%s version='1.0'>"
            % (NS, own, peer, sid)).encode()


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    role, own, peer = sys.argv[1], sys.argv[2], sys.argv[3]
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 3.0)
    sock = socket.socket(fileno=os.dup(0))
    os.close(0)
    os.close(1)
    if sock.family != socket.AF_INET or sock.type != socket.SOCK_STREAM:
        sys.stderr.write("xmpp-stream: fd 0 is not a TCP socket (use socat EXEC:...,nofork)\n")
        return 2
    buf = b""

    def recv_more(what):
        nonlocal buf
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for %s" % what)
        sock.settimeout(left)
        data = sock.recv(4096)
        if not data:
            raise EOFError("EOF while waiting for %s" % what)
        buf += data

    def recv_until(marker):
        while marker not in buf:
            recv_more(repr(marker))

    def log(msg):
        sys.stderr.write("xmpp-stream[%s %s]: %s\n" % (role, own, msg))

    try:
        if role.startswith("initiator"):
            sock.sendall(header(own, peer, False))
            recv_until(b"<stream:features/>")
            if role == "initiator-reset":
                sock.sendall(("<db:result from='%s' to='%s'>"
                              "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"
                              "</db:result>" % (own, peer)).encode())
                try:
                    recv_until(b"</stream:stream>")
                    log("unexpected clean close")
                except (ConnectionResetError, EOFError) as e:
                    log("stream ended: %s" % type(e).__name__)
                return 0
            sock.sendall(b"</stream:stream>")
            recv_until(b"</stream:stream>")
            sock.close()
            return 0
        if role.startswith("responder"):
            recv_until(b"<stream:stream")
            start = buf.index(b"<stream:stream")
            while b">" not in buf[start:]:
                recv_more("end of the stream header")
            m = re.search(rb"from='([^']*)'", buf[start:buf.index(b">", start)])
            if m:
                peer = m.group(1).decode(errors="replace")
            sock.sendall(header(own, peer, True) + b"<stream:features/>")
            if role == "responder-reset":
                recv_until(b"</db:result>")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                log("closed with SO_LINGER 0 (RST)")
                return 0
            recv_until(b"</stream:stream>")
            sock.sendall(b"</stream:stream>")
            sock.close()
            return 0
    except (TimeoutError, EOFError, OSError) as e:
        log("%s: %s" % (type(e).__name__, e))
        return 1
    sys.stderr.write("xmpp-stream: unknown role %r\n" % role)
    return 2


if __name__ == "__main__":
    sys.exit(main())
