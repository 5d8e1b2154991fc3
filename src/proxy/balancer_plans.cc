#include "proxy/balancer_plans.h"

#include "balance/maglev.h"

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
    slots.push_back({backend.name, weight * scale, backend.backup, backend.address.url});
  }
  return slots;
}

std::vector<std::shared_ptr<const balance::BalancerPlan>> planPools(const config::Config& config) {
  std::vector<std::shared_ptr<const balance::BalancerPlan>> plans;
  plans.reserve(config.pools.size());
  for (const auto& pool : config.pools) {
    plans.push_back(
        balance::makeBalancerPlan(pool.balance, balancerSlots(pool), pool.maglev_table_size));
  }
  return plans;
}

std::vector<std::shared_ptr<const balance::MaglevTable>> maglevTables(
    std::span<const std::shared_ptr<const balance::BalancerPlan>> plans) {
  std::vector<std::shared_ptr<const balance::MaglevTable>> tables;
  tables.reserve(plans.size());
  for (const auto& plan : plans) {
    const auto* maglev = dynamic_cast<const balance::MaglevPlan*>(plan.get());
    tables.push_back(maglev != nullptr ? maglev->sharedTable() : nullptr);
  }
  return tables;
}

}  // namespace l4lb::proxy
