#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;

TEST(QuickOptionsTest, BuildsOneListenerAndOnePool) {
  QuickOptions options;
  options.listen = "tcp://127.0.0.1:8080";
  options.backends = {"tcp://127.0.0.1:9001", "unix:///tmp/b.sock"};
  options.balance = "least-conn";
  options.workers = 3;
  LoadResult result = configFromQuickOptions(options);
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.source, "<command line>");
  EXPECT_EQ(config.global.workers, 3U);
  ASSERT_EQ(config.listeners.size(), 1U);
  EXPECT_EQ(config.listeners[0].name, "quick");
  EXPECT_EQ(config.listeners[0].pool, "quick");
  EXPECT_EQ(config.listeners[0].pool_index, 0U);
  EXPECT_EQ(config.listeners[0].bind.url, "tcp://127.0.0.1:8080");
  ASSERT_EQ(config.pools.size(), 1U);
  EXPECT_EQ(config.pools[0].name, "quick");
  EXPECT_EQ(config.pools[0].balance, balance::Algorithm::kLeastConn);
  ASSERT_EQ(config.pools[0].backends.size(), 2U);
  EXPECT_EQ(config.pools[0].backends[0].name, "tcp://127.0.0.1:9001");
  EXPECT_EQ(config.pools[0].backends[1].address.kind, net::EndpointKind::kUnix);
}

TEST(QuickOptionsTest, DefaultsMatchAFile) {
  QuickOptions options;
  options.listen = "tcp://127.0.0.1:8080";
  options.backends = {"tcp://127.0.0.1:9001"};
  LoadResult result = configFromQuickOptions(options);
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->global.workers, 0U);
  EXPECT_EQ(result.config->pools[0].balance, balance::Algorithm::kRoundRobin);
}

TEST(QuickOptionsTest, ReportsEveryErrorByFlag) {
  QuickOptions options;
  options.listen = "udp://0.0.0.0:53";
  options.backends = {"udp://127.0.0.1:9001", "udp://127.0.0.1", "udp://127.0.0.1:9001"};
  options.balance = "magelv";
  options.workers = 5000;
  LoadResult result = configFromQuickOptions(options);
  expectError(result, "--backend[1]", 0, "missing :port");
  expectError(result, "--backend[2]", 0,
              "duplicate backend name \"udp://127.0.0.1:9001\" in pool \"quick\" (also "
              "--backend[0])");
  expectError(result, "--balance", 0, "invalid value \"magelv\": expected \"round-robin\"");
  expectError(result, "--balance", 0, "(did you mean \"maglev\"?)");
  expectError(result, "--workers", 0, "must be between 0 and 1024, got 5000");
  EXPECT_EQ(result.errors.size(), 4U) << describeErrors(result);
  EXPECT_EQ(result.errors[0].file, "<command line>");
  EXPECT_EQ(result.errors[0].format().rfind("<command line>: --", 0), 0U)
      << result.errors[0].format();
}

TEST(QuickOptionsTest, MissingListenAndBackends) {
  LoadResult result = configFromQuickOptions(QuickOptions{});
  expectError(result, "--listen", 0, "missing");
  expectError(result, "--backend", 0, "at least one backend is required");
  EXPECT_EQ(result.errors.size(), 2U) << describeErrors(result);
}

}  // namespace
}  // namespace l4lb::config
