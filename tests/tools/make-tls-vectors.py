#!/usr/bin/env python3
"""Writes the TLS decryption test vectors: tests/unit/data/tls_decrypt/NAME.txt.

Each vector is one real TLS connection between Python's ssl module (OpenSSL) client and
server objects joined by memory BIOs (ssl.MemoryBIO / SSLObject), the client's secrets
written by SSLContext.keylog_filename. Python 3.11 standard library and the openssl CLI (a
self-signed RSA certificate, made in a temporary directory) only. The C++ test
(tests/unit/test_tls_decrypt.cpp) reads the committed files; it never runs this script.

    tests/tools/make-tls-vectors.py            # rewrite every vector
    tests/tools/make-tls-vectors.py tls13-aes128gcm tls12-cbc-sha-etm   # only these

The output differs on every run (fresh keys and randoms); what a vector covers does not.

File format (text, one item per line, in this order):

    # ...                      comment
    name NAME                  the vector's name (the file's base name)
    version 0xVVVV             the negotiated version (ServerHello), e.g. 0x0304
    suite 0xSSSS               the negotiated cipher suite, e.g. 0x1301
    hrr 0|1                    the server sent a HelloRetryRequest
    etm 0|1                    the server accepted encrypt_then_mac (RFC 7366)
    subject SUBJECT            the server certificate's subject (RFC 2253 form)
    keylog LINE                one line of the NSS key log (as the client wrote it)
    C HEX / S HEX              the bytes one side (client / server) handed to the network in
                               one go, in the order they crossed (every byte, handshake
                               included, from the first ClientHello to the last close_notify)
    plain C HEX / plain S HEX  one application-data message that side sent (in order)
    pattern C N / pattern S N  one application-data message of N bytes: byte i is i % 251
    handshake C HEX / S HEX    an expected decrypted handshake message, header included, in
                               order (only in rfc8448-1rtt.txt, which is not made here: it is
                               RFC 8448 section 3's published records and secrets, by hand)

Each connection: the handshake, a few application-data messages each way (one of them over
16 KB, so it spans records), then close_notify from the client and the server's answering
close_notify (each side's last chunk is its close_notify record alone).

Vectors made: every name in VECTORS below (OpenSSL 3.0 as packaged by Debian 12). TLS 1.3
suites are chosen through an OPENSSL_CONF "Ciphersuites" line because Python's ssl has no API
for them, so each vector runs in its own child process.
"""

import os
import ssl
import subprocess
import sys
import tempfile

SSL_OP_NO_ENCRYPT_THEN_MAC = 0x80000  # SSL_OP_BIT(19) in <openssl/ssl.h>
SUBJECT = "CN=vectors.fedscope.test,O=fedscope test vectors"
SUBJECT_ARG = "/O=fedscope test vectors/CN=vectors.fedscope.test"

