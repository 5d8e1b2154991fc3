#include "worker/connection_limits.h"

namespace l4lb::worker {

namespace {

// Increments `counter` unless that would pass `max` (0: no limit).
bool takeSlot(std::atomic<std::uint32_t>& counter, std::uint32_t max) {
  const std::uint32_t before = counter.fetch_add(1, std::memory_order_relaxed);
  if (max == 0 || before < max) return true;
  counter.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

}  // namespace

ConnectionLimits::ConnectionLimits(std::uint32_t global_max,
                                   const std::vector<std::uint32_t>& listener_max)
    : global_max_(global_max), listeners_(std::make_unique<Listener[]>(listener_max.size())) {
  for (std::size_t i = 0; i < listener_max.size(); ++i) listeners_[i].max = listener_max[i];
}

bool ConnectionLimits::tryAcquire(std::uint32_t listener) {
  if (!takeSlot(global_active_, global_max_)) return false;
  if (takeSlot(listeners_[listener].active, listeners_[listener].max)) return true;
  global_active_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void ConnectionLimits::acquireAnyway(std::uint32_t listener) {
  global_active_.fetch_add(1, std::memory_order_relaxed);
  listeners_[listener].active.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionLimits::release(std::uint32_t listener) {
  global_active_.fetch_sub(1, std::memory_order_relaxed);
  listeners_[listener].active.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace l4lb::worker
