#pragma once
/// @file
/// One session's packets saved to a pcapng file, for `fedscope tui` ("save this session"):
/// every TCP leg of the connection (NAT legs at other vantage points too), the ICMP errors
/// that quote them, and optionally the DNS exchanges that led to it.
///
/// Two sources:
///  - save_from_files(): the capture files are read again from the front with
///    capture::MergedReader. The reader never seeks (inputs may be pipes, and gzip cannot be
///    seeked cheaply), so reading again is how "by file offsets" is done here; it costs one
///    more pass over the files, and memory stays one frame per file. Standard input cannot be
///    read again.
///  - save_from_ring(): a FrameRing that a live analysis copies every frame into, bounded in
///    bytes and frames; what it no longer holds is lost, and the result says from when on it
///    has the session.
///
/// The output keeps every frame's original bytes, time and order, and one Interface
/// Description Block per (input file, interface) that has a saved frame, with the source's
/// link type, name and snaplen. It is written to a temporary file next to @c out_path and
/// renamed over it once complete, so a failed save leaves no half file. Errors are values
/// (false and a sentence), never exceptions.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/base/frame.hpp"
#include "fedscope/base/time.hpp"
#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/engine/engine.hpp"
#include "fedscope/flow/flow_table.hpp"
#include "fedscope/packet/packet.hpp"

namespace fedscope::tui {

/// One TCP leg: the connection between two endpoints as seen at one vantage point.
struct LegSelector {
  Endpoint client, server;  ///< either direction matches
  /// Where the leg was seen (Frame::file, Frame::interface, SLL2 ifindex; an ifindex of -1
  /// matches any). File indexes are those of the analysis that found the leg: re-read the
  /// same files in the same order.
  packet::Vantage vantage;
  /// Only frames seen at @c vantage; false: the endpoints at any vantage point.
  bool match_vantage = true;
  Timestamp start, last;  ///< the leg's first and last packet (widened by the slack)
};

/// One DNS exchange of the session: a UDP query and its answer (matched by transaction id), or
/// a DNS-over-TCP connection (every segment between the endpoints in the window: only a
/// segment that starts a message shows the id).
struct DnsSelector {
  Endpoint client, server;  ///< either direction matches; any vantage point
  std::uint16_t txid = 0;
  bool tcp = false;
  Timestamp start, last;  ///< query and answer (or the last retry)
};

/// What belongs to one session. A frame matches when it is
///  - TCP between a leg's endpoints, at its vantage, within [start - slack, last + slack]
///    (ports are reused later, so the window matters);
///  - an ICMP/ICMPv6 error at that vantage in that window quoting such a TCP packet, or
///    quoting a UDP DNS query of @c dns;
///  - DNS (UDP or TCP, any port the selector names) of a @c dns exchange, in its window.
/// IPv4 fragments: the frame that completes a matching datagram is saved, earlier fragments
/// of it are not.
struct SessionSelector {
  static constexpr Duration kDefaultSlack = Duration::seconds(1.0);

  std::vector<LegSelector> legs;
  std::vector<DnsSelector> dns;
  Duration slack = kDefaultSlack;

  /// The earliest start of a leg or DNS exchange (without slack); nullopt when empty.
  std::optional<Timestamp> earliest() const;

