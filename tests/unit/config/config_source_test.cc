#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::load;
using testing::poolWith;

TEST(ConfigSourceTest, ReadsEachForm) {
  LoadResult plain = load(poolWith(""));
  ASSERT_TRUE(plain.ok()) << describeErrors(plain);
  EXPECT_EQ(plain.config->pools[0].source.kind, SourceKind::kAuto);

  LoadResult client = load(poolWith("source = \"client\""));
  ASSERT_TRUE(client.ok()) << describeErrors(client);
  EXPECT_EQ(client.config->pools[0].source.kind, SourceKind::kClient);

  LoadResult fixed = load(poolWith("source = \"127.0.0.2\""));
  ASSERT_TRUE(fixed.ok()) << describeErrors(fixed);
  EXPECT_EQ(fixed.config->pools[0].source.kind, SourceKind::kAddress);
  EXPECT_EQ(fixed.config->pools[0].source.address.addr.ss_family, AF_INET);

  LoadResult v6 = load(poolWith("source = \"[::1]\"", "tcp://[::1]:7001", "tcp://[::1]:7000"));
  ASSERT_TRUE(v6.ok()) << describeErrors(v6);
  EXPECT_EQ(v6.config->pools[0].source.address.addr.ss_family, AF_INET6);

  LoadResult udp =
      load(poolWith("source = \"client\"", "udp://127.0.0.1:514", "udp://127.0.0.1:5514"));
  ASSERT_TRUE(udp.ok()) << describeErrors(udp);
}

TEST(ConfigSourceTest, ErrorsNameTheKey) {
  expectError(load(poolWith("source = \"clients\"")), "pool.p.source", 6,
              "expected \"auto\", \"client\"");
  expectError(load(poolWith("source = \"198.51.100.1\"", "tcp://[::1]:7001")), "pool.p.source", 6,
              "is an IPv4 address, but backend");
  expectError(load(poolWith("source = \"client\"", "unix:///tmp/b.sock")), "pool.p.source", 6,
              "applies to tcp:// and udp:// backends");
}

TEST(ConfigSourceTest, ClientSourceNeedsClientsOfTheBackendsFamily) {
  expectError(load(poolWith("source = \"client\"", "tcp://[::1]:7001", "tcp://127.0.0.1:7000")),
              "listener[0].pool", 3, "takes IPv4 clients");
  expectError(load(poolWith("source = \"client\"", "tcp://127.0.0.1:7001", "unix:///tmp/f.sock")),
              "listener[0].pool", 3, "clients without an IP address");
}

TEST(ConfigSourceTest, ReloadDiffNamesTheChange) {
  LoadResult before = load(poolWith(""));
  LoadResult after = load(poolWith("source = \"client\""));
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_FALSE(before.config->pools[0].source == after.config->pools[0].source);
}

}  // namespace
}  // namespace l4lb::config
