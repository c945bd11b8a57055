// Capture reading: the pcapng reader (committed files checked against tshark, generated files
// for every corner: byte orders, sections, mixed link types, SPB, PB, timestamp resolutions,
// damaged and cut blocks, bad interface ids), the classic-pcap path and MergedReader; inputs
// that can be read only once (pipes, standard input, FIFOs), gzip, and what is said about
// inputs that are no capture.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fedscope/capture/pcapng.hpp"
#include "fedscope/capture/reader.hpp"
#include "read_frames.hpp"

using namespace fedscope;
using namespace fedscope::capture;

namespace {

using Bytes = std::vector<std::uint8_t>;

const std::string kCorner = std::string(FEDSCOPE_SOURCE_DIR) + "/pcaps/corner/";

constexpr std::uint16_t kLinktypeEthernet = 1;
constexpr std::uint16_t kLinktypeRaw = 101;
constexpr std::uint16_t kLinktypeSll2 = 276;

/// Writes pcapng blocks in the byte order of the current section (switch with shb()).
class Pcapng {
 public:
  struct Option {
    std::uint16_t code;
    Bytes value;
  };

  /// Section Header Block; @p big_endian sets the byte order of this section.
  Pcapng& shb(bool big_endian = false, std::uint16_t major = 1) {
    be_ = big_endian;
    Bytes b;
    put32(b, 0x1A2B3C4D);
    put16(b, major);
    put16(b, 0);
    put64(b, ~std::uint64_t{0});  // section length unknown
    return block(0x0A0D0D0A, b);
  }
  Pcapng& idb(std::uint16_t linktype, std::uint32_t snaplen, const std::vector<Option>& opts = {}) {
    Bytes b;
    put16(b, linktype);
    put16(b, 0);
    put32(b, snaplen);
    put_options(b, opts);
    return block(1, b);
  }
  Pcapng& epb(std::uint32_t if_id, std::uint64_t ts, const Bytes& data, std::uint32_t orig = 0,
              const std::vector<Option>& opts = {}) {
    Bytes b;
    put32(b, if_id);
    put32(b, static_cast<std::uint32_t>(ts >> 32));
    put32(b, static_cast<std::uint32_t>(ts));
    put32(b, static_cast<std::uint32_t>(data.size()));
    put32(b, orig ? orig : static_cast<std::uint32_t>(data.size()));
    put_data(b, data);
    put_options(b, opts);
    return block(6, b);
  }
  /// The obsolete Packet Block (type 2): 16-bit interface id and a drops count.
  Pcapng& pb(std::uint16_t if_id, std::uint64_t ts, const Bytes& data) {
    Bytes b;
    put16(b, if_id);
    put16(b, 0);
    put32(b, static_cast<std::uint32_t>(ts >> 32));
    put32(b, static_cast<std::uint32_t>(ts));
    put32(b, static_cast<std::uint32_t>(data.size()));
    put32(b, static_cast<std::uint32_t>(data.size()));
    put_data(b, data);
    return block(2, b);
  }
  /// Simple Packet Block: @p data are the bytes stored, @p orig the original length.
  Pcapng& spb(std::uint32_t orig, const Bytes& data) {
    Bytes b;
    put32(b, orig);
    put_data(b, data);
    return block(3, b);
  }
  /// Any block, body given (padded to 4 here).
  Pcapng& block(std::uint32_t type, Bytes body) {
    while (body.size() % 4)
      body.push_back(0);
    const auto total = static_cast<std::uint32_t>(body.size() + 12);
    put32(out_, type);
    put32(out_, total);
    out_.insert(out_.end(), body.begin(), body.end());
    put32(out_, total);
    return *this;
  }
  Pcapng& raw(const Bytes& b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }

  Option opt_text(std::uint16_t code, const std::string& s) const {
    return Option{code, Bytes(s.begin(), s.end())};
  }
  Option opt_u8(std::uint16_t code, std::uint8_t v) const { return Option{code, Bytes{v}}; }
  Option opt_i64(std::uint16_t code, std::int64_t v) const {
    Bytes b;
    put64(b, static_cast<std::uint64_t>(v));
    return Option{code, b};
  }

  const Bytes& bytes() const { return out_; }
  std::size_t size() const { return out_.size(); }

 private:
  void put16(Bytes& b, std::uint16_t v) const {
    for (int i = 0; i < 2; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (be_ ? 8 * (1 - i) : 8 * i)));
  }
  void put32(Bytes& b, std::uint32_t v) const {
    for (int i = 0; i < 4; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (be_ ? 8 * (3 - i) : 8 * i)));
  }
  void put64(Bytes& b, std::uint64_t v) const {
    for (int i = 0; i < 8; ++i)
      b.push_back(static_cast<std::uint8_t>(v >> (be_ ? 8 * (7 - i) : 8 * i)));
  }
  static void put_data(Bytes& b, const Bytes& data) {
    b.insert(b.end(), data.begin(), data.end());
    while (b.size() % 4)
      b.push_back(0);
  }
  void put_options(Bytes& b, const std::vector<Option>& opts) const {
    if (opts.empty()) return;
    for (const auto& o : opts) {
      put16(b, o.code);
      put16(b, static_cast<std::uint16_t>(o.value.size()));
      put_data(b, o.value);
    }
    put32(b, 0);  // opt_endofopt
  }

  bool be_ = false;
  Bytes out_;
};

/// A file in the temp directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const Bytes& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("fedscope-test-capture-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++) + ".pcapng"))
                .string();
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (!f) return;
    if (!content.empty()) {
      EXPECT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
    }
    std::fclose(f);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
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
  std::uint64_t last_position = 0;
  while (reader->next(f, r.anomalies)) {
    r.frames.push_back(test::got_of(f));
    // Progress: never backwards, never past the file (a pipe's size is unknown: 0).
    EXPECT_GE(reader->position(), last_position);
    if (reader->size() != 0) {
      EXPECT_LE(reader->position(), reader->size());
    }
    last_position = reader->position();
    if (r.frames.size() > 100000) break;  // a bug guard, never reached
  }
  EXPECT_FALSE(reader->next(f, r.anomalies)) << "next() after the end must stay false";
  if (reader->size() != 0) {
    EXPECT_EQ(reader->position(), reader->size());
  }
  r.info = reader->info();
  return r;
}

ReadResult read_bytes(const Bytes& b) {
  TempFile t(b);
  return read_file(t.path());
}

Bytes frame_bytes(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed + i);
  return b;
}

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kBase = 1'795'600'800;  // 2026-11-25T10:00:00Z, in seconds

}  // namespace

// ---------------------------------------------------------------------------------------------
// Pure helpers

