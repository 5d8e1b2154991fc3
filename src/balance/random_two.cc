#include "balance/random_two.h"

#include "balance/hash64.h"

namespace l4lb::balance {

RandomTwoBalancer::RandomTwoBalancer(std::span<const BackendSlot> backends, std::uint64_t seed)
    : Balancer(backends), state_(seed) {}

std::uint64_t RandomTwoBalancer::next() {
  state_ += kGoldenGamma;
  return mix64(state_);
}

std::uint32_t RandomTwoBalancer::locate(std::uint64_t point, std::uint32_t skip,
                                        std::span<const std::uint32_t> exclude) const {
  for (std::uint32_t i = 0; i < size(); ++i) {
    if (i == skip || !eligible(i, exclude)) continue;
    if (point < weights_[i]) return i;
    point -= weights_[i];
  }
  return kNoBackend;  // unreachable while point < the eligible total
}

std::uint32_t RandomTwoBalancer::pick(const PickRequest& request) {
  std::uint64_t total = 0;
  std::uint32_t count = 0;
  std::uint32_t only = kNoBackend;
  for (std::uint32_t i = 0; i < size(); ++i) {
    if (!eligible(i, request.exclude)) continue;
    total += weights_[i];
    ++count;
    only = i;
  }
  if (count <= 1) return only;

  // Modulo bias is at most total / 2^64: far below anything a load balancer could notice.
  const std::uint32_t a = locate(next() % total, kNoBackend, request.exclude);
  const std::uint32_t b = locate(next() % (total - weights_[a]), a, request.exclude);
  const bool b_less_loaded =
      std::uint64_t{active_[b]} * weights_[a] < std::uint64_t{active_[a]} * weights_[b];
  return b_less_loaded ? b : a;
}

}  // namespace l4lb::balance
