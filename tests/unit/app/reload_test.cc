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
  control::HealthSnapshot states;
  states.version = 4;
  states.pools = {{control::BackendState::kUp, control::BackendState::kDown}};
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
  control::HealthSnapshot states;
  states.pools = {{control::BackendState::kUp, control::BackendState::kUp}};
  states.changes = {{{}, {}}};
  std::string renamed = listener("front", 7000) + webPool(kBackends, true);
  renamed.replace(renamed.find("pool = \"web\""), 12, "pool = \"api\"");
  renamed.replace(renamed.find("[pool.web]"), 10, "[pool.api]");
  const config::Config next = load(renamed);
  const control::HealthSnapshot carried = carryHealth(before, states, next);
  ASSERT_EQ(carried.pools.size(), 1U);
  for (const auto state : carried.pools[0]) EXPECT_EQ(state, control::BackendState::kUnknown);
}

}  // namespace
}  // namespace l4lb::app
