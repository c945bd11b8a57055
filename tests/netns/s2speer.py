#!/usr/bin/python3
"""Scripted XMPP server-to-server peer for the fedscope XMPP/TLS captures (pcaps/xmpp).

Python standard library only (socket, ssl, threading). It speaks real RFC 6120 s2s XML:
stream headers (xmlns='jabber:server', xmlns:stream, xmlns:db, version='1.0', ids),
stream features, STARTTLS (the TCP socket is wrapped by the ssl module right after
<proceed/>, then the stream restarts), XEP-0368 direct TLS (ALPN xmpp-server), server
dialback (XEP-0220 db:result / db:verify, keys per XEP-0185), SASL EXTERNAL offers, stanzas
and stream errors; and misbehaves in exactly one way per scenario (SCENARIOS below).

  s2speer.py --role receiver  --scenario NAME --domain b.example --addr 198.51.100.20 ...
  s2speer.py --role initiator --scenario NAME --domain a.example --addr 203.0.113.10 \
             --peer-domain b.example --peer-addr 198.51.100.20 ...
  s2speer.py --list

The initiator opens the stream to the receiver and, where dialback has to be verified, also
listens on its own address: the receiver then opens a second TCP connection back to it
(Prosody-style: that connection is the receiver's own outgoing stream; it carries the
db:verify for the initiator's key and the receiver's own db:result, and the receiver's
stanzas for the initiator). Every wait is bounded; the whole process ends after --timeout.
Log lines (stderr) show every element sent and received. Exit status 0: the scenario went
as scripted (the initiator checks its outcome), 1: it did not, 2: usage.
"""
import argparse
import hashlib
import hmac
import os
import re
import socket
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET

NS_STREAM = "http://etherx.jabber.org/streams"
NS_DB = "jabber:server:dialback"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DBF = "urn:xmpp:features:dialback"
DECL = ("xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback'")

# Behaviour knobs. b_* = receiver, a_* = initiator; anything not given takes DEFAULTS.
DEFAULTS = dict(
    b_mode="xmpp",            # xmpp | http | ssh | silent
    b_features=("dialback",),  # starttls, starttls-required, sasl-external, dialback
    b_header_error=None,      # (condition, text): answer the header with a stream error
    b_starttls="proceed",     # proceed | failure | stall (never answers the ClientHello) | inject
    b_dialback="verify",      # verify (db:verify back to the initiator) | ignore | unsolicited
    b_stanza="echo",          # echo (answer message and iq) | error (service-unavailable)
    b_tls_max=None,           # "1.2": the receiver's TLS server limited to TLS 1.2
    b_groups=None,            # e.g. "secp384r1": the receiver's only key-exchange group (HRR)
    b_ciphers=None,           # OpenSSL cipher string of the receiver's TLS <= 1.2 server
    b_no_etm=False,           # the receiver's TLS server refuses encrypt_then_mac (RFC 7366)
    b_client_cert=False,      # the receiver's TLS server requests a client certificate
    b_secure_auth=False,      # Prosody s2s_secure_auth: an untrusted client certificate gets
                              # <stream:error><not-authorized/> at the stream restart
    all_tls=None,             # "1.0": every TLS context of both peers min = max = TLS 1.0
    direct=False,             # XEP-0368: receiver listens with TLS at once, ALPN xmpp-server
    a_starttls=True,          # initiator uses STARTTLS when offered
    a_verify=True,            # initiator verifies the receiver's certificate (CA + RFC 6120 name)
    a_sni=None,               # SNI other than the stream 'to'
    a_client_cert=False,      # initiator presents its certificate when the server asks
    a_auth="dialback",        # dialback | sasl | none
    a_header_wait=3.0,        # seconds to wait for the receiver's stream header
    a_dialback_wait=4.0,      # seconds to wait for the dialback result
    a_idle=0.0,               # auth none: seconds of silence before </stream:stream>
    a_handshake_wait=3.0,     # seconds for the TLS handshake
    a_listen=False,           # initiator listens (authoritative server, receiver's stream back)
    a_listener_tls=False,     # ... and offers STARTTLS there
    a_stanzas=False,          # after dialback: message, presence, iq; wait for the answers
    expect="authenticated",   # the initiator's scripted outcome (exit 0 when it happened)
)
TLS = dict(b_features=("starttls", "dialback"), b_tls_max="1.2", a_listen=True,
           a_listener_tls=True, a_stanzas=True)
