#pragma once

#include <cstdint>
#include <optional>

#include "config/config.h"
#include "proto/tls_client_hello.h"

namespace l4lb::proxy {

// The pool of the first route the ClientHello matches (its server_name against the route's sni
// pattern, one of its ALPN names equal to the route's alpn; a route with both needs both), or
// nullopt when none does and the listener's own pool applies.
[[nodiscard]] std::optional<std::uint32_t> chooseRoute(const config::ListenerConfig& listener,
                                                       const proto::ClientHelloInfo& hello);

}  // namespace l4lb::proxy
