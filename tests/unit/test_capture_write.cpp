// The pcapng writer (PcapngWriter) read back by our own FileReader and, where installed, by
// tshark, capinfos and tcpdump (libpcap); tcpdump-style rotation with and without a ring;
// write errors as values. The reader's Interface Statistics Blocks (FileInfo::end_time,
// InterfaceInfo::isb_*) on hand-made edge cases. LiveCapture's and drop_privileges' messages
// that need no network namespace (the netns tests are in test_capture_live_netns.cpp).

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fedscope/capture/live.hpp"
#include "fedscope/capture/pcapng.hpp"
#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/capture/reader.hpp"
#include "read_frames.hpp"

using namespace fedscope;
using namespace fedscope::capture;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kBase = 1'795'600'800;  // 2026-11-25T10:00:00Z, in seconds

constexpr int kDltEthernet = 1;
constexpr int kDltRawLinux = 12;
constexpr int kDltSll2 = 276;

/// A directory in the temp directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fedscope-test-write-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using test::Got;
using test::ReadResult;

ReadResult read_file(const std::string& path) {
  ReadResult r;
  auto reader = FileReader::open(path, 0, r.open_error);
  if (!reader) return r;
  r.opened = true;
  Frame f;
  while (reader->next(f, r.anomalies)) {
    r.frames.push_back(test::got_of(f));
  }
  r.info = reader->info();
  return r;
}

Bytes payload(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed * 7 + i);
  // The first four bytes carry the seed, so a frame read back tells which one it was.
  for (std::size_t i = 0; i < 4 && i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed >> (8 * i));
  return b;
}

std::uint32_t seed_of(const Bytes& b) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < 4 && i < b.size(); ++i)
    s |= static_cast<std::uint32_t>(b[i]) << (8 * i);
  return s;
}

Frame frame_of(const Bytes& data, std::int64_t ns, std::int32_t interface,
               std::uint32_t wire_length = 0) {
  Frame f;
  f.time = Timestamp{ns};
  f.interface = interface;
  f.data = data;
  f.wire_length = wire_length ? wire_length : static_cast<std::uint32_t>(data.size());
  return f;
}

std::vector<PcapngInterface> three_interfaces() {
  return {{"eth0", "outside", kDltEthernet, 262144},
          {"any", "", kDltSll2, 65535},
          {"tun0", "vpn", kDltRawLinux, 1500}};
}

