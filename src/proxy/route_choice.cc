#include "proxy/route_choice.h"

#include <algorithm>

namespace l4lb::proxy {

std::optional<std::uint32_t> chooseRoute(const config::ListenerConfig& listener,
                                         const proto::ClientHelloInfo& hello) {
  for (const config::RouteConfig& route : listener.routes) {
    if (route.sni && (hello.server_name.empty() || !route.sni->matches(hello.server_name))) {
      continue;
    }
    if (!route.alpn.empty() &&
        std::find(hello.alpn.begin(), hello.alpn.end(), route.alpn) == hello.alpn.end()) {
      continue;
    }
    return route.pool_index;
  }
  return std::nullopt;
}

}  // namespace l4lb::proxy
