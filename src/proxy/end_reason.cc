#include "proxy/end_reason.h"

#include <cerrno>
#include <cstring>

namespace l4lb::proxy {

std::string_view endReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kCompleted: return "completed";
    case EndReason::kClientReset: return "client-reset";
    case EndReason::kBackendReset: return "backend-reset";
    case EndReason::kIdleTimeout: return "idle-timeout";
    case EndReason::kNoBackend: return "no-backend";
    case EndReason::kShutdown: return "shutdown";
    case EndReason::kQueueTimeout: return "queue-timeout";
    case EndReason::kBadProxyHeader: return "bad-proxy-header";
    case EndReason::kProxyTimeout: return "proxy-timeout";
    case EndReason::kRefused: return "refused";
    case EndReason::kNotTls: return "not-tls";
    case EndReason::kInspectTimeout: return "inspect-timeout";
    case EndReason::kHandedOver: return "handed-over";
    case EndReason::kQueueFull: return "queue-full";
    case EndReason::kConnectFailed: return "connect-failed";
    case EndReason::kEndedByAdmin: return "ended-by-admin";
    case EndReason::kCount: break;
  }
  return "unknown";
}

std::string_view attemptFailureName(int error) {
  switch (error) {
    case ECONNREFUSED: return "refused";
    case ETIMEDOUT: return "timeout";
    case ECONNRESET: return "reset";
    case EHOSTUNREACH: return "host-unreachable";
    case ENETUNREACH: return "network-unreachable";
    // The session's own codes for a backend that connected but failed the replay window
    // (retry_on): closed before its first byte, or answered with a refusal.
    case ENODATA: return "empty-response";
    case EPROTO: return "refused-greeting";
    case 0: return "error";
    default: break;
  }
  // EADDRNOTAVAIL, EMFILE, ...: the errno's own name says it exactly.
  const char* name = ::strerrorname_np(error);
  return name != nullptr ? std::string_view(name) : std::string_view("error");
}

}  // namespace l4lb::proxy
