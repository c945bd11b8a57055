#pragma once
// Internal: a whole chain parsed at once, so that each entry can be checked against the next.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fedscope/tls/decoder.hpp"

namespace fedscope::tls {

/// parse_certificate() for each entry, plus CertificateInfo::signed_by_next. @p truncated is
/// set when a SAN list was cut at @p max_list_entries.
std::vector<CertificateInfo> parse_chain(const std::vector<std::span<const std::uint8_t>>& ders,
                                         std::size_t max_list_entries, bool& truncated);

}  // namespace fedscope::tls
