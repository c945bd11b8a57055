// Capture reading: the pcapng reader (committed files checked against tshark, generated files
// for every corner: byte orders, sections, mixed link types, SPB, PB, timestamp resolutions,
// damaged and cut blocks, bad interface ids), the classic-pcap path and MergedReader.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/capture/pcapng.hpp"
#include "fedscope/capture/reader.hpp"

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

struct Got {
  std::int64_t ns;
  std::int32_t interface;
  int linktype;
  std::uint32_t wire_length;
  Bytes data;
  std::uint64_t number;
};

struct ReadResult {
  bool opened = false;
  std::string open_error;
  FileInfo info;
  AnomalyCounters anomalies;
  std::vector<Got> frames;
};

ReadResult read_file(const std::string& path) {
  ReadResult r;
  auto reader = FileReader::open(path, 0, r.open_error);
  if (!reader) return r;
  r.opened = true;
  Frame f;
  std::uint64_t last_position = 0;
  while (reader->next(f, r.anomalies)) {
    r.frames.push_back(Got{f.time.ns, f.interface, f.linktype, f.wire_length,
                           Bytes(f.data.begin(), f.data.end()), f.number});
    // Progress: never backwards, never past the file.
    EXPECT_GE(reader->position(), last_position);
    EXPECT_LE(reader->position(), reader->size());
    last_position = reader->position();
    if (r.frames.size() > 100000) break;  // a bug guard, never reached
  }
  EXPECT_FALSE(reader->next(f, r.anomalies)) << "next() after the end must stay false";
  EXPECT_EQ(reader->position(), reader->size());
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
