#pragma once

#include <cstdint>
#include <string_view>

namespace l4lb::proxy {

// Why a proxied connection ended: feeds the access log and a counter per reason.
enum class EndReason : std::uint8_t {
  kCompleted,       // both directions finished with EOF
  kClientReset,     // client reset or errored; the backend was reset too
  kBackendReset,    // backend reset or errored; the client was reset too
  kIdleTimeout,     // no traffic either way for idle_timeout
  kNoBackend,       // no backend was up to try (an empty or all-down pool)
  kShutdown,        // shutdown_grace ran out
  kQueueTimeout,    // every eligible backend stayed at max_connections for queue_timeout
  kBadProxyHeader,  // proxy_protocol = "accept": no valid header at the start
  kProxyTimeout,    // proxy_protocol = "accept": no whole header within proxy_timeout
  kRefused,         // allow/deny or a per-source limit, decided on the PROXY header's client
  kNotTls,          // tls_required: not TLS, or a malformed or oversized ClientHello
  kInspectTimeout,  // routes / tls_required: no whole ClientHello within inspect_timeout
  kHandedOver,      // binary upgrade: the new process carries on with it (not logged here)
  kQueueFull,       // every eligible backend was at max_connections and queue_max were waiting
  kConnectFailed,   // backends were tried and no connect succeeded (the access log says each why)
  kEndedByAdmin,    // an operator ended it (DELETE /api/v1/sessions/{id}, ctl end-session)
  kCount,
};

[[nodiscard]] std::string_view endReasonName(EndReason reason);

// Why one backend attempt failed, for the access log: a short word for the errno the session
// recorded ("refused", "timeout", "reset", "empty-response", ...); otherwise the errno's name.
[[nodiscard]] std::string_view attemptFailureName(int error);

}  // namespace l4lb::proxy
