#include "proxy/snapshot.h"

namespace l4lb::proxy {

std::shared_ptr<const Snapshot> Snapshot::build(config::Config config) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->plans.reserve(config.pools.size());
  for (const auto& pool : config.pools) {
    std::vector<balance::BackendSlot> slots;
    slots.reserve(pool.backends.size());
    // Slow start needs weights finer than the configured ones to ramp through (a weight of 1
    // cannot grow): they are scaled, which keeps every ratio. Maglev's table is fixed, so there
    // slow start only applies as 0 versus non-zero and the weights stay as written.
    const bool scaled = pool.slow_start.count() > 0 && pool.balance != balance::Algorithm::kMaglev;
    for (const auto& backend : pool.backends) {
      slots.push_back(
          {backend.name, backend.weight * (scaled ? kSlowStartScale : 1U), backend.backup});
    }
    snapshot->plans.push_back(
        balance::makeBalancerPlan(pool.balance, std::move(slots), pool.maglev_table_size));
  }
  snapshot->config = std::move(config);
  return snapshot;
}

}  // namespace l4lb::proxy
