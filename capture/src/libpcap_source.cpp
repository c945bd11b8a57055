// Classic pcap through libpcap.

#include <pcap/pcap.h>

#include <cstdio>

#include "source.hpp"

namespace fedscope::capture::detail {
namespace {

class LibpcapSource final : public Source {
 public:
  explicit LibpcapSource(pcap_t* handle) : handle_(handle) {}
  ~LibpcapSource() override { close(); }
  LibpcapSource(const LibpcapSource&) = delete;
  LibpcapSource& operator=(const LibpcapSource&) = delete;

  bool next(Frame& out, FileInfo& info, AnomalyCounters& /*anomalies*/) override {
    if (!handle_) return false;
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(handle_, &hdr, &data);
    if (rc == 1) {
      out.time = Timestamp::from_parts(hdr->ts.tv_sec, hdr->ts.tv_usec);
      out.linktype = info.linktype;
      out.interface = -1;
      out.wire_length = hdr->len;
      out.data = std::span<const std::uint8_t>(data, hdr->caplen);
      return true;
    }
    if (rc == PCAP_ERROR) {
      // A damaged or cut record: keep what was read, say where it stopped.
      info.complete = false;
      info.error = pcap_geterr(handle_);
    }
    close();
    return false;
  }

  std::uint64_t position() const override {
    if (!handle_) return 0;
    FILE* f = pcap_file(handle_);
    if (!f) return 0;
    long pos = std::ftell(f);
    return pos < 0 ? 0 : static_cast<std::uint64_t>(pos);
  }

 private:
  void close() {
    if (handle_) pcap_close(handle_);
    handle_ = nullptr;
  }
  pcap_t* handle_ = nullptr;
};

}  // namespace

std::string dlt_name(int dlt) {
  const char* name = pcap_datalink_val_to_name(dlt);
  return name ? name : "DLT_" + std::to_string(dlt);
}

std::unique_ptr<Source> open_libpcap_source(const std::string& path, FileInfo& info,
                                            std::string& error) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  // Nanosecond precision: libpcap scales microsecond files up, so one clock serves all.
  pcap_t* h =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!h) {
    error = errbuf;
    return nullptr;
  }
  info.linktype = pcap_datalink(h);
  info.linktype_name = dlt_name(info.linktype);
  info.snaplen = static_cast<std::uint32_t>(pcap_snapshot(h));
  return std::make_unique<LibpcapSource>(h);
}

}  // namespace fedscope::capture::detail
