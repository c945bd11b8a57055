#include "fedscope/capture/reader.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "source.hpp"

namespace fedscope::capture {
namespace {

/// The first four bytes of every pcapng file (the Section Header Block type, the same in
/// both byte orders).
constexpr std::uint8_t kPcapngMagic[4] = {0x0A, 0x0D, 0x0D, 0x0A};

/// True when @p path starts like a pcapng file; anything else (classic pcap, junk, a file too
/// short to tell) is left to libpcap and its error messages.
bool looks_like_pcapng(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::uint8_t head[4] = {};
  const bool ok = std::fread(head, 1, sizeof head, f) == sizeof head &&
                  std::memcmp(head, kPcapngMagic, sizeof head) == 0;
  std::fclose(f);
  return ok;
}

}  // namespace

struct FileReader::Impl {
  std::unique_ptr<detail::Source> source;  ///< null once the file is finished
  bool damage_counted = false;
};

FileReader::~FileReader() = default;

std::unique_ptr<FileReader> FileReader::open(const std::string& path, std::uint16_t file_index,
                                             std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    error = path + ": is a directory, not a capture file";
    return nullptr;
  }
  std::unique_ptr<FileReader> r(new FileReader());
  r->impl_ = std::make_unique<Impl>();
  r->index_ = file_index;
  r->size_ = static_cast<std::uint64_t>(st.st_size);
  r->info_.path = path;
  std::string why;
  r->impl_->source = looks_like_pcapng(path) ? detail::open_pcapng_source(path, r->info_, why)
                                             : detail::open_libpcap_source(path, r->info_, why);
  if (!r->impl_->source) {
    error = path + ": not a readable pcap or pcapng capture (" + why + ")";
    return nullptr;
  }
  return r;
}

bool FileReader::next(Frame& out, AnomalyCounters& anomalies) {
  if (!impl_->source) return false;
  if (impl_->source->next(out, info_, anomalies)) {
    out.number = ++info_.packets;
    out.file = index_;
    info_.bytes += out.data.size();
    if (out.truncated()) {
      ++info_.truncated;
      anomalies.add("capture.snaplen_truncated");
    }
    if (info_.packets == 1) info_.first = out.time;
    if (out.time < info_.last) anomalies.add("capture.time_went_backwards");
    if (out.time > info_.last) info_.last = out.time;
    return true;
  }
  if (!info_.complete && !impl_->damage_counted) {
    // A damaged or cut record: what was read is kept, info_.error says where it stopped.
    anomalies.add("capture.damaged_record");
    impl_->damage_counted = true;
  }
  impl_->source.reset();
  return false;
}

std::uint64_t FileReader::position() const {
  return impl_->source ? impl_->source->position() : size_;
}

bool MergedReader::open(const std::vector<std::string>& paths, std::string& error) {
  slots_.clear();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto r = FileReader::open(paths[i], static_cast<std::uint16_t>(i), error);
    if (!r) return false;
    slots_.push_back(Slot{std::move(r), Frame{}, false});
  }
  for (auto& s : slots_)
    s.has = s.reader->next(s.frame, anomalies_);
  return true;
}

bool MergedReader::next(Frame& out) {
  if (last_ >= 0) {
    auto& s = slots_[static_cast<std::size_t>(last_)];
    s.has = s.reader->next(s.frame, anomalies_);
  }
  int best = -1;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].has) continue;
    if (best < 0 || slots_[i].frame.time < slots_[static_cast<std::size_t>(best)].frame.time)
      best = static_cast<int>(i);
  }
  last_ = best;
  if (best < 0) return false;
  out = slots_[static_cast<std::size_t>(best)].frame;
  return true;
}

std::vector<FileInfo> MergedReader::files() const {
  std::vector<FileInfo> v;
  for (const auto& s : slots_)
    v.push_back(s.reader->info());
  return v;
}

double MergedReader::progress() const {
  std::uint64_t total = 0, done = 0;
  for (const auto& s : slots_) {
    total += s.reader->size();
    done += s.reader->position();
  }
  return total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
}

}  // namespace fedscope::capture
