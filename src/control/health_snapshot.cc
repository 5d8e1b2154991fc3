#include "control/health_snapshot.h"

#include <chrono>

namespace l4lb::control {

std::string_view backendStateName(BackendState state) {
  switch (state) {
    case BackendState::kUnknown: return "unknown";
    case BackendState::kUp: return "up";
    case BackendState::kDown: return "down";
  }
  return "unknown";
}

std::int64_t wallClockMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HealthSnapshot uncheckedSnapshot(const config::Config& config, std::uint64_t version) {
  HealthSnapshot states;
  states.version = version;
  states.pools.resize(config.pools.size());
  states.changes.resize(config.pools.size());
  states.checks.resize(config.pools.size());
  states.agents.resize(config.pools.size());
  for (std::size_t p = 0; p < config.pools.size(); ++p) {
    const auto& pool = config.pools[p];
    if (!pool.health && !pool.agent) continue;
    // Without active checks nothing is waited for: the agent can only take a backend down.
    const BackendState first = pool.health ? BackendState::kUnknown : BackendState::kUp;
    states.pools[p].assign(pool.backends.size(), first);
    states.changes[p].assign(pool.backends.size(), StateChange{});
    states.checks[p].assign(pool.backends.size(), first);
    states.agents[p].assign(pool.backends.size(), AgentVerdict{});
  }
  return states;
}

}  // namespace l4lb::control
