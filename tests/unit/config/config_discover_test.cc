// A pool's discover table (issue 16, "Discovery"), and how discovered backends join a config.

#include <gtest/gtest.h>

#include <string>

#include "config/discovered.h"
#include "config/loader.h"
#include "config/read_discover.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::lines;
using testing::load;

// A pool "p" whose discover table is on line 6; `backends` (line 7) may be empty.
std::string discoverPool(std::string_view discover, std::string_view backends = "") {
  return lines({"[[listener]]", "bind = \"tcp://127.0.0.1:7000\"", "pool = \"p\"", "", "[pool.p]",
                discover, backends});
}

TEST(ConfigDiscoverTest, SrvWithEveryKey) {
  LoadResult result = load(discoverPool(
      "discover = { dns = \"_redis._tcp.example\", type = \"SRV\", server = \"127.0.0.1:5353\", "
      "interval = \"10s\", min_interval = \"2s\", timeout = \"500ms\", settle = \"3s\", "
      "max_removed = \"25%\" }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const PoolConfig& pool = result.config->pools[0];
  ASSERT_TRUE(pool.discover);
  EXPECT_EQ(pool.discover->kind, DiscoverKind::kDns);
  EXPECT_EQ(pool.discover->dns_name, "_redis._tcp.example");
  EXPECT_EQ(pool.discover->type, DnsRecordType::kSrv);
  EXPECT_EQ(pool.discover->server, "127.0.0.1:5353");
  EXPECT_EQ(pool.discover->interval.count(), 10'000);
  EXPECT_EQ(pool.discover->min_interval.count(), 2'000);
  EXPECT_EQ(pool.discover->timeout.count(), 500);
  EXPECT_EQ(pool.discover->settle.count(), 3'000);
  EXPECT_EQ(pool.discover->max_removed, (RemovalCap{.percent = true, .value = 25}));
  EXPECT_EQ(pool.discover->label(), "dns:_redis._tcp.example");
  EXPECT_TRUE(pool.backends.empty());  // a pool of discovered backends only starts with none
}

TEST(ConfigDiscoverTest, DefaultsAreDocumented) {
  LoadResult result = load(discoverPool("discover = { dns = \"_x._tcp.example\" }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const DiscoverConfig& d = *result.config->pools[0].discover;
  EXPECT_EQ(d.type, DnsRecordType::kSrv);
  EXPECT_TRUE(d.server.empty());  // /etc/resolv.conf's
  EXPECT_EQ(d.interval.count(), 5'000);
  EXPECT_EQ(d.min_interval.count(), 1'000);
  EXPECT_EQ(d.settle.count(), 1'000);
  EXPECT_EQ(d.max_removed, (RemovalCap{.percent = true, .value = 50}));
  EXPECT_FALSE(d.datagram);
}

TEST(ConfigDiscoverTest, AddressRecordsNeedAPort) {
  expectError(load(discoverPool("discover = { dns = \"redis.example\", type = \"A\" }")),
              "pool.p.discover.type", 6, "needs port = N");
  LoadResult ok = load(discoverPool(
      "discover = { dns = \"redis.example\", type = \"AAAA\", port = 6379, protocol = \"tcp\" }"));
  ASSERT_TRUE(ok.ok()) << describeErrors(ok);
  EXPECT_EQ(ok.config->pools[0].discover->port, 6379);
}

TEST(ConfigDiscoverTest, SrvTakesNoPort) {
  expectError(load(discoverPool("discover = { dns = \"_x._tcp.example\", port = 1 }")),
              "pool.p.discover.port", 6, "SRV records carry their own port");
}

TEST(ConfigDiscoverTest, BadServerTypeAndCapAreErrorsAtTheirKeys) {
  expectError(load(discoverPool("discover = { dns = \"x\", server = \"nameserver\" }")),
              "pool.p.discover.server", 6, "expected \"IP:PORT\"");
  expectError(load(discoverPool("discover = { dns = \"x\", type = \"MX\" }")),
              "pool.p.discover.type", 6, "invalid value \"MX\"");
  expectError(load(discoverPool("discover = { dns = \"x\", max_removed = \"150%\" }")),
              "pool.p.discover.max_removed", 6, "expected a share");
  expectError(load(discoverPool("discover = { dns = \"x\", intervall = \"1s\" }")),
              "pool.p.discover.intervall", 6, "interval");
  expectError(
      load(discoverPool("discover = { dns = \"x\", interval = \"1s\", min_interval = \"2s\" }")),
      "pool.p.discover.min_interval", 6, "must not exceed interval");
}

TEST(ConfigDiscoverTest, DnsOrEtcdNotBothNorNeither) {
  expectError(load(discoverPool("discover = { interval = \"1s\" }")), "pool.p.discover", 6,
              "needs dns");
  expectError(load(discoverPool("discover = { dns = \"x\", etcd = \"http://127.0.0.1:2379\" }")),
              "pool.p.discover", 6, "not both");
}

TEST(ConfigDiscoverTest, APoolWithoutBackendsStillNeedsDiscover) {
  expectError(load(discoverPool("balance = \"round-robin\"")), "pool.p.backends", 5,
              "at least one backend");
}

TEST(ConfigDiscoverTest, ProtocolMustMatchTheConfiguredBackends) {
  expectError(load(discoverPool("discover = { dns = \"x\", protocol = \"udp\" }",
                                "backends = [{ address = \"tcp://127.0.0.1:7001\" }]")),
              "pool.p.discover", 6, "set protocol = \"tcp\"");
}

TEST(RemovalCapTest, ShareOrCount) {
  EXPECT_EQ(parseRemovalCap("50%"), (RemovalCap{.percent = true, .value = 50}));
  EXPECT_EQ(parseRemovalCap("3"), (RemovalCap{.percent = false, .value = 3}));
  EXPECT_FALSE(parseRemovalCap("%"));
  EXPECT_FALSE(parseRemovalCap("-1"));
  EXPECT_FALSE(parseRemovalCap("101%"));
  EXPECT_EQ((RemovalCap{.percent = true, .value = 50}).allowed(4), 2U);
  EXPECT_EQ((RemovalCap{.percent = true, .value = 50}).allowed(3), 1U);  // rounded down
  EXPECT_EQ((RemovalCap{.percent = true, .value = 50}).allowed(1), 0U);
  EXPECT_EQ((RemovalCap{.percent = false, .value = 2}).allowed(10), 2U);
}

DiscoveredBackend found(std::string url, std::uint32_t weight = 1, bool backup = false) {
  auto address = net::parseEndpoint(url);
  EXPECT_TRUE(address.ok()) << url;
  return DiscoveredBackend{
      .address = std::move(address).value(), .weight = weight, .backup = backup, .name = {}};
}

Config discoveringConfig() {
  LoadResult result = load(discoverPool("discover = { dns = \"_x._tcp.example\" }",
                                        "backends = [{ address = \"tcp://127.0.0.1:7001\" }]"));
  EXPECT_TRUE(result.ok()) << describeErrors(result);
  return *result.config;
}

TEST(MergeDiscoveredTest, AppendsMarkedBackendsAfterTheConfiguredOnes) {
  Config config = discoveringConfig();
  DiscoveredPools pools;
  pools["p"] = DiscoveredSet{.label = "dns:_x._tcp.example",
                             .backends = {found("tcp://127.0.0.2:7001", 5, true)}};
  EXPECT_TRUE(mergeDiscovered(config, pools).empty());
  const auto& backends = config.pools[0].backends;
  ASSERT_EQ(backends.size(), 2U);
  EXPECT_TRUE(backends[0].discovered_by.empty());
  EXPECT_EQ(backends[1].name, "tcp://127.0.0.2:7001");
  EXPECT_EQ(backends[1].weight, 5U);
  EXPECT_TRUE(backends[1].backup);
  EXPECT_EQ(backends[1].discovered_by, "dns:_x._tcp.example");
  EXPECT_EQ(discoveredCount(config.pools[0]), 1U);
}

TEST(MergeDiscoveredTest, ReplacesTheDiscoveredOnesOfTheGenerationBefore) {
  Config config = discoveringConfig();
  DiscoveredPools pools;
  pools["p"] =
      DiscoveredSet{.label = "dns:_x._tcp.example", .backends = {found("tcp://127.0.0.2:7001")}};
  (void)mergeDiscovered(config, pools);
  pools["p"].backends = {found("tcp://127.0.0.3:7001"), found("tcp://127.0.0.4:7001")};
  (void)mergeDiscovered(config, pools);
  const auto& backends = config.pools[0].backends;
  ASSERT_EQ(backends.size(), 3U);
  EXPECT_EQ(backends[1].name, "tcp://127.0.0.3:7001");
  EXPECT_EQ(backends[2].name, "tcp://127.0.0.4:7001");
}

TEST(MergeDiscoveredTest, ConfiguredNameWinsAndOtherKindsAreLeftOut) {
  Config config = discoveringConfig();
  DiscoveredPools pools;
  pools["p"] =
      DiscoveredSet{.label = "dns:_x._tcp.example",
                    .backends = {found("tcp://127.0.0.1:7001"), found("udp://127.0.0.5:53")}};
  const auto notes = mergeDiscovered(config, pools);
  EXPECT_EQ(notes.size(), 2U);
  EXPECT_EQ(config.pools[0].backends.size(), 1U);
}

TEST(MergeDiscoveredTest, ASetOfAnotherSourceIsNotMerged) {
  Config config = discoveringConfig();
  DiscoveredPools pools;
  pools["p"] =
      DiscoveredSet{.label = "dns:_old._tcp.example", .backends = {found("tcp://127.0.0.2:7001")}};
  (void)mergeDiscovered(config, pools);
  EXPECT_EQ(config.pools[0].backends.size(), 1U);
}

TEST(MergeDiscoveredTest, DiscoveredBackendsGetThePoolsAgentOnTheirHost) {
  LoadResult result =
      load(discoverPool("discover = { dns = \"_x._tcp.example\" }", "agent = { port = 9777 }"));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  Config config = *result.config;
  DiscoveredPools pools;
  pools["p"] =
      DiscoveredSet{.label = "dns:_x._tcp.example", .backends = {found("tcp://127.0.0.2:7001")}};
  (void)mergeDiscovered(config, pools);
  ASSERT_EQ(config.pools[0].backends.size(), 1U);
  ASSERT_TRUE(config.pools[0].backends[0].agent);
  EXPECT_EQ(config.pools[0].backends[0].agent->url, "tcp://127.0.0.2:9777");
}

TEST(DiscoveredSetTest, SortedByAddressAndEachAddressOnce) {
  DiscoveredSet set{
      .label = "l",
      .backends = {found("tcp://127.0.0.3:1", 1, false), found("tcp://127.0.0.2:1", 7, false),
                   found("tcp://127.0.0.3:1", 9, true)}};
  set.sort();
  ASSERT_EQ(set.backends.size(), 2U);
  EXPECT_EQ(set.backends[0].address.url, "tcp://127.0.0.2:1");
  EXPECT_EQ(set.backends[1].weight, 1U);  // the first of the two, as the records came
}

}  // namespace
}  // namespace l4lb::config
