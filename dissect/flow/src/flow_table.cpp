#include "fedscope/flow/flow_table.hpp"

#include <algorithm>
#include <unordered_map>

namespace fedscope::flow {

using packet::Packet;
namespace tf = packet::tcp_flags;

namespace {

/// SYNs kept for NAT pairing however the clock behaves (a time jump must not grow the window).
constexpr std::size_t kMaxRecentSyns = 1 << 16;
/// Recent SYNs looked at per index (same ISN, same IP ID) for one new SYN.
constexpr std::size_t kMaxPairCandidates = 64;
/// Legs (NAT legs, vantage points) of one connection.
constexpr std::size_t kMaxLegsPerConnection = 8;
constexpr std::string_view kAnomalyNatWindowFull = "flow.nat_window_full";
constexpr std::string_view kAnomalyNatLegsLimit = "flow.nat_legs_limit";
constexpr std::string_view kAnomalyNatPairCandidates = "flow.nat_pair_candidates";
constexpr std::string_view kAnomalyNatPairAmbiguous = "flow.nat_pair_ambiguous";

bool seq_le(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) <= 0;
}

bool is_service_port(std::uint16_t p) {
  return p < 1024 || p == 5269 || p == 5270 || p == 5369 || p == 5222 || p == 5223;
}

struct LegKey {
  packet::Vantage vantage;
  Endpoint a, b;  // canonical order: a <= b
  bool operator==(const LegKey&) const = default;
};

struct LegKeyHash {
  std::size_t operator()(const LegKey& k) const noexcept {
    std::size_t h = EndpointHash{}(k.a) * 1000003u ^ EndpointHash {}(k.b);
    return h ^ (std::size_t{k.vantage.file} << 40) ^
           (static_cast<std::size_t>(k.vantage.interface) << 20) ^
           static_cast<std::size_t>(k.vantage.ifindex);
  }
};

// A 5-tuple at any vantage (canonical order), for ICMP errors seen at another capture point.
struct TupleKey {
  Endpoint a, b;
  bool operator==(const TupleKey&) const = default;
};
struct TupleKeyHash {
  std::size_t operator()(const TupleKey& k) const noexcept {
    return EndpointHash{}(k.a) * 1000003u ^ EndpointHash {}(k.b);
  }
};
TupleKey make_tuple_key(const Endpoint& x, const Endpoint& y) {
  return x < y ? TupleKey{x, y} : TupleKey{y, x};
}

struct VantageHash {
  std::size_t operator()(const packet::Vantage& v) const noexcept {
    return (std::size_t{v.file} << 40) ^ (static_cast<std::size_t>(v.interface) << 20) ^
           static_cast<std::size_t>(static_cast<std::uint32_t>(v.ifindex));
  }
};

// Capture points ranked in the order first seen (ICMP matching prefers the earliest); beyond
// this many (an SLL2 capture can name any 32-bit interface index), later ones share the last
// rank: flow.vantage_limit.
constexpr std::size_t kMaxVantageRanks = 65536;

LegKey make_key(const packet::Vantage& v, const Endpoint& x, const Endpoint& y) {
  return x < y ? LegKey{v, x, y} : LegKey{v, y, x};
}

// Zeek repeats some history letters at 1, 10, 100, ... occurrences.
bool repeat_threshold(std::uint32_t n) {
  while (n >= 10 && n % 10 == 0)
    n /= 10;
  return n == 1;
}

bool side_done(EndpointState s) {
  return s == EndpointState::kClosed || s == EndpointState::kReset;
}

}  // namespace

std::string_view to_string(ConnState s) {
  switch (s) {
    case ConnState::kS0:
      return "S0";
    case ConnState::kS1:
      return "S1";
    case ConnState::kSF:
      return "SF";
    case ConnState::kRej:
      return "REJ";
    case ConnState::kS2:
      return "S2";
    case ConnState::kS3:
      return "S3";
    case ConnState::kRsto:
      return "RSTO";
    case ConnState::kRstr:
      return "RSTR";
    case ConnState::kRstos0:
      return "RSTOS0";
    case ConnState::kRstrh:
      return "RSTRH";
    case ConnState::kSh:
      return "SH";
    case ConnState::kShr:
      return "SHR";
    case ConnState::kOth:
      return "OTH";
  }
  return "?";
}

