#include "config/config_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

Config loadDiffed(const std::string& text) {
  LoadResult result = loadConfigText(text, "diff.toml");
  EXPECT_TRUE(result.ok()) << testing::describeErrors(result);
  return std::move(*result.config);
}

// A listener "web" on pool "web" with the given backends line, then the pool's other lines
// (which may open a sub-table).
std::string webConfig(std::string_view backends, std::string_view pool_lines = "",
                      std::string_view listener_lines = "") {
  return testing::lines({"[[listener]]", "name = \"web\"", "bind = \"tcp://127.0.0.1:7000\"",
                         "pool = \"web\"", listener_lines, "[pool.web]", backends, pool_lines});
}

bool has(const std::vector<std::string>& changes, std::string_view change) {
  return std::find(changes.begin(), changes.end(), change) != changes.end();
}

std::string all(const std::vector<std::string>& changes) { return joinChanges(changes, 100); }

constexpr std::string_view kTwo =
    "backends = [{ address = \"tcp://127.0.0.1:7001\", name = \"a\" }, "
    "{ address = \"tcp://127.0.0.1:7002\", name = \"b\" }]";

TEST(ConfigDiffTest, TheSameConfigChangesNothing) {
  EXPECT_TRUE(diffConfigs(loadDiffed(webConfig(kTwo)), loadDiffed(webConfig(kTwo))).empty());
}

TEST(ConfigDiffTest, AWeightChangeIsNamedWithItsPoolAndBackend) {
  const auto changes = diffConfigs(
      loadDiffed(webConfig(kTwo)),
      loadDiffed(webConfig("backends = [{ address = \"tcp://127.0.0.1:7001\", name = \"a\" }, "
                           "{ address = \"tcp://127.0.0.1:7002\", name = \"b\", weight = 4 }]")));
  ASSERT_EQ(changes.size(), 1U) << all(changes);
  EXPECT_EQ(changes[0], "pool \"web\": backend b: weight 1 -> 4");
}

TEST(ConfigDiffTest, BackendsAddedAndRemoved) {
  const auto changes = diffConfigs(
      loadDiffed(webConfig(kTwo)),
      loadDiffed(webConfig("backends = [{ address = \"tcp://127.0.0.1:7001\", name = \"a\" }, "
                           "{ address = \"tcp://127.0.0.1:7003\", name = \"c\", weight = 2 }]")));
  EXPECT_TRUE(has(changes, "pool \"web\": +backend c (tcp://127.0.0.1:7003) weight 2"))
      << all(changes);
  EXPECT_TRUE(has(changes, "pool \"web\": -backend b (tcp://127.0.0.1:7002)")) << all(changes);
  EXPECT_EQ(changes.size(), 2U) << all(changes);
}

TEST(ConfigDiffTest, PoolSettingsChecksAndListenerLimits) {
  const auto changes = diffConfigs(
      loadDiffed(webConfig(kTwo, "retries = 2\n[pool.web.health]\ncheck = \"tcp\"\nfall = 3")),
      loadDiffed(webConfig(kTwo,
                           "retries = 1\nconnect_timeout = \"500ms\"\n[pool.web.health]\n"
                           "check = \"tcp\"\nfall = 5",
                           "max_connections = 100\nidle_timeout = \"5m\"")));
  EXPECT_TRUE(has(changes, "listener \"web\": idle_timeout 10m -> 5m")) << all(changes);
  EXPECT_TRUE(has(changes, "listener \"web\": max_connections 0 -> 100")) << all(changes);
  EXPECT_TRUE(has(changes, "pool \"web\": connect_timeout 2s -> 500ms")) << all(changes);
  EXPECT_TRUE(has(changes, "pool \"web\": retries 2 -> 1")) << all(changes);
  EXPECT_TRUE(has(changes, "pool \"web\": health fall 3 -> 5")) << all(changes);
  EXPECT_EQ(changes.size(), 5U) << all(changes);
}

TEST(ConfigDiffTest, AnnouncingIsNamed) {
  const std::string global = "[global]\nannounce_interface = \"l4vip0\"\n";
  const auto changes = diffConfigs(
      loadDiffed(global + webConfig(kTwo)),
      loadDiffed("[global]\nannounce_interface = \"l4vip0\"\nwithdraw_grace = \"1s\"\n" +
                 webConfig(kTwo, "", "announce = true")));
  EXPECT_TRUE(has(changes, "listener \"web\": announce false -> true")) << all(changes);
  EXPECT_TRUE(has(changes, "global: withdraw_grace 5s -> 1s")) << all(changes);
  EXPECT_EQ(changes.size(), 2U) << all(changes);
}

TEST(ConfigDiffTest, ACheckAddedOrItsSecretsChangedIsNamedNotShown) {
  const Config none = loadDiffed(webConfig(kTwo));
  const Config http =
      loadDiffed(webConfig(kTwo, "[pool.web.health]\ncheck = \"http\"\npath = \"/health\""));
  const Config other =
      loadDiffed(webConfig(kTwo, "[pool.web.health]\ncheck = \"http\"\npath = \"/ready\""));
  EXPECT_EQ(all(diffConfigs(none, http)), "pool \"web\": +health check http");
  EXPECT_EQ(all(diffConfigs(http, none)), "pool \"web\": -health check http");
  EXPECT_EQ(all(diffConfigs(http, other)), "pool \"web\": health http check settings changed");
}

TEST(ConfigDiffTest, ListenersAndPoolsAddedAndRemovedComeFirst) {
  const std::string second = testing::lines(
      {"[[listener]]", "name = \"db\"", "bind = \"tcp://127.0.0.1:7100\"", "pool = \"db\"",
       "[pool.db]", "backends = [{ address = \"tcp://127.0.0.1:7101\" }]"});
  const auto changes =
      diffConfigs(loadDiffed(webConfig(kTwo)), loadDiffed(webConfig(kTwo) + second));
  ASSERT_EQ(changes.size(), 2U) << all(changes);
  EXPECT_EQ(changes[0], "+listener \"db\" (tcp://127.0.0.1:7100)");
  EXPECT_EQ(changes[1], "+pool \"db\" (1 backends)");
}

TEST(ConfigDiffTest, JoinedChangesAreBounded) {
  std::vector<std::string> many(50, "x");
  const std::string line = joinChanges(many, 3);
  EXPECT_EQ(line, "x; x; x; ... and 47 more");
}

}  // namespace
}  // namespace l4lb::config
