#include "config/admin_lookup.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::config {
namespace {

const std::string kValid = R"(
[[listener]]
bind = "tcp://127.0.0.1:7000"
pool = "web"

[admin]
listen = ["unix:///tmp/l4lb-test-admin.sock"]

[pool.web]
backends = [{ address = "tcp://127.0.0.1:7001" }]
)";

std::string firstListen(const AdminLookup& lookup) {
  return lookup.admin && !lookup.admin->listen.empty() ? lookup.admin->listen.front().url : "";
}

TEST(AdminLookup, AValidFileGivesItsListenWithoutErrors) {
  const AdminLookup lookup = findAdminConfigInText(kValid, "valid.toml");
  EXPECT_EQ(firstListen(lookup), "unix:///tmp/l4lb-test-admin.sock");
  EXPECT_TRUE(lookup.file_errors.empty());
}

TEST(AdminLookup, AnErrorInAnotherTableStillGivesTheListen) {
  std::string text = kValid;
  text.replace(text.find("tcp://127.0.0.1:7001"), 20, "tcp://127.0.0.1:99999");
  text += "bogus_key = 1\n";
  const AdminLookup lookup = findAdminConfigInText(text, "broken.toml");
  EXPECT_EQ(firstListen(lookup), "unix:///tmp/l4lb-test-admin.sock") << lookup.why_not;
  EXPECT_GE(lookup.file_errors.size(), 2U);
}

TEST(AdminLookup, ASyntaxErrorOutsideAdminStillGivesTheListen) {
  std::string text = kValid;
  text.replace(text.find("[pool.web]"), 10, "[pool.web");  // before and after [admin]
  text = "[global]\nworkers = = 2\n" + text;
  const AdminLookup lookup = findAdminConfigInText(text, "syntax.toml");
  EXPECT_EQ(firstListen(lookup), "unix:///tmp/l4lb-test-admin.sock") << lookup.why_not;
  ASSERT_EQ(lookup.file_errors.size(), 1U);
  EXPECT_EQ(lookup.file_errors[0].line, 2U);
}

TEST(AdminLookup, ASyntaxErrorInAdminSaysWhereAndThatItIsThere) {
  std::string text = kValid;
  text.replace(text.find("listen = ["), 10, "listen = [[");
  const AdminLookup lookup = findAdminConfigInText(text, "admin.toml");
  EXPECT_FALSE(lookup.admin);
  EXPECT_EQ(lookup.why_not.rfind("admin.toml:", 0), 0U) << lookup.why_not;
  EXPECT_NE(lookup.why_not.find("in the [admin] table"), std::string::npos) << lookup.why_not;
}

TEST(AdminLookup, ASyntaxErrorAndNoAdminTableSaysSo) {
  const AdminLookup lookup = findAdminConfigInText("[global\nworkers = 2\n", "none.toml");
  EXPECT_FALSE(lookup.admin);
  EXPECT_NE(lookup.why_not.find("TOML syntax error"), std::string::npos) << lookup.why_not;
  EXPECT_NE(lookup.why_not.find("no [admin] table"), std::string::npos) << lookup.why_not;
}

TEST(AdminLookup, ABadListenSaysWhy) {
  std::string text = kValid;
  text.replace(text.find("unix:///tmp/l4lb-test-admin.sock"), 32, "udp://127.0.0.1:1");
  text += "bogus_key = 1\n";
  const AdminLookup lookup = findAdminConfigInText(text, "listen.toml");
  EXPECT_FALSE(lookup.admin);
  EXPECT_NE(lookup.why_not.find("admin.listen[0]"), std::string::npos) << lookup.why_not;
}

TEST(AdminLookup, NoAdminTableInAValidTomlFileIsTheDefault) {
  const AdminLookup lookup = findAdminConfigInText("bogus = 1\n", "default.toml");
  EXPECT_EQ(firstListen(lookup), kDefaultAdminListen);
  EXPECT_FALSE(lookup.file_errors.empty());
}

TEST(AdminLookup, AMissingFileSaysSo) {
  const AdminLookup lookup = findAdminConfig("/nonexistent/l4lb.toml");
  EXPECT_FALSE(lookup.admin);
  EXPECT_NE(lookup.why_not.find("No such file"), std::string::npos) << lookup.why_not;
}

}  // namespace
}  // namespace l4lb::config