ConnState conn_state(const Leg& leg) {
  using S = EndpointState;
  S os = leg.o.state, rs = leg.r.state;
  bool o_inactive = os == S::kInactive || os == S::kPartial;
  bool r_inactive = rs == S::kInactive || rs == S::kPartial;
  if (rs == S::kReset) {
    if (os == S::kSynSent || os == S::kSynAckSent ||
        (os == S::kReset && leg.o.payload_bytes == 0 && leg.r.payload_bytes == 0))
      return ConnState::kRej;
    return o_inactive ? ConnState::kRstrh : ConnState::kRstr;
  }
  if (os == S::kReset) return r_inactive ? ConnState::kRstos0 : ConnState::kRsto;
  if (rs == S::kClosed && os == S::kClosed) return ConnState::kSF;
  if (os == S::kClosed) return r_inactive ? ConnState::kSh : ConnState::kS2;
  if (rs == S::kClosed) return o_inactive ? ConnState::kShr : ConnState::kS3;
  if (os == S::kSynSent && rs == S::kInactive) return ConnState::kS0;
  if (os == S::kEstablished && rs == S::kEstablished) return ConnState::kS1;
  return ConnState::kOth;
}

struct FlowTable::Impl {
  struct LiveLeg {
    Leg leg;
    std::uint32_t t_count = 0, tr_count = 0, w_count = 0, wr_count = 0, g_count = 0, gr_count = 0;
    bool done = false;
  };
  struct LiveConn;

  // Adapts the reassembler's byte sink to the consumer's: adds the evidence of the call being
  // made (set by the flow table before each reassembler call) and records gaps in the history
  // ('G'/'g').
  struct GapSink : StreamSink {
    ConnectionSink* inner = nullptr;
    LiveConn* conn = nullptr;
    bool orig = true;
    PacketRef at;
    void on_data(std::uint64_t off, std::span<const std::uint8_t> d) override {
      if (inner) inner->on_data(off, d, at);
    }
    void on_gap(std::uint64_t off, std::uint64_t len) override;
    void on_end() override {
      if (inner) inner->on_end(at);
    }
  };

  struct LiveConn {
    Connection conn;
    std::vector<std::uint32_t> live_legs;
    std::uint32_t primary_leg = 0;
    std::uint32_t gaps_o = 0, gaps_r = 0;  // for the 'G'/'g' history letters
    Impl* impl = nullptr;
    std::unique_ptr<Reassembler> ro, rr;
    GapSink so, sr;
  };