TEST(PcapngTimestamp, Resolutions) {
  EXPECT_EQ(pcapng_timestamp(1'500'000, 6, 0)->ns, 1'500'000'000);     // µs, the default
  EXPECT_EQ(pcapng_timestamp(123, 9, 0)->ns, 123);                     // ns
  EXPECT_EQ(pcapng_timestamp(1'500, 3, 0)->ns, 1'500'000'000);         // ms
  EXPECT_EQ(pcapng_timestamp(7, 0, 0)->ns, 7 * kSecond);               // s
  EXPECT_EQ(pcapng_timestamp(1'000'000'000'000, 12, 0)->ns, kSecond);  // ps
  EXPECT_EQ(pcapng_timestamp(1'999, 12, 0)->ns, 1);                    // truncated, not rounded
  EXPECT_EQ(pcapng_timestamp(~std::uint64_t{0}, 30, 0)->ns, 0);        // 10^-30: all < 1 ns
  EXPECT_EQ(pcapng_timestamp(~std::uint64_t{0}, 127, 0)->ns, 0);
  // 2^-n.
  EXPECT_EQ(pcapng_timestamp((5u << 20) + (1u << 19), 0x80 | 20, 0)->ns, 5'500'000'000);
  EXPECT_EQ(pcapng_timestamp(std::uint64_t{1} << 63, 0x80 | 64, 0)->ns, 500'000'000);
  EXPECT_EQ(pcapng_timestamp(1, 0x80 | 1, 0)->ns, 500'000'000);
  EXPECT_EQ(pcapng_timestamp(~std::uint64_t{0}, 0x80 | 127, 0)->ns, 0);
  EXPECT_EQ(pcapng_timestamp(3, 0x80 | 0, 0)->ns, 3 * kSecond);
}

TEST(PcapngTimestamp, NoSixtyFourBitOverflow) {
  // units * 10^9 overflows 64 bits although the result fits: 2^63 units of 2^-32 s = 2^31 s.
  EXPECT_EQ(pcapng_timestamp(std::uint64_t{1} << 63, 0x80 | 32, 0)->ns,
            (std::int64_t{1} << 31) * kSecond);
  // µs since the epoch for a 2026 date times 1000 is fine; the largest values are not.
  EXPECT_EQ(pcapng_timestamp(9'000'000'000, 0, 0)->ns, 9'000'000'000 * kSecond);
  EXPECT_FALSE(pcapng_timestamp(10'000'000'000, 0, 0));            // past 2262
  EXPECT_FALSE(pcapng_timestamp(~std::uint64_t{0}, 9, 0));         // > INT64_MAX ns
  EXPECT_FALSE(pcapng_timestamp(~std::uint64_t{0}, 6, 0));         // 1.8e25 ns
  EXPECT_FALSE(pcapng_timestamp(~std::uint64_t{0}, 0x80 | 2, 0));  // 2^62 s
  // if_tsoffset (seconds) is added, and may be negative.
  EXPECT_EQ(pcapng_timestamp(1, 6, kBase)->ns, kBase * kSecond + 1'000);
  EXPECT_EQ(pcapng_timestamp(0, 6, -10)->ns, -10 * kSecond);
  EXPECT_FALSE(pcapng_timestamp(1, 6, std::numeric_limits<std::int64_t>::max()));
  EXPECT_FALSE(pcapng_timestamp(0, 6, std::numeric_limits<std::int64_t>::min()));
  // A large timestamp pulled back into range by a negative offset.
  EXPECT_EQ(pcapng_timestamp(~std::uint64_t{0}, 9, -9'300'000'000)->ns,
            static_cast<std::int64_t>(~std::uint64_t{0} - 9'300'000'000'000'000'000u));
}

TEST(PcapngLinktype, MappedToWhatLibpcapReports) {
  EXPECT_EQ(dlt_from_linktype(101), 12);   // LINKTYPE_RAW -> DLT_RAW on Linux
  EXPECT_EQ(dlt_from_linktype(108), 108);  // LINKTYPE_LOOP -> DLT_LOOP on Linux
  for (std::uint32_t same : {0u, 1u, 113u, 228u, 229u, 276u, 147u})
    EXPECT_EQ(dlt_from_linktype(same), static_cast<int>(same));
}

// ---------------------------------------------------------------------------------------------
// Committed captures

TEST(PcapngCommitted, Single) {
  auto r = read_file(kCorner + "pcapng-single.pcapng");
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 26u);
  EXPECT_EQ(r.info.linktype, 1);
  EXPECT_EQ(r.info.linktype_name, "EN10MB");
  EXPECT_EQ(r.info.snaplen, 262144u);
  ASSERT_EQ(r.info.interfaces.size(), 1u);
  EXPECT_EQ(r.info.interfaces[0].name, "eth0");
  EXPECT_EQ(r.info.interfaces[0].packets, 26u);
  for (const auto& f : r.frames) {
    EXPECT_EQ(f.interface, 0);
    EXPECT_EQ(f.linktype, 1);
  }
  // From `tshark -r pcapng-single.pcapng -T fields -e frame.time_epoch -e frame.cap_len`
  // (tshark 4.0.17): first 1795600800.000000000 (100 bytes), second .002000000 (136),
  // last .151360000 (66).
  EXPECT_EQ(r.frames[0].ns, kBase * kSecond);
  EXPECT_EQ(r.frames[0].data.size(), 100u);
  EXPECT_EQ(r.frames[1].ns, kBase * kSecond + 2'000'000);
  EXPECT_EQ(r.frames[1].data.size(), 136u);
  EXPECT_EQ(r.frames[25].ns, kBase * kSecond + 151'360'000);
  EXPECT_EQ(r.frames[25].data.size(), 66u);
  EXPECT_EQ(r.frames[25].number, 26u);
  EXPECT_EQ(r.anomalies.total(), 0u);
}

TEST(PcapngCommitted, TwoInterfacesWithDifferentTsresol) {
  // Values read with `tshark -r pcaps/corner/pcapng-two-if.pcapng -T fields
  // -e frame.interface_id -e frame.time_epoch` (tshark 4.0.17), one row per frame; interface 0
  // has if_tsresol 6 (µs), interface 1 if_tsresol 9 (ns, the sub-µs digits must survive).
  struct Row {
    std::int32_t interface;
    std::int64_t ns;
  };
  static constexpr Row kTshark[] = {
      {0, 1795600800001000000}, {0, 1795600800001060000}, {1, 1795600800002000123},
      {1, 1795600800004000123}, {1, 1795600800005000123}, {1, 1795600800007000123},
      {1, 1795600800012000457}, {0, 1795600800021060000}, {0, 1795600800023060000},
      {0, 1795600800023120000}, {0, 1795600800025120000}, {1, 1795600800043001246},
      {1, 1795600800043061246}, {1, 1795600800045061246}, {0, 1795600800045120000},
      {0, 1795600800047120000}, {0, 1795600800047180000}, {0, 1795600800049180000},
      {0, 1795600800069180000}, {0, 1795600800071180000}, {0, 1795600800071240000},
      {0, 1795600800073240000}, {1, 1795600800076062035}, {1, 1795600800078062035},
      {1, 1795600800078122035}, {1, 1795600800080122035}, {0, 1795600800093240000},
      {0, 1795600800095240000}, {0, 1795600800095300000}, {0, 1795600800097300000},
      {1, 1795600800111122824}, {1, 1795600800113122824}, {1, 1795600800113182824},
      {1, 1795600800115182824}, {0, 1795600800117300000}, {0, 1795600800122300000},
      {0, 1795600800122360000}, {0, 1795600800142360000}, {1, 1795600800146183613},
      {1, 1795600800148183613}, {1, 1795600800148243613}, {1, 1795600800150243613},
      {1, 1795600800181244402}, {1, 1795600800183244402}, {1, 1795600800183304402},
      {1, 1795600800188304402}, {1, 1795600800219305191}, {1, 1795600800219365191},
  };
  auto r = read_file(kCorner + "pcapng-two-if.pcapng");
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), std::size(kTshark));
  std::uint64_t per_if[2] = {0, 0};
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    EXPECT_EQ(r.frames[i].interface, kTshark[i].interface) << "frame " << i + 1;
    EXPECT_EQ(r.frames[i].ns, kTshark[i].ns) << "frame " << i + 1;
    EXPECT_EQ(r.frames[i].linktype, 1);
    ++per_if[kTshark[i].interface];
  }
  EXPECT_EQ(r.info.linktype_name, "EN10MB");  // distinct names only
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_EQ(r.info.interfaces[0].name, "eth0");
  EXPECT_EQ(r.info.interfaces[0].description, "public");
  EXPECT_EQ(r.info.interfaces[1].name, "eth1");
  EXPECT_EQ(r.info.interfaces[1].description, "uplink");
  EXPECT_EQ(r.info.interfaces[0].packets, per_if[0]);
  EXPECT_EQ(r.info.interfaces[1].packets, per_if[1]);
  EXPECT_EQ(r.info.interfaces[1].id, 1);
  EXPECT_EQ(r.anomalies.get("capture.time_went_backwards"), 0u);
}

TEST(PcapngCommitted, RealDumpcapTwoInterfacesDifferentSnaplen) {
  // Written by dumpcap 4.0.17 (`dumpcap -i d0 -i d1 -s 128`, see pcaps/README.md), which
  // libpcap 1.10 refuses ("an interface has a snapshot length 128 different from the
  // snapshot length of the first interface"). Values from `tshark -r dumpcap-two-if.pcapng
  // -T fields -e frame.interface_id -e frame.time_epoch -e frame.cap_len -e frame.len`
  // (tshark 4.0.17). dumpcap wrote all of d0's packets before d1's, so file order is not
  // time order.
  struct Row {
    std::int32_t interface;
    std::int64_t ns;
    std::size_t caplen;
  };
  static constexpr Row kTshark[] = {
      {0, 1795614592369262806, 241}, {0, 1795614592409713099, 241}, {0, 1795614592450938180, 241},
      {0, 1795614592491323884, 241}, {1, 1795614592389440495, 128}, {1, 1795614592430744105, 128},
      {1, 1795614592471139598, 128}, {1, 1795614592512273578, 128},
  };
  auto r = read_file(kCorner + "dumpcap-two-if.pcapng");
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), std::size(kTshark));
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    EXPECT_EQ(r.frames[i].interface, kTshark[i].interface) << "frame " << i + 1;
    EXPECT_EQ(r.frames[i].ns, kTshark[i].ns) << "frame " << i + 1;
    EXPECT_EQ(r.frames[i].data.size(), kTshark[i].caplen) << "frame " << i + 1;
    EXPECT_EQ(r.frames[i].wire_length, 241u);
    EXPECT_EQ(r.frames[i].linktype, 1);
  }
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_EQ(r.info.interfaces[0].name, "d0");
  EXPECT_EQ(r.info.interfaces[0].snaplen, 262144u);
  EXPECT_EQ(r.info.interfaces[1].name, "d1");
  EXPECT_EQ(r.info.interfaces[1].snaplen, 128u);
  EXPECT_EQ(r.info.interfaces[0].packets, 4u);
  EXPECT_EQ(r.info.interfaces[1].packets, 4u);
  EXPECT_EQ(r.info.snaplen, 262144u);  // the first interface's
  EXPECT_EQ(r.info.truncated, 4u);
  EXPECT_EQ(r.anomalies.get("capture.snaplen_truncated"), 4u);
  EXPECT_EQ(r.anomalies.get("capture.time_went_backwards"), 3u);
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 0u);  // ISBs at the end are skipped
}

TEST(Pcap, ClassicPcapHasNoInterface) {
  auto r = read_file(kCorner + "raw-ip.pcap");
  ASSERT_TRUE(r.opened) << r.open_error;
  ASSERT_EQ(r.frames.size(), 22u);
  EXPECT_TRUE(r.info.interfaces.empty());
  EXPECT_EQ(r.info.linktype, 12);  // LINKTYPE_RAW in the file, DLT_RAW from libpcap
  EXPECT_EQ(r.info.linktype_name, "RAW");
  for (const auto& f : r.frames) {
    EXPECT_EQ(f.interface, -1);
    EXPECT_EQ(f.linktype, 12);
  }
}

TEST(Pcap, ClassicDamagedRecordStillCounted) {
  auto r = read_file(kCorner + "truncated-last-record.pcap");
  ASSERT_TRUE(r.opened);
  EXPECT_FALSE(r.info.complete);
  EXPECT_FALSE(r.info.error.empty());
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(Pcap, NotACaptureStillRefused) {
  std::string error;
  EXPECT_EQ(FileReader::open(kCorner + "not-a-capture.pcap", 0, error), nullptr);
  EXPECT_NE(error.find("not a readable pcap"), std::string::npos) << error;
  EXPECT_EQ(FileReader::open(kCorner + "header-only-cut.pcap", 0, error), nullptr);
}

TEST(MergedReader, PcapngAndPcapByTime) {
  MergedReader m;
  std::string error;
  ASSERT_TRUE(m.open(
      {kCorner + "pcapng-two-if.pcapng", kCorner + "pcapng-single.pcapng", kCorner + "raw-ip.pcap"},
      error))
      << error;
  Frame f;
  std::size_t n = 0;
  Timestamp last{std::numeric_limits<std::int64_t>::min()};
  std::size_t with_interface = 0;
  while (m.next(f)) {
    EXPECT_GE(f.time, last);
    last = f.time;
    if (f.file == 2) {
      EXPECT_EQ(f.interface, -1);
    } else {
      ++with_interface;
    }
    ++n;
  }
  EXPECT_EQ(n, 48u + 26u + 22u);
  EXPECT_EQ(with_interface, 48u + 26u);
  EXPECT_DOUBLE_EQ(m.progress(), 1.0);
  auto files = m.files();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].interfaces.size(), 2u);
  EXPECT_EQ(files[1].interfaces.size(), 1u);
  EXPECT_TRUE(files[2].interfaces.empty());
}

// ---------------------------------------------------------------------------------------------
// Generated files

TEST(PcapngGenerated, InfoKnownRightAfterOpen) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 96).epb(0, 1, frame_bytes(60, 0));
  TempFile t(p.bytes());
  std::string error;
  auto reader = FileReader::open(t.path(), 3, error);
  ASSERT_TRUE(reader) << error;
  EXPECT_EQ(reader->info().linktype, 1);
  EXPECT_EQ(reader->info().linktype_name, "EN10MB");
  EXPECT_EQ(reader->info().snaplen, 96u);
  ASSERT_EQ(reader->info().interfaces.size(), 1u);
  Frame f;
  AnomalyCounters a;
  ASSERT_TRUE(reader->next(f, a));
  EXPECT_EQ(f.file, 3);
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(Bytes(f.data.begin(), f.data.end()), frame_bytes(60, 0));
  EXPECT_FALSE(reader->next(f, a));
}

