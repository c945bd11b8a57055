// FrameRing: one circular byte buffer (every frame contiguous: a frame that does not fit before
// the end starts again at 0, the tail left unused) and a deque of entries, oldest first. The
// live entries occupy [front.offset, write_) circularly, so making room is popping the front
// until the new frame's bytes overlap no live entry: amortised O(1), each frame evicted once.

#include <algorithm>
#include <cstring>
#include <new>

#include "fedscope/tui/extract.hpp"
#include "session_writer.hpp"

namespace fedscope::tui {
namespace {

/// Frames, and bytes, copied out of the ring per lock while saving: the analysis thread
/// waits at most for one such copy.
constexpr std::size_t kSaveChunkFrames = 4096;
constexpr std::size_t kSaveChunkBytes = 4 * 1024 * 1024;

}  // namespace

FrameRing::FrameRing(RingLimits limits) : limits_(limits) {}

FrameRing::FrameRing(std::size_t max_bytes, const std::vector<capture::InterfaceInfo>& interfaces)
    : limits_(RingLimits{max_bytes, RingLimits{}.max_frames}) {
  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    const capture::InterfaceInfo& d = interfaces[i];
    interfaces_[{std::uint16_t{0}, static_cast<std::int32_t>(i)}] =
        capture::PcapngInterface{d.name, d.description, d.linktype, d.snaplen};
  }
}

void FrameRing::describe_interface(std::uint16_t file, std::int32_t interface,
                                   capture::PcapngInterface description) {
  std::lock_guard lock(mutex_);
  interfaces_[{file, interface}] = std::move(description);
}

void FrameRing::evict_front() {
  bytes_ -= entries_.front().length;
  entries_.pop_front();
  ++evicted_;
  if (entries_.empty()) write_ = 0;
}

void FrameRing::push(const Frame& frame) {
  // At least one byte per frame, so that every entry has a place in the buffer.
  const std::size_t need = std::max<std::size_t>(frame.data.size(), 1);
  std::lock_guard lock(mutex_);
  if (need > limits_.max_bytes || limits_.max_frames == 0) {
    ++too_large_;
    return;
  }
  // Not zeroed: pages are touched as frames fill them, not all at the first push.
  if (!data_) {
    data_.reset(new (std::nothrow) std::uint8_t[limits_.max_bytes]);
    if (!data_) {
      ++too_large_;  // no memory for the ring: nothing is kept (no exception on this path)
      return;
    }
  }
  while (entries_.size() >= limits_.max_frames)
    evict_front();
  std::size_t at = 0;
  for (;;) {
    if (entries_.empty()) {
      at = 0;
      break;
    }
    const std::size_t front = entries_.front().offset;
    if (write_ > front) {  // live bytes in [front, write_): free after write_ and before front
      if (write_ + need <= limits_.max_bytes) {
        at = write_;
        break;
      }
      if (need <= front) {
        at = 0;
        break;
      }
    } else if (write_ + need <= front) {  // wrapped: free in [write_, front)
      at = write_;
      break;
    }
    evict_front();
  }
  if (!frame.data.empty()) std::memcpy(data_.get() + at, frame.data.data(), frame.data.size());
  entries_.push_back(Entry{next_seq_++, frame.time, frame.number, frame.file, frame.interface,
                           frame.linktype, frame.wire_length, at,
                           static_cast<std::uint32_t>(frame.data.size())});
  write_ = at + need;
  bytes_ += frame.data.size();
}

FrameRing::Stats FrameRing::stats() const {
  std::lock_guard lock(mutex_);
  Stats s;
  s.frames = entries_.size();
  s.bytes = bytes_;
  s.pushed = next_seq_;
  s.evicted = evicted_;
  s.too_large = too_large_;
  if (!entries_.empty()) {
    s.oldest = entries_.front().time;
    s.newest = entries_.back().time;
  }
  return s;
}

