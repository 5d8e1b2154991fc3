#include "balance/flow_hash.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <array>
#include <cstring>
#include <string>

namespace l4lb::balance {
namespace {

sockaddr_storage v4(const char* ip, std::uint16_t port) {
  sockaddr_storage storage{};
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
  std::memcpy(&storage, &sin, sizeof(sin));
  return storage;
}

sockaddr_storage v6(const char* ip, std::uint16_t port) {
  sockaddr_storage storage{};
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
  std::memcpy(&storage, &sin6, sizeof(sin6));
  return storage;
}

std::uint64_t hash(const sockaddr_storage& addr, HashKey key) {
  return hashClient(reinterpret_cast<const sockaddr*>(&addr), key);
}

TEST(HashKeyName, RoundTrips) {
  EXPECT_EQ(parseHashKey("client-ip"), HashKey::kClientIp);
  EXPECT_EQ(parseHashKey("client-ip-port"), HashKey::kClientIpPort);
  EXPECT_EQ(hashKeyName(HashKey::kClientIp), "client-ip");
  EXPECT_EQ(hashKeyName(HashKey::kClientIpPort), "client-ip-port");
  EXPECT_FALSE(parseHashKey("client_ip").has_value());
  EXPECT_FALSE(parseHashKey("").has_value());
}

// Regression guard: these values are part of the contract between l4lb instances (and versions)
// behind one ECMP route. If this test fails, the hash changed and mixed fleets would disagree.
// The values were checked against an independent Python rendering of FNV-1a + splitmix64 over
// the network-order address (and port) bytes.
TEST(HashClient, KnownValuesAreStable) {
  EXPECT_EQ(hash(v4("192.0.2.1", 1234), HashKey::kClientIp), 0x1e00e9a12f8249cbULL);
  EXPECT_EQ(hash(v4("192.0.2.1", 1234), HashKey::kClientIpPort), 0x047d2986a715e9e4ULL);
  EXPECT_EQ(hash(v4("10.0.0.1", 80), HashKey::kClientIp), 0xe7a770915e3a6bb4ULL);
  EXPECT_EQ(hash(v6("2001:db8::1", 1234), HashKey::kClientIp), 0x216dba65aa6c0c57ULL);
  EXPECT_EQ(hash(v6("2001:db8::1", 1234), HashKey::kClientIpPort), 0xb76c3cc7da015731ULL);
}

TEST(HashClient, ClientIpIgnoresThePort) {
  EXPECT_EQ(hash(v4("198.51.100.7", 1000), HashKey::kClientIp),
            hash(v4("198.51.100.7", 2000), HashKey::kClientIp));
  EXPECT_EQ(hash(v6("2001:db8::7", 1000), HashKey::kClientIp),
            hash(v6("2001:db8::7", 2000), HashKey::kClientIp));
}

TEST(HashClient, ClientIpPortTellsPortsApart) {
  EXPECT_NE(hash(v4("198.51.100.7", 1000), HashKey::kClientIpPort),
            hash(v4("198.51.100.7", 1001), HashKey::kClientIpPort));
  EXPECT_NE(hash(v4("198.51.100.7", 1000), HashKey::kClientIpPort),
            hash(v4("198.51.100.7", 1000), HashKey::kClientIp));
}

TEST(HashClient, DifferentAddressesHashApart) {
  EXPECT_NE(hash(v4("198.51.100.7", 0), HashKey::kClientIp),
            hash(v4("198.51.100.8", 0), HashKey::kClientIp));
  EXPECT_NE(hash(v6("2001:db8::7", 0), HashKey::kClientIp),
            hash(v6("2001:db8::8", 0), HashKey::kClientIp));
}

TEST(HashClient, V4MappedV6HashesLikeV4) {
  for (const HashKey key : {HashKey::kClientIp, HashKey::kClientIpPort}) {
    EXPECT_EQ(hash(v6("::ffff:192.0.2.1", 4321), key), hash(v4("192.0.2.1", 4321), key));
  }
  // Only the ::ffff:0:0/96 prefix is mapped; IPv4-compatible ::a.b.c.d is plain IPv6.
  EXPECT_NE(hash(v6("::192.0.2.1", 0), HashKey::kClientIp),
            hash(v4("192.0.2.1", 0), HashKey::kClientIp));
}

TEST(HashClient, UnixClientsAllHashAlike) {
  sockaddr_storage a{};
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/run/a.sock");
  std::memcpy(&a, &un, sizeof(un));
  sockaddr_storage unnamed{};
  unnamed.ss_family = AF_UNIX;
  for (const HashKey key : {HashKey::kClientIp, HashKey::kClientIpPort}) {
    EXPECT_EQ(hash(a, key), hash(unnamed, key));
  }
  EXPECT_EQ(hashClient(nullptr, HashKey::kClientIp), hash(unnamed, HashKey::kClientIp));
}

TEST(HashClient, LowBitsSpreadEvenlyOverATable) {
  // Consecutive client addresses (one /16) land evenly on 7 buckets: the hash is taken modulo M.
  std::array<int, 7> buckets{};
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const std::string ip = "10.1." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff);
    ++buckets[hash(v4(ip.c_str(), 0), HashKey::kClientIp) % buckets.size()];
  }
  for (const int count : buckets) EXPECT_NEAR(count, 65536.0 / 7, 300);
}

}  // namespace
}  // namespace l4lb::balance
