#include "net/address_literal.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace l4lb::net {
namespace {

std::string literalHost(const AddressLiteral& literal) {
  char text[INET6_ADDRSTRLEN] = {};
  if (literal.addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&literal.addr);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  } else {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&literal.addr);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  }
  return text;
}

unsigned literalPort(const AddressLiteral& literal) {
  return literal.addr.ss_family == AF_INET
             ? ntohs(reinterpret_cast<const sockaddr_in*>(&literal.addr)->sin_port)
             : ntohs(reinterpret_cast<const sockaddr_in6*>(&literal.addr)->sin6_port);
}

TEST(AddressLiteral, ParsesAddressesWithAndWithoutPorts) {
  struct Case {
    const char* text;
    int family;
    const char* host;
    bool has_port;
    unsigned port;
  };
  for (const Case& c : {Case{"192.0.2.7", AF_INET, "192.0.2.7", false, 0},
                        Case{"192.0.2.7:5000", AF_INET, "192.0.2.7", true, 5000},
                        Case{"2001:db8::7", AF_INET6, "2001:db8::7", false, 0},
                        Case{"::1", AF_INET6, "::1", false, 0},
                        Case{"[2001:db8::7]", AF_INET6, "2001:db8::7", false, 0},
                        Case{"[2001:db8::7]:65535", AF_INET6, "2001:db8::7", true, 65535},
                        Case{"[::ffff:192.0.2.7]:1", AF_INET6, "::ffff:192.0.2.7", true, 1}}) {
    auto parsed = parseAddressLiteral(c.text);
    ASSERT_TRUE(parsed) << c.text << ": " << parsed.error().message();
    EXPECT_EQ(parsed->addr.ss_family, c.family) << c.text;
    EXPECT_EQ(literalHost(*parsed), c.host) << c.text;
    EXPECT_EQ(parsed->has_port, c.has_port) << c.text;
    EXPECT_EQ(literalPort(*parsed), c.port) << c.text;
    EXPECT_EQ(parsed->addr_len, c.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  }
}

TEST(AddressLiteral, SaysWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"localhost", "host names are not resolved"},
        Case{"192.0.2.300", "not an IPv4 or IPv6"}, Case{"192.0.2.7:", "port"},
        Case{"192.0.2.7:0", "port"}, Case{"192.0.2.7:65536", "port"}, Case{"192.0.2.7:80x", "port"},
        Case{"[2001:db8::7", "']'"}, Case{"[2001:db8::7]5000", "':PORT'"},
        Case{"[192.0.2.7]:80", "not an IPv4 or IPv6"}}) {
    auto parsed = parseAddressLiteral(c.text);
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_NE(parsed.error().message().find(c.says), std::string::npos)
        << c.text << ": " << parsed.error().message();
    EXPECT_NE(parsed.error().message().find("192.0.2.7:5000"), std::string::npos);
  }
}

}  // namespace
}  // namespace l4lb::net
