#pragma once
/// @file
/// The findings catalogue: one table of stable codes, severities, titles and remedies that the
/// judges, the renderers, docs/findings.md and the tests all read.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fedscope/base/frame.hpp"
#include "fedscope/base/time.hpp"

namespace fedscope::report {

enum class Severity { kInfo, kWarning, kError };
std::string_view to_string(Severity s);

/// One finding of the catalogue, by name, so that a misspelt code does not compile. The order
/// is the catalogue's (docs/findings.md); findings.cpp checks at compile time that its table
/// lists exactly these, in this order, with distinct code texts.
enum class FindingCode : std::uint8_t {
  kDnsSrvMissing,
  kDnsSrvDisabled,
  kDnsSrvPortNonstandard,
  kDnsSrvNameSuspicious,
  kDnsTargetUnresolved,
  kDnsNoResponse,
  kDnsError,
  kDnsAddressNotPublic,
  kDnsAddressElsewhere,
  kTcpNoAnswer,
  kTcpRefused,
  kTcpUnreachable,
  kTcpReset,
  kTcpPortNonstandard,
  kTcpHandshakeIncomplete,
  kFwBlocked,
  kNatPortMismatch,
  kNatMissing,
  kXmppNotXmpp,
  kXmppNoStream,
  kXmppStreamError,
  kXmppDialbackInvalid,
  kXmppDialbackTimeout,
  kXmppDialbackUnsolicited,
  kXmppStarttlsFailure,
  kXmppTlsRequired,
  kXmppSaslFailure,
  kXmppAuthIncomplete,
  kXmppStanzaError,
  kXmppUnencrypted,
  kTlsAlert,
  kTlsCertNameMismatch,
  kTlsCertExpired,
  kTlsCertExpiring,
  kTlsCertNotYetValid,
  kTlsCertSelfSigned,
  kTlsCertUntrusted,
  kTlsOldVersion,
  kTlsHandshakeIncomplete,
  kTlsSniMismatch,
  kTlsClosedAfterHandshake,
  kCount  ///< not a code: how many there are
};

struct CatalogueEntry {
  FindingCode code;                ///< the entry's own code (catalogue()[i].code is code i)
  std::string_view text;           ///< the code as reports write it, stable: "dns-srv-missing"
  std::string_view layer;          ///< "dns", "tcp", "nat/firewall"
  Severity severity;               ///< default severity (a judge may raise it, as documented)
  std::string_view title;          ///< one line
  std::string_view meaning;        ///< what the evidence shows
  std::string_view remedy;         ///< what to change, for a firewall/DNS admin
  std::string_view severity_note;  ///< when the severity differs from the default, or ""
};

/// Every code, in documentation order (the order of FindingCode).
std::span<const CatalogueEntry> catalogue();
/// The entry of @p code, in constant time. @p code must not be FindingCode::kCount.
const CatalogueEntry& entry(FindingCode code);
/// The stable text of @p code, e.g. "dns-srv-missing" (what reports and the JSON write).
std::string_view to_string(FindingCode code);
/// Where federation stops when a finding of @p code is the root cause (verdicts).
enum class Stage : std::uint8_t { kNone, kDns, kTcp, kNat, kFirewall, kXmpp, kTls, kAuth };
/// "", "dns", "tcp", "nat", "firewall", "xmpp", "tls", "auth".
std::string_view to_string(Stage stage);
Stage stage_of(FindingCode code);

/// The entry whose text is @p text (the CLI's `fedscope findings CODE`); nullptr if none.
const CatalogueEntry* find_entry(std::string_view text);
/// The remedy for an RFC 6120 §4.9.3 stream error @p condition (the table in
/// docs/findings.md); the catalogue's general one for a condition it does not know.
std::string_view stream_error_remedy(std::string_view condition);
/// docs/findings.md, generated from the table (a test keeps the file identical).
std::string catalogue_markdown();
/// `{"findings": [{code, layer, severity, title, meaning, severity_note, remedy, doc}, ...]}`
/// for @p entries (pointers into catalogue()), pretty-printed, ending in a newline.
std::string catalogue_json(const std::vector<const CatalogueEntry*>& entries);
/// One entry for a terminal: title, meaning, severity note and remedy, wrapped at @p width.
std::string catalogue_entry_text(const CatalogueEntry& e, std::size_t width = 80);

/// Evidence of a finding: a packet a person can find in Wireshark (file, frame number), or a
/// byte of a relayed connection (fedscope::EvidenceRef).
using Evidence = EvidenceRef;

inline constexpr std::size_t kMaxEvidence = 5;

/// One finding instance.
struct Finding {
  /// A finding always names its catalogue entry.
  explicit Finding(FindingCode c) : code(c) {}

  FindingCode code;
  Severity severity = Severity::kWarning;
  std::string summary;  ///< this instance, in one sentence with its addresses and names
  std::string remedy;   ///< the catalogue remedy, tailored (ours / the peer's)
  std::optional<std::uint32_t> flow;  ///< connection id
  std::string domain;
  std::string detail;
  std::uint64_t count = 1;
  std::vector<Evidence> evidence;  ///< first kMaxEvidence packets (or relay positions)
  std::uint64_t evidence_total = 0;
  /// The finding's stable key (events.hpp), e.g. "tcp-refused@flow:3#0".
  std::string key;
  /// When this finding is a consequence of another (causal folding, verdicts.cpp): that
  /// finding's key; "" for a root cause or an independent finding. A folded finding keeps its
  /// evidence but is not counted as an error of its own.
  std::string cause;

  friend bool operator==(const Finding&, const Finding&) = default;

  void add_evidence(const EvidenceRef& ref);
  /// A captured packet as evidence.
  void add_evidence(std::uint16_t file, std::uint64_t packet, Timestamp time) {
    add_evidence(EvidenceRef::packet(file, packet, time));
  }
};

}  // namespace fedscope::report
