// Live capture through libpcap: one pcap_t per device, non-blocking, waited on together with
// poll(2). libpcap's return codes are turned into sentences a user can act on here, once, so
// the app only prints them. No exceptions: libpcap calls back into our handler from C.

#include "fedscope/capture/live.hpp"

#include <grp.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string_view>

namespace fedscope::capture {
namespace {

constexpr std::string_view kAnomalyLiveReadError = "capture.live_read_error";
/// Frames taken from one device per poll(): a busy device cannot starve the others or the
/// caller's timers; the rest waits for the next call (the kernel buffer holds it).
constexpr int kMaxFramesPerDispatch = 256;
/// How often poll() asks the kernel whether a device is still there and up. libpcap 1.10
/// reports a removed device only when it was up at the time, and a device taken down not at
/// all (it delivers again when it comes back up).
constexpr auto kStateCheckInterval = std::chrono::seconds(1);

enum class DeviceState { kUp, kDown, kGone, kUnknown };

/// The state of device @p name as the namespace of socket @p fd sees it (a packet socket
/// stays in the namespace it was made in, whatever the caller's thread does later).
DeviceState device_state(int fd, const std::string& name) {
  ifreq ifr{};
  if (name.size() >= sizeof ifr.ifr_name) return DeviceState::kUnknown;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    return errno == ENODEV || errno == ENXIO ? DeviceState::kGone : DeviceState::kUnknown;
  return (ifr.ifr_flags & IFF_UP) != 0 ? DeviceState::kUp : DeviceState::kDown;
}

Timestamp wall_clock() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return Timestamp::from_parts(ts.tv_sec, ts.tv_nsec);
}

std::string datalink_name(int dlt) {
  const char* n = pcap_datalink_val_to_name(dlt);
  return n ? std::string(n) : "DLT_" + std::to_string(dlt);
}

/// pcap_activate()'s error as the user should read it; @p name is the device.
std::string activate_error(pcap_t* p, int rc, const std::string& name) {
  const std::string detail = pcap_geterr(p);
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return name + ": no such device (ip link lists the interfaces)";
    case PCAP_ERROR_PERM_DENIED:
      return name +
             ": permission denied: capturing needs root or CAP_NET_RAW (e.g. setcap "
             "cap_net_raw+ep)";
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return name + ": permission denied for promiscuous mode (capture without it: -p, or as root)";
    case PCAP_ERROR_IFACE_NOT_UP:
      return name + ": the interface is down (ip link set dev " + name + " up)";
    case PCAP_ERROR_RFMON_NOTSUP:
      return name + ": monitor mode is not supported";
#ifdef PCAP_ERROR_CAPTURE_NOTSUP
    case PCAP_ERROR_CAPTURE_NOTSUP:
      return name + ": capturing is not supported on this device" +
             (detail.empty() ? "" : " (" + detail + ")");
#endif
    default:
      return name + ": " + (detail.empty() ? pcap_statustostr(rc) : detail);
  }
}

/// pcap_activate()'s warning in words; "" for none.
std::string activate_warning(pcap_t* p, int rc) {
  switch (rc) {
    case 0:
      return "";
    case PCAP_WARNING_PROMISC_NOTSUP:
      return "promiscuous mode is not supported, captured without it";
    case PCAP_WARNING_TSTAMP_TYPE_NOTSUP:
      return "the time stamp type is not supported";
    default: {
      const std::string detail = pcap_geterr(p);
      return detail.empty() ? pcap_statustostr(rc) : detail;
    }
  }
}

/// pcap_stats()' counters are 32 bits and wrap on a long capture: keep 64-bit sums of the
/// increments.
void accumulate(std::uint64_t& total, unsigned& last, unsigned now) {
  total += static_cast<unsigned>(now - last);  // modulo 2^32, right across a wrap
  last = now;
}

}  // namespace

