#pragma once
/// @file
/// The live pipeline (`fedscope capture`, and the TUI's live view): frames in as they are
/// captured, a wall-clock tick, and the event stream out — the judges' events (events.hpp)
/// plus what a live reader also wants: sessions opened, progressing and closed with their new
/// ladder steps, DNS transactions as they finish, and capture statistics. All events share one
/// increasing sequence number. At the end, finish() gives the same Result `fedscope report`
/// gives for a file holding the same frames (tests/live checks it on a written pcapng).
///
/// Ownership: frames are borrowed for the call; events are passed by reference for the
/// duration of the sink call. Not thread-safe: one thread drives it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedscope/base/address.hpp"
#include "fedscope/capture/reader.hpp"
#include "fedscope/engine/engine.hpp"
#include "fedscope/report/analysis.hpp"
#include "fedscope/report/events.hpp"

namespace fedscope::report {

/// What happened to a session (a TCP connection). to_string(): "opened", "progress", "closed".
enum class SessionPhase : std::uint8_t { kOpened, kProgress, kClosed };
std::string_view to_string(SessionPhase phase);

/// One ladder step as the event stream carries it. No stanza payload: the ladder names
/// elements and their type, never their content.
struct SessionStep {
  Timestamp time;
  bool from_client = false;
  std::string text;
  std::uint32_t repeat = 1;
  /// Where it was seen (a frame number in its file, or a relay byte offset); for a viewer,
  /// not in the JSON form.
  EvidenceRef ref;
};

/// One leg of a session: the connection as one capture point saw it (NAT legs differ in
/// their addresses). Typed endpoints, so a viewer can select the session's packets.
struct SessionLeg {
  std::string vantage;     ///< the interface or file it was seen on (as SessionEvent::vantages)
  std::uint16_t file = 0;  ///< input file index (Frame::file)
  std::int32_t interface = -1;  ///< pcapng interface within the file; -1 for classic pcap
  std::int32_t ifindex = -1;    ///< SLL2 interface index; -1 when the link layer doesn't say
  Endpoint client, server;
  Timestamp start, last;
  std::string state;  ///< Zeek conn_state of this leg
};

struct SessionEvent {
  SessionPhase phase = SessionPhase::kOpened;
  std::uint64_t seq = 0;
  std::uint32_t flow = 0;      ///< flow::Connection::id: the report's flows[].id, findings' flow
  Timestamp time;              ///< opened: first packet; else the latest packet
  std::string client, server;  ///< "address:port" (primary leg)
  std::vector<std::string> vantages;  ///< one per leg: the interface it was seen on
  std::vector<SessionLeg> legs;       ///< parallel to vantages; legs[0] is the primary leg
  std::string state;                  ///< Zeek conn_state of the primary leg ("S0", "SF", ...)
  std::string history;                ///< Zeek history letters
  std::uint64_t packets = 0, client_bytes = 0, server_bytes = 0;
  bool expired_idle = false;  ///< closed: by the idle timeout, not FIN/RST
  std::string stream;         ///< s2s::StreamKind ("" when not analysed: not a federation port)
  std::string from_domain, to_domain;  ///< the client's stream header
  std::string tls;                     ///< "" (no TLS), "started", or the version ("TLS 1.3")
  std::vector<SessionStep> steps;      ///< ladder steps not sent before
  std::uint64_t steps_dropped = 0;     ///< over the ladder's limit
};

/// A DNS transaction as it finished (answered, timed out, or the capture ended).
struct DnsEvent {
  std::uint64_t seq = 0;
  std::uint64_t id = 0;  ///< engine::DnsTransaction::id: the report's dns[].id
  Timestamp time;        ///< the query
  std::string query, type, client, server, outcome, rcode;
  std::vector<std::string> answers;  ///< "TYPE value" per answer record kept
  // Typed, for a viewer that selects the exchange's packets (not in the JSON form).
  Endpoint client_endpoint, server_endpoint;
  std::uint16_t txid = 0;
  bool tcp = false;
  std::optional<Timestamp> answered;  ///< the response's time
};

/// Capture statistics (the capture's own counters and pcap_stats per device).
struct CaptureStatsEvent {
  struct Interface {
    std::string name;
    std::uint64_t packets = 0;     ///< delivered to fedscope
    std::uint64_t received = 0;    ///< pcap_stats ps_recv
    std::uint64_t dropped = 0;     ///< ps_drop: the kernel's buffer was full
    std::uint64_t if_dropped = 0;  ///< ps_ifdrop: the interface dropped
    bool down = false;             ///< the device is down (capture resumes when it is up again)
    bool failed = false;
    std::string error;
  };
  std::uint64_t seq = 0;
  Timestamp time;
  bool final = false;  ///< the last one, at the end of the capture
  std::uint64_t packets = 0, bytes = 0;
  double rate = 0;  ///< packets per second since the previous statistics
  std::vector<Interface> interfaces;
};

/// Receives everything the live pipeline says, in seq order.
class LiveSink : public EventSink {
 public:
  virtual void on_session(const SessionEvent& e) = 0;
  virtual void on_dns(const DnsEvent& e) = 0;
  virtual void on_stats(const CaptureStatsEvent& e) = 0;
};

std::string event_json(const SessionEvent& e);
std::string event_json(const DnsEvent& e);
std::string event_json(const CaptureStatsEvent& e);

struct LiveConfig {
  std::vector<Cidr> inside_nets;
  std::vector<std::string> domains;
  /// progress_seconds 0 becomes 2: an open session reports what it said every 2 s of time.
  engine::EngineConfig engine;
  /// History bounds (JudgeConfig): a live run has no end, so its memory must follow the open
  /// sessions plus a bounded history: the latest max_full_records closed connections whole,
  /// up to max_records in all (older ones, and DNS transactions beyond as many, are expired).
  std::size_t max_full_records = 2000;
  std::size_t max_records = 10000;
  std::size_t keylog_files = 0;
  /// The wall-clock tick moves the engine clock to (wall time - tick_lag_seconds): packets
  /// still in the kernel's buffer are then never behind a timer that fired, so the run judges
  /// exactly as a report of its file does.
  double tick_lag_seconds = 1.0;
  /// The judges run at most this often (wall clock), and less often when judging is slow (at
  /// most a tenth of the time), so a large history cannot make the live view lag.
  double flush_seconds = 1.0;
};

class LiveAnalysis {
 public:
  /// @p source describes the capture: its interfaces (one vantage each, Frame::interface
  /// indexes them) and path (the -w file, or a name like "live:eth0,eth1"). @p sink may be
  /// null; it must outlive this object.
  LiveAnalysis(LiveConfig config, capture::FileInfo source, LiveSink* sink);
  /// Several sources (saved files read by capture::MergedReader: Frame::file indexes them,
  /// each file's interfaces are its vantages, named as the report names them).
  LiveAnalysis(LiveConfig config, std::vector<capture::FileInfo> sources, LiveSink* sink);