/// Runs @p command (through sh), returns its exit status and standard output.
int run(const std::string& command, std::string& out) {
  out.clear();
  std::FILE* p = ::popen(command.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_program(const std::string& name) {
  std::string out;
  return run("command -v " + name + " >/dev/null 2>&1", out) == 0;
}

/// Writes a small file of @p n frames on interface 0 of @p interfaces, with statistics.
void write_small_file(const std::string& path, std::vector<PcapngInterface> interfaces, int n) {
  std::string error;
  auto w = PcapngWriter::open({path, 0, 0, "fedscope test"}, std::move(interfaces), error);
  ASSERT_NE(w, nullptr) << error;
  for (int i = 0; i < n; ++i) {
    const Bytes b = payload(60 + static_cast<std::size_t>(i), static_cast<std::uint32_t>(i));
    ASSERT_TRUE(w->write(frame_of(b, kBase * kSecond + i * 1000 + 7, 0), error)) << error;
  }
  PcapngInterfaceStats s;
  s.start = Timestamp{kBase * kSecond - kSecond};
  s.end = Timestamp{kBase * kSecond + 10 * kSecond};
  s.received = static_cast<std::uint64_t>(n) + 5;
  s.os_dropped = 2;
  s.delivered = static_cast<std::uint64_t>(n);
  ASSERT_TRUE(w->close({s}, error)) << error;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer → our reader

TEST(PcapngWriterLinktype, ReverseOfTheReadersMapping) {
  EXPECT_EQ(linktype_from_dlt(kDltRawLinux), 101);
  EXPECT_EQ(linktype_from_dlt(14), 101);
  EXPECT_EQ(linktype_from_dlt(kDltEthernet), 1);
  for (int dlt : {0, 1, 12, 108, 113, 276})
    EXPECT_EQ(dlt_from_linktype(static_cast<std::uint32_t>(linktype_from_dlt(dlt))), dlt) << dlt;
}

TEST(PcapngWriter, RoundTripFramesTimesInterfacesAndStatistics) {
  TempDir dir;
  const std::string path = dir.file("out.pcapng");
  std::string error;
  auto w = PcapngWriter::open({path, 0, 0, "fedscope 0.9"}, three_interfaces(), error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_EQ(w->current_path(), path);
  EXPECT_EQ(w->files_started(), 1u);

  struct Sent {
    Bytes data;
    std::int64_t ns;
    std::int32_t interface;
    std::uint32_t wire;
  };
  std::vector<Sent> sent;
  const std::size_t sizes[] = {0, 1, 2, 3, 4, 5, 60, 1499, 1500, 9000};
  for (std::uint32_t i = 0; i < 30; ++i) {
    const std::size_t n = sizes[i % std::size(sizes)];
    Bytes data = payload(n, i);
    // Odd nanoseconds, to see they are not rounded to microseconds.
    const std::int64_t ns = kBase * kSecond + static_cast<std::int64_t>(i) * 123'456'789 + 1;
    const auto interface = static_cast<std::int32_t>(i % 3);
    const std::uint32_t wire = i % 4 == 0 ? static_cast<std::uint32_t>(n) + 100 : 0;
    sent.push_back(Sent{std::move(data), ns, interface, wire});
  }
  for (const Sent& s : sent)
    ASSERT_TRUE(w->write(frame_of(s.data, s.ns, s.interface, s.wire), error)) << error;
  EXPECT_EQ(w->frames_written(), sent.size());

  std::vector<PcapngInterfaceStats> stats(3);
  stats[0].start = Timestamp{kBase * kSecond - 5};
  stats[0].end = Timestamp{kBase * kSecond + 60 * kSecond + 999'999'999};
  stats[0].received = 1000;
  stats[0].if_dropped = 3;
  stats[0].os_dropped = 4;
  stats[0].delivered = 10;
  stats[1].start = Timestamp{kBase * kSecond};
  stats[1].end = Timestamp{kBase * kSecond + 61 * kSecond + 1};  // the latest: end_time
  stats[1].received = 0xFFFFFFFFFFull;                           // beyond 32 bits
  // stats[2]: nothing known, an ISB with no options.
  ASSERT_TRUE(w->close(stats, error)) << error;
  EXPECT_FALSE(w->close(stats, error)) << "a second close is refused";

  const ReadResult r = read_file(path);
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  // The frames given a longer wire length (i % 4 == 0) are counted as cut, and only they.
  EXPECT_EQ(r.anomalies.get("capture.snaplen_truncated"), 8u);
  EXPECT_EQ(r.anomalies.total(), 8u);
  EXPECT_EQ(r.info.truncated, 8u);
  EXPECT_EQ(r.info.format, "pcapng");
  ASSERT_EQ(r.frames.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.frames[i].data, sent[i].data);
    EXPECT_EQ(r.frames[i].ns, sent[i].ns);
    EXPECT_EQ(r.frames[i].interface, sent[i].interface);
    EXPECT_EQ(r.frames[i].number, i + 1);
    EXPECT_EQ(r.frames[i].wire_length, sent[i].wire ? sent[i].wire : sent[i].data.size());
  }
  EXPECT_EQ(r.frames[0].linktype, kDltEthernet);
  EXPECT_EQ(r.frames[1].linktype, kDltSll2);
  EXPECT_EQ(r.frames[2].linktype, kDltRawLinux);

  ASSERT_EQ(r.info.interfaces.size(), 3u);
  const auto& i0 = r.info.interfaces[0];
  EXPECT_EQ(i0.name, "eth0");
  EXPECT_EQ(i0.description, "outside");
  EXPECT_EQ(i0.linktype_name, "EN10MB");
  EXPECT_EQ(i0.snaplen, 262144u);
  EXPECT_EQ(i0.packets, 10u);
  EXPECT_EQ(i0.isb_start, Timestamp{kBase * kSecond - 5});
  EXPECT_EQ(i0.isb_end, stats[0].end);
  EXPECT_EQ(i0.isb_received, 1000u);
  EXPECT_EQ(i0.isb_if_dropped, 3u);
  EXPECT_EQ(i0.isb_os_dropped, 4u);
  const auto& i1 = r.info.interfaces[1];
  EXPECT_EQ(i1.name, "any");
  EXPECT_EQ(i1.description, "");
  EXPECT_EQ(i1.linktype_name, "LINUX_SLL2");
  EXPECT_EQ(i1.isb_received, 0xFFFFFFFFFFull);
  EXPECT_FALSE(i1.isb_if_dropped.has_value());
  EXPECT_FALSE(i1.isb_os_dropped.has_value());
  const auto& i2 = r.info.interfaces[2];
  EXPECT_EQ(i2.name, "tun0");
  EXPECT_EQ(i2.linktype, kDltRawLinux);
  EXPECT_EQ(i2.snaplen, 1500u);
  EXPECT_FALSE(i2.isb_start || i2.isb_end || i2.isb_received || i2.isb_if_dropped ||
               i2.isb_os_dropped);
  ASSERT_TRUE(r.info.end_time.has_value());
  EXPECT_EQ(*r.info.end_time, stats[1].end);
}

TEST(PcapngWriter, ClosedWithoutStatisticsHasNoEndTime) {
  TempDir dir;
  const std::string path = dir.file("a.pcapng");
  std::string error;
  {
    auto w = PcapngWriter::open({path, 0, 0, ""}, three_interfaces(), error);
    ASSERT_NE(w, nullptr) << error;
    const Bytes b = payload(100, 1);
    ASSERT_TRUE(w->write(frame_of(b, kBase * kSecond, 1), error));
    // Destroyed without close(): the buffer still reaches the file.
  }
  const ReadResult r = read_file(path);
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_FALSE(r.info.end_time.has_value());
}

TEST(PcapngWriter, FrameOfAnUnknownInterfaceIsRefusedAndTheWriterGoesOn) {
  TempDir dir;
  const std::string path = dir.file("a.pcapng");
  std::string error;
  auto w = PcapngWriter::open({path, 0, 0, ""}, {{"eth0", "", kDltEthernet, 0}}, error);
  ASSERT_NE(w, nullptr) << error;
  const Bytes b = payload(10, 1);
  EXPECT_FALSE(w->write(frame_of(b, kBase * kSecond, 1), error));
  EXPECT_NE(error.find("interface 1"), std::string::npos) << error;
  EXPECT_FALSE(w->write(frame_of(b, kBase * kSecond, -1), error));
  EXPECT_TRUE(w->write(frame_of(b, kBase * kSecond, 0), error)) << error;
  EXPECT_TRUE(w->close({}, error)) << error;
  EXPECT_EQ(read_file(path).frames.size(), 1u);
}

TEST(PcapngWriter, InterfacesAddedWhileWritingReadBack) {
  // Start without interfaces, add them as frames need them (tui/extract does): the IDBs come
  // between the packets, each before its first packet.
  TempDir dir;
  const std::string path = dir.file("added.pcapng");
  std::string error;
  auto w = PcapngWriter::open({path, 0, 0, ""}, {}, error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_EQ(w->add_interface({"eth0", "outside", kDltEthernet, 262144}, error), 0) << error;
  const Bytes a = payload(60, 1), b = payload(40, 2), c = payload(61, 3);
  EXPECT_TRUE(w->write(frame_of(a, kBase * kSecond, 0), error)) << error;
  EXPECT_EQ(w->add_interface({"tun0", "", kDltRawLinux, 1500}, error), 1) << error;
  EXPECT_TRUE(w->write(frame_of(b, kBase * kSecond + 1, 1), error)) << error;
  EXPECT_TRUE(w->write(frame_of(c, kBase * kSecond + 2, 0), error)) << error;
  EXPECT_TRUE(w->close({}, error)) << error;
  EXPECT_EQ(w->add_interface({"late", "", kDltEthernet, 0}, error), -1);
  EXPECT_NE(error.find("already closed"), std::string::npos) << error;
  const ReadResult r = read_file(path);
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_EQ(r.info.interfaces[0].name, "eth0");
  EXPECT_EQ(r.info.interfaces[1].name, "tun0");
  EXPECT_EQ(r.info.interfaces[1].snaplen, 1500u);
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].interface, 0);
  EXPECT_EQ(r.frames[1].interface, 1);
  EXPECT_EQ(r.frames[1].linktype, kDltRawLinux);
  EXPECT_EQ(r.frames[2].interface, 0);
  EXPECT_EQ(r.frames[1].data, b);
}

// ---------------------------------------------------------------------------------------------
// Rotation

namespace {

struct RotationResult {
  std::uint64_t files_started = 0;
  std::vector<std::string> paths_seen;  ///< current_path() after every write, deduplicated
};

/// Writes @p frames frames of 200 bytes (seed = index) with rotation, passing statistics on
/// every write so that closed files get their ISBs.
RotationResult write_rotating(const PcapngWriterOptions& options, int frames) {
  RotationResult out;
  std::string error;
  auto w = PcapngWriter::open(options, {{"eth0", "", kDltEthernet, 262144}}, error);
  EXPECT_NE(w, nullptr) << error;
  if (!w) return out;
  out.paths_seen.push_back(w->current_path());
  for (int i = 0; i < frames; ++i) {
    const Bytes b = payload(200, static_cast<std::uint32_t>(i));
    PcapngInterfaceStats s;
    s.start = Timestamp{kBase * kSecond};
    s.end = Timestamp{kBase * kSecond + i * kSecond};
    s.received = static_cast<std::uint64_t>(i);
    EXPECT_TRUE(w->write(frame_of(b, kBase * kSecond + i * kSecond, 0), {s}, error)) << error;
    if (out.paths_seen.back() != w->current_path()) out.paths_seen.push_back(w->current_path());
  }
  EXPECT_EQ(w->frames_written(), static_cast<std::uint64_t>(frames));
  out.files_started = w->files_started();
  PcapngInterfaceStats s;
  s.end = Timestamp{kBase * kSecond + frames * kSecond};
  EXPECT_TRUE(w->close({s}, error)) << error;
  return out;
}

}  // namespace

TEST(PcapngWriterRotation, WithoutRingNamesPathPath1Path2) {
  TempDir dir;
  const std::string base = dir.file("cap.pcapng");
  constexpr std::uint64_t kLimit = 3000;
  const RotationResult rr = write_rotating({base, kLimit, 0, "t"}, 50);
  ASSERT_GE(rr.files_started, 4u);
  ASSERT_EQ(rr.paths_seen.size(), rr.files_started);
  std::uint64_t total = 0;
  std::uint32_t next_seed = 0;
  for (std::uint64_t k = 0; k < rr.files_started; ++k) {
    const std::string path = k == 0 ? base : base + std::to_string(k);
    SCOPED_TRACE(path);
    EXPECT_EQ(rr.paths_seen[k], path);
    ASSERT_TRUE(fs::exists(path));
    EXPECT_LE(fs::file_size(path), kLimit) << "ISBs included";
    const ReadResult r = read_file(path);
    ASSERT_TRUE(r.opened) << r.open_error;
    EXPECT_TRUE(r.info.complete) << r.info.error;
    EXPECT_EQ(r.anomalies.total(), 0u);
    EXPECT_FALSE(r.frames.empty());
    for (const Got& g : r.frames)
      EXPECT_EQ(seed_of(g.data), next_seed++) << "frames in order, none lost or repeated";
    // Every closed file has its ISB: end_time is the time of the frame that did not fit.
    ASSERT_TRUE(r.info.end_time.has_value());
    if (k + 1 < rr.files_started) {
      EXPECT_EQ(r.info.end_time->ns, kBase * kSecond + next_seed * kSecond);
    }
    total += r.frames.size();
  }
  EXPECT_EQ(total, 50u);
  EXPECT_FALSE(fs::exists(base + "0"));
  EXPECT_FALSE(fs::exists(base + std::to_string(rr.files_started)));
}

TEST(PcapngWriterRotation, RingOverwritesAndKeepsNFiles) {
  TempDir dir;
  const std::string base = dir.file("ring.pcapng");
  const RotationResult rr = write_rotating({base, 3000, 3, "t"}, 60);
  ASSERT_GT(rr.files_started, 3u) << "the ring must have wrapped";
  EXPECT_EQ(rr.paths_seen[0], base + "0");
  EXPECT_EQ(rr.paths_seen[1], base + "1");
  EXPECT_EQ(rr.paths_seen[3], base + "0");
  EXPECT_FALSE(fs::exists(base));
  EXPECT_FALSE(fs::exists(base + "3"));
  std::set<std::uint32_t> seeds;
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    const ReadResult r = read_file(e.path().string());
    ASSERT_TRUE(r.opened) << r.open_error;
    EXPECT_TRUE(r.info.complete) << r.info.error;
    for (const Got& g : r.frames)
      seeds.insert(seed_of(g.data));
  }
  EXPECT_EQ(files, 3u);
  // The survivors are the newest frames, contiguous up to the last one.
  ASSERT_FALSE(seeds.empty());
  EXPECT_EQ(*seeds.rbegin(), 59u);
  EXPECT_EQ(*seeds.rbegin() - *seeds.begin() + 1, seeds.size());
  EXPECT_GT(*seeds.begin(), 0u) << "the oldest files were overwritten";
}

TEST(PcapngWriterRotation, RingNamesArePaddedToTheDigitsOfNMinusOne) {
  TempDir dir;
  const std::string base = dir.file("r");
  const RotationResult rr = write_rotating({base, 600, 11, ""}, 13);
  ASSERT_EQ(rr.files_started, 13u) << "one frame per file at this limit";
  EXPECT_EQ(rr.paths_seen[0], base + "00");
  EXPECT_EQ(rr.paths_seen[9], base + "09");
  EXPECT_EQ(rr.paths_seen[10], base + "10");
  EXPECT_EQ(rr.paths_seen[11], base + "00");
  EXPECT_EQ(rr.paths_seen[12], base + "01");
  EXPECT_FALSE(fs::exists(base + "11"));
  EXPECT_FALSE(fs::exists(base + "0"));
  // -W 1: tcpdump's width is 0, so the one file is PATH0.
  TempDir dir1;
  const RotationResult one = write_rotating({dir1.file("x"), 600, 1, ""}, 3);
  EXPECT_EQ(one.paths_seen.back(), dir1.file("x0"));
  EXPECT_EQ(read_file(dir1.file("x0")).frames.size(), 1u);
}

TEST(PcapngWriterRotation, FrameLargerThanTheLimitStillWritten) {
  TempDir dir;
  const std::string base = dir.file("big");
  const RotationResult rr = write_rotating({base, 100, 0, ""}, 3);
  EXPECT_EQ(rr.files_started, 3u);
  for (const std::string& p : {base, base + "1", base + "2"})
    EXPECT_EQ(read_file(p).frames.size(), 1u) << p;
}

TEST(PcapngWriterRotation, MaxFilesWithoutSizeIsOneFile) {
  TempDir dir;
  const std::string base = dir.file("one");
  const RotationResult rr = write_rotating({base, 0, 5, ""}, 20);
  EXPECT_EQ(rr.files_started, 1u);
  EXPECT_EQ(read_file(base).frames.size(), 20u);
}

// ---------------------------------------------------------------------------------------------
// Errors as values

TEST(PcapngWriterErrors, DirectoryThatDoesNotExist) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/out.pcapng");
  std::string error;
  EXPECT_EQ(PcapngWriter::open({path, 0, 0, ""}, three_interfaces(), error), nullptr);
  EXPECT_EQ(error, path + ": No such file or directory");
}

