#pragma once

#include <cstdint>
#include <span>

#include "balance/balancer.h"

namespace l4lb::balance {

// Power of two choices (Mitzenmacher): draw two distinct eligible backends, each with probability
// proportional to its weight, and take the one with fewer active connections per unit of weight
// (the first drawn on a tie). Nearly as even as least-conn without every worker herding onto the
// same least-loaded backend, since each worker only sees its own counts.
class RandomTwoBalancer final : public Balancer {
 public:
  // `seed` seeds this instance's generator: a given seed replays the same picks.
  RandomTwoBalancer(std::span<const BackendSlot> backends, std::uint64_t seed);

  [[nodiscard]] std::uint32_t pick(const PickRequest& request) override;

 private:
  // splitmix64: one add and a mix per draw, 8 bytes of state, owned by one worker so no locks.
  std::uint64_t next();

  // The eligible backend (other than `skip`) in whose weight interval `point` falls.
  [[nodiscard]] std::uint32_t locate(std::uint64_t point, std::uint32_t skip,
                                     std::span<const std::uint32_t> exclude) const;

  std::uint64_t state_;
};

}  // namespace l4lb::balance
