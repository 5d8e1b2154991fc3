#include "control/health_snapshot.h"

#include <gtest/gtest.h>

#include "config/loader.h"

namespace l4lb::control {
namespace {

TEST(UncheckedSnapshot, CheckedPoolsStartUnknownAndUncheckedOnesEmpty) {
  auto loaded = config::loadConfigText(R"(
[[listener]]
bind = "tcp://127.0.0.1:7000"
pool = "checked"

[[listener]]
bind = "tcp://127.0.0.1:7001"
pool = "plain"

[pool.checked]
health = { check = "tcp", interval = "1s" }
backends = [{ address = "tcp://127.0.0.1:9001" }, { address = "tcp://127.0.0.1:9002" }]

[pool.plain]
backends = [{ address = "tcp://127.0.0.1:9003" }]
)",
                                       "snapshot.toml");
  ASSERT_TRUE(loaded.ok());
  const config::Config& config = *loaded.config;
  HealthSnapshot states = uncheckedSnapshot(config, 7);
  EXPECT_EQ(states.version, 7U);
  ASSERT_EQ(states.pools.size(), config.pools.size());
  ASSERT_EQ(states.changes.size(), config.pools.size());
  for (std::size_t p = 0; p < config.pools.size(); ++p) {
    if (config.pools[p].name == "checked") {
      EXPECT_EQ(states.pools[p],
                (std::vector<BackendState>{BackendState::kUnknown, BackendState::kUnknown}));
      ASSERT_EQ(states.changes[p].size(), 2U);
      for (const auto& change : states.changes[p]) {
        EXPECT_TRUE(change.reason.empty()) << "no change yet";
        EXPECT_EQ(change.unix_ms, 0);
      }
    } else {
      EXPECT_TRUE(states.pools[p].empty());
      EXPECT_TRUE(states.changes[p].empty());
    }
  }
}

TEST(UncheckedSnapshot, APoolWithOnlyAnAgentStartsUp) {
  auto loaded = config::loadConfigText(R"(
[[listener]]
bind = "tcp://127.0.0.1:7000"
pool = "agent"

[pool.agent]
agent = { port = 7100 }
backends = [{ address = "tcp://127.0.0.1:9001" }]
)",
                                       "snapshot.toml");
  ASSERT_TRUE(loaded.ok());
  HealthSnapshot states = uncheckedSnapshot(*loaded.config, 1);
  EXPECT_EQ(states.pools[0], std::vector<BackendState>{BackendState::kUp});
  EXPECT_EQ(states.checks[0], std::vector<BackendState>{BackendState::kUp});
  ASSERT_EQ(states.agents[0].size(), 1U);
  EXPECT_EQ(states.agents[0][0].state, BackendState::kUnknown);
}

TEST(BackendStateTest, Names) {
  EXPECT_EQ(backendStateName(BackendState::kUnknown), "unknown");
  EXPECT_EQ(backendStateName(BackendState::kUp), "up");
  EXPECT_EQ(backendStateName(BackendState::kDown), "down");
}

}  // namespace
}  // namespace l4lb::control
