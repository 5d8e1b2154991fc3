#include "app/reload.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "app/serving_builder.h"
#include "base/fd.h"
#include "config/loader.h"

namespace l4lb::app {
namespace {

config::Config load(const std::string& text) {
  config::LoadResult result = config::loadConfigText(text, "reload_test.toml");
  EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].format());
  return result.ok() ? std::move(*result.config) : config::Config{};
}

std::string listener(const std::string& name, int port) {
  return "[[listener]]\nname = \"" + name + "\"\nbind = \"tcp://127.0.0.1:" + std::to_string(port) +
         "\"\npool = \"web\"\n\n";
}

std::string webPool(const std::string& backends, bool checked = false) {
  return std::string("[pool.web]\n") + (checked ? "health = { check = \"tcp\" }\n" : "") +
         "backends = [" + backends + "]\n";
}

// A TCP port on 127.0.0.1 held by this socket (listening, without SO_REUSEPORT), so binding it
// again fails.
struct HeldPort {
  base::Fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  int port = 0;
  HeldPort() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    auto* raw = reinterpret_cast<sockaddr*>(&address);
    EXPECT_EQ(::bind(fd.get(), raw, length), 0);
    EXPECT_EQ(::listen(fd.get(), 1), 0);
    EXPECT_EQ(::getsockname(fd.get(), raw, &length), 0);
    port = ntohs(address.sin_port);
  }
};

int freePort() { return HeldPort().port; }  // released when it returns

std::shared_ptr<const worker::ServingConfig> serving(config::Config config) {
  UnlistenedSockets unlistened;
  auto built = buildServing(std::move(config), nullptr, unlistened);
  EXPECT_TRUE(unlistened.listenAll());
  EXPECT_TRUE(built) << built.error().message();
  return built ? std::move(built).value() : nullptr;
}

const std::string kBackends =
    "{ address = \"tcp://127.0.0.1:7001\", name = \"a\" }, "
    "{ address = \"tcp://127.0.0.1:7002\", name = \"b\" }";

TEST(Reload, APrepareThatFailsSaysWhyAndTouchesNothingRunning) {
  const int port = freePort();
  auto running = serving(load(listener("front", port) + webPool(kBackends)));
  ASSERT_TRUE(running);
  HeldPort taken;
  int checkers_made = 0;
  Prepared prepared = prepareReload(
      load(listener("front", port) + listener("extra", taken.port) + webPool(kBackends)), *running,
      /*workers=*/1, [&](const config::Config&) {
        ++checkers_made;
        return std::unique_ptr<health::HealthChecker>();
      });
  EXPECT_FALSE(prepared.reload);
  EXPECT_NE(prepared.reload.error().message().find("extra"), std::string::npos)
      << prepared.reload.error().message();
  EXPECT_EQ(checkers_made, 0) << "no checks are made for a config that cannot serve";
  ASSERT_EQ(running->config.listeners.size(), 1U);
  EXPECT_EQ(running->config.listeners[0].name, "front");
}

TEST(Reload, APrepareKeepsRestartOnlySettingsAndSaysSo) {
  auto running = serving(load(listener("front", freePort()) + webPool(kBackends)));
  ASSERT_TRUE(running);
  Prepared prepared = prepareReload(
      load("[global]\nworkers = 7\n\n" + listener("front", freePort()) + webPool(kBackends)),
      *running, 0, [](const config::Config&) { return nullptr; });
  ASSERT_TRUE(prepared.reload) << prepared.reload.error().message();
  ASSERT_EQ(prepared.warnings.size(), 1U);
  EXPECT_NE(prepared.warnings[0].find("global.workers"), std::string::npos);
  EXPECT_EQ(prepared.reload->config().global.workers, running->config.global.workers);
}

