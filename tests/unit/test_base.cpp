#include <gtest/gtest.h>

#include "fedscope/base/address.hpp"
#include "fedscope/base/anomaly.hpp"
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
