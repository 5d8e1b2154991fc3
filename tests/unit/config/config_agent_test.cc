// The pool's agent table and a backend's own agent (issue 15: HAProxy's agent-check).

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::lines;
using testing::load;

// A pool "p" whose agent table is on line 6 and whose backends are on line 7.
std::string agentPool(std::string_view agent, std::string_view backends) {
  return lines({"[[listener]]", "bind = \"tcp://127.0.0.1:7000\"", "pool = \"p\"", "", "[pool.p]",
                agent, backends});
}

TEST(ConfigAgentTest, EachBackendsHostAtThePort) {
  LoadResult result = load(agentPool(
      "agent = { port = 9777, interval = \"500ms\", timeout = \"200ms\", send = \"web\\\\n\" }",
      "backends = [{ address = \"tcp://127.0.0.1:8080\" }, { address = \"tcp://[::1]:8081\" }, "
      "{ address = \"unix:///run/app.sock\", agent = \"tcp://127.0.0.2:9000\" }]"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const PoolConfig& pool = result.config->pools[0];
  ASSERT_TRUE(pool.agent);
  EXPECT_EQ(pool.agent->port, 9777);
  EXPECT_EQ(pool.agent->interval.count(), 500);
  EXPECT_EQ(pool.agent->timeout.count(), 200);
  EXPECT_EQ(pool.agent->send, "web\n");
  ASSERT_TRUE(pool.backends[0].agent);
  EXPECT_EQ(pool.backends[0].agent->url, "tcp://127.0.0.1:9777");
  EXPECT_EQ(pool.backends[0].agent->kind, net::EndpointKind::kTcp);
  ASSERT_TRUE(pool.backends[1].agent);
  EXPECT_EQ(pool.backends[1].agent->url, "tcp://[::1]:9777");
  ASSERT_TRUE(pool.backends[2].agent);
  EXPECT_EQ(pool.backends[2].agent->url, "tcp://127.0.0.2:9000");
}

TEST(ConfigAgentTest, DefaultsAndNoAgent) {
  LoadResult result =
      load(agentPool("agent = { port = 1 }", "backends = [{ address = \"tcp://127.0.0.1:80\" }]"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].agent->interval.count(), 2000);
  EXPECT_EQ(result.config->pools[0].agent->timeout.count(), 1000);
  EXPECT_EQ(result.config->pools[0].agent->send, "");
  LoadResult none = load(agentPool("", "backends = [{ address = \"tcp://127.0.0.1:80\" }]"));
  ASSERT_TRUE(none.ok()) << describeErrors(none);
  EXPECT_FALSE(none.config->pools[0].agent);
  EXPECT_FALSE(none.config->pools[0].backends[0].agent);
}

TEST(ConfigAgentTest, Errors) {
  // A unix backend has no host to find its agent on.
  expectError(load(agentPool("agent = { port = 9777 }",
                             "backends = [{ address = \"unix:///run/app.sock\" }]")),
              "pool.p.backends[0].address", 7, "agent = \"tcp://HOST:PORT\"");
  // No port: every backend names its agent.
  expectError(load(agentPool("agent = { interval = \"1s\" }",
                             "backends = [{ address = \"tcp://127.0.0.1:80\" }]")),
              "pool.p.backends[0].address", 7, "has no port");
  expectError(load(agentPool("",
                             "backends = [{ address = \"tcp://127.0.0.1:80\", agent = "
                             "\"tcp://127.0.0.1:9\" }]")),
              "pool.p.backends[0].agent", 7, "needs the pool's agent table");
  expectError(load(agentPool("agent = { port = 9 }",
                             "backends = [{ address = "
                             "\"tcp://127.0.0.1:80\", agent = "
                             "\"udp://127.0.0.1:9\" }]")),
              "pool.p.backends[0].agent", 7, "over TCP");
  expectError(
      load(agentPool("agent = { port = 0 }", "backends = [{ address = \"tcp://127.0.0.1:80\" }]")),
      "pool.p.agent.port", 6, "");
  expectError(load(agentPool("agent = { port = 9, weight = 1 }",
                             "backends = [{ address = \"tcp://127.0.0.1:80\" }]")),
              "pool.p.agent.weight", 6, "");
}

}  // namespace
}  // namespace l4lb::config
