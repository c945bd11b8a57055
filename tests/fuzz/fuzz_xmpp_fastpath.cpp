// libFuzzer target: the XMPP parser's stanza fast path against the slow path (expat only).
// Any difference in events, offsets, consumed counts, state or counters aborts. Input format:
// tests/fuzz/xmpp_differential.hpp.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "xmpp_differential.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace diff = fedscope::test::differential;
  const diff::Plan plan = diff::plan_from_bytes(data, size);
  const std::string why = diff::compare(plan);
  if (!why.empty()) {
    std::fprintf(stderr, "fast path and slow path differ at %s\n", why.c_str());
    std::abort();
  }
  return 0;
}
