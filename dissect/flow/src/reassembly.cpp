#include "fedscope/flow/reassembly.hpp"

#include <algorithm>
#include <cstring>

namespace fedscope::flow {

void Reassembler::set_isn(std::uint32_t isn) {
  if (have_base_) return;
  have_base_ = true;
  base_seq_ = isn + 1;
}

namespace {

// A fast digest of a delivered piece (8 bytes a step), to tell a resend with other bytes.
std::uint64_t digest(std::span<const std::uint8_t> d) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ d.size();
  std::size_t i = 0;
  for (; i + 8 <= d.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, d.data() + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
  }
  for (; i < d.size(); ++i)
    h = (h ^ d[i]) * 0x100000001B3ull;
  return h ^ (h >> 31);
}

}  // namespace

Reassembler::~Reassembler() {
  if (!budget_) return;
  for (const auto& [off, bytes] : held_)
    budget_->used -= std::min(budget_->used, bytes.size() + kSegmentOverhead);
}

void Reassembler::compare(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) != 0) inconsistent_ = true;
}

// Every recently delivered piece that [offset, offset + data.size()) covers whole must have
// the same digest as the resend's bytes at its place.
bool Reassembler::resend_differs(std::uint64_t offset, std::span<const std::uint8_t> data) const {
  if (!recent_) return false;  // nothing delivered yet (or the direction ended)
  const std::uint64_t end = offset + data.size();
  for (const Digest& r : *recent_) {
    if (r.length == 0 || r.offset < offset || r.offset + r.length > end) continue;
    if (r.hash != digest(data.subspan(static_cast<std::size_t>(r.offset - offset), r.length)))
      return true;
  }
  return false;
}

void Reassembler::put(std::map<std::uint64_t, std::vector<std::uint8_t>>::iterator hint,
                      std::uint64_t offset, std::span<const std::uint8_t> data) {
  held_.emplace_hint(hint, offset, std::vector<std::uint8_t>(data.begin(), data.end()));
  buffered_ += data.size();
  if (budget_) budget_->used += data.size() + kSegmentOverhead;
}

void Reassembler::release(std::size_t bytes) {
  buffered_ -= bytes;
  if (budget_) budget_->used -= std::min(budget_->used, bytes + kSegmentOverhead);
}

// Holds what is new of an out-of-order segment; the pieces held never overlap, and bytes
// already held are compared, not replaced. Returns true when something new was held.
bool Reassembler::hold(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (data.empty()) return false;
  std::uint64_t end = offset + data.size();
  auto it = held_.upper_bound(offset);
  if (it != held_.begin()) {
    auto prev = std::prev(it);
    std::uint64_t pend = prev->first + prev->second.size();
    if (pend > offset) {
      std::size_t ov = static_cast<std::size_t>(std::min(pend, end) - offset);
      compare(data.first(ov), std::span<const std::uint8_t>(prev->second)
                                  .subspan(static_cast<std::size_t>(offset - prev->first), ov));
      if (pend >= end) return false;
      data = data.subspan(static_cast<std::size_t>(pend - offset));
      offset = pend;
    }
  }
  bool fresh = false;
  while (!data.empty()) {
    end = offset + data.size();
    if (it == held_.end() || it->first >= end) {
      put(it, offset, data);
      return true;
    }
    if (it->first > offset) {
      put(it, offset, data.first(static_cast<std::size_t>(it->first - offset)));
      fresh = true;
    }
    std::uint64_t iend = it->first + it->second.size();
    std::size_t ov = static_cast<std::size_t>(std::min(iend, end) - it->first);
    compare(data.subspan(static_cast<std::size_t>(it->first - offset), ov),
            std::span<const std::uint8_t>(it->second).first(ov));
    if (iend >= end) break;
    data = data.subspan(static_cast<std::size_t>(iend - offset));
    offset = iend;
    ++it;
  }
  return fresh;
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

  if (end <= next_offset_) {
    // A pure retransmission. The recently delivered pieces it covers must come back with
    // their bytes; a keep-alive (one byte, one below the next, often garbage) is not compared.
    bool keepalive = data.size() == 1 && offset + 1 == next_offset_;
    if (!keepalive && resend_differs(offset, data))
      anomalies_->add("tcp.inconsistent_retransmission");
    return true;
  }
  bool duplicate = true;
  // Trim what was already delivered (after comparing it where that can be done).
  if (offset < next_offset_) {
    std::uint64_t skip = next_offset_ - offset;
    if (resend_differs(offset, data.first(static_cast<std::size_t>(
                                   std::min<std::uint64_t>(skip, data.size())))))
      anomalies_->add("tcp.inconsistent_retransmission");
    data = skip >= data.size() ? std::span<const std::uint8_t>{} : data.subspan(skip);
    offset = next_offset_;
  }
  if (offset == next_offset_) {
    duplicate = false;
    if (!data.empty()) {
      // Held bytes this segment covers must be the same bytes.
      std::uint64_t dend = offset + data.size();
      for (auto it = held_.begin(); it != held_.end() && it->first < dend; ++it) {
        std::uint64_t s0 = std::max(it->first, offset);
        std::uint64_t e0 = std::min(it->first + it->second.size(), dend);
        if (e0 > s0)
          compare(data.subspan(static_cast<std::size_t>(s0 - offset),
                               static_cast<std::size_t>(e0 - s0)),
                  std::span<const std::uint8_t>(it->second)
                      .subspan(static_cast<std::size_t>(s0 - it->first),
                               static_cast<std::size_t>(e0 - s0)));
      }
      if (inconsistent_) {
        inconsistent_ = false;
        anomalies_->add("tcp.inconsistent_retransmission");
      }
      deliver(offset, data, sink);
    }
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
  // Out of order: hold what is new.
  bool fresh = hold(offset, data);
  if (inconsistent_) {
    inconsistent_ = false;
    anomalies_->add("tcp.inconsistent_retransmission");
  }
  if (!fresh) return !data.empty();
  fill_acked_holes(sink);
  // Bounded by pieces (their bookkeeping), by bytes, and by what all directions hold together.
  while (held_.size() > max_segments_) {
    anomalies_->add("tcp.reassembly_segment_limit");
    force_gap(sink);
  }
  while (buffered_ > max_buffered_ && !held_.empty()) {
    anomalies_->add("tcp.reassembly_limit");
    force_gap(sink);
  }
  while (over_budget() && !held_.empty()) {
    anomalies_->add("tcp.reassembly_total_limit");
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
  if (!recent_) recent_ = std::make_unique<std::array<Digest, kRecentDelivered>>();
  (*recent_)[recent_next_] = Digest{offset, digest(data), data.size()};
  recent_next_ = (recent_next_ + 1) % kRecentDelivered;
  sink.on_data(offset, data);
  next_offset_ = offset + data.size();
}

void Reassembler::drain(StreamSink& sink) {
  while (!held_.empty()) {
    auto it = held_.begin();
    std::uint64_t off = it->first;
    if (off > next_offset_) return;
    std::vector<std::uint8_t> bytes = std::move(it->second);
    held_.erase(it);
    release(bytes.size());
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
  recent_.reset();  // nothing is compared or delivered after the end (the closed linger)
  sink.on_end();
}

}  // namespace fedscope::flow