TEST(PcapngGenerated, BigEndianSection) {
  Pcapng p;
  p.shb(true)
      .idb(kLinktypeEthernet, 65535,
           {p.opt_text(2, "outside"), p.opt_u8(9, 9), p.opt_i64(14, kBase)})
      .epb(0, 123'456'789, frame_bytes(61, 1), 1514)
      .epb(0, 2 * kSecond + 5, frame_bytes(64, 2));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].ns, kBase * kSecond + 123'456'789);
  EXPECT_EQ(r.frames[0].wire_length, 1514u);
  EXPECT_EQ(r.frames[0].data, frame_bytes(61, 1));
  EXPECT_EQ(r.frames[1].ns, (kBase + 2) * kSecond + 5);
  EXPECT_EQ(r.info.snaplen, 65535u);
  ASSERT_EQ(r.info.interfaces.size(), 1u);
  EXPECT_EQ(r.info.interfaces[0].name, "outside");
  EXPECT_EQ(r.info.truncated, 1u);
  EXPECT_EQ(r.anomalies.get("capture.snaplen_truncated"), 1u);
}

TEST(PcapngGenerated, TwoSectionsResetInterfaces) {
  // Section 0 (little-endian): interfaces a, b. Section 1 (big-endian): interface c only.
  // Frame::interface counts across sections (c is 2). tshark 4.0.17 shows the section-1
  // packet as interface 0 "a", which is wrong: a section's interfaces do not survive it.
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 0, {p.opt_text(2, "a")})
      .idb(kLinktypeEthernet, 0, {p.opt_text(2, "b")})
      .epb(0, 1'000'000, frame_bytes(60, 1))
      .epb(1, 2'000'000, frame_bytes(60, 2));
  p.shb(true).idb(kLinktypeRaw, 0, {p.opt_text(2, "c")});
  p.epb(0, 3'000'000, frame_bytes(40, 3))
      .epb(1, 4'000'000, frame_bytes(40, 4))  // interface 1 belonged to section 0
      .epb(0, 5'000'000, frame_bytes(40, 5));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.frames[0].interface, 0);
  EXPECT_EQ(r.frames[1].interface, 1);
  EXPECT_EQ(r.frames[2].interface, 2);
  EXPECT_EQ(r.frames[2].linktype, 12);
  EXPECT_EQ(r.frames[2].ns, 3 * kSecond);
  EXPECT_EQ(r.frames[3].interface, 2);
  EXPECT_EQ(r.frames[3].number, 4u);  // the skipped packet gets no number
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_interface"), 1u);
  ASSERT_EQ(r.info.interfaces.size(), 3u);
  EXPECT_EQ(r.info.interfaces[2].name, "c");
  EXPECT_EQ(r.info.interfaces[2].section, 1u);
  EXPECT_EQ(r.info.interfaces[1].section, 0u);
  EXPECT_EQ(r.info.interfaces[2].packets, 2u);
  EXPECT_EQ(r.info.linktype, 1);
  EXPECT_EQ(r.info.linktype_name, "EN10MB,RAW");
}

