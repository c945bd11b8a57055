#pragma once
// What a capture test reads back from a file: every frame copied (it outlives the reader),
// with the file's info and the anomalies counted. Shared by test_capture (the readers) and
// test_capture_write (the writer, read back).

#include <cstdint>
#include <string>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/capture/reader.hpp"

namespace fedscope::test {

struct Got {
  std::int64_t ns;
  std::int32_t interface;
  int linktype;
  std::uint32_t wire_length;
  std::vector<std::uint8_t> data;
  std::uint64_t number;
};

struct ReadResult {
  bool opened = false;
  std::string open_error;
  capture::FileInfo info;
  AnomalyCounters anomalies;
  std::vector<Got> frames;
};

inline Got got_of(const Frame& f) {
  return Got{f.time.ns,
             f.interface,
             f.linktype,
             f.wire_length,
             std::vector<std::uint8_t>(f.data.begin(), f.data.end()),
             f.number};
}

}  // namespace fedscope::test
