#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "balance/maglev_table.h"

namespace l4lb::control {

// What an operator set on a backend through the admin API. Draining: no new connections or
// flows, open ones continue. Disabled: the same, and its active checks are paused. The values are
// the binary upgrade's wire values too (upgrade/handoff_message.cc checks them).
enum class AdminState : std::uint8_t { kEnabled, kDraining, kDisabled };

// Whether a worker may give a backend new connections: an operator's state and the checks'
// verdict are independent, and both must allow it (ejection, per worker, is the third).
[[nodiscard]] constexpr bool adminAllowsNew(AdminState state) {
  return state == AdminState::kEnabled;
}

// The operator's view of every backend, published to each worker as one immutable value per
// change (as HealthSnapshot is), so the data path takes no lock.
struct AdminSnapshot {
  std::uint64_t version = 0;
  std::vector<std::vector<AdminState>> states;      // [pool][backend]
  std::vector<std::vector<std::uint32_t>> weights;  // [pool][backend], as in the config's units
  // Maglev pools whose weights were changed: the table rebuilt for them (null: the config's).
  std::vector<std::shared_ptr<const balance::MaglevTable>> maglev_tables;  // [pool]
};

}  // namespace l4lb::control
