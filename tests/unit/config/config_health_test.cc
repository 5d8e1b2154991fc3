#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::lines;
using testing::load;

// A listener on pool "p", whose table starts on line 5 (the `health` key is on line 6).
std::string poolLines(std::string_view pool_lines, std::string_view backends =
                                                       "backends = [{ address = "
                                                       "\"tcp://127.0.0.1:7001\" }]") {
  return lines({"[[listener]]", "bind = \"tcp://127.0.0.1:7000\"", "pool = \"p\"", "", "[pool.p]",
                pool_lines, backends});
}

TEST(ConfigHealthTest, ReadsEveryKey) {
  LoadResult result = load(lines({
      "[[listener]]",
      "bind = \"tcp://127.0.0.1:7000\"",
      "pool = \"p\"",
      "[pool.p]",
      "health = { check = \"http\", interval = \"2s\", timeout = \"300ms\", rise = 4, fall = 5, "
      "path = \"/ready\", host = \"svc\", expect_status = \"200-204\" }",
      "slow_start = \"10s\"",
      "eject_after = 5",
      "eject_for = \"20s\"",
      "backends = [{ address = \"tcp://127.0.0.1:7001\" },",
      "            { address = \"tcp://127.0.0.1:7002\", backup = true }]",
  }));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const PoolConfig& pool = result.config->pools[0];
  ASSERT_TRUE(pool.health.has_value());
  EXPECT_EQ(pool.health->check, CheckKind::kHttp);
  EXPECT_EQ(pool.health->interval.count(), 2000);
  EXPECT_EQ(pool.health->timeout.count(), 300);
  EXPECT_EQ(pool.health->rise, 4U);
  EXPECT_EQ(pool.health->fall, 5U);
  EXPECT_EQ(pool.health->path, "/ready");
  EXPECT_EQ(pool.health->host, "svc");
  EXPECT_EQ(pool.health->min_status, 200U);
  EXPECT_EQ(pool.health->max_status, 204U);
  EXPECT_EQ(pool.slow_start.count(), 10000);
  EXPECT_EQ(pool.eject_after, 5U);
  EXPECT_EQ(pool.eject_for.count(), 20000);
  EXPECT_FALSE(pool.backends[0].backup);
  EXPECT_TRUE(pool.backends[1].backup);
}

TEST(ConfigHealthTest, UnknownCheckListsValidOnes) {
  LoadResult result = load(poolLines("health = { check = \"redis-ping\" }"));
  expectError(result, "pool.p.health.check", 6, "\"redis\"");
  expectError(result, "pool.p.health.check", 6, "\"memcached\"");
}

TEST(ConfigHealthTest, MissingCheck) {
  expectError(load(poolLines("health = { interval = \"1s\" }")), "pool.p.health.check", 6,
              "needs check");
}

TEST(ConfigHealthTest, KeysOfEachCheck) {
  expectError(load(poolLines("health = { check = \"redis\", role = \"master\" }")),
              "pool.p.health.role", 6, "\"primary\"");
  expectError(load(poolLines("health = { check = \"memcached\", password_file = \"/x\" }")),
              "pool.p.health.password_file", 6, "does not apply");
  expectError(load(poolLines("health = { check = \"mysql\", role = \"primary\" }")),
              "pool.p.health.user", 6, "needs user");
  expectError(load(poolLines("health = { check = \"tcp\" }",
                             "backends = [{ address = \"udp://127.0.0.1:53\" }]")),
              "pool.p.health", 6, "check = \"dns\" or \"udp\"");
}

