#include "control/health_verdicts.h"

#include <string>

namespace l4lb::control {

namespace {

constexpr std::string_view kAgentPrefix = "agent: ";

// Combines the two verdicts of one backend anew; true (and the change recorded) when its state
// is not what it was.
bool recombine(HealthSnapshot& states, std::uint32_t pool, std::uint32_t backend,
               std::string reason, std::int64_t unix_ms) {
  BackendState& state = states.pools[pool][backend];
  const BackendState now =
      combinedState(states.checks[pool][backend], states.agents[pool][backend].state);
  if (now == state) return false;
  states.changes[pool][backend] = StateChange{state, now, std::move(reason), unix_ms};
  state = now;
  return true;
}

}  // namespace

BackendState combinedState(BackendState checks, BackendState agent) {
  if (agent == BackendState::kDown) return BackendState::kDown;
  return checks;
}

std::string agentReason(const AgentVerdict& agent) {
  return std::string(kAgentPrefix) + agent.said;
}

bool setChecksVerdict(HealthSnapshot& states, std::uint32_t pool, std::uint32_t backend,
                      BackendState checks, std::string_view reason, std::int64_t unix_ms) {
  states.checks[pool][backend] = checks;
  return recombine(states, pool, backend, std::string(reason), unix_ms);
}

bool setAgentVerdict(HealthSnapshot& states, std::uint32_t pool, std::uint32_t backend,
                     AgentVerdict agent, std::int64_t unix_ms) {
  AgentVerdict& before = states.agents[pool][backend];
  const bool renewed_down =
      before.state == BackendState::kDown && agent.state == BackendState::kDown;
  before = std::move(agent);
  if (recombine(states, pool, backend, agentReason(before), unix_ms)) return true;
  StateChange& change = states.changes[pool][backend];
  if (renewed_down && change.to == BackendState::kDown && change.reason.starts_with(kAgentPrefix)) {
    change.reason = agentReason(before);
  }
  return false;
}

}  // namespace l4lb::control
