#include "proto/dns_check.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "hex.h"
#include "verdicts.h"

namespace l4lb::proto {
namespace {

std::string query(std::string_view name, std::uint16_t type, std::uint16_t id = 0xabcd) {
  auto wire = encodeDnsName(name);
  EXPECT_TRUE(wire) << wire.error().message();
  return dnsQuery(id, wire.valueOr(""), type);
}

// Recorded from unbound 1.17 (local-zone "test." static, local-data "a.test. IN A 10.0.0.1").
const std::string kAnswer =
    fromHex("abcd85800001000100000000016104746573740000010001c00c0001000100000e1000040a000001");
const std::string kNxdomain = fromHex("abcd85830001000000000000046e6f706504746573740000010001");
// From a client that access-control refuses: no question section.
const std::string kRefused = fromHex("abcd81050000000000000000");
// test. SOA: NOERROR without answers.
const std::string kNoData = fromHex("abcd8580000100000000000004746573740000060001");

TEST(DnsNameTest, WireForm) {
  const std::string a_test(
      "\x01"
      "a\x04test\x00",
      8);
  EXPECT_EQ(encodeDnsName(".").valueOr("<error>"), std::string(1, '\0'));
  EXPECT_EQ(encodeDnsName("a.test").valueOr("<error>"), a_test);
  EXPECT_EQ(encodeDnsName("a.test.").valueOr("<error>"), a_test);
  auto why = [](std::string_view name) {
    auto wire = encodeDnsName(name);
    EXPECT_FALSE(wire) << name;
    return wire ? std::string() : wire.error().message();
  };
  EXPECT_NE(why("").find("empty name"), std::string::npos);
  EXPECT_NE(why("a..test").find("empty label"), std::string::npos);
  EXPECT_NE(why(".test").find("empty label"), std::string::npos);
  // Found by dns_check_fuzz: the "." left after the last label was taken for the root.
  EXPECT_FALSE(encodeDnsName("a.."));
  EXPECT_FALSE(encodeDnsName(".."));
  EXPECT_NE(why(std::string(64, 'x') + ".test").find("64 bytes"), std::string::npos);
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "abcd.";
  EXPECT_NE(why(long_name).find("wire form"), std::string::npos);
}

TEST(DnsTypeTest, Names) {
  EXPECT_EQ(dnsTypeFromName("A"), 1);
  EXPECT_EQ(dnsTypeFromName("aaaa"), 28);
  EXPECT_EQ(dnsTypeFromName("SOA"), 6);
  EXPECT_FALSE(dnsTypeFromName("AXFR"));
  EXPECT_EQ(dnsTypeName(2), "NS");
  EXPECT_EQ(dnsRcodeName(5), "REFUSED");
  EXPECT_EQ(dnsRcodeName(15), "unknown");
}

TEST(DnsQueryTest, Layout) {
  // What the recorded replies answered, byte for byte.
  EXPECT_EQ(query("a.test.", 1), fromHex("abcd01000001000000000000016104746573740000010001"));
}

TEST(DnsReplyTest, NoErrorIsUp) {
  const CheckVerdict v = parseDnsReply(kAnswer, query("a.test", 1));
  EXPECT_TRUE(isUp(v));
  EXPECT_EQ(v.reason, "NOERROR, 1 answer");
  EXPECT_TRUE(isUp(parseDnsReply(kNoData, query("test.", 6))));
  // Names compare without regard to case (a server may echo 0x20-mixed case as sent).
  EXPECT_TRUE(isUp(parseDnsReply(kAnswer, query("A.Test", 1))));
}

TEST(DnsReplyTest, ErrorRcodesAreDown) {
  const CheckVerdict nx = parseDnsReply(kNxdomain, query("nope.test", 1));
  EXPECT_TRUE(isDown(nx));
  EXPECT_EQ(nx.reason, "rcode NXDOMAIN");
  const CheckVerdict refused = parseDnsReply(kRefused, query("a.test", 1));
  EXPECT_TRUE(isDown(refused));
  EXPECT_EQ(refused.reason, "rcode REFUSED");
  std::string servfail = kAnswer;
  servfail[3] = '\x82';
  EXPECT_EQ(parseDnsReply(servfail, query("a.test", 1)).reason, "rcode SERVFAIL");
}

TEST(DnsReplyTest, AnotherQuerysReplyIsDown) {
  EXPECT_NE(
      parseDnsReply(kAnswer, query("a.test", 1, 0x1234)).reason.find("id 0xabcd instead of 0x1234"),
      std::string::npos);
  EXPECT_TRUE(isDown(parseDnsReply(kAnswer, query("b.test", 1))));
  EXPECT_TRUE(isDown(parseDnsReply(kAnswer, query("a.test", 28))));
}

TEST(DnsReplyTest, TruncatedOrGarbageIsDown) {
  const std::string q = query("a.test", 1);
  EXPECT_TRUE(isDown(parseDnsReply("", q)));
  EXPECT_TRUE(isDown(parseDnsReply(kAnswer.substr(0, 2), q)));
  EXPECT_TRUE(isDown(parseDnsReply(kAnswer.substr(0, 11), q)));
  EXPECT_TRUE(isDown(parseDnsReply("garbage", q)));
  // An echo server sends the query back.
  const CheckVerdict echo = parseDnsReply(q, q);
  EXPECT_TRUE(isDown(echo));
  EXPECT_NE(echo.reason.find("QR clear"), std::string::npos);
  // NOERROR without the question.
  EXPECT_TRUE(isDown(parseDnsReply(fromHex("abcd81800000000000000000"), q)));
}

}  // namespace
}  // namespace l4lb::proto
