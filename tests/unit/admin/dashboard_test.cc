// GET /api/v1/dashboard (admin/controller_dashboard.cc): the state words only the workers'
// effective weights tell, and the figures of one sample.
#include <gtest/gtest.h>

#include <memory>

#include "admin/controller.h"
#include "admin/router.h"
#include "config/loader.h"

namespace l4lb::admin {
namespace {

constexpr const char* kDashboardConfig = R"(
[[listener]]
name = "front"
bind = "tcp://127.0.0.1:7000"
pool = "web"

[pool.web]
slow_start = "10s"
backends = [
  { address = "tcp://127.0.0.1:7001", name = "full", weight = 2 },
  { address = "tcp://127.0.0.1:7002", name = "ramping", weight = 2 },
  { address = "tcp://127.0.0.1:7003", name = "ejected", weight = 2 },
  { address = "tcp://127.0.0.1:7004", name = "drained", weight = 2 },
]
)";

TEST(DashboardTest, StateWordsFromTheWorkersWeights) {
  auto loaded = config::loadConfigText(kDashboardConfig, "test.toml");
  ASSERT_TRUE(loaded.ok());
  const config::Config config = std::move(*loaded.config);
  ControllerHooks hooks;
  hooks.metrics = [](MetricsSample& sample) {
    // Two workers each: their weights now, summed.
    auto add = [&sample](const char* name, double weight, std::uint64_t total) {
      auto& n = sample.backend("web", name);
      n.effective_weight_sum = 2 * weight;
      n.effective_weights = 2;
      n.total = total;
      n.ejections = total / 2;
    };
    add("full", 2, 10);
    add("ramping", 0.5, 4);
    add("ejected", 0, 6);
    add("drained", 0, 0);
    sample.listener("front").accepted = 20;
  };
  Controller controller(config, StartInfo{"9.9", 2, "abc", 0}, hooks);
  ASSERT_EQ(route(controller, ApiRequest{"PATCH", "/api/v1/pools/web/backends/drained",
                                         R"({"state":"drain"})", true})
                .status,
            200);
  const ApiReply reply =
      route(controller, ApiRequest{"GET", "/api/v1/dashboard", "", false, /*over_unix=*/false});
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["listeners"][0]["accepted"], 20);
  const auto& backends = reply.body["pools"][0]["backends"];
  ASSERT_EQ(backends.size(), 4U);
  EXPECT_EQ(backends[0]["shown"], "up");
  EXPECT_EQ(backends[0]["effective_weight"], 2.0);
  EXPECT_EQ(backends[1]["shown"], "slow-start");
  EXPECT_EQ(backends[1]["ramp_percent"], 25);
  EXPECT_EQ(backends[2]["shown"], "ejected");
  EXPECT_EQ(backends[2]["ejections"], 3);
  EXPECT_EQ(backends[3]["shown"], "drain");  // the operator's word first
  EXPECT_EQ(backends[0]["total"], 10);
  EXPECT_EQ(reply.body["changes_need_token"], true);
}

}  // namespace
}  // namespace l4lb::admin
