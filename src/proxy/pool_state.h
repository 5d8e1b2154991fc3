#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "balance/backend_health.h"
#include "balance/balancer.h"
#include "config/config.h"
#include "proxy/backend_slots.h"
#include "proxy/session_queue.h"

namespace l4lb::proxy {

// The worker side of a pool: its config, this worker's balancer for it, and what this worker
// knows of its backends' health (which feeds the balancer). Sessions and datagram flows of the
// pool pick their backends through it.
struct PoolState {
  const config::PoolConfig* config = nullptr;
  std::unique_ptr<balance::Balancer> balancer;
  std::unique_ptr<balance::BackendHealth> health;
  BackendSlots* slots = nullptr;       // shared by all workers; null when no backend has a limit
  SessionQueue queue;                  // this worker's connections waiting for a slot
  std::vector<std::uint32_t> exclude;  // scratch for picks that skip full backends
  // A session of this pool ended while others wait: the owner lets them retry after the batch.
  bool wake_queue = false;
};

}  // namespace l4lb::proxy