TEST(PcapngGenerated, MixedLinkTypesWhichLibpcapRefuses) {
  // libpcap 1.10: "an interface has a type 276 different from the type of the first
  // interface". Ethernet with snaplen 0 (no limit), LINUX_SLL2 with snaplen 128.
  Bytes sll2(20, 0);
  sll2[0] = 0x08;  // protocol 0x0800
  sll2[7] = 3;     // if_index 3
  Bytes ip = frame_bytes(20, 9);
  sll2.insert(sll2.end(), ip.begin(), ip.end());
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 0, {p.opt_text(2, "outside")})
      .idb(kLinktypeSll2, 128, {p.opt_text(2, "any"), p.opt_text(3, "all of them")})
      .epb(0, 1, frame_bytes(60, 1))
      .epb(1, 2, sll2)
      .epb(0, 3, frame_bytes(60, 3));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].linktype, 1);
  EXPECT_EQ(r.frames[1].linktype, 276);
  EXPECT_EQ(r.frames[1].interface, 1);
  EXPECT_EQ(r.frames[1].data, sll2);
  EXPECT_EQ(r.frames[2].linktype, 1);
  EXPECT_EQ(r.info.linktype, 1);
  EXPECT_EQ(r.info.linktype_name, "EN10MB,LINUX_SLL2");
  EXPECT_EQ(r.info.snaplen, 0u);
  ASSERT_EQ(r.info.interfaces.size(), 2u);
  EXPECT_EQ(r.info.interfaces[1].linktype_name, "LINUX_SLL2");
  EXPECT_EQ(r.info.interfaces[1].description, "all of them");
  EXPECT_EQ(r.info.interfaces[1].snaplen, 128u);
  EXPECT_EQ(r.anomalies.total(), 0u);
}

TEST(PcapngGenerated, SimplePacketBlock) {
  Pcapng p;
  p.shb().spb(60, frame_bytes(60, 0));  // no interface yet: skipped, counted
  p.idb(kLinktypeEthernet, 64, {p.opt_u8(9, 9)})
      .spb(60, frame_bytes(60, 1))  // before any timestamp: time 0
      .epb(0, 7 * kSecond + 3, frame_bytes(60, 2))
      .spb(100, frame_bytes(64, 3))  // cut to the interface's snaplen 64
      .spb(61, frame_bytes(61, 4));  // padded to 64 in the block, 61 captured
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.frames[0].ns, 0);
  EXPECT_EQ(r.frames[0].interface, 0);
  EXPECT_EQ(r.frames[1].ns, 7 * kSecond + 3);
  EXPECT_EQ(r.frames[2].ns, 7 * kSecond + 3);  // the previous packet's time
  EXPECT_EQ(r.frames[2].data, frame_bytes(64, 3));
  EXPECT_EQ(r.frames[2].wire_length, 100u);
  EXPECT_EQ(r.frames[3].data, frame_bytes(61, 4));
  EXPECT_EQ(r.frames[3].wire_length, 61u);
  EXPECT_EQ(r.frames[3].ns, 7 * kSecond + 3);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_interface"), 1u);
  EXPECT_EQ(r.anomalies.get("capture.snaplen_truncated"), 1u);
}

TEST(PcapngGenerated, SimplePacketBlockLongerThanItsData) {
  // Interface without snaplen, SPB says 100 bytes but holds 64: the block is inconsistent.
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).spb(100, frame_bytes(64, 3));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_FALSE(r.info.complete);
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(PcapngGenerated, ObsoletePacketBlock) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).idb(kLinktypeEthernet, 0);
  p.pb(1, 1'500'000, frame_bytes(60, 5)).pb(3, 2, frame_bytes(60, 6));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.info.complete);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].interface, 1);
  EXPECT_EQ(r.frames[0].ns, 1'500'000'000);
  EXPECT_EQ(r.frames[0].data, frame_bytes(60, 5));
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_interface"), 1u);
}

TEST(PcapngGenerated, TsresolPowerOfTwoAndOffset) {
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 0, {p.opt_u8(9, 0x80 | 20), p.opt_i64(14, kBase)})
      .idb(kLinktypeEthernet, 0, {p.opt_u8(9, 0x80 | 40)})
      .idb(kLinktypeEthernet, 0, {p.opt_u8(9, 3), p.opt_i64(14, -5)})
      .epb(0, (std::uint64_t{5} << 20) + (std::uint64_t{1} << 19), frame_bytes(60, 0))
      .epb(1, (std::uint64_t{1} << 40) * 3 + (std::uint64_t{1} << 38), frame_bytes(60, 1))
      .epb(2, 1'500, frame_bytes(60, 2));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[0].ns, (kBase + 5) * kSecond + 500'000'000);
  EXPECT_EQ(r.frames[1].ns, 3 * kSecond + 250'000'000);
  EXPECT_EQ(r.frames[2].ns, -5 * kSecond + 1'500'000'000);
}

TEST(PcapngGenerated, TimestampOutOfRangeTakesThePreviousTime) {
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 0, {p.opt_u8(9, 9)})
      .epb(0, 42, frame_bytes(60, 0))
      .epb(0, ~std::uint64_t{0}, frame_bytes(60, 1));
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].ns, 42);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_timestamp"), 1u);
}

TEST(PcapngGenerated, UnknownAndOtherBlocksSkipped) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0);
  p.block(4, Bytes{1, 0, 4, 0, 192, 0, 2, 10, 'x', 0, 0, 0, 0, 0, 0, 0});  // NRB
  p.epb(0, 1, frame_bytes(60, 1), 0, {p.opt_text(1, "a comment after the data")});
  p.block(5, Bytes(16, 0))             // ISB
      .block(0x0A, Bytes(12, 7))       // DSB
      .block(0x00000BAD, Bytes(8, 1))  // custom, copiable
      .block(0x40000BAD, Bytes(8, 2))  // custom, not copiable
      .block(0x80001234, Bytes{})      // local use, empty body
      .block(0x77, Bytes(4000, 3));    // unknown
  p.epb(0, 2, frame_bytes(60, 2));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.info.complete) << r.info.error;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].data, frame_bytes(60, 1));
  EXPECT_EQ(r.frames[1].data, frame_bytes(60, 2));
  EXPECT_EQ(r.anomalies.total(), 0u);
}

TEST(PcapngGenerated, BadOptionsKeepTheInterface) {
  Pcapng p;
  p.shb();
  // if_tsresol with length 2 (must be 1), then an option claiming 200 bytes.
  Bytes body{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 0, 9, 9, 0, 0, 2, 0, 200, 0, 'e', 't', 'h', '0'};
  p.block(1, body).epb(0, 1'000'000, frame_bytes(60, 0));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.info.complete);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].ns, kSecond);  // default µs kept
  EXPECT_EQ(r.info.interfaces.at(0).name, "");
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_option"), 2u);
}

TEST(PcapngGenerated, OriginalLengthBelowCapturedLength) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(60, 0), 20);
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].wire_length, 60u);
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_original_length"), 1u);
}

TEST(PcapngGenerated, BadTrailingLengthIsDamaged) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(60, 0));
  const std::size_t second = p.size();
  p.epb(0, 2, frame_bytes(60, 1)).epb(0, 3, frame_bytes(60, 2));
  Bytes b = p.bytes();
  b[second + 8 + 20 + 60] ^= 0x04;  // the second EPB's trailing length (LE low byte)
  auto r = read_bytes(b);
  ASSERT_TRUE(r.opened);
  EXPECT_EQ(r.frames.size(), 1u);  // nothing after the damage is trusted
  EXPECT_FALSE(r.info.complete);
  EXPECT_NE(r.info.error.find("trailing block length"), std::string::npos) << r.info.error;
  EXPECT_NE(r.info.error.find("offset " + std::to_string(second)), std::string::npos)
      << r.info.error;
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(PcapngGenerated, BadTotalLengthsAreDamaged) {
  for (std::uint32_t length : {0u, 8u, 13u, 30u, kPcapngMaxBlockLength + 4, 0xFFFFFFFCu}) {
    Pcapng p;
    p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(60, 0));
    Bytes b = p.bytes();
    // A block header claiming @p length, followed by a little data.
    Bytes head{6,
               0,
               0,
               0,
               static_cast<std::uint8_t>(length),
               static_cast<std::uint8_t>(length >> 8),
               static_cast<std::uint8_t>(length >> 16),
               static_cast<std::uint8_t>(length >> 24)};
    b.insert(b.end(), head.begin(), head.end());
    b.resize(b.size() + 64, 0);
    auto r = read_bytes(b);
    ASSERT_TRUE(r.opened);
    EXPECT_EQ(r.frames.size(), 1u) << length;
    EXPECT_FALSE(r.info.complete) << length;
    EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u) << length;
  }
}

TEST(PcapngGenerated, CapturedLengthBeyondTheBlockIsDamaged) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0);
  Bytes b = p.bytes();
  Pcapng e;
  e.epb(0, 1, frame_bytes(60, 0));
  Bytes epb = e.bytes();
  epb[8 + 12] = 65;  // caplen 65 > the 60 (+ 0 padding) data bytes
  b.insert(b.end(), epb.begin(), epb.end());
  auto r = read_bytes(b);
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_FALSE(r.info.complete);
  EXPECT_NE(r.info.error.find("captured length 65"), std::string::npos) << r.info.error;
}

