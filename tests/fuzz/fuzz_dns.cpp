// libFuzzer target: the DNS message decoder and the DNS-over-TCP framer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fedscope/dns/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedscope::AnomalyCounters anomalies;
  std::span<const std::uint8_t> in(data, size);
  fedscope::dns::Message m;
  fedscope::dns::decode_message(in, m, anomalies);
  // The same bytes as a TCP stream, cut in two at a point the input chooses.
  fedscope::dns::TcpFramer framer;
  std::size_t cut = size ? data[0] % (size + 1) : 0;
  auto on_message = [&](std::span<const std::uint8_t> msg) {
    fedscope::dns::Message inner;
    fedscope::dns::decode_message(msg, inner, anomalies);
  };
  framer.feed(in.subspan(0, cut), on_message);
  framer.feed(in.subspan(cut), on_message);
  framer.end(anomalies);
  return 0;
}
