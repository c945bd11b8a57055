// libFuzzer target: the whole packet path (link decode, IPv4 reassembly, flow table,
// reassembly, DNS, correlation) through the engine, frame by frame, and on into the judges as
// a live user drives them (progress snapshots every second, a flush per record, the events
// folded) and both renderers.
//
// Input: byte 0 picks the link type; then frames as [len_hi len_lo time_step bytes...]. The
// key logs of pcaps/xmpp are loaded (--tls-keylog), so the seeds cut from those captures are
// decrypted and their mutations reach the plaintext path of the session model.
#include <array>
#include <cstddef>
#include <cstdint>

#include <sstream>
#include <string>

#include "fedscope/engine/engine.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/events.hpp"
#include "fedscope/report/judge.hpp"
#include "fedscope/tls/decrypt.hpp"
#include "keylogs.hpp"

namespace {

struct Sink : fedscope::engine::Observer {
  explicit Sink(fedscope::report::Judge& j) : judge(j) {}
  fedscope::report::Judge& judge;
  void on_connection(fedscope::engine::ConnectionRecord&& c) override {
    judge.on_connection(std::move(c));
    judge.flush();
  }
  void on_dns(fedscope::engine::DnsTransaction&& t) override {
    judge.on_dns(std::move(t));
    judge.flush();
  }
  void on_progress(fedscope::engine::ConnectionRecord&& c) override {
    judge.on_progress(std::move(c));
    judge.flush();
  }
};

constexpr std::array<int, 9> kLinktypes = {1, 113, 276, 12, 101, 0, 108, 228, 229};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  fedscope::report::EventFold fold;
  fedscope::report::Judge judge(fedscope::report::JudgeConfig{}, &fold);
  Sink sink(judge);
  fedscope::engine::EngineConfig cfg;
  cfg.progress_seconds = 1.0;
  cfg.flows.max_live_legs = 64;  // exercise eviction
  cfg.flows.max_buffered_per_direction = 4096;
  cfg.keylog = &fedscope::fuzz::scripted_keylogs();
  fedscope::engine::Engine engine(cfg, sink);
  int linktype = kLinktypes[data[0] % kLinktypes.size()];
  std::size_t pos = 1;
  std::int64_t t = 1'700'000'000'000'000'000;
  std::uint64_t number = 0;
  while (pos + 3 <= size) {
    std::size_t len = (std::size_t{data[pos]} << 8) | data[pos + 1];
    t += std::int64_t{data[pos + 2]} * 50'000'000;  // up to ~12 s per step: timers fire
    pos += 3;
    if (len > size - pos) len = size - pos;
    fedscope::Frame f;
    f.time = fedscope::Timestamp{t};
    f.number = ++number;
    f.linktype = linktype;
    f.data = std::span<const std::uint8_t>(data + pos, len);
    // Sometimes claim a longer wire length: a snaplen cut.
    f.wire_length = static_cast<std::uint32_t>(len + (len && (data[pos] & 1) ? 40 : 0));
    engine.on_frame(f);
    pos += len;
  }
  engine.finish();
  fedscope::report::Result result;
  judge.finish(result);
  // The fold of the events is the report (the fold oracle, on arbitrary input).
  if (fold.inconsistent() != 0 || fold.findings().size() != result.findings.size() ||
      fold.attempts().size() != result.attempts.size())
    __builtin_trap();
  std::ostringstream os;
  fedscope::report::render_json(result, os);
  // --compact is one line whatever the input: newlines in names and texts are escaped.
  std::ostringstream compact;
  fedscope::report::JsonOptions one_line;
  one_line.compact = true;
  fedscope::report::render_json(result, compact, one_line);
  const std::string line = compact.str();
  if (line.find('\n') != line.size() - 1) __builtin_trap();
  (void)fedscope::report::render_text(result);
  return 0;
}
