// The admin API's Maglev views: each maglev pool's table digest (API and metrics), and
// GET /api/v1/pools/{pool}/lookup, which must answer what the workers' own pick answers.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <memory>
#include <string>
#include <vector>

#include "admin/router.h"
#include "balance/flow_hash.h"
#include "balance/maglev.h"
#include "config/loader.h"
#include "proxy/balancer_plans.h"

namespace l4lb::admin {
namespace {

std::string inspectConfig(std::string_view backends, std::string_view hash_key = "client-ip") {
  return std::string(R"(
[[listener]]
name = "front"
bind = "tcp://127.0.0.1:7000"
pool = "cache"

[[listener]]
name = "plain"
bind = "tcp://127.0.0.1:7100"
pool = "rr"

[pool.cache]
balance = "maglev"
maglev_table_size = 1009
hash_key = ")") +
         std::string(hash_key) + "\"\nbackends = [\n" + std::string(backends) + R"(]

[pool.rr]
backends = [ { address = "tcp://127.0.0.1:7101" } ]
)";
}

constexpr std::string_view kInspectBackends = R"(
  { address = "tcp://127.0.0.1:7001", name = "one" },
  { address = "tcp://127.0.0.1:7002", name = "two", weight = 2 },
  { address = "tcp://127.0.0.1:7003", name = "three" },
)";
// The same backends, listed in another order.
constexpr std::string_view kInspectBackendsReordered = R"(
  { address = "tcp://127.0.0.1:7003", name = "three" },
  { address = "tcp://127.0.0.1:7001", name = "one" },
  { address = "tcp://127.0.0.1:7002", name = "two", weight = 2 },
)";

config::Config loadInspectConfig(const std::string& text) {
  auto loaded = config::loadConfigText(text, "inspect.toml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].format());
  return loaded.ok() ? std::move(*loaded.config) : config::Config{};
}

ApiReply get(Controller& controller, std::string_view target) {
  return route(controller, ApiRequest{"GET", target, "", false});
}

ApiReply patch(Controller& controller, std::string_view target, std::string_view body) {
  return route(controller, ApiRequest{"PATCH", target, body, true});
}

// The backend a worker's balancer of `pool` (built as the workers build theirs) picks for
// `client`, with backends `down` taken down as a worker's health would.
std::string workerPick(const config::Config& config, std::uint32_t pool, const char* client,
                       const std::vector<std::uint32_t>& down = {},
                       std::shared_ptr<const balance::MaglevTable> table = nullptr) {
  auto balancer = proxy::planPools(config)[pool]->instantiate(0);
  auto& maglev = static_cast<balance::MaglevBalancer&>(*balancer);
  if (table) maglev.setTable(std::move(table));
  for (const std::uint32_t b : down) balancer->setUp(b, false);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  ::inet_pton(AF_INET, client, &address.sin_addr);
  balance::PickRequest request;
  request.flow_hash =
      balance::hashClient(reinterpret_cast<const sockaddr*>(&address), config.pools[pool].hash_key);
  const std::uint32_t picked = balancer->pick(request);
  return picked == balance::kNoBackend ? "" : config.pools[pool].backends[picked].name;
}

constexpr const char* kInspectClients[] = {"192.0.2.1", "192.0.2.2",  "198.51.100.7",
                                           "10.1.2.3",  "172.16.0.9", "203.0.113.200"};

TEST(MaglevInspect, PoolsShowTheDigestOfMaglevPoolsOnly) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  Controller controller(config, StartInfo{"9.9", 1, "abc", 0}, ControllerHooks{});
  const ApiReply pools = get(controller, "/api/v1/pools");
  ASSERT_EQ(pools.status, 200);
  const auto& maglev = pools.body["pools"][0]["maglev"];
  EXPECT_EQ(maglev["table_size"], 1009);
  const std::string digest = maglev["digest"];
  EXPECT_EQ(digest.size(), 16U);
  EXPECT_EQ(digest.find_first_not_of("0123456789abcdef"), std::string::npos) << digest;
  EXPECT_TRUE(pools.body["pools"][1]["maglev"].is_null());
  EXPECT_EQ(get(controller, "/api/v1/pools/cache").body["maglev"]["digest"], digest);

  const ApiReply metrics = get(controller, "/metrics");
  EXPECT_NE(metrics.text.find("# TYPE l4lb_pool_maglev_info gauge\n"), std::string::npos);
  EXPECT_NE(
      metrics.text.find("l4lb_pool_maglev_info{pool=\"cache\",digest=\"" + digest + "\"} 1\n"),
      std::string::npos)
      << metrics.text;
  EXPECT_EQ(metrics.text.find("l4lb_pool_maglev_info{pool=\"rr\""), std::string::npos);
}

