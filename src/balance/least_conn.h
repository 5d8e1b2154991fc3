#pragma once

#include <cstdint>
#include <span>

#include "balance/balancer.h"

namespace l4lb::balance {

// The eligible backend with the fewest active connections per unit of weight. Ratios are compared
// by cross-multiplying (active_i * weight_j < active_j * weight_i) in 64 bits: exact, no floating
// point. Among equally loaded backends the scan starts just after the previous pick, so ties
// (typically everything at zero when connections are short) rotate instead of piling onto the
// first backend.
class LeastConnBalancer final : public Balancer {
 public:
  // The first scan starts at `seed mod size`, so workers do not all favour backend 0.
  LeastConnBalancer(std::span<const BackendSlot> backends, std::uint64_t seed);

  [[nodiscard]] std::uint32_t pick(const PickRequest& request) override;

 private:
  std::uint32_t start_ = 0;
};

}  // namespace l4lb::balance
