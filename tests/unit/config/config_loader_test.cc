#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using namespace std::chrono_literals;
using testing::describeErrors;
using testing::lines;

const std::string kFullConfig = lines({
    "[global]",
    "workers = 2",
    "log_level = \"debug\"",
    "access_log = \"stderr\"",
    "shutdown_grace = \"45s\"",
    "busy_poll_us = 50",
    "splice = \"off\"",
    "max_connections = 5000",
    "",
    "[[listener]]",
    "name = \"redis\"",
    "bind = \"tcp://0.0.0.0:6380\"",
    "pool = \"redis\"",
    "idle_timeout = \"1m30s\"",
    "backlog = 1024",
    "max_connections = 100",
    "per_source_max_connections = 4",
    "per_source_rate = \"30/m\"",
    "",
    "[[listener]]",
    "bind = \"unix://@l4lb-web\"",
    "pool = \"web\"",
    "",
    "[pool.web]",
    "balance = \"maglev\"",
    "hash_key = \"client-ip-port\"",
    "maglev_table_size = 251",
    "backends = [{ address = \"tcp://[::1]:8001\" }]",
    "",
    "[pool.redis]",
    "balance = \"least-conn\"",
    "connect_timeout = \"250ms\"",
    "retries = 5",
    "backends = [",
    "  { address = \"tcp://10.0.0.11:6379\", weight = 2 },",
    "  { address = \"unix:///run/redis/redis.sock\", name = \"local\" },",
    "]",
});

TEST(ConfigLoaderTest, FullConfigParsesIntoTheRightValues) {
  LoadResult result = loadConfigText(kFullConfig, "full.toml");
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_TRUE(result.errors.empty());
  const Config& config = *result.config;
  EXPECT_EQ(config.source, "full.toml");

  EXPECT_EQ(config.global.workers, 2U);
  EXPECT_EQ(config.global.log_level, base::LogLevel::kDebug);
  EXPECT_EQ(config.global.access_log, "stderr");
  EXPECT_EQ(config.global.shutdown_grace, 45s);
  EXPECT_EQ(config.global.busy_poll_us, 50U);
  EXPECT_FALSE(config.global.splice);
  EXPECT_EQ(config.global.max_connections, 5000U);
  EXPECT_EQ(config.listeners[0].index, 0U);
  EXPECT_EQ(config.listeners[1].index, 1U);
  EXPECT_EQ(config.listeners[0].max_connections, 100U);
  EXPECT_EQ(config.listeners[0].per_source_max_connections, 4U);
  EXPECT_EQ(config.listeners[0].per_source_rate.count, 30U);
  EXPECT_EQ(config.listeners[0].per_source_rate.period_ms, 60'000);

  ASSERT_EQ(config.pools.size(), 2U);
  // Pools keep file order, not key order.
  const PoolConfig& web = config.pools[0];
  const PoolConfig& redis = config.pools[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.balance, balance::Algorithm::kMaglev);
  EXPECT_EQ(web.hash_key, balance::HashKey::kClientIpPort);
  EXPECT_EQ(web.maglev_table_size, 251U);
  EXPECT_EQ(web.connect_timeout, 2s);
  EXPECT_EQ(web.retries, 2U);
  ASSERT_EQ(web.backends.size(), 1U);
  EXPECT_EQ(web.backends[0].address.family(), AF_INET6);

  EXPECT_EQ(redis.name, "redis");
  EXPECT_EQ(redis.balance, balance::Algorithm::kLeastConn);
  EXPECT_EQ(redis.connect_timeout, 250ms);
  EXPECT_EQ(redis.retries, 5U);
  ASSERT_EQ(redis.backends.size(), 2U);
  EXPECT_EQ(redis.backends[0].name, "tcp://10.0.0.11:6379");  // defaults to the address
  EXPECT_EQ(redis.backends[0].address.url, "tcp://10.0.0.11:6379");
  EXPECT_EQ(redis.backends[0].address.kind, net::EndpointKind::kTcp);
  EXPECT_EQ(redis.backends[0].weight, 2U);
  EXPECT_EQ(redis.backends[1].name, "local");
  EXPECT_EQ(redis.backends[1].address.kind, net::EndpointKind::kUnix);
  EXPECT_EQ(redis.backends[1].weight, 1U);

  ASSERT_EQ(config.listeners.size(), 2U);
  const ListenerConfig& first = config.listeners[0];
  EXPECT_EQ(first.name, "redis");
  EXPECT_EQ(first.bind.url, "tcp://0.0.0.0:6380");
  EXPECT_EQ(first.pool, "redis");
  EXPECT_EQ(first.pool_index, 1U);
  EXPECT_EQ(first.idle_timeout, 90s);
  EXPECT_EQ(first.backlog, 1024);
  const ListenerConfig& second = config.listeners[1];
  EXPECT_EQ(second.name, "listener1");  // default: listener<index>
  EXPECT_EQ(second.bind.kind, net::EndpointKind::kUnixAbstract);
  EXPECT_EQ(second.pool_index, 0U);
  EXPECT_EQ(second.idle_timeout, 10min);
  EXPECT_EQ(second.backlog, 4096);
}

TEST(ConfigLoaderTest, MinimalConfigGetsDefaults) {
  LoadResult result = loadConfigText(lines({
                                         "[[listener]]",
                                         "bind = \"tcp://127.0.0.1:8080\"",
                                         "pool = \"p\"",
                                         "[pool.p]",
                                         "backends = [{ address = \"tcp://127.0.0.1:9001\" }]",
                                     }),
                                     "min.toml");
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.global.workers, 0U);
  EXPECT_EQ(config.global.log_level, base::LogLevel::kInfo);
  EXPECT_EQ(config.global.access_log, "off");
  EXPECT_EQ(config.global.shutdown_grace, 30s);
  EXPECT_EQ(config.global.busy_poll_us, 0U);
  EXPECT_TRUE(config.global.splice);
  EXPECT_EQ(config.pools[0].balance, balance::Algorithm::kRoundRobin);
  EXPECT_EQ(config.pools[0].hash_key, balance::HashKey::kClientIp);
  EXPECT_EQ(config.pools[0].maglev_table_size, 65537U);
  EXPECT_EQ(config.pools[0].queue_max, 4096U);
  EXPECT_EQ(config.listeners[0].name, "listener0");
}

