#include "proxy/backend_slots.h"

namespace l4lb::proxy {

BackendSlots::BackendSlots(const config::PoolConfig& pool)
    : slots_(std::make_unique<Slot[]>(pool.backends.size())) {
  for (std::size_t i = 0; i < pool.backends.size(); ++i) {
    slots_[i].max = pool.backends[i].max_connections;
  }
}

bool BackendSlots::wanted(const config::PoolConfig& pool) {
  for (const auto& backend : pool.backends) {
    if (backend.max_connections > 0) return true;
  }
  return false;
}

bool BackendSlots::tryAcquire(std::uint32_t backend) {
  Slot& slot = slots_[backend];
  if (slot.max == 0) return true;
  if (slot.active.fetch_add(1, std::memory_order_relaxed) < slot.max) return true;
  slot.active.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

bool BackendSlots::tryEnterQueue(std::uint32_t max) {
  if (queued_.fetch_add(1, std::memory_order_relaxed) < max) return true;
  queued_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void BackendSlots::acquireAnyway(std::uint32_t backend) {
  Slot& slot = slots_[backend];
  if (slot.max != 0) slot.active.fetch_add(1, std::memory_order_relaxed);
}

void BackendSlots::release(std::uint32_t backend) {
  Slot& slot = slots_[backend];
  if (slot.max != 0) slot.active.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace l4lb::proxy
