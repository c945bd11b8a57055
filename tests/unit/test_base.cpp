#include <gtest/gtest.h>

#include <string>

#include "fedscope/base/address.hpp"
#include "fedscope/base/anomaly.hpp"
#include "fedscope/base/domain.hpp"
#include "fedscope/base/time.hpp"

using namespace fedscope;

TEST(Time, Iso8601WithMicroseconds) {
  EXPECT_EQ(format_iso8601(Timestamp::from_parts(1795082400, 123456789)),
            "2026-11-19T10:00:00.123456Z");
  EXPECT_EQ(format_time_of_day(Timestamp::from_parts(0, 1000)), "00:00:00.000001");
}

TEST(Address, ParseAndClassify) {
  EXPECT_EQ(classify(*IpAddress::parse("10.1.2.3")), AddressScope::kPrivate);
  EXPECT_EQ(classify(*IpAddress::parse("172.31.0.1")), AddressScope::kPrivate);
  EXPECT_EQ(classify(*IpAddress::parse("172.32.0.1")), AddressScope::kPublic);
  EXPECT_EQ(classify(*IpAddress::parse("100.64.0.1")), AddressScope::kCgnat);
  EXPECT_EQ(classify(*IpAddress::parse("169.254.1.1")), AddressScope::kLinkLocal);
  EXPECT_EQ(classify(*IpAddress::parse("127.0.0.1")), AddressScope::kLoopback);
  // Documentation ranges are what the lab uses: public unless --inside-net says otherwise.
  EXPECT_EQ(classify(*IpAddress::parse("192.0.2.10")), AddressScope::kPublic);
  EXPECT_EQ(classify(*IpAddress::parse("fd00::1")), AddressScope::kUniqueLocal);
  EXPECT_EQ(classify(*IpAddress::parse("fe80::1")), AddressScope::kLinkLocal);
  EXPECT_EQ(classify(*IpAddress::parse("::ffff:10.0.0.1")), AddressScope::kPrivate);
  EXPECT_EQ(classify(*IpAddress::parse("2001:db8::1")), AddressScope::kPublic);
  EXPECT_FALSE(IpAddress::parse("300.1.1.1"));
  EXPECT_FALSE(IpAddress::parse(""));
}

TEST(Address, Cidr) {
  auto c = Cidr::parse("192.0.2.0/24");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*IpAddress::parse("192.0.2.10")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("192.0.3.10")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("2001:db8::1")));
  auto odd = Cidr::parse("203.0.113.96/27");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(*IpAddress::parse("203.0.113.100")));
  EXPECT_FALSE(odd->contains(*IpAddress::parse("203.0.113.130")));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/33"));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/x"));
  Endpoint e6{*IpAddress::parse("2001:db8::1"), 5269};
  EXPECT_EQ(e6.to_string(), "[2001:db8::1]:5269");
}

TEST(Anomaly, CountsByName) {
  AnomalyCounters a;
  a.add("x.y");
  a.add("x.y", 2);
  a.add("a.b");
  EXPECT_EQ(a.get("x.y"), 3u);
  EXPECT_EQ(a.get("nope"), 0u);
  EXPECT_EQ(a.total(), 4u);
  EXPECT_EQ(a.all().begin()->first, "a.b");
}

TEST(Domain, KeyIgnoresAsciiCaseAndOneTrailingDot) {
  EXPECT_EQ(domain_key("CUPDOMAIN.EXAMPLE."), "cupdomain.example");
  EXPECT_EQ(domain_key("CupDomain.Example"), "cupdomain.example");
  EXPECT_EQ(domain_key("_XMPP-Server._TCP.a.example."), "_xmpp-server._tcp.a.example");
  EXPECT_EQ(domain_key("a.example.."), "a.example.");  // one dot only
  // The root stays the root (an SRV target "." means "no service"); empty stays "no domain".
  EXPECT_EQ(domain_key("."), ".");
  EXPECT_EQ(domain_key(""), "");
  EXPECT_EQ(make_domain_key("a.example").status, DomainStatus::kOk);
  EXPECT_TRUE(domains_equal("CUPDOMAIN.EXAMPLE.", "cupdomain.example"));
  EXPECT_TRUE(domains_equal("", ""));
  EXPECT_TRUE(domains_equal(".", "."));
  EXPECT_FALSE(domains_equal("", "."));
  EXPECT_FALSE(domains_equal("a.example", "b.example"));
  EXPECT_FALSE(domains_equal("a.example", "a.example.com"));
  EXPECT_FALSE(domains_equal("a.example", ""));
}

