#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace l4lb::health {

// A backend's state as the active checks (and, later, the admin API) see it. Draining (no new
// connections, open ones continue) and disabled are set by an operator, never by a check.
enum class BackendState : std::uint8_t { kUnknown, kUp, kDown, kDraining, kDisabled };

[[nodiscard]] std::string_view backendStateName(BackendState state);

// Rise/fall hysteresis: `rise` consecutive successes bring a backend up, `fall` consecutive
// failures take it down. The very first result decides at once, so l4lb does not wait rise x
// interval after starting before it sends any traffic.
class RiseFallCounter {
 public:
  RiseFallCounter(std::uint32_t rise, std::uint32_t fall) : rise_(rise), fall_(fall) {}

  // Returns true when this result changed the state.
  bool record(bool success);

  [[nodiscard]] BackendState state() const { return state_; }
  // Starts from a state known before (a reload carries it over).
  void seed(BackendState state) {
    state_ = state;
    streak_ = 0;
  }

 private:
  std::uint32_t rise_;
  std::uint32_t fall_;
  std::uint32_t streak_ = 0;  // consecutive results against the current state
  BackendState state_ = BackendState::kUnknown;
};

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

}  // namespace l4lb::health