# name: (TLS 1.3 suite for OPENSSL_CONF or None, TLS 1.2 cipher string or None,
#        min version, max version, options for both sides, server group or None,
#        which side sends the large message)
VECTORS = {
    "tls13-aes128gcm": ("TLS_AES_128_GCM_SHA256", None, "TLSv1_3", "TLSv1_3", 0, None, "S"),
    "tls13-aes256gcm": ("TLS_AES_256_GCM_SHA384", None, "TLSv1_3", "TLSv1_3", 0, None, "C"),
    "tls13-chacha20": ("TLS_CHACHA20_POLY1305_SHA256", None, "TLSv1_3", "TLSv1_3", 0, None, "S"),
    "tls13-hrr": ("TLS_AES_128_GCM_SHA256", None, "TLSv1_3", "TLSv1_3", 0, "secp384r1", "C"),
    "tls12-aes128gcm": (None, "ECDHE-RSA-AES128-GCM-SHA256", "TLSv1_2", "TLSv1_2", 0, None, "C"),
    "tls12-aes256gcm": (None, "ECDHE-RSA-AES256-GCM-SHA384", "TLSv1_2", "TLSv1_2", 0, None, "S"),
    "tls12-chacha20": (None, "ECDHE-RSA-CHACHA20-POLY1305", "TLSv1_2", "TLSv1_2", 0, None, "C"),
    "tls12-cbc-sha-etm": (None, "ECDHE-RSA-AES128-SHA", "TLSv1_2", "TLSv1_2", 0, None, "C"),
    "tls12-cbc-sha-mte": (None, "ECDHE-RSA-AES128-SHA", "TLSv1_2", "TLSv1_2",
                          SSL_OP_NO_ENCRYPT_THEN_MAC, None, "S"),
    "tls12-cbc-sha384-mte": (None, "ECDHE-RSA-AES256-SHA384", "TLSv1_2", "TLSv1_2",
                             SSL_OP_NO_ENCRYPT_THEN_MAC, None, "C"),
    "tls12-cbc-sha256-etm": (None, "ECDHE-RSA-AES128-SHA256", "TLSv1_2", "TLSv1_2", 0, None, "S"),
    "tls10-cbc-sha-etm": (None, "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", "TLSv1", "TLSv1", 0, None, "C"),
    "tls11-cbc-sha-mte": (None, "ECDHE-RSA-AES256-SHA:@SECLEVEL=0", "TLSv1_1", "TLSv1_1",
                          SSL_OP_NO_ENCRYPT_THEN_MAC, None, "S"),
}

SMALL = {
    "C": [b"<stream:stream to='example.org'>", b"ping", b"x" * 300],
    "S": [b"<stream:stream from='example.org'>", b"pong"],
}
LARGE = 17000  # > 16384: at least two records


def pattern(n):
    return bytes(i % 251 for i in range(n))


def make_certificate(directory):
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", "3650", "-subj", SUBJECT_ARG, "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class Transcript:
    def __init__(self):
        self.lines = []

    def chunk(self, side, data):
        self.lines.append(f"{side} {data.hex()}")


def pump(client_out, server_in, server_out, client_in, transcript):
    moved = False
    data = client_out.read()
    if data:
        transcript.chunk("C", data)
        server_in.write(data)
        moved = True
    data = server_out.read()
    if data:
        transcript.chunk("S", data)
        client_in.write(data)
        moved = True
    return moved


def step(fn):
    try:
        fn()
        return True
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False


def read_exactly(obj, n, do_pump):
    got = b""
    while len(got) < n:
        try:
            data = obj.read(65536)
            if not data:
                raise RuntimeError("connection closed early")
            got += data
        except ssl.SSLWantReadError:
            if not do_pump():
                raise RuntimeError("stalled reading application data")
    return got