  struct RecentSyn {
    std::uint32_t leg_id;
    std::uint32_t isn;
    std::uint16_t ip_id;
    std::uint8_t ttl;
    bool v4;
    Timestamp time;
    packet::Vantage vantage;
    Endpoint orig, resp;
  };
  /// Positions (RecentSyn sequence numbers, oldest first) of the recent SYNs with one ISN or
  /// one IPv4 ID: pairing looks at these, never at the whole window. A vector with a consumed
  /// prefix, not a std::deque: most buckets hold one SYN, and a deque's first block is 512
  /// bytes, so random ISNs at 10k SYN/s held ~12 MB for the 2 s window.
  class Bucket {
   public:
    bool empty() const { return head_ == seqs_.size(); }
    std::uint64_t front() const { return seqs_[head_]; }
    void push_back(std::uint64_t seq) { seqs_.push_back(seq); }
    void pop_front() {
      ++head_;
      // Drop the consumed prefix once it is half the vector: amortised O(1) per pop.
      if (head_ * 2 >= seqs_.size()) {
        seqs_.erase(seqs_.begin(), seqs_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
    }
    /// Newest first.
    auto rbegin() const { return seqs_.rbegin(); }
    auto rend() const { return seqs_.rend() - static_cast<std::ptrdiff_t>(head_); }

   private:
    std::vector<std::uint64_t> seqs_;
    std::size_t head_ = 0;  ///< seqs_[head_..] are in the window
  };

  Impl(AnomalyCounters& a, FlowTableConfig c, ClosedCallback cb)
      : anomalies(a), config(c), on_closed(std::move(cb)) {}

  AnomalyCounters& anomalies;
  FlowTableConfig config;
  ClosedCallback on_closed;
  StreamSinkFactory* sinks = nullptr;
  ReassemblyBudget budget{config.max_buffered_total, 0};  // before conns: outlives them

  std::unordered_map<LegKey, std::uint32_t, LegKeyHash> index;
  std::unordered_map<std::uint32_t, LiveLeg> legs;
  std::unordered_map<std::uint32_t, LiveConn> conns;
  std::deque<RecentSyn> recent_syns;  ///< the NAT pairing window, oldest first
  std::uint64_t recent_base = 0;      ///< sequence number of recent_syns.front()
  std::unordered_map<std::uint32_t, Bucket> syns_by_isn;
  std::unordered_map<std::uint16_t, Bucket> syns_by_ip_id;
  // Live legs per 5-tuple at any vantage (ICMP), and the capture points' first-seen ranks.
  std::unordered_map<TupleKey, std::vector<std::uint32_t>, TupleKeyHash> by_tuple;
  std::unordered_map<packet::Vantage, std::uint32_t, VantageHash> vantage_rank;
  std::uint32_t next_leg = 1, next_conn = 1;
  Timestamp now;
  Timestamp last_sweep;
  std::uint64_t* duplicate_copies = nullptr;

  void add_history(LiveLeg& l, char c, bool orig) {
    char ch = orig ? static_cast<char>(c - 'a' + 'A') : c;
    if (l.leg.history.find(ch) == std::string::npos) l.leg.history.push_back(ch);
  }
  void add_repeat(LiveLeg& l, char c, bool orig, std::uint32_t& counter) {
    ++counter;
    if (repeat_threshold(counter))
      l.leg.history.push_back(orig ? static_cast<char>(c - 'a' + 'A') : c);
  }

  LiveConn& new_conn(std::uint32_t leg_id) {
    std::uint32_t id = next_conn++;
    auto& c = conns[id];
    c.conn.id = id;
    c.primary_leg = leg_id;
    c.impl = this;
    return c;
  }

  void attach_sinks(LiveConn& c, const Leg& first, bool opened_by_syn) {
    if (!sinks) return;
    c.conn.legs.push_back(first);  // the factory sees endpoints through the primary leg
    ConnectionSink* so = sinks->sink_for(c.conn, true, opened_by_syn);
    ConnectionSink* sr = sinks->sink_for(c.conn, false, opened_by_syn);
    c.conn.legs.clear();
    if (so) {
      c.so = GapSink{};
      c.so.inner = so;
      c.so.conn = &c;
      c.so.orig = true;
      c.ro = std::make_unique<Reassembler>(anomalies, config.max_buffered_per_direction,
                                           config.max_held_segments_per_direction, &budget);
    }
    if (sr) {
      c.sr = GapSink{};
      c.sr.inner = sr;
      c.sr.conn = &c;
      c.sr.orig = false;
      c.rr = std::make_unique<Reassembler>(anomalies, config.max_buffered_per_direction,
                                           config.max_held_segments_per_direction, &budget);
    }
  }

  /// Drops @p seq, the oldest SYN of the window, from its bucket in @p m (by ISN or IP ID).
  template <typename Key>
  static void unindex(std::unordered_map<Key, Bucket>& m, Key k, std::uint64_t seq) {
    auto it = m.find(k);
    if (it == m.end()) return;
    if (!it->second.empty() && it->second.front() == seq) it->second.pop_front();
    if (it->second.empty()) m.erase(it);
  }

  void pop_recent_syn() {
    const RecentSyn& r = recent_syns.front();
    unindex(syns_by_isn, r.isn, recent_base);
    if (r.v4 && r.ip_id != 0) unindex(syns_by_ip_id, r.ip_id, recent_base);
    recent_syns.pop_front();
    ++recent_base;
  }

  void remember_syn(const RecentSyn& r) {
    if (recent_syns.size() >= kMaxRecentSyns) {
      anomalies.add(kAnomalyNatWindowFull);
      pop_recent_syn();
    }
    const std::uint64_t seq = recent_base + recent_syns.size();
    recent_syns.push_back(r);
    syns_by_isn[r.isn].push_back(seq);
    if (r.v4 && r.ip_id != 0) syns_by_ip_id[r.ip_id].push_back(seq);
  }

  /// Whether @p cand, a recent SYN, may be another leg of the connection @p p opens: its leg
  /// is live; a connection has at most one leg per vantage point, except the two legs of a
  /// SYN forwarded past a capture point that sees both sides (the TTL changed between them);
  /// and at most kMaxLegsPerConnection legs. So one vantage point never merges connections it
  /// shows as distinct (a scan tool's fixed ISN from many clients).
  bool may_pair(const RecentSyn& cand, const Packet& p) {
    auto lit = legs.find(cand.leg_id);
    if (lit == legs.end()) return false;
    const bool same_vantage = cand.vantage == p.vantage;
    if (same_vantage && cand.ttl == p.ttl) return false;
    auto cit = conns.find(lit->second.leg.connection);
    if (cit == conns.end()) return false;
    const auto& live = cit->second.live_legs;
    if (live.size() >= kMaxLegsPerConnection) {
      anomalies.add(kAnomalyNatLegsLimit);
      return false;
    }
    std::size_t here = 0;
    for (std::uint32_t other : live) {
      auto o = legs.find(other);
      if (o != legs.end() && o->second.leg.vantage == p.vantage) ++here;
    }
    return here == (same_vantage ? 1u : 0u);
  }

  /// The leg whose connection the SYN @p p joins as another NAT leg, if any.
  /// Candidates come from the ISN and IP ID indexes, newest first, at most
  /// kMaxPairCandidates of each: linear however many SYNs share an ISN (a scan tool's fixed
  /// ISN, a flood). Two candidates of different connections: flow.nat_pair_ambiguous, and
  /// the newest wins (the NAT forwards a SYN at once).
  std::optional<std::uint32_t> find_pair(const Packet& p, const Endpoint& orig,
                                         const Endpoint& resp) {
    while (!recent_syns.empty() &&
           (p.time - recent_syns.front().time).seconds() > config.nat_pair_window_seconds)
      pop_recent_syn();
    const auto at = [&](std::uint64_t seq) -> const RecentSyn& {
      return recent_syns[static_cast<std::size_t>(seq - recent_base)];
    };
    std::optional<std::uint32_t> found;
    std::uint32_t found_conn = 0;
    bool ambiguous = false;
    const auto consider = [&](const RecentSyn& c) {
      if (!found) {
        found = c.leg_id;
        found_conn = legs.at(c.leg_id).leg.connection;
      } else if (legs.at(c.leg_id).leg.connection != found_conn) {
        ambiguous = true;
      }
    };
    // The same ISN within the window, and something a NAT keeps: the client endpoint (DNAT),
    // the server endpoint (SNAT/PAT), or both ports (static NAT of both addresses).
    if (auto b = syns_by_isn.find(p.tcp.seq); b != syns_by_isn.end()) {
      std::size_t looked = 0;
      for (auto it = b->second.rbegin(); it != b->second.rend(); ++it) {
        if (++looked > kMaxPairCandidates) {
          anomalies.add(kAnomalyNatPairCandidates);
          break;
        }
        const RecentSyn& c = at(*it);
        if (c.vantage == p.vantage && c.orig == orig && c.resp == resp) continue;
        bool kept = c.orig == orig || c.resp == resp ||
                    (c.orig.port == orig.port && c.resp.port == resp.port);
        if (kept && may_pair(c, p)) consider(c);
      }
    }
    // Sequence-randomising firewalls (e.g. Cisco ASA) change the ISN: fall back to the same
    // IP ID and one unchanged endpoint within half a second, at another vantage point.
    if (!found && p.ip_version == 4 && p.ip_id != 0) {
      if (auto b = syns_by_ip_id.find(p.ip_id); b != syns_by_ip_id.end()) {
        std::size_t looked = 0;
        for (auto it = b->second.rbegin(); it != b->second.rend(); ++it) {
          const RecentSyn& c = at(*it);
          if ((p.time - c.time).seconds() > 0.5) break;
          if (++looked > kMaxPairCandidates) {
            anomalies.add(kAnomalyNatPairCandidates);
            break;
          }
          if (c.vantage == p.vantage || !legs.count(c.leg_id)) continue;
          if (c.orig == orig || c.resp == resp) consider(c);
        }
      }
    }
    if (ambiguous) anomalies.add(kAnomalyNatPairAmbiguous);
    return found;
  }

  LiveLeg& create_leg(const Packet& p, const LegKey& key) {
    // Make room first, so the leg being created is never the one evicted.
    if (legs.size() >= config.max_live_legs) evict_oldest();
    std::uint32_t id = next_leg++;
    auto& l = legs[id];
    l.leg.id = id;
    l.leg.vantage = p.vantage;
    Endpoint src{p.src, p.sport}, dst{p.dst, p.dport};
    bool syn = p.tcp.flags & tf::kSyn, ack = p.tcp.flags & tf::kAck;
    bool flip = false;
    if (syn && ack)
      flip = true;
    else if (!syn && is_service_port(p.sport) && !is_service_port(p.dport))
      flip = true;
    l.leg.orig = flip ? dst : src;
    l.leg.resp = flip ? src : dst;
    l.leg.flipped = flip;
    if (flip) l.leg.history.push_back('^');
    l.leg.start = p.time;
    l.leg.last = p.time;
    l.leg.first_direction = flip ? packet::Direction::kUnknown : p.direction;
    index[key] = id;

    std::optional<std::uint32_t> pair;
    if (syn && !ack) pair = find_pair(p, l.leg.orig, l.leg.resp);
    if (pair) {
      auto& other = legs[*pair];
      l.leg.connection = other.leg.connection;
      conns[l.leg.connection].live_legs.push_back(id);
    } else {
      auto& c = new_conn(id);
      l.leg.connection = c.conn.id;
      c.live_legs.push_back(id);
      attach_sinks(c, l.leg, syn);
    }
    if (syn && !ack)
      remember_syn(RecentSyn{id, p.tcp.seq, p.ip_id, p.ttl, p.ip_version == 4, p.time, p.vantage,
                             l.leg.orig, l.leg.resp});
    return l;
  }

  void update(LiveLeg& l, const Packet& p) {
    Leg& leg = l.leg;
    bool from_orig = Endpoint{p.src, p.sport} == leg.orig;
    SideStats& me = from_orig ? leg.o : leg.r;
    SideStats& peer = from_orig ? leg.r : leg.o;
    leg.last = std::max(leg.last, p.time);  // capture time can step backwards
    if (!(p.time < leg.last_ref.time)) leg.last_ref = ref_of(p);
    ++me.packets;
    if (me.packets == 1) me.ttl = p.ttl;
    std::uint8_t f = p.tcp.flags;
    bool syn = f & tf::kSyn, ack = f & tf::kAck, fin = f & tf::kFin, rst = f & tf::kRst;
    using S = EndpointState;

    // History letters.
    if (syn && !ack) add_history(l, 's', from_orig);
    if (syn && ack) add_history(l, 'h', from_orig);
    if (rst) add_history(l, 'r', from_orig);
    if (fin) add_history(l, 'f', from_orig);
    if (p.payload_length > 0) add_history(l, 'd', from_orig);
    const bool pure_ack = ack && !syn && !fin && !rst && p.payload_length == 0;
    if (pure_ack) add_history(l, 'a', from_orig);
    me.sent_rst = me.sent_rst || rst;
    me.sent_fin = me.sent_fin || fin;
    me.sent_data = me.sent_data || p.payload_length > 0;
    me.sent_ack = me.sent_ack || pure_ack;
    if (p.tcp.window == 0 && !rst && !syn)
      add_repeat(l, 'w', from_orig, from_orig ? l.w_count : l.wr_count);

    // Sequence space: SYN retransmissions, data retransmissions, keep-alives.
    std::uint32_t seg_len = p.payload_length + (syn ? 1u : 0u) + (fin ? 1u : 0u);
    bool retrans = false;
    if (syn) {
      ++me.syns;
      if (me.syn_times.size() < kMaxSynTimes) me.syn_times.push_back(p.time);
      if (!me.first_syn) me.first_syn = ref_of(p);
      if (!me.seq_known) {
        me.seq_known = true;
        me.isn = p.tcp.seq;
        me.next_seq = p.tcp.seq + seg_len;
      } else {
        retrans = true;
      }
    } else if (!rst && seg_len > 0) {
      if (!me.seq_known) {
        me.seq_known = true;
        me.next_seq = p.tcp.seq + seg_len;
      } else if (seq_le(p.tcp.seq + seg_len, me.next_seq)) {
        // A keep-alive (1 byte or none, one below the next sequence number) isn't a retransmission.
        bool keepalive = p.payload_length == 1 && !fin && p.tcp.seq + 1 == me.next_seq;
        if (!keepalive) retrans = true;
      } else {
        me.next_seq = p.tcp.seq + seg_len;
      }
    }
    if (retrans) {
      ++me.retransmissions;
      if (p.payload_length > 0 || fin)
        add_repeat(l, 't', from_orig, from_orig ? l.t_count : l.tr_count);
    } else {
      me.payload_bytes += p.payload_length;
    }
    if (p.payload_length > 0 && !me.first_data) me.first_data = ref_of(p);
    if (fin && !me.first_fin) me.first_fin = ref_of(p);
    if (rst && !me.first_rst) me.first_rst = ref_of(p);

    // Endpoint states (Zeek's vocabulary).
    if (rst) {
      me.state = S::kReset;
    } else if (syn && !ack) {
      if (me.state == S::kInactive) me.state = S::kSynSent;
    } else if (syn && ack) {
      if (me.state == S::kInactive || me.state == S::kPartial) me.state = S::kSynAckSent;
    } else {
      if (me.state == S::kSynSent && peer.state == S::kSynAckSent) {
        me.state = S::kEstablished;
        peer.state = S::kEstablished;
      } else if (me.state == S::kSynAckSent && peer.state == S::kEstablished) {
        me.state = S::kEstablished;
      } else if (me.state == S::kInactive) {
        me.state = S::kPartial;
      }
      if (fin && me.state != S::kReset) me.state = S::kClosed;
    }
    if (fin && syn && me.state != S::kReset) me.state = S::kClosed;

    l.done = side_done(leg.o.state) && side_done(leg.r.state);
    if (rst) l.done = true;

    // Reassembly on the primary leg only: the other legs carry copies of the same bytes.
    auto cit = conns.find(leg.connection);
    if (cit == conns.end()) return;
    LiveConn& c = cit->second;
    if (c.primary_leg != leg.id) {
      ++*duplicate_copies;
      return;
    }
    Reassembler* r = from_orig ? c.ro.get() : c.rr.get();
    StreamSink* s = from_orig ? static_cast<StreamSink*>(&c.so) : static_cast<StreamSink*>(&c.sr);
    if (!r) return;
    // What the reassembler delivers now, this packet delivered (also held bytes it releases).
    c.so.at = c.sr.at = ref_of(p);
    if (syn) r->set_isn(p.tcp.seq);
    // An ACK past a hole in the other direction: those bytes were sent and received, the
    // capture missed them.
    if ((p.tcp.flags & tf::kAck) && !rst) {
      Reassembler* back = from_orig ? c.rr.get() : c.ro.get();
      StreamSink* ps =
          from_orig ? static_cast<StreamSink*>(&c.sr) : static_cast<StreamSink*>(&c.so);
      if (back) back->acked(p.tcp.ack, *ps);
    }
    if (p.payload_length > 0 && !rst) {
      r->segment(syn ? p.tcp.seq + 1 : p.tcp.seq, p.payload, p.payload_length, *s);
    }
    if (fin || rst) r->finish(*s);
  }

  void note_vantage(const packet::Vantage& v) {
    if (vantage_rank.count(v)) return;
    if (vantage_rank.size() >= kMaxVantageRanks) {
      anomalies.add("flow.vantage_limit");
      return;
    }
    vantage_rank.emplace(v, static_cast<std::uint32_t>(vantage_rank.size()));
  }
  std::uint32_t rank_of(const packet::Vantage& v) const {
    auto it = vantage_rank.find(v);
    return it == vantage_rank.end() ? static_cast<std::uint32_t>(kMaxVantageRanks) : it->second;
  }

  void close_leg(std::uint32_t id, bool capture_ended, bool idle) {
    auto it = legs.find(id);
    if (it == legs.end()) return;
    Leg leg = std::move(it->second.leg);
    legs.erase(it);
    index.erase(make_key(leg.vantage, leg.orig, leg.resp));
    if (auto tit = by_tuple.find(make_tuple_key(leg.orig, leg.resp)); tit != by_tuple.end()) {
      auto& ids = tit->second;
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      if (ids.empty()) by_tuple.erase(tit);
    }
    auto cit = conns.find(leg.connection);
    if (cit == conns.end()) return;
    LiveConn& c = cit->second;
    c.live_legs.erase(std::remove(c.live_legs.begin(), c.live_legs.end(), id), c.live_legs.end());
    if (capture_ended) c.conn.capture_ended = true;
    if (idle && id == c.primary_leg) c.conn.expired_idle = true;
    c.conn.legs.push_back(std::move(leg));
    if (!c.live_legs.empty()) return;
    // Last leg gone: finish the streams and hand the connection over. What the finish delivers
    // is attributed to the connection's own latest packet, whatever closed it (FIN after the
    // linger, idle timeout, eviction or the end of input).
    PacketRef last = c.conn.legs.front().last_ref;
    for (const auto& l : c.conn.legs)
      if (last.time < l.last_ref.time) last = l.last_ref;
    c.so.at = c.sr.at = last;
    if (c.ro) {
      c.ro->finish(c.so);
      c.conn.gap_bytes += c.ro->gaps();
      c.conn.midstream = c.conn.midstream || c.ro->started_midstream();
    }
    if (c.rr) {
      c.rr->finish(c.sr);
      c.conn.gap_bytes += c.rr->gaps();
      c.conn.midstream = c.conn.midstream || c.rr->started_midstream();
    }
    std::sort(c.conn.legs.begin(), c.conn.legs.end(),
              [](const Leg& a, const Leg& b) { return a.id < b.id; });
    c.conn.conn_state = conn_state(c.conn.legs.front());
    if (!c.conn.legs.front().o.first_syn && !c.conn.legs.front().r.first_syn)
      c.conn.midstream = true;
    if (sinks && (c.ro || c.rr)) sinks->release(c.conn, last);
    Connection done = std::move(c.conn);
    conns.erase(cit);
    on_closed(std::move(done));
  }

  void evict_oldest() {
    anomalies.add("flow.table_full");
    std::vector<std::pair<Timestamp, std::uint32_t>> v;
    v.reserve(legs.size());
    for (auto& [id, l] : legs)
      v.emplace_back(l.leg.last, id);
    std::size_t n = v.size() / 10 + 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n - 1), v.end());
    for (std::size_t i = 0; i < n; ++i)
      close_leg(v[i].second, false, true);
  }

