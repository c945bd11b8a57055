#pragma once
// The second stage of the engine (issue #12 item 3): the per-connection XMPP/TLS analyzers
// run on a worker thread, fed in order through a bounded queue of batches.
//
// The first stage (the engine's thread) reads, decodes, runs the flow table, NAT pairing and
// DNS — everything that crosses connections — and hands each federation connection's bytes
// over here: copied into the current batch (the caller's span is borrowed for the call
// only). The worker applies every call in the order it was made, so each analyzer sees
// exactly what it would have seen on one thread and its facts are the same. finish() asks
// for a connection's facts; they come back in the order finish() was called.
//
// Memory: at most kMaxBatchesInFlight batches of about kBatchBytes wait for the worker; the
// producer blocks when they are all full (back-pressure, never unbounded growth).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"
#include "fedscope/s2s/session.hpp"

namespace fedscope::engine::detail {

class AnalyzerStage {
 public:
  static constexpr std::size_t kBatchBytes = 256 * 1024;
  static constexpr std::size_t kBatchItems = 4096;
  static constexpr std::size_t kMaxBatchesInFlight = 4;

  AnalyzerStage();
  ~AnalyzerStage();  ///< stops and joins the worker (what is queued is dropped)
  AnalyzerStage(const AnalyzerStage&) = delete;
  AnalyzerStage& operator=(const AnalyzerStage&) = delete;

  void create(std::uint32_t id, const s2s::Config& config);
  void data(std::uint32_t id, bool from_orig, std::span<const std::uint8_t> bytes,
            const EvidenceRef& at);
  void gap(std::uint32_t id, bool from_orig, std::uint64_t length, const EvidenceRef& at);
  void end(std::uint32_t id, bool from_orig, const EvidenceRef& at);
  /// The connection's facts (ConnectionAnalyzer::finish) come back through take().
  void finish(std::uint32_t id, const EvidenceRef& at);

  /// Whether facts wait to be taken (one atomic read: cheap enough per packet).
  bool ready() const;
  /// The facts finished so far, in finish() order (non-blocking).
  std::vector<std::pair<std::uint32_t, s2s::ConnectionFacts>> take();
  /// Hands the current batch over and waits until the worker has applied everything; then
  /// take() returns all outstanding facts.
  void drain();
  /// The analyzers' anomaly counters (complete after drain()).
  const AnomalyCounters& anomalies() const { return anomalies_; }

 private:
  enum class Op : std::uint8_t { kCreate, kData, kGap, kEnd, kFinish };
  struct Item {
    std::uint32_t id;
    Op op;
    bool from_orig;
    std::uint32_t size;      ///< kData: bytes in the batch's arena; kCreate: config index
    std::uint64_t position;  ///< kData: offset in the arena; kGap: length
    EvidenceRef at;
  };
  struct Batch {
    std::vector<Item> items;
    std::vector<std::uint8_t> bytes;
    std::vector<s2s::Config> configs;
  };

  void push(Item item);
  void hand_over();
  void run();
  void apply(const Batch& b);

  std::unique_ptr<Batch> current_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, space_cv_, idle_cv_;
  std::deque<std::unique_ptr<Batch>> queue_;
  std::vector<std::unique_ptr<Batch>> spare_;  ///< applied batches, reused
  bool busy_ = false;
  bool stop_ = false;
  std::vector<std::pair<std::uint32_t, s2s::ConnectionFacts>> done_;
  std::atomic<std::size_t> done_count_{0};

  // Worker-only state.
  AnomalyCounters anomalies_;
  std::unordered_map<std::uint32_t, std::unique_ptr<s2s::ConnectionAnalyzer>> live_;

  std::thread worker_;
};

}  // namespace fedscope::engine::detail