def run_one(name, cert, key, out_dir):
    tls13, ciphers, min_v, max_v, options, group, large_side = VECTORS[name]
    with tempfile.TemporaryDirectory() as tmp:
        keylog = os.path.join(tmp, "keylog.txt")
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
        for ctx in (cctx, sctx):
            ctx.minimum_version = getattr(ssl.TLSVersion, min_v)
            ctx.maximum_version = getattr(ssl.TLSVersion, max_v)
            if ciphers:
                ctx.set_ciphers(ciphers)
            ctx.options |= options
        if group:
            sctx.set_ecdh_curve(group)
        cctx.keylog_filename = keylog

        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = cctx.wrap_bio(c_in, c_out, server_side=False,
                               server_hostname="vectors.fedscope.test")
        server = sctx.wrap_bio(s_in, s_out, server_side=True)
        t = Transcript()

        def do_pump():
            return pump(c_out, s_in, s_out, c_in, t)

        c_done = s_done = False
        for _ in range(50):
            if not c_done:
                c_done = step(client.do_handshake)
            do_pump()
            if not s_done:
                s_done = step(server.do_handshake)
            do_pump()
            if c_done and s_done:
                break
        if not (c_done and s_done):
            raise RuntimeError(f"{name}: handshake did not finish")

        plain = []
        messages = {side: list(SMALL[side]) for side in "CS"}
        messages[large_side].insert(1, pattern(LARGE))
        for i in range(max(len(messages["C"]), len(messages["S"]))):
            for side, writer, reader in (("C", client, server), ("S", server, client)):
                if i >= len(messages[side]):
                    continue
                msg = messages[side][i]
                writer.write(msg)
                do_pump()
                if read_exactly(reader, len(msg), do_pump) != msg:
                    raise RuntimeError(f"{name}: application data differs")
                if len(msg) == LARGE:
                    plain.append(f"pattern {side} {LARGE}")
                else:
                    plain.append(f"plain {side} {msg.hex()}")

        # close_notify: the client's, then the server's answer.
        step(client.unwrap)
        do_pump()
        step(server.unwrap)
        do_pump()
        step(client.unwrap)
        do_pump()

        version = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303,
                   "TLSv1.3": 0x0304}[client.version()]
        suite = cipher_suite_id(client.cipher()[0], version)
        server_bytes = b"".join(bytes.fromhex(l[2:]) for l in t.lines if l.startswith("S "))
        hrr = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
        with open(keylog) as f:
            keylog_lines = [l.rstrip("\n") for l in f if l.strip()]

    lines = [
        f"# {name}: generated by tests/tools/make-tls-vectors.py ({ssl.OPENSSL_VERSION})",
        f"name {name}",
        f"version 0x{version:04x}",
        f"suite 0x{suite:04x}",
        f"hrr {1 if hrr in server_bytes else 0}",
        f"etm {1 if etm_accepted(server_bytes, version) else 0}",
        f"subject {SUBJECT}",
    ]
    lines += [f"keylog {l}" for l in keylog_lines]
    lines += t.lines
    lines += plain
    path = os.path.join(out_dir, name + ".txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    if group and hrr not in server_bytes:
        raise RuntimeError(f"{name}: no HelloRetryRequest")
    print(f"{path}: {client.version()} {client.cipher()[0]} {len(t.lines)} chunks")


def server_hello_body(server_bytes):
    # The first handshake record's first message (ServerHello or HelloRetryRequest); records
    # are not reassembled: the ServerHello is always in the first record with these peers.
    assert server_bytes[0] == 22
    length = int.from_bytes(server_bytes[3:5], "big")
    record = server_bytes[5:5 + length]
    assert record[0] == 2
    body_len = int.from_bytes(record[1:4], "big")
    return record[4:4 + body_len]


def etm_accepted(server_bytes, version):
    if version == 0x0304:
        return False
    body = server_hello_body(server_bytes)
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    pos += 3  # suite, compression
    if pos >= len(body):
        return False
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    while pos < end:
        ext = int.from_bytes(body[pos:pos + 2], "big")
        n = int.from_bytes(body[pos + 2:pos + 4], "big")
        if ext == 22:
            return True
        pos += 4 + n
    return False


def cipher_suite_id(openssl_name, version):
    ids = {
        "TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
        "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
        "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F, "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
        "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8, "ECDHE-RSA-AES128-SHA": 0xC013,
        "ECDHE-RSA-AES256-SHA": 0xC014, "ECDHE-RSA-AES128-SHA256": 0xC027,
        "ECDHE-RSA-AES256-SHA384": 0xC028,
    }
    return ids[openssl_name]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.normpath(os.path.join(here, "..", "unit", "data", "tls_decrypt"))
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        # --child NAME CERT KEY OUT_DIR: one vector, in a process whose OPENSSL_CONF is set.
        run_one(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
        return
    names = sys.argv[1:] or list(VECTORS)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(tmp)
        for name in names:
            if name not in VECTORS:
                sys.exit(f"unknown vector {name}; known: {' '.join(VECTORS)}")
            conf = os.path.join(tmp, "openssl.cnf")
            with open(conf, "w") as f:
                f.write("openssl_conf = init\n[init]\nssl_conf = ssl_sect\n"
                        "[ssl_sect]\nsystem_default = sys\n[sys]\n")
                if VECTORS[name][0]:
                    f.write(f"Ciphersuites = {VECTORS[name][0]}\n")
            env = dict(os.environ, OPENSSL_CONF=conf)
            subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name, cert, key,
                            out_dir], check=True, env=env)


if __name__ == "__main__":
    main()
