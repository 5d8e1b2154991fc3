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

// Every backend's state, published to the workers as one immutable value per change.
struct HealthSnapshot {
  std::uint64_t version = 0;
  std::vector<std::vector<BackendState>> pools;  // [pool][backend]; empty for unchecked pools
  // Why each backend is in its state: the last state change's reason (the admin API shows it).
  std::vector<std::vector<std::string>> reasons;  // [pool][backend], as `pools`
};

// Before any check has run: every backend of a checked pool unknown ("no check yet"), unchecked
// pools empty. What a start, a reload and an upgrade fill in from what they know.
[[nodiscard]] HealthSnapshot uncheckedSnapshot(const config::Config& config, std::uint64_t version);

}  // namespace l4lb::control
