#include "fedscope/dns/message.hpp"

#include <array>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <utility>

namespace fedscope::dns {

namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kQuestionFixedSize = 4;  // type, class
constexpr std::size_t kRrFixedSize = 10;       // type, class, ttl, rdlength
constexpr std::size_t kSrvFixedSize = 6;       // priority, weight, port
constexpr std::size_t kSoaFixedSize = 20;      // serial, refresh, retry, expire, minimum
constexpr std::uint16_t kClassIn = 1;

std::uint16_t read_u16(std::span<const std::uint8_t> wire, std::size_t pos) {
  return static_cast<std::uint16_t>((wire[pos] << 8) | wire[pos + 1]);
}

std::uint32_t read_u32(std::span<const std::uint8_t> wire, std::size_t pos) {
  return (std::uint32_t{wire[pos]} << 24) | (std::uint32_t{wire[pos + 1]} << 16) |
         (std::uint32_t{wire[pos + 2]} << 8) | std::uint32_t{wire[pos + 3]};
}

enum class NameError {
  kNone,
  kPastLimit,   // the name's own bytes (before any pointer) ran past the caller's limit
  kTruncated,   // bytes reached through a pointer ran past the end of the message
  kBadPointer,  // pointer not strictly backwards (covers targets outside the message)
  kLoop,        // more than kMaxCompressionJumps pointers
  kBadLabel,    // label type 01 or 10 (RFC 6891 removed extended labels)
  kTooLong,     // wire form longer than kMaxNameLength
};

std::string_view anomaly_name(NameError e, std::string_view past_limit) {
  switch (e) {
    case NameError::kNone:
      break;
    case NameError::kPastLimit:
      return past_limit;
    case NameError::kTruncated:
      return kAnomalyTruncated;
    case NameError::kBadPointer:
      return kAnomalyBadPointer;
    case NameError::kLoop:
      return kAnomalyCompressionLoop;
    case NameError::kBadLabel:
      return kAnomalyBadLabel;
    case NameError::kTooLong:
      return kAnomalyNameTooLong;
  }
  return {};
}

/// Appends one label in presentation form: lower-cased, '.' and '\' escaped so the dotted
/// name stays unambiguous, anything else outside printable ASCII as \DDD (as dig prints it).
void append_label(std::span<const std::uint8_t> label, std::string& out) {
  for (std::uint8_t b : label) {
    if (b >= 'A' && b <= 'Z') {
      out.push_back(static_cast<char>(b - 'A' + 'a'));
    } else if (b == '.' || b == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(b));
    } else if (b > 0x20 && b < 0x7f) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + b / 100));
      out.push_back(static_cast<char>('0' + b / 10 % 10));
      out.push_back(static_cast<char>('0' + b % 10));
    }
  }
}

/// Reads the name at @p pos into @p out. The name's own bytes must end before @p limit;
/// bytes reached through a pointer may lie anywhere in the message. On success @p next is
/// the offset just past the name's own bytes.
NameError read_name(std::span<const std::uint8_t> wire, std::size_t pos, std::size_t limit,
                    std::string& out, std::size_t& next) {
  out.clear();
  std::size_t cur = pos;
  std::size_t end = limit;
  bool jumped = false;
  int jumps = 0;
  std::size_t wire_length = 1;  // the terminating root label
  const auto ran_out = [&] { return jumped ? NameError::kTruncated : NameError::kPastLimit; };
  while (true) {
    if (cur >= end) return ran_out();
    const std::uint8_t len = wire[cur];
    if ((len & 0xC0) == 0xC0) {
      if (end - cur < 2) return ran_out();
      const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | wire[cur + 1];
      // Strictly backwards: a pointer can never reach itself or data not yet seen.
      if (target >= cur) return NameError::kBadPointer;
      if (++jumps > kMaxCompressionJumps) return NameError::kLoop;
      if (!jumped) {
        next = cur + 2;
        jumped = true;
        end = wire.size();
      }
      cur = target;
      continue;
    }
    if ((len & 0xC0) != 0) return NameError::kBadLabel;
    if (len == 0) {
      if (!jumped) next = cur + 1;
      if (out.empty()) out.push_back('.');  // not out = ".": g++ 12 -Wrestrict false positive
      return NameError::kNone;
    }
    wire_length += 1 + std::size_t{len};
    if (wire_length > kMaxNameLength) return NameError::kTooLong;
    if (end - cur - 1 < len) return ran_out();
    if (!out.empty()) out.push_back('.');
    append_label(wire.subspan(cur + 1, len), out);
    cur += 1 + std::size_t{len};
  }
}

