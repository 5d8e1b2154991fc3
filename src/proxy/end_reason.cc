#include "proxy/end_reason.h"

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
    case EndReason::kEndedByAdmin: return "ended-by-admin";
    case EndReason::kCount: break;
  }
  return "unknown";
}

}  // namespace l4lb::proxy
