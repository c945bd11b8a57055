// Selecting a session's frames and saving them from the capture files (read again from the
// front: the reader never seeks). The ring is in ring.cpp.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fedscope/capture/reader.hpp"
#include "fedscope/tui/extract.hpp"
#include "session_writer.hpp"

namespace fedscope::tui {
namespace {

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
/// Frames between two expiries of the decoder's IPv4 fragment trains.
constexpr std::uint64_t kExpireEvery = 4096;

bool in_window(Timestamp t, Timestamp start, Timestamp last, Duration slack) {
  return t.ns >= start.ns - slack.ns && t.ns <= last.ns + slack.ns;
}

bool between(const Endpoint& a, const Endpoint& b, const Endpoint& x, const Endpoint& y) {
  return (a == x && b == y) || (a == y && b == x);
}

std::uint16_t be16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

bool leg_matches(const LegSelector& leg, Duration slack, const packet::Packet& p, const Endpoint& a,
                 const Endpoint& b) {
  if (leg.match_vantage &&
      (leg.vantage.file != p.vantage.file || leg.vantage.interface != p.vantage.interface ||
       (leg.vantage.ifindex >= 0 && leg.vantage.ifindex != p.vantage.ifindex)))
    return false;
  return in_window(p.time, leg.start, leg.last, slack) && between(a, b, leg.client, leg.server);
}

}  // namespace

std::optional<Timestamp> SessionSelector::earliest() const {
  std::optional<Timestamp> t;
  for (const LegSelector& l : legs)
    if (!t || l.start < *t) t = l.start;
  for (const DnsSelector& d : dns)
    if (!t || d.start < *t) t = d.start;
  return t;
}

SessionSelector select_connection(const flow::Connection& connection) {
  SessionSelector s;
  for (const flow::Leg& leg : connection.legs)
    s.legs.push_back(LegSelector{leg.orig, leg.resp, leg.vantage, true, leg.start, leg.last});
  return s;
}

void add_dns(SessionSelector& selector, const engine::DnsTransaction& t) {
  DnsSelector d;
  d.client = t.client;
  d.server = t.server;
  d.txid = t.txid;
  d.tcp = t.tcp;
  d.start = t.query.time;
  d.last =
      t.response ? std::max(t.response->time, t.query.time) : t.query.time + kDnsNoAnswerWindow;
  selector.dns.push_back(d);
}

bool matches(const SessionSelector& selector, const packet::Packet& p) {
  const Endpoint src{p.src, p.sport}, dst{p.dst, p.dport};
  if (p.transport == packet::Transport::kTcp) {
    for (const LegSelector& leg : selector.legs)
      if (leg_matches(leg, selector.slack, p, src, dst)) return true;
    for (const DnsSelector& d : selector.dns)
      if (d.tcp && in_window(p.time, d.start, d.last, selector.slack) &&
          between(src, dst, d.client, d.server))
        return true;
    return false;
  }
  if (p.transport == packet::Transport::kUdp) {
    // A UDP DNS message starts with its id; the selector names the server's port (53, or a
    // lab resolver's).
    if (p.payload.size() < 2) return false;
    const std::uint16_t id = be16(p.payload, 0);
    for (const DnsSelector& d : selector.dns)
      if (!d.tcp && d.txid == id && in_window(p.time, d.start, d.last, selector.slack) &&
          between(src, dst, d.client, d.server))
        return true;
    return false;
  }
  if (p.transport == packet::Transport::kIcmp && p.icmp.present) {
    // The quoted packet went from inner_src to inner_dst; the error travels back.
    const Endpoint& a = p.icmp.inner_src;
    const Endpoint& b = p.icmp.inner_dst;
    if (p.icmp.inner_protocol == kProtoTcp) {
      for (const LegSelector& leg : selector.legs)
        if (leg_matches(leg, selector.slack, p, a, b)) return true;
    } else if (p.icmp.inner_protocol == kProtoUdp) {
      for (const DnsSelector& d : selector.dns)
        if (!d.tcp && in_window(p.time, d.start, d.last, selector.slack) &&
            between(a, b, d.client, d.server))
          return true;
    }
  }
  return false;
}

namespace detail {

std::string clock_time(Timestamp t) {
  const CivilTime c = civil_time(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d UTC", c.tm.tm_hour, c.tm.tm_min, c.tm.tm_sec);
  return buf;
}

SessionWriter::SessionWriter(const SessionSelector& selector, std::string out_path)
    : selector_(selector),
      out_path_(std::move(out_path)),
      temp_path_(out_path_ + ".partial"),
      decoder_(anomalies_) {}

SessionWriter::~SessionWriter() {
  if (!committed_) {
    writer_.reset();  // closes the file
    ::unlink(temp_path_.c_str());
  }
}

std::string SessionWriter::in_words(const std::string& writer_error) const {
  // The writer names the temporary file; the user asked for out_path.
  if (writer_error.compare(0, temp_path_.size(), temp_path_) == 0)
    return out_path_ + writer_error.substr(temp_path_.size());
  return writer_error;
}

bool SessionWriter::open(std::string& error) {
  capture::PcapngWriterOptions o;
  o.path = temp_path_;
  o.application = "fedscope tui (one session)";
  std::string why;
  writer_ = capture::PcapngWriter::open(o, {}, why);
  if (!writer_) {
    error = in_words(why);
    return false;
  }
  return true;
}

bool SessionWriter::offer(const Frame& frame, const DescribeInterface& describe,
                          std::string& error) {
  ++examined_;
  if (examined_ % kExpireEvery == 0) decoder_.expire(frame.time);
  packet::Packet p;
  if (decoder_.decode(frame, p) != packet::Decoder::Result::kPacket || !matches(selector_, p))
    return true;
  const auto key = std::make_pair(frame.file, frame.interface);
  auto it = ids_.find(key);
  if (it == ids_.end()) {
    std::string why;
    const std::int32_t id =
        writer_->add_interface(describe(frame.file, frame.interface, frame.linktype), why);
    if (id < 0) {
      error = in_words(why);
      return false;
    }
    it = ids_.emplace(key, id).first;
  }
  Frame out = frame;
  out.interface = it->second;
  std::string why;
  if (!writer_->write(out, why)) {
    error = in_words(why);
    return false;
  }
  ++written_;
  return true;
}

bool SessionWriter::commit(std::string& error) {
  std::string why;
  if (!writer_->close({}, why)) {
    error = in_words(why);
    return false;
  }
  if (std::rename(temp_path_.c_str(), out_path_.c_str()) != 0) {
    error = out_path_ + ": " + std::strerror(errno);
    return false;
  }
  committed_ = true;
  return true;
}

}  // namespace detail

namespace {

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// True when @p a and @p b name the same existing file.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

bool save_from_files(const std::vector<std::string>& paths, const SessionSelector& selector,
                     const std::string& out_path, SaveResult& result, std::string& error) {
  result = SaveResult{};
  if (paths.empty()) {
    error = "no capture file to read";
    return false;
  }
  for (const std::string& p : paths) {
    if (p == "-") {
      error =
          "standard input cannot be read again: save the session from a file (or from a "
          "live capture's ring)";
      return false;
    }
    if (same_file(p, out_path)) {
      error = out_path + ": is one of the capture files read; choose another name";
      return false;
    }
  }
  capture::MergedReader reader;
  if (!reader.open(paths, error)) return false;
  detail::SessionWriter writer(selector, out_path);
  if (!writer.open(error)) return false;

  // Interface descriptions from the reader's FileInfo, looked up once per (file, interface).
  const detail::DescribeInterface describe = [&](std::uint16_t file, std::int32_t interface,
                                                 int dlt) {
    capture::PcapngInterface d;
    d.linktype = dlt;
    const std::vector<capture::FileInfo> files = reader.files();
    if (file < files.size()) {
      const capture::FileInfo& f = files[file];
      if (interface >= 0 && static_cast<std::size_t>(interface) < f.interfaces.size()) {
        const capture::InterfaceInfo& i = f.interfaces[static_cast<std::size_t>(interface)];
        d.name = i.name.empty() ? f.name + " #" + std::to_string(interface) : i.name;
        d.description = f.name + (i.description.empty() ? "" : ": " + i.description);
        d.snaplen = i.snaplen;
      } else {
        d.name = f.name;
        d.description = f.name;
        d.snaplen = f.snaplen;
      }
    }
    return d;
  };
  Frame frame;
  while (reader.next(frame))
    if (!writer.offer(frame, describe, error)) return false;
  for (const capture::FileInfo& f : reader.files())
    if (!f.complete) result.input_errors.push_back(f.name + ": " + f.error);
  result.frames_examined = writer.examined();
  if (writer.written() == 0) {
    error = "no packet of this session in " + plural(paths.size(), "file", "files") + " (" +
            plural(writer.examined(), "frame", "frames") +
            " read): were they read in the same order as for the analysis?";
    return false;
  }
  if (!writer.commit(error)) return false;
  result.frames_written = writer.written();
  result.message = "saved " + plural(writer.written(), "packet", "packets") + " to " + out_path;
  if (!result.input_errors.empty())
    result.message += " (an input ended early: " + result.input_errors.front() + ")";
  result.ok = true;
  return true;
}

ExtractResult save_from_files(const std::vector<std::string>& paths,
                              const SessionSelector& selector, const std::string& out_path) {
  ExtractResult r;
  std::string error;
  if (!save_from_files(paths, selector, out_path, r, error)) r.message = error;
  return r;
}

}  // namespace fedscope::tui