TEST(PcapngGenerated, CutInTheMiddleOfABlock) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(60, 0)).epb(0, 2, frame_bytes(200, 1));
  Bytes b = p.bytes();
  b.resize(b.size() - 100);
  auto r = read_bytes(b);
  ASSERT_TRUE(r.opened);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_FALSE(r.info.complete);
  EXPECT_NE(r.info.error.find("cut short"), std::string::npos) << r.info.error;
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(PcapngGenerated, CutAtEveryOffset) {
  // Every prefix of a file: never a crash; exactly the packets of the complete blocks; complete
  // only when the cut falls between blocks; an incomplete first block is an open error.
  Pcapng p;
  std::vector<std::size_t> ends;  // block ends
  std::vector<std::size_t> packets_at;
  auto mark = [&](std::size_t packets) {
    ends.push_back(p.size());
    packets_at.push_back(packets);
  };
  p.shb(true);
  mark(0);
  p.idb(kLinktypeEthernet, 0, {p.opt_text(2, "eth0"), p.opt_u8(9, 9)});
  mark(0);
  p.epb(0, 1, frame_bytes(60, 0));
  mark(1);
  p.block(5, Bytes(16, 0));
  mark(1);
  p.spb(42, frame_bytes(42, 1));
  mark(2);
  p.shb();
  mark(2);
  p.idb(kLinktypeSll2, 0);
  mark(2);
  p.pb(0, 3, frame_bytes(30, 2));
  mark(3);
  const Bytes full = p.bytes();
  for (std::size_t cut = 0; cut <= full.size(); ++cut) {
    auto r = read_bytes(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
    if (cut < ends[0]) {
      EXPECT_FALSE(r.opened) << cut;
      continue;
    }
    ASSERT_TRUE(r.opened) << cut << ": " << r.open_error;
    std::size_t want = 0;
    bool at_boundary = false;
    for (std::size_t i = 0; i < ends.size(); ++i) {
      if (ends[i] <= cut) want = packets_at[i];
      if (ends[i] == cut) at_boundary = true;
    }
    EXPECT_EQ(r.frames.size(), want) << cut;
    EXPECT_EQ(r.info.complete, at_boundary) << cut;
    EXPECT_EQ(r.anomalies.get("capture.damaged_record"), at_boundary ? 0u : 1u) << cut;
  }
}

TEST(PcapngGenerated, EveryByteDamagedNeverCrashes) {
  // Each byte replaced in turn by 0x00, 0xFF and itself ^ 0x01: the reader must stop or skip,
  // never read out of bounds (this test earns its keep under ASan), never loop.
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 64, {p.opt_text(2, "eth0"), p.opt_u8(9, 0x80 | 10)})
      .epb(0, 1, frame_bytes(60, 0))
      .spb(80, frame_bytes(64, 1))
      .pb(0, 2, frame_bytes(20, 2))
      .block(5, Bytes(8, 0));
  const Bytes full = p.bytes();
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (int variant = 0; variant < 3; ++variant) {
      Bytes b = full;
      b[i] = variant == 0 ? 0x00 : variant == 1 ? 0xFF : static_cast<std::uint8_t>(b[i] ^ 1);
      auto r = read_bytes(b);
      EXPECT_LE(r.frames.size(), 3u) << i;
      for (const auto& f : r.frames)
        EXPECT_LE(f.data.size(), 64u) << i;
      if (!r.info.complete) {
        EXPECT_FALSE(r.info.error.empty()) << i;
      }
    }
  }
}

TEST(PcapngGenerated, EpbNamingAMissingInterface) {
  Pcapng p;
  p.shb()
      .idb(kLinktypeEthernet, 0)
      .epb(0, 1, frame_bytes(60, 0))
      .epb(7, 2, frame_bytes(60, 1))
      .epb(0, 3, frame_bytes(60, 2));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.info.complete);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].data, frame_bytes(60, 2));
  EXPECT_EQ(r.anomalies.get("capture.pcapng_bad_interface"), 1u);
  EXPECT_EQ(r.info.packets, 2u);
  EXPECT_EQ(r.info.interfaces.at(0).packets, 2u);
}

TEST(PcapngGenerated, EmptyAfterSectionHeader) {
  Pcapng p;
  p.shb();
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_TRUE(r.info.complete);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_TRUE(r.info.interfaces.empty());
  EXPECT_EQ(r.info.linktype_name, "");
  EXPECT_EQ(r.anomalies.total(), 0u);
  // Interfaces but no packets.
  Pcapng q;
  q.shb().idb(kLinktypeEthernet, 0);
  auto s = read_bytes(q.bytes());
  ASSERT_TRUE(s.opened);
  EXPECT_TRUE(s.frames.empty());
  EXPECT_EQ(s.info.interfaces.size(), 1u);
  EXPECT_EQ(s.info.linktype_name, "EN10MB");
}

TEST(PcapngGenerated, BadStartIsAnOpenError) {
  std::string error;
  // Wrong byte-order magic.
  Pcapng p;
  p.shb();
  Bytes b = p.bytes();
  b[8] = 0x11;
  {
    TempFile t(b);
    EXPECT_EQ(FileReader::open(t.path(), 0, error), nullptr);
    EXPECT_NE(error.find("not a readable pcap or pcapng"), std::string::npos) << error;
    EXPECT_NE(error.find("byte-order magic"), std::string::npos) << error;
  }
  // Unsupported major version.
  Pcapng v;
  v.shb(false, 2);
  {
    TempFile t(v.bytes());
    EXPECT_EQ(FileReader::open(t.path(), 0, error), nullptr);
    EXPECT_NE(error.find("version 2.0"), std::string::npos) << error;
  }
  // Only the magic.
  {
    TempFile t(Bytes{0x0A, 0x0D, 0x0D, 0x0A});
    EXPECT_EQ(FileReader::open(t.path(), 0, error), nullptr);
  }
}

TEST(PcapngGenerated, UnsupportedVersionInALaterSectionIsDamaged) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(60, 0));
  p.shb(false, 3).idb(kLinktypeEthernet, 0).epb(0, 2, frame_bytes(60, 1));
  auto r = read_bytes(p.bytes());
  ASSERT_TRUE(r.opened);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_FALSE(r.info.complete);
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(PcapngGenerated, DamageBeforeTheFirstPacketIsReportedByNext) {
  // The damaged block follows the IDB that open() reads ahead.
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0);
  Bytes b = p.bytes();
  b.resize(b.size() - 1);  // the IDB's trailing length is cut
  auto r = read_bytes(b);
  ASSERT_TRUE(r.opened);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_FALSE(r.info.complete);
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
}

TEST(PcapngGenerated, LargePacket) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).epb(0, 1, frame_bytes(70000, 0)).epb(0, 2, frame_bytes(1, 1));
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].data, frame_bytes(70000, 0));
  EXPECT_EQ(r.info.bytes, 70001u);
}

// ---------------------------------------------------------------------------------------------
// Inputs read once: pipes, standard input, FIFOs; gzip; what a non-capture is called

namespace {

/// Classic pcap bytes: little-endian, microseconds, version 2.4.
class Pcap {
 public:
  explicit Pcap(std::uint32_t linktype = kLinktypeEthernet, std::uint32_t snaplen = 65535) {
    put32(0xA1B2C3D4);
    put16(2);
    put16(4);
    put32(0);  // thiszone
    put32(0);  // sigfigs
    put32(snaplen);
    put32(linktype);
  }
  /// One record; @p orig 0 means "as long as the data".
  Pcap& record(std::uint32_t sec, std::uint32_t usec, const Bytes& data, std::uint32_t orig = 0) {
    put32(sec);
    put32(usec);
    put32(static_cast<std::uint32_t>(data.size()));
    put32(orig ? orig : static_cast<std::uint32_t>(data.size()));
    out_.insert(out_.end(), data.begin(), data.end());
    return *this;
  }
  const Bytes& bytes() const { return out_; }