TEST(Domain, InternationalNamesAreComparedAsALabels) {
  const std::string u =
      "b\xc3\xbc"
      "cher.example";  // bücher.example
  EXPECT_EQ(domain_key(u), "xn--bcher-kva.example");
  EXPECT_EQ(domain_key("B\xc3\x9c"
                       "CHER.example."),
            "xn--bcher-kva.example");  // BÜCHER.example.
  EXPECT_EQ(domain_key("XN--BCHER-KVA.EXAMPLE."), "xn--bcher-kva.example");
  // NFC input: u + COMBINING DIAERESIS is ü.
  EXPECT_EQ(domain_key("bu\xcc\x88"
                       "cher.example"),
            "xn--bcher-kva.example");
  // IDNA2008 non-transitional: ß is its own letter, not "ss".
  EXPECT_EQ(domain_key("stra\xc3\x9f"
                       "e.example"),
            "xn--strae-oqa.example");
  EXPECT_TRUE(domains_equal(u, "xn--bcher-kva.example"));
  EXPECT_TRUE(domains_equal("XN--bcher-KVA.example.", u));
  EXPECT_FALSE(domains_equal(u, "bucher.example"));
  EXPECT_EQ(domain_to_unicode("XN--BCHER-KVA.example."), u);
  EXPECT_EQ(domain_to_unicode("B\xc3\x9c"
                              "CHER.example"),
            u);
  EXPECT_EQ(domain_to_unicode("Plain.Example."), "plain.example");
}

TEST(Domain, RejectedNamesKeepTheirLowercasedForm) {
  // Invalid UTF-8.
  auto bad = make_domain_key("AB\xff.Example");
  EXPECT_EQ(bad.status, DomainStatus::kIdnRejected);
  EXPECT_EQ(bad.key, "ab\xff.example");
  EXPECT_TRUE(domains_equal("AB\xff.Example.", "ab\xff.example"));
  // A disallowed code point (U+2603 SNOWMAN).
  auto snow = make_domain_key("\xe2\x98\x83.Example");
  EXPECT_EQ(snow.status, DomainStatus::kIdnRejected);
  EXPECT_EQ(snow.key, "\xe2\x98\x83.example");
  EXPECT_FALSE(domains_equal("\xe2\x98\x83.example", "xn--n3h.example"));
  // The bidi rule: a label mixing Latin and Hebrew (U+05D0).
  auto bidi = make_domain_key("a\xd7\x90.example");
  EXPECT_EQ(bidi.status, DomainStatus::kIdnRejected);
  EXPECT_EQ(bidi.key, "a\xd7\x90.example");
  // A label longer than 63 octets.
  const std::string long_label = std::string(64, 'a') + "\xc3\xbc";
  EXPECT_EQ(make_domain_key(long_label + ".example").status, DomainStatus::kIdnRejected);
  // An undecodable A-label is only lowercased, and shown so.
  EXPECT_EQ(make_domain_key("XN--ZZ.example").status, DomainStatus::kOk);
  EXPECT_EQ(domain_to_unicode("XN--ZZ.example"), "xn--zz.example");
}

TEST(Domain, OverLongNamesAreCut) {
  std::string name(300, 'A');
  auto k = make_domain_key(name);
  EXPECT_EQ(k.status, DomainStatus::kTooLong);
  EXPECT_EQ(k.key, std::string(300, 'a'));
  // Garbage from a stream header: the key never grows past kMaxDomainInput.
  std::string huge(64 * 1024, 'X');
  huge += "\xc3\xbc";
  auto h = make_domain_key(huge);
  EXPECT_EQ(h.status, DomainStatus::kTooLong);
  EXPECT_EQ(h.key, std::string(kMaxDomainInput, 'x'));
  EXPECT_EQ(domain_to_unicode(huge).size(), kMaxDomainInput);
  // Compared in place over the whole length: a different tail is another name.
  EXPECT_FALSE(domains_equal(std::string(5000, 'a') + "b", std::string(5000, 'a') + "c"));
  EXPECT_TRUE(domains_equal(std::string(5000, 'a'), std::string(5000, 'A') + "."));
  // Non-ASCII names over 253 octets once converted.
  std::string labels;
  for (int i = 0; i < 20; ++i)
    labels +=
        "b\xc3\xbc"
        "cher.";
  EXPECT_EQ(make_domain_key(labels + "example").status, DomainStatus::kTooLong);
}
