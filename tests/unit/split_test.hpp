#pragma once
// Split-point helpers: every decoder test feeds its input whole, byte at a time, and split
// at every offset (Beast's parser tests do the same), and compares what comes out.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace fedscope::test {

inline std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

/// Calls @p run once per way of cutting @p input: whole, byte at a time, and in two pieces at
/// every offset 1..n-1. @p run receives the chunks and returns a transcript of what the
/// decoder produced; every transcript must equal the whole-input one.
/// Returns the first cut whose transcript differs, as a description, or "" when all agree.
inline std::string check_all_splits(
    std::span<const std::uint8_t> input,
    const std::function<std::string(const std::vector<std::span<const std::uint8_t>>&)>& run) {
  std::vector<std::span<const std::uint8_t>> whole{input};
  const std::string expected = run(whole);
  std::vector<std::span<const std::uint8_t>> bytewise;
  for (std::size_t i = 0; i < input.size(); ++i)
    bytewise.push_back(input.subspan(i, 1));
  if (run(bytewise) != expected) return "byte-at-a-time differs from whole";
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    std::vector<std::span<const std::uint8_t>> two{input.subspan(0, cut), input.subspan(cut)};
    if (run(two) != expected) return "split at offset " + std::to_string(cut) + " differs";
  }
  return "";
}

}  // namespace fedscope::test