TEST(MaglevInspect, InstancesListingBackendsInAnotherOrderAgree) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  const config::Config reordered = loadInspectConfig(inspectConfig(kInspectBackendsReordered));
  Controller a(config, StartInfo{}, ControllerHooks{});
  Controller b(reordered, StartInfo{}, ControllerHooks{});
  EXPECT_EQ(get(a, "/api/v1/pools/cache").body["maglev"],
            get(b, "/api/v1/pools/cache").body["maglev"]);
  for (const char* client : kInspectClients) {
    const std::string target = std::string("/api/v1/pools/cache/lookup?client=") + client;
    const ApiReply from_a = get(a, target);
    const ApiReply from_b = get(b, target);
    ASSERT_EQ(from_a.status, 200) << from_a.body.dump();
    EXPECT_EQ(from_a.body["backend"], from_b.body["backend"]) << client;
    EXPECT_EQ(from_a.body["slot"], from_b.body["slot"]) << client;
    EXPECT_EQ(from_a.body["fallback"], false);
    EXPECT_EQ(from_a.body["backend"], from_a.body["table_owner"]);
    EXPECT_EQ(from_a.body["backend"]["name"], workerPick(config, 0, client)) << client;
    EXPECT_EQ(from_a.body["backend"]["name"], workerPick(reordered, 0, client)) << client;
  }
}

TEST(MaglevInspect, UsesTheTablesItIsGiven) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  Controller controller(config, StartInfo{}, ControllerHooks{},
                        proxy::maglevTables(proxy::planPools(config)));
  const ApiReply pool = get(controller, "/api/v1/pools/cache");
  Controller built(config, StartInfo{}, ControllerHooks{});
  EXPECT_EQ(pool.body["maglev"], get(built, "/api/v1/pools/cache").body["maglev"]);
  // A table of another size handed in is the one shown.
  MaglevTables other = {
      std::make_shared<const balance::MaglevTable>(proxy::balancerSlots(config.pools[0]), 101),
      nullptr};
  Controller given(config, StartInfo{}, ControllerHooks{}, other);
  EXPECT_EQ(get(given, "/api/v1/pools/cache").body["maglev"]["table_size"], 101);
}

TEST(MaglevInspect, AWeightChangeChangesTheDigestAndTheLookupFollowsTheNewTable) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  std::vector<std::shared_ptr<const control::AdminSnapshot>> published;
  ControllerHooks hooks;
  hooks.publish = [&published](std::shared_ptr<const control::AdminSnapshot> snapshot) {
    published.push_back(std::move(snapshot));
  };
  Controller controller(config, StartInfo{}, hooks);
  const std::string before = get(controller, "/api/v1/pools/cache").body["maglev"]["digest"];
  ASSERT_EQ(patch(controller, "/api/v1/pools/cache/backends/one", R"({"weight": 5})").status, 200);
  ASSERT_EQ(published.size(), 1U);
  const auto& table = published[0]->maglev_tables[0];
  ASSERT_TRUE(table);
  const std::string after = get(controller, "/api/v1/pools/cache").body["maglev"]["digest"];
  EXPECT_NE(after, before);
  EXPECT_EQ(after, maglevDigestText(*table));  // the table the workers were sent
  EXPECT_NE(get(controller, "/metrics").text.find("digest=\"" + after + "\""), std::string::npos);
  for (const char* client : kInspectClients) {
    const ApiReply reply =
        get(controller, std::string("/api/v1/pools/cache/lookup?client=") + client);
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body["digest"], after);
    EXPECT_EQ(reply.body["backend"]["name"], workerPick(config, 0, client, {}, table)) << client;
  }
  // Back to the config's weight: the config's table again, by content.
  ASSERT_EQ(patch(controller, "/api/v1/pools/cache/backends/one", R"({"weight": 1})").status, 200);
  EXPECT_EQ(get(controller, "/api/v1/pools/cache").body["maglev"]["digest"], before);
}

