#!/usr/bin/env bash
# Lab certificates for tests/lab/lab.sh (openssl only, nothing leaves DIR).
#
#   tests/lab/mkcerts.sh DIR DOMAIN...
#
# DIR/ca.crt, DIR/ca.key            the lab certificate authority ("fedscope lab CA")
# DIR/ca/DOMAIN.crt, .key           DOMAIN signed by the lab CA (trusted end to end)
# DIR/self/DOMAIN.crt, .key         DOMAIN self-signed (no CA: dialback territory)
#
# Every certificate: EC P-256, subjectAltName DNS:DOMAIN (RFC 6125 DNS-ID, what Prosody
# and ejabberd match for s2s), extendedKeyUsage serverAuth + clientAuth (the client side
# of an s2s connection presents it for SASL EXTERNAL), valid from yesterday for 397 days
# (so healthy scenarios raise no tls-cert-expiring).
# The keys are fresh each run: certificates in the captures differ between runs.
set -euo pipefail
dir=$1
shift
mkdir -p "$dir/ca" "$dir/self"
cd "$dir"
ossl() { timeout 20 openssl "$@" 2>/dev/null; }
ext() { # DOMAIN: extension config for a leaf
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$1" \
    "subjectKeyIdentifier=hash"
}
if [[ ! -f ca.crt ]]; then
  ossl ecparam -name prime256v1 -genkey -noout -out ca.key
  ossl req -x509 -new -key ca.key -sha256 -days 397 -subj "/O=fedscope lab/CN=fedscope lab CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt
fi
for d in "$@"; do
  ossl ecparam -name prime256v1 -genkey -noout -out "ca/$d.key"
  ossl req -new -key "ca/$d.key" -subj "/O=fedscope lab/CN=$d" -out "ca/$d.csr"
  ossl x509 -req -in "ca/$d.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 397 \
    -extfile <(ext "$d") -out "ca/$d.crt"
  rm -f "ca/$d.csr"
  ossl ecparam -name prime256v1 -genkey -noout -out "self/$d.key"
  ossl req -x509 -new -key "self/$d.key" -sha256 -days 397 -subj "/O=$d/CN=$d" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth,clientAuth" \
    -addext "subjectAltName=DNS:$d" -out "self/$d.crt"
  # fullchain + key in one file (ejabberd's certfiles)
  cat "ca/$d.crt" ca.crt "ca/$d.key" >"ca/$d.pem"
  cat "self/$d.crt" "self/$d.key" >"self/$d.pem"
done
chmod 0644 ./*.crt ca/* self/*