  /// Replaces what is known of the sources (a file reader learns interfaces and counts as it
  /// reads): vantage names and the number of capture points follow. Same count as given.
  void set_sources(std::vector<capture::FileInfo> sources);
  /// Moves the engine clock to @p t (packet time) without judging: a reader of saved files
  /// drives time by its packets and judges with flush() on its own schedule.
  void advance(Timestamp t);
  /// Runs the judges now (a reader of saved files calls it on a wall-clock schedule).
  void flush();
  ~LiveAnalysis();
  LiveAnalysis(const LiveAnalysis&) = delete;
  LiveAnalysis& operator=(const LiveAnalysis&) = delete;

  void on_frame(const Frame& frame);
  /// The wall clock: runs the engine's timers and, when due, the judges.
  void tick(Timestamp wall);
  /// Sends @p e with the next sequence number (its packets/bytes/rate are filled from what
  /// was fed when left 0).
  void send_stats(CaptureStatsEvent e);
  /// Ends the run at @p end (the capture's end time, as written in isb_endtime): the timers
  /// run to it, everything open closes as "capture ended", the judges finish into @p result.
  void finish(Timestamp end, Result& result);

  /// engine::Engine::federation_ports(): grows as SRV answers name ports.
  std::vector<std::uint16_t> federation_ports() const;
  std::uint64_t frames() const;
  std::uint64_t bytes() const;
  std::uint64_t events() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedscope::report
