#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::expectError;
using testing::kValidTail;
using testing::lines;
using testing::load;

TEST(ConfigAdminTest, DefaultsToTheRunSocket) {
  auto result = load(kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  ASSERT_EQ(result.config->admin.listen.size(), 1U);
  EXPECT_EQ(result.config->admin.listen[0].url, kDefaultAdminListen);
}

TEST(ConfigAdminTest, EmptyListTurnsItOff) {
  auto result = load(lines({"[admin]", "listen = []"}) + kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_TRUE(result.config->admin.listen.empty());
}

TEST(ConfigAdminTest, TcpNeedsATokenFile) {
  auto result = load(
      lines({"[admin]", "listen = [\"unix:///tmp/a.sock\", \"tcp://127.0.0.1:9\"]"}) + kValidTail);
  expectError(result, "admin.listen[1]", 2, "token_file");
}

TEST(ConfigAdminTest, ReadsTheToken) {
  const std::string path = ::testing::TempDir() + "l4lb-admin-token";
  std::ofstream(path) << "0123456789abcdef0123\n";
  auto result =
      load(lines({"[admin]", "listen = [\"tcp://127.0.0.1:9\"]", "token_file = \"" + path + "\""}) +
           kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->admin.token, "0123456789abcdef0123");
  std::ofstream(path) << "short\n";
  result = load(lines({"[admin]", "token_file = \"" + path + "\""}) + kValidTail);
  expectError(result, "admin.token_file", 2, "16 to 4096 bytes");
  std::remove(path.c_str());
  result = load(lines({"[admin]", "token_file = \"" + path + "\""}) + kValidTail);
  expectError(result, "admin.token_file", 2, "cannot open");
}

TEST(ConfigAdminTest, RejectsOtherKindsAndKeys) {
  auto result =
      load(lines({"[admin]", "listen = [\"udp://127.0.0.1:9\", 3]", "port = 1"}) + kValidTail);
  expectError(result, "admin.listen[0]", 2, "unix:// or tcp://");
  expectError(result, "admin.listen[1]", 2, "expected a string");
  expectError(result, "admin.port", 3, "unknown key");
  result = load(lines({"[admin]", "listen = \"unix:///tmp/a.sock\""}) + kValidTail);
  expectError(result, "admin.listen", 2, "array");
}

}  // namespace
}  // namespace l4lb::config

namespace l4lb::config {
namespace {

TEST(ConfigAdminTest, QuickModeHasNoAdminApiUnlessAsked) {
  QuickOptions options;
  options.listen = "tcp://127.0.0.1:8080";
  options.backends = {"tcp://127.0.0.1:9001"};
  LoadResult result = configFromQuickOptions(options);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_TRUE(result.config->admin.listen.empty());

  options.admin = {"unix:///tmp/l4lb-admin.sock"};
  result = configFromQuickOptions(options);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  ASSERT_EQ(result.config->admin.listen.size(), 1U);

  options.admin = {"tcp://127.0.0.1:9"};
  result = configFromQuickOptions(options);
  testing::expectError(result, "--admin[0]", 0, "unix:///PATH only");
}

}  // namespace
}  // namespace l4lb::config