/// Decodes RDATA in [start, end) (known to lie inside the message). A defect leaves the data
/// as monostate and is counted; the caller carries on at @p end either way.
void decode_rdata(std::span<const std::uint8_t> wire, std::size_t start, std::size_t end,
                  ResourceRecord& rr, AnomalyCounters& anomalies) {
  const std::size_t length = end - start;
  std::string name;
  std::size_t next = start;
  // Reads a name that must end inside the RDATA; counts and returns false when it does not.
  const auto rdata_name = [&](std::size_t at, std::string& dst) {
    const NameError e = read_name(wire, at, end, dst, next);
    if (e == NameError::kNone) return true;
    anomalies.add(anomaly_name(e, kAnomalyBadRdata));
    return false;
  };
  const auto bad = [&] { anomalies.add(kAnomalyBadRdata); };

  switch (rr.type) {
    case kA:
      // Only class IN gives A a 4-byte address (CHAOS A is a name plus a number).
      if (rr.klass != kClassIn) return;
      if (length != 4) return bad();
      rr.data = IpAddress::v4(wire.subspan(start).first<4>());
      return;
    case kAaaa:
      if (rr.klass != kClassIn) return;
      if (length != 16) return bad();
      rr.data = IpAddress::v6(wire.subspan(start).first<16>());
      return;
    case kCname:
    case kNs:
    case kPtr:
      if (!rdata_name(start, name)) return;
      if (next != end) return bad();
      rr.data = std::move(name);
      return;
    case kSrv: {
      if (length < kSrvFixedSize) return bad();
      SrvData srv;
      srv.priority = read_u16(wire, start);
      srv.weight = read_u16(wire, start + 2);
      srv.port = read_u16(wire, start + 4);
      // RFC 2782 forbids compressing the target, but senders do; accept it.
      if (!rdata_name(start + kSrvFixedSize, srv.target)) return;
      if (next != end) return bad();
      rr.data = std::move(srv);
      return;
    }
    case kSoa: {
      SoaData soa;
      if (!rdata_name(start, soa.mname)) return;
      if (!rdata_name(next, soa.rname)) return;
      if (end - next != kSoaFixedSize) return bad();
      soa.serial = read_u32(wire, next);
      soa.refresh = read_u32(wire, next + 4);
      soa.retry = read_u32(wire, next + 8);
      soa.expire = read_u32(wire, next + 12);
      soa.minimum = read_u32(wire, next + 16);
      rr.data = std::move(soa);
      return;
    }
    default:
      return;  // OPT and everything else: rdlength only
  }
}

/// Decodes one resource record at @p pos. Returns false (after counting why) when the record
/// cannot be delimited, which ends decoding of the message.
bool decode_rr(std::span<const std::uint8_t> wire, std::size_t& pos, ResourceRecord& rr,
               AnomalyCounters& anomalies) {
  std::size_t next = pos;
  if (const NameError e = read_name(wire, pos, wire.size(), rr.name, next); e != NameError::kNone) {
    anomalies.add(anomaly_name(e, kAnomalyTruncated));
    return false;
  }
  if (wire.size() - next < kRrFixedSize) {
    anomalies.add(kAnomalyTruncated);
    return false;
  }
  rr.type = read_u16(wire, next);
  rr.klass = read_u16(wire, next + 2);
  rr.ttl = read_u32(wire, next + 4);
  rr.rdlength = read_u16(wire, next + 8);
  const std::size_t start = next + kRrFixedSize;
  if (wire.size() - start < rr.rdlength) {
    anomalies.add(kAnomalyTruncated);
    return false;
  }
  const std::size_t end = start + rr.rdlength;
  decode_rdata(wire, start, end, rr, anomalies);
  pos = end;
  return true;
}

