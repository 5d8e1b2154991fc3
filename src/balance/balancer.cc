#include "balance/balancer.h"

#include <algorithm>
#include <utility>

#include "balance/backend_list_plan.h"
#include "balance/first.h"
#include "balance/least_conn.h"
#include "balance/maglev.h"
#include "balance/random_two.h"
#include "balance/round_robin.h"

namespace l4lb::balance {

std::optional<Algorithm> parseAlgorithm(std::string_view name) {
  if (name == "round-robin") return Algorithm::kRoundRobin;
  if (name == "least-conn") return Algorithm::kLeastConn;
  if (name == "random-two") return Algorithm::kRandomTwo;
  if (name == "maglev") return Algorithm::kMaglev;
  if (name == "first") return Algorithm::kFirst;
  return std::nullopt;
}

std::string_view algorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kRoundRobin: return "round-robin";
    case Algorithm::kLeastConn: return "least-conn";
    case Algorithm::kRandomTwo: return "random-two";
    case Algorithm::kMaglev: return "maglev";
    case Algorithm::kFirst: return "first";
  }
  return "unknown";
}

Balancer::Balancer(std::span<const BackendSlot> backends)
    : active_(backends.size(), 0), up_(backends.size(), 1) {
  counters_.reserve(backends.size());
  for (std::size_t i = 0; i < backends.size(); ++i) {
    counters_.push_back(std::make_shared<BackendCounters>());
  }
  weights_.reserve(backends.size());
  backup_.reserve(backends.size());
  for (const BackendSlot& backend : backends) {
    weights_.push_back(backend.weight);
    backup_.push_back(backend.backup ? 1 : 0);
    if (!backend.backup) ++primaries_up_;
  }
  effective_weights_ = std::make_unique<std::atomic<std::uint32_t>[]>(backends.size());
  for (std::uint32_t b = 0; b < backends.size(); ++b) publishWeight(b);
}

void Balancer::setUp(std::uint32_t backend, bool up) {
  const std::uint8_t value = up ? 1 : 0;
  if (up_[backend] == value) return;
  up_[backend] = value;
  publishWeight(backend);
  if (backup_[backend] != 0) return;
  if (up) {
    ++primaries_up_;
  } else {
    --primaries_up_;
  }
}

bool Balancer::eligible(std::uint32_t backend, std::span<const std::uint32_t> exclude) const {
  // `exclude` holds the few backends one connection already tried, so a scan beats any set.
  return backend < size() && up_[backend] != 0 && weights_[backend] > 0 &&
         (backup_[backend] == 0 || primaries_up_ == 0) &&
         std::find(exclude.begin(), exclude.end(), backend) == exclude.end();
}

std::shared_ptr<const BalancerPlan> makeBalancerPlan(Algorithm algorithm,
                                                     std::vector<BackendSlot> backends,
                                                     std::uint32_t maglev_table_size) {
  switch (algorithm) {
    case Algorithm::kRoundRobin:
      return std::make_shared<BackendListPlan<RoundRobinBalancer>>(std::move(backends));
    case Algorithm::kLeastConn:
      return std::make_shared<BackendListPlan<LeastConnBalancer>>(std::move(backends));
    case Algorithm::kRandomTwo:
      return std::make_shared<BackendListPlan<RandomTwoBalancer>>(std::move(backends));
    case Algorithm::kMaglev:
      return std::make_shared<MaglevPlan>(std::move(backends), maglev_table_size);
    case Algorithm::kFirst:
      return std::make_shared<BackendListPlan<FirstBalancer>>(std::move(backends));
  }
  return std::make_shared<BackendListPlan<RoundRobinBalancer>>(std::move(backends));
}

}  // namespace l4lb::balance
