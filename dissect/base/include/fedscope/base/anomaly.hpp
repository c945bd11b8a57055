#pragma once
/// @file
/// Named anomaly counters. Every piece of input that a decoder cannot take as it stands
/// (bad length, truncation, limit reached, ...) bumps one named counter, so nothing is lost
/// silently and tests can assert exact counts. Names are "layer.what", e.g. "dns.compression_loop".

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace fedscope {

class AnomalyCounters {
 public:
  void add(std::string_view name, std::uint64_t n = 1);
  std::uint64_t get(std::string_view name) const;
  std::uint64_t total() const;
  void merge(const AnomalyCounters& other);
  /// Sorted by name.
  const std::map<std::string, std::uint64_t, std::less<>>& all() const { return counts_; }

 private:
  std::map<std::string, std::uint64_t, std::less<>> counts_;
};

}  // namespace fedscope
