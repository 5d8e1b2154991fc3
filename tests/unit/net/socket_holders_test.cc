#include "net/socket_holders.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "base/fd.h"

namespace l4lb::net {
namespace {

Endpoint endpointOf(const std::string& url) {
  auto parsed = parseEndpoint(url);
  EXPECT_TRUE(parsed) << url;
  return *parsed;
}

std::array<std::uint8_t, 16> v4(const char* text) {
  std::array<std::uint8_t, 16> bytes{};
  EXPECT_EQ(::inet_pton(AF_INET, text, bytes.data()), 1);
  return bytes;
}

std::array<std::uint8_t, 16> v6(const char* text) {
  std::array<std::uint8_t, 16> bytes{};
  EXPECT_EQ(::inet_pton(AF_INET6, text, bytes.data()), 1);
  return bytes;
}

TEST(OverlapsEndpoint, SamePortSameAddressOrAWildcardOnEitherSide) {
  const Endpoint loopback = endpointOf("tcp://127.0.0.1:8080");
  EXPECT_TRUE(overlapsEndpoint(loopback, AF_INET, v4("127.0.0.1").data(), 8080, false));
  EXPECT_TRUE(overlapsEndpoint(loopback, AF_INET, v4("0.0.0.0").data(), 8080, false));
  EXPECT_FALSE(overlapsEndpoint(loopback, AF_INET, v4("127.0.0.2").data(), 8080, false));
  EXPECT_FALSE(overlapsEndpoint(loopback, AF_INET, v4("127.0.0.1").data(), 8081, false));
  const Endpoint any = endpointOf("tcp://0.0.0.0:8080");
  EXPECT_TRUE(overlapsEndpoint(any, AF_INET, v4("192.0.2.7").data(), 8080, false));
}

TEST(OverlapsEndpoint, AnIpv6WildcardTakesIpv4UnlessV6Only) {
  const Endpoint loopback = endpointOf("udp://127.0.0.1:53");
  EXPECT_TRUE(overlapsEndpoint(loopback, AF_INET6, v6("::").data(), 53, false));
  EXPECT_FALSE(overlapsEndpoint(loopback, AF_INET6, v6("::").data(), 53, true));
  EXPECT_TRUE(overlapsEndpoint(loopback, AF_INET6, v6("::ffff:127.0.0.1").data(), 53, false));
  EXPECT_FALSE(overlapsEndpoint(loopback, AF_INET6, v6("::1").data(), 53, false));
  // l4lb's IPv6 sockets are V6ONLY: an IPv4 socket shares nothing with them.
  const Endpoint ipv6 = endpointOf("tcp://[::]:8080");
  EXPECT_FALSE(overlapsEndpoint(ipv6, AF_INET, v4("0.0.0.0").data(), 8080, false));
  EXPECT_TRUE(overlapsEndpoint(ipv6, AF_INET6, v6("2001:db8::1").data(), 8080, true));
}

// A port this process listens on (SO_REUSEPORT), and the listening socket.
struct Listening {
  base::Fd fd;
  int port = 0;
};

Listening listenOnLoopback() {
  Listening held;
  held.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  EXPECT_EQ(::setsockopt(held.fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  EXPECT_EQ(::bind(held.fd.get(), raw, length), 0);
  EXPECT_EQ(::listen(held.fd.get(), 4), 0);
  EXPECT_EQ(::getsockname(held.fd.get(), raw, &length), 0);
  held.port = ntohs(address.sin_port);
  return held;
}

TEST(OtherSocketsOn, ThisProcesssOwnSocketsAreNotOthers) {
  Listening held = listenOnLoopback();
  auto others = otherSocketsOn(endpointOf("tcp://127.0.0.1:" + std::to_string(held.port)));
  ASSERT_TRUE(others) << others.error().message();
  EXPECT_TRUE(others->empty());
}

TEST(OtherSocketsOn, AnotherProcesssListenerIsNamedWithItsPid) {
  Listening held = listenOnLoopback();
  std::array<int, 2> ready{};
  ASSERT_EQ(::pipe(ready.data()), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child keeps a copy of the socket; the parent closes its own below.
    ::close(ready[0]);
    ::close(ready[1]);  // tells the parent the copy is here
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 0);
  ::close(ready[0]);
  const int port = held.port;
  held.fd.reset();
  auto others = otherSocketsOn(endpointOf("tcp://0.0.0.0:" + std::to_string(port)));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(others) << others.error().message();
  ASSERT_EQ(others->size(), 1U);
  EXPECT_EQ((*others)[0].address, "127.0.0.1:" + std::to_string(port));
  ASSERT_EQ((*others)[0].holders.size(), 1U);
  EXPECT_EQ((*others)[0].holders[0].pid, child);
  EXPECT_NE(describeOthers(*others).find("by pid " + std::to_string(child)), std::string::npos);
}

TEST(OtherSocketsOn, ASocketHandedToThisProcessIsNotAnOthers) {
  Listening held = listenOnLoopback();
  handedSocket(held.fd.get());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const int port = held.port;
  held.fd.reset();  // only the child holds it now, as the old process of an upgrade would
  auto others = otherSocketsOn(endpointOf("tcp://127.0.0.1:" + std::to_string(port)));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(others) << others.error().message();
  EXPECT_TRUE(others->empty());
}

}  // namespace
}  // namespace l4lb::net
