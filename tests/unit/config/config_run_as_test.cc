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
