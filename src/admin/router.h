#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/controller.h"
#include "base/result.h"

namespace l4lb::admin {

// One HTTP request as the router needs it.
struct ApiRequest {
  std::string_view method;
  std::string_view target;  // path and query as sent, still percent-encoded
  std::string_view body;
  bool may_change = true;  // false: a tcp:// listener without the right Bearer token
  bool over_unix = true;   // a unix:// listener: only there can descriptors be passed
};

// The routes of /api/v1 (README.md, "Admin API"), mapped to the controller:
//   GET   /metrics (Prometheus text format)
//   GET   / and /dashboard/{file}: the dashboard's page and files (admin/dashboard_assets.h)
//   GET   /api/v1/dashboard: what the page polls
//   GET   /api/v1/status | /api/v1/listeners | /api/v1/pools | /api/v1/pools/{pool}
//   GET   /api/v1/pools/{pool}/lookup?client=IP[:PORT]
//   POST  /api/v1/reload | /api/v1/reload/dry-run | /api/v1/upgrade (unix:// listeners only)
//   PATCH /api/v1/pools/{pool}/backends/{name}   {"state": "drain"|"enable"|"disable",
//                                                  "weight": 1..10000}
// Segments are percent-decoded after the path is split, so a backend named by its address
// (tcp://10.0.0.1:80) is written tcp:%2F%2F10.0.0.1:80.
[[nodiscard]] ApiReply route(Controller& controller, const ApiRequest& request);

// The path's segments, each percent-decoded; nullopt when an escape is malformed or decodes to
// a NUL byte, or the path holds a raw space or control byte.
[[nodiscard]] std::optional<std::vector<std::string>> splitPath(std::string_view target);

// The percent-decoded value of the query parameter `name` of a request target ("" when it has
// no '='; as sent when an escape is malformed); nullopt when there is none.
[[nodiscard]] std::optional<std::string> queryValue(std::string_view target, std::string_view name);

// Parses a PATCH body; an error says what is wrong with it.
[[nodiscard]] base::Result<BackendChange> parseBackendChange(std::string_view body);

// Percent-encodes one path segment (what `l4lb ctl` sends).
[[nodiscard]] std::string encodeSegment(std::string_view segment);

inline constexpr std::uint32_t kMaxAdminWeight = 10000;

}  // namespace l4lb::admin
