#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balance/balancer.h"

namespace l4lb::balance::testing {

// Backends named "backend-0", "backend-1", ... with the given weights.
inline std::vector<BackendSlot> weightedBackends(const std::vector<std::uint32_t>& weights) {
  std::vector<BackendSlot> backends;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    backends.push_back(BackendSlot{"backend-" + std::to_string(i), weights[i]});
  }
  return backends;
}

inline std::unique_ptr<Balancer> makeBalancer(Algorithm algorithm,
                                              const std::vector<std::uint32_t>& weights,
                                              std::uint64_t seed = 0) {
  return makeBalancerPlan(algorithm, weightedBackends(weights), kDefaultMaglevTableSize)
      ->instantiate(seed);
}

// A request for a flow with this hash and nothing excluded.
inline PickRequest hashed(std::uint64_t flow_hash) {
  PickRequest request;
  request.flow_hash = flow_hash;
  return request;
}

// The next `count` picks for requests with nothing excluded.
inline std::vector<std::uint32_t> pickSequence(Balancer& balancer, int count) {
  std::vector<std::uint32_t> picks;
  picks.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) picks.push_back(balancer.pick(PickRequest{}));
  return picks;
}

// How many of `picks` picks went to each backend.
inline std::vector<int> countPicks(Balancer& balancer, int picks, const PickRequest& request = {}) {
  std::vector<int> counts(balancer.size(), 0);
  for (int i = 0; i < picks; ++i) {
    const std::uint32_t backend = balancer.pick(request);
    if (backend == kNoBackend) continue;
    ++counts[backend];
  }
  return counts;
}

}  // namespace l4lb::balance::testing
