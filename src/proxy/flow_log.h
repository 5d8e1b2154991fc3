#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/access_log.h"

namespace l4lb::proxy {

// Why a datagram flow ended: feeds the access log and a counter per reason.
enum class FlowEnd : std::uint8_t {
  kCompleted,    // the backend sent `responses` replies per client datagram
  kIdleTimeout,  // nothing either way for flow_idle_timeout
  kEvicted,      // the flow table was full and this was the oldest flow
  kNoBackend,    // every backend refused the flow (or none was up)
  kShutdown,     // l4lb stopped
  kHandedOver,   // binary upgrade: the new process carries on with it (not logged here)
  kCount,
};

[[nodiscard]] std::string_view flowEndName(FlowEnd reason);

// What the access log records of one finished flow: the stream record's fields, with
// datagram counts beside the byte counts.
struct FlowRecord {
  std::string_view listener;
  std::string_view client;
  std::string_view backend;  // empty when none was chosen
  std::uint64_t datagrams_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::int64_t duration_ms = 0;
  std::uint32_t attempts = 0;
  FlowEnd end = FlowEnd::kCompleted;
};

// Writes one JSON line for a finished flow to the access log (the same target and descriptor as
// the stream connections' lines).
void writeFlowRecord(const AccessLog& log, const FlowRecord& record);

}  // namespace l4lb::proxy
