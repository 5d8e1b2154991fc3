#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "balance/maglev_table.h"
#include "health/health_state.h"

namespace l4lb::admin {

// What an operator set on a backend through the admin API. Draining: no new connections or
// flows, open ones continue. Disabled: the same, and its active checks are paused.
enum class AdminState : std::uint8_t { kEnabled, kDraining, kDisabled };

// The PATCH body's verbs: "enable", "drain", "disable".
[[nodiscard]] std::optional<AdminState> parseAdminAction(std::string_view action);
// "enabled", "draining", "disabled".
[[nodiscard]] std::string_view adminStateName(AdminState state);

// Whether a worker may give a backend new connections: an operator's state and the checks'
// verdict are independent, and both must allow it (ejection, per worker, is the third).
[[nodiscard]] constexpr bool adminAllowsNew(AdminState state) {
  return state == AdminState::kEnabled;
}

// The state a backend shows in the API: an operator's draining or disabled wins over the checks'
// verdict; otherwise "up", "down", or "unknown" before its first check. `checked`: its pool has
// active checks (without them a backend is up).
[[nodiscard]] std::string_view shownStateName(AdminState admin, health::BackendState health,
                                              bool checked);

// The operator's view of every backend, published to each worker as one immutable value per
// change (as health::HealthSnapshot is), so the data path takes no lock.
struct AdminSnapshot {
  std::uint64_t version = 0;
  std::vector<std::vector<AdminState>> states;      // [pool][backend]
  std::vector<std::vector<std::uint32_t>> weights;  // [pool][backend], as in the config's units
  // Maglev pools whose weights were changed: the table rebuilt for them (null: the config's).
  std::vector<std::shared_ptr<const balance::MaglevTable>> maglev_tables;  // [pool]
};

}  // namespace l4lb::admin
