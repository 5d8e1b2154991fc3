// The admin API's add-backend goes through the file's own reading and checks.
#include "config/backend_change.h"

#include <gtest/gtest.h>

#include <string>

#include "config_test_util.h"

namespace l4lb::config {
namespace {

Config running() {
  LoadResult loaded = loadConfigText(testing::lines({
                                         "[[listener]]",
                                         "bind = \"tcp://127.0.0.1:7000\"",
                                         "pool = \"web\"",
                                         "[pool.web]",
                                         "backends = [{ address = \"tcp://127.0.0.1:7001\" }]",
                                     }),
                                     "running.toml");
  EXPECT_TRUE(loaded.ok()) << testing::describeErrors(loaded);
  return *loaded.config;
}

TEST(BackendChange, ABackendIsAddedWithTheFileLimits) {
  toml::table fields{{"address", "tcp://127.0.0.1:7002"},
                     {"name", "b2"},
                     {"weight", 3},
                     {"max_connections", 5'000'000}};  // above the API's old limit of 1,000,000
  LoadResult added = withBackendAdded(running(), 0, fields);
  ASSERT_TRUE(added.ok()) << testing::describeErrors(added);
  const auto& backends = added.config->pools[0].backends;
  ASSERT_EQ(backends.size(), 2U);
  EXPECT_EQ(backends[1].name, "b2");
  EXPECT_EQ(backends[1].weight, 3U);
  EXPECT_EQ(backends[1].max_connections, 5'000'000U);
}

TEST(BackendChange, ErrorsNameTheKeyAsTheFileWould) {
  toml::table fields{{"address", "tcp://127.0.0.1:7002"}, {"weight", 0}, {"colour", "red"}};
  LoadResult added = withBackendAdded(running(), 0, fields);
  ASSERT_FALSE(added.ok());
  EXPECT_NE(testing::findError(added, "pool.web.backends[1].weight"), nullptr)
      << testing::describeErrors(added);
  EXPECT_NE(testing::findError(added, "pool.web.backends[1].colour"), nullptr)
      << testing::describeErrors(added);
}

TEST(BackendChange, TheNewBackendIsCheckedAgainstThePool) {
  toml::table duplicate{{"address", "tcp://127.0.0.1:7001"}};  // named by its address: taken
  EXPECT_FALSE(withBackendAdded(running(), 0, duplicate).ok());
  toml::table datagram{{"address", "udp://127.0.0.1:53"}};
  LoadResult mixed = withBackendAdded(running(), 0, datagram);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.errors[0].message.find("mixes stream and datagram"), std::string::npos)
      << testing::describeErrors(mixed);
}

}  // namespace
}  // namespace l4lb::config
