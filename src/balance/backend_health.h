#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "balance/balancer.h"

namespace l4lb::balance {

// What one worker knows of the health of one pool's backends, and what it tells that worker's
// Balancer: the active checks' verdicts (published by the health thread), passive ejection from
// this worker's own connect outcomes (shared-nothing: each worker ejects on what it saw), and the
// slow-start weight ramp. Pure: every call is given the time, so tests drive it with any clock.
//
// A backend is picked when its active state is up and it is not ejected. Ejection lasts
// eject_for, doubling with each ejection up to kMaxEjection; then the backend is readmitted on
// probation (with active checks, only once they also say up): one more failure ejects it again
// with the doubled backoff, a success ends probation and resets the backoff.
class BackendHealth {
 public:
  struct Options {
    std::string pool;               // for log lines
    std::uint32_t eject_after = 0;  // 0: no passive ejection
    std::int64_t eject_for_ms = 10'000;
    std::int64_t slow_start_ms = 0;  // 0: no ramp
    bool active_checks = false;      // backends start down until their first check
    // A datagram pool: its failures are refusals (ICMP unreachable, send errors), said so in the
    // log, rather than connect failures and resets.
    bool datagram = false;
  };

  static constexpr std::int64_t kMaxEjectionMs = 5 * 60 * 1000;

  // `full_weights` and `names` are the plan's, in backend order. Applies the initial state to
  // `balancer`, which must outlive this object.
  BackendHealth(Options options, Balancer& balancer, std::vector<std::string> names,
                std::int64_t now);

  // The health thread's verdict. `ramp`: the backend came up from down (not from the unknown
  // state at startup), so slow start applies.
  void setActiveUp(std::uint32_t backend, bool up, bool ramp, std::int64_t now);

  // The operator's word (admin API): a backend that is not allowed takes no new connections
  // whatever its checks say; open ones are not touched.
  void setAdminAllowed(std::uint32_t backend, bool allowed, std::int64_t now);
  // The operator's new weight (in the plan's units). A slow-start ramp in progress climbs to it.
  void setFullWeight(std::uint32_t backend, std::uint32_t weight, std::int64_t now);
  [[nodiscard]] std::uint32_t fullWeight(std::uint32_t backend) const {
    return backends_[backend].full_weight;
  }

  // How a connection failed: its connect, or the backend after it was connected (a reset, or an
  // end before its first answer). Both count towards ejection; each has its own counter.
  enum class Failure : std::uint8_t { kConnect, kReset };
  // One connection's outcome on this worker: a failed connect or a reset from the backend is a
  // failure (`failure` says which), a connection that ended otherwise a success. For a datagram
  // pool, a flow refused by the backend (or whose send failed as unreachable) is a failure, and a
  // reply, or a flow that ended without a refusal, a success. Returns true when this failure
  // ejected the backend.
  bool onOutcome(std::uint32_t backend, bool connected, std::int64_t now,
                 Failure failure = Failure::kConnect);

  // Readmits backends whose ejection is over and moves slow-start ramps on. Call every ~100 ms
  // while needsTicks().
  void tick(std::int64_t now);
  [[nodiscard]] bool needsTicks() const {
    return options_.eject_after > 0 || options_.slow_start_ms > 0;
  }

  [[nodiscard]] bool ejected(std::uint32_t backend) const { return backends_[backend].ejected; }
  // Whether open flows may stay on `backend`: its checks say up and it is not ejected. Unlike
  // the balancer's isUp(), an operator's drain or disable does not matter here.
  [[nodiscard]] bool servesExisting(std::uint32_t backend) const {
    return backends_[backend].active_up && !backends_[backend].ejected;
  }
  [[nodiscard]] std::int64_t ejectedUntil(std::uint32_t backend) const {
    return backends_[backend].ejected_until;
  }
  [[nodiscard]] std::uint64_t ejections() const { return ejections_; }
  // The weight slow start allows at `now` (the full weight once the ramp is over).
  [[nodiscard]] std::uint32_t rampWeight(std::uint32_t backend, std::int64_t now) const;

 private:
  struct Backend {
    std::uint32_t full_weight = 1;
    bool active_up = true;
    bool admin_allowed = true;
    bool ejected = false;
    bool probation = false;
    std::uint32_t failures = 0;   // consecutive, since the last success or ejection
    std::uint32_t ejections = 0;  // since the last success after a readmission
    std::int64_t ejected_until = 0;
    std::int64_t ramp_start = -1;  // -1: no ramp in progress
    bool ramp_pending = false;     // ramp from when the backend is next up
  };

  void apply(std::uint32_t backend, std::int64_t now);

  Options options_;
  Balancer& balancer_;
  std::vector<std::string> names_;
  std::vector<Backend> backends_;
  std::uint64_t ejections_ = 0;
};

}  // namespace l4lb::balance