TEST(ConfigLoaderTest, QueueMaxIsReadAndBounded) {
  LoadResult ok = testing::load(testing::poolWith("queue_max = 10"));
  ASSERT_TRUE(ok.ok()) << describeErrors(ok);
  EXPECT_EQ(ok.config->pools[0].queue_max, 10U);
  LoadResult zero = testing::load(testing::poolWith("queue_max = 0"));
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(testing::findError(zero, "pool.p.queue_max"), nullptr) << describeErrors(zero);
}

TEST(ConfigLoaderTest, AcceptsEveryAlgorithmAndLogLevel) {
  for (const char* algorithm : {"round-robin", "least-conn", "random-two", "maglev", "first"}) {
    LoadResult result =
        loadConfigText(lines({"[[listener]]", "bind = \"tcp://127.0.0.1:1\"", "pool = \"p\"",
                              "[pool.p]", std::string("balance = \"") + algorithm + "\"",
                              "backends = [{ address = \"tcp://127.0.0.1:2\" }]"}),
                       "t.toml");
    EXPECT_TRUE(result.ok()) << algorithm << "\n" << describeErrors(result);
  }
  for (const char* level : {"error", "warn", "info", "debug"}) {
    LoadResult result =
        loadConfigText(lines({"[global]", std::string("log_level = \"") + level + "\"",
                              "[[listener]]", "bind = \"tcp://127.0.0.1:1\"", "pool = \"p\"",
                              "[pool.p]", "backends = [{ address = \"tcp://127.0.0.1:2\" }]"}),
                       "t.toml");
    EXPECT_TRUE(result.ok()) << level << "\n" << describeErrors(result);
  }
}

TEST(ConfigLoaderTest, ArrayOfTablesBackendsAreAccepted) {
  LoadResult result = loadConfigText(lines({
                                         "[[listener]]",
                                         "bind = \"tcp://127.0.0.1:1\"",
                                         "pool = \"p\"",
                                         "[[pool.p.backends]]",
                                         "address = \"tcp://127.0.0.1:2\"",
                                         "[[pool.p.backends]]",
                                         "address = \"tcp://127.0.0.1:3\"",
                                     }),
                                     "t.toml");
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].backends.size(), 2U);
}

TEST(ConfigLoaderTest, TwoListenersOnPortZeroAreNotDuplicates) {
  LoadResult result = loadConfigText(lines({
                                         "[[listener]]",
                                         "bind = \"tcp://127.0.0.1:0\"",
                                         "pool = \"p\"",
                                         "[[listener]]",
                                         "name = \"b\"",
                                         "bind = \"tcp://127.0.0.1:0\"",
                                         "pool = \"p\"",
                                         "[pool.p]",
                                         "backends = [{ address = \"tcp://127.0.0.1:2\" }]",
                                     }),
                                     "t.toml");
  EXPECT_TRUE(result.ok()) << describeErrors(result);
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("l4lb_config_test_" + std::to_string(::getpid()) + ".toml");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) {
    std::ofstream out(path_);
    out << text;
  }
  std::filesystem::path path_;
};

