#include "fedscope/base/anomaly.hpp"

namespace fedscope {

void AnomalyCounters::add(std::string_view name, std::uint64_t n) {
  auto it = counts_.find(name);
  if (it == counts_.end()) {
    counts_.emplace(std::string(name), n);
  } else {
    it->second += n;
  }
}

std::uint64_t AnomalyCounters::get(std::string_view name) const {
  auto it = counts_.find(name);
  return it == counts_.end() ? 0 : it->second;
}

std::uint64_t AnomalyCounters::total() const {
  std::uint64_t t = 0;
  for (const auto& [name, n] : counts_)
    t += n;
  return t;
}

void AnomalyCounters::merge(const AnomalyCounters& other) {
  for (const auto& [name, n] : other.counts_)
    add(name, n);
}

}  // namespace fedscope
