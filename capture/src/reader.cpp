#include "fedscope/capture/reader.hpp"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace fedscope::capture {

struct FileReader::Impl {
  pcap_t* handle = nullptr;
  ~Impl() {
    if (handle) pcap_close(handle);
  }
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
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  // Nanosecond precision: libpcap scales microsecond files up, so one clock serves all.
  pcap_t* h =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!h) {
    error = path + ": not a readable pcap or pcapng capture (" + errbuf + ")";
    return nullptr;
  }
  std::unique_ptr<FileReader> r(new FileReader());
  r->impl_ = std::make_unique<Impl>();
  r->impl_->handle = h;
  r->index_ = file_index;
  r->size_ = static_cast<std::uint64_t>(st.st_size);
  r->info_.path = path;
  r->info_.linktype = pcap_datalink(h);
  const char* name = pcap_datalink_val_to_name(r->info_.linktype);
  r->info_.linktype_name = name ? name : "DLT_" + std::to_string(r->info_.linktype);
  r->info_.snaplen = static_cast<std::uint32_t>(pcap_snapshot(h));
  return r;
}

bool FileReader::next(Frame& out, AnomalyCounters& anomalies) {
  if (!impl_->handle) return false;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(impl_->handle, &hdr, &data);
  if (rc == 1) {
    out.time = Timestamp::from_parts(hdr->ts.tv_sec, hdr->ts.tv_usec);
    out.number = ++info_.packets;
    out.file = index_;
    out.linktype = info_.linktype;
    out.wire_length = hdr->len;
    out.data = std::span<const std::uint8_t>(data, hdr->caplen);
    info_.bytes += hdr->caplen;
    if (hdr->caplen < hdr->len) {
      ++info_.truncated;
      anomalies.add("capture.snaplen_truncated");
    }
    if (info_.packets == 1) info_.first = out.time;
    if (out.time < info_.last) anomalies.add("capture.time_went_backwards");
    if (out.time > info_.last) info_.last = out.time;
    return true;
  }
  if (rc == PCAP_ERROR) {
    // A damaged or cut record: keep what was read, say where it stopped.
    info_.complete = false;
    info_.error = pcap_geterr(impl_->handle);
    anomalies.add("capture.damaged_record");
  }
  pcap_close(impl_->handle);
  impl_->handle = nullptr;
  return false;
}

std::uint64_t FileReader::position() const {
  if (!impl_->handle) return size_;
  FILE* f = pcap_file(impl_->handle);
  if (!f) return 0;
  long pos = std::ftell(f);
  return pos < 0 ? 0 : static_cast<std::uint64_t>(pos);
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