struct LiveCapture::Impl {
  struct Device {
    pcap_t* pcap = nullptr;
    int fd = -1;
    bool nano = false;  ///< timestamps in ns (else us)
    /// A network interface whose state can be asked ("any" and other pseudo-devices not).
    bool checkable = false;
    std::chrono::steady_clock::time_point next_check;
    unsigned last_recv = 0, last_drop = 0, last_ifdrop = 0;
  };
  std::vector<Device> devices;  ///< parallel to interfaces_
  std::uint64_t next_number = 1;
  Timestamp newest{};  ///< the newest frame time delivered so far (any device)

  ~Impl() {
    for (Device& d : devices)
      if (d.pcap) pcap_close(d.pcap);
  }
};

/// What the libpcap callback needs (passed through its u_char* user argument).
struct DispatchContext {
  LiveInterface* iface;
  int index;
  bool nano;
  std::uint64_t* next_number;
  const std::function<void(const Frame&)>* on_frame;
  int delivered;
  Timestamp* newest;
  AnomalyCounters* anomalies;
};

extern "C" void fedscope_live_handler(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* c = reinterpret_cast<DispatchContext*>(user);
  Frame f;
  f.time = Timestamp::from_parts(h->ts.tv_sec, c->nano ? h->ts.tv_usec : h->ts.tv_usec * 1000);
  f.number = (*c->next_number)++;
  // As the file reader counts it in the -w file, which holds the frames in this order: with
  // two devices, one's frames can be delivered after newer ones of the other.
  if (f.number == 1 || f.time > *c->newest) {
    *c->newest = f.time;
  } else if (f.time < *c->newest) {
    c->anomalies->add("capture.time_went_backwards");
  }
  f.file = 0;
  f.linktype = c->iface->linktype;
  f.interface = c->index;
  f.wire_length = h->len < h->caplen ? h->caplen : h->len;
  f.data = std::span<const std::uint8_t>(bytes, h->caplen);
  ++c->iface->packets;
  c->iface->bytes += h->caplen;
  if (h->caplen < h->len) ++c->iface->truncated;
  ++c->delivered;
  (*c->on_frame)(f);
}

LiveCapture::~LiveCapture() = default;

