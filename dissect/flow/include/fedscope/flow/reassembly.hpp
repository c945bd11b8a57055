#pragma once
/// @file
/// TCP stream reassembly for one direction: segments in any order, ordered bytes out.
/// Retransmissions and overlaps are trimmed, out-of-order data is held (bounded), and holes
/// that never fill are reported as explicit gaps, never papered over.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "fedscope/base/anomaly.hpp"

namespace fedscope::flow {

/// Receives one direction's ordered bytes. Spans are borrowed for the call only.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  /// In-order bytes; @p offset is the stream offset of data[0] (0 = first byte after SYN).
  virtual void on_data(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  /// @p length bytes at @p offset were never seen (lost, not captured, or over a limit).
  virtual void on_gap(std::uint64_t offset, std::uint64_t length) = 0;
  /// No more bytes will come in this direction (FIN, RST, expiry or end of capture).
  virtual void on_end() = 0;
};

/// What all reassemblers of one flow table may hold out of order together, payload and
/// bookkeeping (Reassembler::kSegmentOverhead per held piece) counted alike.
struct ReassemblyBudget {
  static constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;
  std::size_t max_bytes = kDefaultMaxBytes;
  std::size_t used = 0;
};

class Reassembler {
 public:
  /// Bytes held out of order per direction before the oldest hole is declared a gap.
  static constexpr std::size_t kDefaultMaxBuffered = 1 << 20;
  /// Held pieces per direction before the oldest hole is declared a gap: 1-byte segments cost
  /// their bookkeeping, not their byte.
  static constexpr std::size_t kDefaultMaxSegments = 4096;
  /// What one held piece costs besides its bytes (map node, vector, allocation), as counted
  /// against the ReassemblyBudget.
  static constexpr std::size_t kSegmentOverhead = 112;
  /// Recently delivered pieces remembered (offset, length, digest) to tell a retransmission
  /// with other bytes.
  static constexpr std::size_t kRecentDelivered = 8;

  explicit Reassembler(AnomalyCounters& anomalies, std::size_t max_buffered = kDefaultMaxBuffered,
                       std::size_t max_segments = kDefaultMaxSegments,
                       ReassemblyBudget* budget = nullptr)
      : anomalies_(&anomalies),
        max_buffered_(max_buffered),
        max_segments_(max_segments),
        budget_(budget) {}
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  /// The SYN's sequence number: the stream starts at isn + 1.
  void set_isn(std::uint32_t isn);
  /// One segment's payload (as captured) at sequence number @p seq; @p wire_length may exceed
  /// data.size() when the frame was cut by the snapshot length (the rest is a gap).
  /// Returns true when the segment carried only bytes already delivered or held.
  /// Bytes seen twice must be equal: a held piece, or one of the last kRecentDelivered
  /// delivered pieces that a resend covers whole (however the resend is cut: the same
  /// segment, several coalesced, or the old part of one that also carries new bytes), with
  /// other bytes counts tcp.inconsistent_retransmission (the first copy is kept). Delivered
  /// bytes are not kept, so a resend covering only part of a delivered piece is not compared.
  bool segment(std::uint32_t seq, std::span<const std::uint8_t> data, std::uint32_t wire_length,
               StreamSink& sink);
  /// The other side acknowledged this direction up to sequence number @p ack. A hole before
  /// that point which has data held after it was received by the peer but never captured:
  /// it becomes a gap now (counted as tcp.acked_unseen, Wireshark's "ACKed segment that wasn't
  /// captured") instead of holding the later bytes until a limit or the end.
  void acked(std::uint32_t ack, StreamSink& sink);
  /// Declares every hole up to the data held as gaps, delivers what is held, then on_end().
  void finish(StreamSink& sink);

  std::uint64_t delivered() const { return next_offset_; }
  std::uint64_t gaps() const { return gap_bytes_; }
  std::size_t buffered() const { return buffered_; }
  std::size_t held_segments() const { return held_.size(); }
  bool started_midstream() const { return midstream_; }

 private:
  struct Digest {
    std::uint64_t offset = 0, hash = 0;
    std::size_t length = 0;
  };
  void deliver(std::uint64_t offset, std::span<const std::uint8_t> data, StreamSink& sink);
  void drain(StreamSink& sink);
  void force_gap(StreamSink& sink);
  void fill_acked_holes(StreamSink& sink);
  bool hold(std::uint64_t offset, std::span<const std::uint8_t> data);
  void put(std::map<std::uint64_t, std::vector<std::uint8_t>>::iterator hint, std::uint64_t offset,
           std::span<const std::uint8_t> data);
  void compare(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
  bool resend_differs(std::uint64_t offset, std::span<const std::uint8_t> data) const;
  void release(std::size_t bytes);
  bool over_budget() const { return budget_ && budget_->used > budget_->max_bytes; }

  AnomalyCounters* anomalies_;
  std::size_t max_buffered_;
  std::size_t max_segments_;
  ReassemblyBudget* budget_;
  bool have_base_ = false;
  bool midstream_ = false;
  bool ended_ = false;
  bool inconsistent_ = false;         ///< set by compare(): a mismatch in this segment
  std::uint32_t base_seq_ = 0;        ///< sequence number of stream offset 0
  std::uint64_t next_offset_ = 0;     ///< next stream offset to deliver
  std::uint64_t highest_offset_ = 0;  ///< last byte seen + 1 (for seq unwrapping)
  std::uint64_t acked_to_ = 0;        ///< the peer acknowledged everything before this offset
  std::uint64_t gap_bytes_ = 0;
  std::size_t buffered_ = 0;
  /// offset -> bytes, out of order; pieces never overlap
  std::map<std::uint64_t, std::vector<std::uint8_t>> held_;
  /// Ring of the last delivered pieces, made at the first delivery and freed at the end: a
  /// connection that carries no byte (a SYN scan, a refused attempt), or one closed and in its
  /// linger, holds a pointer, not 192 bytes per direction.
  std::unique_ptr<std::array<Digest, kRecentDelivered>> recent_;
  std::size_t recent_next_ = 0;
};

}  // namespace fedscope::flow
