// libFuzzer target: the capture reader on whole inputs (classic pcap through libpcap, pcapng
// through our reader, gzip of either, anything else named), opened the way a pipe is: one
// open, one pass. The first byte chooses whether the rest is gzip-compressed first, so that
// the gzip layer is fed both valid members around fuzzed captures and fuzzed gzip bytes.
// Invariants: no crash, no hang, every frame's data within its captured length, and a failed
// open always says why.
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fedscope/capture/pcapng.hpp"
#include "fedscope/capture/reader.hpp"

namespace {

std::vector<std::uint8_t> gzip_of(const std::uint8_t* data, std::size_t size) {
  z_stream z{};
  std::vector<std::uint8_t> out(compressBound(static_cast<uLong>(size)) + 64);
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool compress = (data[0] & 1) != 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if (compress) bytes = gzip_of(data + 1, size - 1);
  // A memory file opened by path, as /dev/fd/N is after bash's <(...).
  const int fd = memfd_create("fuzz_capture", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
    std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::string error;
  fedscope::AnomalyCounters anomalies;
  auto reader = fedscope::capture::FileReader::open(path, 0, error);
  if (!reader) {
    if (error.empty()) std::abort();  // a refusal always says why
  } else {
    fedscope::Frame frame;
    std::uint64_t n = 0;
    while (reader->next(frame, anomalies)) {
      if (frame.data.size() > fedscope::capture::kPcapngMaxBlockLength) std::abort();
      if (++n > 1'000'000) std::abort();  // an input of this size cannot hold that many
    }
    if (!reader->info().complete && reader->info().error.empty()) std::abort();
  }
  close(fd);
  return 0;
}