TEST_F(ConfigFileTest, LoadsAFileAndNamesItInConfigAndErrors) {
  write(kFullConfig);
  LoadResult result = loadConfigFile(path_.string());
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->source, path_.string());

  write("[global]\nworkers = \"two\"\n");
  result = loadConfigFile(path_.string());
  ASSERT_FALSE(result.ok());
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0].file, path_.string());
  EXPECT_EQ(result.errors[0].format().rfind(path_.string() + ":2:11: global.workers: ", 0), 0U)
      << result.errors[0].format();
}

TEST_F(ConfigFileTest, MissingFileIsOneErrorWithoutPosition) {
  LoadResult result = loadConfigFile(path_.string());
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].line, 0U);
  EXPECT_EQ(result.errors[0].format(),
            path_.string() + ": cannot open config file: No such file or directory");
}

// The shipped examples are documentation; they must stay loadable.
TEST(ConfigExamplesTest, ExamplesLoad) {
  std::filesystem::path root = std::filesystem::path(__FILE__).parent_path() / "../../..";
  for (const char* name : {"examples/l4lb.toml", "examples/quickstart.toml"}) {
    std::filesystem::path path = root / name;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "cannot find " << path;
    LoadResult result = loadConfigFile(path.string());
    EXPECT_TRUE(result.ok()) << name << "\n" << describeErrors(result);
  }
}

TEST(ConfigErrorFormatTest, FormatWithAndWithoutPosition) {
  ConfigError e{.file = "l4lb.toml",
                .line = 3,
                .column = 7,
                .key = "global.workers",
                .message = "must be between 0 and 1024, got 5000"};
  EXPECT_EQ(e.format(), "l4lb.toml:3:7: global.workers: must be between 0 and 1024, got 5000");
  e.line = 0;
  EXPECT_EQ(e.format(), "l4lb.toml: global.workers: must be between 0 and 1024, got 5000");
  e.key.clear();
  EXPECT_EQ(e.format(), "l4lb.toml: must be between 0 and 1024, got 5000");
}

}  // namespace
}  // namespace l4lb::config

namespace l4lb::config {
namespace {

using namespace std::string_view_literals;

LoadResult loadWithGlobal(std::initializer_list<std::string_view> global) {
  std::vector<std::string_view> text = {"[global]"};
  text.insert(text.end(), global.begin(), global.end());
  for (std::string_view line :
       {"[[listener]]"sv, "bind = \"tcp://127.0.0.1:8080\""sv, "pool = \"p\""sv, "[pool.p]"sv,
        "backends = [{ address = \"tcp://127.0.0.1:9001\" }]"sv}) {
    text.push_back(line);
  }
  std::string joined;
  for (std::string_view line : text) (joined += line) += "\n";
  return loadConfigText(joined, "syslog.toml");
}

TEST(ConfigLoaderTest, AccessLogToSyslogTakesAUnixgramOrUdpAddress) {
  LoadResult plain = loadWithGlobal({"access_log = \"syslog\""});
  ASSERT_TRUE(plain.ok()) << describeErrors(plain);
  ASSERT_TRUE(plain.config->global.access_log_syslog.has_value());
  EXPECT_EQ(plain.config->global.access_log_syslog->url, "unixgram:///dev/log");
  EXPECT_EQ(plain.config->global.access_log_facility, 16);  // local0
  EXPECT_EQ(plain.config->global.access_log_tag, "l4lb");

  LoadResult udp =
      loadWithGlobal({"access_log = \"syslog:udp://127.0.0.1:5514\"",
                      "access_log_facility = \"local3\"", "access_log_tag = \"edge-lb\""});
  ASSERT_TRUE(udp.ok()) << describeErrors(udp);
  EXPECT_EQ(udp.config->global.access_log_syslog->kind, net::EndpointKind::kUdp);
  EXPECT_EQ(udp.config->global.access_log_facility, 19);
  EXPECT_EQ(udp.config->global.access_log_tag, "edge-lb");

  LoadResult file = loadWithGlobal({"access_log = \"/var/log/l4lb/access.log\""});
  ASSERT_TRUE(file.ok()) << describeErrors(file);
  EXPECT_FALSE(file.config->global.access_log_syslog.has_value());
}

TEST(ConfigLoaderTest, AccessLogSyslogMistakesAreErrors) {
  LoadResult tcp = loadWithGlobal({"access_log = \"syslog:tcp://127.0.0.1:514\""});
  ASSERT_FALSE(tcp.ok());
  EXPECT_NE(testing::findError(tcp, "global.access_log"), nullptr) << describeErrors(tcp);
  LoadResult facility = loadWithGlobal({"access_log_facility = \"local9\""});
  ASSERT_FALSE(facility.ok());
  EXPECT_NE(testing::findError(facility, "global.access_log_facility"), nullptr);
  LoadResult tag = loadWithGlobal({"access_log_tag = \"has space\""});
  ASSERT_FALSE(tag.ok());
  EXPECT_NE(testing::findError(tag, "global.access_log_tag"), nullptr);
}

}  // namespace
}  // namespace l4lb::config
