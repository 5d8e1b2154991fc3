#include "net/endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

namespace l4lb::net {
namespace {

Endpoint parseOk(std::string_view url) {
  auto parsed = parseEndpoint(url);
  if (!parsed) {
    ADD_FAILURE() << "parseEndpoint(" << url << ") failed: " << parsed.error().message();
    return {};
  }
  return *parsed;
}

std::string parseError(std::string_view url) {
  auto parsed = parseEndpoint(url);
  if (parsed) {
    ADD_FAILURE() << "parseEndpoint(" << url << ") succeeded, expected an error";
    return {};
  }
  return parsed.error().message();
}

std::string formatted(const Endpoint& ep) { return formatSockaddr(ep.sockaddrPtr(), ep.addr_len); }

TEST(EndpointTest, TcpIpv4) {
  Endpoint ep = parseOk("tcp://10.0.0.11:6379");
  EXPECT_EQ(ep.kind, EndpointKind::kTcp);
  EXPECT_EQ(ep.family(), AF_INET);
  EXPECT_EQ(ep.addr_len, sizeof(sockaddr_in));
  EXPECT_EQ(ep.url, "tcp://10.0.0.11:6379");
  EXPECT_TRUE(ep.isStream());
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&ep.addr);
  EXPECT_EQ(ntohs(sin->sin_port), 6379);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x0a00000bU);
}

TEST(EndpointTest, TcpIpv6InBrackets) {
  Endpoint ep = parseOk("tcp://[::1]:8080");
  EXPECT_EQ(ep.kind, EndpointKind::kTcp);
  EXPECT_EQ(ep.family(), AF_INET6);
  EXPECT_EQ(ep.addr_len, sizeof(sockaddr_in6));
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ep.addr);
  EXPECT_EQ(ntohs(sin6->sin6_port), 8080);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

TEST(EndpointTest, TcpPortBounds) {
  EXPECT_EQ(formatted(parseOk("tcp://0.0.0.0:0")), "0.0.0.0:0");
  EXPECT_EQ(formatted(parseOk("tcp://0.0.0.0:65535")), "0.0.0.0:65535");
}

TEST(EndpointTest, TcpHostnameLocalhostResolves) {
  Endpoint ep = parseOk("tcp://localhost:9000");
  EXPECT_EQ(ep.kind, EndpointKind::kTcp);
  ASSERT_TRUE(ep.family() == AF_INET || ep.family() == AF_INET6) << ep.family();
  std::string text = formatted(ep);
  EXPECT_TRUE(text == "127.0.0.1:9000" || text == "[::1]:9000") << text;
  EXPECT_EQ(ep.url, "tcp://localhost:9000");
}

TEST(EndpointTest, UnixPath) {
  Endpoint ep = parseOk("unix:///run/redis/redis.sock");
  EXPECT_EQ(ep.kind, EndpointKind::kUnix);
  EXPECT_EQ(ep.family(), AF_UNIX);
  EXPECT_TRUE(ep.isStream());
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&ep.addr);
  EXPECT_STREQ(sun->sun_path, "/run/redis/redis.sock");
  EXPECT_EQ(ep.addr_len, offsetof(sockaddr_un, sun_path) + sizeof("/run/redis/redis.sock"));
  EXPECT_EQ(formatted(ep), "/run/redis/redis.sock");
}

TEST(EndpointTest, UnixAbstractHasLeadingNulAndExactLength) {
  Endpoint ep = parseOk("unix://@l4lb-test");
  EXPECT_EQ(ep.kind, EndpointKind::kUnixAbstract);
  EXPECT_TRUE(ep.isStream());
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&ep.addr);
  EXPECT_EQ(sun->sun_path[0], '\0');
  EXPECT_EQ(std::string(sun->sun_path + 1, 9), "l4lb-test");
  EXPECT_EQ(ep.addr_len, offsetof(sockaddr_un, sun_path) + 1 + 9);
  EXPECT_EQ(formatted(ep), "@l4lb-test");
}

TEST(EndpointTest, DatagramKindsParseButAreNotStreams) {
  EXPECT_EQ(parseOk("udp://127.0.0.1:53").kind, EndpointKind::kUdp);
  EXPECT_EQ(parseOk("unixgram:///tmp/x.sock").kind, EndpointKind::kUnixgram);
  EXPECT_EQ(parseOk("unixgram://@x").kind, EndpointKind::kUnixgram);
  EXPECT_EQ(parseOk("mq:///queue").kind, EndpointKind::kMessageQueue);
  EXPECT_FALSE(isStream(EndpointKind::kUdp));
  EXPECT_FALSE(isStream(EndpointKind::kUnixgram));
  EXPECT_FALSE(isStream(EndpointKind::kMessageQueue));
}