  void sweep() {
    std::vector<std::pair<std::uint32_t, bool>> expired;
    for (auto& [id, l] : legs) {
      double idle = (now - l.leg.last).seconds();
      bool only_syns = l.leg.r.packets == 0 && l.leg.o.payload_bytes == 0;
      if (l.done && idle > config.closed_linger_seconds)
        expired.emplace_back(id, false);
      else if (only_syns && idle > config.attempt_timeout_seconds)
        expired.emplace_back(id, false);
      else if (idle > config.idle_timeout_seconds)
        expired.emplace_back(id, true);
    }
    std::sort(expired.begin(), expired.end());
    for (auto [id, idle] : expired)
      close_leg(id, false, idle);
  }
};

void FlowTable::Impl::GapSink::on_gap(std::uint64_t off, std::uint64_t len) {
  if (inner) inner->on_gap(off, len, at);
  if (!conn) return;
  std::uint32_t& n = orig ? conn->gaps_o : conn->gaps_r;
  if (!repeat_threshold(++n)) return;
  // The primary leg may already have closed (gaps found at expiry or the end of input).
  std::string* history = nullptr;
  if (auto it = conn->impl->legs.find(conn->primary_leg); it != conn->impl->legs.end())
    history = &it->second.leg.history;
  for (auto& l : conn->conn.legs)
    if (l.id == conn->primary_leg) history = &l.history;
  if (history) history->push_back(orig ? 'G' : 'g');
}

