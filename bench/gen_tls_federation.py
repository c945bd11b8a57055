#!/usr/bin/env python3
"""Synthetic *encrypted* XMPP federation capture with its TLS key log, for the --tls-keylog
benchmark (bench/keylog.sh). Python standard library only.

usage: gen_tls_federation.py OUT.pcap KEYLOG.txt --sessions N [--target-bytes B] [--seed S]
                             [--tls 1.2|1.3] [--cipher OPENSSL-NAME]

Each session is one server-to-server connection a.example -> domN.example on 5269 (Ethernet,
classic pcap, capture beside the initiator): TCP handshake, stream headers and STARTTLS in
clear, then a real TLS session made by Python's ssl module over memory BIOs (OpenSSL 3: the
records, keys and alerts are OpenSSL's own; the secrets go to KEYLOG through
SSLContext.keylog_filename), the stream restarted inside TLS, dialback (db:result valid),
<message> and <presence> stanzas both ways until the session's share of --target-bytes,
</stream:stream>, close_notify, FIN. Sessions follow each other (no interleaving): the
benchmark measures decryption and parsing, not flow-table pressure.
"""

from __future__ import annotations

import argparse
import os
import random
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "tools"))
import pcapgen as pg  # noqa: E402

WORDS = ("federation server message presence stanza domain dialback stream hello meeting "
         "tomorrow coffee release build deploy review patch upload photo weekend train "
         "delayed thanks sure later lunch call note update ticket queue").split()


def parse_size(text: str) -> int:
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}
    return int(float(text[:-1]) * mult[text[-1].upper()]) if text[-1].upper() in mult \
        else int(text)


def make_cert(tmp: str) -> tuple[str, str]:
    key, crt = os.path.join(tmp, "key.pem"), os.path.join(tmp, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=b.example", "-days", "2",
                    "-addext", "subjectAltName=DNS:b.example", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return key, crt


class Session:
    """One TLS session over memory BIOs: what each side's writes put on the wire."""

    def __init__(self, cctx: ssl.SSLContext, sctx: ssl.SSLContext, sni: str):
        self.ci, self.co = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.si, self.so = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.c = cctx.wrap_bio(self.ci, self.co, server_hostname=sni)
        self.s = sctx.wrap_bio(self.si, self.so, server_side=True)
        self.wire: list[tuple[bool, bytes]] = []  # (from_client, bytes), in order

    def _flush(self) -> bool:
        moved = False
        out = self.co.read()
        if out:
            self.wire.append((True, out))
            self.si.write(out)
            moved = True
        out = self.so.read()
        if out:
            self.wire.append((False, out))
            self.ci.write(out)
            moved = True
        return moved

    def handshake(self) -> None:
        for _ in range(20):
            for side in (self.c, self.s):
                try:
                    side.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            if not self._flush():
                break

    def send(self, from_client: bool, data: bytes) -> None:
        (self.c if from_client else self.s).write(data)
        self._flush()
        peer = self.s if from_client else self.c
        try:
            while peer.read(65536):
                pass
        except ssl.SSLWantReadError:
            pass
        self._flush()  # TLS 1.3 session tickets and the like

    def close(self) -> None:
        for side in (self.c, self.s):
            try:
                side.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            self._flush()


def stanza(rng: random.Random, frm: str, to: str, i: int) -> bytes:
    if rng.random() < 0.2:
        return f"<presence from='u{i}@{frm}' to='v{i}@{to}'><show>chat</show></presence>".encode()
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60)))
    return (f"<message from='u{i}@{frm}/r' to='v{i}@{to}' type='chat' id='m{i}'>"
            f"<body>{body}</body></message>").encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("keylog")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--target-bytes", default="20M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    ap.add_argument("--cipher", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    target = parse_size(a.target_bytes)
    per_session = max(4000, target // max(1, a.sessions))
    if os.path.exists(a.keylog):
        os.unlink(a.keylog)
    version = ssl.TLSVersion.TLSv1_3 if a.tls == "1.3" else ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:
        key, crt = make_cert(tmp)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(crt, key)
        sctx.minimum_version = sctx.maximum_version = version
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        cctx.minimum_version = cctx.maximum_version = version
        if a.cipher:
            (cctx if a.tls == "1.2" else sctx).set_ciphers(a.cipher)
        cctx.keylog_filename = a.keylog
        link = pg.EthernetLink(src="02:00:5e:00:01:0a", dst="02:00:5e:00:02:0a")
        written = 0
        start = pg.T0_NS
        with open(a.out, "wb") as f:
            w = pg.PcapWriter(f, link.linktype)
            for n in range(a.sessions):
                dom = f"dom{n}.example"
                flow = pg.TcpFlow(client=f"192.0.2.{10 + n % 200}", sport=20000 + n % 40000,
                                  server=f"203.0.113.{10 + n % 200}", start=start,
                                  isn_c=rng.getrandbits(32), isn_s=rng.getrandbits(32),
                                  rtt=2 * pg.MS)
                flow.handshake()
                hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                       "xmlns:stream='http://etherx.jabber.org/streams' "
                       "xmlns:db='jabber:server:dialback' version='1.0' ")
                flow.exchange([
                    (True, (hdr + f"from='a.example' to='{dom}'>").encode()),
                    (False, (hdr + f"from='{dom}' to='a.example' id='s{n}'>"
                             "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:"
                             "xmpp-tls'><required/></starttls></stream:features>").encode()),
                    (True, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                    (False, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")])
                s = Session(cctx, sctx, dom)
                s.handshake()
                s.send(True, (hdr + f"from='a.example' to='{dom}'>").encode())
                s.send(False, (hdr + f"from='{dom}' to='a.example' id='t{n}'><stream:features>"
                               "<dialback xmlns='urn:xmpp:features:dialback'/>"
                               "</stream:features>").encode())
                s.send(True, f"<db:result from='a.example' to='{dom}'>k{n:x}</db:result>".encode())
                s.send(False, f"<db:result from='{dom}' to='a.example' type='valid'/>".encode())
                size, i = 0, 0
                while size < per_session:
                    from_client = rng.random() < 0.6
                    st = stanza(rng, "a.example" if from_client else dom,
                                dom if from_client else "a.example", i)
                    # A few stanzas per TLS record, as servers write them.
                    batch = b"".join([st] + [stanza(rng, "a.example", dom, i + k + 1)
                                             for k in range(rng.randint(0, 3))])
                    s.send(from_client, batch)
                    size += len(batch)
                    i += 4
                s.send(True, b"</stream:stream>")
                s.send(False, b"</stream:stream>")
                s.close()
                flow.exchange(s.wire, think=100 * pg.US)
                flow.close()
                for p in flow.packets:
                    frame = link.frame(p.ip, p.reverse)
                    w.write(p.ts, frame)
                    written += len(frame) + 16
                start = flow.now + 5 * pg.MS
    print(f"{a.out}: {a.sessions} sessions, {written / 1e6:.1f} MB; key log {a.keylog}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
