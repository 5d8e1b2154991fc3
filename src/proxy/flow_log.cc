#include "proxy/flow_log.h"

#include <fmt/format.h>

#include <string>

#include "proxy/access_log.h"

namespace l4lb::proxy {

std::string_view flowEndName(FlowEnd reason) {
  switch (reason) {
    case FlowEnd::kCompleted: return "completed";
    case FlowEnd::kIdleTimeout: return "idle-timeout";
    case FlowEnd::kEvicted: return "evicted";
    case FlowEnd::kNoBackend: return "no-backend";
    case FlowEnd::kShutdown: return "shutdown";
    case FlowEnd::kHandedOver: return "handed-over";
    case FlowEnd::kCount: break;
  }
  return "unknown";
}

void writeFlowRecord(const AccessLog& log, const FlowRecord& record) {
  if (!log.enabled()) return;
  std::string line = AccessLog::beginLine(record.listener, record.client, record.backend);
  line += fmt::format(
      ",\"datagrams_in\":{},\"datagrams_out\":{},\"bytes_in\":{},\"bytes_out\":{},"
      "\"duration_ms\":{},\"attempts\":{},\"end\":\"{}\"}}\n",
      record.datagrams_in, record.datagrams_out, record.bytes_in, record.bytes_out,
      record.duration_ms, record.attempts, flowEndName(record.end));
  log.writeLine(line);
}

}  // namespace l4lb::proxy
