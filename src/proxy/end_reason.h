#pragma once

#include <cstdint>
#include <string_view>

namespace l4lb::proxy {

// Why a proxied connection ended: feeds the access log and a counter per reason.
enum class EndReason : std::uint8_t {
  kCompleted,     // both directions finished with EOF
  kClientReset,   // client reset or errored; the backend was reset too
  kBackendReset,  // backend reset or errored; the client was reset too
  kIdleTimeout,   // no traffic either way for idle_timeout
  kNoBackend,     // every connect attempt failed, or no backend was up
  kShutdown,      // shutdown_grace ran out
  kQueueTimeout,  // every eligible backend stayed at max_connections for queue_timeout
  kCount,
};

[[nodiscard]] std::string_view endReasonName(EndReason reason);

}  // namespace l4lb::proxy