/// Decodes @p count records into @p out. Returns false when decoding must stop: a record
/// could not be delimited, or the count was over the limit.
bool decode_section(std::span<const std::uint8_t> wire, std::size_t& pos, std::uint16_t count,
                    std::vector<ResourceRecord>& out, AnomalyCounters& anomalies) {
  std::size_t n = count;
  const bool too_many = n > kMaxRecordsPerSection;
  if (too_many) {
    anomalies.add(kAnomalyTooManyRecords);
    n = kMaxRecordsPerSection;
  }
  for (std::size_t i = 0; i < n; ++i) {
    ResourceRecord rr;
    if (!decode_rr(wire, pos, rr, anomalies)) return false;
    out.push_back(std::move(rr));
  }
  return !too_many;
}

/// "TYPE65535" / "RCODE255" and a terminating NUL fit in 10 bytes.
using NameSlot = std::array<char, 10>;

/// "<prefix>0" .. "<prefix>N-1", built once so that the views handed out never dangle.

}  // namespace

std::string type_name(std::uint16_t type) {
  switch (type) {
    case kA:
      return "A";
    case kNs:
      return "NS";
    case kCname:
      return "CNAME";
    case kSoa:
      return "SOA";
    case kPtr:
      return "PTR";
    case kMx:
      return "MX";
    case kTxt:
      return "TXT";
    case kAaaa:
      return "AAAA";
    case kSrv:
      return "SRV";
    case kOpt:
      return "OPT";
    case kAny:
      return "ANY";
    default:
      break;
  }
  return "TYPE" + std::to_string(type);
}

std::string rcode_name(std::uint8_t rcode) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
  };
  if (rcode < kNames.size()) return std::string(kNames[rcode]);
  return "RCODE" + std::to_string(rcode);
}

DecodeStatus decode_message(std::span<const std::uint8_t> wire, Message& out,
                            AnomalyCounters& anomalies) {
  out = Message{};
  if (wire.size() < kHeaderSize) {
    anomalies.add(kAnomalyTruncated);
    return DecodeStatus::kMalformed;
  }
  out.id = read_u16(wire, 0);
  const std::uint16_t flags = read_u16(wire, 2);
  out.qr = (flags & 0x8000) != 0;
  out.opcode = static_cast<std::uint8_t>((flags >> 11) & 0xF);
  out.aa = (flags & 0x0400) != 0;
  out.tc = (flags & 0x0200) != 0;
  out.rd = (flags & 0x0100) != 0;
  out.ra = (flags & 0x0080) != 0;
  out.rcode = static_cast<std::uint8_t>(flags & 0xF);
  const std::uint16_t qdcount = read_u16(wire, 4);
  const std::uint16_t ancount = read_u16(wire, 6);
  const std::uint16_t nscount = read_u16(wire, 8);
  const std::uint16_t arcount = read_u16(wire, 10);

  std::size_t pos = kHeaderSize;
  std::size_t questions = qdcount;
  const bool too_many_questions = questions > kMaxRecordsPerSection;
  if (too_many_questions) {
    anomalies.add(kAnomalyTooManyRecords);
    questions = kMaxRecordsPerSection;
  }
  for (std::size_t i = 0; i < questions; ++i) {
    Question q;
    std::size_t next = pos;
    if (const NameError e = read_name(wire, pos, wire.size(), q.name, next);
        e != NameError::kNone) {
      anomalies.add(anomaly_name(e, kAnomalyTruncated));
      return DecodeStatus::kMalformed;
    }
    if (wire.size() - next < kQuestionFixedSize) {
      anomalies.add(kAnomalyTruncated);
      return DecodeStatus::kMalformed;
    }
    q.type = read_u16(wire, next);
    q.klass = read_u16(wire, next + 2);
    pos = next + kQuestionFixedSize;
    out.questions.push_back(std::move(q));
  }
  if (too_many_questions) return DecodeStatus::kPartial;

  if (!decode_section(wire, pos, ancount, out.answers, anomalies) ||
      !decode_section(wire, pos, nscount, out.authority, anomalies) ||
      !decode_section(wire, pos, arcount, out.additional, anomalies)) {
    return DecodeStatus::kPartial;
  }
  if (pos != wire.size()) anomalies.add(kAnomalyTrailingBytes);
  return DecodeStatus::kOk;
}

}  // namespace fedscope::dns
