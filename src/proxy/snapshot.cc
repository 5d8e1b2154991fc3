#include "proxy/snapshot.h"

namespace l4lb::proxy {

std::uint32_t weightScale(const config::PoolConfig& pool) {
  const bool ramps = pool.slow_start.count() > 0 && pool.balance != balance::Algorithm::kMaglev;
  return ramps ? kSlowStartScale : 1U;
}

std::vector<balance::BackendSlot> balancerSlots(const config::PoolConfig& pool,
                                                std::span<const std::uint32_t> weights) {
  const std::uint32_t scale = weightScale(pool);
  std::vector<balance::BackendSlot> slots;
  slots.reserve(pool.backends.size());
  for (std::size_t b = 0; b < pool.backends.size(); ++b) {
    const auto& backend = pool.backends[b];
    const std::uint32_t weight = b < weights.size() ? weights[b] : backend.weight;
    slots.push_back({backend.name, weight * scale, backend.backup});
  }
  return slots;
}

std::shared_ptr<const Snapshot> Snapshot::build(config::Config config) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->plans.reserve(config.pools.size());
  for (const auto& pool : config.pools) {
    snapshot->plans.push_back(
        balance::makeBalancerPlan(pool.balance, balancerSlots(pool), pool.maglev_table_size));
  }
  snapshot->config = std::move(config);
  return snapshot;
}

}  // namespace l4lb::proxy
