// libFuzzer target: the TLS session decoder, both directions. Input: byte 0 flags (bit 0: a
// gap on the client after its first segment, bit 1: the same on the server, bit 2: default
// limits instead of small ones), byte 1 where to cut each segment in two, then segments
// [u16 big-endian: bit 15 = server side, bits 0-14 = length][bytes] (the last one may be
// short). Small limits so every limit path is reachable. A tls::Decryptor runs beside the
// session with the key logs of pcaps/xmpp (so the seeds cut from those captures decrypt, and
// their mutations reach every record check). Oracle besides the sanitizers: the events and the
// plaintext of whole segments and of cut segments must be identical, and the bytes held stay
// within the limits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "fedscope/tls/decoder.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "fedscope/tls/names.hpp"
#include "keylogs.hpp"

namespace {

using namespace fedscope::tls;

struct Segment {
  Side side;
  std::span<const std::uint8_t> bytes;
};

std::string run(const Config& cfg, const std::vector<Segment>& segments, std::uint8_t flags,
                std::size_t cut) {
  Session s(cfg);
  Decryptor dec(fedscope::fuzz::scripted_keylogs(),
                DecryptLimits{cfg.limits.max_record_length, 2048, 4});
  DecryptOutput plain;
  std::string out;
  std::size_t passed = 0;  // events whose hellos the decryptor has had
  // The session first, then its hellos to the decryptor, then the same bytes to it.
  auto feed = [&](Side side, std::span<const std::uint8_t> b) {
    s.feed(side, b);
    for (; passed < s.events().size(); ++passed) {
      const auto& body = s.events()[passed].body;
      if (const auto* ch = std::get_if<ClientHello>(&body)) dec.on_client_hello(*ch);
      if (const auto* sh = std::get_if<ServerHello>(&body)) dec.on_server_hello(*sh);
    }
    dec.feed(side, b, plain);
  };
  bool gapped[2] = {false, false};
  const std::size_t bound = cfg.limits.max_handshake_bytes + 4 + 5 + 32;
  for (const Segment& seg : segments) {
    const std::size_t at = cut == 0 ? seg.bytes.size() : cut % (seg.bytes.size() + 1);
    feed(seg.side, seg.bytes.first(at));
    feed(seg.side, seg.bytes.subspan(at));
    if (s.buffered_bytes(seg.side) > bound) __builtin_trap();
    const int i = seg.side == Side::kClient ? 0 : 1;
    if ((flags & (1u << i)) != 0 && !gapped[i]) {
      s.gap(seg.side, 3);
      dec.gap(seg.side, 3);
      gapped[i] = true;
    }
    for (const Event& e : s.events())
      out += describe(e) + '\n';
    s.clear_events();
    passed = 0;
  }
  // Plaintext pieces are compared whole (a cut moves nothing across a piece).
  for (const PlainPiece& p : plain.pieces) {
    out += "plain " + std::to_string(static_cast<int>(p.type)) + ' ' +
           std::to_string(p.record_offset) + ' ';
    const auto v = plain.view(p);
    out.append(v.begin(), v.end());
    out += '\n';
  }
  dec.end(Side::kClient);
  dec.end(Side::kServer);
  out += std::string(to_string(dec.state())) + std::to_string(dec.anomalies().total()) + '\n';
  s.end(Side::kClient);
  s.end(Side::kServer);
  for (const Event& e : s.take_events()) {
    out += describe(e) + '\n';
    if (const auto* c = std::get_if<Certificates>(&e.body))
      for (const CertificateInfo& info : c->chain)
        out += certificate_covers(info, "example.com").how + '\n';
  }
  out += std::to_string(s.handshake_complete()) + std::to_string(s.version()) +
         std::to_string(s.anomalies().total());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::size_t cut = data[1];
  Config cfg;
  if ((flags & 0x04) == 0) {
    cfg.limits.max_record_length = 4096;
    cfg.limits.max_handshake_bytes = 2048;
    cfg.limits.max_certificates = 3;
    cfg.limits.max_list_entries = 16;
    cfg.limits.max_name_bytes = 32;
    cfg.limits.max_events = 64;
  }
  std::vector<Segment> segments;
  std::size_t i = 2;
  while (i + 2 <= size) {
    const std::size_t head = static_cast<std::size_t>(data[i]) << 8 | data[i + 1];
    const std::size_t len = std::min(head & 0x7fff, size - i - 2);
    segments.push_back({(head & 0x8000) != 0 ? Side::kServer : Side::kClient,
                        std::span<const std::uint8_t>(data + i + 2, len)});
    i += 2 + len;
  }
  if (run(cfg, segments, flags, 0) != run(cfg, segments, flags, cut)) __builtin_trap();
  return 0;
}
