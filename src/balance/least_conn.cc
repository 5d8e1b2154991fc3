#include "balance/least_conn.h"

namespace l4lb::balance {

LeastConnBalancer::LeastConnBalancer(std::span<const BackendSlot> backends, std::uint64_t seed)
    : Balancer(backends),
      start_(backends.empty() ? 0 : static_cast<std::uint32_t>(seed % backends.size())) {}

std::uint32_t LeastConnBalancer::pick(const PickRequest& request) {
  const std::uint32_t n = size();
  std::uint32_t best = kNoBackend;
  for (std::uint32_t k = 0; k < n; ++k) {
    std::uint32_t i = start_ + k;
    if (i >= n) i -= n;
    if (!eligible(i, request.exclude)) continue;
    if (best == kNoBackend ||
        std::uint64_t{active_[i]} * weights_[best] < std::uint64_t{active_[best]} * weights_[i]) {
      best = i;
    }
  }
  if (best != kNoBackend) start_ = best + 1 == n ? 0 : best + 1;
  return best;
}

}  // namespace l4lb::balance
