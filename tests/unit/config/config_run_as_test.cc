#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::expectError;
using testing::kValidTail;
using testing::lines;
using testing::load;

// Whoever runs the test exists; its name and primary group come from the same database.
struct Me {
  std::string user;
  uid_t uid;
  gid_t gid;
  std::string group;
};

Me me() {
  const passwd* pw = ::getpwuid(::getuid());
  const group* gr = pw != nullptr ? ::getgrgid(pw->pw_gid) : nullptr;
  if (pw == nullptr || gr == nullptr) return {};
  return Me{pw->pw_name, pw->pw_uid, pw->pw_gid, gr->gr_name};
}

TEST(ConfigRunAsTest, NoUserMeansNoChange) {
  auto result = load(kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_TRUE(result.config->global.user.empty());
  EXPECT_TRUE(result.config->global.group.empty());
}

TEST(ConfigRunAsTest, UserResolvesToItsIdsAndPrimaryGroup) {
  const Me m = me();
  ASSERT_FALSE(m.user.empty());
  auto result = load(lines({"[global]", "user = \"" + m.user + "\""}) + kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->global.user, m.user);
  EXPECT_EQ(result.config->global.uid, m.uid);
  EXPECT_EQ(result.config->global.gid, m.gid);
  EXPECT_TRUE(result.config->global.group.empty());
}

TEST(ConfigRunAsTest, GroupOverridesThePrimaryGroup) {
  const Me m = me();
  const group* other = ::getgrnam("nogroup");
  if (other == nullptr) GTEST_SKIP() << "no group \"nogroup\" here";
  auto result =
      load(lines({"[global]", "user = \"" + m.user + "\"", "group = \"nogroup\""}) + kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->global.group, "nogroup");
  EXPECT_EQ(result.config->global.gid, other->gr_gid);
  EXPECT_EQ(result.config->global.uid, m.uid);
}

TEST(ConfigRunAsTest, UnknownUserAndGroupAreErrorsAtTheirKeys) {
  auto result =
      load(lines({"[global]", "user = \"l4lb-no-such-user\"", "group = \"l4lb-no-such-group\""}) +
           kValidTail);
  expectError(result, "global.user", 2, "no such user \"l4lb-no-such-user\"");
  expectError(result, "global.group", 3, "no such group \"l4lb-no-such-group\"");
}

TEST(ConfigRunAsTest, GroupWithoutUserIsAnError) {
  auto result = load(lines({"[global]", "group = \"nogroup\""}) + kValidTail);
  expectError(result, "global.group", 2, "needs user");
}

TEST(ConfigRunAsTest, EmptyNamesAreErrors) {
  auto result = load(lines({"[global]", "user = \"\""}) + kValidTail);
  expectError(result, "global.user", 2, "");
}

}  // namespace
}  // namespace l4lb::config

namespace l4lb::config {
namespace {

std::string unixListener(std::string_view bind, std::initializer_list<std::string_view> keys) {
  std::string text =
      lines({"[[listener]]", "bind = \"" + std::string(bind) + "\"", "pool = \"p\""});
  for (std::string_view key : keys) text += std::string(key) + "\n";
  const std::string backend = bind.starts_with("unixgram") ? "udp" : "tcp";
  return text +
         lines({"", "[pool.p]", "backends = [{ address = \"" + backend + "://127.0.0.1:7001\" }]"});
}

TEST(ConfigSocketFileTest, UnsetLeavesTheFileAsBindMakesIt) {
  auto result = load(unixListener("unix:///run/x.sock", {}));
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_FALSE(result.config->listeners[0].socket_file.set());
}

TEST(ConfigSocketFileTest, ModeIsOctalAndOwnersResolve) {
  const Me m = me();
  ASSERT_FALSE(m.user.empty());
  auto result =
      load(unixListener("unixgram:///dev/log.l4lb", {"mode = \"0660\"", "user = \"" + m.user + "\"",
                                                     "group = \"" + m.group + "\""}));
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  const auto& file = result.config->listeners[0].socket_file;
  EXPECT_EQ(file.mode, 0660);
  EXPECT_EQ(file.uid, static_cast<long long>(m.uid));
  EXPECT_EQ(file.gid, static_cast<long long>(m.gid));
  auto numeric = load(unixListener("unix:///run/x.sock", {"user = \"4321\"", "mode = \"600\""}));
  ASSERT_TRUE(numeric.ok()) << testing::describeErrors(numeric);
  EXPECT_EQ(numeric.config->listeners[0].socket_file.uid, 4321);
  EXPECT_EQ(numeric.config->listeners[0].socket_file.mode, 0600);
}

TEST(ConfigSocketFileTest, ErrorsNameTheKeyAndLine) {
  expectError(load(unixListener("unix:///run/x.sock", {"mode = \"0999\""})), "listener[0].mode", 4,
              "octal file mode");
  expectError(load(unixListener("unix:///run/x.sock", {"mode = \"7\""})), "listener[0].mode", 4,
              "octal file mode");
  expectError(load(unixListener("unix:///run/x.sock", {"user = \"no-such-user-l4lb\""})),
              "listener[0].user", 4, "no such user");
  expectError(load(unixListener("unix:///run/x.sock", {"group = \"no-such-group-l4lb\""})),
              "listener[0].group", 4, "no such group");
  expectError(load(unixListener("tcp://127.0.0.1:7000", {"mode = \"0660\""})), "listener[0].mode",
              4, "only applies to unix:///PATH and unixgram:///PATH");
  expectError(load(unixListener("unixgram://@log", {"user = \"4321\""})), "listener[0].user", 4,
              "abstract socket");
}

}  // namespace
}  // namespace l4lb::config
