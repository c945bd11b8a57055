#include "fedscope/dns/message.hpp"

namespace fedscope::dns {

namespace {
constexpr std::string_view kAnomalyTcpGap = "dns.tcp_gap";
constexpr std::string_view kAnomalyTcpTruncated = "dns.tcp_truncated";
}  // namespace

void TcpFramer::gap(AnomalyCounters& anomalies) {
  // Counted once per stream: after the first gap framing is already off, so later gaps lose
  // nothing more.
  if (!lost_sync_) anomalies.add(kAnomalyTcpGap);
  buf_.clear();
  buf_.shrink_to_fit();
  lost_sync_ = true;
}

void TcpFramer::end(AnomalyCounters& anomalies) {
  if (!buf_.empty()) anomalies.add(kAnomalyTcpTruncated);
  buf_.clear();
  buf_.shrink_to_fit();
}

}  // namespace fedscope::dns
