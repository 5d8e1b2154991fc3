#pragma once

#include <cstdint>
#include <span>

#include "balance/balancer.h"

namespace l4lb::balance {

// The first eligible backend in config order: active/backup pools, where later backends take
// traffic only while every earlier one is down (or already failed for this connection).
class FirstBalancer final : public Balancer {
 public:
  FirstBalancer(std::span<const BackendSlot> backends, std::uint64_t seed);

  [[nodiscard]] std::uint32_t pick(const PickRequest& request) override;
};

}  // namespace l4lb::balance
