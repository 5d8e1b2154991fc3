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
using testing::poolWith;

TEST(ConfigRetryOnTest, DefaultRetriesConnectsOnly) {
  LoadResult result = load(poolWith(""));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].retry_on, kRetryConnFailure);
}

TEST(ConfigRetryOnTest, ReadsTheListAsFlags) {
  LoadResult result = load(poolWith(R"(retry_on = ["conn-failure", "empty-response"])"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].retry_on, kRetryConnFailure | kRetryEmptyResponse);
  // The list replaces the default: without "conn-failure", failed connects are not retried.
  LoadResult only = load(poolWith(R"(retry_on = ["empty-response"])"));
  ASSERT_TRUE(only.ok()) << describeErrors(only);
  EXPECT_EQ(only.config->pools[0].retry_on, kRetryEmptyResponse);
  LoadResult greeting = load(
      lines({"[[listener]]", "bind = \"tcp://127.0.0.1:7000\"", "pool = \"p\"", "", "[pool.p]",
             R"(retry_on = ["refused-greeting"])", R"(health = { check = "pgsql", user = "l4lb" })",
             "backends = [{ address = \"tcp://127.0.0.1:5432\" }]"}));
  ASSERT_TRUE(greeting.ok()) << describeErrors(greeting);
  EXPECT_EQ(greeting.config->pools[0].retry_on, kRetryRefusedGreeting);
}

TEST(ConfigRetryOnTest, ErrorsNameTheElement) {
  expectError(load(poolWith(R"(retry_on = ["conn-failure", "empty-reponse"])")),
              "pool.p.retry_on[1]", 6, "did you mean \"empty-response\"");
  expectError(load(poolWith(R"(retry_on = [3])")), "pool.p.retry_on[0]", 6, "an integer");
  expectError(load(poolWith(R"(retry_on = "empty-response")")), "pool.p.retry_on", 6, "an array");
}

TEST(ConfigRetryOnTest, RefusedGreetingNeedsAProtocolCheck) {
  expectError(load(poolWith(R"(retry_on = ["refused-greeting"])")), "pool.p.retry_on", 6,
              "needs health = { check = \"mysql\" }");
  expectError(load(poolWith(R"(retry_on = ["empty-response"])", "udp://127.0.0.1:53",
                            "udp://127.0.0.1:5300")),
              "pool.p.retry_on", 6, "apply to stream pools");
}

}  // namespace
}  // namespace l4lb::config
