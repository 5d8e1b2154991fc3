#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace l4lb::control {

// A backend's state as its active checks see it. An operator's draining and disabled are not
// here: they are AdminState, independent of the checks. The values are the binary upgrade's wire
// values too (upgrade/handoff_message.cc checks them).
enum class BackendState : std::uint8_t { kUnknown, kUp, kDown };

// "unknown", "up", "down": in the log and the admin API.
[[nodiscard]] std::string_view backendStateName(BackendState state);

// A backend's last change of state: when, and the verdict of the check that made it. Apart
// from the last check's result (CheckResult): a backend down for a role mismatch whose server
// then stops stays down, its change still says "role mismatch", its last check "refused".
struct StateChange {
  BackendState from = BackendState::kUnknown;
  BackendState to = BackendState::kUnknown;
  std::string reason;        // empty: no change yet
  std::int64_t unix_ms = 0;  // wall clock; 0: not known (carried over from before an upgrade)
};

// One active check's outcome, whether or not it changed the state (the admin API shows the
// last one of each backend).
struct CheckResult {
  bool up = false;
  std::string reason;        // "connected", "connect: Connection refused", a protocol's verdict
  std::int64_t unix_ms = 0;  // wall clock when it ended; 0: no check yet
  std::int64_t certificate_not_after = 0;  // https: the verified certificate's end, Unix s
};

// Milliseconds since the epoch, now: the time a StateChange or CheckResult is stamped with.
[[nodiscard]] std::int64_t wallClockMillis();

// What a backend's agent (the agent check) last said of its operating state: "up", or "down",
// "fail", "stopped" (all three down), with the description it gave.
struct AgentVerdict {
  BackendState state = BackendState::kUnknown;  // unknown: it has said neither up nor down
  std::string said;  // as it said it, "down#disk full": the reason of the change it makes

  bool operator==(const AgentVerdict&) const = default;
};

// Every backend's state, published to the workers as one immutable value per change.
struct HealthSnapshot {
  std::uint64_t version = 0;
  // [pool][backend]: what the workers pick by, the two judges below combined (combinedState in
  // control/health_verdicts.h); empty for pools with neither active checks nor an agent.
  std::vector<std::vector<BackendState>> pools;
  // How each backend came to its state: its last change (the admin API shows it).
  std::vector<std::vector<StateChange>> changes;  // [pool][backend], as `pools`
  // The judges apart, as `pools` (the workers need only `pools`; a reload carries these over):
  std::vector<std::vector<BackendState>> checks;  // the active checks'; up if the pool has none
  std::vector<std::vector<AgentVerdict>> agents;  // the agent's; unknown without an agent
};

// Before any check has run: every backend of a checked pool unknown (no change yet), of a pool
// with an agent but no active checks up, other pools empty. What a start, a reload and an
// upgrade fill in from what they know.
[[nodiscard]] HealthSnapshot uncheckedSnapshot(const config::Config& config, std::uint64_t version);

}  // namespace l4lb::control
