#include "net/cidr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>
#include <vector>

namespace l4lb::net {
namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Address ip(const char* text) {
  Address a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    a.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    a.len = sizeof(sockaddr_in6);
  }
  return a;
}

Cidr parsed(std::string_view text) {
  auto result = parseCidr(text);
  if (!result) {
    ADD_FAILURE() << result.error().message();
    return {};
  }
  return *result;
}

std::string error(std::string_view text) {
  auto result = parseCidr(text);
  if (result) {
    ADD_FAILURE() << text << " parsed";
    return {};
  }
  return result.error().message();
}

CidrList list(const std::vector<std::string>& texts) {
  std::vector<base::Error> errors;
  CidrList out = CidrList::parse(texts, errors);
  EXPECT_TRUE(errors.empty());
  return out;
}

bool contains(const CidrList& ranges, const char* address) {
  const Address a = ip(address);
  return ranges.contains(a.sa(), a.len);
}

TEST(CidrTest, ParsesAndFormats) {
  EXPECT_EQ(formatCidr(parsed("192.0.2.0/24")), "192.0.2.0/24");
  EXPECT_EQ(formatCidr(parsed("2001:db8::/32")), "2001:db8::/32");
  EXPECT_EQ(formatCidr(parsed("10.1.2.3")), "10.1.2.3/32");
  EXPECT_EQ(formatCidr(parsed("::1")), "::1/128");
  EXPECT_EQ(formatCidr(parsed("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(formatCidr(parsed("::/0")), "::/0");
  EXPECT_EQ(formatCidr(parsed("2001:db8:0:0:8000::/65")), "2001:db8:0:0:8000::/65");
  // Mapped IPv6 rules are IPv4 rules.
  EXPECT_EQ(formatCidr(parsed("::ffff:192.0.2.0/120")), "192.0.2.0/24");
  EXPECT_EQ(formatCidr(parsed("::ffff:127.0.0.2")), "127.0.0.2/32");
  EXPECT_EQ(parsed("::ffff:0:0/96").family, AF_INET);
  EXPECT_EQ(formatCidr(parsed("::ffff:0:0/112")), "0.0.0.0/16");
}

TEST(CidrTest, ClearErrors) {
  EXPECT_EQ(error("192.0.2.1/24"),
            "invalid address range \"192.0.2.1/24\": bits are set past the prefix length; did "
            "you mean 192.0.2.0/24?");
  EXPECT_EQ(error("2001:db8::1/32"),
            "invalid address range \"2001:db8::1/32\": bits are set past the prefix length; did "
            "you mean 2001:db8::/32?");
  EXPECT_EQ(error("192.0.2.0/33"),
            "invalid address range \"192.0.2.0/33\": prefix length must be a number from 0 to 32");
  EXPECT_NE(error("::/129").find("from 0 to 128"), std::string::npos);
  EXPECT_NE(error("192.0.2.0/").find("prefix length"), std::string::npos);
  EXPECT_NE(error("192.0.2.0/-1").find("prefix length"), std::string::npos);
  EXPECT_NE(error("192.0.2.0/2x").find("prefix length"), std::string::npos);
  EXPECT_NE(error("192.0.2.0/ 24").find("prefix length"), std::string::npos);
  EXPECT_NE(error("example.com/24").find("host names are not allowed"), std::string::npos);
  EXPECT_NE(error("192.0.2").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(error("192.0.2.01").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(error("1::2::3").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(error("/24").find("missing address"), std::string::npos);
  EXPECT_NE(error("").find("missing address"), std::string::npos);
  EXPECT_NE(error(std::string(100, '1')).find("not an IPv4"), std::string::npos);

  std::vector<base::Error> errors;
  const CidrList some = CidrList::parse({"10.0.0.0/8", "bad", "10.0.0.1/8"}, errors);
  EXPECT_EQ(some.size(), 1u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].message().find("\"bad\""), std::string::npos);
  EXPECT_NE(errors[1].message().find("did you mean 10.0.0.0/8?"), std::string::npos);
}

TEST(CidrTest, ContainsIpv4) {
  const CidrList ranges = list({"192.0.2.0/24", "10.0.0.0/8", "198.51.100.7"});
  EXPECT_TRUE(contains(ranges, "192.0.2.0"));
  EXPECT_TRUE(contains(ranges, "192.0.2.255"));
  EXPECT_FALSE(contains(ranges, "192.0.3.0"));
  EXPECT_TRUE(contains(ranges, "10.255.1.1"));
  EXPECT_TRUE(contains(ranges, "198.51.100.7"));
  EXPECT_FALSE(contains(ranges, "198.51.100.8"));
  EXPECT_FALSE(contains(ranges, "2001:db8::1"));
  EXPECT_TRUE(contains(list({"0.0.0.0/0"}), "203.0.113.9"));
  EXPECT_FALSE(contains(list({"0.0.0.0/0"}), "::1"));
  EXPECT_FALSE(contains(CidrList(), "127.0.0.1"));
}

TEST(CidrTest, ContainsIpv6) {
  const CidrList ranges = list({"2001:db8::/32", "fe80::/10", "::1"});
  EXPECT_TRUE(contains(ranges, "2001:db8:ffff::1"));
  EXPECT_FALSE(contains(ranges, "2001:db9::1"));
  EXPECT_TRUE(contains(ranges, "febf::1"));
  EXPECT_FALSE(contains(ranges, "fec0::1"));
  EXPECT_TRUE(contains(ranges, "::1"));
  EXPECT_FALSE(contains(ranges, "::2"));
  // "::/0" is every IPv6 client, not IPv4 clients seen as mapped addresses.
  EXPECT_TRUE(contains(list({"::/0"}), "2001:db8::1"));
  EXPECT_FALSE(contains(list({"::/0"}), "::ffff:192.0.2.1"));
  EXPECT_FALSE(contains(list({"::/0"}), "192.0.2.1"));
}

TEST(CidrTest, Ipv4MappedClientsMatchIpv4Rules) {
  const CidrList ranges = list({"127.0.0.0/8"});
  EXPECT_TRUE(contains(ranges, "::ffff:127.0.0.2"));
  EXPECT_FALSE(contains(ranges, "::ffff:128.0.0.2"));
  EXPECT_FALSE(contains(ranges, "::127.0.0.2"));  // IPv4-compatible, not mapped
  const CidrList mapped_rule = list({"::ffff:192.0.2.0/120"});
  EXPECT_TRUE(contains(mapped_rule, "192.0.2.77"));
  EXPECT_TRUE(contains(mapped_rule, "::ffff:192.0.2.77"));
  EXPECT_FALSE(contains(mapped_rule, "192.0.3.77"));
}

TEST(CidrTest, UnixPeersAndShortAddressesMatchNothing) {
  const CidrList ranges = list({"0.0.0.0/0", "::/0"});
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  EXPECT_FALSE(ranges.contains(reinterpret_cast<const sockaddr*>(&sun), sizeof(sa_family_t)));
  const Address v4 = ip("192.0.2.1");
  EXPECT_FALSE(ranges.contains(v4.sa(), 4));  // truncated
  EXPECT_FALSE(ranges.contains(nullptr, 0));
}

}  // namespace
}  // namespace l4lb::net