FlowTable::FlowTable(AnomalyCounters& anomalies, FlowTableConfig config, ClosedCallback on_closed)
    : impl_(std::make_unique<Impl>(anomalies, config, std::move(on_closed))) {
  impl_->duplicate_copies = &duplicate_copies_;
}

FlowTable::~FlowTable() = default;

void FlowTable::on_tcp(const Packet& p) {
  impl_->sinks = sinks_;
  Endpoint src{p.src, p.sport}, dst{p.dst, p.dport};
  LegKey key = make_key(p.vantage, src, dst);
  auto it = impl_->index.find(key);
  bool syn_only = (p.tcp.flags & tf::kSyn) && !(p.tcp.flags & tf::kAck);
  if (it != impl_->index.end() && syn_only) {
    // A SYN with a new ISN on a finished (or never answered) leg is a new connection that
    // reuses the port pair.
    auto& l = impl_->legs[it->second];
    bool from_orig = src == l.leg.orig;
    if (l.leg.o.seq_known && from_orig && l.leg.o.first_syn && p.tcp.seq != l.leg.o.isn &&
        (l.done || l.leg.r.packets == 0)) {
      impl_->close_leg(it->second, false, false);
      it = impl_->index.end();
    }
  }
  Impl::LiveLeg* l;
  if (it == impl_->index.end()) {
    impl_->note_vantage(p.vantage);
    l = &impl_->create_leg(p, key);
    impl_->by_tuple[make_tuple_key(src, dst)].push_back(l->leg.id);
  } else {
    l = &impl_->legs[it->second];
  }
  impl_->update(*l, p);
}

