#include "proxy/source_limiter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace l4lb::proxy {
namespace {

SourceKey v4(const char* text) {
  ClientAddress address;
  address.addr.v4.sin_family = AF_INET;
  address.addr.v4.sin_port = htons(40000);
  inet_pton(AF_INET, text, &address.addr.v4.sin_addr);
  address.len = sizeof(sockaddr_in);
  SourceKey key;
  EXPECT_TRUE(SourceKey::from(address, key));
  return key;
}

SourceKey v6(const char* text) {
  ClientAddress address;
  address.addr.v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &address.addr.v6.sin6_addr);
  address.len = sizeof(sockaddr_in6);
  SourceKey key;
  EXPECT_TRUE(SourceKey::from(address, key));
  return key;
}

using Verdict = SourceLimiter::Verdict;

TEST(SourceKeyTest, Ipv4MatchesItsMappedIpv6Form) {
  EXPECT_EQ(v4("127.0.0.2"), v6("::ffff:127.0.0.2"));
  EXPECT_FALSE(v4("127.0.0.2") == v4("127.0.0.1"));
}

TEST(SourceKeyTest, UnixClientsHaveNoSource) {
  ClientAddress address;
  address.addr.sa.sa_family = AF_UNIX;
  SourceKey key;
  EXPECT_FALSE(SourceKey::from(address, key));
}

TEST(SourceLimiterTest, ConcurrentConnectionsPerAddress) {
  SourceLimiter limiter({.max_connections = 2, .rate = {}});
  const SourceKey a = v4("192.0.2.1");
  const SourceKey b = v4("192.0.2.2");
  EXPECT_EQ(limiter.admit(a, 0), Verdict::kAdmitted);
  EXPECT_EQ(limiter.admit(a, 0), Verdict::kAdmitted);
  EXPECT_EQ(limiter.admit(a, 0), Verdict::kTooManyConnections);
  EXPECT_EQ(limiter.admit(b, 0), Verdict::kAdmitted);  // another address has its own count
  limiter.release(a, 1);
  EXPECT_EQ(limiter.admit(a, 1), Verdict::kAdmitted);
  limiter.release(a, 2);
  limiter.release(a, 2);
  limiter.release(b, 2);
  EXPECT_EQ(limiter.tracked(), 0U);  // nothing open, no rate: forgotten
  limiter.release(a, 3);             // an extra release changes nothing
  EXPECT_EQ(limiter.tracked(), 0U);
}

TEST(SourceLimiterTest, RatePerAddress) {
  SourceLimiter limiter({.max_connections = 0, .rate = {3, 60'000}});
  const SourceKey a = v6("2001:db8::1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.admit(a, 0), Verdict::kAdmitted) << i;
    limiter.release(a, 0);
  }
  EXPECT_EQ(limiter.admit(a, 10), Verdict::kRateExceeded);
  EXPECT_EQ(limiter.tracked(), 1U);                         // the spent bucket is remembered
  EXPECT_EQ(limiter.admit(a, 20'000), Verdict::kAdmitted);  // one token back after 20 s
  limiter.release(a, 20'000);
  EXPECT_EQ(limiter.admit(v6("2001:db8::2"), 20'000), Verdict::kAdmitted);
}

TEST(SourceLimiterTest, IdleEntriesAreSweptAsTheTableGrows) {
  SourceLimiter limiter({.max_connections = 0, .rate = {1, 1000}});
  for (std::uint32_t i = 0; i < 5000; ++i) {
    SourceKey key;
    key.bytes[12] = static_cast<std::uint8_t>(i >> 8);
    key.bytes[13] = static_cast<std::uint8_t>(i);
    ASSERT_EQ(limiter.admit(key, std::int64_t{i} * 10), Verdict::kAdmitted);
    limiter.release(key, std::int64_t{i} * 10);
  }
  // Buckets refill in a second, so only the last second's addresses can still be tracked.
  EXPECT_LT(limiter.tracked(), 2048U);
}

}  // namespace
}  // namespace l4lb::proxy
