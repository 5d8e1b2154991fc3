#include "app/upgrade_steps.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/loader.h"
#include "net/socket.h"

namespace l4lb::app {
namespace {

config::Config twoBackends() {
  config::LoadResult result = config::loadConfigText(
      "[[listener]]\nname = \"front\"\nbind = \"tcp://127.0.0.1:7000\"\npool = \"web\"\n\n"
      "[pool.web]\nhealth = { check = \"tcp\" }\nbackends = ["
      "{ address = \"tcp://127.0.0.1:7001\", name = \"a\", weight = 3 }, "
      "{ address = \"tcp://127.0.0.1:7002\", name = \"b\" }]\n",
      "upgrade_steps_test.toml");
  EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].format());
  return result.ok() ? std::move(*result.config) : config::Config{};
}

TEST(BackendRecords, CarryEachBackendsHealthAndReasonByName) {
  const config::Config config = twoBackends();
  control::HealthSnapshot health;
  health.pools = {{control::BackendState::kDown, control::BackendState::kUp}};
  health.changes = {{{.from = control::BackendState::kUp,
                      .to = control::BackendState::kDown,
                      .reason = "tcp check: refused",
                      .unix_ms = 1},
                     {.from = control::BackendState::kUnknown,
                      .to = control::BackendState::kUp,
                      .reason = "tcp check: connected",
                      .unix_ms = 1}}};
  const auto records = backendRecords(config, &health, nullptr);
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].pool, "web");
  EXPECT_EQ(records[0].backend, "a");
  EXPECT_EQ(records[0].address, "tcp://127.0.0.1:7001");
  EXPECT_EQ(records[0].health, static_cast<std::uint8_t>(control::BackendState::kDown));
  EXPECT_EQ(records[0].reason, "tcp check: refused");
  EXPECT_EQ(records[0].weight, 3U);
  EXPECT_EQ(records[1].backend, "b");
  EXPECT_EQ(records[1].health, static_cast<std::uint8_t>(control::BackendState::kUp));
}

TEST(BackendRecords, WithoutChecksEveryBackendIsUnknown) {
  const auto records = backendRecords(twoBackends(), nullptr, nullptr);
  ASSERT_EQ(records.size(), 2U);
  for (const auto& record : records) {
    EXPECT_EQ(record.health, static_cast<std::uint8_t>(control::BackendState::kUnknown));
    EXPECT_TRUE(record.reason.empty());
  }
}

TEST(SocketWorkers, EachTakenSocketIsServedByTheWorkerThatHoldsIt) {
  std::vector<std::vector<std::vector<base::Fd>>> own(2);  // [worker][listener]
  for (auto& listeners : own) {
    listeners.resize(1);
    listeners[0].emplace_back(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  }
  const SocketWorkers served = socketWorkers(own);
  ASSERT_EQ(served.size(), 2U);
  EXPECT_EQ(served.at(net::socketCookie(own[0][0][0].get())), 0U);
  EXPECT_EQ(served.at(net::socketCookie(own[1][0][0].get())), 1U);
  EXPECT_TRUE(socketWorkers({}).empty());
}

}  // namespace
}  // namespace l4lb::app