TEST(PcapngWriterErrors, FullDiskIsKnownAtOpen) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  std::string error;
  EXPECT_EQ(PcapngWriter::open({"/dev/full", 0, 0, ""}, three_interfaces(), error), nullptr);
  EXPECT_EQ(error, "/dev/full: No space left on device");
}

TEST(PcapngWriterErrors, WriteFailureStopsTheWriter) {
  // A file size limit makes write(2) fail with EFBIG part-way, as a full disk would.
  TempDir dir;
  const std::string path = dir.file("limited.pcapng");
  std::string error;
  auto w = PcapngWriter::open({path, 0, 0, ""}, three_interfaces(), error);
  ASSERT_NE(w, nullptr) << error;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 100'000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  bool failed = false;
  int written = 0;
  const Bytes b = payload(1400, 1);
  for (int i = 0; i < 1000 && !failed; ++i) {
    if (w->write(frame_of(b, kBase * kSecond + i, 0), error))
      ++written;
    else
      failed = true;
  }
  if (!failed) failed = !w->flush(error);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(failed);
  EXPECT_EQ(error, path + ": File too large");
  std::string again;
  EXPECT_FALSE(w->write(frame_of(b, kBase * kSecond, 0), again));
  EXPECT_EQ(again, error) << "later calls say the same";
  EXPECT_FALSE(w->flush(again));
  EXPECT_FALSE(w->close({}, again));
  EXPECT_EQ(again, error);
  // What reached the file before is still a readable capture (cut at the end).
  const ReadResult r = read_file(path);
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_GT(r.frames.size(), 0u);
  EXPECT_LE(r.frames.size(), static_cast<std::size_t>(written));
}