  /// From a view's legs: any range of elements with @c client, @c server, @c file,
  /// @c interface, @c start and @c last (report::SessionLeg), each matched at its own file
  /// and interface (any SLL2 ifindex).
  template <class Legs>
  static SessionSelector from_legs(const Legs& legs) {
    SessionSelector s;
    for (const auto& l : legs)
      s.legs.push_back(LegSelector{l.client, l.server, packet::Vantage{l.file, l.interface, -1},
                                   true, l.start, l.last});
    return s;
  }
};

/// Every leg of @p connection, each at its own vantage.
SessionSelector select_connection(const flow::Connection& connection);

/// How long after an unanswered query its retries are looked for (the engine's default
/// EngineConfig::dns_timeout_seconds).
inline constexpr Duration kDnsNoAnswerWindow = Duration::seconds(5.0);

/// Adds @p transaction (client, server, id, from its query to its answer, or
/// kDnsNoAnswerWindow after the query when unanswered). Copies of the query at other vantage
/// points match when they carry the same endpoints (a NAT that rewrote the client does not).
void add_dns(SessionSelector& selector, const engine::DnsTransaction& transaction);

/// True when @p packet (decoded from a frame) belongs to @p selector; see SessionSelector.
bool matches(const SessionSelector& selector, const packet::Packet& packet);

/// What a save did.
struct SaveResult {
  /// The returning overloads below: true when the file was written; false, and @c message is
  /// the error.
  bool ok = false;
  std::uint64_t frames_written = 0;
  std::uint64_t frames_examined = 0;  ///< frames read and looked at
  /// Ring only: the ring's oldest frame is newer than the session's start, so packets before
  /// this time may have been evicted ("the ring no longer holds packets before HH:MM:SS").
  std::optional<Timestamp> missing_before;
  /// Ring only: frames evicted by the live capture while the save was reading (a busy link
  /// and a slow disk); those in the session are missing from the file.
  std::uint64_t evicted_while_saving = 0;
  /// Files only: an input ended early (damage, read error); the words of the reader. What
  /// was before it is saved.
  std::vector<std::string> input_errors;
  /// A sentence for the user, e.g. "saved 42 packets to s.pcapng" or, for a ring,
  /// "saved 42 packets to s.pcapng; the ring no longer holds packets before 12:03:04 UTC".
  std::string message;
};

/// Reads @p paths again from the front (the same list, same order, as the analysis that
/// produced @p selector: file indexes must agree), writes the frames @p selector matches to
/// @p out_path. False with @p error when an input cannot be opened ("-": standard input
/// cannot be read again), @p out_path is one of the inputs or cannot be written (in words:
/// "s.pcapng: Permission denied", "...: No space left on device"), or no frame matched
/// (then nothing is written).
bool save_from_files(const std::vector<std::string>& paths, const SessionSelector& selector,
                     const std::string& out_path, SaveResult& result, std::string& error);

/// The same, for a caller that only shows the outcome: @c ok, and @c message is the error
/// when it failed.
using ExtractResult = SaveResult;
ExtractResult save_from_files(const std::vector<std::string>& paths,
                              const SessionSelector& selector, const std::string& out_path);

/// Limits of a FrameRing. Memory is max_bytes of frame data (allocated at the first push)
/// plus about 48 bytes per held frame.
struct RingLimits {
  std::size_t max_bytes = 64 * 1024 * 1024;
  std::size_t max_frames = 1'000'000;
};

/// The newest frames of a live capture, for saving a session after the fact. The analysis
/// thread push()es every frame it sees; the oldest are evicted to stay within the limits.
///
/// Thread-safety: push() and describe_interface() (the analysis thread) and save_from_ring()
/// / stats() (a save request on another thread) may run concurrently; one mutex guards the
/// ring. push() holds it for one copy of the frame plus amortised O(1) eviction; a save holds
/// it only to copy bounded chunks out (ring.cpp), never while decoding or writing.
class FrameRing {
 public:
  explicit FrameRing(RingLimits limits = {});
  /// A live capture's ring: @p max_bytes of frames (default frame limit), and its devices
  /// (LiveCapture's one file: file 0, interface i = @p interfaces[i]) described.
  FrameRing(std::size_t max_bytes, const std::vector<capture::InterfaceInfo>& interfaces);
  FrameRing(const FrameRing&) = delete;
  FrameRing& operator=(const FrameRing&) = delete;

  /// How frames of (@p file, @p interface) are described in a saved file (a live device:
  /// file 0, interface = device index). Frames of an interface never described get a name
  /// made up from their indexes, their own link type and snaplen 0.
  void describe_interface(std::uint16_t file, std::int32_t interface,
                          capture::PcapngInterface description);
  /// Copies @p frame (its data is borrowed for the call only). A frame larger than
  /// max_bytes is not kept (counted in stats().too_large).
  void push(const Frame& frame);

  struct Stats {
    std::uint64_t frames = 0;     ///< held now
    std::uint64_t bytes = 0;      ///< frame bytes held now
    std::uint64_t pushed = 0;     ///< ever
    std::uint64_t evicted = 0;    ///< ever
    std::uint64_t too_large = 0;  ///< not kept: larger than the ring
    std::optional<Timestamp> oldest, newest;
  };
  Stats stats() const;
  const RingLimits& limits() const { return limits_; }

 private:
  friend bool save_from_ring(FrameRing&, const SessionSelector&, const std::string&, SaveResult&,
                             std::string&);
  struct Entry {
    std::uint64_t seq;  ///< push order
    Timestamp time;
    std::uint64_t number;
    std::uint16_t file;
    std::int32_t interface;
    int linktype;
    std::uint32_t wire_length;
    std::size_t offset;  ///< in data_
    std::uint32_t length;
  };
  /// Drops the oldest frame; mutex_ held.
  void evict_front();

  const RingLimits limits_;
  mutable std::mutex mutex_;
  std::unique_ptr<std::uint8_t[]> data_;  ///< max_bytes, circular; every frame contiguous
  std::size_t write_ = 0;                 ///< where the newest frame ends
  std::deque<Entry> entries_;             ///< oldest first
  std::uint64_t next_seq_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t too_large_ = 0;
  std::map<std::pair<std::uint16_t, std::int32_t>, capture::PcapngInterface> interfaces_;
};

/// Writes the frames of @p ring that @p selector matches, oldest first, to @p out_path; sets
/// result.missing_before when the ring's oldest frame is newer than the selector's start.
/// False with @p error when nothing matched ("the ring holds no packet of this session; its
/// oldest is from 12:03:04 UTC") or the output failed. Frames pushed after the save started
/// are not included.
bool save_from_ring(FrameRing& ring, const SessionSelector& selector, const std::string& out_path,
                    SaveResult& result, std::string& error);
/// The same with the error in ExtractResult::message.
ExtractResult save_from_ring(FrameRing& ring, const SessionSelector& selector,
                             const std::string& out_path);

}  // namespace fedscope::tui