DIALBACK = dict(a_listen=True)
SCENARIOS = {
    "not-xmpp-http": dict(b_mode="http", expect="not-xmpp"),
    "not-xmpp-ssh": dict(b_mode="ssh", expect="not-xmpp"),
    "no-stream": dict(b_mode="silent", expect="no-stream"),
    "stream-error-host-unknown": dict(
        b_header_error=("host-unknown", "This server does not serve b.example"),
        expect="stream-error"),
    "dialback-timeout": dict(b_dialback="ignore", expect="dialback-timeout"),
    "dialback-unsolicited": dict(DIALBACK, b_dialback="unsolicited"),
    "dialback-valid-plaintext": dict(DIALBACK, a_stanzas=True),
    "starttls-failure": dict(b_features=("starttls", "dialback"), b_starttls="failure",
                             expect="starttls-failure"),
    "tls-required-not-offered": dict(b_features=("starttls-required", "dialback"),
                                     a_starttls=False, expect="stream-error"),
    "sasl-failure-plaintext": dict(b_features=("sasl-external",), a_auth="sasl",
                                   expect="sasl-failure"),
    "auth-incomplete": dict(a_auth="none", a_idle=3.0, expect="idle-closed"),
    "stanza-error": dict(DIALBACK, a_stanzas=True, b_stanza="error"),
    # TLS: STARTTLS, the receiver limited to TLS 1.2 (certificate in clear), dialback inside
    "tls-cert-expired": dict(TLS, a_verify=False),
    "tls-cert-not-yet-valid": dict(TLS, a_verify=False),
    "tls-cert-expiring": dict(TLS),
    "tls-cert-self-signed": dict(TLS, a_verify=False),
    "tls-cert-name-mismatch": dict(TLS, a_verify=False),
    "tls-cert-name-mismatch-cn-only": dict(TLS, a_verify=False),
    "tls-cert-wildcard-mismatch": dict(TLS, a_verify=False),
    "tls-cert-srvid-ok": dict(TLS),
    "tls-cert-xmppaddr-ok": dict(TLS),
    "tls-cert-wildcard-ok": dict(TLS),
    "tls-alert-unknown-ca": dict(TLS, a_listen=False, expect="tls-failed"),
    "tls-old-version": dict(TLS, b_tls_max=None, all_tls="1.0"),
    "tls-handshake-incomplete": dict(TLS, a_listen=False, b_starttls="stall",
                                     expect="tls-failed"),
    "tls-sni-mismatch": dict(TLS, a_verify=False, a_sni="wrong.example"),
    "tls13-healthy": dict(TLS, b_tls_max=None),
    "direct-tls": dict(TLS, b_features=("dialback",), direct=True),
    "starttls-injection": dict(TLS, b_starttls="inject", b_tls_max=None),
    # with key logs: what only decryption shows, and one capture per cipher family
    "tls13-cert-untrusted-secure-auth": dict(
        b_features=("starttls-required", "dialback"), b_client_cert=True, b_secure_auth=True,
        a_client_cert=True, expect="stream-error"),
    "tls13-hrr": dict(TLS, b_tls_max=None, b_groups="secp384r1"),
    "tls12-chacha": dict(TLS, b_ciphers="ECDHE-RSA-CHACHA20-POLY1305"),
    "tls12-cbc": dict(TLS, b_ciphers="ECDHE-RSA-AES128-SHA"),
    "tls12-cbc-mte": dict(TLS, b_ciphers="ECDHE-RSA-AES256-SHA384", b_no_etm=True),
}

T0 = time.monotonic()
ROLE = "?"
LOG_LOCK = threading.Lock()


def log(msg):
    with LOG_LOCK:
        sys.stderr.write("%7.3f %s: %s\n" % (time.monotonic() - T0, ROLE, msg))
        sys.stderr.flush()


class NotXmpp(Exception):
    pass


CLOSE = object()  # </stream:stream> seen