TEST(Reload, ACommitSwitchesTheServingConfigAndTheChecks) {
  const int port = freePort();
  std::shared_ptr<const worker::ServingConfig> current =
      serving(load(listener("front", port) + webPool(kBackends)));
  ASSERT_TRUE(current);
  const auto before = current;
  HealthChecks checks;
  const std::vector<std::unique_ptr<worker::Worker>> no_workers;
  Prepared prepared =
      prepareReload(load(listener("front", port) + listener("extra", freePort()) +
                         webPool(kBackends, /*checked=*/true)),
                    *current, no_workers.size(), [](const config::Config& config) {
                      return std::make_unique<health::HealthChecker>(
                          config, [](std::shared_ptr<const control::HealthSnapshot>) {});
                    });
  ASSERT_TRUE(prepared.reload) << prepared.reload.error().message();
  EXPECT_EQ(current, before) << "prepared, not yet committed";
  EXPECT_FALSE(checks.checker);

  const std::string changes = commitReload(
      std::move(*prepared.reload),
      ReloadTargets{
          .serving = current, .checks = checks, .workers = no_workers, .controller = nullptr});
  EXPECT_NE(current, before);
  ASSERT_EQ(current->config.listeners.size(), 2U);
  EXPECT_EQ(current->config.listeners[1].name, "extra");
  EXPECT_NE(changes.find("+listener \"extra\""), std::string::npos) << changes;
  std::lock_guard lock(checks.mutex);
  EXPECT_TRUE(checks.checker) << "the new config's checks run";
}

// carryHealth: a reload carries each backend's state over by pool name, backend name and address.
TEST(CarryHealth, StatesFollowPoolAndBackendNameAndAddress) {
  const config::Config before = load(listener("front", 7000) + webPool(kBackends, true));
  control::HealthSnapshot states = control::uncheckedSnapshot(before, 4);
  states.pools = {{control::BackendState::kUp, control::BackendState::kDown}};
  states.checks = states.pools;
  states.changes = {{{.from = control::BackendState::kUnknown,
                      .to = control::BackendState::kUp,
                      .reason = "tcp check: connected",
                      .unix_ms = 5},
                     {.from = control::BackendState::kUp,
                      .to = control::BackendState::kDown,
                      .reason = "tcp check: refused",
                      .unix_ms = 7}}};
  // b moved to first place, a changed its address, c is new.
  const config::Config next = load(listener("front", 7000) +
                                   webPool("{ address = \"tcp://127.0.0.1:7002\", name = \"b\" }, "
                                           "{ address = \"tcp://127.0.0.1:7009\", name = \"a\" }, "
                                           "{ address = \"tcp://127.0.0.1:7003\", name = \"c\" }",
                                           true));
  const control::HealthSnapshot carried = carryHealth(before, states, next);
  EXPECT_EQ(carried.version, 5U);
  ASSERT_EQ(carried.pools.size(), 1U);
  ASSERT_EQ(carried.pools[0].size(), 3U);
  EXPECT_EQ(carried.pools[0][0], control::BackendState::kDown);
  EXPECT_EQ(carried.changes[0][0].reason, "tcp check: refused");
  EXPECT_EQ(carried.changes[0][0].unix_ms, 7) << "a change keeps its time";
  EXPECT_EQ(carried.pools[0][1], control::BackendState::kUnknown) << "another address";
  EXPECT_EQ(carried.pools[0][2], control::BackendState::kUnknown) << "new";
}

TEST(CarryHealth, APoolRenamedStartsUnknown) {
  const config::Config before = load(listener("front", 7000) + webPool(kBackends, true));
  control::HealthSnapshot states = control::uncheckedSnapshot(before, 0);
  states.pools = {{control::BackendState::kUp, control::BackendState::kUp}};
  states.checks = states.pools;
  std::string renamed = listener("front", 7000) + webPool(kBackends, true);
  renamed.replace(renamed.find("pool = \"web\""), 12, "pool = \"api\"");
  renamed.replace(renamed.find("[pool.web]"), 10, "[pool.api]");
  const config::Config next = load(renamed);
  const control::HealthSnapshot carried = carryHealth(before, states, next);
  ASSERT_EQ(carried.pools.size(), 1U);
  for (const auto state : carried.pools[0]) EXPECT_EQ(state, control::BackendState::kUnknown);
}

