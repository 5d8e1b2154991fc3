#include "balance/backend_health.h"

#include <algorithm>
#include <utility>

#include "base/log.h"

namespace l4lb::balance {

BackendHealth::BackendHealth(Options options, Balancer& balancer, std::vector<std::string> names,
                             std::int64_t now)
    : options_(std::move(options)),
      balancer_(balancer),
      names_(std::move(names)),
      backends_(balancer.size()) {
  for (std::uint32_t i = 0; i < backends_.size(); ++i) {
    backends_[i].full_weight = balancer_.weight(i);
    backends_[i].active_up = !options_.active_checks;
    apply(i, now);
  }
}

std::uint32_t BackendHealth::rampWeight(std::uint32_t backend, std::int64_t now) const {
  const Backend& b = backends_[backend];
  if (b.ramp_start < 0 || options_.slow_start_ms <= 0) return b.full_weight;
  const std::int64_t elapsed = now - b.ramp_start;
  if (elapsed >= options_.slow_start_ms) return b.full_weight;
  // From ~0 to full; never 0, which would make the backend ineligible rather than light.
  const auto weight =
      static_cast<std::uint32_t>(std::uint64_t{b.full_weight} *
                                 static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed, 0)) /
                                 static_cast<std::uint64_t>(options_.slow_start_ms));
  return std::max<std::uint32_t>(weight, 1);
}

void BackendHealth::apply(std::uint32_t backend, std::int64_t now) {
  Backend& b = backends_[backend];
  const bool up = b.active_up && b.admin_allowed && !b.ejected;
  if (up && b.ramp_pending) {
    b.ramp_pending = false;
    b.ramp_start = now;
  }
  if (b.ramp_start >= 0 && now - b.ramp_start >= options_.slow_start_ms) b.ramp_start = -1;
  balancer_.setUp(backend, up);
  balancer_.setWeight(backend, rampWeight(backend, now));
}

void BackendHealth::setActiveUp(std::uint32_t backend, bool up, bool ramp, std::int64_t now) {
  Backend& b = backends_[backend];
  if (up && !b.active_up && ramp && options_.slow_start_ms > 0) {
    b.ramp_pending = true;
  }
  b.active_up = up;
  apply(backend, now);
}

void BackendHealth::setAdminAllowed(std::uint32_t backend, bool allowed, std::int64_t now) {
  backends_[backend].admin_allowed = allowed;
  apply(backend, now);
}

void BackendHealth::setFullWeight(std::uint32_t backend, std::uint32_t weight, std::int64_t now) {
  backends_[backend].full_weight = weight;
  apply(backend, now);
}

bool BackendHealth::onOutcome(std::uint32_t backend, bool connected, std::int64_t now,
                              Failure failure) {
  Backend& b = backends_[backend];
  if (!connected) {
    if (failure == Failure::kReset) {
      balancer_.onReset(backend);
    } else {
      balancer_.onConnectFailure(backend);
    }
  }
  if (connected) {
    b.failures = 0;
    if (b.probation) {
      b.probation = false;
      b.ejections = 0;
    }
    return false;
  }
  // Failures of connects begun before the ejection say nothing new.
  if (options_.eject_after == 0 || b.ejected) return false;
  ++b.failures;
  if (!b.probation && b.failures < options_.eject_after) return false;
  const bool was_probation = b.probation;
  ++b.ejections;
  ++ejections_;
  balancer_.counters(backend).ejections.add();
  const std::uint32_t doublings = std::min<std::uint32_t>(b.ejections - 1, 20);
  const std::int64_t duration =
      std::min<std::int64_t>(options_.eject_for_ms << doublings, kMaxEjectionMs);
  b.ejected = true;
  b.probation = false;
  b.ejected_until = now + duration;
  base::logWarn("pool \"{}\" backend {}: ejected for {} ms after {} ({} ejection in a row)",
                options_.pool, names_[backend], duration,
                was_probation
                    ? "failing on probation"
                    : std::to_string(b.failures) +
                          (options_.datagram ? " consecutive refusals (ICMP unreachable or send "
                                               "errors)"
                                             : " consecutive connect failures or resets"),
                b.ejections);
  b.failures = 0;
  if (options_.slow_start_ms > 0) b.ramp_pending = true;
  apply(backend, now);
  return true;
}

void BackendHealth::tick(std::int64_t now) {
  for (std::uint32_t i = 0; i < backends_.size(); ++i) {
    Backend& b = backends_[i];
    if (b.ejected && now >= b.ejected_until && b.active_up) {
      b.ejected = false;
      b.probation = true;
      base::logInfo("pool \"{}\" backend {}: readmitted on probation after ejection", options_.pool,
                    names_[i]);
      apply(i, now);
    } else if (b.ramp_start >= 0) {
      apply(i, now);
    }
  }
}

}  // namespace l4lb::balance
