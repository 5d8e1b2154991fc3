#include "balance/round_robin.h"

#include <algorithm>

namespace l4lb::balance {

RoundRobinBalancer::RoundRobinBalancer(std::span<const BackendSlot> backends, std::uint64_t seed)
    : Balancer(backends), current_(backends.size(), 0) {
  std::uint64_t total = 0;
  for (const std::uint32_t weight : weights_) total += weight;
  if (total == 0) return;
  const std::uint64_t offset = seed % std::min(total, kMaxStartOffset);
  for (std::uint64_t i = 0; i < offset; ++i) (void)RoundRobinBalancer::pick(PickRequest{});
}

std::uint32_t RoundRobinBalancer::pick(const PickRequest& request) {
  std::int64_t total = 0;
  std::uint32_t best = kNoBackend;
  for (std::uint32_t i = 0; i < size(); ++i) {
    if (!eligible(i, request.exclude)) continue;
    current_[i] += weights_[i];
    total += weights_[i];
    // Strictly greater: ties go to the earlier backend, which makes the sequence reproducible.
    if (best == kNoBackend || current_[i] > current_[best]) best = i;
  }
  if (best != kNoBackend) current_[best] -= total;
  return best;
}

}  // namespace l4lb::balance
