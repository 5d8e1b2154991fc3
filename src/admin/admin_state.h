#pragma once

#include <optional>
#include <string_view>

#include "control/admin_state.h"
#include "control/health_snapshot.h"

namespace l4lb::admin {

// The PATCH body's verbs: "enable", "drain", "disable".
[[nodiscard]] std::optional<control::AdminState> parseAdminAction(std::string_view action);
// "enabled", "draining", "disabled".
[[nodiscard]] std::string_view adminStateName(control::AdminState state);

// The state a backend shows in the API: an operator's draining or disabled wins over the checks'
// verdict; otherwise "up", "down", or "unknown" before its first check. `checked`: its pool has
// active checks or an agent (without either a backend is up).
[[nodiscard]] std::string_view shownStateName(control::AdminState admin,
                                              control::BackendState health, bool checked);

}  // namespace l4lb::admin
