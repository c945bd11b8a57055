#include "fedscope/capture/reader.hpp"

#include <algorithm>

#include "input.hpp"
#include "source.hpp"

namespace fedscope::capture {
namespace {

constexpr const char* kStdin = "-";

std::string input_name(const std::string& path) {
  return path == kStdin ? "standard input" : path;
}

}  // namespace

struct FileReader::Impl {
  // Declared first so that it is destroyed last: the source borrows it.
  std::unique_ptr<detail::Input> input;
  std::unique_ptr<detail::Source> source;  ///< null once the file is finished
  bool damage_counted = false;
};

FileReader::~FileReader() = default;

std::unique_ptr<FileReader> FileReader::open(const std::string& path, std::uint16_t file_index,
                                             std::string& error, const FollowControl* follow) {
  const std::string name = input_name(path);
  std::string why;
  auto input = detail::Input::open(path, why);
  if (!input) {
    error = name + ": " + why;
    return nullptr;
  }
  input->set_follow(follow);
  std::unique_ptr<FileReader> r(new FileReader());
  r->impl_ = std::make_unique<Impl>();
  r->index_ = file_index;
  r->size_ = input->size();
  r->info_.path = path;
  r->info_.name = name;
  detail::Input& in = *input;
  r->impl_->input = std::move(input);

  // Four bytes tell every format read here; more are looked at only to say what else it is.
  constexpr std::size_t kMagicBytes = 4;
  detail::Format format = detail::sniff_format(in.peek(kMagicBytes));
  if (format == detail::Format::kGzip) {
    if (!in.start_gzip(why)) {
      error = name + ": " + why;
      return nullptr;
    }
    r->info_.compression = "gzip";
    format = detail::sniff_format(in.peek(kMagicBytes));
    if (format == detail::Format::kGzip) format = detail::Format::kOther;  // gzip in gzip
  }
  switch (format) {
    case detail::Format::kPcapng:
      r->info_.format = "pcapng";
      r->impl_->source = detail::open_pcapng_source(in, r->info_, why);
      break;
    case detail::Format::kPcap:
      r->info_.format = "pcap";
      r->impl_->source = detail::open_libpcap_source(in, r->info_, why);
      break;
    default: {
      if (in.stopped() && in.peek(kMagicBytes).size() < kMagicBytes) {
        why = "stopped before the writer had written the capture's header";
        break;
      }
      in.set_follow(nullptr);  // no capture: describe the bytes there, wait for no more
      const auto head = in.peek(detail::kDescribeBytes);
      // Too few bytes to tell because the data broke off (gzip cut short): say that instead.
      why = head.size() < kMagicBytes && !in.failure().empty()
                ? in.failure()
                : detail::describe_non_capture(head, in.gzip());
      break;
    }
  }
  if (!r->impl_->source) {
    // The input's own failure (gzip cut short, read error) explains more than libpcap's
    // "error reading dump file".
    if (!in.error().empty() && why.find(in.error()) == std::string::npos) why = in.error();
    error = name + ": not a readable pcap or pcapng capture (" + why + ")";
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
      if (out.interface >= 0 && static_cast<std::size_t>(out.interface) < info_.interfaces.size())
        ++info_.interfaces[static_cast<std::size_t>(out.interface)].truncated;
      anomalies.add("capture.snaplen_truncated");
    }
    if (info_.packets == 1) {
      info_.first = info_.last = out.time;  // nothing earlier to compare with
    } else {
      if (out.time < info_.last) anomalies.add("capture.time_went_backwards");
      if (out.time > info_.last) info_.last = out.time;
    }
    return true;
  }
  const std::string& input_error = impl_->input->error();
  if (impl_->input->stopped() && input_error.empty()) {
    // Following, stopped: a record the writer had not finished is the end, not damage. Every
    // other damage is found with the record's bytes in hand, before the stop cut anything.
    info_.complete = true;
    info_.error.clear();
  }
  if (!input_error.empty()) {
    // Data cut short or corrupt under the capture format (gzip, read error): the frames read
    // so far are kept, like before a damaged record; the input's words say why.
    info_.complete = false;
    if (info_.error.find(input_error) == std::string::npos) info_.error = input_error;
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
  // A finished regular file counts as read whole, even when reading stopped at damage.
  if (!impl_->source && size_ != 0) return size_;
  const std::uint64_t at = impl_->input->position();
  return size_ != 0 ? std::min(at, size_) : at;  // a file still being written may grow
}

bool MergedReader::open(const std::vector<std::string>& paths, std::string& error,
                        const FollowControl* follow) {
  slots_.clear();
  if (follow && paths.size() != 1) {
    // Merging by time waits for every file's next frame: one quiet file would hold back the
    // rest for as long as it stays quiet.
    error = "follow reads exactly one file (" + std::to_string(paths.size()) +
            " given): merging files that are still being written would wait on the quietest";
    return false;
  }
  if (std::count(paths.begin(), paths.end(), kStdin) > 1) {
    error = "standard input (-) given more than once";
    return false;
  }
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto r = FileReader::open(paths[i], static_cast<std::uint16_t>(i), error, follow);
    if (!r) return false;
    slots_.push_back(Slot{std::move(r), Frame{}, false});
  }
  last_ = -1;
  primed_ = false;
  // A followed file may have no frame yet: its first is waited for in next(), not here.
  if (!follow) prime();
  return true;
}

void MergedReader::prime() {
  for (auto& s : slots_)
    s.has = s.reader->next(s.frame, anomalies_);
  primed_ = true;
}

bool MergedReader::next(Frame& out) {
  if (!primed_) {
    prime();
  } else if (last_ >= 0) {
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
  bool finished = true;
  for (const auto& s : slots_) {
    finished = finished && !s.has;
    if (s.reader->size() == 0) continue;  // a pipe: its share is unknown
    total += s.reader->size();
    done += s.reader->position();
  }
  if (finished) return 1.0;
  return total == 0 ? 0.0 : static_cast<double>(done) / static_cast<double>(total);
}

}  // namespace fedscope::capture
