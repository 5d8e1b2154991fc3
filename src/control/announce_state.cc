#include "control/announce_state.h"

#include <algorithm>

namespace l4lb::control {

std::string_view withdrawReasonName(WithdrawReason reason) {
  switch (reason) {
    case WithdrawReason::kNone: return "announced";
    case WithdrawReason::kStopping: return "stopping";
    case WithdrawReason::kOperator: return "disabled";
    case WithdrawReason::kNotServing: return "not serving";
    case WithdrawReason::kDiscoveryNotSynced: return "discovery not synced";
    case WithdrawReason::kTooFewBackends: return "no backends up";
    case WithdrawReason::kHoldDown: return "hold-down";
  }
  return "unknown";
}

bool AnnounceState::update(const AnnounceInputs& inputs, std::int64_t now_ms) {
  const bool pool_healthy = inputs.serving && inputs.backends_up >= inputs.min_backends;
  if (!pool_healthy) {
    healthy_since_ = kNever;
  } else if (healthy_since_ == kNever) {
    healthy_since_ = now_ms;
  }
  WithdrawReason blocked = WithdrawReason::kNone;
  if (inputs.stopping) {
    blocked = WithdrawReason::kStopping;
  } else if (inputs.operator_withdrawn) {
    blocked = WithdrawReason::kOperator;
  } else if (!inputs.serving) {
    blocked = WithdrawReason::kNotServing;
  } else if (!inputs.discovery_synced && !announced_) {
    // Before the pool's backends, as it explains them: a pool waiting for discovery often has
    // none yet.
    blocked = WithdrawReason::kDiscoveryNotSynced;
  } else if (!pool_healthy) {
    blocked = WithdrawReason::kTooFewBackends;
  }

  if (announced_) {
    if (blocked == WithdrawReason::kNone) {
      // Stable for the longest hold-down: no longer flapping.
      if (now_ms - announced_since_ >= timing_.hold_down_max.count()) {
        hold_down_ = timing_.hold_down;
      }
      return false;
    }
    announced_ = false;
    reason_ = blocked;
    ++changes_;
    // The operator's and the stop's withdrawals say nothing about the pool: no hold-down.
    if (blocked == WithdrawReason::kNotServing || blocked == WithdrawReason::kTooFewBackends) {
      const bool flapping = now_ms - announced_since_ < timing_.hold_down_max.count();
      if (held_ && flapping) hold_down_ = std::min(hold_down_ * 2, timing_.hold_down_max);
      held_ = true;
    }
    return true;
  }

  if (blocked != WithdrawReason::kNone) {
    reason_ = blocked;
    return false;
  }
  if (held_ && now_ms - healthy_since_ < hold_down_.count()) {
    reason_ = WithdrawReason::kHoldDown;
    return false;
  }
  announced_ = true;
  reason_ = WithdrawReason::kNone;
  announced_since_ = now_ms;
  ++changes_;
  return true;
}

void AnnounceState::assumeAnnounced(std::int64_t now_ms) {
  announced_ = true;
  reason_ = WithdrawReason::kNone;
  announced_since_ = now_ms;
}

std::uint32_t backendsUp(const HealthSnapshot* health, const std::vector<AdminState>* admin,
                         std::uint32_t pool, std::uint32_t backend_count, bool checked) {
  const std::vector<BackendState>* states = nullptr;
  if (checked) {
    if (health == nullptr || pool >= health->pools.size() ||
        health->pools[pool].size() != backend_count) {
      return 0;
    }
    states = &health->pools[pool];
  }
  const std::vector<AdminState>* admin_states =
      admin != nullptr && admin->size() == backend_count ? admin : nullptr;
  std::uint32_t up = 0;
  for (std::uint32_t b = 0; b < backend_count; ++b) {
    if (states != nullptr && (*states)[b] != BackendState::kUp) continue;
    if (admin_states != nullptr && !adminAllowsNew((*admin_states)[b])) continue;
    ++up;
  }
  return up;
}

}  // namespace l4lb::control
