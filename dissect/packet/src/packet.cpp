#include "fedscope/packet/packet.hpp"

#include <tins/exceptions.h>
#include <tins/ip.h>
#include <tins/ip_reassembler.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace fedscope::packet {
namespace {

// Link types as libpcap reports them (DLT_*). LINKTYPE_RAW (101) is mapped to DLT_RAW (12).
constexpr int kDltNull = 0, kDltEthernet = 1, kDltRaw = 12, kDltRawBsd = 14, kDltLoop = 108,
              kDltSll = 113, kDltIpv4 = 228, kDltIpv6 = 229, kDltSll2 = 276, kLinktypeRaw = 101;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

std::string ipv4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

Direction sll_direction(std::uint16_t pkttype) {
  // Linux PACKET_* types: 0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing. Only
  // "host" says the capturing box itself received it (to deliver or forward).
  if (pkttype == 4) return Direction::kOut;
  if (pkttype == 0) return Direction::kIn;
  return Direction::kUnknown;
}

}  // namespace

std::string_view linktype_supported(int dlt) {
  switch (dlt) {
    case kDltNull:
      return "NULL";
    case kDltEthernet:
      return "EN10MB";
    case kDltRaw:
    case kDltRawBsd:
    case kLinktypeRaw:
      return "RAW";
    case kDltLoop:
      return "LOOP";
    case kDltSll:
      return "LINUX_SLL";
    case kDltSll2:
      return "LINUX_SLL2";
    case kDltIpv4:
      return "IPV4";
    case kDltIpv6:
      return "IPV6";
    default:
      return "";
  }
}

// IPv4 fragment trains, reassembled by libtins. libtins keeps no time or count limits, so we
// track every train it holds and drop old ones ourselves.
struct Decoder::Fragments {
  Tins::IPv4Reassembler reassembler;
  using Key = std::tuple<std::uint16_t, std::uint32_t, std::uint32_t>;  // id, src, dst
  std::map<Key, Timestamp> trains;
  std::vector<std::uint8_t> datagram;  // the last reassembled datagram, borrowed by Packet
};

Decoder::Decoder(AnomalyCounters& anomalies)
    : anomalies_(anomalies), frags_(std::make_unique<Fragments>()) {}
Decoder::~Decoder() = default;

Decoder::Result Decoder::decode(const Frame& frame, Packet& out) {
  out = Packet{};
  out.time = frame.time;
  out.number = frame.number;
  out.vantage.file = frame.file;
  out.vantage.interface = frame.interface;
  out.wire_length = frame.wire_length;
  const bool cut = frame.truncated();
  auto d = frame.data;
  const std::uint8_t* p = d.data();

  switch (frame.linktype) {
    case kDltEthernet: {
      if (d.size() < 14) {
        anomalies_.add(cut ? "link.truncated" : "link.short_frame");
        return Result::kUndecodable;
      }
      std::size_t off = 12;
      std::uint16_t type = be16(p + off);
      off += 2;
      // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag: skip every tag in turn.
      for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; ++tags) {
        if (tags == 8 || d.size() < off + 4) {
          anomalies_.add("link.bad_vlan");
          return Result::kUndecodable;
        }
        type = be16(p + off + 2);
        off += 4;
      }
      if (type != 0x0800 && type != 0x86dd) return Result::kNotIp;
      return decode_ip(d.subspan(off), cut, out);
    }
    case kDltSll: {
      if (d.size() < 16) {
        anomalies_.add("link.truncated");
        return Result::kUndecodable;
      }
      out.direction = sll_direction(be16(p));
      std::uint16_t proto = be16(p + 14);
      if (proto != 0x0800 && proto != 0x86dd) return Result::kNotIp;
      return decode_ip(d.subspan(16), cut, out);
    }
    case kDltSll2: {
      if (d.size() < 20) {
        anomalies_.add("link.truncated");
        return Result::kUndecodable;
      }
      std::uint16_t proto = be16(p);
      out.vantage.ifindex = static_cast<std::int32_t>(be32(p + 4));
      out.direction = sll_direction(p[10]);
      if (proto != 0x0800 && proto != 0x86dd) return Result::kNotIp;
      return decode_ip(d.subspan(20), cut, out);
    }
    case kDltRaw:
    case kDltRawBsd:
    case kLinktypeRaw:
    case kDltIpv4:
    case kDltIpv6:
      return decode_ip(d, cut, out);
    case kDltNull:
    case kDltLoop: {
      if (d.size() < 4) {
        anomalies_.add("link.truncated");
        return Result::kUndecodable;
      }
      // DLT_NULL stores the address family in the capturing host's byte order: accept both.
      std::uint32_t af = frame.linktype == kDltLoop
                             ? be32(p)
                             : (be32(p) > 0xffff ? __builtin_bswap32(be32(p)) : be32(p));
      if (af != 2 && af != 10 && af != 24 && af != 28 && af != 30) return Result::kNotIp;
      return decode_ip(d.subspan(4), cut, out);
    }
    default:
      anomalies_.add("link.unsupported_linktype");
      return Result::kUndecodable;
  }
}

