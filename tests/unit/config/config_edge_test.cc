#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::load;

// A listener whose keys start on line 4, pools "p" and "api".
std::string listenerWith(std::vector<std::string> keys,
                         std::string_view bind = "tcp://127.0.0.1:7000") {
  std::vector<std::string> text = {"[[listener]]", "bind = \"" + std::string(bind) + "\"",
                                   "pool = \"p\""};
  for (auto& key : keys) text.push_back(key);
  for (std::string line : {"", "[pool.p]", "backends = [{ address = \"tcp://127.0.0.1:7001\" }]",
                           "[pool.api]", "backends = [{ address = \"tcp://127.0.0.1:7002\" }]",
                           "[pool.dns]", "backends = [{ address = \"udp://127.0.0.1:53\" }]"}) {
    text.push_back(line);
  }
  std::string joined;
  for (const auto& line : text) joined += line + "\n";
  return joined;
}

TEST(ConfigEdgeTest, ProxyAcceptWithTrustedSources) {
  LoadResult result = load(listenerWith({R"(proxy_protocol = "accept")",
                                         R"(proxy_trusted = ["127.0.0.1/32", "::1/128"])",
                                         R"(proxy_timeout = "500ms")"}));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const ListenerConfig& listener = result.config->listeners[0];
  EXPECT_TRUE(listener.proxy_accept);
  EXPECT_EQ(listener.proxy_trusted.size(), 2U);
  EXPECT_EQ(listener.proxy_timeout, base::Duration(500));
  EXPECT_TRUE(listener.readsPreamble());
  EXPECT_FALSE(listener.inspectsTls());
}

TEST(ConfigEdgeTest, ProxyAcceptNeedsTrustedSources) {
  expectError(load(listenerWith({R"(proxy_protocol = "accept")"})), "listener[0].proxy_protocol", 4,
              "needs proxy_trusted");
  expectError(load(listenerWith({R"(proxy_protocol = "acept")"})), "listener[0].proxy_protocol", 4,
              "did you mean \"accept\"");
  expectError(load(listenerWith({R"(proxy_protocol = "accept")", R"(proxy_trusted = ["x"])"})),
              "listener[0].proxy_trusted[0]", 5, "");
  // Unix clients have no address to trust.
  expectError(load(listenerWith({R"(proxy_protocol = "accept")", R"(proxy_trusted = ["::1/128"])"},
                                "unix:///tmp/l4lb-edge.sock")),
              "listener[0].proxy_protocol", 4, "tcp://");
}

TEST(ConfigEdgeTest, RoutesResolveTheirPools) {
  LoadResult result = load(listenerWith(
      {R"(routes = [{ sni = "*.Example.com", pool = "api" }, { alpn = "h2", pool = "p" }])",
       R"(inspect_timeout = "2s")", "tls_required = true"}));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const ListenerConfig& listener = result.config->listeners[0];
  ASSERT_EQ(listener.routes.size(), 2U);
  EXPECT_EQ(listener.routes[0].pool_index, 1U);
  ASSERT_TRUE(listener.routes[0].sni.has_value());
  EXPECT_EQ(listener.routes[0].sni->text(), "*.example.com");
  EXPECT_EQ(listener.routes[1].alpn, "h2");
  EXPECT_EQ(listener.routes[1].pool_index, 0U);
  EXPECT_TRUE(listener.tls_required);
  EXPECT_EQ(listener.inspect_timeout, base::Duration(2000));
}

TEST(ConfigEdgeTest, RouteErrorsNameTheRoute) {
  expectError(load(listenerWith({R"(routes = [{ sni = "a.example.com", pool = "apj" }])"})),
              "listener[0].routes[0].pool", 4, "did you mean \"api\"");
  expectError(load(listenerWith({R"(routes = [{ pool = "api" }])"})), "listener[0].routes[0]", 4,
              "needs sni");
  expectError(load(listenerWith({R"(routes = [{ sni = "a..b", pool = "api" }])"})),
              "listener[0].routes[0].sni", 4, "");
  expectError(load(listenerWith({R"(routes = [{ sni = "a.example.com", pool = "dns" }])"})),
              "listener[0].routes[0].pool", 4, "datagram backends");
  expectError(load(listenerWith({R"(routes = [{ sni = "a.example.com", pol = "api" }])"})),
              "listener[0].routes[0].pol", 4, "did you mean \"pool\"");
  expectError(load(listenerWith({"tls_required = 1"})), "listener[0].tls_required", 4, "a boolean");
}

}  // namespace
}  // namespace l4lb::config