std::string agentPool(const std::string& send, bool checked) {
  return std::string("[pool.web]\n") + (checked ? "health = { check = \"tcp\" }\n" : "") +
         "agent = { port = 7100, send = \"" + send + "\" }\n" + "backends = [" + kBackends + "]\n";
}

// b's agent said down (its checks say up): what a reload that keeps or changes the agent does.
control::HealthSnapshot agentSaidDown(const config::Config& before) {
  control::HealthSnapshot states = control::uncheckedSnapshot(before, 1);
  states.checks[0] = {control::BackendState::kUp, control::BackendState::kUp};
  states.agents[0][1] = control::AgentVerdict{control::BackendState::kDown, "down#disk full"};
  states.pools[0] = {control::BackendState::kUp, control::BackendState::kDown};
  states.changes[0][1] = {.from = control::BackendState::kUp,
                          .to = control::BackendState::kDown,
                          .reason = "agent: down#disk full",
                          .unix_ms = 9};
  return states;
}

TEST(CarryHealth, TheAgentsDownSurvivesAReloadThatKeepsTheAgent) {
  const config::Config before = load(listener("front", 7000) + agentPool("hi", true));
  // Another check, the same agent: the agent's word and the checks' verdict both stand.
  std::string text = listener("front", 7000) + agentPool("hi", true);
  text.replace(text.find("check = \"tcp\""), 13, "check = \"tcp\", interval = \"3s\"");
  const control::HealthSnapshot carried = carryHealth(before, agentSaidDown(before), load(text));
  EXPECT_EQ(carried.pools[0][1], control::BackendState::kDown);
  EXPECT_EQ(carried.agents[0][1].said, "down#disk full");
  EXPECT_EQ(carried.checks[0][1], control::BackendState::kUp);
  EXPECT_EQ(carried.changes[0][1].reason, "agent: down#disk full");
  EXPECT_EQ(carried.changes[0][1].unix_ms, 9);
}

TEST(CarryHealth, AnotherAgentIsHeardAnew) {
  const config::Config before = load(listener("front", 7000) + agentPool("hi", true));
  const config::Config next = load(listener("front", 7000) + agentPool("hello", true));
  const control::HealthSnapshot carried = carryHealth(before, agentSaidDown(before), next);
  EXPECT_EQ(carried.agents[0][1].state, control::BackendState::kUnknown);
  EXPECT_EQ(carried.pools[0][1], control::BackendState::kUp) << "the checks' verdict alone";
  EXPECT_EQ(carried.changes[0][1].from, control::BackendState::kDown);
  EXPECT_EQ(carried.changes[0][1].reason, "reload: its agent changed");
}

TEST(CarryHealth, AnAgentWithoutChecksKeepsItsDownAndTheChecksAddedStartUnknown) {
  const config::Config before = load(listener("front", 7000) + agentPool("hi", false));
  control::HealthSnapshot states = agentSaidDown(before);
  const control::HealthSnapshot kept =
      carryHealth(before, states, load(listener("front", 7000) + agentPool("hi", false)));
  EXPECT_EQ(kept.pools[0][1], control::BackendState::kDown);
  EXPECT_EQ(kept.pools[0][0], control::BackendState::kUp) << "no checks: up";
  const control::HealthSnapshot checked =
      carryHealth(before, states, load(listener("front", 7000) + agentPool("hi", true)));
  EXPECT_EQ(checked.checks[0][0], control::BackendState::kUnknown) << "no check has run";
  EXPECT_EQ(checked.pools[0][1], control::BackendState::kDown) << "the agent's word stands";
}

}  // namespace
}  // namespace l4lb::app
