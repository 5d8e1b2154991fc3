#include "health/health_state.h"

namespace l4lb::health {

std::string_view backendStateName(BackendState state) {
  switch (state) {
    case BackendState::kUnknown: return "unknown";
    case BackendState::kUp: return "up";
    case BackendState::kDown: return "down";
    case BackendState::kDraining: return "draining";
    case BackendState::kDisabled: return "disabled";
  }
  return "unknown";
}

bool RiseFallCounter::record(bool success) {
  const BackendState wanted = success ? BackendState::kUp : BackendState::kDown;
  if (state_ == BackendState::kUnknown) {
    state_ = wanted;
    streak_ = 0;
    return true;
  }
  if (state_ == wanted) {
    streak_ = 0;
    return false;
  }
  ++streak_;
  if (streak_ < (success ? rise_ : fall_)) return false;
  state_ = wanted;
  streak_ = 0;
  return true;
}

}  // namespace l4lb::health
