#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "balance/balancer.h"
#include "config/config.h"

namespace l4lb::proxy {

// An immutable view of one validated config and what is derived from it (balancer plans with
// their Maglev tables). Workers hold it by shared_ptr; a reload builds a new one and swaps it in.
// Weights are multiplied by this in pools with slow_start, so a ramp has steps to climb.
inline constexpr std::uint32_t kSlowStartScale = 100;

struct Snapshot {
  config::Config config;
  std::vector<std::shared_ptr<const balance::BalancerPlan>> plans;  // one per config.pools[i]

  [[nodiscard]] static std::shared_ptr<const Snapshot> build(config::Config config);
};

}  // namespace l4lb::proxy
