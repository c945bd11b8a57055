// Classic pcap through libpcap. libpcap reads a stdio stream that glibc's fopencookie makes over
// our Input, so the path is opened once (by Input) and pipes, FIFOs and gzip work as files do.

#include <pcap/pcap.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "source.hpp"

namespace fedscope::capture::detail {
namespace {

constexpr std::string_view kAnomalyBadOriginalLength = "capture.pcap_bad_original_length";
/// stdio buffer between Input and libpcap: one cookie call per many records.
constexpr std::size_t kStdioBufferSize = 64 * 1024;

/// fopencookie read: what Input has (without waiting for a full stdio buffer); -1 (EIO) once
/// the input failed, so that libpcap stops with an error instead of a clean end.
ssize_t cookie_read(void* cookie, char* buf, std::size_t size) {
  auto* input = static_cast<Input*>(cookie);
  const std::size_t n = input->read_some(reinterpret_cast<std::uint8_t*>(buf), size);
  if (n == 0 && !input->error().empty()) {
    errno = EIO;
    return -1;
  }
  return static_cast<ssize_t>(n);
}

class LibpcapSource final : public Source {
 public:
  LibpcapSource(pcap_t* handle, std::unique_ptr<char[]> stdio_buffer)
      : stdio_buffer_(std::move(stdio_buffer)), handle_(handle) {}
  ~LibpcapSource() override { close(); }
  LibpcapSource(const LibpcapSource&) = delete;
  LibpcapSource& operator=(const LibpcapSource&) = delete;

  bool next(Frame& out, FileInfo& info, AnomalyCounters& anomalies) override {
    if (!handle_) return false;
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(handle_, &hdr, &data);
    if (rc == 1) {
      // ts_sec is unsigned 32-bit in the file (as tshark reads it); libpcap sign-extends it,
      // which would put 2038..2106 before 1970.
      const auto sec = static_cast<std::uint32_t>(hdr->ts.tv_sec);
      out.time = Timestamp::from_parts(sec, hdr->ts.tv_usec);
      out.linktype = info.linktype;
      out.interface = -1;
      out.wire_length = hdr->len;
      if (hdr->len < hdr->caplen) {
        // A frame cannot have been shorter on the wire than what was captured of it.
        anomalies.add(kAnomalyBadOriginalLength);
        out.wire_length = hdr->caplen;
      }
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

 private:
  void close() {
    if (handle_) pcap_close(handle_);  // also fclose()s the cookie stream
    handle_ = nullptr;
  }
  std::unique_ptr<char[]> stdio_buffer_;  ///< the cookie stream's buffer; outlives handle_
  pcap_t* handle_ = nullptr;
};

}  // namespace

std::string dlt_name(int dlt) {
  const char* name = pcap_datalink_val_to_name(dlt);
  return name ? name : "DLT_" + std::to_string(dlt);
}

std::unique_ptr<Source> open_libpcap_source(Input& input, FileInfo& info, std::string& error) {
  cookie_io_functions_t io{};
  io.read = &cookie_read;  // no write, no seek: libpcap reads front to back
  FILE* f = fopencookie(&input, "r", io);
  if (!f) {
    error = std::string("cannot make a stdio stream: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<char[]> buffer(new char[kStdioBufferSize]);
  std::setvbuf(f, buffer.get(), _IOFBF, kStdioBufferSize);
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  // Nanosecond precision: libpcap scales microsecond files up, so one clock serves all.
  pcap_t* h = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!h) {
    std::fclose(f);  // libpcap leaves the stream to the caller when it fails
    error = errbuf;
    return nullptr;
  }
  info.linktype = pcap_datalink(h);
  info.linktype_name = dlt_name(info.linktype);
  info.snaplen = static_cast<std::uint32_t>(pcap_snapshot(h));
  return std::make_unique<LibpcapSource>(h, std::move(buffer));
}

}  // namespace fedscope::capture::detail
