#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::lines;

// A directory of the test's own with a main config and conf.d/, removed after.
class ConfigIncludeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "l4lb-include-XXXXXX");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::filesystem::create_directory(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  LoadResult loadMain(const std::string& text) { return loadConfigFile(write("l4lb.toml", text)); }

  std::filesystem::path dir_;
};

const std::string kMainHead = lines({"include = [\"conf.d/*.toml\"]", "[global]", "workers = 1"});

std::string service(std::string_view name, int port) {
  return lines({"[[listener]]", fmt::format("name = \"{}\"", name),
                fmt::format("bind = \"tcp://127.0.0.1:{}\"", port),
                fmt::format("pool = \"{}\"", name), fmt::format("[pool.{}]", name),
                fmt::format("backends = [{{ address = \"tcp://127.0.0.1:{}\" }}]", port + 1)});
}

TEST_F(ConfigIncludeTest, MergesListenersAndPoolsInNameOrder) {
  write("conf.d/20-web.toml", service("web", 7100));
  write("conf.d/10-db.toml", service("db", 7200));
  write("conf.d/notes.txt", "not toml, not matched");
  LoadResult result = loadMain(kMainHead + service("main", 7000));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const Config& config = *result.config;
  ASSERT_EQ(config.listeners.size(), 3U);
  EXPECT_EQ(config.listeners[0].name, "main");
  EXPECT_EQ(config.listeners[1].name, "db");  // 10-db before 20-web
  EXPECT_EQ(config.listeners[2].name, "web");
  EXPECT_EQ(config.pools.size(), 3U);
}

TEST_F(ConfigIncludeTest, AnEmptyDirectoryIsFineAMissingFileIsNot) {
  EXPECT_TRUE(loadMain(kMainHead + service("main", 7000)).ok());
  LoadResult missing = loadMain(lines({"include = [\"extra.toml\"]"}) + service("main", 7000));
  ASSERT_FALSE(missing.ok());
  const ConfigError* error = testing::findError(missing, "include[0]");
  ASSERT_NE(error, nullptr) << describeErrors(missing);
  EXPECT_NE(error->message.find("no such file"), std::string::npos) << error->format();
}

TEST_F(ConfigIncludeTest, ErrorsNameTheIncludedFileAndLine) {
  const std::string web = write(
      "conf.d/web.toml",
      lines({"[pool.web]", "balance = \"fastest\"", "backends = [{ address = \"tcp://x:1\" }]"}));
  LoadResult result = loadMain(kMainHead + service("main", 7000));
  ASSERT_FALSE(result.ok());
  const ConfigError* error = testing::findError(result, "pool.web.balance");
  ASSERT_NE(error, nullptr) << describeErrors(result);
  EXPECT_EQ(error->file, web);
  EXPECT_EQ(error->line, 2U);
  EXPECT_EQ(error->format().rfind(web + ":2:", 0), 0U) << error->format();
}

TEST_F(ConfigIncludeTest, SyntaxErrorInAnIncludedFileNamesIt) {
  const std::string bad = write("conf.d/bad.toml", lines({"[pool.x]", "balance = "}));
  LoadResult result = loadMain(kMainHead + service("main", 7000));
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1U) << describeErrors(result);
  EXPECT_EQ(result.errors[0].file, bad);
  EXPECT_EQ(result.errors[0].line, 2U);
  EXPECT_NE(result.errors[0].message.find("TOML syntax error"), std::string::npos);
}

TEST_F(ConfigIncludeTest, APoolDefinedTwiceNamesBothPlaces) {
  const std::string again = write("conf.d/again.toml", service("main", 7300));
  LoadResult result = loadMain(kMainHead + service("main", 7000));
  ASSERT_FALSE(result.ok());
  const ConfigError* error = testing::findError(result, "pool.main");
  ASSERT_NE(error, nullptr) << describeErrors(result);
  EXPECT_EQ(error->file, again);
  EXPECT_NE(error->message.find("l4lb.toml:8"), std::string::npos) << error->format();
}

TEST_F(ConfigIncludeTest, IncludedFilesHoldListenersAndPoolsOnly) {
  write("conf.d/global.toml", lines({"include = [\"more/*.toml\"]", "[global]", "workers = 2"}));
  LoadResult result = loadMain(kMainHead + service("main", 7000));
  ASSERT_FALSE(result.ok());
  const ConfigError* nested = testing::findError(result, "include");
  ASSERT_NE(nested, nullptr) << describeErrors(result);
  EXPECT_NE(nested->message.find("do not nest"), std::string::npos);
  const ConfigError* global = testing::findError(result, "global");
  ASSERT_NE(global, nullptr) << describeErrors(result);
  EXPECT_NE(global->message.find("belongs in the main config"), std::string::npos);
}

TEST_F(ConfigIncludeTest, TextFromMemoryIncludesNothing) {
  LoadResult result = testing::load(kMainHead + service("main", 7000));
  ASSERT_FALSE(result.ok());
  const ConfigError* error = testing::findError(result, "include");
  ASSERT_NE(error, nullptr) << describeErrors(result);
  EXPECT_NE(error->message.find("only when the config is read from a file"), std::string::npos);
}

}  // namespace
}  // namespace l4lb::config
