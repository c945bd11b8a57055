#include "fedscope/flow/reassembly.hpp"

#include <algorithm>
#include <cstring>

namespace fedscope::flow {

void Reassembler::set_isn(std::uint32_t isn) {
  if (have_base_) return;
  have_base_ = true;
  base_seq_ = isn + 1;
}

bool Reassembler::segment(std::uint32_t seq, std::span<const std::uint8_t> data,
                          std::uint32_t wire_length, StreamSink& sink) {
  if (ended_ || wire_length == 0) return false;
  if (!have_base_) {
    // No SYN seen: the stream starts where we joined it.
    have_base_ = true;
    midstream_ = true;
    base_seq_ = seq;
  }
  // Unwrap the 32-bit sequence number relative to the highest byte seen so far.
  std::uint32_t high_seq = base_seq_ + static_cast<std::uint32_t>(highest_offset_);
  std::int64_t signed_offset =
      static_cast<std::int64_t>(highest_offset_) + static_cast<std::int32_t>(seq - high_seq);
  if (signed_offset < 0) {
    // Before the stream start (a stale segment): nothing to deliver.
    anomalies_->add("tcp.segment_before_isn");
    return true;
  }
  std::uint64_t offset = static_cast<std::uint64_t>(signed_offset);
  std::uint64_t end = offset + wire_length;
  highest_offset_ = std::max(highest_offset_, end);

  // Bytes cut by the snapshot length are a gap in the stream.
  std::uint64_t captured_end = offset + data.size();

  if (end <= next_offset_) return true;  // pure retransmission
  bool duplicate = true;
  // Trim what was already delivered.
  if (offset < next_offset_) {
    std::uint64_t skip = next_offset_ - offset;
    data = skip >= data.size() ? std::span<const std::uint8_t>{} : data.subspan(skip);
    offset = next_offset_;
  }
  if (offset == next_offset_) {
    duplicate = false;
    if (!data.empty()) deliver(offset, data, sink);
    if (captured_end < end) {
      std::uint64_t from = std::max(captured_end, next_offset_);
      if (end > from) {
        sink.on_gap(from, end - from);
        gap_bytes_ += end - from;
        next_offset_ = end;
      }
    }
    drain(sink);
    return duplicate;
  }
  // Out of order: hold it, unless every byte is already held.
  if (data.empty()) return false;
  auto it = held_.find(offset);
  if (it != held_.end()) {
    if (it->second.size() >= data.size()) {
      if (std::memcmp(it->second.data(), data.data(), data.size()) != 0)
        anomalies_->add("tcp.inconsistent_retransmission");
      return true;
    }
    buffered_ -= it->second.size();
  }
  held_[offset].assign(data.begin(), data.end());
  buffered_ += data.size();
  fill_acked_holes(sink);
  while (buffered_ > max_buffered_ && !held_.empty()) {
    anomalies_->add("tcp.reassembly_limit");
    force_gap(sink);
  }
  return false;
}

void Reassembler::acked(std::uint32_t ack, StreamSink& sink) {
  if (ended_ || !have_base_) return;
  std::uint32_t high_seq = base_seq_ + static_cast<std::uint32_t>(highest_offset_);
  std::int64_t ack_offset =
      static_cast<std::int64_t>(highest_offset_) + static_cast<std::int32_t>(ack - high_seq);
  if (ack_offset <= 0) return;
  acked_to_ = std::max(acked_to_, static_cast<std::uint64_t>(ack_offset));
  fill_acked_holes(sink);
}

void Reassembler::fill_acked_holes(StreamSink& sink) {
  // Only a hole with data held after it: an ACK one past the data (for the FIN) or for bytes
  // that are still to come in this capture creates nothing.
  while (!held_.empty() && acked_to_ > next_offset_) {
    const std::uint64_t hole_end = std::min(acked_to_, held_.begin()->first);
    if (hole_end > next_offset_) {
      anomalies_->add("tcp.acked_unseen");
      sink.on_gap(next_offset_, hole_end - next_offset_);
      gap_bytes_ += hole_end - next_offset_;
      next_offset_ = hole_end;
    }
    std::size_t before = held_.size();
    drain(sink);
    if (held_.size() == before) break;  // the next held bytes start past the acked point
  }
}

void Reassembler::deliver(std::uint64_t offset, std::span<const std::uint8_t> data,
                          StreamSink& sink) {
  sink.on_data(offset, data);
  next_offset_ = offset + data.size();
}

void Reassembler::drain(StreamSink& sink) {
  while (!held_.empty()) {
    auto it = held_.begin();
    std::uint64_t off = it->first;
    if (off > next_offset_) return;
    std::vector<std::uint8_t> bytes = std::move(it->second);
    buffered_ -= bytes.size();
    held_.erase(it);
    std::uint64_t end = off + bytes.size();
    if (end <= next_offset_) continue;
    std::size_t skip = static_cast<std::size_t>(next_offset_ - off);
    deliver(next_offset_, std::span<const std::uint8_t>(bytes).subspan(skip), sink);
  }
}

void Reassembler::force_gap(StreamSink& sink) {
  auto it = held_.begin();
  if (it->first > next_offset_) {
    std::uint64_t len = it->first - next_offset_;
    sink.on_gap(next_offset_, len);
    gap_bytes_ += len;
    next_offset_ = it->first;
  }
  drain(sink);
}

void Reassembler::finish(StreamSink& sink) {
  if (ended_) return;
  while (!held_.empty())
    force_gap(sink);
  // Bytes seen on the wire beyond what was delivered (cut or lost at the end).
  if (highest_offset_ > next_offset_) {
    sink.on_gap(next_offset_, highest_offset_ - next_offset_);
    gap_bytes_ += highest_offset_ - next_offset_;
    next_offset_ = highest_offset_;
  }
  ended_ = true;
  sink.on_end();
}

}  // namespace fedscope::flow
