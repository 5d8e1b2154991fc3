#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace l4lb::proxy {

// One open stream connection as `ctl sessions` (GET /api/v1/sessions) shows it, taken on its
// worker's thread (HAProxy's "show sess").
struct SessionView {
  std::uint64_t id = 0;  // unique in the process; DELETE /api/v1/sessions/{id} ends it
  std::string listener;
  std::string client;      // "192.0.2.7:51234", as in the access log
  std::string backend;     // the backend's name; empty while none is connected
  std::string_view state;  // "inspecting", "connecting", "queued", "proxying"
  std::int64_t age_ms = 0;
  std::uint64_t bytes_in = 0;   // client -> backend
  std::uint64_t bytes_out = 0;  // backend -> client
};

// A session's id: the worker's in the high bits, so an end request goes to that worker alone.
inline constexpr unsigned kSessionIdWorkerShift = 40;
[[nodiscard]] constexpr std::uint64_t sessionId(std::uint32_t worker, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(worker) << kSessionIdWorkerShift) | sequence;
}
[[nodiscard]] constexpr std::uint32_t sessionWorker(std::uint64_t id) {
  return static_cast<std::uint32_t>(id >> kSessionIdWorkerShift);
}

}  // namespace l4lb::proxy