TEST(MaglevInspect, ADrainedOwnersClientsFallBackWhereTheWorkersSendThem) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  Controller controller(config, StartInfo{}, ControllerHooks{});
  ASSERT_EQ(patch(controller, "/api/v1/pools/cache/backends/two", R"({"state": "drain"})").status,
            200);
  int fell_back = 0;
  for (int i = 1; i <= 60; ++i) {
    const std::string client = "192.0.2." + std::to_string(i);
    const ApiReply reply = get(controller, "/api/v1/pools/cache/lookup?client=" + client + ":4000");
    ASSERT_EQ(reply.status, 200) << reply.body.dump();
    EXPECT_NE(reply.body["backend"]["name"], "two");
    EXPECT_EQ(reply.body["backend"]["name"], workerPick(config, 0, client.c_str(), {1}));
    if (reply.body["table_owner"]["name"] == "two") {
      ++fell_back;
      EXPECT_EQ(reply.body["fallback"], true);
      EXPECT_EQ(reply.body["table_owner"]["state"], "draining");
    } else {
      EXPECT_EQ(reply.body["fallback"], false);
    }
  }
  EXPECT_GT(fell_back, 0);  // "two" owns half the slots
}

TEST(MaglevInspect, LookupErrorsSayWhat) {
  const config::Config config = loadInspectConfig(inspectConfig(kInspectBackends));
  Controller controller(config, StartInfo{}, ControllerHooks{});
  const ApiReply unknown = get(controller, "/api/v1/pools/nope/lookup?client=192.0.2.1");
  EXPECT_EQ(unknown.status, 404);
  const ApiReply plain = get(controller, "/api/v1/pools/rr/lookup?client=192.0.2.1");
  EXPECT_EQ(plain.status, 409);
  EXPECT_NE(plain.body["error"].get<std::string>().find("balance = \"maglev\""), std::string::npos);
  const ApiReply missing = get(controller, "/api/v1/pools/cache/lookup");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body["error"].get<std::string>().find("?client="), std::string::npos);
  const ApiReply bad = get(controller, "/api/v1/pools/cache/lookup?client=web-1.internal");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"].get<std::string>().find("web-1.internal"), std::string::npos);
  EXPECT_EQ(get(controller, "/api/v1/pools/cache/lookup?client=%zz").status, 400);
  EXPECT_EQ(
      route(controller, ApiRequest{"POST", "/api/v1/pools/cache/lookup?client=192.0.2.1", "", true})
          .status,
      405);
  // Escaped brackets and colons, as ctl sends an IPv6 client with its port.
  const ApiReply v6 = get(controller, "/api/v1/pools/cache/lookup?x=1&client=%5B2001:db8::7%5D:80");
  EXPECT_EQ(v6.status, 200) << v6.body.dump();
  EXPECT_EQ(v6.body["client"], "[2001:db8::7]:80");
}

TEST(MaglevInspect, ClientIpPortPoolsNeedThePort) {
  const config::Config config =
      loadInspectConfig(inspectConfig(kInspectBackends, "client-ip-port"));
  Controller controller(config, StartInfo{}, ControllerHooks{});
  const ApiReply without = get(controller, "/api/v1/pools/cache/lookup?client=192.0.2.1");
  EXPECT_EQ(without.status, 400);
  EXPECT_NE(without.body["error"].get<std::string>().find("client-ip-port"), std::string::npos);
  const ApiReply with = get(controller, "/api/v1/pools/cache/lookup?client=192.0.2.1:4000");
  ASSERT_EQ(with.status, 200);
  EXPECT_EQ(with.body["hash_key"], "client-ip-port");
  // Ports spread one address's connections: some other port goes elsewhere.
  bool moved = false;
  for (int port = 4001; port < 4100 && !moved; ++port) {
    moved = get(controller, "/api/v1/pools/cache/lookup?client=192.0.2.1:" + std::to_string(port))
                .body["backend"] != with.body["backend"];
  }
  EXPECT_TRUE(moved);
}

TEST(MaglevInspect, QueryValues) {
  EXPECT_EQ(queryValue("/x?client=1.2.3.4", "client"), "1.2.3.4");
  EXPECT_EQ(queryValue("/x?a=1&client=%5B::1%5D:80&b=2", "client"), "[::1]:80");
  EXPECT_EQ(queryValue("/x?client", "client"), "");
  EXPECT_EQ(queryValue("/x?clients=1", "client"), std::nullopt);
  EXPECT_EQ(queryValue("/x", "client"), std::nullopt);
  EXPECT_EQ(queryValue("/x?client=1.2.3.4#frag", "client"), "1.2.3.4");
  EXPECT_EQ(queryValue("/x?client=%zz", "client"), "%zz");
}

}  // namespace
}  // namespace l4lb::admin
