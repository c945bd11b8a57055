// libFuzzer target: the XMPP stream parser. Byte 0 picks the role, mid-stream mode and a
// gap; byte 1 where to cut the rest in two; small limits so every limit path is reachable.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fedscope/xmpp/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  using namespace fedscope::xmpp;
  Config cfg;
  cfg.role = data[0] % 3 == 0   ? Role::kInitiator
             : data[0] % 3 == 1 ? Role::kReceiver
                                : Role::kUnknown;
  cfg.midstream = (data[0] & 0x08) != 0;
  cfg.limits.max_stanza_bytes = 4096;
  cfg.limits.max_depth = 16;
  cfg.limits.max_attributes = 8;
  cfg.limits.max_token_bytes = 1024;
  cfg.limits.max_buffered_bytes = 2048;
  StreamParser p(cfg);
  std::span<const std::uint8_t> in(data + 2, size - 2);
  std::size_t cut = in.empty() ? 0 : data[1] % (in.size() + 1);
  std::size_t used = p.feed(in.subspan(0, cut));
  if (data[0] & 0x10) p.gap(7);
  if (used == cut) p.feed(in.subspan(cut));
  p.end();
  for (const auto& e : p.events())
    (void)describe(e);
  return 0;
}