bool FlowTable::on_icmp_error(const Packet& p) {
  if (!p.icmp.present || p.icmp.inner_protocol != 6) return false;
  const Endpoint& s = p.icmp.inner_src;
  const Endpoint& d = p.icmp.inner_dst;
  // Prefer the leg at the ICMP's own vantage, then the one at the capture point seen first.
  auto tit = impl_->by_tuple.find(make_tuple_key(s, d));
  if (tit == impl_->by_tuple.end()) return false;
  Leg* best = nullptr;
  std::uint32_t best_rank = 0;
  for (auto id : tit->second) {
    auto lit = impl_->legs.find(id);
    if (lit == impl_->legs.end()) continue;
    Leg& leg = lit->second.leg;
    if (leg.vantage == p.vantage) {
      best = &leg;
      break;
    }
    std::uint32_t r = impl_->rank_of(leg.vantage);
    if (!best || r < best_rank) {
      best = &leg;
      best_rank = r;
    }
  }
  if (!best) return false;
  if (best->icmp.size() < 16)
    best->icmp.push_back(IcmpEvent{ref_of(p), p.src, p.icmp.type, p.icmp.code, p.icmp.unreachable,
                                   p.vantage.ifindex});
  best->last = std::max(best->last, p.time);
  return true;
}

void FlowTable::advance(Timestamp now) {
  impl_->now = now;
  if (now < impl_->last_sweep) impl_->last_sweep = now;  // the owner set its clock back
  if ((now - impl_->last_sweep).seconds() >= 1.0) {
    impl_->last_sweep = now;
    impl_->sweep();
  }
}