TEST(PcapngWriterErrors, RotationIntoARemovedDirectory) {
  TempDir dir;
  const std::string sub = dir.file("sub");
  fs::create_directory(sub);
  const std::string base = sub + "/cap";
  std::string error;
  auto w = PcapngWriter::open({base, 600, 0, ""}, {{"eth0", "", kDltEthernet, 0}}, error);
  ASSERT_NE(w, nullptr) << error;
  const Bytes b = payload(200, 1);
  ASSERT_TRUE(w->write(frame_of(b, kBase * kSecond, 0), error)) << error;
  fs::remove_all(sub);
  EXPECT_FALSE(w->write(frame_of(b, kBase * kSecond + 1, 0), error));
  EXPECT_EQ(error, base + "1: No such file or directory");
  EXPECT_FALSE(w->close({}, error));
}

// ---------------------------------------------------------------------------------------------
// Other readers of what we write

TEST(PcapngWriterInterop, CapinfosReadsIt) {
  if (!have_program("capinfos")) GTEST_SKIP() << "capinfos is not installed";
  TempDir dir;
  const std::string path = dir.file("c.pcapng");
  write_small_file(path, three_interfaces(), 7);
  std::string out;
  ASSERT_EQ(run("capinfos -c -M '" + path + "' 2>&1", out), 0) << out;
  EXPECT_NE(out.find("Number of packets:   7"), std::string::npos) << out;
  EXPECT_EQ(out.find("appears to be damaged"), std::string::npos) << out;
}

