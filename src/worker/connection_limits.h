#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace l4lb::worker {

// [global] max_connections and [[listener]] max_connections: open client connections counted
// across all workers. A worker takes a slot before each accept and gives it back when the
// session ends; at a limit it stops accepting, and the connections wait in the kernel's listen
// backlog (not accepted and dropped). One atomic update per connection, none per byte.
class ConnectionLimits {
 public:
  // 0: no limit. `listener_max[i]` for listener i.
  ConnectionLimits(std::uint32_t global_max, const std::vector<std::uint32_t>& listener_max);
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  // True when listener `listener` has any limit (global or its own) to respect.
  [[nodiscard]] bool limits(std::uint32_t listener) const {
    return global_max_ > 0 || listeners_[listener].max > 0;
  }
  // Takes a slot, or answers false (and takes nothing) at a limit.
  [[nodiscard]] bool tryAcquire(std::uint32_t listener);
  void release(std::uint32_t listener);
  // Takes a slot past any limit: for a connection that exists already (binary upgrade).
  void acquireAnyway(std::uint32_t listener);

  [[nodiscard]] std::uint32_t active(std::uint32_t listener) const {
    return listeners_[listener].active.load(std::memory_order_relaxed);
  }

 private:
  struct Listener {
    std::uint32_t max = 0;
    std::atomic<std::uint32_t> active{0};
  };
  std::uint32_t global_max_;
  std::atomic<std::uint32_t> global_active_{0};
  std::unique_ptr<Listener[]> listeners_;
};

}  // namespace l4lb::worker
