#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"

namespace l4lb::balance {

// Smooth weighted round robin (nginx, ngx_http_upstream_get_peer): every pick each eligible
// backend's `current` grows by its weight, the largest wins and gives back the eligible total.
// Over any run of sum(weights) picks with the same eligible set each backend is chosen exactly
// `weight` times, and the heavy backend's turns are spread out: 5:1:1 gives a a b a c a a, not
// a a a a a b c.
//
// Ineligible backends (down, weight 0, excluded for this connection) neither gain nor win, and
// the total given back counts only eligible weights, so the sum of `current` stays zero and the
// others carry on their sequence; a backend that returns resumes where it stopped.
class RoundRobinBalancer final : public Balancer {
 public:
  // Instances start `seed mod sum(weights)` picks into the sequence, so workers made with
  // different seeds do not all send their first connection to the same backend.
  RoundRobinBalancer(std::span<const BackendSlot> backends, std::uint64_t seed);

  [[nodiscard]] std::uint32_t pick(const PickRequest& request) override;

 private:
  // Bounds the start-up walk for pools with very large weights; the offset still differs per seed.
  static constexpr std::uint64_t kMaxStartOffset = 4096;

  std::vector<std::int64_t> current_;
};

}  // namespace l4lb::balance
