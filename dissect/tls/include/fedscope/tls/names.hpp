#pragma once
/// @file
/// Does a certificate name an XMPP domain? The server-to-server rules of RFC 6120 §13.7.1.2,
/// RFC 7590 §3.2 and RFC 9525 (which replaced RFC 6125): the reference identifiers for a
/// domain D are the DNS-ID D, the SRV-ID _xmpp-server.D and the XmppAddr D. Pure functions on
/// a parsed CertificateInfo; no I/O, nothing kept.

#include <string>
#include <string_view>

#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {

struct NameMatch {
  bool covered = false;
  /// How: "DNS-ID example.com", "DNS-ID *.example.com", "SRV-ID _xmpp-server.example.com",
  /// "XmppAddr example.com"; when not covered, why: "only the subject CN names it (not used,
  /// RFC 9525)", "no DNS-ID, SRV-ID or XmppAddr matches", "the certificate could not be
  /// parsed", "no domain".
  std::string how;
};

/// Whether @p cert is valid for the XMPP domain @p domain, as a server-to-server peer checks it:
/// - DNS-ID (SAN dNSName): equal to the domain, ASCII case-insensitive, one trailing dot on
///   either side ignored; or a wildcard that is the complete leftmost label ("*.example.com"
///   covers "a.example.com", not "example.com" nor "a.b.example.com"; no partial wildcards
///   such as "f*.example.com"; like OpenSSL, at least two labels after the wildcard, so "*.com"
///   covers nothing).
/// - SRV-ID (SAN otherName id-on-dnsSRV): "_xmpp-server." followed by the domain; the service
///   must be _xmpp-server; no wildcards.
/// - XmppAddr (SAN otherName id-on-xmppAddr): equal to the domain (ASCII case-insensitive).
/// - No CN fallback: a subject CN naming the domain does not count (RFC 9525 §6.1); @c how
///   then says so.
/// Internationalised names are compared in one form (fedscope::domain_key(): A-labels), so
/// a dNSName "xn--bcher-kva.example" and an XmppAddr "bücher.example" both cover the domain
/// given as "bücher.example" or "XN--BCHER-KVA.example."; a name libidn2 refuses is compared
/// lowercased as given. A dNSName or SRV-ID with non-ASCII bytes (they are IA5Strings, so
/// A-labels only) covers nothing.
/// Checked in this order: DNS-ID exact, SRV-ID, XmppAddr, DNS-ID wildcard; the first match is
/// reported.
NameMatch certificate_covers(const CertificateInfo& cert, std::string_view domain);

/// The names a certificate's subjectAltName carries, as admins read them in OpenSSL's output:
/// "DNS:a.example", "SRV:_xmpp-server.a.example", "XmppAddr:a.example" (in that order),
/// joined by @p separator; "" when it has none.
std::string san_names(const CertificateInfo& cert, std::string_view separator);

}  // namespace fedscope::tls