TEST(PcapngWriterInterop, TsharkReadsFramesInterfacesAndNanoseconds) {
  if (!have_program("tshark")) GTEST_SKIP() << "tshark is not installed";
  TempDir dir;
  const std::string path = dir.file("t.pcapng");
  write_small_file(path, three_interfaces(), 3);
  std::string out;
  // Nothing said about the file on standard error but the warning about running as root.
  ASSERT_EQ(run("tshark -r '" + path + "' -q 2>&1 | grep -v 'Running as user'", out), 1) << out;
  ASSERT_EQ(run("tshark -r '" + path +
                    "' -T fields -e frame.number -e frame.time_epoch -e frame.interface_name "
                    "-e frame.len 2>/dev/null",
                out),
            0)
      << out;
  EXPECT_EQ(out,
            "1\t1795600800.000000007\teth0\t60\n"
            "2\t1795600800.000001007\teth0\t61\n"
            "3\t1795600800.000002007\teth0\t62\n");
}

TEST(PcapngWriterInterop, TcpdumpReadsIt) {
  if (!have_program("tcpdump")) GTEST_SKIP() << "tcpdump is not installed";
  TempDir dir;
  const std::string path = dir.file("d.pcapng");
  // libpcap takes pcapng whose interfaces share link type and snaplen.
  write_small_file(path, {{"eth0", "", kDltEthernet, 262144}, {"eth1", "", kDltEthernet, 262144}},
                   5);
  std::string out;
  ASSERT_EQ(run("tcpdump -nn --count -r '" + path + "' 2>&1", out), 0) << out;
  EXPECT_NE(out.find("5 packets"), std::string::npos) << out;
}

