#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "config/config.h"

namespace l4lb::proxy {

// max_connections of one pool's backends, counted across all workers: a connection takes a
// slot before it connects and gives it back when it ends. One relaxed atomic update each way,
// per connection, never per byte.
class BackendSlots {
 public:
  explicit BackendSlots(const config::PoolConfig& pool);
  BackendSlots(const BackendSlots&) = delete;
  BackendSlots& operator=(const BackendSlots&) = delete;

  // True when some backend of `pool` has max_connections.
  [[nodiscard]] static bool wanted(const config::PoolConfig& pool);

  // Takes a slot of `backend`, or answers false when it is full. Always true for a backend
  // without a limit (nothing is counted for it).
  [[nodiscard]] bool tryAcquire(std::uint32_t backend);
  void release(std::uint32_t backend);
  // Takes a slot even when the backend is full: a connection that already exists (handed over
  // by a binary upgrade) is counted, not refused.
  void acquireAnyway(std::uint32_t backend);
  // The pool's queue (its connections waiting for a slot, on every worker): a place in it, or
  // false when `max` are waiting already; leaveQueue() gives the place back.
  [[nodiscard]] bool tryEnterQueue(std::uint32_t max);
  void leaveQueue() { queued_.fetch_sub(1, std::memory_order_relaxed); }
  [[nodiscard]] std::uint32_t queued() const { return queued_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint32_t active(std::uint32_t backend) const {
    return slots_[backend].active.load(std::memory_order_relaxed);
  }

 private:
  struct Slot {
    std::uint32_t max = 0;
    std::atomic<std::uint32_t> active{0};
  };
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::uint32_t> queued_{0};
};

}  // namespace l4lb::proxy