 private:
  void put16(std::uint16_t v) {
    for (int i = 0; i < 2; ++i)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void put32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes out_;
};

/// Bytes that hardly compress (an LCG), so gzip offsets track packet offsets.
Bytes noise(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  for (auto& c : b) {
    seed = seed * 1'103'515'245u + 12'345u;
    c = static_cast<std::uint8_t>(seed >> 24);
  }
  return b;
}

/// A classic pcap of @p n records of 60..250 bytes, one per 10 ms.
Bytes sample_pcap(std::size_t n = 40) {
  Pcap p;
  for (std::size_t i = 0; i < n; ++i)
    p.record(static_cast<std::uint32_t>(kBase), static_cast<std::uint32_t>(i * 10'000),
             noise(60 + (i * 37) % 191, static_cast<std::uint32_t>(i)));
  return p.bytes();
}

/// A pcapng with two interfaces and @p n packets.
Bytes sample_pcapng(std::size_t n = 30) {
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0).idb(kLinktypeRaw, 0);
  for (std::size_t i = 0; i < n; ++i)
    p.epb(static_cast<std::uint32_t>(i % 2), 1'000'000 * static_cast<std::uint64_t>(kBase) + i,
          noise(40 + (i * 53) % 300, static_cast<std::uint32_t>(100 + i)));
  return p.bytes();
}

/// gzip (RFC 1952) of @p in, one member, made by zlib.
Bytes gzip(const Bytes& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes text_bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

/// A pipe whose write end a thread fills with @p data, @p chunk bytes per write(2), then closes.
/// The reader gets path() (/dev/fd/N) or read_fd(); whoever closes the read end early makes the
/// writer stop (EPIPE; SIGPIPE is ignored here).
class PipeFeeder {
 public:
  PipeFeeder(Bytes data, std::size_t chunk) {
    std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    writer_ = std::thread([fd = fds[1], data = std::move(data), chunk] {
      std::size_t off = 0;
      while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, std::min(chunk, data.size() - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
  }
  ~PipeFeeder() {
    close_read();
    writer_.join();
  }
  PipeFeeder(const PipeFeeder&) = delete;
  PipeFeeder& operator=(const PipeFeeder&) = delete;
  std::string path() const { return "/dev/fd/" + std::to_string(read_fd_); }
  int read_fd() const { return read_fd_; }
  void close_read() {
    if (read_fd_ >= 0) ::close(read_fd_);
    read_fd_ = -1;
  }

 private:
  int read_fd_ = -1;
  std::thread writer_;
};

ReadResult read_pipe(const Bytes& data, std::size_t chunk = 4096) {
  PipeFeeder feed(data, chunk);
  return read_file(feed.path());
}

/// Reads @p data as standard input ("-"): fd 0 is the pipe's read end meanwhile.
ReadResult read_stdin(const Bytes& data, std::size_t chunk = 4096) {
  PipeFeeder feed(data, chunk);
  const int saved = ::dup(STDIN_FILENO);
  EXPECT_GE(saved, 0);
  EXPECT_EQ(::dup2(feed.read_fd(), STDIN_FILENO), STDIN_FILENO);
  feed.close_read();
  ReadResult r = read_file("-");
  ::dup2(saved, STDIN_FILENO);  // also closes the pipe, which ends a writer still waiting
  ::close(saved);
  return r;
}

/// Reads @p data through a named FIFO whose writer writes everything and closes. Bounded: a
/// reader that reopens the FIFO would wait forever for a second writer; after kFifoBound the
/// test fails and a writer that comes and goes at once lets it finish.
ReadResult read_fifo(const Bytes& data) {
  constexpr auto kFifoBound = std::chrono::seconds(20);
  std::signal(SIGPIPE, SIG_IGN);
  std::string dir = (std::filesystem::temp_directory_path() / "fedscope-fifo-XXXXXX").string();
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string fifo = dir + "/capture";
  EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::thread writer([&fifo, &data] {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // waits for the reader
    if (fd < 0) return;
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
  auto reading = std::async(std::launch::async, [&fifo] { return read_file(fifo); });
  if (reading.wait_for(kFifoBound) != std::future_status::ready) {
    ADD_FAILURE() << "reading the FIFO did not end within " << kFifoBound.count() << " s";
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
  ReadResult r = reading.get();
  // A writer still waiting for a reader (the reader never opened): let it through.
  const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  writer.join();
  if (fd >= 0) ::close(fd);
  std::filesystem::remove_all(dir);
  return r;
}

/// Same frames, same order, same everything a frame carries.
void expect_same_frames(const ReadResult& got, const ReadResult& want) {
  ASSERT_TRUE(got.opened) << got.open_error;
  ASSERT_EQ(got.frames.size(), want.frames.size());
  for (std::size_t i = 0; i < want.frames.size(); ++i) {
    EXPECT_EQ(got.frames[i].ns, want.frames[i].ns) << i;
    EXPECT_EQ(got.frames[i].interface, want.frames[i].interface) << i;
    EXPECT_EQ(got.frames[i].linktype, want.frames[i].linktype) << i;
    EXPECT_EQ(got.frames[i].wire_length, want.frames[i].wire_length) << i;
    EXPECT_EQ(got.frames[i].data, want.frames[i].data) << i;
    EXPECT_EQ(got.frames[i].number, want.frames[i].number) << i;
  }
  EXPECT_EQ(got.info.complete, want.info.complete) << got.info.error;
  EXPECT_EQ(got.info.linktype_name, want.info.linktype_name);
  EXPECT_EQ(got.info.format, want.info.format);
  EXPECT_EQ(got.info.interfaces.size(), want.info.interfaces.size());
  EXPECT_EQ(got.anomalies.total(), want.anomalies.total());
}

/// The open error for @p content, which must not open.
std::string open_error_for(const Bytes& content) {
  TempFile t(content);
  std::string error;
  EXPECT_EQ(FileReader::open(t.path(), 0, error), nullptr);
  const std::string prefix = t.path() + ": ";
  EXPECT_EQ(error.rfind(prefix, 0), 0u) << error;
  return error.substr(prefix.size());
}

std::string not_a_capture(const std::string& why) {
  return "not a readable pcap or pcapng capture (" + why + ")";
}

}  // namespace

TEST(Input, RegularFileSaysFormatAndNoCompression) {
  auto r = read_bytes(sample_pcap());
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_EQ(r.frames.size(), 40u);
  EXPECT_EQ(r.info.format, "pcap");
  EXPECT_EQ(r.info.compression, "");
  EXPECT_EQ(r.info.name, r.info.path);
  auto n = read_bytes(sample_pcapng());
  ASSERT_TRUE(n.opened) << n.open_error;
  EXPECT_EQ(n.info.format, "pcapng");
  EXPECT_EQ(n.info.compression, "");
}

TEST(Input, PcapFromAPipe) {
  const Bytes b = sample_pcap();
  auto want = read_bytes(b);
  expect_same_frames(read_pipe(b), want);
  expect_same_frames(read_pipe(b, 1), want);  // one byte per write(2)
  expect_same_frames(read_pipe(b, 7), want);
}

TEST(Input, PcapngFromAPipe) {
  const Bytes b = sample_pcapng();
  auto want = read_bytes(b);
  ASSERT_EQ(want.frames.size(), 30u);
  expect_same_frames(read_pipe(b), want);
  expect_same_frames(read_pipe(b, 1), want);
}

TEST(Input, StandardInputIsDash) {
  const Bytes b = sample_pcapng();
  auto want = read_bytes(b);
  auto r = read_stdin(b);
  expect_same_frames(r, want);
  EXPECT_EQ(r.info.path, "-");
  EXPECT_EQ(r.info.name, "standard input");
  // A pipe's size is unknown, its position still counts.
  PipeFeeder feed(sample_pcap(), 4096);
  std::string error;
  auto reader = FileReader::open(feed.path(), 0, error);
  ASSERT_TRUE(reader) << error;
  Frame f;
  AnomalyCounters a;
  while (reader->next(f, a)) {
  }
  EXPECT_EQ(reader->size(), 0u);
  EXPECT_EQ(reader->position(), sample_pcap().size());
}

TEST(Input, FifoEndsWhenItsWriterCloses) {
  const Bytes b = sample_pcap();
  expect_same_frames(read_fifo(b), read_bytes(b));
}

TEST(Input, PcapngThroughAFifo) {
  // Sniffing the format used to consume the first bytes of the FIFO ("empty file").
  const Bytes b = sample_pcapng();
  expect_same_frames(read_fifo(b), read_bytes(b));
  expect_same_frames(read_fifo(gzip(b)), read_bytes(b));
}

TEST(Input, FifoWithAWriterThatWritesNothing) {
  auto r = read_fifo(Bytes{});
  EXPECT_FALSE(r.opened);
  EXPECT_NE(r.open_error.find(not_a_capture("empty input")), std::string::npos) << r.open_error;
}

TEST(Gzip, PcapFromAFile) {
  const Bytes b = sample_pcap();
  const Bytes gz = gzip(b);
  auto r = read_bytes(gz);
  expect_same_frames(r, read_bytes(b));
  EXPECT_EQ(r.info.format, "pcap");
  EXPECT_EQ(r.info.compression, "gzip");
  EXPECT_TRUE(r.info.complete) << r.info.error;
  // Progress is in compressed bytes: the whole .gz at the end.
  TempFile t(gz);
  std::string error;
  auto reader = FileReader::open(t.path(), 0, error);
  ASSERT_TRUE(reader) << error;
  EXPECT_EQ(reader->size(), gz.size());
  Frame f;
  AnomalyCounters a;
  while (reader->next(f, a)) {
  }
  EXPECT_EQ(reader->position(), gz.size());
}

TEST(Gzip, PcapngFromAFileAndAPipe) {
  const Bytes b = sample_pcapng();
  auto want = read_bytes(b);
  auto r = read_bytes(gzip(b));
  expect_same_frames(r, want);
  EXPECT_EQ(r.info.format, "pcapng");
  EXPECT_EQ(r.info.compression, "gzip");
  expect_same_frames(read_pipe(gzip(b)), want);
  expect_same_frames(read_stdin(gzip(b)), want);
}

TEST(Gzip, OneByteWritesThroughAPipe) {
  // No assumption on read sizes: every read(2) may return a single byte.
  for (const Bytes& b : {sample_pcap(), sample_pcapng()}) {
    auto r = read_pipe(gzip(b), 1);
    expect_same_frames(r, read_bytes(b));
    EXPECT_EQ(r.info.compression, "gzip");
  }
}

TEST(Gzip, SeveralMembersAreOneStream) {
  // `cat a.gz b.gz`: split inside the file header, inside a record, and in three.
  const Bytes b = sample_pcap();
  auto want = read_bytes(b);
  for (std::size_t cut : {std::size_t{10}, std::size_t{24}, std::size_t{331}, b.size() - 1}) {
    const Bytes first(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(cut));
    const Bytes rest(b.begin() + static_cast<std::ptrdiff_t>(cut), b.end());
    auto r = read_bytes(concat(gzip(first), gzip(rest)));
    expect_same_frames(r, want);
    EXPECT_TRUE(r.info.complete) << cut << ": " << r.info.error;
  }
  const Bytes a(b.begin(), b.begin() + 100), m(b.begin() + 100, b.begin() + 1000),
      z(b.begin() + 1000, b.end());
  expect_same_frames(read_pipe(concat(concat(gzip(a), gzip(m)), gzip(z)), 3), want);
  // An empty member in between changes nothing.
  expect_same_frames(read_bytes(concat(concat(gzip(a), gzip(Bytes{})), gzip(concat(m, z)))), want);
  const Bytes ng = sample_pcapng();
  const Bytes n1(ng.begin(), ng.begin() + 77), n2(ng.begin() + 77, ng.end());
  expect_same_frames(read_bytes(concat(gzip(n1), gzip(n2))), read_bytes(ng));
}

TEST(Gzip, CutShortKeepsThePacketsBefore) {
  const Bytes b = sample_pcap();
  auto all = read_bytes(b);
  const Bytes gz = gzip(b);
  Bytes cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() * 2 / 3));
  for (bool through_pipe : {false, true}) {
    auto r = through_pipe ? read_pipe(cut, 5) : read_bytes(cut);
    ASSERT_TRUE(r.opened) << r.open_error;
    EXPECT_GT(r.frames.size(), 5u);
    EXPECT_LT(r.frames.size(), all.frames.size());
    for (std::size_t i = 0; i < r.frames.size(); ++i)
      EXPECT_EQ(r.frames[i].data, all.frames[i].data) << i;
    EXPECT_FALSE(r.info.complete);
    EXPECT_EQ(r.info.error,
              "gzip data cut short after " + std::to_string(cut.size()) + " compressed bytes");
    EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
  }
  // pcapng: the reader's block offset and the gzip reason.
  const Bytes ng = gzip(sample_pcapng());
  Bytes ncut(ng.begin(), ng.begin() + static_cast<std::ptrdiff_t>(ng.size() / 2));
  auto n = read_bytes(ncut);
  ASSERT_TRUE(n.opened) << n.open_error;
  EXPECT_GT(n.frames.size(), 3u);
  EXPECT_FALSE(n.info.complete);
  EXPECT_NE(n.info.error.find("gzip data cut short after " + std::to_string(ncut.size()) +
                              " compressed bytes"),
            std::string::npos)
      << n.info.error;
  EXPECT_EQ(n.anomalies.get("capture.damaged_record"), 1u);
}

TEST(Gzip, CutAtEveryOffset) {
  // Whatever the cut: no crash, the frames are a prefix, and the cut is reported as gzip's.
  const Bytes b = sample_pcap(8);
  auto all = read_bytes(b);
  const Bytes gz = gzip(b);
  for (std::size_t len = 2; len < gz.size(); ++len) {
    auto r = read_bytes(Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(len)));
    if (!r.opened) {
      EXPECT_NE(r.open_error.find("gzip data cut short after " + std::to_string(len)),
                std::string::npos)
          << len << ": " << r.open_error;
      continue;
    }
    EXPECT_FALSE(r.info.complete) << len;
    EXPECT_NE(r.info.error.find("gzip data cut short"), std::string::npos)
        << len << ": " << r.info.error;
    ASSERT_LE(r.frames.size(), all.frames.size());
    for (std::size_t i = 0; i < r.frames.size(); ++i)
      EXPECT_EQ(r.frames[i].data, all.frames[i].data) << len << " " << i;
  }
}

TEST(Gzip, CorruptDataIsDamage) {
  const Bytes b = sample_pcap();
  auto all = read_bytes(b);
  // A wrong CRC in the trailer: every packet was read, but the data cannot be trusted.
  Bytes crc = gzip(b);
  crc[crc.size() - 8] ^= 0xff;
  auto r = read_bytes(crc);
  ASSERT_TRUE(r.opened) << r.open_error;
  EXPECT_EQ(r.frames.size(), all.frames.size());
  EXPECT_FALSE(r.info.complete);
  EXPECT_EQ(r.info.error, "gzip data corrupt at compressed byte " + std::to_string(crc.size() - 4) +
                              ": incorrect data check");
  EXPECT_EQ(r.anomalies.get("capture.damaged_record"), 1u);
  // Garbage in the middle of the deflate data: zlib's words, a prefix of the packets.
  Bytes mid = gzip(b);
  for (std::size_t i = mid.size() / 2; i < mid.size() / 2 + 16; ++i)
    mid[i] = 0xff;
  auto m = read_bytes(mid);
  ASSERT_TRUE(m.opened) << m.open_error;
  EXPECT_FALSE(m.info.complete);
  EXPECT_EQ(m.info.error.rfind("gzip data corrupt at compressed byte ", 0), 0u) << m.info.error;
  EXPECT_LT(m.frames.size(), all.frames.size());
  // Bytes after the last member that are no gzip member.
  auto t = read_bytes(concat(gzip(b), text_bytes("trailing")));
  ASSERT_TRUE(t.opened) << t.open_error;
  EXPECT_EQ(t.frames.size(), all.frames.size());
  EXPECT_FALSE(t.info.complete);
  EXPECT_EQ(t.info.error, "gzip data followed by bytes that are not gzip, at compressed byte " +
                              std::to_string(gzip(b).size()));
}

TEST(Gzip, NotACaptureInside) {
  EXPECT_EQ(open_error_for(gzip(text_bytes("hello world\nsecond line\n"))),
            not_a_capture("gzip data, but not a capture inside: text, starts with 'hello world'"));
  EXPECT_EQ(open_error_for(gzip(Bytes{})),
            not_a_capture("gzip data, but not a capture inside: empty"));
  EXPECT_EQ(open_error_for(gzip(text_bytes("BZh91AY&SY"))),
            not_a_capture("gzip data, but not a capture inside: bzip2-compressed data"));
  EXPECT_EQ(open_error_for(gzip(gzip(sample_pcap()))),
            not_a_capture("gzip data, but not a capture inside: gzip data (compressed twice?)"));
  // The gzip header itself cut short.
  const Bytes gz = gzip(sample_pcap());
  EXPECT_EQ(open_error_for(Bytes(gz.begin(), gz.begin() + 5)),
            not_a_capture("gzip data cut short after 5 compressed bytes"));
}

TEST(Detect, WhatANonCaptureIs) {
  struct Case {
    Bytes content;
    std::string why;
  };
  Bytes tar(600, 0);
  std::memcpy(tar.data(), "capture.pcap", 12);
  std::memcpy(tar.data() + 257, "ustar", 5);
  const std::string compressed = ": fedscope reads gzip; decompress it first: ";
  const std::string convert =
      ": fedscope reads pcap and pcapng; convert it first: editcap -F pcap FILE out.pcap";
  const std::vector<Case> cases = {
      {Bytes{}, "empty input"},
      {text_bytes("BZh91AY&SY\x01\x02"),
       "bzip2-compressed data" + compressed + "bzcat FILE | fedscope report -"},
      {Bytes{0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00, 0x04},
       "xz-compressed data" + compressed + "xzcat FILE | fedscope report -"},
      {Bytes{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58},
       "zstd-compressed data" + compressed + "zstdcat FILE | fedscope report -"},
      {Bytes{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40},
       "lz4-compressed data" + compressed + "lz4cat FILE | fedscope report -"},
      {Bytes{'P', 'K', 3, 4, 20, 0, 0, 0},
       "zip archive: fedscope reads gzip; extract the capture first: unzip -p FILE | fedscope "
       "report -"},
      {tar, "tar archive: extract the capture first: tar -xOf FILE | fedscope report -"},
      {Bytes{'s', 'n', 'o', 'o', 'p', 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4},
       "Sun snoop capture" + convert},
      {text_bytes("GMBU\x00\x02"), "Microsoft Network Monitor 2.x capture" + convert},
      {text_bytes("RTSS\x01\x01"), "Microsoft Network Monitor 1.x capture" + convert},
      {Bytes{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, "an ELF executable"},
      {Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0}, "a PNG image"},
      {text_bytes("%PDF-1.7\n"), "a PDF document"},
      {text_bytes("hello world, this is text\n"), "text, starts with 'hello world, thi'"},
      {text_bytes("\xef\xbb\xbf  caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                  "e"),
       "text, starts with 'caf\xc3\xa9 cr\xc3\xa8me br'"},
      {text_bytes("short\nnext line"), "text, starts with 'short'"},
      {text_bytes("\n\n  \t\n"), "text, only white space"},
      {text_bytes("<!DOCTYPE html>\n<html><body>404</body></html>"),
       "HTML, starts with '<!DOCTYPE html>'"},
      {text_bytes("  <html lang=\"en\">"), "HTML, starts with '<html lang=\"en\">'"},
      {text_bytes("<?xml version=\"1.0\"?>\n<pdml>"), "XML, starts with '<?xml version=\"1'"},
      {text_bytes("[\n  {\n    \"_index\": \"packets\""), "JSON, starts with '['"},
      {text_bytes("{\"frame\": 1}"), "JSON, starts with '{\"frame\": 1}'"},
      {Bytes{0x01, 0x02, 0x03, 0x04, 0x05}, "unknown format, starts with 0x01 0x02 0x03 0x04"},
      {Bytes{0xd4, 0xc3, 0xb2}, "too short for a capture: 3 bytes, 0xd4 0xc3 0xb2"},
      {Bytes{0x1f}, "too short for a capture: 1 byte, 0x1f"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(open_error_for(c.content), not_a_capture(c.why));
}

TEST(Detect, NamesStandardInputDirectoriesAndMissingFiles) {
  auto r = read_stdin(Bytes{});
  EXPECT_FALSE(r.opened);
  EXPECT_EQ(r.open_error, "standard input: " + not_a_capture("empty input"));
  auto t = read_stdin(text_bytes("hello wor"));
  EXPECT_EQ(t.open_error, "standard input: " + not_a_capture("text, starts with 'hello wor'"));
  std::string error;
  const std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(FileReader::open(dir, 0, error), nullptr);
  EXPECT_EQ(error, dir + ": is a directory, not a capture file");
  const std::string missing = dir + "/fedscope-no-such-capture.pcap";
  EXPECT_EQ(FileReader::open(missing, 0, error), nullptr);
  EXPECT_EQ(error, missing + ": No such file or directory");
  // The corner file, by name.
  EXPECT_EQ(FileReader::open(kCorner + "not-a-capture.pcap", 0, error), nullptr);
  EXPECT_EQ(error, kCorner + "not-a-capture.pcap: " +
                       not_a_capture("text, starts with 'This is not a pa'"));
}

TEST(Pcap, SecondsAreUnsigned) {
  // 0xFFFFFFFF is 2106-02-07T06:28:15Z (tshark agrees), not 1969 as libpcap's sign extension.
  Pcap p;
  p.record(0xFFFFFFFFu, 999'999, frame_bytes(60, 0));
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].ns, 4'294'967'295 * kSecond + 999'999'000);
  EXPECT_EQ(format_iso8601(Timestamp{r.frames[0].ns}), "2106-02-07T06:28:15.999999Z");
  EXPECT_EQ(r.info.first.ns, r.frames[0].ns);
  EXPECT_EQ(r.info.last.ns, r.frames[0].ns);
  EXPECT_EQ(r.anomalies.get("capture.time_went_backwards"), 0u);
  // 2038 and later keep their order.
  Pcap q;
  q.record(0x7FFFFFFFu, 0, frame_bytes(60, 0)).record(0x80000000u, 0, frame_bytes(60, 1));
  auto s = read_bytes(q.bytes());
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_LT(s.frames[0].ns, s.frames[1].ns);
  EXPECT_EQ(s.anomalies.get("capture.time_went_backwards"), 0u);
}

TEST(Pcap, OnePacketNeverWentBackwards) {
  // A first packet before 1970 (if_tsoffset) used to be compared with the default last time 0.
  Pcapng p;
  p.shb().idb(kLinktypeEthernet, 0, {p.opt_i64(14, -1000)}).epb(0, 1, frame_bytes(60, 0));
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_LT(r.frames[0].ns, 0);
  EXPECT_EQ(r.anomalies.get("capture.time_went_backwards"), 0u);
  EXPECT_EQ(r.info.first.ns, r.frames[0].ns);
  EXPECT_EQ(r.info.last.ns, r.frames[0].ns);
  // From the second packet on it is still counted.
  p.epb(0, 0, frame_bytes(60, 1));
  auto s = read_bytes(p.bytes());
  EXPECT_EQ(s.anomalies.get("capture.time_went_backwards"), 1u);
}

TEST(Pcap, OriginalLengthBelowCapturedLength) {
  Pcap p;
  p.record(static_cast<std::uint32_t>(kBase), 0, frame_bytes(60, 0), 40)
      .record(static_cast<std::uint32_t>(kBase), 1, frame_bytes(60, 1), 1500);
  auto r = read_bytes(p.bytes());
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].wire_length, 60u);  // as the pcapng reader does
  EXPECT_EQ(r.frames[1].wire_length, 1500u);
  EXPECT_EQ(r.anomalies.get("capture.pcap_bad_original_length"), 1u);
  EXPECT_EQ(r.info.truncated, 1u);
}

TEST(MergedReader, StandardInputOnlyOnce) {
  MergedReader m;
  std::string error;
  EXPECT_FALSE(m.open({"-", kCorner + "raw-ip.pcap", "-"}, error));
  EXPECT_EQ(error, "standard input (-) given more than once");
}

TEST(MergedReader, PipeAndFileProgress) {
  PipeFeeder feed(gzip(sample_pcapng()), 4096);
  MergedReader m;
  std::string error;
  ASSERT_TRUE(m.open({feed.path(), kCorner + "raw-ip.pcap"}, error)) << error;
  Frame f;
  std::size_t n = 0;
  while (m.next(f)) {
    EXPECT_LE(m.progress(), 1.0);
    ++n;
  }
  EXPECT_EQ(n, 30u + 22u);
  EXPECT_DOUBLE_EQ(m.progress(), 1.0);
  auto files = m.files();
  EXPECT_EQ(files[0].compression, "gzip");
  EXPECT_EQ(files[0].format, "pcapng");
  EXPECT_EQ(files[1].format, "pcap");
}
