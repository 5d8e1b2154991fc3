#include "control/health_snapshot.h"

namespace l4lb::control {

std::string_view backendStateName(BackendState state) {
  switch (state) {
    case BackendState::kUnknown: return "unknown";
    case BackendState::kUp: return "up";
    case BackendState::kDown: return "down";
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

}  // namespace l4lb::control
