#include "app/reload.h"

#include "admin/file_digest.h"
#include "app/serving_builder.h"
#include "base/log.h"
#include "proxy/balancer_plans.h"

namespace l4lb::app {

Prepared prepareReload(config::Config next, const worker::ServingConfig& running,
                       std::size_t workers, const CheckerFactory& make_checker) {
  std::vector<std::string> warnings = keepRestartOnlySettings(running.config, next);
  PreparedReload reload;
  UnlistenedSockets unlistened;
  auto bound = bindNewListeners(next, running.config, static_cast<unsigned>(workers),
                                reload.sockets_, unlistened);
  if (!bound) return Prepared{bound.error(), std::move(warnings)};
  auto serving = buildServing(std::move(next), &running, unlistened);
  if (!serving) return Prepared{serving.error(), std::move(warnings)};
  reload.serving_ = std::move(serving).value();
  reload.checker_ = make_checker(reload.serving_->config);
  if (reload.checker_) {
    if (auto ready = reload.checker_->init(); !ready)
      return Prepared{ready.error(), std::move(warnings)};
  }
  // The last step that can fail: a reload that fails before it has let no client in.
  if (auto listening = unlistened.listenAll(); !listening) {
    return Prepared{listening.error(), std::move(warnings)};
  }
  return Prepared{std::move(reload), std::move(warnings)};
}

namespace {

// Stops the running checks, so nothing they publish reaches a worker after the switch, and
// returns them (still to be destroyed) with the states the new config's backends start from.
std::unique_ptr<health::HealthChecker> retireChecks(
    HealthChecks& checks, const config::Config& before, const config::Config& next,
    bool next_checks, std::shared_ptr<const control::HealthSnapshot>& carried) {
  std::unique_ptr<health::HealthChecker> retired;
  {
    std::lock_guard lock(checks.mutex);
    if (checks.checker) {
      checks.checker->stop();
      checks.retired_transitions += checks.checker->transitions();
      if (auto latest = checks.checker->latest()) {
        carried =
            std::make_shared<const control::HealthSnapshot>(carryHealth(before, *latest, next));
      }
      retired = std::move(checks.checker);
    }
  }
  if (!carried && next_checks) {
    carried = std::make_shared<const control::HealthSnapshot>(
        carryHealth(before, control::HealthSnapshot{}, next));
  }
  return retired;
}

// Starts the new checks from the carried states; disabled backends keep theirs paused.
void startChecks(HealthChecks& checks, std::unique_ptr<health::HealthChecker> checker,
                 const std::shared_ptr<const control::HealthSnapshot>& carried,
                 const config::Config& next, admin::Controller* controller) {
  std::lock_guard lock(checks.mutex);
  checks.checker = std::move(checker);
  if (!checks.checker) return;
  if (carried) {
    checks.checker->seed(*carried);
    if (controller) controller->onHealth(carried);
  }
  checks.checker->start();
  if (!controller) return;
  for (std::uint32_t p = 0; p < next.pools.size(); ++p) {
    for (std::uint32_t b = 0; b < next.pools[p].backends.size(); ++b) {
      if (controller->stateOf(p, b) == control::AdminState::kDisabled) {
        checks.checker->setPaused(p, b, true);
      }
    }
  }
}

}  // namespace

std::string commitReload(PreparedReload reload, ReloadTargets targets) {
  // The old serving config lives on in the workers' generations while they need it, and here
  // until the old checker, which reads it, is gone.
  const std::shared_ptr<const worker::ServingConfig> previous = targets.serving;
  const config::Config& before = previous->config;
  const config::Config& next = reload.serving_->config;
  std::shared_ptr<const control::HealthSnapshot> carried;
  std::unique_ptr<health::HealthChecker> retired =
      retireChecks(targets.checks, before, next, reload.checker_ != nullptr, carried);

  // The switch: every worker gets its order; the admin API's view moves in the same step, so
  // nothing it publishes afterwards can reach a worker before the order does.
  auto post = [&](std::shared_ptr<const control::AdminSnapshot> admin_states) {
    for (std::size_t w = 0; w < targets.workers.size(); ++w) {
      auto order = std::make_shared<worker::ServingOrder>();
      order->serving = reload.serving_;
      if (w < reload.sockets_.size()) order->own_sockets = std::move(reload.sockets_[w]);
      order->health = carried;
      order->admin = admin_states;
      worker::Worker* target = targets.workers[w].get();
      target->loop().post([target, order] { target->reload(*order); });
    }
  };
  if (targets.controller) {
    targets.controller->rebase(next, admin::fileSha256(next.source), post,
                               proxy::maglevTables(reload.serving_->plans));
  } else {
    post(nullptr);
  }
  std::string changes = describeChanges(before, next);
  base::setLogLevel(next.global.log_level);
  targets.serving = reload.serving_;
  startChecks(targets.checks, std::move(reload.checker_), carried, next, targets.controller);
  retired.reset();  // before `previous`, whose config it reads
  return changes;
}

}  // namespace l4lb::app
