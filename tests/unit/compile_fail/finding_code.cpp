// Finding codes are enumerators, so a code the catalogue lacks is a compile error, not a finding
// with an empty remedy. ctest compiles this file twice with -fsyntax-only: as it is (a real
// code, must compile) and with FEDSCOPE_UNKNOWN_CODE (must not), so the second can fail only
// for the code.

#include <string_view>

#include "fedscope/report/findings.hpp"

namespace fedscope::report {

#ifdef FEDSCOPE_UNKNOWN_CODE
constexpr FindingCode kCode = FindingCode::kNoSuchCode;
#else
constexpr FindingCode kCode = FindingCode::kNatPortMismatch;
#endif

std::string_view code_text() {
  return to_string(kCode);
}

}  // namespace fedscope::report
