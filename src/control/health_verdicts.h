#pragma once

#include <cstdint>
#include <string_view>

#include "control/health_snapshot.h"

// A backend has two judges of whether it is up: its pool's active checks (if any) and its agent
// (if any; HAProxy's agent-check). These functions are the one place where their verdicts meet.
namespace l4lb::control {

// Up only when both say so: down when either says down, whatever the other says. An agent that
// has said neither up nor down (or cannot be reached) leaves the checks' verdict as it is, and a
// pool without active checks is "up" on their side. So an agent's "up" lifts only its own
// "down": it never brings up a backend whose active checks fail (HAProxy's rule).
[[nodiscard]] BackendState combinedState(BackendState checks, BackendState agent);

// Sets the active checks' verdict of backend [pool][backend] in `states` and combines it anew.
// True when the backend's state changed: states.changes[pool][backend] then holds the change
// with `reason`, stamped `unix_ms`. The version is the caller's to bump.
bool setChecksVerdict(HealthSnapshot& states, std::uint32_t pool, std::uint32_t backend,
                      BackendState checks, std::string_view reason, std::int64_t unix_ms);

// As setChecksVerdict, for the agent's verdict; a change's reason is "agent: " and what it said
// ("agent: down#disk full"). An agent that says down again with another description while the
// backend is down by its word renews that change's reason (not its time): the API shows what
// the agent says now.
bool setAgentVerdict(HealthSnapshot& states, std::uint32_t pool, std::uint32_t backend,
                     AgentVerdict agent, std::int64_t unix_ms);

// "agent: down#disk full": the reason of a change an agent's word made.
[[nodiscard]] std::string agentReason(const AgentVerdict& agent);

}  // namespace l4lb::control
