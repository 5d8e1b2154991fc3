#include "admin/admin_state.h"

namespace l4lb::admin {

std::optional<AdminState> parseAdminAction(std::string_view action) {
  if (action == "enable") return AdminState::kEnabled;
  if (action == "drain") return AdminState::kDraining;
  if (action == "disable") return AdminState::kDisabled;
  return std::nullopt;
}

std::string_view adminStateName(AdminState state) {
  switch (state) {
    case AdminState::kEnabled: return "enabled";
    case AdminState::kDraining: return "draining";
    case AdminState::kDisabled: return "disabled";
  }
  return "enabled";
}

std::string_view shownStateName(AdminState admin, health::BackendState health, bool checked) {
  if (admin == AdminState::kDraining) return "draining";
  if (admin == AdminState::kDisabled) return "disabled";
  if (!checked) return "up";
  switch (health) {
    case health::BackendState::kUp: return "up";
    case health::BackendState::kDown: return "down";
    default: return "unknown";
  }
}

}  // namespace l4lb::admin
