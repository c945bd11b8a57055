// Follow mode (`tail -f`): a writer thread appends a capture in pieces, with pauses, cutting
// records in the middle, while a reader follows the file; the reader must get every frame in
// order with no anomaly, and request_stop() must end it promptly. Every loop is bounded by count
// and time, and a watchdog stops the reader, so a failing test fails instead of hanging.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fedscope/capture/reader.hpp"

using namespace fedscope;
using namespace fedscope::capture;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

constexpr int kFrames = 24;
constexpr auto kPoll = 5ms;
/// Whatever happens, a test's reader is stopped after this long.
constexpr auto kWatchdog = 5s;

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

/// Frame @p i's bytes: a raw IPv4 header-ish payload whose length and content depend on i.
Bytes payload(int i) {
  Bytes p(static_cast<std::size_t>(40 + 13 * i), 0);
  for (std::size_t k = 0; k < p.size(); ++k)
    p[k] = static_cast<std::uint8_t>(i * 7 + static_cast<int>(k));
  return p;
}
std::int64_t time_ns(int i) {
  return 1'700'000'000'000'000'000 + i * 1'000'000;
}

/// A classic pcap header (nanosecond magic, LINKTYPE_RAW) and its records, each record's end
/// offset in @p ends.
Bytes pcap_bytes(int frames, std::vector<std::size_t>& ends) {
  Bytes b;
  put32(b, 0xA1B23C4D);
  put16(b, 2);
  put16(b, 4);
  put32(b, 0);
  put32(b, 0);
  put32(b, 65535);
  put32(b, 101);
  ends.push_back(b.size());
  for (int i = 0; i < frames; ++i) {
    const Bytes p = payload(i);
    put32(b, static_cast<std::uint32_t>(time_ns(i) / 1'000'000'000));
    put32(b, static_cast<std::uint32_t>(time_ns(i) % 1'000'000'000));
    put32(b, static_cast<std::uint32_t>(p.size()));
    put32(b, static_cast<std::uint32_t>(p.size()));
    b.insert(b.end(), p.begin(), p.end());
    ends.push_back(b.size());
  }
  return b;
}

void block(Bytes& b, std::uint32_t type, const Bytes& body) {
  const auto len = static_cast<std::uint32_t>(12 + body.size());
  put32(b, type);
  put32(b, len);
  b.insert(b.end(), body.begin(), body.end());
  put32(b, len);
}

/// SHB + IDB (LINKTYPE_RAW, if_tsresol 9) and one EPB per frame; @p ends as for pcap_bytes.
Bytes pcapng_bytes(int frames, std::vector<std::size_t>& ends) {
  Bytes b, shb, idb;
  put32(shb, 0x1A2B3C4D);
  put16(shb, 1);
  put16(shb, 0);
  put32(shb, 0xffffffff);
  put32(shb, 0xffffffff);
  block(b, 0x0A0D0D0A, shb);
  put16(idb, 101);
  put16(idb, 0);
  put32(idb, 0);
  put16(idb, 9);  // if_tsresol: nanoseconds
  put16(idb, 1);
  idb.insert(idb.end(), {9, 0, 0, 0});
  put32(idb, 0);  // opt_endofopt
  block(b, 1, idb);
  ends.push_back(b.size());
  for (int i = 0; i < frames; ++i) {
    Bytes epb;
    const Bytes p = payload(i);
    const auto t = static_cast<std::uint64_t>(time_ns(i));
    put32(epb, 0);
    put32(epb, static_cast<std::uint32_t>(t >> 32));
    put32(epb, static_cast<std::uint32_t>(t));
    put32(epb, static_cast<std::uint32_t>(p.size()));
    put32(epb, static_cast<std::uint32_t>(p.size()));
    epb.insert(epb.end(), p.begin(), p.end());
    while (epb.size() % 4 != 0)
      epb.push_back(0);
    block(b, 6, epb);
    ends.push_back(b.size());
  }
  return b;
}

/// gzip of @p raw as a writer that flushes now and then makes it: the compressed bytes of
/// each piece [cuts[i], cuts[i+1]) are complete for inflate (Z_SYNC_FLUSH), the last finishes.
Bytes gzip_bytes(const Bytes& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(raw.size() + 1024);
  zs.next_in = const_cast<Bytes::value_type*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class TempFile {
 public:
  explicit TempFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("fedscope_follow_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove(path_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    std::filesystem::remove(path_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }
  void append(const Bytes& b, std::size_t from, std::size_t to) {
    ASSERT_LE(to, b.size());
    std::size_t at = from;
    while (at < to) {
      const ssize_t n = ::write(fd_, b.data() + at, to - at);
      ASSERT_GT(n, 0);
      at += static_cast<std::size_t>(n);
    }
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// Cut points for the writer: the header alone, then pieces that end in the middle of records
/// (a third and two thirds into the record) as well as on record boundaries.
std::vector<std::size_t> cuts_of(const std::vector<std::size_t>& ends, std::size_t total) {
  std::vector<std::size_t> cuts{ends.front() / 2, ends.front()};
  for (std::size_t i = 1; i < ends.size(); ++i) {
    const std::size_t a = ends[i - 1], len = ends[i] - a;
    if (i % 3 == 0) cuts.push_back(a + 1);
    if (i % 2 == 0) cuts.push_back(a + len / 3);
    if (i % 4 != 1) cuts.push_back(a + 2 * len / 3);
    if (i % 5 != 0) cuts.push_back(ends[i]);
  }
  cuts.push_back(total);
  return cuts;
}

struct Followed {
  std::vector<std::int64_t> times;
  std::vector<Bytes> data;
  bool opened = false;
  std::string error;
  FileInfo info;
  std::uint64_t anomalies = 0;
  bool saw_waiting = false;
  std::chrono::milliseconds stop_to_end{0};
};

/// Writes @p bytes to a file in the pieces @p cuts with a pause after each, while a MergedReader
/// follows it; stops once @p expect frames are read (or the watchdog fires).
Followed follow_while_writing(const std::string& name, const Bytes& bytes,
                              const std::vector<std::size_t>& cuts, int expect) {
  TempFile file(name);
  FollowControl control(kPoll);
  Followed got;
  std::thread writer([&] {
    std::size_t from = 0;
    for (const std::size_t to : cuts) {
      if (control.stop_requested()) return;
      file.append(bytes, from, to);
      from = to;
      std::this_thread::sleep_for(8ms);  // longer than the poll: the reader meets the end
    }
  });
  std::atomic<bool> done{false}, saw_waiting{false};
  std::thread watchdog([&] {
    // Also looks, as a UI would from its own thread, whether the reader is waiting.
    const auto until = Clock::now() + kWatchdog;
    while (!done && Clock::now() < until) {
      if (control.waiting()) saw_waiting = true;
      std::this_thread::sleep_for(1ms);
    }
    control.request_stop();
  });
  MergedReader reader;
  got.opened = reader.open({file.path()}, got.error, &control);
  Frame f;
  Clock::time_point stop_at{};
  // At most expect + 1 frames: one more would be a frame that should not exist.
  for (int i = 0; got.opened && i <= expect; ++i) {
    if (static_cast<int>(got.times.size()) == expect) {
      stop_at = Clock::now();
      control.request_stop();
    }
    if (!reader.next(f)) break;
    got.times.push_back(f.time.ns);
    got.data.emplace_back(f.data.begin(), f.data.end());
  }
  if (stop_at != Clock::time_point{})
    got.stop_to_end = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_at);
  done = true;
  watchdog.join();
  writer.join();
  got.saw_waiting = saw_waiting;
  if (got.opened) {
    got.info = reader.files().front();
    got.anomalies = reader.anomalies().total();
  }
  return got;
}

void expect_all_frames(const Followed& got, int frames) {
  ASSERT_TRUE(got.opened) << got.error;
  ASSERT_EQ(got.times.size(), static_cast<std::size_t>(frames));
  for (int i = 0; i < frames; ++i) {
    EXPECT_EQ(got.times[static_cast<std::size_t>(i)], time_ns(i)) << "frame " << i;
    EXPECT_EQ(got.data[static_cast<std::size_t>(i)], payload(i)) << "frame " << i;
  }
  EXPECT_TRUE(got.info.complete) << got.info.error;
  EXPECT_EQ(got.info.error, "");
  EXPECT_EQ(got.anomalies, 0u);
  EXPECT_EQ(got.info.packets, static_cast<std::uint64_t>(frames));
  EXPECT_LT(got.stop_to_end, 1000ms) << "stop must end the reading promptly";
}

TEST(CaptureFollow, PcapngWrittenInPiecesIsReadWhole) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcapng_bytes(kFrames, ends);
  const Followed got =
      follow_while_writing("pieces.pcapng", bytes, cuts_of(ends, bytes.size()), kFrames);
  expect_all_frames(got, kFrames);
  EXPECT_TRUE(got.saw_waiting);
  EXPECT_EQ(got.info.format, "pcapng");
  ASSERT_EQ(got.info.interfaces.size(), 1u);
}

TEST(CaptureFollow, ClassicPcapWrittenInPiecesIsReadWhole) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcap_bytes(kFrames, ends);
  const Followed got =
      follow_while_writing("pieces.pcap", bytes, cuts_of(ends, bytes.size()), kFrames);
  expect_all_frames(got, kFrames);
  EXPECT_EQ(got.info.format, "pcap");
}

TEST(CaptureFollow, GzipWrittenInPiecesIsReadWhole) {
  std::vector<std::size_t> ends;
  const Bytes gz = gzip_bytes(pcapng_bytes(kFrames, ends));
  // Compressed pieces cut anywhere: the decoder waits for the rest like the block reader does.
  std::vector<std::size_t> cuts;
  for (std::size_t at = 7; at < gz.size(); at += 61)
    cuts.push_back(at);
  cuts.push_back(gz.size());
  const Followed got = follow_while_writing("pieces.pcapng.gz", gz, cuts, kFrames);
  expect_all_frames(got, kFrames);
  EXPECT_EQ(got.info.compression, "gzip");
}

/// The writer stops half-way into a record and never finishes it; stop ends the reading, the
/// half record is not returned and not damage.
void stop_in_half_record(const std::string& name, const Bytes& bytes,
                         const std::vector<std::size_t>& ends) {
  const std::size_t half = ends[3] + (ends[4] - ends[3]) / 2;
  const Followed got = follow_while_writing(name, bytes, {half}, 3);
  expect_all_frames(got, 3);
}

TEST(CaptureFollow, StopInAHalfWrittenPcapngRecordIsACleanEnd) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcapng_bytes(6, ends);
  stop_in_half_record("half.pcapng", bytes, ends);
}

TEST(CaptureFollow, StopInAHalfWrittenPcapRecordIsACleanEnd) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcap_bytes(6, ends);
  stop_in_half_record("half.pcap", bytes, ends);
}

TEST(CaptureFollow, WithoutFollowAHalfWrittenRecordIsStillDamage) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcapng_bytes(6, ends);
  TempFile file("nofollow.pcapng");
  file.append(bytes, 0, ends[3] + 5);
  MergedReader reader;
  std::string error;
  ASSERT_TRUE(reader.open({file.path()}, error)) << error;
  Frame f;
  int n = 0;
  while (n < 10 && reader.next(f))
    ++n;
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(reader.files().front().complete);
  EXPECT_EQ(reader.anomalies().get("capture.damaged_record"), 1u);
}

TEST(CaptureFollow, StopWhileWaitingForTheHeaderFailsTheOpen) {
  TempFile file("empty.pcap");
  FollowControl control(kPoll);
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    control.request_stop();
  });
  std::string error;
  const auto start = Clock::now();
  auto r = FileReader::open(file.path(), 0, error, &control);
  stopper.join();
  EXPECT_EQ(r, nullptr);
  EXPECT_NE(error.find("stopped before the writer had written the capture's header"),
            std::string::npos)
      << error;
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(CaptureFollow, StopStillReadsWhatIsWritten) {
  // Turning follow off (a UI's "f") ends the waiting, not the reading: every frame already in
  // the file is read, then the data end.
  for (const bool pcapng : {false, true}) {
    std::vector<std::size_t> ends;
    const Bytes bytes = pcapng ? pcapng_bytes(5, ends) : pcap_bytes(5, ends);
    TempFile file(pcapng ? "written.pcapng" : "written.pcap");
    file.append(bytes, 0, bytes.size());
    FollowControl control(kPoll);
    MergedReader reader;
    std::string error;
    ASSERT_TRUE(reader.open({file.path()}, error, &control)) << error;
    control.request_stop();
    Frame f;
    int n = 0;
    while (n < 10 && reader.next(f))
      EXPECT_EQ(f.time.ns, time_ns(n++));
    EXPECT_EQ(n, 5) << (pcapng ? "pcapng" : "pcap");
    EXPECT_TRUE(reader.files().front().complete);
    EXPECT_EQ(reader.anomalies().total(), 0u);
  }
}

TEST(CaptureFollow, ANonCaptureIsToldAtOnce) {
  // Its first bytes already say it is no capture: no waiting for more to describe it.
  TempFile file("notes.txt");
  const std::string text = "hello, this is not a capture\n";
  file.append(Bytes(text.begin(), text.end()), 0, text.size());
  FollowControl control(std::chrono::milliseconds(60'000));
  std::string error;
  const auto start = Clock::now();
  EXPECT_EQ(FileReader::open(file.path(), 0, error, &control), nullptr);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_NE(error.find("text, starts with 'hello, this is n'"), std::string::npos) << error;
}

TEST(CaptureFollow, SeveralFilesAreRefused) {
  TempFile a("a.pcap"), b("b.pcap");
  FollowControl control;
  MergedReader reader;
  std::string error;
  EXPECT_FALSE(reader.open({a.path(), b.path()}, error, &control));
  EXPECT_NE(error.find("follow reads exactly one file (2 given)"), std::string::npos) << error;
}

TEST(CaptureFollow, ALongPollIntervalStillStopsAtOnce) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcap_bytes(2, ends);
  TempFile file("slow.pcap");
  file.append(bytes, 0, bytes.size());
  FollowControl control(std::chrono::milliseconds(60'000));
  MergedReader reader;
  std::string error;
  ASSERT_TRUE(reader.open({file.path()}, error, &control)) << error;
  Frame f;
  ASSERT_TRUE(reader.next(f));
  ASSERT_TRUE(reader.next(f));
  std::thread stopper([&] {
    for (int i = 0; i < 200 && !control.waiting(); ++i)
      std::this_thread::sleep_for(5ms);
    control.request_stop();
  });
  const auto start = Clock::now();
  EXPECT_FALSE(reader.next(f));
  stopper.join();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(reader.files().front().complete);
}

TEST(CaptureFollow, AFileThatShrinksEndsWithAnError) {
  std::vector<std::size_t> ends;
  const Bytes bytes = pcap_bytes(4, ends);
  TempFile file("shrink.pcap");
  file.append(bytes, 0, bytes.size());
  FollowControl control(kPoll);
  MergedReader reader;
  std::string error;
  ASSERT_TRUE(reader.open({file.path()}, error, &control)) << error;
  Frame f;
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(reader.next(f));
  ASSERT_EQ(::truncate(file.path().c_str(), 10), 0);
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !done; ++i)
      std::this_thread::sleep_for(5ms);
    control.request_stop();
  });
  EXPECT_FALSE(reader.next(f));
  EXPECT_FALSE(control.stop_requested()) << "the shrink ends it, not the watchdog";
  done = true;
  watchdog.join();
  EXPECT_FALSE(reader.files().front().complete);
  EXPECT_NE(reader.files().front().error.find("shrank"), std::string::npos)
      << reader.files().front().error;
}

}  // namespace
