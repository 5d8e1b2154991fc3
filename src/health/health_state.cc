#include "health/health_state.h"

namespace l4lb::health {

bool RiseFallCounter::record(bool success) {
  const control::BackendState wanted =
      success ? control::BackendState::kUp : control::BackendState::kDown;
  if (state_ == control::BackendState::kUnknown) {
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