bool save_from_ring(FrameRing& ring, const SessionSelector& selector, const std::string& out_path,
                    SaveResult& result, std::string& error) {
  result = SaveResult{};
  // What the ring holds when the save starts; later frames are not waited for.
  std::uint64_t cursor = 0, end = 0;
  std::optional<Timestamp> oldest;
  {
    std::lock_guard lock(ring.mutex_);
    if (ring.entries_.empty()) {
      error = "the ring holds no packet yet";
      return false;
    }
    cursor = ring.entries_.front().seq;
    end = ring.next_seq_;
    oldest = ring.entries_.front().time;
  }
  const std::optional<Timestamp> wanted = selector.earliest();
  if (wanted && oldest && *oldest > *wanted) result.missing_before = oldest;

  detail::SessionWriter writer(selector, out_path);
  if (!writer.open(error)) return false;

  struct Copied {
    FrameRing::Entry entry;
    std::size_t at;  ///< in bytes
  };
  std::vector<Copied> chunk;
  std::vector<std::uint8_t> bytes;
  std::map<std::pair<std::uint16_t, std::int32_t>, capture::PcapngInterface> described;
  const detail::DescribeInterface describe = [&](std::uint16_t file, std::int32_t interface,
                                                 int dlt) {
    auto it = described.find({file, interface});
    if (it != described.end()) return it->second;
    capture::PcapngInterface d;
    d.name = "file " + std::to_string(file) + " interface " + std::to_string(interface);
    d.linktype = dlt;
    return d;
  };
  while (cursor < end) {
    chunk.clear();
    bytes.clear();
    {
      // Copy a bounded chunk out; decoding and writing happen without the lock.
      std::lock_guard lock(ring.mutex_);
      described = ring.interfaces_;
      if (ring.entries_.empty() || ring.entries_.back().seq < cursor) break;
      const std::uint64_t front = ring.entries_.front().seq;
      if (front > cursor) {
        // Evicted by the live capture while this save read earlier chunks.
        result.evicted_while_saving += front - cursor;
        cursor = front;
      }
      for (std::size_t i = static_cast<std::size_t>(cursor - front);
           i < ring.entries_.size() && cursor < end && chunk.size() < kSaveChunkFrames &&
           bytes.size() < kSaveChunkBytes;
           ++i, ++cursor) {
        const FrameRing::Entry& e = ring.entries_[i];
        chunk.push_back(Copied{e, bytes.size()});
        bytes.insert(bytes.end(), ring.data_.get() + e.offset,
                     ring.data_.get() + e.offset + e.length);
      }
    }
    for (const Copied& c : chunk) {
      Frame f;
      f.time = c.entry.time;
      f.number = c.entry.number;
      f.file = c.entry.file;
      f.interface = c.entry.interface;
      f.linktype = c.entry.linktype;
      f.wire_length = c.entry.wire_length;
      f.data = std::span<const std::uint8_t>(bytes.data() + c.at, c.entry.length);
      if (!writer.offer(f, describe, error)) return false;
    }
  }
  result.frames_examined = writer.examined();
  const std::string since = result.missing_before ? "the ring no longer holds packets before " +
                                                        detail::clock_time(*result.missing_before)
                                                  : "";
  if (writer.written() == 0 && result.evicted_while_saving != 0) {
    error = "the live capture evicted " + std::to_string(result.evicted_while_saving) +
            " frames from the ring while they were being saved, and none of this session was "
            "saved: save sooner, or give the ring more memory";
    return false;
  }
  if (writer.written() == 0) {
    error = "the ring holds no packet of this session" +
            (oldest ? " (its oldest is from " + detail::clock_time(*oldest) + ")" : std::string());
    return false;
  }
  if (!writer.commit(error)) return false;
  result.frames_written = writer.written();
  result.message = "saved " + std::to_string(writer.written()) +
                   (writer.written() == 1 ? " packet" : " packets") + " to " + out_path;
  if (!since.empty()) result.message += "; " + since + ", saved from then on";
  if (result.evicted_while_saving != 0)
    result.message += "; " + std::to_string(result.evicted_while_saving) +
                      " frames were evicted while saving (some of the session may be missing)";
  result.ok = true;
  return true;
}

ExtractResult save_from_ring(FrameRing& ring, const SessionSelector& selector,
                             const std::string& out_path) {
  ExtractResult r;
  std::string error;
  if (!save_from_ring(ring, selector, out_path, r, error)) r.message = error;
  return r;
}

}  // namespace fedscope::tui