std::unique_ptr<LiveCapture> LiveCapture::open(const LiveOptions& options, std::string& error) {
  if (options.interfaces.empty()) {
    error = "no interface to capture on";
    return nullptr;
  }
  std::unique_ptr<LiveCapture> live(new LiveCapture());
  live->impl_ = std::make_unique<Impl>();
  Impl& m = *live->impl_;

  // Descriptions, where the system has them ("any": "Pseudo-device that captures on all
  // interfaces"); a failure here only loses them.
  std::vector<std::pair<std::string, std::string>> known;  // name, description
  bool listed = false;
  {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t* all = nullptr;
    if (pcap_findalldevs(&all, errbuf) == 0) {
      listed = true;
      for (pcap_if_t* d = all; d; d = d->next)
        if (d->name) known.emplace_back(d->name, d->description ? d->description : "");
      pcap_freealldevs(all);
    }
  }
  auto is_known = [&](const std::string& name) {
    for (const auto& k : known)
      if (k.first == name) return true;
    return false;
  };

  for (std::size_t i = 0; i < options.interfaces.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (options.interfaces[j] == options.interfaces[i]) {
        error = options.interfaces[i] + ": given twice";
        return nullptr;
      }

  for (std::size_t i = 0; i < options.interfaces.size(); ++i) {
    const std::string& name = options.interfaces[i];
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(name.c_str(), errbuf);
    if (!p) {
      error = name + ": " + errbuf;
      return nullptr;
    }
    Impl::Device& dev = m.devices.emplace_back();
    dev.pcap = p;
    pcap_set_snaplen(p, options.snaplen);
    pcap_set_promisc(p, options.promiscuous ? 1 : 0);
    pcap_set_immediate_mode(p, options.immediate ? 1 : 0);
    // Without immediate mode the kernel hands packets over in blocks at most this late.
    if (!options.immediate) pcap_set_timeout(p, options.timeout_ms);
    pcap_set_buffer_size(p, options.buffer_bytes);
    // Nanoseconds where the platform has them (Linux does); microseconds otherwise.
    dev.nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    const int rc = pcap_activate(p);
    if (rc < 0) {
      // Without the right to capture, libpcap cannot tell a missing device: the list can.
      const bool missing = rc == PCAP_ERROR_PERM_DENIED && listed && !is_known(name);
      error = activate_error(p, missing ? PCAP_ERROR_NO_SUCH_DEVICE : rc, name);
      return nullptr;
    }
    dev.nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;

    LiveInterface li;
    li.name = name;
    for (const auto& [n, d] : known)
      if (n == name) li.description = d;
    li.warning = activate_warning(p, rc);
    li.linktype = pcap_datalink(p);
    li.linktype_name = datalink_name(li.linktype);
    li.snaplen = static_cast<std::uint32_t>(pcap_snapshot(p));

    if (!options.filter.empty()) {
      // Compiled per device: the code depends on the link type ("any" is LINUX_SLL2).
      bpf_program program{};
      if (pcap_compile(p, &program, options.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        const std::string why = pcap_geterr(p);
        error = "filter: " + why + " in '" + options.filter + "'";
        // A filter that compiled for an earlier device fails for this one's link type.
        if (i > 0) error = name + ": " + error + " (link type " + li.linktype_name + ")";
        return nullptr;
      }
      const int set = pcap_setfilter(p, &program);
      pcap_freecode(&program);
      if (set != 0) {
        error = name + ": filter: " + pcap_geterr(p);
        return nullptr;
      }
    }
    if (pcap_setnonblock(p, 1, errbuf) != 0) {
      error = name + ": " + errbuf;
      return nullptr;
    }
    dev.fd = pcap_get_selectable_fd(p);
    if (dev.fd < 0) {
      error = name + ": cannot be waited on (libpcap has no selectable descriptor for it)";
      return nullptr;
    }
    const DeviceState state = device_state(dev.fd, name);
    dev.checkable = state == DeviceState::kUp || state == DeviceState::kDown;
    li.down = state == DeviceState::kDown;
    dev.next_check = std::chrono::steady_clock::now() + kStateCheckInterval;
    li.opened = wall_clock();
    live->interfaces_.push_back(std::move(li));
  }
  return live;
}

int LiveCapture::poll(int timeout_ms, const std::function<void(const Frame&)>& on_frame) {
  Impl& m = *impl_;
  std::vector<pollfd> fds;
  std::vector<std::size_t> which;
  fds.reserve(m.devices.size());
  for (std::size_t i = 0; i < m.devices.size(); ++i) {
    if (interfaces_[i].failed) continue;
    fds.push_back(pollfd{m.devices[i].fd, POLLIN, 0});
    which.push_back(i);
  }
  if (fds.empty()) return -1;
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);

  int delivered = 0;
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < fds.size(); ++k) {
    const std::size_t i = which[k];
    Impl::Device& dev = m.devices[i];
    LiveInterface& iface = interfaces_[i];
    if (dev.checkable && now >= dev.next_check) {
      dev.next_check = now + kStateCheckInterval;
      const DeviceState state = device_state(dev.fd, iface.name);
      if (state == DeviceState::kGone) {
        fail(i, "The interface disappeared");
        continue;
      }
      if (state != DeviceState::kUnknown) iface.down = state == DeviceState::kDown;
    }
    // ready <= 0: the timeout, or EINTR (a signal) or another poll error: nothing to read.
    if (ready <= 0 || fds[k].revents == 0) continue;
    DispatchContext ctx{&iface, static_cast<int>(i), dev.nano,   &m.next_number, &on_frame,
                        0,      &m.newest,           &anomalies_};
    const int rc = pcap_dispatch(dev.pcap, kMaxFramesPerDispatch, fedscope_live_handler,
                                 reinterpret_cast<u_char*>(&ctx));
    delivered += ctx.delivered;
    if (rc == PCAP_ERROR) {
      // The device went away (libpcap: "The interface disappeared"); the others go on.
      const std::string why = pcap_geterr(dev.pcap);
      fail(i, why.empty() ? "read error" : why);
    }
  }
  bool any_alive = false;
  for (const LiveInterface& i : interfaces_)
    any_alive = any_alive || !i.failed;
  return !any_alive && delivered == 0 ? -1 : delivered;
}