void FlowTable::finish() {
  std::vector<std::uint32_t> ids;
  for (auto& [id, l] : impl_->legs)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (auto id : ids) {
    auto it = impl_->legs.find(id);
    if (it == impl_->legs.end()) continue;
    bool open = !it->second.done;
    impl_->close_leg(id, open, false);
  }
}

std::optional<Connection> FlowTable::snapshot(std::uint32_t id) const {
  auto cit = impl_->conns.find(id);
  if (cit == impl_->conns.end()) return std::nullopt;
  const Impl::LiveConn& c = cit->second;
  Connection out;
  out.id = c.conn.id;
  out.legs = c.conn.legs;
  for (auto leg_id : c.live_legs)
    if (auto it = impl_->legs.find(leg_id); it != impl_->legs.end())
      out.legs.push_back(it->second.leg);
  if (out.legs.empty()) return std::nullopt;
  std::sort(out.legs.begin(), out.legs.end(),
            [](const Leg& a, const Leg& b) { return a.id < b.id; });
  out.conn_state = conn_state(out.legs.front());
  out.gap_bytes = c.conn.gap_bytes + (c.ro ? c.ro->gaps() : 0) + (c.rr ? c.rr->gaps() : 0);
  out.midstream = c.conn.midstream || (c.ro && c.ro->started_midstream()) ||
                  (c.rr && c.rr->started_midstream()) ||
                  (!out.legs.front().o.first_syn && !out.legs.front().r.first_syn);
  return out;
}

std::size_t FlowTable::live_legs() const {
  return impl_->legs.size();
}

}  // namespace fedscope::flow
