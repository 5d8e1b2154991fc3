#include "proxy/backend_attempts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>

#include "base/log.h"
#include "net/endpoint.h"
#include "proxy/client_address.h"

namespace l4lb::proxy {

void BackendAttempts::reset(PoolState& pool, std::uint64_t flow_hash) {
  pool_ = &pool;
  flow_hash_ = flow_hash;
  current_ = balance::kNoBackend;
  holding_ = false;
  count_ = 0;
}

std::uint32_t BackendAttempts::max() const {
  return std::min<std::uint32_t>(pool_->config->retries + 1,
                                 static_cast<std::uint32_t>(kMaxRecorded));
}

std::uint32_t BackendAttempts::pick(bool& saw_full) {
  balance::PickRequest request;
  request.flow_hash = flow_hash_;
  request.exclude = std::span<const std::uint32_t>(failed_.data(), count_);
  std::uint32_t index = pool_->balancer->pick(request);
  if (index == balance::kNoBackend || pool_->slots == nullptr || pool_->slots->tryAcquire(index)) {
    return index;
  }
  // Full backends are skipped like failed ones, without counting as attempts.
  auto& exclude = pool_->exclude;
  exclude.assign(failed_.begin(), failed_.begin() + count_);
  while (index != balance::kNoBackend) {
    saw_full = true;
    exclude.push_back(index);
    request.exclude = exclude;
    index = pool_->balancer->pick(request);
    if (index != balance::kNoBackend && pool_->slots->tryAcquire(index)) return index;
  }
  return balance::kNoBackend;
}

void BackendAttempts::begin(std::uint32_t index) {
  ++count_;
  current_ = index;
  holding_ = true;
  failed_[count_ - 1] = balance::kNoBackend;
  pool_->balancer->onConnectionOpened(index);
}

void BackendAttempts::fail(int error, std::int64_t now) {
  // Passive health: this worker's consecutive failures of a backend may eject it.
  if (pool_->health) (void)pool_->health->onOutcome(current_, false, now);
  failed_[count_ - 1] = current_;
  errors_[count_ - 1] = static_cast<std::uint8_t>(std::clamp(error, 0, 255));
  release();
}

void BackendAttempts::failHere(int error) {
  failed_[count_ - 1] = current_;
  errors_[count_ - 1] = static_cast<std::uint8_t>(std::clamp(error, 0, 255));
  release();
}

std::uint32_t BackendAttempts::pickReplacement(int error, std::int64_t now) {
  if (!left()) return balance::kNoBackend;
  // Recorded first, so the pick leaves it out.
  failed_[count_ - 1] = current_;
  errors_[count_ - 1] = static_cast<std::uint8_t>(std::clamp(error, 0, 255));
  bool saw_full = false;
  const std::uint32_t replacement = pick(saw_full);
  if (replacement == balance::kNoBackend) {
    failed_[count_ - 1] = balance::kNoBackend;
    return balance::kNoBackend;
  }
  if (pool_->health) {
    (void)pool_->health->onOutcome(current_, false, now, balance::BackendHealth::Failure::kReset);
  }
  release();
  return replacement;
}

void BackendAttempts::release() {
  if (holding_) {
    pool_->balancer->onConnectionClosed(current_);
    if (pool_->slots != nullptr) pool_->slots->release(current_);
  }
  holding_ = false;
  current_ = balance::kNoBackend;
}

void BackendAttempts::end(bool ok, std::int64_t now) {
  if (!holding_) return;
  // Passive health: a reset from the backend counts against it like a failed connect; any other
  // end of a connected session counts for it. (Not at connect time: a backend that accepts and
  // then resets every connection must still be ejected.)
  if (pool_->health) {
    (void)pool_->health->onOutcome(current_, ok, now, balance::BackendHealth::Failure::kReset);
  }
  endQuietly();
}

void BackendAttempts::endQuietly() {
  if (!holding_) return;
  const std::uint32_t backend = current_;  // kept for the access log
  release();
  current_ = backend;
}

void BackendAttempts::resume(std::uint8_t count, std::uint32_t backend) {
  count_ = std::min<std::uint8_t>(count, static_cast<std::uint8_t>(kMaxRecorded));
  // Why the old process's attempts failed did not come along.
  std::fill(failed_.begin(), failed_.begin() + count_, balance::kNoBackend);
  current_ = backend;
  if (backend == balance::kNoBackend) return;
  holding_ = true;
  pool_->balancer->onConnectionOpened(backend);
  // A connection that exists is counted, not refused, even where the backend is full now.
  if (pool_->slots != nullptr) pool_->slots->acquireAnyway(backend);
}

void BackendAttempts::logAllFailed(std::string_view listener, const ClientAddress& client,
                                   base::LogThrottle& throttle, std::int64_t now,
                                   const char* local_error) const {
  std::uint64_t suppressed = 0;
  if (!throttle.allow(now, suppressed)) return;
  std::string reasons;
  for (std::uint32_t i = 0; i < count_ && i < kMaxRecorded; ++i) {
    if (failed_[i] == balance::kNoBackend) continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += pool_->config->backends[failed_[i]].name;
    reasons += " (";
    reasons += std::strerror(errors_[i]);
    reasons += ")";
  }
  if (local_error != nullptr) {
    if (!reasons.empty()) reasons += ", then ";
    reasons += "no socket for the next attempt (";
    reasons += local_error;
    reasons += ")";
  }
  if (reasons.empty()) reasons = "no backend is up";
  std::string peer = net::formatSockaddr(&client.addr.sa, client.len);
  std::string held_back =
      suppressed == 0 ? "" : fmt::format(" ({} similar lines suppressed)", suppressed);
  base::logWarn("listener \"{}\" client {}: no backend of pool \"{}\" could be connected: {}{}",
                listener, peer, pool_->config->name, reasons, held_back);
}

}  // namespace l4lb::proxy