TEST(PcapngWriterInterop, EveryRotatedFileReadsInCapinfos) {
  if (!have_program("capinfos")) GTEST_SKIP() << "capinfos is not installed";
  TempDir dir;
  const std::string base = dir.file("rot.pcapng");
  const RotationResult rr = write_rotating({base, 3000, 3, "t"}, 40);
  ASSERT_GE(rr.files_started, 3u);
  std::uint64_t total = 0;
  for (int k = 0; k < 3; ++k) {
    const std::string path = base + std::to_string(k);
    std::string out;
    ASSERT_EQ(run("capinfos -c -M '" + path + "' 2>&1", out), 0) << path << "\n" << out;
    const auto at = out.find("Number of packets:");
    ASSERT_NE(at, std::string::npos) << out;
    total += std::strtoull(out.c_str() + at + std::strlen("Number of packets:"), nullptr, 10);
    EXPECT_EQ(read_file(path).frames.size(),
              std::strtoull(out.c_str() + at + std::strlen("Number of packets:"), nullptr, 10));
  }
  EXPECT_GT(total, 0u);
}

// ---------------------------------------------------------------------------------------------
// The reader's Interface Statistics Blocks, hand-made

namespace {

/// Little-endian pcapng blocks.
class Blocks {
 public:
  Blocks& shb() {
    Bytes b;
    put32(b, 0x1A2B3C4D);
    put16(b, 1);
    put16(b, 0);
    put64(b, ~std::uint64_t{0});
    return block(0x0A0D0D0A, b);
  }
  /// An IDB without if_tsresol: microseconds.
  Blocks& idb() {
    Bytes b;
    put16(b, 1);
    put16(b, 0);
    put32(b, 0);
    return block(1, b);
  }
  Blocks& epb(std::uint32_t if_id, std::uint64_t ts) {
    Bytes b;
    put32(b, if_id);
    put32(b, static_cast<std::uint32_t>(ts >> 32));
    put32(b, static_cast<std::uint32_t>(ts));
    put32(b, 4);
    put32(b, 4);
    put32(b, 0xdeadbeef);
    return block(6, b);
  }
  /// An ISB; @p options is the raw option area.
  Blocks& isb(std::uint32_t if_id, const Bytes& options, std::uint64_t ts = 0) {
    Bytes b;
    put32(b, if_id);
    put32(b, static_cast<std::uint32_t>(ts >> 32));
    put32(b, static_cast<std::uint32_t>(ts));
    b.insert(b.end(), options.begin(), options.end());
    return block(5, b);
  }
  Blocks& block(std::uint32_t type, Bytes body) {
    while (body.size() % 4)
      body.push_back(0);
    const auto total = static_cast<std::uint32_t>(body.size() + 12);
    put32(out_, type);
    put32(out_, total);
    out_.insert(out_.end(), body.begin(), body.end());
    put32(out_, total);
    return *this;
  }
  static void put16(Bytes& b, std::uint16_t v) {
    for (int i = 0; i < 2; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  static void put32(Bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  static void put64(Bytes& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  /// One option: code, length, value padded.
  static void opt(Bytes& b, std::uint16_t code, const Bytes& value) {
    put16(b, code);
    put16(b, static_cast<std::uint16_t>(value.size()));
    b.insert(b.end(), value.begin(), value.end());
    while (b.size() % 4)
      b.push_back(0);
  }
  static void opt_u64(Bytes& b, std::uint16_t code, std::uint64_t v) {
    Bytes value;
    put64(value, v);
    opt(b, code, value);
  }
  static void opt_ts(Bytes& b, std::uint16_t code, std::uint64_t v) {
    Bytes value;
    put32(value, static_cast<std::uint32_t>(v >> 32));
    put32(value, static_cast<std::uint32_t>(v));
    opt(b, code, value);
  }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

ReadResult read_bytes(const Bytes& bytes) {
  TempDir dir;
  const std::string path = dir.file("isb.pcapng");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return read_file(path);
}

constexpr std::uint64_t kUs = static_cast<std::uint64_t>(kBase) * 1'000'000;  // in if_tsresol 6

}  // namespace

TEST(PcapngReaderIsb, OptionsInTheInterfacesResolution) {
  Bytes o;
  Blocks::opt_ts(o, 2, kUs + 1);
  Blocks::opt_ts(o, 3, kUs + 2'000'001);
  Blocks::opt_u64(o, 4, 10);
  Blocks::opt_u64(o, 5, 11);
  Blocks::opt_u64(o, 7, 12);
  Blocks::opt_u64(o, 8, 13);  // isb_usrdeliv: read past, not kept
  Blocks::put32(o, 0);
  Blocks b;
  b.shb().idb().idb().epb(0, kUs).isb(1, o);
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  EXPECT_EQ(r.anomalies.total(), 0u);
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_FALSE(r.info.interfaces[0].isb_end.has_value());
  const InterfaceInfo& i = r.info.interfaces[1];
  EXPECT_EQ(i.isb_start, Timestamp{kBase * kSecond + 1000});
  EXPECT_EQ(i.isb_end, Timestamp{kBase * kSecond + 2 * kSecond + 1000});
  EXPECT_EQ(i.isb_received, 10u);
  EXPECT_EQ(i.isb_if_dropped, 11u);
  EXPECT_EQ(i.isb_os_dropped, 12u);
  EXPECT_EQ(r.info.end_time, i.isb_end);
}

TEST(PcapngReaderIsb, UnknownInterfaceIsAnAnomaly) {
  Bytes o;
  Blocks::opt_u64(o, 4, 10);
  Blocks b;
  b.shb().idb().epb(0, kUs).isb(7, o).epb(0, kUs + 1);
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_isb_bad_interface"), 1u);
  EXPECT_FALSE(r.info.interfaces[0].isb_received.has_value());
  EXPECT_FALSE(r.info.end_time.has_value());
}

TEST(PcapngReaderIsb, NoOptionsAndTheLastIsbWins) {
  Bytes o;
  Blocks::opt_ts(o, 3, kUs + 5);
  Blocks::opt_u64(o, 4, 10);
  Blocks b;
  b.shb().idb().epb(0, kUs).isb(0, o);
  {
    const ReadResult r = read_bytes(b.bytes());
    EXPECT_EQ(r.info.interfaces.at(0).isb_received, 10u);
    EXPECT_EQ(r.info.end_time, Timestamp{kBase * kSecond + 5000});
  }
  b.isb(0, {});  // a later ISB without options: nothing is known any more
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete);
  EXPECT_EQ(r.anomalies.total(), 0u);
  EXPECT_FALSE(r.info.interfaces.at(0).isb_received.has_value());
  EXPECT_FALSE(r.info.interfaces.at(0).isb_end.has_value());
  EXPECT_FALSE(r.info.end_time.has_value());
}

TEST(PcapngReaderIsb, TruncatedAndMalformedOptions) {
  // isb_ifrecv, then an option claiming 100 bytes that the block does not have.
  Bytes cut;
  Blocks::opt_u64(cut, 4, 10);
  Blocks::put16(cut, 5);
  Blocks::put16(cut, 100);
  Blocks::put64(cut, 1);
  // isb_ifdrop of 4 bytes instead of 8, isb_endtime of 2 bytes.
  Bytes bad;
  Blocks::opt(bad, 5, Bytes{1, 2, 3, 4});
  Blocks::opt(bad, 3, Bytes{1, 2});
  Blocks::opt_u64(bad, 7, 9);
  Blocks b;
  b.shb().idb().idb().isb(0, cut).isb(1, bad).epb(1, kUs);
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_option"), 3u);
  EXPECT_EQ(r.info.interfaces.at(0).isb_received, 10u) << "options before the cut are kept";
  EXPECT_FALSE(r.info.interfaces.at(0).isb_if_dropped.has_value());
  EXPECT_FALSE(r.info.interfaces.at(1).isb_if_dropped.has_value());
  EXPECT_FALSE(r.info.interfaces.at(1).isb_end.has_value());
  EXPECT_EQ(r.info.interfaces.at(1).isb_os_dropped, 9u);
}

TEST(PcapngReaderIsb, TooShortIsAnAnomalyNotDamage) {
  Blocks b;
  b.shb().idb().block(5, Bytes{0, 0, 0, 0}).epb(0, kUs);
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_isb"), 1u);
}

TEST(PcapngReaderIsb, SecondSectionIdsAreItsOwn) {
  Bytes o;
  Blocks::opt_u64(o, 4, 42);
  Blocks b;
  b.shb().idb().shb().idb().isb(0, o);  // id 0 of section 2 is FileInfo::interfaces[1]
  const ReadResult r = read_bytes(b.bytes());
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_FALSE(r.info.interfaces[0].isb_received.has_value());
  EXPECT_EQ(r.info.interfaces[1].isb_received, 42u);
}

// ---------------------------------------------------------------------------------------------
// LiveCapture and drop_privileges without a network namespace

TEST(LiveCaptureOpen, NoInterfaceAndTwiceTheSame) {
  std::string error;
  EXPECT_EQ(LiveCapture::open(LiveOptions{}, error), nullptr);
  EXPECT_EQ(error, "no interface to capture on");
  LiveOptions o;
  o.interfaces = {"lo", "lo"};
  EXPECT_EQ(LiveCapture::open(o, error), nullptr);
  EXPECT_EQ(error, "lo: given twice");
}

TEST(LiveCaptureOpen, NoSuchDevice) {
  LiveOptions o;
  o.interfaces = {"fedscope-nx9"};
  std::string error;
  EXPECT_EQ(LiveCapture::open(o, error), nullptr);
  // Also without the right to capture (libpcap says "permission denied" then).
  EXPECT_EQ(error, "fedscope-nx9: no such device (ip link lists the interfaces)");
}

TEST(LiveCaptureOpen, BadFilter) {
  if (::geteuid() != 0) GTEST_SKIP() << "opening lo needs root";
  LiveOptions o;
  o.interfaces = {"lo"};
  o.filter = "tcp prot 5269";
  std::string error;
  EXPECT_EQ(LiveCapture::open(o, error), nullptr);
  EXPECT_EQ(error.rfind("filter: ", 0), 0u) << error;
  EXPECT_NE(error.find("syntax error"), std::string::npos) << error;
  EXPECT_NE(error.find(" in 'tcp prot 5269'"), std::string::npos) << error;
}

TEST(LiveCaptureOpen, DefaultFilterCompilesAndLoOpens) {
  if (::geteuid() != 0) GTEST_SKIP() << "opening lo needs root";
  LiveOptions o;
  o.interfaces = {"lo"};
  o.filter = kDefaultLiveFilter;
  std::string error;
  auto live = LiveCapture::open(o, error);
  ASSERT_NE(live, nullptr) << error;
  ASSERT_EQ(live->interfaces().size(), 1u);
  EXPECT_EQ(live->interfaces()[0].name, "lo");
  EXPECT_EQ(live->interfaces()[0].linktype_name, "EN10MB");
  EXPECT_EQ(live->interfaces()[0].snaplen, 262144u);
  EXPECT_GT(live->interfaces()[0].opened.ns, kBase * kSecond - 365 * 86400 * kSecond);
  EXPECT_GE(live->poll(0, [](const Frame&) {}), 0);
  live->update_stats();
}

TEST(LiveCaptureOpen, PermissionDeniedAfterDroppingRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop";
  if (!::getpwnam("nobody")) GTEST_SKIP() << "no user nobody";
  // In a child: drop_privileges is for good.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string error, out;
    if (!drop_privileges("nobody", error)) {
      out = "drop: " + error;
    } else if (::getuid() != ::getpwnam("nobody")->pw_uid || ::setuid(0) == 0) {
      out = "drop: still root";
    } else {
      LiveOptions o;
      o.interfaces = {"lo"};
      out = LiveCapture::open(o, error) ? "opened" : error;
    }
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(got,
            "lo: permission denied: capturing needs root or CAP_NET_RAW (e.g. setcap "
            "cap_net_raw+ep)");
}

TEST(DropPrivileges, NoSuchUser) {
  std::string error;
  EXPECT_FALSE(drop_privileges("fedscope-nosuchuser", error));
  EXPECT_EQ(error, "-Z fedscope-nosuchuser: no such user");
  EXPECT_EQ(::geteuid() == 0, ::getuid() == 0) << "nothing changed";
}

TEST(DropPrivileges, NotRootAndAnotherUser) {
  if (::geteuid() == 0) GTEST_SKIP() << "runs as root";
  std::string error;
  const passwd* me = ::getpwuid(::getuid());
  ASSERT_NE(me, nullptr);
  const std::string my_name = me->pw_name;
  EXPECT_TRUE(drop_privileges(my_name, error)) << error;
  EXPECT_FALSE(drop_privileges("root", error));
  EXPECT_NE(error.find("only root can change to another user"), std::string::npos) << error;
}