Decoder::Result Decoder::decode_ip(std::span<const std::uint8_t> data, bool cut, Packet& out) {
  if (data.empty()) {
    anomalies_.add(cut ? "ip.truncated" : "ip.missing");
    return Result::kUndecodable;
  }
  switch (data[0] >> 4) {
    case 4:
      return decode_ipv4(data, cut, out);
    case 6:
      return decode_ipv6(data, cut, out);
    default:
      anomalies_.add("ip.bad_version");
      return Result::kUndecodable;
  }
}

Decoder::Result Decoder::decode_ipv4(std::span<const std::uint8_t> data, bool cut, Packet& out) {
  const std::uint8_t* p = data.data();
  if (data.size() < 20) {
    anomalies_.add(cut ? "ip.truncated" : "ip.short_header");
    return Result::kUndecodable;
  }
  std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
  std::size_t total = be16(p + 2);
  if (ihl < 20) {
    anomalies_.add("ip.bad_header_len");
    return Result::kUndecodable;
  }
  if (total < ihl) {
    anomalies_.add("ip.bad_total_length");
    return Result::kUndecodable;
  }
  if (data.size() < ihl) {
    anomalies_.add(cut ? "ip.truncated" : "ip.bad_header_len");
    return Result::kUndecodable;
  }
  if (total > data.size() && !cut) {
    // Not cut by the snapshot length, yet shorter than the header claims.
    anomalies_.add("ip.length_exceeds_frame");
    return Result::kUndecodable;
  }
  out.ip_version = 4;
  out.src = IpAddress::v4(std::span<const std::uint8_t, 4>(p + 12, 4));
  out.dst = IpAddress::v4(std::span<const std::uint8_t, 4>(p + 16, 4));
  out.ttl = p[8];
  out.ip_id = be16(p + 4);
  out.protocol = p[9];
  std::uint16_t frag = be16(p + 6);
  bool more = (frag & 0x2000) != 0;
  std::uint16_t offset = frag & 0x1fff;

  if (more || offset != 0) {
    if (cut || total > data.size()) {
      anomalies_.add("ip.fragment_truncated");
      return Result::kUndecodable;
    }
    // Boundary: libtins reports malformed input by throwing; it never escapes this block.
    try {
      Tins::IP ip(p, static_cast<std::uint32_t>(total));
      auto& f = *frags_;
      Fragments::Key key{out.ip_id, be32(p + 12), be32(p + 16)};
      if (!f.trains.count(key) && f.trains.size() >= kMaxFragmentTrains) {
        anomalies_.add("ip.fragment_limit");
        f.reassembler.clear_streams();
        f.trains.clear();
      }
      f.trains.emplace(key, out.time);
      auto status = f.reassembler.process(ip);
      if (status == Tins::IPv4Reassembler::FRAGMENTED) return Result::kHeld;
      f.trains.erase(key);
      f.datagram = ip.serialize();
    } catch (const std::exception&) {
      anomalies_.add("ip.malformed_fragment");
      return Result::kUndecodable;
    }
    auto& dgram = frags_->datagram;
    if (dgram.size() < 20 || (be16(dgram.data() + 6) & 0x3fff) != 0) {
      anomalies_.add("ip.malformed_fragment");
      return Result::kUndecodable;
    }
    Result r = decode_ipv4(std::span<const std::uint8_t>(dgram), false, out);
    out.reassembled = true;
    return r;
  }

  std::size_t avail = std::min(total, data.size());
  return decode_transport(data.subspan(ihl, avail - ihl), static_cast<std::uint32_t>(total - ihl),
                          total > data.size(), out);
}

