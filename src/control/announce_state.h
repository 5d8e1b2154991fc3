#pragma once

// Whether one VIP is announced (README.md, "Announcing VIPs"): a pure state machine, fed the
// conditions and the time by the control plane (app/announcer.h) and answering announced or
// withdrawn, and why. No sockets and no clock of its own, so its tests are plain.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"
#include "control/admin_state.h"
#include "control/health_snapshot.h"

namespace l4lb::control {

// The conditions of one VIP at one moment.
struct AnnounceInputs {
  bool serving = false;           // l4lb serves the listener (it is listening)
  std::uint32_t backends_up = 0;  // its pool's backends up and enabled
  std::uint32_t min_backends = 1;
  bool operator_withdrawn = false;  // the listener drained or disabled through the admin API
  bool stopping = false;            // l4lb is stopping (SIGTERM, SIGINT)
  // The pool's discover source has had an authoritative answer applied (always true for a pool
  // without one): until then its backends are not known, so the VIP is not announced. It only
  // holds an announcement back and never withdraws one: discovery errors never remove a
  // backend, and a real loss of backends is backends_up's to see.
  bool discovery_synced = true;
};

// Why a VIP is not announced, the first condition that fails in this order.
enum class WithdrawReason : std::uint8_t {
  kNone,                // announced
  kStopping,            // l4lb is stopping
  kOperator,            // drained or disabled through the admin API
  kNotServing,          // not listening (yet)
  kDiscoveryNotSynced,  // the pool's discover source has not answered with authority yet
  kTooFewBackends,      // fewer than min_backends up
  kHoldDown,            // healthy again, but not for the hold-down yet
};

// "stopping", "disabled", "not serving", "discovery not synced", "no backends up", "hold-down":
// the API's words.
[[nodiscard]] std::string_view withdrawReasonName(WithdrawReason reason);

struct AnnounceTiming {
  // How long a pool must have been healthy before its VIP is announced again after a
  // withdrawal for health; doubled on each withdrawal that follows an announcement younger than
  // hold_down_max (a flapping pool), up to hold_down_max; back to hold_down once announced for
  // hold_down_max.
  base::Duration hold_down = std::chrono::seconds(5);
  base::Duration hold_down_max = std::chrono::seconds(60);
};

class AnnounceState {
 public:
  explicit AnnounceState(AnnounceTiming timing) : timing_(timing), hold_down_(timing.hold_down) {}

  // Brings the decision up to date with `inputs` at `now_ms` (monotonic). Answers true when
  // announced() changed. Withdrawal is at once; announcement the first time the conditions
  // hold, and after a withdrawal for health only once they have held for the hold-down.
  bool update(const AnnounceInputs& inputs, std::int64_t now_ms);
  // Starts announced, as if it had been since `now_ms` (a binary upgrade's new process, which
  // finds the address on the interface already).
  void assumeAnnounced(std::int64_t now_ms);

  [[nodiscard]] bool announced() const { return announced_; }
  [[nodiscard]] WithdrawReason reason() const { return reason_; }
  // With kHoldDown: when the VIP will be announced if the pool stays healthy (monotonic ms).
  [[nodiscard]] std::int64_t holdDownUntil() const { return healthy_since_ + hold_down_.count(); }
  // The hold-down the next re-announcement waits for.
  [[nodiscard]] base::Duration holdDown() const { return hold_down_; }
  // Announcements and withdrawals so far.
  [[nodiscard]] std::uint64_t changes() const { return changes_; }

 private:
  static constexpr std::int64_t kNever = -1;

  AnnounceTiming timing_;
  base::Duration hold_down_;
  bool announced_ = false;
  WithdrawReason reason_ = WithdrawReason::kNotServing;
  // A withdrawal for health has happened (ever): each announcement from then on waits for the
  // pool to have been healthy for the hold-down.
  bool held_ = false;
  std::int64_t healthy_since_ = kNever;  // serving with enough backends up since
  std::int64_t announced_since_ = kNever;
  std::uint64_t changes_ = 0;
};

// How many of `pool`'s `backend_count` backends count towards announce_min_backends: up by the
// checks (every one, in a pool without checks) and enabled by the operator (`admin`: the pool's
// states; null or of another size: all enabled). A snapshot that does not cover the pool (null,
// or of another config) counts a checked pool's backends as not up.
[[nodiscard]] std::uint32_t backendsUp(const HealthSnapshot* health,
                                       const std::vector<AdminState>* admin, std::uint32_t pool,
                                       std::uint32_t backend_count, bool checked);

// One announced listener's state as the admin API and the metrics show it.
struct AnnounceView {
  std::string listener;
  std::string vip;  // "192.0.2.10", "2001:db8::10"
  bool announced = false;
  WithdrawReason reason = WithdrawReason::kNotServing;
  std::uint32_t backends_up = 0;
  std::uint32_t min_backends = 1;
  std::int64_t hold_down_until_unix_ms = 0;  // with kHoldDown
  std::int64_t hold_down_ms = 0;             // the hold-down the next re-announcement waits for
  std::uint64_t changes = 0;
  // With kDiscoveryNotSynced: the discover source's state and last message ("error: ...",
  // "starting").
  std::string discovery;
};

}  // namespace l4lb::control