TEST(ConfigHealthTest, BackendRoleOverridesThePoolsRole) {
  LoadResult result =
      load(poolLines("health = { check = \"redis\", role = \"replica\" }",
                     "backends = [{ address = \"tcp://127.0.0.1:7001\" },\n"
                     "            { address = \"tcp://127.0.0.1:7002\", backup = true, role = "
                     "\"primary\" }]"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const PoolConfig& pool = result.config->pools[0];
  EXPECT_FALSE(pool.backends[0].role.has_value());
  ASSERT_TRUE(pool.backends[1].role.has_value());
  EXPECT_EQ(*pool.backends[1].role, proto::Role::kPrimary);
}

TEST(ConfigHealthTest, BackendRoleNeedsACheckThatAsksOne) {
  const std::string backends =
      "backends = [{ address = \"tcp://127.0.0.1:7001\", role = \"primary\" }]";
  expectError(load(poolLines("health = { check = \"tcp\" }", backends)), "pool.p.backends[0].role",
              7, "check = \"redis\"");
  expectError(load(poolLines("slow_start = \"1s\"", backends)), "pool.p.backends[0].role", 7,
              "check = \"redis\"");
  expectError(load(poolLines("health = { check = \"mysql\" }", backends)),
              "pool.p.backends[0].role", 7, "needs user");
  expectError(load(poolLines("health = { check = \"pgsql\", user = \"u\" }",
                             "backends = [{ address = \"tcp://127.0.0.1:7001\", role = "
                             "\"leader\" }]")),
              "pool.p.backends[0].role", 7, "\"replica\"");
}

const char* const kUdpBackends = "backends = [{ address = \"udp://127.0.0.1:53\" }]";

std::string udpPoolWith(std::string_view pool_line) {
  return lines({"[[listener]]", "bind = \"udp://127.0.0.1:7000\"", "pool = \"p\"", "", "[pool.p]",
                pool_line, kUdpBackends});
}

TEST(ConfigHealthTest, TlsWithSni) {
  LoadResult result = load(poolLines("health = { check = \"tls\", sni = \"api.example.com\" }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].health->check, CheckKind::kTls);
  EXPECT_EQ(result.config->pools[0].health->sni, "api.example.com");
  LoadResult bare = load(poolLines("health = { check = \"tls\" }"));
  ASSERT_TRUE(bare.ok()) << describeErrors(bare);
  EXPECT_EQ(bare.config->pools[0].health->sni, "");
}

TEST(ConfigHealthTest, BadSni) {
  expectError(load(poolLines("health = { check = \"tls\", sni = \"a b\" }")), "pool.p.health.sni",
              6, "host name");
  expectError(load(poolLines("health = { check = \"tls\", sni = \"a..b\" }")), "pool.p.health.sni",
              6, "host name");
  expectError(load(poolLines("health = { check = \"tls\", sni = \"10.0.0.1\" }")),
              "pool.p.health.sni", 6, "IP address");
  expectError(load(poolLines("health = { check = \"tls\", sni = \"::1\" }")), "pool.p.health.sni",
              6, "host name");
  expectError(load(poolLines("health = { check = \"http\", sni = \"a.test\" }")),
              "pool.p.health.sni", 6, "does not apply to check = \"http\"");
}

TEST(ConfigHealthTest, DnsOnUdpPool) {
  LoadResult result =
      load(udpPoolWith("health = { check = \"dns\", name = \"a.test.\", type = \"aaaa\" }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const HealthConfig& health = *result.config->pools[0].health;
  EXPECT_EQ(health.check, CheckKind::kDns);
  EXPECT_EQ(health.dns_name, "a.test.");
  EXPECT_EQ(health.dns_type, 28);
  LoadResult defaults = load(udpPoolWith("health = { check = \"dns\" }"));
  ASSERT_TRUE(defaults.ok()) << describeErrors(defaults);
  EXPECT_EQ(defaults.config->pools[0].health->dns_name, ".");
  EXPECT_EQ(defaults.config->pools[0].health->dns_type, 2);  // NS
}

TEST(ConfigHealthTest, BadDnsCheck) {
  expectError(load(udpPoolWith("health = { check = \"dns\", type = \"AXFR\" }")),
              "pool.p.health.type", 6, "\"SOA\"");
  expectError(load(udpPoolWith("health = { check = \"dns\", name = \"a..test\" }")),
              "pool.p.health.name", 6, "empty label");
  expectError(load(udpPoolWith("health = { check = \"dns\", sni = \"x\" }")), "pool.p.health.sni",
              6, "does not apply");
  expectError(load(poolLines("health = { check = \"dns\" }")), "pool.p.health", 6,
              "applies to datagram pools");
  expectError(load(udpPoolWith("health = { check = \"tls\" }")), "pool.p.health", 6,
              "needs a stream pool");
  expectError(load(lines({"[[listener]]", "bind = \"mq:///l4lb-in\"", "pool = \"p\"", "[pool.p]",
                          "health = { check = \"dns\" }",
                          "backends = [{ address = \"mq:///l4lb-out\" }]"})),
              "pool.p.backends[0].address", 6, "one-way");
}

// check = "udp" (issue 15, defect 2): send (default an empty datagram) and, optionally, expect.
TEST(ConfigHealthTest, UdpOnDatagramPool) {
  LoadResult refusal = load(udpPoolWith("health = { check = \"udp\" }"));
  ASSERT_TRUE(refusal.ok()) << describeErrors(refusal);
  const HealthConfig& probe = *refusal.config->pools[0].health;
  EXPECT_EQ(probe.check, CheckKind::kUdp);
  EXPECT_EQ(probe.send, "");
  EXPECT_FALSE(probe.expect_set);

  LoadResult echo =
      load(udpPoolWith("health = { check = \"udp\", send = \"ping\\n\", expect = \"pong\" }"));
  ASSERT_TRUE(echo.ok()) << describeErrors(echo);
  const HealthConfig& expecting = *echo.config->pools[0].health;
  EXPECT_EQ(expecting.send, "ping\n");
  EXPECT_EQ(expecting.expect, "pong");
  EXPECT_TRUE(expecting.expect_set);

  LoadResult unixgram = load(lines({"[[listener]]", "bind = \"unixgram:///tmp/l4lb-in\"",
                                    "pool = \"p\"", "[pool.p]", "health = { check = \"udp\" }",
                                    "backends = [{ address = \"unixgram:///tmp/l4lb-out\" }]"}));
  EXPECT_TRUE(unixgram.ok()) << describeErrors(unixgram);
}

TEST(ConfigHealthTest, BadUdpCheck) {
  expectError(load(poolLines("health = { check = \"udp\" }")), "pool.p.health", 6,
              "check = \"udp\" applies to datagram pools");
  expectError(load(udpPoolWith("health = { check = \"udp\", name = \"a.test\" }")),
              "pool.p.health.name", 6, "does not apply to check = \"udp\"");
  expectError(load(udpPoolWith("health = { check = \"udp\", send = '\\xZZ' }")),
              "pool.p.health.send", 6, "two hex digits");
  expectError(load(udpPoolWith("health = { check = \"dns\", expect = \"x\" }")),
              "pool.p.health.expect", 6, "does not apply to check = \"dns\"");
}

TEST(ConfigHealthTest, OptionOfAnotherCheck) {
  expectError(load(poolLines("health = { check = \"tcp\", path = \"/\" }")), "pool.p.health.path",
              6, "does not apply to check = \"tcp\"");
}

TEST(ConfigHealthTest, BadValues) {
  expectError(load(poolLines("health = { check = \"tcp\", rise = 0 }")), "pool.p.health.rise", 6,
              "between 1 and 100");
  expectError(load(poolLines("health = { check = \"tcp\", interval = 5 }")),
              "pool.p.health.interval", 6, "duration");
  expectError(load(poolLines("health = { check = \"send-expect\", expect = \"a\\\\q\" }")),
              "pool.p.health.expect", 6, "unknown escape");
  expectError(load(poolLines("health = { check = \"send-expect\" }")), "pool.p.health.expect", 6,
              "needs expect");
  expectError(load(poolLines("health = { check = \"http\", expect_status = \"300-200\" }")),
              "pool.p.health.expect_status", 6, "200-399");
  expectError(load(poolLines("health = { check = \"pgsql\" }")), "pool.p.health.user", 6,
              "needs user");
  expectError(load(poolLines("health = \"redis\"")), "pool.p.health", 6, "a table");
  expectError(load(poolLines("eject_after = \"5\"")), "pool.p.eject_after", 6, "an integer");
}

TEST(ConfigHealthTest, BackupMustBeBoolean) {
  expectError(
      load(poolLines("", "backends = [{ address = \"tcp://127.0.0.1:7001\", backup = 1 }]")),
      "pool.p.backends[0].backup", 7, "boolean");
}

TEST(ConfigHealthTest, PasswordNeverInline) {
  expectError(load(poolLines("health = { check = \"redis\", password = \"x\" }")),
              "pool.p.health.password", 6, "password_file");
}

TEST(ConfigHealthTest, PasswordFromFile) {
  char path[] = "/tmp/l4lb-pw-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "s3cret\n", 7), 7);
  close(fd);
  LoadResult result = load(
      poolLines(std::string("health = { check = \"redis\", password_file = \"") + path + "\" }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].health->password, "s3cret");
  std::remove(path);
  expectError(load(poolLines(std::string("health = { check = \"redis\", password_file = \"") +
                             path + "\" }")),
              "pool.p.health.password_file", 6, "cannot open");
}

// Datagram pools eject on refusals (issue 15, defect 2): the key is read as for stream pools.
TEST(ConfigHealthTest, EjectionOnDatagramPool) {
  LoadResult result = load(udpPoolWith("eject_after = 1\neject_for = \"2s\""));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  EXPECT_EQ(result.config->pools[0].eject_after, 1U);
  EXPECT_EQ(result.config->pools[0].eject_for.count(), 2000);
}

}  // namespace
}  // namespace l4lb::config
