#include "upgrade/upgrade_plan.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/loader.h"

namespace l4lb::upgrade {
namespace {

constexpr const char* kConfig = R"(
[[listener]]
name = "web"
bind = "tcp://127.0.0.1:8080"
pool = "web"

[[listener]]
name = "local"
bind = "unix:///tmp/l4lb-plan-test.sock"
pool = "web"

[[listener]]
name = "dns"
bind = "udp://127.0.0.1:5353"
pool = "dns"

[[listener]]
name = "gram"
bind = "unixgram:///tmp/l4lb-plan-test.gram"
pool = "dns"

[pool.web]
health = { check = "tcp", interval = "1s" }
backends = [{ address = "tcp://127.0.0.1:9001", name = "a" },
            { address = "tcp://127.0.0.1:9002", name = "b" }]

[pool.dns]
backends = [{ address = "udp://127.0.0.1:53" }]
)";

config::Config loadPlanConfig() {
  auto loaded = config::loadConfigText(kConfig, "plan.toml");
  EXPECT_TRUE(loaded.ok());
  return std::move(*loaded.config);
}

// A message as the channel would hand it over, with a real descriptor.
ReceivedHandoff listener(const std::string& name, const std::string& bind, std::uint32_t worker) {
  ReceivedHandoff r{ListenerHandoff{name, bind, worker}, {}};
  r.fds.emplace_back(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  return r;
}

std::vector<ReceivedHandoff> twoWorkersOfEverything() {
  std::vector<ReceivedHandoff> received;
  received.push_back(listener("web", "tcp://127.0.0.1:8080", 0));
  received.push_back(listener("dns", "udp://127.0.0.1:5353", 0));
  received.push_back(listener("gram", "unixgram:///tmp/l4lb-plan-test.gram", 0));
  received.push_back(listener("web", "tcp://127.0.0.1:8080", 1));
  received.push_back(listener("dns", "udp://127.0.0.1:5353", 1));
  received.push_back(listener("local", "unix:///tmp/l4lb-plan-test.sock", kSharedSocket));
  return received;
}

TEST(UpgradePlanTest, TheSameWorkerCountKeepsEachSocketWithItsWorker) {
  const auto config = loadPlanConfig();
  auto received = twoWorkersOfEverything();
  const int web0 = received[0].fds[0].get();
  const int web1 = received[3].fds[0].get();
  TakenListeners taken = placeListeners(std::move(received), config, 2);
  ASSERT_EQ(taken.own.size(), 2U);
  ASSERT_EQ(taken.own[0][0].size(), 1U);
  ASSERT_EQ(taken.own[1][0].size(), 1U);
  EXPECT_EQ(taken.own[0][0][0].get(), web0);
  EXPECT_EQ(taken.own[1][0][0].get(), web1);
  EXPECT_EQ(taken.own[0][2].size(), 1U);  // udp: one per worker
  EXPECT_EQ(taken.own[1][2].size(), 1U);
  EXPECT_EQ(taken.own[0][3].size(), 1U);  // unixgram: worker 0
  EXPECT_TRUE(taken.own[1][3].empty());
  EXPECT_TRUE(taken.shared[1].valid());  // the Unix stream socket, shared
  EXPECT_FALSE(taken.shared[0].valid());
  EXPECT_EQ(taken.names, (std::vector<std::string>{"web", "dns", "gram", "local"}));
  EXPECT_TRUE(taken.dropped.empty());
}

TEST(UpgradePlanTest, FewerWorkersServeEverySocketAndMoreWorkersBindTheirOwn) {
  const auto config = loadPlanConfig();
  TakenListeners one = placeListeners(twoWorkersOfEverything(), config, 1);
  // No socket of the old process may be left unserved: the kernel hashes connections to it.
  EXPECT_EQ(one.own[0][0].size(), 2U);
  EXPECT_EQ(one.own[0][2].size(), 2U);
  TakenListeners three = placeListeners(twoWorkersOfEverything(), config, 3);
  EXPECT_EQ(three.own[0][0].size(), 1U);
  EXPECT_EQ(three.own[1][0].size(), 1U);
  EXPECT_TRUE(three.own[2][0].empty());  // binds its own, joining the SO_REUSEPORT group
}

TEST(UpgradePlanTest, ASocketGoesOnlyToTheListenerOfTheSameNameAndBind) {
  const auto config = loadPlanConfig();
  std::vector<ReceivedHandoff> received;
  received.push_back(listener("web", "tcp://127.0.0.1:8081", 0));  // moved to another port
  received.push_back(listener("gone", "tcp://127.0.0.1:7000", 0));
  TakenListeners taken = placeListeners(std::move(received), config, 2);
  EXPECT_TRUE(taken.names.empty());
  EXPECT_EQ(taken.dropped, (std::vector<std::string>{"web (tcp://127.0.0.1:8081)",
                                                     "gone (tcp://127.0.0.1:7000)"}));
  for (const auto& worker : taken.own) {
    for (const auto& sockets : worker) EXPECT_TRUE(sockets.empty());
  }
}

TEST(UpgradePlanTest, ASocketPassedSharedStaysShared) {
  const auto config = loadPlanConfig();
  std::vector<ReceivedHandoff> received;
  received.push_back(listener("web", "tcp://127.0.0.1:8080", kSharedSocket));
  TakenListeners taken = placeListeners(std::move(received), config, 2);
  EXPECT_TRUE(taken.shared[0].valid());
  EXPECT_TRUE(taken.own[0][0].empty());
}

TEST(UpgradePlanTest, HealthCarriesOverByPoolNameAndAddress) {
  const auto config = loadPlanConfig();
  std::vector<BackendRecord> records;
  BackendRecord a;
  a.pool = "web";
  a.backend = "a";
  a.address = "tcp://127.0.0.1:9001";
  a.health = static_cast<std::uint8_t>(control::BackendState::kDown);
  a.reason = "tcp check: refused";
  records.push_back(a);
  BackendRecord b = a;  // same name, another address: another backend
  b.backend = "b";
  b.address = "tcp://127.0.0.1:9999";
  b.health = static_cast<std::uint8_t>(control::BackendState::kUp);
  records.push_back(b);
  const control::HealthSnapshot states = takenHealth(records, config);
  ASSERT_EQ(states.pools.size(), 2U);
  ASSERT_EQ(states.pools[0].size(), 2U);
  EXPECT_EQ(states.pools[0][0], control::BackendState::kDown);
  EXPECT_EQ(states.changes[0][0].reason, "tcp check: refused");
  EXPECT_EQ(states.changes[0][0].to, control::BackendState::kDown);
  EXPECT_EQ(states.changes[0][0].unix_ms, 0) << "the wire has no time: not known";
  EXPECT_TRUE(states.changes[0][1].reason.empty()) << "no change seen";
  EXPECT_EQ(states.pools[0][1], control::BackendState::kUnknown);
  EXPECT_TRUE(states.pools[1].empty());  // dns has no checks
}

// In a pool with an agent and no active checks only the agent can have taken a backend down:
// its word carries over, so the agent's next answer is what lifts it.
TEST(UpgradePlanTest, AnAgentsDownCarriesOverInAPoolWithoutChecks) {
  auto loaded = config::loadConfigText(R"(
[[listener]]
bind = "tcp://127.0.0.1:8080"
pool = "web"

[pool.web]
agent = { port = 9777 }
backends = [{ address = "tcp://127.0.0.1:9001", name = "a" },
            { address = "tcp://127.0.0.1:9002", name = "b" }]
)",
                                       "plan.toml");
  ASSERT_TRUE(loaded.ok());
  BackendRecord b{.pool = "web",
                  .backend = "b",
                  .address = "tcp://127.0.0.1:9002",
                  .health = static_cast<std::uint8_t>(control::BackendState::kDown),
                  .admin = 0,
                  .weight = 1,
                  .reason = "agent: down#disk full"};
  const control::HealthSnapshot states = takenHealth({b}, *loaded.config);
  ASSERT_EQ(states.pools[0].size(), 2U);
  EXPECT_EQ(states.pools[0][0], control::BackendState::kUp) << "no record: as at startup";
  EXPECT_EQ(states.pools[0][1], control::BackendState::kDown);
  EXPECT_EQ(states.agents[0][1].state, control::BackendState::kDown);
  EXPECT_EQ(states.agents[0][1].said, "down#disk full");
  EXPECT_EQ(states.checks[0][1], control::BackendState::kUp) << "no checks: up on their side";
  EXPECT_EQ(states.changes[0][1].reason, "agent: down#disk full");
}

}  // namespace
}  // namespace l4lb::upgrade