TEST(EndpointTest, KindNames) {
  EXPECT_EQ(kindName(EndpointKind::kTcp), "tcp");
  EXPECT_EQ(kindName(EndpointKind::kUnix), "unix");
  EXPECT_EQ(kindName(EndpointKind::kUnixAbstract), "unix-abstract");
  EXPECT_EQ(kindName(EndpointKind::kUdp), "udp");
  EXPECT_EQ(kindName(EndpointKind::kUnixgram), "unixgram");
  EXPECT_EQ(kindName(EndpointKind::kMessageQueue), "mq");
}

TEST(EndpointTest, ErrorNoScheme) {
  std::string message = parseError("10.0.0.1:80");
  EXPECT_NE(message.find("invalid address \"10.0.0.1:80\""), std::string::npos) << message;
  EXPECT_NE(message.find("scheme://"), std::string::npos) << message;
}

TEST(EndpointTest, ErrorUnknownScheme) {
  std::string message = parseError("http://1.2.3.4:80");
  EXPECT_NE(message.find("unknown scheme \"http\""), std::string::npos) << message;
}

TEST(EndpointTest, ErrorBadPort) {
  for (std::string_view url : {"tcp://1.2.3.4:65536", "tcp://1.2.3.4:", "tcp://1.2.3.4:http",
                               "tcp://1.2.3.4:-1", "tcp://1.2.3.4:80x", "tcp://[::1]:99999"}) {
    std::string message = parseError(url);
    EXPECT_NE(message.find("port must be a number from 0 to 65535"), std::string::npos)
        << url << ": " << message;
  }
}

TEST(EndpointTest, ErrorMissingPort) {
  EXPECT_NE(parseError("tcp://1.2.3.4").find("missing :port"), std::string::npos);
  EXPECT_NE(parseError("tcp://[::1]").find("missing :port"), std::string::npos);
}

TEST(EndpointTest, ErrorMissingBracket) {
  EXPECT_NE(parseError("tcp://[::1:80").find("missing ']'"), std::string::npos);
}

TEST(EndpointTest, ErrorUnbracketedIpv6) {
  EXPECT_NE(parseError("tcp://::1:80").find("must be in brackets"), std::string::npos);
}

TEST(EndpointTest, ErrorMissingHost) {
  EXPECT_NE(parseError("tcp://:80").find("missing host"), std::string::npos);
  EXPECT_NE(parseError("tcp://[]:80").find("missing host"), std::string::npos);
}

TEST(EndpointTest, ErrorUnixForms) {
  EXPECT_NE(parseError("unix://relative.sock").find("absolute path"), std::string::npos);
  EXPECT_NE(parseError("unix://").find("absolute path"), std::string::npos);
  EXPECT_NE(parseError("unix://@").find("abstract socket name is empty"), std::string::npos);
  EXPECT_NE(parseError("unix:///" + std::string(200, 'a')).find("too long"), std::string::npos);
  EXPECT_NE(parseError("unix://@" + std::string(200, 'a')).find("too long"), std::string::npos);
}

TEST(EndpointTest, ErrorMqForms) {
  EXPECT_NE(parseError("mq:///").find("mq:///name"), std::string::npos);
  EXPECT_NE(parseError("mq:///a/b").find("mq:///name"), std::string::npos);
}

// formatSockaddr's output, put back behind the scheme, parses to the same socket address.
TEST(EndpointTest, FormatSockaddrRoundTrips) {
  for (std::string_view url : {"tcp://127.0.0.1:80", "tcp://0.0.0.0:0", "tcp://[::1]:443",
                               "tcp://[2001:db8::1]:65535", "tcp://[::ffff:10.0.0.1]:8080"}) {
    Endpoint ep = parseOk(url);
    Endpoint again = parseOk("tcp://" + formatted(ep));
    ASSERT_EQ(again.addr_len, ep.addr_len) << url;
    EXPECT_EQ(std::memcmp(&again.addr, &ep.addr, ep.addr_len), 0) << url;
  }
  Endpoint path = parseOk("unix:///tmp/l4lb.sock");
  EXPECT_EQ(formatted(parseOk("unix://" + formatted(path))), "/tmp/l4lb.sock");
  Endpoint abstract = parseOk("unix://@name");
  Endpoint abstract_again = parseOk("unix://" + formatted(abstract));
  ASSERT_EQ(abstract_again.addr_len, abstract.addr_len);
  EXPECT_EQ(std::memcmp(&abstract_again.addr, &abstract.addr, abstract.addr_len), 0);
}

TEST(EndpointTest, FormatSockaddrCanonicalizesIpv6) {
  EXPECT_EQ(formatted(parseOk("tcp://[2001:0db8:0000::0001]:80")), "[2001:db8::1]:80");
}

TEST(EndpointTest, HostAndPortForLibrariesThatTakeThemApart) {
  const HostPort v4 = hostAndPort(parseOk("tcp://192.0.2.1:8080"));
  EXPECT_EQ(v4.host, "192.0.2.1");
  EXPECT_EQ(v4.port, 8080);
  const HostPort v6 = hostAndPort(parseOk("tcp://[::1]:0"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
}

}  // namespace
}  // namespace l4lb::net
