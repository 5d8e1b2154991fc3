#include "net/local_source.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"

namespace l4lb::net {
namespace {

sockaddr_in v4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

TEST(LocalSourceTest, ParsesIpLiterals) {
  auto a = parseSourceAddress("198.51.100.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addr.ss_family, AF_INET);
  EXPECT_FALSE(a->transparent);
  auto b = parseSourceAddress("[2001:db8::1]");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->addr.ss_family, AF_INET6);
  EXPECT_TRUE(parseSourceAddress("2001:db8::1"));
  EXPECT_FALSE(parseSourceAddress(""));
  EXPECT_FALSE(parseSourceAddress("client"));
  EXPECT_FALSE(parseSourceAddress("198.51.100.1:80"));
  EXPECT_FALSE(parseSourceAddress("[198.51.100.1"));
}

TEST(LocalSourceTest, ClientSourceKeepsTheAddressAndDropsThePort) {
  const sockaddr_in client = v4("192.0.2.7", 40123);
  auto source = clientSource(reinterpret_cast<const sockaddr*>(&client), sizeof(client), AF_INET);
  ASSERT_TRUE(source);
  EXPECT_TRUE(source->transparent);
  const auto* got = reinterpret_cast<const sockaddr_in*>(&source->addr);
  EXPECT_EQ(got->sin_addr.s_addr, client.sin_addr.s_addr);
  EXPECT_EQ(got->sin_port, 0);
}

TEST(LocalSourceTest, MappedIpv4ClientLendsItsIpv4Address) {
  sockaddr_in6 client{};
  client.sin6_family = AF_INET6;
  client.sin6_port = htons(5000);
  ::inet_pton(AF_INET6, "::ffff:192.0.2.9", &client.sin6_addr);
  auto source = clientSource(reinterpret_cast<const sockaddr*>(&client), sizeof(client), AF_INET);
  ASSERT_TRUE(source);
  const auto* got = reinterpret_cast<const sockaddr_in*>(&source->addr);
  EXPECT_EQ(got->sin_family, AF_INET);
  EXPECT_EQ(got->sin_addr.s_addr, v4("192.0.2.9", 0).sin_addr.s_addr);
}

TEST(LocalSourceTest, ClientOfAnotherFamilyIsRefused) {
  const sockaddr_in client = v4("192.0.2.7", 1);
  auto v6 = clientSource(reinterpret_cast<const sockaddr*>(&client), sizeof(client), AF_INET6);
  ASSERT_FALSE(v6);
  EXPECT_EQ(v6.error().code, EAFNOSUPPORT);
  sockaddr unix_client{};
  unix_client.sa_family = AF_UNIX;
  EXPECT_FALSE(clientSource(&unix_client, sizeof(sa_family_t), AF_INET));
  EXPECT_FALSE(clientSource(&unix_client, 0, AF_INET));
}

TEST(LocalSourceTest, FixedSourceBindsTheSocketThere) {
  auto source = parseSourceAddress("127.0.0.3");
  ASSERT_TRUE(source);
  ASSERT_TRUE(trySource(*source));
  base::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(bindSource(fd.get(), AF_INET, SOCK_STREAM, *source));
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len), 0);
  EXPECT_EQ(bound.sin_addr.s_addr, v4("127.0.0.3", 0).sin_addr.s_addr);
  EXPECT_FALSE(bindSource(fd.get(), AF_INET6, SOCK_STREAM, *source));  // family differs
}

TEST(LocalSourceTest, AddressOfAnotherHostIsNotAvailable) {
  auto source = parseSourceAddress("203.0.113.250");
  ASSERT_TRUE(source);
  auto tried = trySource(*source);
  ASSERT_FALSE(tried);
  EXPECT_EQ(tried.error().code, EADDRNOTAVAIL);
}

TEST(LocalSourceTest, TransparentNeedsTheCapability) {
  auto tried = tryTransparent(AF_INET);
  // Root here (CI): allowed; anyone else: EPERM, which the config check turns into its message.
  if (::geteuid() == 0) {
    EXPECT_TRUE(tried) << tried.error().message();
  } else {
    ASSERT_FALSE(tried);
    EXPECT_EQ(tried.error().code, EPERM);
  }
}

}  // namespace
}  // namespace l4lb::net
