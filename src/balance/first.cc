#include "balance/first.h"

namespace l4lb::balance {

FirstBalancer::FirstBalancer(std::span<const BackendSlot> backends, std::uint64_t /*seed*/)
    : Balancer(backends) {}

std::uint32_t FirstBalancer::pick(const PickRequest& request) {
  for (std::uint32_t i = 0; i < size(); ++i) {
    if (eligible(i, request.exclude)) return i;
  }
  return kNoBackend;
}

}  // namespace l4lb::balance
