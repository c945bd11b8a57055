#pragma once
/// @file
/// Live capture from network interfaces through libpcap (this library is the only libpcap
/// user). Several interfaces are captured at once; each is a vantage point, as a pcapng
/// interface is in a file: Frame::file is 0 and Frame::interface is the index of the device in
/// LiveOptions::interfaces, so a pcapng file written with one interface block per device in
/// the same order (PcapngWriter) reads back with the same frame identities.
///
/// Errors are values: open() returns nullptr with a message for the user; a device that fails
/// while capturing (it was removed) is marked failed with libpcap's words and the other
/// devices go on; one taken down is marked down (libpcap 1.10 goes on capturing on it once it
/// is up again). Nothing here throws.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/frame.hpp"

namespace fedscope::capture {

/// The BPF filter `capture` uses when none is given: federation (5269, XEP-0368 direct TLS on
/// 5270), DNS and the ICMP errors that explain failed connections and queries.
inline constexpr const char* kDefaultLiveFilter =
    "tcp port 5269 or tcp port 5270 or port 53 or icmp or icmp6";

struct LiveOptions {
  std::vector<std::string> interfaces;  ///< device names as `ip link` shows them ("any" works)
  std::string filter;                   ///< BPF expression; "" captures everything
  int snaplen = 262144;                 ///< bytes kept per packet (tcpdump's default)
  int buffer_bytes = 32 * 1024 * 1024;  ///< kernel buffer per device (pcap_set_buffer_size)
  bool promiscuous = true;              ///< as tcpdump; -p turns it off
  /// Deliver each packet at once (pcap_set_immediate_mode). On Linux, libpcap then uses a
  /// TPACKET_V2 ring of fixed slots of snaplen bytes: the buffer holds buffer_bytes / snaplen
  /// packets (32 with 8 MiB and 256 KiB), and a short stall drops packets. Without it
  /// (TPACKET_V3) packets are packed by their size and handed over at most timeout_ms late.
  bool immediate = false;
  int timeout_ms = 100;  ///< without immediate mode: the longest delivery delay
};

/// pcap_stats() of one device since it was opened. libpcap's meaning: @c received counts
/// what the filter accepted (platform dependent), @c dropped what the kernel dropped for lack
/// of buffer space, @c if_dropped what the interface or its driver dropped (0 when unknown).
struct LiveStats {
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  std::uint64_t if_dropped = 0;
};

struct LiveInterface {
  std::string name;
  std::string description;    ///< libpcap's description, "" when none
  int linktype = 0;           ///< DLT_* (pcap_datalink)
  std::string linktype_name;  ///< e.g. "EN10MB"
  std::uint32_t snaplen = 0;
  /// pcap_activate()'s warning in words, e.g. "promiscuous mode is not supported, captured
  /// without it"; "" for none. The device captures anyway.
  std::string warning;
  Timestamp opened;             ///< wall clock when capture started on it
  std::uint64_t packets = 0;    ///< frames delivered
  std::uint64_t bytes = 0;      ///< captured bytes delivered
  std::uint64_t truncated = 0;  ///< frames cut by the snapshot length
  LiveStats stats;              ///< as of the last update_stats()
  /// The interface is down (as of poll()'s last look, once a second). libpcap keeps it
  /// open and it delivers again when it comes back up, so this is not a failure.
  bool down = false;
  bool failed = false;  ///< the device stopped delivering for good (see @c error)
  std::string error;    ///< why, in libpcap's words, e.g. "The interface disappeared"
};

/// Open devices. Frames passed to poll()'s callback borrow libpcap's buffer for the duration
/// of the call only; the callback copies what it keeps.
class LiveCapture {
 public:
  /// Opens every device (all or nothing), applies the filter and activates them. On failure
  /// returns nullptr with @p error naming the device and the cause in words a user can act on,
  /// e.g. "eth9: no such device (ip link lists the interfaces)", "eth0: permission denied:
  /// capturing needs root or CAP_NET_RAW", "filter: syntax error in 'tcp prot 5269'".
  static std::unique_ptr<LiveCapture> open(const LiveOptions& options, std::string& error);
  ~LiveCapture();
  LiveCapture(const LiveCapture&) = delete;
  LiveCapture& operator=(const LiveCapture&) = delete;

  /// Waits at most @p timeout_ms for packets on any device that has not failed, then passes
  /// every frame ready (bounded per call so a busy device cannot starve the caller's clock)
  /// to @p on_frame, numbering them 1, 2, ... across all devices in delivery order
  /// (Frame::number, Frame::file 0, Frame::interface the device index). A signal interrupting
  /// the wait returns 0. Returns the number of frames passed, or -1 when every device has
  /// failed (and nothing was passed in this call). @p on_frame must not throw: it is called
  /// from inside libpcap.
  int poll(int timeout_ms, const std::function<void(const Frame&)>& on_frame);

  /// Reads pcap_stats() of every device into LiveInterface::stats.
  void update_stats();

  /// Replaces the filter on every device that has not failed (each compiled for its own link
  /// type). All or nothing: on a compile error no device changes, and @p error says why. Used
  /// to widen the default filter to the ports SRV answers name.
  bool set_filter(const std::string& filter, std::string& error);

  const std::vector<LiveInterface>& interfaces() const { return interfaces_; }
  /// e.g. "capture.live_read_error" once per failed device.
  AnomalyCounters& anomalies() { return anomalies_; }

 private:
  LiveCapture() = default;
  void fail(std::size_t device, const std::string& why);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<LiveInterface> interfaces_;
  AnomalyCounters anomalies_;
};

/// `-Z USER`: after the devices are open, give up root for @p user's uid, gid and
/// supplementary groups (as tcpdump does); fails when the change cannot be made or undone
/// would still be possible. A process that is not root is left as it is (true) only when
/// @p user is already its user. On failure returns false with @p error for the user.
bool drop_privileges(const std::string& user, std::string& error);

}  // namespace fedscope::capture