Decoder::Result Decoder::decode_ipv6(std::span<const std::uint8_t> data, bool cut, Packet& out) {
  const std::uint8_t* p = data.data();
  if (data.size() < 40) {
    anomalies_.add(cut ? "ip.truncated" : "ip.short_header");
    return Result::kUndecodable;
  }
  std::size_t total = 40 + std::size_t{be16(p + 4)};
  if (total > data.size() && !cut) {
    anomalies_.add("ip.length_exceeds_frame");
    return Result::kUndecodable;
  }
  out.ip_version = 6;
  out.src = IpAddress::v6(std::span<const std::uint8_t, 16>(p + 8, 16));
  out.dst = IpAddress::v6(std::span<const std::uint8_t, 16>(p + 24, 16));
  out.ttl = p[7];
  std::size_t avail = std::min(total, data.size());
  std::uint8_t next = p[6];
  std::size_t off = 40;
  // Walk extension headers (bounded: each is at least 8 bytes).
  for (int hops = 0; hops < 16; ++hops) {
    if (next == 0 || next == 43 || next == 60 || next == 51) {
      if (off + 8 > avail) {
        anomalies_.add(cut ? "ip.truncated" : "ipv6.bad_extension");
        return Result::kUndecodable;
      }
      std::size_t len =
          next == 51 ? (std::size_t{p[off + 1]} + 2) * 4 : (std::size_t{p[off + 1]} + 1) * 8;
      next = p[off];
      off += len;
      if (off > avail) {
        anomalies_.add(cut ? "ip.truncated" : "ipv6.bad_extension");
        return Result::kUndecodable;
      }
      continue;
    }
    if (next == 44) {
      // IPv6 fragments are rare on federation paths; counted, not reassembled.
      anomalies_.add("ipv6.fragment_not_reassembled");
      return Result::kUndecodable;
    }
    break;
  }
  out.protocol = next;
  return decode_transport(data.subspan(off, avail - off), static_cast<std::uint32_t>(total - off),
                          total > data.size(), out);
}

Decoder::Result Decoder::decode_transport(std::span<const std::uint8_t> seg, std::uint32_t wire_len,
                                          bool cut, Packet& out) {
  out.truncated = cut;
  const std::uint8_t* p = seg.data();
  switch (out.protocol) {
    case 6: {  // TCP
      if (seg.size() < 20) {
        anomalies_.add(cut ? "tcp.truncated_header" : "tcp.short_header");
        return Result::kUndecodable;
      }
      std::uint8_t hlen = static_cast<std::uint8_t>((p[12] >> 4) * 4);
      if (hlen < 20 || hlen > wire_len) {
        anomalies_.add("tcp.bad_header_len");
        return Result::kUndecodable;
      }
      out.transport = Transport::kTcp;
      out.sport = be16(p);
      out.dport = be16(p + 2);
      out.tcp.seq = be32(p + 4);
      out.tcp.ack = be32(p + 8);
      out.tcp.flags = p[13];
      out.tcp.window = be16(p + 14);
      out.tcp.header_length = hlen;
      out.payload_length = wire_len - hlen;
      out.payload = seg.size() > hlen ? seg.subspan(hlen) : std::span<const std::uint8_t>{};
      // Not cut: the segment holds wire_len >= hlen bytes. Cut: options may be missing, but
      // ports, flags and sequence numbers are in the first 20 bytes.
      return Result::kPacket;
    }
    case 17: {  // UDP
      if (seg.size() < 8) {
        anomalies_.add(cut ? "udp.truncated_header" : "udp.short_header");
        return Result::kUndecodable;
      }
      std::uint16_t ulen = be16(p + 4);
      if (ulen < 8 || ulen > wire_len) {
        anomalies_.add("udp.bad_length");
        return Result::kUndecodable;
      }
      out.transport = Transport::kUdp;
      out.sport = be16(p);
      out.dport = be16(p + 2);
      out.payload_length = ulen - 8u;
      std::size_t have = std::min<std::size_t>(seg.size(), ulen);
      out.payload = seg.subspan(8, have - 8);
      return Result::kPacket;
    }
    case 1:     // ICMP
    case 58: {  // ICMPv6
      out.transport = Transport::kIcmp;
      if (seg.size() < 8) {
        anomalies_.add(cut ? "icmp.truncated" : "icmp.short");
        return Result::kPacket;
      }
      std::uint8_t type = p[0];
      bool v4 = out.protocol == 1;
      bool unreach = v4 ? type == 3 : type == 1;
      bool exceeded = v4 ? type == 11 : type == 3;
      out.payload = seg.subspan(8);
      out.payload_length = wire_len >= 8 ? wire_len - 8 : 0;
      if (unreach || exceeded) {
        out.icmp.present = true;
        out.icmp.unreachable = unreach;
        out.icmp.type = type;
        out.icmp.code = p[1];
        decode_icmp_inner(seg.subspan(8), out);
      }
      return Result::kPacket;
    }
    default:
      out.transport = Transport::kOther;
      out.payload = seg;
      out.payload_length = wire_len;
      return Result::kPacket;
  }
}

