#pragma once

#include <cstdint>

#include "control/health_snapshot.h"

namespace l4lb::health {

// Rise/fall hysteresis: `rise` consecutive successes bring a backend up, `fall` consecutive
// failures take it down. The very first result decides at once, so l4lb does not wait rise x
// interval after starting before it sends any traffic.
class RiseFallCounter {
 public:
  RiseFallCounter(std::uint32_t rise, std::uint32_t fall) : rise_(rise), fall_(fall) {}

  // Returns true when this result changed the state.
  bool record(bool success);

  [[nodiscard]] control::BackendState state() const { return state_; }
  // Starts from a state known before (a reload carries it over).
  void seed(control::BackendState state) {
    state_ = state;
    streak_ = 0;
  }

 private:
  std::uint32_t rise_;
  std::uint32_t fall_;
  std::uint32_t streak_ = 0;  // consecutive results against the current state
  control::BackendState state_ = control::BackendState::kUnknown;
};

}  // namespace l4lb::health
