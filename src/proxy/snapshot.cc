#include "proxy/snapshot.h"

namespace l4lb::proxy {

std::shared_ptr<const Snapshot> Snapshot::build(config::Config config) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->plans.reserve(config.pools.size());
  for (const auto& pool : config.pools) {
    std::vector<balance::BackendSlot> slots;
    slots.reserve(pool.backends.size());
    for (const auto& backend : pool.backends) slots.push_back({backend.name, backend.weight});
    snapshot->plans.push_back(
        balance::makeBalancerPlan(pool.balance, std::move(slots), pool.maglev_table_size));
  }
  snapshot->config = std::move(config);
  return snapshot;
}

}  // namespace l4lb::proxy
