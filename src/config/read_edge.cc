#include "config/read_edge.h"

#include <fmt/format.h>

#include <array>
#include <string_view>
#include <variant>

#include "config/limits.h"
#include "config/read_cidrs.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kRouteKeys = {"sni"sv, "alpn"sv, "pool"sv};
constexpr std::array kProxyModes = {"accept"sv, "off"sv};

void readRoute(const toml::node& node, const std::string& key, ListenerDraft& draft,
               ErrorList& errors) {
  const Origin at{key, positionOf(node.source())};
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    errors.add(at, fmt::format("expected a table like {{ sni = \"api.example.com\", pool = "
                               "\"api\" }}, got {}",
                               describe(node)));
    return;
  }
  TableReader reader(*table, key, kRouteKeys, errors);
  RouteConfig route;
  if (auto sni = reader.string("sni")) {
    auto parsed = proto::SniPattern::parse(*sni);
    if (!parsed) {
      errors.add(reader.originOf("sni"), parsed.error().message());
    } else {
      route.sni = std::move(parsed).value();
    }
  }
  if (auto alpn = reader.string("alpn")) {
    // RFC 7301: a protocol name is 1..255 bytes.
    if (alpn->empty() || alpn->size() > 255) {
      errors.add(reader.originOf("alpn"), "an ALPN protocol name is 1 to 255 bytes, like \"h2\"");
    } else {
      route.alpn = std::move(*alpn);
    }
  }
  if (!reader.has("sni") && !reader.has("alpn")) {
    errors.add(at, "a route needs sni = \"NAME\" or alpn = \"PROTOCOL\" (or both)");
  }
  reader.requireKey("pool", "every route needs pool = \"NAME\"");
  Origin pool_origin = reader.originOf("pool");
  if (auto pool = reader.name("pool")) route.pool = std::move(*pool);
  reader.reportUnknownKeys();
  draft.config.routes.push_back(std::move(route));
  draft.route_pools.push_back(std::move(pool_origin));
}

}  // namespace

void readListenerEdge(TableReader& reader, ListenerDraft& draft) {
  if (reader.has("proxy_protocol")) draft.proxy_protocol = reader.originOf("proxy_protocol");
  if (auto mode = reader.choice(
          "proxy_protocol",
          [](std::string_view text) -> std::optional<bool> {
            if (text == "accept") return true;
            if (text == "off") return false;
            return std::nullopt;
          },
          kProxyModes)) {
    draft.config.proxy_accept = *mode;
  }
  if (auto trusted = readCidrList(reader, "proxy_trusted")) {
    draft.config.proxy_trusted = std::move(*trusted);
  }
  if (auto timeout = reader.duration("proxy_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.proxy_timeout = *timeout;
  }
  if (draft.config.proxy_accept && draft.config.proxy_trusted.empty() && draft.proxy_protocol) {
    reader.errors().add(*draft.proxy_protocol,
                        "proxy_protocol = \"accept\" needs proxy_trusted = [\"CIDR\", ...]: the "
                        "sources allowed to name another client (anyone else could forge one)");
  }
  if (const toml::array* routes = reader.array(
          "routes", R"(an array of tables like [{ sni = "api.example.com", pool = "api" }])")) {
    const Origin origin = reader.originOf("routes");
    for (std::size_t i = 0; i < routes->size(); ++i) {
      readRoute(*routes->get(i), indexKey(origin.key, i), draft, reader.errors());
    }
  }
  if (auto timeout = reader.duration("inspect_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.inspect_timeout = *timeout;
  }
  if (auto required = reader.boolean("tls_required")) draft.config.tls_required = *required;
}

}  // namespace l4lb::config
