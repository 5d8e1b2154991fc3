#include "health/health_state.h"

namespace l4lb::health {

std::string_view backendStateName(BackendState state) {
  switch (state) {
    case BackendState::kUnknown: return "unknown";
    case BackendState::kUp: return "up";
    case BackendState::kDown: return "down";
    case BackendState::kDraining: return "draining";
    case BackendState::kDisabled: return "disabled";
  }
  return "unknown";
}

HealthSnapshot uncheckedSnapshot(const config::Config& config, std::uint64_t version) {
  HealthSnapshot states;
  states.version = version;
  states.pools.resize(config.pools.size());
  states.reasons.resize(config.pools.size());
  for (std::size_t p = 0; p < config.pools.size(); ++p) {
    const auto& pool = config.pools[p];
    if (!pool.health) continue;
    states.pools[p].assign(pool.backends.size(), BackendState::kUnknown);
    states.reasons[p].assign(pool.backends.size(), "no check yet");
  }
  return states;
}

bool RiseFallCounter::record(bool success) {
  const BackendState wanted = success ? BackendState::kUp : BackendState::kDown;
  if (state_ == BackendState::kUnknown) {
    state_ = wanted;
    streak_ = 0;
    return true;
  }
  if (state_ == wanted) {
    streak_ = 0;
    return false;
  }
  ++streak_;
  if (streak_ < (success ? rise_ : fall_)) return false;
  state_ = wanted;
  streak_ = 0;
  return true;
}

}  // namespace l4lb::health
