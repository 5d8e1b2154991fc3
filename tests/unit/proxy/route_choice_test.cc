#include "proxy/route_choice.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace l4lb::proxy {
namespace {

config::RouteConfig route(std::string_view sni, std::string alpn, std::uint32_t pool) {
  config::RouteConfig r;
  if (!sni.empty()) r.sni = proto::SniPattern::parse(sni).value();
  r.alpn = std::move(alpn);
  r.pool_index = pool;
  return r;
}

proto::ClientHelloInfo hello(std::string name, std::vector<std::string> alpn = {}) {
  proto::ClientHelloInfo info;
  info.server_name = std::move(name);
  info.alpn = std::move(alpn);
  return info;
}

TEST(RouteChoiceTest, FirstMatchingRouteWins) {
  config::ListenerConfig listener;
  listener.routes = {route("api.example.com", "", 1), route("*.example.com", "", 2),
                     route("", "h2", 3)};
  EXPECT_EQ(chooseRoute(listener, hello("api.example.com")), 1U);
  EXPECT_EQ(chooseRoute(listener, hello("www.example.com")), 2U);
  // In order: the wildcard comes before the ALPN route.
  EXPECT_EQ(chooseRoute(listener, hello("www.example.com", {"h2"})), 2U);
  EXPECT_EQ(chooseRoute(listener, hello("other.org", {"http/1.1", "h2"})), 3U);
  EXPECT_EQ(chooseRoute(listener, hello("other.org", {"http/1.1"})), std::nullopt);
}

TEST(RouteChoiceTest, NoServerNameMatchesOnlyRoutesWithoutSni) {
  config::ListenerConfig listener;
  listener.routes = {route("*.example.com", "", 1), route("", "h2", 2)};
  EXPECT_EQ(chooseRoute(listener, hello("")), std::nullopt);
  EXPECT_EQ(chooseRoute(listener, hello("", {"h2"})), 2U);
}

TEST(RouteChoiceTest, SniAndAlpnTogetherMustBothMatch) {
  config::ListenerConfig listener;
  listener.routes = {route("api.example.com", "h2", 1)};
  EXPECT_EQ(chooseRoute(listener, hello("api.example.com", {"h2"})), 1U);
  EXPECT_EQ(chooseRoute(listener, hello("api.example.com", {"http/1.1"})), std::nullopt);
  EXPECT_EQ(chooseRoute(listener, hello("web.example.com", {"h2"})), std::nullopt);
}

}  // namespace
}  // namespace l4lb::proxy