void Decoder::decode_icmp_inner(std::span<const std::uint8_t> inner, Packet& out) {
  auto& e = out.icmp;
  const std::uint8_t* p = inner.data();
  std::size_t off = 0;
  if (inner.size() >= 20 && (p[0] >> 4) == 4) {
    off = std::size_t{p[0] & 0x0fu} * 4;
    if (off < 20 || inner.size() < off) {
      anomalies_.add("icmp.bad_inner_header");
      e.present = false;
      return;
    }
    e.inner_protocol = p[9];
    e.inner_src.addr = IpAddress::v4(std::span<const std::uint8_t, 4>(p + 12, 4));
    e.inner_dst.addr = IpAddress::v4(std::span<const std::uint8_t, 4>(p + 16, 4));
  } else if (inner.size() >= 40 && (p[0] >> 4) == 6) {
    off = 40;
    e.inner_protocol = p[6];
    e.inner_src.addr = IpAddress::v6(std::span<const std::uint8_t, 16>(p + 8, 16));
    e.inner_dst.addr = IpAddress::v6(std::span<const std::uint8_t, 16>(p + 24, 16));
  } else {
    anomalies_.add("icmp.bad_inner_header");
    e.present = false;
    return;
  }
  if ((e.inner_protocol == 6 || e.inner_protocol == 17) && inner.size() >= off + 4) {
    e.inner_src.port = be16(p + off);
    e.inner_dst.port = be16(p + off + 2);
    if (e.inner_protocol == 6 && inner.size() >= off + 8) {
      e.inner_tcp_seq = be32(p + off + 4);
      e.inner_has_seq = true;
    }
  }
}

void Decoder::expire(Timestamp now) {
  auto& f = *frags_;
  for (auto it = f.trains.begin(); it != f.trains.end();) {
    if ((now - it->second).seconds() > kFragmentTimeoutSeconds) {
      auto [id, src, dst] = it->first;
      // Text form sidesteps any doubt about libtins' integer byte order; this path is rare.
      f.reassembler.remove_stream(id, Tins::IPv4Address(ipv4_text(src)),
                                  Tins::IPv4Address(ipv4_text(dst)));
      anomalies_.add("ip.fragments_incomplete");
      it = f.trains.erase(it);
    } else {
      ++it;
    }
  }
}

void Decoder::finish() {
  if (!frags_->trains.empty()) {
    anomalies_.add("ip.fragments_incomplete", frags_->trains.size());
    frags_->trains.clear();
    frags_->reassembler.clear_streams();
  }
}

}  // namespace fedscope::packet
