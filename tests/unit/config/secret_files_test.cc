#include "config/secret_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config/loader.h"

namespace l4lb::config {
namespace {

SecretSource secretAt(std::uint32_t mode, std::uint32_t owner) {
  SecretSource source;
  source.path = "/etc/l4lb/token";
  source.mode = S_IFREG | mode;
  source.owner = owner;
  return source;
}

TEST(SecretFilesTest, OwnerOnlyFilesOfRootOrTheRunUserPass) {
  EXPECT_TRUE(secretFileProblems(secretAt(0600, 0), 1000).empty());
  EXPECT_TRUE(secretFileProblems(secretAt(0400, 1000), 1000).empty());
}

TEST(SecretFilesTest, GroupOrWorldBitsAndStrangeOwnersAreProblems) {
  EXPECT_EQ(secretFileProblems(secretAt(0644, 0), 0).size(), 1U);
  EXPECT_EQ(secretFileProblems(secretAt(0640, 0), 0).size(), 1U);
  EXPECT_EQ(secretFileProblems(secretAt(0602, 0), 0).size(), 1U);
  EXPECT_EQ(secretFileProblems(secretAt(0600, 1234), 1000).size(), 1U);
  EXPECT_EQ(secretFileProblems(secretAt(0644, 1234), 1000).size(), 2U);
  EXPECT_NE(secretFileProblems(secretAt(0644, 0), 0)[0].find("0644"), std::string::npos);
}

class SecretFilesLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/l4lb-secret-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    token_ = dir_ + "/token";
    std::ofstream(token_) << "0123456789abcdef0123\n";
  }
  void TearDown() override {
    std::remove(token_.c_str());
    ::rmdir(dir_.c_str());
  }

  LoadResult load(bool strict) {
    const std::string text =
        std::string(strict ? "[global]\nstrict_secrets = true\n" : "") +
        "[[listener]]\nname = \"a\"\nbind = \"tcp://127.0.0.1:7000\"\n"
        "pool = \"p\"\n[pool.p]\nbackends = [{ address = \"tcp://127.0.0.1:7001\" }]\n"
        "[admin]\nlisten = [\"tcp://127.0.0.1:7002\"]\ntoken_file = \"" +
        token_ + "\"\n";
    return loadConfigText(text, "test.toml");
  }

  std::string dir_;
  std::string token_;
};

TEST_F(SecretFilesLoadTest, ReadableTokenFileWarnsOrFailsWhenStrict) {
  ASSERT_EQ(::chmod(token_.c_str(), 0644), 0);
  LoadResult lenient = load(false);
  ASSERT_TRUE(lenient.ok()) << (lenient.errors.empty() ? "" : lenient.errors[0].format());
  ASSERT_EQ(lenient.warnings.size(), 1U);
  EXPECT_EQ(lenient.warnings[0].key, "admin.token_file");
  LoadResult strict = load(true);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.errors[0].message.find("strict_secrets"), std::string::npos);

  ASSERT_EQ(::chmod(token_.c_str(), 0600), 0);
  EXPECT_TRUE(load(false).warnings.empty());
  EXPECT_TRUE(load(true).ok());
}

}  // namespace
}  // namespace l4lb::config
