#include "discover/answer_gate.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace l4lb::discover {

namespace {

// Names in `before` that `after` lacks.
std::vector<std::string> removedNames(const config::DiscoveredSet& before,
                                      const config::DiscoveredSet& after) {
  std::set<std::string_view> kept;
  for (const auto& b : after.backends) kept.insert(b.address.url);
  std::vector<std::string> removed;
  for (const auto& b : before.backends) {
    if (!kept.contains(b.address.url)) removed.push_back(b.address.url);
  }
  return removed;
}

std::string describeCap(const config::RemovalCap& cap) {
  return cap.percent ? fmt::format("{}%", cap.value) : fmt::format("{}", cap.value);
}

}  // namespace

std::string_view verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kUnchanged: return "unchanged";
    case Verdict::kPending: return "pending";
    case Verdict::kHeldEmpty: return "held-empty";
    case Verdict::kHeldRemovals: return "held-removals";
    case Verdict::kError: return "error";
  }
  return "?";
}

AnswerGate::AnswerGate(config::DiscoverConfig config, std::optional<config::DiscoveredSet> applied)
    : config_(std::move(config)) {
  applied_.label = config_.label();
  if (applied && applied->label == applied_.label) applied_ = std::move(*applied);
}

GateOutcome AnswerGate::onAnswer(std::int64_t now, Answer answer) {
  if (answer.kind == AnswerKind::kError) {
    return GateOutcome{
        Verdict::kError,
        fmt::format("{}: {}; keeping the {} backend{} found before", applied_.label, answer.error,
                    applied_.backends.size(), applied_.backends.size() == 1 ? "" : "s")};
  }
  synced_ = true;
  config::DiscoveredSet next = std::move(answer.set);
  if (answer.kind == AnswerKind::kEmpty) next.backends.clear();
  next.label = applied_.label;
  next.sort();
  if (next.sameAs(applied_)) {
    pending_.reset();
    return GateOutcome{Verdict::kUnchanged, {}};
  }
  if (next.backends.empty()) {
    pending_.reset();
    return GateOutcome{Verdict::kHeldEmpty,
                       fmt::format("{}: empty answer held, not applied: keeping the {} backend{} "
                                   "found before",
                                   applied_.label, applied_.backends.size(),
                                   applied_.backends.size() == 1 ? "" : "s")};
  }
  const std::vector<std::string> removed = removedNames(applied_, next);
  const std::uint32_t allowed = config_.max_removed.allowed(applied_.backends.size());
  if (removed.size() > allowed) {
    pending_.reset();
    return GateOutcome{
        Verdict::kHeldRemovals,
        fmt::format("{}: answer held, not applied: it removes {} of {} backends ({}), more than "
                    "max_removed = \"{}\" allows ({})",
                    applied_.label, removed.size(), applied_.backends.size(),
                    fmt::join(removed, ", "), describeCap(config_.max_removed), allowed)};
  }
  if (!pending_ || !pending_->sameAs(next)) {
    if (!pending_) burst_began_ = now;
    const std::int64_t settle = config_.settle.count();
    deadline_ = std::min(now + settle, burst_began_ + kMaxSettles * settle);
    pending_ = std::move(next);
  }
  return GateOutcome{
      Verdict::kPending,
      fmt::format("{}: a change of {} backend{}, applied once it holds for {}", applied_.label,
                  pending_->backends.size(), pending_->backends.size() == 1 ? "" : "s",
                  base::formatDuration(config_.settle))};
}

std::optional<config::DiscoveredSet> AnswerGate::due(std::int64_t now) {
  if (!pending_ || now < deadline_) return std::nullopt;
  applied_ = std::move(*pending_);
  pending_.reset();
  return applied_;
}

std::optional<std::int64_t> AnswerGate::deadline() const {
  if (!pending_) return std::nullopt;
  return deadline_;
}

base::Duration refreshDelay(const config::DiscoverConfig& config, std::optional<base::Duration> ttl,
                            std::uint32_t errors) {
  if (errors > 0) {
    base::Duration delay = config.min_interval;
    for (std::uint32_t i = 1; i < errors && delay < config.interval; ++i) delay *= 2;
    return std::min(delay, config.interval);
  }
  return std::clamp(ttl.value_or(config.interval), config.min_interval, config.interval);
}

}  // namespace l4lb::discover
