#pragma once

// The safety rules every discover source's answers pass before they change a pool (README.md,
// "Discovery"), as pure logic over time stamps so each rule is unit-tested:
// - an error or a timeout never removes a backend: only an authoritative answer does (DNS:
//   NOERROR with records; NXDOMAIN and NODATA count as empty);
// - an empty answer, or one that would remove more than max_removed of the pool's discovered
//   backends at once, is held (logged, not applied) for as long as the source says so;
// - a change applies once it has held for `settle` (a burst of changes applies once, as its
//   last answer), and at the latest kMaxSettles settles after the burst began.

#include <cstdint>
#include <optional>
#include <string>

#include "config/discover_config.h"
#include "config/discovered.h"

namespace l4lb::discover {

enum class AnswerKind : std::uint8_t {
  kRecords,  // authoritative, with backends (which may still turn out empty)
  kEmpty,    // authoritative, nothing there: NXDOMAIN, NODATA, no keys
  kError,    // no answer to go by: timeout, SERVFAIL, refused, unreachable
};

struct Answer {
  AnswerKind kind = AnswerKind::kError;
  config::DiscoveredSet set;  // kRecords: the backends (sorted by the gate)
  std::string error;          // kError: why
};

// What one answer did.
enum class Verdict : std::uint8_t {
  kUnchanged,     // the same as what is applied (a pending change, if any, is dropped)
  kPending,       // a change, waiting to settle
  kHeldEmpty,     // empty while backends are applied: not applied
  kHeldRemovals,  // removes more than max_removed: not applied
  kError,         // nothing changes
};

[[nodiscard]] std::string_view verdictName(Verdict verdict);

struct GateOutcome {
  Verdict verdict = Verdict::kUnchanged;
  std::string message;  // for the log: what was held or pending, and why
};

class AnswerGate {
 public:
  static constexpr std::int64_t kMaxSettles = 5;

  // `applied`: the set a previous gate of the same source applied (a reload keeps it).
  AnswerGate(config::DiscoverConfig config, std::optional<config::DiscoveredSet> applied);

  // Judges the answer that arrived at `now` (milliseconds, any monotonic origin).
  GateOutcome onAnswer(std::int64_t now, Answer answer);

  // The change to apply at `now`, once settled; it is then the applied set.
  [[nodiscard]] std::optional<config::DiscoveredSet> due(std::int64_t now);

  // When the pending change settles; none when nothing is pending.
  [[nodiscard]] std::optional<std::int64_t> deadline() const;

  [[nodiscard]] const config::DiscoveredSet& applied() const { return applied_; }
  // An authoritative answer has been judged at least once.
  [[nodiscard]] bool synced() const { return synced_; }
  [[nodiscard]] const config::DiscoverConfig& config() const { return config_; }

 private:
  config::DiscoverConfig config_;
  config::DiscoveredSet applied_;
  std::optional<config::DiscoveredSet> pending_;
  std::int64_t burst_began_ = 0;
  std::int64_t deadline_ = 0;
  bool synced_ = false;
};

// How long after an answer the source is asked again: the records' TTL (none: `interval`)
// within [min_interval, interval]; after `errors` failures in a row, min_interval doubled per
// failure, at most interval.
[[nodiscard]] base::Duration refreshDelay(const config::DiscoverConfig& config,
                                          std::optional<base::Duration> ttl, std::uint32_t errors);

}  // namespace l4lb::discover