void LiveCapture::fail(std::size_t device, const std::string& why) {
  interfaces_[device].failed = true;
  interfaces_[device].error = why;
  anomalies_.add(kAnomalyLiveReadError);
}

void LiveCapture::update_stats() {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.devices.size(); ++i) {
    if (interfaces_[i].failed) continue;  // libpcap's state is gone with the device
    pcap_stat ps{};
    if (pcap_stats(m.devices[i].pcap, &ps) != 0) continue;
    Impl::Device& d = m.devices[i];
    LiveStats& s = interfaces_[i].stats;
    accumulate(s.received, d.last_recv, ps.ps_recv);
    accumulate(s.dropped, d.last_drop, ps.ps_drop);
    accumulate(s.if_dropped, d.last_ifdrop, ps.ps_ifdrop);
  }
}

bool LiveCapture::set_filter(const std::string& filter, std::string& error) {
  Impl& m = *impl_;
  // Compile for every device first: a filter that does not compile changes nothing.
  std::vector<bpf_program> programs(m.devices.size());
  std::vector<bool> compiled(m.devices.size(), false);
  bool ok = true;
  for (std::size_t i = 0; i < m.devices.size() && ok; ++i) {
    if (interfaces_[i].failed) continue;
    if (pcap_compile(m.devices[i].pcap, &programs[i], filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) !=
        0) {
      error = interfaces_[i].name + ": filter: " + pcap_geterr(m.devices[i].pcap) + " in '" +
              filter + "'";
      ok = false;
      break;
    }
    compiled[i] = true;
  }
  for (std::size_t i = 0; i < m.devices.size(); ++i) {
    if (!compiled[i]) continue;
    if (ok && pcap_setfilter(m.devices[i].pcap, &programs[i]) != 0) {
      error = interfaces_[i].name + ": filter: " + pcap_geterr(m.devices[i].pcap);
      ok = false;
    }
    pcap_freecode(&programs[i]);
  }
  return ok;
}

bool drop_privileges(const std::string& user, std::string& error) {
  const std::string who = "-Z " + user + ": ";
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) {
    error =
        who + (errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM
                   ? std::string("cannot look up the user: ") + std::strerror(errno)
                   : std::string("no such user"));
    return false;
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  const std::string name = pw->pw_name;  // getpwnam's buffer is reused by later calls
  if (::geteuid() != 0) {
    if (::getuid() == uid && ::geteuid() == uid) return true;
    error = who + "only root can change to another user (running as uid " +
            std::to_string(::geteuid()) + ")";
    return false;
  }
  // Groups first: after setuid() there is no right left to change them.
  if (::initgroups(name.c_str(), gid) != 0) {
    error = who + "cannot set the supplementary groups: " + std::strerror(errno);
    return false;
  }
  if (::setgid(gid) != 0) {
    error = who + "cannot change to group " + std::to_string(gid) + ": " + std::strerror(errno);
    return false;
  }
  if (::setuid(uid) != 0) {
    error = who + "cannot change to uid " + std::to_string(uid) + ": " + std::strerror(errno);
    return false;
  }
  // Root's rights must be gone for good (real, effective and saved uid all changed).
  if (uid != 0 && ::setuid(0) == 0) {
    error = who + "root could be regained after changing to uid " + std::to_string(uid);
    return false;
  }
  return true;
}

}  // namespace fedscope::capture