# ------------------------------------------------------------------ certificates (DER)
def _tlv(b, i):
    """(tag, start of value, end of value) of the DER element at i."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def _children(b, start, end):
    out, i = [], start
    while i < end:
        tag, s, e = _tlv(b, i)
        out.append((tag, s, e))
        i = e
    return out


def cert_identities(der):
    """Subject alternative names of a DER certificate: [(kind, value)] with kind dns,
    srv (SRV-ID, 1.3.6.1.5.5.7.8.7), xmpp (id-on-xmppAddr, 1.3.6.1.5.5.7.8.5), other;
    and (notBefore, notAfter) as the certificate writes them."""
    _, s, e = _tlv(der, 0)
    tbs = _children(der, *_tlv(der, s)[1:])
    k = 1 if tbs[0][0] == 0xA0 else 0        # [0] version present
    validity = [der[a:b].decode() for _, a, b in _children(der, tbs[k + 3][1], tbs[k + 3][2])]
    ids = []
    for tag, a, b in tbs[k + 6:]:
        if tag != 0xA3:                       # [3] extensions
            continue
        for _, xa, xb in _children(der, *_tlv(der, a)[1:]):
            ext = _children(der, xa, xb)
            if der[ext[0][1]:ext[0][2]] != bytes.fromhex("551d11"):  # 2.5.29.17
                continue
            _, ga, gb = _tlv(der, ext[-1][1])     # OCTET STRING holds GeneralNames
            for gtag, va, vb in _children(der, ga, gb):
                if gtag == 0x82:                  # dNSName
                    ids.append(("dns", der[va:vb].decode("ascii", "replace")))
                elif gtag == 0xA0:                # otherName: OID, [0] EXPLICIT value
                    oid_t, value_t = _children(der, va, vb)[:2]
                    oid = der[oid_t[1]:oid_t[2]].hex()
                    _, ia, ib = _tlv(der, value_t[1])
                    val = der[ia:ib].decode("utf-8", "replace")
                    kind = {"2b06010505070807": "srv", "2b06010505070805": "xmpp"}.get(oid, "other")
                    ids.append((kind, val))
                else:
                    ids.append(("other", der[va:vb].hex()))
    return ids, validity


def cert_names(der):
    """(issuer, subject) of a DER certificate, each as its DER Name."""
    _, s, e = _tlv(der, 0)
    tbs = _children(der, *_tlv(der, s)[1:])
    k = 1 if tbs[0][0] == 0xA0 else 0
    t_iss, t_sub = tbs[k + 2], tbs[k + 4]
    return der[t_iss[1]:t_iss[2]], der[t_sub[1]:t_sub[2]]


def name_matches(ids, domain):
    """RFC 6120 section 13.7.2 with RFC 9525 wildcard rules: DNS-ID equal to the domain or
    '*.' + the domain's parent ('*' is the whole left-most label and matches exactly one
    label); SRV-ID _xmpp-server.DOMAIN; XmppAddr equal to the domain. No CN fallback."""
    d = domain.lower().rstrip(".")
    for kind, v in ids:
        v = v.lower().rstrip(".")
        if kind == "dns":
            if v == d:
                return True
            if v.startswith("*.") and "." in d and d.split(".", 1)[1] == v[2:] and "*" not in v[2:]:
                return True
        elif kind == "srv" and v == "_xmpp-server." + d:
            return True
        elif kind == "xmpp" and v == d:
            return True
    return False


# ------------------------------------------------------------------ one XML stream
class Conn:
    """One TCP connection carrying an XML stream. Exactly one thread (the owner) reads and
    writes the socket (OpenSSL objects are not shared between threads); other threads queue
    what they want sent and the owner writes it between two reads."""

    def __init__(self, peer, sock, name, outgoing):
        self.peer, self.sock, self.name, self.outgoing = peer, sock, name, outgoing
        self.buf = b""
        self.stream_id = None
        self.remote = None            # the other side's domain
        self.local = peer.domain      # our name on this stream (incoming: the header's 'to')
        self.tls = False
        self.tls_ok = False
        self.queue, self.qlock = [], threading.Lock()
        self.owner = None             # set by the thread that runs the connection
        self.sent_close = self.got_close = False
        self.established = threading.Event()   # outgoing: negotiation done
        self.auth_valid = threading.Event()    # outgoing: our db:result came back valid
        self.peer_authed = threading.Event()   # incoming: we sent db:result valid
        self.done = threading.Event()
        self.failure = None

    # -- output
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if threading.current_thread() is self.owner:
            self._write(data)
        else:
            with self.qlock:
                self.queue.append(data)

    def _write(self, data):
        if data == b"</stream:stream>":
            if self.sent_close:
                return
            self.sent_close = True
        elif data.endswith(b"</stream:stream>"):
            self.sent_close = True
        log("%s -> %s" % (self.name, data.decode("utf-8", "replace")))
        self.sock.sendall(data)

    def _flush(self):
        with self.qlock:
            q, self.queue = self.queue, []
        for d in q:
            self._write(d)

    def close_stream(self):
        self.send(b"</stream:stream>")

    # -- input
    def _recv(self, timeout):
        self.sock.settimeout(max(0.01, timeout))
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by the peer")
        self.buf += data

    def _take_header(self):
        b = self.buf.lstrip()
        if b.startswith(b"<?"):
            j = b.find(b"?>")
            if j < 0:
                return None
            b = b[j + 2:].lstrip()
        if not b:
            return None
        if not b.startswith(b"<"):
            raise NotXmpp(b[:60])
        j = b.find(b">")
        if j < 0:
            if len(b) > 4096:
                raise NotXmpp(b[:60])
            return None
        tag = b[:j + 1]
        if not re.match(rb"<([A-Za-z0-9_.-]+:)?stream[\s>]", tag):
            raise NotXmpp(tag[:60])
        self.buf = b[j + 1:]
        attrs = dict(re.findall(r"""([\w:.-]+)\s*=\s*['"]([^'"]*)['"]""",
                                tag.decode("utf-8", "replace")))
        log("%s <- stream header %s" % (self.name, tag.decode("utf-8", "replace")))
        return attrs

    def _take_element(self):
        """One complete top-level element (raw bytes, Element), CLOSE, or None."""
        b = self.buf
        i = len(b) - len(b.lstrip())          # whitespace keepalives
        if i == len(b):
            self.buf = b""
            return None
        if b[i:i + 1] != b"<":
            raise NotXmpp(b[i:i + 60])
        if b.startswith(b"</", i):
            j = b.find(b">", i)
            if j < 0:
                return None
            self.buf = b[j + 1:]
            return CLOSE
        depth, k = 0, i
        while True:
            s = b.find(b"<", k)
            e = b.find(b">", s) if s >= 0 else -1
            if e < 0:
                return None
            tok = b[s:e + 1]
            if tok.startswith(b"</"):
                depth -= 1
            elif not (tok.endswith(b"/>") or tok.startswith(b"<?") or tok.startswith(b"<!")):
                depth += 1
            k = e + 1
            if depth == 0:
                break
        raw = b[i:k]
        self.buf = b[k:]
        el = ET.fromstring(b"<w " + DECL.encode() + b">" + raw + b"</w>")[0]
        return raw, el

    def read_header(self, timeout):
        end = time.monotonic() + timeout
        while True:
            h = self._take_header()
            if h is not None:
                return h
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no stream header within %.1f s" % timeout)
            self._recv(left)

    def read_element(self, timeout):
        end = time.monotonic() + timeout
        while True:
            item = self._take_element()
            if item is CLOSE:
                self.got_close = True
                log("%s <- </stream:stream>" % self.name)
                return CLOSE
            if item is not None:
                log("%s <- %s" % (self.name, item[0].decode("utf-8", "replace")))
                return item[1]
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no element within %.1f s" % timeout)
            self._recv(left)

    def run(self, handle):
        """Owner loop: write what others queued, read and dispatch elements, until both
        </stream:stream> have crossed, the peer closes, or the process deadline."""
        try:
            while time.monotonic() < self.peer.deadline:
                self._flush()
                if self.got_close:
                    break
                item = self._take_element()
                if item is None:
                    try:
                        self._recv(0.05)
                    except TimeoutError:
                        continue
                    continue
                if item is CLOSE:
                    self.got_close = True
                    log("%s <- </stream:stream>" % self.name)
                    self._flush()
                    self._write(b"</stream:stream>")
                    break
                log("%s <- %s" % (self.name, item[0].decode("utf-8", "replace")))
                handle(self, item[1])
        except (EOFError, OSError, NotXmpp, ET.ParseError) as e:
            log("%s: %s: %s" % (self.name, type(e).__name__, e))
        self.finish()

    def finish(self, drain=2.0):
        """Close cleanly: TLS close_notify both ways (when TLS is up), FIN, read until the
        peer's FIN (so that nothing arrives after close(): no RST), close."""
        if self.done.is_set():
            return
        try:
            if isinstance(self.sock, ssl.SSLSocket) and self.tls_ok:
                self.sock.settimeout(1.0)
                try:
                    self.sock = self.sock.unwrap()
                    log("%s: TLS close_notify exchanged" % self.name)
                except (OSError, ValueError) as e:
                    log("%s: TLS shutdown: %s" % (self.name, e))
            self.sock.shutdown(socket.SHUT_WR)
            end = time.monotonic() + drain
            while time.monotonic() < end:
                self.sock.settimeout(max(0.01, end - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except (OSError, ValueError) as e:
            log("%s: close: %s" % (self.name, e))
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            log("%s: closed" % self.name)
            self.done.set()


def local(el):
    return el.tag.rpartition("}")[2]


def ns(el):
    return el.tag[1:].partition("}")[0] if el.tag.startswith("{") else ""


# ------------------------------------------------------------------ the server
class Peer:
    def __init__(self, a, sc):
        self.a, self.sc = a, sc
        self.domain = a.domain
        self.secret = a.secret.encode()
        self.deadline = T0 + a.timeout - 0.5
        self.out = {}
        self.out_lock = threading.Lock()
        self.pending = {}              # db:verify id -> [Event, type]
        self.threads = []
        self.conns = []
        self.got_message = threading.Event()
        self.got_iq_result = threading.Event()
        self.outcome = None
        self.nconn = 0

    def spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def key(self, receiving, originating, sid):
        """XEP-0185: HMAC-SHA256(SHA256(secret), receiving ' ' originating ' ' stream id)."""
        k = hashlib.sha256(self.secret).hexdigest().encode()
        return hmac.new(k, ("%s %s %s" % (receiving, originating, sid)).encode(),
                        hashlib.sha256).hexdigest()

    def new_id(self):
        return os.urandom(8).hex()

    def header(self, frm, to, sid=None):
        i = " id='%s'" % sid if sid else ""
        return ("<?xml version='1.0'?><stream:stream %s from='%s' to='%s'%s version='1.0' "
                "xml:lang='en'>" % (DECL, frm, to, i))

    # -- TLS contexts
    def _versions(self, ctx):
        if self.sc["all_tls"] == "1.0":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        if self.a.keylog:
            ctx.keylog_filename = self.a.keylog

    def server_ctx(self, max_12=False, alpn=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.a.cert, self.a.key)
        if max_12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if alpn:
            ctx.set_alpn_protocols(["xmpp-server"])
        if self.a.role == "receiver":
            if self.sc["b_groups"]:
                ctx.set_ecdh_curve(self.sc["b_groups"])
            if self.sc["b_ciphers"]:
                ctx.set_ciphers(self.sc["b_ciphers"])
            if self.sc["b_no_etm"]:
                ctx.options |= 0x00080000   # OpenSSL 3.0 SSL_OP_NO_ENCRYPT_THEN_MAC
            if self.sc["b_client_cert"]:
                # Like Prosody (LuaSec): ask for a certificate and let the handshake complete
                # whatever it is; trust is decided afterwards (peer_trusted). OpenSSL would
                # abort on a chain it cannot build, so --accept-ca lists the CAs that the TLS
                # layer accepts without the receiver trusting them.
                ctx.verify_mode = ssl.CERT_OPTIONAL
                ctx.load_verify_locations(self.a.ca)
                if self.a.accept_ca:
                    ctx.load_verify_locations(self.a.accept_ca)
        self._versions(ctx)
        return ctx

    def client_ctx(self, verify, alpn=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False     # names checked below, RFC 6120 style (SRV-ID, XmppAddr)
        if verify:
            ctx.load_verify_locations(self.a.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(["xmpp-server"])
        if self.sc["a_client_cert"] and self.a.role == "initiator":
            ctx.load_cert_chain(self.a.cert, self.a.key)
        self._versions(ctx)
        return ctx

    def peer_trusted(self, conn):
        """Secure authentication (Prosody s2s_secure_auth): the peer's certificate must chain
        to our trusted CA (--ca) and name the peer's domain. The TLS layer already checked
        the signature against --ca or --accept-ca; the issuer tells which of them."""
        der = conn.sock.getpeercert(True)
        if not der:
            log("%s: no client certificate: not trusted" % conn.name)
            return False
        with open(self.a.ca) as f:
            ca_der = ssl.PEM_cert_to_DER_cert(f.read())
        issuer, _ = cert_names(der)
        chain_ok = issuer == cert_names(ca_der)[1]
        ids, validity = cert_identities(der)
        name_ok = name_matches(ids, conn.remote or "")
        log("%s: client certificate identities %s, validity %s; chain validation result: %s; "
            "identity validation result (%s): %s" % (conn.name, ids, validity,
                                                      "valid" if chain_ok else "invalid",
                                                      conn.remote, "valid" if name_ok else "invalid"))
        return chain_ok and name_ok

    def tls_client(self, conn, domain, verify, sni, timeout=3.0, alpn=False):
        """Wrap conn's socket as a TLS client. Returns True when the session is usable."""
        ctx = self.client_ctx(verify, alpn)
        conn.sock.settimeout(timeout)
        conn.sock = ctx.wrap_socket(conn.sock, server_hostname=sni, do_handshake_on_connect=False)
        conn.tls = True
        log("%s: TLS client handshake (SNI %s, %s)" % (conn.name, sni,
            "verifying against the CA" if verify else "certificate not verified"))
        try:
            conn.sock.do_handshake()
        except (ssl.SSLError, OSError) as e:   # TimeoutError is an OSError
            log("%s: TLS handshake failed: %s: %s" % (conn.name, type(e).__name__, e))
            return False
        conn.tls_ok = True
        der = conn.sock.getpeercert(True)
        ids, validity = cert_identities(der)
        match = name_matches(ids, domain)
        log("%s: TLS up: %s %s, ALPN %s; server certificate identities %s, validity %s, "
            "matches %s: %s" % (conn.name, conn.sock.version(), conn.sock.cipher()[0],
                                conn.sock.selected_alpn_protocol(), ids, validity, domain, match))
        if verify and not match:
            log("%s: certificate does not name %s: giving up" % (conn.name, domain))
            return False
        return True

    def tls_server(self, conn, max_12, alpn=False):
        ctx = self.server_ctx(max_12, alpn)
        conn.sock.settimeout(3.0)
        conn.sock = ctx.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        conn.tls = True
        try:
            conn.sock.do_handshake()
        except (ssl.SSLError, OSError) as e:
            log("%s: TLS handshake failed: %s: %s" % (conn.name, type(e).__name__, e))
            return False
        conn.tls_ok = True
        log("%s: TLS up: %s %s, ALPN %s%s" % (conn.name, conn.sock.version(), conn.sock.cipher()[0],
                                               conn.sock.selected_alpn_protocol(),
                                               ", client certificate %s" % (
                                                   "presented" if conn.sock.getpeercert(True)
                                                   else "not presented")
                                               if conn.sock.context.verify_mode != ssl.CERT_NONE
                                               else ""))
        return True

    # -- outgoing streams
    def get_outgoing(self, domain):
        with self.out_lock:
            c = self.out.get(domain)
            if c is None or c.done.is_set():
                c = self.open_outgoing(domain)
            return c

    def open_outgoing(self, domain):
        """Starts the connection (its own owner thread) and returns its Conn at once."""
        self.nconn += 1
        c = Conn(self, None, "out%d(%s>%s)" % (self.nconn, self.domain, domain), True)
        c.remote = domain
        self.out[domain] = c
        self.conns.append(c)
        self.spawn(self._outgoing, c)
        return c

    def _outgoing(self, c):
        c.owner = threading.current_thread()
        sc, a, domain = self.sc, self.a, c.remote
        # the initiator connects to the receiver (5269 or 5270); the receiver's own stream
        # back goes to the initiator's listener (always STARTTLS style, port 5269)
        first = a.role == "initiator"
        port = a.peer_port if first else 5269
        direct = sc["direct"] and first
        try:
            c.sock = socket.create_connection((a.peer_addr, port), timeout=3,
                                              source_address=(a.addr, 0))
        except OSError as e:
            log("%s: connect %s:%d: %s" % (c.name, a.peer_addr, port, e))
            c.failure = "connect"
            c.done.set()
            return
        log("%s: connected %s:%d -> %s:%d" % (c.name, a.addr, c.sock.getsockname()[1],
                                                a.peer_addr, port))
        verify = sc["a_verify"] if first else True
        sni = (sc["a_sni"] or domain) if first else domain
        try:
            if direct and not self.tls_client(c, domain, verify, sni, alpn=True):
                c.failure = "tls-failed"
                c.finish()
                return
            c.send(self.header(self.domain, domain))
            try:
                h = c.read_header(sc["a_header_wait"] if first else 3.0)
            except NotXmpp as e:
                log("%s: the peer does not speak XMPP; first bytes %r: closing" % (c.name, e.args[0]))
                c.failure = "not-xmpp"
                c.finish()
                return
            except TimeoutError as e:
                log("%s: %s: closing" % (c.name, e))
                c.failure = "no-stream"
                c.finish()
                return
            c.stream_id = h.get("id")
            feats = c.read_element(3.0)
            if feats is CLOSE or local(feats) == "error":
                c.failure = "stream-error"
                c.run(self.handle_outgoing)
                return
            offered = {(ns(x), local(x)) for x in feats}
            if (NS_TLS, "starttls") in offered and (sc["a_starttls"] or not first):
                c.send("<starttls xmlns='%s'/>" % NS_TLS)
                r = c.read_element(3.0)
                if r is CLOSE or local(r) != "proceed":
                    log("%s: STARTTLS refused" % c.name)
                    c.failure = "starttls-failure"
                    c.run(self.handle_outgoing)
                    return
                if c.buf:
                    log("%s: %d bytes of plaintext after <proceed/> (in the same read): "
                        "discarded, not parsed: %r" % (c.name, len(c.buf), c.buf[:300]))
                    c.buf = b""
                ok = self.tls_client(c, domain, verify, sni,
                                     sc["a_handshake_wait"] if first else 3.0)
                if not ok:
                    c.failure = "tls-failed"
                    c.finish()
                    return
                c.send(self.header(self.domain, domain))
                h = c.read_header(3.0)
                c.stream_id = h.get("id")
                feats = c.read_element(3.0)
                if feats is CLOSE or local(feats) == "error":
                    if feats is not CLOSE:
                        c.failure = "stream-error"
                        log("%s: stream error at the restarted stream" % c.name)
                    c.run(self.handle_outgoing)
                    return
                offered = {(ns(x), local(x)) for x in feats}
            # an element already buffered right behind the features: nothing asked for it
            while first:
                item = c._take_element()
                if item is None:
                    break
                if item is CLOSE:
                    c.buf = b"</stream:stream>" + c.buf
                    break
                log("%s <- %s" % (c.name, item[0].decode("utf-8", "replace")))
                if ns(item[1]) == NS_DB and local(item[1]) == "result":
                    log("%s: unsolicited dialback result (we have sent no db:result yet): "
                        "ignored" % c.name)
                else:
                    self.handle_outgoing(c, item[1])
            auth = sc["a_auth"] if first else "dialback"
            if auth == "sasl" and (NS_SASL, "mechanisms") in offered:
                c.send("<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % NS_SASL)
                r = c.read_element(3.0)
                if r is not CLOSE and local(r) == "failure":
                    c.failure = "sasl-failure"
                    c.close_stream()
                c.established.set()
                c.run(self.handle_outgoing)
                return
            if auth == "dialback":
                c.send("<db:result from='%s' to='%s'>%s</db:result>"
                       % (self.domain, domain, self.key(domain, self.domain, c.stream_id)))
            c.established.set()
            c.run(self.handle_outgoing)
        except (TimeoutError, EOFError, OSError, NotXmpp, ET.ParseError) as e:
            log("%s: %s: %s" % (c.name, type(e).__name__, e))
            c.failure = c.failure or "error"
            c.finish()

    def handle_outgoing(self, c, el):
        n, l = ns(el), local(el)
        if n == NS_DB and l == "result":
            t = el.get("type")
            if t == "valid":
                c.auth_valid.set()
            else:
                log("%s: dialback result %s" % (c.name, t))
                c.failure = "dialback-" + str(t)
                c.close_stream()
        elif n == NS_DB and l == "verify":
            p = self.pending.get(el.get("id"))
            if p:
                p[1] = el.get("type")
                p[0].set()
        elif n == NS_STREAM and l == "error":
            c.failure = "stream-error"
        elif l in ("message", "iq", "presence"):
            self.stanza_in(c, el)

    # -- incoming streams
    def serve(self, port, count):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.a.addr, port))
        ls.listen(8)
        log("listening on %s:%d" % (self.a.addr, port))
        n = 0
        try:
            while n < count and time.monotonic() < self.deadline:
                ls.settimeout(max(0.05, self.deadline - time.monotonic()))
                try:
                    s, addr = ls.accept()
                except TimeoutError:
                    break
                n += 1
                self.nconn += 1
                c = Conn(self, s, "in%d(%s:%d)" % (self.nconn, addr[0], addr[1]), False)
                self.conns.append(c)
                log("%s: accepted" % c.name)
                self.spawn(self._incoming, c)
        finally:
            ls.close()

    def _incoming(self, c):
        c.owner = threading.current_thread()
        sc = self.sc
        mode = sc["b_mode"] if self.a.role == "receiver" else "xmpp"
        try:
            if mode == "ssh":
                c.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                try:     # sshd reads the client's identification line
                    while b"\n" not in c.buf:
                        c._recv(max(0.01, self.deadline - time.monotonic()))
                    c.send(b"Invalid SSH identification string.\r\n")
                except (EOFError, TimeoutError):
                    log("%s: client closed without an SSH identification" % c.name)
                c.finish()
                return
            if mode == "silent":
                end = self.deadline
                try:
                    while time.monotonic() < end:
                        c._recv(end - time.monotonic())
                        log("%s: read %d bytes, not answering" % (c.name, len(c.buf)))
                except (EOFError, TimeoutError):
                    pass
                c.finish()
                return
            if mode == "http":
                while b">" not in c.buf:
                    c._recv(max(0.01, self.deadline - time.monotonic()))
                body = (b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
                        b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx"
                        b"</center>\r\n</body>\r\n</html>\r\n")
                c.send(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
                c.finish()
                return
            direct = sc["direct"] and self.a.role == "receiver"
            if direct and not self.tls_server(c, sc["b_tls_max"] == "1.2", alpn=True):
                c.finish()
                return
            h = c.read_header(3.0)
            c.remote = h.get("from")
            to = c.local = h.get("to") or self.domain
            c.stream_id = self.new_id()
            out = self.header(to, c.remote, c.stream_id)
            err = sc["b_header_error"] if self.a.role == "receiver" else None
            if err:
                c.send(out + "<stream:error><%s xmlns='%s'/><text xmlns='%s' xml:lang='en'>%s"
                       "</text></stream:error></stream:stream>" % (err[0], NS_STREAMS, NS_STREAMS,
                                                                  err[1]))
                c.run(self.handle_incoming)
                return
            out += self.features(c)
            if self.a.role == "receiver" and sc["b_dialback"] == "unsolicited":
                out += "<db:result from='%s' to='%s' type='valid'/>" % (to, c.remote)
            c.send(out)
            c.run(self.handle_incoming)
        except (TimeoutError, EOFError, OSError, NotXmpp, ET.ParseError) as e:
            log("%s: %s: %s" % (c.name, type(e).__name__, e))
            c.finish()
        if self.a.role == "receiver":   # the initiator's stream is over: close ours to it
            for o in list(self.out.values()):
                o.close_stream()

    def features(self, c):
        sc = self.sc
        if self.a.role == "receiver":
            feats = list(sc["b_features"]) if not c.tls else ["dialback"]
        else:   # the initiator's own listener
            feats = ["starttls", "dialback"] if sc["a_listener_tls"] and not c.tls else ["dialback"]
        x = ""
        for f in feats:
            if f == "starttls":
                x += "<starttls xmlns='%s'/>" % NS_TLS
            elif f == "starttls-required":
                x += "<starttls xmlns='%s'><required/></starttls>" % NS_TLS
            elif f == "sasl-external":
                x += "<mechanisms xmlns='%s'><mechanism>EXTERNAL</mechanism></mechanisms>" % NS_SASL
            elif f == "dialback":
                x += "<dialback xmlns='%s'><errors/></dialback>" % NS_DBF
        return "<stream:features>%s</stream:features>" % x

    def handle_incoming(self, c, el):
        sc, n, l = self.sc, ns(el), local(el)
        recv = self.a.role == "receiver"
        if n == NS_TLS and l == "starttls":
            mode = sc["b_starttls"] if recv else "proceed"
            if mode == "failure":
                c.send("<failure xmlns='%s'/></stream:stream>" % NS_TLS)
                return
            if mode == "stall":
                c.send("<proceed xmlns='%s'/>" % NS_TLS)
                log("%s: not answering the ClientHello" % c.name)
                try:
                    while time.monotonic() < self.deadline:
                        c._recv(self.deadline - time.monotonic())
                        log("%s: %d bytes of TLS received, ignored" % (c.name, len(c.buf)))
                except (EOFError, TimeoutError, OSError):
                    pass
                c.buf = b""
                c.got_close = True    # ends the loop; finish() closes
                return
            if mode == "inject":
                c.send("<proceed xmlns='%s'/>" % NS_TLS
                       + self.header(c.local, c.remote, "injected-plaintext-stream")
                       + "<stream:features><dialback xmlns='%s'/></stream:features>" % NS_DBF)
            else:
                c.send("<proceed xmlns='%s'/>" % NS_TLS)
            if c.buf:
                log("%s: discarding %d bytes after <starttls/>" % (c.name, len(c.buf)))
                c.buf = b""
            if not self.tls_server(c, recv and sc["b_tls_max"] == "1.2"):
                c.got_close = True
                return
            h = c.read_header(3.0)
            c.stream_id = self.new_id()
            if recv and sc["b_secure_auth"] and not self.peer_trusted(c):
                # Prosody 0.12 mod_s2s check_auth_policy at the restarted stream's header:
                # session:close() opens our stream, then the error, then </stream:stream>.
                log("%s: Forbidding insecure connection to/from %s because its certificate "
                    "is not trusted" % (c.name, c.remote))
                c.send(self.header(h.get("to") or self.domain, c.remote, c.stream_id)
                       + "<stream:error><not-authorized xmlns='%s'/><text xmlns='%s'>Your "
                       "server's certificate is not trusted</text></stream:error>"
                       "</stream:stream>" % (NS_STREAMS, NS_STREAMS))
                return
            c.send(self.header(h.get("to") or self.domain, c.remote, c.stream_id)
                   + self.features(c))
        elif n == NS_SASL and l == "auth":
            c.send("<failure xmlns='%s'><not-authorized/></failure>" % NS_SASL)
        elif n == NS_DB and l == "result" and el.get("type") is None:
            if recv and "starttls-required" in sc["b_features"] and not c.tls:
                c.send("<stream:error><policy-violation xmlns='%s'/><text xmlns='%s' xml:lang='en'>"
                       "TLS is required for server-to-server connections</text></stream:error>"
                       "</stream:stream>" % (NS_STREAMS, NS_STREAMS))
                return
            if recv and sc["b_dialback"] == "ignore":
                log("%s: dialback request left unanswered" % c.name)
                return
            self.spawn(self.verify_result, c, el.get("from"), el.get("to"), (el.text or "").strip())
        elif n == NS_DB and l == "verify" and el.get("type") is None:
            frm, to, sid = el.get("from"), el.get("to"), el.get("id")
            ok = hmac.compare_digest(self.key(frm, to, sid), (el.text or "").strip())
            c.send("<db:verify from='%s' to='%s' id='%s' type='%s'/>"
                   % (to, frm, sid, "valid" if ok else "invalid"))
        elif l in ("message", "iq", "presence"):
            self.stanza_in(c, el)

    def verify_result(self, c, frm, to, key):
        """Receiving server: ask frm's authoritative server (over our stream to it)."""
        out = self.get_outgoing(frm)
        if not out.established.wait(5):
            log("%s: no stream to %s for db:verify" % (c.name, frm))
            return
        ev = [threading.Event(), None]
        self.pending[c.stream_id] = ev
        out.send("<db:verify from='%s' to='%s' id='%s'>%s</db:verify>" % (to, frm, c.stream_id, key))
        ev[0].wait(5)
        t = ev[1] or "invalid"
        c.send("<db:result from='%s' to='%s' type='%s'/>" % (to, frm, t))
        if t == "valid":
            c.peer_authed.set()

    # -- stanzas
    def stanza_in(self, c, el):
        l, t = local(el), el.get("type")
        if self.a.role == "receiver":
            if l == "message":
                self.spawn(self.reply, el.get("to"), el.get("from"), el.get("id"), "message")
            elif l == "iq" and t == "get":
                self.spawn(self.reply, el.get("to"), el.get("from"), el.get("id"), "iq")
        else:
            if l == "message":
                self.got_message.set()
            elif l == "iq" and t in ("result", "error"):
                self.got_iq_result.set()

    def reply(self, frm, to, sid, kind):
        out = self.get_outgoing(to.split("@")[-1].split("/")[0])
        if not out.auth_valid.wait(4):
            log("%s: not authenticated, %s to %s dropped" % (out.name, kind, to))
            return
        if kind == "iq":
            out.send("<iq type='result' id='%s' from='%s' to='%s'/>" % (sid, frm, to))
        elif self.sc["b_stanza"] == "error":
            out.send("<message from='%s' to='%s' type='error' id='%s'><error type='cancel'>"
                     "<service-unavailable xmlns='%s'/></error></message>" % (frm, to, sid, NS_STANZAS))
        else:
            out.send("<message from='%s/lab' to='%s' type='chat' id='r-%s'><body>hello back from "
                     "%s</body></message>" % (frm, to, sid, frm))


# ------------------------------------------------------------------ roles
def wait_any(events, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(e.is_set() for e in events):
            return True
        time.sleep(0.02)
    return any(e.is_set() for e in events)


def run_initiator(p):
    sc, a = p.sc, p.a
    if sc["a_listen"]:
        p.spawn(p.serve, 5269, 1)
        time.sleep(0.05)
    c = p.get_outgoing(a.peer_domain)
    end = time.monotonic() + sc["a_header_wait"] + 3.5
    while not (c.established.is_set() or c.done.is_set()) and time.monotonic() < end:
        time.sleep(0.02)
    outcome = c.failure
    if c.established.is_set() and not c.failure:
        if sc["a_auth"] == "none":
            log("authentication never started; closing after %.1f s" % sc["a_idle"])
            c.done.wait(sc["a_idle"])
            c.close_stream()
            outcome = "idle-closed"
        elif wait_any((c.auth_valid, c.done), sc["a_dialback_wait"]) and c.auth_valid.is_set():
            outcome = "authenticated"
            if sc["a_listen"]:     # the receiver's own stream to us, authenticated through ours
                for x in list(p.conns):
                    if not x.outgoing:
                        x.peer_authed.wait(3)
            if sc["a_stanzas"]:
                me = "alice@%s/fedscope" % a.domain
                bob = ("nobody@%s" if sc["b_stanza"] == "error" else "bob@%s") % a.peer_domain
                c.send("<message from='%s' to='%s' type='chat' id='m1'><body>hello from %s</body>"
                       "</message>" % (me, bob, a.domain))
                c.send("<presence from='%s' to='%s'/>" % (me, "bob@%s" % a.peer_domain))
                c.send("<iq type='get' id='ping1' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/>"
                       "</iq>" % (a.domain, a.peer_domain))
                if not (p.got_message.wait(3) and p.got_iq_result.wait(1)):
                    log("the answers to our stanzas did not all arrive")
                    outcome = "stanzas-unanswered"
            c.close_stream()
        elif c.failure or c.done.is_set():
            outcome = c.failure or "closed"
        else:
            log("no dialback result within %.1f s: giving up" % sc["a_dialback_wait"])
            c.close_stream()
            outcome = "dialback-timeout"
    c.done.wait(max(0.1, p.deadline - time.monotonic()))
    outcome = outcome or c.failure
    if c.failure and outcome == "authenticated":
        outcome = c.failure
    for x in list(p.conns):
        x.done.wait(max(0.1, p.deadline - time.monotonic()))
    log("outcome: %s (scripted: %s)" % (outcome, sc["expect"]))
    return 0 if outcome == sc["expect"] else 1


def run_receiver(p):
    p.serve(p.a.port, 1)
    for t in list(p.threads):
        t.join(max(0.1, p.deadline - time.monotonic()))
    for x in list(p.conns):
        x.done.wait(max(0.1, p.deadline - time.monotonic()))
    for t in list(p.threads):
        t.join(max(0.1, p.deadline - time.monotonic()))
    return 0


def main():
    global ROLE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="print the scenario names")
    ap.add_argument("--show", metavar="SCENARIO", help="print a scenario's knobs (over DEFAULTS)")
    ap.add_argument("--role", choices=("initiator", "receiver"))
    ap.add_argument("--scenario")
    ap.add_argument("--domain", help="our XMPP domain")
    ap.add_argument("--addr", help="our address (receiver: listen; initiator: source, listen)")
    ap.add_argument("--port", type=int, default=5269, help="receiver: listening port")
    ap.add_argument("--peer-domain", default="b.example", help="initiator: the domain to connect to")
    ap.add_argument("--peer-addr", help="the other peer's address")
    ap.add_argument("--peer-port", type=int, default=5269, help="initiator: the receiver's port")
    ap.add_argument("--cert", help="our certificate (PEM)")
    ap.add_argument("--key", help="its private key (PEM)")
    ap.add_argument("--ca", help="CA certificate(s) we trust (PEM)")
    ap.add_argument("--accept-ca", help="receiver: CA certificate(s) whose client certificates "
                    "the TLS layer accepts without our trusting them (PEM)")
    ap.add_argument("--keylog", help="append TLS secrets (NSS key log format) to this file")
    ap.add_argument("--secret", default=os.urandom(16).hex(), help="dialback secret")
    ap.add_argument("--timeout", type=float, default=12.0, help="the whole run, seconds")
    a = ap.parse_args()
    if a.list:
        print("\n".join(SCENARIOS))
        return 0
    if a.show:
        if a.show not in SCENARIOS:
            ap.error("unknown scenario %r (see --list)" % a.show)
        sc = dict(DEFAULTS, **SCENARIOS[a.show])
        for k in DEFAULTS:
            print("%s = %r%s" % (k, sc[k], "" if sc[k] == DEFAULTS[k] else "   (changed)"))
        return 0
    if not (a.role and a.scenario in SCENARIOS and a.domain and a.addr and a.peer_addr):
        ap.error("need --role, --scenario (one of --list), --domain, --addr, --peer-addr")
    ROLE = "%s(%s)" % (a.role, a.domain)
    sc = dict(DEFAULTS, **SCENARIOS[a.scenario])

    def watchdog():
        time.sleep(a.timeout)
        log("timeout: the run exceeded %.1f s" % a.timeout)
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    p = Peer(a, sc)
    if a.role == "receiver":
        rc = run_receiver(p)
    else:
        rc = run_initiator(p)
    log("exit %d" % rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
