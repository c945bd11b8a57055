#include "output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace fedscope::app {
namespace {

constexpr std::size_t kBufferSize = 64 * 1024;

std::string reason(int err) {
  return std::strerror(err);
}

// The temporary files a signal must remove: the report's and the event log's (--events). Fixed
// buffers because a signal handler may only call async-signal-safe functions (unlink, raise).
constexpr int kTempSlots = 4;
char g_temp_path[kTempSlots][4096];
std::atomic<bool> g_temp_set[kTempSlots];

extern "C" void remove_temp_and_reraise(int sig) {
  for (int i = 0; i < kTempSlots; ++i)
    if (g_temp_set[i].load()) ::unlink(g_temp_path[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void arm_cleanup(const std::string& temp) {
  if (temp.size() >= sizeof g_temp_path[0]) return;  // mkstemp never gets here: PATH_MAX
  for (int i = 0; i < kTempSlots; ++i) {
    if (g_temp_set[i].load()) continue;
    std::memcpy(g_temp_path[i], temp.c_str(), temp.size() + 1);
    g_temp_set[i].store(true);
    break;
  }
  struct sigaction sa {};
  sa.sa_handler = remove_temp_and_reraise;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
    sigaction(sig, &sa, nullptr);
}

void disarm_cleanup(const std::string& temp) {
  bool any = false;
  for (int i = 0; i < kTempSlots; ++i) {
    if (g_temp_set[i].load() && temp == g_temp_path[i]) g_temp_set[i].store(false);
    any = any || g_temp_set[i].load();
  }
  if (any) return;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
    std::signal(sig, SIG_DFL);
}

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

FileId identify(const std::string& path) {
  struct stat st {};
  FileId id;
  const int rc = path == "-" ? ::fstat(STDIN_FILENO, &st) : ::stat(path.c_str(), &st);
  if (rc == 0) {
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.known = true;
  }
  return id;
}

FdStreambuf::FdStreambuf(int fd) : fd_(fd), buf_(kBufferSize) {
  setp(buf_.data(), buf_.data() + buf_.size());
}

FdStreambuf::~FdStreambuf() {
  drain();
}

bool FdStreambuf::drain() {
  const char* p = pbase();
  std::size_t n = static_cast<std::size_t>(pptr() - pbase());
  while (n > 0 && error_ == 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      break;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  setp(buf_.data(), buf_.data() + buf_.size());
  return error_ == 0;
}

FdStreambuf::int_type FdStreambuf::overflow(int_type ch) {
  if (!drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(ch, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
  }
  return traits_type::not_eof(ch);
}

int FdStreambuf::sync() {
  return drain() ? 0 : -1;
}

std::streamsize FdStreambuf::xsputn(const char* s, std::streamsize n) {
  std::streamsize done = 0;
  while (done < n) {
    const std::streamsize room = epptr() - pptr();
    if (room == 0) {
      if (!drain()) return done;
      continue;
    }
    const std::streamsize k = std::min(room, n - done);
    std::memcpy(pptr(), s + done, static_cast<std::size_t>(k));
    pbump(static_cast<int>(k));
    done += k;
  }
  return done;
}

Output::Output(int fd, std::string name, std::string target, std::string temp)
    : fd_(fd),
      name_(std::move(name)),
      target_(std::move(target)),
      temp_(std::move(temp)),
      buf_(fd),
      os_(&buf_) {}

Output::~Output() {
  if (committed_) return;
  if (fd_ > STDERR_FILENO) ::close(fd_);
  if (!temp_.empty()) {
    ::unlink(temp_.c_str());
    disarm_cleanup(temp_);
  }
}

std::unique_ptr<Output> Output::open(const std::string& path, const std::vector<FileId>& inputs,
                                     std::string& error) {
  if (path.empty() || path == "-") {
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
      // `fedscope report x.pcap > x.pcap` cannot be undone (the shell truncated it), but
      // `>> x.pcap` can: never append a report to a capture.
      FileId out{st.st_dev, st.st_ino, true};
      for (const auto& in : inputs)
        if (in == out) {
          error =
              "standard output is one of the input captures; refusing to write the report "
              "into it";
          return nullptr;
        }
    }
    return std::unique_ptr<Output>(new Output(STDOUT_FILENO, "standard output", "", ""));
  }
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) {
    error = "cannot write " + path + ": " + reason(errno);
    return nullptr;
  }
  if (exists) {
    const FileId out{st.st_dev, st.st_ino, true};
    for (const auto& in : inputs)
      if (in == out) {
        error = path + " is one of the input captures; refusing to overwrite it with the report";
        return nullptr;
      }
    if (S_ISDIR(st.st_mode)) {
      error = "cannot write " + path + ": " + reason(EISDIR);
      return nullptr;
    }
    if (!S_ISREG(st.st_mode)) {
      // A device, FIFO or socket (/dev/null, /dev/stdout, a named pipe): written in place,
      // there is nothing to rename.
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        error = "cannot write " + path + ": " + reason(errno);
        return nullptr;
      }
      return std::unique_ptr<Output>(new Output(fd, path, "", ""));
    }
    if (::access(path.c_str(), W_OK) != 0) {
      error = "cannot write " + path + ": " + reason(errno);
      return nullptr;
    }
  }
  const std::string folder = folder_of(path);
  struct stat fst {};
  if (::stat(folder.c_str(), &fst) != 0) {
    error = "cannot write " + path + ": folder " + folder + ": " + reason(errno);
    return nullptr;
  }
  if (!S_ISDIR(fst.st_mode)) {
    error = "cannot write " + path + ": " + folder + ": " + reason(ENOTDIR);
    return nullptr;
  }
  std::string temp = folder + "/." + base_of(path) + ".fedscope-XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    error = "cannot write " + path + ": " + reason(errno);
    return nullptr;
  }
  temp.assign(name.data());
  // mkstemp makes 0600; give the report the mode a plain create would (or the old file's).
  mode_t mode = 0;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd, mode) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    error = "cannot write " + path + ": " + reason(err);
    return nullptr;
  }
  arm_cleanup(temp);
  return std::unique_ptr<Output>(new Output(fd, path, path, temp));
}

bool Output::commit(std::string& error) {
  os_.flush();
  int err = buf_.error();
  if (err == 0 && !os_) err = EIO;
  if (fd_ > STDERR_FILENO) {
    if (err == 0 && !temp_.empty() && ::fsync(fd_) != 0 && errno != EINVAL) err = errno;
    if (::close(fd_) != 0 && err == 0) err = errno;
    fd_ = -1;
  }
  if (err == 0 && !temp_.empty() && ::rename(temp_.c_str(), target_.c_str()) != 0) err = errno;
  if (err != 0) {
    error = "cannot write " + name_ + ": " + reason(err);
    if (!temp_.empty()) {
      ::unlink(temp_.c_str());
      disarm_cleanup(temp_);
    }
    committed_ = true;
    return false;
  }
  if (!temp_.empty()) disarm_cleanup(temp_);
  committed_ = true;
  return true;
}

}  // namespace fedscope::app
