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

TEST(ConfigSendProxyTest, ReadsEachVersion) {
  for (const auto& [text, value] :
       {std::pair{"\"v1\"", SendProxy::kV1}, std::pair{"\"v2\"", SendProxy::kV2},
        std::pair{"\"off\"", SendProxy::kOff}}) {
    LoadResult result = load(poolWith(std::string("send_proxy = ") + text));
    ASSERT_TRUE(result.ok()) << describeErrors(result);
    EXPECT_EQ(result.config->pools[0].send_proxy, value);
  }
  LoadResult plain = load(poolWith(""));
  ASSERT_TRUE(plain.ok()) << describeErrors(plain);
  EXPECT_EQ(plain.config->pools[0].send_proxy, SendProxy::kOff);
}

TEST(ConfigSendProxyTest, ErrorsNameTheKey) {
  expectError(load(poolWith("send_proxy = \"v3\"")), "pool.p.send_proxy", 6,
              "expected \"v1\", \"v2\" or \"off\"");
  expectError(load(poolWith("send_proxy = 2")), "pool.p.send_proxy", 6, "a string");
  expectError(load(poolWith("send_proxy = \"v1\"", "udp://127.0.0.1:53", "udp://127.0.0.1:5300")),
              "pool.p.send_proxy", 6, "v1 has no datagram form");
  LoadResult dgram =
      load(poolWith("send_proxy = \"v2\"", "udp://127.0.0.1:53", "udp://127.0.0.1:5300"));
  EXPECT_EQ(testing::findError(dgram, "pool.p.send_proxy"), nullptr) << describeErrors(dgram);
}

}  // namespace
}  // namespace l4lb::config
