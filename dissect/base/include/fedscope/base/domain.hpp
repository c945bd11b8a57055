#pragma once
/// @file
/// Domain names in one comparison form. The same domain reaches fedscope spelt several ways:
/// `--domain CUPDOMAIN.EXAMPLE.`, a 0x20 mixed-case DNS name, a stream header 'to' in
/// U-labels (`bücher.example`, RFC 7622), a certificate dNSName in A-labels
/// (`xn--bcher-kva.example`) and an XmppAddr in U-labels. Every comparison of domains goes
/// through domain_key() or domains_equal(); the text shown to the reader stays as it was seen.
/// No exceptions; every result is bounded by kMaxDomainInput.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fedscope {

/// The longest input converted as a whole. A DNS name has at most 253 octets in A-label form;
/// its U-label form can be longer in bytes (up to 4 per code point), so 1024 leaves room for
/// every real name while a garbage stream attribute (up to 64 KiB) costs no more than this.
inline constexpr std::size_t kMaxDomainInput = 1024;
/// The longest domain name (RFC 1035: 255 wire octets, 253 in dotted form without the root).
inline constexpr std::size_t kMaxDomainLength = 253;

/// How a name came out of make_domain_key().
enum class DomainStatus : std::uint8_t {
  kOk,           ///< converted (ASCII names are lowercased only, not checked label by label)
  kTooLong,      ///< longer than kMaxDomainLength after conversion, or than kMaxDomainInput
  kIdnRejected,  ///< libidn2 refused it (bad UTF-8, disallowed code point, bidi rule, label
                 ///< over 63 octets ...): the key is the lowercased name as given
};

/// A name's comparison form and how it was obtained.
struct DomainKey {
  std::string key;
  DomainStatus status = DomainStatus::kOk;
};

/// The comparison form of @p name:
/// - ASCII letters lowercased, one trailing dot removed ("." alone stays ".", the root;
///   "" stays "", no domain);
/// - names with a byte >= 0x80 converted to A-labels by libidn2 (IDNA2008 with UTS #46
///   non-transitional mapping, NFC input), so "BÜCHER.example." and "xn--bcher-kva.example"
///   give the same key. ASCII names, A-labels included, never reach libidn2: lowercasing is
///   all the A-label form needs.
/// - A name libidn2 refuses keeps its lowercased form (status kIdnRejected): it still equals
///   itself in another ASCII case, and equals no valid name in another form.
/// - An input longer than kMaxDomainInput is cut there before lowercasing (status kTooLong);
///   two such names that agree in their first kMaxDomainInput bytes get the same key.
DomainKey make_domain_key(std::string_view name);

/// make_domain_key(@p name).key.
std::string domain_key(std::string_view name);

/// Whether @p a and @p b name the same domain (equal domain_key()s). Two ASCII names are
/// compared in place, without allocating, over their whole length; "" equals only "".
bool domains_equal(std::string_view a, std::string_view b);

/// For display: @p name in U-labels, lowercased, one trailing dot removed
/// ("XN--BCHER-KVA.example." and "BÜCHER.example" give "bücher.example"). A name without
/// A-labels, or one that make_domain_key() or libidn2 does not accept, comes back as its
/// domain_key().
std::string domain_to_unicode(std::string_view name);

}  // namespace fedscope
