#pragma once

// A reload as a transaction (docs/reload.md): prepareReload() does everything that can fail and
// changes nothing running; commitReload() switches the workers, the admin API's view and the
// health checks to what it prepared, and cannot fail. The line between them is a type: only a
// PreparedReload commits.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "admin/controller.h"
#include "base/fd.h"
#include "config/config.h"
#include "health/health_checker.h"
#include "worker/serving_config.h"
#include "worker/worker.h"

namespace l4lb::app {

// The active health checks; the admin thread pauses them through it, under the lock, while a
// reload on the main thread may replace the checker.
struct HealthChecks {
  std::mutex mutex;
  std::unique_ptr<health::HealthChecker> checker;  // null: no active checks
  // State changes seen by the checkers reloads retired: each config generation has its own
  // checker, the exit report counts them all.
  std::uint64_t retired_transitions = 0;

  // Every state change since l4lb started (under the lock).
  [[nodiscard]] std::uint64_t transitions() const {
    return retired_transitions + (checker ? checker->transitions() : 0);
  }
};

// The checker a config wants, not started; null when it has no active checks.
using CheckerFactory =
    std::function<std::unique_ptr<health::HealthChecker>(const config::Config& config)>;

struct Prepared;
struct ReloadTargets;

// A new config made ready to serve: its shared parts built, its new listeners bound, its checker
// initialised. Only prepareReload() makes one, and only commitReload() uses it.
class PreparedReload {
 public:
  PreparedReload(PreparedReload&&) = default;
  PreparedReload& operator=(PreparedReload&&) = default;

  [[nodiscard]] const config::Config& config() const { return serving_->config; }

 private:
  friend Prepared prepareReload(config::Config, const worker::ServingConfig&, std::size_t,
                                const CheckerFactory&);
  friend std::string commitReload(PreparedReload, ReloadTargets);
  PreparedReload() = default;

  std::shared_ptr<const worker::ServingConfig> serving_;
  std::vector<std::vector<base::Fd>> sockets_;  // [worker][listener]: new tcp://, udp://
  std::unique_ptr<health::HealthChecker> checker_;
};

// What prepareReload() answers: the reload, or why not.
struct Prepared {
  base::Result<PreparedReload> reload;
  std::vector<std::string> warnings;  // settings that need a restart, kept either way
};

// Readies `next` to replace `running` on `workers` workers; `make_checker` makes its checks.
// Touches nothing running: on failure the running config, workers and checks are as they were.
[[nodiscard]] Prepared prepareReload(config::Config next, const worker::ServingConfig& running,
                                     std::size_t workers, const CheckerFactory& make_checker);

// What a commit switches, all the server's.
struct ReloadTargets {
  std::shared_ptr<const worker::ServingConfig>& serving;
  HealthChecks& checks;
  const std::vector<std::unique_ptr<worker::Worker>>& workers;
  admin::Controller* controller;  // null: no admin API
};

// From here on nothing fails. Every worker gets its order (posted), the admin API's view and
// the checks move to the new config, the new checks starting from the states the old ones
// reached (carryHealth). Returns what changed, for the log ("listeners +a -b; ...").
[[nodiscard]] std::string commitReload(PreparedReload reload, ReloadTargets targets);

}  // namespace l4lb::app
