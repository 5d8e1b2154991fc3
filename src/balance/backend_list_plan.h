#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "balance/balancer.h"

namespace l4lb::balance {

// The plan of an algorithm whose only fixed state is the backend list: each worker's instance is
// `B(backends, seed)`.
template <typename B>
class BackendListPlan final : public BalancerPlan {
 public:
  explicit BackendListPlan(std::vector<BackendSlot> backends) : backends_(std::move(backends)) {}

  [[nodiscard]] std::unique_ptr<Balancer> instantiate(std::uint64_t seed) const override {
    return std::make_unique<B>(backends_, seed);
  }

 private:
  std::vector<BackendSlot> backends_;
};

}  // namespace l4lb::balance
