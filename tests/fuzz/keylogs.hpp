#pragma once
/// @file
/// The key logs of the scripted captures (pcaps/xmpp/*/sslkeylog.txt), loaded once: the fuzz
/// targets decrypt the seeds cut from those captures, so mutations reach the plaintext paths.

#include <filesystem>
#include <string>

#include "fedscope/tls/decrypt.hpp"

namespace fedscope::fuzz {

inline const tls::KeyLog& scripted_keylogs() {
  static const tls::KeyLog k = [] {
    tls::KeyLog log;
    std::error_code ec;
    for (const auto& d :
         std::filesystem::directory_iterator(FEDSCOPE_SOURCE_DIR "/pcaps/xmpp", ec)) {
      std::string error;
      if (std::filesystem::exists(d.path() / "sslkeylog.txt"))
        log.load_file((d.path() / "sslkeylog.txt").string(), error);
    }
    return log;
  }();
  return k;
}

}  // namespace fedscope::fuzz
