#include "admin/admin_state.h"

namespace l4lb::admin {

std::optional<control::AdminState> parseAdminAction(std::string_view action) {
  if (action == "enable") return control::AdminState::kEnabled;
  if (action == "drain") return control::AdminState::kDraining;
  if (action == "disable") return control::AdminState::kDisabled;
  return std::nullopt;
}

std::string_view adminStateName(control::AdminState state) {
  switch (state) {
    case control::AdminState::kEnabled: return "enabled";
    case control::AdminState::kDraining: return "draining";
    case control::AdminState::kDisabled: return "disabled";
  }
  return "enabled";
}

std::string_view shownStateName(control::AdminState admin, control::BackendState health,
                                bool checked) {
  if (admin == control::AdminState::kDraining) return "draining";
  if (admin == control::AdminState::kDisabled) return "disabled";
  if (!checked) return "up";
  switch (health) {
    case control::BackendState::kUp: return "up";
    case control::BackendState::kDown: return "down";
    default: return "unknown";
  }
}

}  // namespace l4lb::admin
