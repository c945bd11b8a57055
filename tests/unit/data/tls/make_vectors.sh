#!/usr/bin/env bash
# Regenerates the TLS test vectors (*.seg) in this folder with openssl s_server/s_client on
# loopback and relay.py in between (see README.md). The certificates in certs/ are made once
# (delete certs/ to make new ones: the expected values in tests/unit/test_tls.cpp then change).
#
#   tests/unit/data/tls/make_vectors.sh            # every vector
#   tests/unit/data/tls/make_vectors.sh tls12 hrr  # some
#
# Needs openssl (3.0) and python3. Uses ports 47xxx on 127.0.0.1 only; writes only here.
set -euo pipefail
cd "$(dirname "$0")"
export OPENSSL_CONF=/dev/null # the distribution's policy (MinProtocol, SECLEVEL) must not apply
ossl() { timeout 20 openssl "$@"; }

make_certs() {
  mkdir -p certs
  cd certs
  # CA: RSA 2048, self-signed.
  ossl req -x509 -new -newkey rsa:2048 -nodes -keyout ca.key -sha256 -days 3650 \
    -subj "/O=fedscope test/CN=Fedscope Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
  # Server: EC P-256, DNS-IDs, a wildcard, XmppAddr and SRV-ID (RFC 6120 §13.7.1.2).
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -subj "/O=fedscope test/CN=xmpp.example.com" -out server.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=DNS:xmpp.example.com,DNS:*.muc.example.com,otherName:1.3.6.1.5.5.7.8.5;UTF8:example.com,otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.example.com" \
    >server.ext
  ossl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 0x1001 -sha256 \
    -days 3650 -extfile server.ext -out server.crt 2>/dev/null
  # Client (client-certificate vector): EC P-384.
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout client.key \
    -subj "/O=fedscope test/CN=client.example.net" -out client.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" "subjectAltName=DNS:client.example.net" >client.ext
  ossl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 0x1002 -sha384 \
    -days 3650 -extfile client.ext -out client.crt 2>/dev/null
  # Self-signed: Ed25519, one DNS-ID (the untrusted-certificate vectors).
  ossl req -x509 -new -newkey ed25519 -nodes -keyout self.key -days 3650 \
    -subj "/CN=self.example.org" -addext "subjectAltName=DNS:self.example.org" \
    -out self.crt 2>/dev/null
  # CN only, no subjectAltName: RSA 2048, self-signed (the TLS 1.0 vector).
  ossl req -x509 -new -newkey rsa:2048 -nodes -keyout cnonly.key -sha256 -days 3650 \
    -subj "/CN=cnonly.example.org" -out cnonly.crt 2>/dev/null
  rm -f ./*.csr ./*.ext ./*.srl
  for c in ca server client self cnonly; do ossl x509 -in "$c.crt" -outform DER -out "$c.der"; done
  cd ..
}

[[ -f certs/ca.crt ]] || make_certs

port=47443
# run NAME "server options" "client options" [client input]
run() {
  local name=$1 sopts=$2 copts=$3 input=${4:-$'hello xmpp\n'}
  local sp=$((port++)) rp=$((port++))
  # shellcheck disable=SC2086
  ossl s_server -accept "127.0.0.1:$sp" -naccept 1 -rev -quiet $sopts >/dev/null 2>&1 &
  local spid=$!
  python3 relay.py "$rp" "$sp" "$name.seg" >"/tmp/relay-$name.out" &
  local rpid=$!
  for _ in $(seq 50); do grep -q ready "/tmp/relay-$name.out" 2>/dev/null && break; sleep 0.1; done
  sleep 0.3
  # shellcheck disable=SC2086
  { printf '%s' "$input"; sleep 1; } |
    ossl s_client -connect "127.0.0.1:$rp" $copts >"/tmp/client-$name.out" 2>&1 || true
  wait "$rpid" || true
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  rm -f "/tmp/relay-$name.out"
  echo "$name.seg: $(stat -c %s "$name.seg") bytes ($(tail -c +1 "/tmp/client-$name.out" | grep -m1 -E 'Protocol|New,' || true))"
}

want() { [[ $# -eq 0 ]] || [[ " $* " == *" $1 "* ]]; }
all=("$@")
sel() { [[ ${#all[@]} -eq 0 ]] && return 0; local n; for n in "${all[@]}"; do [[ $n == "$1" ]] && return 0; done; return 1; }

server="-cert certs/server.crt -key certs/server.key -cert_chain certs/ca.crt -alpn xmpp-server"
client="-servername example.com -alpn xmpp-server -CAfile certs/ca.crt -verify_return_error"

# TLS 1.2, full handshake, chain of two, SNI, ALPN, data both ways, close_notify (encrypted).
sel tls12 && run tls12 "-tls1_2 $server" "-tls1_2 $client"
# TLS 1.3, same peers.
sel tls13 && run tls13 "-tls1_3 $server" "-tls1_3 $client"
# TLS 1.3 HelloRetryRequest: the client's key share (X25519) is not in the server's groups.
sel hrr && run hrr "-tls1_3 -groups P-256 $server" "-tls1_3 -groups X25519:P-256 $client"
# TLS 1.2 with a client certificate (CertificateRequest, Certificate, CertificateVerify).
sel tls12-client-cert && run tls12-client-cert \
  "-tls1_2 -Verify 1 -CAfile certs/ca.crt $server" \
  "-tls1_2 -cert certs/client.crt -key certs/client.key $client"
# The client does not trust the (self-signed) server certificate: TLS 1.2 fatal alert in clear.
untrusted="-servername self.example.org -no-CAfile -no-CApath -no-CAstore -verify_return_error"
sel tls12-untrusted && run tls12-untrusted "-tls1_2 -cert certs/self.crt -key certs/self.key" \
  "-tls1_2 $untrusted"
# The same in TLS 1.3: the alert is encrypted.
sel tls13-untrusted && run tls13-untrusted "-tls1_3 -cert certs/self.crt -key certs/self.key" \
  "-tls1_3 $untrusted"
# TLS 1.0 (SECLEVEL 0), RSA key exchange (AES128-SHA); CN-only certificate, no SNI.
sel tls10 && run tls10 \
  "-tls1 -cipher DEFAULT@SECLEVEL=0 -cert certs/cnonly.crt -key certs/cnonly.key" \
  "-tls1 -cipher AES128-SHA:@SECLEVEL=0 -noservername"
exit 0
